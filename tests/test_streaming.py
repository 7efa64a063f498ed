"""StreamingReply, three ways (sync, asyncio, trio), against a FakeService behind a real ConnectorClient: the exact
Teams streaming wire sequence, throttling on a fake clock, 429s on updates and on the final message, the user's
Stop (403 ContentStreamNotAllowed), cancellation, channels that do not stream, and what is refused up front."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from botconnect import errors
from botconnect._core.retry import RetryPolicy
from botconnect.models import (
    Activity,
    Attachment,
    ChannelAccount,
    ConversationAccount,
    Entity,
    ResourceResponse,
)
from botconnect.streaming import StreamInfo, StreamStoppedError

from .harness import Env, FakeService
from .swagger import SwaggerDoc, load_swagger

SERVICE_URL = "https://smba.trafficmanager.net/amer/"
CONV = "a:1Xy/z?conv#1"
CONV_RAW = "a%3A1Xy%2Fz%3Fconv%231"
INCOMING_ID = "1712:in/1"
INCOMING_RAW = "1712%3Ain%2F1"
REPLY_PATH = f"/amer/v3/conversations/{CONV_RAW}/activities/{INCOMING_RAW}"
SEND_PATH = f"/amer/v3/conversations/{CONV_RAW}/activities"
STOPPED = {"error": {"code": "ContentStreamNotAllowed", "message": "Content stream was cancelled by user."}}

#: how every outgoing activity is addressed (the reply to incoming()), written out by hand
ADDRESS = {
    "from": {"id": "28:bot", "name": "Answer bot"},
    "recipient": {"id": "29:user", "name": "Ada"},
    "conversation": {"id": CONV},
    "replyToId": INCOMING_ID,
    "serviceUrl": SERVICE_URL,
    "channelId": "msteams",
    "locale": "en-GB",
}


def incoming(channel: str = "msteams", *, activity_id: str | None = INCOMING_ID, **conversation: Any) -> Activity:
    return Activity(
        type="message",
        id=activity_id,
        text="what is streaming?",
        locale="en-GB",
        channel_id=channel,
        service_url=SERVICE_URL,
        from_property=ChannelAccount(id="29:user", name="Ada"),
        recipient=ChannelAccount(id="28:bot", name="Answer bot"),
        conversation=ConversationAccount(id=CONV, **conversation),
    )


def update(kind: str, text: str, sequence: int, stream_id: str | None = "stream-1", **address: Any) -> dict[str, Any]:
    info: dict[str, Any] = {"type": "streaminfo", "streamType": kind, "streamSequence": sequence}
    if stream_id is not None:
        info["streamId"] = stream_id
    return {**ADDRESS, **address, "type": "typing", "text": text, "entities": [info]}


class FakeClock:
    """Time moves only when a test says so, or when the stream sleeps (each sleep is recorded)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)


@pytest.fixture
def docs(reference: Path) -> SwaggerDoc:
    return load_swagger(reference / "connector" / "ConnectorAPI.json")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def open_stream(env: Env, fake: FakeService, clock: FakeClock, docs: SwaggerDoc) -> Iterator[Callable[..., Any]]:
    """``open_stream(activity=None, **options)`` -> a StreamingReply on a ConnectorClient to the FakeService."""
    clients: list[Any] = []

    def make(activity: Activity | None = None, **options: Any) -> Any:
        client = env.construct("ConnectorClient", SERVICE_URL, transport=fake.transport)
        clients.append(client)
        raw = client.unwrapped if env.is_async else client
        options.setdefault("sleep", clock.async_sleep if env.is_async else clock.sleep)
        return env.construct("StreamingReply", raw, activity or incoming(), clock=clock, **options)

    yield make
    for client in clients:
        client.close()
    for request in fake.requests:  # whatever a test sent is a valid Connector request
        assert docs.validate_request(request, base_path="/amer").operation_id in (
            "Conversations_ReplyToActivity",
            "Conversations_SendToConversation",
        )


def bodies(fake: FakeService) -> list[dict[str, Any]]:
    return [json.loads(request.content) for request in fake.requests]


def sequences(fake: FakeService) -> list[int | None]:
    return [StreamInfo.from_activity(Activity.from_dict(body)).stream_sequence for body in bodies(fake)]  # type: ignore[union-attr]


