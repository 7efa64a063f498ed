"""The connection pools that async clients given neither ``transport=`` nor ``http_client=`` share.

A bot builds a ``ConnectorClient`` for each incoming activity; with a pool of its own, every client opened a new
connection (over https, a TLS handshake too) and closed it again, so ``async with ConnectorClient(...)`` per
message cost several times a long-lived client's call. Clients now borrow a process-wide pipeline whose transport
keeps **one pool per running event loop**:

* a client may be built outside any loop (at import, in a sync constructor) and used in several: the pool is
  picked on each call, by the loop the call runs in;
* connections never cross loops (pytest-asyncio's loop per test, ``asyncio.run`` twice, asyncio then trio, one
  loop per thread: pools of different threads never touch each other's state);
* a loop's pool closes its connections when the loop ends: an async generator, started in the loop and kept here,
  is finalized by the loop's shutdown (``asyncio.run``, ``asyncio.Runner``, ``trio.run`` do it), and its
  ``finally`` closes the pool. A loop closed without that step leaves its pool to the next new pool, which closes
  the sockets of pools whose loop is closed.

Closing a client ends that client, never the shared pool. With proxy variables set, clients keep pools of their
own (httpx builds the proxy transports, which are bound to one loop).
"""

from __future__ import annotations

import atexit
import contextlib
import threading
from collections.abc import AsyncGenerator

import httpx

from botconnect._core.clientconfig import env_proxies_configured
from botconnect._core.pipeline import CallConfig
from botconnect._transport import shared_pool_key

from ._pipeline import AsyncPipeline, AsyncTokenCredential
from ._transport import AsyncHTTP11Transport
from ._wire import current_loop

__all__ = ["LoopPools", "close_shared_pools", "shared_pipeline"]


class LoopPools(httpx.AsyncBaseTransport):
    """An :class:`AsyncHTTP11Transport` for each running event loop, made on the loop's first call, closed when the
    loop ends."""

    def __init__(self) -> None:
        self._pools: dict[object, AsyncHTTP11Transport] = {}
        self._finalizers: dict[object, AsyncGenerator[None, None]] = {}
        self._lock = threading.Lock()  # loops in other threads add and drop their pools too

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        loop = current_loop()
        pool = self._pools.get(loop)
        if pool is None:
            pool = await self._open(loop)
        return await pool.handle_async_request(request)

    async def _open(self, loop: object) -> AsyncHTTP11Transport:
        # no await before the pool is registered: other tasks of this loop cannot make a second one
        pool = AsyncHTTP11Transport()
        finalizer = _close_at_loop_end(self, loop, pool)
        with self._lock:
            self._close_pools_of_closed_loops()
            self._pools[loop] = pool
            self._finalizers[loop] = finalizer
        await finalizer.asend(None)  # started here, so the running loop knows it and finalizes it at its end
        return pool

    def _drop(self, loop: object, pool: AsyncHTTP11Transport) -> bool:
        with self._lock:
            if self._pools.get(loop) is not pool:
                return False
            del self._pools[loop]
            del self._finalizers[loop]
            return True

    def _close_pools_of_closed_loops(self) -> None:
        for loop, pool in list(self._pools.items()):
            is_closed = getattr(loop, "is_closed", None)  # asyncio loops; trio always finalizes (see above)
            if callable(is_closed) and is_closed():
                del self._pools[loop]
                del self._finalizers[loop]  # the closed loop's finalizer hook does nothing with it
                pool._forget_idle()  # closes the sockets without the loop

    def forget_all(self) -> None:
        """Close every pool's sockets without any loop (at interpreter exit, when the loops are gone)."""
        with self._lock:
            pools = list(self._pools.values())
            self._pools.clear()
            self._finalizers.clear()
        for pool in pools:
            pool._forget_idle()

    def pools(self) -> int:
        """How many loops have a pool now."""
        return len(self._pools)

    async def aclose(self) -> None:
        """Close the pool of the running loop (the others close with their loops)."""
        loop = current_loop()
        pool = self._pools.get(loop)
        if pool is not None and self._drop(loop, pool):
            await pool.aclose()

    def __repr__(self) -> str:
        return f"<LoopPools loops={len(self._pools)}>"


async def _close_at_loop_end(pools: LoopPools, loop: object, pool: AsyncHTTP11Transport) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        if pools._drop(loop, pool):
            with contextlib.suppress(Exception):  # closing idle connections at shutdown: nothing to report
                await pool.aclose()


_roots: dict[tuple[object, ...], AsyncPipeline] = {}
_lock = threading.Lock()


def shared_pipeline(*, config: CallConfig, credential: AsyncTokenCredential | None) -> AsyncPipeline | None:
    """A pipeline with ``config`` and ``credential`` on the shared pools for the current environment; None when
    proxies are configured (the caller then makes a pipeline of its own, as before)."""
    key = shared_pool_key()
    root = _roots.get(key)
    if root is None:
        if env_proxies_configured():
            return None
        with _lock:
            root = _roots.get(key)
            if root is None:
                root = _roots[key] = AsyncPipeline(
                    config=CallConfig(), credential=None, http_client=None, transport=LoopPools()
                )
    return root.borrow(config=config, credential=credential)


async def close_shared_pools() -> None:
    """Close the running loop's shared pools now (the end of a test, an orderly shutdown): their idle connections
    close; a later call on this loop opens new ones."""
    for root in list(_roots.values()):
        transport = root._direct
        if isinstance(transport, LoopPools):
            await transport.aclose()


def _forget_at_exit() -> None:
    # idle sockets closed on the way out, not left to the garbage collector and its ResourceWarnings
    for root in list(_roots.values()):
        if isinstance(root._direct, LoopPools):
            root._direct.forget_all()


atexit.register(_forget_at_exit)
