"""5. ACS Chat: ``send_message`` (calls/s) and ``list_messages`` of 5,000 messages, 200 a page (messages/s), sync
and async.

Floors: raw httpx through the same transport as ours with its defaults (sync: ``httpx.Client()``; async: an
``httpx.AsyncClient`` on our ``AsyncHTTP11Transport``): a POST of the pre-serialized body with the bearer header,
and a loop following ``nextLink``. Competitor: azure-communication-chat's ``ChatThreadClient`` (sync: requests
transport; aio: aiohttp transport) with its defaults. azure-core refuses to send a bearer token over plain http,
so its calls pass ``enforce_https=False`` (the per-call switch azure-core documents); nothing else is changed.
Both credentials are given the same unsigned JWT (neither verifies signatures; both read ``exp``).
"""

from __future__ import annotations

import asyncio
import json
from urllib.parse import quote

import httpx
from _fixtures import ACS_THREAD, acs_token, messages_thread
from _measure import AsyncCase, Context, Row, Stat, SyncCase, compare, label, measure, measure_async, optional_import

import botconnect
import botconnect_aio
from botconnect_aio import AsyncHTTP11Transport

GROUP = "chat"
TITLE = "ACS send_message / list_messages vs raw httpx and azure-communication-chat"
MESSAGES = 5_000
PAGE = 200
TEXT = "Order 42 shipped yesterday and arrives tomorrow before noon."
API_VERSION = "2025-03-15"


