"""The bot side: delivering activities to a bot's messaging endpoint, the built-in echo bot, and the token
endpoint bots sign in with.

Delivery is what the Bot Framework service does: ``POST`` the activity (``serviceUrl`` = the emulator) to the bot's
messaging endpoint -- the user's own (``--bot URL``) or the built-in :class:`EchoBot`, which the emulator serves at
``/_bot/api/messages``. When the emulator has an app id, every delivery carries ``Authorization: Bearer <channel
token>`` signed with the emulator's channel key (:mod:`botconnect.emulator.signing`), which a bot checks with
``BotAuthenticator(app_id, cloud=emulator.cloud)``; without one, deliveries are anonymous (development mode). For an
``invoke`` the bot's answer (status and JSON body) is kept in the :class:`DeliveryResult`, as the channel relays it.
The echo bot is a real bot: it answers through the Connector endpoints with ``botconnect_aio.ConnectorClient``
(over the socket when the emulator serves one, in-process otherwise). The emulator's calls to itself go through
transports it makes (:data:`TransportSource`), which under ``tls=True`` trust its throwaway CA and nothing else.

The token endpoint mints RS256 access tokens signed with the emulator's Entra-like key: ``aud`` is the requested
scope without ``/.default`` (the Connector's ``https://api.botframework.com``, or a skill's app id for bot-to-bot
calls), ``appid`` the client, ``ver`` 1.0, ``tid``/``iss`` the emulator's tenant.
"""

from __future__ import annotations

import collections
import json
import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from .connector import error
from .directline import DeliveryResult
from .faults import Faults
from .signing import CONNECTOR_AUDIENCE, SigningService

__all__ = ["BotDelivery", "EchoBot", "OAuthIssuer"]

#: a new transport into the emulator itself, for one client to own and close (see ``EmulatorApp``)
TransportSource = Callable[[], httpx.AsyncBaseTransport]
#: an invoke answer larger than this is not relayed (the caller gets the bot's status without it)
MAX_INVOKE_BODY = 1024 * 1024


class EchoBot:
    """Answers each message with ``echo: <text>`` (mentioning attachments), and ends the conversation after ``bye``.

    Replies go through ``reply_to_activity`` (and ``send_to_conversation`` for the endOfConversation) on the
    activity's ``serviceUrl``, with app credentials from the emulator's token endpoint when it has some.
    """

    PATH = "/_bot/api/messages"

    def __init__(
        self,
        *,
        transport: TransportSource,
        app_id: str | None = None,
        app_password: str | None = None,
        oauth_endpoint: Callable[[], str] | None = None,
    ) -> None:
        self._transport = transport
        self._app_id = app_id
        self._app_password = app_password
        self._oauth_endpoint = oauth_endpoint
        #: per serviceUrl: its Connector client and that client's credential (None: anonymous)
        self._clients: dict[str, tuple[Any, Any]] = {}
        #: activities the bot received, most recent last (at most 200)
        self.received: collections.deque[dict[str, Any]] = collections.deque(maxlen=200)

    def routes(self) -> list[BaseRoute]:
        """The Starlette route of the bot's messaging endpoint."""
        return [Route(self.PATH, self._handle, methods=["POST"])]

    async def aclose(self) -> None:
        """Close the Connector clients the echo bot opened (on the emulator's loop)."""
        clients, self._clients = self._clients, {}
        for client, credential in clients.values():
            await client.close()
            if credential is not None:
                await credential.close()

    def _client(self, service_url: str) -> Any:
        import botconnect_aio  # imported late: the SDK's async façade is only needed once a bot answers

        pair = self._clients.get(service_url)
        if pair is None:
            # a credential per client, each on a transport of its own: one made before the emulator served a
            # socket reaches it in-process, one made after goes over the socket (and trusts its CA under https)
            credential = None
            if self._app_id and self._app_password:
                endpoint = self._oauth_endpoint() if self._oauth_endpoint else "http://localhost"
                credential = botconnect_aio.MicrosoftAppCredentials(
                    self._app_id, self._app_password, oauth_endpoint=endpoint, transport=self._transport()
                )
            client = botconnect_aio.ConnectorClient(service_url, credential, transport=self._transport())
            pair = self._clients[service_url] = (client, credential)
        return pair[0]

    async def _handle(self, request: Request) -> Response:
        from botconnect.errors import BotConnectError
        from botconnect.models import Activity, ActivityTypes

        try:
            data = json.loads(await request.body())
            activity = Activity.from_dict(data)
        except Exception as exc:
            return JSONResponse({"error": {"code": "BadArgument", "message": f"not an activity: {exc}"}}, 400)
        self.received.append(data)
        if activity.type != ActivityTypes.MESSAGE:
            return Response(status_code=200)
        if not activity.service_url or activity.conversation is None or not activity.conversation.id:
            return JSONResponse({"error": {"code": "BadArgument", "message": "no serviceUrl or conversation"}}, 400)
        text = activity.text or ""
        count = len(activity.attachments or [])
        answer = f"echo: {text}" if not count else f"echo: {text} ({count} attachment{'s' if count > 1 else ''})"
        client = self._client(activity.service_url)
        conversation_id = activity.conversation.id
        try:
            reply = activity.create_reply(answer)
            if activity.id:
                await client.conversations.reply_to_activity(conversation_id, activity.id, reply)
            else:
                await client.conversations.send_to_conversation(conversation_id, reply)
            if text.strip().lower() == "bye":
                goodbye = activity.create_reply()
                goodbye.type = ActivityTypes.END_OF_CONVERSATION
                goodbye.code = "completedSuccessfully"
                await client.conversations.send_to_conversation(conversation_id, goodbye)
        except BotConnectError as exc:
            return JSONResponse({"error": {"code": "BotError", "message": str(exc)}}, 500)
        return Response(status_code=200)


