"""One ASGI app playing the channel: Direct Line at ``/v3/directline/...``, the Bot Connector at
``/v3/conversations/...`` and ``/v3/attachments/...``, ACS Chat at ``/chat/...`` (when
``botconnect.emulator.acs`` is present), an OAuth token endpoint, the OpenID metadata and keys of its signing keys
(:mod:`botconnect.emulator.signing`), and the built-in bot at ``/_bot/api/messages``.
``GET /_emulator`` describes what is served. Faults wrap it all (see :mod:`botconnect.emulator.faults`).
"""

from __future__ import annotations

import importlib
import ssl
import time
from collections.abc import Callable, Iterable
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from botconnect._core.auth import CloudSettings

from .bots import BotDelivery, EchoBot, OAuthIssuer
from .chat_page import ChatPage
from .connector import Connector, Store, error
from .cors import CorsMiddleware
from .directline import DirectLine
from .faults import ASGIApp, FaultMiddleware, Faults, Receive, Scope, Send
from .inspector import Inspector
from .signing import SigningService
from .teams import TeamsService
from .token_service import TokenService

__all__ = ["DEFAULT_BOT_ACCOUNT", "IN_PROCESS_URL", "EmulatorApp", "load_acs"]

DEFAULT_BOT_ACCOUNT: dict[str, Any] = {"id": "echo-bot", "name": "Echo Bot", "role": "bot"}
#: the base URL of an emulator without a socket (any loopback name would do: only its own transports reach it)
IN_PROCESS_URL = "http://emulator.localhost"


def load_acs() -> type[Any] | None:
    """``botconnect.emulator.acs.AcsChatService`` if that module is there and imports, else None."""
    try:
        module = importlib.import_module("botconnect.emulator.acs")
    except ImportError:
        return None
    service: type[Any] | None = getattr(module, "AcsChatService", None)
    return service


def _identity(acs: Any) -> Any:
    if acs is None:
        return None
    from .identity import IdentityService

    return IdentityService(acs)


