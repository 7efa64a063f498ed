"""A default async client kept across event loops (pytest-asyncio's loop per test, scripts calling asyncio.run
twice, asyncio then trio) keeps working: idle connections of a finished loop are never reused."""

from __future__ import annotations

import asyncio

import trio

import botconnect_aio
from botconnect.emulator import Emulator
from botconnect.models import Activity, ChannelAccount, ConversationParameters


def test_one_client_across_asyncio_runs_and_trio() -> None:
    with Emulator() as emulator:
        client = botconnect_aio.ConnectorClient(emulator.service_url)
        params = ConversationParameters(members=[ChannelAccount(id="user-1")])
        conversation = asyncio.run(client.conversations.create_conversation(params)).id
        assert conversation
        ids = [
            asyncio.run(client.conversations.send_to_conversation(conversation, Activity(type="message", text="a"))).id,
            asyncio.run(client.conversations.send_to_conversation(conversation, Activity(type="message", text="b"))).id,
            trio.run(client.conversations.send_to_conversation, conversation, Activity(type="message", text="c")).id,
        ]
        assert all(ids)
        assert len(set(ids)) == 3
        asyncio.run(client.close())
        texts = [a["text"] for a in emulator.store.conversations[conversation].activities if a.get("text")]
        assert texts[-3:] == ["a", "b", "c"]
