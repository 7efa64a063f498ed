"""8. Client construction, and the README's pattern (a client per incoming message) vs one long-lived client.

``construct``: ``ConnectorClient(service_url)`` then ``close()``, after the first (which builds the process's shared
SSL context and pool); the figure is microseconds per client, beside what one ``send_to_conversation`` costs on a
long-lived client.

``per message``: what a bot does for each incoming activity, ``with ConnectorClient(service_url) as client`` (or
``async with``) and one reply, vs the same replies through one long-lived client; calls/s, the ratio is
per-message / long-lived (the target, 0.91x of the rate, is "within 1.1x of the cost"). Bursts of 20 and of 100
messages in a row; async also 100 messages at once (each in its own task, as a web server runs handlers). Clients
given no ``transport`` share the process's pool (async: the running loop's), so a client per message reuses the
connections. The ``own pool`` rows pass ``transport=`` (a pool per client): what the pattern cost before the pools
were shared (a TCP connection per message here; over https a TLS handshake too, not measured on loopback).
Anonymous calls, as in every group: the token a credential caches is shared the same way (tests prove it).
"""

from __future__ import annotations

import asyncio

from _fixtures import CONVERSATION_ID, OUTGOING_ACTIVITY
from _measure import AsyncCase, Context, Row, Stat, SyncCase, compare, measure, measure_async, paired_ratio

import botconnect
import botconnect_aio
from botconnect.models import Activity

GROUP = "construct"
TITLE = "client construction, per-message clients vs a long-lived client"
TARGET = ">= 0.91x"
NOTE = "0.91x of the rate = within 1.1x of the cost"


def run(ctx: Context) -> list[Row]:
    activity = Activity.from_dict(OUTGOING_ACTIVITY)
    sync_stats = _measure_sync(ctx, activity)
    async_stats = asyncio.run(_measure_async(ctx, activity))
    rows = [_construct_row("sync", sync_stats[1]), _construct_row("async", async_stats[1])]
    for flavour, stats in (("sync", sync_stats), ("async", async_stats)):
        opener = "with" if flavour == "sync" else "async with"
        for burst in (20, 100):
            rows += compare(
                GROUP,
                f"{burst} messages in a row, {flavour}: {opener} ConnectorClient(url) + one send each",
                "calls/s",
                stats[burst],
                "per_message",
                [("long_lived", f"one long-lived client, the same {burst} sends", TARGET)],
                NOTE,
            )
        rows += compare(
            GROUP,
            f"20 messages in a row, {flavour}: a client with its own pool per message (transport=)",
            "calls/s",
            stats[20],
            "own_pool",
            [("long_lived", "one long-lived client, the same 20 sends", "")],
            "what the pattern cost before clients shared the pool",
        )
    rows += compare(
        GROUP,
        "100 messages at once, async: a task each, async with ConnectorClient(url) + one send",
        "calls/s",
        async_stats[0],
        "per_message",
        [("long_lived", "one long-lived client, the same 100 concurrent sends", TARGET)],
        NOTE,
    )
    return rows


def _construct_row(flavour: str, stats: dict[str, Stat]) -> Row:
    construct, send = stats["construct"], stats["send"]
    us = 1e6 / construct.median
    send_us = 1e6 / send.median
    return Row(
        GROUP,
        f"construct + close a ConnectorClient, {flavour} (after the first)",
        us,
        "us",
        "one send_to_conversation on a long-lived client",
        send_us,
        1 / paired_ratio(construct, send),  # cost of a construction in sends (lower is better)
        "<= 1000 us",
        us <= 1000,
        "the ratio is construction cost / send cost; the target (1 ms) is the absolute figure",
    )


def _measure_sync(ctx: Context, activity: Activity) -> dict[int, dict[str, Stat]]:
    base = ctx.base
    botconnect.ConnectorClient(base).close()  # the first builds the shared SSL context and pool
    results: dict[int, dict[str, Stat]] = {}
    with botconnect.ConnectorClient(base) as long_lived:
        send = long_lived.conversations.send_to_conversation
        send(CONVERSATION_ID, activity)

        def construct(n: int) -> None:
            for _ in range(n):
                botconnect.ConnectorClient(base).close()

        def sends(n: int) -> None:
            for _ in range(n):
                send(CONVERSATION_ID, activity)

        results[1] = measure({"construct": construct, "send": sends}, ctx.settings)
        for burst in (20, 100):

            def per_message(n: int, burst: int = burst) -> None:
                for _ in range(n * burst):
                    with botconnect.ConnectorClient(base) as client:
                        client.conversations.send_to_conversation(CONVERSATION_ID, activity)

            def own_pool(n: int, burst: int = burst) -> None:
                for _ in range(n * burst):
                    with botconnect.ConnectorClient(base, transport=botconnect.HTTP11Transport()) as client:
                        client.conversations.send_to_conversation(CONVERSATION_ID, activity)

            def long_lived_burst(n: int, burst: int = burst) -> None:
                sends(n * burst)

            cases: dict[str, SyncCase] = {"per_message": per_message, "long_lived": long_lived_burst}
            if burst == 20:
                cases["own_pool"] = own_pool
            results[burst] = measure(cases, ctx.settings, items_per_op=burst)
    return results


async def _measure_async(ctx: Context, activity: Activity) -> dict[int, dict[str, Stat]]:
    base = ctx.base
    await botconnect_aio.ConnectorClient(base).close()
    results: dict[int, dict[str, Stat]] = {}
    async with botconnect_aio.ConnectorClient(base) as long_lived:
        send = long_lived.conversations.send_to_conversation
        await send(CONVERSATION_ID, activity)

        async def construct(n: int) -> None:
            for _ in range(n):
                await botconnect_aio.ConnectorClient(base).close()

        async def sends(n: int) -> None:
            for _ in range(n):
                await send(CONVERSATION_ID, activity)

        async def one_message() -> None:
            async with botconnect_aio.ConnectorClient(base) as client:
                await client.conversations.send_to_conversation(CONVERSATION_ID, activity)

        results[1] = await measure_async({"construct": construct, "send": sends}, ctx.settings)
        for burst in (20, 100):

            async def per_message(n: int, burst: int = burst) -> None:
                for _ in range(n * burst):
                    await one_message()

            async def own_pool(n: int, burst: int = burst) -> None:
                for _ in range(n * burst):
                    transport = botconnect_aio.AsyncHTTP11Transport()
                    async with botconnect_aio.ConnectorClient(base, transport=transport) as client:
                        await client.conversations.send_to_conversation(CONVERSATION_ID, activity)

            async def long_lived_burst(n: int, burst: int = burst) -> None:
                await sends(n * burst)

            cases: dict[str, AsyncCase] = {"per_message": per_message, "long_lived": long_lived_burst}
            if burst == 20:
                cases["own_pool"] = own_pool
            results[burst] = await measure_async(cases, ctx.settings, items_per_op=burst)

        async def concurrent_per_message(n: int) -> None:
            for _ in range(n):
                await asyncio.gather(*(one_message() for _ in range(100)))

        async def concurrent_long_lived(n: int) -> None:
            for _ in range(n):
                await asyncio.gather(*(send(CONVERSATION_ID, activity) for _ in range(100)))

        concurrent: dict[str, AsyncCase] = {"per_message": concurrent_per_message, "long_lived": concurrent_long_lived}
        results[0] = await measure_async(concurrent, ctx.settings, items_per_op=100)
    return results
