"""The emulator's signing keys, the tokens signed with them, and the documents that publish them.

Two key sets, as in the real clouds: the Bot Connector's (``GET /v1/.well-known/openidconfiguration`` names
``/v1/.well-known/keys``; each key lists the channels it is ``endorsements`` for), which signs the channel token of
every delivery to a bot once the emulator has an app id; and an Entra ID-like one
(``GET /{tenant}/v2.0/.well-known/openid-configuration`` names ``/{tenant}/discovery/v2.0/keys``, no
endorsements), which signs the access tokens of ``POST /{tenant}/oauth2/v2.0/token``: the Connector endpoints'
tokens, and bot-to-bot (skill) tokens.

Keys are RSA-2048, made in memory when first needed (an emulator that never signs makes none) and written nowhere
but to the state file of ``Emulator(state_file=...)`` (so a bot's cached key set stays valid across a restart).
:meth:`SigningService.rotate` signs with new keys from then on and keeps publishing the previous ones, as the
service does while it rolls keys over. :attr:`SigningService.cloud` is the ``CloudSettings`` a bot's
``BotAuthenticator`` needs to trust exactly this emulator.
"""

from __future__ import annotations

import collections
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import attrs
import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)
from jwt.algorithms import RSAAlgorithm
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from botconnect._core.auth import PUBLIC_CLOUD, CloudSettings

from .faults import Faults

__all__ = [
    "CHANNEL_ENDORSEMENTS",
    "CHANNEL_ISSUER",
    "CONNECTOR_AUDIENCE",
    "EMULATOR_TENANT_ID",
    "KeyPair",
    "KeySet",
    "SigningService",
    "cloud_code",
]

#: the ``iss`` of channel tokens (the public cloud's Bot Connector service)
CHANNEL_ISSUER = PUBLIC_CLOUD.channel_token_issuer
#: the audience of a bot's tokens for the Connector endpoints (``https://api.botframework.com/.default``)
CONNECTOR_AUDIENCE = PUBLIC_CLOUD.channel_audience
#: the emulator's Entra tenant: not a real tenant, the same for every emulator
EMULATOR_TENANT_ID = "e1a7c0de-5eed-4b07-9c0d-3e1ec7ab1e00"
#: the channels the channel key is endorsed for: every channel id the emulator uses, and the common real ones
CHANNEL_ENDORSEMENTS = (
    "directline",
    "webchat",
    "msteams",
    "emulator",
    "slack",
    "skype",
    "facebook",
    "telegram",
    "email",
    "sms",
    "test",
)
#: the endorsements of the published key the ``missing_endorsement`` fault signs with: no channel the emulator uses
UNENDORSED = ("botconnect-emulator-no-channel",)
#: the ``aud`` of the ``wrong_audience`` fault's tokens
WRONG_AUDIENCE = "00000000-0000-0000-0000-0000000000a0"
CHANNEL_TOKEN_LIFETIME = 3600
#: how many rotated-out keys each key set keeps publishing
KEEP_PUBLISHED = 4
#: nbf sits this far before iat, like the service's tokens, so a bot's clock slightly behind still accepts them
_NOT_BEFORE_SLACK = 5
_SKEW = 300


