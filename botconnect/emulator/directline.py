"""Direct Line 3.0 as the real service plays it for client apps: secrets and tokens, start, reconnect, activities
with watermarks, upload, and the WebSocket stream (ActivitySet frames, keepalives).

Conversations live in the shared :class:`~botconnect.emulator.connector.Store`: a client's post is appended and
delivered to the bot (``POST`` to its messaging endpoint, ``serviceUrl`` = the emulator), and answers once the bot
accepted it (502 if it did not); an ``invoke`` (and an activity sent with ``deliveryMode: expectReplies``) is
answered, as Teams relays it, with the bot's own status and JSON body when the bot answered 2xx or 4xx with one.
What the bot sends through the Connector endpoints reaches every client by polling and by stream. Activity ids are
``<conversation id>|<7-digit sequence number>`` (typing takes a number too, but is never kept) and a watermark, as
the real service has it, is the sequence number of the last activity it covers (``-`` before the first): stable,
whatever is deleted or pushed live in between.
:class:`DirectLineFaults` and the control methods make it misbehave on demand.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import math
import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from email.message import Message
from email.parser import BytesParser
from typing import Any

import anyio
import attrs
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket

from .connector import (
    ACCOUNT,
    ACTIVITY,
    Conversation,
    Store,
    activity_problem,
    error,
    now_iso,
    read_json,
    route,
    shape_problem,
    without_nulls,
)
from .faults import Faults

__all__ = ["ACTIVITY_PART_TYPE", "DeliveryResult", "DirectLine", "DirectLineFaults"]

PREFIX = "/v3/directline"
ACTIVITY_PART_TYPE = "application/vnd.microsoft.activity"
_STREAM_URL_LIFETIME = 60.0
_TOKEN_PARAMETERS = {"user": ACCOUNT, "trustedOrigins": ["s"], "eTag": "s"}


@attrs.frozen
class DeliveryResult:
    """How delivering an activity to the bot went: ``status`` is the bot's HTTP status (None: no answer);
    ``body`` the bot's JSON answer to an ``invoke`` (None otherwise, or when it sent none)."""

    status: int | None
    detail: str = ""
    body: Any = None

    @property
    def ok(self) -> bool:
        """Whether the bot answered the delivery with a 2xx status."""
        return self.status is not None and 200 <= self.status < 300

    @property
    def invoke_response(self) -> tuple[int, Any] | None:
        """(status, body) to relay to the invoke's caller: the bot answered 2xx or 4xx with a JSON body."""
        if self.status is None or self.body is None or not (self.ok or 400 <= self.status < 500):
            return None
        return self.status, self.body


Deliver = Callable[[dict[str, Any]], Awaitable[DeliveryResult]]


@attrs.define
class DirectLineFaults:
    """Direct Line misbehaviour on demand; flip attributes from any thread."""

    #: answer WebSocket upgrades with HTTP 403 (clients must fall back to polling)
    refuse_websocket: bool = False
    #: seconds between empty keepalive frames on each stream (None: the service's own interval)
    keepalive_interval: float | None = None
    #: send every activity frame twice
    duplicate_frames: bool = False
    #: each frame also repeats this many activities the stream already sent
    overlap: int = 0
    #: a new stream replays from this many activities before the watermark it was asked for
    replay_overlap: int = 0
    #: a stream is cut (close 1011) when it is about to send its (n+1)-th activity frame
    drop_after_frames: int | None = None
    #: statuses the next posts fail with (the activity is stored but the bot never answers)
    post_failures: list[int] = attrs.field(factory=list)
    #: posts wait for this event (at most 10 s) before they are processed and answered
    post_gate: threading.Event | None = None


@attrs.define
class _Token:
    value: str
    conversation_id: str
    expires_at: float
    user: dict[str, Any] | None = None


@attrs.define(eq=False)
class _Stream:
    conversation_id: str
    position: int
    wake: asyncio.Event = attrs.field(factory=asyncio.Event)
    commands: list[tuple[str, str]] = attrs.field(factory=list)
    #: typing pushed while this stream was open, each with the log's length then (it goes out after those)
    live: list[tuple[int, dict[str, Any]]] = attrs.field(factory=list)
    silent: bool = False
    closed: bool = False
    frames: int = 0


