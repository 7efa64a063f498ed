"""The default async transport: a lean HTTP/1.1 connection pool that runs on asyncio and trio.

Why not httpx's own pool: at 100 concurrent calls httpcore's async pool reached about 6% of raw aiohttp on our
bench machine. It rescans every connection and every queued request on each request and response, keeps only 20
connections alive (so 80 of 100 concurrent calls open a new TCP connection), and its anyio streams yield to the
loop on every send. This pool is a stack of idle connections per origin and a counter of calls in flight, so
taking and returning a connection costs the same at 1 or 1,000 connections.

Scope, on purpose: HTTP/1.1 over TCP or TLS, one request at a time per connection. Anything else (WebSocket
upgrades for the Direct Line stream, other schemes) goes to an ``httpx.AsyncHTTPTransport`` created on first need;
clients built with proxy environment variables set never get this transport (see ``default_transport``). The
framing (``botconnect._core.http11``) is llhttp's tokenizer under h11's rules; where httptools cannot be installed,
every request goes to httpx's own transport, with the same limits.
"""

from __future__ import annotations

import math
import ssl
import time
from collections import deque

import anyio
import httpx

from botconnect._core.clientconfig import env_proxies_configured
from botconnect._transport import default_ssl_context

from ._wire import Wire, current_loop, open_wire

try:
    from botconnect._core.http11 import (
        CHUNKED,
        ChunkedDecoder,
        PreparedRequest,
        ResponseHead,
        find_head_end,
        parse_response_head,
        prepare_request,
    )
except ImportError:  # no httptools wheel for this platform: every request goes to httpx's own transport (h11)
    _FRAMING = False
else:
    _FRAMING = True
    from ._bodies import CompleteBody, FailedBody, StreamedBody

__all__ = ["AsyncHTTP11Transport", "default_transport"]

