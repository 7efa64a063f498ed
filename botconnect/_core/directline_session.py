"""A Direct Line conversation session, decided once: what to do next, what to deliver, where to resume from.

:class:`SessionCore` is a state machine with no I/O. A driver (the sync one runs a thread, the async one an anyio
task) asks :meth:`SessionCore.next_step` what to do, performs it (an HTTP call, opening the WebSocket, waiting for
a frame, sleeping) and reports the outcome with an ``on_*`` method, passing the time from its clock. The core
returns the activities to hand to the user (new, de-duplicated, in watermark order) and keeps the status, the
watermark to resume from, the reconnect backoff, the token refresh schedule and the stream/polling choice.
"""

from __future__ import annotations

import enum
import logging
import math

import attrs

from ..errors import BotConnectError, HttpResponseError, ServiceResponseError, TokenExpiredError
from ..models import Activity
from ..models.directline import ActivitySet, Conversation
from .directline_session_support import (
    Batch,
    ConnectionStatus,
    Keepalive,
    MalformedFrame,
    SeenIds,
    SessionConfig,
    UnknownFrame,
    parse_frame,
    stream_http_url,
    watermark_number,
)

__all__ = [
    "CloseStream",
    "Finish",
    "GetActivities",
    "OpenStream",
    "ReceiveFrame",
    "ReconnectConversation",
    "RefreshToken",
    "SessionCore",
    "StartConversation",
    "Step",
    "Wait",
]

logger = logging.getLogger("botconnect.directline")

#: assumed token lifetime when the service does not say (Direct Line tokens last 30 minutes)
DEFAULT_TOKEN_LIFETIME = 1800.0
#: a stream that stayed open this long counts as healthy: its drop restarts the backoff
_STABLE_STREAM = 30.0
_END_OF_CONVERSATION = "endOfConversation"


# -- steps the drivers perform ------------------------------------------------------------------------------


@attrs.frozen
class StartConversation:
    """POST /conversations; report with ``on_conversation`` or ``on_call_failed``."""


@attrs.frozen
class ReconnectConversation:
    """GET /conversations/{id}?watermark= for a fresh stream URL; report like :class:`StartConversation`."""

    conversation_id: str
    watermark: str | None


@attrs.frozen
class OpenStream:
    """Open the WebSocket at ``url`` (already http(s)); report ``on_stream_opened`` or ``on_stream_open_failed``."""

    url: str = attrs.field(repr=False)


@attrs.frozen
class ReceiveFrame:
    """Wait for the next frame until ``until`` (None: no deadline); report ``on_frame`` / ``on_stream_closed``."""

    until: float | None


@attrs.frozen
class CloseStream:
    """Close the open WebSocket, then report ``on_stream_closed``."""

    reason: str


@attrs.frozen
class GetActivities:
    """GET /conversations/{id}/activities?watermark=; report ``on_activity_set`` or ``on_call_failed``."""

    conversation_id: str
    watermark: str | None


@attrs.frozen
class RefreshToken:
    """POST /tokens/refresh; report ``on_token_refreshed`` or ``on_call_failed``."""


@attrs.frozen
class Wait:
    """Nothing to do before ``until`` (a driver may wake earlier, e.g. after a send, and ask again)."""

    until: float


@attrs.frozen
class Finish:
    """The session is over: close the stream if open and stop. ``error`` is why, None for a normal end."""

    error: BaseException | None = attrs.field(eq=False)


Step = (
    StartConversation
    | ReconnectConversation
    | OpenStream
    | ReceiveFrame
    | CloseStream
    | GetActivities
    | RefreshToken
    | Wait
    | Finish
)
_REPORTED = (StartConversation, ReconnectConversation, OpenStream, CloseStream, GetActivities, RefreshToken)


_EMPTY = Batch()


class _Phase(enum.Enum):
    NEW = "new"
    CONNECT = "connect"  # a fresh stream URL is waiting to be opened
    STREAMING = "streaming"
    BACKOFF = "backoff"  # waiting to reconnect the stream
    POLLING = "polling"
    DONE = "done"


