"""The async Direct Line 3.0 client."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from botconnect._core.clientconfig import endpoint_config
from botconnect._core.requests.directline import DEFAULT_ENDPOINT, DirectLineCredential, normalize_endpoint
from botconnect._core.retry import RetryPolicy
from botconnect.models import ChannelAccount

from .._pipeline import AsyncPipeline
from ._operations import DirectLineConversationsOperations, TokensOperations
from ._session import ConnectionStatus, DirectLineConversation

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
        self._tokens = TokensOperations(base, self._pipeline, self._credential)
        self._conversations = DirectLineConversationsOperations(base, self._pipeline)

    @property
    def tokens(self) -> TokensOperations:
        """TokensOperations: Token generation and refresh."""
        return self._tokens

    @property
    def conversations(self) -> DirectLineConversationsOperations:
        """DirectLineConversationsOperations: Start, reconnect, post, poll, upload."""
        return self._conversations

    @property
    def token(self) -> str:
        """The secret or token the client currently authenticates with (refresh_token() replaces it)."""
        return self._credential.get_token()

    def open_conversation(
        self,
        *,
        conversation_id: str | None = None,
        watermark: str | None = None,
        user: ChannelAccount | str | None = None,
        streaming: bool = True,
        poll_interval: float = 1.0,
        silence_timeout: float | None = 120.0,
        reconnect_policy: RetryPolicy | None = None,
        on_status: Callable[[ConnectionStatus], object] | None = None,
    ) -> DirectLineConversation:
        """A conversation session: enter it (``with``, or ``async with`` in botconnect_aio), then ``send()`` and
        iterate ``activities()``. Starts a new conversation, or resumes ``conversation_id`` after ``watermark``.

        ``user`` (a ChannelAccount or a user id) is the ``from`` of activities sent without one. Activities arrive
        over the WebSocket stream (``streaming=False``: by polling every ``poll_interval`` seconds); a stream with
        no frame for ``silence_timeout`` seconds is replaced. ``reconnect_policy`` paces reconnects;
        ``on_status`` is called with each new :class:`ConnectionStatus`.
        """
        return DirectLineConversation(
            self,
            conversation_id=conversation_id,
            watermark=watermark,
            user=user,
            streaming=streaming,
            poll_interval=poll_interval,
            silence_timeout=silence_timeout,
            reconnect_policy=reconnect_policy,
            on_status=on_status,
        )

    async def close(self) -> None:
        """Close the connection pool (a user-supplied ``http_client`` is left open). Safe to call twice."""
        await self._pipeline.close()

    async def __aenter__(self) -> DirectLineClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<DirectLineClient endpoint={self.endpoint!r}>"