class DirectLine:
    """The Direct Line routes and their state over a shared store; counters tell tests what clients did."""

    def __init__(
        self,
        store: Store,
        deliver: Deliver,
        *,
        secret: str = "dev-secret",  # noqa: S107 - the well-known secret of a local emulator
        token_lifetime: float = 1800,
        clock: Callable[[], float] = time.monotonic,
        faults: Faults | None = None,
        keepalive_interval: float | None = 30.0,
    ) -> None:
        self.store = store
        self.deliver = deliver
        self.secret = secret
        self.token_lifetime = token_lifetime
        self.clock = clock
        self.http_faults = faults or Faults()
        #: seconds between keepalive frames (``faults.keepalive_interval`` overrides it)
        self.keepalive_interval = keepalive_interval
        self.faults = DirectLineFaults()
        self.starts = self.reconnects = self.polls = self.posts = self.uploads = self.refreshes = 0
        self.stream_connects = self.open_streams = 0
        #: where each accepted stream started replaying (a position in the log)
        self.stream_starts: list[int] = []
        self._tokens: dict[str, _Token] = {}
        self._stream_tokens: dict[str, _Token] = {}
        self._streams: list[_Stream] = []
        store.listeners.append(self._wake)
        #: told (on the loop) of each activity :meth:`bot_says` puts in a conversation: the inspector's tap
        self.on_bot_says: Callable[[str, dict[str, Any]], None] | None = None

    def routes(self) -> list[BaseRoute]:
        """The Starlette routes of the Direct Line 3.0 service (REST and the WebSocket stream)."""
        c = PREFIX + "/conversations/{cid}"
        return [
            route(PREFIX + "/tokens/generate", POST=self._generate),
            route(PREFIX + "/tokens/refresh", POST=self._refresh),
            route(PREFIX + "/session/getsessionid", GET=self._session_id),
            route(PREFIX + "/conversations", POST=self._start),
            route(c, GET=self._reconnect),
            route(c + "/activities", GET=self._get_activities, POST=self._post_activity),
            route(c + "/upload", POST=self._upload),
            WebSocketRoute(c + "/stream", self._stream),
        ]

    # -- control, from any thread --------------------------------------------------------------------------

    def reset(self) -> None:
        """Clear the faults and the counters (conversations and tokens stay)."""
        self.faults = DirectLineFaults()
        self.starts = self.reconnects = self.polls = self.posts = self.uploads = self.refreshes = 0
        self.stream_connects = 0
        self.stream_starts = []

    def activities(self, conversation_id: str) -> list[dict[str, Any]]:
        """A copy of a conversation's activities (deleted ones left out)."""
        return self.store.on_loop(lambda: [dict(a) for a in self.store.conversations[conversation_id].visible()])

    def conversation_ids(self) -> list[str]:
        """The ids of every conversation the store holds."""
        return self.store.on_loop(lambda: list(self.store.conversations))

    def bot_says(self, conversation_id: str, text: str, **fields: Any) -> str:
        """The bot sends a message on its own (straight into the store); returns its id."""
        activity = {"type": "message", "text": text, **fields}

        def send() -> str:
            conversation = self.store.conversations[conversation_id]
            stored = self.store.append(conversation, activity, from_bot=True)
            if self.on_bot_says is not None:
                self.on_bot_says(conversation_id, stored)
            return str(stored["id"])

        return self.store.on_loop(send)

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

        self.store.on_loop(expire)

    def token_expires_in(self, token: str) -> float | None:
        """Seconds until ``token`` expires (negative once expired), None for a token never issued."""
        found = self._tokens.get(token)
        return None if found is None else found.expires_at - self.clock()

    def issue_token(self, conversation_id: str, user: dict[str, Any] | None = None) -> str:
        """A token for ``conversation_id`` (as tokens/generate gives), from any thread."""
        return self.store.on_loop(lambda: self._issue(conversation_id, user).value)

    def _command(self, name: str, argument: str) -> None:
        def send() -> None:
            for stream in self._streams:
                stream.commands.append((name, argument))
                stream.wake.set()

        self.store.on_loop(send)

    def _wake(self, conversation: Conversation, live: dict[str, Any] | None) -> None:
        for stream in self._streams:
            if stream.conversation_id == conversation.id:
                if live is not None:
                    stream.live.append((len(conversation.activities), live))
                stream.wake.set()

    # -- tokens and auth -------------------------------------------------------------------------------------

    def _issue(self, conversation_id: str, user: dict[str, Any] | None = None) -> _Token:
        lifetime = self.http_faults.lifetime(self.token_lifetime)
        token = _Token(secrets.token_urlsafe(24), conversation_id, self.clock() + lifetime, user)
        self._tokens[token.value] = token
        return token

    def _authorize(self, request: Request, conversation_id: str | None = None) -> _Token | str | Response:
        """The caller's token (or ``"secret"``), or the error response to send."""
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer ") or not header[7:].strip():
            return error(401, "BadArgument", "Missing or malformed Authorization header")
        value = header[7:].strip()
        if secrets.compare_digest(value, self.secret):
            if conversation_id is not None and conversation_id not in self.store.conversations:
                return error(404, "BadArgument", "Conversation not found")
            return "secret"
        token = self._tokens.get(value)
        if token is None:
            return error(403, "BadArgument", "Token not valid")
        if self.clock() >= token.expires_at:
            return error(403, "TokenExpired", "Token expired")
        if conversation_id is not None and token.conversation_id != conversation_id:
            return error(403, "BadArgument", "Token not valid for this conversation")
        if token.conversation_id not in self.store.conversations:  # forgotten by a reset
            return error(404, "BadArgument", "Conversation not found")
        return token

    async def _token_parameters(self, request: Request) -> dict[str, Any] | Response | None:
        params = await read_json(request, required=False)
        if params is None or isinstance(params, Response):
            return params
        problem = shape_problem(params, _TOKEN_PARAMETERS)
        if problem is not None:
            return error(400, "BadArgument", problem)
        result: dict[str, Any] = without_nulls(params, _TOKEN_PARAMETERS)
        return result

    def _conversation_body(
        self, request: Request, conversation: Conversation, token: _Token, position: int | None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "conversationId": conversation.id,
            "token": token.value,
            # whole seconds left, rounded up: a token issued during this request still reports its full lifetime
            "expires_in": max(0, math.ceil(token.expires_at - self.clock() - 1e-6)),
        }
        if position is not None:
            now = self.clock()
            if len(self._stream_tokens) > 1000:  # stream URLs live a minute: forget the stale ones
                self._stream_tokens = {k: t for k, t in self._stream_tokens.items() if t.expires_at > now}
            stream = _Token(secrets.token_urlsafe(24), conversation.id, now + _STREAM_URL_LIFETIME)
            self._stream_tokens[stream.value] = stream
            scheme = "wss" if request.url.scheme == "https" else "ws"
            base = f"{scheme}://{request.url.netloc}{PREFIX}/conversations/{conversation.id}/stream"
            body["streamUrl"] = f"{base}?watermark={_mark(conversation, position) or '-'}&t={stream.value}"
        return body

    # -- REST ------------------------------------------------------------------------------------------------

    async def _generate(self, request: Request) -> Response:
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer ") or not header[7:].strip():
            return error(401, "BadArgument", "Missing or malformed Authorization header")
        if not secrets.compare_digest(header[7:].strip(), self.secret):
            return error(403, "BadArgument", "Generating a token needs the secret")
        params = await self._token_parameters(request)
        if isinstance(params, Response):
            return params
        conversation = self.store.new_conversation()
        token = self._issue(conversation.id, (params or {}).get("user"))
        return JSONResponse(self._conversation_body(request, conversation, token, None))

    async def _refresh(self, request: Request) -> Response:
        auth = self._authorize(request)
        if isinstance(auth, Response):
            return auth
        if not isinstance(auth, _Token):
            return error(403, "BadArgument", "Only tokens can be refreshed")
        self.refreshes += 1
        token = self._issue(auth.conversation_id, auth.user)
        conversation = self.store.conversations[auth.conversation_id]
        return JSONResponse(self._conversation_body(request, conversation, token, None))

    async def _session_id(self, request: Request) -> Response:
        auth = self._authorize(request)
        if isinstance(auth, Response):
            return auth
        return JSONResponse({"sessionId": secrets.token_hex(16)})

    async def _start(self, request: Request) -> Response:
        auth = self._authorize(request)
        if isinstance(auth, Response):
            return auth
        params = await self._token_parameters(request)
        if isinstance(params, Response):
            return params
        self.starts += 1
        if isinstance(auth, _Token):
            conversation, token = self.store.conversations[auth.conversation_id], auth
        else:
            conversation = self.store.new_conversation()
            token = self._issue(conversation.id, (params or {}).get("user"))
        existed = conversation.started
        conversation.started = True
        if not existed:  # the service contacts the bot: it joined (and so did the token's user, if any)
            joined = [dict(self.store.bot_account)]
            if token.user and token.user.get("id") and conversation.add_member({**token.user, "role": "user"}):
                joined.append(dict(token.user))
            await self._notify_bot(conversation, joined, token.user)
        position = len(conversation.activities) if existed else 0
        body = self._conversation_body(request, conversation, token, position)
        return JSONResponse(body, status_code=200 if existed else 201)

    async def _reconnect(self, request: Request) -> Response:
        cid = request.path_params["cid"]
        auth = self._authorize(request, cid)
        if isinstance(auth, Response):
            return auth
        conversation = self.store.conversations[cid]
        position = _parse_watermark(request, conversation, len(conversation.activities))
        if position is None:
            return error(400, "BadArgument", "Invalid watermark")
        self.reconnects += 1
        token = auth if isinstance(auth, _Token) else self._issue(cid)
        return JSONResponse(self._conversation_body(request, conversation, token, position))

    async def _get_activities(self, request: Request) -> Response:
        cid = request.path_params["cid"]
        auth = self._authorize(request, cid)
        if isinstance(auth, Response):
            return auth
        conversation = self.store.conversations[cid]
        start = _parse_watermark(request, conversation, 0)
        if start is None:
            return error(400, "BadArgument", "Invalid watermark")
        self.polls += 1
        return JSONResponse(_activity_set(conversation, start, len(conversation.activities)))

    async def _post_activity(self, request: Request) -> Response:
        cid = request.path_params["cid"]
        auth = self._authorize(request, cid)
        if isinstance(auth, Response):
            return auth
        activity = await read_json(request)
        if isinstance(activity, Response):
            return activity
        problem = activity_problem(activity)
        if problem is None and not (isinstance(activity.get("from"), dict) and activity["from"].get("id")):
            problem = "An activity needs from.id"
        if problem is not None:
            return error(400, "BadArgument", problem)
        activity = without_nulls(activity, ACTIVITY)
        if isinstance(auth, _Token) and auth.user and auth.user.get("id"):
            activity["from"] = {**activity["from"], "id": auth.user["id"]}  # the token's user wins
        self.posts += 1
        gate = self.faults.post_gate
        if gate is not None:
            await anyio.to_thread.run_sync(gate.wait, 10.0)
        return await self._accept(self.store.conversations[cid], activity)

    async def _accept(self, conversation: Conversation, activity: dict[str, Any]) -> Response:
        """Store a client's activity, deliver it to the bot, answer with its id (502 if the bot failed) or, for an
        invoke, with the bot's invoke response."""
        sender = activity["from"]
        if conversation.add_member({**sender, "role": sender.get("role") or "user"}):
            await self._notify_bot(conversation, [dict(sender)], sender)
        # the service keeps a client's activity as it delivered it: with the serviceUrl the bot answers to
        stored = self.store.append(conversation, {**activity, "serviceUrl": self.store.service_url})
        if self.faults.post_failures:
            status = self.faults.post_failures.pop(0)
            return error(status, "BotError", "Failed to send activity: bot returned an error")
        result = await self.deliver(self._for_bot(stored))
        inline = activity.get("type") == "invoke" or activity.get("deliveryMode") == "expectReplies"
        relayed = result.invoke_response if inline else None
        if relayed is not None:
            return JSONResponse(relayed[1], status_code=relayed[0])
        if not result.ok:
            code = "BotTimeout" if result.status is None and "timed out" in result.detail else "BotError"
            return error(502, code, f"Failed to send activity: bot returned an error ({result.detail})")
        return JSONResponse({"id": stored["id"]})

    def _for_bot(self, activity: dict[str, Any]) -> dict[str, Any]:
        return {**activity, "serviceUrl": self.store.service_url, "recipient": dict(self.store.bot_account)}

    async def _notify_bot(
        self, conversation: Conversation, joined: list[dict[str, Any]], sender: dict[str, Any] | None
    ) -> None:
        """A conversationUpdate to the bot (never shown to clients); the bot failing it is not the client's error."""
        update = {
            "type": "conversationUpdate",
            "id": secrets.token_hex(8),
            "channelId": conversation.channel_id,
            "conversation": self.store.conversation_account(conversation),
            "from": dict(sender) if sender and sender.get("id") else {"id": conversation.id},
            "membersAdded": joined,
            "timestamp": now_iso(),
        }
        await self.deliver(self._for_bot(update))

    async def _upload(self, request: Request) -> Response:
        cid = request.path_params["cid"]
        auth = self._authorize(request, cid)
        if isinstance(auth, Response):
            return auth
        parts = _parse_upload(request.headers, await request.body())
        if isinstance(parts, str):
            return error(400, "BadArgument", parts)
        activity: dict[str, Any] = {"type": "message"}
        files: list[tuple[str | None, str, bytes]] = []
        for name, content_type, filename, content in parts:
            if content_type == ACTIVITY_PART_TYPE:
                try:
                    activity = json.loads(content)
                except (ValueError, RecursionError):
                    return error(400, "BadArgument", "the activity part is not JSON")
            elif name == "file":  # the Swagger's formData parameter; other parts are not attachments
                files.append((filename, content_type, content))
        problem = activity_problem(activity)
        if problem is not None:
            return error(400, "BadArgument", problem)
        activity = without_nulls(activity, ACTIVITY)
        if not files:
            return error(400, "BadArgument", "no file was uploaded")
        user_id = request.query_params.get("userId") or (activity.get("from") or {}).get("id")
        if isinstance(auth, _Token) and auth.user and auth.user.get("id"):
            user_id = auth.user["id"]
        if not user_id:
            return error(400, "BadArgument", "A user ID is required: pass userId")
        self.uploads += 1
        uploaded = []
        for filename, content_type, content in files:
            stored = self.store.add_attachment(filename, content_type, {"original": content})
            entry = {"contentType": content_type, "contentUrl": self.store.attachment_url(stored)}
            uploaded.append({**entry, "name": filename} if filename else entry)
        attachments = _fill_listed(list(activity.get("attachments") or []), uploaded)
        activity = {**activity, "from": {**(activity.get("from") or {}), "id": user_id}, "attachments": attachments}
        return await self._accept(self.store.conversations[cid], activity)

    # -- the stream ------------------------------------------------------------------------------------------

    async def _stream(self, websocket: WebSocket) -> None:
        cid = websocket.path_params["cid"]
        token = self._stream_tokens.get(websocket.query_params.get("t", ""))
        if (
            self.faults.refuse_websocket
            or token is None
            or token.conversation_id != cid
            or self.clock() >= token.expires_at
            or cid not in self.store.conversations
        ):
            await websocket.close(code=1008)  # before accept: the upgrade is answered with 403
            return
        position = _position_after(self.store.conversations[cid], websocket.query_params.get("watermark"))
        start = max(0, (position or 0) - self.faults.replay_overlap)
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
            while True:  # clients may send empty frames to check the connection: they are ignored
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
        finally:
            stream.closed = True
            stream.wake.set()

    async def _pump(self, websocket: WebSocket, stream: _Stream) -> None:
        conversation = self.store.conversations[stream.conversation_id]
        while not stream.closed:
            while stream.commands:
                name, argument = stream.commands.pop(0)
                if name == "drop":
                    return
                if name == "silent":
                    stream.silent = True
                elif name == "inject" and not stream.silent:
                    await websocket.send_text(argument)
            if stream.silent:
                stream.live.clear()
            elif stream.live or stream.position < len(conversation.activities):
                limit = self.faults.drop_after_frames
                if limit is not None and stream.frames >= limit:
                    return
                # everything logged before the next typing goes first, then the typing (without a watermark:
                # it is not in the history, so it moves no client's position)
                end = (
                    min(stream.live[0][0], len(conversation.activities))
                    if stream.live
                    else len(conversation.activities)
                )
                if stream.position < end:
                    begin = max(0, stream.position - self.faults.overlap)
                    frame = _activity_set(conversation, begin, end)
                    stream.position = end
                else:
                    frame = {"activities": [stream.live.pop(0)[1]]}
                text = json.dumps(frame)
                for _ in range(2 if self.faults.duplicate_frames else 1):
                    await websocket.send_text(text)
                stream.frames += 1
                continue
            stream.wake.clear()
            interval = self.faults.keepalive_interval or self.keepalive_interval
            try:
                await asyncio.wait_for(stream.wake.wait(), None if stream.silent else interval)
            except TimeoutError:
                await websocket.send_text("")


