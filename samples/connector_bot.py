"""A bot's outgoing side with the sync ConnectorClient: send, reply, update, delete, page members.

Runs offline against an in-memory fake channel. To talk to a real channel instead, set
BOTCONNECT_SERVICE_URL, BOTCONNECT_CONVERSATION_ID, MICROSOFT_APP_ID and MICROSOFT_APP_PASSWORD.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _fake_connector import FakeConnector

import botconnect
from botconnect.models import Activity, ChannelAccount


def make_client() -> tuple[botconnect.ConnectorClient, str]:
    service_url = os.environ.get("BOTCONNECT_SERVICE_URL")
    if service_url:
        credential = botconnect.MicrosoftAppCredentials(
            os.environ["MICROSOFT_APP_ID"], os.environ["MICROSOFT_APP_PASSWORD"]
        )
        return botconnect.ConnectorClient(service_url, credential), os.environ["BOTCONNECT_CONVERSATION_ID"]
    fake_channel = httpx.MockTransport(FakeConnector())
    return botconnect.ConnectorClient("https://fake.botframework.com", transport=fake_channel), "19:demo@thread.skype"


def main() -> int:
    client, conversation_id = make_client()
    bot = ChannelAccount(id="bot-1", name="Sample Bot")
    with client:
        conversations = client.conversations
        sent = conversations.send_to_conversation(
            conversation_id, Activity(type="message", text="Hello from botconnect!", from_property=bot)
        )
        print(f"sent activity {sent.id}")
        assert sent.id is not None

        reply = conversations.reply_to_activity(
            conversation_id, sent.id, Activity(type="message", text="...and a threaded reply", from_property=bot)
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
            print(f"members page {number}: {names} (next token: {page.continuation_token})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
