"""The lean async transport against hostile servers and crafted requests, with h11 as the reference.

Each response case is a raw-socket server (``tests/rawhttp.py``) sending exactly the crafted bytes; each request case
is checked on the server side (what arrived, how many requests it made). Most cases run twice: on our transport and
on httpx's own (``httpx.AsyncHTTPTransport``: httpcore on h11): where h11 refuses a protocol violation we refuse it
too, with the same httpx error type, and where h11 accepts (obs-fold, bare LF) we accept. Both on asyncio and trio.
The D<n> in a test's name is the defect of issue 12 it pins.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import anyio
import h11
import httpx
import pytest

from botconnect_aio._transport import AsyncHTTP11Transport

from .rawhttp import Peer, PeerClosed, RawServer, keep_alive, response, wait_for

pytestmark = pytest.mark.anyio

TIMEOUT = httpx.Timeout(5.0)
SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: evil\r\n\r\n"


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["ours", "h11"])
def make(request: pytest.FixtureRequest) -> Callable[[], httpx.AsyncBaseTransport]:
    """Our transport, or httpx's own (the h11 reference)."""
    if request.param == "ours":
        return AsyncHTTP11Transport
    return httpx.AsyncHTTPTransport


@contextlib.contextmanager
def refused_locally(make: Callable[[], httpx.AsyncBaseTransport]) -> Iterator[None]:
    """``httpx.LocalProtocolError`` from ours; the reference may let h11's own error escape (httpcore does not
    map the errors of a body it is sending)."""
    with pytest.raises((httpx.LocalProtocolError, h11.LocalProtocolError)) as caught:
        yield
    if make is AsyncHTTP11Transport:
        assert isinstance(caught.value, httpx.LocalProtocolError)


def build(method: str, url: str, **kwargs: Any) -> httpx.Request:
    kwargs.setdefault("extensions", {"timeout": TIMEOUT.as_dict()})
    return httpx.Request(method, url, **kwargs)


async def call(transport: httpx.AsyncBaseTransport, request: httpx.Request) -> tuple[httpx.Response, bytes]:
    reply = await transport.handle_async_request(request)
    try:
        body = b"".join([part async for part in reply.stream])  # type: ignore[union-attr]
    finally:
        await reply.aclose()
    return reply, body


def answers_first(answer: bytes) -> Callable[[Peer], None]:
    """The first connection gets ``answer`` to its first request (then the server waits for the client to close);
    later connections answer every request with its target."""

    def handler(peer: Peer) -> None:
        if peer.index == 0:
            if peer.read_request() is not None:
                peer.send(answer)
                peer.wait_eof()
        else:
            keep_alive(peer)

    return handler


def tolerant(peer: Peer) -> None:
    """keep_alive, for a client that may give up half-way through a request it was refused to finish."""
    with contextlib.suppress(PeerClosed):
        keep_alive(peer)


