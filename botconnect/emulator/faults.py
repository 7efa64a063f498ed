"""Fault injection: latency, error rates, 429/503 with Retry-After, dropped connections and sockets, short tokens.

A :class:`Faults` object holds the rules; :class:`FaultMiddleware` applies them to every request the emulator
serves (paths under ``/_`` -- the built-in bot and control routes -- are never touched). Rules match a path prefix
and fire with a probability drawn from one seeded random generator, so a run with the same ``seed`` and the same
request order misbehaves the same way. Change the rules at any time, from any thread.

From the command line (``--fault``, repeatable) a rule is ``KIND[:PREFIX[:RATE[:ARG]]]``:

* an HTTP status (``429``, ``503``, ``500``...): answer with that status and the service's error body; ARG is the
  ``Retry-After`` in seconds (429 and 503 get 1 second when no ARG is given). On a WebSocket path the upgrade is
  refused.
* ``drop``: close the connection without answering; nothing is processed. On a WebSocket path, each frame the
  server is about to send cuts the socket (close 1011) with probability RATE instead.
* ``drop-response``: process the request, then close the connection instead of answering (the client cannot tell
  whether its request took effect).
* ``latency``: wait ARG seconds (default 0.1) before processing.

e.g. ``429:/v3/conversations:0.1:2`` answers one Connector request in ten with 429 and ``Retry-After: 2``.

:attr:`Faults.token` (``--token-fault``) spoils the channel token of every delivery to the bot (when the emulator
has an app id and so signs them): ``expired`` (``exp`` an hour ago), ``wrong_audience`` (``aud`` another app id),
``unknown_kid`` (signed with a key the key set does not publish) or ``missing_endorsement`` (signed with a
published key endorsed for none of the emulator's channels).
"""

from __future__ import annotations

import contextlib
import json
import random
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio
import anyio.lowlevel
import attrs

__all__ = ["TOKEN_FAULTS", "DroppedConnection", "FaultMiddleware", "FaultRule", "Faults"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_KINDS = ("drop", "drop-response", "latency")
#: what :attr:`Faults.token` can do to the channel token of a delivery
TOKEN_FAULTS = ("expired", "wrong_audience", "unknown_kid", "missing_endorsement")
_CODES = {
    400: "BadArgument",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    408: "RequestTimeout",
    409: "Conflict",
    429: "TooManyRequests",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}


class DroppedConnection(Exception):
    """Raised through in-process transports where a socket would have been closed (they turn it into an httpx error)."""


@attrs.define
class FaultRule:
    """One misbehaviour: ``kind`` is an HTTP status as a string (``"429"``), ``"drop"``, ``"drop-response"`` or
    ``"latency"``; it fires on paths starting with ``prefix`` with probability ``rate``."""

    kind: str
    prefix: str = "/"
    rate: float = 1.0
    #: Retry-After seconds (status kinds; None: 1 s for 429 and 503, no header otherwise)
    retry_after: float | None = None
    #: seconds to wait (``latency``)
    delay: float = 0.1

    def __attrs_post_init__(self) -> None:
        if self.kind not in _KINDS and not (self.kind.isdigit() and 400 <= int(self.kind) <= 599):
            raise ValueError(f"unknown fault kind {self.kind!r}: an HTTP status 400-599, drop, drop-response, latency")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"a fault rate is between 0 and 1, got {self.rate}")
        if not self.prefix.startswith("/"):
            raise ValueError(f"a fault path prefix starts with '/', got {self.prefix!r}")
        if self.delay < 0 or (self.retry_after is not None and self.retry_after < 0):
            raise ValueError("fault delays are not negative")

    @property
    def status(self) -> int | None:
        """The HTTP status the rule answers with, or None for drop and latency rules."""
        return int(self.kind) if self.kind.isdigit() else None

    @classmethod
    def parse(cls, spec: str) -> FaultRule:
        """A rule from ``KIND[:PREFIX[:RATE[:ARG]]]`` (see the module docs)."""
        parts = spec.strip().split(":")
        if not parts[0] or len(parts) > 4:
            raise ValueError(f"a fault is KIND[:PREFIX[:RATE[:ARG]]], got {spec!r}")
        kind = parts[0].lower()
        prefix = parts[1] if len(parts) > 1 and parts[1] else "/"
        try:
            rate = float(parts[2]) if len(parts) > 2 and parts[2] else 1.0
            arg = float(parts[3]) if len(parts) > 3 and parts[3] else None
        except ValueError:
            raise ValueError(f"a fault's RATE and ARG are numbers, got {spec!r}") from None
        if kind == "latency":
            return cls(kind, prefix, rate, delay=0.1 if arg is None else arg)
        return cls(kind, prefix, rate, retry_after=arg)