class BotDelivery:
    """Posts activities to the bot: ``bot_url`` when given, else the built-in bot (through ``transport``: in-process
    without a socket, over it otherwise, trusting the emulator's own CA under https).

    ``token`` gives the channel token for an activity (None, or a ``token`` returning None: no Authorization
    header). The result of an ``invoke`` carries the bot's JSON body.
    """

    def __init__(
        self,
        *,
        bot_url: str | None,
        builtin_url: Callable[[], str],
        transport: TransportSource,
        timeout: float = 15.0,
        token: Callable[[dict[str, Any]], str | None] | None = None,
    ) -> None:
        self.bot_url = bot_url
        self.timeout = timeout
        self.token = token
        self._builtin_url = builtin_url
        self._transport = transport
        self._network: httpx.AsyncClient | None = None
        #: the client reaching the built-in bot, and the URL it was made for
        self._builtin: tuple[str, httpx.AsyncClient] | None = None
        #: every activity delivered (most recent last, at most 200), for tests
        self.delivered: collections.deque[dict[str, Any]] = collections.deque(maxlen=200)

    @property
    def url(self) -> str:
        """Where activities are delivered: the bot's URL, or the built-in echo bot's."""
        return self.bot_url or self._builtin_url()

    async def _client(self) -> httpx.AsyncClient:
        if self.bot_url:
            if self._network is None:
                self._network = httpx.AsyncClient(timeout=self.timeout, trust_env=False)
            return self._network
        url = self._builtin_url()
        if self._builtin is not None and self._builtin[0] != url:
            # the emulator started serving a socket since: its in-process client is of no use any more
            stale, self._builtin = self._builtin[1], None
            await stale.aclose()
        if self._builtin is None:
            client = httpx.AsyncClient(transport=self._transport(), timeout=self.timeout, trust_env=False)
            self._builtin = (url, client)
        return self._builtin[1]

    async def __call__(self, activity: dict[str, Any]) -> DeliveryResult:
        self.delivered.append(activity)
        token = self.token(activity) if self.token is not None else None
        headers = {"Authorization": f"Bearer {token}"} if token else None
        try:
            response = await (await self._client()).post(self.url, json=activity, headers=headers)
        except httpx.TimeoutException:
            return DeliveryResult(None, "the bot timed out")
        except httpx.HTTPError as exc:
            return DeliveryResult(None, f"the bot is unreachable: {type(exc).__name__}")
        body = _invoke_body(response) if _answered_inline(activity) else None
        return DeliveryResult(response.status_code, f"the bot answered {response.status_code}", body)

    async def aclose(self) -> None:
        """Close the HTTP clients used to deliver activities to the bot."""
        clients = [self._network, self._builtin[1] if self._builtin is not None else None]
        self._network = self._builtin = None
        for client in clients:
            if client is not None:
                await client.aclose()


