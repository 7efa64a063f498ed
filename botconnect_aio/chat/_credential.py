"""``CommunicationTokenCredential`` (async): an ACS user access token, refreshed on demand or in the background."""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import anyio.abc

from botconnect._core.auth import AccessToken
from botconnect._core.chat_auth import TokenState, check_refresher, parse_jwt

__all__ = ["CommunicationTokenCredential"]

logger = logging.getLogger("botconnect.chat")


class CommunicationTokenCredential:
    """An ACS user access token for :class:`ChatClient` / :class:`ChatThreadClient`.

    The expiry is read from the token's JWT ``exp`` claim (a malformed token is a ValueError here). With a
    ``token_refresher`` (a callable returning a new token, an AccessToken or the JWT string; in ``botconnect_aio``
    it may be async), ``get_token`` refreshes the token once it is within 10 minutes of expiring, one refresh at a
    time however many threads or tasks ask; a refresher that returns an already expired token raises
    :class:`ExpiredTokenError`. The token never appears in ``repr``, errors or logs.

    ``proactive_refresh=True`` also refreshes in the background, so calls never wait for a refresh:

    * ``botconnect``: on a daemon timer thread started here; :meth:`close` (or leaving ``with credential:``)
      cancels it and joins the thread.
    * ``botconnect_aio``: in a task group owned by ``async with credential:``, or by ``async with`` on a client
      using it (which enters its credential); asyncio and trio alike. Structured concurrency needs an owner for
      that task: while the credential is not entered, it refreshes on demand inside ``get_token`` instead.
      Leaving the block (or :meth:`close`) stops the background task.

    After ``close`` the credential keeps working, refreshing on demand.
    """

    def __init__(
        self,
        token: str,
        *,
        token_refresher: Callable[[], Awaitable[AccessToken | str]] | None = None,
        proactive_refresh: bool = False,
        _clock: Callable[[], float] = time.time,
        _timer: Any = None,
    ) -> None:
        # _clock: Unix seconds; _timer(delay): awaited before each background refresh (anyio.sleep)
        check_refresher(token_refresher, proactive_refresh)
        self._state = TokenState(parse_jwt(token), _clock)
        self._refresher = token_refresher
        self._proactive = proactive_refresh
        self._sleep: Callable[[float], Awaitable[None]] = _timer or anyio.sleep
        self._refreshing: anyio.Event | None = None
        self._entered = 0
        self._task_group: anyio.abc.TaskGroup | None = None
        self._loop_scope: anyio.CancelScope | None = None
        self._closed = False

    @property
    def proactive_refresh(self) -> bool:
        """Whether the token is refreshed ahead of expiry in the background (else on demand)."""
        return self._proactive

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        """The current token, refreshed first when it is about to expire (scopes are ignored: ACS tokens have none)."""
        if self._refresher is None or not self._state.expiring_soon():
            return self._state.token
        return await self._refresh()

    async def _refresh(self) -> AccessToken:
        refresher = self._refresher
        assert refresher is not None
        while self._state.expiring_soon():
            if self._refreshing is None:
                done = self._refreshing = anyio.Event()
                try:
                    result: Any = refresher()  # a sync refresher works too
                    if inspect.isawaitable(result):
                        result = await result
                    return self._state.accept(result)
                finally:
                    self._refreshing = None
                    done.set()
            if self._state.is_valid():  # someone else is refreshing; this one still works meanwhile
                return self._state.token
            await self._refreshing.wait()
        return self._state.token

    # -- background refresh -------------------------------------------------------------------------------------

    async def _refresh_loop(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        with anyio.CancelScope() as scope:
            self._loop_scope = scope
            task_status.started()
            failed = False
            while True:
                await self._sleep(self._state.next_refresh_delay(after_failure=failed))
                failed = False
                if not self._state.expiring_soon():
                    continue
                try:
                    await self._refresh()
                except Exception as exc:
                    # the refresher's own message could quote a token: log its type only
                    logger.warning("background refresh of the ACS token failed (%s); will retry", type(exc).__name__)
                    failed = True
        self._loop_scope = None

    async def __aenter__(self) -> CommunicationTokenCredential:
        self._entered += 1
        if self._entered == 1 and self._proactive and not self._closed:
            group = anyio.create_task_group()
            await group.__aenter__()
            self._task_group = group
            await group.start(self._refresh_loop)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._entered = max(self._entered - 1, 0)
        group = self._task_group
        if self._entered or group is None:
            return
        self._task_group = None
        if self._loop_scope is not None:
            self._loop_scope.cancel()
        # Only a cancellation is handed on: the group would otherwise wrap the caller's error in an ExceptionGroup.
        exc = exc_info[1] if len(exc_info) == 3 else None
        if isinstance(exc, anyio.get_cancelled_exc_class()):
            await group.__aexit__(type(exc), exc, exc.__traceback__)
        else:
            await group.__aexit__(None, None, None)

    async def close(self) -> None:
        """Stop the background refresh (``botconnect``: cancel and join its timer thread; ``botconnect_aio``: end its
        task, the group itself ending with the ``async with`` block). Safe to call twice."""
        self._closed = True
        if self._loop_scope is not None:
            self._loop_scope.cancel()

    def __repr__(self) -> str:
        return self._state.describe(type(self).__name__, self._proactive)

    __str__ = __repr__
