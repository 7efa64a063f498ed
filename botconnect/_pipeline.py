"""The sync driver of :func:`botconnect._core.pipeline.call_flow`: it only sends, sleeps and closes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol, TypeVar

import httpx

from ._core.operation import Operation
from ._core.pipeline import (
    AcquireToken,
    Action,
    CallConfig,
    DeadlineExceeded,
    ReadBody,
    Send,
    Sleep,
    call_flow,
    finish_direct_send,
    token_string,
)
from ._core.retry import RetryPolicy
from ._transport import default_transport
from .errors import ClientClosedError

__all__ = ["Pipeline", "TokenCredential"]

T = TypeVar("T")


class _AccessTokenLike(Protocol):
    token: str


class TokenCredential(Protocol):
    """Anything with azure-identity's ``get_token(*scopes)`` (MicrosoftAppCredentials, DefaultAzureCredential)."""

    def get_token(self, *scopes: str) -> Any: ...


class Pipeline:
    """Sends operations through one ``httpx.Client`` with the client's credential, retries and timeouts."""

    def __init__(
        self,
        *,
        config: CallConfig,
        credential: TokenCredential | None,
        http_client: httpx.Client | None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self._credential = credential
        self._owns_client = http_client is None
        # Calls on a client we own skip httpx.Client.send (cookies, hooks, auth flows: none of which we use) and
        # go to the transport itself; redirects still go through the client.
        self._direct: httpx.BaseTransport | None = None
        if http_client is None:
            self._direct = transport if transport is not None else default_transport()
            http_client = httpx.Client(transport=self._direct)
        self._http = http_client
        self._sleep = sleep
        self._closed = False
        self._lock = threading.Lock()

    def borrow(self, *, config: CallConfig, credential: TokenCredential | None) -> Pipeline:
        """A pipeline with its own settings on this one's connection pool; closing it leaves the pool open."""
        child = Pipeline(config=config, credential=credential, http_client=self._http, sleep=self._sleep)
        child._direct = self._direct
        return child

    @property
    def http_client(self) -> httpx.Client:
        return self._http

    def run(
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
                    result = self._perform(action)
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

    def _perform(self, action: Action) -> Any:
        if isinstance(action, Send):
            return self._send(action)
        if isinstance(action, Sleep):
            self._sleep(action.seconds)
            return None
        if isinstance(action, AcquireToken):
            if self._credential is None:  # pragma: no cover - call_flow asks only when scopes are set
                raise RuntimeError("no credential configured")
            return token_string(self._credential.get_token(*action.scopes))
        if isinstance(action, ReadBody):
            try:
                action.response.read()
            finally:
                action.response.close()
            return None
        raise TypeError(f"unknown action {action!r}")  # pragma: no cover

    def _send(self, action: Send) -> httpx.Response:
        direct = self._direct
        # A blocking call cannot be interrupted: with a deadline, each phase's timeout is capped by call_flow and
        # the body is read here, the clock checked between reads (a server dripping bytes cannot hold the call).
        read_here = not action.stream and action.deadline is not None
        if direct is None or action.follow_redirects:
            if not read_here:
                return self._http.send(action.request, stream=action.stream, follow_redirects=action.follow_redirects)
            response = self._http.send(action.request, stream=True, follow_redirects=action.follow_redirects)
            started = None
        else:
            started = time.perf_counter()
            response = direct.handle_request(action.request)
            response.request = action.request
        if not action.stream:
            if action.deadline is not None:
                response.stream = _Deadline(response.stream, time.monotonic() + action.deadline, action.request)
            try:
                response.read()
            except BaseException:
                response.close()
                raise
        if started is not None:
            finish_direct_send(response, started)
        return response

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self._owns_client:
            self._http.close()


class _Deadline(httpx.SyncByteStream):
    """A body whose reading stops with ``DeadlineExceeded`` once ``expires`` (``time.monotonic()``) has passed."""

    def __init__(self, stream: httpx.SyncByteStream | httpx.AsyncByteStream, expires: float, request: httpx.Request):
        assert isinstance(stream, httpx.SyncByteStream)  # a sync transport's body
        self._stream = stream
        self._expires = expires
        self._request = request

    def __iter__(self) -> Iterator[bytes]:
        for part in self._stream:
            if time.monotonic() > self._expires:
                raise DeadlineExceeded("the call's deadline passed while reading the body", request=self._request)
            yield part

    def close(self) -> None:
        self._stream.close()
