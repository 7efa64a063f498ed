"""Inbound authentication, sans-IO: is the activity a bot received really from its channel, the Emulator or an
allowed calling bot?

The rules (``../shared/reference/auth/inbound-auth-spec.md`` section 1.8, the strictest common denominator of the
Microsoft SDKs and the service documentation):

1. ``Authorization: Bearer <jwt>`` (scheme case-insensitive, exactly one token, at most 16 KiB). No header is
   accepted only in development mode (no app id), as an anonymous identity.
2. The unverified header must name ``kid`` and ``alg`` in RS256/RS384/RS512 (never ``none`` or HMAC).
3. The unverified ``iss`` picks the path before any key is fetched: the cloud's channel issuer -> channel; an
   Emulator/skill issuer (or a configured tenant's) -> skill when the claims are a bot's call to another bot, else
   Emulator; anything else is refused.
4. The signature is checked with the ``kid``'s key from that path's key set; ``exp`` is required; ``exp``/``nbf``/
   ``iat`` are numbers and allow 5 minutes of skew; a ``crit`` header is refused (no extension is understood).
5. ``aud`` is a string and one of this bot's app ids (a list-valued ``aud`` is refused).
6. Channel: the ``serviceurl`` claim equals the activity's ``serviceUrl`` (case-insensitive, one trailing ``/``
   ignored) and the signing key's endorsements list the activity's ``channelId`` (a key without endorsements is
   refused on this path).
7. Emulator: ``ver`` 1.0 -> ``appid``, 2.0 -> ``azp``, which must be one of this bot's app ids.
8. Skill: as the Emulator, the caller must differ from ``aud`` and be in ``allowed_callers`` (``"*"``: any);
   no callers configured refuses every skill token.
9. An Entra issuer naming a tenant GUID requires a ``tid`` claim equal to it.
"""

from __future__ import annotations

import base64
import binascii
import collections
import contextlib
import json
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import attrs

from ..errors import AuthenticationError
from .auth import PUBLIC_CLOUD, CloudSettings
from .signing_keys import (
    DEFAULT_REFRESH_INTERVAL,
    DEFAULT_UNKNOWN_KEY_COOLDOWN,
    KeySource,
    SigningKey,
    load_jwt,
)

__all__ = ["ANONYMOUS_SKILL_APP_ID", "AuthenticatorCore", "ClaimsIdentity", "PendingToken", "repr_authenticator"]

#: the app id of the identity synthesised for an unauthenticated skill call from the Emulator
ANONYMOUS_SKILL_APP_ID = "AnonymousSkill"
CLOCK_SKEW_SECONDS = 300
MAX_AUTHORIZATION_LENGTH = 16 * 1024
ALLOWED_ALGORITHMS = frozenset({"RS256", "RS384", "RS512"})
#: verified tokens remembered (a channel reuses one token for an hour; a bot talks to a few channels)
_VERIFIED_CACHE_SIZE = 1024
_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_RULES = {
    "expired": "the token has expired (exp is more than 5 minutes in the past)",
    "immature": "the token is not valid yet (nbf or iat is more than 5 minutes in the future)",
    "no_exp": "the token has no exp claim",
    "signature": "the token's signature does not verify with the key its kid names",
}


def _frozen_claims(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(value))


@attrs.frozen
class ClaimsIdentity:
    """Who sent an inbound activity, as established by :class:`BotAuthenticator`.

    ``app_id`` is this bot's app id the token was issued for; ``caller_app_id`` the app id of the calling bot (skill
    calls and Emulator tokens); ``caller_id`` the value the Bot Framework writes into ``activity.callerId``
    (``urn:botframework:azure``, ``urn:botframework:azureusgov``, ``urn:botframework:aadappid:<caller>``, or None
    in development mode); ``oauth_scope`` the audience this bot's replies must carry a token for (the channel's
    ``https://api.botframework.com``, or the calling bot's app id: request ``f"{oauth_scope}/.default"``), None
    when the request was anonymous.
    """

    claims: Mapping[str, Any] = attrs.field(converter=_frozen_claims, factory=dict)
    app_id: str | None = None
    caller_app_id: str | None = None
    is_skill: bool = False
    is_anonymous: bool = False
    caller_id: str | None = None
    oauth_scope: str | None = None
    #: which validator accepted the token: ``channel``, ``emulator``, ``skill`` or ``anonymous``
    source: str = "anonymous"


@attrs.frozen
class _ActivityFacts:
    channel_id: str | None
    service_url: str | None
    recipient_role: str | None


