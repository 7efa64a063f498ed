"""``AsyncItemPaged``: ``async for`` over items or ``by_page()``; returned by plain ``def`` methods, no await."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from botconnect._core.operation import Operation
from botconnect._core.paging import Page
from botconnect.errors import BotConnectError

__all__ = ["AsyncItemPaged", "AsyncPageIterator"]

T = TypeVar("T")

_Runner = Callable[[Operation[Page[T]]], Awaitable[Page[T]]]


class AsyncPageIterator(AsyncIterator[Page[T]], Generic[T]):
    """Iterates pages; ``continuation_token`` is the token of the next page to fetch (None when done)."""

    def __init__(self, factory: Callable[[str | None], Operation[Page[T]]], run: _Runner[T], token: str | None):
        self._factory = factory
        self._run = run
        self.continuation_token = token
        self._done = False

    def __aiter__(self) -> AsyncPageIterator[T]:
        return self

    async def __anext__(self) -> Page[T]:
        if self._done:
            raise StopAsyncIteration
        token = self.continuation_token
        try:
            page = await self._run(self._factory(token))
        except BotConnectError as exc:
            exc.continuation_token = token
            raise
        self.continuation_token = page.continuation_token
        self._done = page.continuation_token is None
        return page


class AsyncItemPaged(AsyncIterator[T], Generic[T]):
    """``async for item in paged`` across pages, or ``paged.by_page()``. Nothing is sent until iteration."""

    def __init__(self, factory: Callable[[str | None], Operation[Page[T]]], run: _Runner[T]) -> None:
        factory(None)  # build (and discard) the first request now, so bad arguments raise at the call site
        self._factory = factory
        self._run = run
        self._pages: AsyncPageIterator[T] | None = None
        self._page: Sequence[T] = ()
        self._index = 0

    def by_page(self, continuation_token: str | None = None) -> AsyncPageIterator[T]:
        """Pages, starting at ``continuation_token`` (from a page or from an error raised mid-paging)."""
        return AsyncPageIterator(self._factory, self._run, continuation_token)

    def __aiter__(self) -> AsyncIterator[T]:
        return self

    async def __anext__(self) -> T:
        if self._pages is None:
            self._pages = self.by_page()
        while self._index >= len(self._page):
            page = await self._pages.__anext__()  # StopAsyncIteration ends us too
            self._page = page.items
            self._index = 0
        item = self._page[self._index]
        self._index += 1
        return item

    def __repr__(self) -> str:
        return f"<AsyncItemPaged of {getattr(self._factory, '__qualname__', 'operation')}>"
