"""The asyncio wire: a plain ``asyncio.Protocol`` keeping what it receives in ``buffer`` (see ``_wire``)."""

from __future__ import annotations

import asyncio
import functools
import inspect
import math
import ssl
from collections.abc import Callable
from typing import Any, cast

from ._wire import HAPPY_EYEBALLS_DELAY, readable

__all__ = ["open_protocol_wire"]

#: stop reading from the socket while this much is buffered and unread (a slow consumer of a large download)
_HIGH_WATER = 256 * 1024


async def open_protocol_wire(host: str, port: int, ssl_context: ssl.SSLContext | None) -> _ProtocolWire:
    loop = asyncio.get_running_loop()
    options: dict[str, Any] = {}
    if _has_happy_eyeballs(type(loop).create_connection):
        # without it a host whose first address drops SYNs (a dead IPv6 route) takes the whole connect timeout
        # before its second address is tried
        options["happy_eyeballs_delay"] = HAPPY_EYEBALLS_DELAY
    _, protocol = await loop.create_connection(
        _ProtocolWire, host, port, ssl=ssl_context, server_hostname=host if ssl_context is not None else None, **options
    )
    return protocol


@functools.cache
def _has_happy_eyeballs(create_connection: Callable[..., Any]) -> bool:
    """asyncio's own loops take ``happy_eyeballs_delay``; uvloop's (0.23) does not, and refuses the keyword."""
    try:
        return "happy_eyeballs_delay" in inspect.signature(create_connection).parameters
    except (TypeError, ValueError):  # a compiled method without a signature
        return False


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


class _ProtocolWire(asyncio.Protocol):
    needs_sweeping = False  # eof_received / connection_lost close the transport

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.alpn: str | None = None
        self._transport: asyncio.Transport | None = None
        self._loop = asyncio.get_running_loop()
        self._waiter: asyncio.Future[None] | None = None
        self._drain: asyncio.Future[None] | None = None
        self._eof = False
        self._error: BaseException | None = None
        self._reading_paused = False

    # -- asyncio.Protocol callbacks ----------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # not an isinstance check: uvloop's TCPTransport has the asyncio.Transport methods without the base class
        self._transport = cast(asyncio.Transport, transport)
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            self.alpn = ssl_object.selected_alpn_protocol()

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
            self._drain = self._loop.create_future()

    def resume_writing(self) -> None:
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- Wire --------------------------------------------------------------------------------------------------

    def now(self) -> float:
        return self._loop.time()

    async def send(self, data: bytes, deadline: float = math.inf) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            raise self._error or ConnectionResetError("the connection is closed")
        transport.write(data)
        drain = self._drain
        if drain is None or drain.done():
            return
        if deadline == math.inf:
            await drain
            return
        # the drain future is shared with the protocol callbacks: the timer fails a waiter of our own instead
        waiter = self._loop.create_future()

        def relay(_: object) -> None:
            if not waiter.done():
                waiter.set_result(None)

        drain.add_done_callback(relay)
        timer = self._loop.call_at(deadline, _expire, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            drain.remove_done_callback(relay)
        error = drain.exception() if drain.done() else None
        if error is not None:
            raise error

    async def fill(self, deadline: float = math.inf) -> bool:
        before = len(self.buffer)
        if self._reading_paused and self._transport is not None:
            self._reading_paused = False
            self._transport.resume_reading()
        while len(self.buffer) == before:
            if self._eof:
                if self._error is not None:
                    raise self._error
                return False
            waiter = self._waiter = self._loop.create_future()
            timer = None if deadline == math.inf else self._loop.call_at(deadline, _expire, waiter)
            try:
                await waiter
            finally:
                self._waiter = None
                if timer is not None:
                    timer.cancel()
        return True

    def stale(self) -> bool:
        transport = self._transport
        if self._eof or self.buffer or transport is None or transport.is_closing():
            return True
        # the server's FIN (or stray bytes) can sit in the socket before the loop has read it: the task given this
        # connection back may run before the loop polls again, so ask the socket too (as _StreamWire does)
        sock = transport.get_extra_info("socket")
        return sock is not None and readable(sock)

    async def aclose(self) -> None:
        self.forget()

    def forget(self) -> None:
        if self._transport is not None:
            try:
                self._transport.abort()  # nothing useful is left to flush on a connection we give up
            except RuntimeError:
                # Its event loop is closed, so abort() could not schedule the last step of closing. Run that step
                # now (asyncio's selector transports: close the socket, drop the protocol) rather than leave the
                # descriptor to the garbage collector and its ResourceWarning.
                finish = getattr(self._transport, "_call_connection_lost", None)
                if callable(finish):
                    finish(None)
