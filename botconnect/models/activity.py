"""The Activity and the small types it is made of (actions, attachments, reactions, semantic actions)."""

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Self, TypeVar

import attrs

from ._base import Model, wire
from .accounts import ChannelAccount, ConversationAccount, ConversationReference
from .entities import Entity, Mention
from .enums import (
    ActionTypes,
    ActivityImportance,
    ActivityTypes,
    AttachmentLayoutTypes,
    DeliveryModes,
    EndOfConversationCodes,
    InputHints,
    MessageReactionTypes,
    SemanticActionStates,
    TextFormatTypes,
)

if TYPE_CHECKING:
    from .invoke import InvokeResponse

__all__ = [
    "Activity",
    "Attachment",
    "CardAction",
    "MessageReaction",
    "SemanticAction",
    "SuggestedActions",
    "TextHighlight",
]

M = TypeVar("M", bound=Model)

# Channels where a conversationUpdate's id is not a message that can be replied to (mirrors botbuilder).
_NO_REPLY_TO_CONVERSATION_UPDATE_CHANNELS = frozenset({"directline", "webchat"})


@attrs.define(kw_only=True, repr=False)
class MessageReaction(Model):
    """A social reaction (like, +1, ...) on a message."""

    type: MessageReactionTypes | str | None = None


@attrs.define(kw_only=True, repr=False)
class TextHighlight(Model):
    """A substring (and which occurrence of it) of another activity's text."""

    text: str | None = None
    occurrence: int | None = None


@attrs.define(kw_only=True, repr=False)
class SemanticAction(Model):
    """A programmatic action accompanying a user request, with its named entities."""

    state: SemanticActionStates | str | None = None
    id: str | None = None
    entities: dict[str, Entity] | None = None


@attrs.define(kw_only=True, repr=False)
class CardAction(Model):
    """A clickable action on a card or among suggested actions."""

    type: ActionTypes | str | None = None
    title: str | None = None
    image: str | None = None
    image_alt_text: str | None = None
    text: str | None = None
    display_text: str | None = None
    value: Any = None
    channel_data: Any = None


@attrs.define(kw_only=True, repr=False)
class SuggestedActions(Model):
    """Quick-reply actions shown to some or all conversation members."""

    to: list[str] | None = None
    actions: list[CardAction] | None = None


@attrs.define(kw_only=True, repr=False)
class Attachment(Model):
    """Content (a card, a file, ...) carried inline or by URL within a message."""

    content_type: str | None = None
    content_url: str | None = None
    content: Any = None
    name: str | None = None
    thumbnail_url: str | None = None

    def content_as(self, card_type: type[M]) -> M:
        """The ``content`` parsed as ``card_type`` (e.g. ``HeroCard``); returned as is if it already is one.

        The ``content_type`` is not checked. Raises ``TypeError`` when ``content`` is not a JSON object.
        """
        content = self.content
        if isinstance(content, card_type):
            return content
        if isinstance(content, Model):
            content = content.to_dict()
        if not isinstance(content, Mapping):
            raise TypeError(
                f"attachment content is {type(content).__name__}, not an object parseable as {card_type.__name__}"
            )
        return card_type.from_dict(content)


