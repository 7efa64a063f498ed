"""What every request builder needs: URLs that keep our percent-encoding, and model-or-dict arguments."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlencode

import httpx

if TYPE_CHECKING:
    from ...models._base import Model

__all__ = ["build_url", "bytes_request", "coerce_model", "parse_url"]

M = TypeVar("M", bound="Model")


def build_url(base: httpx.URL, path: str, query: Iterable[tuple[str, Any]] = ()) -> httpx.URL:
    """``base`` (its path kept as a prefix) + ``path`` (already percent-encoded) + the non-None ``query`` pairs.

    The raw string is assembled by hand: httpx would otherwise re-quote (or un-quote) our encoded segments.
    """
    pairs = tuple([(key, str(value)) for key, value in query if value is not None])
    query_text = _encode_query(pairs) if pairs else None
    if _FAST_URLS:
        # Every part is already valid: the base was parsed once by httpx, paths come from literals and
        # path_segment(), the query from urlencode(). Re-parsing the text (about 15 us of a call's CPU, a tenth of
        # a concurrent call) would give the same URL; tests check both ways agree on arbitrary ids and queries.
        reference = base._uri_reference
        url = httpx.URL.__new__(httpx.URL)
        url._uri_reference = reference._replace(
            userinfo="", path=reference.path.rstrip("/") + path, query=query_text, fragment=None
        )
        return url
    return parse_url(base, path, query_text)


@functools.lru_cache(maxsize=1024)
def _encode_query(pairs: tuple[tuple[str, str], ...]) -> str:
    # cached: most queries repeat exactly (api-version=..., pageSize=...), and urlencode costs ~3 us
    return urlencode(pairs)


def parse_url(base: httpx.URL, path: str, query_text: str | None) -> httpx.URL:
    """What :func:`build_url` builds, by letting httpx parse the text (also the fallback on other httpx versions)."""
    prefix = base.raw_path.decode("ascii").split("?", 1)[0].rstrip("/")
    text = f"{base.scheme}://{base.netloc.decode('ascii')}{prefix}{path}"
    if query_text:
        text += "?" + query_text
    return httpx.URL(text)


def bytes_request(method: str, url: httpx.URL, body: bytes, headers: Mapping[str, str]) -> httpx.Request:
    """``httpx.Request(method, url, content=body, headers=headers)``, built without httpx's generic path.

    The same request (headers in httpx's order: Host, the given ones, Content-Length; a bytes stream; the content
    read), for a third of the CPU: httpx would build its header list twice and look each header up case-blind to
    fill in what is known here. tests/test_url_building.py checks both ways agree.
    """
    if not body:  # httpx's own order differs for an empty body (its Content-Length: 0 comes second)
        return httpx.Request(method, url, content=body, headers=headers)
    request = httpx.Request(
        method,
        url,
        headers=[("Host", url.netloc.decode("ascii")), *headers.items(), ("Content-Length", str(len(body)))],
        stream=httpx.ByteStream(body),
    )
    request.read()
    return request


def _fast_urls_supported() -> bool:
    reference = getattr(httpx.URL("http://h/p"), "_uri_reference", None)
    return getattr(reference, "_fields", None) == ("scheme", "userinfo", "host", "port", "path", "query", "fragment")


_FAST_URLS = _fast_urls_supported()


def coerce_model(value: Any, cls: type[M], name: str) -> M:
    """Accept the model or its camelCase wire dict; anything else is a TypeError before sending."""
    if isinstance(value, cls):
        return value
    if isinstance(value, Mapping):
        try:
            model = cls.from_dict(value)
        except (TypeError, ValueError, KeyError) as exc:
            raise TypeError(f"{name} is not a valid {cls.__name__}: {exc}") from exc
        model._refuse_python_names(name)  # never let reply_to_id travel as an unknown key
        return model
    raise TypeError(f"{name} must be {with_article(cls.__name__)} (or its wire dict), got {type(value).__name__}")


def with_article(noun: str) -> str:
    """``a Transcript``, ``an Activity``: the indefinite article by the noun's first letter, for messages."""
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun
