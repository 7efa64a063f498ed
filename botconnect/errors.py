"""The one exception tree, shared by ``botconnect`` and ``botconnect_aio``.

Names follow azure-core so ``except ResourceNotFoundError`` reads the same as in the Azure SDKs::

    BotConnectError
    ├── ServiceRequestError            the request never completed (connection failed, refused, ...)
    │   ├── ServiceRequestTimeoutError
    │   └── UntrustedEndpointError     refused to send a credential to that URL (also a ValueError)
    ├── ServiceResponseError           an answer came back but could not be used
    │   ├── ServiceResponseTimeoutError
    │   └── DeserializationError       2xx body, or Model.from_dict/from_json input, that does not parse as
    │                                  the model (also a ValueError)
    ├── HttpResponseError              any non-success status
    │   ├── ClientAuthenticationError  401
    │   ├── PermissionDeniedError      403 (TokenExpiredError when the service says code TokenExpired;
    │   │                              StreamStoppedError when Teams ended a streamed reply)
    │   ├── ResourceNotFoundError      404
    │   ├── ResourceExistsError        409
    │   ├── ResourceModifiedError      412
    │   ├── RateLimitError             429
    │   └── ServerError                5xx (ServiceUnavailableError for 503, BadGatewayError for 502)
    ├── AuthenticationError            an inbound request's token or claims failed validation (status_code 401)
    ├── AuthenticationUnavailableError inbound signing keys could not be fetched, none cached (status_code 503)
    ├── ExpiredTokenError              a token refresher handed back an expired token (also a ValueError)
    └── ClientClosedError              the client was used after close() (also a RuntimeError)

Argument mistakes raise the built-in ``ValueError`` / ``TypeError`` before anything is sent.
"""

from __future__ import annotations

import sys
from typing import Any

import attrs
import httpx

__all__ = [
    "AuthenticationError",
    "AuthenticationUnavailableError",
    "BadGatewayError",
    "BotConnectError",
    "ClientAuthenticationError",
    "ClientClosedError",
    "DeserializationError",
    "ErrorDetails",
    "ExpiredTokenError",
    "HttpResponseError",
    "PermissionDeniedError",
    "RateLimitError",
    "ResourceExistsError",
    "ResourceModifiedError",
    "ResourceNotFoundError",
    "ServerError",
    "ServiceRequestError",
    "ServiceRequestTimeoutError",
    "ServiceResponseError",
    "ServiceResponseTimeoutError",
    "ServiceUnavailableError",
    "StreamStoppedError",
    "TokenExpiredError",
    "UntrustedEndpointError",
]


class BotConnectError(Exception):
    """Base of every error this SDK raises on purpose."""

    #: Set on errors raised while paging: pass it to ``by_page(continuation_token=...)`` to resume.
    continuation_token: str | None = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    # Ours, not azure-core's HttpResponseError.__str__, once that class is also a base (see _core.azure_errors).
    __str__ = Exception.__str__


class ServiceRequestError(BotConnectError):
    """The request did not complete: DNS, connect, TLS or a connection dropped before any answer."""


class ServiceRequestTimeoutError(ServiceRequestError):
    """Connecting or sending took longer than the timeout."""


class UntrustedEndpointError(ServiceRequestError, ValueError):
    """A credential would have gone to a host it is not for, or over plain http to a non-loopback host."""


class ServiceResponseError(BotConnectError):
    """A response arrived but could not be used."""


class ServiceResponseTimeoutError(ServiceResponseError):
    """The server accepted the request but did not answer within the timeout (it may have acted on it)."""


class DeserializationError(ServiceResponseError, ValueError):
    """A success response whose body is not the documented shape, or data handed to ``Model.from_dict`` /
    ``Model.from_json`` that is not the model's JSON. Also a ``ValueError``, so ``except ValueError`` catches it;
    ``response`` is the HTTP response when there was one."""

    def __init__(self, message: str, *, response: httpx.Response | None = None) -> None:
        super().__init__(message)
        self.response = response


class AuthenticationError(BotConnectError):
    """An inbound request (an activity a channel, the Emulator or another bot posted) is not authentic.

    Answer the request with :attr:`status_code` (401). The message names the rule that failed, never the token,
    so it is safe to log; do not send it back to the caller.
    """

    status_code: int = 401


