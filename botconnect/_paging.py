"""``ItemPaged``: lazy, one page in memory at a time, resumable with ``by_page(continuation_token=...)``."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Generic, TypeVar

from ._core.operation import Operation
from ._core.paging import Page
from .errors import BotConnectError

__all__ = ["ItemPaged", "PageIterator"]

T = TypeVar("T")

_Runner = Callable[[Operation[Page[T]]], Page[T]]


class PageIterator(Iterator[Page[T]], Generic[T]):
    """Iterates pages; ``continuation_token`` is the token of the next page to fetch (None when done)."""

    def __init__(self, factory: Callable[[str | None], Operation[Page[T]]], run: _Runner[T], token: str | None):
        self._factory = factory
        self._run = run
        self.continuation_token = token
        self._done = False

    def __iter__(self) -> PageIterator[T]:
        return self

    def __next__(self) -> Page[T]:
        if self._done:
            raise StopIteration
        token = self.continuation_token
        try:
            page = self._run(self._factory(token))
        except BotConnectError as exc:
            exc.continuation_token = token
            raise
        self.continuation_token = page.continuation_token
        self._done = page.continuation_token is None
        return page


class ItemPaged(Iterator[T], Generic[T]):
    """Iterate items across pages (``for item in paged``) or pages (``paged.by_page()``). Nothing is sent until then."""

    def __init__(self, factory: Callable[[str | None], Operation[Page[T]]], run: _Runner[T]) -> None:
        factory(None)  # build (and discard) the first request now, so bad arguments raise at the call site
        self._factory = factory
        self._run = run
        self._pages: PageIterator[T] | None = None
        self._page: Sequence[T] = ()
        self._index = 0

    def by_page(self, continuation_token: str | None = None) -> PageIterator[T]:
        """Pages, starting at ``continuation_token`` (from a page or from an error raised mid-paging)."""
        return PageIterator(self._factory, self._run, continuation_token)

    def __iter__(self) -> ItemPaged[T]:
        return self

    def __next__(self) -> T:
        # A failed page leaves the page iterator on the same token, so iterating again retries that page.
        if self._pages is None:
            self._pages = self.by_page()
        while self._index >= len(self._page):
            self._page = next(self._pages).items  # StopIteration ends us too
            self._index = 0
        item = self._page[self._index]
        self._index += 1
        return item

    def __repr__(self) -> str:
        return f"<ItemPaged of {getattr(self._factory, '__qualname__', 'operation')}>"
