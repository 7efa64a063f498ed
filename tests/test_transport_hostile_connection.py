"""The connection layer of the lean async transport (ALPN, IDNA hosts, Happy Eyeballs, idle connections the server
closed) and what the SDK does around any transport (requests it cannot send, user agents, a call's deadline).
The D<n>/S<n> in a test's name is the defect of issue 12 it pins; ``test_transport_hostile.py`` has the framing."""

from __future__ import annotations

import contextlib
import gzip
import os
import socket
import ssl
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import trustme

import botconnect
import botconnect_aio
from botconnect._core.pipeline import take_plain_body
from botconnect.errors import ServiceRequestError, ServiceResponseTimeoutError
from botconnect.models import Activity
from botconnect_aio._transport import AsyncHTTP11Transport

from .rawhttp import Peer, PeerClosed, RawServer, keep_alive, response
from .test_async_transport import client_sockets, needs_proc

TIMEOUT = httpx.Timeout(5.0)
IDNA_HOST = "faß.de"
IDNA_ASCII = "xn--fa-hia.de"  # IDNA 2008 (and what httpx sends as Host); IDNA 2003 would make it "fass.de"


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def server_context(ca: trustme.CA, *names: str, alpn: list[str] | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(context)
    if alpn is not None:
        context.set_alpn_protocols(alpn)
    return context


def tls(context: ssl.SSLContext, seen: list[str | None] | None = None) -> Callable[[Peer], None]:
    """Wraps each accepted socket in TLS, records the protocol ALPN chose, then answers as keep_alive does."""

    def handle(peer: Peer) -> None:
        try:
            peer.sock = context.wrap_socket(peer.sock, server_side=True)
        except (ssl.SSLError, OSError):
            return
        if seen is not None:
            seen.append(peer.sock.selected_alpn_protocol())
        with contextlib.suppress(PeerClosed, ssl.SSLError, OSError):  # a client that gave up on this connection
            keep_alive(peer)

    return handle


def build(method: str, url: str, **kwargs: Any) -> httpx.Request:
    kwargs.setdefault("extensions", {"timeout": TIMEOUT.as_dict()})
    return httpx.Request(method, url, **kwargs)


async def call(transport: httpx.AsyncBaseTransport, request: httpx.Request) -> tuple[httpx.Response, bytes]:
    reply = await transport.handle_async_request(request)
    try:
        return reply, await reply.aread()
    finally:
        await reply.aclose()


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[tuple[str, int]]]:
    """Names the test maps to addresses; every name the process resolves is recorded under ``"asked"``."""
    table: dict[str, list[tuple[str, int]]] = {"asked": []}
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name in ("127.0.0.1", "localhost", None):
            return real(host, port, *args, **kwargs)
        table["asked"].append((name, 0))
        if name not in table:
            raise socket.gaierror(socket.EAI_NONAME, f"no such test host {name!r}")
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", address) for address in table[name]]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return table


# -- D15 ALPN --------------------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_d15_our_tls_context_offers_only_http_1_1(
    ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    seen: list[str | None] = []
    with RawServer(tls(server_context(ca, "localhost", alpn=["h2", "http/1.1"]), seen)) as server:
        async with AsyncHTTP11Transport() as transport:
            _, data = await call(transport, build("GET", f"https://localhost:{server.port}/a"))
    assert data == b"/a"
    assert seen == ["http/1.1"]


@pytest.mark.anyio
async def test_d15_negotiated_h2_is_refused_at_once(ca: trustme.CA, client_context: ssl.SSLContext) -> None:
    """A caller's context offering h2 to a server that takes it: HTTP/1.1 on that connection would hang."""
    client_context.set_alpn_protocols(["h2", "http/1.1"])
    seen: list[str | None] = []
    with RawServer(tls(server_context(ca, "localhost", alpn=["h2", "http/1.1"]), seen)) as server:
        async with AsyncHTTP11Transport(ssl_context=client_context) as transport:
            request = build("GET", f"https://localhost:{server.port}/", extensions={"timeout": {"read": 30.0}})
            with anyio.fail_after(10), pytest.raises(httpx.UnsupportedProtocol, match="h2"):
                await call(transport, request)
    assert seen == ["h2"]
    assert server.requests == []


