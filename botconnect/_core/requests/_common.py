"""What every request builder needs: URLs that keep our percent-encoding, and model-or-dict arguments."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx

from ...models._base import Model

__all__ = ["build_url", "coerce_model", "parse_url"]

M = TypeVar("M", bound=Model)


def build_url(base: httpx.URL, path: str, query: Iterable[tuple[str, Any]] = ()) -> httpx.URL:
    """``base`` (its path kept as a prefix) + ``path`` (already percent-encoded) + the non-None ``query`` pairs.

    The raw string is assembled by hand: httpx would otherwise re-quote (or un-quote) our encoded segments.
    """
    pairs = [(key, str(value)) for key, value in query if value is not None]
    query_text = urlencode(pairs) if pairs else None
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


def parse_url(base: httpx.URL, path: str, query_text: str | None) -> httpx.URL:
    """What :func:`build_url` builds, by letting httpx parse the text (also the fallback on other httpx versions)."""
    prefix = base.raw_path.decode("ascii").split("?", 1)[0].rstrip("/")
    text = f"{base.scheme}://{base.netloc.decode('ascii')}{prefix}{path}"
    if query_text:
        text += "?" + query_text
    return httpx.URL(text)


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
            return cls.from_dict(value)
        except (TypeError, ValueError, KeyError) as exc:
            raise TypeError(f"{name} is not a valid {cls.__name__}: {exc}") from exc
    raise TypeError(f"{name} must be a {cls.__name__} (or its wire dict), got {type(value).__name__}")
