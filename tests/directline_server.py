"""The local Direct Line service for tests: a real uvicorn server on 127.0.0.1, plus helpers to drive sessions.

The server itself (REST, WebSocket stream, echo bot, faults) is ``botconnect._devserver.directline``.
"""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from botconnect._devserver.directline import DirectLineServer, Faults, echo_bot, serve

from .harness import Env, PortalProxy

__all__ = [
    "DirectLineServer",
    "Faults",
    "_shared_dl_server",
    "FakeClock",
    "dl_server",
    "echo_bot",
    "opened",
    "serve",
    "take",
    "wait_until",
]


class FakeClock:
    """A monotonic clock that only moves when told to; share it between the server and a session."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


@pytest.fixture(scope="module")
def _shared_dl_server() -> Iterator[DirectLineServer]:
    with serve(DirectLineServer()) as server:
        yield server


@pytest.fixture
def dl_server(_shared_dl_server: DirectLineServer) -> Iterator[DirectLineServer]:
    """The local Direct Line service with the echo bot, its faults and counters reset for each test."""
    server = _shared_dl_server
    wait_until(lambda: server.open_streams == 0, "the previous test's streams to close")
    server.reset()
    yield server
    server.reset()


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Wait (polling, bounded) for something another thread does; fail with ``what`` if it never happens."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.005)


@contextmanager
def opened(env: Env, client: Any, **options: Any) -> Iterator[Any]:
    """``with`` / ``async with`` a conversation session, for any flavour.

    Private options (``_clock``, ``_max_wait``) build the session class directly. Async sessions are entered and
    left in one task, as ``async with`` does, through the portal.
    """
    raw_client = client.unwrapped if isinstance(client, PortalProxy) else client
    if any(name.startswith("_") for name in options):
        module = importlib.import_module(env.pkg.__name__ + ".directline._session")
        session = module.DirectLineConversation(raw_client, **options)
    else:
        session = raw_client.open_conversation(**options)
    if env.portal is None:
        with session as conversation:
            yield conversation
    else:
        with env.portal.wrap_async_context_manager(session) as conversation:
            yield PortalProxy(conversation, env.portal)


def take(conversation: Any, count: int, timeout: float = 10.0) -> list[Any]:
    """The next ``count`` activities (each wait bounded by ``timeout``)."""
    iterator = conversation.activities(timeout=timeout)
    return [next(iterator) for _ in range(count)]
