"""Direct Line 3.0 (async)."""

from ._client import DirectLineClient
from ._operations import DirectLineConversationsOperations, TokensOperations
from ._session import ActivityIterator, ConnectionStatus, DirectLineConversation

__all__ = [
    "ActivityIterator",
    "ConnectionStatus",
    "DirectLineClient",
    "DirectLineConversation",
    "DirectLineConversationsOperations",
    "TokensOperations",
]
