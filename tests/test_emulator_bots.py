"""Delivery to bots as the Bot Framework service does it: HTTP POST to the messaging endpoint with ``serviceUrl``
pointing back at the emulator, replies through the Connector reaching Direct Line clients, 502 when the bot fails;
and the built-in echo bot, which is a real bot on our own ConnectorClient."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import botconnect
import botconnect_aio
from botconnect.emulator import Emulator
from botconnect.models import Activity, ChannelAccount, ConversationParameters

from .threaded_server import emulator_for_bot

USER = ChannelAccount(id="user-1", name="User One")


class UserBot:
    """A bot of the user's own: records what it is sent, answers ``got: <text>`` through the Connector."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.fail = False
        self.app = Starlette(routes=[Route("/api/messages", self.messages, methods=["POST"])])

    async def messages(self, request: Request) -> Response:
        activity = await request.json()
        self.received.append(activity)
        if self.fail:
            return Response(status_code=500)
        if activity["type"] == "message":
            incoming = Activity.from_dict(activity)
            async with botconnect_aio.ConnectorClient(incoming.service_url) as connector:
                reply = incoming.create_reply(f"got: {incoming.text}")
                await connector.conversations.reply_to_activity(incoming.conversation.id, incoming.id, reply)
        return Response(status_code=200)


@pytest.fixture(scope="module")
def user_bot() -> Iterator[tuple[UserBot, Emulator]]:
    bot = UserBot()
    with emulator_for_bot(bot.app) as emulator:
        yield bot, emulator


@pytest.fixture
def bot(user_bot: tuple[UserBot, Emulator]) -> Iterator[UserBot]:
    user_bot[0].received.clear()
    user_bot[0].fail = False
    yield user_bot[0]
    user_bot[0].fail = False


def test_activities_are_posted_to_the_bot_with_the_service_url(
    bot: UserBot, user_bot: tuple[UserBot, Emulator]
) -> None:
    emulator = user_bot[1]
    with emulator.directline_client() as client:
        cid = client.conversations.start_conversation().conversation_id
        sent = client.conversations.post_activity(cid, Activity(type="message", text="hi", from_property=USER))
    started, joined, message = bot.received
    assert started["type"] == joined["type"] == "conversationUpdate"
    assert [m["id"] for m in started["membersAdded"]] == ["echo-bot"]
    assert [m["id"] for m in joined["membersAdded"]] == ["user-1"]
    assert message["type"] == "message"
    assert message["text"] == "hi"
    assert message["id"] == sent.id
    assert message["serviceUrl"] == emulator.service_url
    assert message["channelId"] == "directline"
    assert message["conversation"]["id"] == cid
    assert message["from"]["id"] == "user-1"
    assert message["recipient"]["id"] == "echo-bot"


def test_the_bots_connector_replies_reach_direct_line(bot: UserBot, user_bot: tuple[UserBot, Emulator]) -> None:
    with user_bot[1].directline_client() as client:
        cid = client.conversations.start_conversation().conversation_id
        sent = client.conversations.post_activity(cid, Activity(type="message", text="ping", from_property=USER))
        activities = client.conversations.get_activities(cid).activities
    assert [(a.from_property.id, a.text) for a in activities] == [("user-1", "ping"), ("echo-bot", "got: ping")]
    assert activities[1].reply_to_id == sent.id


def test_a_failing_bot_makes_the_post_fail_with_502(bot: UserBot, user_bot: tuple[UserBot, Emulator]) -> None:
    bot.fail = True
    with user_bot[1].directline_client(retry_policy=botconnect.NO_RETRIES) as client:
        cid = client.conversations.start_conversation().conversation_id  # a failed conversationUpdate is not fatal
        with pytest.raises(botconnect.HttpResponseError) as caught:
            client.conversations.post_activity(cid, Activity(type="message", text="boom", from_property=USER))
    assert caught.value.status_code == 502
    assert caught.value.error_code == "BotError"


def test_an_unreachable_bot_is_502() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with (
        Emulator(bot=f"http://127.0.0.1:{port}/api/messages") as emulator,
        emulator.directline_client(retry_policy=botconnect.NO_RETRIES) as client,
    ):
        cid = client.conversations.start_conversation().conversation_id
        with pytest.raises(botconnect.HttpResponseError) as caught:
            client.conversations.post_activity(cid, Activity(type="message", text="anyone?", from_property=USER))
    assert caught.value.status_code == 502


@pytest.fixture(scope="module")
def echo() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


def test_the_echo_bot_answers_through_the_connector_and_says_goodbye(echo: Emulator) -> None:
    with echo.directline_client() as client:
        cid = client.conversations.start_conversation().conversation_id
        sent = client.conversations.post_activity(cid, Activity(type="message", text="bye", from_property=USER))
        activities = client.conversations.get_activities(cid).activities
    assert [(a.type, a.text) for a in activities] == [
        ("message", "bye"),
        ("message", "echo: bye"),
        ("endOfConversation", None),
    ]
    assert activities[1].reply_to_id == sent.id
    assert activities[1].recipient.id == "user-1"
    assert activities[2].code == "completedSuccessfully"
    assert echo.app.echo_bot is not None
    heard = [a for a in echo.app.echo_bot.received if a["type"] == "message"]
    assert heard[-1]["serviceUrl"] == echo.service_url


def test_the_echo_bot_works_without_a_socket() -> None:
    with Emulator(socket=False) as emulator, emulator.directline_client() as client:
        cid = client.conversations.start_conversation().conversation_id
        client.conversations.post_activity(cid, Activity(type="message", text="offline", from_property=USER))
        texts = [a.text for a in client.conversations.get_activities(cid).activities]
    assert texts == ["offline", "echo: offline"]


def test_a_bot_started_conversation_is_readable_over_direct_line(echo: Emulator) -> None:
    with echo.connector_client() as connector, echo.directline_client() as client:
        created = connector.conversations.create_conversation(
            ConversationParameters(members=[USER], activity=Activity(type="message", text="proactive"))
        )
        resumed = client.conversations.reconnect_to_conversation(created.id, watermark="0")
        activities = client.conversations.get_activities(created.id).activities
    assert resumed.conversation_id == created.id
    assert [(a.id, a.text) for a in activities] == [(created.activity_id, "proactive")]
