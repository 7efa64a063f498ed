"""Connector operation groups (async): each method is a signature, a docstring and one pipeline call."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import httpx

from botconnect._core.requests import connector as build
from botconnect._core.retry import RetryPolicy

from .._paging import AsyncItemPaged

if TYPE_CHECKING:
    from botconnect.models import (
        Activity,
        AttachmentData,
        AttachmentInfo,
        ChannelAccount,
        ConversationMembers,
        ConversationParameters,
        ConversationResourceResponse,
        ResourceResponse,
        TeamsChannelAccount,
        Transcript,
    )

    from .._pipeline import AsyncPipeline

__all__ = ["AttachmentStream", "AttachmentsOperations", "ConversationsOperations"]


class ConversationsOperations:
    """``client.conversations``: conversations, activities and members on the channel's service URL."""

    def __init__(self, base: httpx.URL, pipeline: AsyncPipeline) -> None:
        self._base = base
        self._pipeline = pipeline

    async def create_conversation(
        self,
        parameters: ConversationParameters,
        *,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
    ) -> ConversationResourceResponse:
        """Create a new conversation (``POST /v3/conversations``), optionally with an initial activity."""
        operation = build.build_create_conversation(self._base, parameters)
        return await self._pipeline.run(operation, timeout=timeout, retry_policy=retry_policy, deadline=deadline)

    async def send_to_conversation(
        self,
        conversation_id: str,
        activity: Activity,
        *,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
    ) -> ResourceResponse:
        """Append an activity to the end of a conversation; returns the new activity's id."""
        operation = build.build_send_to_conversation(self._base, conversation_id, activity)
        return await self._pipeline.run(operation, timeout=timeout, retry_policy=retry_policy, deadline=deadline)

    async def reply_to_activity(
        self,
        conversation_id: str,
        activity_id: str,
        activity: Activity,
        *,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
    ) -> ResourceResponse:
        """Send an activity as a reply to ``activity_id`` (threaded on channels that support it)."""
        operation = build.build_reply_to_activity(self._base, conversation_id, activity_id, activity)
        return await self._pipeline.run(operation, timeout=timeout, retry_policy=retry_policy, deadline=deadline)

    async def update_activity(
        self,
        conversation_id: str,
        activity_id: str,
        activity: Activity,
        *,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
    ) -> ResourceResponse:
        """Replace an existing activity (edit a sent message) on channels that support it."""
        operation = build.build_update_activity(self._base, conversation_id, activity_id, activity)
        return await self._pipeline.run(operation, timeout=timeout, retry_policy=retry_policy, deadline=deadline)

    async def delete_activity(
        self,
        conversation_id: str,
        activity_id: str,
        *,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
    ) -> None:
        """Delete an existing activity on channels that support it."""
        operation = build.build_delete_activity(self._base, conversation_id, activity_id)
        return await self._pipeline.run(operation, timeout=timeout, retry_policy=retry_policy, deadline=deadline)

    async def send_conversation_history(
        self,
        conversation_id: str,
        transcript: Transcript,
        *,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
    ) -> ResourceResponse:
        """Upload a transcript of past activities so the channel can render them."""
        operation = build.build_send_conversation_history(self._base, conversation_id, transcript)
        return await self._pipeline.run(operation, timeout=timeout, retry_policy=retry_policy, deadline=deadline)

    async def get_conversation_members(
        self,
        conversation_id: str,
        *,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
    ) -> list[ChannelAccount]:
        """All members of a conversation, in one response (prefer the paged variant for large ones)."""
        operation = build.build_get_conversation_members(self._base, conversation_id)
        return await self._pipeline.run(operation, timeout=timeout, retry_policy=retry_policy, deadline=deadline)

    async def get_conversation_member(
        self,
        conversation_id: str,
        member_id: str,
        *,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
    ) -> ChannelAccount:
        """One member of a conversation (Connector v3.1)."""
        operation = build.build_get_conversation_member(self._base, conversation_id, member_id)
        return await self._pipeline.run(operation, timeout=timeout, retry_policy=retry_policy, deadline=deadline)

    async def delete_conversation_member(
        self,
        conversation_id: str,
        member_id: str,
        *,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
    ) -> None:
        """Remove a member from a conversation."""
        operation = build.build_delete_conversation_member(self._base, conversation_id, member_id)
        return await self._pipeline.run(operation, timeout=timeout, retry_policy=retry_policy, deadline=deadline)

    async def get_activity_members(
        self,
        conversation_id: str,
        activity_id: str,
        *,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
    ) -> list[ChannelAccount]:
        """The members an activity was delivered to."""
        operation = build.build_get_activity_members(self._base, conversation_id, activity_id)
        return await self._pipeline.run(operation, timeout=timeout, retry_policy=retry_policy, deadline=deadline)

    async def upload_attachment(
        self,
        conversation_id: str,
        attachment_upload: AttachmentData,
        *,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
    ) -> ResourceResponse:
        """Upload an attachment to the channel's blob storage; returns the attachment id."""
        operation = build.build_upload_attachment(self._base, conversation_id, attachment_upload)
        return await self._pipeline.run(operation, timeout=timeout, retry_policy=retry_policy, deadline=deadline)

    def get_conversations(self) -> AsyncItemPaged[ConversationMembers]:
        """Every conversation the bot has taken part in on this channel, paged by continuation token."""
        return AsyncItemPaged(lambda token: build.build_get_conversations(self._base, token), self._pipeline.run)

    def get_conversation_paged_members(
        self, conversation_id: str, *, page_size: int | None = None
    ) -> AsyncItemPaged[ChannelAccount]:
        """Members of a conversation, one page (of up to ``page_size``) at a time."""
        return AsyncItemPaged(
            lambda token: build.build_get_conversation_paged_members(self._base, conversation_id, page_size, token),
            self._pipeline.run,
        )

    def get_teams_conversation_paged_members(
        self, conversation_id: str, *, page_size: int | None = None
    ) -> AsyncItemPaged[TeamsChannelAccount]:
        """Members of a Teams conversation, with their Teams fields (email, UPN, tenant, role), page by page."""
        return AsyncItemPaged(
            lambda token: build.build_get_teams_conversation_paged_members(
                self._base, conversation_id, page_size, token
            ),
            self._pipeline.run,
        )


