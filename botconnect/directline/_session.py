"""A Direct Line conversation you hold on to (sync): send, and iterate what arrives over the WebSocket stream.

Every decision is made by :class:`botconnect._core.directline_session.SessionCore`; this driver only performs its
steps. One background thread receives (stream, or polling when the stream cannot be opened) into a queue the
user's :meth:`DirectLineConversation.activities` iterator reads; ``close()`` stops and joins it.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import httpx

from .._core.directline_session import (
    CloseStream,
    Finish,
    GetActivities,
    OpenStream,
    ReceiveFrame,
    ReconnectConversation,
    RefreshToken,
    SessionCore,
    StartConversation,
    Step,
    Wait,
)
from .._core.directline_session_support import (
    Batch,
    ConnectionStatus,
    Inbox,
    outgoing_activity,
    protect_stream_urls_in_logs,
    redact_url,
    session_config,
    session_user,
)
from .._core.retry import RetryPolicy
from ..errors import BotConnectError, ClientClosedError
from ..models import Activity, ChannelAccount

if TYPE_CHECKING:
    from httpx_ws import WebSocketSession

    from ._client import DirectLineClient

__all__ = ["ActivityIterator", "ConnectionStatus", "DirectLineConversation"]

logger = logging.getLogger("botconnect.directline")

#: longest a blocked socket read lasts before the thread checks whether the session was closed
_RECEIVE_SLICE = 0.1


class ActivityIterator(Iterator[Activity]):
    """Incoming activities, in order, each once; ends when the conversation ends or the session closes.

    Raises the session's error (``TokenExpiredError``, or why it could not connect) once every activity received
    before it has been handed out, and ``TimeoutError`` when ``timeout`` passes without a new activity (the
    session goes on: iterate again).
    """

    def __init__(self, conversation: DirectLineConversation, timeout: float | None) -> None:
        self._conversation = conversation
        self._timeout = timeout

    def __iter__(self) -> ActivityIterator:
        return self

    def __next__(self) -> Activity:
        activity = self._conversation._receive(self._timeout)
        if activity is None:
            raise StopIteration
        return activity


class DirectLineConversation:
    """One conversation with a bot: ``send()`` and ``activities()``, inside ``with`` (``async with`` in botconnect_aio).

    Built by :meth:`DirectLineClient.open_conversation`. Entering starts the conversation (or reconnects to
    ``conversation_id`` from ``watermark``) and returns once it is ONLINE; an error before that is raised on
    entering. Activities arrive over the WebSocket stream, or by polling when it cannot be opened; dropped or
    silent streams are reconnected from the watermark with backoff, and each activity is delivered once.
    Tokens are refreshed before they expire. ``conversation_id``, ``token`` and ``watermark`` are what to save
    to resume later with ``DirectLineClient(token=...).open_conversation(conversation_id=..., watermark=...)``.

    ``on_status`` is called with each new :class:`ConnectionStatus`, from the session's thread (botconnect) or
    task (botconnect_aio). When the conversation ends with an endOfConversation, ENDED comes only after
    :meth:`activities` has handed out every activity up to it (the goodbye included), from the reader's call that
    finds nothing more; :attr:`status` changes with it. Closing the session reports ENDED at once.
    """

    def __init__(
        self,
        client: DirectLineClient,
        *,
        conversation_id: str | None = None,
        watermark: str | None = None,
        user: ChannelAccount | str | None = None,
        streaming: bool = True,
        poll_interval: float = 1.0,
        silence_timeout: float | None = 120.0,
        reconnect_policy: RetryPolicy | None = None,
        on_status: Callable[[ConnectionStatus], object] | None = None,
        _clock: Callable[[], float] | None = None,
        _max_wait: float | None = None,
    ) -> None:
        config = session_config(
            streaming=streaming,
            poll_interval=poll_interval,
            silence_timeout=silence_timeout,
            reconnect_policy=reconnect_policy,
            token_auth=not client._credential.is_secret,
            on_status=on_status,
        )
        self._core = SessionCore(config, conversation_id=conversation_id, watermark=watermark)
        self._client = client
        self._user = session_user(user)
        self._on_status = on_status
        self._clock = _clock or time.monotonic
        self._max_wait = _max_wait
        self._inbox = Inbox(self._core.watermark)
        self._lock = threading.Lock()  # the core and the inbox
        self._arrived = threading.Condition(self._lock)
        self._publishing = threading.RLock()  # status callbacks, in order
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        #: the status last reported (what :attr:`status` says)
        self._shown = ConnectionStatus.UNINITIALIZED
        #: the session reached endOfConversation: ENDED waits for the reader to take the last activity
        self._end_after_reading = False
        self._end_held = False

    # -- what the user sees ---------------------------------------------------------------------------------

    @property
    def conversation_id(self) -> str | None:
        """The conversation's id (known once the session is open)."""
        return self._core.conversation_id

    @property
    def watermark(self) -> str | None:
        """Where to resume so that nothing after the activities already handed out is lost."""
        with self._lock:
            return self._inbox.watermark

    @property
    def token(self) -> str:
        """The token (or secret) the session authenticates with now: save it with the conversation id."""
        return self._client.token

    @property
    def status(self) -> ConnectionStatus:
        """The session's ``ConnectionStatus`` now (``on_status`` is told of each change)."""
        return self._shown

    @property
    def user(self) -> ChannelAccount:
        """The account sent as ``from`` when an activity has none."""
        return self._user

    def send(self, activity: Activity | Mapping[str, Any] | str, *, timeout: float | None = None) -> str | None:
        """Send text or an activity; returns its id. A timeout or 502 raises and is not re-sent: the bot may have
        acted on it, so you decide whether to send again."""
        if self._closed:
            raise ClientClosedError("the conversation session is closed")
        conversation_id = self._core.conversation_id
        if conversation_id is None:
            raise RuntimeError("open the conversation first: with client.open_conversation() as conversation")
        outgoing = outgoing_activity(activity, self._user)
        result = self._client.conversations.post_activity(conversation_id, outgoing, timeout=timeout)
        with self._lock:
            poll_soon = self._core.on_sent(self._clock())
        if poll_soon:
            self._wake.set()
        return result.id

    def activities(self, *, timeout: float | None = None) -> ActivityIterator:
        """Iterate incoming activities (the user's own included) until the conversation ends or is closed."""
        return ActivityIterator(self, timeout)

    def close(self) -> None:
        """End the session: stop receiving, close the stream, and wait until the session's thread or task is
        gone. Safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._core.close()
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        self._finish()
        self._publish()
        self._release_end()

    def __enter__(self) -> DirectLineConversation:
        if self._thread is not None or self._closed:
            raise RuntimeError("a conversation session can be opened once")
        self._thread = threading.Thread(target=self._run, name="botconnect-directline-session", daemon=True)
        self._thread.start()
        try:
            self._ready.wait()
        except BaseException:  # interrupted while starting
            self.close()
            raise
        with self._lock:
            failed = self._core.done and not self._core.connected_once
            error = self._core.error
        if failed:
            self.close()
            if error is not None:
                raise error
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"<DirectLineConversation conversation_id={self.conversation_id!r} status={self.status.name} "
            f"watermark={self.watermark!r}>"
        )

    # -- the reader's side ----------------------------------------------------------------------------------

    def _receive(self, timeout: float | None) -> Activity | None:
        if self._thread is None and not self._closed:
            raise RuntimeError("open the conversation first: with client.open_conversation() as conversation")
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._arrived:
            while True:
                activity = self._inbox.take()
                if activity is not None:
                    return activity
                if self._inbox.finished:
                    error = self._inbox.error
                    break
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError("no activity arrived in time")
                self._arrived.wait(remaining)
        self._release_end()  # everything up to the endOfConversation was handed out: now it has ended
        if error is not None:
            raise error
        return None

    # -- the session's thread -------------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                step = self._next()
                if isinstance(step, Finish):
                    break
                if isinstance(step, OpenStream):
                    self._stream(step.url)
                else:
                    self._perform(step)
        except BaseException as exc:  # a bug here must end the session, not leave its readers waiting
            logger.exception("the Direct Line session failed")
            with self._lock:
                self._core.fail(exc)
        finally:
            self._finish()
            self._publish()

    def _next(self) -> Step:
        with self._lock:
            step = self._core.next_step(self._clock())
        self._publish()
        return step

    def _perform(self, step: Step) -> None:
        if isinstance(step, Wait):
            self._sleep_until(step.until)
            return
        if not isinstance(step, StartConversation | ReconnectConversation | GetActivities | RefreshToken):
            raise RuntimeError(f"unexpected step {step!r}")
        client = self._client
        try:
            result: Any
            if isinstance(step, StartConversation):
                result = client.conversations.start_conversation()
            elif isinstance(step, ReconnectConversation):
                result = client.conversations.reconnect_to_conversation(step.conversation_id, step.watermark)
            elif isinstance(step, GetActivities):
                result = client.conversations.get_activities(step.conversation_id, step.watermark)
            else:
                result = client.tokens.refresh_token()
        except BotConnectError as exc:
            with self._lock:
                self._core.on_call_failed(exc, self._clock())
            self._publish()
            return
        with self._lock:
            now = self._clock()
            if isinstance(step, GetActivities):
                self._deliver(self._core.on_activity_set(result, now))
            elif isinstance(step, RefreshToken):
                self._core.on_token_refreshed(result, now)  # the client already switched to the new token
            else:
                token = self._core.on_conversation(result, now)
                if token is not None:
                    client._credential.update(token)
        self._publish()

    def _stream(self, url: str) -> None:
        protect_stream_urls_in_logs()
        with contextlib.ExitStack() as stack:
            try:
                from httpx_ws import connect_ws  # imported on first use: without it, sessions poll

                pipeline = self._client._pipeline
                ws: WebSocketSession = stack.enter_context(
                    connect_ws(
                        url,
                        pipeline.http_client,
                        headers={"User-Agent": pipeline.config.user_agent},
                        timeout=pipeline.config.timeout,
                    )
                )
            except Exception as exc:  # whatever stops the upgrade, polling is the way on
                with self._lock:
                    self._core.on_stream_open_failed(self._clock(), _describe(exc))
                self._publish()
                return
            with self._lock:
                self._core.on_stream_opened(self._clock())
            logger.info("Direct Line stream open: %s", redact_url(url))
            self._publish()
            self._pump(ws)

    def _pump(self, ws: WebSocketSession) -> None:
        import wsproto.events
        from httpx_ws import HTTPXWSException

        while not self._stop.is_set():
            step = self._next()
            if isinstance(step, ReceiveFrame):
                try:
                    event = ws.receive(timeout=self._timeout(step.until, _RECEIVE_SLICE))
                except queue.Empty:
                    continue
                except HTTPXWSException as exc:
                    self._stream_closed(_describe(exc))
                    return
                if isinstance(event, wsproto.events.TextMessage | wsproto.events.BytesMessage):
                    with self._lock:
                        self._deliver(self._core.on_frame(event.data, self._clock()))
                continue
            if isinstance(step, CloseStream):
                self._stream_closed(step.reason)
                return
            if isinstance(step, Finish):
                return
            self._perform(step)

    def _stream_closed(self, reason: str) -> None:
        with self._lock:
            self._core.on_stream_closed(self._clock(), reason)
        self._publish()

    def _deliver(self, batch: Batch) -> None:
        # with self._lock held
        if batch.ended:
            self._end_after_reading = True
        if self._inbox.put(batch):
            self._arrived.notify_all()

    def _timeout(self, until: float | None, cap: float | None = None) -> float | None:
        timeout = None if until is None else max(0.0, until - self._clock())
        for limit in (cap, self._max_wait):
            if limit is not None:
                timeout = limit if timeout is None else min(timeout, limit)
        return timeout

    def _sleep_until(self, until: float) -> None:
        self._wake.wait(self._timeout(until))
        self._wake.clear()

    def _finish(self) -> None:
        with self._lock:
            self._inbox.finish(self._core.error)
            self._arrived.notify_all()
        self._ready.set()

    def _publish(self) -> None:
        with self._publishing:
            with self._lock:
                changes = self._core.pop_status_changes()
                held = self._end_after_reading and not self._closed
            for status in changes:
                if status is ConnectionStatus.ENDED and held:
                    self._end_held = True  # reported by the reader once it has everything (or by close())
                    continue
                self._show(status)

    def _release_end(self) -> None:
        with self._publishing:
            if self._end_held:
                self._end_held = False
                self._show(ConnectionStatus.ENDED)

    def _show(self, status: ConnectionStatus) -> None:
        # with self._publishing held
        self._shown = status
        if status is ConnectionStatus.ONLINE:
            self._ready.set()
        if self._on_status is not None:
            try:
                self._on_status(status)
            except Exception:
                logger.exception("on_status raised; the session goes on")


def _describe(exc: BaseException) -> str:
    """A short reason for logs; never the URL (its query carries the token)."""
    if isinstance(exc, ImportError):
        return "httpx-ws is not installed (pip install httpx-ws)"
    if hasattr(exc, "response") and isinstance(exc.response, httpx.Response):
        return f"{type(exc).__name__}: HTTP {exc.response.status_code}"
    code = getattr(exc, "code", None)
    if isinstance(code, int):
        return f"{type(exc).__name__}: close code {code}"
    return type(exc).__name__