@attrs.frozen
class _VerifiedToken:
    algorithm: str
    kid: str
    issuer: str
    claims: Mapping[str, Any]
    key: SigningKey


@attrs.frozen
class PendingToken:
    """A token that passed every check possible without its signing key; the façade fetches the key."""

    token: str
    algorithm: str
    kid: str
    issuer: str
    #: the payload as decoded for routing: trusted only once the signature over it verifies
    claims: Mapping[str, Any]
    source: KeySource
    path: str
    activity: _ActivityFacts


def _refuse(rule: str) -> AuthenticationError:
    return AuthenticationError(f"unauthorized: {rule}")


def _app_ids(app_id: str | Sequence[str] | None) -> tuple[str, ...]:
    if app_id is None:
        return ()
    values: Sequence[Any] = (app_id,) if isinstance(app_id, str) else app_id
    if isinstance(app_id, bytes | bytearray) or not isinstance(values, Sequence):
        raise TypeError(f"app_id must be a str, a sequence of str or None, not {type(app_id).__name__}")
    ids: list[str] = []
    for value in values:
        if not isinstance(value, str):
            raise TypeError(f"app_id must be a str, a sequence of str or None, got an item {value!r}")
        if not value.strip():
            raise ValueError("app_id must not be empty (pass None for development mode without an app id)")
        ids.append(value.strip())
    if not ids:
        raise ValueError("app_id must name at least one app id (pass None for development mode)")
    return tuple(ids)


def _callers(allowed_callers: Sequence[str]) -> frozenset[str]:
    if isinstance(allowed_callers, str | bytes) or not isinstance(allowed_callers, Sequence | frozenset | set):
        raise TypeError("allowed_callers must be a sequence of app ids (or ['*']), not a single string")
    callers: set[str] = set()
    for caller in allowed_callers:
        if not isinstance(caller, str) or not caller.strip():
            raise ValueError(f"allowed_callers holds an empty or non-str app id: {caller!r}")
        callers.add(caller.strip().casefold())
    return frozenset(callers)


def _activity_facts(activity: Any) -> _ActivityFacts:
    from ..models import Activity

    if isinstance(activity, Activity):
        role = activity.recipient.role if activity.recipient is not None else None
        return _ActivityFacts(activity.channel_id, activity.service_url, str(role) if role is not None else None)
    if isinstance(activity, Mapping):
        recipient = activity.get("recipient")
        role = recipient.get("role") if isinstance(recipient, Mapping) else None
        channel_id = activity.get("channelId")
        service_url = activity.get("serviceUrl")
        return _ActivityFacts(
            channel_id if isinstance(channel_id, str) else None,
            service_url if isinstance(service_url, str) else None,
            role if isinstance(role, str) else None,
        )
    raise TypeError(f"activity must be an Activity or its wire dict, not {type(activity).__name__}")


def _b64_json(segment: str, what: str) -> dict[str, Any]:
    if not _SEGMENT.fullmatch(segment) or len(segment) % 4 == 1:
        raise _refuse(f"the token's {what} is not base64url")
    try:
        data = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (binascii.Error, ValueError, RecursionError) as exc:
        raise _refuse(f"the token's {what} is not base64url-encoded JSON") from exc
    if not isinstance(data, dict):
        raise _refuse(f"the token's {what} is not a JSON object")
    return data


def _bearer_token(authorization: Any) -> str | None:
    if authorization is None:
        return None
    if isinstance(authorization, bytes | bytearray):
        try:
            authorization = bytes(authorization).decode("ascii")
        except UnicodeDecodeError:
            raise _refuse("the Authorization header is not ASCII") from None
    if not isinstance(authorization, str):
        raise TypeError(f"authorization must be the header's str value or None, not {type(authorization).__name__}")
    value = authorization.strip(" \t")
    if not value:
        return None
    if len(value) > MAX_AUTHORIZATION_LENGTH:
        raise _refuse(f"the Authorization header is longer than {MAX_AUTHORIZATION_LENGTH} characters")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer":
        raise _refuse("the Authorization header is not a Bearer token")
    if not token or any(c in token for c in " \t\r\n,"):
        raise _refuse("the Authorization header must hold exactly one Bearer token")
    return token


