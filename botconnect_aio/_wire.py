"""One byte pipe to a server for the lean transport: an ``asyncio.Protocol`` on asyncio, anyio streams elsewhere.

Both kinds keep what they received in ``buffer`` (the HTTP/1.1 framing reads it in place). Under asyncio a plain
protocol is used because anyio's socket stream yields to the loop after every send and toggles the reader
(two ``epoll_ctl`` calls) around every receive: at 100 concurrent calls on the bench machine the protocol wire
gave about 6,300 calls/s where the anyio stream gave 4,800. Under trio (or anything else anyio runs on) the
anyio stream is used.

Timeouts are deadlines on the wire's own clock (``now()``), passed to ``send`` and ``fill``, which raise
``TimeoutError`` when one passes: on asyncio a timer on the future being awaited, cheaper than an anyio cancel
scope per phase (two scopes per call cost about 8% of the throughput at 100 concurrent calls). Cancellation from
outside (the caller's cancel scopes) works on both.
"""

from __future__ import annotations

import math
import select
import socket
import ssl
import sys
from typing import Protocol

import anyio
import anyio.abc
import sniffio

__all__ = ["HAPPY_EYEBALLS_DELAY", "Wire", "current_loop", "open_wire", "readable"]


class Wire(Protocol):
    buffer: bytearray
    #: the protocol TLS negotiated (ALPN), None when there was none
    alpn: str | None
    #: nothing notices the server closing this connection while it is idle: the pool must look (see ``stale``)
    needs_sweeping: bool

    def now(self) -> float:
        """The clock deadlines are given in."""

    async def send(self, data: bytes, deadline: float = math.inf) -> None:
        """Write ``data``; raises ``OSError`` (or an anyio stream error) when the connection is gone, and
        ``TimeoutError`` when ``deadline`` passes first."""

    async def fill(self, deadline: float = math.inf) -> bool:
        """Append at least one received byte to ``buffer``; False when the server closed the connection;
        ``TimeoutError`` when ``deadline`` passes first."""

    def stale(self) -> bool:
        """Whether an idle connection can no longer be used (closed by the server, or unexpected bytes)."""

    async def aclose(self) -> None: ...

    def forget(self) -> None:
        """Close without awaiting: the connection belongs to an event loop that is no longer running."""


def current_loop() -> object:
    """What identifies the running event loop: connections made on one are useless on another."""
    if sniffio.thread_local.name is None and sniffio.current_async_library_cvar.get() is None:
        # the common case, asked directly: sniffio's own answer costs a current_task() lookup on every call
        aio = sys.modules.get("asyncio")
        if aio is not None:
            try:
                loop: object = aio.get_running_loop()
            except RuntimeError:
                pass
            else:
                return loop
    library = sniffio.current_async_library()
    if library == "asyncio":
        import asyncio  # already loaded: an asyncio loop is running

        return asyncio.get_running_loop()
    if library == "trio":
        import trio  # already loaded: trio is running

        return trio.lowlevel.current_trio_token()
    return library


#: how long the first address of a host has to connect before the next one is tried too (RFC 8305 Happy Eyeballs;
#: anyio's connect_tcp uses the same delay)
HAPPY_EYEBALLS_DELAY = 0.25


async def open_wire(host: str, port: int, ssl_context: ssl.SSLContext | None) -> Wire:
    """Connect (and do the TLS handshake when ``ssl_context`` is given).

    ``host`` is the ASCII form httpx computed (IDNA 2008, ``url.raw_host``): what is resolved, what SNI names and
    what the certificate is checked against are the host the ``Host`` header names.
    """
    if sniffio.current_async_library() == "asyncio":
        # imported here: asyncio is loaded by then anyway, and a trio program or an import never pays for it
        from ._wire_asyncio import open_protocol_wire

        return await open_protocol_wire(host, port, ssl_context)
    if ssl_context is not None:
        stream: anyio.abc.ByteStream = await anyio.connect_tcp(
            host, port, ssl_context=ssl_context, tls_hostname=host, tls_standard_compatible=False
        )
    else:
        stream = await anyio.connect_tcp(host, port)
    return _StreamWire(stream)


class _StreamWire:
    needs_sweeping = True

    def __init__(self, stream: anyio.abc.ByteStream) -> None:
        self.buffer = bytearray()
        self._stream = stream
        # here, not at the top: anyio's TLS streams cost ~9 ms of import, and only wires made outside asyncio use them
        from anyio.streams.tls import TLSAttribute

        self._socket: socket.socket | None = stream.extra(anyio.abc.SocketAttribute.raw_socket, None)  # noqa: S610
        self.alpn: str | None = stream.extra(TLSAttribute.alpn_protocol, None)  # noqa: S610

    def now(self) -> float:
        return anyio.current_time()

    async def send(self, data: bytes, deadline: float = math.inf) -> None:
        with anyio.fail_at(deadline):
            await self._stream.send(data)

    async def fill(self, deadline: float = math.inf) -> bool:
        try:
            with anyio.fail_at(deadline):
                self.buffer += await self._stream.receive()
        except anyio.EndOfStream:
            return False
        return True

    def stale(self) -> bool:
        if self.buffer:
            return True
        sock = self._socket
        return sock is not None and (sock.fileno() < 0 or readable(sock))

    async def aclose(self) -> None:
        with anyio.CancelScope(shield=True):
            await self._stream.aclose()

    def forget(self) -> None:
        if self._socket is not None:
            self._socket.close()


class _HasFileno(Protocol):
    def fileno(self) -> int: ...


def readable(sock: _HasFileno) -> bool:
    """Whether an idle connection's socket can be read: only when the server closed it (or sent bytes nobody asked
    for), so the connection must not be reused. ``poll``, where there is one: ``select`` refuses descriptors past
    FD_SETSIZE (1024), which in a process with many files open made every idle connection look closed."""
    try:
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        ready, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(ready)
