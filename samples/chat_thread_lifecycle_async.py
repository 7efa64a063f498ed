"""An ACS Chat thread's whole life with the async client (anyio: asyncio, or trio with ``--trio``).

The credential refreshes its token in the background while ``async with`` holds the client (which enters its
credential): the background task lives in that block's task group, as structured concurrency wants. Offline by default:
it starts botconnect's local emulator in this process (needs the emulator extra: ``pip install -e ".[emulator]"``),
whose ACS Chat endpoint issues the user token. To use a real Communication Services resource instead, set
ACS_ENDPOINT (https://<resource>.communication.azure.com), ACS_USER_TOKEN (a user access token with the chat scope)
and ACS_USER_RAW_ID (that user's raw id, ``8:acs:...``).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator

import anyio

from botconnect_aio.chat import (
    AccessToken,
    ChatClient,
    ChatParticipant,
    CommunicationTokenCredential,
    PhoneNumberIdentifier,
    identifier_from_raw_id,
)

USER_RAW_ID = "8:acs:sample-resource_sample-user"


@contextlib.asynccontextmanager
async def chat_client() -> AsyncIterator[tuple[ChatClient, str]]:
    """(client, my raw id): the real resource when ACS_ENDPOINT is set, else the local emulator."""
    endpoint = os.environ.get("ACS_ENDPOINT")
    if endpoint:
        async with ChatClient(endpoint, CommunicationTokenCredential(os.environ["ACS_USER_TOKEN"])) as client:
            yield client, os.environ["ACS_USER_RAW_ID"]
        return
    from botconnect.emulator import Emulator

    emulator = Emulator()
    await anyio.to_thread.run_sync(emulator.start)

    async def refresh_token() -> AccessToken:
        """Where your app would ask its identity service for a new token, before the old one expires."""
        token, _ = await anyio.to_thread.run_sync(emulator.issue_acs_token, USER_RAW_ID)
        return AccessToken(token, int(time.time()) + 3600)

    try:
        token, raw_id = emulator.issue_acs_token(USER_RAW_ID)
        credential = CommunicationTokenCredential(token, token_refresher=refresh_token, proactive_refresh=True)
        async with ChatClient(emulator.url, credential) as client:
            yield client, raw_id
    finally:
        await anyio.to_thread.run_sync(emulator.stop)


async def main() -> int:
    async with chat_client() as (client, my_raw_id):
        me = identifier_from_raw_id(my_raw_id)
        created = await client.create_chat_thread(
            "Lunch plans",
            thread_participants=[
                ChatParticipant(identifier=me, display_name="Sample User"),
                ChatParticipant(identifier=PhoneNumberIdentifier("+14255550123"), display_name="A phone"),
            ],
        )
        # the service always returns these; the models type every field Optional
        assert created.chat_thread is not None
        assert created.chat_thread.id
        thread_id = created.chat_thread.id
        print(f"created thread {thread_id!r} ({created.chat_thread.topic})")
        for participant, error in created.errors:
            print(f"could not add {participant.display_name}: {error.message}")

        async with client.get_chat_thread_client(thread_id) as thread:
            first = await thread.send_message("Where shall we go?", sender_display_name="Sample User")
            second = await thread.send_message("<b>Pizza?</b>", chat_message_type="html")
            assert first.id
            assert second.id
            print(f"sent messages {first.id} and {second.id}")
            await thread.update_message(first.id, "Where shall we go for lunch?")
            edited = await thread.get_message(first.id)
            print(f"edited message {first.id}: {edited.content.message if edited.content else None!r}")
            await thread.send_typing_notification(sender_display_name="Sample User")
            await thread.send_read_receipt(second.id)

            async for page in thread.list_messages(results_per_page=1).by_page():
                for message in page:
                    text = message.content.message if message.content else None
                    print(f"message {message.id} [{message.type}]: {text}")

            friend = identifier_from_raw_id("8:acs:sample-resource_friend")
            failed = await thread.add_participants([ChatParticipant(identifier=friend, display_name="Friend")])
            print(f"added a friend ({len(failed)} failures)")
            names = [p.display_name async for p in thread.list_participants()]
            print(f"participants: {names}")
            await thread.remove_participant(friend)
            receipts = [r.chat_message_id async for r in thread.list_read_receipts()]
            print(f"removed the friend; read receipts: {receipts}")

            await thread.update_topic("Lunch: pizza")
            print(f"topic is now {(await thread.get_properties()).topic!r}")
        print(f"threads: {[t.topic async for t in client.list_chat_threads()]}")
        await client.delete_chat_thread(thread_id)
        print(f"deleted thread {thread_id!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(anyio.run(main, backend="trio" if "--trio" in sys.argv else "asyncio"))
