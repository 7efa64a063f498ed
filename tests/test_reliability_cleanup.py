"""Nothing left running: after ``close()`` / leaving ``with`` / ``async with``, and after a cancel scope is cancelled
in the middle of a call, there are no new threads, no open sockets to the emulator and no tasks left on the event
loop (asyncio: ``asyncio.all_tasks()``; trio: the task tree under the root task).

Sockets are counted from /proc: this process's socket file descriptors whose TCP peer is the emulator's port and
whose local address is 127.0.0.2. The clients under test connect from that address (``transport=`` an httpx transport
with ``local_address``; the client owns and closes it like its default one), which tells their sockets apart from the
emulator's own (its built-in echo bot is a client of the same port, in the same process).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest

import botconnect
import botconnect_aio
from botconnect.emulator import Emulator
from botconnect.models import Activity, ChannelAccount, ConversationParameters

USER = ChannelAccount(id="user-1")
BACKENDS = ["asyncio", "trio"]

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts sockets through /proc")


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(keepalive_interval=0.2) as emulator:
        yield emulator


@pytest.fixture(autouse=True)
def no_faults(emulator: Emulator) -> Iterator[None]:
    emulator.faults.clear()
    yield
    emulator.faults.clear()


def _port(emulator: Emulator) -> int:
    return int(emulator.url.rsplit(":", 1)[1])


CLIENT_ADDRESS = "127.0.0.2"
_CLIENT_HEX = "0200007F"  # 127.0.0.2 as /proc/net/tcp shows it


def sync_transport() -> httpx.HTTPTransport:
    return httpx.HTTPTransport(local_address=CLIENT_ADDRESS)


def async_transport() -> httpx.AsyncHTTPTransport:
    return httpx.AsyncHTTPTransport(local_address=CLIENT_ADDRESS)


def sockets_to(port: int) -> int:
    """This process's open TCP sockets from CLIENT_ADDRESS to ``port`` (the clients' side of their connections)."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    with open("/proc/net/tcp") as lines:
        rows = lines.read().splitlines()[1:]
    for row in rows:
        fields = row.split()
        local_host = fields[1].split(":")[0]
        remote_port = int(fields[2].rsplit(":", 1)[1], 16)
        if local_host == _CLIENT_HEX and remote_port == port and fields[9] in inodes:
            count += 1
    return count


def wait_until(condition: Callable[[], bool], what: str, limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.01)


def thread_names() -> set[str]:
    return {t.name for t in threading.enumerate()}


async def live_tasks() -> int:
    """Tasks on this event loop other than the caller's (asyncio), or all tasks below the root task (trio)."""
    import sniffio

    if sniffio.current_async_library() == "asyncio":
        return len(asyncio.all_tasks() - {asyncio.current_task()})
    import trio

    def count(task: trio.lowlevel.Task) -> int:
        return 1 + sum(count(child) for nursery in task.child_nurseries for child in nursery.child_tasks)

    return count(trio.lowlevel.current_root_task()) - 1


async def settle() -> None:
    for _ in range(20):
        await anyio.lowlevel.checkpoint()


def run_checked(backend: str, emulator: Emulator, body: Callable[[], Awaitable[Any]]) -> Any:
    """Run ``body`` on ``backend``; afterwards no task it started is alive, and no socket to the emulator is open."""
    threads = thread_names()

    async def main() -> Any:
        before = await live_tasks()
        result = await body()
        await settle()
        assert await live_tasks() == before, "tasks left running"
        assert sockets_to(_port(emulator)) == 0, "sockets left open"
        return result

    result = anyio.run(main, backend=backend)
    wait_until(lambda: thread_names() <= threads, f"threads to end: {thread_names() - threads}")
    return result


# -- close() and leaving the block ------------------------------------------------------------------------------


def test_sync_clients_leave_no_socket_or_thread(emulator: Emulator) -> None:
    threads = thread_names()
    port = _port(emulator)
    token, _ = emulator.issue_acs_token()
    with botconnect.ConnectorClient(emulator.service_url, transport=sync_transport()) as connector:
        cid = connector.conversations.create_conversation(ConversationParameters(members=[USER])).id
        connector.conversations.send_to_conversation(cid, Activity(type="message", text="x"))
        assert sockets_to(port) >= 1  # the counter sees a pooled connection while the client is open
    credential = botconnect.CommunicationTokenCredential(
        emulator.issue_acs_token(lifetime=60)[0], token_refresher=lambda: token, proactive_refresh=True
    )
    with credential, botconnect.ChatClient(emulator.url, credential, transport=sync_transport()) as chat:
        chat.create_chat_thread("t")
        assert thread_names() - threads  # the proactive refresh timer is running
    client = emulator.directline_client(transport=sync_transport())
    with client, client.open_conversation(user="user-1") as conv:
        conv.send("x")
        activities = conv.activities(timeout=10)
        next(activities), next(activities)
        assert emulator.directline.open_streams == 1
    assert sockets_to(port) == 0
    wait_until(lambda: emulator.directline.open_streams == 0, "the stream to close")
    wait_until(lambda: thread_names() <= threads, "threads to end")


