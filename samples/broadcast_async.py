"""A bot broadcasting to many conversations at once, on a connection pool sized for it (pass --trio for trio).

Async clients run on ``AsyncHTTP11Transport`` by default (100 calls in flight); give ``transport=`` your own to
size the pool for your load. Offline by default: the local emulator starts in this process (needs the emulator
extra: ``pip install -e ".[emulator]"``) and the bot sends 60 activities to 6 conversations, at most 8 at a time.
To broadcast on a real channel instead, set BOTCONNECT_SERVICE_URL, BOTCONNECT_CONVERSATION_IDS (comma separated),
MICROSOFT_APP_ID and MICROSOFT_APP_PASSWORD.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import AsyncIterator

import anyio

import botconnect_aio
from botconnect.models import Activity, ChannelAccount, ConversationParameters

BOT = ChannelAccount(id="bot-1", name="Sample Bot")
MESSAGES_EACH = 10
POOL = botconnect_aio.AsyncHTTP11Transport(max_connections=8, max_keepalive_connections=8, keepalive_expiry=30)


@contextlib.asynccontextmanager
async def connector() -> AsyncIterator[tuple[botconnect_aio.ConnectorClient, list[str]]]:
    """(client, conversation ids): the real channel when BOTCONNECT_SERVICE_URL is set, else the local emulator."""
    service_url = os.environ.get("BOTCONNECT_SERVICE_URL")
    if service_url:
        credential = botconnect_aio.MicrosoftAppCredentials(
            os.environ["MICROSOFT_APP_ID"], os.environ["MICROSOFT_APP_PASSWORD"]
        )
        async with botconnect_aio.ConnectorClient(service_url, credential, transport=POOL) as client:
            yield client, os.environ["BOTCONNECT_CONVERSATION_IDS"].split(",")
        return
    from botconnect.emulator import Emulator

    emulator = Emulator(bot_account=BOT.to_dict())
    await anyio.to_thread.run_sync(emulator.start)
    try:
        async with emulator.aio_connector_client(transport=POOL) as client:
            ids = []
            for i in range(1, 7):
                params = ConversationParameters(bot=BOT, members=[ChannelAccount(id=f"user-{i}")])
                created = await client.conversations.create_conversation(params)
                assert created.id is not None
                ids.append(created.id)
            print(f"created {len(ids)} conversations on the local emulator at {emulator.service_url}")
            yield client, ids
    finally:
        await anyio.to_thread.run_sync(emulator.stop)


async def main() -> int:
    async with connector() as (client, conversation_ids):
        sent: dict[str, int] = dict.fromkeys(conversation_ids, 0)

        async def announce(conversation_id: str, number: int) -> None:
            text = f"Announcement {number} of {MESSAGES_EACH}"
            result = await client.conversations.send_to_conversation(
                conversation_id, Activity(type="message", text=text, from_property=BOT)
            )
            assert result.id is not None
            sent[conversation_id] += 1

        async with anyio.create_task_group() as group:  # every send at once: the pool lets 8 through at a time
            for conversation_id in conversation_ids:
                for number in range(1, MESSAGES_EACH + 1):
                    group.start_soon(announce, conversation_id, number)
        print(f"sent {sum(sent.values())} activities to {len(sent)} conversations over a pool of {POOL!r}")
        print(f"per conversation: {sorted(set(sent.values()))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(anyio.run(main, backend="trio" if "--trio" in sys.argv else "asyncio"))