async def body_of(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


# -- requests: nothing may reach the server as a second request -----------------------------------------------------


async def test_d1_explicit_chunked_bytes_body_is_framed_chunked(make: Callable[[], httpx.AsyncBaseTransport]) -> None:
    content = b"0\r\n\r\n" + SMUGGLED  # read raw under "chunked", this would end the body and smuggle a request
    with RawServer(keep_alive) as server:
        async with make() as transport:
            request = build("POST", server.url + "/up", content=content, headers={"Transfer-Encoding": "chunked"})
            _, data = await call(transport, request)
    assert data == b"/up"
    [received] = server.requests
    assert received.body == content
    assert received.header(b"Transfer-Encoding") == b"chunked"


@pytest.mark.parametrize("streamed", [False, True])
async def test_d2_body_longer_than_its_content_length_is_refused(
    make: Callable[[], httpx.AsyncBaseTransport], streamed: bool, anyio_backend: str
) -> None:
    if make is not AsyncHTTP11Transport and anyio_backend == "trio":
        pytest.skip("httpcore leaves the refused body's generator to the garbage collector, which trio reports")
    parts = (b"abc", SMUGGLED)
    content: bytes | AsyncIterator[bytes] = body_of(*parts) if streamed else b"".join(parts)
    with RawServer(tolerant) as server:
        async with make() as transport:
            request = build("POST", server.url + "/up", content=content, headers={"Content-Length": "3"})
            with refused_locally(make):
                await call(transport, request)
            _, data = await call(transport, build("GET", server.url + "/after"))
    assert data == b"/after"
    assert b"/smuggled" not in [received.target for received in server.requests]


@pytest.mark.parametrize("streamed", [False, True])
async def test_d2_body_shorter_than_its_content_length_is_refused(
    make: Callable[[], httpx.AsyncBaseTransport], streamed: bool
) -> None:
    """Refused at once, not left to the read timeout while the server waits for the rest."""
    content: bytes | AsyncIterator[bytes] = body_of(b"abc") if streamed else b"abc"
    with RawServer(tolerant) as server:
        async with make() as transport:
            request = build(
                "POST",
                server.url + "/up",
                content=content,
                headers={"Content-Length": "10"},
                extensions={"timeout": httpx.Timeout(30.0).as_dict()},
            )
            with anyio.fail_after(10), refused_locally(make):
                await call(transport, request)
    assert server.requests == []


@pytest.mark.parametrize("coding", ["gzip, chunked", "gzip", "identity"])
async def test_d3_streamed_body_with_another_transfer_coding_is_refused(
    make: Callable[[], httpx.AsyncBaseTransport], coding: str
) -> None:
    with RawServer(keep_alive) as server:
        async with make() as transport:
            request = build("POST", server.url + "/up", content=body_of(b"raw"), headers={"Transfer-Encoding": coding})
            with refused_locally(make):
                await call(transport, request)
    assert server.requests == []


@pytest.mark.parametrize("method", ["GET / HTTP/1.1\r\nHost: evil\r\n\r\nGET", "GET\x00", "GET /x"])
async def test_d4_method_must_be_a_token(make: Callable[[], httpx.AsyncBaseTransport], method: str) -> None:
    with RawServer(keep_alive) as server:
        async with make() as transport:
            with refused_locally(make):
                await call(transport, build(method, server.url + "/"))
    assert server.requests == []


@pytest.mark.parametrize(
    "header",
    [
        (b"Authorization", b"Bearer tok\x00"),
        (b"X-Value", b"a\nX-Injected: 1"),
        (b"Bad Name", b"1"),
        (b"X-Padded", b" value"),
        (b"X-Padded", b"value "),
    ],
)
async def test_d5_header_h11_refuses_is_refused(
    make: Callable[[], httpx.AsyncBaseTransport], header: tuple[bytes, bytes]
) -> None:
    with RawServer(keep_alive) as server:
        async with make() as transport:
            with refused_locally(make):
                await call(transport, build("GET", server.url + "/", headers=[header]))
            _, data = await call(transport, build("GET", server.url + "/after"))
    assert data == b"/after"
    assert [received.target for received in server.requests] == [b"/after"]


@pytest.mark.parametrize("value", [b"a\x01b", b"a\x1bb", b"a\x7fb"])
async def test_d5_control_characters_are_refused_even_where_h11_sends_them(value: bytes) -> None:
    with RawServer(keep_alive) as server:
        async with AsyncHTTP11Transport() as transport:
            with pytest.raises(httpx.LocalProtocolError):
                await call(transport, build("GET", server.url + "/", headers=[(b"X-Control", value)]))
    assert server.requests == []


# -- responses h11 refuses ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\n", id="D6-5000-digits"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: " + b"1" * 30 + b"\r\n\r\n", id="D6-30-digits"),
        pytest.param(b"HTTP/1.1 099 Odd\r\nContent-Length: 2\r\n\r\nhi", id="D7-099"),
        pytest.param(b"HTTP/1.1 000 Odd\r\nContent-Length: 2\r\n\r\nhi", id="D7-000"),
        pytest.param(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n", id="D8-gzip"),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
            id="D8-chunked-then-gzip",
        ),
        pytest.param(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\nhi", id="D8-identity"),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            id="D8-twice",
        ),
        pytest.param(b"HTTP/1.1 200 OK\r\nX-Nul: a\x00b\r\nContent-Length: 0\r\n\r\n", id="D9-nul"),
        pytest.param(b"HTTP/1.1 200 OK\r\nX-Cr: a\rb\r\nContent-Length: 0\r\n\r\n", id="D9-bare-cr"),
        pytest.param(b"HTTP/1.1 200 OK\r\nBad Name: 1\r\nContent-Length: 0\r\n\r\n", id="D9-space-in-name"),
        pytest.param(b"HTTP/1.1 200 OK\r\nX-A : 1\r\nContent-Length: 0\r\n\r\n", id="D9-space-before-colon"),
    ],
)
async def test_response_h11_refuses_is_refused(make: Callable[[], httpx.AsyncBaseTransport], answer: bytes) -> None:
    with RawServer(answers_first(answer)) as server:
        async with make() as transport:
            with pytest.raises(httpx.RemoteProtocolError):
                await call(transport, build("GET", server.url + "/1"))
            await wait_for(server.peers[0].eof)  # the connection was dropped, not kept
            _, data = await call(transport, build("GET", server.url + "/2"))
    assert data == b"/2"
    assert server.accepted == 2


# -- keep-alive decisions -------------------------------------------------------------------------------------------


