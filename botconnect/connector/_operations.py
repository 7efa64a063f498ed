"""Connector operation groups (sync): each method is a signature, a docstring and one pipeline call."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import httpx

from .._core.requests import connector as build
from .._core.retry import RetryPolicy
from .._paging import ItemPaged

if TYPE_CHECKING:
    from .._pipeline import Pipeline
    from ..models import (
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

__all__ = ["AttachmentStream", "AttachmentsOperations", "ConversationsOperations"]


class ConversationsOperations:
    """``client.conversations``: conversations, activities and members on the channel's service URL."""

    def __init__(self, base: httpx.URL, pipeline: Pipeline) -> None:
        self._base = base
        self._pipeline = pipeline

    def create_conversation(
        self,
        parameters: ConversationParameters,
        *,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
    ) -> ConversationResourceResponse:
        """Create a new conversation (``POST /v3/conversations``), optionally with an initial activity."""
        operation = build.build_create_conversation(self._base, parameters)
        return self._pipeline.run(operation, timeout=timeout, retry_policy=retry_policy, deadline=deadline)

    def send_to_conversation(
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
        return self._pipeline.run(operation, timeout=timeout, retry_policy=retry_policy, deadline=deadline)

    def reply_to_activity(
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
        return self._pipeline.run(operation, timeout=timeout, retry_policy=retry_policy, deadline=deadline)

    def update_activity(
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
        return self._pipeline.run(operation, timeout=timeout, retry_policy=retry_policy, deadline=deadline)

    def delete_activity(
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
        return self._pipeline.run(operation, timeout=timeout, retry_policy=retry_policy, deadline=deadline)

    def send_conversation_history(
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
        return self._pipeline.run(operation, timeout=timeout, retry_policy=retry_policy, deadline=deadline)

    def get_conversation_members(
        self,
        conversation_id: str,
        *,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
    ) -> list[ChannelAccount]:
        """All members of a conversation, in one response (prefer the paged variant for large ones)."""
        operation = build.build_get_conversation_members(self._base, conversation_id)
        return self._pipeline.run(operation, timeout=timeout, retry_policy=retry_policy, deadline=deadline)

    def get_conversation_member(
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
        return self._pipeline.run(operation, timeout=timeout, retry_policy=retry_policy, deadline=deadline)

    def delete_conversation_member(
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
        return self._pipeline.run(operation, timeout=timeout, retry_policy=retry_policy, deadline=deadline)

    def get_activity_members(
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
        return self._pipeline.run(operation, timeout=timeout, retry_policy=retry_policy, deadline=deadline)

    def upload_attachment(
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
        return self._pipeline.run(operation, timeout=timeout, retry_policy=retry_policy, deadline=deadline)

    def get_conversations(self) -> ItemPaged[ConversationMembers]:
        """Every conversation the bot has taken part in on this channel, paged by continuation token."""
        return ItemPaged(lambda token: build.build_get_conversations(self._base, token), self._pipeline.run)

    def get_conversation_paged_members(
        self, conversation_id: str, *, page_size: int | None = None
    ) -> ItemPaged[ChannelAccount]:
        """Members of a conversation, one page (of up to ``page_size``) at a time."""
        return ItemPaged(
            lambda token: build.build_get_conversation_paged_members(self._base, conversation_id, page_size, token),
            self._pipeline.run,
        )

    def get_teams_conversation_paged_members(
        self, conversation_id: str, *, page_size: int | None = None
    ) -> ItemPaged[TeamsChannelAccount]:
        """Members of a Teams conversation, with their Teams fields (email, UPN, tenant, role), page by page."""
        return ItemPaged(
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

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._response.iter_bytes()
        finally:
            self._response.close()

    def read(self) -> bytes:
        """Read the whole view into memory."""
        try:
            return self._response.read()
        finally:
            self._response.close()

    def close(self) -> None:
        """Close the attachment's response (leaving its block does it)."""
        self._response.close()

    def __enter__(self) -> AttachmentStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<AttachmentStream content_type={self.content_type!r} content_length={self.content_length!r}>"


class AttachmentsOperations:
    """``client.attachments``: attachments stored by the channel."""

    def __init__(self, base: httpx.URL, pipeline: Pipeline) -> None:
        self._base = base
        self._pipeline = pipeline

    def get_attachment_info(
        self,
        attachment_id: str,
        *,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
    ) -> AttachmentInfo:
        """Name, type and available views of an attachment."""
        operation = build.build_get_attachment_info(self._base, attachment_id)
        return self._pipeline.run(operation, timeout=timeout, retry_policy=retry_policy, deadline=deadline)

    def get_attachment(
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
            self._pipeline.run(operation, timeout=timeout, retry_policy=retry_policy, deadline=deadline)
        )
