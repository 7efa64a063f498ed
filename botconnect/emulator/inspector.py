"""The activity inspector's feed: every activity that crosses the emulator between a conversation and its bot.

Three taps fill it. :meth:`Inspector.tap_delivery` wraps what Direct Line uses to deliver a client's activity to
the bot, and records the activity with the bot's HTTP status (None: no answer) and the round trip's latency.
:meth:`Inspector.tap_bot_calls` wraps the ASGI app and records each call a bot makes on a conversation's activities
with the emulator's status: what it sends (``POST /v3/conversations/{id}/activities``), replies
(``.../activities/{replyTo}``), updates (``PUT .../activities/{id}``) and deletes (``DELETE``), typing and streamed
updates included, and the conversations it creates (``POST /v3/conversations``, under the new conversation's id,
with the activity it was created with). :meth:`Inspector.record_injected` records what a test puts in a
conversation with ``bot_says()`` (no HTTP call: no status). An entry's ``operation`` says which of these it is.

``GET /_emulator/inspector?conversationId=...&after=N`` answers the entries after sequence number ``N`` (the chat
page polls it); only loopback callers get an answer, as the feed carries whole activities.
"""

from __future__ import annotations

import collections
import json
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from .connector import error
from .directline import DeliveryResult
from .faults import Receive, Scope, Send

__all__ = ["INSPECTOR_PATH", "Inspector", "InspectorEntry"]

INSPECTOR_PATH = "/_emulator/inspector"
Deliver = Callable[[dict[str, Any]], Awaitable[DeliveryResult]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
#: a conversation's activities, or one of them (``.../activities/history`` uploads a transcript: not an activity)
_ACTIVITY_PATH = re.compile(r"^/v3/conversations/([^/]+)/activities(?:/(?!history$)([^/]+))?$")
_CREATE_PATH = "/v3/conversations"
#: (method, whether the path names an activity) -> operation
_OPERATIONS = {("POST", False): "send", ("POST", True): "reply", ("PUT", True): "update", ("DELETE", True): "delete"}
#: a bot's post larger than this is recorded without its activity (the inspector is for reading, not archiving)
_MAX_RECORDED_BODY = 256 * 1024


@attrs.frozen
class InspectorEntry:
    """One activity crossing the emulator: ``direction`` is ``"toBot"`` (delivered to the bot; ``status`` is the
    bot's answer) or ``"fromBot"`` (the bot's call; ``status`` is the emulator's answer).

    ``operation`` is ``"deliver"`` (to the bot), or the bot's ``"send"``, ``"reply"``, ``"update"``, ``"delete"``
    (``activity`` None), ``"createConversation"`` (``activity``: the one it was created with, if any), or
    ``"injected"`` (``bot_says()``: no call, ``status`` None). ``activity_id`` is the id of the activity the entry
    is about: the one delivered, the id the emulator gave a post, the one updated or deleted."""

    sequence: int
    direction: str
    conversation_id: str
    activity: dict[str, Any] | None
    status: int | None
    latency_ms: float
    detail: str = ""
    #: when the call began (Unix time, seconds): a reply can end before the turn that caused it
    started_at: float = 0.0
    operation: str = ""
    activity_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "sequence": self.sequence,
            "direction": self.direction,
            "conversationId": self.conversation_id,
            "activity": self.activity,
            "status": self.status,
            "latencyMs": round(self.latency_ms, 1),
            "detail": self.detail,
            "startedAt": round(self.started_at * 1000, 3),
            "operation": self.operation,
            "activityId": self.activity_id,
        }