_FATAL_STATUSES = frozenset(range(400, 500)) - {408, 429}


class SessionCore:
    """The decisions of one Direct Line conversation session (see the module docstring)."""

    def __init__(
        self, config: SessionConfig, *, conversation_id: str | None = None, watermark: str | None = None
    ) -> None:
        if conversation_id is not None and (not isinstance(conversation_id, str) or not conversation_id):
            raise ValueError("conversation_id must be a non-empty str")
        if watermark is not None and (isinstance(watermark, bool) or not isinstance(watermark, str | int)):
            raise TypeError("watermark must be a str")
        if watermark is not None and conversation_id is None:
            raise ValueError("a watermark needs the conversation_id it belongs to")
        self.config = config
        self._conversation_id = conversation_id
        self._watermark = str(watermark) if watermark not in (None, "") else None
        self._resumed = conversation_id is not None
        self._seen = SeenIds(config.seen_capacity)
        self._status = ConnectionStatus.UNINITIALIZED
        self._changes: list[ConnectionStatus] = []
        self._phase = _Phase.NEW
        self._pending: Step | None = None
        self._error: BaseException | None = None
        self._streaming = config.streaming  # False once we fell back to polling
        self._fallback = False
        self._ever_online = False
        self._stream_url: str | None = None
        self._catch_up = False
        self._close_reason: str | None = None
        self._opened_at = 0.0
        self._last_frame_at = 0.0
        self._retry_at = 0.0
        self._poll_at = 0.0
        self._stream_retry_at: float | None = None
        self._refresh_at: float | None = None
        self._attempt = 0  # consecutive connection cycles without progress (drives the backoff)
        self._call_failures = 0  # consecutive failed calls (FAILED_TO_CONNECT at the policy's max_attempts)
        self._refresh_failures = 0
        #: counters, for logs, tests and curious users
        self.malformed_frames = 0
        self.unknown_frames = 0
        self.keepalives = 0
        self.reconnects = 0
        self.stream_opens = 0
        self.delivered = 0

    # -- what the session looks like -----------------------------------------------------------------------

    @property
    def status(self) -> ConnectionStatus:
        return self._status

    @property
    def conversation_id(self) -> str | None:
        return self._conversation_id

    @property
    def watermark(self) -> str | None:
        """The position after the last activity set accepted (None until the service sends one)."""
        return self._watermark

    @property
    def streaming(self) -> bool:
        """True while receiving over the WebSocket, False while polling."""
        return self._streaming

    @property
    def done(self) -> bool:
        return self._phase is _Phase.DONE

    @property
    def error(self) -> BaseException | None:
        return self._error

    @property
    def connected_once(self) -> bool:
        """True once the session has been ONLINE (errors before that are raised to whoever opened it)."""
        return self._ever_online

    def pop_status_changes(self) -> list[ConnectionStatus]:
        changes, self._changes = self._changes, []
        return changes

    # -- the next thing to do -------------------------------------------------------------------------------

    def next_step(self, now: float) -> Step:
        if self._pending is not None:
            raise RuntimeError(f"{self._pending!r} was not reported before asking for the next step")
        step = self._decide(now)
        if isinstance(step, _REPORTED):
            self._pending = step
        return step

    def _decide(self, now: float) -> Step:
        phase = self._phase
        if phase is _Phase.DONE:
            return Finish(self._error)
        if phase is _Phase.NEW:
            self._set_status(ConnectionStatus.CONNECTING)
            if self._conversation_id is None:
                return StartConversation()
            if self._streaming:
                return ReconnectConversation(self._conversation_id, self._watermark)
            self._phase = _Phase.POLLING
            self._poll_at = now
            if self.config.token_auth:
                self._refresh_at = now  # a saved token of unknown age: renew it first
            return self._decide(now)
        if phase is _Phase.CONNECT:  # the stream URL is good for 60 seconds: open it before anything else
            assert self._stream_url is not None
            return OpenStream(self._stream_url)
        if self._refresh_due(now):
            return RefreshToken()
        cid = self._require_conversation_id()
        if phase is _Phase.STREAMING:
            if self._close_reason is not None:
                return CloseStream(self._close_reason)
            if self._catch_up:
                return GetActivities(cid, None)
            silent_at = self._silent_at()
            if silent_at is not None and now >= silent_at:
                return CloseStream("silent")
            return ReceiveFrame(_earliest(silent_at, self._refresh_at))
        if phase is _Phase.BACKOFF:
            if now >= self._retry_at:
                self.reconnects += 1
                return ReconnectConversation(cid, self._watermark)
            return Wait(min(self._retry_at, self._refresh_at or math.inf))
        # polling
        if self._stream_retry_at is not None and now >= self._stream_retry_at:
            self._streaming = True
            self._stream_retry_at = None
            self.reconnects += 1
            return ReconnectConversation(cid, self._watermark)
        if now >= self._poll_at:
            return GetActivities(cid, self._watermark)
        return Wait(min(self._poll_at, self._refresh_at or math.inf, self._stream_retry_at or math.inf))

    def _silent_at(self) -> float | None:
        timeout = self.config.silence_timeout
        return None if timeout is None else self._last_frame_at + timeout

    def _refresh_due(self, now: float) -> bool:
        return self._refresh_at is not None and now >= self._refresh_at

    def _require_conversation_id(self) -> str:
        if self._conversation_id is None:  # pragma: no cover - every phase past NEW has one
            raise RuntimeError("no conversation id yet")
        return self._conversation_id

    # -- outcomes -------------------------------------------------------------------------------------------

    def on_conversation(self, conversation: Conversation, now: float) -> str | None:
        """A start or reconnect answered. Returns the token the client should switch to, if any."""
        pending = self._take(StartConversation, ReconnectConversation)
        if self.done:
            return None
        if conversation.conversation_id and self._conversation_id is None:
            self._conversation_id = conversation.conversation_id
        if self._conversation_id is None:
            self._finish(ConnectionStatus.FAILED_TO_CONNECT, ServiceResponseError("the service sent no conversationId"))
            return None
        self._call_failures = 0
        if self.config.token_auth:
            if conversation.expires_in is not None and conversation.expires_in > 0:
                self._schedule_refresh(now, float(conversation.expires_in))
            elif self._refresh_at is None:
                # a fresh conversation's token has the usual lifetime; a saved one is of unknown age
                self._refresh_at = now if self._resumed else now + DEFAULT_TOKEN_LIFETIME * self.config.refresh_ratio
        if self._streaming:
            url = conversation.stream_url
            try:
                self._stream_url = stream_http_url(url) if url else None
            except ValueError as exc:
                logger.warning("Direct Line stream unusable (%s): polling instead", exc)
                self._stream_url = None
            if self._stream_url is not None:
                self._phase = _Phase.CONNECT
                # a reconnect without a watermark replays only what comes after it: fetch the history once
                self._catch_up = isinstance(pending, ReconnectConversation) and pending.watermark is None
            else:
                if url is None:
                    logger.warning("Direct Line sent no stream URL: polling instead")
                self._fall_back_to_polling(now)
        else:
            self._phase = _Phase.POLLING
            self._poll_at = now
        if self.config.token_auth and conversation.token:
            return conversation.token
        return None

    def on_stream_opened(self, now: float) -> None:
        self._take(OpenStream)
        if self.done:
            return
        self._phase = _Phase.STREAMING
        self._opened_at = self._last_frame_at = now
        self._close_reason = None
        self.stream_opens += 1
        self._ever_online = True
        self._set_status(ConnectionStatus.ONLINE)

    def on_stream_open_failed(self, now: float, reason: str) -> None:
        """The WebSocket could not be opened (refused upgrade, network): receive by polling instead."""
        self._take(OpenStream)
        if self.done:
            return
        logger.warning("Direct Line stream could not be opened (%s): polling instead", reason)
        self._fall_back_to_polling(now)

    def on_frame(self, data: str | bytes | bytearray, now: float) -> Batch:
        if self._phase is not _Phase.STREAMING:
            return _EMPTY
        self._last_frame_at = now
        frame = parse_frame(data)
        if isinstance(frame, Keepalive):
            self.keepalives += 1
            self._attempt = 0
            return _EMPTY
        if isinstance(frame, UnknownFrame):
            self.unknown_frames += 1
            logger.debug("ignoring a Direct Line frame with keys %s", frame.keys)
            return _EMPTY
        if isinstance(frame, MalformedFrame):
            self.malformed_frames += 1
            logger.warning("ignoring a malformed Direct Line frame: %s", frame.reason)
            return _EMPTY
        self._attempt = 0
        return self._accept(frame)

    def on_stream_closed(self, now: float, reason: str) -> None:
        """The WebSocket closed: by the service, by a network error, or because we asked (:class:`CloseStream`)."""
        if isinstance(self._pending, CloseStream):
            self._pending = None
        if self._phase is not _Phase.STREAMING:
            return
        self._close_reason = None
        self._catch_up = False
        if now - self._opened_at >= _STABLE_STREAM:
            self._attempt = 0
        self._attempt += 1
        logger.info("Direct Line stream closed (%s); reconnect attempt %d", reason, self._attempt)
        self._set_status(ConnectionStatus.CONNECTING)
        if self._attempt >= self.config.reconnect_policy.max_attempts:
            logger.warning("Direct Line stream keeps dropping: polling instead")
            self._fall_back_to_polling(now)
            return
        self._phase = _Phase.BACKOFF
        self._retry_at = now + self.config.backoff(self._attempt)

    def on_activity_set(self, activity_set: ActivitySet, now: float) -> Batch:
        """A poll answered (or the catch-up poll after a reconnect without a watermark)."""
        self._take(GetActivities)
        if self.done:
            return _EMPTY
        self._call_failures = 0
        self._attempt = 0
        before = self._watermark
        batch = self._accept(activity_set)
        if self._phase is _Phase.STREAMING:
            self._catch_up = False
        elif not self.done:
            self._phase = _Phase.POLLING
            # page through: poll again at once while the watermark moves on
            moved = bool(activity_set.activities) and batch.watermark != before
            self._poll_at = now if moved else now + self.config.poll_interval
            self._ever_online = True
            self._set_status(ConnectionStatus.ONLINE)
        return batch

    def on_token_refreshed(self, conversation: Conversation, now: float) -> None:
        self._take(RefreshToken)
        self._refresh_failures = 0
        expires_in = conversation.expires_in
        self._schedule_refresh(now, float(expires_in) if expires_in and expires_in > 0 else DEFAULT_TOKEN_LIFETIME)

    def on_call_failed(self, error: BaseException, now: float) -> None:
        """A step's HTTP call raised ``error`` (after the pipeline's own retries)."""
        pending = self._take(StartConversation, ReconnectConversation, GetActivities, RefreshToken)
        if self.done:
            return
        if isinstance(error, TokenExpiredError):
            self._finish(ConnectionStatus.EXPIRED_TOKEN, error)
            return
        if isinstance(pending, RefreshToken):
            # the current token still works until it expires: keep receiving, try again later
            self._refresh_failures += 1
            self._refresh_at = now + self.config.backoff(self._refresh_failures)
            logger.warning("Direct Line token refresh failed (%s); retrying", type(error).__name__)
            return
        fatal = (
            not isinstance(error, BotConnectError)
            or not self._ever_online
            or isinstance(pending, StartConversation)
            or (isinstance(error, HttpResponseError) and error.status_code in _FATAL_STATUSES)
        )
        self._call_failures += 1
        if fatal or self._call_failures >= self.config.reconnect_policy.max_attempts:
            self._finish(ConnectionStatus.FAILED_TO_CONNECT, error)
            return
        logger.info("Direct Line call failed (%s); retrying", type(error).__name__)
        self._set_status(ConnectionStatus.CONNECTING)
        if self._phase is _Phase.STREAMING:  # the catch-up poll: start this connection over
            self._close_reason = "catch-up poll failed"
            return
        self._attempt += 1
        delay = self.config.backoff(self._attempt)
        retry_after = getattr(error, "retry_after", None)
        if isinstance(retry_after, int | float) and retry_after > delay:
            delay = float(retry_after)
        if self._streaming and not self._fallback:
            self._phase = _Phase.BACKOFF
            self._retry_at = now + delay
            return
        if self._streaming:  # trying the stream again after a fallback failed: keep polling
            self._streaming = False
            self._stream_retry_at = now + self.config.stream_retry_interval
        self._phase = _Phase.POLLING
        self._poll_at = now + delay

    def on_sent(self, now: float) -> bool:
        """The user sent an activity; True when the driver should wake up (to poll for the reply soon)."""
        if self._phase is not _Phase.POLLING:
            return False
        soon = now + min(self.config.after_send_poll, self.config.poll_interval)
        if soon < self._poll_at:
            self._poll_at = soon
            return True
        return False

    def fail(self, error: BaseException) -> None:
        """The driver broke (a bug, or an error it cannot report otherwise): end with FAILED_TO_CONNECT."""
        self._pending = None
        if not self.done:
            self._finish(ConnectionStatus.FAILED_TO_CONNECT, error)

    def close(self) -> None:
        """The user closed the session."""
        self._pending = None
        if not self.done:
            self._finish(ConnectionStatus.ENDED, None)

    # -- internals ------------------------------------------------------------------------------------------

    def _take(self, *kinds: type) -> Step | None:
        pending, self._pending = self._pending, None
        if not self.done and not isinstance(pending, kinds):
            raise RuntimeError(f"reported the outcome of {'/'.join(k.__name__ for k in kinds)} but {pending!r} was due")
        return pending

    def _accept(self, activity_set: ActivitySet) -> Batch:
        new_mark = activity_set.watermark or None
        current = watermark_number(self._watermark)
        incoming = watermark_number(new_mark)
        if current is not None and incoming is not None and incoming < current:
            # wholly before what we already have (a replay or a late duplicate): nothing in it is new
            return Batch((), self._watermark, False)
        fresh: list[Activity] = []
        for activity in activity_set.activities or ():
            if activity.id and not self._seen.add(activity.id):
                continue
            fresh.append(activity)
        if new_mark is not None:
            self._watermark = new_mark
        self.delivered += len(fresh)
        ended = any(activity.type == _END_OF_CONVERSATION for activity in fresh)
        if ended:
            self._finish(ConnectionStatus.ENDED, None)
        return Batch(tuple(fresh), self._watermark, ended)

    def _fall_back_to_polling(self, poll_at: float) -> None:
        now_streaming = self._streaming
        self._streaming = False
        self._phase = _Phase.POLLING
        self._poll_at = poll_at
        self._attempt = 0
        if self.config.streaming:
            self._fallback = True
            self._stream_retry_at = poll_at + self.config.stream_retry_interval
        if now_streaming:
            self._set_status(ConnectionStatus.CONNECTING)

    def _schedule_refresh(self, now: float, lifetime: float) -> None:
        if self.config.token_auth:
            self._refresh_at = now + lifetime * self.config.refresh_ratio

    def _finish(self, status: ConnectionStatus, error: BaseException | None) -> None:
        self._phase = _Phase.DONE
        self._error = error
        self._refresh_at = None
        self._set_status(status)

    def _set_status(self, status: ConnectionStatus) -> None:
        if status is not self._status:
            self._status = status
            self._changes.append(status)

    def __repr__(self) -> str:
        return (
            f"<SessionCore conversation_id={self._conversation_id!r} status={self._status.name} "
            f"phase={self._phase.value} watermark={self._watermark!r}>"
        )


def _earliest(*times: float | None) -> float | None:
    present = [t for t in times if t is not None]
    return min(present) if present else None
