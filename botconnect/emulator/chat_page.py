"""The chat page at the emulator's root URL: hand-written HTML, CSS and JavaScript shipped as package data
(``botconnect/emulator/static``), no build step and nothing fetched from elsewhere, so it works offline.

The page is a Direct Line client like Web Chat: it asks ``/_emulator/chat/config`` for the secret (loopback
callers only), trades it for a token at ``tokens/generate``, starts the conversation, reads the WebSocket stream
and posts activities and uploads; beside the chat it shows the activity inspector
(:mod:`botconnect.emulator.inspector`). A strict Content-Security-Policy keeps every script to the page's own files.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from .connector import error
from .inspector import INSPECTOR_PATH

__all__ = ["CHAT_ASSET_PREFIX", "ChatPage"]

CHAT_ASSET_PREFIX = "/_emulator/chat"
_ASSETS = {
    "chat.js": "text/javascript; charset=utf-8",
    "render.js": "text/javascript; charset=utf-8",
    "chat.css": "text/css; charset=utf-8",
}
_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self' ws: wss:; "
    "img-src 'self' data: blob: http: https:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
_HEADERS = {"Content-Security-Policy": _POLICY, "X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}


def _asset(name: str) -> bytes:
    return (resources.files("botconnect.emulator") / "static" / name).read_bytes()


class ChatPage:
    """``GET /`` (the page), its assets and its configuration; ``secret`` and ``bot_account`` are read per request
    (they may change after construction)."""

    def __init__(self, *, secret: Callable[[], str], bot_account: Callable[[], dict[str, Any]]) -> None:
        self._secret = secret
        self._bot_account = bot_account

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/", self._page, methods=["GET"]),
            Route(CHAT_ASSET_PREFIX + "/config", self._config, methods=["GET"]),
            Route(CHAT_ASSET_PREFIX + "/{name}", self._static, methods=["GET"]),
        ]

    async def _page(self, request: Request) -> Response:
        return Response(_asset("index.html"), media_type="text/html; charset=utf-8", headers=_HEADERS)

    async def _static(self, request: Request) -> Response:
        name = request.path_params["name"]
        media_type = _ASSETS.get(name)
        if media_type is None:
            return error(404, "NotFound", f"no such file: {name}")
        return Response(_asset(name), media_type=media_type, headers=_HEADERS)

    async def _config(self, request: Request) -> Response:
        from botconnect._core.security import is_loopback

        client = request.client.host if request.client is not None else ""
        if not is_loopback(client):
            return error(403, "Forbidden", "the chat page's configuration is given to loopback callers only")
        bot = self._bot_account()
        body = {
            "directLine": {"domain": "/v3/directline", "secret": self._secret()},
            "bot": {"id": bot.get("id"), "name": bot.get("name")},
            "inspector": INSPECTOR_PATH,
        }
        return JSONResponse(body, headers={"Cache-Control": "no-store"})
