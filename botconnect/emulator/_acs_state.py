"""The ACS Chat emulator's state: threads, messages, participants and read receipts, their wire shapes, and typed
reads of request bodies (:class:`Body`).

No HTTP here: :mod:`botconnect.emulator.acs` parses and checks requests, calls :class:`ChatState` under
:attr:`ChatState.lock`, and turns :class:`AcsError` into the service's error bodies. Times are Unix seconds from the
injected clock. Identifiers are kept as raw ids (``8:acs:...``) and rendered for the caller's api-version.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

API_2024_03_07 = "2024-03-07"
API_2025_03_15 = "2025-03-15"
API_VERSIONS = (API_2024_03_07, API_2025_03_15)

Json = dict[str, Any]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DATE_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})?"
)
_DAY = 86_400.0

_ACS_USER_PREFIXES = ("8:acs:", "8:spool:", "8:dod-acs:", "8:gcch-acs:")
_PHONE_PREFIX = "4:"
_TEAMS_VISITOR_PREFIX = "8:teamsvisitor:"
#: raw id prefix -> cloud, for Teams users and Teams apps
TEAMS_USER_PREFIXES = {"8:orgid:": "public", "8:dod:": "dod", "8:gcch:": "gcch"}
TEAMS_APP_PREFIXES = {"28:orgid:": "public", "28:dod:": "dod", "28:gcch:": "gcch"}

#: the only message types a user can send; the others are system messages the service posts itself
USER_MESSAGE_TYPES = ("text", "html")


#: ACS's documented limits: participants per add request, per thread, and the most a thread may have for read
#: receipts to be kept (above it they are accepted and dropped); topics are capped at 256 characters (our choice:
#: the documents give no number)
MAX_ADDED_PARTICIPANTS = 200
MAX_THREAD_PARTICIPANTS = 250
MAX_RECEIPT_PARTICIPANTS = 20
MAX_TOPIC_LENGTH = 256


class AcsError(Exception):
    """An error answer: status, the service's ``error`` object, and extra response headers."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        target: str | None = None,
        details: list[Json] | None = None,
        innererror: Json | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.target = target
        self.details = details or []
        self.innererror = innererror
        self.headers = dict(headers or {})

    def body(self) -> Json:
        error: Json = {"code": self.code, "message": self.message}
        if self.target is not None:
            error["target"] = self.target
        error["details"] = self.details
        if self.innererror is not None:
            error["innererror"] = self.innererror
        return {"error": error}


def bad_request(message: str, target: str, code: str = "InvalidValue") -> AcsError:
    """400, with the one problem also in ``details`` (``code`` says what kind of problem)."""
    details = [{"code": code, "message": message, "target": target}]
    return AcsError(400, "BadRequest", message, target=target, details=details)


def not_found(what: str, target: str) -> AcsError:
    return AcsError(404, "NotFound", f"{what} was not found.", target=target)


def forbidden(message: str = "User is not allowed to perform specified action.") -> AcsError:
    return AcsError(403, "Forbidden", message)


# -- identifiers and times --------------------------------------------------------------------------------------


def identifier_kind(raw_id: str) -> tuple[str, Json]:
    """The kind a raw id stands for and that kind's wire object (``unknown`` and ``{}`` when unrecognised)."""
    if raw_id.startswith(_PHONE_PREFIX) and len(raw_id) > len(_PHONE_PREFIX):
        return "phoneNumber", {"value": raw_id[len(_PHONE_PREFIX) :]}
    if is_acs_user(raw_id):
        return "communicationUser", {"id": raw_id}
    if raw_id.startswith(_TEAMS_VISITOR_PREFIX) and len(raw_id) > len(_TEAMS_VISITOR_PREFIX):
        return "microsoftTeamsUser", {
            "userId": raw_id[len(_TEAMS_VISITOR_PREFIX) :],
            "isAnonymous": True,
            "cloud": "public",
        }
    for prefix, cloud in TEAMS_USER_PREFIXES.items():
        if raw_id.startswith(prefix) and len(raw_id) > len(prefix):
            return "microsoftTeamsUser", {"userId": raw_id[len(prefix) :], "isAnonymous": False, "cloud": cloud}
    for prefix, cloud in TEAMS_APP_PREFIXES.items():
        if raw_id.startswith(prefix) and len(raw_id) > len(prefix):
            return "microsoftTeamsApp", {"appId": raw_id[len(prefix) :], "cloud": cloud}
    return "unknown", {}