class AuthenticationUnavailableError(BotConnectError):
    """The keys inbound tokens are checked with could not be fetched, and none are cached yet.

    Not a verdict on the request: answer :attr:`status_code` (503) so the channel retries later.
    """

    status_code: int = 503


class ExpiredTokenError(BotConnectError, ValueError):
    """A ``token_refresher`` returned a token that has already expired."""


class ClientClosedError(BotConnectError, RuntimeError):
    """The client (or credential) was used after ``close()``."""


@attrs.frozen
class ErrorDetails:
    """A service error body normalised across services (Connector ErrorResponse, ACS CommunicationError, ...)."""

    code: str | None = None
    message: str | None = None
    target: str | None = None
    details: tuple[ErrorDetails, ...] = ()
    inner_error: Any = None
    #: the parsed JSON body, or the raw text when the body was not JSON
    raw: Any = None

    @property
    def innererror(self) -> Any:
        """``inner_error`` by azure-core's ``ODataV4Format`` name."""
        return self.inner_error


class HttpResponseError(BotConnectError):
    """The service answered with a status the operation does not document as success."""

    def __init__(
        self,
        message: str,
        *,
        response: httpx.Response,
        error: ErrorDetails | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.response = response
        self.status_code = response.status_code
        self.reason = response.reason_phrase
        self.error = error if error is not None else ErrorDetails()
        self.retry_after = retry_after
        self.request_id: str | None = _request_id(response)

    @property
    def error_code(self) -> str | None:
        """The service's own error code (``BadArgument``, ``TokenExpired``, ...), when it sent one."""
        return self.error.code

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status_code={self.status_code}, error_code={self.error.code!r}, "
            f"message={self.message!r})"
        )


class ClientAuthenticationError(HttpResponseError):
    """401: the credential was missing, wrong or expired."""


class PermissionDeniedError(HttpResponseError):
    """403: authenticated but not allowed (Direct Line also uses it for an expired token)."""


class TokenExpiredError(PermissionDeniedError):
    """403 with code ``TokenExpired``: the Direct Line token must be refreshed or replaced (a new one from a secret)."""


class StreamStoppedError(PermissionDeniedError):
    """403 ``ContentStreamNotAllowed``: the channel ended the stream (the user pressed Stop, or it ran too long).

    Nothing more is sent on this stream: every later ``update`` / ``append`` / ``end`` raises this error again.
    What was streamed stays on screen.
    """


class ResourceNotFoundError(HttpResponseError):
    """404."""


class ResourceExistsError(HttpResponseError):
    """409."""


class ResourceModifiedError(HttpResponseError):
    """412: a precondition (etag) failed."""


class RateLimitError(HttpResponseError):
    """429: throttled; ``retry_after`` says how long the service asked to wait."""


class ServerError(HttpResponseError):
    """5xx."""


class BadGatewayError(ServerError):
    """502 (Direct Line: the bot failed or timed out; the activity may or may not have been delivered)."""


class ServiceUnavailableError(ServerError):
    """503."""


_STATUS_ERRORS: dict[int, type[HttpResponseError]] = {
    401: ClientAuthenticationError,
    403: PermissionDeniedError,
    404: ResourceNotFoundError,
    409: ResourceExistsError,
    412: ResourceModifiedError,
    429: RateLimitError,
    502: BadGatewayError,
    503: ServiceUnavailableError,
}


def error_class_for_status(status_code: int, error_code: str | None = None) -> type[HttpResponseError]:
    """The most specific :class:`HttpResponseError` subclass for a status code (and service error code)."""
    if status_code == 403 and error_code == "TokenExpired":
        return TokenExpiredError
    specific = _STATUS_ERRORS.get(status_code)
    if specific is not None:
        return specific
    if status_code >= 500:
        return ServerError
    return HttpResponseError


def _request_id(response: httpx.Response) -> str | None:
    headers = response.headers
    for name in ("x-ms-request-id", "ms-cv", "x-ms-client-request-id", "request-id", "request-context"):
        value: str | None = headers.get(name)
        if value:
            return value
    return None


# With azure-core loaded, HttpResponseError and the rest are also azure-core's classes (``except
# azure.core.exceptions.HttpResponseError`` catches ours); that costs nothing until azure-core is imported.
from ._core.azure_errors import follow_azure_core  # noqa: E402

follow_azure_core(sys.modules[__name__])
