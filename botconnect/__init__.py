"""botconnect: typed, fast clients for Microsoft's conversation services (sync façade).

The async twin with the same names is ``botconnect_aio``.
"""

from ._core.auth import GOVERNMENT_CLOUD, PUBLIC_CLOUD, AccessToken, CloudSettings
from ._core.paging import Page
from ._core.retry import NO_RETRIES, RetryPolicy
from ._paging import ItemPaged, PageIterator
from ._version import __version__
from .auth import MicrosoftAppCredentials
from .connector import AttachmentsOperations, AttachmentStream, ConnectorClient, ConversationsOperations
from .errors import (
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

__all__ = [
    "GOVERNMENT_CLOUD",
    "NO_RETRIES",
    "PUBLIC_CLOUD",
    "AccessToken",
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
    "ItemPaged",
    "MicrosoftAppCredentials",
    "Page",
    "PageIterator",
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
