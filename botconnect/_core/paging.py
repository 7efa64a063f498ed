"""Paging, sans-IO: a page of items plus the opaque token for the next one.

A paged operation is described by one function ``token -> Operation[Page[T]]``; the façades' ``ItemPaged`` /
``AsyncItemPaged`` only run those operations in a loop, holding one page at a time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Generic, TypeVar
from urllib.parse import urlparse, urlunparse

import httpx

from ..errors import UntrustedEndpointError
from .security import same_origin

__all__ = ["Page", "page_parser", "resolve_next_link"]

T = TypeVar("T")
C = TypeVar("C")


class Page(Generic[T]):
    """One page of results: iterate it for the items; ``continuation_token`` fetches the next page."""

    __slots__ = ("continuation_token", "items")

    def __init__(self, items: Sequence[T], continuation_token: str | None) -> None:
        self.items = items
        #: pass to ``by_page(continuation_token=...)`` to continue after this page; None on the last page
        self.continuation_token = continuation_token or None

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __aiter__(self) -> AsyncIterator[T]:
        """``async for item in page``: the items are already here, but code written for azure-core's
        ``AsyncItemPaged`` iterates the pages of ``by_page()`` that way."""
        return _AsyncItems(iter(self.items))

    def __len__(self) -> int:
        return len(self.items)

    def __repr__(self) -> str:
        return f"Page(items={len(self.items)}, continuation_token={self.continuation_token!r})"


class _AsyncItems(AsyncIterator[T]):
    __slots__ = ("_items",)

    def __init__(self, items: Iterator[T]) -> None:
        self._items = items

    def __aiter__(self) -> _AsyncItems[T]:
        return self

    async def __anext__(self) -> T:
        try:
            return next(self._items)
        except StopIteration:
            raise StopAsyncIteration from None


def resolve_next_link(base: httpx.URL, next_link: str) -> httpx.URL:
    """The absolute URL of a ``nextLink``, refusing one on another origin (our bearer token must not follow it)."""
    url = httpx.URL(next_link)
    text = str(url)
    # The service sends absolute links, which ``base.join`` would return as ``urlunparse(urlparse(link))``, then
    # parse again: skip that second parse (~45 us for a 120-character link) whenever it would not change the link.
    if url.is_relative_url or urlunparse(urlparse(text)) != text:
        url = base.join(url)
    if not same_origin(url, base):
        raise UntrustedEndpointError(
            f"refusing to follow a nextLink to another origin ({url.scheme}://{url.host}); "
            "the credential is only for the client's endpoint"
        )
    return url


def page_parser(collection: type[C], to_page: Callable[[C], Page[T]]) -> Callable[[httpx.Response], Page[T]]:
    """A parser for a response whose body is one ``collection`` (the service's page model), giving its Page."""
    from .responses import model_parser  # here, not at the top: ``from botconnect import Page`` must not load cattrs

    parse_collection = model_parser(collection)

    def parse(response: httpx.Response) -> Page[T]:
        return to_page(parse_collection(response))

    return parse