@attrs.define
class _Decision:
    delay: float = 0.0
    rule: FaultRule | None = None
    #: WebSocket paths: drop rules, each frame rolls against them
    frame_drops: list[FaultRule] = attrs.field(factory=list)


class Faults:
    """The emulator's fault configuration; every attribute may be changed at any time, from any thread.

    ``latency`` delays every request; ``error_rate`` answers that fraction of requests with 500;
    ``token_lifetime`` (seconds) shortens the lifetime of Direct Line, OAuth, channel and ACS tokens issued from
    then on; ``token`` (one of :data:`TOKEN_FAULTS`, or None) spoils the channel token of every delivery.
    """

    def __init__(
        self,
        *,
        latency: float = 0.0,
        error_rate: float = 0.0,
        seed: int | None = None,
        rules: list[FaultRule] | None = None,
        token_lifetime: float | None = None,
        token: str | None = None,
    ) -> None:
        if latency < 0 or not 0.0 <= error_rate <= 1.0:
            raise ValueError("latency is not negative and error_rate is between 0 and 1")
        self.latency = latency
        self.error_rate = error_rate
        self.token_lifetime = token_lifetime
        self._token: str | None = None
        self.token = token
        self.rules: list[FaultRule] = list(rules or [])
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        #: how many times each kind fired (``"429"``, ``"drop"``, ``"error"``...), for tests
        self.fired: dict[str, int] = {}

    def seed(self, seed: int | None) -> None:
        """Restart the random sequence (the same seed and request order give the same faults)."""
        with self._lock:
            self._random = random.Random(seed)

    def add(
        self,
        kind: str | int,
        prefix: str = "/",
        rate: float = 1.0,
        *,
        retry_after: float | None = None,
        delay: float = 0.1,
    ) -> FaultRule:
        """Add a rule (``kind``: an HTTP status, ``"drop"``, ``"drop-response"`` or ``"latency"``) and return it."""
        rule = FaultRule(str(kind).lower(), prefix, rate, retry_after=retry_after, delay=delay)
        with self._lock:
            self.rules.append(rule)
        return rule

    def remove(self, rule: FaultRule) -> None:
        """Stop applying a rule added earlier."""
        with self._lock:
            self.rules.remove(rule)

    def clear(self) -> None:
        """No more faults: rules, latency, error rate and token lifetime are reset (the counts too)."""
        with self._lock:
            self.rules.clear()
            self.latency = 0.0
            self.error_rate = 0.0
            self.token_lifetime = None
            self._token = None
            self.fired = {}

    @property
    def token(self) -> str | None:
        """The fault applied to the channel token of each delivery (one of :data:`TOKEN_FAULTS`), or None."""
        return self._token

    @token.setter
    def token(self, value: str | None) -> None:
        if value is not None and value not in TOKEN_FAULTS:
            raise ValueError(f"unknown token fault {value!r}: one of {', '.join(TOKEN_FAULTS)}, or None")
        self._token = value

    def token_fault(self) -> str | None:
        """The token fault for the delivery being signed now (counted in :attr:`fired` as ``token:<fault>``)."""
        with self._lock:
            fault = self._token
            if fault is not None:
                self._count(f"token:{fault}")
            return fault

    def lifetime(self, default: float) -> float:
        """A token's lifetime: ``default``, unless shortened by :attr:`token_lifetime`."""
        short = self.token_lifetime
        return default if short is None else min(default, short)

    def _decide(self, path: str, websocket: bool) -> _Decision:
        with self._lock:
            decision = _Decision(delay=self.latency)
            if self.error_rate and self._random.random() < self.error_rate:
                decision.rule = FaultRule("500")
                self._count("error")
            for rule in self.rules:
                if not path.startswith(rule.prefix):
                    continue
                if websocket and rule.kind in ("drop", "drop-response"):
                    decision.frame_drops.append(rule)
                    continue
                if self._random.random() >= rule.rate:
                    continue
                if rule.kind == "latency":
                    decision.delay += rule.delay
                    self._count("latency")
                elif decision.rule is None:
                    decision.rule = rule
                    self._count(rule.kind)
            return decision

    def _roll_frame_drop(self, rules: list[FaultRule]) -> bool:
        with self._lock:
            for rule in rules:
                if self._random.random() < rule.rate:
                    self._count("drop")
                    return True
            return False

    def _count(self, kind: str) -> None:
        self.fired[kind] = self.fired.get(kind, 0) + 1