# -- D16 IDNA hosts --------------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_d16_connect_and_sni_use_the_idna_2008_host(
    ca: trustme.CA, client_context: ssl.SSLContext, resolver: dict[str, list[tuple[str, int]]]
) -> None:
    names: list[str] = []
    context = server_context(ca, IDNA_ASCII)
    context.sni_callback = lambda _sock, name, _context: names.append(name) or None  # type: ignore[func-returns-value]
    with RawServer(tls(context)) as server:
        resolver[IDNA_ASCII] = [("127.0.0.1", server.port)]
        async with AsyncHTTP11Transport(ssl_context=client_context) as transport:
            reply, data = await call(transport, build("GET", f"https://{IDNA_HOST}:{server.port}/idna"))
    assert (reply.status_code, data) == (200, b"/idna")
    assert {name for name, _ in resolver["asked"]} == {IDNA_ASCII}
    assert names == [IDNA_ASCII]
    assert server.requests[0].header(b"Host") == f"{IDNA_ASCII}:{server.port}".encode()


# -- D17 Happy Eyeballs ----------------------------------------------------------------------------------------------


@contextlib.contextmanager
def blackhole(host: str, port: int) -> Iterator[tuple[str, int]]:
    """An address whose SYNs are dropped: a listener that never accepts, its backlog full (Linux)."""
    with socket.create_server((host, port), backlog=0) as listener:
        address = listener.getsockname()
        fillers: list[socket.socket] = []
        try:
            for _ in range(20):
                filler = socket.socket()
                fillers.append(filler)
                filler.settimeout(0.5)
                try:
                    filler.connect(address)
                except TimeoutError:
                    break
            else:
                pytest.skip("could not fill the listen backlog")
            yield address
        finally:
            for filler in fillers:
                filler.close()


@pytest.mark.skipif(not os.path.isdir("/proc/sys/net"), reason="relies on Linux dropping SYNs to a full backlog")
@pytest.mark.anyio
async def test_d17_a_blackholed_first_address_does_not_cost_the_connect_timeout(
    resolver: dict[str, list[tuple[str, int]]],
) -> None:
    """The first address never answers; the second is tried after the Happy Eyeballs delay (0.25 s), well
    inside the connect timeout, instead of after it. Both addresses on loopback, same port (anyio keeps the
    URL's port), so nothing leaves the machine."""
    with RawServer(keep_alive) as server, blackhole("127.0.0.2", server.port) as dead:
        resolver["eyeballs.test"] = [dead, ("127.0.0.1", server.port)]
        async with AsyncHTTP11Transport() as transport:
            url = f"http://eyeballs.test:{server.port}/"
            _, data = await call(transport, build("GET", url, extensions={"timeout": {"connect": 5.0, "read": 5.0}}))
    assert data == b"/"


# -- D18 idle connections the server closed --------------------------------------------------------------------------


@needs_proc
@pytest.mark.anyio
async def test_d18_idle_connection_closed_by_the_server_is_closed_without_another_call() -> None:
    closed = threading.Event()

    def handler(peer: Peer) -> None:
        assert peer.read_request() is not None
        peer.send(response(200, b"once"))
        peer.close()  # an idle timeout on the server
        closed.set()

    with RawServer(handler) as server:
        async with AsyncHTTP11Transport(keepalive_expiry=60) as transport:
            _, data = await call(transport, build("GET", server.url + "/"))
            assert data == b"once"
            assert await anyio.to_thread.run_sync(closed.wait, 10)
            for _ in range(200):  # in CLOSE_WAIT until the client closes its side
                if not client_sockets(server.port):
                    break
                await anyio.sleep(0.05)
            assert client_sockets(server.port) == 0


