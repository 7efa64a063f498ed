"""A client per incoming message costs nothing: clients share the process's connection pool (issue 16).

What a bot does on every activity: ``with ConnectorClient(activity.service_url, credentials) as client`` (or
``async with``), one or two calls, leave the block. Proved at the wire: the loopback server counts the TCP
connections it accepted and sees when the client closes one; the emulator's token endpoint counts the tokens it
issued. Async pools are per event loop (asyncio, trio, a loop per thread, a loop per test) and close with their
loop.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
import trio

import botconnect
import botconnect_aio
from botconnect._shared_pool import close_shared_pools
from botconnect._transport import HTTP11Transport
from botconnect.emulator import Emulator
from botconnect.errors import ClientClosedError
from botconnect.models import Activity, ChannelAccount, ConversationParameters

from .rawhttp import SOCKET_TIMEOUT, Peer, RawServer, Received, response

BACKENDS = ("asyncio", "trio")
APP_ID = "app-16"
APP_PASSWORD = "pa55-word-16"


@pytest.fixture(autouse=True)
def own_pools(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    close_shared_pools()  # connections other tests left idle are not this test's to count
    yield
    close_shared_pools()


def _answer(peer: Peer) -> None:
    def created(request: Received) -> bytes:
        body = json.dumps({"id": f"activity-{len(peer.server.requests)}"}).encode()
        return response(201, body, "Content-Type: application/json")

    peer.serve(created)


def _message(text: str) -> Activity:
    return Activity(type="message", text=text)


def _texts(server: RawServer) -> list[str]:
    assert all(r.method == b"POST" and r.target == b"/v3/conversations/conv-1/activities" for r in server.requests)
    return [json.loads(r.body)["text"] for r in server.requests]


def _closed_by_client(peer: Peer) -> bool:
    return peer.eof.wait(SOCKET_TIMEOUT)


async def _per_message(url: str, texts: list[str]) -> list[str]:
    ids = []
    for text in texts:
        async with botconnect_aio.ConnectorClient(url) as client:
            ids.append((await client.conversations.send_to_conversation("conv-1", _message(text))).id)
    return ids


# -- connections ------------------------------------------------------------------------------------------------


def test_sync_clients_per_message_share_one_connection() -> None:
    with RawServer(_answer) as server:
        ids = []
        for n in range(20):
            with botconnect.ConnectorClient(server.url) as client:
                ids.append(client.conversations.send_to_conversation("conv-1", _message(str(n))).id)
        assert ids == [f"activity-{n}" for n in range(1, 21)]
        assert _texts(server) == [str(n) for n in range(20)]
        assert server.accepted == 1
        assert not server.peers[0].eof.is_set()  # leaving each block closed the client, not the pool
        close_shared_pools()
        assert _closed_by_client(server.peers[0])


@pytest.mark.parametrize("backend", BACKENDS)
def test_async_clients_per_message_share_one_connection_closed_with_the_loop(backend: str) -> None:
    with RawServer(_answer) as server:
        texts = [str(n) for n in range(20)]
        ids = anyio.run(_per_message, server.url, texts, backend=backend)
        assert ids == [f"activity-{n}" for n in range(1, 21)]
        assert _texts(server) == texts
        assert server.accepted == 1
        assert _closed_by_client(server.peers[0])  # the loop's end closed its pool


def test_sync_closing_one_client_leaves_the_others_working() -> None:
    with RawServer(_answer) as server:
        first, second = botconnect.ConnectorClient(server.url), botconnect.ConnectorClient(server.url)
        first.conversations.send_to_conversation("conv-1", _message("a"))
        first.close()
        with pytest.raises(ClientClosedError):
            first.conversations.send_to_conversation("conv-1", _message("never sent"))
        assert second.conversations.send_to_conversation("conv-1", _message("b")).id == "activity-2"
        second.close()
        assert _texts(server) == ["a", "b"]
        assert server.accepted == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_async_closing_one_client_leaves_the_others_working(backend: str) -> None:
    async def main(url: str) -> str | None:
        first, second = botconnect_aio.ConnectorClient(url), botconnect_aio.ConnectorClient(url)
        await first.conversations.send_to_conversation("conv-1", _message("a"))
        await first.close()
        with pytest.raises(ClientClosedError):
            await first.conversations.send_to_conversation("conv-1", _message("never sent"))
        async with second:
            return (await second.conversations.send_to_conversation("conv-1", _message("b"))).id

    with RawServer(_answer) as server:
        assert anyio.run(main, server.url, backend=backend) == "activity-2"
        assert _texts(server) == ["a", "b"]
        assert server.accepted == 1


def test_a_client_with_its_own_transport_closes_its_own_pool() -> None:
    with RawServer(_answer) as server:
        with botconnect.ConnectorClient(server.url, transport=HTTP11Transport()) as client:
            client.conversations.send_to_conversation("conv-1", _message("a"))
        assert _closed_by_client(server.peers[0])


# -- event loops ------------------------------------------------------------------------------------------------


def test_a_client_built_outside_any_loop_gets_each_loops_own_connection() -> None:
    with RawServer(_answer) as server:
        client = botconnect_aio.ConnectorClient(server.url)  # at import time, in a sync constructor...

        async def send(*texts: str) -> None:
            for text in texts:
                await client.conversations.send_to_conversation("conv-1", _message(text))

        asyncio.run(send("a", "b"))  # pytest-asyncio's loop per test is the same story
        assert server.accepted == 1
        assert _closed_by_client(server.peers[0])
        asyncio.run(send("c", "d"))
        assert server.accepted == 2  # nothing of the finished loop is reused
        assert _closed_by_client(server.peers[1])
        trio.run(send, "e", "f")
        assert server.accepted == 3
        assert _closed_by_client(server.peers[2])
        asyncio.run(client.close())
        assert _texts(server) == ["a", "b", "c", "d", "e", "f"]


def test_a_runner_per_test_as_pytest_asyncio_and_unittest_use_closes_its_pool_with_it() -> None:
    with RawServer(_answer) as server:
        for n in range(3):  # a loop per test: each Runner's loop gets a connection and closes it at its end
            with asyncio.Runner() as runner:
                runner.run(_per_message(server.url, [f"{n}-a", f"{n}-b"]))
            assert server.accepted == n + 1
            assert _closed_by_client(server.peers[n])
        assert _texts(server) == [f"{n}-{x}" for n in range(3) for x in "ab"]


def test_a_loop_closed_without_shutting_down_has_its_sockets_closed_by_the_next_loop() -> None:
    with RawServer(_answer) as server:
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(_per_message(server.url, ["a"]))
        finally:
            loop.close()  # no shutdown_asyncgens(): nothing told the pool its loop ended
        assert not server.peers[0].eof.is_set()
        asyncio.run(_per_message(server.url, ["b"]))
        assert _closed_by_client(server.peers[0])
        assert server.accepted == 2
        assert _texts(server) == ["a", "b"]


def test_loops_in_threads_keep_their_pools_apart() -> None:
    errors: list[BaseException] = []
    results: dict[int, list[str]] = {}

    def worker(index: int, url: str) -> None:
        try:
            results[index] = asyncio.run(_per_message(url, [f"{index}-{n}" for n in range(10)]))
        except BaseException as exc:  # reported below
            errors.append(exc)

    with RawServer(_answer) as server:
        threads = [threading.Thread(target=worker, args=(i, server.url)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(SOCKET_TIMEOUT * 2)
        assert not errors
        assert sorted(_texts(server)) == sorted(f"{i}-{n}" for i in range(2) for n in range(10))
        assert sorted(id_ for ids in results.values() for id_ in ids) == sorted(f"activity-{n}" for n in range(1, 21))
        assert server.accepted == 2  # one connection per loop, each used by its own loop only
        assert all(_closed_by_client(peer) for peer in server.peers)


# -- the app token ----------------------------------------------------------------------------------------------


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Emulator, list[str]]]:
    """An emulator that requires app credentials, and the scopes of every token its token endpoint issued."""
    with Emulator(app_id=APP_ID, app_password=APP_PASSWORD) as emulator:
        issued: list[str] = []
        issue = emulator.app.auth.issue

        def counting_issue(audience: str, client_id: str | None = None) -> Any:
            issued.append(audience)
            return issue(audience, client_id)

        monkeypatch.setattr(emulator.app.auth, "issue", counting_issue)
        yield emulator, issued


def _stored_texts(emulator: Emulator, conversation: str) -> list[str]:
    return [a["text"] for a in emulator.store.conversations[conversation].activities if a.get("text")]


def test_sync_clients_per_message_reuse_the_app_token(emulator: tuple[Emulator, list[str]]) -> None:
    local, issued = emulator
    with botconnect.MicrosoftAppCredentials(APP_ID, APP_PASSWORD, oauth_endpoint=local.url) as credentials:
        with botconnect.ConnectorClient(local.service_url, credentials) as client:
            params = ConversationParameters(members=[ChannelAccount(id="user-1")])
            conversation = client.conversations.create_conversation(params).id
        for n in range(10):
            with botconnect.ConnectorClient(local.service_url, credentials) as client:
                client.conversations.send_to_conversation(conversation, _message(str(n)))
    assert issued == ["https://api.botframework.com"]  # one token for 11 clients
    assert _stored_texts(local, conversation) == [str(n) for n in range(10)]


def test_async_clients_per_message_reuse_the_app_token_across_loops(emulator: tuple[Emulator, list[str]]) -> None:
    local, issued = emulator
    credentials = botconnect_aio.MicrosoftAppCredentials(APP_ID, APP_PASSWORD, oauth_endpoint=local.url)

    async def create() -> str:
        async with botconnect_aio.ConnectorClient(local.service_url, credentials) as client:
            params = ConversationParameters(members=[ChannelAccount(id="user-1")])
            conversation = (await client.conversations.create_conversation(params)).id
        assert conversation is not None
        return conversation

    async def messages(conversation: str, *texts: str) -> None:
        for text in texts:
            async with botconnect_aio.ConnectorClient(local.service_url, credentials) as client:
                await client.conversations.send_to_conversation(conversation, _message(text))

    conversation = asyncio.run(create())
    asyncio.run(messages(conversation, "a", "b", "c"))
    trio.run(messages, conversation, "d", "e")
    asyncio.run(credentials.close())
    assert issued == ["https://api.botframework.com"]  # one token for 6 clients on 3 loops
    assert _stored_texts(local, conversation) == ["a", "b", "c", "d", "e"]
