"""4. Paging: 10,000 conversation members, 100 a page (members/s), and peak memory over 1,000,000 members.

Floor: a raw httpx loop through the same transport as ours with its defaults (sync: ``httpx.Client()``; async: an
``httpx.AsyncClient`` on our ``AsyncHTTP11Transport``) that GETs each page with its continuation token, decodes
the JSON and walks the members; a second pair gives ours the raw loop's own client (``http_client=``). Ours
iterates ``get_conversation_paged_members(..., page_size=100)`` and gets ``ChannelAccount`` models.
Competitor: botframework-connector's ``get_conversation_paged_members`` called page by page (it has no iterator).
The ACS ``list_messages`` paging figures are in the ``chat`` group.

Memory: a fresh child process iterates 1,000,000 members (100,000 with --quick) with the sync client; growth is
its peak RSS at the end minus its peak RSS after the first two pages (imports, connection and converters are
ready by then). The same child measures the raw loop for reference.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from _fixtures import members_conversation
from _measure import (
    AsyncCase,
    Context,
    Row,
    Stat,
    SyncCase,
    check,
    compare,
    label,
    measure,
    measure_async,
    optional_import,
)

import botconnect
import botconnect_aio
from botconnect_aio import AsyncHTTP11Transport

GROUP = "paging"
TITLE = "paged members vs a raw loop; memory over 1,000,000 members"
MEMBERS = 10_000
PAGE = 100
MEMORY_MEMBERS = 1_000_000
MEMORY_MEMBERS_QUICK = 100_000
MEMORY_LIMIT_MB = 20


def pages_url(base: str, conversation_id: str, page_size: int) -> str:
    return f"{base}/v3/conversations/{quote(conversation_id, safe='')}/pagedmembers?pageSize={page_size}"


def raw_members(http: httpx.Client, url: str) -> int:
    """The floor: GET page after page with the continuation token, decode, touch every member."""
    count = 0
    token = None
    while True:
        response = http.get(url if token is None else f"{url}&continuationToken={token}")
        data = response.json()
        for member in data["members"]:
            member["id"]
            count += 1
        token = data.get("continuationToken")
        if not token:
            return count


async def raw_members_async(http: httpx.AsyncClient, url: str) -> int:
    count = 0
    token = None
    while True:
        response = await http.get(url if token is None else f"{url}&continuationToken={token}")
        data = response.json()
        for member in data["members"]:
            member["id"]
            count += 1
        token = data.get("continuationToken")
        if not token:
            return count


def run(ctx: Context) -> list[Row]:
    conversation = members_conversation(MEMBERS)
    url = pages_url(ctx.base, conversation, PAGE)
    bf = optional_import("botframework.connector")
    official = label("botframework-connector", "(page by page)")

    with (
        httpx.Client() as http,
        botconnect.ConnectorClient(ctx.base) as client,
        botconnect.ConnectorClient(ctx.base, http_client=http) as given,
    ):

        def members_of(sdk: botconnect.ConnectorClient) -> int:
            count = 0
            for member in sdk.conversations.get_conversation_paged_members(conversation, page_size=PAGE):
                member.id  # noqa: B018
                count += 1
            return count

        assert members_of(client) == MEMBERS == raw_members(http, url), "the SDK and the raw loop must see all"
        cases: dict[str, SyncCase] = {
            "ours": lambda n: [members_of(client) for _ in range(n)],
            "given": lambda n: [members_of(given) for _ in range(n)],
            "raw": lambda n: [raw_members(http, url) for _ in range(n)],
        }
        bf_client = None
        if bf is not None:
            from botframework.connector.auth import MicrosoftAppCredentials

            bf_client = bf.ConnectorClient(MicrosoftAppCredentials("", ""), base_url=ctx.base)

            def official_once() -> int:
                count = 0
                token = None
                while True:
                    page = bf_client.conversations.get_conversation_paged_members(
                        conversation, page_size=PAGE, continuation_token=token
                    )
                    for member in page.members:
                        member.id  # noqa: B018
                        count += 1
                    token = page.continuation_token
                    if not token:
                        return count

            assert official_once() == MEMBERS
            cases["official"] = lambda n: [official_once() for _ in range(n)]
        try:
            sync_stats = measure(cases, ctx.settings, items_per_op=MEMBERS)
        finally:
            if bf_client is not None:
                bf_client.close()

    async_stats = asyncio.run(_measure_async(ctx, conversation, url))
    name = f"paged members {MEMBERS:,} ({PAGE}/page)"
    rows = compare(
        GROUP,
        f"{name}, sync",
        "members/s",
        sync_stats,
        "ours",
        [("raw", "raw httpx loop, same transport (floor)", ">= 0.8x"), ("official", official, "")],
    )
    rows += compare(
        GROUP,
        f"{name}, sync, http_client= given",
        "members/s",
        sync_stats,
        "given",
        [("raw", "raw httpx loop, same client (floor)", "")],
    )
    rows += compare(
        GROUP,
        f"{name}, async",
        "members/s",
        async_stats,
        "ours",
        [
            ("lean", "raw httpx.AsyncClient loop, same transport (floor)", ">= 0.8x"),
            ("raw", "raw httpx.AsyncClient() loop, httpx's pool", ""),
            ("official", f"{official} aio", ""),
        ],
    )
    rows += compare(
        GROUP,
        f"{name}, async, http_client= given",
        "members/s",
        async_stats,
        "given",
        [("raw", "raw httpx.AsyncClient loop, same client (floor)", "")],
    )
    rows += memory_rows(ctx)
    return rows


async def _measure_async(ctx: Context, conversation: str, url: str) -> dict[str, Stat]:
    bf = optional_import("botframework.connector.aio")
    async with (
        httpx.AsyncClient() as http,
        httpx.AsyncClient(transport=AsyncHTTP11Transport()) as lean,
        botconnect_aio.ConnectorClient(ctx.base) as client,
        botconnect_aio.ConnectorClient(ctx.base, http_client=http) as given,
    ):

        async def members_of(sdk: botconnect_aio.ConnectorClient) -> int:
            count = 0
            async for member in sdk.conversations.get_conversation_paged_members(conversation, page_size=PAGE):
                member.id  # noqa: B018
                count += 1
            return count

        def sdk_case(sdk: botconnect_aio.ConnectorClient) -> AsyncCase:
            async def case(n: int) -> None:
                for _ in range(n):
                    await members_of(sdk)

            return case

        def raw_case(raw_client: httpx.AsyncClient) -> AsyncCase:
            async def case(n: int) -> None:
                for _ in range(n):
                    await raw_members_async(raw_client, url)

            return case

        assert await members_of(client) == MEMBERS == await raw_members_async(lean, url)
        cases: dict[str, AsyncCase] = {
            "ours": sdk_case(client),
            "given": sdk_case(given),
            "lean": raw_case(lean),
            "raw": raw_case(http),
        }
        if bf is None:
            return await measure_async(cases, ctx.settings, items_per_op=MEMBERS)
        from botframework.connector.auth import MicrosoftAppCredentials

        async with bf.ConnectorClient(MicrosoftAppCredentials("", ""), base_url=ctx.base) as bf_client:

            async def official(n: int) -> None:
                for _ in range(n):
                    token = None
                    while True:
                        page = await bf_client.conversations.get_conversation_paged_members(
                            conversation, page_size=PAGE, continuation_token=token
                        )
                        for member in page.members:
                            member.id  # noqa: B018
                        token = page.continuation_token
                        if not token:
                            break

            cases["official"] = official
            return await measure_async(cases, ctx.settings, items_per_op=MEMBERS)


# -- memory -------------------------------------------------------------------------------------------------


def memory_rows(ctx: Context) -> list[Row]:
    total = MEMORY_MEMBERS_QUICK if ctx.settings.quick else MEMORY_MEMBERS
    ours = _memory_child(ctx.base, total, "ours")
    raw = _memory_child(ctx.base, total, "raw")
    growth = ours["growth_mb"]
    target = f"< {MEMORY_LIMIT_MB} MB"
    return [
        Row(
            GROUP,
            f"peak memory growth iterating {total:,} members (sync)",
            growth,
            "MB",
            "raw httpx loop (reference)",
            raw["growth_mb"],
            None,
            target,
            check(growth, target),
            f"peak RSS {ours['peak_mb']:.1f} MB after {ours['items']:,} members in {ours['seconds']:.1f} s "
            f"(baseline {ours['baseline_mb']:.1f} MB after 2 pages)",
            {"ours": ours, "raw": raw},
        )
    ]


def _memory_child(base: str, total: int, mode: str) -> dict[str, Any]:
    env = dict(os.environ)
    here = Path(__file__).resolve().parent
    env["PYTHONPATH"] = os.pathsep.join([str(here.parent), str(here), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    out = subprocess.run(
        [sys.executable, str(here / "_memory_child.py"), base, members_conversation(total), str(PAGE), mode],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    if result["items"] != total:
        raise RuntimeError(f"memory child saw {result['items']} members, expected {total}")
    return result
