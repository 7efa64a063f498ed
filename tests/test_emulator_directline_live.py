"""What the emulator's Direct Line shows while a bot's turn is still running, and what it keeps.

A bot's activities reach the clients as the bot sends them, not when its turn ends: the bot below sends typing and
"working on it...", then waits until the test has seen them arrive before it answers. Were they held until the
turn's end, the client would never see them before the answer and the test would fail (after its wait runs out).
Typing is pushed on the WebSocket only: never in GET /activities, never replayed from a watermark.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest
from httpx_ws import connect_ws
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import botconnect
import botconnect_aio
from botconnect.emulator import Emulator
from botconnect.models import Activity, ChannelAccount

from .directline_server import opened
from .harness import Env
from .threaded_server import emulator_for_bot

#: the longest the bot waits to be released; reaching it means the client never saw the typing
RELEASE_WAIT = 10.0


class SlowBot:
    """Answers a message with typing, "working on it...", then (once released) "done: <text>"."""

    def __init__(self) -> None:
        self.app = Starlette(routes=[Route("/api/messages", self.messages, methods=["POST"])])
        self.release = threading.Event()
        #: what happened, in order, on both sides ("answer sent" is the bot's, the rest the test's)
        self.events: list[str] = []
        self.errors: list[BaseException] = []

    def reset(self) -> None:
        self.release = threading.Event()
        self.events = []
        self.errors = []

    async def messages(self, request: Request) -> Response:
        activity = Activity.from_dict(json.loads(await request.body()))
        if activity.type != "message" or activity.conversation is None or activity.service_url is None:
            return Response(status_code=200)
        try:
            async with botconnect_aio.ConnectorClient(activity.service_url) as connector:
                conversations = connector.conversations
                cid, aid = activity.conversation.id, activity.id
                assert cid is not None
                assert aid is not None
                typing = activity.create_reply()
                typing.type = "typing"
                await conversations.reply_to_activity(cid, aid, typing)
                await conversations.reply_to_activity(cid, aid, activity.create_reply("working on it..."))
                released = await anyio.to_thread.run_sync(self.release.wait, RELEASE_WAIT)
                self.events.append("answer sent" if released else "answer sent unreleased")
                await conversations.reply_to_activity(cid, aid, activity.create_reply(f"done: {activity.text}"))
        except Exception as exc:  # reported by the test, not lost in the server
            self.errors.append(exc)
            return Response(status_code=500)
        return Response(status_code=200)


@pytest.fixture(scope="module")
def slow() -> Iterator[tuple[SlowBot, Emulator]]:
    bot = SlowBot()
    with emulator_for_bot(bot.app) as emulator:
        yield bot, emulator


@pytest.mark.parametrize("streaming", [True, False], ids=["stream", "polling"])
def test_the_bots_activities_arrive_while_its_turn_runs(
    env: Env, slow: tuple[SlowBot, Emulator], streaming: bool
) -> None:
    bot, emulator = slow
    bot.reset()
    sent: list[Any] = []
    received: list[tuple[str | None, str | None]] = []
    options: dict[str, Any] = {"user": "user-1", "streaming": streaming, "poll_interval": 0.05}
    with (
        env.construct("DirectLineClient", secret=emulator.secret, endpoint=emulator.url) as client,
        opened(env, client, **options) as conversation,
    ):

        def send() -> None:  # the post is answered when the turn is over: send from a thread
            try:
                sent.append(conversation.send("the report"))
            except Exception as exc:
                sent.append(exc)

        sender = threading.Thread(target=send)
        sender.start()
        try:
            for activity in conversation.activities(timeout=RELEASE_WAIT * 2):
                if activity.from_property is not None and activity.from_property.id == "user-1":
                    continue
                received.append((activity.type, activity.text))
                if activity.text == "working on it...":
                    bot.events.append("working seen")
                    bot.release.set()
                if activity.text and activity.text.startswith("done"):
                    break
        finally:
            bot.release.set()
            sender.join(30)
    assert bot.errors == []
    assert len(sent) == 1, sent
    assert isinstance(sent[0], str), sent
    assert bot.events == ["working seen", "answer sent"]
    # typing comes over the stream only; a polling client never sees it
    typing = [("typing", None)] if streaming else []
    assert received == [*typing, ("message", "working on it..."), ("message", "done: the report")]


def test_a_stream_sees_the_turn_in_the_order_it_happened(slow: tuple[SlowBot, Emulator]) -> None:
    bot, emulator = slow
    bot.reset()
    with botconnect.DirectLineClient(secret=emulator.secret, endpoint=emulator.url) as client:
        started = client.conversations.start_conversation()
        cid = started.conversation_id
        assert cid is not None
        assert started.stream_url is not None
        frames: list[dict[str, Any]] = []
        with httpx.Client() as http, connect_ws(started.stream_url.replace("ws://", "http://"), http) as ws:
            poster = threading.Thread(
                target=client.conversations.post_activity,
                args=(cid, Activity(type="message", text="x", from_property=ChannelAccount(id="user-1"))),
            )
            poster.start()
            try:
                while sum(len(f["activities"]) for f in frames) < 3:  # the post, typing, working on it
                    text = ws.receive_text(timeout=RELEASE_WAIT)
                    if text:
                        frames.append(json.loads(text))
                bot.release.set()
                while not any(a.get("text") == "done: x" for f in frames for a in f["activities"]):
                    text = ws.receive_text(timeout=RELEASE_WAIT)
                    if text:
                        frames.append(json.loads(text))
            finally:
                bot.release.set()
                poster.join(30)
    flat = [(a["type"], a.get("text")) for f in frames for a in f["activities"]]
    assert flat == [("message", "x"), ("typing", None), ("message", "working on it..."), ("message", "done: x")]
    typing_frames = [f for f in frames if any(a["type"] == "typing" for a in f["activities"])]
    assert len(typing_frames) == 1
    assert len(typing_frames[0]["activities"]) == 1
    assert "watermark" not in typing_frames[0]
    marks = [f["watermark"] for f in frames if "watermark" in f]
    assert marks[-1] == "3"  # the post, "working on it..." and "done: x": typing is not counted
    assert bot.events == ["answer sent"]


def test_typing_is_pushed_live_but_never_kept() -> None:
    with (
        Emulator() as emulator,
        botconnect.DirectLineClient(secret=emulator.secret, endpoint=emulator.url) as client,
        botconnect.ConnectorClient(emulator.service_url) as bot,
    ):
        started = client.conversations.start_conversation()
        cid = started.conversation_id
        assert cid is not None
        assert started.stream_url is not None
        user = ChannelAccount(id="user-1")
        with httpx.Client() as http, connect_ws(started.stream_url.replace("ws://", "http://"), http) as ws:
            bot_typing = bot.conversations.send_to_conversation(cid, Activity(type="typing"))
            user_typing = client.conversations.post_activity(cid, Activity(type="typing", from_property=user))
            bot.conversations.send_to_conversation(cid, Activity(type="message", text="hello"))
            frames: list[dict[str, Any]] = []
            while not any(a.get("text") == "hello" for f in frames for a in f["activities"]):
                text = ws.receive_text(timeout=10)
                if text:
                    frames.append(json.loads(text))
        live = [(a["type"], a["id"]) for f in frames for a in f["activities"]]
        assert live[:2] == [("typing", bot_typing.id), ("typing", user_typing.id)]
        assert [t for t, _ in live[2:]] == ["message"]
        assert len({i for _, i in live}) == 3  # typing has ids of its own, never reused

        history = client.conversations.get_activities(cid)
        assert [(a.type, a.text) for a in history.activities] == [("message", "hello")]
        assert history.watermark == "2"  # "hello" is number 2: the typing took 0 and 1
        assert client.conversations.get_activities(cid, watermark="-").activities == history.activities

        # a stream reconnected from the start replays the history, without the typing
        resumed = client.conversations.reconnect_to_conversation(cid, watermark="-")
        assert resumed.stream_url is not None
        with httpx.Client() as http, connect_ws(resumed.stream_url.replace("ws://", "http://"), http) as ws:
            replay = json.loads(ws.receive_text(timeout=10))
        assert [a["type"] for a in replay["activities"]] == ["message"]
        assert replay["watermark"] == "2"