# -- the wire -------------------------------------------------------------------------------------------------


def test_the_exact_teams_wire_sequence(open_stream: Callable[..., Any], fake: FakeService, clock: FakeClock) -> None:
    for answer in ("stream-1", "stream-1b", "stream-1c", "final-9"):
        fake.reply(201, json_body={"id": answer})
    stream = open_stream()
    stream.update("Searching the docs...")
    assert stream.stream_id == "stream-1"
    clock.now += 1.0
    stream.append("Streaming ")
    clock.now += 1.0
    stream.append("is neat.")
    clock.now += 1.0
    card = Attachment(content_type="application/vnd.microsoft.card.adaptive", content={"type": "AdaptiveCard"})
    label = Entity(type="https://schema.org/Message", additional_properties={"additionalType": ["AIGeneratedContent"]})
    stream.final_activity.attachments = [card]
    stream.final_activity.entities = [label]
    result = stream.end()

    assert result == ResourceResponse(id="final-9")
    assert stream.state == "ended"
    assert [(r.method, r.url.raw_path.decode()) for r in fake.requests] == [("POST", REPLY_PATH)] * 4
    assert all(r.headers["content-type"] == "application/json; charset=utf-8" for r in fake.requests)
    assert bodies(fake) == [
        update("informative", "Searching the docs...", 1, None),
        update("streaming", "Streaming ", 2),
        update("streaming", "Streaming is neat.", 3),
        {
            **ADDRESS,
            "type": "message",
            "text": "Streaming is neat.",
            "attachments": [
                {"contentType": "application/vnd.microsoft.card.adaptive", "content": {"type": "AdaptiveCard"}}
            ],
            "entities": [
                {"type": "streaminfo", "streamId": "stream-1", "streamType": "final"},
                {"type": "https://schema.org/Message", "additionalType": ["AIGeneratedContent"]},
            ],
        },
    ]
    assert clock.sleeps == []  # the test let the interval pass each time
    assert stream.final_activity.entities == [label]  # the caller's object is not changed by sending


def test_without_a_replyable_id_it_posts_to_the_conversation(
    open_stream: Callable[..., Any], fake: FakeService, clock: FakeClock
) -> None:
    fake.reply(200, json_body={"id": "s-7"})
    fake.reply(200, json_body={"id": "f-8"})
    stream = open_stream(incoming(activity_id=None))
    stream.append("hi")
    clock.now += 1.0
    assert stream.end().id == "f-8"
    assert [r.url.raw_path.decode() for r in fake.requests] == [SEND_PATH, SEND_PATH]
    expected = update("streaming", "hi", 1, None)
    del expected["replyToId"]
    assert bodies(fake)[0] == expected
    assert "replyToId" not in bodies(fake)[1]


def test_leaving_the_block_normally_sends_the_final_message(
    env: Env, open_stream: Callable[..., Any], fake: FakeService, clock: FakeClock
) -> None:
    fake.reply(200, json_body={"id": "stream-1"})
    fake.reply(200, json_body={"id": "final"})
    with open_stream() as stream:
        stream.append("one")
        clock.now += 1.0
    assert stream.state == "ended"
    assert [body["type"] for body in bodies(fake)] == ["typing", "message"]
    assert bodies(fake)[1]["text"] == "one"


# -- throttling -----------------------------------------------------------------------------------------------


def test_fast_chunks_coalesce_one_update_per_interval(
    open_stream: Callable[..., Any], fake: FakeService, clock: FakeClock
) -> None:
    for answer in ("stream-1", "u2", "u3", "final"):
        fake.reply(200, json_body={"id": answer})
    stream = open_stream()
    chunks = [f"w{i} " for i in range(24)]
    for chunk in chunks:  # 8 chunks a second, for three seconds
        stream.append(chunk)
        clock.now += 0.125
    stream.end()

    texts = [body["text"] for body in bodies(fake)]
    # one update at 0 s, 1 s and 2 s, each with everything so far; the rest only in the final message
    assert texts == ["w0 ", "".join(chunks[:9]), "".join(chunks[:17]), "".join(chunks)]
    assert sequences(fake) == [1, 2, 3, None]
    assert [body["type"] for body in bodies(fake)] == ["typing"] * 3 + ["message"]
    assert clock.sleeps == []  # a second had passed since the update at 2 s: the final went at once


