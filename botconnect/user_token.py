"""The user token service (sync): OAuth sign-in and Teams single sign-on for a bot's users."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from ._core import signin
from ._core.auth import CloudSettings
from ._core.requests import user_token as build
from ._core.retry import RetryPolicy
from ._pipeline import Pipeline, TokenCredential
from .models import (
    Activity,
    ErrorResponse,
    SignInInvokeResponse,
    SignInUrlResponse,
    TokenExchangeRequest,
    TokenExchangeState,
    TokenResponse,
    TokenStatus,
)

__all__ = ["BotSignInOperations", "SignInHandler", "UserTokenClient", "UserTokenOperations"]


class UserTokenOperations:
    """``client.user_token``: a user's tokens for the bot's OAuth connections (tag ``UserToken``)."""

    def __init__(self, base: httpx.URL, pipeline: Pipeline) -> None:
        self._base = base
        self._pipeline = pipeline

    def get_token(
        self,
        user_id: str,
        connection_name: str,
        *,
        channel_id: str | None = None,
        code: str | None = None,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
    ) -> TokenResponse | None:
        """The user's token for ``connection_name``, or None when the user is not signed in (a 404 is no error).

        ``code`` is the magic code the user typed (or the ``state`` of a ``signin/verifyState`` invoke): the
        service redeems it for the token. A call with a code is retried only when it certainly was not sent.
        """
        operation = build.build_get_token(self._base, user_id, connection_name, channel_id=channel_id, code=code)
        return self._pipeline.run(operation, timeout=timeout, retry_policy=retry_policy, deadline=deadline)

    def get_aad_tokens(
        self,
        user_id: str,
        connection_name: str,
        resource_urls: Iterable[str],
        *,
        channel_id: str | None = None,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
    ) -> dict[str, TokenResponse]:
        """Entra ID tokens for each of ``resource_urls`` from the user's Entra ID connection, keyed by resource URL."""
        operation = build.build_get_aad_tokens(
            self._base, user_id, connection_name, resource_urls, channel_id=channel_id
        )
        return self._pipeline.run(operation, timeout=timeout, retry_policy=retry_policy, deadline=deadline)

    def sign_out(
        self,
        user_id: str,
        *,
        connection_name: str | None = None,
        channel_id: str | None = None,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
    ) -> None:
        """Forget the user's token for ``connection_name`` (every connection when None)."""
        operation = build.build_sign_out(self._base, user_id, connection_name=connection_name, channel_id=channel_id)
        return self._pipeline.run(operation, timeout=timeout, retry_policy=retry_policy, deadline=deadline)

    def get_token_status(
        self,
        user_id: str,
        *,
        channel_id: str | None = None,
        include: str | None = None,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
    ) -> list[TokenStatus]:
        """Whether the user has a token, for each of the bot's connections (``include`` filters them)."""
        operation = build.build_get_token_status(self._base, user_id, channel_id=channel_id, include=include)
        return self._pipeline.run(operation, timeout=timeout, retry_policy=retry_policy, deadline=deadline)

    def exchange_token(
        self,
        user_id: str,
        connection_name: str,
        channel_id: str,
        request: TokenExchangeRequest | Mapping[str, Any],
        *,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
    ) -> TokenResponse | ErrorResponse | None:
        """Exchange an SSO token (``request.token``, from a Teams ``signin/tokenExchange``) for the user's token.

        Three results, none of them an exception: the :class:`TokenResponse` (200); the service's
        :class:`ErrorResponse` (400: the SSO token cannot be exchanged, e.g. it is for another audience or the
        user must consent first); None (404, or a 200 without a token). Other statuses raise as usual.
        """
        operation = build.build_exchange_token(self._base, user_id, connection_name, channel_id, request)
        return self._pipeline.run(operation, timeout=timeout, retry_policy=retry_policy, deadline=deadline)


class BotSignInOperations:
    """``client.bot_sign_in``: sign-in links for a bot's users (tag ``BotSignIn``)."""

    def __init__(self, base: httpx.URL, pipeline: Pipeline) -> None:
        self._base = base
        self._pipeline = pipeline

    def get_sign_in_url(
        self,
        state: str | TokenExchangeState,
        *,
        code_challenge: str | None = None,
        emulator_url: str | None = None,
        final_redirect: str | None = None,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
    ) -> str:
        """The sign-in link for ``state`` (a :class:`TokenExchangeState`, or its encoded ``to_state()``)."""
        operation = build.build_get_sign_in_url(
            self._base, state, code_challenge=code_challenge, emulator_url=emulator_url, final_redirect=final_redirect
        )
        return self._pipeline.run(operation, timeout=timeout, retry_policy=retry_policy, deadline=deadline)

    def get_sign_in_resource(
        self,
        state: str | TokenExchangeState,
        *,
        code_challenge: str | None = None,
        emulator_url: str | None = None,
        final_redirect: str | None = None,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
    ) -> SignInUrlResponse:
        """The sign-in link for ``state`` and the token exchange resource Teams needs to try SSO first."""
        operation = build.build_get_sign_in_resource(
            self._base, state, code_challenge=code_challenge, emulator_url=emulator_url, final_redirect=final_redirect
        )
        return self._pipeline.run(operation, timeout=timeout, retry_policy=retry_policy, deadline=deadline)


