"""Azure Communication Services Chat (data plane), emulated: a stateful stand-in for chat code under test.

::

    service = AcsChatService()
    app = Starlette(routes=service.routes())              # every route is under /chat/...
    token, user = service.issue_user_token()               # an ACS-style user access token and its raw id

It serves the operations of ``communicationserviceschat.json`` (api-version 2024-03-07 and 2025-03-15) with the
service's paths, status codes, bodies and error shape (``{"error": {code, message, target, details, innererror}}``).
Where the documents are silent it behaves as follows:

* **Auth.** ``Authorization: Bearer <JWT>``. Any well-formed JWT (unsigned or signed: signatures are not checked)
  whose payload has a future ``exp`` and a ``skypeid`` naming an ACS user (``acs:...``; the caller is
  ``8:`` + skypeid) is accepted, the tokens :meth:`AcsChatService.issue_user_token` makes included. No header: 401
  ``Unauthorized``; not a usable token: 401 ``InvalidAuthenticationToken``; expired: 401
  ``InvalidAuthenticationToken`` with innererror ``TokenExpired``. A token whose ``acsScope`` (or string ``scp``)
  lacks ``chat``: 403. Checks run in this order: route (404), method (405), api-version (400), token (401/403),
  body (415 wrong Content-Type, 400 not JSON or not the documented shape), then the operation (404, 403, 400).
* **Threads.** The creator is always a participant. ``repeatability-request-id`` makes creation idempotent per
  user: the same id answers 201 with the same thread and the same ``invalidParticipants``. Participants that cannot
  join are reported, not added: phone numbers and Teams users (``403 Permissions check failed``), raw ids of no
  known kind (``404 Not found``); ACS users and (2025-03-15) Teams apps join. An identifier's ``rawId`` wins over
  its kind model; without one it is derived from that model. Any participant may add and remove participants
  (removing someone absent is a 204). Deleting a thread: 404 for every operation on it afterwards (a participant's
  repeated DELETE is a 204), but ``list`` keeps showing it to its participants with ``deletedOn``; a
  ``threadCreationDate`` retention policy (30 to 90 days) deletes it when the clock passes that day.
* **Messages.** Ids are millisecond timestamps, strictly increasing; ``version`` is the id, then a new one per edit
  or deletion; ``sequenceId`` counts per thread. Creating a thread posts ``participantAdded`` (sequence 1) then
  ``topicUpdated`` (2), as the service does; topic changes, additions and removals post their system messages.
  Lists are newest first and keep deleted messages (``deletedOn``, no content). Only the sender may edit or delete
  (403). A participant added with ``shareHistoryTime`` sees messages from then on; without one, the whole history.
  ``startTime`` keeps messages created, edited or deleted since then. Content is limited to 28 KB, thread and
  participant metadata to 1 KB. A read receipt must name a message the reader can see (404 otherwise); each
  participant's latest receipt (by sequence) is listed, in the order they were sent.
* **PATCH** bodies are JSON merge patches (RFC 7396): absent keys are kept, ``metadata`` keys set to null are
  removed, ``metadata: null`` clears it; topic and content cannot be removed.
* **Paging.** ``maxPageSize`` defaults to 100 and is capped at 200; threads and messages page with an opaque
  ``syncState`` continuation (stable while new messages arrive), participants and read receipts with ``skip``, as
  the service's nextLinks show; every nextLink is absolute and carries the api-version.
* **2024-03-07** answers carry no identifier ``kind``, thread metadata, retention policy or participant metadata,
  and those request fields are ignored on that version.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from starlette.datastructures import URLPath
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, NoMatchFound, Route, request_response
from starlette.types import Receive, Scope, Send

from ._acs_state import (
    API_2025_03_15,
    API_VERSIONS,
    MAX_ADDED_PARTICIPANTS,
    MAX_TOPIC_LENGTH,
    METADATA_LIMIT,
    TEAMS_APP_PREFIXES,
    TEAMS_USER_PREFIXES,
    USER_MESSAGE_TYPES,
    AcsError,
    Body,
    ChatState,
    Json,
    Message,
    Participant,
    Thread,
    bad_request,
    format_time,
    identifier_wire,
    is_acs_user,
    parse_time,
)

__all__ = ["AcsChatService"]

T = TypeVar("T")

_JSON = "application/json"
_MERGE_PATCH = "application/merge-patch+json"
_DEFAULT_PAGE = 100
_MAX_PAGE = 200
_MAX_CONTENT_BYTES = 28 * 1024
_RETENTION_DAYS = (30, 90)
_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
_IDENTIFIER_MODELS = ("communicationUser", "phoneNumber", "microsoftTeamsUser", "microsoftTeamsApp")
_CLOUDS = ("public", "dod", "gcch")
_INT32 = re.compile(r"[+-]?[0-9]{1,10}")


# -- responses and errors ---------------------------------------------------------------------------------------


def _headers(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    headers = {
        "Access-Control-Expose-Headers": "*",
        "api-supported-versions": ", ".join(API_VERSIONS),
        "MS-CV": base64.b64encode(secrets.token_bytes(16)).decode("ascii").rstrip("=") + ".0",
    }
    headers.update(extra or {})
    return headers


def _json(status: int, body: Json, headers: Mapping[str, str] | None = None) -> Response:
    content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return Response(content, status, headers=_headers(headers), media_type="application/json; charset=utf-8")


def _empty(status: int) -> Response:
    return Response(b"", status, headers=_headers())


def _unauthorized(code: str, message: str, inner: Json | None = None) -> AcsError:
    return AcsError(401, code, message, innererror=inner, headers={"WWW-Authenticate": "Bearer"})


def _safe_time(timestamp: float) -> str:
    try:
        return format_time(timestamp)
    except (OverflowError, ValueError):
        return f"{timestamp} (Unix time)"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_json(segment: str) -> Any:
    """Decode a base64url JSON segment; ValueError (binascii.Error included) when it is not one."""
    data = base64.b64decode(segment + "=" * (-len(segment) % 4), altchars=b"-_", validate=True)
    return json.loads(data.decode("utf-8"), parse_constant=_reject_constant)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# -- reading requests -------------------------------------------------------------------------------------------


def _identifier(value: Any, path: str) -> str:
    """The raw id of a CommunicationIdentifierModel (``rawId`` wins; else derived from its one kind model)."""
    body = Body(value, path)
    raw_id = body.get("rawId", str)
    body.get("kind", str)
    models = [name for name in _IDENTIFIER_MODELS if body.data.get(name) is not None]
    if len(models) > 1:
        raise bad_request(f"{path or 'The identifier'} may set at most one of {', '.join(models)}.", path or "body")
    derived = ""
    if models:
        model = Body(body.data[models[0]], body.where(models[0]))
        if models[0] == "communicationUser":
            derived = model.get("id", str, required=True)
        elif models[0] == "phoneNumber":
            derived = "4:" + model.get("value", str, required=True)
            model.get("isAnonymous", bool)
            model.get("assertedId", str)
        elif models[0] == "microsoftTeamsUser":
            user_id = model.get("userId", str, required=True)
            cloud = _cloud(model)
            if model.get("isAnonymous", bool):
                derived = "8:teamsvisitor:" + user_id
            else:
                derived = _prefix(TEAMS_USER_PREFIXES, cloud) + user_id
        else:
            app_id = model.get("appId", str, required=True)
            derived = _prefix(TEAMS_APP_PREFIXES, _cloud(model)) + app_id
    result = raw_id or derived
    if not result:
        raise bad_request(
            f"{path or 'The identifier'} needs a rawId or an identifier model.", path or "rawId", "MissingValue"
        )
    return result


def _cloud(model: Body) -> str:
    cloud = model.get("cloud", str) or "public"
    if cloud not in _CLOUDS:
        raise bad_request(f"{model.where('cloud')} must be one of {', '.join(_CLOUDS)}.", model.where("cloud"))
    return cloud


def _prefix(prefixes: Mapping[str, str], cloud: str) -> str:
    return next(prefix for prefix, c in prefixes.items() if c == cloud)


def _participant(value: Any, path: str, api_version: str) -> Participant:
    body = Body(value, path)
    identifier = body.get("communicationIdentifier", dict, required=True)
    raw_id = _identifier(identifier, body.where("communicationIdentifier"))
    display_name = body.get("displayName", str)
    share_history_time = body.timestamp("shareHistoryTime")
    metadata = body.metadata("metadata", limit=METADATA_LIMIT) if api_version >= API_2025_03_15 else {}
    return Participant(raw_id, display_name, share_history_time, metadata or None)


def _participants(body: Body, key: str, api_version: str, *, required: bool) -> list[Participant]:
    if isinstance(body.data.get(key), list) and len(body.data[key]) > MAX_ADDED_PARTICIPANTS:
        raise bad_request(f"At most {MAX_ADDED_PARTICIPANTS} participants can be added at once.", key)
    items = body.get(key, list, required=required) or []
    return [_participant(item, f"{body.where(key)}[{i}]", api_version) for i, item in enumerate(items)]


def _retention(body: Body, key: str) -> Json | None:
    policy = body.child(key)
    if policy is None:
        return None
    kind = policy.get("kind", str, required=True)
    if kind == "none":
        return {"kind": "none"}
    if kind != "threadCreationDate":
        raise bad_request(f"{policy.where('kind')} must be threadCreationDate or none.", policy.where("kind"))
    days = policy.get("deleteThreadAfterDays", int, required=True)
    low, high = _RETENTION_DAYS
    if not low <= days <= high:
        target = policy.where("deleteThreadAfterDays")
        raise bad_request(f"{target} must be between {low} and {high}.", target)
    return {"kind": kind, "deleteThreadAfterDays": days}


@dataclass(frozen=True)
class _Call:
    """One authenticated request: its api-version, the caller's raw id and the parsed JSON body (or None)."""

    request: Request
    api_version: str
    caller: str
    body: Any

    @property
    def thread_id(self) -> str:
        return str(self.request.path_params["thread_id"])

    @property
    def message_id(self) -> str:
        return str(self.request.path_params["message_id"])

    @property
    def base(self) -> str:
        return str(self.request.base_url).rstrip("/")

    def thread_url(self, *rest: str, safe: str = ":@") -> str:
        return "/".join([f"{self.base}/chat/threads/{quote(self.thread_id, safe=safe)}", *rest])

    def query_int(self, name: str, minimum: int) -> int | None:
        raw = self.request.query_params.get(name)
        if raw is None:
            return None
        if not _INT32.fullmatch(raw) or not -(2**31) <= int(raw) < 2**31:
            raise bad_request(f"{name} must be an integer.", name)
        if int(raw) < minimum:
            raise bad_request(f"{name} must be at least {minimum}.", name)
        return int(raw)

    def page_size(self) -> int:
        return min(self.query_int("maxPageSize", 1) or _DEFAULT_PAGE, _MAX_PAGE)

    def cursor_page(self, items: list[T], key: Callable[[T], list[Any]], url: str, scope: str) -> tuple[list[T], Json]:
        """One page of ``items`` (already filtered by ``startTime`` and sorted by ``key``), continued by ``syncState``.

        The continuation holds the start time and the sort key of the page's last item, so items that arrive meanwhile
        do not shift later pages. ``scope`` ties it to one list (a thread's messages are not another thread's).
        """
        size = self.page_size()
        state = self.sync_state()
        if state is not None:
            if state.get("scope") != scope or not isinstance(state.get("after"), list):
                raise _bad_sync_state()
            items = [item for item in items if _after(key(item), state["after"])]
        page = items[:size]
        links: Json = {}
        if len(items) > size:
            state = {"scope": scope, "start": self.start_time(), "after": key(page[-1])}
            pairs = [("syncState", _b64url(json.dumps(state, separators=(",", ":")).encode())), ("maxPageSize", size)]
            links["nextLink"] = f"{url}?{urlencode([*pairs, ('api-version', self.api_version)])}"
        return page, links

    def sync_state(self) -> dict[str, Any] | None:
        """The continuation from one of our nextLinks (None without one; 400 for anything else)."""
        raw = self.request.query_params.get("syncState")
        if raw is None:
            return None
        try:
            state = _b64url_json(raw)
        except (ValueError, UnicodeError, RecursionError):
            raise _bad_sync_state() from None
        start = state.get("start") if isinstance(state, dict) else None
        if not isinstance(state, dict) or not (start is None or (isinstance(start, float) and math.isfinite(start))):
            raise _bad_sync_state()
        return state

    def start_time(self) -> float | None:
        """``startTime`` (from the continuation when there is one)."""
        state = self.sync_state()
        if state is not None:
            start: float | None = state.get("start")
            return start
        text = self.request.query_params.get("startTime")
        return None if text is None else parse_time(text, "startTime")

    def skip_page(self, items: list[Json], url: str) -> Response:
        size = self.page_size()
        skip = self.query_int("skip", 0) or 0
        result: Json = {"value": items[skip : skip + size]}
        if skip + size < len(items):
            query = urlencode([("skip", skip + size), ("maxPageSize", size), ("api-version", self.api_version)])
            result["nextLink"] = f"{url}?{query}"
        return _json(200, result)


