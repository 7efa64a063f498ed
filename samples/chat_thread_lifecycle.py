"""An ACS Chat thread's whole life with the sync client: create, talk, manage participants, read, delete.

Offline by default: it starts botconnect's local emulator in this process (needs the emulator extra:
``pip install -e ".[emulator]"``), whose ACS Chat endpoint issues the user token. To talk to a real Communication
Services resource instead, set ACS_ENDPOINT (https://<resource>.communication.azure.com), ACS_USER_TOKEN (a user
access token with the chat scope, issued by your identity service) and ACS_USER_RAW_ID (that user's raw id,
``8:acs:...``).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator

from botconnect.chat import (
    AccessToken,
    ChatClient,
    ChatParticipant,
    CommunicationTokenCredential,
    PhoneNumberIdentifier,
    identifier_from_raw_id,
)

USER_RAW_ID = "8:acs:sample-resource_sample-user"


@contextlib.contextmanager
def chat_client() -> Iterator[tuple[ChatClient, str]]:
    """(client, my raw id): the real resource when ACS_ENDPOINT is set, else the local emulator."""
    endpoint = os.environ.get("ACS_ENDPOINT")
    if endpoint:
        with ChatClient(endpoint, CommunicationTokenCredential(os.environ["ACS_USER_TOKEN"])) as client:
            yield client, os.environ["ACS_USER_RAW_ID"]
        return
    from botconnect.emulator import Emulator

    with Emulator() as emulator:

        def refresh_token() -> AccessToken:
            """Where your app would ask its identity service for a new token; called when the old one nears expiry."""
            token, _ = emulator.issue_acs_token(USER_RAW_ID)
            return AccessToken(token, int(time.time()) + 3600)

        token, raw_id = emulator.issue_acs_token(USER_RAW_ID)
        credential = CommunicationTokenCredential(token, token_refresher=refresh_token)
        with ChatClient(emulator.url, credential) as client:
            yield client, raw_id


def main() -> int:
    with chat_client() as (client, my_raw_id):
        me = identifier_from_raw_id(my_raw_id)
        created = client.create_chat_thread(
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

        thread = client.get_chat_thread_client(thread_id)
        first = thread.send_message("Where shall we go?", sender_display_name="Sample User")
        second = thread.send_message("<b>Pizza?</b>", chat_message_type="html")
        assert first.id
        assert second.id
        print(f"sent messages {first.id} and {second.id}")
        thread.update_message(first.id, "Where shall we go for lunch?")
        edited = thread.get_message(first.id).content
        print(f"edited message {first.id}: {edited.message if edited else None!r}")
        thread.send_typing_notification(sender_display_name="Sample User")
        thread.send_read_receipt(second.id)

        for page in thread.list_messages(results_per_page=1).by_page():
            for message in page:
                text = message.content.message if message.content else None
                print(f"message {message.id} [{message.type}]: {text}")

        friend = identifier_from_raw_id("8:acs:sample-resource_friend")
        failed = thread.add_participants([ChatParticipant(identifier=friend, display_name="Friend")])
        print(f"added a friend ({len(failed)} failures)")
        names = [p.display_name for p in thread.list_participants()]
        print(f"participants: {names}")
        thread.remove_participant(friend)
        print(f"removed the friend; read receipts: {[r.chat_message_id for r in thread.list_read_receipts()]}")

        thread.update_topic("Lunch: pizza")
        print(f"topic is now {thread.get_properties().topic!r}")
        print(f"threads: {[t.topic for t in client.list_chat_threads()]}")
        client.delete_chat_thread(thread_id)
        print(f"deleted thread {thread_id!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
