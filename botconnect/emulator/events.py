"""Event Grid delivery of the emulated ACS Chat's events to a webhook (``Emulator(event_webhook=URL)``).

The thread-wide events are delivered, in the Event Grid schema, one event per POST, in order:
``ChatMessageReceivedInThread`` / ``EditedInThread`` / ``DeletedInThread``, ``ChatThreadCreated``,
``ChatThreadDeleted``, ``ChatThreadParticipantAdded`` / ``Removed``. Before the first one the webhook must pass
Event Grid's subscription validation (answer ``{"validationResponse": code}``); until it does nothing is sent, and
a failed validation is retried with the next event. :attr:`EventDelivery.delivered` and ``.failures`` tell tests
what happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from typing import Any

import httpx

from ._acs_state import ChatState, Json, Participant, format_time, identifier_wire

__all__ = ["EventDelivery"]

_PREFIX = "Microsoft.Communication."
_API = "2025-03-15"


def _identifier(raw_id: str | None) -> Json | None:
    return None if raw_id is None else identifier_wire(raw_id, _API)


def _participant(p: Participant) -> Json:
    out: Json = {"participantCommunicationIdentifier": _identifier(p.raw_id)}
    if p.display_name is not None:
        out["displayName"] = p.display_name
    if p.share_history_time is not None:
        out["shareHistoryTime"] = format_time(p.share_history_time)
    return out


class EventDelivery:
    """POSTs chat events to ``url`` from the emulator's loop (see the module docs)."""

    def __init__(self, url: str, *, topic: str) -> None:
        self.url = url
        self.topic = topic
        self.delivered: list[Json] = []
        self.failures: list[str] = []
        self._validated = False
        self._queue: asyncio.Queue[Json] | None = None
        self._worker: asyncio.Task[None] | None = None

    def after(self, operation: str, state: ChatState, caller: str, thread_id: str | None, result: Any) -> None:
        """Queue the events of a chat operation that succeeded (on the emulator's loop)."""
        thread = state.threads.get(thread_id or "")
        if thread is None:
            return
        base: Json = {"threadId": thread.id, "transactionId": uuid.uuid4().hex, "version": int(time.time() * 1000)}
        if operation in ("send", "edit", "delete"):
            message = thread.message_index.get(str(result))
            if message is None:
                return
            data: Json = {
                **base,
                "messageId": message.id,
                "senderCommunicationIdentifier": _identifier(message.sender),
                "senderDisplayName": message.sender_display_name,
                "composeTime": format_time(message.created_on),
                "type": message.type.capitalize(),
                "version": int(message.version),
                "messageBody": message.content,
                "metadata": message.metadata or {},
            }
            if message.edited_on is not None:
                data["editTime"] = format_time(message.edited_on)
            if message.deleted_on is not None:
                data["deleteTime"] = format_time(message.deleted_on)
            name = {"send": "Received", "edit": "Edited", "delete": "Deleted"}[operation]
            self._emit(f"ChatMessage{name}InThread", f"thread/{thread.id}/sender/{message.sender}", data)
        elif operation == "create":
            data = {
                **base,
                "createTime": format_time(thread.created_on),
                "createdByCommunicationIdentifier": _identifier(thread.created_by),
                "properties": {"topic": thread.topic},
                "metadata": dict(thread.metadata),
                "participants": [_participant(p) for p in thread.participants.values()],
            }
            self._emit("ChatThreadCreated", f"thread/{thread.id}", data)
        elif operation == "delete_thread":
            data = {**base, "deletedByCommunicationIdentifier": _identifier(caller)}
            data["deleteTime"] = format_time(thread.deleted_on or time.time())
            self._emit("ChatThreadDeleted", f"thread/{thread.id}", data)
        elif operation in ("add", "remove"):
            for participant in result:
                key = "Added" if operation == "add" else "Removed"
                data = {
                    **base,
                    "time": format_time(time.time()),
                    f"{key.lower()}ByCommunicationIdentifier": _identifier(caller),
                    f"participant{key}": _participant(participant),
                }
                self._emit(f"ChatThreadParticipant{key}", f"thread/{thread.id}", data)

    def _emit(self, event_type: str, subject: str, data: Json) -> None:
        event = {
            "id": str(uuid.uuid4()),
            "topic": self.topic,
            "subject": subject,
            "eventType": _PREFIX + event_type,
            "eventTime": format_time(time.time()),
            "dataVersion": "1.0",
            "metadataVersion": "1",
            "data": data,
        }
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._worker = asyncio.get_running_loop().create_task(self._deliver(self._queue))
        self._queue.put_nowait(event)

    async def _deliver(self, queue: asyncio.Queue[Json]) -> None:
        async with httpx.AsyncClient(timeout=10) as http:
            while True:
                event = await queue.get()
                try:
                    if not self._validated:
                        self._validated = await self._validate(http)
                    if self._validated:
                        response = await http.post(self.url, json=[event], headers={"aeg-event-type": "Notification"})
                        if response.is_success:
                            self.delivered.append(event)
                        else:
                            self.failures.append(f"{event['eventType']}: {response.status_code}")
                except httpx.HTTPError as exc:
                    self.failures.append(f"{event['eventType']}: {type(exc).__name__}")

    async def _validate(self, http: httpx.AsyncClient) -> bool:
        code = str(uuid.uuid4())
        validation = {
            "id": str(uuid.uuid4()),
            "topic": self.topic,
            "subject": "",
            "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
            "eventTime": format_time(time.time()),
            "dataVersion": "2",
            "metadataVersion": "1",
            "data": {"validationCode": code},
        }
        response = await http.post(self.url, json=[validation], headers={"aeg-event-type": "SubscriptionValidation"})
        with contextlib.suppress(ValueError):
            if response.is_success and response.json() == {"validationResponse": code}:
                return True
        self.failures.append(f"subscription validation: {response.status_code}")
        return False

    async def aclose(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = self._queue = None