_Origin = tuple[bytes, str, int]
_DEFAULT_PORTS = {b"http": 80, b"https": 443}
#: request bodies up to this size go out in the same write as the head
_COALESCE = 64 * 1024
#: what a broken connection raises from a wire (the asyncio protocol, anyio streams, TLS)
CONNECTION_ERRORS = (OSError, anyio.BrokenResourceError, anyio.ClosedResourceError, ssl.SSLError)
#: how often idle connections are checked for a close by the server where nothing else notices it (trio)
_SWEEP_INTERVAL = 1.0


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
        self._sweeping = False

    # -- httpx.AsyncBaseTransport ------------------------------------------------------------------------------

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send one request; the response's body is read (or streamed) by the caller, who must close it."""
        url = request.url
        scheme = url.raw_scheme
        if not _FRAMING or scheme not in _DEFAULT_PORTS or "upgrade" in request.headers:
            return await self._fallback_transport().handle_async_request(request)
        if self._closed:
            raise httpx.ConnectError("the transport is closed", request=request)
        try:
            prepared = prepare_request(request)  # before a connection is taken: nothing is sent
        except httpx.LocalProtocolError as exc:
            exc.request = request
            raise
        timeouts: dict[str, float | None] = request.extensions.get("timeout") or {}
        # the ASCII host httpx computed (IDNA 2008), which the Host header names: connect and SNI use it too
        origin: _Origin = (scheme, url.raw_host.decode("ascii"), url.port or _DEFAULT_PORTS[scheme])
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
            head = await self._exchange(connection, request, prepared, timeouts)
        except BaseException:
            await self._discard(connection)
            raise
        return await self._response(connection, head, request, timeouts.get("read"))

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
        except CONNECTION_ERRORS as exc:
            raise httpx.ConnectError(f"could not connect to {host}:{port}: {exc}", request=request) from exc
        if wire.alpn not in (None, "http/1.1"):
            # an ssl_context offering h2 to a server that takes it: HTTP/1.1 on that connection would hang
            await wire.aclose()
            raise httpx.UnsupportedProtocol(
                f"{host}:{port} negotiated {wire.alpn!r}; this transport speaks HTTP/1.1 only: offer only "
                f"'http/1.1' in the ssl_context's ALPN protocols, or use httpx.AsyncHTTPTransport(http2=True)",
                request=request,
            )
        return _Connection(origin, wire)

    async def _checkin(self, connection: _Connection, reusable: bool) -> None:
        """Return a connection whose response is complete (or abandoned) and free its slot."""
        try:
            if reusable and not self._closed and self._idle_count < self._max_idle:
                connection.idle_since = time.monotonic()
                self._idle.setdefault(connection.origin, []).append(connection)
                self._idle_count += 1
                if not self._sweeping and connection.wire.needs_sweeping:
                    self._start_sweeping()
            else:
                await connection.wire.aclose()
        finally:
            self._release_slot()

    async def _discard(self, connection: _Connection) -> None:
        with anyio.CancelScope(shield=True):
            await self._checkin(connection, reusable=False)

    def _start_sweeping(self) -> None:
        """Close idle connections the server closed, which nothing reads on trio (they would sit in CLOSE_WAIT);
        on asyncio the protocol sees the FIN and closes the socket itself."""
        import trio  # only wires made under trio need sweeping

        self._sweeping = True
        trio.lowlevel.spawn_system_task(self._sweep, name="botconnect idle connection sweeper")

    async def _sweep(self) -> None:
        try:
            while self._idle_count and not self._closed and current_loop() is self._loop:
                await anyio.sleep(min(_SWEEP_INTERVAL, max(self._keepalive_expiry, 0.01)))
                now = time.monotonic()
                gone = [
                    (stack, connection)
                    for stack in self._idle.values()
                    for connection in stack
                    if now - connection.idle_since >= self._keepalive_expiry or connection.wire.stale()
                ]
                for stack, connection in gone:
                    stack.remove(connection)
                    self._idle_count -= 1
                for _, connection in gone:
                    await connection.wire.aclose()
        finally:
            self._sweeping = False

    def _tls_context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            # certifi, SSL_CERT_FILE / SSL_CERT_DIR, as httpx; ALPN http/1.1 only, so a server that would pick h2
            # knows not to. Shared by every transport: building one per client cost 10-50 ms
            return default_ssl_context()
        return self._ssl_context

    def _fallback_transport(self) -> httpx.AsyncHTTPTransport:
        if self._fallback is None:
            limits = httpx.Limits(
                max_connections=self._max_connections,
                max_keepalive_connections=self._max_idle,
                keepalive_expiry=self._keepalive_expiry,
            )
            verify = self._ssl_context if self._ssl_context is not None else default_ssl_context()
            self._fallback = httpx.AsyncHTTPTransport(verify=verify, limits=limits)
        return self._fallback

    # -- one exchange ------------------------------------------------------------------------------------------

    async def _exchange(
        self,
        connection: _Connection,
        request: httpx.Request,
        prepared: PreparedRequest,
        timeouts: dict[str, float | None],
    ) -> ResponseHead:
        wire = connection.wire
        method = prepared.head[: prepared.head.index(b" ")]
        read_timeout = timeouts.get("read")
        try:
            await self._send_request(wire, request, prepared, _deadline(wire, timeouts.get("write")))
        except TimeoutError:
            raise httpx.WriteTimeout("timed out sending the request", request=request) from None
        except CONNECTION_ERRORS as exc:
            # A server may answer before the body is all sent and close (413 to a large upload, 401): that answer
            # is what the caller needs, as with httpcore. Without one, it is a write error.
            try:
                head = await self._read_head(wire, request, method, prepared, _deadline(wire, read_timeout))
            except (TimeoutError, httpx.RemoteProtocolError, *CONNECTION_ERRORS):
                raise httpx.WriteError(f"the connection failed: {exc!r}", request=request) from exc
            head.keep_alive = False
            return head
        try:
            return await self._read_head(wire, request, method, prepared, _deadline(wire, read_timeout))
        except TimeoutError:
            raise httpx.ReadTimeout("timed out waiting for the response", request=request) from None
        except CONNECTION_ERRORS as exc:
            raise httpx.ReadError(f"the connection failed: {exc!r}", request=request) from exc

    @staticmethod
    async def _read_head(
        wire: Wire, request: httpx.Request, method: bytes, prepared: PreparedRequest, deadline: float
    ) -> ResponseHead:
        """The final response head (1xx interim answers skipped); raises when the server closes before it."""
        while True:
            try:
                end = find_head_end(wire.buffer)
                if end < 0:
                    if not await wire.fill(deadline):
                        raise httpx.RemoteProtocolError(
                            "the server closed the connection without sending a complete response"
                        )
                    continue
                head = parse_response_head(bytes(wire.buffer[:end]), method=method, request_close=prepared.close)
                del wire.buffer[:end]
                if head.status == 101:
                    raise httpx.RemoteProtocolError("unexpected 101 Switching Protocols")
            except httpx.RemoteProtocolError as exc:
                exc.request = request
                raise
            if not head.interim:
                return head

    @staticmethod
    async def _send_request(wire: Wire, request: httpx.Request, prepared: PreparedRequest, deadline: float) -> None:
        body = prepared.body
        if body is not None:
            if len(body) <= _COALESCE:
                await wire.send(prepared.head + body, deadline)
            else:
                await wire.send(prepared.head, deadline)
                await wire.send(body, deadline)
            return
        await wire.send(prepared.head, deadline)
        framer = prepared.framer()
        stream = request.stream
        assert isinstance(stream, httpx.AsyncByteStream)  # httpx refuses sync-only bodies on async clients
        parts = stream.__aiter__()
        try:
            async for part in parts:
                if part:
                    await wire.send(framer.frame(part), deadline)
            await wire.send(framer.end(), deadline)
        except httpx.LocalProtocolError as exc:
            exc.request = request
            raise
        finally:
            # a body abandoned half-way is closed now, not by the garbage collector (trio warns about that)
            close = getattr(parts, "aclose", None)
            if close is not None:
                await close()

    async def _response(
        self, connection: _Connection, head: ResponseHead, request: httpx.Request, read_timeout: float | None
    ) -> httpx.Response:
        buffer = connection.wire.buffer
        body: httpx.AsyncByteStream | httpx.ByteStream | None = None
        if head.length >= 0 and len(buffer) >= head.length:
            # The whole body is already here (the common case): nothing more is read from the connection, so it
            # goes back to the pool now, and the body is plain bytes, which httpx reads without the three nested
            # async generators of a stream (and synchronously, where the caller knows it may).
            data = bytes(buffer[: head.length])
            del buffer[: head.length]
            await self._checkin(connection, reusable=head.keep_alive and not buffer)
            body = httpx.ByteStream(data)
        elif head.length == CHUNKED:
            decoder = ChunkedDecoder()
            try:
                parts = decoder.feed(buffer)
            except httpx.RemoteProtocolError as exc:
                exc.request = request
                body = FailedBody(exc, self, connection)
            else:
                buffer.clear()
                if decoder.done:
                    reusable = head.keep_alive and not decoder.extra
                    body = CompleteBody(b"".join(parts), self, connection, reusable=reusable)
                else:
                    body = StreamedBody(self, connection, head, request, read_timeout, parts, decoder)
        if body is None:
            body = StreamedBody(self, connection, head, request, read_timeout, [], None)
        return httpx.Response(
            head.status,
            headers=head.headers,
            stream=body,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": head.reason},
            request=request,
        )


def _seconds(timeout: float | None) -> float | None:
    return None if timeout is None else float(timeout)


def _deadline(wire: Wire, timeout: float | None) -> float:
    return math.inf if timeout is None else wire.now() + timeout