def _parse_token(token: str) -> tuple[str, str, str, dict[str, Any]]:
    """(alg, kid, iss, unverified claims) of a compact JWS, checked for shape only: the routing information."""
    segments = token.split(".")
    if len(segments) != 3 or not segments[2]:
        raise _refuse("the token is not a signed JWT (three non-empty segments)")
    header = _b64_json(segments[0], "header")
    claims = _b64_json(segments[1], "payload")
    if not _SEGMENT.fullmatch(segments[2]):
        raise _refuse("the token's signature is not base64url")
    algorithm = header.get("alg")
    if not isinstance(algorithm, str) or algorithm not in ALLOWED_ALGORITHMS:  # a list or object is unhashable
        raise _refuse("the token's alg is not RS256, RS384 or RS512")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise _refuse("the token's header has no kid")
    if "crit" in header:  # no JWS extension is understood, so none may be critical (RFC 7515 4.1.11)
        raise _refuse("the token's header names critical extensions (crit)")
    issuer = claims.get("iss")
    if not isinstance(issuer, str):
        raise _refuse("the token has no iss claim")
    return algorithm, kid, issuer, claims


def _check_lifetime(claims: Mapping[str, Any]) -> None:
    """``exp``, ``nbf`` and ``iat`` against now with 5 minutes of skew (their types were checked on verification)."""
    now = time.time()
    if claims["exp"] <= now - CLOCK_SKEW_SECONDS:
        raise _refuse(_RULES["expired"])
    for name in ("nbf", "iat"):
        value = claims.get(name)
        if value is not None and value > now + CLOCK_SKEW_SECONDS:
            raise _refuse(_RULES["immature"])


def _is_numeric_date(value: Any) -> bool:
    """A JSON number of seconds: an int of any size (``math.isfinite`` overflows on one beyond a float's range; an
    int compares exactly with ``time.time()``) or a finite float; never a bool."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def _normalized_url(url: str) -> str:
    return url.removesuffix("/").casefold()


def _is_skill_claims(claims: Mapping[str, Any], channel_audience: str) -> bool:
    """A bot's token for another bot (bbpy ``SkillValidation.is_skill_claim``): the caller is not the audience."""
    if claims.get("appid") == ANONYMOUS_SKILL_APP_ID:
        return True
    audience = claims.get("aud")
    if not claims.get("ver") or not isinstance(audience, str) or not audience:
        return False
    if audience.casefold() == channel_audience.casefold():
        return False
    caller = _caller_app_id(claims)
    return caller is not None and caller.casefold() != audience.casefold()


def _caller_app_id(claims: Mapping[str, Any]) -> str | None:
    version = claims.get("ver")
    if version is None or version == "1.0":
        caller = claims.get("appid")
    elif version == "2.0":
        caller = claims.get("azp")
    else:
        return None
    return caller if isinstance(caller, str) and caller else None