@attrs.define(kw_only=True, repr=False)
class Activity(Model):
    """The unit of communication between bots, channels and clients."""

    type: ActivityTypes | str | None = None
    id: str | None = None
    timestamp: datetime | None = None
    local_timestamp: datetime | None = None
    local_timezone: str | None = None
    caller_id: str | None = None
    service_url: str | None = None
    channel_id: str | None = None
    from_property: ChannelAccount | None = wire("from")  # noqa: RUF009 (wire() is an attrs field specifier)
    conversation: ConversationAccount | None = None
    recipient: ChannelAccount | None = None
    text_format: TextFormatTypes | str | None = None
    attachment_layout: AttachmentLayoutTypes | str | None = None
    members_added: list[ChannelAccount] | None = None
    members_removed: list[ChannelAccount] | None = None
    reactions_added: list[MessageReaction] | None = None
    reactions_removed: list[MessageReaction] | None = None
    topic_name: str | None = None
    history_disclosed: bool | None = None
    locale: str | None = None
    text: str | None = None
    speak: str | None = None
    input_hint: InputHints | str | None = None
    summary: str | None = None
    suggested_actions: SuggestedActions | None = None
    attachments: list[Attachment] | None = None
    entities: list[Entity] | None = None
    channel_data: Any = None
    action: str | None = None
    reply_to_id: str | None = None
    label: str | None = None
    value_type: str | None = None
    value: Any = None
    name: str | None = None
    relates_to: ConversationReference | None = None
    code: EndOfConversationCodes | str | None = None
    expiration: datetime | None = None
    importance: ActivityImportance | str | None = None
    delivery_mode: DeliveryModes | str | None = None
    listen_for: list[str] | None = None
    text_highlights: list[TextHighlight] | None = None
    semantic_action: SemanticAction | None = None

    # -- replies and conversation references -------------------------------------------------------------

    def _id_is_replyable(self) -> bool:
        # A conversationUpdate from Direct Line / Web Chat carries an id that is not a message to reply to.
        return not (
            self.type == ActivityTypes.CONVERSATION_UPDATE
            and self.channel_id in _NO_REPLY_TO_CONVERSATION_UPDATE_CHANNELS
        )

    def create_reply(self, text: str | None = None, locale: str | None = None) -> "Activity":
        """A new message activity answering this one.

        ``from`` and ``recipient`` are swapped (id and name copied), ``replyToId`` is this activity's id,
        ``serviceUrl``, ``channelId`` and the conversation (id, name, isGroup) are copied, ``timestamp`` is now
        (UTC) and ``locale`` defaults to this activity's. Attachments and entities are left unset.
        """
        conversation = None
        if self.conversation is not None:
            conversation = ConversationAccount(
                id=self.conversation.id, name=self.conversation.name, is_group=self.conversation.is_group
            )
        return Activity(
            type=ActivityTypes.MESSAGE,
            timestamp=datetime.now(UTC),
            from_property=_account_id_and_name(self.recipient),
            recipient=_account_id_and_name(self.from_property),
            reply_to_id=self.id if self._id_is_replyable() else None,
            service_url=self.service_url,
            channel_id=self.channel_id,
            conversation=conversation,
            text=text,
            locale=locale if locale is not None else self.locale,
        )

    def get_conversation_reference(self) -> ConversationReference:
        """A reference to this activity's conversation, e.g. to store for proactive messages later.

        ``user`` is this activity's sender and ``bot`` its recipient (the view of an incoming activity).
        """
        return ConversationReference(
            activity_id=self.id if self._id_is_replyable() else None,
            user=self.from_property,
            bot=self.recipient,
            conversation=self.conversation,
            channel_id=self.channel_id,
            locale=self.locale,
            service_url=self.service_url,
        )

    def apply_conversation_reference(self, reference: ConversationReference, is_incoming: bool = False) -> Self:
        """Address this activity with ``reference`` (in place) and return it.

        Copies channel id, service URL, conversation and (when set) locale. An outgoing activity goes from
        ``reference.bot`` to ``reference.user`` and replies to ``reference.activity_id``; an incoming one goes
        from the user to the bot and takes ``reference.activity_id`` as its own id.
        """
        self.channel_id = reference.channel_id
        self.service_url = reference.service_url
        self.conversation = reference.conversation
        if reference.locale is not None:
            self.locale = reference.locale
        if is_incoming:
            self.from_property = reference.user
            self.recipient = reference.bot
            if reference.activity_id is not None:
                self.id = reference.activity_id
        else:
            self.from_property = reference.bot
            self.recipient = reference.user
            if reference.activity_id is not None:
                self.reply_to_id = reference.activity_id
        return self

    def create_invoke_response(self, body: Any = None, status: int = 200) -> "InvokeResponse":
        """The synchronous answer to this ``invoke`` activity: ``status`` and a JSON ``body`` (any JSON value or
        a model, e.g. an :class:`AdaptiveCardInvokeResponse`). Raises ``ValueError`` for any other activity type.
        """
        from .invoke import InvokeResponse  # invoke.py imports this module

        if self.type != ActivityTypes.INVOKE:
            hint = ""
            if self.delivery_mode == DeliveryModes.EXPECT_REPLIES:
                hint = " (answer expectReplies with InvokeResponse.from_expected_replies)"
            raise ValueError(f"only an invoke activity has an invoke response, this one is {self.type!r}{hint}")
        return InvokeResponse(status, body)

    # -- mentions --------------------------------------------------------------------------------------------

    def get_mentions(self) -> list[Mention]:
        """The mention entities of this activity (``type`` compared case-insensitively), in order."""
        mentions: list[Mention] = []
        for entity in self.entities or ():
            if isinstance(entity, Mention):
                mentions.append(entity)
            elif entity.type is not None and entity.type.lower() == Mention.TYPE:
                mentions.append(Mention.from_dict(entity.to_dict()))
        return mentions

    def add_mention(self, account: ChannelAccount, text: str | None = None) -> Mention:
        """Append a mention of ``account`` to ``entities`` and return it (see :meth:`Mention.for_account`).

        The activity text is not changed: include the returned mention's ``text`` in it yourself.
        """
        mention = Mention.for_account(account, text)
        if self.entities is None:
            self.entities = []
        self.entities.append(mention)
        return mention

    def remove_mention_text(self, account_id: str) -> str | None:
        """Strip the text of every mention of ``account_id`` from ``text`` (case-insensitive), trim, return it."""
        if self.text is None:
            return None
        text = self.text
        for mention in self.get_mentions():
            if mention.mentioned is None or mention.mentioned.id != account_id:
                continue
            if mention.text:
                pattern = re.escape(mention.text)
            elif mention.mentioned.name:
                pattern = "<at>" + re.escape(mention.mentioned.name) + "</at>"
            else:
                continue
            text = re.sub(pattern, "", text, flags=re.IGNORECASE).strip()
        self.text = text
        return text

    def remove_recipient_mention(self) -> str | None:
        """Strip the mentions of this activity's recipient (usually the bot) from ``text`` and return it."""
        if self.recipient is None or self.recipient.id is None:
            return self.text
        return self.remove_mention_text(self.recipient.id)


def _account_id_and_name(account: ChannelAccount | None) -> ChannelAccount | None:
    if account is None:
        return None
    return ChannelAccount(id=account.id, name=account.name)