def _answered_inline(activity: dict[str, Any]) -> bool:
    """An invoke, or an activity sent with ``deliveryMode: expectReplies``: the bot answers it in the HTTP response."""
    return activity.get("type") == "invoke" or activity.get("deliveryMode") == "expectReplies"


def _invoke_body(response: httpx.Response) -> Any:
    """The JSON body of the bot's answer to an invoke, or None (empty, not JSON, too large)."""
    if not response.content.strip() or len(response.content) > MAX_INVOKE_BODY:
        return None
    try:
        return json.loads(response.content)
    except (ValueError, RecursionError):
        return None


class OAuthIssuer:
    """The emulator's stand-in for Azure AD's client-credentials endpoint, and the check of the tokens it issued.

    Tokens are RS256 JWTs signed by ``signing`` (a :class:`~botconnect.emulator.signing.SigningService` of its own
    when not given). The Connector endpoints accept a token signed by a published key, unexpired by ``clock``, for
    the Connector's audience and this ``app_id``.
    """

    def __init__(
        self,
        app_id: str | None,
        app_password: str | None,
        faults: Faults,
        clock: Callable[[], float] = time.time,
        *,
        signing: SigningService | None = None,
    ) -> None:
        if (app_id is None) != (app_password is None):
            raise ValueError("give both app_id and app_password, or neither")
        self.app_id = app_id
        self.app_password = app_password
        self.faults = faults
        self.clock = clock
        self.signing = signing or SigningService(app_id=app_id, faults=faults, base_url=lambda: "http://localhost")

    @property
    def required(self) -> bool:
        """Whether Connector calls must carry a token from this issuer (an app id is set)."""
        return self.app_id is not None

    def issue(self, audience: str = CONNECTOR_AUDIENCE, client_id: str | None = None) -> tuple[str, int]:
        """A token for ``client_id`` (default: the emulator's app id) to call ``audience``, and its lifetime."""
        lifetime = int(self.faults.lifetime(3600))
        client = client_id or self.app_id or "emulator-client"
        issued_at = self.clock()
        token = self.signing.access_token(audience=audience, client_id=client, issued_at=issued_at, lifetime=lifetime)
        return token, lifetime

    def check(self, request: Request) -> Response | None:
        """None when the call may proceed (anonymous calls are fine unless app credentials were configured)."""
        if not self.required:
            return None
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not self.signing.verify_access_token(
            token.strip(), audience=CONNECTOR_AUDIENCE, client_id=self.app_id, now=self.clock()
        ):
            return error(401, "Unauthorized", "Authorization has been denied for this request.")
        return None

    def routes(self) -> list[BaseRoute]:
        """The Starlette route of the Entra-like token endpoint."""
        return [Route("/{tenant}/oauth2/v2.0/token", self._token, methods=["POST"])]

    async def _token(self, request: Request) -> Response:
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        client_id = form.get("client_id", [""])[0]
        client_secret = form.get("client_secret", [""])[0]
        if form.get("grant_type", [""])[0] != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        known = self.app_id is None or (
            secrets.compare_digest(client_id, self.app_id)
            and secrets.compare_digest(client_secret, self.app_password or "")
        )
        if not client_id or not known:
            return JSONResponse(
                {"error": "invalid_client", "error_description": "unknown client id or wrong secret"}, status_code=401
            )
        scopes = form.get("scope", [""])[0].split()
        # lenient where Azure AD is strict: no scope means the Connector's
        scope = scopes[0] if scopes else CONNECTOR_AUDIENCE + "/.default"
        if len(scopes) > 1 or not scope.endswith("/.default") or scope == "/.default":
            return JSONResponse(
                {"error": "invalid_scope", "error_description": "client credentials need one '<resource>/.default'"},
                status_code=400,
            )
        token, lifetime = self.issue(scope.removesuffix("/.default"), client_id)
        body = {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": token}
        return JSONResponse(body)
