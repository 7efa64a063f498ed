"""The ACS identity service's models: the scopes of a user access token."""

from __future__ import annotations

import enum

__all__ = ["CommunicationTokenScope"]


class CommunicationTokenScope(enum.StrEnum):
    """What a user access token may be used for (the service's ``CommunicationIdentityTokenScope``)."""

    #: full access to the Chat APIs
    CHAT = "chat"
    #: full access to the Calling APIs
    VOIP = "voip"
    #: Chat without creating, deleting or updating threads
    CHAT_JOIN = "chat.join"
    #: ``chat.join`` without adding or removing participants (for guests)
    CHAT_JOIN_LIMITED = "chat.join.limited"
    #: Calling without starting calls (joining existing ones)
    VOIP_JOIN = "voip.join"
