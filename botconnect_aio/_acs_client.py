"""What the async ACS clients (``ChatClient``, ``ChatThreadClient``, ``CommunicationIdentityClient``) share: running
one call with its azure-core keyword arguments, and ``async with``. The sync twin is ``botconnect._acs_client``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self, TypeVar

from botconnect._core.azure_compat import AzureCallOptions
from botconnect._core.operation import Operation
from botconnect._core.retry import RetryPolicy
from botconnect.errors import HttpResponseError

from ._pipeline import AsyncPipeline

if TYPE_CHECKING:  # an annotation only: importing it costs each chat client import ~2 ms
    from botconnect._core.identity_trace import IdentityTrace

__all__ = ["AcsClient"]

T = TypeVar("T")


class AcsClient:
    """The base of the async ACS clients; a subclass sets ``_azure`` and ``_pipeline`` and defines ``close``."""

    _azure: AzureCallOptions
    _pipeline: AsyncPipeline
    #: the identity client's network trace, which redacts tokens, in place of azure-core's (AzureCallOptions');
    #: None: the chat clients, traced by AzureCallOptions
    _trace: IdentityTrace | None = None

    if TYPE_CHECKING:

        async def close(self) -> None: ...

    async def _run(
        self,
        where: str,
        operation: Operation[T],
        kwargs: dict[str, Any],
        timeout: float | None,
        retry_policy: RetryPolicy | None,
        deadline: float | None,
    ) -> T:
        # called by the public method ``where``, directly: prepare's warnings point at the user's line, two up
        trace = self._trace
        if trace is not None:
            trace = trace.for_call(kwargs)  # takes logging_enable / logger out before prepare could trace
        operation, options = self._azure.prepare(
            operation, kwargs, timeout=timeout, retry_policy=retry_policy, deadline=deadline, where=where
        )
        try:
            return await self._pipeline.run(operation if trace is None else trace.wrap(operation), **options)
        except HttpResponseError as error:
            if trace is None:
                self._azure.failed(error, kwargs)
            else:
                trace.response(error.response)
            raise

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