# -- uvloop (what uvicorn runs a bot on) ----------------------------------------------------------------------------


def test_the_asyncio_wire_runs_on_uvloop() -> None:
    """uvloop's transports are not asyncio.Transport subclasses and its create_connection has no Happy Eyeballs
    keyword: both once broke every call made from a bot served by uvicorn."""
    uvloop = pytest.importorskip("uvloop")
    never = threading.Event()

    def handler(peer: Peer) -> None:
        while (request := peer.read_request()) is not None:
            if request.target == b"/silent":
                never.wait(10)
                return
            peer.send(response(200, request.target))

    async def main() -> list[bytes]:
        async with AsyncHTTP11Transport() as transport:
            bodies = [(await call(transport, build("GET", server.url + f"/{i}")))[1] for i in range(3)]
            silent = build("GET", server.url + "/silent", extensions={"timeout": {"read": 0.2}})
            with pytest.raises(httpx.ReadTimeout):
                await call(transport, silent)
            never.set()
            return bodies

    with RawServer(handler) as server:
        assert uvloop.run(main()) == [b"/0", b"/1", b"/2"]
    assert server.accepted == 1  # kept alive throughout


# -- without httptools -------------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_without_httptools_requests_go_to_httpx_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where no httptools wheel could be installed the pool steps aside for httpx's own (h11), same limits."""
    from botconnect_aio import _transport

    monkeypatch.setattr(_transport, "_FRAMING", False)
    with RawServer(keep_alive) as server:
        async with AsyncHTTP11Transport(max_connections=3, keepalive_expiry=7.0) as transport:
            _, first = await call(transport, build("GET", server.url + "/1"))
            _, second = await call(transport, build("GET", server.url + "/2"))
            assert isinstance(transport._fallback, httpx.AsyncHTTPTransport)
            assert repr(transport).startswith("<AsyncHTTP11Transport in_flight=0 idle=0 ")  # its own pool unused
    assert (first, second) == (b"/1", b"/2")
    assert server.accepted == 1  # httpx's pool kept the connection alive


def test_transport_imports_without_httptools() -> None:
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['httptools'] = None\n"
        "import botconnect_aio._transport as t\n"
        "assert t._FRAMING is False, t._FRAMING\n"
        "assert 'botconnect._core.http11' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# -- S1 / S2: requests the SDK cannot send ---------------------------------------------------------------------------


@pytest.mark.parametrize("agent", ["my-bot\r\nX-Injected: 1", "my-bot\x00", " padded", "bot/1.0 \n"])
@pytest.mark.parametrize("package", [botconnect, botconnect_aio])
def test_s1_user_agent_that_cannot_be_sent_is_refused_at_construction(agent: str, package: Any) -> None:
    with pytest.raises(ValueError, match="user_agent"):
        package.ConnectorClient("https://smba.example.com", user_agent=agent)


@pytest.mark.parametrize("agent", ["bötconnect-app/1.0", "app/1 ✓"])
@pytest.mark.parametrize("package", [botconnect, botconnect_aio])
def test_s2_non_ascii_user_agent_is_refused_at_construction(agent: str, package: Any) -> None:
    with pytest.raises(ValueError, match="ASCII"):
        package.ConnectorClient("https://smba.example.com", user_agent=agent)


def test_s1_s2_printable_user_agent_prefixes_the_default() -> None:
    client = botconnect.ConnectorClient("https://smba.example.com", user_agent="contoso-bot/2.1 (+ops)")
    with client:
        assert client._pipeline.config.user_agent.startswith("contoso-bot/2.1 (+ops) botconnect-python/")


class BadToken:
    """A credential whose token cannot go in a header: every attempt would fail the same way."""

    def get_token(self, *scopes: str) -> str:
        return "tok\x00en"


class Counting(httpx.AsyncBaseTransport, httpx.BaseTransport):
    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        return await self.inner.handle_async_request(request)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        return self.inner.handle_request(request)  # type: ignore[no-any-return]


