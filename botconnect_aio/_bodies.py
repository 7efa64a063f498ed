"""Response bodies of the lean transport: what the caller iterates, and when the connection goes back to the pool."""

from __future__ import annotations

import math
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import TYPE_CHECKING

import httpx

from botconnect._core.http11 import UNTIL_CLOSE, ChunkedDecoder, ResponseHead

from ._wire import Wire

if TYPE_CHECKING:
    from ._transport import AsyncHTTP11Transport, _Connection

__all__ = ["CompleteBody", "FailedBody", "StreamedBody"]


class CompleteBody(httpx.AsyncByteStream):
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


class FailedBody(httpx.AsyncByteStream):
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


class StreamedBody(httpx.AsyncByteStream):
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
        self._read_timeout = math.inf if read_timeout is None else float(read_timeout)
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
            async with aclosing(self._receive(connection.wire)) as received:
                async for part in received:
                    yield part
        except BaseException:
            await self.aclose()
            raise
        self._connection = None
        decoder = self._decoder
        extra = bool(connection.wire.buffer) or (decoder is not None and decoder.extra)
        await self._pool._checkin(connection, self._head.keep_alive and not extra)

    async def _receive(self, wire: Wire) -> AsyncGenerator[bytes, None]:
        from ._transport import CONNECTION_ERRORS

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
                    more = await wire.fill(wire.now() + self._read_timeout)
                except TimeoutError:
                    raise httpx.ReadTimeout("timed out reading the response body", request=self._request) from None
                except CONNECTION_ERRORS as exc:
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