def error_body(status: int, message: str | None = None) -> bytes:
    """The services' error shape: ``{"error": {"code", "message"}}``."""
    code = _CODES.get(status, "ServiceError")
    return json.dumps({"error": {"code": code, "message": message or f"injected fault: {status} {code}"}}).encode()


class FaultMiddleware:
    """ASGI middleware applying :class:`Faults` to HTTP requests and WebSocket connections."""

    def __init__(self, app: ASGIApp, faults: Callable[[], Faults]) -> None:
        self.app = app
        self._faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        path = str(scope.get("path", ""))
        if kind not in ("http", "websocket") or path.startswith("/_"):
            await self.app(scope, receive, send)
            return
        faults = self._faults()
        decision = faults._decide(path, websocket=kind == "websocket")
        if decision.delay > 0:
            await anyio.sleep(decision.delay)
        rule = decision.rule
        if kind == "websocket":
            await self._websocket(scope, receive, send, faults, decision)
            return
        if rule is None:
            await self.app(scope, receive, send)
        elif rule.kind == "drop":
            await _drop(receive)
        elif rule.kind == "drop-response":

            async def swallow(message: Message) -> None:
                return None

            await self.app(scope, receive, swallow)
            await _drop(receive)
        else:
            await _send_error(send, rule)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send, faults: Faults, decision: _Decision) -> None:
        if decision.rule is not None and decision.rule.status is not None:
            await send({"type": "websocket.close", "code": 1008})  # before accept: the upgrade is refused (403)
            return
        drops = decision.frame_drops
        if not drops:
            await self.app(scope, receive, send)
            return

        async def cutting_send(message: Message) -> None:
            if message["type"] == "websocket.send" and faults._roll_frame_drop(drops):
                await send({"type": "websocket.close", "code": 1011, "reason": "injected fault: drop"})
                raise DroppedConnection("injected fault: the socket was dropped")
            await send(message)

        with contextlib.suppress(DroppedConnection):
            await self.app(scope, receive, cutting_send)


async def _send_error(send: Send, rule: FaultRule) -> None:
    status = rule.status or 500
    body = error_body(status)
    headers = [(b"content-type", b"application/json; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    retry_after = rule.retry_after if rule.retry_after is not None else (1.0 if status in (429, 503) else None)
    if retry_after is not None:
        value = str(int(retry_after)) if float(retry_after).is_integer() else str(retry_after)
        headers.append((b"retry-after", value.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _drop(receive: Receive) -> None:
    """Close the client's connection without an answer (uvicorn), or raise :class:`DroppedConnection` in-process."""
    cycle = getattr(receive, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None or not callable(getattr(transport, "close", None)):
        raise DroppedConnection("injected fault: the connection was dropped")
    transport.close()
    for _ in range(20):  # let the server see the connection go, so it does not answer 500 on it
        if getattr(cycle, "disconnected", True):
            break
        await anyio.lowlevel.checkpoint()