def run(ctx: Context) -> list[Row]:
    token = acs_token()
    send_url = f"{ctx.base}/chat/threads/{quote(ACS_THREAD, safe='')}/messages?api-version={API_VERSION}"
    send_body = json.dumps({"content": TEXT, "type": "text"}, separators=(",", ":")).encode()
    list_thread = messages_thread(MESSAGES)
    list_url = (
        f"{ctx.base}/chat/threads/{quote(list_thread, safe='')}/messages?maxPageSize={PAGE}&api-version={API_VERSION}"
    )
    headers = {"Accept": "application/json", "Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    acs = optional_import("azure.communication.chat")

    send: dict[str, SyncCase] = {}
    listing: dict[str, SyncCase] = {}
    credential = botconnect.CommunicationTokenCredential(token)
    with (
        httpx.Client() as http,
        botconnect.ChatThreadClient(ctx.base, credential, ACS_THREAD) as sender,
        botconnect.ChatThreadClient(ctx.base, credential, list_thread) as lister,
    ):

        def ours_list() -> int:
            return sum(1 for message in lister.list_messages(results_per_page=PAGE) if message.id)

        def raw_list() -> int:
            count = 0
            link: str | None = list_url
            while link:
                data = http.get(link, headers=headers).json()
                count += sum(1 for message in data["value"] if message["id"])
                link = data.get("nextLink")
            return count

        assert ours_list() == raw_list() == MESSAGES
        send["ours"] = lambda n: [sender.send_message(TEXT) for _ in range(n)]
        send["raw"] = lambda n: [http.post(send_url, content=send_body, headers=headers).json() for _ in range(n)]
        listing["ours"] = lambda n: [ours_list() for _ in range(n)]
        listing["raw"] = lambda n: [raw_list() for _ in range(n)]
        official_clients = []
        if acs is not None:
            official_sender = acs.ChatThreadClient(ctx.base, acs.CommunicationTokenCredential(token), ACS_THREAD)
            official_lister = acs.ChatThreadClient(ctx.base, acs.CommunicationTokenCredential(token), list_thread)
            official_clients = [official_sender, official_lister]

            def official_list() -> int:
                pages = official_lister.list_messages(results_per_page=PAGE, enforce_https=False)
                return sum(1 for message in pages if message.id)

            assert official_list() == MESSAGES
            send["official"] = lambda n: [official_sender.send_message(TEXT, enforce_https=False) for _ in range(n)]
            listing["official"] = lambda n: [official_list() for _ in range(n)]
        try:
            send_stats = measure(send, ctx.settings)
            list_stats = measure(listing, ctx.settings, items_per_op=MESSAGES)
        finally:
            for client in official_clients:
                client.close()

    async_send, async_list = asyncio.run(_measure_async(ctx, token, send_url, send_body, list_url, headers))
    official = label("azure-communication-chat")
    name = f"ACS list_messages {MESSAGES:,} ({PAGE}/page)"
    rows = compare(
        GROUP,
        "ACS send_message, sync",
        "calls/s",
        send_stats,
        "ours",
        [("raw", "raw httpx POST, same transport (floor)", ""), ("official", official, "")],
    )
    rows += compare(
        GROUP,
        "ACS send_message, async sequential",
        "calls/s",
        async_send,
        "ours",
        [("raw", "raw httpx.AsyncClient POST, same transport (floor)", ""), ("official", f"{official} aio", "")],
    )
    rows += compare(
        GROUP,
        f"{name}, sync",
        "messages/s",
        list_stats,
        "ours",
        [("raw", "raw httpx nextLink loop, same transport (floor)", ">= 0.8x"), ("official", official, "")],
    )
    rows += compare(
        GROUP,
        f"{name}, async",
        "messages/s",
        async_list,
        "ours",
        [
            ("raw", "raw httpx.AsyncClient nextLink loop, same transport (floor)", ">= 0.8x"),
            ("official", f"{official} aio", ""),
        ],
    )
    return rows


async def _measure_async(
    ctx: Context, token: str, send_url: str, send_body: bytes, list_url: str, headers: dict[str, str]
) -> tuple[dict[str, Stat], dict[str, Stat]]:
    acs = optional_import("azure.communication.chat.aio")
    list_thread = messages_thread(MESSAGES)
    credential = botconnect_aio.CommunicationTokenCredential(token)
    async with (
        httpx.AsyncClient(transport=AsyncHTTP11Transport()) as http,
        botconnect_aio.ChatThreadClient(ctx.base, credential, ACS_THREAD) as sender,
        botconnect_aio.ChatThreadClient(ctx.base, credential, list_thread) as lister,
    ):

        async def ours_send(n: int) -> None:
            for _ in range(n):
                await sender.send_message(TEXT)

        async def raw_send(n: int) -> None:
            for _ in range(n):
                (await http.post(send_url, content=send_body, headers=headers)).json()

        async def ours_list(n: int) -> None:
            for _ in range(n):
                count = 0
                async for message in lister.list_messages(results_per_page=PAGE):
                    count += 1 if message.id else 0
                assert count == MESSAGES

        async def raw_list(n: int) -> None:
            for _ in range(n):
                count = 0
                link: str | None = list_url
                while link:
                    data = (await http.get(link, headers=headers)).json()
                    count += sum(1 for message in data["value"] if message["id"])
                    link = data.get("nextLink")
                assert count == MESSAGES

        send: dict[str, AsyncCase] = {"ours": ours_send, "raw": raw_send}
        listing: dict[str, AsyncCase] = {"ours": ours_list, "raw": raw_list}
        if acs is None:
            return (
                await measure_async(send, ctx.settings),
                await measure_async(listing, ctx.settings, items_per_op=MESSAGES),
            )
        async with (
            acs.ChatThreadClient(ctx.base, acs.CommunicationTokenCredential(token), ACS_THREAD) as official_sender,
            acs.ChatThreadClient(ctx.base, acs.CommunicationTokenCredential(token), list_thread) as official_lister,
        ):

            async def official_send(n: int) -> None:
                for _ in range(n):
                    await official_sender.send_message(TEXT, enforce_https=False)

            async def official_list(n: int) -> None:
                for _ in range(n):
                    count = 0
                    async for message in official_lister.list_messages(results_per_page=PAGE, enforce_https=False):
                        count += 1 if message.id else 0
                    assert count == MESSAGES

            send["official"] = official_send
            listing["official"] = official_list
            return (
                await measure_async(send, ctx.settings),
                await measure_async(listing, ctx.settings, items_per_op=MESSAGES),
            )
