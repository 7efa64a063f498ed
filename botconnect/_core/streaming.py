"""Streaming a reply (Teams, Direct Line / Web Chat): every decision, no I/O.

The protocol, as Teams defines it and Web Chat follows it:

- each update is a ``typing`` activity with a ``streaminfo`` entity: ``{"type": "streaminfo", "streamType":
  "informative" | "streaming", "streamSequence": n}``, plus ``"streamId"`` from the second update on;
- the first update is POSTed like any reply, and the id the service answers with is the ``streamId``;
- ``streamSequence`` starts at 1 and grows by one per update; a ``streaming`` update carries the whole text so
  far (each must start with the previous one, Teams answers 4xx otherwise);
- the stream ends with a ``message`` carrying the whole text, the caller's attachments and entities, and
  ``{"type": "streaminfo", "streamId": ..., "streamType": "final"}`` (no sequence);
- Teams takes about one update a second (429 beyond), and answers 403 ``ContentStreamNotAllowed`` once the user
  pressed Stop (or the stream ran out of time): nothing more may be sent then.

:class:`StreamCore` holds the state; its ``update`` / ``append`` / ``end`` return generators yielding
:class:`Post` and :class:`Wait` steps for a driver to perform (as ``call_flow`` does for one HTTP call). A
driver throws a :class:`~botconnect.errors.BotConnectError` from a post back into the generator, which decides
what it means; a driver that abandons a generator mid-call (cancellation, Ctrl+C) leaves the stream cancelled.
"""

from __future__ import annotations

import contextlib
import logging
import math
import random
from collections.abc import Callable, Generator, Iterator
from typing import Any

import attrs

from ..errors import (
    BotConnectError,
    HttpResponseError,
    RateLimitError,
    ServerError,
    ServiceRequestError,
    ServiceResponseError,
    StreamStoppedError,
    UntrustedEndpointError,
)
from ..models import Activity, Entity, ResourceResponse
from .retry import RetryPolicy

__all__ = [
    "CANCELLED",
    "ENDED",
    "OPEN",
    "STOPPED",
    "STREAMING_CHANNELS",
    "Post",
    "StreamCore",
    "StreamInfo",
    "StreamStoppedError",
    "Wait",
    "default_final_retry_policy",
]

logger = logging.getLogger("botconnect.streaming")

#: channels that render streamed updates; elsewhere only the final message is sent
STREAMING_CHANNELS = frozenset({"msteams", "directline", "webchat"})
STREAM_INFO_TYPE = "streaminfo"
STREAM_STOPPED_CODE = "ContentStreamNotAllowed"

OPEN, ENDED, STOPPED, CANCELLED = "open", "ended", "stopped", "cancelled"


def default_final_retry_policy() -> RetryPolicy:
    """How the final message is retried when the service throttles it: up to a minute, ``Retry-After`` honoured."""
    return RetryPolicy(max_attempts=10, backoff_factor=1.0, max_backoff=8.0, max_retry_after=60.0, deadline=60.0)


@attrs.frozen
class StreamInfo:
    """The ``streaminfo`` entity of a streamed activity: ``stream_type`` is ``informative``, ``streaming`` or
    ``final``; ``stream_id`` the id of the stream's first activity; ``stream_sequence`` the update's number."""

    stream_type: str | None = None
    stream_id: str | None = None
    stream_sequence: int | None = None

    def to_entity(self) -> Entity:
        """The entity as it goes on the wire (fields that are None left out)."""
        fields = {"streamId": self.stream_id, "streamType": self.stream_type, "streamSequence": self.stream_sequence}
        return Entity(type=STREAM_INFO_TYPE, additional_properties={k: v for k, v in fields.items() if v is not None})

    @classmethod
    def from_activity(cls, activity: Activity) -> StreamInfo | None:
        """The stream info of an activity (a Direct Line client reading a streamed answer), None if it has none."""
        for entity in activity.entities or ():
            if entity.type != STREAM_INFO_TYPE:
                continue
            data = entity.to_dict()  # whatever model the entity was parsed to
            sequence = data.get("streamSequence")
            return cls(
                stream_type=_str_or_none(data.get("streamType")),
                stream_id=_str_or_none(data.get("streamId")),
                stream_sequence=sequence if isinstance(sequence, int) and not isinstance(sequence, bool) else None,
            )
        return None


