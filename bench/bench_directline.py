"""6. Direct Line: activities/s received over the WebSocket stream, and post-to-receive latency p50 / p99.

The emulator is botconnect's own local Direct Line service (``botconnect._devserver.directline``: starlette and
uvicorn, echo bot) in a child process on the server CPU. Ours: ``botconnect_aio.DirectLineClient`` and an
``open_conversation()`` session (``send`` + ``activities()``). Floor: raw httpx + httpx-ws against the same emulator:
POST the conversation, connect the ``streamUrl``, POST activities, ``json.loads`` each frame.

* throughput: 8 tasks send messages concurrently; the figure is activities received per second (each message comes
  back on the stream, then the bot's echo), from the first send to the last activity received.
* latency: one message at a time; the time from calling send to receiving the bot's echo on the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, Protocol

import httpx
from _measure import Context, Row, Stat, compare

GROUP = "directline"
TITLE = "Direct Line stream: activities/s and post-to-receive latency"
SENDERS = 8
USER = "bench-user"


def unavailable() -> str | None:
    """Why this group cannot run here, or None."""
    for module in ("starlette", "uvicorn", "httpx_ws", "botconnect._devserver.directline"):
        try:
            if importlib.util.find_spec(module) is None:
                return f"{module} is not importable"
        except ImportError as exc:
            return f"{module}: {exc}"
    import botconnect_aio

    if not hasattr(botconnect_aio.DirectLineClient, "open_conversation"):
        return "DirectLineClient.open_conversation does not exist yet"
    return None


@contextlib.contextmanager
def emulator(cpu: int | None) -> Iterator[tuple[str, str, int]]:
    """The local Direct Line service in a child process; yields (endpoint, secret, pid)."""
    here = Path(__file__).resolve().parent
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(here.parent), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    command = [sys.executable, str(here / "_directline_child.py")] + ([str(cpu)] if cpu is not None else [])
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().split()
        if len(line) != 4 or line[0] != "ENDPOINT":
            raise RuntimeError(f"the Direct Line emulator did not start: {line!r}")
        yield line[1], line[3], proc.pid
    finally:
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Chat(Protocol):
    async def send(self, text: str) -> None: ...
    async def receive(self) -> tuple[str, str]:
        """The next activity on the stream: (from id, text)."""
        ...


class Ours:
    def __init__(self, conversation: Any) -> None:
        self._conversation = conversation
        self._activities = conversation.activities(timeout=30)

    async def send(self, text: str) -> None:
        await self._conversation.send(text)

    async def receive(self) -> tuple[str, str]:
        activity = await self._activities.__anext__()
        sender = activity.from_property.id if activity.from_property is not None else ""
        return sender or "", activity.text or ""


class Raw:
    """The floor: what a hand-written client does with httpx and httpx-ws."""

    def __init__(self, http: httpx.AsyncClient, ws: Any, post_url: str, token: str) -> None:
        self._http = http
        self._ws = ws
        self._post_url = post_url
        self._headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self._pending: list[dict[str, Any]] = []

    async def send(self, text: str) -> None:
        body = json.dumps({"type": "message", "from": {"id": USER}, "text": text}).encode()
        response = await self._http.post(self._post_url, content=body, headers=self._headers)
        response.raise_for_status()
        response.json()

    async def receive(self) -> tuple[str, str]:
        while not self._pending:
            frame = await asyncio.wait_for(self._ws.receive_text(), 30)
            if frame:  # empty frames are keepalives
                self._pending.extend(json.loads(frame)["activities"])
        activity = self._pending.pop(0)
        return (activity.get("from") or {}).get("id", ""), activity.get("text") or ""


@contextlib.asynccontextmanager
async def ours_chat(endpoint: str, secret: str) -> AsyncIterator[Chat]:
    import botconnect_aio

    async with (
        botconnect_aio.DirectLineClient(secret=secret, endpoint=endpoint) as client,
        client.open_conversation(user=USER, silence_timeout=None) as conversation,
    ):
        yield Ours(conversation)


@contextlib.asynccontextmanager
async def raw_chat(endpoint: str, secret: str) -> AsyncIterator[Chat]:
    from httpx_ws import aconnect_ws

    async with httpx.AsyncClient() as http:
        started = await http.post(
            f"{endpoint}/v3/directline/conversations", headers={"Authorization": f"Bearer {secret}"}
        )
        started.raise_for_status()
        body = started.json()
        post_url = f"{endpoint}/v3/directline/conversations/{body['conversationId']}/activities"
        async with aconnect_ws(body["streamUrl"], http) as ws:
            yield Raw(http, ws, post_url, body["token"])


async def ping(chat: Chat, text: str) -> float:
    """Seconds from send to the bot's echo arriving on the stream (our own message comes back first)."""
    begin = time.perf_counter()
    await chat.send(text)
    while True:
        sender, received = await chat.receive()
        if sender != USER and received == f"echo: {text}":
            return time.perf_counter() - begin


