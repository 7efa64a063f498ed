"""The Azure Communication Services identity service (async): users and their access tokens.

Names as in ``azure.communication.identity.aio``; the sync twin is ``botconnect.identity``::

    async with CommunicationIdentityClient.from_connection_string(connection_string) as client:
        user, token = await client.create_user_and_token([CommunicationTokenScope.CHAT])
        chat = ChatClient(endpoint, CommunicationTokenCredential(token.token))
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any, cast

import httpx

from botconnect._core.auth import AccessToken
from botconnect._core.hmac_auth import KeyCredential, parse_connection_string
from botconnect._core.requests import identity as build
from botconnect._core.retry import RetryPolicy
from botconnect.models.identifiers import (
    CommunicationCloudEnvironment,
    CommunicationIdentifier,
    CommunicationIdentifierKind,
    CommunicationIdentifierLike,
    CommunicationUserIdentifier,
    CommunicationUserProperties,
    MicrosoftTeamsAppIdentifier,
    MicrosoftTeamsAppProperties,
    MicrosoftTeamsUserIdentifier,
    MicrosoftTeamsUserProperties,
    PhoneNumberIdentifier,
    PhoneNumberProperties,
    UnknownIdentifier,
    identifier_from_raw_id,
)
from botconnect.models.identity import CommunicationTokenScope

from ._acs_client import AcsClient
from ._pipeline import AsyncPipeline, AsyncTokenCredential
from ._transport import AsyncHTTP11Transport

__all__ = [
    "AccessToken",
    "CommunicationCloudEnvironment",
    "CommunicationIdentifier",
    "CommunicationIdentifierKind",
    "CommunicationIdentityClient",
    "CommunicationTokenScope",
    "CommunicationUserIdentifier",
    "CommunicationUserProperties",
    "MicrosoftTeamsAppIdentifier",
    "MicrosoftTeamsAppProperties",
    "MicrosoftTeamsUserIdentifier",
    "MicrosoftTeamsUserProperties",
    "PhoneNumberIdentifier",
    "PhoneNumberProperties",
    "UnknownIdentifier",
    "identifier_from_raw_id",
]


class CommunicationIdentityClient(AcsClient):
    """The identity service of the ACS resource at ``endpoint`` (``https://<resource>.communication.azure.com``;
    ``https://`` is added to a bare host name).

    ``credential``: the resource's access key (a str, or azure-core's ``AzureKeyCredential``, read at every call
    so ``update()`` rotates it), each request signed with HMAC-SHA256; or a token credential (``get_token``, e.g.
    azure-identity's) for an Entra ID token. Either is only sent to the endpoint's own host, over https (plain
    http to loopback only). ``api_version`` defaults to 2023-10-01, as azure-communication-identity 1.5.0.
    Tokens come back as :class:`AccessToken` ``(token, expires_on)``, ``expires_on`` in Unix seconds.

    The azure-core keyword arguments code written for azure-communication-identity passes (``headers``,
    ``user_agent``, ``connection_timeout``, ``retry_total``, ``connection_verify``...) are taken per client and per
    call as by ``ChatClient``, pipeline-only ones ignored with an ``IgnoredAzureOptionWarning``;
    ``logging_enable=True`` traces requests and responses at DEBUG with every token ``<redacted>``.
    """

    def __init__(
        self,
        endpoint: str,
        credential: str | KeyCredential | AsyncTokenCredential,
        *,
        api_version: str = build.DEFAULT_API_VERSION,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float | httpx.Timeout | None = None,
        retry_policy: RetryPolicy | None = None,
        user_agent: str | None = None,
        **kwargs: Any,
    ) -> None:
        # _trace: the network trace that redacts tokens, which AcsClient._run uses in place of azure-core's
        self._context, config, options, self._trace = build.identity_client_setup(
            endpoint,
            credential,
            api_version,
            kwargs,
            timeout=timeout,
            retry_policy=retry_policy,
            user_agent=user_agent,
            transport=transport,
            transport_type=httpx.AsyncBaseTransport,
            http_client=http_client,
            make_transport=AsyncHTTP11Transport,
        )
        self._azure = options.calls
        bearer = cast(AsyncTokenCredential, credential) if config.scopes is not None else None  # else config signs
        self._pipeline = AsyncPipeline(
            config=config, credential=bearer, http_client=http_client, transport=options.transport
        )

    @classmethod
    def from_connection_string(cls, conn_str: str, **kwargs: Any) -> CommunicationIdentityClient:
        """A client from ``endpoint=https://<resource>.communication.azure.com/;accesskey=<key>`` (the other
        keyword arguments are the constructor's)."""
        endpoint, access_key = parse_connection_string(conn_str)
        return cls(endpoint, access_key, **kwargs)

    @property
    def endpoint(self) -> str:
        """The resource's URL, as requests are sent to it."""
        return str(self._context.endpoint)

    @property
    def api_version(self) -> str:
        """The identity API version every request carries."""
        return self._context.api_version

    async def create_user(
        self,
        *,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
        **kwargs: Any,
    ) -> CommunicationUserIdentifier:
        """Create a user (no token). Not retried once the service may have created it."""
        operation = build.build_create_user(self._context)
        return await self._run("create_user", operation, kwargs, timeout, retry_policy, deadline)

    async def create_user_and_token(
        self,
        scopes: Sequence[CommunicationTokenScope | str],
        *,
        token_expires_in: timedelta | None = None,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
        **kwargs: Any,
    ) -> tuple[CommunicationUserIdentifier, AccessToken]:
        """Create a user and a token for ``scopes``, valid ``token_expires_in`` (1 to 24 hours; default 24)."""
        operation = build.build_create_user_and_token(self._context, scopes, token_expires_in)
        return await self._run("create_user_and_token", operation, kwargs, timeout, retry_policy, deadline)

    async def get_token(
        self,
        user: CommunicationUserIdentifier | CommunicationIdentifierLike,
        scopes: Sequence[CommunicationTokenScope | str],
        *,
        token_expires_in: timedelta | None = None,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
        **kwargs: Any,
    ) -> AccessToken:
        """A new token for ``user`` with ``scopes``, valid ``token_expires_in`` (1 to 24 hours; default 24)."""
        operation = build.build_get_token(self._context, user, scopes, token_expires_in)
        return await self._run("get_token", operation, kwargs, timeout, retry_policy, deadline)

    async def revoke_tokens(
        self,
        user: CommunicationUserIdentifier | CommunicationIdentifierLike,
        *,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
        **kwargs: Any,
    ) -> None:
        """Revoke every token issued to ``user`` so far (tokens issued later work)."""
        operation = build.build_revoke_tokens(self._context, user)
        return await self._run("revoke_tokens", operation, kwargs, timeout, retry_policy, deadline)

    async def delete_user(
        self,
        user: CommunicationUserIdentifier | CommunicationIdentifierLike,
        *,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
        **kwargs: Any,
    ) -> None:
        """Delete ``user`` and its data, revoking all its tokens."""
        operation = build.build_delete_user(self._context, user)
        return await self._run("delete_user", operation, kwargs, timeout, retry_policy, deadline)

    async def get_token_for_teams_user(
        self,
        aad_token: str,
        client_id: str,
        user_object_id: str,
        *,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
        **kwargs: Any,
    ) -> AccessToken:
        """Exchange a Teams user's Entra ID token (for app ``client_id``, user ``user_object_id``) for an ACS token
        expiring with it."""
        operation = build.build_get_token_for_teams_user(self._context, aad_token, client_id, user_object_id)
        return await self._run("get_token_for_teams_user", operation, kwargs, timeout, retry_policy, deadline)

    async def close(self) -> None:
        """Close the connection pool (a user-supplied ``http_client`` is left open). Safe to call twice."""
        await self._pipeline.close()

    def __repr__(self) -> str:
        return f"<CommunicationIdentityClient endpoint={self.endpoint!r} api_version={self.api_version!r}>"
