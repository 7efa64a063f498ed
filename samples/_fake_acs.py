"""A small stateful stand-in for Azure Communication Services Chat, used by the chat samples until the emulator lands.

It is an ``httpx.MockTransport`` handler: no socket, no network. It keeps threads, messages, participants and read
receipts, honours ``repeatability-request-id`` on thread creation, pages with ``nextLink`` and answers errors in
the service's ``{"error": {code, message, target}}`` shape, so the samples exercise real request/response cycles.
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import httpx

#: participants whose raw id starts with this are refused, to show per-participant failures
REFUSED_PREFIX = "4:"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _error(status: int, code: str, message: str, target: str | None = None) -> httpx.Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if target is not None:
        error["target"] = target
    return httpx.Response(status, json={"error": error})


class FakeAcs:
    def __init__(self, user_raw_id: str = "8:acs:sample-resource_sample-user") -> None:
        self.user = {"rawId": user_raw_id, "communicationUser": {"id": user_raw_id}}
        self.threads: dict[str, dict[str, Any]] = {}
        self.created_by_request_id: dict[str, str] = {}
        self._ids = itertools.count(1)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if not request.headers.get("authorization", "").startswith("Bearer "):
            return _error(401, "Unauthorized", "a bearer token is required")
        if "api-version" not in request.url.params:
            return _error(400, "MissingApiVersion", "api-version is required")
        segments = request.url.raw_path.decode("ascii").split("?")[0].strip("/").split("/")
        body = json.loads(request.content) if request.content else None
        if segments[:2] != ["chat", "threads"]:
            return _error(404, "NotFound", "no such route")
        if len(segments) == 2:
            return self._threads(request, body)
        thread = self.threads.get(unquote(segments[2]))
        if thread is None:
            return _error(404, "NotFound", "thread not found", unquote(segments[2]))
        return self._thread(request, thread, [unquote(s) for s in segments[3:]], body)

    # -- /chat/threads --------------------------------------------------------------------------------------

    def _threads(self, request: httpx.Request, body: Any) -> httpx.Response:
        if request.method == "GET":
            items = [
                {"id": t["id"], "topic": t["topic"], "lastMessageReceivedOn": t["createdOn"]}
                for t in self.threads.values()
            ]
            return self._page(request, items)
        request_id = request.headers["repeatability-request-id"]
        if request_id in self.created_by_request_id:  # a retried create: the same thread, not a second one
            thread = self.threads[self.created_by_request_id[request_id]]
            return httpx.Response(201, json={"chatThread": self._properties(thread)})
        thread_id = f"19:sample{next(self._ids)}@thread.v2"
        thread = {
            "id": thread_id,
            "topic": body["topic"],
            "createdOn": _now(),
            "messages": [],
            "participants": [],
            "receipts": [],
        }
        self.threads[thread_id] = thread
        self.created_by_request_id[request_id] = thread_id
        invalid = self._add(thread, body.get("participants", []))
        result: dict[str, Any] = {"chatThread": self._properties(thread)}
        if invalid:
            result["invalidParticipants"] = invalid
        return httpx.Response(201, json=result)

    def _properties(self, thread: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": thread["id"],
            "topic": thread["topic"],
            "createdOn": thread["createdOn"],
            "createdByCommunicationIdentifier": self.user,
        }

    def _add(self, thread: dict[str, Any], participants: list[dict[str, Any]]) -> list[dict[str, Any]]:
        invalid = []
        for participant in participants:
            raw_id = participant["communicationIdentifier"]["rawId"]
            if raw_id.startswith(REFUSED_PREFIX):
                invalid.append({"code": "403", "message": "phone numbers cannot join chat threads", "target": raw_id})
                continue
            thread["participants"] = [
                p for p in thread["participants"] if p["communicationIdentifier"]["rawId"] != raw_id
            ] + [participant]
        return invalid

    # -- /chat/threads/{id}/... -----------------------------------------------------------------------------

    def _thread(self, request: httpx.Request, thread: dict[str, Any], rest: list[str], body: Any) -> httpx.Response:
        method = request.method
        if not rest:
            if method == "GET":
                return httpx.Response(200, json=self._properties(thread))
            if method == "PATCH":
                thread["topic"] = body.get("topic", thread["topic"])
                return httpx.Response(204)
            del self.threads[thread["id"]]
            return httpx.Response(204)
        if rest == ["messages"]:
            if method == "GET":
                return self._page(request, [m for m in reversed(thread["messages"]) if "deletedOn" not in m])
            message_id = str(1_700_000_000_000 + next(self._ids))
            thread["messages"].append(
                {
                    "id": message_id,
                    "type": body.get("type", "text"),
                    "sequenceId": str(len(thread["messages"]) + 1),
                    "version": message_id,
                    "content": {"message": body["content"]},
                    "senderDisplayName": body.get("senderDisplayName"),
                    "createdOn": _now(),
                    "senderCommunicationIdentifier": self.user,
                }
            )
            return httpx.Response(201, json={"id": message_id})
        if len(rest) == 2 and rest[0] == "messages":
            message = next((m for m in thread["messages"] if m["id"] == rest[1]), None)
            if message is None:
                return _error(404, "NotFound", "message not found", rest[1])
            if method == "GET":
                return httpx.Response(200, json=message)
            if method == "PATCH":
                message["content"]["message"] = body.get("content", message["content"]["message"])
                message["editedOn"] = _now()
            else:
                message["deletedOn"] = _now()
            return httpx.Response(204)
        if rest == ["participants"]:
            return self._page(request, thread["participants"])
        if rest == ["participants", ":add"]:
            invalid = self._add(thread, body["participants"])
            return httpx.Response(201, json={"invalidParticipants": invalid} if invalid else {})
        if rest == ["participants", ":remove"]:
            thread["participants"] = [
                p for p in thread["participants"] if p["communicationIdentifier"]["rawId"] != body["rawId"]
            ]
            return httpx.Response(204)
        if rest == ["typing"]:
            return httpx.Response(200)
        if rest == ["readReceipts"]:
            if method == "GET":
                return self._page(request, thread["receipts"])
            receipt = {
                "senderCommunicationIdentifier": self.user,
                "chatMessageId": body["chatMessageId"],
                "readOn": _now(),
            }
            thread["receipts"] = [receipt]
            return httpx.Response(200)
        return _error(404, "NotFound", "no such route")

    def _page(self, request: httpx.Request, items: list[dict[str, Any]]) -> httpx.Response:
        size = int(request.url.params.get("maxPageSize", "100"))
        skip = int(request.url.params.get("skip", "0"))
        page: dict[str, Any] = {"value": items[skip : skip + size]}
        if skip + size < len(items):
            # like the service: an absolute link on the same origin carrying its own query
            page["nextLink"] = str(request.url.copy_merge_params({"skip": str(skip + size)}))
        return httpx.Response(200, json=page)
