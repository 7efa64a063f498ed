"""ACS identity request builders: one function per operation of ``CommunicationIdentity.json`` (2023-10-01).

Users, their access tokens, revocation and the Teams token exchange. Requests are signed with the resource's
access key (HMAC-SHA256, :mod:`botconnect._core.hmac_auth`) or carry an Entra ID bearer token for
``https://communication.azure.com//.default``. User ids are percent-encoded path segments
(``8:acs:<resource>_<guid>`` -> ``8%3Aacs%3A...``); the ``:issueAccessToken`` style segments keep their colons.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import attrs
import httpx

from ...errors import DeserializationError
from ...models.identifiers import CommunicationUserIdentifier, as_identifier
from .. import serde
from ..auth import AccessToken
from ..azure_compat import ClientOptions, client_options
from ..hmac_auth import HmacSigner, with_scheme
from ..identity_trace import IdentityTrace
from ..operation import Operation
from ..pipeline import CallConfig
from ..responses import parse_json, parse_none
from ..security import HostAllowList, ensure_safe_for_credentials, path_segment
from ._common import build_url, bytes_request

__all__ = [
    "API_VERSION_2023_10_01",
    "DEFAULT_API_VERSION",
    "ENTRA_SCOPE",
    "IdentityContext",
    "build_create_user",
    "build_create_user_and_token",
    "build_delete_user",
    "build_get_token",
    "build_get_token_for_teams_user",
    "build_revoke_tokens",
    "identity_client_setup",
    "identity_config",
    "identity_context",
]

API_VERSION_2023_10_01 = "2023-10-01"
#: the first api-versions with a token lifetime (``token_expires_in``) and with the Teams token exchange
LIFETIMES_SINCE, TEAMS_SINCE = "2022-10-01", "2022-06-01"
#: what azure-communication-identity 1.5.0 sends
DEFAULT_API_VERSION = API_VERSION_2023_10_01
#: the scope of an Entra ID token for ACS (the double slash is the service's)
ENTRA_SCOPE = "https://communication.azure.com//.default"
#: a token's lifetime, in minutes, as the service allows it
MIN_TOKEN_MINUTES, MAX_TOKEN_MINUTES = 60, 1440

_ACCEPT = {"Accept": "application/json"}
_JSON = {"Accept": "application/json", "Content-Type": "application/json"}


@attrs.frozen
class IdentityContext:
    """Where an identity client sends requests, and with which API version."""

    endpoint: httpx.URL
    api_version: str

    def require(self, since: str, feature: str) -> None:
        """Refuse (before sending) what the chosen API version does not have, rather than let it be dropped."""
        if self.api_version < since:
            raise ValueError(f"{feature} needs api_version {since} or later (client: {self.api_version})")


def identity_context(endpoint: Any, api_version: Any) -> IdentityContext:
    """Validate the endpoint (``https://`` is added when it has no scheme, as Microsoft's client does)."""
    if not isinstance(endpoint, str | httpx.URL):
        raise TypeError(f"endpoint must be a str, got {type(endpoint).__name__}")
    text = str(endpoint).strip()
    if not text:
        raise ValueError("endpoint must not be empty")
    url = httpx.URL(with_scheme(text))
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"endpoint must be an http(s) URL or a host name, got {text!r}")
    if url.query or url.fragment:
        raise ValueError("endpoint must not carry a query or fragment")
    if not isinstance(api_version, str) or not api_version.strip():
        raise TypeError("api_version must be a non-empty str such as '2023-10-01'")
    return IdentityContext(url, api_version.strip())


def identity_config(context: IdentityContext, credential: Any, options: ClientOptions) -> CallConfig:
    """Call settings: an access key (str or AzureKeyCredential) signs each request, a token credential (anything
    with ``get_token``) gets an Entra ID token; either only to the endpoint's own host, over https (or loopback)."""
    bearer = not isinstance(credential, str) and callable(getattr(credential, "get_token", None))
    if not bearer and not isinstance(credential, str) and not isinstance(getattr(credential, "key", None), str):
        raise TypeError(
            "credential must be the resource's access key (str), an AzureKeyCredential, or a token credential "
            f"(with get_token), got {type(credential).__name__}"
        )
    allow = HostAllowList.of([context.endpoint.host])
    ensure_safe_for_credentials(context.endpoint, allow)
    return CallConfig(
        user_agent=options.user_agent,
        timeout=options.timeout,
        retry_policy=options.retry_policy,
        scopes=(ENTRA_SCOPE,) if bearer else None,
        trusted_hosts=allow,
        signer=None if bearer else HmacSigner(credential),
    )


