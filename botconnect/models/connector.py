"""Request and response bodies of the Bot Connector REST API (conversations, members, attachments, tokens)."""

from typing import Any

import attrs

from ._base import Model
from .accounts import ChannelAccount
from .activity import Activity

__all__ = [
    "AttachmentData",
    "AttachmentInfo",
    "AttachmentView",
    "CommandResultValue",
    "CommandValue",
    "ConversationMembers",
    "ConversationParameters",
    "ConversationResourceResponse",
    "ConversationsResult",
    "Error",
    "ErrorResponse",
    "ExpectedReplies",
    "InnerHttpError",
    "PagedMembersResult",
    "ResourceResponse",
    "TeamsChannelAccount",
    "TeamsPagedMembersResult",
    "TokenExchangeInvokeRequest",
    "TokenExchangeInvokeResponse",
    "TokenRequest",
    "TokenResponse",
    "Transcript",
]


# -- errors ------------------------------------------------------------------------------------------------


@attrs.define(kw_only=True, repr=False)
class InnerHttpError(Model):
    """The status code and body of an HTTP error a service received from another service."""

    status_code: int | None = None
    body: Any = None


@attrs.define(kw_only=True, repr=False)
class Error(Model):
    """A service error: code, message and an optional inner HTTP error."""

    code: str | None = None
    message: str | None = None
    inner_http_error: InnerHttpError | None = None


@attrs.define(kw_only=True, repr=False)
class ErrorResponse(Model):
    """The body of an error response from the service."""

    error: Error | None = None


# -- conversations -----------------------------------------------------------------------------------------


@attrs.define(kw_only=True, repr=False)
class ConversationParameters(Model):
    """What to create a new conversation with: members, bot, topic and an optional first activity."""

    is_group: bool | None = None
    bot: ChannelAccount | None = None
    members: list[ChannelAccount] | None = None
    topic_name: str | None = None
    tenant_id: str | None = None
    activity: Activity | None = None
    channel_data: Any = None


@attrs.define(kw_only=True, repr=False)
class ConversationResourceResponse(Model):
    """The ids (and service URL) of a newly created conversation and its first activity."""

    activity_id: str | None = None
    service_url: str | None = None
    id: str | None = None


@attrs.define(kw_only=True, repr=False)
class ResourceResponse(Model):
    """The id of a resource the service created (e.g. a sent activity)."""

    id: str | None = None


@attrs.define(kw_only=True, repr=False)
class ConversationMembers(Model):
    """A conversation id and its members."""

    id: str | None = None
    members: list[ChannelAccount] | None = None


@attrs.define(kw_only=True, repr=False)
class ConversationsResult(Model):
    """A page of the conversations the bot takes part in."""

    continuation_token: str | None = None
    conversations: list[ConversationMembers] | None = None


@attrs.define(kw_only=True, repr=False)
class PagedMembersResult(Model):
    """A page of conversation members."""

    continuation_token: str | None = None
    members: list[ChannelAccount] | None = None


@attrs.define(kw_only=True, repr=False)
class TeamsChannelAccount(ChannelAccount):
    """A channel account with the extra user profile fields Microsoft Teams returns."""

    given_name: str | None = None
    surname: str | None = None
    email: str | None = None
    user_principal_name: str | None = None
    tenant_id: str | None = None
    user_role: str | None = None


@attrs.define(kw_only=True, repr=False)
class TeamsPagedMembersResult(Model):
    """A page of Microsoft Teams conversation members."""

    continuation_token: str | None = None
    members: list[TeamsChannelAccount] | None = None


@attrs.define(kw_only=True, repr=False)
class Transcript(Model):
    """A sequence of activities, e.g. a conversation history to upload."""

    activities: list[Activity] | None = None


@attrs.define(kw_only=True, repr=False)
class ExpectedReplies(Model):
    """The activities returned synchronously for an activity sent with deliveryMode expectReplies."""

    activities: list[Activity] | None = None


# -- attachments -------------------------------------------------------------------------------------------


@attrs.define(kw_only=True, repr=False)
class AttachmentData(Model):
    """An attachment to upload: its type, name and binary content (base64 on the wire)."""

    type: str | None = None
    name: str | None = None
    original_base64: bytes | None = None
    thumbnail_base64: bytes | None = None


@attrs.define(kw_only=True, repr=False)
class AttachmentView(Model):
    """One downloadable view of a stored attachment (e.g. original or thumbnail) and its size."""

    view_id: str | None = None
    size: int | None = None


@attrs.define(kw_only=True, repr=False)
class AttachmentInfo(Model):
    """Metadata of a stored attachment: name, content type and available views."""

    name: str | None = None
    type: str | None = None
    views: list[AttachmentView] | None = None


# -- tokens ------------------------------------------------------------------------------------------------


@attrs.define(kw_only=True, repr=False)
class TokenRequest(Model):
    """A request for a token from a provider with provider-specific settings (Connector v3.0)."""

    provider: str | None = None
    settings: dict[str, Any] | None = None


@attrs.define(kw_only=True, repr=False)
class TokenResponse(Model):
    """A user token for an OAuth connection, with its channel and expiration."""

    channel_id: str | None = None
    connection_name: str | None = None
    token: str | None = attrs.field(default=None, repr=False)  # a user's access token: never in a repr or a log
    expiration: str | None = None


@attrs.define(kw_only=True, repr=False)
class TokenExchangeInvokeRequest(Model):
    """The value of a signin/tokenExchange invoke: a token to exchange for a connection."""

    id: str | None = None
    connection_name: str | None = None
    token: str | None = attrs.field(default=None, repr=False)  # the user's SSO token: never in a repr or a log


@attrs.define(kw_only=True, repr=False)
class TokenExchangeInvokeResponse(Model):
    """The invoke response to a token exchange request, with the reason it failed if it did."""

    id: str | None = None
    connection_name: str | None = None
    failure_detail: str | None = None


# -- command activity values -------------------------------------------------------------------------------


@attrs.define(kw_only=True, repr=False)
class CommandValue(Model):
    """The ``value`` of a command activity: an optional command id and parameters."""

    command_id: str | None = None
    data: Any = None


@attrs.define(kw_only=True, repr=False)
class CommandResultValue(Model):
    """The ``value`` of a commandResult activity: the command id, result data or the error it failed with."""

    command_id: str | None = None
    data: Any = None
    error: Error | None = None
