"""Retry decisions as a pure function: the pipelines differ only in how they sleep."""

from __future__ import annotations

import email.utils
import math
import random
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import attrs

__all__ = ["NO_RETRIES", "RetryPolicy", "parse_retry_after"]

#: statuses that mean "the server did not act on this request": retried even for a non-idempotent POST
_NOT_ACTED = frozenset({429})


def parse_retry_after(headers: Mapping[str, str], *, now: Callable[[], datetime] | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` / ``x-ms-retry-after-ms`` / ``Retry-After`` (seconds or HTTP date)."""
    for name in ("retry-after-ms", "x-ms-retry-after-ms"):
        raw = headers.get(name)
        if raw:
            try:
                millis = float(raw)
            except ValueError:
                continue
            if math.isfinite(millis) and millis >= 0:
                return millis / 1000.0
    raw = headers.get("retry-after")
    if not raw:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now() if now is not None else datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())


@attrs.frozen
class RetryPolicy:
    """When and how long to wait before trying a call again.

    A non-idempotent call (sending a message) is retried only when the server certainly did not act on it:
    the connection was never made, 429, or 503 with ``Retry-After``. Idempotent calls (GET/PUT/DELETE, or a
    POST whose idempotency key is reused on every attempt) are also retried on 408/500/502/504 and on
    connections dropped mid-response.
    """

    max_attempts: int = 4
    backoff_factor: float = 0.5
    max_backoff: float = 20.0
    #: a Retry-After longer than this is not waited out: the error is raised with ``retry_after`` set
    max_retry_after: float = 60.0
    #: overall budget in seconds across all attempts and waits (None: bounded by attempts only)
    deadline: float | None = 120.0
    retry_statuses: frozenset[int] = frozenset({408, 429, 500, 502, 503, 504})

    def __attrs_post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.backoff_factor < 0 or self.max_backoff < 0:
            raise ValueError("backoff values must not be negative")

    def backoff(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Full-jitter exponential backoff for the wait after attempt number ``attempt`` (1-based)."""
        ceiling = min(self.max_backoff, self.backoff_factor * 2.0 ** (attempt - 1))
        return float(ceiling * rand())

    def decide_status(
        self,
        *,
        attempt: int,
        status_code: int,
        retry_after: float | None,
        idempotent: bool,
        elapsed: float,
        rand: Callable[[], float] = random.random,
    ) -> float | None:
        """Seconds to wait before retrying after an error status, or None to give up."""
        if attempt >= self.max_attempts or status_code not in self.retry_statuses:
            return None
        server_did_not_act = status_code in _NOT_ACTED or (status_code == 503 and retry_after is not None)
        if not (idempotent or server_did_not_act):
            return None
        if retry_after is not None:
            if retry_after > self.max_retry_after:
                return None
            delay = retry_after
        else:
            delay = self.backoff(attempt, rand)
        return self._within_deadline(delay, elapsed)

    def decide_transport_error(
        self,
        *,
        attempt: int,
        connected: bool,
        idempotent: bool,
        elapsed: float,
        rand: Callable[[], float] = random.random,
    ) -> float | None:
        """Seconds to wait before retrying after a transport failure, or None to give up.

        ``connected`` is False when the connection was never established (so nothing reached the server).
        """
        if attempt >= self.max_attempts or (connected and not idempotent):
            return None
        return self._within_deadline(self.backoff(attempt, rand), elapsed)

    def _within_deadline(self, delay: float, elapsed: float) -> float | None:
        if self.deadline is not None and elapsed + delay >= self.deadline:
            return None
        return delay


#: a policy that never retries
NO_RETRIES = RetryPolicy(max_attempts=1)
