"""Direct Line 3.0 (async)."""

from ._client import DirectLineClient
from ._operations import DirectLineConversationsOperations, TokensOperations

__all__ = ["DirectLineClient", "DirectLineConversationsOperations", "TokensOperations"]