async def test_d10_connection_close_in_the_request_ends_the_connection(
    make: Callable[[], httpx.AsyncBaseTransport],
) -> None:
    """RFC 9112 9.6: after sending Connection: close a client MUST NOT send another request on it."""
    with RawServer(keep_alive) as server:
        async with make() as transport:
            await call(transport, build("GET", server.url + "/1", headers={"Connection": "close"}))
            await wait_for(server.peers[0].eof)
            _, data = await call(transport, build("GET", server.url + "/2"))
    assert data == b"/2"
    assert server.accepted == 2
    assert [received.target for received in server.peers[0].requests] == [b"/1"]


async def test_d11_http_1_0_response_with_transfer_encoding_ends_the_connection(
    make: Callable[[], httpx.AsyncBaseTransport],
) -> None:
    answer = b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nbye\r\n0\r\n\r\n"
    with RawServer(answers_first(answer)) as server:
        async with make() as transport:
            _, data = await call(transport, build("GET", server.url + "/1"))
            assert data == b"bye"
            await wait_for(server.peers[0].eof)
            assert (await call(transport, build("GET", server.url + "/2")))[1] == b"/2"
    assert server.accepted == 2


# -- responses h11 accepts ------------------------------------------------------------------------------------------


async def test_d12_obs_fold_is_unfolded(make: Callable[[], httpx.AsyncBaseTransport]) -> None:
    answer = b"HTTP/1.1 200 OK\r\nX-Folded: first\r\n  second\r\n\tthird\r\nContent-Length: 2\r\n\r\nok"
    with RawServer(answers_first(answer)) as server:
        async with make() as transport:
            reply, data = await call(transport, build("GET", server.url + "/1"))
    assert (reply.status_code, data, reply.headers["x-folded"]) == (200, b"ok", "first second third")


@pytest.mark.parametrize("piecewise", [False, True])
async def test_d13_bare_lf_line_endings_are_read(make: Callable[[], httpx.AsyncBaseTransport], piecewise: bool) -> None:
    answer = b"HTTP/1.1 200 OK\nContent-Type: text/plain\nContent-Length: 5\n\nhello"

    def handler(peer: Peer) -> None:
        while (request := peer.read_request()) is not None:
            if piecewise:
                peer.send_slowly(answer, piece=4)
            else:
                peer.send(answer)
            del request

    with RawServer(handler) as server:
        async with make() as transport:
            with anyio.fail_after(10):
                first, data = await call(transport, build("GET", server.url + "/1"))
                _, again = await call(transport, build("GET", server.url + "/2"))
    assert (first.status_code, first.headers["content-type"], data, again) == (200, "text/plain", b"hello", b"hello")
    assert server.accepted == 1


async def test_d14_chunked_body_with_extra_bytes_in_the_same_read() -> None:
    """The body is the caller's; the bytes after it (a second response nobody asked for) cost the connection.
    (httpcore is not the reference here: it would read those bytes as the answer to the next request.)"""
    answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + (
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nsmug!"
    )
    with RawServer(answers_first(answer)) as server:
        async with AsyncHTTP11Transport() as transport:
            reply, data = await call(transport, build("GET", server.url + "/1"))
            assert (reply.status_code, data) == (200, b"hello")
            await wait_for(server.peers[0].eof)
            assert (await call(transport, build("GET", server.url + "/2")))[1] == b"/2"
    assert server.accepted == 2


async def test_d14_chunked_body_followed_by_garbage_in_a_later_read() -> None:
    sent = threading.Event()

    def handler(peer: Peer) -> None:
        if peer.index == 0:
            assert peer.read_request() is not None
            peer.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel")
            assert sent.wait(10)
            peer.send(b"lo\r\n0\r\n\r\nxyz")
            peer.wait_eof()
        else:
            keep_alive(peer)

    with RawServer(handler) as server:
        async with AsyncHTTP11Transport() as transport:
            reply = await transport.handle_async_request(build("GET", server.url + "/1"))
            sent.set()
            assert await reply.aread() == b"hello"
            await wait_for(server.peers[0].eof)
            assert (await call(transport, build("GET", server.url + "/2")))[1] == b"/2"
    assert server.accepted == 2


async def test_interim_responses_and_head_still_keep_the_connection() -> None:
    """What the new framing must keep doing: 1xx skipped, HEAD's Content-Length not read as a body."""
    answers = iter(
        [
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n",
            response(200, b"last"),
        ]
    )
    with RawServer(lambda peer: peer.serve(lambda request: next(answers))) as server:
        async with AsyncHTTP11Transport() as transport:
            assert (await call(transport, build("POST", server.url + "/1", content=b"x")))[1] == b"hi"
            head, data = await call(transport, build("HEAD", server.url + "/2"))
            assert (head.headers["content-length"], data) == ("1234", b"")
            assert (await call(transport, build("GET", server.url + "/3")))[1] == b"last"
    assert server.accepted == 1
