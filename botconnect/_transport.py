"""The default sync transport: httpx's own HTTP/1.1 pool, with the knobs named as on ``AsyncHTTP11Transport``.

Blocking calls do not suffer from what made httpx's async pool slow at high concurrency (see
``botconnect_aio._transport``), so the sync side keeps httpx's pool; this class only gives both façades the same
constructor, and keeps up to 100 idle connections instead of httpx's 20.
"""

from __future__ import annotations

import os
import ssl
import threading

import httpx

from ._core.clientconfig import env_proxies_configured, environment_values, proxy_environment

__all__ = ["HTTP11Transport", "default_ssl_context", "default_transport", "shared_pool_key"]

_contexts: dict[tuple[bool, str | None, str | None], ssl.SSLContext] = {}
_contexts_lock = threading.Lock()
_TRUST_VARIABLES = ("SSL_CERT_FILE", "SSL_CERT_DIR")
_TRUST_VARIABLE_BYTES = (b"SSL_CERT_FILE", b"SSL_CERT_DIR")


def default_ssl_context(*, trust_env: bool = True) -> ssl.SSLContext:
    """The verifying SSL context SDK-created transports share: one per process and trust configuration.

    Building one (``load_verify_locations`` on the certifi bundle) costs 10-50 ms, which made every client
    construction that slow. The context is keyed by the ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` values in effect, so
    changing them still changes what a client created afterwards trusts, as with httpx. ALPN offers only
    ``http/1.1``: both transports speak HTTP/1.1 (httpcore sets the same list on it again per connection).
    """
    key = (
        trust_env,
        os.environ.get("SSL_CERT_FILE") if trust_env else None,
        os.environ.get("SSL_CERT_DIR") if trust_env else None,
    )
    context = _contexts.get(key)
    if context is None:
        with _contexts_lock:  # two threads building the first client pay for one context, not two
            context = _contexts.get(key)
            if context is None:
                context = httpx.create_ssl_context(trust_env=trust_env)
                context.set_alpn_protocols(["http/1.1"])
                _contexts[key] = context
    return context


def shared_pool_key() -> tuple[object, ...]:
    """Clients given no transport share one pool while this stays equal: the same process (a forked child must not
    use its parent's sockets), the same trust settings and the same proxy settings, as SDK-built pools follow."""
    return (_forks[0], environment_values(_TRUST_VARIABLES, _TRUST_VARIABLE_BYTES), proxy_environment())


#: bumped in a forked child (cheaper than os.getpid(), a system call, on every client construction)
_forks = [0]
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=lambda: _forks.__setitem__(0, _forks[0] + 1))


class HTTP11Transport(httpx.HTTPTransport):
    """At most ``max_connections`` requests in flight, each on its own keep-alive connection.

    Idle connections are dropped after ``keepalive_expiry`` seconds; at most ``max_keepalive_connections`` are
    kept. ``ssl_context`` replaces the default verification (certifi, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``).
    Timeouts come from the request (``extensions["timeout"]``: connect, read, write, pool), as with httpx.
    """

    def __init__(
        self,
        *,
        max_connections: int = 100,
        max_keepalive_connections: int = 100,
        keepalive_expiry: float = 5.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        limits = httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max(0, max_keepalive_connections),
            keepalive_expiry=keepalive_expiry,
        )
        super().__init__(verify=ssl_context if ssl_context is not None else default_ssl_context(), limits=limits)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send one request; the response's body is read (or streamed) by the caller, who must close it."""
        return super().handle_request(request)

    def close(self) -> None:
        """Close the idle connections; connections still in use close when their response is closed."""
        super().close()

    def __repr__(self) -> str:
        return "<HTTP11Transport (httpx's HTTP/1.1 pool)>"


def default_transport() -> HTTP11Transport | None:
    """The transport a client creates for itself: ours, unless proxies are configured in the environment.

    With ``HTTP(S)_PROXY``/``ALL_PROXY`` set, ``None`` lets ``httpx.Client`` build its proxy transports.
    """
    return None if env_proxies_configured() else HTTP11Transport()
