"""Bot Connector v3 (sync)."""

from ._client import ConnectorClient
from ._operations import AttachmentsOperations, AttachmentStream, ConversationsOperations
from ._teams import TeamsOperations

__all__ = ["AttachmentStream", "AttachmentsOperations", "ConnectorClient", "ConversationsOperations", "TeamsOperations"]
