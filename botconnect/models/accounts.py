"""Identities of participants and conversations, and references to a conversation."""

from typing import Any

import attrs

from ._base import Model
from .enums import RoleTypes

__all__ = ["ChannelAccount", "ConversationAccount", "ConversationReference"]


@attrs.define(kw_only=True, repr=False)
class ChannelAccount(Model):
    """A user or bot identity within a channel."""

    id: str | None = None
    name: str | None = None
    aad_object_id: str | None = None
    role: RoleTypes | str | None = None
    properties: Any = None


@attrs.define(kw_only=True, repr=False)
class ConversationAccount(Model):
    """The identity of a conversation within a channel."""

    is_group: bool | None = None
    conversation_type: str | None = None
    tenant_id: str | None = None
    id: str | None = None
    name: str | None = None
    aad_object_id: str | None = None
    role: RoleTypes | str | None = None
    properties: Any = None


@attrs.define(kw_only=True, repr=False)
class ConversationReference(Model):
    """Enough about a conversation (and optionally one activity in it) to address it again later."""

    activity_id: str | None = None
    user: ChannelAccount | None = None
    bot: ChannelAccount | None = None
    conversation: ConversationAccount | None = None
    channel_id: str | None = None
    service_url: str | None = None
    locale: str | None = None