def _bad_sync_state() -> AcsError:
    return bad_request("syncState is not a continuation from this list's nextLink.", "syncState")


def _after(key: list[Any], cursor: list[Any]) -> bool:
    """Whether a sort key comes after a continuation's (compared element-wise; a malformed cursor is a 400)."""
    if len(cursor) != len(key) or any(
        _is_number(k) != _is_number(c) or type(c) not in (str, int, float) for k, c in zip(key, cursor, strict=True)
    ):
        raise _bad_sync_state()
    return key > cursor


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


Handler = Callable[[_Call], Response]


@dataclass(frozen=True)
class _Op:
    handler: Handler
    body: str = "none"  # "none", "required" or "optional"
    media_types: tuple[str, ...] = (_JSON,)


async def _read_body(request: Request, op: _Op) -> Any:
    if op.body == "none":
        return None
    raw = await request.body()
    if not raw.strip():
        if op.body == "required":
            raise bad_request("A request body is required.", "body", "MissingValue")
        return None
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type not in op.media_types:
        message = f"Content-Type must be {' or '.join(op.media_types)}, got {media_type or 'none'}."
        raise AcsError(415, "UnsupportedMediaType", message, target="Content-Type")
    try:
        body = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
        json.dumps(body, ensure_ascii=False).encode("utf-8")  # unpaired surrogates cannot be stored or answered
    except (ValueError, UnicodeError, RecursionError):
        raise bad_request("The request body is not valid UTF-8 JSON.", "body") from None
    return body


