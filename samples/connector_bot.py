"""A bot's outgoing side with the sync ConnectorClient: send, reply, update, delete, page members.

Offline by default: it starts botconnect's local emulator in this process (needs the emulator extra:
``pip install -e ".[emulator]"``), creates a conversation with six users on its Connector endpoint and plays the
bot there. To talk to a real channel instead, set BOTCONNECT_SERVICE_URL (the ``serviceUrl`` of an activity your
bot received), BOTCONNECT_CONVERSATION_ID, MICROSOFT_APP_ID and MICROSOFT_APP_PASSWORD.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import botconnect
from botconnect.models import Activity, ChannelAccount, ConversationParameters

BOT = ChannelAccount(id="bot-1", name="Sample Bot")
USERS = [ChannelAccount(id=f"user-{i}", name=f"User {i}") for i in range(1, 7)]


@contextlib.contextmanager
def connector() -> Iterator[tuple[botconnect.ConnectorClient, str]]:
    """(client, conversation id): the real channel when BOTCONNECT_SERVICE_URL is set, else the local emulator."""
    service_url = os.environ.get("BOTCONNECT_SERVICE_URL")
    if service_url:
        credential = botconnect.MicrosoftAppCredentials(
            os.environ["MICROSOFT_APP_ID"], os.environ["MICROSOFT_APP_PASSWORD"]
        )
        with botconnect.ConnectorClient(service_url, credential) as client:
            yield client, os.environ["BOTCONNECT_CONVERSATION_ID"]
        return
    from botconnect.emulator import Emulator

    with Emulator(bot_account=BOT.to_dict()) as emulator, emulator.connector_client() as client:
        created = client.conversations.create_conversation(
            ConversationParameters(bot=BOT, members=USERS, is_group=True, topic_name="Sample group")
        )
        assert created.id is not None
        print(f"created conversation {created.id} on the local emulator at {emulator.service_url}")
        yield client, created.id


def main() -> int:
    with connector() as (client, conversation_id):
        conversations = client.conversations
        sent = conversations.send_to_conversation(
            conversation_id, Activity(type="message", text="Hello from botconnect!", from_property=BOT)
        )
        print(f"sent activity {sent.id}")
        assert sent.id is not None

        reply = conversations.reply_to_activity(
            conversation_id, sent.id, Activity(type="message", text="...and a threaded reply", from_property=BOT)
        )
        print(f"replied with activity {reply.id}")
        assert reply.id is not None

        conversations.update_activity(conversation_id, sent.id, Activity(type="message", text="Hello (edited)"))
        print(f"updated activity {sent.id}")

        conversations.delete_activity(conversation_id, reply.id)
        print(f"deleted activity {reply.id}")

        members = conversations.get_conversation_paged_members(conversation_id, page_size=3)
        for number, page in enumerate(members.by_page(), 1):
            names = [member.name for member in page]
            print(f"members page {number}: {names} (more: {page.continuation_token is not None})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
