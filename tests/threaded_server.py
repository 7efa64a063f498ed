"""An ASGI app served by uvicorn on 127.0.0.1 in a thread, for tests that need a real socket (a bot the emulator
delivers to, a page a browser loads), and an emulator wired to such a bot."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from botconnect.emulator import Emulator


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 (a free port) in a thread; yields its base URL; stops it afterwards."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive(), "the server did not start"
        assert time.monotonic() < deadline, "the server did not start in time"
        time.sleep(0.005)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def emulator_for_bot(app: Any, **options: Any) -> Iterator[Emulator]:
    """An emulator delivering to ``app``'s ``/api/messages``, served as :func:`serving` does; both stop after."""
    with serving(app) as url, Emulator(bot=url + "/api/messages", **options) as emulator:
        yield emulator
