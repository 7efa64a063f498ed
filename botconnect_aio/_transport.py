"""The default async transport: a lean HTTP/1.1 connection pool that runs on asyncio and trio.

Why not httpx's own pool: at 100 concurrent calls httpcore's async pool reached about 6% of raw aiohttp on our
bench machine. It rescans every connection and every queued request on each request and response, keeps only 20
connections alive (so 80 of 100 concurrent calls open a new TCP connection), and its anyio streams yield to the
loop on every send. This pool is a stack of idle connections per origin and a counter of calls in flight, so
taking and returning a connection costs the same at 1 or 1,000 connections.

Scope, on purpose: HTTP/1.1 over TCP or TLS, one request at a time per connection. Anything else (WebSocket
upgrades for the Direct Line stream, other schemes) goes to an ``httpx.AsyncHTTPTransport`` created on first need;
clients built with proxy environment variables set never get this transport (see ``default_transport``).
"""

from __future__ import annotations

import math
import ssl
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing

import anyio
import httpx

from botconnect._core.clientconfig import env_proxies_configured
from botconnect._core.http11 import (
    CHUNKED,
    UNTIL_CLOSE,
    ChunkedDecoder,
    ResponseHead,
    chunk,
    find_head_end,
    parse_response_head,
    request_head,
)

from ._wire import Wire, current_loop, open_wire

__all__ = ["AsyncHTTP11Transport", "default_transport"]

_Origin = tuple[bytes, str, int]
_DEFAULT_PORTS = {b"http": 80, b"https": 443}
#: request bodies up to this size go out in the same write as the head
_COALESCE = 64 * 1024
#: what a broken connection raises from a wire (the asyncio protocol, anyio streams, TLS)
_CONNECTION_ERRORS = (OSError, anyio.BrokenResourceError, anyio.ClosedResourceError, ssl.SSLError)


def default_transport() -> AsyncHTTP11Transport | None:
    """The transport a client creates for itself: ours, unless proxies are configured in the environment.

    With ``HTTP(S)_PROXY``/``ALL_PROXY`` set, ``None`` lets ``httpx.AsyncClient`` build its proxy transports.
    """
    return None if env_proxies_configured() else AsyncHTTP11Transport()


class _Connection:
    __slots__ = ("idle_since", "origin", "wire")

    def __init__(self, origin: _Origin, wire: Wire) -> None:
        self.origin = origin
        self.wire = wire
        self.idle_since = 0.0


