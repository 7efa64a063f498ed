"""Microsoft Teams models: what a bot reads from an activity's ``channelData``, and the bodies of the Teams
Connector operations (teams, channels, meetings, meeting notifications, batch messaging).

Microsoft's SDKs do not agree on a few wire names (``statusMap``/``stateMap``, ``entryId``/``Id``,
``errorcode``/``errorCode``, ``failedEntryResponses``/``failedEntriesResponses``, ``onBehalfOf``/``OnBehalfOf``):
these models parse every spelling and write the one the Teams service documents (the C# SDK's).
"""

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, ClassVar, Self, TypeVar

import attrs

from .._core import serde
from ._base import Model, wire
from .accounts import ConversationAccount
from .activity import Activity
from .connector import TeamsChannelAccount

__all__ = [
    "BatchFailedEntriesResponse",
    "BatchFailedEntry",
    "BatchOperationState",
    "ChannelInfo",
    "ConversationList",
    "MeetingDetails",
    "MeetingInfo",
    "MeetingNotificationChannelData",
    "MeetingNotificationRecipientFailureInfo",
    "MeetingNotificationResponse",
    "MeetingParticipantInfo",
    "MeetingStageSurface",
    "MeetingSurface",
    "MeetingTabIconSurface",
    "NotificationInfo",
    "OnBehalfOf",
    "TargetedMeetingNotification",
    "TargetedMeetingNotificationValue",
    "TeamDetails",
    "TeamInfo",
    "TeamMember",
    "TeamsChannelData",
    "TeamsChannelDataSettings",
    "TeamsMeetingInfo",
    "TeamsMeetingParticipant",
    "TenantInfo",
]

A = TypeVar("A", bound="_AliasedModel")


@attrs.define(kw_only=True, repr=False)
class _AliasedModel(Model):
    """A model some SDKs spell differently: ``__botconnect_aliases__`` maps their key to our wire name.

    The aliases are applied by a structure hook (see ``_accept_aliases``), which the "parsed tree" fast path of
    ``Model.from_json`` would skip: parse through ``from_dict`` instead.
    """

    __botconnect_aliases__: ClassVar[dict[str, str]] = {}

    @classmethod
    def from_json(cls: type[A], data: bytes | str) -> A:
        """Parse JSON text or bytes into the model (every known spelling of a field is accepted)."""
        parsed = serde.loads(data)
        if not isinstance(parsed, Mapping):
            raise TypeError(f"{cls.__name__} expects a JSON object, got {type(parsed).__name__}")
        return cls.from_dict(parsed)


def _accept_aliases(cls: type[Any]) -> None:
    """Make the converter rename ``cls``'s alias keys before its generated structure function runs.

    Registered at import, before anything nests ``cls``, so containers' generated functions pick the hook up.
    When both spellings are present ours wins and the other stays in ``additional_properties``.
    """
    aliases: dict[str, str] = cls.__dict__["__botconnect_aliases__"]
    generated: list[Callable[[Any, Any], Any]] = []

    def structure(data: Any, tp: Any) -> Any:
        if not generated:
            # the function the converter would have made for cls; built on first use, not at import (cold starts)
            generated.append(serde._make_model_structure(cls))
        if isinstance(data, Mapping) and any(alias in data for alias in aliases):
            renamed = dict(data)
            for alias, name in aliases.items():
                if alias in renamed and name not in renamed:
                    renamed[name] = renamed.pop(alias)
            data = renamed
        return generated[0](data, tp)

    serde.converter.register_structure_hook(cls, structure)


# -- what Teams puts in channelData ---------------------------------------------------------------------------


@attrs.define(kw_only=True, repr=False)
class TenantInfo(Model):
    """The Microsoft Entra tenant of a Teams conversation."""

    id: str | None = None


@attrs.define(kw_only=True, repr=False)
class TeamInfo(Model):
    """The team a channel conversation belongs to (``channelData.team``)."""

    id: str | None = None
    name: str | None = None
    aad_group_id: str | None = None


