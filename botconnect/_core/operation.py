"""What a request builder returns: the request plus everything needed to run and parse it."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any, Generic, TypeVar

import attrs
import httpx

__all__ = ["Operation"]

T = TypeVar("T")


@attrs.frozen
class Operation(Generic[T]):
    """One service call, fully decided before any I/O.

    ``idempotent`` means the request may be repeated after the server might already have acted on it
    (GET/PUT/DELETE, or a POST carrying an idempotency key reused on every attempt).
    """

    request: httpx.Request
    parse: Callable[[httpx.Response], T]
    success: Collection[int] = frozenset({200})
    idempotent: bool = False
    #: the response body is handed to ``parse`` unread, for the caller to stream
    stream: bool = False
    follow_redirects: bool = False
    #: attach the client's credential (False for token endpoints and anonymous calls)
    authenticate: bool = True
    #: objects with ``close()`` (files opened for an upload) the driver closes once the call is over
    closing: tuple[Any, ...] = ()

    def close_resources(self) -> None:
        for resource in self.closing:
            resource.close()