@pytest.mark.parametrize("backend", BACKENDS)
def test_async_connector_client(emulator: Emulator, backend: str) -> None:
    async def body() -> None:
        async with botconnect_aio.ConnectorClient(emulator.service_url, transport=async_transport()) as client:
            cid = (await client.conversations.create_conversation(ConversationParameters(members=[USER]))).id
            await client.conversations.send_to_conversation(cid, Activity(type="message", text="x"))
            assert [m.id async for m in client.conversations.get_conversation_paged_members(cid, page_size=1)]
            assert sockets_to(_port(emulator)) >= 1

    run_checked(backend, emulator, body)


@pytest.mark.parametrize("backend", BACKENDS)
def test_async_directline_streaming_session(emulator: Emulator, backend: str) -> None:
    async def body() -> None:
        async with emulator.aio_directline_client(transport=async_transport()) as client:
            before = await live_tasks()
            async with client.open_conversation(user="user-1") as conv:
                await conv.send("x")
                got = []
                async for activity in conv.activities():
                    got.append(activity.text)
                    if len(got) == 2:
                        break
                assert await live_tasks() > before  # the session's receiver is running while open
                assert emulator.directline.open_streams == 1
            assert got == ["x", "echo: x"]

    run_checked(backend, emulator, body)
    wait_until(lambda: emulator.directline.open_streams == 0, "the stream to close")


@pytest.mark.parametrize("backend", BACKENDS)
def test_async_chat_client_with_proactive_refresh(emulator: Emulator, backend: str) -> None:
    token, _ = emulator.issue_acs_token()

    async def body() -> None:
        credential = botconnect_aio.CommunicationTokenCredential(
            emulator.issue_acs_token(lifetime=60)[0], token_refresher=lambda: token, proactive_refresh=True
        )
        before = await live_tasks()
        async with botconnect_aio.ChatClient(emulator.url, credential, transport=async_transport()) as chat:
            assert await live_tasks() > before  # the background refresh task
            thread = chat.get_chat_thread_client((await chat.create_chat_thread("t")).chat_thread.id)
            await thread.send_message("hi")

    run_checked(backend, emulator, body)


# -- cancellation -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_cancelled_in_the_middle_of_paging(emulator: Emulator, backend: str) -> None:
    with botconnect.ConnectorClient(emulator.service_url) as setup:
        members = [ChannelAccount(id=f"m{n}") for n in range(10)]
        cid = setup.conversations.create_conversation(ConversationParameters(members=members)).id

    async def body() -> list[Any]:
        seen: list[Any] = []
        async with botconnect_aio.ConnectorClient(emulator.service_url, transport=async_transport()) as client:
            with anyio.CancelScope() as scope:
                async for member in client.conversations.get_conversation_paged_members(cid, page_size=2):
                    seen.append(member.id)
                    if len(seen) == 3:  # in the middle of the second page
                        scope.cancel()
                        await anyio.sleep(1)  # a checkpoint: the cancellation lands here
            assert scope.cancelled_caught
        return seen

    assert len(run_checked(backend, emulator, body)) == 3


@pytest.mark.parametrize("backend", BACKENDS)
def test_cancelled_activities_loop(emulator: Emulator, backend: str) -> None:
    async def body() -> Any:
        async with emulator.aio_directline_client(transport=async_transport()) as client:
            with anyio.move_on_after(1.0) as scope:  # nothing more arrives: the loop is waiting when cancelled
                async with client.open_conversation(user="user-1") as conv:
                    await conv.send("x")
                    async for _ in conv.activities():
                        pass
            assert scope.cancelled_caught
            return conv.status

    status = run_checked(backend, emulator, body)
    assert status is botconnect.ConnectionStatus.ENDED
    wait_until(lambda: emulator.directline.open_streams == 0, "the stream to close")


@pytest.mark.parametrize("backend", BACKENDS)
def test_cancelled_slow_send(emulator: Emulator, backend: str) -> None:
    async def body() -> None:
        async with botconnect_aio.ConnectorClient(emulator.service_url, transport=async_transport()) as client:
            cid = (await client.conversations.create_conversation(ConversationParameters(members=[USER]))).id
            emulator.faults.add("latency", f"/v3/conversations/{cid}/activities", delay=2.0)
            with anyio.move_on_after(0.2) as scope:
                await client.conversations.send_to_conversation(cid, Activity(type="message", text="slow"))
            assert scope.cancelled_caught

    run_checked(backend, emulator, body)