def _private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class KeyPair:
    """One RSA signing key: its ``kid``, the channels it is endorsed for (None: an Entra key) and its JWK."""

    __slots__ = ("_private", "endorsements", "kid")

    def __init__(self, endorsements: tuple[str, ...] | None = None) -> None:
        self._private = _private_key()
        self.kid = secrets.token_urlsafe(16)
        self.endorsements = endorsements

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self._private.public_key()

    def jwk(self) -> dict[str, Any]:
        """The public JWK as a key set publishes it (no ``alg``, like the service's keys)."""
        data = RSAAlgorithm.to_jwk(self.public_key, as_dict=True)
        data.update(kid=self.kid, use="sig")
        if self.endorsements is not None:
            data["endorsements"] = list(self.endorsements)
        return data

    def sign(self, claims: Mapping[str, Any], *, kid: str | None = None) -> str:
        """An RS256 JWT of ``claims`` with this key, its header naming ``kid`` (default: this key's)."""
        return jwt.encode(dict(claims), self._private, algorithm="RS256", headers={"kid": kid or self.kid})

    def __repr__(self) -> str:
        return f"KeyPair(kid={self.kid!r}, endorsements={self.endorsements!r})"

    def private_pem(self) -> bytes:
        """The private key as unencrypted PKCS#8 PEM (for ``Emulator(state_file=...)``, which keeps its keys)."""
        return self._private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())

    @classmethod
    def restore(cls, pem: bytes, kid: str, endorsements: tuple[str, ...] | None) -> KeyPair:
        """The key :meth:`private_pem` wrote, with its kid and endorsements (ValueError if it is no RSA key)."""
        private = load_pem_private_key(pem, password=None)
        if not isinstance(private, rsa.RSAPrivateKey):
            raise ValueError("not an RSA private key")
        key = cls.__new__(cls)
        key._private, key.kid, key.endorsements = private, kid, endorsements
        return key


class KeySet:
    """A published key set: the key that signs now, the rotated-out ones still published, and optionally a
    published key endorsed for no channel the emulator uses. Safe to use from any thread."""

    def __init__(self, endorsements: tuple[str, ...] | None, *, unendorsed: bool = False) -> None:
        self.endorsements = endorsements
        self._with_unendorsed = unendorsed
        self._lock = threading.Lock()
        self._keys: list[KeyPair] = []  # the current key first
        self._unendorsed: KeyPair | None = None

    def _ensure(self) -> list[KeyPair]:
        # both made at once: a key set never changes except by rotate(), so a bot's cached copy stays complete
        if not self._keys:
            self._keys = [KeyPair(self.endorsements)]
            if self._with_unendorsed:
                self._unendorsed = KeyPair(UNENDORSED)
        return self._keys

    @property
    def current(self) -> KeyPair:
        """The key that signs now."""
        with self._lock:
            return self._ensure()[0]

    @property
    def unendorsed(self) -> KeyPair:
        """The published key whose endorsements list none of the emulator's channels."""
        with self._lock:
            self._ensure()
            if self._unendorsed is None:
                raise RuntimeError("this key set has no unendorsed key")
            return self._unendorsed

    def published(self) -> list[KeyPair]:
        with self._lock:
            keys = list(self._ensure())
            return [*keys, self._unendorsed] if self._unendorsed is not None else keys

    def find(self, kid: str) -> KeyPair | None:
        return next((key for key in self.published() if key.kid == kid), None)

    def rotate(self) -> KeyPair:
        """Sign with a new key from now on; the previous ones stay published (the last :data:`KEEP_PUBLISHED`)."""
        key = KeyPair(self.endorsements)
        with self._lock:
            self._ensure()
            self._keys = [key, *self._keys[:KEEP_PUBLISHED]]
        return key

    def jwks(self) -> dict[str, Any]:
        return {"keys": [key.jwk() for key in self.published()]}

    def made(self) -> tuple[list[KeyPair], KeyPair | None]:
        """The keys made so far (the current one first) and the unendorsed one, without making any."""
        with self._lock:
            return list(self._keys), self._unendorsed

    def restore(self, keys: list[KeyPair], unendorsed: KeyPair | None) -> None:
        """Publish and sign with ``keys`` (the current one first), as :meth:`made` gave them."""
        with self._lock:
            self._keys, self._unendorsed = list(keys), unendorsed