async def flood(chat: Chat, messages: int, tag: str) -> float:
    """Activities received per second while SENDERS tasks send ``messages`` messages."""
    expected = 2 * messages  # each message comes back, then its echo
    left = messages

    async def sender() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await chat.send(f"{tag} {left}")

    async def receiver() -> None:
        for _ in range(expected):
            await chat.receive()

    begin = time.perf_counter()
    await asyncio.gather(receiver(), *(sender() for _ in range(SENDERS)))
    return expected / (time.perf_counter() - begin)


def run(ctx: Context) -> list[Row]:
    reason = unavailable()
    if reason is not None:
        floor = "raw httpx + httpx-ws"
        return [Row(GROUP, "Direct Line stream", None, "activities/s", floor, None, None, note=f"not run: {reason}")]
    with emulator(ctx.server_cpu) as (endpoint, secret, pid):
        return asyncio.run(_run(ctx, endpoint, secret, pid))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (0 where /proc is not there)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _run(ctx: Context, endpoint: str, secret: str, pid: int) -> list[Row]:
    quick = ctx.settings.quick
    pings = 20 if quick else 300
    messages = 50 if quick else 1000
    rounds = ctx.settings.rounds
    latencies: dict[str, list[float]] = {"ours": [], "raw": []}
    rates = {"ours": Stat([], messages), "raw": Stat([], messages)}
    busy: dict[str, list[float]] = {"ours": [], "raw": []}  # the emulator's CPU use while flooded
    async with ours_chat(endpoint, secret) as ours, raw_chat(endpoint, secret) as raw:
        chats: dict[str, Chat] = {"ours": ours, "raw": raw}
        for chat in chats.values():  # warm up: the stream is open and every code path has run
            for i in range(10):
                await ping(chat, f"warm {i}")
            await flood(chat, 20, "warm")
        for r in range(rounds):
            order = list(chats) if r % 2 == 0 else list(reversed(chats))
            for name in order:
                latencies[name] += [await ping(chats[name], f"ping {r} {i}") for i in range(pings)]
            for name in order:
                cpu, wall = cpu_seconds(pid), time.perf_counter()
                rates[name].samples.append(await flood(chats[name], messages, f"flood {r}"))
                busy[name].append((cpu_seconds(pid) - cpu) / (time.perf_counter() - wall))

    rows = compare(
        GROUP,
        f"stream: activities received/s ({SENDERS} concurrent senders)",
        "activities/s",
        rates,
        "ours",
        [("raw", "raw httpx + httpx-ws (floor)", "")],
        f"{messages:,} messages a round, each received twice (itself, then the echo); emulator CPU busy "
        f"{statistics.median(busy['ours']):.0%} (ours) / {statistics.median(busy['raw']):.0%} (raw)",
    )
    for label, q in (("p50", 50), ("p99", 99)):
        ours_ms = percentile(latencies["ours"], q) * 1000
        raw_ms = percentile(latencies["raw"], q) * 1000
        rows.append(
            Row(
                GROUP,
                f"post-to-receive latency {label} (ms, lower is better)",
                ours_ms,
                "ms",
                "raw httpx + httpx-ws (floor)",
                raw_ms,
                ours_ms / raw_ms,
                "",
                None,
                f"{len(latencies['ours']):,} sequential pings each; send -> bot echo on the stream",
            )
        )
    return rows


def percentile(samples: list[float], q: int) -> float:
    if len(samples) < 2:
        return samples[0]
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1] if q < 100 else max(samples)