def test_end_and_update_wait_out_the_interval_append_never_does(
    open_stream: Callable[..., Any], fake: FakeService, clock: FakeClock
) -> None:
    for answer in ("stream-1", "u2", "final"):
        fake.reply(200, json_body={"id": answer})
    stream = open_stream(interval=2.0)
    stream.append("a")
    clock.now += 0.5
    stream.append("b")  # too soon: kept, no wait
    assert clock.sleeps == []
    assert len(fake.requests) == 1
    stream.update("Checking sources...")
    assert clock.sleeps == [1.5]
    assert bodies(fake)[1] == update("informative", "Checking sources...", 2)
    clock.now += 0.25
    stream.end()
    assert clock.sleeps == [1.5, 1.75]
    assert bodies(fake)[2]["text"] == "ab"


# -- throttled by the service ---------------------------------------------------------------------------------


def test_a_throttled_update_is_dropped_and_superseded(
    open_stream: Callable[..., Any], fake: FakeService, clock: FakeClock
) -> None:
    fake.reply(200, json_body={"id": "stream-1"})
    fake.reply(429, json_body={"error": {"code": "Throttled", "message": "slow down"}}, headers={"Retry-After": "3"})
    fake.reply(200, json_body={"id": "u"})
    fake.reply(200, json_body={"id": "final"})
    stream = open_stream()
    stream.append("one")
    clock.now += 1.0
    stream.append(" two")  # answered 429: dropped, not raised
    clock.now += 1.0
    stream.append(" three")  # Retry-After 3 s has not passed: kept
    assert len(fake.requests) == 2
    clock.now += 2.0
    stream.append(" four")
    stream.end()
    assert [body["text"] for body in bodies(fake)] == ["one", "one two", "one two three four", "one two three four"]
    # the service did not take the 429'd update: its number is used again
    assert sequences(fake) == [1, 2, 2, None]
    assert bodies(fake)[3]["entities"][0] == {"type": "streaminfo", "streamId": "stream-1", "streamType": "final"}
    assert clock.sleeps == [1.0]  # the final waited for the interval after the last update


def test_updates_failing_with_5xx_or_no_connection_are_dropped(
    open_stream: Callable[..., Any], fake: FakeService, clock: FakeClock
) -> None:
    fake.reply(200, json_body={"id": "stream-1"})
    fake.reply(502, json_body={"error": {"code": "BadGateway", "message": "x"}})
    fake.fail(httpx.ConnectError("refused"))
    fake.reply(200, json_body={"id": "u"})
    fake.reply(200, json_body={"id": "final"})
    stream = open_stream()
    for word in ("a", "b", "c", "d"):
        stream.append(word)
        clock.now += 1.0
    assert stream.end().id == "final"
    # a 502 may have been acted on (its number is spent); a connection never made was not
    assert sequences(fake)[:-1] == [1, 2, 3, 3]
    assert [body["text"] for body in bodies(fake)][-2:] == ["abcd", "abcd"]


def test_a_throttled_final_message_is_retried_until_sent(
    open_stream: Callable[..., Any], fake: FakeService, clock: FakeClock
) -> None:
    fake.reply(200, json_body={"id": "stream-1"})
    throttled = {"error": {"code": "Throttled", "message": "slow down"}}
    fake.reply(429, json_body=throttled, headers={"Retry-After": "2"})
    fake.reply(429, json_body=throttled, headers={"Retry-After": "0.5"})
    fake.reply(503, json_body=throttled, headers={"Retry-After": "4"})
    fake.reply(201, json_body={"id": "final"})
    stream = open_stream()
    stream.append("answer")
    clock.now += 1.0
    assert stream.end() == ResourceResponse(id="final")
    assert clock.sleeps == [2.0, 0.5, 4.0]
    finals = bodies(fake)[1:]
    assert len(finals) == 4
    assert all(body == finals[0] for body in finals)
    assert finals[0]["text"] == "answer"