@attrs.define(kw_only=True, repr=False)
class ChannelInfo(Model):
    """A channel of a team: its conversation id, name (None for the General channel) and type."""

    id: str | None = None
    name: str | None = None
    type: str | None = None


@attrs.define(kw_only=True, repr=False)
class TeamsMeetingInfo(Model):
    """The meeting an activity comes from (``channelData.meeting``); its id is for ``client.teams`` meeting calls."""

    id: str | None = None


@attrs.define(kw_only=True, repr=False)
class NotificationInfo(Model):
    """How Teams should notify the recipients of a bot's message (``channelData.notification``)."""

    alert: bool | None = None
    alert_in_meeting: bool | None = None
    external_resource_url: str | None = None


@attrs.define(kw_only=True, repr=False)
class TeamsChannelDataSettings(Model):
    """``channelData.settings``: the channel a user selected (e.g. when installing the app into a team)."""

    selected_channel: ChannelInfo | None = None


@attrs.define(kw_only=True, repr=False)
class OnBehalfOf(Model):
    """The user a bot's message or meeting notification is sent on behalf of (``mri`` is their Teams id)."""

    item_id: int | None = wire("itemid")
    mention_type: str | None = None
    mri: str | None = None
    display_name: str | None = None

    @classmethod
    def person(cls, mri: str, display_name: str | None = None) -> Self:
        """``{itemid: 0, mentionType: "person", mri, displayName}``, the shape Teams documents."""
        if not isinstance(mri, str) or not mri:
            raise ValueError("mri must be a non-empty str")
        return cls(item_id=0, mention_type="person", mri=mri, display_name=display_name)


@attrs.define(kw_only=True, repr=False)
class TeamsChannelData(_AliasedModel):
    """The Teams part of an activity: tenant, team, channel, meeting, event type, settings, notification.

    Read it with :meth:`from_activity`; send it as an activity's ``channel_data`` (e.g.
    ``TeamsChannelData(notification=NotificationInfo(alert=True))``).
    """

    __botconnect_aliases__: ClassVar[dict[str, str]] = {"OnBehalfOf": "onBehalfOf"}

    channel: ChannelInfo | None = None
    event_type: str | None = None
    team: TeamInfo | None = None
    notification: NotificationInfo | None = None
    tenant: TenantInfo | None = None
    meeting: TeamsMeetingInfo | None = None
    settings: TeamsChannelDataSettings | None = None
    on_behalf_of: list[OnBehalfOf] | None = None
    #: shows the like/dislike buttons under a bot's message (the answer comes as a ``message/submitAction`` invoke)
    feedback_loop_enabled: bool | None = None

    @classmethod
    def from_activity(cls, activity: Activity | Mapping[str, Any]) -> Self:
        """The activity's ``channelData`` as Teams channel data (empty when there is none).

        Raises TypeError when ``channelData`` is neither absent nor a JSON object.
        """
        if isinstance(activity, Activity):
            data = activity.channel_data
        elif isinstance(activity, Mapping):
            data = activity.get("channelData")
        else:
            raise TypeError(f"activity must be an Activity or its wire dict, got {type(activity).__name__}")
        if data is None:
            return cls()
        if isinstance(data, cls):
            return data
        if isinstance(data, Model):
            data = data.to_dict()
        if not isinstance(data, Mapping):
            raise TypeError(f"channelData is {type(data).__name__}, not a JSON object")
        return cls.from_dict(data)

    @property
    def tenant_id(self) -> str | None:
        """``tenant.id``, which every batch and meeting-participant call needs."""
        return self.tenant.id if self.tenant is not None else None


# -- teams and channels -------------------------------------------------------------------------------------


