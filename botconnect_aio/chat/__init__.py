"""Azure Communication Services Chat (async; anyio: asyncio and trio): ChatClient, ChatThreadClient, models.

The sync twin with the same names is ``botconnect.chat``; paged methods return ``AsyncItemPaged``.
"""

from botconnect._core.auth import AccessToken
from botconnect._core.azure_compat import IgnoredAzureOptionWarning
from botconnect._core.requests.chat import API_VERSION_2024_03_07, API_VERSION_2025_03_15, DEFAULT_API_VERSION
from botconnect.errors import ExpiredTokenError
from botconnect.models.chat import (
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
from botconnect.models.identifiers import (
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
