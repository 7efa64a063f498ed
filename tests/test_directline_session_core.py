"""The Direct Line session state machine without any I/O: dedupe, watermarks, reconnects, polling, tokens, status."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from botconnect._core.directline_session import (
    CloseStream,
    Finish,
    GetActivities,
    OpenStream,
    ReceiveFrame,
    ReconnectConversation,
    RefreshToken,
    SessionCore,
    StartConversation,
    Wait,
)
from botconnect._core.directline_session_support import Batch, ConnectionStatus, SessionConfig, stream_http_url
from botconnect._core.retry import RetryPolicy
from botconnect.errors import (
    BadGatewayError,
    ClientAuthenticationError,
    RateLimitError,
    ResourceNotFoundError,
    ServiceRequestError,
    TokenExpiredError,
)
from botconnect.models.directline import ActivitySet, Conversation

STREAM = "wss://directline.example.com/v3/directline/conversations/c1/stream?t=SECRET-STREAM-TOKEN"
CID = "c1"


def activity(index: int, kind: str = "message") -> dict[str, Any]:
    return {"type": kind, "id": f"{CID}|{index:07d}", "text": f"m{index}"}


def frame(start: int, end: int, watermark: Any = "auto", **extra: Any) -> str:
    body: dict[str, Any] = {"activities": [activity(i) for i in range(start, end)], **extra}
    if watermark == "auto":
        body["watermark"] = str(end)
    elif watermark != "missing":
        body["watermark"] = watermark
    return json.dumps(body)


def ids(batch: Batch) -> list[int]:
    return [int(a.id.split("|")[1]) for a in batch.activities if a.id]


def config(**overrides: Any) -> SessionConfig:
    values: dict[str, Any] = {"rand": lambda: 1.0, "silence_timeout": 30.0}
    values.update(overrides)
    return SessionConfig(**values)


def error(cls: type, status: int, **kwargs: Any) -> Any:
    return cls(f"{status}", response=httpx.Response(status), **kwargs)


def started(core: SessionCore, now: float = 0.0, **conversation: Any) -> None:
    """Drive a new session to an open stream."""
    assert core.next_step(now) == StartConversation()
    fields = {"conversation_id": CID, "token": "tok", "expires_in": 1800, "stream_url": STREAM, **conversation}
    core.on_conversation(Conversation(**fields), now)
    step = core.next_step(now)
    assert isinstance(step, OpenStream)
    core.on_stream_opened(now)


def reconnect(core: SessionCore, now: float) -> tuple[float, ReconnectConversation]:
    """After a drop: wait out the backoff, reconnect and reopen. Returns the time and the reconnect step."""
    step = core.next_step(now)
    while isinstance(step, Wait):
        now = step.until
        step = core.next_step(now)
    assert isinstance(step, ReconnectConversation)
    core.on_conversation(Conversation(conversation_id=CID, token="tok", stream_url=STREAM), now)
    assert isinstance(core.next_step(now), OpenStream)
    core.on_stream_opened(now)
    return now, step


def test_core_argument_validation() -> None:
    with pytest.raises(ValueError):
        SessionCore(config(), conversation_id="")
    with pytest.raises(ValueError):
        SessionCore(config(), watermark="5")
    with pytest.raises(TypeError):
        SessionCore(config(), conversation_id="c", watermark=1.5)  # type: ignore[arg-type]


# -- the state machine --------------------------------------------------------------------------------------


def test_new_conversation_over_the_stream() -> None:
    core = SessionCore(config())
    assert core.status is ConnectionStatus.UNINITIALIZED
    assert core.next_step(0) == StartConversation()
    adopt = core.on_conversation(Conversation(conversation_id=CID, token="t2", expires_in=100, stream_url=STREAM), 0)
    assert adopt == "t2"
    assert core.conversation_id == CID
    step = core.next_step(0)
    assert step == OpenStream(stream_http_url(STREAM))
    assert "SECRET" not in repr(step)
    core.on_stream_opened(0)
    assert core.status is ConnectionStatus.ONLINE
    assert core.streaming
    # silence deadline 30 s, refresh at half the 100 s lifetime: wait for a frame until the earlier
    assert core.next_step(1) == ReceiveFrame(until=30.0)
    assert ids(core.on_frame(frame(0, 2), 2)) == [0, 1]
    assert core.watermark == "2"
    assert core.pop_status_changes() == [ConnectionStatus.CONNECTING, ConnectionStatus.ONLINE]
    assert core.pop_status_changes() == []


def test_secret_clients_do_not_adopt_or_refresh_tokens() -> None:
    core = SessionCore(config(token_auth=False))
    core.next_step(0)
    assert (
        core.on_conversation(Conversation(conversation_id=CID, token="t", expires_in=10, stream_url=STREAM), 0) is None
    )
    core.next_step(0)
    core.on_stream_opened(0)
    assert core.next_step(29) == ReceiveFrame(until=30.0)  # no refresh deadline


def test_keepalives_push_back_the_silence_deadline_and_silence_reconnects() -> None:
    core = SessionCore(config())
    started(core)
    core.on_frame(frame(0, 1), 1)
    assert core.on_frame("", 20) == Batch()
    assert core.keepalives == 1
    assert core.next_step(49) == ReceiveFrame(until=50.0)
    assert core.next_step(50) == CloseStream("silent")
    core.on_stream_closed(50, "silent")
    assert core.status is ConnectionStatus.CONNECTING
    _, step = reconnect(core, 50)
    assert step == ReconnectConversation(CID, "1")
    assert core.status is ConnectionStatus.ONLINE
    assert core.reconnects == 1


def test_no_silence_timeout_waits_forever() -> None:
    core = SessionCore(config(silence_timeout=None, token_auth=False))
    started(core)
    assert core.next_step(10_000) == ReceiveFrame(until=None)


def test_drop_reconnects_from_the_watermark_with_growing_backoff() -> None:
    policy = RetryPolicy(max_attempts=10, backoff_factor=1.0, max_backoff=8.0, deadline=None)
    core = SessionCore(config(reconnect_policy=policy))
    started(core)
    core.on_frame(frame(0, 3), 1)
    waits = []
    now = 1.0
    for _ in range(5):
        core.on_stream_closed(now, "dropped")
        step = core.next_step(now)
        assert isinstance(step, Wait)
        waits.append(step.until - now)
        now, reconnect_step = reconnect(core, now)
        assert reconnect_step.watermark == "3"
    assert waits == [1.0, 2.0, 4.0, 8.0, 8.0]  # no frame since: no progress, so the backoff grows
    core.on_frame("", now)  # progress: a live stream
    core.on_stream_closed(now, "dropped")
    step = core.next_step(now)
    assert isinstance(step, Wait)
    assert step.until - now == 1.0


def test_a_long_lived_stream_restarts_the_backoff() -> None:
    policy = RetryPolicy(max_attempts=10, backoff_factor=1.0, max_backoff=8.0, deadline=None)
    core = SessionCore(config(reconnect_policy=policy, silence_timeout=None, token_auth=False))
    started(core)
    now = 0.0
    for _ in range(3):
        core.on_stream_closed(now, "dropped")
        now, _ = reconnect(core, now)
    core.on_stream_closed(now + 3600, "dropped")
    step = core.next_step(now + 3600)
    assert isinstance(step, Wait)
    assert step.until - (now + 3600) == 1.0


def test_streams_that_keep_dropping_fall_back_to_polling() -> None:
    policy = RetryPolicy(max_attempts=3, backoff_factor=0.0, deadline=None)
    core = SessionCore(config(reconnect_policy=policy, stream_retry_interval=100.0))
    started(core)
    core.on_stream_closed(0, "x")
    reconnect(core, 0)
    core.on_stream_closed(0, "x")
    reconnect(core, 0)
    core.on_stream_closed(0, "x")
    assert not core.streaming
    assert core.next_step(0) == GetActivities(CID, None)
    core.on_activity_set(ActivitySet(activities=[], watermark=None), 0)
    assert core.status is ConnectionStatus.ONLINE
    assert core.next_step(0.5) == Wait(until=1.0)
    # later the stream is tried again
    step = core.next_step(100)
    assert step == ReconnectConversation(CID, None)


def test_refused_websocket_falls_back_to_polling_and_retries_the_stream_later() -> None:
    core = SessionCore(config(stream_retry_interval=60.0, poll_interval=2.0))
    assert core.next_step(0) == StartConversation()
    core.on_conversation(Conversation(conversation_id=CID, stream_url=STREAM, expires_in=1000), 0)
    assert isinstance(core.next_step(0), OpenStream)
    core.on_stream_open_failed(0, "HTTP 403")
    assert core.status is ConnectionStatus.CONNECTING
    assert core.next_step(0) == GetActivities(CID, None)
    batch = core.on_activity_set(ActivitySet.from_dict(json.loads(frame(0, 2))), 0)
    assert ids(batch) == [0, 1]
    assert core.status is ConnectionStatus.ONLINE
    # activities came and the watermark moved: page on at once, then at the interval
    assert core.next_step(0) == GetActivities(CID, "2")
    core.on_activity_set(ActivitySet(activities=[], watermark="2"), 0)
    assert core.next_step(1) == Wait(until=2.0)
    # a send while polling asks for an early poll
    assert core.on_sent(1.0) is True
    assert core.next_step(1.0) == Wait(until=1.3)
    assert core.on_sent(1.2) is False  # already sooner than that
    assert core.next_step(1.3) == GetActivities(CID, "2")
    core.on_activity_set(ActivitySet(activities=[], watermark="2"), 1.3)
    # the stream is tried again after the interval, from the watermark; refused again -> polling again
    assert core.next_step(60) == ReconnectConversation(CID, "2")
    core.on_conversation(Conversation(conversation_id=CID, stream_url=STREAM), 60)
    assert isinstance(core.next_step(60), OpenStream)
    core.on_stream_open_failed(60, "HTTP 403")
    assert core.next_step(60) == GetActivities(CID, "2")


def test_a_server_that_ignores_the_watermark_does_not_make_us_spin() -> None:
    core = SessionCore(config(streaming=False, poll_interval=5.0, token_auth=False))
    core.next_step(0)
    core.on_conversation(Conversation(conversation_id=CID), 0)
    same = ActivitySet.from_dict(json.loads(frame(0, 2)))
    assert core.next_step(0) == GetActivities(CID, None)
    assert ids(core.on_activity_set(same, 0)) == [0, 1]
    assert core.next_step(0) == GetActivities(CID, "2")  # the watermark moved: page on
    for now in (0.0, 5.0, 10.0):
        if now:
            assert core.next_step(now) == GetActivities(CID, "2")
        assert ids(core.on_activity_set(same, now)) == []
        assert core.next_step(now) == Wait(until=now + 5.0)  # same answer: back to the interval


def test_unusable_stream_urls_mean_polling() -> None:
    for url in [None, "ws://evil.example/s?t=x"]:
        core = SessionCore(config())
        core.next_step(0)
        core.on_conversation(Conversation(conversation_id=CID, stream_url=url), 0)
        assert core.next_step(0) == GetActivities(CID, None)


def test_polling_only_session() -> None:
    core = SessionCore(config(streaming=False))
    assert core.next_step(0) == StartConversation()
    core.on_conversation(Conversation(conversation_id=CID, stream_url=STREAM), 0)
    assert core.next_step(0) == GetActivities(CID, None)
    assert not core.streaming
    core.on_activity_set(ActivitySet(), 0)
    assert core.next_step(0.5) == Wait(until=1.0)  # never a stream retry when streaming is off


def test_resume_over_the_stream_replays_from_the_saved_watermark() -> None:
    core = SessionCore(config(), conversation_id=CID, watermark="7")
    assert core.next_step(0) == ReconnectConversation(CID, "7")
    core.on_conversation(Conversation(conversation_id=CID, token="tok", stream_url=STREAM), 0)
    assert isinstance(core.next_step(0), OpenStream)
    core.on_stream_opened(0)
    # a saved token is of unknown age: it is renewed first
    assert core.next_step(0) == RefreshToken()
    core.on_token_refreshed(Conversation(token="new", expires_in=100), 0)
    assert core.next_step(0) == ReceiveFrame(until=30.0)
    assert ids(core.on_frame(frame(7, 9), 1)) == [7, 8]


def test_resume_with_a_known_lifetime_schedules_the_refresh() -> None:
    core = SessionCore(config(silence_timeout=None), conversation_id=CID, watermark="7")
    core.next_step(0)
    core.on_conversation(Conversation(conversation_id=CID, expires_in=600, stream_url=STREAM), 0)
    core.next_step(0)
    core.on_stream_opened(0)
    assert core.next_step(0) == ReceiveFrame(until=300.0)


def test_resume_without_watermark_fetches_the_history_once_the_stream_is_open() -> None:
    core = SessionCore(config(token_auth=False), conversation_id=CID)
    assert core.next_step(0) == ReconnectConversation(CID, None)
    core.on_conversation(Conversation(conversation_id=CID, stream_url=STREAM), 0)
    core.next_step(0)
    core.on_stream_opened(0)
    assert core.next_step(0) == GetActivities(CID, None)
    # the stream has already pushed the newest one: the history brings the rest, without repeating it
    assert ids(core.on_frame(frame(3, 4), 0)) == [3]
    assert ids(core.on_activity_set(ActivitySet.from_dict(json.loads(frame(0, 4))), 0)) == [0, 1, 2]
    assert core.next_step(0) == ReceiveFrame(until=30.0)


def test_failed_catch_up_poll_restarts_the_connection() -> None:
    core = SessionCore(config(token_auth=False), conversation_id=CID)
    core.next_step(0)
    core.on_conversation(Conversation(conversation_id=CID, stream_url=STREAM), 0)
    core.next_step(0)
    core.on_stream_opened(0)
    assert isinstance(core.next_step(0), GetActivities)
    core.on_call_failed(ServiceRequestError("reset"), 0)
    assert core.next_step(0) == CloseStream("catch-up poll failed")
    core.on_stream_closed(0, "catch-up poll failed")
    _, step = reconnect(core, 0)
    assert step == ReconnectConversation(CID, None)
    assert core.next_step(5) == GetActivities(CID, None)  # the catch-up again


def test_resume_polling_renews_the_token_first() -> None:
    core = SessionCore(config(streaming=False), conversation_id=CID, watermark="3")
    assert core.next_step(0) == RefreshToken()
    core.on_token_refreshed(Conversation(token="n", expires_in=None), 0)
    assert core.next_step(0) == GetActivities(CID, "3")
    core.on_activity_set(ActivitySet(activities=[], watermark="3"), 0)
    assert core.next_step(0) == Wait(until=1.0)
    assert core.next_step(900) == RefreshToken()  # default 30 minute lifetime, renewed at half


def test_token_is_refreshed_at_half_its_lifetime() -> None:
    core = SessionCore(config(silence_timeout=None))
    started(core, expires_in=100)
    assert core.next_step(10) == ReceiveFrame(until=50.0)
    assert core.next_step(50) == RefreshToken()
    core.on_token_refreshed(Conversation(token="t3", expires_in=80), 50)
    assert core.next_step(51) == ReceiveFrame(until=90.0)


def test_refresh_failures_retry_and_expiry_ends_the_session() -> None:
    core = SessionCore(config(silence_timeout=None))
    started(core, expires_in=100)
    assert core.next_step(50) == RefreshToken()
    core.on_call_failed(ServiceRequestError("down"), 50)
    assert core.status is ConnectionStatus.ONLINE  # the stream is fine, the token still valid
    assert core.next_step(50.2) == ReceiveFrame(until=50.5)  # retried after a backoff
    assert core.next_step(50.5) == RefreshToken()
    expired = error(TokenExpiredError, 403)
    core.on_call_failed(expired, 51)
    assert core.status is ConnectionStatus.EXPIRED_TOKEN
    step = core.next_step(51)
    assert isinstance(step, Finish)
    assert step.error is expired


def test_token_expired_on_reconnect_ends_the_session() -> None:
    core = SessionCore(config())
    started(core)
    core.on_stream_closed(1, "dropped")
    step = core.next_step(10)
    assert isinstance(step, ReconnectConversation)
    core.on_call_failed(error(TokenExpiredError, 403), 10)
    assert core.status is ConnectionStatus.EXPIRED_TOKEN
    assert core.done


def test_errors_before_the_first_connection_are_fatal() -> None:
    core = SessionCore(config())
    core.next_step(0)
    core.on_call_failed(ServiceRequestError("refused"), 0)
    assert core.status is ConnectionStatus.FAILED_TO_CONNECT
    core = SessionCore(config(), conversation_id=CID)
    core.next_step(0)
    core.on_call_failed(error(BadGatewayError, 502), 0)
    assert core.status is ConnectionStatus.FAILED_TO_CONNECT
    assert isinstance(core.error, BadGatewayError)


def test_transient_failures_back_off_then_give_up() -> None:
    policy = RetryPolicy(max_attempts=3, backoff_factor=1.0, deadline=None)
    core = SessionCore(config(reconnect_policy=policy))
    started(core)
    core.on_stream_closed(0, "dropped")
    now = 0.0
    for _ in range(2):
        step = core.next_step(now)
        while isinstance(step, Wait):
            now = step.until
            step = core.next_step(now)
        assert isinstance(step, ReconnectConversation)
        core.on_call_failed(ServiceRequestError("refused"), now)
        assert core.status is ConnectionStatus.CONNECTING
    step = core.next_step(now + 100)
    core.on_call_failed(ServiceRequestError("refused"), now + 100)
    assert core.status is ConnectionStatus.FAILED_TO_CONNECT


def test_rate_limits_are_honoured() -> None:
    core = SessionCore(config(streaming=False))
    core.next_step(0)
    core.on_conversation(Conversation(conversation_id=CID), 0)
    core.next_step(0)
    core.on_activity_set(ActivitySet(), 0)
    core.next_step(1)
    core.on_call_failed(error(RateLimitError, 429, retry_after=42.0), 1)
    assert core.next_step(1) == Wait(until=43.0)


@pytest.mark.parametrize("exc", [error(ResourceNotFoundError, 404), error(ClientAuthenticationError, 401)])
def test_client_errors_after_connecting_are_fatal(exc: Exception) -> None:
    core = SessionCore(config())
    started(core)
    core.on_stream_closed(0, "dropped")
    step = core.next_step(100)
    assert isinstance(step, ReconnectConversation)
    core.on_call_failed(exc, 100)
    assert core.status is ConnectionStatus.FAILED_TO_CONNECT
    assert core.error is exc


def test_polling_failures_back_off_and_recover() -> None:
    core = SessionCore(config(streaming=False, reconnect_policy=RetryPolicy(backoff_factor=1.0, deadline=None)))
    core.next_step(0)
    core.on_conversation(Conversation(conversation_id=CID), 0)
    core.next_step(0)
    core.on_activity_set(ActivitySet(), 0)
    core.next_step(1)
    core.on_call_failed(error(BadGatewayError, 502), 1)
    assert core.status is ConnectionStatus.CONNECTING
    assert core.next_step(1) == Wait(until=2.0)
    assert isinstance(core.next_step(2), GetActivities)
    core.on_activity_set(ActivitySet(), 2)
    assert core.status is ConnectionStatus.ONLINE


def test_end_of_conversation_ends_the_session() -> None:
    core = SessionCore(config())
    started(core)
    data = json.dumps({"activities": [activity(0), activity(1, "endOfConversation")], "watermark": "2"})
    batch = core.on_frame(data, 1)
    assert batch.ended
    assert ids(batch) == [0, 1]
    assert core.status is ConnectionStatus.ENDED
    assert core.next_step(1) == Finish(None)
    assert core.on_frame(frame(2, 3), 2) == Batch()  # nothing after the end


def test_close_ends_the_session() -> None:
    core = SessionCore(config())
    started(core)
    core.pop_status_changes()
    core.close()
    assert core.status is ConnectionStatus.ENDED
    assert core.pop_status_changes() == [ConnectionStatus.ENDED]
    assert isinstance(core.next_step(0), Finish)
    core.close()
    core.on_stream_closed(0, "closed")  # late reports are harmless
    assert core.pop_status_changes() == []


def test_close_while_a_call_is_in_flight() -> None:
    core = SessionCore(config())
    core.next_step(0)
    core.close()
    assert core.on_conversation(Conversation(conversation_id=CID, stream_url=STREAM), 0) is None
    assert isinstance(core.next_step(0), Finish)


def test_misuse_is_loud() -> None:
    core = SessionCore(config())
    core.next_step(0)
    with pytest.raises(RuntimeError):
        core.next_step(0)
    with pytest.raises(RuntimeError):
        core.on_stream_opened(0)


def test_a_driver_crash_fails_the_session() -> None:
    core = SessionCore(config())
    started(core)
    boom = ZeroDivisionError()
    core.fail(boom)
    assert core.status is ConnectionStatus.FAILED_TO_CONNECT
    assert core.next_step(0) == Finish(boom)
    assert core.error is boom


def test_missing_conversation_id_fails() -> None:
    core = SessionCore(config())
    core.next_step(0)
    core.on_conversation(Conversation(token="x"), 0)
    assert core.status is ConnectionStatus.FAILED_TO_CONNECT


def test_frames_are_counted_and_ignored() -> None:
    core = SessionCore(config())
    started(core)
    assert core.on_frame("{broken", 1) == Batch()
    assert core.on_frame('{"typing": true}', 1) == Batch()
    assert core.malformed_frames == 1
    assert core.unknown_frames == 1
    assert ids(core.on_frame(frame(0, 1), 1)) == [0]


def test_watermarks_never_go_back_and_null_is_ignored() -> None:
    core = SessionCore(config())
    started(core)
    assert ids(core.on_frame(frame(0, 5), 1)) == [0, 1, 2, 3, 4]
    assert ids(core.on_frame(frame(5, 6, watermark=None), 1)) == [5]
    assert core.watermark == "5"
    assert ids(core.on_frame(frame(6, 7, watermark="missing"), 1)) == [6]
    assert core.watermark == "5"
    assert ids(core.on_frame(frame(0, 3), 1)) == []  # a stale replay
    assert core.watermark == "5"
    assert ids(core.on_frame(frame(4, 8), 1)) == [7]
    assert core.watermark == "8"


def test_a_stale_set_is_dropped_even_when_its_ids_were_forgotten() -> None:
    core = SessionCore(config(seen_capacity=2))
    started(core)
    assert ids(core.on_frame(frame(0, 10), 1)) == list(range(10))
    assert ids(core.on_frame(frame(0, 5), 1)) == []  # ids 0..4 are long gone from the LRU


def test_opaque_watermarks_are_taken_as_they_come() -> None:
    core = SessionCore(config())
    started(core)
    core.on_frame(frame(0, 1, watermark="0000a-42"), 1)
    core.on_frame(frame(1, 2, watermark="0000a-07"), 1)
    assert core.watermark == "0000a-07"


def test_activities_without_id_are_always_delivered() -> None:
    core = SessionCore(config())
    started(core)
    data = json.dumps({"activities": [{"type": "typing"}, {"type": "typing"}]})
    assert len(core.on_frame(data, 1).activities) == 2
