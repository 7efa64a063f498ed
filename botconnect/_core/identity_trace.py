"""The identity client's network trace (azure-core's ``logging_enable=True``), with every token redacted.

azure-core's trace prints request and response bodies as they are; the identity service's bodies are tokens (the
ACS tokens it issues, the Teams user's Entra ID token sent to it), so here every JSON string under a ``token`` key
is ``<redacted>`` and a body that is not JSON is not shown. The Authorization header is added after the request
is traced (the signature, or an Entra ID bearer token), so it never appears either.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import attrs
import httpx

from .operation import Operation

__all__ = ["IdentityTrace", "redacted_body"]

T = TypeVar("T")

logger = logging.getLogger("botconnect.identity")
_REDACTED = "<redacted>"


def redacted_body(content: bytes) -> str:
    """``content`` for a log line: JSON with the values of ``token`` keys replaced; other bodies not shown."""
    if not content.strip():
        return ""
    try:
        data = json.loads(content)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return f"<{len(content)} bytes, not JSON: not shown>"
    return json.dumps(_scrub(data), ensure_ascii=False)


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _REDACTED if k.lower() == "token" and isinstance(v, str) else _scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(item) for item in value]
    return value


def _logger(value: Any) -> logging.Logger | None:
    if value is not None and not isinstance(value, logging.Logger):
        raise TypeError(f"logger must be a logging.Logger, got {type(value).__name__}")
    return value


@attrs.frozen
class IdentityTrace:
    """Whether (and where) a client or a call traces its requests and responses at DEBUG."""

    enabled: bool = False
    logger: logging.Logger | None = None

    @classmethod
    def take(cls, kwargs: dict[str, Any]) -> IdentityTrace:
        """A client's trace settings, removed from its keyword arguments (``logging_enable``, ``logger``)."""
        return cls(bool(kwargs.pop("logging_enable", False)), _logger(kwargs.pop("logger", None)))

    def for_call(self, kwargs: dict[str, Any]) -> IdentityTrace:
        """The trace of one call: its own ``logging_enable`` / ``logger`` over the client's (removed from kwargs)."""
        if "logging_enable" not in kwargs and "logger" not in kwargs:
            return self
        enabled = bool(kwargs.pop("logging_enable", self.enabled))
        return IdentityTrace(enabled, _logger(kwargs.pop("logger", None)) or self.logger)

    @property
    def _log(self) -> logging.Logger:
        return self.logger or logger

    def wrap(self, operation: Operation[T]) -> Operation[T]:
        """Trace ``operation``'s request now and its success response when parsed."""
        if not self.enabled or not self._log.isEnabledFor(logging.DEBUG):
            return operation
        log, request = self._log, operation.request
        log.debug("Request URL: %r", str(request.url))
        log.debug("Request method: %r", request.method)
        log.debug("Request headers: %r", dict(request.headers))
        log.debug("Request body: %r", redacted_body(request.content))
        parse: Callable[[httpx.Response], T] = operation.parse

        def traced(response: httpx.Response) -> T:
            self.response(response)
            return parse(response)

        return attrs.evolve(operation, parse=traced)

    def response(self, response: httpx.Response) -> None:
        if not self.enabled or not self._log.isEnabledFor(logging.DEBUG):
            return
        self._log.debug("Response status: %r", response.status_code)
        self._log.debug("Response headers: %r", dict(response.headers))
        self._log.debug("Response content: %r", redacted_body(response.content))
