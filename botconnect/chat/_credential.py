"""``CommunicationTokenCredential`` (sync): an ACS user access token, refreshed on demand or in the background."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from .._core.auth import AccessToken
from .._core.chat_auth import FAILED_REFRESH_RETRY, TokenState, check_refresher, parse_jwt

__all__ = ["CommunicationTokenCredential"]

logger = logging.getLogger("botconnect.chat")

#: a timer never waits longer than this; when it fires early it only reschedules
_MAX_TIMER_DELAY = 86_400.0
_JOIN_TIMEOUT = 10.0


class _Timer(Protocol):
    def start(self) -> None: ...
    def cancel(self) -> None: ...
    def join(self, timeout: float | None = None) -> None: ...
    def is_alive(self) -> bool: ...


def _daemon_timer(delay: float, callback: Callable[[], None]) -> _Timer:
    timer = threading.Timer(delay, callback)
    timer.daemon = True
    timer.name = "botconnect-acs-token-refresh"
    return timer


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
        token_refresher: Callable[[], AccessToken | str] | None = None,
        proactive_refresh: bool = False,
        _clock: Callable[[], float] = time.time,
        _timer: Any = None,
    ) -> None:
        # _clock: Unix seconds; _timer(delay, callback) -> a started-later, cancellable timer (threading.Timer)
        check_refresher(token_refresher, proactive_refresh)
        self._state = TokenState(parse_jwt(token), _clock)
        self._refresher = token_refresher
        self._proactive = proactive_refresh
        self._make_timer: Callable[[float, Callable[[], None]], _Timer] = _timer or _daemon_timer
        self._cond = threading.Condition()
        self._refreshing = False
        self._closed = False
        self._timers: list[_Timer] = []
        if proactive_refresh:
            self._schedule()

    @property
    def proactive_refresh(self) -> bool:
        """Whether the token is refreshed ahead of expiry in the background (else on demand)."""
        return self._proactive

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        """The current token, refreshed first when it is about to expire (scopes are ignored: ACS tokens have none)."""
        if self._refresher is None or not self._state.expiring_soon():
            return self._state.token
        return self._refresh()

    def _refresh(self) -> AccessToken:
        refresher = self._refresher
        assert refresher is not None
        with self._cond:
            while True:
                if not self._state.expiring_soon():
                    return self._state.token
                if not self._refreshing:
                    self._refreshing = True
                    break
                if self._state.is_valid():  # someone else is refreshing; this one still works meanwhile
                    return self._state.token
                self._cond.wait()
        try:
            result = refresher()
            with self._cond:
                token = self._state.accept(result)
        finally:
            with self._cond:
                self._refreshing = False
                self._cond.notify_all()
        if self._proactive:
            self._schedule()
        return token

    # -- background refresh -------------------------------------------------------------------------------------

    def _schedule(self, *, after_failure: bool = False) -> None:
        with self._cond:
            if self._closed:
                return
            for old in self._timers:
                old.cancel()
            self._timers = [t for t in self._timers if t.is_alive()]
            delay = min(self._state.next_refresh_delay(after_failure=after_failure), _MAX_TIMER_DELAY)
            timer = self._make_timer(delay, self._on_timer)
            self._timers.append(timer)
            timer.start()

    def _on_timer(self) -> None:
        if self._closed:
            return
        if not self._state.expiring_soon():
            self._schedule()
            return
        try:
            self._refresh()
        except Exception as exc:
            # the refresher's own message could quote a token: log its type only
            logger.warning(
                "background refresh of the ACS token failed (%s); retrying in %.0fs",
                type(exc).__name__,
                FAILED_REFRESH_RETRY,
            )
            self._schedule(after_failure=True)

    def close(self) -> None:
        """Stop the background refresh (``botconnect``: cancel and join its timer thread; ``botconnect_aio``: end its
        task, the group itself ending with the ``async with`` block). Safe to call twice."""
        with self._cond:
            self._closed = True
            timers, self._timers = self._timers, []
        for timer in timers:
            timer.cancel()
        current: object = threading.current_thread()
        for timer in timers:
            if timer is not current:  # close() called from the refresher itself: it ends on its own
                timer.join(_JOIN_TIMEOUT)

    def __enter__(self) -> CommunicationTokenCredential:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return self._state.describe(type(self).__name__, self._proactive)

    __str__ = __repr__
