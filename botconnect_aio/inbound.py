"""Authenticating the activities a bot receives (async): channel, Emulator and skill tokens."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import anyio
import httpx

from botconnect._core.auth import PUBLIC_CLOUD, CloudSettings
from botconnect._core.inbound_auth import AuthenticatorCore, ClaimsIdentity, PendingToken, repr_authenticator
from botconnect._core.signing_keys import (
    DEFAULT_REFRESH_INTERVAL,
    DEFAULT_UNKNOWN_KEY_COOLDOWN,
    KeySource,
    SigningKey,
    key_fetch_config,
)
from botconnect.errors import AuthenticationUnavailableError, BotConnectError

from ._pipeline import AsyncPipeline

__all__ = ["BotAuthenticator", "ClaimsIdentity"]


class BotAuthenticator:
    """Checks that an activity posted to the bot's messaging endpoint comes from where it claims to.

    ``app_id`` is this bot's Microsoft App ID (or several; None: development mode, where requests without an
    ``Authorization`` header pass as anonymous). ``allowed_callers`` are the app ids of bots allowed to call this
    one as a skill (``["*"]``: any); without them every skill token is refused. ``allow_emulator=False`` refuses
    Bot Framework Emulator tokens (do so in production). ``tenant_id`` also accepts Emulator and skill tokens issued
    by that tenant (single-tenant bots). Signing keys are fetched through ``http_client`` (or a client of its own),
    cached, and refreshed every ``refresh_interval`` seconds, or sooner for a token whose key is unknown (at most
    once per ``unknown_key_cooldown``). ``clock`` (monotonic seconds) is for tests.

    Every token or claim failure raises :class:`~botconnect.errors.AuthenticationError` (answer 401);
    :class:`~botconnect.errors.AuthenticationUnavailableError` (answer 503) means the keys could not be fetched and
    none are cached. Needs the ``auth`` extra: ``pip install 'botconnect[auth]'``.
    """

    def __init__(
        self,
        app_id: str | Sequence[str] | None,
        *,
        cloud: CloudSettings = PUBLIC_CLOUD,
        tenant_id: str | None = None,
        allowed_callers: Sequence[str] = (),
        allow_emulator: bool = True,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float | httpx.Timeout | None = None,
        refresh_interval: float = DEFAULT_REFRESH_INTERVAL,
        unknown_key_cooldown: float = DEFAULT_UNKNOWN_KEY_COOLDOWN,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._core = AuthenticatorCore(
            app_id,
            cloud=cloud,
            tenant_id=tenant_id,
            allowed_callers=allowed_callers,
            allow_emulator=allow_emulator,
            refresh_interval=refresh_interval,
            unknown_key_cooldown=unknown_key_cooldown,
            clock=clock or time.monotonic,
        )
        self._pipeline = AsyncPipeline(
            config=key_fetch_config(timeout), credential=None, http_client=http_client, transport=transport
        )
        self._locks = {id(self._core.channel_keys): anyio.Lock(), id(self._core.entra_keys): anyio.Lock()}

    @property
    def app_ids(self) -> tuple[str, ...]:
        """This bot's app ids (empty in development mode)."""
        return self._core.app_ids

    @property
    def cloud(self) -> CloudSettings:
        """The cloud whose channel and Entra issuers and key endpoints this authenticator trusts."""
        return self._core.cloud

    async def authenticate_request(self, activity: Any, authorization: str | None) -> ClaimsIdentity:
        """The identity behind ``authorization`` (the raw ``Authorization`` header, or None) for ``activity``
        (an :class:`~botconnect.models.Activity` or its wire dict), or an ``AuthenticationError``."""
        step = self._core.begin(activity, authorization)
        if isinstance(step, ClaimsIdentity):
            return step
        return self._core.finish(step, await self._signing_key(step))

    async def _signing_key(self, pending: PendingToken) -> SigningKey | None:
        source = pending.source
        if source.needs_fetch(pending.kid):
            seen = source.attempts
            async with self._locks[id(source)]:
                if source.attempts == seen and source.needs_fetch(pending.kid):
                    await self._refresh(source)
                elif not source.keys:  # the fetch this call waited for failed
                    raise source.unavailable()
        return source.key(pending.kid)

    async def _refresh(self, source: KeySource) -> None:
        flow = source.refresh_flow()
        try:
            operation = next(flow)
            while True:
                try:
                    result = await self._pipeline.run(operation)
                except BotConnectError as exc:
                    operation = flow.throw(exc)
                else:
                    operation = flow.send(result)
        except StopIteration:
            return
        except AuthenticationUnavailableError:
            if not source.keys:
                raise
        finally:
            flow.close()

    async def close(self) -> None:
        """Close the key-fetching connection pool (leaving its block does it). Safe to call twice."""
        await self._pipeline.close()

    async def __aenter__(self) -> BotAuthenticator:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return repr_authenticator(self._core)
