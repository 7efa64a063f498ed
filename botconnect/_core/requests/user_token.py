"""User token service request builders: one function per operation of TokenAPI.json (tags UserToken, BotSignIn).

Query names are the Swagger's (``userId``, ``connectionName``, ``code_challenge``...). No ``api-version`` query is
sent: only the generated Python client of the Bot Framework SDK sends ``api-version=token`` (the Swagger's
``info.version``), every other SDK sends none, and the service does not need it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from ...errors import DeserializationError
from ...models import (
    AadResourceUrls,
    Error,
    ErrorResponse,
    SignInUrlResponse,
    TokenExchangeRequest,
    TokenExchangeState,
    TokenResponse,
    TokenStatus,
)
from .. import serde
from ..auth import PUBLIC_CLOUD, CloudSettings
from ..clientconfig import check_credential, client_call_config
from ..operation import Operation
from ..pipeline import CallConfig
from ..responses import model_list_parser, model_parser, parse_error_details, parse_json, parse_none
from ..retry import RetryPolicy
from ..security import HostAllowList, ensure_safe_for_credentials
from ._common import build_url, bytes_request, coerce_model

__all__ = [
    "ExchangeResult",
    "build_exchange_token",
    "build_get_aad_tokens",
    "build_get_sign_in_resource",
    "build_get_sign_in_url",
    "build_get_token",
    "build_get_token_status",
    "build_sign_out",
    "parse_exchange_token",
    "parse_get_token",
    "parse_sign_in_url",
    "token_service_cloud",
    "token_service_endpoint",
    "user_token_config",
]

#: what ``exchange_token`` returns: the token, the service's reason it could not exchange (400), or None (404)
ExchangeResult = TokenResponse | ErrorResponse | None

_ACCEPT_JSON = {"Accept": "application/json"}
_JSON_HEADERS = {"Accept": "application/json", "Content-Type": "application/json; charset=utf-8"}
_TOKEN_OR_NOT_FOUND = frozenset({200, 404})
_parse_token_response = model_parser(TokenResponse, empty_ok=True)


# -- client settings ---------------------------------------------------------------------------------------


def token_service_cloud(credential: Any, cloud: CloudSettings | None) -> CloudSettings:
    """``cloud``, else the credential's (``MicrosoftAppCredentials(cloud=...)``), else the public cloud."""
    if cloud is None:
        cloud = getattr(credential, "cloud", None)
        return cloud if isinstance(cloud, CloudSettings) else PUBLIC_CLOUD
    if not isinstance(cloud, CloudSettings):
        raise TypeError(f"cloud must be a CloudSettings, got {type(cloud).__name__}")
    return cloud


def token_service_endpoint(endpoint: str | httpx.URL | None, cloud: CloudSettings) -> httpx.URL:
    """The token service base URL: ``endpoint`` (a regional one, say) or the cloud's ``token_service_url``."""
    if endpoint is None:
        endpoint = cloud.token_service_url
    elif not isinstance(endpoint, str | httpx.URL):
        raise TypeError(f"endpoint must be a str, got {type(endpoint).__name__}")
    try:
        url = httpx.URL(str(endpoint).strip())
    except httpx.InvalidURL as exc:
        raise ValueError(f"endpoint is not a valid URL: {exc}") from exc
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"endpoint must be an absolute https URL, got {str(endpoint)!r}")
    if url.userinfo or url.query or url.fragment:
        raise ValueError("endpoint must not carry a user name, password, query or fragment")
    # user tokens come back in the responses: they must not cross the network in clear, credential or not
    ensure_safe_for_credentials(url, None)
    return url


def user_token_config(
    credential: Any,
    endpoint: httpx.URL,
    cloud: CloudSettings,
    *,
    timeout: float | httpx.Timeout | None,
    retry_policy: RetryPolicy | None,
    user_agent: str | None,
) -> CallConfig:
    """Call settings: a token for the cloud's Bot Framework scope, sent to the endpoint's host and nowhere else."""
    check_credential(credential)
    return client_call_config(
        timeout=timeout,
        retry_policy=retry_policy,
        user_agent=user_agent,
        scopes=(cloud.scope,) if credential is not None else None,
        trusted_hosts=HostAllowList.of([endpoint.host]),
    )


