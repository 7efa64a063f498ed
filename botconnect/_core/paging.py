"""Paging, sans-IO: a page of items plus the opaque token for the next one.

A paged operation is described by one function ``token -> Operation[Page[T]]``; the façades' ``ItemPaged`` /
``AsyncItemPaged`` only run those operations in a loop, holding one page at a time.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Generic, TypeVar

import httpx

from ..errors import UntrustedEndpointError
from .security import same_origin

__all__ = ["Page", "resolve_next_link"]

T = TypeVar("T")


class Page(Generic[T]):
    """One page of results: iterate it for the items; ``continuation_token`` fetches the next page."""

    __slots__ = ("continuation_token", "items")

    def __init__(self, items: Sequence[T], continuation_token: str | None) -> None:
        self.items = items
        #: pass to ``by_page(continuation_token=...)`` to continue after this page; None on the last page
        self.continuation_token = continuation_token or None

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __repr__(self) -> str:
        return f"Page(items={len(self.items)}, continuation_token={self.continuation_token!r})"


def resolve_next_link(base: httpx.URL, next_link: str) -> httpx.URL:
    """The absolute URL of a ``nextLink``, refusing one on another origin (our bearer token must not follow it)."""
    url = base.join(next_link)
    if not same_origin(url, base):
        raise UntrustedEndpointError(
            f"refusing to follow a nextLink to another origin ({url.scheme}://{url.host}); "
            "the credential is only for the client's endpoint"
        )
    return url
