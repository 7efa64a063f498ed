"""The sync ACS Chat client: create, list and delete threads."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import httpx

from .._acs_client import AcsClient
from .._core.requests import chat as build
from .._core.retry import RetryPolicy
from .._paging import ItemPaged
from .._pipeline import Pipeline, TokenCredential
from .._transport import HTTP11Transport
from ..models.chat import ChatParticipant, ChatRetentionPolicy, ChatThreadItem, CreateChatThreadResult
from ._thread_client import ChatThreadClient

__all__ = ["ChatClient"]


class ChatClient(AcsClient):
    """Azure Communication Services Chat at ``endpoint`` (``https://<resource>.communication.azure.com``).

    ``credential`` is a :class:`CommunicationTokenCredential` (an ACS user token); the token is only ever sent to
    the endpoint's own host, over https (plain http to loopback only). ``api_version`` defaults to 2025-03-15;
    2024-03-07 works too, without the 2025 fields (thread metadata, retention policies, participant metadata).
    In ``botconnect_aio``, ``async with client:`` also enters its CommunicationTokenCredential, which owns the
    credential's proactive refresh for the duration of the block.
    """

    def __init__(
        self,
        endpoint: str,
        credential: TokenCredential,
        *,
        api_version: str = build.DEFAULT_API_VERSION,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float | httpx.Timeout | None = None,
        retry_policy: RetryPolicy | None = None,
        user_agent: str | None = None,
        **kwargs: Any,
    ) -> None:
        self._context, config, options = build.chat_client_setup(
            endpoint,
            credential,
            api_version,
            kwargs,
            where="ChatClient",
            timeout=timeout,
            retry_policy=retry_policy,
            user_agent=user_agent,
            transport=transport,
            transport_type=httpx.BaseTransport,
            http_client=http_client,
            make_transport=HTTP11Transport,
        )
        self._azure = options.calls
        self._credential = credential
        self._pipeline = Pipeline(
            config=config, credential=credential, http_client=http_client, transport=options.transport
        )

    @property
    def endpoint(self) -> str:
        """The ACS resource endpoint the client talks to."""
        return str(self._context.endpoint)

    @property
    def api_version(self) -> str:
        """The ACS Chat api-version sent with every request."""
        return self._context.api_version

    def get_chat_thread_client(self, thread_id: str) -> ChatThreadClient:
        """A client for one thread, sharing this client's connections, credential and settings (use it while this
        client is open; closing it leaves this client's connections open)."""
        return ChatThreadClient._bind(self._context, self._pipeline, self._credential, thread_id, self._azure)

    def create_chat_thread(
        self,
        topic: str,
        *,
        thread_participants: Sequence[ChatParticipant] | None = None,
        idempotency_token: str | None = None,
        metadata: Mapping[str, str] | None = None,
        retention_policy: ChatRetentionPolicy | None = None,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
        **kwargs: Any,
    ) -> CreateChatThreadResult:
        """Create a thread; ``result.errors`` pairs each participant that could not be added with its error.

        ``idempotency_token`` (default: a new uuid4) is sent as ``repeatability-request-id`` and reused by every
        retry, so a retried call never creates two threads. ``metadata`` and ``retention_policy`` need 2025-03-15.
        """
        operation = build.build_create_chat_thread(
            self._context,
            topic,
            thread_participants=thread_participants,
            idempotency_token=idempotency_token,
            metadata=metadata,
            retention_policy=retention_policy,
        )
        return self._run("create_chat_thread", operation, kwargs, timeout, retry_policy, deadline)

    def delete_chat_thread(
        self,
        thread_id: str,
        *,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
        **kwargs: Any,
    ) -> None:
        """Delete a thread."""
        operation = build.build_delete_chat_thread(self._context, thread_id)
        return self._run("delete_chat_thread", operation, kwargs, timeout, retry_policy, deadline)

    def list_chat_threads(
        self, *, results_per_page: int | None = None, start_time: datetime | None = None, **kwargs: Any
    ) -> ItemPaged[ChatThreadItem]:
        """The threads the user is in, newest first; ``start_time`` keeps those with activity after it."""
        factory = build.build_list_chat_threads(self._context, results_per_page, start_time)
        return ItemPaged(factory, self._azure.runner(self._pipeline.run, kwargs, "list_chat_threads"))

    def close(self) -> None:
        """Close the connection pool (a user-supplied ``http_client`` is left open). Safe to call twice."""
        self._pipeline.close()

    def __repr__(self) -> str:
        return f"<ChatClient endpoint={self.endpoint!r} api_version={self.api_version!r}>"
