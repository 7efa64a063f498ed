"""2. ``send_to_conversation``, sync and async (sequential calls), calls/s.

Floor: a raw httpx POST of the pre-serialized activity bytes (response JSON decoded) through the same transport
as ours: ours runs with its defaults (sync: ``HTTP11Transport``, httpx's pool as in a raw ``httpx.Client()``; async: our
``AsyncHTTP11Transport``, so the raw floor is an ``httpx.AsyncClient`` mounted on one). A second pair gives ours
the raw ``httpx.Client`` / ``httpx.AsyncClient`` itself (``http_client=``): identical client and pool. Ours
serializes the Activity and parses the ResourceResponse on every call, as a bot does.

Competitor: botframework-connector's ``ConnectorClient`` / ``aio.ConnectorClient`` with anonymous
credentials (``MicrosoftAppCredentials("", "")``: no token, as ours with no credential), default pipeline.
"""

from __future__ import annotations

import asyncio
from urllib.parse import quote

import httpx
from _fixtures import CONVERSATION_ID, OUTGOING_ACTIVITY
from _measure import AsyncCase, Context, Row, Stat, SyncCase, compare, label, measure, measure_async, optional_import

import botconnect
import botconnect_aio
from botconnect.models import Activity
from botconnect_aio import AsyncHTTP11Transport

GROUP = "send"
TITLE = "send_to_conversation sync / async sequential"

HEADERS = {"Accept": "application/json", "Content-Type": "application/json; charset=utf-8"}


def activity_url(base: str) -> str:
    return f"{base}/v3/conversations/{quote(CONVERSATION_ID, safe='')}/activities"


def run(ctx: Context) -> list[Row]:
    activity = Activity.from_dict(OUTGOING_ACTIVITY)
    body = activity.to_json()
    url = activity_url(ctx.base)
    bf = optional_import("botframework.connector")
    schema = optional_import("botbuilder.schema")
    bf_activity = schema.Activity.deserialize(OUTGOING_ACTIVITY) if schema is not None else None
    competitor = label("botframework-connector")

    with (
        httpx.Client() as http,
        botconnect.ConnectorClient(ctx.base) as client,
        botconnect.ConnectorClient(ctx.base, http_client=http) as given,
    ):
        first = client.conversations.send_to_conversation(CONVERSATION_ID, activity)
        assert first.id, "the bench server must answer with an id"

        def sender(sdk: botconnect.ConnectorClient) -> SyncCase:
            def case(n: int) -> None:
                send = sdk.conversations.send_to_conversation
                for _ in range(n):
                    send(CONVERSATION_ID, activity)

            return case

        def raw(n: int) -> None:
            post = http.post
            for _ in range(n):
                post(url, content=body, headers=HEADERS).json()

        cases: dict[str, SyncCase] = {"ours": sender(client), "given": sender(given), "raw": raw}
        bf_client = None
        if bf is not None and bf_activity is not None:
            from botframework.connector.auth import MicrosoftAppCredentials

            bf_client = bf.ConnectorClient(MicrosoftAppCredentials("", ""), base_url=ctx.base)

            def official(n: int) -> None:
                send = bf_client.conversations.send_to_conversation
                for _ in range(n):
                    send(CONVERSATION_ID, bf_activity)

            cases["official"] = official
        try:
            sync_stats = measure(cases, ctx.settings)
        finally:
            if bf_client is not None:
                bf_client.close()

    async_stats = asyncio.run(_measure_async(ctx, activity, body, url, bf_activity))
    # ours with its defaults owns an HTTP11Transport: httpx's HTTP/1.1 pool, as the raw httpx.Client() has
    baselines = [("raw", "raw httpx POST, same transport (floor)", ">= 0.85x"), ("official", competitor, "")]
    rows = compare(GROUP, "send_to_conversation, sync", "calls/s", sync_stats, "ours", baselines)
    rows += compare(
        GROUP,
        "send_to_conversation, sync, http_client= given",
        "calls/s",
        sync_stats,
        "given",
        [("raw", "raw httpx POST, same client (floor)", "")],
    )
    baselines = [
        ("lean", "raw httpx.AsyncClient POST, same transport (floor)", ">= 0.85x"),
        ("raw", "raw httpx.AsyncClient() POST, httpx's pool", ""),
        ("official", f"{competitor} aio (thread pool)", ""),
    ]
    rows += compare(GROUP, "send_to_conversation, async sequential", "calls/s", async_stats, "ours", baselines)
    rows += compare(
        GROUP,
        "send_to_conversation, async sequential, http_client= given",
        "calls/s",
        async_stats,
        "given",
        [("raw", "raw httpx.AsyncClient POST, same client (floor)", "")],
    )
    return rows


async def _measure_async(
    ctx: Context, activity: Activity, body: bytes, url: str, bf_activity: object | None
) -> dict[str, Stat]:
    async with (
        httpx.AsyncClient() as http,
        httpx.AsyncClient(transport=AsyncHTTP11Transport()) as lean,
        botconnect_aio.ConnectorClient(ctx.base) as client,
        botconnect_aio.ConnectorClient(ctx.base, http_client=http) as given,
    ):

        def sender(sdk: botconnect_aio.ConnectorClient) -> AsyncCase:
            async def case(n: int) -> None:
                send = sdk.conversations.send_to_conversation
                for _ in range(n):
                    await send(CONVERSATION_ID, activity)

            return case

        def poster(raw_client: httpx.AsyncClient) -> AsyncCase:
            async def case(n: int) -> None:
                post = raw_client.post
                for _ in range(n):
                    (await post(url, content=body, headers=HEADERS)).json()

            return case

        cases: dict[str, AsyncCase] = {
            "ours": sender(client),
            "given": sender(given),
            "lean": poster(lean),
            "raw": poster(http),
        }
        if bf_activity is None:
            return await measure_async(cases, ctx.settings)
        from botframework.connector.aio import ConnectorClient as OfficialAsync
        from botframework.connector.auth import MicrosoftAppCredentials

        async with OfficialAsync(MicrosoftAppCredentials("", ""), base_url=ctx.base) as official_client:

            async def official(n: int) -> None:
                send = official_client.conversations.send_to_conversation
                for _ in range(n):
                    await send(CONVERSATION_ID, bf_activity)

            cases["official"] = official
            return await measure_async(cases, ctx.settings)