class AsyncHTTP11Transport(httpx.AsyncBaseTransport):
    """At most ``max_connections`` requests in flight, each on its own keep-alive connection.

    Idle connections are reused newest first (the one least likely to have been closed by the server), checked
    before reuse, and dropped after ``keepalive_expiry`` seconds; at most ``max_keepalive_connections`` are kept.
    ``ssl_context`` replaces the default verification (certifi, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``).
    Timeouts come from the request (``extensions["timeout"]``: connect, read, write, pool), as with httpx.
    """

    def __init__(
        self,
        *,
        max_connections: int = 100,
        max_keepalive_connections: int = 100,
        keepalive_expiry: float = 5.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self._max_connections = max_connections
        self._max_idle = max(0, max_keepalive_connections)
        self._keepalive_expiry = keepalive_expiry
        self._ssl_context = ssl_context
        self._idle: dict[_Origin, list[_Connection]] = {}
        self._idle_count = 0
        self._in_flight = 0
        self._waiters: deque[anyio.Event] = deque()
        self._fallback: httpx.AsyncHTTPTransport | None = None
        self._closed = False
        self._loop: object = None

    # -- httpx.AsyncBaseTransport ------------------------------------------------------------------------------

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send one request; the response's body is read (or streamed) by the caller, who must close it."""
        url = request.url
        scheme = url.raw_scheme
        if scheme not in _DEFAULT_PORTS or "upgrade" in request.headers:
            return await self._fallback_transport().handle_async_request(request)
        if self._closed:
            raise httpx.ConnectError("the transport is closed", request=request)
        timeouts: dict[str, float | None] = request.extensions.get("timeout") or {}
        origin: _Origin = (scheme, url.host, url.port or _DEFAULT_PORTS[scheme])
        loop = current_loop()
        if loop is not self._loop:
            # a client kept across event loops (pytest-asyncio's loop per test, asyncio.run twice, asyncio then
            # trio): the idle connections belong to a loop that is gone
            self._loop = loop
            self._forget_idle()
        await self._acquire_slot(timeouts.get("pool"), request)
        try:
            connection = await self._checkout(origin, timeouts.get("connect"), request)
        except BaseException:
            self._release_slot()
            raise
        try:
            head = await self._exchange(connection, request, timeouts)
        except BaseException:
            await self._discard(connection)
            raise
        return self._response(connection, head, request, timeouts.get("read"))

    async def aclose(self) -> None:
        """Close the idle connections; connections still in use close when their response is closed."""
        self._closed = True
        if current_loop() is not self._loop:
            self._forget_idle()
        idle = [connection for stack in self._idle.values() for connection in stack]
        self._idle.clear()
        self._idle_count = 0
        for connection in idle:
            await connection.wire.aclose()
        if self._fallback is not None:
            await self._fallback.aclose()

    def _forget_idle(self) -> None:
        for stack in self._idle.values():
            for connection in stack:
                connection.wire.forget()
        self._idle.clear()
        self._idle_count = 0

    def __repr__(self) -> str:
        return (
            f"<AsyncHTTP11Transport in_flight={self._in_flight} idle={self._idle_count} "
            f"max_connections={self._max_connections}>"
        )

    # -- slots and connections ---------------------------------------------------------------------------------

    async def _acquire_slot(self, timeout: float | None, request: httpx.Request) -> None:
        if self._in_flight < self._max_connections and not self._waiters:
            self._in_flight += 1
            return
        event = anyio.Event()
        self._waiters.append(event)
        try:
            with anyio.fail_after(_seconds(timeout)):
                await event.wait()
        except BaseException as exc:
            if event.is_set():  # the slot was handed to us as we gave up: hand it on
                self._release_slot()
            else:
                self._waiters.remove(event)
            if isinstance(exc, TimeoutError):
                raise httpx.PoolTimeout("timed out waiting for a free connection", request=request) from None
            raise

    def _release_slot(self) -> None:
        if self._waiters:
            self._waiters.popleft().set()  # the slot passes straight to the oldest waiter
        else:
            self._in_flight -= 1

    async def _checkout(self, origin: _Origin, timeout: float | None, request: httpx.Request) -> _Connection:
        stack = self._idle.get(origin)
        while stack:
            connection = stack.pop()
            self._idle_count -= 1
            if time.monotonic() - connection.idle_since < self._keepalive_expiry and not connection.wire.stale():
                return connection
            await connection.wire.aclose()
        scheme, host, port = origin
        context = self._tls_context() if scheme == b"https" else None
        try:
            with anyio.fail_after(_seconds(timeout)):
                wire = await open_wire(host, port, context)
        except TimeoutError:
            raise httpx.ConnectTimeout(f"timed out connecting to {host}:{port}", request=request) from None
        except _CONNECTION_ERRORS as exc:
            raise httpx.ConnectError(f"could not connect to {host}:{port}: {exc}", request=request) from exc
        return _Connection(origin, wire)

    async def _checkin(self, connection: _Connection, reusable: bool) -> None:
        """Return a connection whose response is complete (or abandoned) and free its slot."""
        try:
            if reusable and not self._closed and self._idle_count < self._max_idle:
                connection.idle_since = time.monotonic()
                self._idle.setdefault(connection.origin, []).append(connection)
                self._idle_count += 1
            else:
                await connection.wire.aclose()
        finally:
            self._release_slot()

    async def _discard(self, connection: _Connection) -> None:
        with anyio.CancelScope(shield=True):
            await self._checkin(connection, reusable=False)

    def _tls_context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = httpx.create_ssl_context()  # certifi, SSL_CERT_FILE / SSL_CERT_DIR, as httpx
        return self._ssl_context

    def _fallback_transport(self) -> httpx.AsyncHTTPTransport:
        if self._fallback is None:
            self._fallback = httpx.AsyncHTTPTransport()
        return self._fallback

    # -- one exchange ------------------------------------------------------------------------------------------

    async def _exchange(
        self, connection: _Connection, request: httpx.Request, timeouts: dict[str, float | None]
    ) -> ResponseHead:
        wire = connection.wire
        method = request.method.encode("ascii")
        writing = True
        with anyio.CancelScope() as scope:
            scope.deadline = _deadline(timeouts.get("write"))
            try:
                try:
                    await self._send_request(wire, request)
                except _CONNECTION_ERRORS as exc:
                    # A server may answer before the body is all sent and close (413 to a large upload, 401):
                    # that answer is what the caller needs, as with httpcore. Without one, it is a write error.
                    writing = False
                    scope.deadline = _deadline(timeouts.get("read"))
                    try:
                        head = await self._read_head(wire, request, method)
                    except (httpx.RemoteProtocolError, *_CONNECTION_ERRORS):
                        raise httpx.WriteError(f"the connection failed: {exc!r}", request=request) from exc
                    head.keep_alive = False
                    return head
                writing = False
                scope.deadline = _deadline(timeouts.get("read"))
                return await self._read_head(wire, request, method)
            except _CONNECTION_ERRORS as exc:
                raise httpx.ReadError(f"the connection failed: {exc!r}", request=request) from exc
            except httpx.RemoteProtocolError as exc:
                exc.request = request
                raise
        # only a cancel scope deadline gets here: the exchange was interrupted by its timeout
        if writing:
            raise httpx.WriteTimeout("timed out sending the request", request=request)
        raise httpx.ReadTimeout("timed out waiting for the response", request=request)

    @staticmethod
    async def _read_head(wire: Wire, request: httpx.Request, method: bytes) -> ResponseHead:
        """The final response head (1xx interim answers skipped); raises when the server closes before it."""
        while True:
            end = find_head_end(wire.buffer)
            if end < 0:
                if not await wire.fill():
                    raise httpx.RemoteProtocolError(
                        "the server closed the connection without sending a complete response", request=request
                    )
                continue
            head = parse_response_head(bytes(wire.buffer[:end]), method=method)
            del wire.buffer[:end]
            if not head.interim:
                return head
            if head.status == 101:
                raise httpx.RemoteProtocolError("unexpected 101 Switching Protocols", request=request)

    @staticmethod
    async def _send_request(wire: Wire, request: httpx.Request) -> None:
        head = request_head(request)
        stream = request.stream
        if isinstance(stream, httpx.ByteStream):
            body = request.content
            if len(body) <= _COALESCE:
                await wire.send(head + body)
            else:
                await wire.send(head)
                await wire.send(body)
            return
        await wire.send(head)
        chunked = request.headers.get("transfer-encoding", "").lower() == "chunked"
        assert isinstance(stream, httpx.AsyncByteStream)  # httpx refuses sync-only bodies on async clients
        async for part in stream:
            if part:
                await wire.send(chunk(part) if chunked else part)
        if chunked:
            await wire.send(chunk(b""))

    def _response(
        self, connection: _Connection, head: ResponseHead, request: httpx.Request, read_timeout: float | None
    ) -> httpx.Response:
        buffer = connection.wire.buffer
        body: httpx.AsyncByteStream | None = None
        if head.length >= 0 and len(buffer) >= head.length:
            # the whole body is already here (the common case): nothing more is read from the connection, which
            # goes back to the pool as soon as the caller has read (or closed) the body
            data = bytes(buffer[: head.length])
            del buffer[: head.length]
            body = _CompleteBody(data, self, connection, reusable=head.keep_alive and not buffer)
        elif head.length == CHUNKED:
            decoder = ChunkedDecoder()
            try:
                parts = decoder.feed(buffer)
            except httpx.RemoteProtocolError as exc:
                exc.request = request
                body = _FailedBody(exc, self, connection)
            else:
                buffer.clear()
                if decoder.done:
                    body = _CompleteBody(b"".join(parts), self, connection, reusable=head.keep_alive)
                else:
                    body = _StreamedBody(self, connection, head, request, read_timeout, parts, decoder)
        if body is None:
            body = _StreamedBody(self, connection, head, request, read_timeout, [], None)
        return httpx.Response(
            head.status,
            headers=head.headers,
            stream=body,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": head.reason},
            request=request,
        )


class _CompleteBody(httpx.AsyncByteStream):
    """A body read with its head; the connection is returned when the body is consumed or closed."""

    def __init__(
        self, data: bytes, pool: AsyncHTTP11Transport, connection: _Connection | None, *, reusable: bool
    ) -> None:
        self._data = data
        self._pool = pool
        self._connection = connection
        self._reusable = reusable

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._data:
            yield self._data
        await self.aclose()

    async def aclose(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await self._pool._checkin(connection, self._reusable)


class _FailedBody(httpx.AsyncByteStream):
    def __init__(self, error: httpx.RemoteProtocolError, pool: AsyncHTTP11Transport, connection: _Connection) -> None:
        self._error = error
        self._pool = pool
        self._connection: _Connection | None = connection

    async def __aiter__(self) -> AsyncIterator[bytes]:
        await self.aclose()
        raise self._error
        yield b""  # pragma: no cover - makes this an async generator

    async def aclose(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await self._pool._discard(connection)


class _StreamedBody(httpx.AsyncByteStream):
    """A body that is still arriving: each read has the read timeout; early close drops the connection."""

    def __init__(
        self,
        pool: AsyncHTTP11Transport,
        connection: _Connection,
        head: ResponseHead,
        request: httpx.Request,
        read_timeout: float | None,
        parts: list[bytes],
        decoder: ChunkedDecoder | None,
    ) -> None:
        self._pool = pool
        self._connection: _Connection | None = connection
        self._head = head
        self._request = request
        self._read_timeout = read_timeout
        self._parts = parts
        self._decoder = decoder

    async def __aiter__(self) -> AsyncIterator[bytes]:
        connection = self._connection
        if connection is None:
            raise httpx.StreamClosed()
        try:
            for part in self._parts:
                if part:
                    yield part
            self._parts = []
            # closed here, not left to the garbage collector, when the body is abandoned (trio warns about that)
            async with aclosing(self._receive(connection)) as received:
                async for part in received:
                    yield part
        except BaseException:
            await self.aclose()
            raise
        self._connection = None
        await self._pool._checkin(connection, self._head.keep_alive and not connection.wire.buffer)

    async def _receive(self, connection: _Connection) -> AsyncGenerator[bytes, None]:
        wire = connection.wire
        decoder = self._decoder
        remaining = self._head.length
        while True:
            if decoder is not None:
                if decoder.done:
                    return
            elif remaining == 0:
                return
            if not wire.buffer:
                try:
                    with anyio.fail_after(_seconds(self._read_timeout)):
                        more = await wire.fill()
                except TimeoutError:
                    raise httpx.ReadTimeout("timed out reading the response body", request=self._request) from None
                except _CONNECTION_ERRORS as exc:
                    raise httpx.ReadError(f"the connection failed: {exc!r}", request=self._request) from exc
                if not more:
                    if remaining == UNTIL_CLOSE:
                        return
                    raise httpx.RemoteProtocolError(
                        "the server closed the connection before the end of the body", request=self._request
                    )
            data = wire.buffer
            if decoder is not None:
                try:
                    parts = decoder.feed(data)
                except httpx.RemoteProtocolError as exc:
                    exc.request = self._request
                    raise
                data.clear()
                for part in parts:
                    if part:
                        yield part
            elif remaining == UNTIL_CLOSE:
                piece = bytes(data)
                data.clear()
                yield piece
            else:
                piece = bytes(data[:remaining])
                del data[:remaining]
                remaining -= len(piece)
                yield piece

    async def aclose(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await self._pool._discard(connection)


def _seconds(timeout: float | None) -> float | None:
    return None if timeout is None else float(timeout)


def _deadline(timeout: float | None) -> float:
    return math.inf if timeout is None else anyio.current_time() + timeout