class AttachmentStream:
    """The bytes of an attachment view, streamed. Iterate it, or ``read()`` it all; close it (or use ``with``)."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        #: the view's media type, from the response's Content-Type
        self.content_type: str | None = response.headers.get("content-type")
        length = response.headers.get("content-length")
        #: the length the service announced, if any
        self.content_length: int | None = int(length) if length and length.isdigit() else None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.aiter_bytes():
                yield chunk
        finally:
            await self._response.aclose()

    async def read(self) -> bytes:
        """Read the whole view into memory."""
        try:
            return await self._response.aread()
        finally:
            await self._response.aclose()

    async def close(self) -> None:
        """Close the attachment's response (leaving its block does it)."""
        await self._response.aclose()

    async def __aenter__(self) -> AttachmentStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<AttachmentStream content_type={self.content_type!r} content_length={self.content_length!r}>"


class AttachmentsOperations:
    """``client.attachments``: attachments stored by the channel."""

    def __init__(self, base: httpx.URL, pipeline: AsyncPipeline) -> None:
        self._base = base
        self._pipeline = pipeline

    async def get_attachment_info(
        self,
        attachment_id: str,
        *,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
    ) -> AttachmentInfo:
        """Name, type and available views of an attachment."""
        operation = build.build_get_attachment_info(self._base, attachment_id)
        return await self._pipeline.run(operation, timeout=timeout, retry_policy=retry_policy, deadline=deadline)

    async def get_attachment(
        self,
        attachment_id: str,
        view_id: str,
        *,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
    ) -> AttachmentStream:
        """Stream one view (``original``, ``thumbnail``, ...) of an attachment, following the service's redirects."""
        operation = build.build_get_attachment(self._base, attachment_id, view_id)
        return AttachmentStream(
            await self._pipeline.run(operation, timeout=timeout, retry_policy=retry_policy, deadline=deadline)
        )