def is_acs_user(raw_id: str) -> bool:
    return any(raw_id.startswith(p) and len(raw_id) > len(p) for p in _ACS_USER_PREFIXES)


def identifier_wire(raw_id: str, api_version: str) -> Json:
    """``{"rawId", "<kind>": {...}}``, with ``kind`` from 2025-03-15 on (2024-03-07 has no Teams app model)."""
    kind, model = identifier_kind(raw_id)
    if kind == "microsoftTeamsApp" and api_version < API_2025_03_15:
        kind, model = "unknown", {}
    wire: Json = {"kind": kind} if api_version >= API_2025_03_15 else {}
    wire["rawId"] = raw_id
    if kind != "unknown":
        wire[kind] = model
    return wire


def parse_time(text: str, target: str) -> float:
    """RFC 3339 (an offset-less time is taken as UTC) as Unix seconds; 400 otherwise."""
    if _DATE_TIME.fullmatch(text):
        try:
            moment = datetime.fromisoformat(text.upper())
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            return moment.astimezone(UTC).timestamp()
        except (ValueError, OverflowError):
            pass
    raise bad_request(f"{target} must be an RFC 3339 date-time such as 2024-02-16T23:46:42Z.", target)


def format_time(timestamp: float) -> str:
    """RFC 3339 in UTC to the second, as the service's recordings show (``2024-02-16T23:46:42Z``)."""
    moment = _EPOCH + timedelta(seconds=timestamp)
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}Z"
    )


#: (clear the map first, then set each entry; a None value removes that key): RFC 7396 on a string map
MetadataPatch = tuple[bool, dict[str, str | None]]

#: "The total size of all metadata pairs can be up to 1KB" (thread and participant metadata, per the swagger)
METADATA_LIMIT = 1024


def check_metadata_size(metadata: Mapping[str, str], target: str, limit: int | None) -> None:
    if limit is not None and sum(len(k.encode()) + len(v.encode()) for k, v in metadata.items()) > limit:
        message = f"{target}: the total size of all metadata pairs can be up to {limit} bytes."
        raise bad_request(message, target, "MetadataTooLarge")


def apply_metadata_patch(
    current: Mapping[str, str] | None, patch: MetadataPatch, *, limit: int | None, target: str = "metadata"
) -> dict[str, str]:
    clear, entries = patch
    merged = {} if clear or current is None else dict(current)
    for key, value in entries.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    check_metadata_size(merged, target, limit)
    return merged


# -- reading requests -------------------------------------------------------------------------------------------


