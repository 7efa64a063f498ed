"""Run the emulator: its own event loop in a background thread, serving with uvicorn on loopback, and transports
that reach it with no socket at all.

::

    with Emulator() as emulator:                      # 127.0.0.1, a free port
        client = DirectLineClient(secret=emulator.secret, endpoint=emulator.url)

    emulator = Emulator(socket=False).start()         # no socket: only its transports reach it
    client = DirectLineClient(secret=emulator.secret, endpoint=emulator.url, transport=emulator.transport())

With an app id, every delivery to the bot carries a channel token signed by the emulator, and
``BotAuthenticator(app_id, cloud=emulator.cloud)`` is all a bot under test needs to check it::

    with Emulator(bot="http://127.0.0.1:3978/api/messages", app_id=APP_ID, app_password=PASSWORD) as emulator:
        authenticator = botconnect.BotAuthenticator(APP_ID, cloud=emulator.cloud)

Everything the emulator keeps lives on that one loop, so it does not care which event loop (or none) its callers
use: asyncio, trio, pytest-asyncio's session loop or plain threads.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import ssl
import threading
import time
from collections.abc import Callable, Coroutine, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

import anyio.to_thread
import httpx

from .app import IN_PROCESS_URL, EmulatorApp
from .connector import Connector, Store
from .directline import DirectLine
from .faults import DroppedConnection, Faults
from .persistence import StateFile
from .signing import SigningService
from .tls import TlsFiles, generate
from .token_service import TokenService

if TYPE_CHECKING:
    import botconnect
    import botconnect_aio
    from botconnect._core.auth import CloudSettings

__all__ = ["Emulator", "is_loopback_host"]

T = TypeVar("T")
_START_TIMEOUT = 10.0


def is_loopback_host(host: str) -> bool:
    from botconnect._core.security import is_loopback

    return is_loopback(host)


class Emulator:
    """A faithful, stateful local Bot Framework channel: Direct Line, Bot Connector v3 and ACS Chat.

    ``start()`` (or ``with``) serves it on ``host:port`` (``port=0``: a free one; ``socket=False``: no socket,
    reach it through :meth:`transport` / :meth:`async_transport`); ``stop()`` ends it. ``bot`` is the URL of your
    bot's messaging endpoint (None: the built-in echo bot). Binding to a non-loopback address needs
    ``allow_remote=True``. The services are :attr:`directline`, :attr:`connector` and :attr:`acs`; their state is
    :attr:`store`; :attr:`faults` makes everything misbehave on demand (``faults.token`` spoils delivery tokens).

    ``app_id``/``app_password``: the Connector endpoints want a token from the emulator's token endpoint, and every
    delivery carries a channel token for ``app_id`` that a bot checks with
    ``BotAuthenticator(app_id, cloud=emulator.cloud)``; without them deliveries are anonymous.
    ``tls=True`` serves https with a throwaway CA made at start (:attr:`ca_pem`, :attr:`ca_file`,
    :meth:`ssl_context`; its files are deleted at stop): azure-core sends bearer tokens over https only. Its own
    calls (deliveries to the built-in bot, the bot's replies) and the clients of :meth:`directline_client` and the
    like trust that CA, each through a context of its own: nothing else in the process does. The ACS
    identity routes check HMAC signatures against :attr:`acs_access_key` (see :attr:`acs_connection_string`).
    ``cors_origins``: web page origins allowed besides loopback ones and its own (:mod:`botconnect.emulator.cors`).
    ``oauth_connections``: the OAuth connection names its user token service (:attr:`token_service`, at
    ``emulator.cloud.token_service_url``) knows; without, it accepts any name. ``event_webhook``: a URL the ACS
    Chat events are POSTed to (Event Grid schema), after the subscription validation (:attr:`events`).
    ``state_file``: keep conversations, tokens, ACS threads and signing keys in that SQLite file, so a new emulator
    on it resumes them (see :mod:`botconnect.emulator.persistence`; ``StateFileError`` for a file it cannot use);
    ``stop()`` releases it. Default: in memory only.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        socket: bool = True,
        bot: str | None = None,
        secret: str = "dev-secret",  # noqa: S107 - the well-known secret of a local emulator
        token_lifetime: float = 1800,
        clock: Callable[[], float] = time.monotonic,
        faults: Faults | None = None,
        app_id: str | None = None,
        app_password: str | None = None,
        keepalive_interval: float | None = 30.0,
        bot_account: dict[str, Any] | None = None,
        allow_remote: bool = False,
        oauth_connections: Iterable[str] = (),
        cors_origins: Iterable[str] = (),
        tls: bool = False,
        event_webhook: str | None = None,
        state_file: str | os.PathLike[str] | None = None,
    ) -> None:
        if tls and not socket:
            raise ValueError("tls=True needs a socket (socket=False serves no network at all)")
        if socket and not allow_remote and not is_loopback_host(host):
            raise ValueError(f"refusing to serve on {host!r}, which is not loopback (allow_remote=True to insist)")
        self.host = host
        self.port = port
        self.socket = socket
        self.app = EmulatorApp(
            secret=secret,
            token_lifetime=token_lifetime,
            clock=clock,
            bot=bot,
            app_id=app_id,
            app_password=app_password,
            faults=faults,
            keepalive_interval=keepalive_interval,
            bot_account=bot_account,
            oauth_connections=oauth_connections,
            cors_origins=cors_origins,
            event_webhook=event_webhook,
        )
        self._lock = threading.RLock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: Any = None
        self._serving: concurrent.futures.Future[None] | None = None
        self._url: str | None = None
        self.tls = tls
        self._tls: TlsFiles | None = None
        #: the state file (None: in memory only), opened and loaded now: a file it cannot use raises here
        self.state: StateFile | None = StateFile(state_file, self.app) if state_file is not None else None

    # -- what it serves ----------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL: Direct Line endpoint, ACS endpoint, and (with a trailing ``/``) the Connector serviceUrl."""
        return self._url or IN_PROCESS_URL

    @property
    def service_url(self) -> str:
        """The Connector ``serviceUrl`` the emulator puts on activities (its URL with a trailing ``/``)."""
        return self.url + "/"

    @property
    def secret(self) -> str:
        """The Direct Line secret client apps use."""
        return self.app.directline.secret

    @property
    def faults(self) -> Faults:
        """The live fault settings: add rules, latency, error rates (see ``Faults``)."""
        return self.app.faults

    @property
    def app_id(self) -> str | None:
        """The bot's app id deliveries are signed for (None: anonymous deliveries)."""
        return self.app.auth.app_id

    @property
    def cloud(self) -> CloudSettings:
        """``CloudSettings`` trusting this emulator (metadata, keys, issuers, token endpoints); read it once the
        emulator serves, as its URL is only known then."""
        return self.app.cloud

    @property
    def signing(self) -> SigningService:
        """The signing keys, the tokens and the discovery routes' hit counters (``signing.hits``)."""
        return self.app.signing

    def rotate_signing_key(self) -> str:
        """Sign with new keys from now on (the old ones stay published); returns the new channel key's kid."""
        kid = self.app.signing.rotate()
        self.app.store.on_loop(lambda: None)  # the state file, if any, keeps the new keys
        return kid

    @property
    def directline(self) -> DirectLine:
        """The Direct Line service: its faults, counters and control methods (``bot_says``, ``drop_streams``...)."""
        return self.app.directline

    @property
    def connector(self) -> Connector:
        """The Bot Connector service (its store of conversations and activities)."""
        return self.app.connector

    @property
    def token_service(self) -> TokenService:
        """The user token service (OAuth sign-in, SSO) at :attr:`url`: its sign-ins, tokens and ``hits``."""
        return self.app.token_service

    @property
    def store(self) -> Store:
        """Every conversation, activity, member and attachment (read it from tests; it lives on the emulator's loop)."""
        return self.app.store

    @property
    def acs(self) -> Any:
        """The ACS Chat service, or None when ``botconnect.emulator.acs`` is not available."""
        return self.app.acs

    @property
    def acs_access_key(self) -> str:
        """The ACS resource's access key (base64): the identity routes check HMAC-SHA256 signatures against it."""
        if self.app.identity is None:
            raise RuntimeError("the ACS Chat emulator (botconnect.emulator.acs) is not available")
        return str(self.app.identity.access_key)

    @property
    def acs_connection_string(self) -> str:
        """``endpoint=<url>/;accesskey=<key>``, as ``CommunicationIdentityClient.from_connection_string`` takes."""
        return f"endpoint={self.url}/;accesskey={self.acs_access_key}"

    @property
    def events(self) -> Any:
        """The ``EventDelivery`` of ``event_webhook`` (``.delivered``, ``.failures``), or None without one."""
        return self.app.acs.events if self.app.acs is not None else None

    @property
    def ca_pem(self) -> str | None:
        """With ``tls=True``, while serving: the PEM of the throwaway CA that signed the emulator's certificate."""
        return self._tls.ca_pem if self._tls is not None else None

    @property
    def ca_file(self) -> str | None:
        """With ``tls=True``, while serving: a file holding :attr:`ca_pem` (for ``SSL_CERT_FILE``); removed at stop."""
        return self._tls.ca_file if self._tls is not None else None

    def ssl_context(self) -> ssl.SSLContext:
        """An ``ssl.SSLContext`` trusting only the emulator's CA (``tls=True``, while serving)."""
        if self._tls is None:
            raise RuntimeError("the emulator serves no TLS (Emulator(tls=True), started)")
        return self._tls.client_context()

    @property
    def running(self) -> bool:
        """Whether the emulator has been started and not stopped."""
        return self._loop is not None

    def __repr__(self) -> str:
        return f"<Emulator url={self.url!r} bot={self.app.delivery.url!r}>"

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def start(self) -> Emulator:
        """Start serving (on a socket unless ``socket=False``); returns self. Starting twice is a no-op."""
        with self._lock:
            loop = self._ensure_loop()
            if not self.socket or self._server is not None:
                return self
            import uvicorn

            tls_files = self._tls = generate() if self.tls else None
            config = uvicorn.Config(
                self.app,
                host=self.host,
                port=self.port,
                log_config=None,
                log_level="warning",
                ws="wsproto",
                http="h11",
                lifespan="off",
                timeout_graceful_shutdown=2,
                ssl_keyfile=tls_files.keyfile if tls_files else None,
                ssl_certfile=tls_files.certfile if tls_files else None,
            )
            server = uvicorn.Server(config)
            serving = asyncio.run_coroutine_threadsafe(server.serve(), loop)
            deadline = time.monotonic() + _START_TIMEOUT
            while not server.started:
                if serving.done() or time.monotonic() > deadline:
                    server.should_exit = True
                    with contextlib.suppress(BaseException):
                        serving.result(timeout=5)
                    self._remove_tls()
                    raise OSError(f"the emulator could not serve on {self.host}:{self.port}")
                time.sleep(0.005)
            self._server, self._serving = server, serving
            port = server.servers[0].sockets[0].getsockname()[1]
            host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host  # noqa: S104 - naming it, not binding
            host = f"[{host}]" if ":" in host else host
            self._url = f"{'https' if tls_files else 'http'}://{host}:{port}"
            # the emulator's calls to itself (the built-in bot) trust its CA through a context of their own
            self.app.serve_at(self._url, socket=True, ssl_context=tls_files.client_context() if tls_files else None)
            return self

    def stop(self) -> None:
        """Stop serving, close the bot-side clients and end the loop thread. Safe to call twice."""
        with self._lock:
            loop, thread, server, serving = self._loop, self._thread, self._server, self._serving
            self._server = self._serving = None
            if loop is None or thread is None:
                if self.state is not None:
                    self.state.close()
                return
            if server is not None and serving is not None:
                server.should_exit = True
                try:
                    serving.result(timeout=10)
                except concurrent.futures.TimeoutError:
                    server.force_exit = True
                    with contextlib.suppress(BaseException):
                        serving.result(timeout=5)
                except BaseException:  # noqa: S110 - it stopped, one way or another
                    pass
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            self._loop = self._thread = None
            self.app.store.loop = None
            self.app.serve_at(IN_PROCESS_URL, socket=False)
            self._url = None
            self._remove_tls()
            if self.state is not None:
                self.state.close()  # the loop is gone: nothing changes the state any more

    def _remove_tls(self) -> None:
        if self._tls is not None:
            self._tls.remove()
            self._tls = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            return self._loop or self._new_loop()

    def _new_loop(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            try:
                loop.run_forever()
            finally:
                with contextlib.suppress(Exception):
                    loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        thread = threading.Thread(target=run, name="botconnect-emulator", daemon=True)
        thread.start()
        ready.wait(_START_TIMEOUT)
        self._loop, self._thread = loop, thread
        self.app.store.loop = loop
        if self.state is not None:
            self.state.open()  # again, after a stop()
        return loop

    async def _shutdown(self) -> None:
        await self.app.aclose()
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- calling in --------------------------------------------------------------------------------------------

    def run(self, fn: Callable[[], Coroutine[Any, Any, T]], timeout: float | None = 30.0) -> T:
        """Run a coroutine function on the emulator's loop and wait for its result (from any other thread)."""
        loop = self._ensure_loop()
        if threading.current_thread() is self._thread:
            raise RuntimeError("Emulator.run() cannot be called from the emulator's own thread")
        return asyncio.run_coroutine_threadsafe(self._then_write(fn), loop).result(timeout)

    async def _then_write(self, fn: Callable[[], Coroutine[Any, Any, T]]) -> T:
        result = await fn()
        if self.state is not None:
            self.state.flush()
        return result

    def reset(self) -> None:
        """Forget conversations, attachments and faults; reset the counters."""
        self.app.store.on_loop(self.app.reset)

    def transport(self) -> httpx.BaseTransport:
        """A sync httpx transport into the emulator with no socket (HTTP only: streams fall back to polling)."""
        self._ensure_loop()
        return _SyncTransport(self)

    def async_transport(self) -> httpx.AsyncBaseTransport:
        """An async httpx transport into the emulator with no socket, usable from any event loop (asyncio, trio)."""
        self._ensure_loop()
        return _AsyncTransport(self)

    def issue_acs_token(self, user_raw_id: str | None = None, *, lifetime: float = 3600) -> tuple[str, str]:
        """An ACS user token (and the user's raw id) the ACS Chat endpoints accept."""
        if self.app.acs is None:
            raise RuntimeError("the ACS Chat emulator (botconnect.emulator.acs) is not available")
        acs = self.app.acs
        ttl = self.faults.lifetime(lifetime)
        token, raw_id = self.app.store.on_loop(lambda: acs.issue_user_token(user_raw_id, lifetime=ttl))
        return str(token), str(raw_id)

    # -- clients wired to it -----------------------------------------------------------------------------------

    def _wired(self, asynchronous: bool, options: dict[str, Any]) -> dict[str, Any]:
        """``options`` plus the way in, unless the caller gave one: the in-process transport without a socket;
        under https a transport of the client's own trusting the throwaway CA (never the process's trust store)."""
        if "transport" in options or "http_client" in options or (self._server is not None and self._tls is None):
            return options
        if self._server is None:
            return {**options, "transport": self.async_transport() if asynchronous else self.transport()}
        if asynchronous:
            from botconnect_aio._transport import AsyncHTTP11Transport

            return {**options, "transport": AsyncHTTP11Transport(ssl_context=self.ssl_context())}
        from botconnect._transport import HTTP11Transport

        return {**options, "transport": HTTP11Transport(ssl_context=self.ssl_context())}

    def directline_client(self, **options: Any) -> botconnect.DirectLineClient:
        """A sync ``DirectLineClient`` on this emulator's secret and URL (``options`` go to the client)."""
        import botconnect

        options.setdefault("secret", self.secret)
        return botconnect.DirectLineClient(endpoint=self.url, **self._wired(False, options))

    def connector_client(self, credential: Any = None, **options: Any) -> botconnect.ConnectorClient:
        """A sync ``ConnectorClient`` on this emulator's service URL (anonymous unless ``credential`` is given)."""
        import botconnect

        return botconnect.ConnectorClient(self.service_url, credential, **self._wired(False, options))

    def chat_client(self, user_raw_id: str | None = None, **options: Any) -> botconnect.ChatClient:
        """A sync ACS ``ChatClient`` with a fresh user token (for ``user_raw_id``, or a new user)."""
        import botconnect

        token, _ = self.issue_acs_token(user_raw_id)
        credential = botconnect.CommunicationTokenCredential(token)
        return botconnect.ChatClient(self.url, credential, **self._wired(False, options))

    def aio_directline_client(self, **options: Any) -> botconnect_aio.DirectLineClient:
        """The ``botconnect_aio`` twin of `directline_client`."""
        import botconnect_aio

        options.setdefault("secret", self.secret)
        return botconnect_aio.DirectLineClient(endpoint=self.url, **self._wired(True, options))

    def aio_connector_client(self, credential: Any = None, **options: Any) -> botconnect_aio.ConnectorClient:
        """The ``botconnect_aio`` twin of `connector_client`."""
        import botconnect_aio

        return botconnect_aio.ConnectorClient(self.service_url, credential, **self._wired(True, options))

    def aio_chat_client(self, user_raw_id: str | None = None, **options: Any) -> botconnect_aio.ChatClient:
        """The ``botconnect_aio`` twin of `chat_client`."""
        import botconnect_aio

        token, _ = self.issue_acs_token(user_raw_id)
        credential = botconnect_aio.CommunicationTokenCredential(token)
        return botconnect_aio.ChatClient(self.url, credential, **self._wired(True, options))


def _timeout(request: httpx.Request) -> float | None:
    timeouts = request.extensions.get("timeout") or {}
    read = timeouts.get("read")
    return None if read is None else float(read) + 1.0


class _SyncTransport(httpx.BaseTransport):
    def __init__(self, emulator: Emulator) -> None:
        self._emulator = emulator
        self._asgi = httpx.ASGITransport(app=emulator.app)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        loop = self._emulator._ensure_loop()
        if threading.current_thread() is self._emulator._thread:
            raise RuntimeError("the emulator's sync transport cannot be used on the emulator's own thread")
        copy = httpx.Request(request.method, request.url, headers=request.headers, content=request.read())
        future = asyncio.run_coroutine_threadsafe(_call(self._asgi, copy), loop)
        try:
            status, headers, content = future.result(_timeout(request))
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise httpx.ReadTimeout("the emulator did not answer in time", request=request) from None
        except DroppedConnection as exc:
            raise httpx.RemoteProtocolError(str(exc), request=request) from None
        return httpx.Response(status, headers=headers, content=content, request=request)


class _AsyncTransport(httpx.AsyncBaseTransport):
    def __init__(self, emulator: Emulator) -> None:
        self._emulator = emulator
        self._asgi = httpx.ASGITransport(app=emulator.app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        loop = self._emulator._ensure_loop()
        copy = httpx.Request(request.method, request.url, headers=request.headers, content=await request.aread())
        future = asyncio.run_coroutine_threadsafe(_call(self._asgi, copy), loop)
        try:
            with anyio.fail_after(_timeout(request)):
                status, headers, content = await _wait(future)
        except TimeoutError:
            raise httpx.ReadTimeout("the emulator did not answer in time", request=request) from None
        except DroppedConnection as exc:
            raise httpx.RemoteProtocolError(str(exc), request=request) from None
        return httpx.Response(status, headers=headers, content=content, request=request)


async def _wait(future: concurrent.futures.Future[T]) -> T:
    """Await a future of the emulator's loop from any async library; cancelling the wait cancels the call."""
    try:
        import sniffio

        library = sniffio.current_async_library()
    except Exception:
        library = ""
    if library == "asyncio":
        return await asyncio.wrap_future(future)
    try:
        return await anyio.to_thread.run_sync(future.result, abandon_on_cancel=True)
    finally:
        future.cancel()  # a no-op once it is done


async def _call(asgi: httpx.ASGITransport, request: httpx.Request) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    response = await asgi.handle_async_request(request)
    content = await response.aread()
    return response.status_code, response.headers.raw, content
