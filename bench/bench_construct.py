"""8. Client construction, and a client per incoming message vs one long-lived client, sync and async.

``construct``: ``ConnectorClient(service_url)`` then ``close()``, after the first (which builds the process's shared
SSL context); the figure is milliseconds per client, beside what one ``send_to_conversation`` costs on a
long-lived client. ``per message``: a bot that opens ``with ConnectorClient(...)`` for every incoming message and
sends one reply, vs the same reply through one long-lived client; calls/s, the ratio is per-message / long-lived.
On loopback http a new client costs a new TCP connection; over https it also costs a TLS handshake (not measured
here), which is why the README recommends a long-lived client per service URL.
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


def run(ctx: Context) -> list[Row]:
    activity = Activity.from_dict(OUTGOING_ACTIVITY)
    botconnect.ConnectorClient(ctx.base).close()  # the first builds the shared SSL context

    with botconnect.ConnectorClient(ctx.base) as long_lived:
        long_lived.conversations.send_to_conversation(CONVERSATION_ID, activity)

        def construct(n: int) -> None:
            for _ in range(n):
                botconnect.ConnectorClient(ctx.base).close()

        def per_message(n: int) -> None:
            for _ in range(n):
                with botconnect.ConnectorClient(ctx.base) as client:
                    client.conversations.send_to_conversation(CONVERSATION_ID, activity)

        def sends(n: int) -> None:
            send = long_lived.conversations.send_to_conversation
            for _ in range(n):
                send(CONVERSATION_ID, activity)

        cases: dict[str, SyncCase] = {"construct": construct, "per_message": per_message, "long_lived": sends}
        sync_stats = measure(cases, ctx.settings)
    async_stats = asyncio.run(_measure_async(ctx, activity))
    rows: list[Row] = []
    for flavour, stats in (("sync", sync_stats), ("async", async_stats)):
        rows.append(_construct_row(flavour, stats))
        rows += compare(
            GROUP,
            f"a client per message, {flavour}: with ConnectorClient(...) + one send",
            "calls/s",
            stats,
            "per_message",
            [("long_lived", "one long-lived client, same send", ">= 0.91x")],
            "0.91x of the rate = within 1.1x of the cost",
        )
    return rows


def _construct_row(flavour: str, stats: dict[str, Stat]) -> Row:
    construct, send = stats["construct"], stats["long_lived"]
    ms = 1000 / construct.median
    send_ms = 1000 / send.median
    return Row(
        GROUP,
        f"construct + close a ConnectorClient, {flavour} (after the first)",
        ms,
        "ms",
        "one send_to_conversation on a long-lived client",
        send_ms,
        1 / paired_ratio(construct, send),  # cost of a construction in sends (lower is better)
        "<= 1 ms",
        ms <= 1.0,
        "the ratio is construction cost / send cost; the target is the absolute figure",
    )


async def _measure_async(ctx: Context, activity: Activity) -> dict[str, Stat]:
    await botconnect_aio.ConnectorClient(ctx.base).close()
    async with botconnect_aio.ConnectorClient(ctx.base) as long_lived:
        await long_lived.conversations.send_to_conversation(CONVERSATION_ID, activity)

        async def construct(n: int) -> None:
            for _ in range(n):
                await botconnect_aio.ConnectorClient(ctx.base).close()

        async def per_message(n: int) -> None:
            for _ in range(n):
                async with botconnect_aio.ConnectorClient(ctx.base) as client:
                    await client.conversations.send_to_conversation(CONVERSATION_ID, activity)

        async def sends(n: int) -> None:
            send = long_lived.conversations.send_to_conversation
            for _ in range(n):
                await send(CONVERSATION_ID, activity)

        cases: dict[str, AsyncCase] = {"construct": construct, "per_message": per_message, "long_lived": sends}
        return await measure_async(cases, ctx.settings)