class AuthenticatorCore:
    """Every decision of :class:`BotAuthenticator`; the façades add only fetching keys and locking."""

    def __init__(
        self,
        app_id: str | Sequence[str] | None,
        *,
        cloud: CloudSettings = PUBLIC_CLOUD,
        tenant_id: str | None = None,
        allowed_callers: Sequence[str] = (),
        allow_emulator: bool = True,
        refresh_interval: float = DEFAULT_REFRESH_INTERVAL,
        unknown_key_cooldown: float = DEFAULT_UNKNOWN_KEY_COOLDOWN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not isinstance(cloud, CloudSettings):
            raise TypeError(f"cloud must be a CloudSettings, not {type(cloud).__name__}")
        if tenant_id is not None and (not isinstance(tenant_id, str) or not tenant_id.strip()):
            raise ValueError("tenant_id must be a non-empty str or None")
        if not isinstance(allow_emulator, bool):
            raise TypeError("allow_emulator must be a bool")
        for name, value in (("refresh_interval", refresh_interval), ("unknown_key_cooldown", unknown_key_cooldown)):
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{name} must be a non-negative number of seconds")
        load_jwt()  # fail at construction, with the extra named, not on the first request
        self.app_ids = _app_ids(app_id)
        self._app_ids_folded = {a.casefold(): a for a in self.app_ids}
        self.cloud = cloud
        self.tenant_id = tenant_id.strip() if tenant_id else None
        self.allowed_callers = _callers(allowed_callers)
        self.allow_emulator = allow_emulator
        entra_issuers = list(cloud.emulator_token_issuers)
        if self.tenant_id:
            entra_issuers += [form.replace("{tenant}", self.tenant_id) for form in cloud.tenant_token_issuers]
        self.entra_issuers = frozenset(entra_issuers)
        options = {"refresh_interval": refresh_interval, "unknown_key_cooldown": unknown_key_cooldown, "clock": clock}
        self.channel_keys = KeySource(cloud.channel_openid_metadata_url, **options)  # type: ignore[arg-type]
        self.entra_keys = KeySource(cloud.emulator_openid_metadata_url, **options)  # type: ignore[arg-type]
        # OrderedDict: evicting the oldest entry of a plain dict rescans its deleted slots every time
        self._verified: collections.OrderedDict[str, _VerifiedToken] = collections.OrderedDict()

    @property
    def development_mode(self) -> bool:
        return not self.app_ids

    # -- before the key --------------------------------------------------------------------------------------

    def begin(self, activity: Any, authorization: Any) -> ClaimsIdentity | PendingToken:
        """Everything checked without a key: an anonymous identity, or the token waiting for its signing key."""
        facts = _activity_facts(activity)
        token = _bearer_token(authorization)
        if token is None:
            if not self.development_mode:
                raise _refuse("no Authorization header (required: the bot has an app id)")
            if facts.channel_id == "emulator" and facts.recipient_role == "skill":
                return ClaimsIdentity(
                    {"appid": ANONYMOUS_SKILL_APP_ID},
                    caller_app_id=ANONYMOUS_SKILL_APP_ID,
                    is_skill=True,
                    is_anonymous=True,
                    source="anonymous",
                )
            return ClaimsIdentity({}, is_anonymous=True, source="anonymous")
        if self.development_mode:
            raise _refuse("a token was sent but the bot has no app id its audience could match")
        cached = self._verified.get(token)
        if cached is not None:
            algorithm, kid, issuer, claims = cached.algorithm, cached.kid, cached.issuer, cached.claims
        else:
            algorithm, kid, issuer, claims = _parse_token(token)
        if issuer == self.cloud.channel_token_issuer:
            return PendingToken(token, algorithm, kid, issuer, claims, self.channel_keys, "channel", facts)
        if issuer not in self.entra_issuers:
            raise _refuse("the token's issuer is not trusted")
        if _is_skill_claims(claims, self.cloud.channel_audience):
            if not self.allowed_callers:
                raise _refuse("a skill (bot-to-bot) token, but no allowed_callers are configured")
            return PendingToken(token, algorithm, kid, issuer, claims, self.entra_keys, "skill", facts)
        if not self.allow_emulator:
            raise _refuse("an Emulator token, and allow_emulator is False")
        return PendingToken(token, algorithm, kid, issuer, claims, self.entra_keys, "emulator", facts)

    # -- with the key ----------------------------------------------------------------------------------------

    def _verified_or_cached(self, pending: PendingToken, key: SigningKey) -> Mapping[str, Any]:
        """The verified claims: PyJWT's verdict, reused while the same key still signs for the same token.

        Channels send one token with every activity for the token's lifetime (about an hour), so most requests
        carry a token already verified; only its lifetime is checked again, and a key rotated out of the key set
        is a different ``SigningKey`` object, so its tokens are verified anew (and fail).
        """
        cached = self._verified.get(pending.token)
        if cached is not None and cached.key is key:
            _check_lifetime(cached.claims)
            return cached.claims
        claims = self._verified_claims(pending, key)
        if len(self._verified) >= _VERIFIED_CACHE_SIZE:
            with contextlib.suppress(KeyError):  # another thread may have evicted it first
                self._verified.popitem(last=False)
        self._verified[pending.token] = _VerifiedToken(pending.algorithm, pending.kid, pending.issuer, claims, key)
        return claims

    def finish(self, pending: PendingToken, key: SigningKey | None) -> ClaimsIdentity:
        """Verify the signature and the claims of ``pending`` with ``key`` (None: no key has the token's kid)."""
        if key is None:
            raise _refuse("no signing key has the token's kid (after a refresh of the key set)")
        key_alg = key.jwk.get("alg")
        if key_alg is not None and key_alg != pending.algorithm:
            raise _refuse("the token's alg does not match its signing key")
        claims = self._verified_or_cached(pending, key)
        if claims.get("iss") != pending.issuer:  # pragma: no cover - PyJWT decodes the bytes that were routed
            raise _refuse("the token's issuer is not trusted")
        audience = claims.get("aud")
        if not isinstance(audience, str):
            raise _refuse("the token's aud is missing or not a single string")
        own_app_id = self._app_ids_folded.get(audience.casefold())
        if own_app_id is None:
            raise _refuse("the token's aud is not this bot's app id")
        if pending.path == "channel":
            return self._channel_identity(pending, key, claims, own_app_id)
        self._check_tenant(claims)
        caller = _caller_app_id(claims)
        if claims.get("ver") not in ("1.0", "2.0"):
            raise _refuse("the token's ver claim must be 1.0 or 2.0")
        if caller is None:
            raise _refuse("the token has no appid (ver 1.0) or azp (ver 2.0) claim")
        if pending.path == "skill":
            return self._skill_identity(claims, own_app_id, caller)
        if caller.casefold() not in self._app_ids_folded:
            raise _refuse("the Emulator token's appid/azp is not this bot's app id")
        return ClaimsIdentity(
            claims,
            app_id=own_app_id,
            caller_app_id=caller,
            caller_id=self.cloud.caller_id,
            oauth_scope=self.cloud.channel_audience,
            source="emulator",
        )

    def _verified_claims(self, pending: PendingToken, key: SigningKey) -> Mapping[str, Any]:
        """The payload, once the RS256/384/512 signature over the token's first two segments verifies with ``key``.

        PyJWT parses the key and computes the signature check (``PyJWK.Algorithm.verify``, PKCS#1 v1.5); the
        compact serialization was parsed strictly by :func:`_parse_token`, so it is not parsed a second time.
        """
        try:
            verifier = key.verifier(pending.algorithm)
            header_b64, payload_b64, signature_b64 = pending.token.split(".")
            signature = base64.urlsafe_b64decode(signature_b64 + "=" * (-len(signature_b64) % 4))
            signed = f"{header_b64}.{payload_b64}".encode("ascii")
            valid = verifier.Algorithm.verify(signed, verifier.key, signature)
        except Exception:
            raise _refuse("the token could not be verified with the key its kid names") from None
        if not valid:
            raise _refuse(_RULES["signature"])
        claims = pending.claims
        if "exp" not in claims:
            raise _refuse(_RULES["no_exp"])
        for name in ("exp", "nbf", "iat"):
            if name in claims and not _is_numeric_date(claims[name]):  # null included: present means a number
                raise _refuse(f"the token's {name} claim is not a number of seconds")
        _check_lifetime(claims)
        return claims

    def _channel_identity(
        self, pending: PendingToken, key: SigningKey, claims: Mapping[str, Any], own_app_id: str
    ) -> ClaimsIdentity:
        service_url_claim = claims.get("serviceurl")
        if not isinstance(service_url_claim, str) or not service_url_claim:
            raise _refuse("the channel token has no serviceurl claim")
        activity_url = pending.activity.service_url
        if not activity_url:
            raise _refuse("the activity has no serviceUrl to compare with the token's")
        if _normalized_url(service_url_claim) != _normalized_url(activity_url):
            raise _refuse("the token's serviceurl does not match the activity's serviceUrl")
        if not key.endorsements:
            raise _refuse("the signing key has no endorsements (required for channel tokens)")
        channel_id = pending.activity.channel_id
        if not channel_id:
            raise _refuse("the activity has no channelId to check against the key's endorsements")
        if channel_id not in key.endorsements:
            raise _refuse("the signing key is not endorsed for the activity's channelId")
        return ClaimsIdentity(
            claims,
            app_id=own_app_id,
            caller_id=self.cloud.caller_id,
            oauth_scope=self.cloud.channel_audience,
            source="channel",
        )

    def _skill_identity(self, claims: Mapping[str, Any], own_app_id: str, caller: str) -> ClaimsIdentity:
        if caller == ANONYMOUS_SKILL_APP_ID:
            raise _refuse("AnonymousSkill is not a caller a token can name")
        if caller.casefold() == own_app_id.casefold():
            raise _refuse("a skill token's caller is the bot itself")  # pragma: no cover - routed as Emulator
        if "*" not in self.allowed_callers and caller.casefold() not in self.allowed_callers:
            raise _refuse("the calling bot is not in allowed_callers")
        return ClaimsIdentity(
            claims,
            app_id=own_app_id,
            caller_app_id=caller,
            is_skill=True,
            caller_id=f"urn:botframework:aadappid:{caller}",
            oauth_scope=caller,
            source="skill",
        )

    def _check_tenant(self, claims: Mapping[str, Any]) -> None:
        """An issuer naming a tenant must come with the same ``tid`` (the cross-tenant bypass of Agents#626)."""
        issuer = claims.get("iss")
        match = _GUID.search(issuer) if isinstance(issuer, str) else None
        if match is None:
            return
        tid = claims.get("tid")
        if not isinstance(tid, str) or tid.casefold() != match.group(0).casefold():
            raise _refuse("the token's tid does not match the tenant in its issuer")


def repr_authenticator(core: AuthenticatorCore) -> str:
    return (
        f"BotAuthenticator(app_id={list(core.app_ids)!r}, allowed_callers={sorted(core.allowed_callers)!r}, "
        f"allow_emulator={core.allow_emulator})"
    )
