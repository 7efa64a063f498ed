"""Run one test body three ways: the sync package, and the async package on asyncio and on trio.

Async objects are driven from the test thread through an anyio blocking portal, so a test reads as plain sync
code while every coroutine really runs on the chosen event loop.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal

import botconnect
import botconnect_aio

FLAVOURS = ("sync", "asyncio", "trio")


class PortalProxy:
    """Wraps an async-package object so tests call it synchronously; results are wrapped in turn."""

    def __init__(self, target: Any, portal: BlockingPortal) -> None:
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_portal", portal)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if inspect.iscoroutinefunction(attr):

            def call_async(*args: Any, **kwargs: Any) -> Any:
                return wrap(self._portal.call(functools.partial(attr, *args, **kwargs)), self._portal)

            return call_async
        if callable(attr) and not isinstance(attr, type):

            def call_sync(*args: Any, **kwargs: Any) -> Any:
                return wrap(attr(*args, **kwargs), self._portal)

            return call_sync
        return wrap(attr, self._portal)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._target, name, value)

    def __enter__(self) -> PortalProxy:
        self._portal.call(self._target.__aenter__)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._portal.call(self._target.__aexit__, *exc_info)

    def __iter__(self) -> Iterator[Any]:
        iterator = self._target.__aiter__()

        async def step() -> tuple[bool, Any]:
            try:
                return True, await iterator.__anext__()
            except StopAsyncIteration:
                return False, None

        while True:
            more, item = self._portal.call(step)
            if not more:
                return
            yield wrap(item, self._portal)

    def __next__(self) -> Any:
        async def step() -> tuple[bool, Any]:
            try:
                return True, await self._target.__anext__()
            except StopAsyncIteration:
                return False, None

        more, item = self._portal.call(step)
        if not more:
            raise StopIteration
        return wrap(item, self._portal)

    def __repr__(self) -> str:
        return repr(self._target)

    @property
    def unwrapped(self) -> Any:
        return self._target


def wrap(value: Any, portal: BlockingPortal) -> Any:
    """Proxy async-package objects and async iterators; plain values (models, pages) pass through."""
    if type(value).__module__.startswith("botconnect_aio") or isinstance(value, AsyncIterator):
        return PortalProxy(value, portal)
    return value


class Env:
    """One flavour: ``pkg`` is the package under test; ``make`` builds (and wraps) its objects."""

    def __init__(self, name: str, portal: BlockingPortal | None) -> None:
        self.name = name
        self.portal = portal
        self.pkg: ModuleType = botconnect if portal is None else botconnect_aio
        self.is_async = portal is not None

    def make(self, factory: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        obj = factory(*args, **kwargs)
        return obj if self.portal is None else PortalProxy(obj, self.portal)

    def construct(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """``pkg.<name>(*args, **kwargs)``, wrapped for the flavour."""
        return self.make(getattr(self.pkg, name), *args, **kwargs)

    def transport(self, handler: Callable[[httpx.Request], httpx.Response]) -> httpx.MockTransport:
        return httpx.MockTransport(handler)

    def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run an async function (async flavours) or a sync one (sync flavour)."""
        if self.portal is None:
            return fn(*args)
        return self.portal.call(fn, *args)


@contextmanager
def flavour_env(name: str) -> Iterator[Env]:
    if name == "sync":
        yield Env(name, None)
        return
    with start_blocking_portal(backend=name) as portal:
        yield Env(name, portal)


class FakeService:
    """An in-memory service: records every request, answers from routes or a queue of responses."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self._routes: list[tuple[str, str, Callable[[httpx.Request], httpx.Response]]] = []
        self._queue: list[httpx.Response | Exception] = []

    def route(self, method: str, path: str, handler: Callable[[httpx.Request], httpx.Response]) -> None:
        self._routes.append((method, path, handler))

    def reply(
        self,
        status: int = 200,
        *,
        json_body: Any = None,
        content: bytes | str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Queue one response for the next request that no route matches."""
        if json_body is not None:
            self._queue.append(httpx.Response(status, json=json_body, headers=headers))
        else:
            self._queue.append(httpx.Response(status, content=content or b"", headers=headers))

    def fail(self, exc: Exception) -> None:
        self._queue.append(exc)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        for method, path, handler in self._routes:
            if request.method == method and request.url.path == path:
                return handler(request)
        if not self._queue:
            return httpx.Response(599, text="FakeService: nothing queued for " + str(request.url))
        item = self._queue.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]

    def last_json(self) -> Any:
        return json.loads(self.last.content)