@attrs.define(kw_only=True, repr=False)
class TeamDetails(Model):
    """``GET /v3/teams/{teamId}``: a team's name, Microsoft 365 group id and sizes."""

    id: str | None = None
    name: str | None = None
    aad_group_id: str | None = None
    channel_count: int | None = None
    member_count: int | None = None
    type: str | None = None


@attrs.define(kw_only=True, repr=False)
class ConversationList(Model):
    """``GET /v3/teams/{teamId}/conversations``: the team's channels."""

    conversations: list[ChannelInfo] | None = None


# -- meetings -----------------------------------------------------------------------------------------------


@attrs.define(kw_only=True, repr=False)
class MeetingDetails(Model):
    """A meeting's id, Graph resource id, schedule, join URL, title and type."""

    id: str | None = None
    ms_graph_resource_id: str | None = None
    scheduled_start_time: datetime | None = None
    scheduled_end_time: datetime | None = None
    join_url: str | None = None
    title: str | None = None
    type: str | None = None


@attrs.define(kw_only=True, repr=False)
class MeetingInfo(Model):
    """``GET /v1/meetings/{meetingId}``: the meeting's details, its chat and its organizer."""

    details: MeetingDetails | None = None
    conversation: ConversationAccount | None = None
    organizer: TeamsChannelAccount | None = None


@attrs.define(kw_only=True, repr=False)
class MeetingParticipantInfo(Model):
    """A participant's role (Organizer, Presenter, Attendee) and whether they are in the meeting now."""

    role: str | None = None
    in_meeting: bool | None = None


@attrs.define(kw_only=True, repr=False)
class TeamsMeetingParticipant(Model):
    """``GET /v1/meetings/{meetingId}/participants/{participantId}``: who the participant is and their role."""

    user: TeamsChannelAccount | None = None
    meeting: MeetingParticipantInfo | None = None
    conversation: ConversationAccount | None = None


@attrs.define(kw_only=True, repr=False)
class MeetingSurface(Model):
    """Where a targeted meeting notification shows (``surface``); see the subclasses for the known ones."""

    __botconnect_discriminator__: ClassVar[str] = "surface"

    surface: str | None = None


@attrs.define(kw_only=True, repr=False)
class MeetingStageSurface(MeetingSurface):
    """The meeting stage: ``content`` is a task module (``{"value": {"title", "url", "height", "width"}}``)."""

    SURFACE: ClassVar[str] = "meetingStage"

    content_type: str | None = None
    content: Any = None

    @classmethod
    def task(
        cls,
        url: str,
        *,
        title: str | None = None,
        height: int | str | None = None,
        width: int | str | None = None,
    ) -> Self:
        """Show the web page at ``url`` on the meeting stage (a ``task`` content)."""
        if not isinstance(url, str) or not url:
            raise ValueError("url must be a non-empty str")
        info = {"title": title, "url": url, "height": height, "width": width}
        return cls(surface=cls.SURFACE, content_type="task", content={"value": {k: v for k, v in info.items() if v}})


@attrs.define(kw_only=True, repr=False)
class MeetingTabIconSurface(MeetingSurface):
    """The badge on a meeting tab's icon: ``tab_entity_id`` names the tab."""

    SURFACE: ClassVar[str] = "meetingTabIcon"

    tab_entity_id: str | None = None


serde.register_subtype(MeetingSurface, MeetingStageSurface.SURFACE, MeetingStageSurface)
serde.register_subtype(MeetingSurface, MeetingTabIconSurface.SURFACE, MeetingTabIconSurface)


@attrs.define(kw_only=True, repr=False)
class TargetedMeetingNotificationValue(Model):
    """Who gets a targeted meeting notification (their Entra object ids) and where it shows."""

    recipients: list[str] | None = None
    surfaces: list[MeetingSurface] | None = None


@attrs.define(kw_only=True, repr=False)
class MeetingNotificationChannelData(_AliasedModel):
    """The ``channelData`` of a meeting notification: who it is sent on behalf of."""

    __botconnect_aliases__: ClassVar[dict[str, str]] = {"onBehalfOf": "OnBehalfOf"}

    on_behalf_of: list[OnBehalfOf] | None = wire("OnBehalfOf")  # noqa: RUF009 (wire() is an attrs field specifier)


