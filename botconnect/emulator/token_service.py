"""The Bot Framework user token service (OAuth sign-in, SSO) as the emulator plays it, under the emulator's URL.

So ``emulator.cloud.token_service_url`` works for ``UserTokenClient``. The flow a user goes through:

1. the bot asks ``GET /api/botsignin/GetSignInUrl`` (or ``GetSignInResource``) with the ``state`` of a
   ``TokenExchangeState``, and gets a loopback sign-in page ``/api/oauth/signin?signin=<id>``;
2. the user opens it and completes the sign-in (the page's link, or fetch it with ``&complete=1``): the page shows
   a six-digit magic code, in ``<code id="magic-code">``;
3. the bot redeems the code with ``GET /api/usertoken/GetToken?...&code=<code>`` (once: a code is used up) and
   gets a fake user token ``emu-user.<random>``; ``GetToken`` without a code returns it from then on (404 before).

Single sign-on: ``POST /api/usertoken/exchange`` turns an SSO token ``sso.<anything>`` into the user token; any
other token is a 400 ``ErrorResponse``, and a ``uri`` other than the connection's exchange resource is a 404.
``SignOut`` forgets tokens, ``GetTokenStatus`` lists the connections. With ``connections`` configured (the CLI's
``--oauth-connection``) other connection names are refused (400); without, any name works. The API (not the
sign-in page, which a browser opens) wants a bearer token when the emulator has an app id, as its Connector does.
"""

from __future__ import annotations

import collections
import hashlib
import html
import secrets
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute

from botconnect.models import TokenExchangeState

from .connector import Authorizer, Handler, error, read_json, route

__all__ = ["SIGN_IN_PAGE", "TokenService"]

SIGN_IN_PAGE = "/api/oauth/signin"
_PROVIDER = "botconnect emulator"
_TOKEN_LIFETIME = timedelta(hours=1)


@attrs.define
class _SignIn:
    """One sign-in link handed out: for whom and which connection, and its magic code once completed."""

    connection_name: str
    user_id: str | None
    channel_id: str | None
    code: str | None = None


