"""ACS access-key authentication (HMAC-SHA256), sans-IO: the connection string, the string to sign, the headers.

A request to an ACS resource signed with its access key carries three headers::

    x-ms-date: <RFC 1123 date>
    x-ms-content-sha256: <base64 SHA-256 of the body>
    Authorization: HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=<base64 HMAC>

the HMAC (keyed with the base64-decoded access key) being over ``VERB\\n<path?query>\\n<date>;<host>;<hash>``.
:class:`HmacSigner` signs an ``httpx.Request`` from what will actually be sent: its body bytes, the
percent-encoded path and query of its URL (``raw_path``) and its ``Host`` header, so the service recomputes the
same string. The key never appears in a message, a repr or a log line produced here.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import functools
import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Any, Protocol

import httpx

__all__ = [
    "SIGNED_HEADERS",
    "HmacSigner",
    "KeyCredential",
    "content_hash",
    "decode_access_key",
    "http_date",
    "key_of",
    "parse_connection_string",
    "sign",
    "signature",
    "string_to_sign",
    "with_scheme",
]

SIGNED_HEADERS = "x-ms-date;host;x-ms-content-sha256"


class KeyCredential(Protocol):
    """azure-core's ``AzureKeyCredential``: the key is read at every request, so ``update()`` rotates it."""

    @property
    def key(self) -> str: ...


def decode_access_key(key: Any) -> bytes:
    """The HMAC key a base64 access key stands for; TypeError / ValueError (never quoting the key) otherwise."""
    if not isinstance(key, str):
        raise TypeError(f"the access key must be a str (base64), got {type(key).__name__}")
    if not key.strip():
        raise ValueError("the access key must not be empty")
    try:
        decoded = base64.b64decode(key.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the access key is not valid base64") from None  # `from None`: the error may quote it
    if not decoded:
        raise ValueError("the access key must not be empty")
    return decoded


def content_hash(body: bytes) -> str:
    """``x-ms-content-sha256``: the base64 SHA-256 of the body bytes (of ``b""`` when there is none)."""
    return base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")


def http_date(timestamp: float) -> str:
    """``x-ms-date``: an RFC 1123 date in GMT (English names whatever the locale)."""
    return _http_date(int(timestamp))


@functools.lru_cache(maxsize=4)
def _http_date(second: int) -> str:
    # cached: it changes once a second, and formatting costs more than the HMAC
    return email.utils.formatdate(second, usegmt=True)


def string_to_sign(method: str, path_and_query: str, date: str, host: str, body_hash: str) -> str:
    return f"{method.upper()}\n{path_and_query}\n{date};{host};{body_hash}"


def signature(key: bytes, text: str) -> str:
    """The base64 HMAC-SHA256 of ``text`` (UTF-8) under ``key``."""
    return base64.b64encode(hmac.digest(key, text.encode("utf-8"), "sha256")).decode("ascii")


def sign(method: str, path_and_query: str, host: str, body: bytes, key: bytes, *, now: float) -> dict[str, str]:
    """The three headers of a request signed at ``now`` (Unix seconds)."""
    date = http_date(now)
    body_hash = content_hash(body)
    signed = signature(key, string_to_sign(method, path_and_query, date, host, body_hash))
    return {
        "x-ms-date": date,
        "x-ms-content-sha256": body_hash,
        "Authorization": f"HMAC-SHA256 SignedHeaders={SIGNED_HEADERS}&Signature={signed}",
    }


def parse_connection_string(connection_string: Any) -> tuple[str, str]:
    """``endpoint=https://<resource>.communication.azure.com/;accesskey=<key>`` -> (endpoint, access key).

    Names are case-blind and their order free; a value keeps everything after its first ``=`` (base64 keys end
    with ``=``). An endpoint without a scheme gets ``https://``, as Microsoft's clients do. The messages never
    quote the string, which holds the key.
    """
    if not isinstance(connection_string, str):
        raise TypeError(f"the connection string must be a str, got {type(connection_string).__name__}")
    fields: dict[str, str] = {}
    for element in connection_string.split(";"):
        name, _, value = element.partition("=")
        if name.strip():
            fields[name.strip().lower()] = value.strip()
    endpoint, key = fields.get("endpoint"), fields.get("accesskey")
    if not endpoint or not key:
        raise ValueError(
            "the connection string must be 'endpoint=https://<resource>.communication.azure.com/;accesskey=<key>'"
        )
    decode_access_key(key)
    return with_scheme(endpoint), key


def with_scheme(endpoint: str) -> str:
    """``https://`` + an endpoint given without a scheme (Microsoft's clients do the same)."""
    return endpoint if "://" in endpoint else "https://" + endpoint


def key_of(credential: Any) -> str:
    """The access key of a str or of an ``AzureKeyCredential``-like object (its ``key`` read now)."""
    key = credential if isinstance(credential, str) else getattr(credential, "key", None)
    if not isinstance(key, str):
        raise TypeError("the credential must be an access key (str) or have a str 'key' (AzureKeyCredential)")
    return key


class HmacSigner:
    """Signs every attempt of a request with the current key of ``credential`` (a str or an AzureKeyCredential).

    ``clock`` gives Unix seconds (the service refuses a date more than 15 minutes off).
    """

    __slots__ = ("_clock", "_credential")

    def __init__(self, credential: str | KeyCredential, *, clock: Callable[[], float] = time.time) -> None:
        decode_access_key(key_of(credential))  # a bad key fails here, at construction
        self._credential = credential
        self._clock = clock

    def __call__(self, request: httpx.Request) -> None:
        key = decode_access_key(key_of(self._credential))
        host = request.headers.get("Host") or request.url.netloc.decode("ascii")
        path_and_query = request.url.raw_path.decode("ascii")
        headers = sign(request.method, path_and_query, host, request.content, key, now=self._clock())
        request.headers.update(headers)

    def __repr__(self) -> str:
        return "<HmacSigner key=<redacted>>"
