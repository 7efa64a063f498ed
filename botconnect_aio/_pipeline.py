"""The async driver of :func:`botconnect._core.pipeline.call_flow`: it only sends, sleeps and closes (anyio)."""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

import anyio
import httpx

from botconnect._core.operation import Operation
from botconnect._core.pipeline import (
    AcquireToken,
    Action,
    CallConfig,
    DeadlineExceeded,
    ReadBody,
    Send,
    Sleep,
    call_flow,
    finish_direct_send,
    take_plain_body,
    token_string,
)
from botconnect._core.retry import RetryPolicy
from botconnect.errors import ClientClosedError

from ._transport import default_transport

__all__ = ["AsyncPipeline", "AsyncTokenCredential"]

T = TypeVar("T")


class AsyncTokenCredential(Protocol):
    """Anything with ``get_token(*scopes)``, async (azure.identity.aio) or sync (azure.identity)."""

    def get_token(self, *scopes: str) -> Any: ...


class AsyncPipeline:
    """Sends operations through one ``httpx.AsyncClient``; runs under asyncio and trio alike."""

    def __init__(
        self,
        *,
        config: CallConfig,
        credential: AsyncTokenCredential | None,
        http_client: httpx.AsyncClient | None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        self.config = config
        self._credential = credential
        self._owns_client = http_client is None
        # Calls on a client we own skip httpx.AsyncClient.send (cookies, hooks, auth flows: none of which we use,
        # about a third of a call's CPU) and go to the transport itself; redirects still go through the client.
        self._direct: httpx.AsyncBaseTransport | None = None
        if http_client is None:
            self._direct = transport if transport is not None else default_transport()
            http_client = httpx.AsyncClient(transport=self._direct)
        self._http = http_client
        self._sleep = sleep
        self._closed = False

    def borrow(self, *, config: CallConfig, credential: AsyncTokenCredential | None) -> AsyncPipeline:
        """A pipeline with its own settings on this one's connection pool; closing it leaves the pool open."""
        child = AsyncPipeline(config=config, credential=credential, http_client=self._http, sleep=self._sleep)
        child._direct = self._direct
        return child

    @property
    def http_client(self) -> httpx.AsyncClient:
        return self._http

    async def run(
        self,
        operation: Operation[T],
        *,
        timeout: float | httpx.Timeout | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
    ) -> T:
        """Run ``operation``: ``timeout`` is per phase and per attempt, ``deadline`` (seconds) bounds the whole call,
        retries and waits included."""
        try:
            if self._closed:
                raise ClientClosedError("the client is closed")
            config = self.config.for_call(timeout=timeout, retry_policy=retry_policy, deadline=deadline)
        except BaseException:
            operation.close_resources()  # files opened for an upload
            raise
        flow = call_flow(operation, config)
        try:
            action: Action = next(flow)
            while True:
                try:
                    result = await self._perform(action)
                except (httpx.RequestError, httpx.TooManyRedirects) as exc:
                    action = flow.throw(exc)
                else:
                    action = flow.send(result)
        except StopIteration as stop:
            value: T = stop.value
            return value
        finally:
            flow.close()
            if operation.closing:
                operation.close_resources()

    async def _perform(self, action: Action) -> Any:
        if isinstance(action, Send):
            if action.deadline is None:
                return await self._send(action)
            try:
                with anyio.fail_after(action.deadline):
                    return await self._send(action)
            except TimeoutError:
                raise DeadlineExceeded("the call's deadline passed", request=action.request) from None
        if isinstance(action, Sleep):
            await self._sleep(action.seconds)
            return None
        if isinstance(action, AcquireToken):
            if self._credential is None:  # pragma: no cover - call_flow asks only when scopes are set
                raise RuntimeError("no credential configured")
            result = self._credential.get_token(*action.scopes)
            if inspect.isawaitable(result):
                result = await result
            return token_string(result)
        if isinstance(action, ReadBody):
            try:
                await action.response.aread()
            finally:
                await action.response.aclose()
            return None
        raise TypeError(f"unknown action {action!r}")  # pragma: no cover

    async def _send(self, action: Send) -> httpx.Response:
        direct = self._direct
        if direct is None or action.follow_redirects:
            return await self._http.send(action.request, stream=action.stream, follow_redirects=action.follow_redirects)
        started = time.perf_counter()
        response = await direct.handle_async_request(action.request)
        response.request = action.request
        if not action.stream:
            try:
                if not take_plain_body(response):  # AsyncHTTP11Transport's complete bodies are in memory
                    await response.aread()
            except BaseException:
                await response.aclose()
                raise
        finish_direct_send(response, started)
        return response

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._owns_client:
            await self._http.aclose()
