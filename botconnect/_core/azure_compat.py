"""The azure-core keyword arguments that code written for azure-communication-chat passes, with azure-core's meaning.

Per client (``ChatClient(endpoint, credential, headers=..., retry_total=...)``) and per call
(``send_message("hi", headers=..., logging_enable=True)``), as azure-core's policies read them:

* ``headers``: sent with every request (per call: merged over the client's), over the builder's own headers
  (azure-core's ``HeadersPolicy``).
* ``x-ms-client-request-id`` (azure-core's ``RequestIdPolicy``): a new UUID for every call (the same on its
  retries; each page of a paged call is a call), unless ``headers`` already give one. ``request_id`` per call
  sets it (``None``: none); per client, ``request_id`` is one id for every call and ``auto_request_id=False``
  turns the new ones off. azure-core makes version-1 UUIDs, which carry the host's MAC address; these are
  random (version 4), which the service takes alike.
* ``user_agent``: an application prefix; per call it goes before the client's user agent; with
  ``user_agent_overwrite=True`` it replaces the whole header (``UserAgentPolicy``). ``user_agent_use_env=True``
  appends ``AZURE_HTTP_USER_AGENT`` when that is set.
* ``connection_timeout`` / ``read_timeout``: seconds to connect / to wait for bytes (the transport's).
* ``retry_total`` (retries after the first attempt), ``retry_backoff_factor``, ``retry_backoff_max``,
  ``retry_on_status_codes`` (added to the retried statuses): the :class:`RetryPolicy` fields they correspond to.
* ``connection_verify`` (per client): a CA bundle file or directory to trust instead of the default store (as
  ``requests``' ``verify=``); ``True`` is the default. ``False`` would turn verification off: it is ignored with a
  warning, so verification stays on.
* ``logging_enable`` (and ``logger``): the network trace, at DEBUG: request method, URL, headers and body, and
  the response's status, headers and body (``NetworkTraceLoggingPolicy``). Never the Authorization header: it is
  added after the trace is written.

Options that configure azure-core's own pipeline objects (``transport=`` an azure-core transport, ``policies=``,
``http_logging_policy=``, ``retry_policy=`` an azure-core policy, ``raw_response_hook=``, ...) have no meaning here:
they are ignored with an :class:`IgnoredAzureOptionWarning`. Any other unknown keyword is a ``TypeError``, as for
any Python function, so a typo is never silently dropped.

One difference: ``timeout=`` keeps this SDK's meaning (seconds per phase of each attempt); azure-core's per-call
``timeout`` bounds the whole call, which is ``deadline=`` here.
"""

from __future__ import annotations

import logging
import os
import re
import ssl
import uuid
import warnings
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import attrs
import httpx

from .operation import Operation
from .pipeline import default_user_agent, make_timeout
from .retry import RetryPolicy

__all__ = ["AzureCallOptions", "ClientOptions", "IgnoredAzureOptionWarning", "client_options"]

T = TypeVar("T")
R = TypeVar("R")

logger = logging.getLogger("botconnect.chat")


class IgnoredAzureOptionWarning(UserWarning):
    """An azure-core pipeline option was passed; this SDK has no such pipeline and ignored it."""


#: azure-core options that configure its pipeline objects, transport or tracing: nothing here to apply them to
_PIPELINE_ONLY = frozenset(
    {
        "authentication_policy",
        "connection_cert",
        "connection_data_block_size",
        "connection_verify",
        "custom_hook_policy",
        "distributed_tracing_policy",
        "enable_cae",
        "enforce_https",
        "error_map",
        "headers_policy",
        "http_logging_policy",
        "logging_policy",
        "merge_span",
        "network_span_namer",
        "per_call_policies",
        "per_retry_policies",
        "permit_redirects",
        "policies",
        "polling_interval",
        "proxies",
        "proxy_policy",
        "raw_request_hook",
        "raw_response_hook",
        "redirect_max",
        "redirect_on_status_codes",
        "redirect_policy",
        "redirect_remove_headers",
        "response_encoding",
        "retry_connect",
        "retry_mode",
        "retry_on_methods",
        "retry_read",
        "retry_status",
        "sdk_moniker",
        "session",
        "session_owner",
        "tracing_attributes",
        "tracing_options",
        "use_env_settings",
        "user_agent_policy",
    }
)
_WHY = {
    "retry_connect": "one attempt budget (retry_total) covers every kind of failure",
    "retry_read": "one attempt budget (retry_total) covers every kind of failure",
    "retry_status": "one attempt budget (retry_total) covers every kind of failure",
    "retry_mode": "backoff is always exponential with jitter",
    "retry_on_methods": "retries follow each operation's idempotency",
    "connection_verify": "a client's connection_verify= (a CA bundle) sets its connections' trust, a call's cannot",
    "proxies": "HTTP(S)_PROXY are honoured; or pass http_client= with a proxy",
    "enforce_https": "tokens go over https only (plain http to loopback only), always",
}
_RETRY_KEYS = ("retry_total", "retry_backoff_factor", "retry_backoff_max", "retry_on_status_codes")
_CALL_KEYS = frozenset(
    {"headers", "request_id", "user_agent", "user_agent_overwrite", "connection_timeout", "read_timeout"}
    | {"logging_enable", "logger", *_RETRY_KEYS}
)
_CLIENT_KEYS = frozenset(
    {"headers", "request_id", "auto_request_id", "user_agent_overwrite", "user_agent_use_env"}
    | {"connection_timeout", "read_timeout"}
    | {"logging_enable", "logger", "connection_verify", *_RETRY_KEYS}
)
_REQUEST_ID = "x-ms-client-request-id"
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")