class UserTokenClient:
    """The Bot Framework user token service: the tokens a bot's users granted it through OAuth connections.

    ``credential`` is the bot's :class:`MicrosoftAppCredentials` (or any azure-identity style credential; None
    only for a local emulator without an app id). ``endpoint`` defaults to the cloud's ``token_service_url``;
    a data-residency endpoint (``https://europe.token.botframework.com``) works the same. ``cloud`` defaults to
    the credential's cloud, else the public one; the token is for its Bot Framework scope and goes to the
    endpoint's host only, over https (plain http to loopback only).
    """

    def __init__(
        self,
        credential: TokenCredential | None,
        *,
        endpoint: str | None = None,
        cloud: CloudSettings | None = None,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float | httpx.Timeout | None = None,
        retry_policy: RetryPolicy | None = None,
        user_agent: str | None = None,
    ) -> None:
        settings = build.token_service_cloud(credential, cloud)
        base = build.token_service_endpoint(endpoint, settings)
        config = build.user_token_config(
            credential, base, settings, timeout=timeout, retry_policy=retry_policy, user_agent=user_agent
        )
        self._pipeline = Pipeline(config=config, credential=credential, http_client=http_client, transport=transport)
        self.endpoint = str(base)
        self._user_token = UserTokenOperations(base, self._pipeline)
        self._bot_sign_in = BotSignInOperations(base, self._pipeline)

    @property
    def user_token(self) -> UserTokenOperations:
        """UserTokenOperations: Tokens: get, exchange (SSO), status, sign out."""
        return self._user_token

    @property
    def bot_sign_in(self) -> BotSignInOperations:
        """BotSignInOperations: Sign-in links and resources."""
        return self._bot_sign_in

    def close(self) -> None:
        """Close the connection pool (a user-supplied ``http_client`` is left open). Safe to call twice."""
        self._pipeline.close()

    def __enter__(self) -> UserTokenClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<UserTokenClient endpoint={self.endpoint!r}>"


class SignInHandler:
    """Answers the Teams sign-in invokes for one OAuth connection, on a :class:`UserTokenClient`.

    Route ``signin/verifyState`` to :meth:`handle_verify_state` and ``signin/tokenExchange`` to
    :meth:`handle_token_exchange`; write the returned :class:`SignInInvokeResponse` to the HTTP response and,
    when it has a ``token_response``, carry on with the user signed in. Keep one handler for the bot's lifetime:
    it remembers the last ``dedupe_size`` exchanges (in this process) to answer Teams' redeliveries.
    """

    def __init__(self, user_token_client: UserTokenClient, connection_name: str, *, dedupe_size: int = 1000) -> None:
        self._client = user_token_client
        self.connection_name = signin.check_connection_name(connection_name)
        self._dedupe = signin.ExchangeDeduplicator(dedupe_size)

    def handle_verify_state(self, activity: Activity | Mapping[str, Any]) -> SignInInvokeResponse:
        """Answer ``signin/verifyState``: 200 (``token_response`` set) once the magic code in ``value.state``
        gave the user's token, 404 when there is none, 500 when the token service failed (Teams retries)."""
        return self._drive(signin.verify_state_flow(activity, self.connection_name))

    def handle_token_exchange(self, activity: Activity | Mapping[str, Any]) -> SignInInvokeResponse:
        """Answer ``signin/tokenExchange``: 200 ``{id, connectionName}`` (``token_response`` set) once the SSO
        token was exchanged; 400 for a missing value or another connection; 412 when it cannot be exchanged
        (Teams shows the sign-in button). A redelivered ``value.id`` is answered 200 with ``duplicate`` set,
        without a second exchange."""
        return self._drive(signin.token_exchange_flow(activity, self.connection_name, self._dedupe))

    def _drive(self, flow: signin.SignInFlow) -> SignInInvokeResponse:
        try:
            action = next(flow)
            while True:
                try:
                    result = self._perform(action)
                except Exception as exc:  # the flow decides what a failure answers
                    action = flow.throw(exc)
                else:
                    action = flow.send(result)
        except StopIteration as stop:
            answer: SignInInvokeResponse = stop.value
            return answer
        finally:
            flow.close()

    def _perform(self, action: signin.GetUserToken | signin.ExchangeUserToken) -> Any:
        tokens = self._client.user_token
        if isinstance(action, signin.GetUserToken):
            return tokens.get_token(
                action.user_id, action.connection_name, channel_id=action.channel_id, code=action.code
            )
        request = TokenExchangeRequest(token=action.token)
        return tokens.exchange_token(action.user_id, action.connection_name, action.channel_id, request)

    def __repr__(self) -> str:
        return f"<SignInHandler connection_name={self.connection_name!r}>"