def _fill_listed(listed: list[dict[str, Any]], uploaded: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The activity's attachments once the uploaded files are in: DirectLineJS and Web Chat list each file in the
    activity part without its ``contentUrl`` and send the bytes as ``file`` parts in the same order, so each such
    entry takes the next file (its own name and type kept); files left over are appended."""
    files = iter(uploaded)
    attachments: list[dict[str, Any]] = []
    for entry in listed:
        file = None if entry.get("contentUrl") else next(files, None)
        attachments.append(entry if file is None else {**file, **entry, "contentUrl": file["contentUrl"]})
    return attachments + list(files)


def _parse_int(value: str | None) -> int | None:
    if value is None or not value.isascii() or not value.isdigit() or len(value) > 12:
        return None
    return int(value)


def _parse_watermark(request: Request, conversation: Conversation, default: int) -> int | None:
    """The log position a request's ``watermark`` stands for (``default`` without one), None if it is not one."""
    raw = request.query_params.get("watermark")
    return default if raw is None else _position_after(conversation, raw)


def _number(activity: dict[str, Any], fallback: int) -> int:
    """An activity's sequence number (the end of its ``<conversation>|<number>`` id)."""
    number = str(activity.get("id", "")).rpartition("|")[2]
    return int(number) if number.isascii() and number.isdigit() else fallback


def _mark(conversation: Conversation, position: int) -> str | None:
    """The watermark after the first ``position`` activities: the last one's sequence number (None before any)."""
    if position <= 0:
        return None
    return str(_number(conversation.activities[position - 1], position - 1))


def _position_after(conversation: Conversation, watermark: str | None) -> int | None:
    """How many logged activities a watermark covers (0 for none, ``''`` or ``-``); None if it is not a watermark."""
    if watermark is None or watermark in ("", "-"):
        return 0
    number = _parse_int(watermark)
    if number is None:
        return None
    numbers = [_number(activity, index) for index, activity in enumerate(conversation.activities)]
    return bisect.bisect_right(numbers, number)


def _activity_set(conversation: Conversation, start: int, end: int) -> dict[str, Any]:
    """The activities (not deleted) from position ``start`` to ``end``, with the watermark after ``end``."""
    activity_set: dict[str, Any] = {"activities": conversation.visible(min(start, end), end)}
    mark = _mark(conversation, end)
    if mark is not None:
        activity_set["watermark"] = mark
    return activity_set


def _parse_upload(headers: Any, body: bytes) -> list[tuple[str | None, str, str | None, bytes]] | str:
    """(part name, content type, filename, bytes) of each uploaded part, or why the upload is malformed.

    A body that is not multipart is one file: its type and name come from the request's Content-Type and
    Content-Disposition headers.
    """
    content_type = headers.get("content-type", "application/octet-stream")
    if not content_type.lower().startswith("multipart/"):
        disposition = Message()
        disposition["content-disposition"] = headers.get("content-disposition", "attachment")
        media = content_type.split(";")[0].strip() or "application/octet-stream"
        filename = disposition.get_param("filename", header="content-disposition")
        return [("file", media, filename if isinstance(filename, str) else None, body)]
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1", "replace")
    message = BytesParser().parsebytes(head + body)
    if not message.is_multipart() or message.defects:
        return "the multipart body is malformed"
    parts: list[tuple[str | None, str, str | None, bytes]] = []
    for part in message.get_payload():
        if not isinstance(part, Message) or part.is_multipart():
            return "nested multipart bodies are not supported"
        payload = part.get_payload(decode=True)
        name = part.get_param("name", header="content-disposition")
        content = payload if isinstance(payload, bytes) else b""
        parts.append((name if isinstance(name, str) else None, part.get_content_type(), part.get_filename(), content))
    return parts or "the multipart body has no parts"
