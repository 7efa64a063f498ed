"""botconnect_aio: the async twin of ``botconnect`` (anyio: asyncio and trio), with the same public names.

Paged operations return :class:`AsyncItemPaged` (the twin of ``botconnect.ItemPaged``).
"""

from botconnect._core.auth import GOVERNMENT_CLOUD, PUBLIC_CLOUD, AccessToken, CloudSettings
from botconnect._core.paging import Page
from botconnect._core.retry import NO_RETRIES, RetryPolicy
from botconnect._version import __version__
from botconnect.errors import (
    BadGatewayError,
    BotConnectError,
    ClientAuthenticationError,
    ClientClosedError,
    DeserializationError,
    ErrorDetails,
    HttpResponseError,
    PermissionDeniedError,
    RateLimitError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServerError,
    ServiceRequestError,
    ServiceRequestTimeoutError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
    ServiceUnavailableError,
    UntrustedEndpointError,
)

from ._paging import AsyncItemPaged, AsyncPageIterator
from .auth import MicrosoftAppCredentials
from .connector import AttachmentsOperations, AttachmentStream, ConnectorClient, ConversationsOperations

__all__ = [
    "GOVERNMENT_CLOUD",
    "NO_RETRIES",
    "PUBLIC_CLOUD",
    "AccessToken",
    "AsyncItemPaged",
    "AsyncPageIterator",
    "AttachmentStream",
    "AttachmentsOperations",
    "BadGatewayError",
    "BotConnectError",
    "ClientAuthenticationError",
    "ClientClosedError",
    "CloudSettings",
    "ConnectorClient",
    "ConversationsOperations",
    "DeserializationError",
    "ErrorDetails",
    "HttpResponseError",
    "MicrosoftAppCredentials",
    "Page",
    "PermissionDeniedError",
    "RateLimitError",
    "ResourceExistsError",
    "ResourceModifiedError",
    "ResourceNotFoundError",
    "RetryPolicy",
    "ServerError",
    "ServiceRequestError",
    "ServiceRequestTimeoutError",
    "ServiceResponseError",
    "ServiceResponseTimeoutError",
    "ServiceUnavailableError",
    "UntrustedEndpointError",
    "__version__",
]
