"""Direct Line operation groups (sync): each method is a signature, a docstring and one pipeline call."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import httpx

from .._core.requests import directline as build
from .._core.requests.directline import DirectLineCredential, UploadFile
from .._core.retry import RetryPolicy
from ..models import Activity, ResourceResponse
from ..models.directline import ActivitySet, Conversation, TokenParameters

if TYPE_CHECKING:
    from .._pipeline import Pipeline

__all__ = ["DirectLineConversationsOperations", "TokensOperations"]


class TokensOperations:
    """``client.tokens``: exchange a secret for a conversation token, and refresh tokens."""

    def __init__(self, base: httpx.URL, pipeline: Pipeline, credential: DirectLineCredential) -> None:
        self._base = base
        self._pipeline = pipeline
        self._credential = credential

    def generate_token(
        self,
        token_parameters: TokenParameters | None = None,
        *,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
    ) -> Conversation:
        """Exchange the secret for a token for one new conversation (the conversation is not started)."""
        operation = build.build_generate_token(self._base, token_parameters)
        return self._pipeline.run(operation, timeout=timeout, retry_policy=retry_policy, deadline=deadline)

    def refresh_token(
        self, *, timeout: float | None = None, retry_policy: RetryPolicy | None = None, deadline: float | None = None
    ) -> Conversation:
        """Refresh the client's (unexpired) token; the client uses the new token from then on."""
        operation = build.build_refresh_token(self._base, self._credential)
        return self._pipeline.run(operation, timeout=timeout, retry_policy=retry_policy, deadline=deadline)


class DirectLineConversationsOperations:
    """``client.conversations``: start, reconnect, send, receive by polling, upload."""

    def __init__(self, base: httpx.URL, pipeline: Pipeline) -> None:
        self._base = base
        self._pipeline = pipeline

    def start_conversation(
        self,
        token_parameters: TokenParameters | None = None,
        *,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
    ) -> Conversation:
        """Start a conversation with the bot; returns its id, a conversation token and the stream URL."""
        operation = build.build_start_conversation(self._base, token_parameters)
        return self._pipeline.run(operation, timeout=timeout, retry_policy=retry_policy, deadline=deadline)

    def reconnect_to_conversation(
        self,
        conversation_id: str,
        watermark: str | None = None,
        *,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
    ) -> Conversation:
        """A fresh stream URL for a conversation, replaying from ``watermark`` when given."""
        operation = build.build_reconnect_to_conversation(self._base, conversation_id, watermark)
        return self._pipeline.run(operation, timeout=timeout, retry_policy=retry_policy, deadline=deadline)

    def get_activities(
        self,
        conversation_id: str,
        watermark: str | None = None,
        *,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
    ) -> ActivitySet:
        """Activities after ``watermark`` (all of them when None), with the watermark to poll from next."""
        operation = build.build_get_activities(self._base, conversation_id, watermark)
        return self._pipeline.run(operation, timeout=timeout, retry_policy=retry_policy, deadline=deadline)

    def post_activity(
        self,
        conversation_id: str,
        activity: Activity,
        *,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
    ) -> ResourceResponse:
        """Send an activity to the bot. A timeout or 502 is raised, never silently re-sent: the bot may have acted."""
        operation = build.build_post_activity(self._base, conversation_id, activity)
        return self._pipeline.run(operation, timeout=timeout, retry_policy=retry_policy, deadline=deadline)

    def upload(
        self,
        conversation_id: str,
        files: UploadFile | Iterable[UploadFile],
        *,
        user_id: str | None = None,
        activity: Activity | None = None,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
    ) -> ResourceResponse:
        """Upload files (bytes, binary file objects, paths, or (name, data, content type)) with an optional activity."""
        operation = build.build_upload(self._base, conversation_id, files, user_id=user_id, activity=activity)
        return self._pipeline.run(operation, timeout=timeout, retry_policy=retry_policy, deadline=deadline)
