"""The ACS identity service (data plane), emulated: users and their access tokens for the emulated ACS Chat.

::

    identity = IdentityService(acs)                       # acs: the AcsChatService whose tokens it issues
    routes = identity.routes()                            # /identities..., /teamsUser/:exchangeAccessToken
    connection_string = f"endpoint={url}/;accesskey={identity.access_key}"

Routes (api-version 2023-10-01, 2023-08-01, 2022-10-01, 2022-06-01 or 2021-03-07, the versions Microsoft's client
knows): ``POST /identities`` (201, with an access token when ``createTokenWithScopes`` names scopes),
``POST /identities/{id}/:issueAccessToken`` (200), ``POST /identities/{id}/:revokeAccessTokens`` (204),
``DELETE /identities/{id}`` (204) and ``POST /teamsUser/:exchangeAccessToken`` (200; 2022-06-01 on). Tokens are
the chat service's own, so chat accepts them; revoking makes chat refuse a user's earlier tokens (401), deleting
refuses all of them.

Every request must carry the HMAC-SHA256 signature ACS uses, checked for real against :attr:`access_key`:
``x-ms-date`` (RFC 1123, within 15 minutes), ``x-ms-content-sha256`` (base64 SHA-256 of the body, compared with
the body received) and ``Authorization: HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=``
over ``VERB\\npath?query\\ndate;host;content-hash``. Any failure answers 401 ``Denied``. Every request received
(signed or not) is kept in :attr:`IdentityService.received`, as it arrived, for tests to look at.

Where the documents are silent: a Teams token exchange checks only that the three fields are non-empty strings and
the token is shaped like a JWT, and the Teams user is played by an ACS user derived from ``appId`` and ``userId``
(the same pair, the same user), so chat accepts its token. Before 2022-10-01 a body's ``expiresInMinutes`` (not
in those versions) is ignored, as unknown JSON properties are: tokens live 24 hours. Identities outlive
:meth:`Emulator.reset`, as tokens do.
"""

from __future__ import annotations

import base64
import binascii
import collections
import dataclasses
import email.utils
import hashlib
import hmac
import json
import math
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ._acs_state import AcsError, Json, format_time

__all__ = ["IDENTITY_API_VERSIONS", "IdentityService", "ReceivedRequest"]

#: the api-versions served (the newest first)
IDENTITY_API_VERSIONS = ("2023-10-01", "2023-08-01", "2022-10-01", "2022-06-01", "2021-03-07")
#: the first api-versions with a token lifetime (``expiresInMinutes``) and with the Teams token exchange
_LIFETIMES_SINCE, _TEAMS_SINCE = "2022-10-01", "2022-06-01"
#: how many received requests :attr:`IdentityService.received` keeps
RECEIVED_KEPT = 1000
_SIGNED_HEADERS = "x-ms-date;host;x-ms-content-sha256"
_MAX_SKEW = 15 * 60
_SCOPES = frozenset({"chat", "voip", "chat.join", "chat.join.limited", "voip.join"})
_MINUTES = (60, 1440)
_TEAMS_NAMESPACE = uuid.UUID("6f1c2b43-8a0e-4d55-9a57-2f4a2c1e0b7d")

Handler = Callable[[Request, Any], Response]


def _json(status: int, body: Json) -> Response:
    content = json.dumps(body, separators=(",", ":")).encode("utf-8")
    return Response(content, status, media_type="application/json; charset=utf-8")


def _denied(message: str) -> AcsError:
    return AcsError(401, "Denied", message)


