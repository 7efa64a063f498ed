"""A Direct Line conversation you hold on to (async, anyio: asyncio or trio): send, and iterate what arrives.

Every decision is made by :class:`botconnect._core.directline_session.SessionCore`; this driver only performs its
steps, in one task of a task group that ``async with`` opens and closes: leaving the block (or cancelling it)
leaves no task or socket behind.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
import httpx

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
    Step,
    Wait,
)
from botconnect._core.directline_session_support import (
    Batch,
    ConnectionStatus,
    Inbox,
    outgoing_activity,
    protect_stream_urls_in_logs,
    redact_url,
    session_config,
    session_user,
)
from botconnect._core.retry import RetryPolicy
from botconnect.errors import BotConnectError, ClientClosedError
from botconnect.models import Activity, ChannelAccount

if TYPE_CHECKING:
    from httpx_ws import AsyncWebSocketSession

    from ._client import DirectLineClient

__all__ = ["ActivityIterator", "ConnectionStatus", "DirectLineConversation"]

logger = logging.getLogger("botconnect.directline")


class ActivityIterator(AsyncIterator[Activity]):
    """Incoming activities, in order, each once; ends when the conversation ends or the session closes.

    Raises the session's error (``TokenExpiredError``, or why it could not connect) once every activity received
    before it has been handed out, and ``TimeoutError`` when ``timeout`` passes without a new activity (the
    session goes on: iterate again).
    """

    def __init__(self, conversation: DirectLineConversation, timeout: float | None) -> None:
        self._conversation = conversation
        self._timeout = timeout

    def __aiter__(self) -> ActivityIterator:
        return self

    async def __anext__(self) -> Activity:
        activity = await self._conversation._receive(self._timeout)
        if activity is None:
            raise StopAsyncIteration
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
        # anyio events belong to an event loop: made on first use, inside one
        self._arrived: anyio.Event | None = None
        self._wake: anyio.Event | None = None
        self._poked = False
        self._done: anyio.Event | None = None
        self._task_group: anyio.abc.TaskGroup | None = None
        self._task_status: anyio.abc.TaskStatus[None] | None = None
        self._worker_scope: anyio.CancelScope | None = None
        self._entered = False
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

    async def send(self, activity: Activity | Mapping[str, Any] | str, *, timeout: float | None = None) -> str | None:
        """Send text or an activity; returns its id. A timeout or 502 raises and is not re-sent: the bot may have
        acted on it, so you decide whether to send again."""
        if self._closed:
            raise ClientClosedError("the conversation session is closed")
        conversation_id = self._core.conversation_id
        if conversation_id is None:
            raise RuntimeError("open the conversation first: async with client.open_conversation() as conversation")
        outgoing = outgoing_activity(activity, self._user)
        result = await self._client.conversations.post_activity(conversation_id, outgoing, timeout=timeout)
        if self._core.on_sent(self._clock()):
            self._poked = True
            if self._wake is not None:
                self._wake.set()
        return result.id

    def activities(self, *, timeout: float | None = None) -> ActivityIterator:
        """Iterate incoming activities (the user's own included) until the conversation ends or is closed."""
        return ActivityIterator(self, timeout)

    async def close(self) -> None:
        """End the session: stop receiving, close the stream, and wait until the session's thread or task is
        gone. Safe to call twice."""
        if not self._closed:
            self._closed = True
            self._core.close()
            self._finish()
            self._publish()
            self._release_end()
            if self._worker_scope is not None:
                self._worker_scope.cancel()  # the session's task only: not the code inside ``async with``
        if self._done is not None:
            await self._done.wait()

    async def __aenter__(self) -> DirectLineConversation:
        if self._entered or self._closed:
            raise RuntimeError("a conversation session can be opened once")
        self._entered = True
        self._done = anyio.Event()
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        self._task_group = task_group
        try:
            await task_group.start(self._run)
        except BaseException:  # cancelled while starting
            self._closed = True
            self._core.close()
            self._finish()
            self._publish()
            task_group.cancel_scope.cancel()
            await task_group.__aexit__(None, None, None)
            raise
        if self._core.done and not self._core.connected_once:
            error = self._core.error
            try:
                await self.close()
            finally:
                await task_group.__aexit__(None, None, None)
            if error is not None:
                raise error
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        task_group = self._task_group
        try:
            await self.close()
        finally:
            if task_group is not None:
                await task_group.__aexit__(None, None, None)

    def __repr__(self) -> str:
        return (
            f"<DirectLineConversation conversation_id={self.conversation_id!r} status={self.status.name} "
            f"watermark={self.watermark!r}>"
        )

    # -- the reader's side ----------------------------------------------------------------------------------

    async def _receive(self, timeout: float | None) -> Activity | None:
        if not self._entered and not self._closed:
            raise RuntimeError("open the conversation first: async with client.open_conversation() as conversation")
        with anyio.fail_after(timeout):
            while True:
                activity = self._inbox.take()
                if activity is not None:
                    return activity
                if self._inbox.finished:
                    self._release_end()  # everything up to the endOfConversation was handed out: now it has ended
                    if self._inbox.error is not None:
                        raise self._inbox.error
                    return None
                if self._arrived is None:
                    self._arrived = anyio.Event()
                await self._arrived.wait()

    def _notify_readers(self) -> None:
        arrived, self._arrived = self._arrived, None
        if arrived is not None:
            arrived.set()

    # -- the session's task ---------------------------------------------------------------------------------

    async def _run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        self._task_status = task_status
        try:
            with anyio.CancelScope() as self._worker_scope:
                if self._closed:
                    self._worker_scope.cancel()
                while True:
                    step = self._next()
                    if isinstance(step, Finish):
                        break
                    if isinstance(step, OpenStream):
                        await self._stream(step.url)
                    else:
                        await self._perform(step)
        except Exception as exc:  # a bug here must end the session, not leave its readers waiting
            logger.exception("the Direct Line session failed")
            self._core.fail(exc)
        finally:
            self._finish()
            self._publish()
            self._started()
            if self._done is not None:
                self._done.set()

    def _next(self) -> Step:
        step = self._core.next_step(self._clock())
        self._publish()
        return step

    async def _perform(self, step: Step) -> None:
        if isinstance(step, Wait):
            await self._sleep_until(step.until)
            return
        if not isinstance(step, StartConversation | ReconnectConversation | GetActivities | RefreshToken):
            raise RuntimeError(f"unexpected step {step!r}")
        client = self._client
        try:
            result: Any
            if isinstance(step, StartConversation):
                result = await client.conversations.start_conversation()
            elif isinstance(step, ReconnectConversation):
                result = await client.conversations.reconnect_to_conversation(step.conversation_id, step.watermark)
            elif isinstance(step, GetActivities):
                result = await client.conversations.get_activities(step.conversation_id, step.watermark)
            else:
                result = await client.tokens.refresh_token()
        except BotConnectError as exc:
            self._core.on_call_failed(exc, self._clock())
            self._publish()
            return
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

    async def _stream(self, url: str) -> None:
        protect_stream_urls_in_logs()
        pipeline = self._client._pipeline
        opened = False
        try:
            from httpx_ws import aconnect_ws  # imported on first use: without it, sessions poll

            connection: contextlib.AbstractAsyncContextManager[AsyncWebSocketSession] = aconnect_ws(
                url,
                pipeline.http_client,
                headers={"User-Agent": pipeline.config.user_agent},
                timeout=pipeline.config.timeout,
            )
            async with connection as ws:
                opened = True
                self._core.on_stream_opened(self._clock())
                logger.info("Direct Line stream open: %s", redact_url(url))
                self._publish()
                await self._pump(ws)
        except BaseException as exc:
            if _has_cancellation(exc):
                raise
            if not opened:  # whatever stops the upgrade, polling is the way on
                self._core.on_stream_open_failed(self._clock(), _describe(exc))
            elif _only_network(exc):
                self._core.on_stream_closed(self._clock(), _describe(exc))
            else:
                raise
            self._publish()

    async def _pump(self, ws: AsyncWebSocketSession) -> None:
        import wsproto.events
        from httpx_ws import HTTPXWSException

        while True:
            step = self._next()
            if isinstance(step, ReceiveFrame):
                try:
                    event = await ws.receive(timeout=self._timeout(step.until))
                except TimeoutError:
                    continue
                except HTTPXWSException as exc:
                    self._stream_closed(_describe(exc))
                    return
                if isinstance(event, wsproto.events.TextMessage | wsproto.events.BytesMessage):
                    self._deliver(self._core.on_frame(event.data, self._clock()))
                continue
            if isinstance(step, CloseStream):
                self._stream_closed(step.reason)
                return
            if isinstance(step, Finish):
                return
            await self._perform(step)

    def _stream_closed(self, reason: str) -> None:
        self._core.on_stream_closed(self._clock(), reason)
        self._publish()

    def _deliver(self, batch: Batch) -> None:
        if batch.ended:
            self._end_after_reading = True
        if self._inbox.put(batch):
            self._notify_readers()

    def _timeout(self, until: float | None) -> float | None:
        timeout = None if until is None else max(0.0, until - self._clock())
        if self._max_wait is not None:
            timeout = self._max_wait if timeout is None else min(timeout, self._max_wait)
        return timeout

    async def _sleep_until(self, until: float) -> None:
        if self._poked:
            self._poked = False
            return
        self._wake = anyio.Event()
        with anyio.move_on_after(self._timeout(until)):
            await self._wake.wait()
        self._wake = None
        self._poked = False

    def _finish(self) -> None:
        self._inbox.finish(self._core.error)
        self._notify_readers()

    def _started(self) -> None:
        status, self._task_status = self._task_status, None
        if status is not None:
            status.started()

    def _publish(self) -> None:
        held = self._end_after_reading and not self._closed
        for status in self._core.pop_status_changes():
            if status is ConnectionStatus.ENDED and held:
                self._end_held = True  # reported by the reader once it has everything (or by close())
                continue
            self._show(status)

    def _release_end(self) -> None:
        if self._end_held:
            self._end_held = False
            self._show(ConnectionStatus.ENDED)

    def _show(self, status: ConnectionStatus) -> None:
        self._shown = status
        if status is ConnectionStatus.ONLINE:
            self._started()
        if self._on_status is not None:
            try:
                self._on_status(status)
            except Exception:
                logger.exception("on_status raised; the session goes on")


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def _has_cancellation(exc: BaseException) -> bool:
    cancelled = anyio.get_cancelled_exc_class()
    return any(isinstance(leaf, cancelled) for leaf in _leaves(exc))


def _only_network(exc: BaseException) -> bool:
    import wsproto.utilities
    from httpx_ws import HTTPXWSException

    network = (HTTPXWSException, httpx.HTTPError, OSError, wsproto.utilities.LocalProtocolError)
    return all(isinstance(leaf, network) for leaf in _leaves(exc))


def _describe(exc: BaseException) -> str:
    """A short reason for logs; never the URL (its query carries the token)."""
    if isinstance(exc, ImportError):
        return "httpx-ws is not installed (pip install httpx-ws)"
    leaf = _leaves(exc)[0]
    response = getattr(leaf, "response", None)
    if isinstance(response, httpx.Response):
        return f"{type(leaf).__name__}: HTTP {response.status_code}"
    code = getattr(leaf, "code", None)
    if isinstance(code, int):
        return f"{type(leaf).__name__}: close code {code}"
    return type(leaf).__name__
