"""The async Direct Line 3.0 client."""

from __future__ import annotations

import httpx

from botconnect._core.clientconfig import endpoint_config
from botconnect._core.requests.directline import DEFAULT_ENDPOINT, DirectLineCredential, normalize_endpoint
from botconnect._core.retry import RetryPolicy

from .._pipeline import AsyncPipeline
from ._operations import DirectLineConversationsOperations, TokensOperations

__all__ = ["DirectLineClient"]


class DirectLineClient:
    """Talk to a bot over Direct Line 3.0 with a ``secret`` (any conversation) or a ``token`` (one conversation).

    The secret or token is only sent to ``endpoint``, over https (plain http to loopback only).
    """

    def __init__(
        self,
        *,
        secret: str | None = None,
        token: str | None = None,
        endpoint: str = DEFAULT_ENDPOINT,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float | httpx.Timeout | None = None,
        retry_policy: RetryPolicy | None = None,
        user_agent: str | None = None,
    ) -> None:
        base = normalize_endpoint(endpoint)
        self._credential = DirectLineCredential(secret=secret, token=token)
        config = endpoint_config(base, timeout=timeout, retry_policy=retry_policy, user_agent=user_agent)
        self._pipeline = AsyncPipeline(
            config=config, credential=self._credential, http_client=http_client, transport=transport
        )
        self.endpoint = str(base)
        #: token generation and refresh
        self.tokens = TokensOperations(base, self._pipeline, self._credential)
        #: start, reconnect, post, poll, upload
        self.conversations = DirectLineConversationsOperations(base, self._pipeline)

    @property
    def token(self) -> str:
        """The secret or token the client currently authenticates with (refresh_token() replaces it)."""
        return self._credential.get_token()

    async def close(self) -> None:
        """Close the connection pool (a user-supplied ``http_client`` is left open). Safe to call twice."""
        await self._pipeline.close()

    async def __aenter__(self) -> DirectLineClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<DirectLineClient endpoint={self.endpoint!r}>"
