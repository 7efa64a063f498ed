"""The activity inspector's feed: every activity that crosses the emulator between a conversation and its bot.

Two taps fill it. :meth:`Inspector.tap_delivery` wraps what Direct Line uses to deliver a client's activity to the
bot, and records the activity with the bot's HTTP status (None: no answer) and the round trip's latency.
:meth:`Inspector.tap_bot_calls` wraps the ASGI app and records each activity a bot posts to the Connector
(``POST /v3/conversations/{id}/activities[/{replyTo}]``) with the emulator's status and the id it was given; typing
and streamed updates included, whatever the store keeps of them.

``GET /_emulator/inspector?conversationId=...&after=N`` answers the entries after sequence number ``N`` (the chat
page polls it); only loopback callers get an answer, as the feed carries whole activities.
"""

from __future__ import annotations

import collections
import json
import re
import time
import urllib.parse
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
#: send to / reply to a conversation (``.../activities/history`` uploads a transcript: not an activity)
_BOT_POST = re.compile(r"^/v3/conversations/([^/]+)/activities(?:/(?!history$)[^/]+)?$")
#: a bot's post larger than this is recorded without its activity (the inspector is for reading, not archiving)
_MAX_RECORDED_BODY = 256 * 1024


@attrs.frozen
class InspectorEntry:
    """One activity crossing the emulator: ``direction`` is ``"toBot"`` (delivered to the bot; ``status`` is the
    bot's answer) or ``"fromBot"`` (posted by the bot; ``status`` is the emulator's answer)."""

    sequence: int
    direction: str
    conversation_id: str
    activity: dict[str, Any] | None
    status: int | None
    latency_ms: float
    detail: str = ""
    #: when the call began (Unix time, seconds): a reply can end before the turn that caused it
    started_at: float = 0.0

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
    ) -> InspectorEntry:
        self._sequence += 1
        started_at = time.time() - latency_ms / 1000
        entry = InspectorEntry(
            self._sequence, direction, conversation_id, activity, status, latency_ms, detail, started_at
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
            self.record("toBot", _conversation_id(activity), activity, result.status, latency, result.detail)
            return result

        return delivered

    def tap_bot_calls(self, app: ASGIApp) -> ASGIApp:
        """``app``, recording the activities bots post to the Connector and the emulator's answer."""

        async def tapped(scope: Scope, receive: Receive, send: Send) -> None:
            match = _BOT_POST.match(scope.get("path", "")) if scope.get("type") == "http" else None
            if match is None or scope.get("method") != "POST":
                await app(scope, receive, send)
                return
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
                activity = _json_object(bytes(body))
                given = _json_object(bytes(answer))
                if activity is not None and given is not None and isinstance(given.get("id"), str):
                    activity = {**activity, "id": given["id"]}
                conversation_id = urllib.parse.unquote(match.group(1))
                self.record("fromBot", conversation_id, activity, status[0] if status else None, latency)

        return tapped

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
