"""The Microsoft Teams operations of the emulator's Connector: one tenant, one team with channels, one meeting
with participants, meeting notifications and batch messaging with progress.

Everything is fixed and deterministic so samples and tests can name it: :data:`TENANT_ID`, :data:`TEAM_ID` (also
the id of the team's General channel, as in Teams), :data:`MEETING_ID` (base64, with ``/``, ``+`` and ``=`` in it,
so clients must percent-encode it) and the users of :data:`USERS`. The team's channels are conversations of the
emulator's :class:`~botconnect.emulator.connector.Store`, so a bot can post to them with the Connector API.

Batch sends advance when the bot asks how they are doing: the first ``GET /v3/batch/conversation/{id}`` reports
``NotStarted``; each later one delivers :attr:`TeamsService.batch_step` more entries (``InProgress``) until all
are done (``Completed``). A delivered entry lands in the user's 1:1 conversation (or the channel) in the store;
an unknown user or channel becomes a failed entry (404), listed by ``failedentries`` a page at a time.
:meth:`TeamsService.throttle_batch` makes the next batch sends answer 429, as the service does under load.

Paths are read from the raw request path: ``%2F`` in a meeting id stays inside its segment.
"""

from __future__ import annotations

import base64
import secrets
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

import attrs
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from .connector import (
    ACTIVITY,
    Authorizer,
    Conversation,
    Store,
    activity_problem,
    error,
    read_json,
    route,
    without_nulls,
)

__all__ = [
    "CHANNELS",
    "MEETING_ID",
    "TEAM_ID",
    "TENANT_ID",
    "USERS",
    "BatchOperation",
    "TeamsService",
]

TENANT_ID = "5e7d1c2a-0000-4000-8000-0000000000e1"
TEAM_ID = "19:emulator-team@thread.tacv2"
TEAM_NAME = "Emulator Team"
TEAM_AAD_GROUP_ID = "5e7d1c2a-0000-4000-8000-00000000a001"
#: the team's channels: the General one has the team's id and no name
CHANNELS: tuple[dict[str, str], ...] = (
    {"id": TEAM_ID, "type": "standard"},
    {"id": "19:announcements@thread.tacv2", "name": "Announcements", "type": "standard"},
)
#: base64 of Teams' ``0#<meeting chat>#0`` form; the chosen bytes put ``/``, ``+`` and ``=`` in it
MEETING_ID = base64.b64encode(b"0#19:meeting_\xfb\xef\xbe?>~u@thread.v2#0").decode("ascii")
MEETING_CHAT_ID = "19:meeting_emulator@thread.v2"


def _user(short: str, given: str, surname: str, number: int) -> dict[str, Any]:
    return {
        "id": f"29:{short}",
        "name": f"{given} {surname}",
        "aadObjectId": f"5e7d1c2a-0000-4000-8000-{number:012d}",
        "givenName": given,
        "surname": surname,
        "email": f"{short}@emulator.example",
        "userPrincipalName": f"{short}@emulator.example",
        "tenantId": TENANT_ID,
        "userRole": "user",
    }


#: the tenant's users, all members of the team and invited to the meeting
USERS: tuple[dict[str, Any], ...] = (
    _user("ada", "Ada", "Lovelace", 1),
    _user("grace", "Grace", "Hopper", 2),
    _user("alan", "Alan", "Turing", 3),
)
#: (role, in the meeting now) of each user, in USERS order
_PARTICIPATION = (("Organizer", True), ("Presenter", True), ("Attendee", False))
_SURFACES = frozenset({"meetingStage", "meetingTabIcon", "meetingCopilotPane"})
_BATCH_TARGETS = frozenset({"users", "tenant", "team", "channels"})

Handler = Callable[[Request, list[str]], Awaitable[Response]]


@attrs.define(eq=False)
class BatchOperation:
    """One batch send and how far its delivery has got."""

    id: str
    activity: dict[str, Any]
    #: ("user" | "channel", id) per entry, in order
    entries: list[tuple[str, str]]
    state: str = "NotStarted"
    delivered: int = 0
    polls: int = 0
    statuses: Counter[int] = attrs.field(factory=Counter)
    failed: list[dict[str, Any]] = attrs.field(factory=list)