def identity_client_setup(
    endpoint: Any,
    credential: Any,
    api_version: Any,
    kwargs: dict[str, Any],
    *,
    timeout: float | httpx.Timeout | None,
    retry_policy: Any,
    user_agent: str | None,
    transport: Any,
    transport_type: type[Any],
    http_client: Any = None,
    make_transport: Callable[..., Any] | None = None,
) -> tuple[IdentityContext, CallConfig, ClientOptions, IdentityTrace]:
    """Everything an identity client's constructor decides: where it sends, its call settings, its azure-core
    keyword arguments (``kwargs``, see :mod:`botconnect._core.azure_compat`) and its redacting network trace."""
    context = identity_context(endpoint, api_version)
    trace = IdentityTrace.take(kwargs)
    options = client_options(
        kwargs,
        where="CommunicationIdentityClient",
        timeout=timeout,
        retry_policy=retry_policy,
        user_agent=user_agent,
        transport=transport,
        transport_type=transport_type,
        http_client=http_client,
        make_transport=make_transport,
    )
    return context, identity_config(context, credential, options), options, trace


# -- arguments ---------------------------------------------------------------------------------------------------


def _url(ctx: IdentityContext, path: str) -> httpx.URL:
    return build_url(ctx.endpoint, path, [("api-version", ctx.api_version)])


def _user_path(user: Any, action: str = "") -> str:
    return "/identities/" + path_segment(_user_id(user), "user.id") + (f"/:{action}" if action else "")


def _user_id(user: Any) -> str:
    """The id of an ACS user: ours, or an identifier-shaped one (azure-communication-identity's) of that kind."""
    identifier = as_identifier(user, "user")
    if not isinstance(identifier, CommunicationUserIdentifier):
        raise TypeError(f"user must be an ACS user (CommunicationUserIdentifier), got {type(identifier).__name__}")
    return identifier.id


def _scopes(scopes: Any) -> list[str]:
    if isinstance(scopes, str | bytes) or not isinstance(scopes, Iterable):
        raise TypeError('scopes must be a list of CommunicationTokenScope or str, e.g. ["chat"]')
    result: list[str] = []
    for i, scope in enumerate(scopes):
        if not isinstance(scope, str):
            raise TypeError(f"scopes[{i}] must be a CommunicationTokenScope or str, got {type(scope).__name__}")
        # .value: str() of a (str, Enum) such as azure-communication-identity's scope is 'Class.MEMBER'
        value = str(scope.value if isinstance(scope, enum.Enum) else scope)
        if not value or value != value.strip() or any(c.isspace() for c in value):
            raise ValueError(f"scopes[{i}] must be a scope name such as 'chat' (no spaces), got {value!r}")
        result.append(value)
    if not result:
        raise ValueError('scopes must name at least one scope, e.g. ["chat"]')
    return result


def _minutes(token_expires_in: Any) -> int | None:
    """``token_expires_in`` as the wire's whole minutes (truncated, as Microsoft's client does), 60 to 1440."""
    if token_expires_in is None:
        return None
    if not isinstance(token_expires_in, timedelta):
        raise TypeError(f"token_expires_in must be a datetime.timedelta, got {type(token_expires_in).__name__}")
    minutes = int(token_expires_in.total_seconds() / 60)
    if not MIN_TOKEN_MINUTES <= minutes <= MAX_TOKEN_MINUTES:
        raise ValueError(f"token_expires_in must be from 1 to 24 hours, got {token_expires_in}")
    return minutes


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{name} must not be empty")
    return value


def _post(url: httpx.URL, body: Mapping[str, Any] | None) -> httpx.Request:
    if body is None:
        return httpx.Request("POST", url, headers=dict(_ACCEPT))
    return bytes_request("POST", url, serde.dumps(body), _JSON)


# -- responses ---------------------------------------------------------------------------------------------------


