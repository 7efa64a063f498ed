"""pytest fixtures for testing bots and chat code against the local emulator.

Enabled by installing ``botconnect[emulator]`` (it registers itself as a pytest plugin), or with
``-p botconnect.emulator.pytest_plugin`` / ``pytest_plugins = ["botconnect.emulator.pytest_plugin"]``.

* ``botconnect_emulator``: a fresh emulator per test, on 127.0.0.1 (a free port), with the built-in echo bot.
* ``botconnect_emulator_session``: one emulator for the whole session (``.reset()`` it where tests need a clean
  slate).
* ``botconnect_emulator_factory``: ``make(**options)`` builds and starts emulators with your options (your bot's
  URL, faults, app credentials...), all stopped at teardown. With ``app_id=``/``app_password=`` deliveries are
  signed: check them with ``BotAuthenticator(app_id, cloud=emulator.cloud)``.
* ``botconnect_emulator_with_auth``: a fresh emulator with app credentials (:data:`EMULATOR_APP_ID`,
  :data:`EMULATOR_APP_PASSWORD`): signed deliveries, and Connector calls that need a token.
* ``connector_client``, ``directline_client``, ``chat_client``: sync clients wired to ``botconnect_emulator``;
  ``aio_connector_client``, ``aio_directline_client``, ``aio_chat_client``: the ``botconnect_aio`` ones.
  Each is made for the test and closed after it. Override ``botconnect_emulator`` in a conftest (e.g. to return
  ``botconnect_emulator_session``) to wire them to another emulator.

The emulator runs on its own thread and event loop, so these fixtures are plain (sync) fixtures that work the same
under pytest-asyncio (function- or session-scoped loops), AnyIO's plugin (asyncio or trio) or no async plugin.
The async clients keep no idle connection between requests, so nothing of theirs outlives the test's event loop.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import anyio
import httpx
import pytest

if TYPE_CHECKING:
    from .server import Emulator

__all__ = [
    "EMULATOR_APP_ID",
    "EMULATOR_APP_PASSWORD",
    "aio_chat_client",
    "aio_connector_client",
    "aio_directline_client",
    "botconnect_emulator",
    "botconnect_emulator_factory",
    "botconnect_emulator_session",
    "botconnect_emulator_with_auth",
    "chat_client",
    "connector_client",
    "directline_client",
]


#: the app id and password of ``botconnect_emulator_with_auth`` (made up: the emulator is the only one that knows them)
EMULATOR_APP_ID = "00000000-0000-4000-8000-00000000b07c"
EMULATOR_APP_PASSWORD = "emulator-app-password"  # noqa: S105 - a local emulator's well-known password


def _emulator(**options: Any) -> Emulator:
    """An emulator (imported on first use: a suite that never asks for one needs no server dependencies)."""
    from botconnect.emulator import Emulator

    return Emulator(**options)


@pytest.fixture(scope="session")
def botconnect_emulator_session() -> Iterator[Emulator]:
    """One emulator for the whole test session."""
    with _emulator() as emulator:
        yield emulator


@pytest.fixture
def botconnect_emulator() -> Iterator[Emulator]:
    """A fresh emulator for this test (built-in echo bot, no faults), stopped after it."""
    with _emulator() as emulator:
        yield emulator


@pytest.fixture
def botconnect_emulator_with_auth() -> Iterator[Emulator]:
    """A fresh emulator with app credentials (``emulator.app_id`` is :data:`EMULATOR_APP_ID`), stopped after it."""
    with _emulator(app_id=EMULATOR_APP_ID, app_password=EMULATOR_APP_PASSWORD) as emulator:
        yield emulator


@pytest.fixture
def botconnect_emulator_factory() -> Iterator[Callable[..., Emulator]]:
    """``make(**options)``: start an emulator with :class:`Emulator` options; every one is stopped at teardown."""
    made: list[Emulator] = []

    def make(**options: Any) -> Emulator:
        emulator = _emulator(**options)
        made.append(emulator)
        return emulator.start()

    yield make
    for emulator in reversed(made):
        emulator.stop()


def _need_acs(emulator: Emulator) -> None:
    if emulator.acs is None:
        pytest.skip("the ACS Chat emulator (botconnect.emulator.acs) is not available")


@pytest.fixture
def connector_client(botconnect_emulator: Emulator) -> Iterator[Any]:
    """A ``botconnect.ConnectorClient`` for the emulator's serviceUrl (anonymous, as a local bot)."""
    client = botconnect_emulator.connector_client()
    yield client
    client.close()


@pytest.fixture
def directline_client(botconnect_emulator: Emulator) -> Iterator[Any]:
    """A ``botconnect.DirectLineClient`` with the emulator's secret."""
    client = botconnect_emulator.directline_client()
    yield client
    client.close()


@pytest.fixture
def chat_client(botconnect_emulator: Emulator) -> Iterator[Any]:
    """A ``botconnect.ChatClient`` with a fresh ACS user's token (skips when the ACS emulator is missing)."""
    _need_acs(botconnect_emulator)
    client = botconnect_emulator.chat_client()
    yield client
    client.close()


def _async_transport() -> httpx.AsyncHTTPTransport:
    # no idle connections: each request's socket is closed on the loop that opened it
    return httpx.AsyncHTTPTransport(limits=httpx.Limits(max_keepalive_connections=0))


def _close_async(client: Any) -> None:
    """Close an async client from sync teardown, on a loop of its own (the test's may be gone or in use)."""
    failures: list[BaseException] = []

    def run() -> None:
        try:
            anyio.run(client.close)
        except BaseException as exc:  # re-raised in the test's thread below
            failures.append(exc)

    thread = threading.Thread(target=run, name="botconnect-emulator-close", daemon=True)
    thread.start()
    thread.join(10)
    if failures:
        raise failures[0]


@pytest.fixture
def aio_connector_client(botconnect_emulator: Emulator) -> Iterator[Any]:
    """A ``botconnect_aio.ConnectorClient`` for the emulator's serviceUrl (anonymous)."""
    client = botconnect_emulator.aio_connector_client(transport=_async_transport())
    yield client
    _close_async(client)


@pytest.fixture
def aio_directline_client(botconnect_emulator: Emulator) -> Iterator[Any]:
    """A ``botconnect_aio.DirectLineClient`` with the emulator's secret."""
    client = botconnect_emulator.aio_directline_client(transport=_async_transport())
    yield client
    _close_async(client)


@pytest.fixture
def aio_chat_client(botconnect_emulator: Emulator) -> Iterator[Any]:
    """A ``botconnect_aio.ChatClient`` with a fresh ACS user's token (skips when the ACS emulator is missing)."""
    _need_acs(botconnect_emulator)
    client = botconnect_emulator.aio_chat_client(transport=_async_transport())
    yield client
    _close_async(client)
