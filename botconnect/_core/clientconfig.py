"""Decisions every client constructor makes the same way in both façades."""

from __future__ import annotations

import functools
import os
import urllib.request
from collections.abc import Iterable
from typing import Any

import httpx

from .auth import PUBLIC_CLOUD, CloudSettings
from .pipeline import CallConfig, default_user_agent, make_timeout
from .requests.connector import normalize_service_url
from .retry import RetryPolicy
from .security import HostAllowList, ensure_safe_for_credentials

__all__ = [
    "check_credential",
    "client_call_config",
    "connector_config",
    "connector_settings",
    "endpoint_config",
    "env_proxies_configured",
    "environment_values",
    "proxy_environment",
]

#: what urllib (and so httpx) reads to route calls through a proxy, as people spell them (urllib also takes any
#: other casing); REQUEST_METHOD makes it ignore HTTP_PROXY (CGI)
_PROXY_VARIABLES = (
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
    "REQUEST_METHOD",
)


def check_credential(credential: Any) -> None:
    if credential is not None and not callable(getattr(credential, "get_token", None)):
        raise TypeError("credential must have a get_token(*scopes) method (e.g. MicrosoftAppCredentials)")


def client_call_config(
    *,
    timeout: float | httpx.Timeout | None,
    retry_policy: RetryPolicy | None,
    user_agent: str | None,
    scopes: tuple[str, ...] | None,
    trusted_hosts: HostAllowList | None,
) -> CallConfig:
    """The settings every client builds the same way, its options checked before anything is sent."""
    if retry_policy is not None and not isinstance(retry_policy, RetryPolicy):
        raise TypeError("retry_policy must be a RetryPolicy")
    if user_agent is not None and not isinstance(user_agent, str):
        raise TypeError("user_agent must be a str")
    return CallConfig(
        user_agent=default_user_agent(user_agent),
        timeout=make_timeout(timeout),
        retry_policy=retry_policy if retry_policy is not None else RetryPolicy(),
        scopes=scopes,
        trusted_hosts=trusted_hosts,
    )


def connector_config(
    service_url: httpx.URL,
    credential: Any,
    *,
    trusted_hosts: Iterable[str] | None,
    timeout: float | httpx.Timeout | None,
    retry_policy: RetryPolicy | None,
    user_agent: str | None,
) -> CallConfig:
    """The call settings of a Connector client; refuses at once a service URL the credential must not reach."""
    check_credential(credential)
    if retry_policy is not None and not isinstance(retry_policy, RetryPolicy):
        raise TypeError("retry_policy must be a RetryPolicy")  # before the URL check: argument errors first
    cloud: CloudSettings = getattr(credential, "cloud", None) or PUBLIC_CLOUD
    if trusted_hosts is not None and isinstance(trusted_hosts, str):
        raise TypeError("trusted_hosts must be an iterable of host patterns, not a single str")
    allow = HostAllowList.of(trusted_hosts if trusted_hosts is not None else cloud.trusted_hosts)
    scopes: tuple[str, ...] | None = None
    if credential is not None:
        scopes = (getattr(credential, "scope", None) or cloud.scope,)
        ensure_safe_for_credentials(service_url, allow)
    return client_call_config(
        timeout=timeout, retry_policy=retry_policy, user_agent=user_agent, scopes=scopes, trusted_hosts=allow
    )


def connector_settings(
    service_url: str,
    credential: Any,
    *,
    trusted_hosts: Iterable[str] | None,
    timeout: float | httpx.Timeout | None,
    retry_policy: RetryPolicy | None,
    user_agent: str | None,
) -> tuple[httpx.URL, str, CallConfig]:
    """A Connector client's base URL, its text and its call settings, checked in this order: the URL, the
    credential, the options, whether the credential may be sent to the URL."""
    base = normalize_service_url(service_url)
    defaults = trusted_hosts is None and timeout is None and retry_policy is None and user_agent is None
    if defaults and isinstance(service_url, str):
        check_credential(credential)
        cloud: CloudSettings = getattr(credential, "cloud", None) or PUBLIC_CLOUD
        scope = None if credential is None else (getattr(credential, "scope", None) or cloud.scope)
        return _default_connector_settings(service_url, cloud.trusted_hosts, scope)
    config = connector_config(
        base, credential, trusted_hosts=trusted_hosts, timeout=timeout, retry_policy=retry_policy, user_agent=user_agent
    )
    return base, str(base), config


@functools.lru_cache(maxsize=1024)
def _default_connector_settings(
    service_url: str, trusted_hosts: tuple[str, ...], scope: str | None
) -> tuple[httpx.URL, str, CallConfig]:
    # What a bot builds for every incoming activity: a client with the default settings for one of a few service
    # URLs (keyed by strings: their hashes are cached). URL and CallConfig are immutable, so clients share them; a
    # refused URL raises every time (errors are not cached).
    base = normalize_service_url(service_url)
    allow = HostAllowList.of(trusted_hosts)
    if scope is not None:
        ensure_safe_for_credentials(base, allow)
    config = client_call_config(
        timeout=None,
        retry_policy=None,
        user_agent=None,
        scopes=None if scope is None else (scope,),
        trusted_hosts=allow,
    )
    return base, str(base), config


def endpoint_config(
    endpoint: httpx.URL,
    *,
    timeout: float | httpx.Timeout | None,
    retry_policy: RetryPolicy | None,
    user_agent: str | None,
) -> CallConfig:
    """Call settings for a client whose credential belongs to exactly one endpoint (Direct Line, ACS)."""
    if retry_policy is not None and not isinstance(retry_policy, RetryPolicy):
        raise TypeError("retry_policy must be a RetryPolicy")  # before the URL check: argument errors first
    allow = HostAllowList.of([endpoint.host])
    ensure_safe_for_credentials(endpoint, allow)
    return client_call_config(
        timeout=timeout, retry_policy=retry_policy, user_agent=user_agent, scopes=(), trusted_hosts=allow
    )


#: os.environ's own store on POSIX (bytes names and values): read directly, a variable costs a dict lookup
#: instead of encoding the name and decoding the value (11 lookups were a fifth of building a client)
_ENVIRON_BYTES: dict[bytes, bytes] | None = getattr(os.environ, "_data", None) if os.name == "posix" else None
_PROXY_VARIABLE_BYTES = tuple(name.encode("ascii") for name in _PROXY_VARIABLES)


def environment_values(names: tuple[str, ...], names_bytes: tuple[bytes, ...]) -> tuple[str | bytes | None, ...]:
    """The values of ``names`` (``names_bytes``: the same, encoded), to compare with an earlier call's answer."""
    if _ENVIRON_BYTES is not None:
        data = _ENVIRON_BYTES
        return tuple([data.get(name) for name in names_bytes])
    environ = os.environ
    return tuple([environ.get(name) for name in names])


def proxy_environment() -> tuple[str | bytes | None, ...]:
    """The proxy variables' values: equal tuples mean httpx would route calls the same way (a few microseconds,
    where ``urllib.request.getproxies()`` scans the whole environment)."""
    return environment_values(_PROXY_VARIABLES, _PROXY_VARIABLE_BYTES)


def env_proxies_configured() -> bool:
    """Whether ``HTTP_PROXY``/``HTTPS_PROXY``/``ALL_PROXY`` (any case) are set: then httpx's client routes calls."""
    if not any(proxy_environment()[:6]):  # the common case, without scanning the environment
        return False
    proxies = urllib.request.getproxies()
    return any(key in proxies for key in ("http", "https", "all"))
