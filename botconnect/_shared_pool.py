"""The connection pool that sync clients given neither ``transport=`` nor ``http_client=`` share.

A bot builds a ``ConnectorClient`` for each incoming activity (the service URL comes with it); with a pool of its
own, every client opened a new connection (and over https a TLS handshake) and closed it again, so a client per
message cost several times a long-lived client's call. Clients now borrow one process-wide pool: closing a client
ends that client, not the pool. httpx's sync pool is thread-safe, so one pool serves every thread; a forked child
gets a pool of its own (the key holds the process id).
"""

from __future__ import annotations

import atexit
import threading

from ._core.pipeline import CallConfig
from ._pipeline import Pipeline, TokenCredential
from ._transport import shared_pool_key

__all__ = ["close_shared_pools", "shared_pipeline"]

_roots: dict[tuple[object, ...], Pipeline] = {}
_lock = threading.Lock()


def shared_pipeline(*, config: CallConfig, credential: TokenCredential | None) -> Pipeline:
    """A pipeline with ``config`` and ``credential`` on the shared pool for the current environment."""
    key = shared_pool_key()
    root = _roots.get(key)
    if root is None:
        with _lock:
            root = _roots.get(key)
            if root is None:
                root = _roots[key] = Pipeline(config=CallConfig(), credential=None, http_client=None)
    return root.borrow(config=config, credential=credential)


def close_shared_pools() -> None:
    """Close the shared pools and forget them, so that clients built afterwards get new ones. For when no client is
    in use any more (the end of a test, an orderly shutdown)."""
    with _lock:
        roots = list(_roots.values())
        _roots.clear()
    for root in roots:
        root.close()


# idle sockets closed on the way out, not left to the garbage collector and its ResourceWarnings
atexit.register(close_shared_pools)
