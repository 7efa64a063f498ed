"""``ItemPaged``: lazy, one page in memory at a time, resumable with ``by_page(continuation_token=...)``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
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
        self._items: Iterator[T] | None = None

    def by_page(self, continuation_token: str | None = None) -> PageIterator[T]:
        """Pages, starting at ``continuation_token`` (from a page or from an error raised mid-paging)."""
        return PageIterator(self._factory, self._run, continuation_token)

    def __iter__(self) -> Iterator[T]:
        # ``for`` loops get the generator itself: items then come at C speed (no Python __next__ per item)
        if self._items is None:
            self._items = self._generate()
        return self._items

    def __next__(self) -> T:
        return next(self.__iter__())

    def _generate(self) -> Iterator[T]:
        if self._pages is None:
            self._pages = self.by_page()
        try:
            for page in self._pages:
                yield from page.items
        except Exception:
            # A failed page leaves the page iterator on the same token: iterating again retries that page
            # (a generator that raised is finished, so the next iteration starts a new one).
            self._items = None
            raise

    def __repr__(self) -> str:
        return f"<ItemPaged of {getattr(self._factory, '__qualname__', 'operation')}>"