class Body:
    """Typed reads of one JSON object; every failure is a 400 naming the path of what is wrong."""

    _NOUNS: Mapping[type, str] = {str: "a string", int: "an integer", bool: "true or false", list: "an array"}

    def __init__(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            raise bad_request(f"{path or 'The request body'} must be a JSON object.", path or "body")
        self.data: dict[str, Any] = value
        self.path = path

    def where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def is_null(self, key: str) -> bool:
        return key in self.data and self.data[key] is None

    def get(self, key: str, kind: type, *, required: bool = False) -> Any:
        """``data[key]`` if it is a ``kind`` (bool is no int here); None when absent or null unless ``required``."""
        value = self.data.get(key)
        if value is None:
            if required:
                raise bad_request(f"{self.where(key)} is required.", self.where(key), "MissingValue")
            return None
        if not isinstance(value, kind) or isinstance(value, bool) is not (kind is bool):
            raise bad_request(f"{self.where(key)} must be {self._NOUNS.get(kind, 'an object')}.", self.where(key))
        return value

    def child(self, key: str, *, required: bool = False) -> Body | None:
        value = self.get(key, dict, required=required)
        return None if value is None else Body(value, self.where(key))

    def timestamp(self, key: str) -> float | None:
        value = self.get(key, str)
        return None if value is None else parse_time(value, self.where(key))

    def string_map(self, key: str, *, patch: bool = False) -> dict[str, str | None] | None:
        """An object of strings (in a merge patch, null values too: they remove keys)."""
        child = self.child(key)
        if child is None:
            return None
        for name, value in child.data.items():
            if not (isinstance(value, str) or (patch and value is None)):
                raise bad_request(f"{child.where(name)} must be a string.", child.where(name))
        return dict(child.data)

    def metadata(self, key: str, *, limit: int | None) -> dict[str, str]:
        values = {k: v for k, v in (self.string_map(key) or {}).items() if v is not None}
        check_metadata_size(values, self.where(key), limit)
        return values

    def metadata_patch(self, key: str) -> MetadataPatch | None:
        if key not in self.data:
            return None
        return (True, {}) if self.data[key] is None else (False, self.string_map(key, patch=True) or {})


# -- the model --------------------------------------------------------------------------------------------------


@dataclass
class Participant:
    raw_id: str
    display_name: str | None = None
    #: None: the whole history (listed as 1970-01-01T00:00:00Z)
    share_history_time: float | None = None
    metadata: dict[str, str] | None = None

    def wire(self, api_version: str, *, in_message: bool = False) -> Json:
        out: Json = {"communicationIdentifier": identifier_wire(self.raw_id, api_version)}
        if self.display_name is not None:
            out["displayName"] = self.display_name
        if self.share_history_time is not None:
            out["shareHistoryTime"] = format_time(self.share_history_time)
        elif not in_message:
            out["shareHistoryTime"] = format_time(0)
        if self.metadata and api_version >= API_2025_03_15:
            out["metadata"] = dict(self.metadata)
        return out


@dataclass
class Message:
    id: str
    type: str
    sequence_id: int
    version: str
    created_on: float
    sender: str | None = None
    sender_display_name: str | None = None
    content: str | None = None
    topic: str | None = None
    participants: list[Participant] | None = None
    initiator: str | None = None
    metadata: dict[str, str] | None = None
    edited_on: float | None = None
    deleted_on: float | None = None

    @property
    def changed_on(self) -> float:
        return max(t for t in (self.created_on, self.edited_on, self.deleted_on) if t is not None)

    def wire(self, api_version: str) -> Json:
        out: Json = {
            "id": self.id,
            "type": self.type,
            "sequenceId": str(self.sequence_id),
            "version": self.version,
        }
        if self.deleted_on is None:
            content: Json = {}
            if self.type in USER_MESSAGE_TYPES:
                content = {"message": self.content or "", "attachments": []}
            else:
                if self.topic is not None:
                    content["topic"] = self.topic
                if self.participants is not None:
                    content["participants"] = [p.wire(api_version, in_message=True) for p in self.participants]
                if self.initiator is not None:
                    content["initiatorCommunicationIdentifier"] = identifier_wire(self.initiator, api_version)
            out["content"] = content
        if self.sender_display_name is not None:
            out["senderDisplayName"] = self.sender_display_name
        out["createdOn"] = format_time(self.created_on)
        if self.sender is not None:
            out["senderCommunicationIdentifier"] = identifier_wire(self.sender, api_version)
        if self.deleted_on is not None:
            out["deletedOn"] = format_time(self.deleted_on)
        if self.edited_on is not None:
            out["editedOn"] = format_time(self.edited_on)
        if self.metadata and self.deleted_on is None:
            out["metadata"] = dict(self.metadata)
        return out


@dataclass
class Receipt:
    message_id: str
    sequence_id: int
    read_on: float


@dataclass
class Thread:
    id: str
    topic: str
    created_on: float
    created_by: str
    metadata: dict[str, str] = field(default_factory=dict)
    retention: Json | None = None
    participants: dict[str, Participant] = field(default_factory=dict)
    messages: list[Message] = field(default_factory=list)
    message_index: dict[str, Message] = field(default_factory=dict)
    receipts: dict[str, Receipt] = field(default_factory=dict)
    deleted_on: float | None = None
    last_message_on: float = 0.0
    next_sequence: int = 1

    def wire(self, api_version: str) -> Json:
        out: Json = {
            "id": self.id,
            "topic": self.topic,
            "createdOn": format_time(self.created_on),
            "createdByCommunicationIdentifier": identifier_wire(self.created_by, api_version),
        }
        if self.deleted_on is not None:
            out["deletedOn"] = format_time(self.deleted_on)
        if api_version >= API_2025_03_15:
            if self.metadata:
                out["metadata"] = dict(self.metadata)
            if self.retention is not None:
                out["retentionPolicy"] = dict(self.retention)
        return out

    def item_wire(self) -> Json:
        out: Json = {"id": self.id, "topic": self.topic}
        if self.deleted_on is not None:
            out["deletedOn"] = format_time(self.deleted_on)
        out["lastMessageReceivedOn"] = format_time(self.last_message_on)
        return out

    def visible_to(self, raw_id: str, message: Message) -> bool:
        participant = self.participants.get(raw_id)
        if participant is None:
            return False
        since = participant.share_history_time
        return since is None or message.created_on >= since


# -- the operations ---------------------------------------------------------------------------------------------


class ChatState:
    """Every thread of the emulated resource. Callers hold :attr:`lock` around each operation."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.lock = threading.RLock()
        self.threads: dict[str, Thread] = {}
        self._created: dict[tuple[str, str], tuple[str, list[Json]]] = {}
        self._last_message_id = 0

    def reset(self) -> None:
        with self.lock:
            self.threads.clear()
            self._created.clear()
            self._last_message_id = 0

    def now(self) -> float:
        return float(self._clock())

    # -- helpers ------------------------------------------------------------------------------------------------

    def _message_id(self, now: float) -> str:
        """Millisecond timestamps like the service's (``1708127236061``), strictly increasing across the resource."""
        self._last_message_id = max(self._last_message_id + 1, int(now * 1000))
        return str(self._last_message_id)

    def _post(self, thread: Thread, now: float, **fields: Any) -> Message:
        message_id = self._message_id(now)
        message = Message(id=message_id, sequence_id=thread.next_sequence, version=message_id, created_on=now, **fields)
        thread.next_sequence += 1
        thread.messages.append(message)
        thread.message_index[message.id] = message
        thread.last_message_on = now
        return message

    def _expire(self, thread: Thread, now: float) -> None:
        """A thread past its ``threadCreationDate`` retention is deleted (at the moment the policy says)."""
        policy = thread.retention
        if thread.deleted_on is None and policy is not None and policy.get("kind") == "threadCreationDate":
            until = thread.created_on + float(policy["deleteThreadAfterDays"]) * _DAY
            if now >= until:
                thread.deleted_on = until

    def thread_for(self, caller: str, thread_id: str) -> Thread:
        """The live thread ``caller`` takes part in: 404 when there is none (or it was deleted), else 403."""
        thread = self.threads.get(thread_id)
        if thread is not None:
            self._expire(thread, self.now())
        if thread is None or thread.deleted_on is not None:
            raise not_found("The chat thread", thread_id)
        if caller not in thread.participants:
            raise forbidden()
        return thread

    @staticmethod
    def invalid_participant(participant: Participant, api_version: str) -> Json | None:
        """The error for a participant that cannot join a chat thread; None when it can."""
        kind, _ = identifier_kind(participant.raw_id)
        if kind == "communicationUser" or (kind == "microsoftTeamsApp" and api_version >= API_2025_03_15):
            return None
        if kind in ("phoneNumber", "microsoftTeamsUser"):
            return {"code": "403", "message": "Permissions check failed", "target": participant.raw_id}
        return {"code": "404", "message": "Not found", "target": participant.raw_id}

    def _admit(
        self, thread: Thread, participants: list[Participant], api_version: str
    ) -> tuple[list[Participant], list[Json]]:
        """Add the valid participants (updating ones already there); returns the new ones and the failures."""
        present = set(thread.participants)
        joining = {p.raw_id for p in participants if self.invalid_participant(p, api_version) is None} - present
        if len(present) + len(joining) > MAX_THREAD_PARTICIPANTS:
            raise bad_request(f"A thread can have at most {MAX_THREAD_PARTICIPANTS} participants.", "participants")
        added: dict[str, Participant] = {}
        invalid: list[Json] = []
        for participant in participants:
            error = self.invalid_participant(participant, api_version)
            if error is not None:
                invalid.append(error)
                continue
            thread.participants[participant.raw_id] = participant
            if participant.raw_id not in present:
                added[participant.raw_id] = participant
        return list(added.values()), invalid

    # -- threads ------------------------------------------------------------------------------------------------

    def create_thread(
        self,
        caller: str,
        topic: str,
        participants: list[Participant],
        *,
        metadata: dict[str, str],
        retention: Json | None,
        request_id: str | None,
        api_version: str,
    ) -> tuple[Thread, list[Json]]:
        """A new thread (or, for a repeated ``repeatability-request-id``, the one that request created)."""
        if request_id is not None and (caller, request_id) in self._created:
            thread_id, invalid = self._created[(caller, request_id)]
            thread = self.threads[thread_id]
            self._expire(thread, self.now())
            return thread, invalid
        now = self.now()
        thread = Thread(
            id=f"19:acsV1_{uuid.uuid4().hex}@thread.v2",
            topic=topic,
            created_on=now,
            created_by=caller,
            metadata=metadata,
            retention=retention,
        )
        implicit = caller not in {p.raw_id for p in participants}
        if implicit:
            thread.participants[caller] = Participant(caller)
        added, invalid = self._admit(thread, participants, api_version)
        if implicit:
            added.insert(0, thread.participants[caller])
        self._post(thread, now, type="participantAdded", participants=added, initiator=caller)
        self._post(thread, now, type="topicUpdated", topic=topic, initiator=caller)
        self.threads[thread.id] = thread
        if request_id is not None:
            self._created[(caller, request_id)] = (thread.id, invalid)
        return thread, invalid

    def list_threads(self, caller: str, start: float | None) -> list[Thread]:
        """The caller's threads (deleted ones too, with ``deletedOn``), most recently active first."""
        now = self.now()
        mine = []
        for thread in self.threads.values():
            if caller not in thread.participants:
                continue
            self._expire(thread, now)
            active = max(thread.last_message_on, thread.deleted_on or 0.0)
            if start is None or active >= start:
                mine.append(thread)
        mine.sort(key=lambda t: (-t.last_message_on, t.id))
        return mine

    def update_thread(
        self,
        caller: str,
        thread_id: str,
        *,
        topic: str | None,
        metadata: MetadataPatch | None,
        retention: Json | None,
        set_retention: bool,
    ) -> None:
        thread = self.thread_for(caller, thread_id)
        if metadata is not None:
            thread.metadata = apply_metadata_patch(thread.metadata, metadata, limit=METADATA_LIMIT)
        if set_retention:
            thread.retention = retention
        if topic is not None:
            thread.topic = topic
            self._post(thread, self.now(), type="topicUpdated", topic=topic, initiator=caller)

    def delete_thread(self, caller: str, thread_id: str) -> None:
        thread = self.threads.get(thread_id)
        if thread is not None and thread.deleted_on is not None and caller in thread.participants:
            return  # deleting again: done already
        thread = self.thread_for(caller, thread_id)
        thread.deleted_on = self.now()

    # -- messages -----------------------------------------------------------------------------------------------

    def send_message(
        self,
        caller: str,
        thread_id: str,
        *,
        content: str,
        message_type: str,
        sender_display_name: str | None,
        metadata: dict[str, str] | None,
    ) -> Message:
        thread = self.thread_for(caller, thread_id)
        return self._post(
            thread,
            self.now(),
            type=message_type,
            sender=caller,
            sender_display_name=sender_display_name,
            content=content,
            metadata=metadata or None,
        )

    def message_for(self, caller: str, thread_id: str, message_id: str) -> tuple[Thread, Message]:
        thread = self.thread_for(caller, thread_id)
        message = thread.message_index.get(message_id)
        if message is None or not thread.visible_to(caller, message):
            raise not_found("The chat message", message_id)
        return thread, message

    def list_messages(self, caller: str, thread_id: str, start: float | None) -> list[Message]:
        """What the caller may see (deleted messages too, with ``deletedOn``), newest first."""
        thread = self.thread_for(caller, thread_id)
        return [
            m
            for m in reversed(thread.messages)
            if thread.visible_to(caller, m) and (start is None or m.changed_on >= start)
        ]

    def _own_message(self, caller: str, thread_id: str, message_id: str) -> Message:
        _, message = self.message_for(caller, thread_id, message_id)
        if message.sender != caller:
            raise forbidden("Only the sender of a message can edit or delete it.")
        return message

    def update_message(
        self, caller: str, thread_id: str, message_id: str, *, content: str | None, metadata: MetadataPatch | None
    ) -> None:
        message = self._own_message(caller, thread_id, message_id)
        if message.deleted_on is not None:
            raise not_found("The chat message", message_id)
        if metadata is not None:
            message.metadata = apply_metadata_patch(message.metadata, metadata, limit=None) or None
        now = self.now()
        if content is not None:
            message.content = content
        message.edited_on = now
        message.version = self._message_id(now)

    def delete_message(self, caller: str, thread_id: str, message_id: str) -> None:
        message = self._own_message(caller, thread_id, message_id)
        if message.deleted_on is None:
            now = self.now()
            message.deleted_on = now
            message.version = self._message_id(now)

    # -- participants -------------------------------------------------------------------------------------------

    def list_participants(self, caller: str, thread_id: str) -> list[Participant]:
        return list(self.thread_for(caller, thread_id).participants.values())

    def add_participants(
        self, caller: str, thread_id: str, participants: list[Participant], api_version: str
    ) -> list[Json]:
        thread = self.thread_for(caller, thread_id)
        added, invalid = self._admit(thread, participants, api_version)
        if added:
            self._post(thread, self.now(), type="participantAdded", participants=added, initiator=caller)
        return invalid

    def remove_participant(self, caller: str, thread_id: str, raw_id: str) -> None:
        """Remove ``raw_id`` (removing someone who is not there is not an error: a retried remove succeeds)."""
        thread = self.thread_for(caller, thread_id)
        removed = thread.participants.pop(raw_id, None)
        if removed is not None:
            thread.receipts.pop(raw_id, None)
            self._post(thread, self.now(), type="participantRemoved", participants=[removed], initiator=caller)

    # -- typing and read receipts -------------------------------------------------------------------------------

    def send_typing(self, caller: str, thread_id: str) -> None:
        self.thread_for(caller, thread_id)

    def send_read_receipt(self, caller: str, thread_id: str, message_id: str) -> None:
        thread, message = self.message_for(caller, thread_id, message_id)
        if len(thread.participants) > MAX_RECEIPT_PARTICIPANTS:
            return
        current = thread.receipts.get(caller)
        if current is None or message.sequence_id >= current.sequence_id:
            thread.receipts[caller] = Receipt(message.id, message.sequence_id, self.now())

    def list_read_receipts(self, caller: str, thread_id: str) -> list[tuple[str, Receipt]]:
        """Each participant's latest receipt, in the order they were sent."""
        thread = self.thread_for(caller, thread_id)
        return sorted(thread.receipts.items(), key=lambda item: (item[1].read_on, item[1].sequence_id))
