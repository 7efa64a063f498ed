"""The emulator's shared state, and the Bot Connector v3 endpoints a bot calls (``serviceUrl`` = the emulator).

One :class:`Store` holds every conversation: a Direct Line conversation *is* a Connector conversation, so what a
bot sends here reaches the Direct Line clients, and what they post is delivered to the bot. Each conversation keeps
an append-only log of activities (a Direct Line watermark is a position in it); an update edits the stored copy,
a deletion hides it, and neither sends messageUpdate/messageDelete activities (allowed by A5800/A5900).

Errors have the service's shape, ``{"error": {"code", "message"}}``: 400 ``BadArgument`` for a malformed request,
415 for a body that is not JSON, 404 for an unknown conversation, activity or member, and 404 ``ServiceError``
for a missing attachment (as recorded from the live service). Connector calls are anonymous unless the emulator
was given an app id and password: then they need a bearer token from the emulator's own token endpoint
(``POST /{tenant}/oauth2/v2.0/token``, in :mod:`botconnect.emulator.bots`), so
``MicrosoftAppCredentials(..., oauth_endpoint=emulator.url)`` works against it as against Azure AD.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
import secrets
import string
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

import attrs
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

__all__ = [
    "ACTIVITY",
    "Authorizer",
    "Connector",
    "Conversation",
    "Store",
    "StoredAttachment",
    "activity_problem",
    "error",
    "read_json",
    "route",
    "shape_problem",
]

T = TypeVar("T")
#: told of each change: the conversation's log grew (None), or an activity that is only pushed live (typing)
Listener = Callable[["Conversation", "dict[str, Any] | None"], None]

_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
)
# The shapes of the Swaggers' request bodies: "s" string, "b" boolean, "i" integer, "d" RFC 3339 date-time, "o" object,
# "*" any JSON; a dict is an object with those fields (others allowed), [x] an array of x, {"*": x} a map of x.
# null stands for absent, as the services' JSON deserializer reads it (and it is left out of what is stored).
ACCOUNT: dict[str, Any] = {"id": "s", "name": "s", "aadObjectId": "s", "role": "s"}
CONVERSATION_ACCOUNT: dict[str, Any] = {**ACCOUNT, "isGroup": "b", "conversationType": "s", "tenantId": "s"}
_ENTITY = {"type": "s"}
_CARD_ACTION = {"type": "s", "title": "s", "image": "s", "imageAltText": "s", "text": "s", "displayText": "s"}
_REFERENCE = {"activityId": "s", "user": ACCOUNT, "bot": ACCOUNT, "conversation": CONVERSATION_ACCOUNT}
ACTIVITY: dict[str, Any] = {
    **dict.fromkeys(
        (  # noqa: SIM905 - 22 names, one per line, would be longer than the rest of the table
            "type id localTimezone callerId serviceUrl channelId textFormat attachmentLayout topicName locale text "
            "speak inputHint summary action replyToId label valueType name code importance deliveryMode"
        ).split(),
        "s",
    ),
    **dict.fromkeys(("timestamp", "localTimestamp", "expiration"), "d"),
    "from": ACCOUNT,
    "recipient": ACCOUNT,
    "conversation": CONVERSATION_ACCOUNT,
    "membersAdded": [ACCOUNT],
    "membersRemoved": [ACCOUNT],
    "reactionsAdded": [{"type": "s"}],
    "reactionsRemoved": [{"type": "s"}],
    "historyDisclosed": "b",
    # CardAction.value and Activity.value are open-ended: Web Chat sends strings there for imBack and messageBack
    "suggestedActions": {"to": ["s"], "actions": [{**_CARD_ACTION, "value": "*", "channelData": "o"}]},
    "attachments": [{"contentType": "s", "contentUrl": "s", "content": "o", "name": "s", "thumbnailUrl": "s"}],
    "entities": [_ENTITY],
    "channelData": "o",
    "value": "*",
    "relatesTo": {**_REFERENCE, "channelId": "s", "serviceUrl": "s", "locale": "s"},
    "listenFor": ["s"],
    "textHighlights": [{"text": "s", "occurrence": "i"}],
    "semanticAction": {"state": "s", "id": "s", "entities": {"*": _ENTITY}},
}
_CONVERSATION_PARAMETERS: dict[str, Any] = {
    "isGroup": "b",
    "bot": ACCOUNT,
    "members": [ACCOUNT],
    "topicName": "s",
    "tenantId": "s",
    "activity": ACTIVITY,
    "channelData": "o",
}
_ATTACHMENT_DATA = {"type": "s", "name": "s", "originalBase64": "s", "thumbnailBase64": "s"}
_KINDS = {"s": "a string", "b": "a boolean", "i": "a 32-bit integer", "d": "an RFC 3339 date-time", "o": "an object"}
_MAX_PAGE = 500


def _is_int32(number: int) -> bool:
    return -(2**31) <= number < 2**31


def now_iso() -> str:
    """UTC now as the service stamps activities: seven fractional digits (100 ns, .NET's precision) and ``Z``."""
    seconds, nanoseconds = divmod(time.time_ns(), 1_000_000_000)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{nanoseconds // 100:07d}Z"


_ID_CHARACTERS = string.ascii_letters + string.digits


def new_conversation_id(channel_id: str) -> str:
    """A fresh conversation id: on Direct Line shaped like the service's (22 letters and digits, then its region,
    ``-us``), elsewhere 16 hex digits."""
    if channel_id != "directline":
        return secrets.token_hex(8)
    return "".join(secrets.choice(_ID_CHARACTERS) for _ in range(22)) + "-us"


Handler = Callable[[Request], Awaitable[Response]]


def route(path: str, **handlers: Handler) -> Route:
    """One route for all of a path's methods (so a 405 lists them all in ``Allow``)."""

    async def endpoint(request: Request) -> Response:
        return await handlers["GET" if request.method == "HEAD" else request.method](request)

    return Route(path, endpoint, methods=list(handlers))


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    """An error in the services' shape."""
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


async def read_json(request: Request, *, required: bool = True) -> Any:
    """The request's JSON body, or an error :class:`Response` (400) to send instead."""
    raw = await request.body()
    if not raw.strip():
        return error(400, "BadArgument", "a JSON body is required") if required else None
    media = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if media not in ("application/json", "text/json") and not media.endswith("+json"):
        return error(415, "UnsupportedMediaType", f"the body must be JSON, not {media}")
    try:
        value = json.loads(raw, parse_constant=_no_constants)
        text = json.dumps(value, ensure_ascii=False)
    except (ValueError, RecursionError):
        return error(400, "BadArgument", "the body is not valid JSON")
    if value is None:  # a body that says null is not an absent one
        return error(400, "BadArgument", "the body must not be null")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates (\\ud800 escapes) become U+FFFD, as a UTF-8 service stores them
        value = json.loads(text.encode("utf-8", "surrogatepass").decode("utf-8", "replace"))
    return value


def shape_problem(value: Any, shape: Any, where: str = "") -> str | None:
    """Why ``value`` does not have ``shape`` (see the tables above), or None."""
    if value is None or shape == "*":
        return None
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return f"{where or 'the body'} must be an object"
        prefix = where + "." if where else ""
        if list(shape) == ["*"]:
            if any(item is None for item in value.values()):
                return f"{where} must not hold nulls"
            return next((p for k, v in value.items() if (p := shape_problem(v, shape["*"], prefix + k))), None)
        fields = ((k, v) for k, v in value.items() if k in shape)
        return next((p for k, v in fields if (p := shape_problem(v, shape[k], prefix + k))), None)
    if isinstance(shape, list):
        if not isinstance(value, list):
            return f"{where} must be an array"
        if shape[0] != "*" and any(item is None for item in value):
            return f"{where} must not hold nulls"
        return next((p for i, v in enumerate(value) if (p := shape_problem(v, shape[0], f"{where}[{i}]"))), None)
    valid = {
        "s": isinstance(value, str),
        "b": isinstance(value, bool),
        "i": isinstance(value, int) and not isinstance(value, bool) and _is_int32(value),
        "o": isinstance(value, dict),
        "d": isinstance(value, str) and _is_date_time(value),
    }[shape]
    return None if valid else f"{where} must be {_KINDS[shape]}"


def without_nulls(value: Any, shape: Any) -> Any:
    """``value`` with null members and items left out, except inside open-ended payloads ("o", "*")."""
    if isinstance(shape, dict) and isinstance(value, dict):
        is_map = list(shape) == ["*"]
        return {k: without_nulls(v, shape["*"] if is_map else shape.get(k)) for k, v in value.items() if v is not None}
    if isinstance(shape, list) and isinstance(value, list):
        return [without_nulls(v, shape[0]) for v in value if v is not None]
    return value


def activity_problem(activity: Any, *, need_type: bool = True) -> str | None:
    """Why ``activity`` is not an Activity the service accepts (a type, and the Swagger's types), or None."""
    if not isinstance(activity, dict):
        return "an activity must be a JSON object"
    if need_type and not (isinstance(activity.get("type"), str) and activity["type"]):
        return "an activity needs a type"
    return shape_problem(activity, ACTIVITY)


def _is_date_time(value: str) -> bool:
    if not _RFC3339.fullmatch(value):
        return False
    try:
        datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


@attrs.define(eq=False)
class Conversation:
    """One Connector conversation in the emulator's store: members, activities (deleted ones kept as tombstones)."""

    id: str
    channel_id: str
    members: list[dict[str, Any]] = attrs.field(factory=list)
    is_group: bool = False
    topic: str | None = None
    tenant_id: str | None = None
    #: the log of activities, never shortened: a Direct Line watermark is a position in it
    activities: list[dict[str, Any]] = attrs.field(factory=list)
    #: positions of deleted activities (hidden from every reader)
    deleted: set[int] = attrs.field(factory=set)
    #: transcripts uploaded with send_conversation_history
    history: list[list[dict[str, Any]]] = attrs.field(factory=list)
    #: a Direct Line client started it (POST /v3/directline/conversations)
    started: bool = False
    #: the number of the next activity's id, typing included (typing is numbered but never logged)
    sequence: int = 0

    def visible(self, start: int = 0, end: int | None = None) -> list[dict[str, Any]]:
        """The activities between ``start`` and ``end`` that were not deleted, as wire dicts."""
        stop = len(self.activities) if end is None else end
        return [a for i, a in enumerate(self.activities[start:stop], start) if i not in self.deleted]

    def position(self, activity_id: str) -> int | None:
        """The index of the (undeleted) activity with that id, or None."""
        for index, activity in enumerate(self.activities):
            if activity.get("id") == activity_id and index not in self.deleted:
                return index
        return None

    def member(self, member_id: str) -> dict[str, Any] | None:
        """The member account with that id, or None."""
        return next((m for m in self.members if m.get("id") == member_id), None)

    def add_member(self, account: dict[str, Any]) -> bool:
        """Add ``account`` (id, name, role) unless present; True if it was new."""
        if not account.get("id") or self.member(account["id"]) is not None:
            return False
        self.members.append({k: account[k] for k in ("id", "name", "aadObjectId", "role") if account.get(k)})
        return True


@attrs.define(eq=False)
class StoredAttachment:
    id: str
    name: str | None
    type: str | None
    #: view id -> bytes
    views: dict[str, bytes]


class Store:
    """Everything the emulator knows. Touched only on the emulator's event loop (``on_loop`` from elsewhere)."""

    def __init__(self, *, bot_account: dict[str, Any], channel_id: str = "directline") -> None:
        self.bot_account = dict(bot_account)
        self.channel_id = channel_id
        #: the base URL bots call back (``serviceUrl``), with a trailing slash; set when the emulator serves
        self.service_url = "http://127.0.0.1/"
        self.conversations: dict[str, Conversation] = {}
        self.attachments: dict[str, StoredAttachment] = {}
        self.listeners: list[Listener] = []
        self.loop: asyncio.AbstractEventLoop | None = None
        #: called after each :meth:`on_loop` call, on the loop (``Emulator(state_file=...)`` writes its state)
        self.after_calls: list[Callable[[], None]] = []

    def reset(self) -> None:
        """Forget every conversation and attachment."""
        self.conversations.clear()
        self.attachments.clear()

    def on_loop(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the emulator's loop (directly when called there, or when it is not running), then the
        :attr:`after_calls` hooks (the state file writes what ``fn`` changed)."""

        def then_hooks() -> T:
            result = fn()
            for hook in list(self.after_calls):
                hook()
            return result

        loop = self.loop
        if loop is None or not loop.is_running():
            return then_hooks()
        try:
            if asyncio.get_running_loop() is loop:
                return then_hooks()
        except RuntimeError:
            pass

        async def call() -> T:
            return then_hooks()

        return asyncio.run_coroutine_threadsafe(call(), loop).result(timeout=10)

    def new_conversation(self, **fields: Any) -> Conversation:
        """Create and store a conversation (with a fresh id) that the bot is a member of."""
        conversation = Conversation(id=new_conversation_id(self.channel_id), channel_id=self.channel_id, **fields)
        conversation.add_member({**self.bot_account})
        self.conversations[conversation.id] = conversation
        return conversation

    def append(self, conversation: Conversation, activity: dict[str, Any], *, from_bot: bool = False) -> dict[str, Any]:
        """Store ``activity`` at the end of the log (id, conversation, channel, timestamp set) and wake the readers
        at once, mid-turn too (the service shows each activity as it is sent). A typing activity gets an id but is
        only pushed to live readers: Direct Line keeps no typing in the history."""
        stored = {k: v for k, v in activity.items() if v is not None}
        number = max(conversation.sequence, _number_after(conversation))
        stored.update(
            id=f"{conversation.id}|{number:07d}",
            channelId=conversation.channel_id,
            conversation=self.conversation_account(conversation),
            timestamp=now_iso(),
        )
        conversation.sequence = number + 1
        if from_bot and not stored.get("from"):
            stored["from"] = dict(self.bot_account)
        live_only = stored.get("type") == "typing"
        if not live_only:
            conversation.activities.append(stored)
        for listener in list(self.listeners):
            listener(conversation, stored if live_only else None)
        return stored

    def conversation_account(self, conversation: Conversation) -> dict[str, Any]:
        """The ``conversation`` wire account of an activity in that conversation."""
        account: dict[str, Any] = {"id": conversation.id}
        if conversation.is_group:
            account["isGroup"] = True
        if conversation.topic:
            account["name"] = conversation.topic
        if conversation.tenant_id:
            account["tenantId"] = conversation.tenant_id
        return account

    def add_attachment(self, name: str | None, content_type: str | None, views: dict[str, bytes]) -> StoredAttachment:
        """Store an uploaded attachment with its views (``original``, ``thumbnail``...)."""
        attachment = StoredAttachment("at" + secrets.token_hex(8), name, content_type, views)
        self.attachments[attachment.id] = attachment
        return attachment

    def attachment_url(self, attachment: StoredAttachment, view: str = "original") -> str:
        """The Connector URL that serves one view of a stored attachment."""
        return f"{self.service_url}v3/attachments/{attachment.id}/views/{view}"


def _number_after(conversation: Conversation) -> int:
    """One past the number of the last logged activity's id (a log restored without its ``sequence``)."""
    if not conversation.activities:
        return 0
    _, _, number = str(conversation.activities[-1].get("id", "")).rpartition("|")
    return int(number) + 1 if number.isdigit() else len(conversation.activities)


class Authorizer(Protocol):
    def check(self, request: Request) -> Response | None:
        """None when the call may proceed, else the error to answer with."""


def _page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"page:{offset}".encode()).decode().rstrip("=")


def _page_offset(token: str | None) -> int | None:
    """The offset a continuation token stands for (0 without one), None if it is not one of ours."""
    if token is None or token == "":
        return 0
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    kind, _, number = text.partition(":")
    return int(number) if kind == "page" and number.isdigit() else None


class Connector:
    """The Bot Connector v3 routes (``/v3/conversations/...``, ``/v3/attachments/...``) over a :class:`Store`."""

    def __init__(self, store: Store, auth: Authorizer) -> None:
        self.store = store
        self.auth = auth
        #: conversations per page of GET /v3/conversations
        self.conversations_page_size = 100
        #: default members per page of GET .../pagedmembers
        self.members_page_size = 200

    def routes(self) -> list[BaseRoute]:
        """The Starlette routes of the Bot Connector v3 service."""
        c, g = "/v3/conversations/{cid}", self._guard
        return [
            route("/v3/conversations", GET=g(self._list), POST=g(self._create)),
            route(c + "/activities", POST=g(self._send)),
            route(c + "/activities/history", POST=g(self._history)),
            route(c + "/activities/{aid}", POST=g(self._reply), PUT=g(self._update), DELETE=g(self._delete)),
            route(c + "/activities/{aid}/members", GET=g(self._activity_members)),
            route(c + "/members", GET=g(self._members)),
            route(c + "/members/{mid}", GET=g(self._member), DELETE=g(self._delete_member)),
            route(c + "/pagedmembers", GET=g(self._paged_members)),
            route(c + "/attachments", POST=g(self._upload)),
            route("/v3/attachments/{att}", GET=g(self._attachment_info)),
            route("/v3/attachments/{att}/views/{view}", GET=g(self._attachment_view)),
        ]

    def _guard(self, handler: Handler) -> Handler:
        """Authorize, then look up ``{cid}`` (404 ConversationNotFound when unknown)."""

        async def endpoint(request: Request) -> Response:
            denied = self.auth.check(request)
            if denied is not None:
                return denied
            cid = request.path_params.get("cid")
            if cid is not None and cid not in self.store.conversations:
                return error(404, "ConversationNotFound", f"Invalid ConversationId: {cid}")
            return await handler(request)

        return endpoint

    def _conversation(self, request: Request) -> Conversation:
        return self.store.conversations[request.path_params["cid"]]

    # -- conversations -----------------------------------------------------------------------------------------

    async def _list(self, request: Request) -> Response:
        offset = _page_offset(request.query_params.get("continuationToken"))
        if offset is None:
            return error(400, "BadArgument", "invalid continuationToken")
        everything = list(self.store.conversations.values())
        page = everything[offset : offset + self.conversations_page_size]
        body: dict[str, Any] = {"conversations": [{"id": c.id, "members": list(c.members)} for c in page]}
        if offset + len(page) < len(everything):
            body["continuationToken"] = _page_token(offset + len(page))
        return JSONResponse(body)

    async def _create(self, request: Request) -> Response:
        params = await read_json(request)
        if isinstance(params, Response):
            return params
        problem = shape_problem(params, _CONVERSATION_PARAMETERS)
        params = without_nulls(params, _CONVERSATION_PARAMETERS)
        members = params.get("members", []) if problem is None else []
        activity = params.get("activity") if problem is None else None
        if problem is None and not members:
            problem = "Conversations must have at least one member"  # as the live service refuses it
        if problem is None and not all(member.get("id") for member in members):
            problem = "every member needs an id"
        if problem is None and activity is not None:
            problem = activity_problem(activity)
        if problem is not None:
            return error(400, "BadArgument", problem)
        conversation = self.store.new_conversation(
            is_group=bool(params.get("isGroup")), topic=params.get("topicName"), tenant_id=params.get("tenantId")
        )
        for member in members:
            conversation.add_member(member)
        body = {"id": conversation.id, "serviceUrl": self.store.service_url}
        if activity is not None:
            body["activityId"] = self.store.append(conversation, activity, from_bot=True)["id"]
        return JSONResponse(body)

    # -- activities --------------------------------------------------------------------------------------------

    async def _activity_body(self, request: Request) -> dict[str, Any] | Response:
        activity = await read_json(request)
        if isinstance(activity, Response):
            return activity
        problem = activity_problem(activity)
        if problem is not None:
            return error(400, "BadArgument", problem)
        result: dict[str, Any] = without_nulls(activity, ACTIVITY)
        return result

    async def _send(self, request: Request) -> Response:
        activity = await self._activity_body(request)
        if isinstance(activity, Response):
            return activity
        stored = self.store.append(self._conversation(request), activity, from_bot=True)
        return JSONResponse({"id": stored["id"]})

    async def _reply(self, request: Request) -> Response:
        conversation = self._conversation(request)
        if conversation.position(request.path_params["aid"]) is None:
            return _no_activity(request)
        activity = await self._activity_body(request)
        if isinstance(activity, Response):
            return activity
        activity = {**activity, "replyToId": request.path_params["aid"]}
        stored = self.store.append(conversation, activity, from_bot=True)
        return JSONResponse({"id": stored["id"]})

    async def _update(self, request: Request) -> Response:
        conversation = self._conversation(request)
        position = conversation.position(request.path_params["aid"])
        if position is None:
            return _no_activity(request)
        activity = await self._activity_body(request)
        if isinstance(activity, Response):
            return activity
        original = conversation.activities[position]
        updated = {k: v for k, v in activity.items() if v is not None}
        for kept in ("id", "channelId", "conversation", "timestamp", "from", "replyToId"):
            if kept in original and (kept not in updated or kept in ("id", "conversation", "channelId")):
                updated[kept] = original[kept]
        conversation.activities[position] = updated
        return JSONResponse({"id": original["id"]})

    async def _delete(self, request: Request) -> Response:
        conversation = self._conversation(request)
        position = conversation.position(request.path_params["aid"])
        if position is None:
            return _no_activity(request)
        conversation.deleted.add(position)
        return JSONResponse({})

    async def _history(self, request: Request) -> Response:
        transcript = await read_json(request)
        if isinstance(transcript, Response):
            return transcript
        problem = shape_problem(transcript, {"activities": [ACTIVITY]})
        if problem is not None:
            return error(400, "BadArgument", problem)
        conversation = self._conversation(request)
        conversation.history.append(without_nulls(transcript, {"activities": [ACTIVITY]}).get("activities", []))
        return JSONResponse({"id": f"{conversation.id}|history|{len(conversation.history) - 1}"})

    async def _activity_members(self, request: Request) -> Response:
        conversation = self._conversation(request)
        if conversation.position(request.path_params["aid"]) is None:
            return _no_activity(request)
        return JSONResponse(list(conversation.members))

    # -- members -----------------------------------------------------------------------------------------------

    async def _members(self, request: Request) -> Response:
        return JSONResponse(list(self._conversation(request).members))

    async def _member(self, request: Request) -> Response:
        member = self._conversation(request).member(request.path_params["mid"])
        if member is None:
            return error(404, "MemberNotFoundInConversation", "The member is not part of the conversation")
        return JSONResponse(member)

    async def _delete_member(self, request: Request) -> Response:
        conversation = self._conversation(request)
        member = conversation.member(request.path_params["mid"])
        if member is None:
            return error(404, "MemberNotFoundInConversation", "The member is not part of the conversation")
        conversation.members.remove(member)
        return JSONResponse({})

    async def _paged_members(self, request: Request) -> Response:
        raw_size = request.query_params.get("pageSize")
        if raw_size is not None and not (re.fullmatch(r"-?[0-9]{1,10}", raw_size) and _is_int32(int(raw_size))):
            return error(400, "BadArgument", "pageSize must be a 32-bit integer")
        size = int(raw_size) if raw_size is not None else 0
        size = min(size if size > 0 else self.members_page_size, _MAX_PAGE)  # no size, or a silly one: the default
        offset = _page_offset(request.query_params.get("continuationToken"))
        if offset is None:
            return error(400, "BadArgument", "invalid continuationToken")
        members = self._conversation(request).members
        page = members[offset : offset + size]
        body: dict[str, Any] = {"members": page}
        if offset + len(page) < len(members):
            body["continuationToken"] = _page_token(offset + len(page))
        return JSONResponse(body)

    # -- attachments -------------------------------------------------------------------------------------------

    async def _upload(self, request: Request) -> Response:
        data = await read_json(request)
        if isinstance(data, Response):
            return data
        problem = shape_problem(data, _ATTACHMENT_DATA)
        if problem is not None:
            return error(400, "BadArgument", problem)
        views: dict[str, bytes] = {}
        for field, view in (("originalBase64", "original"), ("thumbnailBase64", "thumbnail")):
            if data.get(field) is None:
                continue
            try:
                views[view] = base64.b64decode(data[field], validate=True)
            except (binascii.Error, ValueError):
                return error(400, "BadArgument", f"{field} is not valid base64")
        if "original" not in views:
            return error(400, "BadArgument", "originalBase64 is required")
        attachment = self.store.add_attachment(data.get("name"), data.get("type"), views)
        return JSONResponse({"id": attachment.id})

    async def _attachment_info(self, request: Request) -> Response:
        attachment = self.store.attachments.get(request.path_params["att"])
        if attachment is None:
            return error(404, "ServiceError", "attachment not found")
        body: dict[str, Any] = {"views": [{"viewId": k, "size": len(v)} for k, v in attachment.views.items()]}
        if attachment.name is not None:
            body["name"] = attachment.name
        if attachment.type is not None:
            body["type"] = attachment.type
        return JSONResponse(body)

    async def _attachment_view(self, request: Request) -> Response:
        attachment = self.store.attachments.get(request.path_params["att"])
        content = None if attachment is None else attachment.views.get(request.path_params["view"])
        if attachment is None or content is None:
            return error(404, "ServiceError", "attachment not found")
        return Response(content, media_type=attachment.type or "application/octet-stream")


def _no_activity(request: Request) -> Response:
    return error(404, "ActivityNotFound", f"Activity {request.path_params['aid']} not found in the conversation")