class IdentityService:
    """The identity routes of one emulated ACS resource, issuing the tokens of ``acs`` (an ``AcsChatService``).

    ``access_key``: the resource's key (base64; default: 32 random bytes); ``clock``: seconds since the epoch.
    """

    def __init__(self, acs: Any, *, access_key: str | None = None, clock: Callable[[], float] = time.time) -> None:
        self._acs = acs
        self._clock = clock
        self.access_key = access_key or base64.b64encode(secrets.token_bytes(32)).decode("ascii")
        self._key = _decode_key(self.access_key)
        self._users: set[str] = set()
        #: the requests the identity routes received, in order (signed or not), for tests to inspect; the last
        #: RECEIVED_KEPT only, so a long-running emulator does not grow without bound
        self.received: collections.deque[ReceivedRequest] = collections.deque(maxlen=RECEIVED_KEPT)

    def __repr__(self) -> str:
        return f"<IdentityService resource={self._acs.resource_id!r}>"  # never the key

    def routes(self) -> list[BaseRoute]:
        user = "/identities/{user_id}"
        table: dict[str, tuple[str, Handler]] = {
            "/identities": ("POST", self._create),
            user: ("DELETE", self._delete),
            user + "/:issueAccessToken": ("POST", self._issue),
            user + "/:revokeAccessTokens": ("POST", self._revoke),
            "/teamsUser/:exchangeAccessToken": ("POST", self._exchange),
        }
        return [Route(path, self._endpoint(handler), methods=[method]) for path, (method, handler) in table.items()]

    def _endpoint(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            body = await request.body()
            self.received.append(ReceivedRequest(request.method, _target(request), dict(request.headers), body))
            try:
                self._authenticate(request, body)
                version = request.query_params.get("api-version")
                if version not in IDENTITY_API_VERSIONS:
                    message = f"api-version must be one of {', '.join(IDENTITY_API_VERSIONS)}."
                    raise AcsError(400, "InvalidApiVersion", message, target="api-version")
                return handler(request, _parse(body))
            except AcsError as error:
                return _json(error.status, error.body())

        return endpoint

    def _authenticate(self, request: Request, body: bytes) -> None:
        scheme, _, rest = request.headers.get("authorization", "").strip().partition(" ")
        if scheme.upper() != "HMAC-SHA256":
            raise _denied("Authorization must be 'HMAC-SHA256 SignedHeaders=...&Signature=...'.")
        fields = dict(part.partition("=")[::2] for part in rest.strip().split("&"))
        if fields.get("SignedHeaders", "").lower() != _SIGNED_HEADERS:
            raise _denied(f"SignedHeaders must be {_SIGNED_HEADERS}.")
        date, host = request.headers.get("x-ms-date", ""), request.headers.get("host", "")
        content_hash = request.headers.get("x-ms-content-sha256", "")
        try:
            sent = email.utils.parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError, IndexError):
            raise _denied("x-ms-date is missing or not an RFC 1123 date.") from None
        if not math.isfinite(sent) or abs(self._clock() - sent) > _MAX_SKEW:
            raise _denied("x-ms-date is more than 15 minutes away from the service's time.")
        if not hmac.compare_digest(content_hash, base64.b64encode(hashlib.sha256(body).digest()).decode()):
            raise _denied("x-ms-content-sha256 does not match the body.")
        to_sign = f"{request.method}\n{_target(request)}\n{date};{host};{content_hash}"
        expected = base64.b64encode(hmac.new(self._key, to_sign.encode("utf-8"), hashlib.sha256).digest()).decode()
        if not hmac.compare_digest(fields.get("Signature", ""), expected):
            raise _denied("The request's signature does not match (check the access key).")

    # -- users and tokens ---------------------------------------------------------------------------------------

    def _user(self, request: Request) -> str:
        raw_id: str = request.path_params["user_id"]
        if raw_id not in self._users and not raw_id.startswith(f"8:acs:{self._acs.resource_id}_"):
            raise AcsError(404, "IdentityNotFound", "The identity does not exist in this resource.")
        if self._acs.is_deleted(raw_id):
            raise AcsError(404, "IdentityNotFound", "The identity has been deleted.")
        return raw_id

    def _token(self, raw_id: str, scopes: list[str], minutes: int) -> Json:
        token, _ = self._acs.issue_user_token(raw_id, lifetime=minutes * 60, scopes=scopes)
        return {"token": token, "expiresOn": format_time(self._clock() + minutes * 60)}

    def _create(self, request: Request, body: Json) -> Response:
        scopes = _scopes(body, "createTokenWithScopes", required=False)
        minutes = _minutes(body, request)
        raw_id = f"8:acs:{self._acs.resource_id}_{uuid.uuid4()}"
        self._users.add(raw_id)
        result: Json = {"identity": {"id": raw_id}}
        if scopes:
            result["accessToken"] = self._token(raw_id, scopes, minutes)
        return _json(201, result)

    def _issue(self, request: Request, body: Json) -> Response:
        raw_id = self._user(request)
        return _json(200, self._token(raw_id, _scopes(body, "scopes", required=True), _minutes(body, request)))

    def _revoke(self, request: Request, body: Json) -> Response:
        self._acs.revoke_tokens(self._user(request))
        return Response(status_code=204)

    def _delete(self, request: Request, body: Json) -> Response:
        self._acs.delete_user(self._user(request))
        return Response(status_code=204)

    def _exchange(self, request: Request, body: Json) -> Response:
        if request.query_params["api-version"] < _TEAMS_SINCE:
            raise AcsError(404, "NotFound", f"The Teams token exchange needs api-version {_TEAMS_SINCE} or later.")
        values = [body.get(key) for key in ("token", "appId", "userId")]
        if not all(isinstance(v, str) and v for v in values):
            raise AcsError(400, "InvalidRequest", "token, appId and userId are required strings.")
        if str(values[0]).count(".") != 2:
            raise AcsError(401, "InvalidAccessToken", "The Teams user's token is not a JWT.")
        user = uuid.uuid5(_TEAMS_NAMESPACE, f"{values[1]}|{values[2]}")
        raw_id = f"8:acs:{self._acs.resource_id}_{user}"
        self._users.add(raw_id)
        return _json(200, self._token(raw_id, ["chat", "voip"], _MINUTES[0]))


@dataclasses.dataclass(frozen=True)
class ReceivedRequest:
    """One request as the identity routes received it: ``target`` is the path and query exactly as sent."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes


def _target(request: Request) -> str:
    path = request.scope.get("raw_path", request.url.path.encode()).decode("latin-1")
    query = request.scope.get("query_string", b"").decode("latin-1")
    return f"{path}?{query}" if query else path


def _parse(body: bytes) -> Json:
    if not body.strip():
        return {}
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        raise AcsError(400, "InvalidRequest", "The body is not JSON.") from None
    if not isinstance(value, dict):
        raise AcsError(400, "InvalidRequest", "The body must be a JSON object.")
    return value


def _scopes(body: Json, key: str, *, required: bool) -> list[str]:
    scopes = body.get(key)
    if scopes is None and not required:
        return []
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes) or (required and not scopes):
        raise AcsError(400, "InvalidRequest", f"{key} must be a list of scopes.", target=key)
    unknown = sorted(set(scopes) - _SCOPES)
    if unknown:
        raise AcsError(400, "InvalidScope", f"Unknown scopes: {', '.join(unknown)}.", target=key)
    return list(scopes)


def _minutes(body: Json, request: Request) -> int:
    if request.query_params["api-version"] < _LIFETIMES_SINCE:
        return _MINUTES[1]  # no such field before 2022-10-01: ignored, as unknown JSON properties are
    minutes = body.get("expiresInMinutes", 1440)
    low, high = _MINUTES
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not low <= minutes <= high:
        raise AcsError(400, "InvalidRequest", f"expiresInMinutes must be {low} to {high}.", target="expiresInMinutes")
    return minutes


def _decode_key(key: str) -> bytes:
    try:
        return base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("access_key must be base64") from None
