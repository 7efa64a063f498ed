"""A tiny stateful stand-in for a channel's Connector service, used by the samples until the emulator lands.

It is an ``httpx.MockTransport`` handler: no socket, no network. It keeps conversations, activities and
members, and pages members by continuation token, so the samples exercise real request/response cycles.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import httpx


class FakeConnector:
    def __init__(self, members: int = 7) -> None:
        self.activities: dict[str, dict[str, dict[str, Any]]] = {}
        self.members = [{"id": f"user-{i}", "name": f"User {i}"} for i in range(members)]
        self._ids = itertools.count(1)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        parts = request.url.raw_path.decode().split("?")[0].strip("/").split("/")
        # /v3/conversations/{id}/...
        if parts[:2] != ["v3", "conversations"]:
            return httpx.Response(404, json={"error": {"code": "NotFound", "message": "no such route"}})
        body = json.loads(request.content) if request.content else None
        if len(parts) == 2 and request.method == "POST":
            conversation_id = f"conv-{next(self._ids)}"
            self.activities[conversation_id] = {}
            return httpx.Response(201, json={"id": conversation_id, "serviceUrl": str(request.url.copy_with(path="/"))})
        conversation = httpx.URL("/" + parts[2]).path.lstrip("/")  # percent-decoded id
        stored = self.activities.setdefault(conversation, {})
        tail = parts[3:]
        if tail == ["activities"] and request.method == "POST":
            activity_id = str(next(self._ids))
            stored[activity_id] = body or {}
            return httpx.Response(200, json={"id": activity_id})
        if len(tail) == 2 and tail[0] == "activities":
            activity_id = tail[1]
            if request.method == "POST":  # reply
                reply_id = str(next(self._ids))
                stored[reply_id] = {**(body or {}), "replyToId": activity_id}
                return httpx.Response(200, json={"id": reply_id})
            if activity_id not in stored:
                return httpx.Response(404, json={"error": {"code": "ActivityNotFound", "message": "unknown activity"}})
            if request.method == "PUT":
                stored[activity_id] = body or {}
                return httpx.Response(200, json={"id": activity_id})
            if request.method == "DELETE":
                del stored[activity_id]
                return httpx.Response(200)
        if tail == ["pagedmembers"] and request.method == "GET":
            size = int(request.url.params.get("pageSize", "3"))
            start = int(request.url.params.get("continuationToken", "0"))
            page = self.members[start : start + size]
            result: dict[str, Any] = {"members": page}
            if start + size < len(self.members):
                result["continuationToken"] = str(start + size)
            return httpx.Response(200, json=result)
        return httpx.Response(400, json={"error": {"code": "BadArgument", "message": "unsupported call"}})
