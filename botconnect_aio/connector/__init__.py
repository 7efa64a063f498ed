"""Bot Connector v3 (async)."""

from ._client import ConnectorClient
from ._operations import AttachmentsOperations, AttachmentStream, ConversationsOperations
from ._teams import TeamsOperations

__all__ = ["AttachmentStream", "AttachmentsOperations", "ConnectorClient", "ConversationsOperations", "TeamsOperations"]
