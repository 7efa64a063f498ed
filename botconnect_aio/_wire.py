"""One byte pipe to a server for the lean transport: an ``asyncio.Protocol`` on asyncio, anyio streams elsewhere.

Both kinds keep what they received in ``buffer`` (the HTTP/1.1 framing reads it in place). Under asyncio a plain
protocol is used because anyio's socket stream yields to the loop after every send and toggles the reader
(two ``epoll_ctl`` calls) around every receive: measured, that is most of the gap to aiohttp at 100 concurrent
calls. Under trio (or anything else anyio runs on) the anyio stream is used. Timeouts are the caller's anyio
cancel scopes, which cancel whichever wire is awaiting.
"""

from __future__ import annotations

import asyncio
import select
import socket
import ssl
from typing import Protocol

import anyio
import anyio.abc
import sniffio

__all__ = ["Wire", "open_wire"]

#: stop reading from the socket while this much is buffered and unread (a slow consumer of a large download)
_HIGH_WATER = 256 * 1024


class Wire(Protocol):
    buffer: bytearray

    async def send(self, data: bytes) -> None:
        """Write ``data``; raises ``OSError`` (or an anyio stream error) when the connection is gone."""

    async def fill(self) -> bool:
        """Append at least one received byte to ``buffer``; False when the server closed the connection."""

    def stale(self) -> bool:
        """Whether an idle connection can no longer be used (closed by the server, or unexpected bytes)."""

    async def aclose(self) -> None: ...


async def open_wire(host: str, port: int, ssl_context: ssl.SSLContext | None) -> Wire:
    """Connect (and do the TLS handshake when ``ssl_context`` is given)."""
    if sniffio.current_async_library() == "asyncio":
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_connection(
            _ProtocolWire, host, port, ssl=ssl_context, server_hostname=host if ssl_context is not None else None
        )
        return protocol
    if ssl_context is not None:
        stream: anyio.abc.ByteStream = await anyio.connect_tcp(
            host, port, ssl_context=ssl_context, tls_hostname=host, tls_standard_compatible=False
        )
    else:
        stream = await anyio.connect_tcp(host, port)
    return _StreamWire(stream)


class _ProtocolWire(asyncio.Protocol):
    def __init__(self) -> None:
        self.buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._drain: asyncio.Future[None] | None = None
        self._eof = False
        self._error: BaseException | None = None
        self._reading_paused = False

    # -- asyncio.Protocol callbacks ----------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > _HIGH_WATER and not self._reading_paused and self._transport is not None:
            self._reading_paused = True
            self._transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self._eof = True
        self._wake()
        return False  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = True
        self._error = exc
        self._wake()
        if self._drain is not None and not self._drain.done():
            self._drain.set_exception(exc or ConnectionResetError("connection lost"))

    def pause_writing(self) -> None:
        if self._drain is None or self._drain.done():
            self._drain = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- Wire --------------------------------------------------------------------------------------------------

    async def send(self, data: bytes) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            raise self._error or ConnectionResetError("the connection is closed")
        transport.write(data)
        drain = self._drain
        if drain is not None and not drain.done():
            await drain

    async def fill(self) -> bool:
        before = len(self.buffer)
        if self._reading_paused and self._transport is not None:
            self._reading_paused = False
            self._transport.resume_reading()
        while len(self.buffer) == before:
            if self._eof:
                if self._error is not None:
                    raise self._error
                return False
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return True

    def stale(self) -> bool:
        return self._eof or bool(self.buffer) or self._transport is None or self._transport.is_closing()

    async def aclose(self) -> None:
        if self._transport is not None:
            self._transport.abort()  # nothing useful is left to flush on a connection we give up


class _StreamWire:
    def __init__(self, stream: anyio.abc.ByteStream) -> None:
        self.buffer = bytearray()
        self._stream = stream
        self._socket: socket.socket | None = stream.extra(anyio.abc.SocketAttribute.raw_socket, None)  # noqa: S610

    async def send(self, data: bytes) -> None:
        await self._stream.send(data)

    async def fill(self) -> bool:
        try:
            self.buffer += await self._stream.receive()
        except anyio.EndOfStream:
            return False
        return True

    def stale(self) -> bool:
        if self.buffer:
            return True
        sock = self._socket
        if sock is None:
            return False
        if sock.fileno() < 0:
            return True
        try:
            # an idle connection is readable only when the server closed it (or sent bytes nobody asked for)
            readable, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)

    async def aclose(self) -> None:
        with anyio.CancelScope(shield=True):
            await self._stream.aclose()