def _version(request: Request) -> str:
    version = request.query_params.get("api-version")
    if not version:
        raise AcsError(400, "MissingApiVersionParameter", "The api-version query parameter is required.")
    if version not in API_VERSIONS:
        message = f"api-version {version!r} is not supported; supported versions: {', '.join(API_VERSIONS)}."
        raise AcsError(400, "UnsupportedApiVersion", message, target="api-version")
    return version


# -- the service ------------------------------------------------------------------------------------------------


class AcsChatService:
    """One emulated ACS resource's chat: its threads live in memory until :meth:`reset`."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._state = ChatState(clock)
        self._resource_id = str(uuid.uuid4())
        self._signing_key = secrets.token_bytes(32)
        # revocation (the identity service's): a user's tokens up to the serial recorded here are refused
        self._serial = 0
        self._revoked: dict[str, int] = {}
        self._deleted: set[str] = set()
        #: where chat events go (an ``events.EventDelivery``, set by ``Emulator(event_webhook=...)``), or None
        self.events: Any = None

    @property
    def resource_id(self) -> str:
        """The emulated resource's id: users are ``8:acs:<resource_id>_<guid>``."""
        return self._resource_id

    def revoke_tokens(self, user_raw_id: str) -> None:
        """Refuse every token issued to ``user_raw_id`` so far (later ones work)."""
        self._revoked[user_raw_id] = self._serial

    def delete_user(self, user_raw_id: str) -> None:
        """Refuse every token of ``user_raw_id``, now and later."""
        self._deleted.add(user_raw_id)

    def is_deleted(self, user_raw_id: str) -> bool:
        return user_raw_id in self._deleted

    def reset(self) -> None:
        """Forget every thread (tokens already issued keep working)."""
        self._state.reset()

    def issue_user_token(
        self, user_raw_id: str | None = None, *, lifetime: float = 3600, scopes: Sequence[str] = ("chat",)
    ) -> tuple[str, str]:
        """A user access token (an HS256 JWT shaped like ACS's) and the user's raw id (a new user when None).

        ``lifetime`` is in seconds from now (by the service's clock); a negative one makes an expired token.
        """
        if user_raw_id is None:
            user_raw_id = f"8:acs:{self._resource_id}_{uuid.uuid4()}"
        elif not isinstance(user_raw_id, str) or not is_acs_user(user_raw_id):
            raise ValueError("user_raw_id must be an ACS user's raw id, such as '8:acs:<resource>_<user>'")
        if not math.isfinite(lifetime):
            raise ValueError("lifetime must be a finite number of seconds")
        now = float(self._clock())
        self._serial += 1
        header = {"alg": "HS256", "kid": "acs-chat-emulator", "typ": "JWT"}
        claims = {
            "skypeid": user_raw_id[2:],
            "scp": " ".join(scopes),
            "acsScope": ",".join(scopes),
            "serial": self._serial,
            "csi": str(int(now)),
            "exp": math.ceil(now + lifetime),
            "iat": int(now),
            "rgn": "emulator",
            "resourceId": self._resource_id,
        }
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = hmac.new(self._signing_key, signing_input.encode("ascii"), hashlib.sha256).digest()
        return f"{signing_input}.{_b64url(signature)}", user_raw_id

    def routes(self) -> list[BaseRoute]:
        """The chat routes (all under ``/chat``), including a catch-all answering 404 in the service's shape."""
        thread, required, merge = "/chat/threads/{thread_id}", "required", (_MERGE_PATCH,)
        table: dict[str, dict[str, _Op]] = {
            "/chat/threads": {"GET": _Op(self._list_threads), "POST": _Op(self._create_thread, required)},
            thread: {
                "GET": _Op(self._get_thread),
                "PATCH": _Op(self._update_thread, required, merge),
                "DELETE": _Op(self._delete_thread),
            },
            thread + "/messages": {"GET": _Op(self._list_messages), "POST": _Op(self._send_message, required)},
            thread + "/messages/{message_id}": {
                "GET": _Op(self._get_message),
                "PATCH": _Op(self._update_message, required, merge),
                "DELETE": _Op(self._delete_message),
            },
            thread + "/participants": {"GET": _Op(self._list_participants)},
            thread + "/participants/:add": {"POST": _Op(self._add_participants, required)},
            thread + "/participants/:remove": {"POST": _Op(self._remove_participant, required, (_JSON, _MERGE_PATCH))},
            thread + "/typing": {"POST": _Op(self._typing, "optional")},
            thread + "/readReceipts": {"GET": _Op(self._list_receipts), "POST": _Op(self._send_receipt, required)},
        }
        routes: list[BaseRoute] = [Route(path, self._endpoint(ops), methods=_METHODS) for path, ops in table.items()]
        return [*routes, _ChatFallback(self._endpoint({}))]

    def _endpoint(self, ops: Mapping[str, _Op]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                op = ops.get(request.method)
                if op is None and not ops:
                    raise AcsError(
                        404, "NotFound", "The requested resource was not found.", target=str(request.scope["path"])
                    )
                if op is None:
                    message = f"{request.method} is not supported on this resource."
                    raise AcsError(405, "MethodNotAllowed", message, headers={"Allow": ", ".join(ops)})
                api_version = _version(request)
                caller = self._authenticate(request)
                body = await _read_body(request, op)
                with self._state.lock:
                    return op.handler(_Call(request, api_version, caller, body))
            except AcsError as error:
                return _json(error.status, error.body(), error.headers)

        return endpoint

    def _authenticate(self, request: Request) -> str:
        header = request.headers.get("authorization", "").strip()
        if not header:
            message = "Request is not authorized: an 'Authorization: Bearer <user access token>' header is required."
            raise _unauthorized("Unauthorized", message)
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise _unauthorized("InvalidAuthenticationToken", "The Authorization header must be 'Bearer <token>'.")
        try:
            head, claims = (_b64url_json(part) for part in token.split(".")[:2])
        except (ValueError, UnicodeError, RecursionError):
            head = claims = None
        if token.count(".") != 2 or not isinstance(head, dict) or not isinstance(claims, dict):
            raise _unauthorized("InvalidAuthenticationToken", "The access token is not a JWT.")
        skype_id, exp = claims.get("skypeid"), claims.get("exp")
        if not isinstance(skype_id, str) or not is_acs_user("8:" + skype_id):
            raise _unauthorized("InvalidAuthenticationToken", "The access token does not name an ACS user (skypeid).")
        serial, caller = claims.get("serial"), "8:" + skype_id
        revoked = caller in self._revoked and not (isinstance(serial, int) and serial > self._revoked[caller])
        if revoked or caller in self._deleted:
            raise _unauthorized("InvalidAuthenticationToken", "The access token has been revoked.")
        if (
            isinstance(exp, bool)
            or not isinstance(exp, int | float)
            or (isinstance(exp, float) and not math.isfinite(exp))
        ):
            raise _unauthorized("InvalidAuthenticationToken", "The access token has no valid expiry (exp).")
        if exp <= self._clock():
            inner = {"code": "TokenExpired", "message": f"The token expired at {_safe_time(exp)}."}
            raise _unauthorized("InvalidAuthenticationToken", "The access token has expired.", inner)
        scopes = claims.get("acsScope", claims.get("scp"))
        if isinstance(scopes, str) and "chat" not in {s.strip() for s in scopes.replace(" ", ",").split(",")}:
            raise AcsError(403, "Forbidden", "The access token's scopes do not include chat.")
        return "8:" + skype_id

    # -- threads ------------------------------------------------------------------------------------------------

    def _create_thread(self, call: _Call) -> Response:
        body = Body(call.body, "")
        topic: str = body.get("topic", str, required=True)
        _topic(topic)
        participants = _participants(body, "participants", call.api_version, required=False)
        metadata: dict[str, str] = {}
        retention = None
        if call.api_version >= API_2025_03_15:
            metadata = body.metadata("metadata", limit=METADATA_LIMIT)
            retention = _retention(body, "retentionPolicy")
        thread, invalid = self._state.create_thread(
            call.caller,
            topic,
            participants,
            metadata=metadata,
            retention=retention,
            request_id=call.request.headers.get("repeatability-request-id") or None,
            api_version=call.api_version,
        )
        result: Json = {"chatThread": thread.wire(call.api_version)}
        if invalid:
            result["invalidParticipants"] = invalid
        self._notify("create", call, thread.id, None)
        return _json(201, result, {"Location": f"{call.base}/chat/threads/{quote(thread.id, safe='@')}"})

    def _list_threads(self, call: _Call) -> Response:
        threads = self._state.list_threads(call.caller, call.start_time())
        page, links = call.cursor_page(threads, _thread_key, f"{call.base}/chat/threads", "threads")
        return _json(200, {"value": [t.item_wire() for t in page], **links})

    def _get_thread(self, call: _Call) -> Response:
        return _json(200, self._state.thread_for(call.caller, call.thread_id).wire(call.api_version))

    def _update_thread(self, call: _Call) -> Response:
        body = Body(call.body, "")
        if body.is_null("topic"):
            raise bad_request("topic cannot be removed.", "topic")
        since_2025 = call.api_version >= API_2025_03_15
        self._state.update_thread(
            call.caller,
            call.thread_id,
            topic=_topic(body.get("topic", str)),
            metadata=body.metadata_patch("metadata") if since_2025 else None,
            retention=_retention(body, "retentionPolicy") if since_2025 else None,
            set_retention=since_2025 and "retentionPolicy" in body.data,
        )
        return _empty(204)

    def _delete_thread(self, call: _Call) -> Response:
        self._state.delete_thread(call.caller, call.thread_id)
        self._notify("delete_thread", call, call.thread_id, None)
        return _empty(204)

    # -- messages -----------------------------------------------------------------------------------------------

    def _send_message(self, call: _Call) -> Response:
        body = Body(call.body, "")
        content: str = body.get("content", str, required=True)
        _check_content(content)
        message_type = body.get("type", str) or "text"
        if message_type not in USER_MESSAGE_TYPES:
            raise bad_request("type must be text or html (system messages are posted by the service).", "type")
        message = self._state.send_message(
            call.caller,
            call.thread_id,
            content=content,
            message_type=message_type,
            sender_display_name=body.get("senderDisplayName", str),
            metadata=body.metadata("metadata", limit=None),
        )
        self._notify("send", call, call.thread_id, message.id)
        location = call.thread_url("messages", quote(message.id, safe=""), safe="@")
        return _json(201, {"id": message.id}, {"Location": location})

    def _list_messages(self, call: _Call) -> Response:
        messages = self._state.list_messages(call.caller, call.thread_id, call.start_time())
        page, links = call.cursor_page(messages, _message_key, call.thread_url("messages"), call.thread_id)
        return _json(200, {"value": [m.wire(call.api_version) for m in page], **links})

    def _get_message(self, call: _Call) -> Response:
        _, message = self._state.message_for(call.caller, call.thread_id, call.message_id)
        return _json(200, message.wire(call.api_version))

    def _update_message(self, call: _Call) -> Response:
        body = Body(call.body, "")
        if body.is_null("content"):
            raise bad_request("content cannot be removed.", "content")
        content: str | None = body.get("content", str)
        if content is not None:
            _check_content(content)
        metadata = body.metadata_patch("metadata")
        self._state.update_message(call.caller, call.thread_id, call.message_id, content=content, metadata=metadata)
        self._notify("edit", call, call.thread_id, call.message_id)
        return _empty(204)

    def _delete_message(self, call: _Call) -> Response:
        self._state.delete_message(call.caller, call.thread_id, call.message_id)
        self._notify("delete", call, call.thread_id, call.message_id)
        return _empty(204)

    # -- participants, typing, read receipts ---------------------------------------------------------------------

    def _list_participants(self, call: _Call) -> Response:
        participants = self._state.list_participants(call.caller, call.thread_id)
        return call.skip_page([p.wire(call.api_version) for p in participants], call.thread_url("participants"))

    def _add_participants(self, call: _Call) -> Response:
        participants = _participants(Body(call.body, ""), "participants", call.api_version, required=True)
        if not participants:
            raise bad_request("participants must not be empty.", "participants")
        before = set(self._state.thread_for(call.caller, call.thread_id).participants)
        invalid = self._state.add_participants(call.caller, call.thread_id, participants, call.api_version)
        now_in = self._state.threads[call.thread_id].participants
        self._notify("add", call, call.thread_id, [p for raw_id, p in now_in.items() if raw_id not in before])
        return _json(201, {"invalidParticipants": invalid} if invalid else {})

    def _remove_participant(self, call: _Call) -> Response:
        raw_id = _identifier(call.body, "")
        removed = self._state.thread_for(call.caller, call.thread_id).participants.get(raw_id)
        self._state.remove_participant(call.caller, call.thread_id, raw_id)
        self._notify("remove", call, call.thread_id, [removed] if removed is not None else [])
        return _empty(204)

    def _typing(self, call: _Call) -> Response:
        if call.body is not None:
            Body(call.body, "").get("senderDisplayName", str)
        self._state.send_typing(call.caller, call.thread_id)
        return _empty(200)

    def _send_receipt(self, call: _Call) -> Response:
        message_id: str = Body(call.body, "").get("chatMessageId", str, required=True)
        self._state.send_read_receipt(call.caller, call.thread_id, message_id)
        return _empty(200)

    def _list_receipts(self, call: _Call) -> Response:
        receipts = [
            {
                "senderCommunicationIdentifier": identifier_wire(raw_id, call.api_version),
                "chatMessageId": receipt.message_id,
                "readOn": format_time(receipt.read_on),
            }
            for raw_id, receipt in self._state.list_read_receipts(call.caller, call.thread_id)
        ]
        return call.skip_page(receipts, call.thread_url("readReceipts"))

    def _notify(self, operation: str, call: _Call, thread_id: str, result: Any) -> None:
        if self.events is not None:
            self.events.after(operation, self._state, call.caller, thread_id, result)


class _ChatFallback(BaseRoute):
    """Every other path under ``/chat`` (a ``{rest:path}`` route would miss paths with a newline): 404 JSON."""

    def __init__(self, endpoint: Callable[[Request], Awaitable[Response]]) -> None:
        self.app = request_response(endpoint)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        path: str = scope.get("path", "")
        root = scope.get("root_path", "")
        if root and path.startswith(root + "/"):
            path = path[len(root) :]
        ours = scope["type"] == "http" and (path == "/chat" or path.startswith("/chat/"))
        return (Match.FULL, {}) if ours else (Match.NONE, {})

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def _thread_key(thread: Thread) -> list[Any]:
    return [-thread.last_message_on, thread.id]


def _message_key(message: Message) -> list[Any]:
    return [-message.sequence_id]


def _check_content(content: str) -> None:
    if len(content.encode("utf-8")) > _MAX_CONTENT_BYTES:
        raise bad_request(f"content is larger than {_MAX_CONTENT_BYTES} bytes.", "content", "ContentTooLarge")


def _topic(topic: str | None) -> str | None:
    if topic is not None and len(topic) > MAX_TOPIC_LENGTH:
        raise bad_request(f"topic is longer than {MAX_TOPIC_LENGTH} characters.", "topic")
    return topic
