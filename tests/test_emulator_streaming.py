"""A bot streaming an answer with StreamingReply through the emulator, and a Direct Line client session (sync,
asyncio, trio) watching it arrive: the informative update, each streaming update as it is sent (the bot waits for
the client to see one before it sends the next), in order with growing ``streamSequence``, and the final message
with the first update's id as ``streamId`` and the bot's entities intact."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import botconnect
import botconnect_aio
from botconnect.emulator import Emulator
from botconnect.models import Activity, Entity
from botconnect.streaming import StreamInfo

from .directline_server import opened
from .harness import Env
from .threaded_server import emulator_for_bot

CHUNKS = ["Streaming ", "shows ", "the answer ", "as it comes."]
AI_LABEL = {"type": "https://schema.org/Message", "@type": "Message", "additionalType": ["AIGeneratedContent"]}
#: how long the bot waits for the client to see an update before it gives up on seeing it live
LIVE_WAIT = 10.0


class StreamingBot:
    """Answers each message with a streamed answer: one informative update, then CHUNKS, then the final message.

    After each update it waits for the client to report that update's ``streamSequence`` as seen: if the emulator
    held the updates back until the bot's turn ended, the wait would run out and ``live`` would be False.
    """

    def __init__(self) -> None:
        self.sync = False
        self.seen: dict[int, threading.Event] = {}
        self.live = True
        self.errors: list[BaseException] = []
        self.app = Starlette(routes=[Route("/api/messages", self.messages, methods=["POST"])])

    def reset(self, *, sync: bool) -> None:
        self.sync = sync
        self.seen = {n: threading.Event() for n in range(1, len(CHUNKS) + 2)}
        self.live = True
        self.errors = []

    def saw(self, sequence: int) -> None:
        self.seen[sequence].set()

    def _wait_seen(self, sequence: int) -> None:
        if not self.seen[sequence].wait(LIVE_WAIT):
            self.live = False

    async def messages(self, request: Request) -> Response:
        incoming = Activity.from_dict(await request.json())
        if incoming.type != "message":
            return Response(status_code=200)
        try:
            if self.sync:
                await anyio.to_thread.run_sync(self._answer_sync, incoming)
            else:
                await self._answer_async(incoming)
        except BaseException as exc:
            self.errors.append(exc)
            raise
        return Response(status_code=200)

    async def _answer_async(self, incoming: Activity) -> None:
        assert incoming.service_url
        async with (
            botconnect_aio.ConnectorClient(incoming.service_url) as client,
            botconnect_aio.StreamingReply(client, incoming, interval=0) as stream,
        ):
            await stream.update("Searching the docs...")
            await anyio.to_thread.run_sync(self._wait_seen, 1)
            for number, chunk in enumerate(CHUNKS, start=2):
                await stream.append(chunk)
                await anyio.to_thread.run_sync(self._wait_seen, number)
            stream.final_activity.entities = [Entity.from_dict(AI_LABEL)]

    def _answer_sync(self, incoming: Activity) -> None:
        assert incoming.service_url
        with (
            botconnect.ConnectorClient(incoming.service_url) as client,
            botconnect.StreamingReply(client, incoming, interval=0) as stream,
        ):
            stream.update("Searching the docs...")
            self._wait_seen(1)
            for number, chunk in enumerate(CHUNKS, start=2):
                stream.append(chunk)
                self._wait_seen(number)
            stream.final_activity.entities = [Entity.from_dict(AI_LABEL)]


@pytest.fixture(scope="module")
def running() -> Iterator[tuple[StreamingBot, Emulator]]:
    bot = StreamingBot()
    with emulator_for_bot(bot.app) as emulator:
        yield bot, emulator


@pytest.mark.parametrize("bot_flavour", ["async bot", "sync bot"])
def test_a_direct_line_client_sees_the_stream_arrive_in_order(
    env: Env, running: tuple[StreamingBot, Emulator], bot_flavour: str
) -> None:
    bot, emulator = running
    bot.reset(sync=bot_flavour == "sync bot")
    received: list[Activity] = []
    with (
        env.construct("DirectLineClient", secret=emulator.secret, endpoint=emulator.url) as directline,
        opened(env, directline, user="user-1") as conversation,
    ):
        # the post returns only once the bot's turn is over: send from a thread, watch from this one
        sent: list[Any] = []

        def send() -> None:
            try:
                sent.append(conversation.send("what is streaming?"))
            except Exception as exc:  # reported below, not lost in the thread
                sent.append(exc)

        sender = threading.Thread(target=send)
        sender.start()
        try:
            for activity in conversation.activities(timeout=30):
                if activity.from_property is None or activity.from_property.id == "user-1":
                    continue
                received.append(activity)
                info = StreamInfo.from_activity(activity)
                if info is not None and info.stream_sequence is not None:
                    bot.saw(info.stream_sequence)
                if activity.type == "message":
                    break
        finally:
            sender.join(30)

    assert bot.errors == []
    assert len(sent) == 1
    assert isinstance(sent[0], str), sent
    assert bot.live, "an update reached the client only after the bot's turn ended"
    infos = [StreamInfo.from_activity(activity) for activity in received]
    first_id = received[0].id
    assert first_id
    expected_texts = ["Searching the docs..."] + ["".join(CHUNKS[:n]) for n in range(1, len(CHUNKS) + 1)]
    assert [(a.type, a.text) for a in received] == [("typing", t) for t in expected_texts] + [
        ("message", "".join(CHUNKS))
    ]
    assert infos == [
        StreamInfo("informative", None, 1),
        *(StreamInfo("streaming", first_id, n) for n in range(2, len(CHUNKS) + 2)),
        StreamInfo("final", first_id, None),
    ]
    final = received[-1]
    assert final.entities is not None
    assert [e.to_dict() for e in final.entities][1:] == [AI_LABEL]
    assert [a.reply_to_id for a in received] == [received[0].reply_to_id] * len(received)
    assert received[0].reply_to_id is not None
