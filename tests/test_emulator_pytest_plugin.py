"""The pytest plugin as a user meets it: a small suite of their own, run by pytest in a subprocess, with the fixtures
under pytest-asyncio (function- and session-scoped loops), under AnyIO's plugin (asyncio and trio) and with no async
plugin at all; warnings are errors in that suite, so anything a fixture leaves open fails it."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = "botconnect.emulator.pytest_plugin"

CONFTEST = """
import pytest

@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request):
    return request.param
"""

SYNC_SUITE = """
from botconnect.models import Activity, ChannelAccount

USER = ChannelAccount(id="user-1")


def test_sync_clients_share_the_emulator(botconnect_emulator, directline_client, connector_client):
    cid = directline_client.conversations.start_conversation().conversation_id
    directline_client.conversations.post_activity(cid, Activity(type="message", text="hi", from_property=USER))
    assert [a.text for a in directline_client.conversations.get_activities(cid).activities] == ["hi", "echo: hi"]
    members = connector_client.conversations.get_conversation_members(cid)
    assert [m.id for m in members] == ["echo-bot", "user-1"]
    assert connector_client.service_url == botconnect_emulator.service_url


def test_a_fresh_emulator_per_test(botconnect_emulator):
    assert botconnect_emulator.store.conversations == {}


def test_the_factory_takes_options(botconnect_emulator_factory):
    emulator = botconnect_emulator_factory(secret="my-secret", token_lifetime=60)
    with emulator.directline_client() as client:
        assert client.conversations.start_conversation().expires_in == 60
    assert emulator.secret == "my-secret"


SEEN = []


def test_the_session_emulator_is_shared_1(botconnect_emulator_session):
    SEEN.append(botconnect_emulator_session.url)


def test_the_session_emulator_is_shared_2(botconnect_emulator_session):
    assert SEEN == [botconnect_emulator_session.url]
"""

ASYNCIO_SUITE = """
import pytest
from botconnect.models import Activity, ChannelAccount

USER = ChannelAccount(id="user-1")


async def converse(client, text):
    async with client.open_conversation(user="user-1") as conversation:  # the WebSocket stream, real sockets
        await conversation.send(text)
        activities = conversation.activities(timeout=10)
        return [(await activities.__anext__()).text for _ in range(2)]


@pytest.mark.asyncio
async def test_function_loop(aio_directline_client):
    assert await converse(aio_directline_client, "fn") == ["fn", "echo: fn"]


@pytest.mark.asyncio(loop_scope="session")
async def test_session_loop_1(aio_directline_client, aio_connector_client):
    assert await converse(aio_directline_client, "one") == ["one", "echo: one"]
    conversations = [c async for c in aio_connector_client.conversations.get_conversations()]
    assert len(conversations) == 1


@pytest.mark.asyncio(loop_scope="session")
async def test_session_loop_2(aio_directline_client):
    assert await converse(aio_directline_client, "two") == ["two", "echo: two"]
"""

ANYIO_SUITE = """
import pytest


@pytest.mark.anyio
async def test_anyio_backends(aio_directline_client, aio_connector_client, anyio_backend):
    started = await aio_directline_client.conversations.start_conversation()
    async with aio_directline_client.open_conversation(conversation_id=started.conversation_id, user="u") as conv:
        await conv.send(anyio_backend)
        activities = conv.activities(timeout=10)
        texts = [(await activities.__anext__()).text for _ in range(2)]
    assert texts == [anyio_backend, "echo: " + anyio_backend]
    members = await aio_connector_client.conversations.get_conversation_members(started.conversation_id)
    assert [m.id for m in members] == ["echo-bot", "u"]
"""

CHAT_SUITE = """
import pytest


def test_sync_chat(chat_client):
    created = chat_client.create_chat_thread("from the fixture")
    assert created.chat_thread.topic == "from the fixture"


@pytest.mark.anyio
async def test_async_chat(aio_chat_client):
    created = await aio_chat_client.create_chat_thread("async fixture")
    assert created.chat_thread.topic == "async fixture"