def test_a_final_message_throttled_past_the_budget_raises_and_can_be_ended_again(
    open_stream: Callable[..., Any], fake: FakeService, clock: FakeClock
) -> None:
    throttled = {"error": {"code": "Throttled", "message": "slow down"}}
    fake.reply(429, json_body=throttled, headers={"Retry-After": "1"})
    fake.reply(429, json_body=throttled, headers={"Retry-After": "1"})
    fake.reply(429, json_body=throttled, headers={"Retry-After": "90"})  # longer than max_retry_after: give up
    fake.reply(200, json_body={"id": "final"})
    stream = open_stream(retry_policy=RetryPolicy(max_attempts=5, max_retry_after=30))
    stream.append("answer")
    with pytest.raises(errors.RateLimitError) as caught:
        stream.end()
    assert caught.value.retry_after == 90
    assert len(fake.requests) == 3
    assert clock.sleeps == [1.0, 1.0]
    assert stream.state == "open"
    assert stream.end().id == "final"
    assert stream.state == "ended"


# -- stopped by the user --------------------------------------------------------------------------------------


def test_stop_pressed_mid_stream_stops_everything(
    open_stream: Callable[..., Any], fake: FakeService, clock: FakeClock
) -> None:
    fake.reply(200, json_body={"id": "stream-1"})
    fake.reply(403, json_body=STOPPED)
    stream = open_stream()

    def answer() -> None:
        with stream:
            stream.append("one")
            clock.now += 1.0
            stream.append(" two")

    with pytest.raises(StreamStoppedError) as caught:
        answer()
    assert isinstance(caught.value, errors.PermissionDeniedError)
    assert caught.value.status_code == 403
    assert caught.value.error_code == "ContentStreamNotAllowed"
    assert stream.state == "stopped"
    clock.now += 5.0
    for call in (lambda: stream.append(" three"), lambda: stream.update("..."), stream.end):
        with pytest.raises(StreamStoppedError):
            call()
    assert len(fake.requests) == 2  # nothing after the 403, not even a final message on leaving the block


def test_stop_pressed_before_the_final_message(
    open_stream: Callable[..., Any], fake: FakeService, clock: FakeClock
) -> None:
    fake.reply(200, json_body={"id": "stream-1"})
    fake.reply(403, json_body=STOPPED)
    stream = open_stream()
    stream.append("one")
    clock.now += 1.0
    with pytest.raises(StreamStoppedError):
        stream.end()
    assert stream.state == "stopped"
    assert len(fake.requests) == 2


def test_other_errors_on_an_update_are_raised(
    open_stream: Callable[..., Any], fake: FakeService, clock: FakeClock
) -> None:
    fake.reply(200, json_body={"id": "stream-1"})
    fake.reply(403, json_body={"error": {"code": "Forbidden", "message": "not in this team"}})
    stream = open_stream()
    stream.append("one")
    clock.now += 1.0
    with pytest.raises(errors.PermissionDeniedError) as caught:
        stream.append(" two")
    assert not isinstance(caught.value, StreamStoppedError)
    assert stream.state == "open"


# -- cancelled ------------------------------------------------------------------------------------------------


def test_cancel_sends_nothing_more(open_stream: Callable[..., Any], fake: FakeService, clock: FakeClock) -> None:
    fake.reply(200, json_body={"id": "stream-1"})
    with open_stream() as stream:
        stream.append("partial")
        stream.cancel()
        stream.cancel()  # twice is fine
        with pytest.raises(RuntimeError, match="cancelled"):
            stream.append(" more")
    assert stream.state == "cancelled"
    with pytest.raises(RuntimeError, match="cancelled"):
        stream.end()
    assert len(fake.requests) == 1


def test_an_exception_in_the_block_abandons_the_stream(
    open_stream: Callable[..., Any], fake: FakeService, clock: FakeClock
) -> None:
    fake.reply(200, json_body={"id": "stream-1"})
    stream = open_stream()

    def answer() -> None:
        with stream:
            stream.append("partial")
            clock.now += 1.0
            raise KeyError("the model failed")

    with pytest.raises(KeyError):
        answer()
    assert stream.state == "cancelled"
    assert len(fake.requests) == 1  # no final message the bot did not ask for