class TeamsService:
    """The Teams routes (``/v3/teams``, ``/v1/meetings``, ``/v3/batch/conversation``, message reactions)."""

    def __init__(self, store: Store, auth: Authorizer) -> None:
        self.store = store
        self.auth = auth
        #: entries delivered by each poll of a batch operation's state
        self.batch_step = 2
        #: failed entries per page of ``failedentries``
        self.failed_entries_page_size = 2
        self.operations: dict[str, BatchOperation] = {}
        #: every notification a recipient got: {"meetingId", "recipient", "surfaces"}
        self.notifications: list[dict[str, Any]] = []
        #: (conversation id, activity id) -> the bot's reactions
        self.reactions: dict[tuple[str, str], list[str]] = {}
        self._personal: dict[str, str] = {}
        self._throttled = 0
        self._throttle_retry_after = 0.0

    # -- control -----------------------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget batch operations, notifications, reactions and throttling (the store forgets the channels)."""
        self.operations.clear()
        self.notifications.clear()
        self.reactions.clear()
        self._personal.clear()
        self._throttled = 0

    def throttle_batch(self, count: int, retry_after: float = 0.0) -> None:
        """Answer the next ``count`` batch sends with 429 and ``Retry-After: retry_after``."""
        self._throttled = count
        self._throttle_retry_after = retry_after

    def complete(self, operation_id: str) -> BatchOperation:
        """Deliver every pending entry of a batch operation now."""
        operation = self.operations[operation_id]
        while operation.state in ("NotStarted", "InProgress"):
            self._advance(operation, len(operation.entries))
        return operation

    def incoming_message(self, text: str, *, user: int = 0, in_meeting: bool = False) -> dict[str, Any]:
        """A message activity as Teams delivers it to the bot: from ``USERS[user]``, in the team's General channel
        or (``in_meeting``) in the meeting chat, with Teams' ``channelData``."""
        sender = USERS[user]
        self.store.on_loop(self._ensure_channels)  # the bot may answer in the channel at once
        channel_data: dict[str, Any] = {"tenant": {"id": TENANT_ID}}
        if in_meeting:
            conversation = {"id": MEETING_CHAT_ID, "conversationType": "groupChat", "isGroup": True}
            channel_data["meeting"] = {"id": MEETING_ID}
        else:
            conversation = {"id": TEAM_ID, "conversationType": "channel", "isGroup": True, "name": TEAM_NAME}
            channel_data["team"] = {"id": TEAM_ID, "name": TEAM_NAME, "aadGroupId": TEAM_AAD_GROUP_ID}
            channel_data["channel"] = {"id": TEAM_ID}
        return {
            "type": "message",
            "id": secrets.token_hex(8),
            "channelId": "msteams",
            "serviceUrl": self.store.service_url,
            "from": {"id": sender["id"], "name": sender["name"], "aadObjectId": sender["aadObjectId"]},
            "recipient": dict(self.store.bot_account),
            "conversation": {**conversation, "tenantId": TENANT_ID},
            "text": text,
            "channelData": channel_data,
        }

    def _ensure_channels(self) -> None:
        # Created on first use of the Teams routes, not up front: a Direct Line-only run sees no Teams conversations
        for channel in CHANNELS:
            if channel["id"] not in self.store.conversations:
                conversation = Conversation(
                    id=channel["id"],
                    channel_id="msteams",
                    is_group=True,
                    topic=channel.get("name"),
                    tenant_id=TENANT_ID,
                )
                conversation.add_member(dict(self.store.bot_account))
                for user in USERS:
                    conversation.add_member(user)
                self.store.conversations[conversation.id] = conversation

    # -- routing -----------------------------------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        teams, meetings = self._prefixed("/v3/teams/"), self._prefixed("/v1/meetings/")
        batch = self._prefixed("/v3/batch/conversation/")
        reactions = "/v3/conversations/{cid}/activities/{aid}/reactions/{reaction}"
        return [
            route("/v3/teams/{rest:path}", GET=teams),
            route("/v1/meetings/{rest:path}", GET=meetings, POST=meetings),
            route("/v3/batch/conversation/{rest:path}", GET=batch, POST=batch, DELETE=batch),
            route(reactions, PUT=self._authorized(self._react), DELETE=self._authorized(self._react)),
        ]

    def _authorized(
        self, handler: Callable[[Request], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            denied = self.auth.check(request)
            if denied is not None:
                return denied
            self._ensure_channels()
            return await handler(request)

        return endpoint

    def _prefixed(self, prefix: str) -> Callable[[Request], Awaitable[Response]]:
        """A handler reading the path's segments after ``prefix`` from the raw path (encoded slashes kept)."""

        async def endpoint(request: Request) -> Response:
            denied = self.auth.check(request)
            if denied is not None:
                return denied
            self._ensure_channels()
            raw = request.scope.get("raw_path")
            path = raw.decode("latin-1") if raw else request.url.path
            segments = [unquote(part) for part in path.split("?", 1)[0][len(prefix) :].split("/")]
            handler = self._dispatch(prefix, request.method, segments)
            if handler is None:
                return error(404, "NotFound", f"no such resource: {request.method} {path}")
            return await handler(request, segments)

        return endpoint

    def _dispatch(self, prefix: str, method: str, s: list[str]) -> Handler | None:
        shape = (method, len(s), s[1] if len(s) > 1 else None)
        if prefix == "/v3/teams/":
            return {("GET", 1, None): self._team, ("GET", 2, "conversations"): self._channels}.get(shape)
        if prefix == "/v1/meetings/":
            table: dict[tuple[str, int, str | None], Handler] = {
                ("GET", 1, None): self._meeting,
                ("GET", 3, "participants"): self._participant,
                ("POST", 2, "notification"): self._notify,
            }
            return table.get(shape)
        if method == "POST" and len(s) == 1 and s[0] in _BATCH_TARGETS:
            return self._batch_send
        if method == "GET" and len(s) == 2 and s[0] == "failedentries":
            return self._failed_entries
        if len(s) == 1 and s[0] not in _BATCH_TARGETS:
            return {"GET": self._operation_state, "DELETE": self._cancel}.get(method)
        return None

    # -- teams and channels ------------------------------------------------------------------------------------

    async def _team(self, request: Request, s: list[str]) -> Response:
        if s[0] != TEAM_ID:
            return error(404, "TeamNotFound", f"team {s[0]} not found")
        body = {
            "id": TEAM_ID,
            "name": TEAM_NAME,
            "aadGroupId": TEAM_AAD_GROUP_ID,
            "channelCount": len(CHANNELS),
            "memberCount": len(USERS),
            "type": "standard",
        }
        return JSONResponse(body)

    async def _channels(self, request: Request, s: list[str]) -> Response:
        if s[0] != TEAM_ID:
            return error(404, "TeamNotFound", f"team {s[0]} not found")
        return JSONResponse({"conversations": [dict(channel) for channel in CHANNELS]})

    # -- meetings ----------------------------------------------------------------------------------------------

    def _account(self, user: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in user.items() if k != "userRole"}

    async def _meeting(self, request: Request, s: list[str]) -> Response:
        if s[0] != MEETING_ID:
            return error(404, "MeetingNotFound", "the meeting was not found")
        start = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
        body = {
            "details": {
                "id": MEETING_ID,
                "msGraphResourceId": "MSo1ZTdkMWMyYSoqMTk6bWVldGluZ19lbXVsYXRvckB0aHJlYWQudjI",
                "scheduledStartTime": start.isoformat().replace("+00:00", "Z"),
                "scheduledEndTime": (start + timedelta(minutes=30)).isoformat().replace("+00:00", "Z"),
                "joinUrl": "https://teams.microsoft.com/l/meetup-join/emulator",
                "title": "Emulator stand-up",
                "type": "Scheduled",
            },
            "conversation": {
                "id": MEETING_CHAT_ID,
                "isGroup": True,
                "conversationType": "groupChat",
                "tenantId": TENANT_ID,
            },
            "organizer": self._account(USERS[0]),
        }
        return JSONResponse(body)

    def _participant_index(self, participant_id: str) -> int | None:
        ids = [(u["aadObjectId"], u["id"]) for u in USERS]
        return next((i for i, pair in enumerate(ids) if participant_id in pair), None)

    async def _participant(self, request: Request, s: list[str]) -> Response:
        if s[0] != MEETING_ID:
            return error(404, "MeetingNotFound", "the meeting was not found")
        # the service answers 404, not 400, when tenantId is missing (teams.js #447)
        index = self._participant_index(s[2])
        if request.query_params.get("tenantId") != TENANT_ID or index is None:
            return error(404, "NotFound", "participant not found (is tenantId the meeting's tenant?)")
        role, in_meeting = _PARTICIPATION[index]
        body = {
            "user": USERS[index],
            "meeting": {"role": role, "inMeeting": in_meeting},
            "conversation": {"id": MEETING_CHAT_ID, "isGroup": True, "conversationType": "groupChat"},
        }
        return JSONResponse(body)

    async def _notify(self, request: Request, s: list[str]) -> Response:
        if s[0] != MEETING_ID:
            return error(404, "MeetingNotFound", "the meeting was not found")
        body = await read_json(request)
        if isinstance(body, Response):
            return body
        problem = _notification_problem(body)
        if problem is not None:
            return error(400, "BadArgument", problem)
        failures = []
        for recipient in body["value"]["recipients"]:
            if self._participant_index(recipient) is None:
                failures.append(
                    {
                        "recipientMri": recipient,
                        "errorcode": "MeetingNotificationRecipientNotFound",
                        "failureReason": "the recipient is not a participant of the meeting",
                    }
                )
            else:
                surfaces = [surface["surface"] for surface in body["value"]["surfaces"]]
                self.notifications.append({"meetingId": MEETING_ID, "recipient": recipient, "surfaces": surfaces})
        if not failures:
            return Response(status_code=202)
        return JSONResponse({"recipientsFailureInfo": failures}, status_code=207)

    # -- batch messaging ---------------------------------------------------------------------------------------

    async def _batch_send(self, request: Request, s: list[str]) -> Response:
        if self._throttled > 0:
            self._throttled -= 1
            retry = {"Retry-After": f"{self._throttle_retry_after:g}"}
            return error(429, "TooManyRequests", "batch sends are throttled; retry later", retry)
        body = await read_json(request)
        if isinstance(body, Response):
            return body
        if not isinstance(body, dict):
            return error(400, "BadArgument", "the body must be an object")
        problem = activity_problem(body.get("activity"))
        if problem is not None:
            return error(400, "BadArgument", f"activity: {problem}")
        if body.get("tenantId") != TENANT_ID:
            return error(403, "Forbidden", "the bot is not installed in that tenant")
        target = s[0]
        entries: list[tuple[str, str]]
        if target in ("users", "channels"):
            members = body.get("members")
            if not isinstance(members, list) or not members:
                return error(400, "BadArgument", "members must be a non-empty array")
            if not all(isinstance(m, dict) and isinstance(m.get("id"), str) and m["id"] for m in members):
                return error(400, "BadArgument", "every member needs an id")
            kind = "user" if target == "users" else "channel"
            entries = [(kind, m["id"]) for m in members]
        elif target == "team":
            if body.get("teamId") != TEAM_ID:
                return error(404, "TeamNotFound", f"team {body.get('teamId')} not found")
            entries = [("user", u["id"]) for u in USERS]
        else:
            entries = [("user", u["id"]) for u in USERS]
        activity = without_nulls(body["activity"], ACTIVITY)
        operation = BatchOperation(id=secrets.token_hex(16), activity=activity, entries=entries)
        self.operations[operation.id] = operation
        return JSONResponse({"operationId": operation.id}, status_code=201)

    def _operation(self, operation_id: str) -> BatchOperation | Response:
        operation = self.operations.get(operation_id)
        if operation is None:
            return error(404, "OperationNotFound", f"operation {operation_id} not found")
        return operation

    async def _operation_state(self, request: Request, s: list[str]) -> Response:
        operation = self._operation(s[0])
        if isinstance(operation, Response):
            return operation
        operation.polls += 1
        if operation.polls > 1 and operation.state in ("NotStarted", "InProgress"):
            self._advance(operation, self.batch_step)
        body: dict[str, Any] = {
            "state": operation.state,
            "statusMap": {str(status): count for status, count in sorted(operation.statuses.items())},
            "totalEntriesCount": len(operation.entries),
        }
        if operation.state in ("NotStarted", "InProgress"):
            body["retryAfter"] = (datetime.now(UTC) + timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
        return JSONResponse(body)

    def _advance(self, operation: BatchOperation, count: int) -> None:
        for kind, target in operation.entries[operation.delivered : operation.delivered + count]:
            conversation = self._personal_conversation(target) if kind == "user" else self._channel(target)
            if conversation is None:
                operation.statuses[404] += 1
                what = "user is not in the tenant" if kind == "user" else "channel is not in the team"
                operation.failed.append({"entryId": target, "error": f"NotFound: the {what}"})
            else:
                self.store.append(conversation, dict(operation.activity), from_bot=True)
                operation.statuses[201] += 1
            operation.delivered += 1
        remaining = len(operation.entries) - operation.delivered
        operation.state = "InProgress" if remaining else "Completed"

    def _personal_conversation(self, user_id: str) -> Conversation | None:
        user = next((u for u in USERS if u["id"] == user_id), None)
        if user is None:
            return None
        conversation_id = self._personal.get(user_id)
        if conversation_id is None or conversation_id not in self.store.conversations:
            conversation = self.store.new_conversation(tenant_id=TENANT_ID)
            conversation.channel_id = "msteams"
            conversation.add_member(user)
            self._personal[user_id] = conversation_id = conversation.id
        return self.store.conversations[conversation_id]

    def _channel(self, channel_id: str) -> Conversation | None:
        if not any(channel["id"] == channel_id for channel in CHANNELS):
            return None
        self._ensure_channels()
        return self.store.conversations[channel_id]

    async def _failed_entries(self, request: Request, s: list[str]) -> Response:
        operation = self._operation(s[1])
        if isinstance(operation, Response):
            return operation
        token = request.query_params.get("continuationToken")
        offset = _offset(token)
        if offset is None:
            return error(400, "BadArgument", "invalid continuationToken")
        page = operation.failed[offset : offset + self.failed_entries_page_size]
        body: dict[str, Any] = {"failedEntryResponses": page}
        if offset + len(page) < len(operation.failed):
            body["continuationToken"] = _token(offset + len(page))
        return JSONResponse(body)

    async def _cancel(self, request: Request, s: list[str]) -> Response:
        operation = self._operation(s[0])
        if isinstance(operation, Response):
            return operation
        if operation.state in ("NotStarted", "InProgress"):
            operation.state = "Cancelled"  # what is delivered stays delivered; the rest is never sent
        return JSONResponse({})

    # -- reactions ---------------------------------------------------------------------------------------------

    async def _react(self, request: Request) -> Response:
        cid, aid, reaction = (request.path_params[k] for k in ("cid", "aid", "reaction"))
        conversation = self.store.conversations.get(cid)
        if conversation is None:
            return error(404, "ConversationNotFound", f"Invalid ConversationId: {cid}")
        if conversation.position(aid) is None:
            return error(404, "ActivityNotFound", f"Activity {aid} not found in the conversation")
        reactions = self.reactions.setdefault((cid, aid), [])
        if request.method == "PUT" and reaction not in reactions:
            reactions.append(reaction)
        elif request.method == "DELETE" and reaction in reactions:
            reactions.remove(reaction)
        return JSONResponse({})


def _notification_problem(body: Any) -> str | None:
    if not isinstance(body, dict) or body.get("type") != "targetedMeetingNotification":
        return 'type must be "targetedMeetingNotification"'
    value = body.get("value")
    if not isinstance(value, dict):
        return "value must be an object"
    recipients = value.get("recipients")
    if not isinstance(recipients, list) or not recipients or not all(isinstance(r, str) and r for r in recipients):
        return "value.recipients must be a non-empty array of ids"
    surfaces = value.get("surfaces")
    if not isinstance(surfaces, list) or not surfaces:
        return "value.surfaces must be a non-empty array"
    for index, surface in enumerate(surfaces):
        if not isinstance(surface, dict) or surface.get("surface") not in _SURFACES:
            return f"value.surfaces[{index}].surface must be one of {sorted(_SURFACES)}"
        if surface["surface"] == "meetingStage" and (
            surface.get("contentType") != "task" or not isinstance(surface.get("content"), dict)
        ):
            return f'value.surfaces[{index}]: the meeting stage needs contentType "task" and a content object'
    return None


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"failed:{offset}".encode()).decode().rstrip("=")


def _offset(token: str | None) -> int | None:
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    kind, _, number = text.partition(":")
    return int(number) if kind == "failed" and number.isdigit() else None
