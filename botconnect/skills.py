"""Bot-to-bot calls (sync): a parent bot posting activities to its skills."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import httpx

from ._core.requests import skills as build
from ._core.retry import RetryPolicy
from ._pipeline import Pipeline, TokenCredential
from .errors import ClientClosedError
from .models import Activity, ExpectedReplies, InvokeResponse

__all__ = ["SkillClient"]

T = TypeVar("T")


class SkillClient:
    """Post activities to skills (other bots) as their parent bot, the way every Bot Framework SDK does.

    ``credential`` is the parent bot's :class:`MicrosoftAppCredentials` (or any azure-identity style
    credential); each call asks it for a token for ``"{to_bot_id}/.default"``. Without a credential, or with an
    empty ``from_bot_id``, calls are anonymous (local development). The token only goes over https, or plain
    http to loopback.
    """

    def __init__(
        self,
        credential: TokenCredential | None = None,
        *,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float | httpx.Timeout | None = None,
        retry_policy: RetryPolicy | None = None,
        user_agent: str | None = None,
    ) -> None:
        config = build.skill_config(credential, timeout=timeout, retry_policy=retry_policy, user_agent=user_agent)
        self._credential = credential
        self._pipeline = Pipeline(config=config, credential=credential, http_client=http_client, transport=transport)
        self._closed = False

    def post_activity(
        self,
        from_bot_id: str | None,
        to_bot_id: str,
        to_url: str,
        service_url: str,
        conversation_id: str,
        activity: Activity | Mapping[str, Any],
        *,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> InvokeResponse:
        """POST ``activity`` to the skill at ``to_url``; returns the skill's status and JSON body, whatever the status.

        A copy is sent (``activity`` is not changed): ``relatesTo`` references the original conversation,
        ``conversation.id`` becomes ``conversation_id`` (the skill conversation, also sent as
        ``x-ms-conversation-id``), ``serviceUrl`` becomes ``service_url`` (the parent's skill host endpoint,
        where the skill sends its replies) and ``recipient.role`` becomes ``"skill"``. A body that is not JSON
        is returned as text. The call is not idempotent: it is retried only when no connection was made.
        """
        call = build.build_post_activity(
            self._credential, from_bot_id, to_bot_id, to_url, service_url, conversation_id, activity
        )
        return self._run(call, timeout, retry_policy)

    def post_buffered_activity(
        self,
        from_bot_id: str | None,
        to_bot_id: str,
        to_url: str,
        service_url: str,
        conversation_id: str,
        activity: Activity | Mapping[str, Any],
        *,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> ExpectedReplies:
        """Like :meth:`post_activity`, with ``deliveryMode: expectReplies``: returns the skill's replies.

        A skill answering with a non-2xx status raises the usual :class:`HttpResponseError` subclass (after the
        retries any POST gets: 429, 503 with ``Retry-After``); an empty 2xx body gives ``ExpectedReplies()``.
        """
        call = build.build_post_buffered_activity(
            self._credential, from_bot_id, to_bot_id, to_url, service_url, conversation_id, activity
        )
        return self._run(call, timeout, retry_policy)

    def _run(self, call: build.SkillCall[T], timeout: float | None, retry_policy: RetryPolicy | None) -> T:
        if self._closed:
            raise ClientClosedError("the client is closed")
        # each call has the audience of its own skill: same pool, per-call scopes
        pipeline = self._pipeline.borrow(config=call.config(self._pipeline.config), credential=self._credential)
        return pipeline.run(call.operation, timeout=timeout, retry_policy=retry_policy)

    def close(self) -> None:
        """Close the connection pool (a user-supplied ``http_client`` is left open). Safe to call twice."""
        self._closed = True
        self._pipeline.close()

    def __enter__(self) -> SkillClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return "<SkillClient>"
