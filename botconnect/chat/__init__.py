"""Azure Communication Services Chat (sync): :class:`ChatClient`, :class:`ChatThreadClient` and their models.

The async twin with the same names is ``botconnect_aio.chat``.
"""

from .._core.auth import AccessToken
from .._core.azure_compat import IgnoredAzureOptionWarning
from .._core.requests.chat import API_VERSION_2024_03_07, API_VERSION_2025_03_15, DEFAULT_API_VERSION
from ..errors import ExpiredTokenError
from ..models.chat import (
    ChatAttachment,
    ChatAttachmentType,
    ChatError,
    ChatErrorResponse,
    ChatMessage,
    ChatMessageContent,
    ChatMessageReadReceipt,
    ChatMessageType,
    ChatParticipant,
    ChatRetentionPolicy,
    ChatThreadItem,
    ChatThreadProperties,
    CreateChatThreadResult,
    NoneRetentionPolicy,
    RetentionPolicyKind,
    SendChatMessageResult,
    ThreadCreationDateRetentionPolicy,
)
from ..models.identifiers import (
    CommunicationCloudEnvironment,
    CommunicationIdentifier,
    CommunicationIdentifierKind,
    CommunicationIdentifierLike,
    CommunicationUserIdentifier,
    CommunicationUserProperties,
    MicrosoftTeamsAppIdentifier,
    MicrosoftTeamsAppProperties,
    MicrosoftTeamsUserIdentifier,
    MicrosoftTeamsUserProperties,
    PhoneNumberIdentifier,
    PhoneNumberProperties,
    UnknownIdentifier,
    identifier_from_raw_id,
)
from ._client import ChatClient
from ._credential import CommunicationTokenCredential
from ._thread_client import ChatThreadClient

__all__ = [
    "API_VERSION_2024_03_07",
    "API_VERSION_2025_03_15",
    "DEFAULT_API_VERSION",
    "AccessToken",
    "ChatAttachment",
    "ChatAttachmentType",
    "ChatClient",
    "ChatError",
    "ChatErrorResponse",
    "ChatMessage",
    "ChatMessageContent",
    "ChatMessageReadReceipt",
    "ChatMessageType",
    "ChatParticipant",
    "ChatRetentionPolicy",
    "ChatThreadClient",
    "ChatThreadItem",
    "ChatThreadProperties",
    "CommunicationCloudEnvironment",
    "CommunicationIdentifier",
    "CommunicationIdentifierKind",
    "CommunicationIdentifierLike",
    "CommunicationTokenCredential",
    "CommunicationUserIdentifier",
    "CommunicationUserProperties",
    "CreateChatThreadResult",
    "ExpiredTokenError",
    "IgnoredAzureOptionWarning",
    "MicrosoftTeamsAppIdentifier",
    "MicrosoftTeamsAppProperties",
    "MicrosoftTeamsUserIdentifier",
    "MicrosoftTeamsUserProperties",
    "NoneRetentionPolicy",
    "PhoneNumberIdentifier",
    "PhoneNumberProperties",
    "RetentionPolicyKind",
    "SendChatMessageResult",
    "ThreadCreationDateRetentionPolicy",
    "UnknownIdentifier",
    "identifier_from_raw_id",
]
