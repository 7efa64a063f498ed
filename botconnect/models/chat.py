"""Azure Communication Services Chat wire models (``communicationserviceschat.json``, 2025-03-15 and earlier).

Attribute names are the Azure SDK's (``ChatMessage.sender``, ``ChatThreadProperties.created_by``,
``ChatParticipant.identifier``, ...); ``to_dict`` / ``from_dict`` use the wire's camelCase keys
(``senderCommunicationIdentifier``, ``createdByCommunicationIdentifier``, ``communicationIdentifier``, ...).
Fields the 2025-03-15 API added (thread and participant ``metadata``, ``retentionPolicy``) are simply absent in
responses of older API versions.
"""

import enum
from datetime import datetime
from typing import ClassVar

import attrs

from .._core import serde
from ._base import Model, wire
from .identifiers import CommunicationIdentifier

__all__ = [
    "AddChatParticipantsRequest",
    "AddChatParticipantsResult",
    "ChatAttachment",
    "ChatAttachmentType",
    "ChatError",
    "ChatErrorResponse",
    "ChatMessage",
    "ChatMessageContent",
    "ChatMessageReadReceipt",
    "ChatMessageReadReceiptsCollection",
    "ChatMessageType",
    "ChatMessagesCollection",
    "ChatParticipant",
    "ChatParticipantsCollection",
    "ChatRetentionPolicy",
    "ChatThreadItem",
    "ChatThreadProperties",
    "ChatThreadsItemCollection",
    "CreateChatThreadRequest",
    "CreateChatThreadResult",
    "NoneRetentionPolicy",
    "RetentionPolicyKind",
    "SendChatMessageRequest",
    "SendChatMessageResult",
    "SendReadReceiptRequest",
    "SendTypingNotificationRequest",
    "ThreadCreationDateRetentionPolicy",
    "UpdateChatMessageRequest",
    "UpdateChatThreadRequest",
]


# -- enums ------------------------------------------------------------------------------------------------------


class ChatMessageType(enum.StrEnum):
    """The type of a chat message: what users send (text, html) or what the service records (the others)."""

    TEXT = "text"
    HTML = "html"
    TOPIC_UPDATED = "topicUpdated"
    PARTICIPANT_ADDED = "participantAdded"
    PARTICIPANT_REMOVED = "participantRemoved"


class ChatAttachmentType(enum.StrEnum):
    """The type of a message attachment."""

    IMAGE = "image"
    FILE = "file"


class RetentionPolicyKind(enum.StrEnum):
    """The ``kind`` discriminator of a thread retention policy."""

    THREAD_CREATION_DATE = "threadCreationDate"
    NONE = "none"


# -- errors -----------------------------------------------------------------------------------------------------


@attrs.define(kw_only=True, repr=False)
class ChatError(Model):
    """A Communication Services error; ``target`` names what failed (a participant's raw id in add results)."""

    code: str | None = None
    message: str | None = None
    target: str | None = None
    details: list["ChatError"] | None = None
    inner_error: "ChatError | None" = wire("innererror")  # noqa: RUF009 (an attrs field specifier)


@attrs.define(kw_only=True, repr=False)
class ChatErrorResponse(Model):
    """The body of an error response (``CommunicationErrorResponse``)."""

    error: ChatError | None = None


attrs.resolve_types(ChatError)


# -- retention policies -----------------------------------------------------------------------------------------


@attrs.define(kw_only=True, repr=False)
class ChatRetentionPolicy(Model):
    """A thread's data retention policy (2025-03-15), polymorphic on ``kind``; unknown kinds parse to this base."""

    __botconnect_discriminator__: ClassVar[str] = "kind"

    kind: RetentionPolicyKind | str | None = None


@attrs.define(kw_only=True, repr=False)
class ThreadCreationDateRetentionPolicy(ChatRetentionPolicy):
    """Delete the thread ``delete_thread_after_days`` days after it was created."""

    delete_thread_after_days: int | None = None

    def __attrs_post_init__(self) -> None:
        if self.kind is None:
            self.kind = RetentionPolicyKind.THREAD_CREATION_DATE


@attrs.define(kw_only=True, repr=False)
class NoneRetentionPolicy(ChatRetentionPolicy):
    """No retention policy: the thread is kept until deleted."""

    def __attrs_post_init__(self) -> None:
        if self.kind is None:
            self.kind = RetentionPolicyKind.NONE


serde.register_subtype(ChatRetentionPolicy, "threadCreationDate", ThreadCreationDateRetentionPolicy)
serde.register_subtype(ChatRetentionPolicy, "none", NoneRetentionPolicy)


# -- participants, messages, threads ----------------------------------------------------------------------------


@attrs.define(kw_only=True, repr=False)
class ChatParticipant(Model):
    """A member of a thread: who (``identifier``), shown as whom, and from when they see the history."""

    identifier: CommunicationIdentifier | None = wire("communicationIdentifier")  # noqa: RUF009 (an attrs field specifier)
    display_name: str | None = None
    share_history_time: datetime | None = None
    #: name/value pairs, up to 1 KB in total (2025-03-15)
    metadata: dict[str, str] | None = None


@attrs.define(kw_only=True, repr=False)
class ChatAttachment(Model):
    """An image or file attached to a message, with download and preview URLs."""

    id: str | None = None
    attachment_type: ChatAttachmentType | str | None = None
    name: str | None = None
    url: str | None = None
    preview_url: str | None = None


@attrs.define(kw_only=True, repr=False)
class ChatMessageContent(Model):
    """What a message carries: ``message`` (text/html), ``topic`` (topicUpdated) or ``participants`` (added/removed)."""

    message: str | None = None
    topic: str | None = None
    participants: list[ChatParticipant] | None = None
    attachments: list[ChatAttachment] | None = None
    initiator: CommunicationIdentifier | None = wire("initiatorCommunicationIdentifier")  # noqa: RUF009 (an attrs field specifier)


