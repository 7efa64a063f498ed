"""What the async chat clients add to :class:`~botconnect_aio._acs_client.AcsClient`: ``async with`` enters the
CommunicationTokenCredential they were given (its proactive refresh runs for the block). The sync clients do not
enter theirs, so ``botconnect.chat`` has no such base."""

from __future__ import annotations

from typing import Self

from .._acs_client import AcsClient
from .._pipeline import AsyncTokenCredential
from ._credential import CommunicationTokenCredential

__all__ = ["ChatClientBase"]


class ChatClientBase(AcsClient):
    """The base of the async ``ChatClient`` and ``ChatThreadClient``; a subclass sets ``_credential`` and
    ``_entered_credential = False`` too."""

    _credential: AsyncTokenCredential
    _entered_credential: bool

    async def __aenter__(self) -> Self:
        if isinstance(self._credential, CommunicationTokenCredential):
            await self._credential.__aenter__()
            self._entered_credential = True
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            await self.close()
        finally:
            if self._entered_credential and isinstance(self._credential, CommunicationTokenCredential):
                self._entered_credential = False
                await self._credential.__aexit__(*exc_info)
