"""One call, decided once: auth, headers, timeouts, retries, error mapping.

``call_flow`` is a generator that yields I/O *actions* and receives their results (as httpx's auth flows
do). The sync pipeline drives it with blocking calls, the async pipeline with awaits; neither makes a single
decision of its own, so the two façades cannot drift apart.
"""

from __future__ import annotations

import datetime
import logging
import platform
import re
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
    "DeadlineExceeded",
    "ReadBody",
    "Send",
    "Sleep",
    "call_flow",
    "check_deadline",
    "default_user_agent",
    "finish_direct_send",
    "make_timeout",
    "take_plain_body",
    "token_string",
]

T = TypeVar("T")

logger = logging.getLogger("botconnect")
_httpx_logger = logging.getLogger("httpx")

DEFAULT_TIMEOUT = 30.0
_REDACTED_HEADERS = frozenset({"authorization", "cookie", "set-cookie", "x-ms-client-secret"})


# a header value as HTTP/1.1 allows it, in ASCII: a user agent is sent on every call, so a bad one fails once, here
_USER_AGENT = re.compile(r"[\x21-\x7e]+(?:[ \t]+[\x21-\x7e]+)*")


def default_user_agent(prefix: str | None = None) -> str:
    """``prefix botconnect-python/<v> httpx/<v> Python/<v>``; raises ``ValueError`` for a prefix that cannot be
    sent in a header (control characters such as CR/LF, surrounding whitespace, non-ASCII)."""
    agent = f"botconnect-python/{__version__} httpx/{httpx.__version__} Python/{platform.python_version()}"
    if not prefix:
        return agent
    if not prefix.isascii():
        raise ValueError(f"user_agent must be ASCII (HTTP headers are): {prefix!r}")
    if _USER_AGENT.fullmatch(prefix) is None:
        raise ValueError(f"user_agent must be printable ASCII without control characters or edge spaces: {prefix!r}")
    return f"{prefix} {agent}"