def _ignore(name: str, where: str, stacklevel: int) -> None:
    reason = _WHY.get(name, "it configures azure-core's own pipeline, which this SDK does not have")
    warnings.warn(f"{where}: ignored azure-core option {name}= ({reason})", IgnoredAzureOptionWarning, stacklevel)


def _check_keys(kwargs: Mapping[str, Any], known: frozenset[str], where: str, stacklevel: int) -> None:
    for name in kwargs:
        if name in known:
            continue
        if name in _PIPELINE_ONLY:
            _ignore(name, where, stacklevel)
            continue
        raise TypeError(f"{where}() got an unexpected keyword argument {name!r}")


def _headers(value: Any, name: str = "headers") -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a mapping of header names to values, got {type(value).__name__}")
    pairs: list[tuple[str, str]] = []
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise TypeError(f"{name} must map str to str, got {key!r}: {type(item).__name__}")
        if _HEADER_NAME.fullmatch(key) is None:
            raise ValueError(f"{name}: {key!r} is not a valid header name")
        if _HEADER_VALUE.fullmatch(item) is None:
            raise ValueError(f"{name}: the value of {key} has control characters")
        pairs.append((key, item))
    return tuple(pairs)


def _seconds(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
    return float(value)


def _with_phases(base: httpx.Timeout, kwargs: Mapping[str, Any]) -> httpx.Timeout:
    connect = _seconds(kwargs.get("connection_timeout"), "connection_timeout")
    read = _seconds(kwargs.get("read_timeout"), "read_timeout")
    if connect is None and read is None:
        return base
    return httpx.Timeout(
        connect=base.connect if connect is None else connect,
        read=base.read if read is None else read,
        write=base.write,
        pool=base.pool,
    )


def _with_retries(base: RetryPolicy, kwargs: Mapping[str, Any]) -> RetryPolicy:
    changes: dict[str, Any] = {}
    total = kwargs.get("retry_total")
    if total is not None:
        if isinstance(total, bool) or not isinstance(total, int) or total < 0:
            raise ValueError(f"retry_total must be an int >= 0, got {total!r}")
        changes["max_attempts"] = total + 1
    factor = kwargs.get("retry_backoff_factor")
    if factor is not None:
        if isinstance(factor, bool) or not isinstance(factor, int | float) or factor < 0:
            raise ValueError(f"retry_backoff_factor must be a number >= 0, got {factor!r}")
        changes["backoff_factor"] = float(factor)
    ceiling = kwargs.get("retry_backoff_max")
    if ceiling is not None:
        if isinstance(ceiling, bool) or not isinstance(ceiling, int | float) or ceiling < 0:
            raise ValueError(f"retry_backoff_max must be a number >= 0, got {ceiling!r}")
        changes["max_backoff"] = float(ceiling)
    statuses = kwargs.get("retry_on_status_codes")
    if statuses is not None:
        if isinstance(statuses, str | bytes) or not all(
            isinstance(s, int) and not isinstance(s, bool) for s in statuses
        ):
            raise TypeError("retry_on_status_codes must be a collection of int status codes")
        changes["retry_statuses"] = base.retry_statuses | frozenset(statuses)
    return attrs.evolve(base, **changes) if changes else base


def _request_id_options(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """A client's ``request_id`` / ``auto_request_id`` as RequestIdPolicy reads them (``request_id=None``: none)."""
    auto = kwargs.get("auto_request_id", True)
    if not isinstance(auto, bool):
        raise TypeError(f"auto_request_id must be a bool, got {type(auto).__name__}")
    if "request_id" not in kwargs:
        return {"auto_request_id": auto}
    fixed = kwargs["request_id"]
    if fixed is None:
        return {"auto_request_id": False}
    return {"request_id": _headers({_REQUEST_ID: fixed})[0][1], "auto_request_id": auto}


def _logger(value: Any) -> logging.Logger | None:
    if value is not None and not isinstance(value, logging.Logger):
        raise TypeError(f"logger must be a logging.Logger, got {type(value).__name__}")
    return value


def _trace_request(log: logging.Logger, request: httpx.Request) -> None:
    if not log.isEnabledFor(logging.DEBUG):
        return
    log.debug("Request URL: %r", str(request.url))
    log.debug("Request method: %r", request.method)
    log.debug("Request headers: %r", dict(request.headers))
    log.debug("Request body: %r", request.content.decode("utf-8", "replace") if request.content else "")


def _trace_response(log: logging.Logger, response: httpx.Response) -> None:
    if not log.isEnabledFor(logging.DEBUG):
        return
    log.debug("Response status: %r", response.status_code)
    log.debug("Response headers: %r", dict(response.headers))
    log.debug("Response content: %r", response.text)


@attrs.frozen
class AzureCallOptions:
    """What a client keeps of its azure-core options, applied to each of its calls (with the call's own)."""

    timeout: httpx.Timeout
    retry_policy: RetryPolicy
    #: the client's whole User-Agent header
    user_agent: str
    headers: tuple[tuple[str, str], ...] = ()
    logging_enable: bool = False
    logger: logging.Logger | None = None
    #: the client's ``request_id``: one ``x-ms-client-request-id`` for every call
    request_id: str | None = None
    #: a new ``x-ms-client-request-id`` for each call (when neither the client nor the call gives one)
    auto_request_id: bool = False
    #: nothing to add to a call that brings no options of its own (decided once: every call asks)
    is_plain: bool = attrs.field(
        init=False,
        default=attrs.Factory(
            lambda self: not (self.headers or self.logging_enable or self.request_id or self.auto_request_id),
            takes_self=True,
        ),
    )

    def prepare(
        self,
        operation: Operation[T],
        kwargs: Mapping[str, Any],
        *,
        timeout: float | httpx.Timeout | None,
        retry_policy: RetryPolicy | None,
        deadline: float | None,
        where: str,
        checked: bool = False,
    ) -> tuple[Operation[T], dict[str, Any]]:
        """The operation to run and the options for ``Pipeline.run``, after the client's and the call's
        azure-core options; ``where`` names the method in errors and warnings (called by the client's ``_run``,
        called by the method the user called: the warning points at the user's line)."""
        options: dict[str, Any] = {"timeout": timeout, "retry_policy": retry_policy, "deadline": deadline}
        if not kwargs and self.is_plain:
            return operation, options
        if not checked:
            _check_keys(kwargs, _CALL_KEYS, where, stacklevel=6)
        request = operation.request
        for name, value in (*self.headers, *_headers(kwargs.get("headers"))):
            request.headers[name] = value
        if "request_id" in kwargs:  # the call's, even None (no header): RequestIdPolicy's order
            request_id = kwargs["request_id"]
            if request_id is not None:
                request.headers[_REQUEST_ID] = _headers({_REQUEST_ID: request_id})[0][1]
        elif _REQUEST_ID not in request.headers:  # one from headers= stands
            if self.request_id is not None:
                request.headers[_REQUEST_ID] = self.request_id
            elif self.auto_request_id:
                request.headers[_REQUEST_ID] = str(uuid.uuid4())
        agent = kwargs.get("user_agent")
        if agent is not None:
            if not isinstance(agent, str):
                raise TypeError("user_agent must be a str")
            default_user_agent(agent)  # the same checks as a client's prefix
            overwrite = kwargs.get("user_agent_overwrite")
            request.headers["User-Agent"] = agent if overwrite else f"{agent} {self.user_agent}"
        if "connection_timeout" in kwargs or "read_timeout" in kwargs:
            base = make_timeout(timeout) if timeout is not None else self.timeout
            options["timeout"] = _with_phases(base, kwargs)
        if any(kwargs.get(key) is not None for key in _RETRY_KEYS):
            options["retry_policy"] = _with_retries(retry_policy or self.retry_policy, kwargs)
        enabled = kwargs.get("logging_enable", self.logging_enable)
        if enabled:
            log = _logger(kwargs.get("logger")) or self.logger or logger
            _trace_request(log, request)
            parse = operation.parse

            def traced(response: httpx.Response) -> T:
                _trace_response(log, response)
                return parse(response)

            operation = attrs.evolve(operation, parse=traced)
        return operation, options

    def failed(self, error: Exception, kwargs: Mapping[str, Any]) -> None:
        """Trace the response of a failed call, when the call or the client traces (``logging_enable``)."""
        if kwargs.get("logging_enable", self.logging_enable):
            response = getattr(error, "response", None)
            if isinstance(response, httpx.Response):
                _trace_response(_logger(kwargs.get("logger")) or self.logger or logger, response)

    def runner(self, run: Callable[..., R], kwargs: Mapping[str, Any], where: str) -> Callable[[Operation[Any]], R]:
        """``run`` for each page of a paged call, with the call's options (checked now: paging is lazy)."""
        if not kwargs and self.is_plain:
            return run
        _check_keys(kwargs, _CALL_KEYS, where, stacklevel=5)
        _headers(kwargs.get("headers"))
        _with_phases(self.timeout, kwargs)
        _with_retries(self.retry_policy, kwargs)

        def run_page(operation: Operation[Any]) -> R:
            prepared, options = self.prepare(
                operation, kwargs, timeout=None, retry_policy=None, deadline=None, where=where, checked=True
            )
            return run(prepared, **options)

        return run_page


@attrs.frozen
class ClientOptions:
    """A client's settings once its azure-core options are read."""

    transport: Any
    calls: AzureCallOptions

    @property
    def timeout(self) -> httpx.Timeout:
        return self.calls.timeout

    @property
    def retry_policy(self) -> RetryPolicy:
        return self.calls.retry_policy

    @property
    def user_agent(self) -> str:
        return self.calls.user_agent


def client_options(
    kwargs: Mapping[str, Any],
    *,
    where: str,
    timeout: float | httpx.Timeout | None,
    retry_policy: Any,
    user_agent: str | None,
    transport: Any,
    transport_type: type[Any],
    http_client: Any = None,
    make_transport: Callable[..., Any] | None = None,
) -> ClientOptions:
    """Read a client constructor's azure-core keyword arguments (see the module docstring); ``make_transport``
    (``HTTP11Transport`` / ``AsyncHTTP11Transport``) builds the transport a ``connection_verify`` path needs."""
    # called by chat_client_setup, called by the constructor the user called
    _check_keys(kwargs, _CLIENT_KEYS, where, stacklevel=6)
    if transport is not None and not isinstance(transport, transport_type):
        if type(transport).__module__.startswith("azure."):
            _ignore("transport", where, 5)
            transport = None
        else:
            raise TypeError(f"transport must be an {transport_type.__module__}.{transport_type.__qualname__}")
    if retry_policy is not None and not isinstance(retry_policy, RetryPolicy):
        if type(retry_policy).__module__.startswith("azure."):
            _ignore("retry_policy", where, 5)
            retry_policy = None
        else:
            raise TypeError("retry_policy must be a RetryPolicy")
    if user_agent is not None and not isinstance(user_agent, str):
        raise TypeError("user_agent must be a str")
    if kwargs.get("user_agent_use_env"):
        extra = os.environ.get("AZURE_HTTP_USER_AGENT")
        if extra:
            user_agent = f"{user_agent} {extra}" if user_agent else extra
    if kwargs.get("user_agent_overwrite") and user_agent:
        default_user_agent(user_agent)  # the same checks as a prefix
        header = user_agent
    else:
        header = default_user_agent(user_agent)
    resolved_timeout = _with_phases(make_timeout(timeout), kwargs)
    resolved_retry = _with_retries(retry_policy if retry_policy is not None else RetryPolicy(), kwargs)
    calls = AzureCallOptions(
        timeout=resolved_timeout,
        retry_policy=resolved_retry,
        user_agent=header,
        headers=_headers(kwargs.get("headers")),
        logging_enable=bool(kwargs.get("logging_enable", False)),
        logger=_logger(kwargs.get("logger")),
        **_request_id_options(kwargs),
    )
    verify = kwargs.get("connection_verify", True)
    if verify is False:
        warnings.warn(
            f"{where}: ignored connection_verify=False: certificates are always verified",
            IgnoredAzureOptionWarning,
            5,
        )
    elif isinstance(verify, str | os.PathLike):
        if transport is not None or http_client is not None:
            warnings.warn(
                f"{where}: ignored connection_verify=: the transport / http_client given keeps its own trust",
                IgnoredAzureOptionWarning,
                5,
            )
        elif make_transport is not None:
            transport = make_transport(ssl_context=_trusting(os.fspath(verify)))
    elif verify is not True:
        raise TypeError("connection_verify must be True or the path of a CA bundle file or directory")
    return ClientOptions(transport=transport, calls=calls)


def _trusting(path: str) -> ssl.SSLContext:
    """A context trusting only the CA bundle at ``path`` (a PEM file, or a directory prepared with c_rehash)."""
    if os.path.isdir(path):
        return ssl.create_default_context(capath=path)
    if not os.path.isfile(path):
        raise ValueError(f"connection_verify: no CA bundle file or directory at {path!r}")
    return ssl.create_default_context(cafile=path)
