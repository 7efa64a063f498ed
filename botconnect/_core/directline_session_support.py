"""Around a Direct Line session's state machine: status, settings, frames, dedupe, the inbox, URLs, outgoing activities.

All pure: no I/O, no clock. :mod:`botconnect._core.directline_session` holds the decisions.
"""

from __future__ import annotations

import enum
import json
import logging
import math
import random
import secrets
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import httpx

from ..models import Activity, ChannelAccount
from ..models.directline import ActivitySet
from .retry import RetryPolicy
from .security import is_loopback

__all__ = [
    "Batch",
    "ConnectionStatus",
    "Inbox",
    "Keepalive",
    "MalformedFrame",
    "SeenIds",
    "SessionConfig",
    "UnknownFrame",
    "outgoing_activity",
    "parse_frame",
    "protect_stream_urls_in_logs",
    "redact_url",
    "session_config",
    "session_user",
    "stream_http_url",
    "watermark_number",
]


class ConnectionStatus(enum.IntEnum):
    """Where a conversation session stands (the values of DirectLineJS's ``ConnectionStatus``)."""

    UNINITIALIZED = 0
    CONNECTING = 1
    ONLINE = 2
    EXPIRED_TOKEN = 3
    FAILED_TO_CONNECT = 4
    ENDED = 5


@attrs.frozen
class Batch:
    """New activities to deliver, in order, and the watermark to resume after them."""

    activities: tuple[Activity, ...] = ()
    watermark: str | None = None
    ended: bool = False


# -- frames -------------------------------------------------------------------------------------------------


@attrs.frozen
class Keepalive:
    """An empty frame: the service checking the connection."""


@attrs.frozen
class UnknownFrame:
    """A JSON object without ``activities``: a frame type defined after Direct Line 3.0, ignored."""

    keys: tuple[str, ...]


@attrs.frozen
class MalformedFrame:
    reason: str


def parse_frame(data: str | bytes | bytearray) -> ActivitySet | Keepalive | UnknownFrame | MalformedFrame:
    """Classify one WebSocket text frame. Never raises: a broken frame is reported as :class:`MalformedFrame`."""
    if isinstance(data, bytes | bytearray):
        try:
            data = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            return MalformedFrame("not UTF-8")
    if not data.strip():
        return Keepalive()
    try:
        parsed = json.loads(data)
    except ValueError:
        return MalformedFrame("not JSON")
    if not isinstance(parsed, Mapping):
        return MalformedFrame(f"a JSON {type(parsed).__name__}, not an object")
    if "activities" not in parsed:
        return UnknownFrame(tuple(sorted(str(key) for key in parsed)))
    activities = parsed.get("activities")
    if activities is not None and (
        not isinstance(activities, list) or not all(isinstance(item, Mapping) for item in activities)
    ):
        return MalformedFrame("activities is not a list of objects")
    watermark = parsed.get("watermark")
    if watermark is not None and (isinstance(watermark, bool) or not isinstance(watermark, str | int)):
        return MalformedFrame("watermark is not a string")
    try:
        return ActivitySet.from_dict({"activities": activities, "watermark": watermark})
    except Exception as exc:  # any structuring failure means the frame is unusable
        return MalformedFrame(f"activities do not parse: {type(exc).__name__}")


def watermark_number(watermark: str | None) -> int | None:
    if watermark is not None and watermark.isascii() and watermark.isdigit():
        return int(watermark)
    return None


