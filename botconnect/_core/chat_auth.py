"""ACS user tokens, sans-IO: read a JWT's expiry, decide when to refresh. Shared by both CommunicationTokenCredentials.

The token text never appears in a message, a repr or a log line produced here.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable
from typing import Any

from ..errors import ExpiredTokenError
from .auth import AccessToken

__all__ = [
    "FAILED_REFRESH_RETRY",
    "REFRESH_WINDOW",
    "ExpiredTokenError",
    "TokenState",
    "check_refresher",
    "coerce_refreshed_token",
    "parse_jwt",
]

#: a token this close to its expiry (seconds) is refreshed, on demand or in the background (the Azure SDK's 10 min)
REFRESH_WINDOW = 600.0
#: after a failed background refresh, try again this many seconds later (get_token still refreshes on demand)
FAILED_REFRESH_RETRY = 30.0
#: never schedule a background refresh sooner than this
MIN_REFRESH_DELAY = 1.0


def _b64url_decode(segment: str) -> bytes:
    padded = segment + "=" * (-len(segment) % 4)
    return base64.urlsafe_b64decode(padded.encode("ascii"))


def parse_jwt(token: str, *, what: str = "token") -> AccessToken:
    """The token with its expiry read from the JWT payload's ``exp`` claim (the signature is not checked).

    A value that is not a JWT with a numeric ``exp`` is a ValueError whose message does not quote the token.
    """
    if not isinstance(token, str):
        raise TypeError(f"{what} must be a str (an ACS user access token), got {type(token).__name__}")
    parts = token.split(".")
    if len(parts) != 3 or not all(parts[:2]):
        raise ValueError(f"{what} is not a JWT: expected three base64url segments separated by '.'")
    try:
        payload = json.loads(_b64url_decode(parts[1]))
    except (binascii.Error, ValueError, UnicodeError):
        # `from None`: the decoding error may carry the payload text
        raise ValueError(f"{what} is not a JWT: its payload is not base64url-encoded JSON") from None
    if not isinstance(payload, dict):
        raise ValueError(f"{what} is not a JWT: its payload is not a JSON object")
    exp = payload.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, int | float) or not math.isfinite(exp) or exp <= 0:
        raise ValueError(f"{what} has no valid 'exp' (expiry) claim")
    return AccessToken(token, int(exp))


def coerce_refreshed_token(value: Any) -> AccessToken:
    """What a ``token_refresher`` returned, as an AccessToken: an AccessToken-like object or a JWT string."""
    if isinstance(value, AccessToken):
        return value
    if isinstance(value, str):
        return parse_jwt(value, what="the token returned by token_refresher")
    token = getattr(value, "token", None)
    expires_on = getattr(value, "expires_on", None)
    if isinstance(token, str) and token and isinstance(expires_on, int | float) and not isinstance(expires_on, bool):
        return AccessToken(token, int(expires_on))
    raise TypeError(
        f"token_refresher must return an AccessToken (token, expires_on) or a JWT str, got {type(value).__name__}"
    )


def check_refresher(token_refresher: Any, proactive_refresh: bool) -> None:
    """The constructor arguments' rules, the same in both credentials."""
    if token_refresher is not None and not callable(token_refresher):
        raise TypeError("token_refresher must be a callable returning a new token")
    if not isinstance(proactive_refresh, bool):
        raise TypeError("proactive_refresh must be a bool")
    if proactive_refresh and token_refresher is None:
        raise ValueError("proactive_refresh=True needs a token_refresher")


class TokenState:
    """The current token and the refresh decisions about it, at the time ``clock()`` (Unix seconds) says."""

    __slots__ = ("_clock", "token")

    def __init__(self, token: AccessToken, clock: Callable[[], float]) -> None:
        self.token = token
        self._clock = clock

    def expiring_soon(self) -> bool:
        """Within :data:`REFRESH_WINDOW` of expiry (or past it): time to refresh."""
        return self.token.expires_on - self._clock() <= REFRESH_WINDOW

    def is_valid(self) -> bool:
        """Not expired yet: still usable while another caller refreshes it."""
        return self._clock() < self.token.expires_on

    def accept(self, refreshed: Any) -> AccessToken:
        """Take the refresher's result as the current token; an already expired one is an ExpiredTokenError."""
        token = coerce_refreshed_token(refreshed)
        if token.expires_on <= self._clock():
            raise ExpiredTokenError("the token returned by token_refresher has already expired")
        self.token = token
        return token

    def next_refresh_delay(self, *, after_failure: bool = False) -> float:
        """Seconds until the background refresh should run.

        At the start of the refresh window; when already inside it (a short-lived token), halfway to expiry, as
        the Azure SDK does; :data:`FAILED_REFRESH_RETRY` after a failed attempt.
        """
        if after_failure:
            return FAILED_REFRESH_RETRY
        remaining = self.token.expires_on - self._clock()
        if remaining >= REFRESH_WINDOW:
            return max(remaining - REFRESH_WINDOW, MIN_REFRESH_DELAY)
        return max(remaining / 2, MIN_REFRESH_DELAY)

    def describe(self, name: str, proactive_refresh: bool) -> str:
        return f"<{name} expires_on={self.token.expires_on} proactive_refresh={proactive_refresh}>"