def make_timeout(timeout: float | httpx.Timeout | None) -> httpx.Timeout:
    if isinstance(timeout, httpx.Timeout):
        return timeout
    if timeout is None:
        return httpx.Timeout(DEFAULT_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    return httpx.Timeout(float(timeout))


def check_deadline(deadline: float | None) -> float | None:
    if deadline is None:
        return None
    if isinstance(deadline, bool) or not isinstance(deadline, int | float) or not deadline > 0:
        raise ValueError(f"deadline must be a positive number of seconds, got {deadline!r}")
    return float(deadline)


@attrs.frozen
class CallConfig:
    """Per-client settings every call needs; ``evolve``-d for per-call overrides.

    Two kinds of time limit: ``timeout`` is httpx's, per phase and per attempt (connect, each wait for bytes
    while reading, each write, the wait for a pooled connection), so a server that sends a byte now and then
    keeps a call alive for ever, and every retry starts the clock again. ``deadline`` bounds the whole call:
    every attempt, every wait between attempts and the body read, in seconds from the start of the call.
    """

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
    #: seconds the whole call may take, retries included (None: only ``timeout`` and the retry policy bound it)
    deadline: float | None = None
    #: signs each attempt of an authenticated request in place (ACS access keys: HMAC over the date and body),
    #: instead of a bearer token; None: no signature
    signer: Callable[[httpx.Request], None] | None = None
    #: ``timeout.as_dict()``, computed once: every request carries it
    timeouts: dict[str, float | None] = attrs.field(
        init=False, eq=False, repr=False, default=attrs.Factory(lambda self: self.timeout.as_dict(), takes_self=True)
    )

    def for_call(
        self,
        *,
        timeout: float | httpx.Timeout | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
    ) -> CallConfig:
        if timeout is None and retry_policy is None and deadline is None:
            return self
        if retry_policy is not None and not isinstance(retry_policy, RetryPolicy):
            raise TypeError(f"retry_policy must be a RetryPolicy, got {type(retry_policy).__name__}")
        return attrs.evolve(
            self,
            timeout=make_timeout(timeout) if timeout is not None else self.timeout,
            retry_policy=retry_policy if retry_policy is not None else self.retry_policy,
            deadline=check_deadline(deadline) if deadline is not None else self.deadline,
        )


# -- actions the drivers perform ----------------------------------------------------------------------------


# Plain slotted classes, not attrs: one is built per call and per attempt, and they are never compared or copied.


class Send:
    """Send ``request``; answer with the ``httpx.Response`` (body read unless ``stream``) or throw the error.

    ``deadline``: seconds left for the call; a driver that cannot finish the exchange (and the body read) by then
    throws ``DeadlineExceeded``.
    """

    __slots__ = ("deadline", "follow_redirects", "request", "stream")

    def __init__(
        self, request: httpx.Request, stream: bool, follow_redirects: bool, deadline: float | None = None
    ) -> None:
        self.request = request
        self.stream = stream
        self.follow_redirects = follow_redirects
        self.deadline = deadline

    def __repr__(self) -> str:
        return (
            f"Send({self.request!r}, stream={self.stream}, follow_redirects={self.follow_redirects}, "
            f"deadline={self.deadline!r})"
        )


class DeadlineExceeded(httpx.TimeoutException):
    """What a driver throws into the flow when a call's ``deadline`` passed during an exchange."""


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
    if isinstance(exc, DeadlineExceeded):
        return ServiceResponseTimeoutError(str(exc)), True
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
    headers = request.headers
    # "in" first: Headers.setdefault is MutableMapping's, which raises and catches a KeyError when the name is absent
    if "User-Agent" not in headers:
        headers["User-Agent"] = config.user_agent
    for name, value in config.headers:
        if name not in headers:
            headers[name] = value
    timeouts = config.timeouts
    request.extensions = {**request.extensions, "timeout": dict(timeouts)}  # a copy: the request may outlive us
    policy = config.retry_policy
    started = config.clock()
    deadline = config.deadline
    if deadline is not None and (policy.deadline is None or policy.deadline > deadline):
        policy = attrs.evolve(policy, deadline=deadline)  # no retry is started that the deadline would cut short
    attempt = 0
    while True:
        attempt += 1
        left: float | None = None
        if deadline is not None:
            left = max(0.0, deadline - (config.clock() - started))
            if not left and attempt > 1:  # the first attempt is always made: the deadline bounds waiting
                raise ServiceResponseTimeoutError(f"the call's deadline of {deadline:g} s passed")
            # no single phase may wait past the deadline either
            request.extensions["timeout"] = {
                phase: left if limit is None else min(limit, left) for phase, limit in timeouts.items()
            }
        if operation.authenticate and config.scopes is not None:
            ensure_safe_for_credentials(request.url, config.trusted_hosts)
            token = yield AcquireToken(config.scopes)
            request.headers["Authorization"] = f"Bearer {token}"
        elif operation.authenticate and config.signer is not None:
            ensure_safe_for_credentials(request.url, config.trusted_hosts)
            config.signer(request)  # every attempt: the signed date must be fresh
        _log_request(request, attempt)
        try:
            response: httpx.Response = yield Send(request, operation.stream, operation.follow_redirects, left)
        except (httpx.RequestError, httpx.TooManyRedirects) as exc:
            if isinstance(exc, httpx.TooManyRedirects):
                raise ServiceResponseError(f"too many redirects: {exc}") from exc
            error, connected = _translate_transport_error(exc)
            if isinstance(exc, httpx.LocalProtocolError | httpx.UnsupportedProtocol | DeadlineExceeded):
                # our own request is invalid, or this transport cannot speak to the server: another attempt would
                # fail the same way, on a new connection each time; or the call's deadline has passed
                raise error from exc
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


def _content_is_settable() -> bool:
    """Whether ``Response._content`` is where httpx keeps a read body (true since httpx 0.18)."""
    probe = httpx.Response(200, content=b"probe")
    return getattr(probe, "_content", None) == b"probe"


_SET_CONTENT = _content_is_settable()


def take_plain_body(response: httpx.Response) -> bool:
    """Make a body the transport already holds in memory (an ``httpx.ByteStream``) the response's content, as
    ``read()`` would, and say whether that was possible (no ``Content-Encoding`` to undo).

    ``read()`` gets there through three nested generators and a decoder lookup: a tenth of a concurrent call's CPU
    for bytes that are already there. tests/test_transport_hostile_connection.py checks both give the same.
    """
    stream = response.stream
    if not _SET_CONTENT or type(stream) is not httpx.ByteStream or "content-encoding" in response.headers:
        return False
    response._content = b"".join(stream)
    response.is_stream_consumed = response.is_closed = True  # as read() leaves it (closing a ByteStream is a no-op)
    return True


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