class SeenIds:
    """The ids of the last ``capacity`` activities delivered (an LRU), to drop duplicates in bounded memory."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def add(self, activity_id: str) -> bool:
        """Remember ``activity_id``; False when it was already remembered (a duplicate)."""
        if activity_id in self._ids:
            self._ids.move_to_end(activity_id)
            return False
        self._ids[activity_id] = None
        if len(self._ids) > self.capacity:
            self._ids.popitem(last=False)
        return True

    def __contains__(self, activity_id: object) -> bool:
        return activity_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)


# -- URLs, users, outgoing activities -----------------------------------------------------------------------


def stream_http_url(url: str) -> str:
    """The stream URL as httpx wants it (wss -> https, ws -> http); plain ws only to loopback (it carries a token)."""
    if not isinstance(url, str) or not url:
        raise ValueError("the stream URL is empty")
    parsed = httpx.URL(url)
    scheme = {"wss": "https", "https": "https", "ws": "http", "http": "http"}.get(parsed.scheme)
    if scheme is None or not parsed.host:
        raise ValueError(f"not a WebSocket URL: {redact_url(url)}")
    if scheme == "http" and not is_loopback(parsed.host):
        raise ValueError(f"refusing an unencrypted stream URL to {parsed.host!r}: it carries the token")
    return str(parsed.copy_with(scheme=scheme))


def redact_url(url: str | httpx.URL) -> str:
    """The URL without its query (stream URLs carry the token in ``t=``), for logs and messages."""
    try:
        parsed = httpx.URL(url)
    except Exception:  # a URL we cannot parse is not logged at all
        return "<unparsable URL>"
    return str(parsed.copy_with(query=None, fragment=None)) + ("?<query>" if parsed.query else "")


class _RedactStreamTokens(logging.Filter):
    """Drops the query of URLs carrying a ``t=`` token from httpx's own request log lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(_carries_token(arg) for arg in record.args):
            record.args = tuple(redact_url(str(arg)) if _carries_token(arg) else arg for arg in record.args)
        return True


def _carries_token(value: object) -> bool:
    if isinstance(value, httpx.URL):
        return "t" in value.params
    return isinstance(value, str) and "://" in value and ("?t=" in value or "&t=" in value)


def protect_stream_urls_in_logs() -> None:
    """httpx logs each request's full URL at INFO; a stream URL's query is its token. Idempotent."""
    httpx_logger = logging.getLogger("httpx")
    if not any(isinstance(existing, _RedactStreamTokens) for existing in httpx_logger.filters):
        httpx_logger.addFilter(_RedactStreamTokens())


def session_user(user: ChannelAccount | str | None) -> ChannelAccount:
    """The account sent as ``from``: a ChannelAccount, a user id, or a random ``dl_`` id (as Web Chat does)."""
    if user is None:
        return ChannelAccount(id="dl_" + secrets.token_hex(8))
    if isinstance(user, str):
        if not user:
            raise ValueError("user must be a non-empty id")
        return ChannelAccount(id=user)
    if isinstance(user, ChannelAccount):
        if not user.id:
            raise ValueError("user must have an id")
        return user
    raise TypeError(f"user must be a ChannelAccount or a user id str, got {type(user).__name__}")


def outgoing_activity(activity: Activity | Mapping[str, Any] | str, user: ChannelAccount) -> Activity:
    """The activity to post: text becomes a message; ``from`` is the session's user when the activity has none."""
    if isinstance(activity, str):
        return Activity(type="message", text=activity, from_property=user)
    if isinstance(activity, Mapping):
        try:
            activity = Activity.from_dict(activity)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"activity is not a valid Activity: {exc}") from exc
        activity._refuse_python_names("activity")  # never let reply_to_id travel as an unknown key
    if not isinstance(activity, Activity):
        raise TypeError(f"send() takes an Activity, its wire dict or text, got {type(activity).__name__}")
    if activity.type is None:
        activity = attrs.evolve(activity, type="message")
    if activity.from_property is None:
        activity = attrs.evolve(activity, from_property=user)
    return activity


