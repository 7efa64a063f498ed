"""Properties of the session core: whatever the service's frames, replays, duplicates and drops, every activity
is delivered exactly once, in watermark order."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from botconnect._core.directline_session import (
    CloseStream,
    GetActivities,
    OpenStream,
    ReconnectConversation,
    SessionCore,
    StartConversation,
    Step,
    Wait,
)
from botconnect._core.directline_session_support import ConnectionStatus
from botconnect._core.retry import RetryPolicy
from botconnect.errors import ServiceRequestError
from botconnect.models.directline import ActivitySet, Conversation

from .test_directline_session_core import CID, STREAM, config, frame, ids, started


class StreamModel:
    """A Direct Line service's side of a stream: a log of activities, a socket position, replays and faults."""

    def __init__(self, core: SessionCore, total: int) -> None:
        self.core = core
        self.total = total
        self.now = 0.0
        self.position = 0  # next log index the current socket sends
        self.frontier = 0  # every index below it reached the client in a frame it processed
        self.sent: list[str] = []
        self.delivered: list[int] = []

    def deliver(self, data: str) -> None:
        self.delivered.extend(ids(self.core.on_frame(data, self.now)))

    def send(self, count: int, overlap: int, watermark: str) -> None:
        start = max(0, self.position - overlap)
        end = min(self.total, self.position + count)
        data = frame(start, end, watermark="auto" if watermark == "ok" else watermark)
        self.position = end
        self.frontier = max(self.frontier, end)
        self.sent.append(data)
        self.deliver(data)

    def reconnect(self, lost: int, overlap: int) -> None:
        """Frames in flight are lost, the socket drops; the client reconnects and the service replays."""
        self.position = min(self.total, self.position + lost)
        self.core.on_stream_closed(self.now, "dropped")
        step = self.core.next_step(self.now)
        while isinstance(step, Wait):
            self.now = step.until
            step = self.core.next_step(self.now)
        assert isinstance(step, ReconnectConversation)
        mark = step.watermark
        assert mark is None or int(mark) <= self.frontier  # never resumes past what was delivered
        self.core.on_conversation(Conversation(conversation_id=CID, stream_url=STREAM), self.now)
        assert isinstance(self.core.next_step(self.now), OpenStream)
        self.core.on_stream_opened(self.now)
        if mark is None:  # replays only what comes after the reconnect, plus a catch-up poll
            self.position = self.frontier
            assert self.core.next_step(self.now) == GetActivities(CID, None)
            history = ActivitySet.from_dict(json.loads(frame(0, self.frontier)))
            self.delivered.extend(ids(self.core.on_activity_set(history, self.now)))
        else:
            self.position = max(0, int(mark) - overlap)

    def finish(self) -> None:
        self.send(self.total, 0, "ok")


operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("send"),
            st.integers(0, 4),
            st.integers(0, 3),
            st.sampled_from(["ok", "ok", "ok", None, "missing"]),
        ),
        st.tuples(st.just("reconnect"), st.integers(0, 3), st.integers(0, 3)),
        st.tuples(st.just("duplicate"), st.integers(0, 1000)),
        st.tuples(st.sampled_from(["keepalive", "malformed", "unknown", "silence"])),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(total=st.integers(0, 30), ops=operations, capacity=st.sampled_from([3, 4096]))
def test_stream_delivers_every_activity_once_in_order(total: int, ops: list[tuple[Any, ...]], capacity: int) -> None:
    core = SessionCore(config(seen_capacity=capacity, silence_timeout=10.0, token_auth=False))
    started(core)
    model = StreamModel(core, total)
    for op in ops:
        kind = op[0]
        if kind == "send":
            _, count, overlap, watermark = op
            # a bounded LRU only catches repeats it still remembers (the watermark catches wholly stale sets):
            # with a tiny one, keep sets and overlaps within its size, as they are with the real few thousand
            if capacity < 100:
                count = min(count, capacity)
                overlap, watermark = min(overlap, capacity - count), "ok"
            model.send(count, overlap, watermark)
        elif kind == "reconnect":
            model.reconnect(op[1], min(op[2], capacity))
        elif kind == "duplicate" and model.sent:
            if capacity > 100:
                model.deliver(model.sent[op[1] % len(model.sent)])
            else:
                model.deliver(model.sent[-1])  # a late duplicate of the latest set
        elif kind == "keepalive":
            model.deliver("")
        elif kind == "malformed":
            model.deliver('{"activities": [')
        elif kind == "unknown":
            model.deliver('{"somethingNew": 1}')
        elif kind == "silence":
            model.now += 10.0
            assert core.next_step(model.now) == CloseStream("silent")
            model.reconnect(0, 0)
        assert core.status is ConnectionStatus.ONLINE
    model.finish()
    assert model.delivered == list(range(total))
    assert core.watermark == str(total)


@settings(max_examples=200, deadline=None)
@given(
    total=st.integers(0, 25),
    pages=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 2), st.booleans(), st.booleans()), max_size=40),
)
def test_polling_delivers_every_activity_once_in_order(total: int, pages: list[tuple[int, int, bool, bool]]) -> None:
    policy = RetryPolicy(max_attempts=1000, deadline=None)
    core = SessionCore(config(streaming=False, token_auth=False, reconnect_policy=policy))
    assert core.next_step(0) == StartConversation()
    core.on_conversation(Conversation(conversation_id=CID), 0)
    delivered: list[int] = []
    now = 0.0
    previous: ActivitySet | None = None

    def poll(size: int, overlap: int, with_watermark: bool, failing: bool) -> None:
        nonlocal now, previous
        step: Step = core.next_step(now)
        while isinstance(step, Wait):
            now = step.until
            step = core.next_step(now)
        assert isinstance(step, GetActivities)
        if failing:
            core.on_call_failed(ServiceRequestError("blip"), now)
            return
        start = int(step.watermark or 0)
        end = min(total, start + size)
        body = json.loads(frame(max(0, start - overlap), end, watermark="auto" if with_watermark else None))
        answer = ActivitySet.from_dict(body)
        delivered.extend(ids(core.on_activity_set(answer, now)))
        previous = answer

    poll(0, 0, True, False)  # failing before the first success would end the session
    for size, overlap, with_watermark, failing in pages:
        poll(size, overlap, with_watermark, failing)
        assert core.status is (ConnectionStatus.CONNECTING if failing else ConnectionStatus.ONLINE)
    for _ in range(total + 2):
        poll(total, 0, True, False)
    assert delivered == list(range(total))
