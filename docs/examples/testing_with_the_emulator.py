"""Testing bot code with the emulator's pytest fixtures (the plugin is registered when botconnect[emulator] is
installed). Run it as any test file, ``pytest docs/examples/testing_with_the_emulator.py``, or with
``python docs/examples/testing_with_the_emulator.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

import botconnect
import botconnect_aio
from botconnect.emulator import Emulator
from botconnect.errors import RateLimitError
from botconnect.models import Activity, ChannelAccount, ConversationParameters


# --8<-- [start:code]
def send_reminder(client: botconnect.ConnectorClient, conversation_id: str, text: str) -> str:
    """The code under test: what a bot does on a timer."""
    sent = client.conversations.send_to_conversation(conversation_id, Activity(type="message", text=text))
    assert sent.id is not None
    return sent.id


async def send_reminder_async(client: botconnect_aio.ConnectorClient, conversation_id: str, text: str) -> str:
    sent = await client.conversations.send_to_conversation(conversation_id, Activity(type="message", text=text))
    assert sent.id is not None
    return sent.id


# --8<-- [end:code]


# --8<-- [start:sync]
def new_conversation(client: botconnect.ConnectorClient) -> str:
    created = client.conversations.create_conversation(
        ConversationParameters(members=[ChannelAccount(id="user-1", name="Ada")])
    )
    assert created.id is not None
    return created.id


def test_the_reminder_reaches_the_conversation(
    connector_client: botconnect.ConnectorClient, botconnect_emulator: Emulator
) -> None:
    conversation_id = new_conversation(connector_client)
    activity_id = send_reminder(connector_client, conversation_id, "Stand-up in 5 minutes")
    stored = botconnect_emulator.directline.activities(conversation_id)  # what the channel now holds
    assert [(a["id"], a["text"]) for a in stored] == [(activity_id, "Stand-up in 5 minutes")]


# --8<-- [end:sync]


# --8<-- [start:async]
@pytest.mark.anyio  # AnyIO's plugin; with pytest-asyncio use @pytest.mark.asyncio
async def test_the_async_reminder(
    aio_connector_client: botconnect_aio.ConnectorClient, botconnect_emulator: Emulator
) -> None:
    created = await aio_connector_client.conversations.create_conversation(
        ConversationParameters(members=[ChannelAccount(id="user-1")])
    )
    assert created.id is not None
    await send_reminder_async(aio_connector_client, created.id, "Lunch?")
    assert [a["text"] for a in botconnect_emulator.directline.activities(created.id)] == ["Lunch?"]


# --8<-- [end:async]


# --8<-- [start:directline]
def test_the_echo_bot_answers_a_user(directline_client: botconnect.DirectLineClient) -> None:
    with directline_client.open_conversation(user="user-1") as conversation:
        conversation.send("hello")
        from_bot = (
            a for a in conversation.activities(timeout=10) if a.from_property and a.from_property.id != "user-1"
        )
        assert next(from_bot).text == "echo: hello"  # the built-in echo bot; your bot: factory(bot=URL)


# --8<-- [end:directline]


# --8<-- [start:faults]
def test_a_throttled_channel_is_retried_then_reported(
    botconnect_emulator_factory: Callable[..., Emulator],
) -> None:
    emulator = botconnect_emulator_factory()
    with emulator.connector_client(retry_policy=botconnect.RetryPolicy(max_attempts=2)) as client:
        conversation_id = new_conversation(client)
        emulator.faults.add(429, prefix=f"/v3/conversations/{conversation_id}/activities", retry_after=0)
        with pytest.raises(RateLimitError) as caught:
            send_reminder(client, conversation_id, "never stored")
    assert caught.value.status_code == 429
    assert emulator.directline.activities(conversation_id) == []


# --8<-- [end:faults]


if __name__ == "__main__":  # pytest in a process of its own: this one has imported what pytest wants to rewrite
    import subprocess
    import sys

    raise SystemExit(subprocess.call([sys.executable, "-m", "pytest", __file__, "-q", "-p", "no:cacheprovider"]))
