"""Load: mixed operations at 200 concurrency through the async clients, on asyncio and on trio, against one
emulator over a real loopback socket: no errors, every message stored exactly once, memory flat.

The default run is 2,000 operations per backend (a 400-operation warm-up, then 1,600); ``BOTCONNECT_FULL_LOAD=1``
runs the full 10,000 (a 2,000-operation warm-up, then 8,000). Memory is the process RSS after a collection, so it
includes the emulator's own store, which grows with every message kept; the bound is generous on purpose (it
catches a leak per operation, such as unclosed responses or pooled connections piling up, not a few megabytes).
"""

from __future__ import annotations

import gc
import os
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

import botconnect
import botconnect_aio
from botconnect.emulator import Emulator
from botconnect.models import Activity, ChannelAccount, ConversationParameters

FULL = os.environ.get("BOTCONNECT_FULL_LOAD") == "1"
TOTAL = 10_000 if FULL else 2_000
WARM_UP = TOTAL // 5
CONCURRENCY = 200
CONVERSATIONS = 20
THREADS = 10
MAX_GROWTH = 30 * 1024 * 1024
KINDS = ("send", "reply", "update", "members", "paged_members", "acs_send", "acs_list")
BOT = ChannelAccount(id="bot", name="Bot")
USER = ChannelAccount(id="user-1", name="User")


def rss() -> int:
    gc.collect()
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


class Load:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.done: Counter[str] = Counter()
        self.errors: list[BaseException] = []
        self.conversations: list[str] = []
        self.seeds: list[str] = []
        self.threads: list[Any] = []
        self.sent: dict[str, set[str]] = {}  # conversation or thread id -> texts sent there
        self.memory: list[int] = []
        self.seconds = 0.0
        self.stored_chat: dict[str, list[str]] = {}
        self.members: set[str | None] = set()

    async def run(self) -> None:
        token, _ = self.emulator.issue_acs_token()
        credential = botconnect_aio.CommunicationTokenCredential(token)
        policy = botconnect.RetryPolicy(max_attempts=1)  # any failure is an error here, none is hidden by a retry
        async with (
            botconnect_aio.ConnectorClient(self.emulator.service_url, retry_policy=policy) as connector,
            botconnect_aio.ChatClient(self.emulator.url, credential, retry_policy=policy) as chat,
        ):
            for n in range(CONVERSATIONS):
                created = await connector.conversations.create_conversation(
                    ConversationParameters(bot=BOT, members=[USER])
                )
                seed = await connector.conversations.send_to_conversation(
                    created.id, Activity(type="message", text=f"seed-{n}", from_property=BOT)
                )
                self.conversations.append(created.id)
                self.seeds.append(seed.id)
                self.sent[created.id] = {f"seed-{n}"}
            self.members = {m.id for m in await connector.conversations.get_conversation_members(created.id)}
            assert USER.id in self.members
            for _ in range(THREADS):
                thread_id = (await chat.create_chat_thread("load")).chat_thread.id
                self.threads.append(chat.get_chat_thread_client(thread_id))
                self.sent[thread_id] = set()
            self.memory.append(rss())
            started = time.perf_counter()
            await self._phase(connector, range(WARM_UP))
            self.memory.append(rss())
            await self._phase(connector, range(WARM_UP, TOTAL))
            self.seconds = time.perf_counter() - started
            self.memory.append(rss())
            for thread in self.threads:
                self.stored_chat[thread.thread_id] = [
                    m.content.message async for m in thread.list_messages() if m.type == "text"
                ]

    async def _phase(self, connector: Any, indexes: range) -> None:
        pending = iter(indexes)
        limiter = anyio.CapacityLimiter(CONCURRENCY)

        async def worker() -> None:
            for i in pending:
                async with limiter:
                    try:
                        await self._one(connector, i)
                    except Exception as exc:
                        self.errors.append(exc)

        async with anyio.create_task_group() as group:
            for _ in range(CONCURRENCY):
                group.start_soon(worker)

    async def _one(self, connector: Any, i: int) -> None:
        kind = KINDS[i % len(KINDS)]
        cid = self.conversations[i % CONVERSATIONS]
        ops = connector.conversations
        if kind == "send":
            self.sent[cid].add(f"s{i}")
            await ops.send_to_conversation(cid, Activity(type="message", text=f"s{i}", from_property=BOT))
        elif kind == "reply":
            self.sent[cid].add(f"r{i}")
            reply = Activity(type="message", text=f"r{i}", from_property=BOT)
            await ops.reply_to_activity(cid, self.seeds[i % CONVERSATIONS], reply)
        elif kind == "update":
            await ops.update_activity(
                cid,
                self.seeds[i % CONVERSATIONS],
                Activity(type="message", text=f"seed-{i % CONVERSATIONS}", from_property=BOT),
            )
        elif kind == "members":
            assert {m.id for m in await ops.get_conversation_members(cid)} == self.members
        elif kind == "paged_members":
            assert {m.id async for m in ops.get_conversation_paged_members(cid, page_size=1)} == self.members
        elif kind == "acs_send":
            thread = self.threads[i % THREADS]
            self.sent[thread.thread_id].add(f"a{i}")
            await thread.send_message(f"a{i}")
        else:
            thread = self.threads[i % THREADS]
            async for _page in thread.list_messages(results_per_page=20).by_page():
                break  # the newest page only: a list call, not a scan that grows with the thread
        self.done[kind] += 1


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_mixed_operations_at_200_concurrency(emulator: Emulator, backend: str) -> None:
    load = Load(emulator)
    anyio.run(load.run, backend=backend)

    assert load.errors == []
    assert sum(load.done.values()) == TOTAL
    assert set(load.done) == set(KINDS)
    # server side: every message the clients sent is there exactly once, and nothing else
    for cid in load.conversations:
        stored = [a.get("text") for a in emulator.directline.activities(cid)]
        assert len(stored) == len(set(stored))
        assert set(stored) == load.sent[cid]
    assert set(load.stored_chat) == {t.thread_id for t in load.threads}
    for thread_id, contents in load.stored_chat.items():
        assert len(contents) == len(set(contents))
        assert set(contents) == load.sent[thread_id]
    _, warm, end = load.memory
    growth = end - warm
    print(
        f"\n[{backend}] {TOTAL} ops at {CONCURRENCY} concurrency in {load.seconds:.1f} s "
        f"({TOTAL / load.seconds:.0f} ops/s); RSS after warm-up {warm / 2**20:.1f} MiB, "
        f"growth to the end {growth / 2**20:.1f} MiB; per kind {dict(load.done)}"
    )
    assert growth < MAX_GROWTH