"""


def _plugin_args() -> list[str]:
    """``-p`` the plugin unless an installed botconnect already registers it (pytest11 entry point); leave out
    the heavy plugins this project's own tests use (schemathesis, hypothesis), which a user's suite may not."""
    registered = {e.value for e in importlib.metadata.entry_points(group="pytest11")}
    return ([] if PLUGIN in registered else ["-p", PLUGIN]) + ["-p", "no:schemathesis", "-p", "no:hypothesispytest"]


def _environment(monkeypatch: pytest.MonkeyPatch, *extra: str) -> None:
    paths = [str(ROOT), *extra, os.environ.get("PYTHONPATH", "")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in paths if p))


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST)
    _environment(monkeypatch)
    return pytester


def _strict_ini(suite: pytest.Pytester, *, pytest_asyncio: bool) -> None:
    """Warnings are errors (an unclosed socket fails the suite); pytest-asyncio's loop scope set when it runs."""
    scope = "asyncio_default_fixture_loop_scope = function\n" if pytest_asyncio else ""
    suite.makeini("[pytest]\nfilterwarnings = error\n" + scope)


def test_sync_fixtures_without_any_async_plugin(suite: pytest.Pytester) -> None:
    _strict_ini(suite, pytest_asyncio=False)
    suite.makepyfile(test_sync_suite=SYNC_SUITE)
    result = suite.runpytest_subprocess(*_plugin_args(), "-p", "no:asyncio", "-p", "no:anyio", "-q")
    result.assert_outcomes(passed=5)


def test_async_fixtures_under_pytest_asyncio(suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest_asyncio = pytest.importorskip("pytest_asyncio")
    _environment(monkeypatch, str(Path(pytest_asyncio.__file__).resolve().parents[1]))
    _strict_ini(suite, pytest_asyncio=True)
    suite.makepyfile(test_asyncio_suite=ASYNCIO_SUITE)
    result = suite.runpytest_subprocess(*_plugin_args(), "-p", "no:anyio", "-q")
    result.assert_outcomes(passed=3)


def test_async_fixtures_under_anyio_on_asyncio_and_trio(suite: pytest.Pytester) -> None:
    _strict_ini(suite, pytest_asyncio=False)
    suite.makepyfile(test_anyio_suite=ANYIO_SUITE)
    result = suite.runpytest_subprocess(*_plugin_args(), "-p", "anyio", "-p", "no:asyncio", "-q")
    result.assert_outcomes(passed=2)


def test_both_async_plugins_at_once(suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest_asyncio = pytest.importorskip("pytest_asyncio")
    _environment(monkeypatch, str(Path(pytest_asyncio.__file__).resolve().parents[1]))
    _strict_ini(suite, pytest_asyncio=True)
    suite.makepyfile(test_asyncio_suite=ASYNCIO_SUITE, test_anyio_suite=ANYIO_SUITE, test_sync_suite=SYNC_SUITE)
    result = suite.runpytest_subprocess(*_plugin_args(), "-p", "anyio", "-q")
    result.assert_outcomes(passed=10)


def test_chat_fixtures(suite: pytest.Pytester) -> None:
    pytest.importorskip("botconnect.emulator.acs")
    _strict_ini(suite, pytest_asyncio=False)
    suite.makepyfile(test_chat_suite=CHAT_SUITE)
    result = suite.runpytest_subprocess(*_plugin_args(), "-p", "anyio", "-p", "no:asyncio", "-q")
    result.assert_outcomes(passed=3)


def test_the_plugin_loads_where_the_server_extra_is_missing() -> None:
    """pytest loads the plugin for everyone who installs botconnect: without starlette/uvicorn it must still import,
    and asking for an emulator must say what to install."""
    code = (
        "import sys; sys.modules['starlette'] = None; sys.modules['uvicorn'] = None\n"
        "import botconnect.emulator.pytest_plugin\n"
        "assert 'botconnect.emulator.server' not in sys.modules\n"
        "try:\n"
        "    from botconnect.emulator import Emulator\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert "pip install 'botconnect[emulator]'" in result.stdout
