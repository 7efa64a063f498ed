"""The keys inbound tokens are signed with, sans-IO: an OpenID metadata document names a JWKS; both are fetched
through the client pipeline, cached, refreshed on a schedule and once more (after a cooldown) for an unknown ``kid``.

The façades drive :meth:`KeySource.refresh_flow` with their own pipeline and lock; every decision is made here.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Generator, Mapping
from typing import Any

import httpx

from ..errors import AuthenticationUnavailableError, BotConnectError, DeserializationError
from .operation import Operation
from .pipeline import CallConfig, make_timeout
from .responses import parse_json
from .retry import RetryPolicy
from .security import is_loopback

__all__ = ["KeySource", "SigningKey", "key_fetch_config", "load_jwt", "require_https_or_loopback"]

logger = logging.getLogger("botconnect.auth")

#: a metadata document or key set larger than this is refused (the Bot Framework key set is ~10 KiB)
MAX_DOCUMENT_BYTES = 512 * 1024
#: how often a key set is re-fetched even when every kid is known (the service asks for at least daily)
DEFAULT_REFRESH_INTERVAL = 12 * 3600.0
#: after a fetch, a token with an unknown kid triggers another fetch only once this long has passed
DEFAULT_UNKNOWN_KEY_COOLDOWN = 300.0
#: after a failed scheduled refresh with keys still cached, wait this long before trying again
RETRY_AFTER_FAILED_REFRESH = 30.0
_SIGNING_ALGORITHMS = ("RS256", "RS384", "RS512")


def load_jwt() -> Any:
    """The PyJWT module, or an ImportError that names the extra to install."""
    try:
        import jwt
        from jwt.algorithms import has_crypto
    except ImportError as exc:  # pragma: no cover - exercised by the packaging test in a venv without the extra
        raise ImportError(
            "validating inbound tokens needs PyJWT with cryptography: pip install 'botconnect[auth]'"
        ) from exc
    if not has_crypto:  # pragma: no cover - same
        raise ImportError("PyJWT is installed without cryptography: pip install 'botconnect[auth]'")
    return jwt


def key_fetch_config(timeout: float | httpx.Timeout | None) -> CallConfig:
    """How metadata and keys are fetched: one quick retry (a channel retries a delivery it had refused itself)."""
    retry = RetryPolicy(max_attempts=2, backoff_factor=0.2, max_backoff=1.0, max_retry_after=2.0, deadline=30.0)
    return CallConfig(timeout=make_timeout(timeout if timeout is not None else 10.0), retry_policy=retry)


def require_https_or_loopback(url: str, what: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise ValueError(f"{what} is not a valid URL: {url!r}") from exc
    if parsed.scheme == "https" and parsed.host:
        return parsed
    if parsed.scheme == "http" and is_loopback(parsed.host):
        return parsed
    raise ValueError(f"{what} must be an https URL (plain http is allowed for loopback only): {url!r}")


class SigningKey:
    """One RSA key of a key set, its ``endorsements`` (the channels it may sign for) and its parsed verifiers."""

    __slots__ = ("_verifiers", "endorsements", "jwk", "kid")

    def __init__(self, kid: str, jwk: Mapping[str, Any], endorsements: tuple[str, ...] | None) -> None:
        self.kid = kid
        self.jwk = jwk
        #: None: the key carries no ``endorsements`` member (Entra ID keys)
        self.endorsements = endorsements
        self._verifiers: dict[str, Any] = {}

    def verifier(self, algorithm: str) -> Any:
        """A PyJWK bound to ``algorithm`` (PyJWT refuses a token whose ``alg`` differs from the key's)."""
        verifier = self._verifiers.get(algorithm)
        if verifier is None:
            verifier = load_jwt().PyJWK(dict(self.jwk), algorithm=algorithm)
            self._verifiers[algorithm] = verifier
        return verifier

    def __repr__(self) -> str:
        return f"SigningKey(kid={self.kid!r}, endorsements={self.endorsements!r})"


def _parse_signing_key(data: Any) -> SigningKey | None:
    """A usable RSA signature key from one JWK, or None (other key types and malformed entries are skipped)."""
    if not isinstance(data, dict):
        return None
    kid = data.get("kid")
    if data.get("kty") != "RSA" or not isinstance(kid, str) or not kid:
        return None
    if data.get("use", "sig") != "sig":
        return None
    alg = data.get("alg")
    if alg is not None and alg not in _SIGNING_ALGORITHMS:
        return None
    raw_endorsements = data.get("endorsements")
    endorsements: tuple[str, ...] | None = None
    if raw_endorsements is not None:
        if not isinstance(raw_endorsements, list) or not all(isinstance(e, str) for e in raw_endorsements):
            return None
        endorsements = tuple(raw_endorsements)
    key = SigningKey(kid, data, endorsements)
    try:
        key.verifier(alg or "RS256")  # parse once now: a broken key is skipped, not found broken per request
    except Exception:
        return None
    return key


class KeySource:
    """The cached key set behind one OpenID metadata URL.

    ``clock`` is monotonic seconds. State changes only through :meth:`refresh_flow`.
    """

    def __init__(
        self,
        metadata_url: str,
        *,
        refresh_interval: float = DEFAULT_REFRESH_INTERVAL,
        unknown_key_cooldown: float = DEFAULT_UNKNOWN_KEY_COOLDOWN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.metadata_url = require_https_or_loopback(metadata_url, "the OpenID metadata URL")
        self.refresh_interval = refresh_interval
        self.unknown_key_cooldown = unknown_key_cooldown
        self._clock = clock
        self.keys: dict[str, SigningKey] = {}
        #: fetches finished (successful or not): a waiter that sees it change shares that fetch's outcome
        self.attempts = 0
        self.last_error: BotConnectError | None = None
        self._last_attempt = -math.inf
        self._next_refresh = -math.inf

    def needs_fetch(self, kid: str) -> bool:
        now = self._clock()
        if not self.keys or now >= self._next_refresh:
            return True
        return kid not in self.keys and now - self._last_attempt >= self.unknown_key_cooldown

    def key(self, kid: str) -> SigningKey | None:
        return self.keys.get(kid)

    def unavailable(self) -> AuthenticationUnavailableError:
        reason = f": {self.last_error.message}" if self.last_error is not None else ""
        return AuthenticationUnavailableError(
            f"the signing keys behind {self.metadata_url} could not be fetched and none are cached{reason}"
        )

    def refresh_flow(self) -> Generator[Operation[Any], Any, None]:
        """Fetch the metadata, then its key set; yields operations, receives their parsed results.

        A failure is thrown into the flow by the driver; the flow records it and raises
        :class:`AuthenticationUnavailableError` (the driver keeps serving cached keys when there are some).
        """
        try:
            jwks_uri = yield self._metadata_operation()
            keys = yield self._keys_operation(jwks_uri)
        except BotConnectError as exc:
            self._finish(exc)
            raise self.unavailable() from exc
        self.keys = keys
        self._finish(None)

    def _finish(self, error: BotConnectError | None) -> None:
        now = self._clock()
        self.attempts += 1
        self._last_attempt = now
        self.last_error = error
        if error is None:
            self._next_refresh = now + self.refresh_interval
        else:
            self._next_refresh = now + RETRY_AFTER_FAILED_REFRESH
            if self.keys:
                logger.warning(
                    "refreshing the signing keys behind %s failed (%s); still using the %d cached keys",
                    self.metadata_url,
                    error.message,
                    len(self.keys),
                )

    def _get(self, url: httpx.URL, parse: Callable[[httpx.Response], Any]) -> Operation[Any]:
        request = httpx.Request("GET", url, headers={"Accept": "application/json"})
        return Operation(request=request, parse=parse, idempotent=True, authenticate=False)

    def _metadata_operation(self) -> Operation[httpx.URL]:
        def parse(response: httpx.Response) -> httpx.URL:
            data = _bounded_json(response, "OpenID metadata")
            jwks_uri = data.get("jwks_uri") if isinstance(data, dict) else None
            if not isinstance(jwks_uri, str):
                raise DeserializationError("the OpenID metadata has no jwks_uri", response=response)
            try:
                return require_https_or_loopback(jwks_uri, "the metadata's jwks_uri")
            except ValueError as exc:
                raise DeserializationError(str(exc), response=response) from exc

        return self._get(self.metadata_url, parse)

    def _keys_operation(self, jwks_uri: httpx.URL) -> Operation[dict[str, SigningKey]]:
        def parse(response: httpx.Response) -> dict[str, SigningKey]:
            data = _bounded_json(response, "key set")
            entries = data.get("keys") if isinstance(data, dict) else None
            if not isinstance(entries, list):
                raise DeserializationError("the key set has no keys array", response=response)
            keys: dict[str, SigningKey] = {}
            for entry in entries:
                key = _parse_signing_key(entry)
                if key is not None and key.kid not in keys:
                    keys[key.kid] = key
            if not keys:
                raise DeserializationError("the key set holds no usable RSA signing key", response=response)
            return keys

        return self._get(jwks_uri, parse)


def _bounded_json(response: httpx.Response, what: str) -> Any:
    if len(response.content) > MAX_DOCUMENT_BYTES:
        raise DeserializationError(f"the {what} is larger than {MAX_DOCUMENT_BYTES} bytes", response=response)
    return parse_json(response)
