"""What the sync ACS clients (``ChatClient``, ``ChatThreadClient``, ``CommunicationIdentityClient``) share: running
one call with its azure-core keyword arguments, and ``with``. The async twin is ``botconnect_aio._acs_client``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self, TypeVar

from ._core.azure_compat import AzureCallOptions
from ._core.operation import Operation
from ._core.retry import RetryPolicy
from ._pipeline import Pipeline
from .errors import HttpResponseError

if TYPE_CHECKING:  # an annotation only: importing it costs each chat client import ~2 ms
    from ._core.identity_trace import IdentityTrace

__all__ = ["AcsClient"]

T = TypeVar("T")


class AcsClient:
    """The base of the sync ACS clients; a subclass sets ``_azure`` and ``_pipeline`` and defines ``close``."""

    _azure: AzureCallOptions
    _pipeline: Pipeline
    #: the identity client's network trace, which redacts tokens, in place of azure-core's (AzureCallOptions');
    #: None: the chat clients, traced by AzureCallOptions
    _trace: IdentityTrace | None = None

    if TYPE_CHECKING:

        def close(self) -> None: ...

    def _run(
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
            return self._pipeline.run(operation if trace is None else trace.wrap(operation), **options)
        except HttpResponseError as error:
            if trace is None:
                self._azure.failed(error, kwargs)
            else:
                trace.response(error.response)
            raise

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
