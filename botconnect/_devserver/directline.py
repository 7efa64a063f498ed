"""The local Direct Line service, as it was before :mod:`botconnect.emulator` (a thin layer over it, kept for the
tests, samples and benchmarks written against it).

::

    from botconnect._devserver.directline import DirectLineServer, serve

    with serve(DirectLineServer()) as server:          # the emulator on 127.0.0.1, a free port
        client = DirectLineClient(secret=server.secret, endpoint=server.endpoint)

Attributes and control methods (``faults``, counters, ``bot_says``, ``drop_streams``...) are those of the
emulator's :class:`~botconnect.emulator.directline.DirectLine`; the bot is the emulator's built-in echo bot.
New code should use :class:`botconnect.emulator.Emulator` directly.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

from botconnect.emulator import Emulator
from botconnect.emulator.directline import DirectLineFaults as Faults

__all__ = ["DirectLineServer", "Faults", "echo_bot", "serve"]


def echo_bot(activity: dict[str, Any]) -> list[dict[str, Any]]:
    """What the built-in echo bot answers: ``echo: <text>`` to each message, and endOfConversation after ``bye``."""
    if activity.get("type") != "message":
        return []
    text = str(activity.get("text") or "")
    replies: list[dict[str, Any]] = [{"type": "message", "text": f"echo: {text}"}]
    if text.strip().lower() == "bye":
        replies.append({"type": "endOfConversation", "code": "completedSuccessfully"})
    return replies


class DirectLineServer:
    """An emulator seen as a Direct Line service: ``endpoint`` is set by :func:`serve`."""

    def __init__(
        self,
        *,
        secret: str = "dev-secret",  # noqa: S107 - the well-known secret of a local test server
        token_lifetime: int = 1800,
        clock: Callable[[], float] = time.monotonic,
        bot_account: dict[str, Any] | None = None,
    ) -> None:
        emulator = Emulator(
            secret=secret, token_lifetime=token_lifetime, clock=clock, keepalive_interval=None, bot_account=bot_account
        )
        object.__setattr__(self, "emulator", emulator)

    @property
    def endpoint(self) -> str:
        return "" if not self.emulator.running else self.emulator.url

    @property
    def app(self) -> Any:
        return self.emulator.app

    def __getattr__(self, name: str) -> Any:
        return getattr(self.emulator.directline, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.emulator.directline, name, value)


@contextlib.contextmanager
def serve(server: DirectLineServer, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[DirectLineServer]:
    """Serve ``server`` on ``host:port`` (a free port by default) until the block ends."""
    emulator: Emulator = server.emulator
    emulator.host, emulator.port = host, port
    with emulator:
        yield server
