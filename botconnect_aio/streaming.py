"""Streaming replies (async, anyio: asyncio or trio): an AI answer shown as it is generated, in Teams and Web Chat."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Generator
from typing import Any, TypeVar

import anyio

from botconnect._core.retry import NO_RETRIES, RetryPolicy
from botconnect._core.streaming import Post as _Post
from botconnect._core.streaming import StreamCore, StreamInfo, StreamStoppedError, Wait
from botconnect.errors import BotConnectError
from botconnect.models import Activity, ResourceResponse

from .connector import ConnectorClient

__all__ = ["StreamInfo", "StreamStoppedError", "StreamingReply"]

T = TypeVar("T")


class StreamingReply:
    """Stream the reply to ``activity`` (the incoming Activity) through ``client``, the way Teams streams bot messages.

    ``update(text)`` shows an informative status ("Searching the docs..."), ``append(text)`` adds to the answer
    (each streaming update carries the whole text so far), and ``end()`` sends the final message: everything
    appended, with whatever attachments and entities (citations, an AI-generated label) were added to
    :attr:`final_activity`. Updates are ``typing`` activities with a ``streaminfo`` entity; the id the service gives
    the first one is the ``streamId`` of the rest; ``streamSequence`` counts from 1; the final message is a
    ``message`` with ``streamType: final``. Used as a context manager, leaving the block normally calls ``end()``.

    Throttling: at most one update per ``interval`` seconds (1: Teams' limit). ``append`` never waits: when the last
    update is too recent the text is kept, and the first call after the interval sends the whole text (so fast chunks
    coalesce, the latest text wins, and the final message has it all). ``update`` and ``end`` wait out the rest of
    the interval before they send.

    Failures: an update the service throttles (429), or fails with 5xx or a network error, is dropped -- the next
    one supersedes it. The final message is retried on 429 (and 503 with ``Retry-After``, or a connection never
    made), honouring ``Retry-After``, within ``retry_policy`` (default: up to a minute); past it the error is raised
    and ``end()`` may be called again. A 403 ``ContentStreamNotAllowed`` (the user pressed Stop) raises
    :class:`StreamStoppedError` and stops the stream: nothing more is sent. Other errors are raised as usual.

    Cancellation: ``cancel()`` stops the stream with no final message, and so does leaving the block with an
    exception or being cancelled mid-call (whether that call's update went out is then unknown); later calls raise
    ``RuntimeError``. To send what was accumulated instead, call ``end()`` yourself.

    ``streaming``: None streams in Teams one-on-one chats and on Direct Line / Web Chat, and elsewhere sends only
    the final message (True / False to decide). A first update the channel refuses with 400 also turns
    streaming off. ``clock`` and ``sleep`` replace ``time.monotonic`` and the sleep function (tests). One call at a
    time: the object is not thread-safe.
    """

    def __init__(
        self,
        client: ConnectorClient,
        activity: Activity,
        *,
        interval: float = 1.0,
        streaming: bool | None = None,
        retry_policy: RetryPolicy | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self._core = StreamCore(
            activity,
            interval=interval,
            streaming=streaming,
            retry_policy=retry_policy,
            clock=clock if clock is not None else time.monotonic,
        )
        self._client = client
        self._sleep = sleep if sleep is not None else anyio.sleep

    @property
    def final_activity(self) -> Activity:
        """The final message being prepared: add attachments, entities, channel data; set ``text`` to override."""
        return self._core.final_activity

    @property
    def text(self) -> str:
        """Everything appended so far."""
        return self._core.text

    @property
    def stream_id(self) -> str | None:
        """The id of the stream's first update, once the service gave it."""
        return self._core.stream_id

    @property
    def streaming(self) -> bool:
        """Whether updates are sent (False: only the final message will be)."""
        return self._core.streaming

    @property
    def state(self) -> str:
        """``"open"``, ``"ended"`` (final message sent), ``"stopped"`` (by the channel) or ``"cancelled"``."""
        return self._core.state

    async def update(self, text: str) -> None:
        """Send an informative update (e.g. "Searching the docs..."), waiting out the interval if needed."""
        await self._run(self._core.update(text))

    async def append(self, text: str) -> None:
        """Add ``text`` to the answer; the whole text goes out now if the interval allows, else with a later call."""
        await self._run(self._core.append(text))

    async def end(self) -> ResourceResponse:
        """Send the final message (retried when throttled); returns its ``ResourceResponse``."""
        result: ResourceResponse = await self._run(self._core.end())
        return result

    async def cancel(self) -> None:
        """Stop the stream without a final message: nothing more is sent. Safe to call twice."""
        self._core.cancel()

    async def __aenter__(self) -> StreamingReply:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, *exc_info: object) -> None:
        if self._core.exit(failed=exc_type is not None):
            await self.end()

    def __repr__(self) -> str:
        return f"<StreamingReply state={self.state!r} stream_id={self.stream_id!r}>"

    async def _run(self, flow: Generator[Any, Any, T]) -> T:
        try:
            step = next(flow)
            while True:
                if isinstance(step, Wait):
                    await self._sleep(step.seconds)
                    step = flow.send(None)
                    continue
                try:
                    outcome = await self._post(step)
                except BotConnectError as exc:
                    step = flow.throw(exc)
                else:
                    step = flow.send(outcome)
        except StopIteration as stop:
            value: T = stop.value
            return value
        finally:
            flow.close()  # abandoned mid-call (cancelled): the core cancels the stream

    async def _post(self, step: _Post) -> ResourceResponse:
        operations = self._client.conversations
        if step.reply_to_id is not None:
            return await operations.reply_to_activity(
                step.conversation_id, step.reply_to_id, step.activity, retry_policy=NO_RETRIES
            )
        return await operations.send_to_conversation(step.conversation_id, step.activity, retry_policy=NO_RETRIES)
