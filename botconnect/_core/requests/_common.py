"""What every request builder needs: URLs that keep our percent-encoding, and model-or-dict arguments."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx

from ...models._base import Model

__all__ = ["build_url", "coerce_model"]

M = TypeVar("M", bound=Model)


def build_url(base: httpx.URL, path: str, query: Iterable[tuple[str, Any]] = ()) -> httpx.URL:
    """``base`` (its path kept as a prefix) + ``path`` (already percent-encoded) + the non-None ``query`` pairs.

    The raw string is assembled by hand: httpx would otherwise re-quote (or un-quote) our encoded segments.
    """
    prefix = base.raw_path.decode("ascii").split("?", 1)[0].rstrip("/")
    text = f"{base.scheme}://{base.netloc.decode('ascii')}{prefix}{path}"
    pairs = [(key, str(value)) for key, value in query if value is not None]
    if pairs:
        text += "?" + urlencode(pairs)
    return httpx.URL(text)


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
