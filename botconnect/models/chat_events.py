"""The ACS Chat events Event Grid delivers (``Microsoft.Communication.Chat*``), typed.

An event (:class:`ChatEvent`) carries the envelope -- Event Grid's or CloudEvents 1.0's, read into the same fields --
and its ``data``: a :class:`ChatMessageEventData` for the message events, a :class:`ChatThreadEventData` for the
thread events, a :class:`ChatParticipantEventData` for participants added or removed; an event of any other type
keeps its ``data`` as the JSON it came with. Identifiers in event data have the ACS shape
(``{"rawId", "communicationUser": {"id"}}``) and read as ``CommunicationIdentifier`` objects. Parse bodies with
``parse_event_grid_events``.
"""

from datetime import datetime
from typing import Any

import attrs

from ._base import Model
from .identifiers import CommunicationIdentifier

__all__ = [
    "CHAT_EVENT_TYPES",
    "ChatEvent",
    "ChatEventParticipant",
    "ChatMessageEventData",
    "ChatParticipantEventData",
    "ChatThreadEventData",
]

_PREFIX = "Microsoft.Communication."
_MESSAGE = ("ChatMessageReceived", "ChatMessageEdited", "ChatMessageDeleted")
_THREAD = ("ChatThreadCreatedWithUser", "ChatThreadWithUserDeleted", "ChatThreadPropertiesUpdatedPerUser")
_THREAD_WIDE = ("ChatThreadCreated", "ChatThreadDeleted", "ChatThreadPropertiesUpdated")
_PARTICIPANT = ("ChatParticipantAddedToThreadWithUser", "ChatParticipantRemovedFromThreadWithUser")
_PARTICIPANT_WIDE = ("ChatThreadParticipantAdded", "ChatThreadParticipantRemoved")


@attrs.define(kw_only=True, repr=False)
class ChatEventParticipant(Model):
    """A participant added to or removed from a thread, as an event names it."""

    display_name: str | None = None
    participant_communication_identifier: CommunicationIdentifier | None = None
    share_history_time: datetime | None = None
    metadata: dict[str, str] | None = None


@attrs.define(kw_only=True, repr=False)
class ChatMessageEventData(Model):
    """A message received, edited or deleted (per recipient, or ``...InThread`` once for the thread)."""

    transaction_id: str | None = None
    thread_id: str | None = None
    message_id: str | None = None
    sender_communication_identifier: CommunicationIdentifier | None = None
    sender_display_name: str | None = None
    compose_time: datetime | None = None
    type: str | None = None
    version: int | None = None
    message_body: str | None = None
    metadata: dict[str, str] | None = None
    recipient_communication_identifier: CommunicationIdentifier | None = None
    edit_time: datetime | None = None
    delete_time: datetime | None = None


@attrs.define(kw_only=True, repr=False)
class ChatThreadEventData(Model):
    """A thread created, deleted or with its properties updated (per user, or once for the thread)."""

    transaction_id: str | None = None
    thread_id: str | None = None
    create_time: datetime | None = None
    version: int | None = None
    created_by_communication_identifier: CommunicationIdentifier | None = None
    edited_by_communication_identifier: CommunicationIdentifier | None = None
    deleted_by_communication_identifier: CommunicationIdentifier | None = None
    recipient_communication_identifier: CommunicationIdentifier | None = None
    properties: dict[str, Any] | None = None
    metadata: dict[str, str] | None = None
    participants: list[ChatEventParticipant] | None = None
    edit_time: datetime | None = None
    delete_time: datetime | None = None


@attrs.define(kw_only=True, repr=False)
class ChatParticipantEventData(Model):
    """A participant added to or removed from a thread (told to a user, or once for the thread)."""

    transaction_id: str | None = None
    thread_id: str | None = None
    time: datetime | None = None
    version: int | None = None
    added_by_communication_identifier: CommunicationIdentifier | None = None
    removed_by_communication_identifier: CommunicationIdentifier | None = None
    participant_added: ChatEventParticipant | None = None
    participant_removed: ChatEventParticipant | None = None
    recipient_communication_identifier: CommunicationIdentifier | None = None


#: every chat event type with a typed ``data``, and that type's class
CHAT_EVENT_TYPES: dict[str, type[Model]] = {
    **{_PREFIX + name: ChatMessageEventData for name in _MESSAGE},
    **{_PREFIX + name + "InThread": ChatMessageEventData for name in _MESSAGE},
    **{_PREFIX + name: ChatThreadEventData for name in _THREAD + _THREAD_WIDE},
    **{_PREFIX + name: ChatParticipantEventData for name in _PARTICIPANT + _PARTICIPANT_WIDE},
}


@attrs.define(kw_only=True, repr=False)
class ChatEvent(Model):
    """One event: the envelope (``schema`` is ``"EventGrid"`` or ``"CloudEvents"``) and its data (typed when
    ``event_type`` is in :data:`CHAT_EVENT_TYPES`, else the JSON as received)."""

    id: str | None = None
    event_type: str | None = None
    subject: str | None = None
    event_time: datetime | None = None
    topic: str | None = None
    data_version: str | None = None
    schema: str | None = None
    data: Any = None