class Inbox:
    """Activities accepted but not yet handed to the user, and the watermark of what the user has been handed.

    A batch's watermark is attached to its last activity, so :attr:`watermark` moves past a batch only once the
    user has taken all of it: saved and resumed later, it loses nothing the user did not see.
    """

    def __init__(self, watermark: str | None) -> None:
        self._items: deque[tuple[Activity | None, str | None]] = deque()
        self._watermark = watermark
        self.finished = False
        self.error: BaseException | None = None

    def put(self, batch: Batch) -> bool:
        """Queue a batch; True when there is something new for a waiting reader."""
        activities = batch.activities
        if activities:
            self._items.extend((activity, None) for activity in activities[:-1])
            self._items.append((activities[-1], batch.watermark))
            return True
        if batch.watermark is not None and batch.watermark != self._last_mark():
            if self._items:
                self._items.append((None, batch.watermark))
            else:
                self._watermark = batch.watermark
        return False

    def finish(self, error: BaseException | None) -> None:
        """No more activities will come; readers get ``error`` (if any) once the queue is drained."""
        if not self.finished:
            self.finished = True
            self.error = error

    def take(self) -> Activity | None:
        """The next activity, or None when none is queued."""
        while self._items:
            activity, mark = self._items.popleft()
            if mark is not None:
                self._watermark = mark
            if activity is not None:
                return activity
        return None

    @property
    def watermark(self) -> str | None:
        while self._items and self._items[0][0] is None:
            mark = self._items.popleft()[1]
            if mark is not None:
                self._watermark = mark
        return self._watermark

    def _last_mark(self) -> str | None:
        for _, mark in reversed(self._items):
            if mark is not None:
                return mark
        return self._watermark

    def __len__(self) -> int:
        return sum(1 for activity, _ in self._items if activity is not None)


# -- settings ------------------------------------------------------------------------------------------


def _default_reconnect_policy() -> RetryPolicy:
    return RetryPolicy(max_attempts=20, backoff_factor=0.5, max_backoff=30.0, deadline=None)


def _positive(name: str, value: float | None, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")


@attrs.frozen
class SessionConfig:
    """How a session behaves; validated once, the same for both packages."""

    streaming: bool = True
    poll_interval: float = 1.0
    #: no frame at all (not even a keepalive) for this long means a dead stream: reconnect (None: never)
    silence_timeout: float | None = 120.0
    #: backoff between reconnects (``backoff_factor``, ``max_backoff``) and ``max_attempts``: consecutive failed
    #: calls before FAILED_TO_CONNECT, and consecutive streams lost without progress before falling back to polling
    reconnect_policy: RetryPolicy = attrs.field(factory=_default_reconnect_policy)
    #: the client authenticates with a token (refreshed, and replaced by the ones the service hands out)
    token_auth: bool = True
    #: refresh the token once this fraction of its lifetime has passed
    refresh_ratio: float = 0.5
    seen_capacity: int = 4096
    #: after falling back to polling, try the stream again this often
    stream_retry_interval: float = 300.0
    #: poll this soon after a send while polling (the protocol suggests ~300 ms)
    after_send_poll: float = 0.3
    rand: Callable[[], float] = random.random

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.streaming, bool):
            raise TypeError("streaming must be a bool")
        _positive("poll_interval", self.poll_interval)
        _positive("silence_timeout", self.silence_timeout, optional=True)
        _positive("stream_retry_interval", self.stream_retry_interval)
        if not isinstance(self.reconnect_policy, RetryPolicy):
            raise TypeError("reconnect_policy must be a RetryPolicy")
        if not 0 < self.refresh_ratio < 1:
            raise ValueError("refresh_ratio must be between 0 and 1")
        if self.seen_capacity < 1:
            raise ValueError("seen_capacity must be at least 1")

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before connection attempt number ``attempt + 1`` (full-jitter exponential)."""
        return self.reconnect_policy.backoff(max(1, attempt), self.rand)


def session_config(
    *,
    streaming: bool,
    poll_interval: float,
    silence_timeout: float | None,
    reconnect_policy: RetryPolicy | None,
    token_auth: bool,
    on_status: Callable[[ConnectionStatus], object] | None,
) -> SessionConfig:
    """Validate ``open_conversation``'s options the same way for both packages."""
    if on_status is not None and not callable(on_status):
        raise TypeError("on_status must be a callable taking a ConnectionStatus")
    policy = reconnect_policy if reconnect_policy is not None else _default_reconnect_policy()
    return SessionConfig(
        streaming=streaming,
        poll_interval=poll_interval,
        silence_timeout=silence_timeout,
        reconnect_policy=policy,
        token_auth=token_auth,
    )
