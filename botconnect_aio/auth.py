"""Credentials for the async clients."""

from __future__ import annotations

from typing import Any

import anyio
import httpx

from botconnect._core.auth import (
    GOVERNMENT_CLOUD,
    PUBLIC_CLOUD,
    AccessToken,
    AppCredentialCore,
    CloudSettings,
    redact_error,
)
from botconnect._core.pipeline import CallConfig
from botconnect.errors import BotConnectError

from ._pipeline import AsyncPipeline
from ._shared_pool import shared_pipeline

__all__ = ["GOVERNMENT_CLOUD", "PUBLIC_CLOUD", "AccessToken", "CloudSettings", "MicrosoftAppCredentials"]


class MicrosoftAppCredentials:
    """A bot's Microsoft App ID and password, exchanged for Bot Framework tokens (cached, refreshed ahead of expiry).

    ``cloud=GOVERNMENT_CLOUD`` selects the US-government endpoints; ``tenant`` is for single-tenant bots.
    """

    def __init__(
        self,
        app_id: str,
        app_password: str,
        *,
        tenant: str | None = None,
        oauth_endpoint: str | None = None,
        scope: str | None = None,
        cloud: CloudSettings = PUBLIC_CLOUD,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._core = AppCredentialCore(
            app_id, app_password, tenant=tenant, oauth_endpoint=oauth_endpoint, scope=scope, cloud=cloud
        )
        pipeline = None
        if http_client is None and transport is None:
            # the process's shared pools: a credential per message then costs no pool (its token cache is its own)
            pipeline = shared_pipeline(config=CallConfig(), credential=None)
        if pipeline is None:
            pipeline = AsyncPipeline(config=CallConfig(), credential=None, http_client=http_client, transport=transport)
        self._pipeline = pipeline
        self._lock = anyio.Lock()

    @property
    def app_id(self) -> str:
        """The bot's Microsoft App ID (the client id tokens are requested for)."""
        return self._core.app_id

    @property
    def cloud(self) -> CloudSettings:
        """The cloud whose token endpoint and Bot Framework scope are used."""
        return self._core.cloud

    @property
    def scope(self) -> str:
        """The scope tokens are requested for when ``get_token`` is called without scopes."""
        return self._core.scope

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        """A valid token for ``scopes`` (default: the Bot Framework scope); concurrent callers share one refresh."""
        wanted = self._core.scopes_for(scopes)
        token = self._core.cached(wanted)
        if token is not None:
            return token
        async with self._lock:
            token = self._core.cached(wanted)
            if token is not None:
                return token
            try:
                return await self._pipeline.run(self._core.token_operation(wanted))
            except BotConnectError as exc:
                redact_error(exc)
                fallback = self._core.still_valid(wanted)
                if fallback is not None:
                    return fallback
                raise

    async def close(self) -> None:
        """Stop fetching tokens (leaving its block does it); safe to call twice. A pool made from ``transport`` is
        closed; the shared pool (neither ``transport`` nor ``http_client`` given) stays open for other clients."""
        await self._pipeline.close()

    async def __aenter__(self) -> MicrosoftAppCredentials:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return repr(self._core)
