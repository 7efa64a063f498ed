"""Where a credential may go, and how ids go into URL paths."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable
from urllib.parse import quote

import attrs
import httpx

from ..errors import UntrustedEndpointError

__all__ = [
    "HostAllowList",
    "ensure_safe_for_credentials",
    "is_loopback",
    "path_segment",
    "same_origin",
    "without_credentials",
]


@functools.lru_cache(maxsize=256)
def is_loopback(host: str) -> bool:
    # cached: asked on every authenticated call, and parsing an address costs ~2 us
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@attrs.frozen
class HostAllowList:
    """Host patterns a credential may be sent to: exact names or ``*.suffix`` wildcards. Loopback always passes."""

    patterns: tuple[str, ...]

    @classmethod
    def of(cls, patterns: Iterable[str]) -> HostAllowList:
        return cls(tuple(p.strip().lower().rstrip(".") for p in patterns if p.strip()))

    def allows(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        if is_loopback(host):
            return True
        for pattern in self.patterns:
            if pattern == "*":
                return True
            if pattern.startswith("*."):
                if host.endswith(pattern[1:]) and len(host) > len(pattern) - 1:
                    return True
            elif host == pattern:
                return True
        return False


def ensure_safe_for_credentials(url: httpx.URL, allow: HostAllowList | None) -> None:
    """Raise :class:`UntrustedEndpointError` unless a bearer credential may be sent to ``url``."""
    host = url.host
    if url.scheme != "https" and not (url.scheme == "http" and is_loopback(host)):
        raise UntrustedEndpointError(
            f"refusing to send credentials over {url.scheme!r} to {host!r}: only https, or http to loopback"
        )
    if allow is not None and not allow.allows(host):
        raise UntrustedEndpointError(
            f"refusing to send credentials to untrusted host {host!r}; add it to trusted_hosts if it is yours"
        )


def same_origin(a: httpx.URL, b: httpx.URL) -> bool:
    return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)


def path_segment(value: str, name: str) -> str:
    """Percent-encode one URL path segment (``/``, ``:``, ``@``, ``;``, ``%``, ``?``, ``#`` and dot-only ids too)."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    if not value:
        raise ValueError(f"{name} must not be empty")
    return _encode_segment(value)


@functools.lru_cache(maxsize=4096)
def _encode_segment(value: str) -> str:
    # cached: a bot sends to the same few conversations over and over, and quote() costs ~3 us a call
    if set(value) == {"."}:  # "." and ".." would be collapsed by URL normalisation
        return "%2E" * len(value)
    return quote(value, safe="")


def without_credentials(request: httpx.Request) -> httpx.Request:
    """A copy of ``request`` without its Authorization header, to keep inside an exception."""
    headers = [(k, v) for k, v in request.headers.multi_items() if k.lower() != "authorization"]
    return httpx.Request(request.method, request.url, headers=headers, stream=request.stream)