# -- UserToken ---------------------------------------------------------------------------------------------


def build_get_token(
    base: httpx.URL, user_id: str, connection_name: str, *, channel_id: str | None, code: str | None
) -> Operation[TokenResponse | None]:
    query = [
        ("userId", _required(user_id, "user_id")),
        ("connectionName", _required(connection_name, "connection_name")),
        ("channelId", _optional(channel_id, "channel_id")),
        ("code", _optional(code, "code")),
    ]
    return Operation(
        request=httpx.Request("GET", build_url(base, "/api/usertoken/GetToken", query), headers=_ACCEPT_JSON),
        parse=parse_get_token,
        success=_TOKEN_OR_NOT_FOUND,
        # a magic code may be redeemed once: repeat the call only when the service certainly did not see it
        idempotent=code is None,
    )


def build_get_aad_tokens(
    base: httpx.URL,
    user_id: str,
    connection_name: str,
    resource_urls: Iterable[str],
    *,
    channel_id: str | None,
) -> Operation[dict[str, TokenResponse]]:
    query = [
        ("userId", _required(user_id, "user_id")),
        ("connectionName", _required(connection_name, "connection_name")),
        ("channelId", _optional(channel_id, "channel_id")),
    ]
    if isinstance(resource_urls, str | bytes) or not isinstance(resource_urls, Iterable):
        raise TypeError("resource_urls must be an iterable of URLs (a list), not a single string")
    urls = [_required(url, "resource_urls[]") for url in resource_urls]
    if not urls:
        raise ValueError("resource_urls must name at least one resource")
    body = AadResourceUrls(resource_urls=urls).to_json()
    return Operation(
        request=bytes_request("POST", build_url(base, "/api/usertoken/GetAadTokens", query), body, _JSON_HEADERS),
        parse=_parse_aad_tokens,
        # a read that happens to be a POST: asking twice hands out the same tokens
        idempotent=True,
    )


def build_sign_out(
    base: httpx.URL, user_id: str, *, connection_name: str | None, channel_id: str | None
) -> Operation[None]:
    query = [
        ("userId", _required(user_id, "user_id")),
        ("connectionName", _optional(connection_name, "connection_name")),
        ("channelId", _optional(channel_id, "channel_id")),
    ]
    return Operation(
        request=httpx.Request("DELETE", build_url(base, "/api/usertoken/SignOut", query)),
        parse=parse_none,
        success=frozenset({200, 204}),
        idempotent=True,
    )


def build_get_token_status(
    base: httpx.URL, user_id: str, *, channel_id: str | None, include: str | None
) -> Operation[list[TokenStatus]]:
    query = [
        ("userId", _required(user_id, "user_id")),
        ("channelId", _optional(channel_id, "channel_id")),
        ("include", _optional(include, "include")),
    ]
    return Operation(
        request=httpx.Request("GET", build_url(base, "/api/usertoken/GetTokenStatus", query), headers=_ACCEPT_JSON),
        parse=model_list_parser(TokenStatus),
        idempotent=True,
    )


def build_exchange_token(
    base: httpx.URL,
    user_id: str,
    connection_name: str,
    channel_id: str,
    request: TokenExchangeRequest | Mapping[str, Any],
) -> Operation[ExchangeResult]:
    query = [
        ("userId", _required(user_id, "user_id")),
        ("connectionName", _required(connection_name, "connection_name")),
        ("channelId", _required(channel_id, "channel_id")),
    ]
    body = coerce_model(request, TokenExchangeRequest, "request")
    if not body.token and not body.uri:
        raise ValueError("request must carry the token to exchange (or a resource uri)")
    return Operation(
        request=bytes_request("POST", build_url(base, "/api/usertoken/exchange", query), body.to_json(), _JSON_HEADERS),
        parse=parse_exchange_token,
        success=frozenset({200, 400, 404}),
        # the same SSO token exchanges to the same stored user token: a repeat changes nothing
        idempotent=True,
    )


