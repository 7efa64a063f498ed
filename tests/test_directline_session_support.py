"""The pure helpers around the Direct Line session core: frames, dedupe, the inbox, URLs, users, settings."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest

from botconnect._core.directline_session_support import (
    Batch,
    ConnectionStatus,
    Inbox,
    Keepalive,
    MalformedFrame,
    SeenIds,
    SessionConfig,
    UnknownFrame,
    outgoing_activity,
    parse_frame,
    protect_stream_urls_in_logs,
    redact_url,
    session_config,
    session_user,
    stream_http_url,
)
from botconnect.models import Activity, ChannelAccount
from botconnect.models.directline import ActivitySet

STREAM = "wss://directline.example.com/v3/directline/conversations/c1/stream?t=SECRET-STREAM-TOKEN"


def frame(start: int, end: int, **extra: Any) -> str:
    activities = [{"type": "message", "id": f"c1|{i:07d}", "text": f"m{i}"} for i in range(start, end)]
    return json.dumps({"activities": activities, "watermark": str(end), **extra})


# -- frames -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("data", ["", "   ", "\r\n", b"", b"  "])
def test_empty_frames_are_keepalives(data: str | bytes) -> None:
    assert parse_frame(data) == Keepalive()


def test_activity_set_frame_ignores_unknown_root_properties() -> None:
    parsed = parse_frame(frame(0, 2, futureField={"x": 1}))
    assert isinstance(parsed, ActivitySet)
    assert [a.text for a in parsed.activities or []] == ["m0", "m1"]
    assert parsed.watermark == "2"


def test_numeric_watermark_is_kept_as_string() -> None:
    parsed = parse_frame('{"activities": [], "watermark": 7}')
    assert isinstance(parsed, ActivitySet)
    assert parsed.watermark == "7"


def test_frame_without_activities_is_an_unknown_type() -> None:
    assert parse_frame('{"someFutureType": {}, "z": 1}') == UnknownFrame(("someFutureType", "z"))


@pytest.mark.parametrize(
    "data",
    [
        "{not json",
        "[1, 2]",
        '"text"',
        '{"activities": {"id": "1"}}',
        '{"activities": ["x"]}',
        '{"activities": [], "watermark": true}',
        '{"activities": [], "watermark": {"a": 1}}',
        '{"activities": [{"id": 5, "timestamp": "not a date"}]}',
        b"\xff\xfe",
    ],
)
def test_malformed_frames_are_reported_not_raised(data: str | bytes) -> None:
    assert isinstance(parse_frame(data), MalformedFrame)


def test_seen_ids_is_a_bounded_lru() -> None:
    seen = SeenIds(3)
    assert [seen.add(x) for x in "abc"] == [True, True, True]
    assert seen.add("a") is False  # refreshes a
    assert seen.add("d") is True  # evicts b, the least recently seen
    assert "b" not in seen
    assert "a" in seen
    assert len(seen) == 3
    with pytest.raises(ValueError):
        SeenIds(0)


# -- URLs, users, outgoing activities -----------------------------------------------------------------------


def test_stream_url_conversion_and_safety() -> None:
    assert stream_http_url(STREAM).startswith("https://directline.example.com/v3/")
    assert stream_http_url("ws://127.0.0.1:5000/s?t=x") == "http://127.0.0.1:5000/s?t=x"
    assert stream_http_url("https://a.example/s").startswith("https://")
    for bad in ["ws://evil.example/s?t=x", "http://evil.example/s", "ftp://x/y", "", "wss:///nohost"]:
        with pytest.raises(ValueError) as info:
            stream_http_url(bad)
        assert "t=x" not in str(info.value)


def test_redact_url_drops_the_token() -> None:
    assert redact_url(STREAM) == "wss://directline.example.com/v3/directline/conversations/c1/stream?<query>"
    assert "SECRET" not in redact_url(STREAM)
    assert redact_url("https://x.example/a") == "https://x.example/a"


def test_session_user() -> None:
    assert session_user("u1") == ChannelAccount(id="u1")
    account = ChannelAccount(id="u2", name="Ann")
    assert session_user(account) is account
    generated = session_user(None).id
    assert generated is not None
    assert generated.startswith("dl_")
    assert generated != session_user(None).id
    for bad, exc in [("", ValueError), (ChannelAccount(name="x"), ValueError), (42, TypeError)]:
        with pytest.raises(exc):
            session_user(bad)  # type: ignore[arg-type]


def test_outgoing_activity() -> None:
    user = ChannelAccount(id="u1")
    text = outgoing_activity("hi", user)
    assert text.to_dict() == {"type": "message", "text": "hi", "from": {"id": "u1"}}
    other = ChannelAccount(id="someone-else")
    given_from = Activity(type="event", name="x", from_property=other)
    assert outgoing_activity(given_from, user).from_property == other
    mine = Activity(text="no type, no from")
    out = outgoing_activity(mine, user)
    assert out.type == "message"
    assert out.from_property == user
    assert mine.from_property is None
    assert mine.type is None
    assert outgoing_activity({"type": "typing"}, user).from_property == user
    with pytest.raises(TypeError):
        outgoing_activity(42, user)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        outgoing_activity({"timestamp": "not a date"}, user)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"poll_interval": 0},
        {"poll_interval": -1.0},
        {"poll_interval": float("nan")},
        {"silence_timeout": 0},
        {"refresh_ratio": 1.0},
        {"seen_capacity": 0},
        {"streaming": "yes"},
        {"reconnect_policy": "fast"},
    ],
)
def test_config_validation(kwargs: dict[str, Any]) -> None:
    with pytest.raises((TypeError, ValueError)):
        SessionConfig(**kwargs)


def test_session_config_defaults_and_validation() -> None:
    config = session_config(
        streaming=True, poll_interval=1.0, silence_timeout=None, reconnect_policy=None, token_auth=False, on_status=None
    )
    assert config.reconnect_policy.max_attempts == 20
    assert config.reconnect_policy.deadline is None
    with pytest.raises(TypeError):
        session_config(
            streaming=True,
            poll_interval=1.0,
            silence_timeout=None,
            reconnect_policy=None,
            token_auth=False,
            on_status="print",  # type: ignore[arg-type]
        )


# -- the inbox: what the user has been handed decides the watermark to save ----------------------------------


def batch(start: int, end: int, watermark: str | None = "auto") -> Batch:
    parsed = ActivitySet.from_dict(json.loads(frame(start, end)))
    mark = str(end) if watermark == "auto" else watermark
    return Batch(tuple(parsed.activities or ()), mark)


def test_inbox_moves_the_watermark_when_a_batch_is_fully_taken() -> None:
    inbox = Inbox("5")
    assert inbox.watermark == "5"
    assert inbox.take() is None
    assert inbox.put(batch(5, 7)) is True
    assert inbox.put(batch(7, 8)) is True
    assert len(inbox) == 3
    assert inbox.take().text == "m5"  # type: ignore[union-attr]
    assert inbox.watermark == "5"  # m6 is not handed out yet
    assert inbox.take().text == "m6"  # type: ignore[union-attr]
    assert inbox.watermark == "7"
    assert inbox.take().text == "m7"  # type: ignore[union-attr]
    assert inbox.watermark == "8"
    assert inbox.take() is None


def test_inbox_watermark_only_batches() -> None:
    inbox = Inbox(None)
    assert inbox.put(Batch((), "3")) is False
    assert inbox.watermark == "3"  # nothing queued: at once
    inbox.put(batch(3, 4))
    inbox.put(Batch((), "9"))  # behind a queued activity: once it is taken
    assert inbox.watermark == "3"
    inbox.take()
    assert inbox.watermark == "9"
    inbox.put(Batch((), None))
    assert inbox.watermark == "9"


def test_inbox_finish_keeps_the_first_reason() -> None:
    inbox = Inbox(None)
    boom = RuntimeError("x")
    inbox.finish(boom)
    inbox.finish(None)
    assert inbox.finished
    assert inbox.error is boom


def test_status_values_match_directlinejs() -> None:
    assert [s.value for s in ConnectionStatus] == [0, 1, 2, 3, 4, 5]
    assert [s.name for s in ConnectionStatus] == [
        "UNINITIALIZED",
        "CONNECTING",
        "ONLINE",
        "EXPIRED_TOKEN",
        "FAILED_TO_CONNECT",
        "ENDED",
    ]


def test_httpx_request_logs_lose_stream_tokens(caplog: pytest.LogCaptureFixture) -> None:
    protect_stream_urls_in_logs()
    protect_stream_urls_in_logs()  # idempotent
    assert sum(type(f).__name__ == "_RedactStreamTokens" for f in logging.getLogger("httpx").filters) == 1
    caplog.set_level(logging.INFO, logger="httpx")
    log = logging.getLogger("httpx")
    url = httpx.URL(stream_http_url(STREAM))
    log.info('HTTP Request: %s %s "%s %d %s"', "GET", url, "HTTP/1.1", 101, "Switching Protocols")
    log.info("plain %s", "https://x.example/v3/directline/conversations?watermark=5")
    messages = [record.getMessage() for record in caplog.records]
    assert "SECRET" not in messages[0]
    assert "stream?<query>" in messages[0]
    assert messages[1].endswith("?watermark=5")  # no token in it: left alone