@pytest.mark.anyio
async def test_s1_local_protocol_error_is_not_retried_async() -> None:
    with RawServer(keep_alive) as server:
        transport = Counting(AsyncHTTP11Transport())
        async with botconnect_aio.ConnectorClient(server.url, BadToken(), transport=transport) as client:
            with pytest.raises(ServiceRequestError, match="could not send"):
                await client.conversations.send_to_conversation("c", Activity(type="message", text="hi"))
        await transport.inner.aclose()
    assert transport.calls == 1
    assert server.accepted == 0


def test_s1_local_protocol_error_is_not_retried_sync() -> None:
    with RawServer(keep_alive) as server:
        transport = Counting(botconnect.HTTP11Transport())
        with (
            botconnect.ConnectorClient(server.url, BadToken(), transport=transport) as client,
            pytest.raises(ServiceRequestError, match="could not send"),
        ):
            client.conversations.send_to_conversation("c", Activity(type="message", text="hi"))
        transport.inner.close()
    assert transport.calls == 1


# -- S3: a deadline for the whole call -------------------------------------------------------------------------------


def dripping(peer: Peer) -> None:
    """Answers with a head and then one byte of its body every 50 ms: no single read ever times out."""
    if peer.read_request() is None:
        return
    try:
        peer.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
        for _ in range(1000):
            peer.send(b" ")
            time.sleep(0.05)
    except OSError:
        pass  # the client gave up


@pytest.mark.anyio
async def test_s3_deadline_ends_a_drip_fed_call_async() -> None:
    with RawServer(dripping) as server:
        async with botconnect_aio.ConnectorClient(server.url, timeout=5.0) as client:
            with anyio.fail_after(20), pytest.raises(ServiceResponseTimeoutError, match="deadline"):
                await client.conversations.get_conversation_members("c", deadline=0.5)


def test_s3_deadline_ends_a_drip_fed_call_sync() -> None:
    with (
        RawServer(dripping) as server,
        botconnect.ConnectorClient(server.url, timeout=5.0) as client,
        pytest.raises(ServiceResponseTimeoutError, match="deadline"),
    ):
        client.conversations.get_conversation_members("c", deadline=0.5)
    assert server.accepted == 1  # not retried: the deadline was the call's


@pytest.mark.parametrize("value", [0, -1, "1", True, float("nan")])
def test_s3_deadline_must_be_a_positive_number(value: Any) -> None:
    with (
        RawServer(keep_alive) as server,
        botconnect.ConnectorClient(server.url) as client,
        pytest.raises(ValueError, match="deadline"),
    ):
        client.conversations.get_conversation_members("c", deadline=value)
    assert server.accepted == 0


# -- the async driver's shortcut for bodies already in memory --------------------------------------------------------


@pytest.mark.parametrize("body", [b"", b'{"id":"1"}', bytes(range(256)) * 40])
def test_take_plain_body_gives_what_read_gives(body: bytes) -> None:
    def make(headers: list[tuple[bytes, bytes]]) -> httpx.Response:
        return httpx.Response(200, headers=headers, stream=httpx.ByteStream(body), request=httpx.Request("GET", "/"))

    headers = [(b"Content-Type", b"application/json"), (b"Content-Length", b"%d" % len(body))]
    taken, read = make(headers), make(headers)
    assert take_plain_body(taken)
    read.read()
    assert (taken.content, taken.text, taken.is_stream_consumed, taken.is_closed) == (
        read.content,
        read.text,
        read.is_stream_consumed,
        read.is_closed,
    )


def test_take_plain_body_leaves_encoded_and_streamed_bodies_to_httpx() -> None:
    compressed = gzip.compress(b"hello")
    encoded = httpx.Response(200, headers={"Content-Encoding": "gzip"}, stream=httpx.ByteStream(compressed))
    assert not take_plain_body(encoded)
    assert encoded.read() == b"hello"  # httpx undoes the coding

    class Streamed(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            yield b"x"

    assert not take_plain_body(httpx.Response(200, stream=Streamed()))