class TokenService:
    """The token service's state and routes (touched on the emulator's loop only); ``hits`` counts the calls."""

    def __init__(
        self,
        auth: Authorizer,
        *,
        base_url: Callable[[], str],
        app_id: str | None = None,
        connections: Iterable[str] = (),
    ) -> None:
        if isinstance(connections, str):
            raise TypeError("connections must be an iterable of connection names, not a single str")
        self.auth = auth
        self.app_id = app_id
        self._base_url = base_url
        #: the configured OAuth connection names (empty: any name is accepted)
        self.connections: tuple[str, ...] = tuple(dict.fromkeys(c.strip() for c in connections if c.strip()))
        #: calls per operation ("GetToken", "exchange", ...), read from tests
        self.hits: collections.Counter[str] = collections.Counter()
        self._sign_ins: dict[str, _SignIn] = {}
        self._codes: dict[str, str] = {}  # magic code -> sign-in id
        self._tokens: dict[tuple[str, str], dict[str, Any]] = {}  # (user id, connection casefold) -> TokenResponse

    def routes(self) -> list[BaseRoute]:
        g = self._guard
        return [
            route("/api/botsignin/GetSignInUrl", GET=g("GetSignInUrl", self._sign_in_url)),
            route("/api/botsignin/GetSignInResource", GET=g("GetSignInResource", self._sign_in_resource)),
            route("/api/usertoken/GetToken", GET=g("GetToken", self._get_token)),
            route("/api/usertoken/GetAadTokens", POST=g("GetAadTokens", self._aad_tokens)),
            route("/api/usertoken/SignOut", DELETE=g("SignOut", self._sign_out)),
            route("/api/usertoken/GetTokenStatus", GET=g("GetTokenStatus", self._status)),
            route("/api/usertoken/exchange", POST=g("exchange", self._exchange)),
            route(SIGN_IN_PAGE, GET=self._page),
        ]

    def exchange_uri(self) -> str:
        """The ``tokenExchangeResource.uri`` handed out (a Teams app's SSO resource: ``api://botid-<app id>``)."""
        return f"api://botid-{self.app_id or 'emulator'}"

    def reset(self) -> None:
        self.hits.clear()
        self._sign_ins.clear()
        self._codes.clear()
        self._tokens.clear()

    def describe(self) -> dict[str, Any]:
        return {"endpoint": self._base_url(), "connections": list(self.connections), "signInPage": SIGN_IN_PAGE}

    def _guard(self, name: str, handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            self.hits[name] += 1
            denied = self.auth.check(request)
            if denied is not None:
                return denied
            return await handler(request)

        return endpoint

    # -- arguments ---------------------------------------------------------------------------------------------

    def _connection(self, name: str | None) -> str | Response:
        """The configured spelling of ``name``, or the 400 to answer."""
        if not name or not name.strip():
            return error(400, "BadArgument", "connectionName is required")
        if not self.connections:
            return name
        for known in self.connections:
            if known.casefold() == name.casefold():  # connection names are not case-sensitive in Azure
                return known
        return error(400, "BadArgument", f"no OAuth connection named {name!r} (configured: {list(self.connections)})")

    def _query(self, request: Request, *required: str) -> dict[str, str] | Response:
        values = {key: value for key, value in request.query_params.items() if value != ""}
        missing = [key for key in required if key not in values]
        if missing:
            return error(400, "BadArgument", f"missing query parameter(s): {', '.join(missing)}")
        return values

    def _token_for(self, user_id: str, connection: str, channel_id: str | None) -> dict[str, Any]:
        key = (user_id, connection.casefold())
        stored = self._tokens.get(key)
        if stored is None:
            expiration = (datetime.now(UTC) + _TOKEN_LIFETIME).isoformat().replace("+00:00", "Z")
            stored = {"connectionName": connection, "token": "emu-user." + secrets.token_urlsafe(18)}
            stored["expiration"] = expiration
            if channel_id:
                stored["channelId"] = channel_id
            self._tokens[key] = stored
        return stored

    def _no_token(self, connection: str, channel_id: str | None) -> Response:
        body = {"connectionName": connection, **({"channelId": channel_id} if channel_id else {})}
        return JSONResponse(body, status_code=404)  # the Swagger's 404 is a TokenResponse without a token

    # -- BotSignIn ---------------------------------------------------------------------------------------------

    def _start_sign_in(self, request: Request) -> tuple[str, _SignIn] | Response:
        query = self._query(request, "state")
        if isinstance(query, Response):
            return query
        try:
            state = TokenExchangeState.from_state(query["state"])
        except (TypeError, ValueError) as exc:
            return error(400, "BadArgument", f"state is not a base64 TokenExchangeState: {exc}")
        connection = self._connection(state.connection_name)
        if isinstance(connection, Response):
            return connection
        reference = state.conversation
        user = reference.user if reference is not None else None
        sign_in = _SignIn(
            connection_name=connection,
            user_id=user.id if user is not None else None,
            channel_id=reference.channel_id if reference is not None else None,
        )
        sign_in_id = secrets.token_urlsafe(16)
        self._sign_ins[sign_in_id] = sign_in
        return f"{self._base_url()}{SIGN_IN_PAGE}?signin={sign_in_id}", sign_in

    async def _sign_in_url(self, request: Request) -> Response:
        started = self._start_sign_in(request)
        if isinstance(started, Response):
            return started
        return PlainTextResponse(started[0])  # the bare URL, as the service answers

    async def _sign_in_resource(self, request: Request) -> Response:
        started = self._start_sign_in(request)
        if isinstance(started, Response):
            return started
        link, _ = started
        resource = {"id": secrets.token_hex(8), "uri": self.exchange_uri(), "providerId": _PROVIDER}
        return JSONResponse({"signInLink": link, "tokenExchangeResource": resource})

    async def _page(self, request: Request) -> Response:
        sign_in_id = request.query_params.get("signin", "")
        sign_in = self._sign_ins.get(sign_in_id)
        if sign_in is None:
            return HTMLResponse(_html("Sign-in not found", "<p>This sign-in link is unknown or used up.</p>"), 404)
        connection = html.escape(sign_in.connection_name)
        if request.query_params.get("complete") != "1":
            who = html.escape(sign_in.user_id or "the user")
            link = html.escape(f"{SIGN_IN_PAGE}?signin={sign_in_id}&complete=1")
            body = f'<p>Sign in to <b>{connection}</b> as {who}.</p><p><a href="{link}">Sign in</a></p>'
            return HTMLResponse(_html("Sign in", body))
        if sign_in.code is None:
            sign_in.code = self._new_code()
            self._codes[sign_in.code] = sign_in_id
        body = (
            f"<p>Signed in to <b>{connection}</b>. Enter this code in the conversation:</p>"
            f'<p><code id="magic-code">{sign_in.code}</code></p>'
        )
        return HTMLResponse(_html("Signed in", body))

    def _new_code(self) -> str:
        while True:
            code = f"{secrets.randbelow(10**6):06d}"
            if code not in self._codes:
                return code

    # -- UserToken ---------------------------------------------------------------------------------------------

    async def _get_token(self, request: Request) -> Response:
        query = self._query(request, "userId", "connectionName")
        if isinstance(query, Response):
            return query
        connection = self._connection(query["connectionName"])
        if isinstance(connection, Response):
            return connection
        user_id, channel_id, code = query["userId"], query.get("channelId"), query.get("code")
        if code is not None:
            sign_in_id = self._codes.get(code)
            sign_in = self._sign_ins.get(sign_in_id) if sign_in_id is not None else None
            if (
                sign_in is None
                or sign_in.connection_name.casefold() != connection.casefold()
                or (sign_in.user_id is not None and sign_in.user_id != user_id)
            ):
                return self._no_token(connection, channel_id)
            # a magic code is good for one sign-in
            del self._codes[code]
            del self._sign_ins[sign_in_id or ""]
            return JSONResponse(self._token_for(user_id, connection, channel_id or sign_in.channel_id))
        stored = self._tokens.get((user_id, connection.casefold()))
        return JSONResponse(stored) if stored is not None else self._no_token(connection, channel_id)

    async def _aad_tokens(self, request: Request) -> Response:
        query = self._query(request, "userId", "connectionName")
        if isinstance(query, Response):
            return query
        connection = self._connection(query["connectionName"])
        if isinstance(connection, Response):
            return connection
        body = await read_json(request)
        if isinstance(body, Response):
            return body
        urls = body.get("resourceUrls") if isinstance(body, Mapping) else None
        if not isinstance(urls, list) or not all(isinstance(url, str) for url in urls):
            return error(400, "BadArgument", "the body must be {'resourceUrls': [str, ...]}")
        stored = self._tokens.get((query["userId"], connection.casefold()))
        if stored is None:
            return JSONResponse({})  # nothing to hand out before the user signed in
        tokens = {}
        for url in urls:
            digest = hashlib.sha256(f"{stored['token']}|{url}".encode()).hexdigest()[:24]
            tokens[url] = {**stored, "token": f"emu-aad.{digest}"}
        return JSONResponse(tokens)

    async def _sign_out(self, request: Request) -> Response:
        query = self._query(request, "userId")
        if isinstance(query, Response):
            return query
        user_id, name = query["userId"], query.get("connectionName")
        if name is not None:
            connection = self._connection(name)
            if isinstance(connection, Response):
                return connection
            self._tokens.pop((user_id, connection.casefold()), None)
        else:
            for key in [key for key in self._tokens if key[0] == user_id]:
                del self._tokens[key]
        return JSONResponse({})

    async def _status(self, request: Request) -> Response:
        query = self._query(request, "userId")
        if isinstance(query, Response):
            return query
        user_id, channel_id = query["userId"], query.get("channelId")
        names = list(self.connections) or [t["connectionName"] for (u, _), t in self._tokens.items() if u == user_id]
        include = query.get("include")
        if include is not None:
            wanted = {part.strip().casefold() for part in include.split(",") if part.strip()}
            names = [name for name in names if name.casefold() in wanted]
        statuses = []
        for name in names:
            status = {
                "connectionName": name,
                "hasToken": (user_id, name.casefold()) in self._tokens,
                "serviceProviderDisplayName": _PROVIDER,
            }
            if channel_id:
                status["channelId"] = channel_id
            statuses.append(status)
        return JSONResponse(statuses)

    async def _exchange(self, request: Request) -> Response:
        query = self._query(request, "userId", "connectionName", "channelId")
        if isinstance(query, Response):
            return query
        connection = self._connection(query["connectionName"])
        if isinstance(connection, Response):
            return connection
        body = await read_json(request)
        if isinstance(body, Response):
            return body
        if not isinstance(body, Mapping):
            return error(400, "BadArgument", "the body must be a TokenExchangeRequest object")
        uri, token = body.get("uri"), body.get("token")
        if uri is not None and uri != self.exchange_uri():
            return self._no_token(connection, query["channelId"])  # no exchange resource there
        if not isinstance(token, str) or not token.startswith("sso.") or len(token) == len("sso."):
            return error(400, "TokenExchangeFailed", "the emulator exchanges SSO tokens of the form 'sso.<anything>'")
        return JSONResponse(self._token_for(query["userId"], connection, query["channelId"]))


def _html(title: str, body: str) -> str:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title} - botconnect emulator</title>'
        f"</head><body><h1>{title}</h1>{body}</body></html>"
    )