# -- channels that do not stream ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("activity", "options"),
    [
        (incoming("slack"), {}),
        (incoming("msteams", conversation_type="groupChat", is_group=True), {}),
        (incoming("msteams", conversation_type="channel"), {}),
        (incoming("msteams"), {"streaming": False}),
    ],
    ids=["slack", "teams-group-chat", "teams-channel", "streaming-False"],
)
def test_without_streaming_one_message_is_sent(
    open_stream: Callable[..., Any], fake: FakeService, clock: FakeClock, activity: Activity, options: dict[str, Any]
) -> None:
    fake.reply(200, json_body={"id": "only"})
    stream = open_stream(activity, **options)
    assert stream.streaming is False
    stream.update("Searching...")
    for chunk in ("Hello", " world"):
        stream.append(chunk)
        clock.now += 1.0
    stream.final_activity.entities = [Entity(type="https://schema.org/Message")]
    assert stream.end().id == "only"
    assert len(fake.requests) == 1
    assert clock.sleeps == []
    body = bodies(fake)[0]
    assert body["type"] == "message"
    assert body["text"] == "Hello world"
    assert body["entities"] == [{"type": "https://schema.org/Message"}]  # no streaminfo at all


@pytest.mark.parametrize("channel", ["directline", "webchat"])
def test_direct_line_and_web_chat_stream(open_stream: Callable[..., Any], fake: FakeService, channel: str) -> None:
    assert open_stream(incoming(channel)).streaming is True
    assert open_stream(incoming("slack"), streaming=True).streaming is True


def test_a_channel_refusing_the_first_update_with_400_gets_one_message(
    open_stream: Callable[..., Any], fake: FakeService, clock: FakeClock
) -> None:
    fake.reply(400, json_body={"error": {"code": "BadArgument", "message": "Streaming is not supported here"}})
    fake.reply(200, json_body={"id": "only"})
    stream = open_stream()
    stream.update("Thinking...")
    assert stream.streaming is False
    stream.append("answer")
    clock.now += 5.0
    stream.append(" more")
    stream.end()
    assert [body["type"] for body in bodies(fake)] == ["typing", "message"]
    assert "entities" not in bodies(fake)[1]
    assert bodies(fake)[1]["text"] == "answer more"


# -- refused before anything is sent --------------------------------------------------------------------------


def test_bad_input_is_refused_before_sending(
    open_stream: Callable[..., Any], fake: FakeService, clock: FakeClock
) -> None:
    stream = open_stream()
    with pytest.raises(TypeError):
        stream.append(5)
    with pytest.raises(TypeError):
        stream.append(b"bytes")
    with pytest.raises(TypeError):
        stream.update(None)
    with pytest.raises(ValueError, match="text"):
        stream.update("  ")
    with pytest.raises(ValueError, match="nothing to send"):
        stream.end()
    assert fake.requests == []
    no_conversation = incoming()
    no_conversation.conversation = None
    cases: list[tuple[Any, dict[str, Any], type[Exception]]] = [
        ({"type": "message"}, {}, TypeError),
        (no_conversation, {}, ValueError),
        (incoming(), {"interval": -1}, ValueError),
        (incoming(), {"interval": True}, ValueError),
        (incoming(), {"interval": float("nan")}, ValueError),
        (incoming(), {"streaming": "yes"}, TypeError),
        (incoming(), {"retry_policy": 3}, TypeError),
    ]
    for activity, options, error in cases:
        with pytest.raises(error):
            open_stream(activity, **options)


def test_nothing_goes_after_the_end(open_stream: Callable[..., Any], fake: FakeService, clock: FakeClock) -> None:
    fake.reply(200, json_body={"id": "only"})
    stream = open_stream(incoming("slack"))
    stream.append("done")
    stream.end()
    for call in (lambda: stream.append("more"), lambda: stream.update("more"), stream.end):
        with pytest.raises(RuntimeError, match="ended"):
            call()
    assert len(fake.requests) == 1


def test_stream_info_reads_what_a_client_receives() -> None:
    received = Activity.from_dict(
        {"type": "typing", "entities": [{"type": "other"}, update("streaming", "x", 4)["entities"][0]]}
    )
    assert StreamInfo.from_activity(received) == StreamInfo("streaming", "stream-1", 4)
    assert StreamInfo.from_activity(Activity(type="message")) is None
    odd = Activity.from_dict({"type": "typing", "entities": [{"type": "streaminfo", "streamSequence": True}]})
    assert StreamInfo.from_activity(odd) == StreamInfo()
    assert StreamInfo("final", "s").to_entity().to_dict() == {
        "type": "streaminfo",
        "streamId": "s",
        "streamType": "final",
    }
