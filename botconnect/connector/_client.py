"""The sync Bot Connector client."""

from __future__ import annotations

from collections.abc import Iterable

import httpx

from .._core.clientconfig import connector_settings
from .._core.retry import RetryPolicy
from .._pipeline import Pipeline, TokenCredential
from .._shared_pool import shared_pipeline
from ._operations import AttachmentsOperations, ConversationsOperations
from ._teams import TeamsOperations

__all__ = ["ConnectorClient"]


class ConnectorClient:
    """Talk to a channel's Bot Connector v3 service at ``service_url`` (take it from the incoming activity).

    ``credential`` is a :class:`MicrosoftAppCredentials` or any azure-identity style credential; leave it None
    for the local emulator. The token is only ever sent to ``trusted_hosts`` (default: the Bot Framework
    channel hosts of the credential's cloud), over https (plain http to loopback only).

    Build one per incoming activity (``with ConnectorClient(activity.service_url, credentials)``, ``async with``
    in ``botconnect_aio``): clients given neither ``transport`` nor ``http_client`` share the process's connection
    pool (async: one per event loop), so a new client costs microseconds and reuses the connections earlier
    clients opened. Keep the credential for the life of the process: its token is reused too.
    """

    def __init__(
        self,
        service_url: str,
        credential: TokenCredential | None = None,
        *,
        trusted_hosts: Iterable[str] | None = None,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float | httpx.Timeout | None = None,
        retry_policy: RetryPolicy | None = None,
        user_agent: str | None = None,
    ) -> None:
        base, self.service_url, config = connector_settings(
            service_url,
            credential,
            trusted_hosts=trusted_hosts,
            timeout=timeout,
            retry_policy=retry_policy,
            user_agent=user_agent,
        )
        if http_client is None and transport is None:
            self._pipeline = shared_pipeline(config=config, credential=credential)
        else:
            self._pipeline = Pipeline(
                config=config, credential=credential, http_client=http_client, transport=transport
            )
        self._conversations = ConversationsOperations(base, self._pipeline)
        self._attachments = AttachmentsOperations(base, self._pipeline)
        self._teams = TeamsOperations(base, self._pipeline)

    @property
    def conversations(self) -> ConversationsOperations:
        """ConversationsOperations: Conversations, activities and members."""
        return self._conversations

    @property
    def attachments(self) -> AttachmentsOperations:
        """AttachmentsOperations: Attachment info and streamed attachment views."""
        return self._attachments

    @property
    def teams(self) -> TeamsOperations:
        """TeamsOperations: Microsoft Teams: teams, channels, meetings, meeting notifications, batch messaging,
        reactions."""
        return self._teams

    def close(self) -> None:
        """End this client: later calls raise ``ClientClosedError``. Safe to call twice.

        The shared pool stays open for the other clients (async: its idle connections close when the event loop
        ends); a pool made from ``transport`` is closed; a user-supplied ``http_client`` is left open."""
        self._pipeline.close()

    def __enter__(self) -> ConnectorClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<ConnectorClient service_url={self.service_url!r}>"