@attrs.define(kw_only=True, repr=False)
class TargetedMeetingNotification(Model):
    """``POST /v1/meetings/{meetingId}/notification``: a notification for some participants of a meeting."""

    TYPE: ClassVar[str] = "targetedMeetingNotification"

    type: str | None = None
    value: TargetedMeetingNotificationValue | None = None
    channel_data: MeetingNotificationChannelData | None = None

    @classmethod
    def create(
        cls,
        recipients: Iterable[str],
        surfaces: Iterable[MeetingSurface],
        *,
        on_behalf_of: Iterable[OnBehalfOf] | None = None,
    ) -> Self:
        """A notification for ``recipients`` (Entra object ids) shown on ``surfaces``."""
        if isinstance(recipients, str):
            raise TypeError("recipients must be an iterable of ids, not a single str")
        channel_data = None
        if on_behalf_of is not None:
            channel_data = MeetingNotificationChannelData(on_behalf_of=list(on_behalf_of))
        value = TargetedMeetingNotificationValue(recipients=list(recipients), surfaces=list(surfaces))
        return cls(type=cls.TYPE, value=value, channel_data=channel_data)


@attrs.define(kw_only=True, repr=False)
class MeetingNotificationRecipientFailureInfo(_AliasedModel):
    """A recipient a meeting notification did not reach, with the service's error code and reason."""

    __botconnect_aliases__: ClassVar[dict[str, str]] = {"errorCode": "errorcode"}

    recipient_mri: str | None = None
    error_code: str | None = wire("errorcode")
    failure_reason: str | None = None


@attrs.define(kw_only=True, repr=False)
class MeetingNotificationResponse(_AliasedModel):
    """The 207 answer to a meeting notification: the recipients it did not reach."""

    recipients_failure_info: list[MeetingNotificationRecipientFailureInfo] | None = None


# -- batch messaging ----------------------------------------------------------------------------------------


@attrs.define(kw_only=True, repr=False)
class TeamMember(Model):
    """A recipient of a batch send: a user's Teams id (``29:...``) or, for channels, a channel's conversation id."""

    id: str | None = None


@attrs.define(kw_only=True, repr=False)
class BatchOperationState(_AliasedModel):
    """The progress of a batch send: ``state`` (NotStarted, InProgress, Completed, ...), counts per HTTP status.

    ``status_map`` maps each delivery status (as a string, ``"201"``, ``"404"``...) to how many entries ended
    with it; ``retry_after`` is when the service suggests asking again.
    """

    __botconnect_aliases__: ClassVar[dict[str, str]] = {"stateMap": "statusMap"}

    state: str | None = None
    status_map: dict[str, int] | None = None
    retry_after: datetime | None = None
    total_entries_count: int | None = None


@attrs.define(kw_only=True, repr=False)
class BatchFailedEntry(_AliasedModel):
    """One recipient a batch send failed for: its id and the error (usually a string)."""

    __botconnect_aliases__: ClassVar[dict[str, str]] = {"Id": "entryId"}

    entry_id: str | None = None
    error: Any = None


@attrs.define(kw_only=True, repr=False)
class BatchFailedEntriesResponse(_AliasedModel):
    """A page of the failed entries of a batch send."""

    __botconnect_aliases__: ClassVar[dict[str, str]] = {"failedEntriesResponses": "failedEntryResponses"}

    continuation_token: str | None = None
    failed_entry_responses: list[BatchFailedEntry] | None = None


for _cls in (
    MeetingNotificationRecipientFailureInfo,
    MeetingNotificationChannelData,
    TeamsChannelData,
    BatchOperationState,
    BatchFailedEntry,
    BatchFailedEntriesResponse,
):
    _accept_aliases(_cls)