class Inspector:
    """Keeps the last ``capacity`` entries of every conversation together (touched on the emulator's loop only)."""

    def __init__(self, capacity: int = 5000, clock: Callable[[], float] = time.perf_counter) -> None:
        self.entries: collections.deque[InspectorEntry] = collections.deque(maxlen=capacity)
        self._clock = clock
        self._sequence = 0

    def routes(self) -> list[BaseRoute]:
        return [Route(INSPECTOR_PATH, self._feed, methods=["GET"])]

    def reset(self) -> None:
        self.entries.clear()

    def record(
        self,
        direction: str,
        conversation_id: str,
        activity: dict[str, Any] | None,
        status: int | None,
        latency_ms: float,
        detail: str = "",
        *,
        operation: str = "",
        activity_id: str | None = None,
    ) -> InspectorEntry:
        self._sequence += 1
        started_at = time.time() - latency_ms / 1000
        if activity_id is None and activity is not None and isinstance(activity.get("id"), str):
            activity_id = activity["id"]
        entry = InspectorEntry(
            self._sequence,
            direction,
            conversation_id,
            activity,
            status,
            latency_ms,
            detail,
            started_at,
            operation,
            activity_id,
        )
        self.entries.append(entry)
        return entry

    def for_conversation(self, conversation_id: str, after: int = 0) -> list[InspectorEntry]:
        return [e for e in self.entries if e.conversation_id == conversation_id and e.sequence > after]

    def tap_delivery(self, deliver: Deliver) -> Deliver:
        """``deliver``, recording each activity with the bot's status and the latency of its answer."""

        async def delivered(activity: dict[str, Any]) -> DeliveryResult:
            started = self._clock()
            result = await deliver(activity)
            latency = (self._clock() - started) * 1000
            conversation_id = _conversation_id(activity)
            self.record("toBot", conversation_id, activity, result.status, latency, result.detail, operation="deliver")
            return result

        return delivered

    def record_injected(self, conversation_id: str, activity: dict[str, Any]) -> None:
        """Record an activity put in a conversation as the bot's without a call (``bot_says()``)."""
        detail = "bot_says(): put in the conversation by the emulator's control API, not by a call from the bot"
        self.record("fromBot", conversation_id, dict(activity), None, 0.0, detail, operation="injected")

    def tap_bot_calls(self, app: ASGIApp) -> ASGIApp:
        """``app``, recording the activities bots post to the Connector and the emulator's answer."""

        async def tapped(scope: Scope, receive: Receive, send: Send) -> None:
            call = _bot_call(scope)
            if call is None:
                await app(scope, receive, send)
                return
            operation, path_conversation, path_activity = call
            started = self._clock()
            body = bytearray()
            answer = bytearray()
            status: list[int] = []

            async def receive_recorded() -> Any:
                message = await receive()
                if message.get("type") == "http.request" and len(body) <= _MAX_RECORDED_BODY:
                    body.extend(message.get("body", b""))
                return message

            async def send_recorded(message: Any) -> None:
                if message.get("type") == "http.response.start":
                    status.append(int(message["status"]))
                elif message.get("type") == "http.response.body" and len(answer) <= 4096:
                    answer.extend(message.get("body", b""))
                await send(message)

            try:
                await app(scope, receive_recorded, send_recorded)
            finally:
                latency = (self._clock() - started) * 1000
                self._record_bot_call(
                    operation,
                    path_conversation,
                    path_activity,
                    _json_object(bytes(body)),
                    _json_object(bytes(answer)),
                    status[0] if status else None,
                    latency,
                )

        return tapped

    def _record_bot_call(
        self,
        operation: str,
        conversation_id: str,
        activity_id: str | None,
        sent: dict[str, Any] | None,
        given: dict[str, Any] | None,
        status: int | None,
        latency: float,
    ) -> None:
        given_id = given.get("id") if given is not None and isinstance(given.get("id"), str) else None
        if operation == "createConversation":
            if given_id is None:  # refused: no conversation to file it under
                return
            created = sent.get("activity") if sent is not None else None
            activity = dict(created) if isinstance(created, dict) else None
            first_id = given.get("activityId") if given is not None else None
            if activity is not None and isinstance(first_id, str):
                activity["id"] = first_id
            members = sent.get("members") if sent is not None else None
            count = len(members) if isinstance(members, list) else 0
            detail = f"created the conversation with {count} member{'' if count == 1 else 's'}"
            self.record("fromBot", given_id, activity, status, latency, detail, operation=operation)
            return
        activity = None if operation == "delete" else sent  # None too when the emulator refused before reading it
        if activity is not None and given_id is not None and operation in ("send", "reply"):
            activity = {**activity, "id": given_id}
        target = activity_id if operation in ("update", "delete") else given_id
        detail = _refusal(given) if status is None or status >= 400 else ""
        self.record(
            "fromBot", conversation_id, activity, status, latency, detail, operation=operation, activity_id=target
        )

    async def _feed(self, request: Request) -> Response:
        client = request.client.host if request.client is not None else ""
        if not _is_loopback(client):
            return error(403, "Forbidden", "the inspector answers loopback callers only")
        conversation_id = request.query_params.get("conversationId", "")
        after_text = request.query_params.get("after", "0")
        if not conversation_id:
            return error(400, "BadArgument", "conversationId is required")
        if not after_text.isascii() or not after_text.isdigit() or len(after_text) > 12:
            return error(400, "BadArgument", "after must be a sequence number")
        entries = self.for_conversation(conversation_id, int(after_text))
        last = entries[-1].sequence if entries else int(after_text)
        return JSONResponse({"entries": [e.to_json() for e in entries], "last": last})


def _bot_call(scope: Scope) -> tuple[str, str, str | None] | None:
    """(operation, conversation id, activity id) of a bot's call the inspector records, else None."""
    if scope.get("type") != "http":
        return None
    path, method = scope.get("path", ""), scope.get("method")
    if path == _CREATE_PATH:
        return ("createConversation", "", None) if method == "POST" else None
    match = _ACTIVITY_PATH.match(path)
    if match is None:
        return None
    # an ASGI path is percent-decoded already: the ids are the ones the Connector's routes (and the store) see
    conversation_id, activity_id = match.group(1), match.group(2)
    operation = _OPERATIONS.get((str(method), activity_id is not None))
    if operation is None:
        return None
    return operation, conversation_id, activity_id


def _refusal(answer: dict[str, Any] | None) -> str:
    """``code: message`` of an error answer in the services' shape, else empty."""
    problem = answer.get("error") if answer is not None else None
    if not isinstance(problem, dict):
        return ""
    return f"{problem.get('code', '')}: {problem.get('message', '')}"


def _conversation_id(activity: dict[str, Any]) -> str:
    conversation = activity.get("conversation")
    return str(conversation.get("id", "")) if isinstance(conversation, dict) else ""


def _json_object(raw: bytes) -> dict[str, Any] | None:
    if not raw or len(raw) > _MAX_RECORDED_BODY:
        return None
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _is_loopback(host: str) -> bool:
    from botconnect._core.security import is_loopback

    return is_loopback(host)