class EmulatorApp:
    """The composed ASGI app and the services behind it (state is touched on the emulator's loop only)."""

    def __init__(
        self,
        *,
        secret: str = "dev-secret",  # noqa: S107 - the well-known secret of a local emulator
        token_lifetime: float = 1800,
        clock: Callable[[], float] = time.monotonic,
        bot: str | None = None,
        app_id: str | None = None,
        app_password: str | None = None,
        faults: Faults | None = None,
        channel_id: str = "directline",
        bot_account: dict[str, Any] | None = None,
        keepalive_interval: float | None = 30.0,
        acs: bool = True,
        oauth_connections: Iterable[str] = (),
        cors_origins: Iterable[str] = (),
        event_webhook: str | None = None,
    ) -> None:
        self.faults = faults or Faults()
        self.base_url = IN_PROCESS_URL
        self.serving = False
        #: while serving https: a client context trusting only the emulator's throwaway CA, for its own calls
        self.ssl_context: ssl.SSLContext | None = None
        self.store = Store(bot_account=bot_account or DEFAULT_BOT_ACCOUNT, channel_id=channel_id)
        self.store.service_url = self.base_url + "/"
        self.signing = SigningService(
            app_id=app_id, faults=self.faults, base_url=lambda: self.base_url, channel_ids=(channel_id,)
        )
        self.auth = OAuthIssuer(app_id, app_password, self.faults, signing=self.signing)
        self.connector = Connector(self.store, self.auth)
        #: the Microsoft Teams operations (a tenant, a team, a meeting, batch sends) on the Connector URL
        self.teams = TeamsService(self.store, self.auth)
        #: the user token service (OAuth sign-in, SSO) at the emulator's URL
        self.token_service = TokenService(
            self.auth, base_url=lambda: self.base_url, app_id=app_id, connections=oauth_connections
        )
        self.echo_bot: EchoBot | None = None
        if bot is None:
            self.echo_bot = EchoBot(
                transport=self._internal_transport,
                app_id=app_id,
                app_password=app_password,
                # in-process, any loopback URL reaches the token endpoint (the transport ignores the host)
                oauth_endpoint=lambda: self.base_url if self.serving else "http://localhost",
            )
        self.delivery = BotDelivery(
            bot_url=bot,
            builtin_url=lambda: self.base_url + EchoBot.PATH,
            transport=self._internal_transport,
            token=self.signing.channel_token,
        )
        self.directline = DirectLine(
            self.store,
            self.delivery,
            secret=secret,
            token_lifetime=token_lifetime,
            clock=clock,
            faults=self.faults,
            keepalive_interval=keepalive_interval,
        )
        service = load_acs() if acs else None
        #: the ACS Chat service (None when ``botconnect.emulator.acs`` is not available)
        self.acs: Any = service() if service is not None else None
        #: the ACS identity service issuing ``acs``'s tokens (None without ACS Chat)
        self.identity: Any = _identity(self.acs)
        if event_webhook is not None and self.acs is not None:
            from .events import EventDelivery

            resource = f"Microsoft.Communication/communicationServices/{self.acs.resource_id}"
            topic = f"/subscriptions/emulator/resourceGroups/emulator/providers/{resource}"
            self.acs.events = EventDelivery(event_webhook, topic=topic)
        routes: list[BaseRoute] = [Route("/_emulator", self._info, methods=["GET"])]
        routes += self.directline.routes() + self.connector.routes() + self.auth.routes() + self.signing.routes()
        routes += self.teams.routes()
        routes += self.token_service.routes()
        #: the activity inspector's feed (every activity to and from the bot), shown by the chat page at ``/``
        self.inspector = Inspector()
        self.directline.deliver = self.inspector.tap_delivery(self.directline.deliver)
        self.directline.on_bot_says = self.inspector.record_injected
        page = ChatPage(secret=lambda: self.directline.secret, bot_account=lambda: self.store.bot_account)
        routes += self.inspector.routes() + page.routes()
        if self.echo_bot is not None:
            routes += self.echo_bot.routes()
        if self.acs is not None:
            routes += self.acs.routes()
        if self.identity is not None:
            routes += self.identity.routes()
        self.starlette = Starlette(
            routes=routes, exception_handlers={HTTPException: _http_error, Exception: _server_error}
        )
        faulty = FaultMiddleware(self.inspector.tap_bot_calls(self.starlette), lambda: self.faults)
        #: browsers' cross-origin calls: loopback pages and ``cors_origins`` only (see :mod:`.cors`)
        self.cors = CorsMiddleware(faulty, cors_origins)
        self.asgi: ASGIApp = self.cors

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.asgi(scope, receive, send)

    def serve_at(self, base_url: str, *, socket: bool, ssl_context: ssl.SSLContext | None = None) -> None:
        """Where the emulator is reachable: its own calls (bot delivery, the echo bot's replies) go there, over
        https trusting ``ssl_context`` (the client side of its throwaway CA) and nothing else."""
        self.base_url = base_url.rstrip("/")
        self.serving = socket
        self.ssl_context = ssl_context
        self.store.service_url = self.base_url + "/"

    @property
    def cloud(self) -> CloudSettings:
        """``CloudSettings`` trusting this emulator: ``BotAuthenticator(app_id, cloud=app.cloud)`` (see
        :attr:`Emulator.cloud`)."""
        return self.signing.cloud

    def _internal_transport(self) -> httpx.AsyncBaseTransport:
        """A new transport into the emulator for one of its own clients, which closes it: in-process without a
        socket, else over the socket. Under https it trusts the emulator's CA only (not the system's or
        ``SSL_CERT_FILE``'s), and nothing else in the process trusts that CA because of it."""
        if not self.serving:
            return httpx.ASGITransport(app=self.asgi)
        from botconnect_aio._transport import AsyncHTTP11Transport  # the SDK's own transport, as a bot would use

        return AsyncHTTP11Transport(ssl_context=self.ssl_context)

    async def aclose(self) -> None:
        """Close the bot-side clients (on the emulator's loop)."""
        if self.echo_bot is not None:
            await self.echo_bot.aclose()
        await self.delivery.aclose()
        if self.acs is not None and self.acs.events is not None:
            await self.acs.events.aclose()

    def reset(self) -> None:
        """Forget every conversation, attachment and fault; reset the counters (tokens stay valid)."""
        self.store.reset()
        self.teams.reset()
        self.directline.reset()
        self.inspector.reset()
        self.faults.clear()
        self.delivery.delivered.clear()
        self.signing.hits.clear()
        self.token_service.reset()
        if self.echo_bot is not None:
            self.echo_bot.received.clear()
        if self.acs is not None:
            self.acs.reset()

    def describe(self) -> dict[str, Any]:
        """The endpoints and settings a client needs (what the CLI prints): URLs, the Direct Line secret, ACS, cloud."""
        return {
            "url": self.base_url,
            "directline": {"endpoint": self.base_url, "secret": self.directline.secret},
            "connector": {"serviceUrl": self.store.service_url, "appCredentials": self.auth.required},
            "acs": {"endpoint": self.base_url} if self.acs is not None else None,
            "bot": self.delivery.url,
            "tokenService": self.token_service.describe(),
            "auth": {
                "appId": self.auth.app_id,
                "channelOpenIdMetadataUrl": self.signing.channel_metadata_url,
                "emulatorOpenIdMetadataUrl": self.signing.entra_metadata_url,
                "tenantId": self.signing.tenant_id,
            },
        }

    async def _info(self, request: Request) -> Response:
        return JSONResponse(self.describe())


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    code = {404: "NotFound", 405: "MethodNotAllowed"}.get(status, "BadArgument")
    detail = exc.detail if isinstance(exc, HTTPException) else "error"
    headers = dict(exc.headers or {}) if isinstance(exc, HTTPException) else None  # 405 keeps its Allow header
    return error(status, code, f"{detail}: {request.method} {request.url.path}", headers)


async def _server_error(request: Request, exc: Exception) -> Response:
    return error(500, "InternalServerError", f"the emulator failed: {type(exc).__name__}")