class SigningService:
    """The keys, the tokens and the discovery routes of one emulator.

    ``app_id`` is the bot's app id deliveries are signed for (None: deliveries carry no token). ``base_url`` gives
    the emulator's current base URL (it is known once it serves). :attr:`hits` counts the requests of each
    discovery route: ``channel_metadata``, ``channel_keys``, ``entra_metadata``, ``entra_keys``.
    """

    def __init__(
        self,
        *,
        app_id: str | None,
        faults: Faults,
        base_url: Callable[[], str],
        channel_ids: tuple[str, ...] = (),
        tenant_id: str = EMULATOR_TENANT_ID,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app_id = app_id
        self.faults = faults
        self.tenant_id = tenant_id
        self.clock = clock
        self._base_url = base_url
        self.channel = KeySet(tuple(dict.fromkeys(CHANNEL_ENDORSEMENTS + channel_ids)), unendorsed=True)
        self.entra = KeySet(None)
        self._outsider: KeyPair | None = None
        self._lock = threading.Lock()
        self.hits: collections.Counter[str] = collections.Counter()

    # -- what a bot needs to trust it ----------------------------------------------------------------------

    @property
    def token_issuer(self) -> str:
        """The ``iss`` of the access tokens (Entra's v1.0 form)."""
        return f"https://sts.windows.net/{self.tenant_id}/"

    @property
    def token_issuers(self) -> tuple[str, str]:
        """The issuers a bot accepts from this emulator's tenant (v1.0 and v2.0 forms)."""
        return self.token_issuer, f"https://login.microsoftonline.com/{self.tenant_id}/v2.0"

    @property
    def channel_metadata_url(self) -> str:
        """The OpenID metadata URL of the channel's signing keys."""
        return self._base_url() + "/v1/.well-known/openidconfiguration"

    @property
    def entra_metadata_url(self) -> str:
        """The OpenID metadata URL of the Entra-like tenant's signing keys."""
        return f"{self._base_url()}/{self.tenant_id}/v2.0/.well-known/openid-configuration"

    @property
    def cloud(self) -> CloudSettings:
        """The public cloud with every endpoint and issuer pointing at this emulator."""
        base = self._base_url()
        host = httpx.URL(base).host
        hosts = tuple(dict.fromkeys((host, "127.0.0.1", "localhost", "::1", "*.localhost")))
        return attrs.evolve(
            PUBLIC_CLOUD,
            oauth_endpoint=base,
            tenant=self.tenant_id,
            trusted_hosts=hosts,
            channel_openid_metadata_url=self.channel_metadata_url,
            channel_token_issuer=CHANNEL_ISSUER,
            emulator_openid_metadata_url=self.entra_metadata_url,
            emulator_token_issuers=self.token_issuers,
            token_service_url=base,
        )

    def rotate(self) -> str:
        """Rotate both key sets (the old keys stay published); returns the new channel key's kid."""
        self.entra.rotate()
        return self.channel.rotate().kid

    def _outsider_key(self) -> KeyPair:
        with self._lock:
            if self._outsider is None:
                self._outsider = KeyPair()
            return self._outsider

    # -- tokens ----------------------------------------------------------------------------------------------

    def channel_token(self, activity: Mapping[str, Any]) -> str | None:
        """The token the channel sends with ``activity`` (None without an app id), with the token fault applied."""
        if self.app_id is None:
            return None
        fault = self.faults.token_fault()
        now = int(self.clock())
        claims: dict[str, Any] = {
            "iss": CHANNEL_ISSUER,
            "aud": self.app_id,
            "nbf": now - _NOT_BEFORE_SLACK,
            "exp": now + int(self.faults.lifetime(CHANNEL_TOKEN_LIFETIME)),
            "iat": now,
        }
        service_url = activity.get("serviceUrl")
        if isinstance(service_url, str):
            claims["serviceurl"] = service_url  # exactly as the activity carries it
        key = self.channel.current
        if fault == "expired":
            claims.update(nbf=now - 7200, iat=now - 7200, exp=now - 3600)
        elif fault == "wrong_audience":
            claims["aud"] = WRONG_AUDIENCE
        elif fault == "unknown_kid":
            key = self._outsider_key()
        elif fault == "missing_endorsement":
            key = self.channel.unendorsed
        return key.sign(claims)

    def access_token(self, *, audience: str, client_id: str, issued_at: float, lifetime: int) -> str:
        """An Entra v1.0-style access token for ``client_id`` to call ``audience``."""
        now = int(issued_at)
        claims = {
            "aud": audience,
            "iss": self.token_issuer,
            "iat": now,
            "nbf": now - _NOT_BEFORE_SLACK,
            "exp": now + lifetime,
            "appid": client_id,
            "appidacr": "1",
            "tid": self.tenant_id,
            "ver": "1.0",
        }
        return self.entra.current.sign(claims)

    def verify_access_token(self, token: str, *, audience: str, client_id: str | None, now: float) -> bool:
        """Whether ``token`` is one of this emulator's access tokens, unexpired, for ``audience`` (and
        ``client_id``): signature by a published Entra key, ``exp`` (no grace), ``nbf`` (5 minutes' skew)."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return False
        kid = header.get("kid")
        key = self.entra.find(kid) if isinstance(kid, str) else None
        if key is None or header.get("alg") != "RS256":
            return False
        try:
            claims = jwt.decode(
                token,
                key.public_key,
                algorithms=["RS256"],
                # times are checked below against the emulator's clock, not PyJWT's
                options={"verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False},
            )
        except jwt.PyJWTError:
            return False
        expires, not_before = claims.get("exp"), claims.get("nbf", 0)
        if not isinstance(expires, int | float) or not isinstance(not_before, int | float):
            return False
        return (
            now < expires
            and not_before <= now + _SKEW
            and claims.get("iss") == self.token_issuer
            and claims.get("tid") == self.tenant_id
            and claims.get("aud") == audience
            and (client_id is None or claims.get("appid") == client_id)
        )

    # -- discovery routes ------------------------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        """The Starlette routes of the OpenID metadata and signing keys (channel and tenant)."""
        return [
            Route("/v1/.well-known/openidconfiguration", self._channel_metadata, methods=["GET"]),
            Route("/v1/.well-known/keys", self._channel_keys, methods=["GET"]),
            Route("/{tenant}/v2.0/.well-known/openid-configuration", self._entra_metadata, methods=["GET"]),
            Route("/{tenant}/discovery/v2.0/keys", self._entra_keys, methods=["GET"]),
        ]

    async def _channel_metadata(self, request: Request) -> Response:
        self.hits["channel_metadata"] += 1
        return JSONResponse(
            {
                "issuer": CHANNEL_ISSUER,
                "authorization_endpoint": "https://invalid.botframework.com",
                "jwks_uri": self._base_url() + "/v1/.well-known/keys",
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            }
        )

    async def _channel_keys(self, request: Request) -> Response:
        self.hits["channel_keys"] += 1
        return JSONResponse(self.channel.jwks())

    async def _entra_metadata(self, request: Request) -> Response:
        self.hits["entra_metadata"] += 1
        tenant = f"{self._base_url()}/{quote(request.path_params['tenant'], safe='')}"
        return JSONResponse(
            {
                "issuer": self.token_issuers[1],
                "authorization_endpoint": tenant + "/oauth2/v2.0/authorize",
                "token_endpoint": tenant + "/oauth2/v2.0/token",
                "jwks_uri": tenant + "/discovery/v2.0/keys",
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "subject_types_supported": ["pairwise"],
            }
        )

    async def _entra_keys(self, request: Request) -> Response:
        self.hits["entra_keys"] += 1
        return JSONResponse(self.entra.jwks())


def cloud_code(cloud: CloudSettings) -> str:
    """Python that builds ``cloud``: ``attrs.evolve(botconnect.PUBLIC_CLOUD, ...)`` with the fields that differ."""
    changed = [
        f"    {field.name}={getattr(cloud, field.name)!r},"
        for field in attrs.fields(CloudSettings)
        if getattr(cloud, field.name) != getattr(PUBLIC_CLOUD, field.name)
    ]
    return "\n".join(["attrs.evolve(", "    botconnect.PUBLIC_CLOUD,", *changed, ")"])
