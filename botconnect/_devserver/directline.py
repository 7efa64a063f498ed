"""A local Direct Line 3.0 service with an echo bot: REST, WebSocket stream, token lifetimes, and faults on demand.

::

    from botconnect._devserver.directline import DirectLineServer, serve

    with serve(DirectLineServer()) as server:          # uvicorn in a thread, on 127.0.0.1, a free port
        client = DirectLineClient(secret=server.secret, endpoint=server.endpoint)

Activity ids are ``<conversation id>|<7-digit index>``, watermarks the number of activities before the next one.
The bot answers every message with ``echo: <text>`` (and ends the conversation after ``bye``). Faults are switched
on with :attr:`DirectLineServer.faults` and the control methods, from any thread.

Needs starlette and uvicorn (with wsproto); nothing else in botconnect imports this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

import attrs

try:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route, WebSocketRoute
    from starlette.websockets import WebSocket
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "the local Direct Line server needs starlette and uvicorn: pip install starlette uvicorn"
    ) from exc

__all__ = ["DirectLineServer", "Faults", "echo_bot", "serve"]

T = TypeVar("T")
Bot = Callable[[dict[str, Any]], list[dict[str, Any]]]
_PREFIX = "/v3/directline"
_STREAM_URL_LIFETIME = 60.0


def echo_bot(activity: dict[str, Any]) -> list[dict[str, Any]]:
    """Reply ``echo: <text>`` to each message; after ``bye`` also end the conversation."""
    if activity.get("type") != "message":
        return []
    text = str(activity.get("text") or "")
    replies: list[dict[str, Any]] = [{"type": "message", "text": f"echo: {text}"}]
    if text.strip().lower() == "bye":
        replies.append({"type": "endOfConversation", "code": "completedSuccessfully"})
    return replies


@attrs.define
class Faults:
    """Misbehaviour on demand; flip attributes from any thread."""

    #: answer WebSocket upgrades with HTTP 403 (clients must fall back to polling)
    refuse_websocket: bool = False
    #: seconds between empty keepalive frames on each stream (None: none)
    keepalive_interval: float | None = None
    #: send every activity frame twice
    duplicate_frames: bool = False
    #: each frame also repeats this many activities the stream already sent
    overlap: int = 0
    #: a new stream replays from this many activities before the watermark it was asked for
    replay_overlap: int = 0
    #: a stream is cut (close 1011) when it is about to send its (n+1)-th activity frame
    drop_after_frames: int | None = None
    #: statuses the next posts fail with (the activity reaches the bot, which fails to answer)
    post_failures: list[int] = attrs.field(factory=list)
    #: posts wait for this event (at most 10 s) before they are processed and answered
    post_gate: threading.Event | None = None


@attrs.define
class _Token:
    value: str
    conversation_id: str
    expires_at: float


@attrs.define
class _Conversation:
    id: str
    activities: list[dict[str, Any]] = attrs.field(factory=list)
    started: bool = False


@attrs.define(eq=False)
class _Stream:
    conversation_id: str
    position: int
    wake: asyncio.Event = attrs.field(factory=asyncio.Event)
    commands: list[tuple[str, str]] = attrs.field(factory=list)
    silent: bool = False
    closed: bool = False
    frames: int = 0


class DirectLineServer:
    """The service's state and its ASGI app (:attr:`app`); counters tell tests what the client did."""

    def __init__(
        self,
        *,
        secret: str = "dev-secret",  # noqa: S107 - the well-known secret of a local test server
        token_lifetime: int = 1800,
        clock: Callable[[], float] = time.monotonic,
        bot: Bot = echo_bot,
        bot_account: dict[str, Any] | None = None,
    ) -> None:
        self.secret = secret
        self.token_lifetime = token_lifetime
        self.clock = clock
        self.bot = bot
        self.bot_account = bot_account or {"id": "echo-bot", "name": "Echo Bot", "role": "bot"}
        self.faults = Faults()
        self.endpoint = ""
        #: what the client did
        self.starts = 0
        self.reconnects = 0
        self.polls = 0
        self.posts = 0
        self.refreshes = 0
        self.stream_connects = 0
        self.open_streams = 0
        #: where each accepted stream started replaying (an activity index)
        self.stream_starts: list[int] = []
        self._conversations: dict[str, _Conversation] = {}
        self._tokens: dict[str, _Token] = {}
        self._stream_tokens: dict[str, _Token] = {}
        self._streams: list[_Stream] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self.app = Starlette(
            routes=[
                Route(_PREFIX + "/tokens/generate", self._generate, methods=["POST"]),
                Route(_PREFIX + "/tokens/refresh", self._refresh, methods=["POST"]),
                Route(_PREFIX + "/conversations", self._start, methods=["POST"]),
                Route(_PREFIX + "/conversations/{cid}", self._reconnect, methods=["GET"]),
                Route(_PREFIX + "/conversations/{cid}/activities", self._get_activities, methods=["GET"]),
                Route(_PREFIX + "/conversations/{cid}/activities", self._post_activity, methods=["POST"]),
                WebSocketRoute(_PREFIX + "/conversations/{cid}/stream", self._stream),
            ],
            lifespan=self._lifespan,
        )

    # -- control, from any thread --------------------------------------------------------------------------

    def reset(self) -> None:
        """Clear the faults and the counters (conversations and tokens stay)."""
        self.faults = Faults()
        self.starts = self.reconnects = self.polls = self.posts = self.refreshes = self.stream_connects = 0
        self.stream_starts = []

    def activities(self, conversation_id: str) -> list[dict[str, Any]]:
        """A copy of a conversation's activities."""
        return self._on_loop(lambda: [dict(a) for a in self._conversation(conversation_id).activities])

    def conversation_ids(self) -> list[str]:
        return self._on_loop(lambda: list(self._conversations))

    def bot_says(self, conversation_id: str, text: str, **fields: Any) -> str:
        """The bot sends a message on its own; returns its id."""
        activity = {"type": "message", "text": text, **fields}
        return self._on_loop(lambda: self._append(self._conversation(conversation_id), activity, from_bot=True))

    def go_silent(self) -> None:
        """Open streams stop sending anything (keepalives too) but stay open; new streams are normal."""
        self._command("silent", "")

    def drop_streams(self) -> None:
        """Cut every open stream now."""
        self._command("drop", "")

    def inject_frame(self, text: str) -> None:
        """Send raw ``text`` as a frame on every open stream."""
        self._command("inject", text)

    def expire_tokens(self) -> None:
        """Every token issued so far expires now."""

        def expire() -> None:
            now = self.clock()
            for token in self._tokens.values():
                token.expires_at = min(token.expires_at, now)

        self._on_loop(expire)

    def token_expires_in(self, token: str) -> float | None:
        """Seconds until ``token`` expires (negative once expired), None for a token never issued."""
        found = self._tokens.get(token)
        return None if found is None else found.expires_at - self.clock()

    def _command(self, name: str, argument: str) -> None:
        def send() -> None:
            for stream in self._streams:
                stream.commands.append((name, argument))
                stream.wake.set()

        self._on_loop(send)

    def _on_loop(self, fn: Callable[[], T]) -> T:
        loop = self._loop
        if loop is None or not loop.is_running():
            return fn()
        try:
            if asyncio.get_running_loop() is loop:
                return fn()
        except RuntimeError:
            pass

        async def call() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(call(), loop).result(timeout=10)

    # -- state -----------------------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        self._loop = asyncio.get_running_loop()
        yield
        self._loop = None

    def _conversation(self, conversation_id: str) -> _Conversation:
        return self._conversations[conversation_id]

    def _issue(self, conversation_id: str) -> _Token:
        token = _Token(secrets.token_urlsafe(24), conversation_id, self.clock() + self.token_lifetime)
        self._tokens[token.value] = token
        return token

    def _new_conversation(self) -> _Conversation:
        conversation = _Conversation(id=secrets.token_hex(8))
        self._conversations[conversation.id] = conversation
        return conversation

    def _append(self, conversation: _Conversation, activity: dict[str, Any], *, from_bot: bool = False) -> str:
        index = len(conversation.activities)
        activity = dict(activity)
        activity_id = f"{conversation.id}|{index:07d}"
        activity.update(
            id=activity_id,
            channelId="directline",
            conversation={"id": conversation.id},
            timestamp=datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        )
        if from_bot:
            activity["from"] = dict(self.bot_account)
        conversation.activities.append(activity)
        for stream in self._streams:
            if stream.conversation_id == conversation.id:
                stream.wake.set()
        return activity_id

    def _stream_url(self, request: Request, conversation: _Conversation, watermark: int) -> str:
        token = _Token(secrets.token_urlsafe(24), conversation.id, self.clock() + _STREAM_URL_LIFETIME)
        self._stream_tokens[token.value] = token
        base = f"ws://{request.url.netloc}{_PREFIX}/conversations/{conversation.id}/stream"
        return f"{base}?watermark={watermark}&t={token.value}"

    def _conversation_body(
        self, request: Request, conversation: _Conversation, token: _Token, watermark: int | None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "conversationId": conversation.id,
            "token": token.value,
            "expires_in": max(0, int(token.expires_at - self.clock())),
        }
        if watermark is not None:
            body["streamUrl"] = self._stream_url(request, conversation, watermark)
        return body

    # -- auth ------------------------------------------------------------------------------------------------

    def _authorize(self, request: Request, conversation_id: str | None = None) -> _Token | str | Response:
        """The caller's token (or ``"secret"``), or the error response to send."""
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer ") or not header[7:].strip():
            return _error(401, "MissingToken", "no bearer token")
        value = header[7:].strip()
        if value == self.secret:
            if conversation_id is not None and conversation_id not in self._conversations:
                return _error(404, "BadArgument", "no such conversation")
            return "secret"
        token = self._tokens.get(value)
        if token is None:
            return _error(403, "BadArgument", "unknown token")
        if self.clock() >= token.expires_at:
            return _error(403, "TokenExpired", "Token expired")
        if conversation_id is not None and token.conversation_id != conversation_id:
            return _error(403, "BadArgument", "the token is for another conversation")
        return token

    # -- REST ------------------------------------------------------------------------------------------------

    async def _generate(self, request: Request) -> Response:
        if self._authorize(request) != "secret":
            return _error(403, "BadArgument", "generating a token needs the secret")
        conversation = self._new_conversation()
        token = self._issue(conversation.id)
        return JSONResponse(self._conversation_body(request, conversation, token, None))

    async def _refresh(self, request: Request) -> Response:
        auth = self._authorize(request)
        if isinstance(auth, Response):
            return auth
        if not isinstance(auth, _Token):
            return _error(403, "BadArgument", "only tokens are refreshed")
        self.refreshes += 1
        token = self._issue(auth.conversation_id)
        return JSONResponse(self._conversation_body(request, self._conversation(auth.conversation_id), token, None))

    async def _start(self, request: Request) -> Response:
        auth = self._authorize(request)
        if isinstance(auth, Response):
            return auth
        self.starts += 1
        if isinstance(auth, _Token):
            conversation, token = self._conversation(auth.conversation_id), auth
        else:
            conversation = self._new_conversation()
            token = self._issue(conversation.id)
        existed = conversation.started
        conversation.started = True
        watermark = len(conversation.activities) if existed else 0
        body = self._conversation_body(request, conversation, token, watermark)
        return JSONResponse(body, status_code=200 if existed else 201)

    async def _reconnect(self, request: Request) -> Response:
        cid = request.path_params["cid"]
        auth = self._authorize(request, cid)
        if isinstance(auth, Response):
            return auth
        conversation = self._conversations.get(cid)
        if conversation is None:
            return _error(404, "BadArgument", "no such conversation")
        watermark = _parse_watermark(request, len(conversation.activities))
        if watermark is None:
            return _error(400, "BadArgument", "bad watermark")
        self.reconnects += 1
        token = auth if isinstance(auth, _Token) else self._issue(cid)
        return JSONResponse(self._conversation_body(request, conversation, token, watermark))

    async def _get_activities(self, request: Request) -> Response:
        cid = request.path_params["cid"]
        auth = self._authorize(request, cid)
        if isinstance(auth, Response):
            return auth
        conversation = self._conversations.get(cid)
        if conversation is None:
            return _error(404, "BadArgument", "no such conversation")
        start = _parse_watermark(request, 0)
        if start is None:
            return _error(400, "BadArgument", "bad watermark")
        self.polls += 1
        activities = conversation.activities[start:]
        return JSONResponse({"activities": activities, "watermark": str(len(conversation.activities))})

    async def _post_activity(self, request: Request) -> Response:
        cid = request.path_params["cid"]
        auth = self._authorize(request, cid)
        if isinstance(auth, Response):
            return auth
        conversation = self._conversations.get(cid)
        if conversation is None:
            return _error(404, "BadArgument", "no such conversation")
        try:
            activity = json.loads(await request.body())
        except ValueError:
            return _error(400, "BadArgument", "the body is not JSON")
        if (
            not isinstance(activity, dict)
            or not isinstance(activity.get("from"), dict)
            or not activity["from"].get("id")
        ):
            return _error(400, "BadArgument", "an activity needs from.id")
        self.posts += 1
        gate = self.faults.post_gate
        if gate is not None:
            await asyncio.to_thread(gate.wait, 10.0)
        activity_id = self._append(conversation, activity)
        if self.faults.post_failures:
            status = self.faults.post_failures.pop(0)
            return _error(status, "BotError", "Failed to send activity: bot returned an error")
        for reply in self.bot(activity):
            self._append(conversation, {**reply, "replyToId": activity_id}, from_bot=True)
        return JSONResponse({"id": activity_id})

    # -- the stream ------------------------------------------------------------------------------------------

    async def _stream(self, websocket: WebSocket) -> None:
        cid = websocket.path_params["cid"]
        token = self._stream_tokens.get(websocket.query_params.get("t", ""))
        if (
            self.faults.refuse_websocket
            or token is None
            or token.conversation_id != cid
            or self.clock() >= token.expires_at
            or cid not in self._conversations
        ):
            await websocket.close(code=1008)  # before accept: the upgrade is answered with 403
            return
        watermark = _parse_int(websocket.query_params.get("watermark"))
        start = max(0, (watermark or 0) - self.faults.replay_overlap)
        await websocket.accept()
        stream = _Stream(conversation_id=cid, position=start)
        self.stream_connects += 1
        self.open_streams += 1
        self.stream_starts.append(start)
        self._streams.append(stream)
        reader = asyncio.create_task(self._read_until_closed(websocket, stream))
        try:
            await self._pump(websocket, stream)
        except Exception:  # noqa: S110 - the client went away mid-send: the stream is over either way
            pass
        finally:
            reader.cancel()
            with contextlib.suppress(BaseException):
                await reader
            self._streams.remove(stream)
            self.open_streams -= 1
            if not stream.closed:
                with contextlib.suppress(Exception):
                    await websocket.close(code=1011)

    async def _read_until_closed(self, websocket: WebSocket, stream: _Stream) -> None:
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
        finally:
            stream.closed = True
            stream.wake.set()

    async def _pump(self, websocket: WebSocket, stream: _Stream) -> None:
        conversation = self._conversation(stream.conversation_id)
        while not stream.closed:
            while stream.commands:
                name, argument = stream.commands.pop(0)
                if name == "drop":
                    return
                if name == "silent":
                    stream.silent = True
                elif name == "inject" and not stream.silent:
                    await websocket.send_text(argument)
            if not stream.silent and stream.position < len(conversation.activities):
                limit = self.faults.drop_after_frames
                if limit is not None and stream.frames >= limit:
                    return
                end = len(conversation.activities)
                begin = max(0, stream.position - self.faults.overlap)
                text = json.dumps({"activities": conversation.activities[begin:end], "watermark": str(end)})
                for _ in range(2 if self.faults.duplicate_frames else 1):
                    await websocket.send_text(text)
                stream.position = end
                stream.frames += 1
                continue
            stream.wake.clear()
            interval = None if stream.silent else self.faults.keepalive_interval
            try:
                await asyncio.wait_for(stream.wake.wait(), interval)
            except TimeoutError:
                await websocket.send_text("")


def _error(status: int, code: str, message: str) -> Response:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def _parse_int(value: str | None) -> int | None:
    if value is None or not value.isdigit():
        return None
    return int(value)


def _parse_watermark(request: Request, default: int) -> int | None:
    raw = request.query_params.get("watermark")
    if raw is None or raw == "":
        return default
    return _parse_int(raw)


@contextlib.contextmanager
def serve(server: DirectLineServer, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[DirectLineServer]:
    """Run ``server`` with uvicorn in a background thread; sets ``server.endpoint``; stops it on exit."""
    config = uvicorn.Config(
        server.app, host=host, port=port, log_level="warning", ws="wsproto", lifespan="on", timeout_graceful_shutdown=2
    )
    runner = uvicorn.Server(config)
    thread = threading.Thread(target=runner.run, name="directline-devserver", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not runner.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            runner.should_exit = True
            raise RuntimeError("the local Direct Line server did not start")
        time.sleep(0.005)
    bound = runner.servers[0].sockets[0].getsockname()
    server.endpoint = f"http://{host}:{bound[1]}"
    try:
        yield server
    finally:
        runner.should_exit = True
        thread.join(10)
