"""The sync ACS Chat thread client: messages, participants, typing notifications and read receipts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import httpx

from .._acs_client import AcsClient
from .._core.azure_compat import AzureCallOptions
from .._core.requests import chat as build
from .._core.retry import RetryPolicy
from .._core.security import path_segment
from .._paging import ItemPaged
from .._pipeline import Pipeline, TokenCredential
from .._transport import HTTP11Transport
from ..models.chat import (
    ChatError,
    ChatMessage,
    ChatMessageReadReceipt,
    ChatMessageType,
    ChatParticipant,
    ChatRetentionPolicy,
    ChatThreadProperties,
    SendChatMessageResult,
)
from ..models.identifiers import CommunicationIdentifier, CommunicationIdentifierLike

__all__ = ["ChatThreadClient"]


class ChatThreadClient(AcsClient):
    """One chat thread (``thread_id``) at ``endpoint``; also from ``ChatClient.get_chat_thread_client``.

    Takes the same ``credential`` and settings as :class:`ChatClient` (and, in ``botconnect_aio``, enters that
    CommunicationTokenCredential on ``async with`` the same way).
    """

    def __init__(
        self,
        endpoint: str,
        credential: TokenCredential,
        thread_id: str,
        *,
        api_version: str = build.DEFAULT_API_VERSION,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float | httpx.Timeout | None = None,
        retry_policy: RetryPolicy | None = None,
        user_agent: str | None = None,
        **kwargs: Any,
    ) -> None:
        path_segment(thread_id, "thread_id")
        context, config, options = build.chat_client_setup(
            endpoint,
            credential,
            api_version,
            kwargs,
            where="ChatThreadClient",
            timeout=timeout,
            retry_policy=retry_policy,
            user_agent=user_agent,
            transport=transport,
            transport_type=httpx.BaseTransport,
            http_client=http_client,
            make_transport=HTTP11Transport,
        )
        self._azure = options.calls
        self._context = context
        self._credential = credential
        self._thread_id = thread_id
        self._pipeline = Pipeline(
            config=config, credential=credential, http_client=http_client, transport=options.transport
        )

    @classmethod
    def _bind(
        cls,
        context: build.ChatContext,
        parent: Pipeline,
        credential: TokenCredential,
        thread_id: str,
        azure: AzureCallOptions,
    ) -> ChatThreadClient:
        """A thread client on the parent's connection pool (closing it leaves the pool to the parent)."""
        path_segment(thread_id, "thread_id")
        self = cls.__new__(cls)
        self._context = context
        self._credential = credential
        self._thread_id = thread_id
        self._azure = azure
        self._pipeline = parent.borrow(config=parent.config, credential=credential)
        return self

    @property
    def thread_id(self) -> str:
        """The id of the chat thread this client works on."""
        return self._thread_id

    @property
    def endpoint(self) -> str:
        """The ACS resource endpoint the client talks to."""
        return str(self._context.endpoint)

    @property
    def api_version(self) -> str:
        """The ACS Chat api-version sent with every request."""
        return self._context.api_version

    # -- the thread ---------------------------------------------------------------------------------------------

    def get_properties(
        self,
        *,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
        **kwargs: Any,
    ) -> ChatThreadProperties:
        """The thread's topic, creator, creation time (and metadata and retention policy on 2025-03-15)."""
        operation = build.build_get_properties(self._context, self._thread_id)
        return self._run("get_properties", operation, kwargs, timeout, retry_policy, deadline)

    def update_topic(
        self,
        topic: str | None = None,
        *,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
        **kwargs: Any,
    ) -> None:
        """Set the thread's topic (without one, the call succeeds and changes nothing, as in the Azure SDK)."""
        operation = build.build_update_topic(self._context, self._thread_id, topic)
        return self._run("update_topic", operation, kwargs, timeout, retry_policy, deadline)

    def update_properties(
        self,
        *,
        topic: str | None = None,
        metadata: Mapping[str, str] | None = None,
        retention_policy: ChatRetentionPolicy | None = None,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
        **kwargs: Any,
    ) -> None:
        """Change only the given properties (merge-patch); ``metadata`` and ``retention_policy`` need 2025-03-15."""
        operation = build.build_update_properties(
            self._context, self._thread_id, topic=topic, metadata=metadata, retention_policy=retention_policy
        )
        return self._run("update_properties", operation, kwargs, timeout, retry_policy, deadline)

    # -- messages -----------------------------------------------------------------------------------------------

    def send_message(
        self,
        content: str,
        *,
        chat_message_type: ChatMessageType | str = ChatMessageType.TEXT,
        sender_display_name: str | None = None,
        metadata: Mapping[str, str] | None = None,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
        **kwargs: Any,
    ) -> SendChatMessageResult:
        """Send a ``text`` or ``html`` message; returns its id. Not retried once the service may have received it."""
        operation = build.build_send_message(
            self._context,
            self._thread_id,
            content,
            chat_message_type=chat_message_type,
            sender_display_name=sender_display_name,
            metadata=metadata,
        )
        return self._run("send_message", operation, kwargs, timeout, retry_policy, deadline)

    def get_message(
        self,
        message_id: str,
        *,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
        **kwargs: Any,
    ) -> ChatMessage:
        """One message by id."""
        operation = build.build_get_message(self._context, self._thread_id, message_id)
        return self._run("get_message", operation, kwargs, timeout, retry_policy, deadline)

    def list_messages(
        self, *, results_per_page: int | None = None, start_time: datetime | None = None, **kwargs: Any
    ) -> ItemPaged[ChatMessage]:
        """The thread's messages, newest first (system messages included); ``start_time`` keeps later ones."""
        factory = build.build_list_messages(self._context, self._thread_id, results_per_page, start_time)
        return ItemPaged(factory, self._azure.runner(self._pipeline.run, kwargs, "list_messages"))

    def update_message(
        self,
        message_id: str,
        content: str | None = None,
        *,
        metadata: Mapping[str, str] | None = None,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
        **kwargs: Any,
    ) -> None:
        """Edit a message's content and/or metadata (merge-patch)."""
        operation = build.build_update_message(self._context, self._thread_id, message_id, content, metadata=metadata)
        return self._run("update_message", operation, kwargs, timeout, retry_policy, deadline)

    def delete_message(
        self,
        message_id: str,
        *,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
        **kwargs: Any,
    ) -> None:
        """Delete a message."""
        operation = build.build_delete_message(self._context, self._thread_id, message_id)
        return self._run("delete_message", operation, kwargs, timeout, retry_policy, deadline)

    # -- participants -------------------------------------------------------------------------------------------

    def list_participants(
        self, *, results_per_page: int | None = None, skip: int | None = None, **kwargs: Any
    ) -> ItemPaged[ChatParticipant]:
        """The thread's participants; ``skip`` starts that many participants in."""
        factory = build.build_list_participants(self._context, self._thread_id, results_per_page, skip)
        return ItemPaged(factory, self._azure.runner(self._pipeline.run, kwargs, "list_participants"))

    def add_participants(
        self,
        thread_participants: Sequence[ChatParticipant],
        *,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
        **kwargs: Any,
    ) -> list[tuple[ChatParticipant, ChatError]]:
        """Add participants; returns (participant, error) for each one that failed, an empty list if none did."""
        operation = build.build_add_participants(self._context, self._thread_id, thread_participants)
        return self._run("add_participants", operation, kwargs, timeout, retry_policy, deadline)

    def remove_participant(
        self,
        identifier: CommunicationIdentifier | CommunicationIdentifierLike,
        *,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
        **kwargs: Any,
    ) -> None:
        """Remove a participant from the thread."""
        operation = build.build_remove_participant(self._context, self._thread_id, identifier)
        return self._run("remove_participant", operation, kwargs, timeout, retry_policy, deadline)

    # -- typing and read receipts -------------------------------------------------------------------------------

    def send_typing_notification(
        self,
        *,
        sender_display_name: str | None = None,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
        **kwargs: Any,
    ) -> None:
        """Tell the other participants this user is typing."""
        operation = build.build_send_typing_notification(
            self._context, self._thread_id, sender_display_name=sender_display_name
        )
        return self._run("send_typing_notification", operation, kwargs, timeout, retry_policy, deadline)

    def send_read_receipt(
        self,
        message_id: str,
        *,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
        **kwargs: Any,
    ) -> None:
        """Mark ``message_id`` (and the messages before it) as read by this user."""
        operation = build.build_send_read_receipt(self._context, self._thread_id, message_id)
        return self._run("send_read_receipt", operation, kwargs, timeout, retry_policy, deadline)

    def list_read_receipts(
        self, *, results_per_page: int | None = None, skip: int | None = None, **kwargs: Any
    ) -> ItemPaged[ChatMessageReadReceipt]:
        """The latest read receipt of each participant."""
        factory = build.build_list_read_receipts(self._context, self._thread_id, results_per_page, skip)
        return ItemPaged(factory, self._azure.runner(self._pipeline.run, kwargs, "list_read_receipts"))

    def close(self) -> None:
        """Close this client (the connection pool too, unless it came from a ChatClient or ``http_client``)."""
        self._pipeline.close()

    def __repr__(self) -> str:
        return f"<ChatThreadClient endpoint={self.endpoint!r} thread_id={self._thread_id!r}>"
