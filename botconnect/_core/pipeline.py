"""One call, decided once: auth, headers, timeouts, retries, error mapping.

``call_flow`` is a generator that yields I/O *actions* and receives their results (as httpx's auth flows
do). The sync pipeline drives it with blocking calls, the async pipeline with awaits; neither makes a single
decision of its own, so the two façades cannot drift apart.
"""

from __future__ import annotations

import datetime
import logging
import platform
import time
from collections.abc import Callable, Generator
from typing import Any, TypeVar

import attrs
import httpx

from .._version import __version__
from ..errors import (
    BotConnectError,
    ServiceRequestError,
    ServiceRequestTimeoutError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
)
from .operation import Operation
from .responses import error_from_response
from .retry import RetryPolicy
from .security import HostAllowList, ensure_safe_for_credentials, without_credentials

__all__ = [
    "AcquireToken",
    "Action",
    "CallConfig",
    "ReadBody",
    "Send",
    "Sleep",
    "call_flow",
    "default_user_agent",
    "finish_direct_send",
    "make_timeout",
    "token_string",
]

T = TypeVar("T")

logger = logging.getLogger("botconnect")
_httpx_logger = logging.getLogger("httpx")

DEFAULT_TIMEOUT = 30.0
_REDACTED_HEADERS = frozenset({"authorization", "cookie", "set-cookie", "x-ms-client-secret"})


def default_user_agent(prefix: str | None = None) -> str:
    agent = f"botconnect-python/{__version__} httpx/{httpx.__version__} Python/{platform.python_version()}"
    return f"{prefix} {agent}" if prefix else agent


def make_timeout(timeout: float | httpx.Timeout | None) -> httpx.Timeout:
    if isinstance(timeout, httpx.Timeout):
        return timeout
    if timeout is None:
        return httpx.Timeout(DEFAULT_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    return httpx.Timeout(float(timeout))


@attrs.frozen
class CallConfig:
    """Per-client settings every call needs; ``evolve``-d for per-call overrides."""

    user_agent: str = attrs.field(factory=default_user_agent)
    timeout: httpx.Timeout = attrs.field(factory=lambda: httpx.Timeout(DEFAULT_TIMEOUT))
    retry_policy: RetryPolicy = attrs.field(factory=RetryPolicy)
    #: scopes passed to ``credential.get_token``; None means the client is anonymous
    scopes: tuple[str, ...] | None = None
    #: hosts a credential may be sent to (None: any https host, or loopback over http)
    trusted_hosts: HostAllowList | None = None
    #: extra headers for every request (e.g. api-version style headers)
    headers: tuple[tuple[str, str], ...] = ()
    clock: Callable[[], float] = time.monotonic

    def for_call(
        self, *, timeout: float | httpx.Timeout | None = None, retry_policy: RetryPolicy | None = None
    ) -> CallConfig:
        if timeout is None and retry_policy is None:
            return self
        if retry_policy is not None and not isinstance(retry_policy, RetryPolicy):
            raise TypeError(f"retry_policy must be a RetryPolicy, got {type(retry_policy).__name__}")
        return attrs.evolve(
            self,
            timeout=make_timeout(timeout) if timeout is not None else self.timeout,
            retry_policy=retry_policy if retry_policy is not None else self.retry_policy,
        )


# -- actions the drivers perform ----------------------------------------------------------------------------


# Plain slotted classes, not attrs: one is built per call and per attempt, and they are never compared or copied.


class Send:
    """Send ``request``; answer with the ``httpx.Response`` (body read unless ``stream``) or throw the error."""

    __slots__ = ("follow_redirects", "request", "stream")

    def __init__(self, request: httpx.Request, stream: bool, follow_redirects: bool) -> None:
        self.request = request
        self.stream = stream
        self.follow_redirects = follow_redirects

    def __repr__(self) -> str:
        return f"Send({self.request!r}, stream={self.stream}, follow_redirects={self.follow_redirects})"


class ReadBody:
    """Read (then close) the body of a streamed response; answer with None."""

    __slots__ = ("response",)

    def __init__(self, response: httpx.Response) -> None:
        self.response = response

    def __repr__(self) -> str:
        return f"ReadBody({self.response!r})"


class Sleep:
    __slots__ = ("seconds",)

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def __repr__(self) -> str:
        return f"Sleep({self.seconds!r})"


class AcquireToken:
    """Ask the credential for a bearer token for ``scopes``; answer with the token string."""

    __slots__ = ("scopes",)

    def __init__(self, scopes: tuple[str, ...]) -> None:
        self.scopes = scopes

    def __repr__(self) -> str:
        return f"AcquireToken({self.scopes!r})"


Action = Send | ReadBody | Sleep | AcquireToken


def _translate_transport_error(exc: httpx.RequestError) -> tuple[BotConnectError, bool]:
    """Our error for an httpx failure, and whether a connection had been made (the server may have acted)."""
    if isinstance(exc, httpx.DecodingError):
        return ServiceResponseError(f"the response body could not be decoded: {exc}"), True
    if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
        return ServiceRequestTimeoutError(f"timed out connecting: {exc}"), False
    if isinstance(exc, httpx.ConnectError):
        return ServiceRequestError(f"could not connect: {exc}"), False
    if isinstance(exc, httpx.TimeoutException):
        return ServiceResponseTimeoutError(f"timed out waiting for the response: {exc}"), True
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.LocalProtocolError):
        return ServiceRequestError(f"could not send the request: {exc}"), False
    return ServiceResponseError(f"the connection failed before a complete response: {exc}"), True