def parse_get_token(response: httpx.Response) -> TokenResponse | None:
    """200 with a token: the token; 404, or a 200 without one: None (the user is not signed in)."""
    if response.status_code == 404:
        return None
    result = _parse_token_response(response)
    return result if result.token else None


def parse_exchange_token(response: httpx.Response) -> ExchangeResult:
    """200 with a token: the token; 400: the service's ErrorResponse; 404 or no token: None."""
    if response.status_code == 400:
        return _error_response(response)
    return parse_get_token(response)


def _error_response(response: httpx.Response) -> ErrorResponse:
    details = parse_error_details(response)
    raw = details.raw
    if isinstance(raw, Mapping) and isinstance(raw.get("error"), Mapping):
        try:
            return ErrorResponse.from_dict(raw)
        except (TypeError, ValueError, KeyError):
            pass  # an error object of an unexpected shape: keep what was normalised below
    return ErrorResponse(error=Error(code=details.code, message=details.message))


def _parse_aad_tokens(response: httpx.Response) -> dict[str, TokenResponse]:
    if not response.content.strip():
        return {}
    data = parse_json(response)
    if not isinstance(data, Mapping):
        raise DeserializationError(
            f"expected a JSON object of resource URL -> TokenResponse, got {type(data).__name__}", response=response
        )
    try:
        return {str(url): serde.structure_parsed(item, TokenResponse) for url, item in data.items()}
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise DeserializationError(f"response body is not a map of TokenResponse: {exc}", response=response) from exc


# -- BotSignIn ---------------------------------------------------------------------------------------------


def _sign_in_query(
    state: str | TokenExchangeState,
    code_challenge: str | None,
    emulator_url: str | None,
    final_redirect: str | None,
) -> list[tuple[str, str | None]]:
    if isinstance(state, TokenExchangeState):
        state = state.to_state()
    return [
        ("state", _required(state, "state")),
        ("code_challenge", _optional(code_challenge, "code_challenge")),
        ("emulatorUrl", _optional(emulator_url, "emulator_url")),
        ("finalRedirect", _optional(final_redirect, "final_redirect")),
    ]


def build_get_sign_in_url(
    base: httpx.URL,
    state: str | TokenExchangeState,
    *,
    code_challenge: str | None,
    emulator_url: str | None,
    final_redirect: str | None,
) -> Operation[str]:
    query = _sign_in_query(state, code_challenge, emulator_url, final_redirect)
    return Operation(
        request=httpx.Request("GET", build_url(base, "/api/botsignin/GetSignInUrl", query)),
        parse=parse_sign_in_url,
        idempotent=True,
    )


def build_get_sign_in_resource(
    base: httpx.URL,
    state: str | TokenExchangeState,
    *,
    code_challenge: str | None,
    emulator_url: str | None,
    final_redirect: str | None,
) -> Operation[SignInUrlResponse]:
    query = _sign_in_query(state, code_challenge, emulator_url, final_redirect)
    return Operation(
        request=httpx.Request("GET", build_url(base, "/api/botsignin/GetSignInResource", query), headers=_ACCEPT_JSON),
        parse=model_parser(SignInUrlResponse),
        idempotent=True,
    )


def parse_sign_in_url(response: httpx.Response) -> str:
    """The link: the service answers with the bare URL as text (a JSON string is accepted too)."""
    text = response.text.strip()
    if text.startswith('"'):
        try:
            decoded = serde.loads(text)
        except (ValueError, RecursionError):
            decoded = None
        if isinstance(decoded, str):
            text = decoded.strip()
    if not text:
        raise DeserializationError("the sign-in URL response is empty", response=response)
    return text


# -- arguments ---------------------------------------------------------------------------------------------


def _required(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{name} must not be empty")
    return value


def _optional(value: Any, name: str) -> str | None:
    # an empty string would go on the wire as "name=": leave the parameter out with None instead
    return None if value is None else _required(value, f"{name} (None to leave it out)")
