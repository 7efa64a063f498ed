"""Cross-origin access to the emulator, for web pages (Web Chat, DirectLineJS) served from another origin.

Browsers send an ``Origin`` header on cross-origin requests and WebSocket upgrades. An allowed origin gets its
preflights (``OPTIONS`` with ``Access-Control-Request-Method``) answered and every response marked readable for it:
the origin echoed in ``Access-Control-Allow-Origin`` with ``Access-Control-Allow-Credentials: true`` (DirectLineJS
calls ``getsessionid`` with ``withCredentials``, which a wildcard would not satisfy). By default only loopback
origins are allowed (``http``/``https`` on ``localhost``, ``127.0.0.1`` or ``[::1]``, any port) and the emulator's
own origin: a wildcard would let any page the developer visits drive the emulator with its well-known secret. Any
other origin is refused outright -- preflight, request and WebSocket upgrade alike answer 403 -- so a foreign page
cannot act through requests that need no preflight either. Requests without ``Origin`` (every non-browser client)
pass untouched.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from urllib.parse import urlsplit

from .faults import ASGIApp, Message, Receive, Scope, Send

__all__ = ["ALLOWED_HEADERS", "ALLOWED_METHODS", "CorsMiddleware", "normalize_origin"]

ALLOWED_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
#: what Web Chat, DirectLineJS and the Azure SDKs send (requested headers are allowed too, for allowed origins)
ALLOWED_HEADERS = (
    "Authorization, Content-Type, Content-Disposition, Accept, x-ms-bot-agent, x-requested-with, "
    "x-ms-client-request-id, x-ms-useragent, x-ms-date, x-ms-content-sha256, x-ms-return-client-request-id"
)
EXPOSED_HEADERS = "Retry-After, Location, x-ms-request-id, x-ms-client-request-id"
#: seconds a browser may cache a preflight answer (Chromium caps it at 7200)
MAX_AGE = "7200"
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})


def normalize_origin(origin: str) -> str:
    """``origin`` as browsers send it (``scheme://host[:port]``, lower case, default port dropped), or ValueError.

    ``null`` (pages from ``file://``, sandboxed frames) is an origin too.
    """
    if not isinstance(origin, str):
        raise TypeError(f"an origin must be a str, got {type(origin).__name__}")
    text = origin.strip()
    if text == "null":
        return text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"not an origin: {origin!r}") from exc
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an origin: {origin!r} (want scheme://host[:port])")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"not an origin: {origin!r} (no path, query or credentials)")
    scheme = parts.scheme.lower()
    host = parts.hostname.lower()
    host = f"[{host}]" if ":" in host else host
    default = 443 if scheme == "https" else 80
    return f"{scheme}://{host}" + (f":{port}" if port is not None and port != default else "")


def _is_loopback_origin(origin: str) -> bool:
    """``origin`` (normalized) is on a loopback host."""
    authority = origin.partition("://")[2]
    host = authority[: authority.index("]") + 1] if authority.startswith("[") else authority.partition(":")[0]
    return host in _LOOPBACK_HOSTS


class CorsMiddleware:
    """Answers preflights, marks responses readable for allowed origins, refuses other origins (see the module)."""

    def __init__(self, app: ASGIApp, origins: Iterable[str] = ()) -> None:
        self.app = app
        self.origins = frozenset(normalize_origin(origin) for origin in origins)

    def allows(self, origin: str, scope: Scope | None = None) -> bool:
        """Whether a page from ``origin`` may use the emulator (loopback, configured, or the emulator's own)."""
        try:
            normalized = normalize_origin(origin)
        except (TypeError, ValueError):
            return False
        if normalized in self.origins:
            return True
        if normalized == "null":
            return False
        if _is_loopback_origin(normalized):
            return True
        return scope is not None and normalized == _own_origin(scope)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        origin = _header(scope, b"origin")
        if origin is None:
            await self.app(scope, receive, send)
            return
        allowed = self.allows(origin, scope)
        if scope["type"] == "websocket":
            if allowed:
                await self.app(scope, receive, send)
                return
            message = await receive()  # websocket.connect; closing before accepting answers the upgrade with 403
            if message["type"] == "websocket.connect":
                await send({"type": "websocket.close", "code": 1008})
            return
        preflight = scope["method"] == "OPTIONS" and _header(scope, b"access-control-request-method") is not None
        if not allowed:
            await _refuse(send, origin)
            return
        grant = [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-allow-credentials", b"true"),
            (b"vary", b"Origin"),
        ]
        if preflight:
            requested = _header(scope, b"access-control-request-headers")
            allowed_headers = ALLOWED_HEADERS + (f", {requested}" if requested else "")
            headers = [
                *grant,
                (b"access-control-allow-methods", ALLOWED_METHODS.encode()),
                (b"access-control-allow-headers", allowed_headers.encode("latin-1")),
                (b"access-control-max-age", MAX_AGE.encode()),
                (b"content-length", b"0"),
            ]
            await send({"type": "http.response.start", "status": 204, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        grant.append((b"access-control-expose-headers", EXPOSED_HEADERS.encode()))

        async def send_granted(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                varies = [bytes(v) for k, v in headers if k.lower() == b"vary"]
                kept = [(k, v) for k, v in headers if k.lower() != b"vary"]
                vary = b", ".join([*varies, b"Origin"])
                message = {**message, "headers": kept + [(k, vary if k == b"vary" else v) for k, v in grant]}
            await send(message)

        await self.app(scope, receive, send_granted)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _own_origin(scope: Scope) -> str | None:
    """The origin the request was sent to (its Host), as the emulator's own chat page has it."""
    host = _header(scope, b"host")
    if not host:
        return None
    secure = scope.get("scheme") in ("https", "wss")
    try:
        return normalize_origin(f"{'https' if secure else 'http'}://{host}")
    except ValueError:
        return None


async def _refuse(send: Send, origin: str) -> None:
    body = json.dumps(
        {"error": {"code": "Forbidden", "message": f"origin {origin!r} may not use this emulator (--cors-origin)"}}
    ).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 403, "headers": headers})
    await send({"type": "http.response.body", "body": body})
