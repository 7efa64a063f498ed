"""A loopback OpenID key server and a token minter for the inbound-auth tests.

:class:`KeyServer` serves two metadata documents and their key sets on ``127.0.0.1``: a Bot Framework channel one
(keys carry ``endorsements``) and an Entra ID one (keys carry none), counts the requests for each document, and
can be told to fail a document (500, invalid JSON, empty, slow, redirect, held until released) or to publish other
keys (rollover). Tokens are signed here with ``cryptography`` directly, so a test can put anything in the header,
the payload and the signature segment.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from jwt.algorithms import RSAAlgorithm

import botconnect
from botconnect import CloudSettings

CHANNEL_ISSUER = "https://api.botframework.com"
#: the channels the test channel keys are endorsed for
ENDORSEMENTS = ("msteams", "webchat", "directline", "emulator")

CHANNEL_META = "channel-meta"
CHANNEL_KEYS = "channel-keys"
ENTRA_META = "entra-meta"
ENTRA_KEYS = "entra-keys"
DOCUMENTS = (CHANNEL_META, CHANNEL_KEYS, ENTRA_META, ENTRA_KEYS)
_PATHS = {
    CHANNEL_META: "/v1/.well-known/openidconfiguration",
    CHANNEL_KEYS: "/v1/.well-known/keys",
    ENTRA_META: "/common/v2.0/.well-known/openid-configuration",
    ENTRA_KEYS: "/common/discovery/v2.0/keys",
}
_DOCUMENT_AT = {path: name for name, path in _PATHS.items()}
#: a redirect points here: the real document under another path (followed, it would succeed)
_MOVED = "/moved"

#: what a failing document answers ("sleep": the real document, late; "huge": valid JSON beyond the size cap)
FAULTS = ("500", "invalid-json", "empty", "huge", "sleep", "redirect", "gate")
HUGE_BYTES = 600 * 1024
_HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
_HMACS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


@dataclasses.dataclass(frozen=True)
class TestKey:
    """An RSA key pair generated for the test session."""

    __test__ = False  # not a pytest test class

    kid: str
    private: rsa.RSAPrivateKey

    def jwk(self, *, endorsements: tuple[str, ...] | None = None, **extra: Any) -> dict[str, Any]:
        """The public JWK as a key set publishes it (``endorsements``: None leaves the member out)."""
        data: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(self.private.public_key()))
        data.update(kid=self.kid, use="sig")
        if endorsements is not None:
            data["endorsements"] = list(endorsements)
        data.update(extra)
        return data

    @property
    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


@dataclasses.dataclass(frozen=True)
class KeyRing:
    """The session's keys: the channel's current and next key, the Entra key, and one nobody publishes."""

    channel: TestKey
    channel_next: TestKey
    entra: TestKey
    stranger: TestKey


def make_keyring() -> KeyRing:
    def generate(kid: str) -> TestKey:
        return TestKey(kid, rsa.generate_private_key(public_exponent=65537, key_size=2048))

    return KeyRing(generate("bf-k1"), generate("bf-k2"), generate("entra-k1"), generate("stranger"))


# -- tokens -------------------------------------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def json_segment(value: Any) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def rsa_signature(key: rsa.RSAPrivateKey, algorithm: str, signing_input: str) -> bytes:
    return key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), _HASHES[algorithm[2:]]())


def hmac_signature(secret: bytes, algorithm: str, signing_input: str) -> bytes:
    return hmac.new(secret, signing_input.encode("ascii"), _HMACS[algorithm]).digest()


def mint(
    key: TestKey,
    claims: Mapping[str, Any],
    *,
    algorithm: str = "RS256",
    kid: str | None = None,
    header: Mapping[str, Any] | None = None,
) -> str:
    """A compact JWS of ``claims`` signed by ``key`` (header ``alg``/``kid`` as given; ``header`` adds members)."""
    head = {"alg": algorithm, "typ": "JWT", "kid": key.kid if kid is None else kid, **(header or {})}
    signing_input = f"{json_segment(head)}.{json_segment(dict(claims))}"
    return f"{signing_input}.{b64url(rsa_signature(key.private, algorithm, signing_input))}"


def forge_hmac(secret: bytes, claims: Mapping[str, Any], *, kid: str, algorithm: str = "HS256") -> str:
    """A token MACed with ``secret`` (the algorithm-confusion forgery)."""
    signing_input = f"{json_segment({'alg': algorithm, 'typ': 'JWT', 'kid': kid})}.{json_segment(dict(claims))}"
    return f"{signing_input}.{b64url(hmac_signature(secret, algorithm, signing_input))}"


# -- the server ---------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class _Fault:
    kind: str
    seconds: float = 0.0


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins every handler thread: nothing outlives the fixture
    block_on_close = True
    owner: KeyServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client that gave up (timeout) before a slow answer was written: expected, not worth a traceback
        pass


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self.server.owner._serve(self)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class KeyServer:
    """The two OpenID documents and key sets on a loopback port; use as a context manager (it starts a thread)."""

    def __init__(self, keys: KeyRing) -> None:
        self.keys = keys
        self._lock = threading.Lock()
        self._hits = dict.fromkeys(DOCUMENTS, 0)
        self._faults: dict[str, _Fault] = {}
        self.channel_jwks: list[dict[str, Any]] = [keys.channel.jwk(endorsements=ENDORSEMENTS)]
        #: what each metadata document names as its ``jwks_uri`` instead of the key set here
        self.jwks_uri_override: dict[str, str] = {}
        self.entra_jwks: list[dict[str, Any]] = [keys.entra.jwk()]
        self._stopping = threading.Event()
        #: a "gate" fault holds its document until this is set (or the server stops)
        self.gate_released = threading.Event()
        #: set when a request reaches a "gate" fault
        self.gate_reached = threading.Event()
        #: monotonic times a "sleep" fault started and finished sleeping
        self.slept: list[tuple[float, float]] = []
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        # a short poll interval: shutdown() waits for the serving loop to notice, once per interval
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, name="keyserver", daemon=True
        )

    # -- lifecycle --

    def __enter__(self) -> KeyServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopping.set()
        self.gate_released.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    # -- what the tests look at and switch --

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, document: str) -> str:
        return self.base_url + _PATHS[document]

    def cloud(self, base: CloudSettings = botconnect.PUBLIC_CLOUD) -> CloudSettings:
        """``base`` with both metadata URLs pointing here."""
        return attrs.evolve(
            base, channel_openid_metadata_url=self.url(CHANNEL_META), emulator_openid_metadata_url=self.url(ENTRA_META)
        )

    @property
    def hits(self) -> dict[str, int]:
        """Requests per document so far (a copy)."""
        with self._lock:
            return dict(self._hits)

    def fail(self, document: str, kind: str, *, seconds: float = 0.0) -> None:
        """Make ``document`` answer with fault ``kind`` from now on, ``seconds`` late (for "sleep": how late)."""
        if document not in DOCUMENTS or kind not in FAULTS:
            raise ValueError(f"unknown document or fault: {document!r}, {kind!r}")
        with self._lock:
            self._faults[document] = _Fault(kind, seconds)

    def heal(self) -> None:
        with self._lock:
            self._faults.clear()

    def publish_channel(self, *jwks: dict[str, Any]) -> None:
        with self._lock:
            self.channel_jwks = list(jwks)

    def publish_entra(self, *jwks: dict[str, Any]) -> None:
        with self._lock:
            self.entra_jwks = list(jwks)

    # -- serving --

    def _document(self, name: str) -> dict[str, Any]:
        if name == CHANNEL_META:
            return {
                "issuer": CHANNEL_ISSUER,
                "authorization_endpoint": "https://invalid.botframework.com",
                "jwks_uri": self.jwks_uri_override.get(CHANNEL_META, self.url(CHANNEL_KEYS)),
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            }
        if name == ENTRA_META:
            return {
                "issuer": "https://login.microsoftonline.com/{tenantid}/v2.0",
                "jwks_uri": self.jwks_uri_override.get(ENTRA_META, self.url(ENTRA_KEYS)),
                "id_token_signing_alg_values_supported": ["RS256"],
            }
        return {"keys": list(self.channel_jwks if name == CHANNEL_KEYS else self.entra_jwks)}

    def _serve(self, handler: _Handler) -> None:
        path = handler.path.split("?", 1)[0]
        moved = path.startswith(_MOVED + "/")
        name = _DOCUMENT_AT.get(path.removeprefix(_MOVED) if moved else path)
        if name is None:
            self._send(handler, 404, b'{"error": "not found"}')
            return
        with self._lock:
            self._hits[name] += 1
            fault = None if moved else self._faults.get(name)
            document = self._document(name)
        kind = fault.kind if fault is not None else None
        if fault is not None and fault.seconds > 0:
            started = time.monotonic()
            self._stopping.wait(fault.seconds)
            with self._lock:
                self.slept.append((started, time.monotonic()))
        elif kind == "gate":
            self.gate_reached.set()
            self.gate_released.wait(30)  # a safety net only: a test releases the gate (or the server stops)
        if kind == "500":
            self._send(handler, 500, b'{"error": "unavailable"}')
        elif kind == "invalid-json":
            self._send(handler, 200, b'{"keys": [')
        elif kind == "huge":
            pad = "x" * HUGE_BYTES
            self._send(handler, 200, json.dumps({**document, "pad": pad}).encode())
        elif kind == "empty":
            self._send(handler, 200, b'{"keys": []}' if name in (CHANNEL_KEYS, ENTRA_KEYS) else b"{}")
        elif kind == "redirect":
            self._send(handler, 302, b"", location=self.base_url + _MOVED + _PATHS[name])
        else:
            self._send(handler, 200, json.dumps(document).encode())

    @staticmethod
    def _send(handler: _Handler, status: int, body: bytes, *, location: str | None = None) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.send_header("Connection", "close")
        if location is not None:
            handler.send_header("Location", location)
        handler.end_headers()
        handler.wfile.write(body)


@contextmanager
def key_server(keys: KeyRing) -> Iterator[KeyServer]:
    with KeyServer(keys) as server:
        yield server