def _access_token(data: Any, response: httpx.Response) -> AccessToken:
    token = data.get("token") if isinstance(data, Mapping) else None
    expires_on = data.get("expiresOn") if isinstance(data, Mapping) else None
    if not isinstance(token, str) or not token or not isinstance(expires_on, str):
        raise DeserializationError("the response has no access token (token, expiresOn)", response=response)
    try:
        moment = datetime.fromisoformat(expires_on)
    except ValueError:
        raise DeserializationError("the token's expiresOn is not an ISO 8601 date", response=response) from None
    if moment.tzinfo is None:
        raise DeserializationError("the token's expiresOn has no time zone", response=response)
    return AccessToken(token, int(moment.timestamp()))


def _identity(data: Any, response: httpx.Response) -> CommunicationUserIdentifier:
    identity = data.get("identity") if isinstance(data, Mapping) else None
    user_id = identity.get("id") if isinstance(identity, Mapping) else None
    if not isinstance(user_id, str) or not user_id:
        raise DeserializationError("the response has no identity id", response=response)
    return CommunicationUserIdentifier(user_id, raw_id=user_id)


def _parse_user(response: httpx.Response) -> CommunicationUserIdentifier:
    return _identity(parse_json(response), response)


def _parse_user_and_token(response: httpx.Response) -> tuple[CommunicationUserIdentifier, AccessToken]:
    data = parse_json(response)
    token = data.get("accessToken") if isinstance(data, Mapping) else None
    return _identity(data, response), _access_token(token, response)


def _parse_token(response: httpx.Response) -> AccessToken:
    return _access_token(parse_json(response), response)


# -- operations --------------------------------------------------------------------------------------------------


def build_create_user(ctx: IdentityContext) -> Operation[CommunicationUserIdentifier]:
    """``POST /identities`` without a body: a new user. Not retried once the service may have created one."""
    return Operation(_post(_url(ctx, "/identities"), None), _parse_user, success=frozenset({201}))


def build_create_user_and_token(
    ctx: IdentityContext, scopes: Any, token_expires_in: Any = None
) -> Operation[tuple[CommunicationUserIdentifier, AccessToken]]:
    """``POST /identities`` with ``createTokenWithScopes``: a new user and its first token."""
    body: dict[str, Any] = {"createTokenWithScopes": _scopes(scopes)}
    minutes = _minutes(token_expires_in)
    if minutes is not None:
        ctx.require(LIFETIMES_SINCE, "token_expires_in")
        body["expiresInMinutes"] = minutes
    return Operation(_post(_url(ctx, "/identities"), body), _parse_user_and_token, success=frozenset({201}))


def build_get_token(
    ctx: IdentityContext, user: Any, scopes: Any, token_expires_in: Any = None
) -> Operation[AccessToken]:
    """``POST /identities/{id}/:issueAccessToken``: another token for ``user`` (a repeat only issues one more)."""
    path = _user_path(user, "issueAccessToken")
    body: dict[str, Any] = {"scopes": _scopes(scopes)}
    minutes = _minutes(token_expires_in)
    if minutes is not None:
        ctx.require(LIFETIMES_SINCE, "token_expires_in")
        body["expiresInMinutes"] = minutes
    return Operation(_post(_url(ctx, path), body), _parse_token, idempotent=True)


def build_revoke_tokens(ctx: IdentityContext, user: Any) -> Operation[None]:
    """``POST /identities/{id}/:revokeAccessTokens``: refuse every token issued to ``user`` so far."""
    request = _post(_url(ctx, _user_path(user, "revokeAccessTokens")), None)
    return Operation(request, parse_none, success=frozenset({204}), idempotent=True)


def build_delete_user(ctx: IdentityContext, user: Any) -> Operation[None]:
    """``DELETE /identities/{id}``: the user, its tokens and its data."""
    request = httpx.Request("DELETE", _url(ctx, _user_path(user)), headers=dict(_ACCEPT))
    return Operation(request, parse_none, success=frozenset({204}), idempotent=True)


def build_get_token_for_teams_user(
    ctx: IdentityContext, aad_token: Any, client_id: Any, user_object_id: Any
) -> Operation[AccessToken]:
    """``POST /teamsUser/:exchangeAccessToken``: an ACS token for a Teams user's Entra ID token."""
    ctx.require(TEAMS_SINCE, "get_token_for_teams_user")
    body = {
        "token": _text(aad_token, "aad_token"),
        "appId": _text(client_id, "client_id"),
        "userId": _text(user_object_id, "user_object_id"),
    }
    return Operation(_post(_url(ctx, "/teamsUser/:exchangeAccessToken"), body), _parse_token, idempotent=True)
