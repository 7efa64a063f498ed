"""3. Async at 100 concurrent calls on asyncio: calls/s with 100 tasks each sending one call after another.

Ours runs with its defaults (its own ``AsyncHTTP11Transport``). Floors: raw aiohttp (``ClientSession`` defaults: at
most 100 connections), raw httpx (``AsyncClient`` defaults: at most 100 connections, 20 kept alive) and raw httpx
mounted on our transport, POSTing the pre-serialized bytes and decoding the JSON answer. Competitors:
botframework-connector's aio client (its default driver runs ``requests`` in the loop's thread pool) and
azure-communication-chat's aio ``send_message`` (aiohttp transport) against ours.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from urllib.parse import quote

import httpx
from _fixtures import ACS_THREAD, CONVERSATION_ID, OUTGOING_ACTIVITY, acs_token
from _measure import AsyncCase, Context, Row, Stat, compare, label, measure_async, optional_import
from bench_send import HEADERS, activity_url

import botconnect_aio
from botconnect.models import Activity
from botconnect_aio import AsyncHTTP11Transport

GROUP = "concurrency"
TITLE = "async at 100 concurrent calls (asyncio)"
CONCURRENCY = 100
CHAT_TEXT = "Order 42 shipped yesterday and arrives tomorrow before noon."


def concurrently(call: Callable[[], Awaitable[object]], workers: int = CONCURRENCY) -> AsyncCase:
    """A case running ``n`` calls with ``workers`` tasks, each starting its next call when its last one ended."""

    async def case(n: int) -> None:
        left = n

        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                await call()

        await asyncio.gather(*(worker() for _ in range(min(workers, n))))

    return case


def run(ctx: Context) -> list[Row]:
    return asyncio.run(_run(ctx))


async def _run(ctx: Context) -> list[Row]:
    aiohttp = optional_import("aiohttp")
    activity = Activity.from_dict(OUTGOING_ACTIVITY)
    body = activity.to_json()
    url = activity_url(ctx.base)
    token = acs_token()
    chat_url = f"{ctx.base}/chat/threads/{quote(ACS_THREAD, safe='')}/messages?api-version=2024-03-07"
    chat_body = json.dumps({"content": CHAT_TEXT, "type": "text"}).encode()
    chat_headers = {**HEADERS, "Authorization": f"Bearer {token}"}
    connector: dict[str, AsyncCase] = {}
    chat: dict[str, AsyncCase] = {}

    credential = botconnect_aio.CommunicationTokenCredential(token)
    async with (
        botconnect_aio.ConnectorClient(ctx.base) as client,
        botconnect_aio.ChatThreadClient(ctx.base, credential, ACS_THREAD) as chat_client,
        httpx.AsyncClient() as http,
        httpx.AsyncClient(transport=AsyncHTTP11Transport()) as lean,
    ):
        connector["ours"] = concurrently(lambda: client.conversations.send_to_conversation(CONVERSATION_ID, activity))
        chat["ours"] = concurrently(lambda: chat_client.send_message(CHAT_TEXT))

        async def httpx_post() -> None:
            (await http.post(url, content=body, headers=HEADERS)).json()

        async def lean_post() -> None:
            (await lean.post(url, content=body, headers=HEADERS)).json()

        connector["httpx"] = concurrently(httpx_post)
        connector["lean"] = concurrently(lean_post)

        session = aiohttp.ClientSession() if aiohttp is not None else None
        try:
            if session is not None:

                async def aiohttp_post() -> None:
                    async with session.post(url, data=body, headers=HEADERS) as response:
                        json.loads(await response.read())

                async def aiohttp_chat() -> None:
                    async with session.post(chat_url, data=chat_body, headers=chat_headers) as response:
                        json.loads(await response.read())

                connector["aiohttp"] = concurrently(aiohttp_post)
                chat["aiohttp"] = concurrently(aiohttp_chat)
            connector_stats, chat_stats = await _with_official(ctx, token, connector, chat)
        finally:
            if session is not None:
                await session.close()

    bf = label("botframework-connector", "aio (thread pool)")
    acs = label("azure-communication-chat", "aio")
    rows = compare(
        GROUP,
        "send_to_conversation, 100 concurrent",
        "calls/s",
        connector_stats,
        "ours",
        [
            ("aiohttp", "raw aiohttp POST (floor)", ">= 0.8x"),
            ("httpx", "raw httpx.AsyncClient() POST, httpx's pool", ""),
            ("lean", "raw httpx.AsyncClient POST, same transport", ""),
            ("official", bf, ""),
        ],
    )
    rows += compare(
        GROUP,
        "ACS send_message, 100 concurrent",
        "calls/s",
        chat_stats,
        "ours",
        [("aiohttp", "raw aiohttp POST (floor)", ""), ("official", acs, "")],
    )
    return rows


async def _with_official(
    ctx: Context, token: str, connector: dict[str, AsyncCase], chat: dict[str, AsyncCase]
) -> tuple[dict[str, Stat], dict[str, Stat]]:
    """Add the official SDKs' cases when they are installed, and measure."""
    start = CONCURRENCY
    bf = optional_import("botframework.connector.aio")
    schema = optional_import("botbuilder.schema")
    acs = optional_import("azure.communication.chat.aio")
    if bf is None or schema is None or acs is None:
        return (
            await measure_async(connector, ctx.settings, start=start),
            await measure_async(chat, ctx.settings, start=start),
        )
    from botframework.connector.auth import MicrosoftAppCredentials

    bf_activity = schema.Activity.deserialize(OUTGOING_ACTIVITY)
    async with (
        bf.ConnectorClient(MicrosoftAppCredentials("", ""), base_url=ctx.base) as bf_client,
        acs.ChatThreadClient(ctx.base, acs.CommunicationTokenCredential(token), ACS_THREAD) as acs_client,
    ):
        connector["official"] = concurrently(
            lambda: bf_client.conversations.send_to_conversation(CONVERSATION_ID, bf_activity)
        )
        # azure-core refuses bearer tokens over plain http unless the call says enforce_https=False
        chat["official"] = concurrently(lambda: acs_client.send_message(CHAT_TEXT, enforce_https=False))
        return (
            await measure_async(connector, ctx.settings, start=start),
            await measure_async(chat, ctx.settings, start=start),
        )
