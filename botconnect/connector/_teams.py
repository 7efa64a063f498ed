"""The Teams operation group (sync): teams, channels, meetings, notifications, batch messaging, reactions.

Each method is a signature, a docstring and one pipeline call; the requests are built in
``botconnect._core.requests.teams``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import httpx

from .._core.deferred import DeferredModule
from .._core.retry import RetryPolicy
from .._paging import ItemPaged

if TYPE_CHECKING:
    from .._pipeline import Pipeline
    from ..models import (
        Activity,
        ChannelAccount,
        MessageReactionTypes,
    )
    from ..models.teams import (
        BatchFailedEntry,
        BatchOperationState,
        ChannelInfo,
        MeetingInfo,
        MeetingNotificationResponse,
        TargetedMeetingNotification,
        TeamDetails,
        TeamMember,
        TeamsMeetingParticipant,
    )

__all__ = ["TeamsOperations"]


if TYPE_CHECKING:
    from botconnect._core.requests import teams as build
else:
    # the Teams models and builders load on the first Teams call: a bot that never makes one skips ~15 ms of import
    build = DeferredModule("botconnect._core.requests.teams", globals(), "build")


class TeamsOperations:
    """``client.teams``: the Microsoft Teams operations on the activity's ``serviceUrl`` (Teams channel only)."""

    def __init__(self, base: httpx.URL, pipeline: Pipeline) -> None:
        self._base = base
        self._pipeline = pipeline

    def get_team_details(
        self,
        team_id: str,
        *,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
    ) -> TeamDetails:
        """A team's name, Microsoft 365 group id, channel and member counts (``GET /v3/teams/{teamId}``)."""
        operation = build.build_get_team_details(self._base, team_id)
        return self._pipeline.run(operation, timeout=timeout, retry_policy=retry_policy, deadline=deadline)

    def get_teams_channels(
        self,
        team_id: str,
        *,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
    ) -> list[ChannelInfo]:
        """The channels of a team (the General channel's id is the team id and its name is None)."""
        operation = build.build_get_teams_channels(self._base, team_id)
        return self._pipeline.run(operation, timeout=timeout, retry_policy=retry_policy, deadline=deadline)

    def get_meeting_info(
        self,
        meeting_id: str,
        *,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
    ) -> MeetingInfo:
        """A meeting's details, chat and organizer; ``meeting_id`` is ``channelData.meeting.id`` (base64)."""
        operation = build.build_get_meeting_info(self._base, meeting_id)
        return self._pipeline.run(operation, timeout=timeout, retry_policy=retry_policy, deadline=deadline)

    def get_meeting_participant(
        self,
        meeting_id: str,
        participant_id: str,
        tenant_id: str,
        *,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
    ) -> TeamsMeetingParticipant:
        """A participant's role in a meeting and whether they are in it now.

        ``participant_id`` is the user's Entra object id (``from.aadObjectId``); ``tenant_id`` is required
        (``channelData.tenant.id``): without it the service answers 404."""
        operation = build.build_get_meeting_participant(self._base, meeting_id, participant_id, tenant_id)
        return self._pipeline.run(operation, timeout=timeout, retry_policy=retry_policy, deadline=deadline)

    def send_meeting_notification(
        self,
        meeting_id: str,
        notification: TargetedMeetingNotification | Mapping[str, Any],
        *,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
    ) -> MeetingNotificationResponse | None:
        """Show a targeted notification to some participants of a meeting (stage or tab icon).

        Returns None when every recipient got it (202), else the recipients it did not reach (207)."""
        operation = build.build_send_meeting_notification(self._base, meeting_id, notification)
        return self._pipeline.run(operation, timeout=timeout, retry_policy=retry_policy, deadline=deadline)

    def send_message_to_list_of_users(
        self,
        activity: Activity | Mapping[str, Any],
        members: Iterable[TeamMember | ChannelAccount | Mapping[str, Any] | str],
        tenant_id: str,
        *,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
    ) -> str:
        """Send ``activity`` to each of ``members`` (Teams user ids) in a 1:1 chat; returns the batch operation id.

        Batch sends are throttled: a 429 is retried as the client's ``retry_policy`` allows (pass a
        ``RetryPolicy(max_attempts=...)`` per call for longer runs). Follow the delivery with
        :meth:`get_operation_state` and :meth:`get_failed_entries`."""
        operation = build.build_send_message_to_list_of_users(self._base, activity, members, tenant_id)
        return self._pipeline.run(operation, timeout=timeout, retry_policy=retry_policy, deadline=deadline)

    def send_message_to_all_users_in_tenant(
        self,
        activity: Activity | Mapping[str, Any],
        tenant_id: str,
        *,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
    ) -> str:
        """Send ``activity`` to every user of the tenant who has the bot installed; returns the batch operation id."""
        operation = build.build_send_message_to_all_users_in_tenant(self._base, activity, tenant_id)
        return self._pipeline.run(operation, timeout=timeout, retry_policy=retry_policy, deadline=deadline)

    def send_message_to_all_users_in_team(
        self,
        activity: Activity | Mapping[str, Any],
        team_id: str,
        tenant_id: str,
        *,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
    ) -> str:
        """Send ``activity`` to every member of a team, each in a 1:1 chat; returns the batch operation id."""
        operation = build.build_send_message_to_all_users_in_team(self._base, activity, team_id, tenant_id)
        return self._pipeline.run(operation, timeout=timeout, retry_policy=retry_policy, deadline=deadline)

    def send_message_to_list_of_channels(
        self,
        activity: Activity | Mapping[str, Any],
        channels: Iterable[TeamMember | ChannelInfo | Mapping[str, Any] | str],
        tenant_id: str,
        *,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
    ) -> str:
        """Post ``activity`` in each of ``channels`` (channel conversation ids); returns the batch operation id."""
        operation = build.build_send_message_to_list_of_channels(self._base, activity, channels, tenant_id)
        return self._pipeline.run(operation, timeout=timeout, retry_policy=retry_policy, deadline=deadline)

    def get_operation_state(
        self,
        operation_id: str,
        *,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
    ) -> BatchOperationState:
        """The progress of a batch send: its state and how many entries ended with each HTTP status."""
        operation = build.build_get_operation_state(self._base, operation_id)
        return self._pipeline.run(operation, timeout=timeout, retry_policy=retry_policy, deadline=deadline)

    def get_failed_entries(self, operation_id: str) -> ItemPaged[BatchFailedEntry]:
        """The entries a batch send failed for (id and error), page by page (``continuationToken``)."""
        return ItemPaged(
            lambda token: build.build_get_failed_entries(self._base, operation_id, token), self._pipeline.run
        )

    def cancel_operation(
        self,
        operation_id: str,
        *,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
    ) -> None:
        """Stop a batch send; entries already delivered stay delivered."""
        operation = build.build_cancel_operation(self._base, operation_id)
        return self._pipeline.run(operation, timeout=timeout, retry_policy=retry_policy, deadline=deadline)

    def add_reaction(
        self,
        conversation_id: str,
        activity_id: str,
        reaction_type: MessageReactionTypes | str,
        *,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
    ) -> None:
        """React to a message as the bot (``like``, ``heart``, ``laugh``...).

        Newer Teams API: only the Teams SDK (teams.py) has it so far; other channels answer 404."""
        operation = build.build_add_reaction(self._base, conversation_id, activity_id, reaction_type)
        return self._pipeline.run(operation, timeout=timeout, retry_policy=retry_policy, deadline=deadline)

    def remove_reaction(
        self,
        conversation_id: str,
        activity_id: str,
        reaction_type: MessageReactionTypes | str,
        *,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        deadline: float | None = None,
    ) -> None:
        """Take back the bot's reaction to a message (newer Teams API, as :meth:`add_reaction`)."""
        operation = build.build_remove_reaction(self._base, conversation_id, activity_id, reaction_type)
        return self._pipeline.run(operation, timeout=timeout, retry_policy=retry_policy, deadline=deadline)