@attrs.define(kw_only=True, repr=False)
class ChatMessage(Model):
    """A message of a thread, as the service stores it."""

    id: str | None = None
    type: ChatMessageType | str | None = None
    sequence_id: str | None = None
    version: str | None = None
    content: ChatMessageContent | None = None
    sender_display_name: str | None = None
    created_on: datetime | None = None
    sender: CommunicationIdentifier | None = wire("senderCommunicationIdentifier")  # noqa: RUF009 (an attrs field specifier)
    deleted_on: datetime | None = None
    edited_on: datetime | None = None
    metadata: dict[str, str] | None = None


@attrs.define(kw_only=True, repr=False)
class ChatMessageReadReceipt(Model):
    """``sender`` read the message ``chat_message_id`` (and those before it) at ``read_on``."""

    sender: CommunicationIdentifier | None = wire("senderCommunicationIdentifier")  # noqa: RUF009 (an attrs field specifier)
    chat_message_id: str | None = None
    read_on: datetime | None = None


@attrs.define(kw_only=True, repr=False)
class ChatThreadItem(Model):
    """A thread as listed by ``list_chat_threads``."""

    id: str | None = None
    topic: str | None = None
    deleted_on: datetime | None = None
    last_message_received_on: datetime | None = None


@attrs.define(kw_only=True, repr=False)
class ChatThreadProperties(Model):
    """A thread's properties."""

    id: str | None = None
    topic: str | None = None
    created_on: datetime | None = None
    created_by: CommunicationIdentifier | None = wire("createdByCommunicationIdentifier")  # noqa: RUF009 (an attrs field specifier)
    deleted_on: datetime | None = None
    #: name/value pairs, up to 1 KB in total (2025-03-15)
    metadata: dict[str, str] | None = None
    retention_policy: ChatRetentionPolicy | None = None


# -- results ----------------------------------------------------------------------------------------------------


@attrs.define(kw_only=True, repr=False)
class CreateChatThreadResult(Model):
    """The new thread, and the participants that could not be added.

    ``errors`` pairs each failed participant with its error (matched by the error's ``target``, as the Azure SDK
    does); it is filled in by ``create_chat_thread`` and is not part of the wire form, which carries only
    ``invalid_participants``.
    """

    chat_thread: ChatThreadProperties | None = None
    invalid_participants: list[ChatError] | None = None
    errors: list[tuple[ChatParticipant, ChatError]] = attrs.field(
        factory=list, init=False, eq=False, metadata={serde.LOCAL: True}
    )


@attrs.define(kw_only=True, repr=False)
class SendChatMessageResult(Model):
    """The id the service gave the sent message."""

    id: str | None = None


@attrs.define(kw_only=True, repr=False)
class AddChatParticipantsResult(Model):
    """The participants that failed to be added (``add_participants`` pairs them with what was sent)."""

    invalid_participants: list[ChatError] | None = None


# -- pages ------------------------------------------------------------------------------------------------------


@attrs.define(kw_only=True, repr=False)
class ChatThreadsItemCollection(Model):
    """One page of chat threads, with the ``nextLink`` to the next."""

    value: list[ChatThreadItem] | None = None
    next_link: str | None = None


@attrs.define(kw_only=True, repr=False)
class ChatMessagesCollection(Model):
    """One page of messages, with the ``nextLink`` to the next."""

    value: list[ChatMessage] | None = None
    next_link: str | None = None


@attrs.define(kw_only=True, repr=False)
class ChatParticipantsCollection(Model):
    """One page of participants, with the ``nextLink`` to the next."""

    value: list[ChatParticipant] | None = None
    next_link: str | None = None


@attrs.define(kw_only=True, repr=False)
class ChatMessageReadReceiptsCollection(Model):
    """One page of read receipts, with the ``nextLink`` to the next."""

    value: list[ChatMessageReadReceipt] | None = None
    next_link: str | None = None


# -- request bodies ---------------------------------------------------------------------------------------------


@attrs.define(kw_only=True, repr=False)
class CreateChatThreadRequest(Model):
    """Body of a create-thread call: topic, first participants, metadata, retention policy."""

    topic: str | None = None
    participants: list[ChatParticipant] | None = None
    metadata: dict[str, str] | None = None
    retention_policy: ChatRetentionPolicy | None = None


@attrs.define(kw_only=True, repr=False)
class UpdateChatThreadRequest(Model):
    """Merge-patch body of a thread update: topic, metadata, retention policy."""

    topic: str | None = None
    metadata: dict[str, str] | None = None
    retention_policy: ChatRetentionPolicy | None = None


@attrs.define(kw_only=True, repr=False)
class SendChatMessageRequest(Model):
    """Body of a send-message call."""

    content: str | None = None
    sender_display_name: str | None = None
    type: ChatMessageType | str | None = None
    metadata: dict[str, str] | None = None


@attrs.define(kw_only=True, repr=False)
class UpdateChatMessageRequest(Model):
    """Merge-patch body of a message update: new content and metadata."""

    content: str | None = None
    metadata: dict[str, str] | None = None


@attrs.define(kw_only=True, repr=False)
class AddChatParticipantsRequest(Model):
    """Body of ``participants/:add``: the participants to add."""

    participants: list[ChatParticipant] | None = None


@attrs.define(kw_only=True, repr=False)
class SendReadReceiptRequest(Model):
    """Body of a read-receipt call: the message read."""

    chat_message_id: str | None = None


@attrs.define(kw_only=True, repr=False)
class SendTypingNotificationRequest(Model):
    """Body of a typing notification: the display name to show."""

    sender_display_name: str | None = None