# -- steps a driver performs ----------------------------------------------------------------------------------


class Post:
    """Send ``activity``: ``reply_to_activity`` when ``reply_to_id`` is set, else ``send_to_conversation``.

    Answer with the ``ResourceResponse``, or throw the ``BotConnectError``. The driver must not retry: the core
    decides what a failure means.
    """

    __slots__ = ("activity", "conversation_id", "reply_to_id")

    def __init__(self, activity: Activity, conversation_id: str, reply_to_id: str | None) -> None:
        self.activity = activity
        self.conversation_id = conversation_id
        self.reply_to_id = reply_to_id

    def __repr__(self) -> str:
        return f"Post({self.activity.type!r}, reply_to_id={self.reply_to_id!r})"


class Wait:
    """Sleep ``seconds``; answer with None."""

    __slots__ = ("seconds",)

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def __repr__(self) -> str:
        return f"Wait({self.seconds!r})"


Step = Post | Wait
Flow = Generator[Step, Any, Any]


# -- the state machine ----------------------------------------------------------------------------------------


class StreamCore:
    """One streamed reply to ``activity``. Not thread-safe: one call at a time (an overlapping call raises)."""

    def __init__(
        self,
        activity: Activity,
        *,
        interval: float = 1.0,
        streaming: bool | None = None,
        retry_policy: RetryPolicy | None = None,
        clock: Callable[[], float],
        rand: Callable[[], float] = random.random,
    ) -> None:
        if not isinstance(activity, Activity):
            raise TypeError(f"activity must be the incoming Activity, got {type(activity).__name__}")
        if activity.conversation is None or not activity.conversation.id:
            raise ValueError("the activity has no conversation id to answer in")
        if isinstance(interval, bool) or not isinstance(interval, int | float) or not math.isfinite(interval):
            raise ValueError(f"interval must be a number of seconds, got {interval!r}")
        if interval < 0:
            raise ValueError(f"interval must not be negative, got {interval!r}")
        if streaming is not None and not isinstance(streaming, bool):
            raise TypeError(f"streaming must be True, False or None, got {streaming!r}")
        if retry_policy is not None and not isinstance(retry_policy, RetryPolicy):
            raise TypeError(f"retry_policy must be a RetryPolicy, got {type(retry_policy).__name__}")
        self.conversation_id: str = activity.conversation.id
        self._template = _reply_template(activity)
        self.reply_to_id = self._template.reply_to_id
        #: the final message being prepared: callers add attachments, entities (citations), channel data
        self.final_activity = _reply_template(activity)
        self.streaming = streaming if streaming is not None else channel_streams(activity)
        self.interval = float(interval)
        self.policy = retry_policy if retry_policy is not None else default_final_retry_policy()
        self.clock = clock
        self.rand = rand
        #: everything appended so far
        self.text = ""
        self.stream_id: str | None = None
        self.state = OPEN
        self.result: ResourceResponse | None = None
        self._sequence = 0  # the last streamSequence the service may have seen
        self._not_before: float | None = None  # clock time before which no post goes out
        self._pending = False  # text appended since the last streaming update went out
        self._busy = False
        self._stopped_by: HttpResponseError | None = None

    # -- what the façades call: validate now, return the flow ---------------------------------------------------

    def update(self, text: str) -> Flow:
        """An informative update: waits for the interval if the last update was too recent, then sends it."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        if not text.strip():
            raise ValueError("an informative update needs some text")
        self._check_open()
        return self._update(text)

    def append(self, text: str) -> Flow:
        """Add ``text`` to the answer; sends the whole text now if the interval allows, else leaves it for later."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        self._check_open()
        return self._append(text)

    def end(self) -> Flow:
        """Send the final message (retried on throttling); its ``ResourceResponse`` is the flow's value."""
        self._check_open()
        final = self.final_message()
        if not final.text and not final.attachments:
            raise ValueError("nothing to send: append text, or set final_activity.text or attachments")
        return self._end()

    def cancel(self) -> None:
        """Send nothing more (no final message); idempotent, and a no-op once the stream is over."""
        if self.state == OPEN:
            self.state = CANCELLED

    def exit(self, failed: bool) -> bool:
        """Leaving a ``with`` block: True when the final message must be sent now (the block ended normally)."""
        if self.state != OPEN:
            return False
        if failed:
            self.cancel()  # the answer is unfinished: the caller decides, with end(), whether to send it
            return False
        return True

    def final_message(self) -> Activity:
        """The final activity as it will be sent: ``final_activity`` with the text appended so far (unless the
        caller set one) and, once a stream exists, the final ``streaminfo`` entity first among its entities."""
        source = self.final_activity
        final = Activity.from_dict(source.to_dict())  # a copy: the caller's object is left as it is
        final.type = "message"
        if final.text is None and self.text:
            final.text = self.text
        entities = [entity for entity in final.entities or () if entity.type != STREAM_INFO_TYPE]
        if self.stream_id is not None:
            entities.insert(0, StreamInfo("final", self.stream_id).to_entity())
        final.entities = entities or None
        return final

    # -- flows --------------------------------------------------------------------------------------------------

    def _update(self, text: str) -> Flow:
        with self._call():
            if not self.streaming:
                return
            wait = self._wait_needed()
            if wait > 0:
                yield Wait(wait)
            if self.state == OPEN:
                yield from self._send_update("informative", text)

    def _append(self, text: str) -> Flow:
        with self._call():
            self.text += text
            if text:
                self._pending = True
            if not self.streaming or not self._pending or self._wait_needed() > 0:
                return  # coalesced: the next call after the interval (or the final message) carries it
            self._pending = False
            if not (yield from self._send_update("streaming", self.text)):
                self._pending = True

    def _end(self) -> Flow:
        with self._call():
            wait = self._wait_needed()  # the final message counts against the rate too
            if wait > 0:
                yield Wait(wait)
            final = self.final_message()
            started = self.clock()
            attempt = 0
            while True:
                if self.state != OPEN:
                    raise RuntimeError(f"the stream was {self.state} while its final message waited")
                attempt += 1
                try:
                    response: ResourceResponse = yield self._post(final)
                except BotConnectError as exc:
                    self._raise_if_stopped(exc)
                    delay = self._final_retry_delay(exc, attempt, self.clock() - started)
                    if delay is None:
                        raise
                    logger.info("final message of a stream refused (%s): retrying in %.2fs", type(exc).__name__, delay)
                    yield Wait(delay)
                    continue
                self.state = ENDED
                self.result = response
                return response

    def _send_update(self, kind: str, text: str) -> Generator[Step, Any, bool]:
        """Post one update; True if the service took it, False if it was dropped (the next one supersedes it)."""
        sequence = self._sequence + 1
        info = StreamInfo(kind, self.stream_id, sequence)
        activity = attrs.evolve(self._template, type="typing", text=text, entities=[info.to_entity()])
        try:
            response: ResourceResponse = yield self._post(activity)
        except BotConnectError as exc:
            self._raise_if_stopped(exc)
            return self._update_failed(exc, sequence)
        self._sequence = sequence
        self._not_before = self.clock() + self.interval
        if self.stream_id is None:
            if not response.id:
                logger.warning("the channel gave the first stream update no id: sending only the final message")
                self.streaming = False
            self.stream_id = response.id or None
        return True

    def _update_failed(self, exc: BotConnectError, sequence: int) -> bool:
        never_sent = isinstance(exc, RateLimitError) or (
            isinstance(exc, ServiceRequestError) and not isinstance(exc, UntrustedEndpointError)
        )
        if not never_sent:
            self._sequence = sequence  # the service may have seen this number: the next one must be higher
        retry_after = exc.retry_after if isinstance(exc, HttpResponseError) else None
        if isinstance(exc, RateLimitError | ServerError | ServiceResponseError) or never_sent:
            # superseded by the next update, whose text includes this one's
            self._not_before = self.clock() + max(self.interval, retry_after or 0.0)
            logger.info("a stream update was dropped (%s)", type(exc).__name__)
            return False
        if self.stream_id is None and isinstance(exc, HttpResponseError) and exc.status_code == 400:
            # the channel does not stream here (Teams: streaming not enabled in this conversation)
            logger.warning("the channel refused to start a stream (%s): sending only the final message", exc.message)
            self.streaming = False
            return False
        raise exc

    def _raise_if_stopped(self, exc: BotConnectError) -> None:
        if (
            isinstance(exc, HttpResponseError)
            and exc.status_code == 403
            and (exc.error_code or "").lower() == STREAM_STOPPED_CODE.lower()
        ):
            self.state = STOPPED
            self._stopped_by = exc
            raise self._stopped_error() from exc

    def _final_retry_delay(self, exc: BotConnectError, attempt: int, elapsed: float) -> float | None:
        if isinstance(exc, HttpResponseError):
            return self.policy.decide_status(
                attempt=attempt,
                status_code=exc.status_code,
                retry_after=exc.retry_after,
                idempotent=False,  # only 429 and 503 with Retry-After: the service did not post it
                elapsed=elapsed,
                rand=self.rand,
            )
        if isinstance(exc, ServiceRequestError) and not isinstance(exc, UntrustedEndpointError):
            return self.policy.decide_transport_error(
                attempt=attempt, connected=False, idempotent=False, elapsed=elapsed, rand=self.rand
            )
        return None

    # -- helpers ------------------------------------------------------------------------------------------------

    def _post(self, activity: Activity) -> Post:
        return Post(activity, self.conversation_id, self.reply_to_id)

    def _wait_needed(self) -> float:
        if self._not_before is None:
            return 0.0
        return max(0.0, self._not_before - self.clock())

    def _check_open(self) -> None:
        if self._busy:
            raise RuntimeError("another call on this StreamingReply has not finished (one call at a time)")
        if self.state == STOPPED:
            raise self._stopped_error()
        if self.state != OPEN:
            raise RuntimeError(f"the stream has already {'ended' if self.state == ENDED else 'been cancelled'}")

    def _stopped_error(self) -> StreamStoppedError:
        cause = self._stopped_by
        assert cause is not None
        return StreamStoppedError(cause.message, response=cause.response, error=cause.error)

    @contextlib.contextmanager
    def _call(self) -> Iterator[None]:
        self._busy = True
        try:
            yield
        except GeneratorExit:
            # the driver gave up mid-call (cancelled, interrupted): whether the post went out is unknown
            if self.state == OPEN:
                self.state = CANCELLED
            raise
        finally:
            self._busy = False


def channel_streams(activity: Activity) -> bool:
    """Whether a reply to ``activity`` is streamed by default: Teams one-on-one chats, Direct Line, Web Chat."""
    channel = (activity.channel_id or "").lower()
    if channel not in STREAMING_CHANNELS:
        return False
    if channel == "msteams" and activity.conversation is not None:
        # Teams streams bot messages in one-on-one chats only
        kind = activity.conversation.conversation_type
        return kind in (None, "personal") and not activity.conversation.is_group
    return True


def _reply_template(activity: Activity) -> Activity:
    reply = activity.create_reply()
    reply.timestamp = None  # the service stamps what it stores
    return reply


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None