def _log_request(request: httpx.Request, attempt: int) -> None:
    if logger.isEnabledFor(logging.DEBUG):
        headers = {k: ("<redacted>" if k.lower() in _REDACTED_HEADERS else v) for k, v in request.headers.items()}
        logger.debug("request %s %s attempt=%d headers=%s", request.method, _safe_url(request.url), attempt, headers)


def _safe_url(url: httpx.URL) -> str:
    # query strings can carry tokens (Direct Line stream URLs): log the path only
    return str(url.copy_with(query=None)) + ("?<query>" if url.query else "")


def call_flow(operation: Operation[T], config: CallConfig) -> Generator[Action, Any, T]:
    """Run one operation to its parsed result, yielding I/O actions for a driver to perform."""
    request = operation.request
    request.headers.setdefault("User-Agent", config.user_agent)
    for name, value in config.headers:
        request.headers.setdefault(name, value)
    request.extensions = {**request.extensions, "timeout": config.timeout.as_dict()}
    policy = config.retry_policy
    started = config.clock()
    attempt = 0
    while True:
        attempt += 1
        if operation.authenticate and config.scopes is not None:
            ensure_safe_for_credentials(request.url, config.trusted_hosts)
            token = yield AcquireToken(config.scopes)
            request.headers["Authorization"] = f"Bearer {token}"
        _log_request(request, attempt)
        try:
            response: httpx.Response = yield Send(request, operation.stream, operation.follow_redirects)
        except (httpx.RequestError, httpx.TooManyRedirects) as exc:
            if isinstance(exc, httpx.TooManyRedirects):
                raise ServiceResponseError(f"too many redirects: {exc}") from exc
            error, connected = _translate_transport_error(exc)
            delay = policy.decide_transport_error(
                attempt=attempt,
                connected=connected,
                idempotent=operation.idempotent,
                elapsed=config.clock() - started,
            )
            if delay is None:
                raise error from exc
            logger.info("retrying %s %s in %.2fs after %s", request.method, _safe_url(request.url), delay, error)
            yield Sleep(delay)
            continue
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("response %s %s -> %d", request.method, _safe_url(request.url), response.status_code)
        if response.status_code in operation.success:
            try:
                return operation.parse(response)
            except BotConnectError:
                response.request = without_credentials(request)
                raise
        if operation.stream:
            yield ReadBody(response)
        failure = error_from_response(response)
        delay = policy.decide_status(
            attempt=attempt,
            status_code=response.status_code,
            retry_after=failure.retry_after,
            idempotent=operation.idempotent,
            elapsed=config.clock() - started,
        )
        if delay is None:
            failure.response.request = without_credentials(request)
            raise failure
        logger.info(
            "retrying %s %s in %.2fs after status %d",
            request.method,
            _safe_url(request.url),
            delay,
            response.status_code,
        )
        yield Sleep(delay)


# -- what both drivers do around the I/O ----------------------------------------------------------------------


def token_string(result: Any) -> str:
    """The bearer token out of whatever ``credential.get_token`` returned."""
    token = result if isinstance(result, str) else getattr(result, "token", None)
    if not isinstance(token, str) or not token:
        raise TypeError("credential.get_token() must return an AccessToken (with .token) or a str")
    return token


def finish_direct_send(response: httpx.Response, started: float) -> None:
    """What ``httpx.Client.send`` would have done after a call sent straight to the transport: ``elapsed`` (from
    ``time.perf_counter()`` at ``started``), and httpx's INFO log line, which users may watch."""
    response.elapsed = datetime.timedelta(seconds=time.perf_counter() - started)
    if _httpx_logger.isEnabledFor(logging.INFO):
        request = response.request
        _httpx_logger.info(
            'HTTP Request: %s %s "%s %d %s"',
            request.method,
            request.url,
            response.http_version,
            response.status_code,
            response.reason_phrase,
        )
