"""The lean async HTTP/1.1 transport against raw TCP servers on 127.0.0.1, on asyncio and on trio.

Each test's server (``tests/rawhttp.py``) answers with exactly the bytes the test chose and records exactly the bytes
it received, so what is asserted is what went over the wire. The server also counts the connections it accepted,
which is how connection reuse (or its absence) is checked, and notices when the client closes a connection.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import struct
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest

import botconnect_aio
from botconnect.models import Activity, ChannelAccount
from botconnect_aio._transport import AsyncHTTP11Transport, default_transport

from .rawhttp import Peer, RawServer, Received, keep_alive, response, wait_for

pytestmark = pytest.mark.anyio

TIMEOUT = httpx.Timeout(10.0)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def build(method: str, url: str, **kwargs: Any) -> httpx.Request:
    """A request as the transport gets it from a client: with the client's timeouts."""
    kwargs.setdefault("extensions", {"timeout": TIMEOUT.as_dict()})
    return httpx.Request(method, url, **kwargs)


async def call(transport: httpx.AsyncBaseTransport, request: httpx.Request) -> tuple[httpx.Response, bytes]:
    reply = await transport.handle_async_request(request)
    try:
        body = b"".join([part async for part in reply.stream])  # type: ignore[union-attr]
    finally:
        await reply.aclose()
    return reply, body


def client(transport: httpx.AsyncBaseTransport, **kwargs: Any) -> httpx.AsyncClient:
    kwargs.setdefault("timeout", TIMEOUT)
    return httpx.AsyncClient(transport=transport, **kwargs)


def client_sockets(port: int) -> int:
    """This process's open TCP sockets whose peer is 127.0.0.1:``port`` (the client's side of its connections)."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    remote = f"0100007F:{port:04X}"
    with open("/proc/net/tcp") as table:
        rows = [row.split() for row in table.read().splitlines()[1:]]
    return sum(1 for row in rows if row[2] == remote and row[9] in inodes)


needs_proc = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts sockets through /proc")


# -- what goes on the wire -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 11, 64 * 1024, 64 * 1024 + 1, 300_000])
async def test_bytes_body_on_the_wire(size: int) -> None:
    body = bytes(i % 251 for i in range(size))

    def answer(request: Received) -> bytes:
        return response(201, b"created", "X-Reply: 1", reason="Created Here")

    with RawServer(lambda peer: peer.serve(answer)) as server:
        async with AsyncHTTP11Transport() as transport:
            request = build(
                "POST",
                server.url + "/v3/a%20b?x=1&y=%C3%A9&z",
                content=body,
                headers={"Content-Type": "application/octet-stream", "X-Test": "v"},
            )
            reply, data = await call(transport, request)
    assert (reply.status_code, reply.reason_phrase, data) == (201, "Created Here", b"created")
    assert reply.headers["x-reply"] == "1"
    assert reply.http_version == "HTTP/1.1"
    [received] = server.requests
    assert received.header(b"Host") == b"127.0.0.1:%d" % server.port
    assert received.header(b"Content-Length") == b"%d" % size
    assert received.header(b"X-Test") == b"v"
    # exactly the headers httpx built, in its order and case, and nothing else
    headers = b"".join(name + b": " + value + b"\r\n" for name, value in request.headers.raw)
    assert len(request.headers.raw) == 4
    assert received.raw == b"POST /v3/a%20b?x=1&y=%C3%A9&z HTTP/1.1\r\n" + headers + b"\r\n" + body


async def test_get_without_body_on_the_wire() -> None:
    with RawServer(keep_alive) as server:
        async with AsyncHTTP11Transport() as transport:
            _, data = await call(transport, build("GET", server.url + "/path/?q=%2F"))
    assert data == b"/path/?q=%2F"
    assert server.requests[0].raw == b"GET /path/?q=%%2F HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % server.port


async def test_streamed_body_is_sent_chunked() -> None:
    big = b"0123456789" * 10_000

    async def body() -> AsyncIterator[bytes]:
        yield b"hello"
        yield b""  # an empty part must not end the body early
        yield b" "
        yield big

    with RawServer(lambda peer: peer.serve(lambda request: response(200, request.body[:5]))) as server:
        async with AsyncHTTP11Transport() as transport:
            _, data = await call(transport, build("PUT", server.url + "/up", content=body()))
    assert data == b"hello"
    [received] = server.requests
    assert received.raw == (
        b"PUT /up HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n1\r\n \r\n186a0\r\n%s\r\n0\r\n\r\n" % (server.port, big)
    )
    assert received.body == b"hello " + big


async def test_streamed_body_with_a_content_length_is_sent_as_is() -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b"abc"
        yield b"defg"

    with RawServer(keep_alive) as server:
        async with AsyncHTTP11Transport() as transport:
            await call(transport, build("POST", server.url + "/", content=body(), headers={"Content-Length": "7"}))
    assert server.requests[0].raw == (
        b"POST / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Length: 7\r\n\r\nabcdefg" % server.port
    )


async def test_multipart_upload_on_the_wire(tmp_path: Path) -> None:
    upload = tmp_path / "big.bin"
    content = os.urandom(200_000)
    upload.write_bytes(content)
    with RawServer(lambda peer: peer.serve(lambda request: response(200, b"%d" % len(request.body)))) as server:
        async with AsyncHTTP11Transport() as transport, client(transport) as http:
            with upload.open("rb") as file:
                reply = await http.post(
                    server.url + "/upload",
                    data={"field": "välue"},
                    files={"small": ("a.txt", b"small data", "text/plain"), "big": ("big.bin", file)},
                )
                expected = b"".join(reply.request.stream)  # type: ignore[arg-type]  # multipart streams re-iterate
    [received] = server.requests
    assert reply.status_code == 200
    content_type = received.header(b"Content-Type")
    assert content_type is not None
    assert content_type.startswith(b"multipart/form-data; boundary=")
    boundary = content_type.split(b"boundary=")[1]
    assert received.body == expected
    assert reply.text == str(len(expected))
    length = received.header(b"Content-Length")
    framing = b"chunked" if length is None else length
    assert framing in (b"chunked", b"%d" % len(expected))
    parts = received.body.split(b"--" + boundary)
    assert parts[0] == b""
    assert parts[-1] == b"--\r\n"
    assert b'name="field"\r\n\r\nv\xc3\xa4lue\r\n' in parts[1]
    assert b'filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nsmall data\r\n' in parts[2]
    assert parts[3].endswith(b"\r\n\r\n" + content + b"\r\n")


async def test_header_injection_is_refused_and_nothing_is_sent() -> None:
    with RawServer(keep_alive) as server:
        async with AsyncHTTP11Transport(max_connections=1) as transport:
            with pytest.raises(httpx.LocalProtocolError):
                await call(transport, build("GET", server.url + "/", headers={"X-A": "1\r\nX-Injected: 1"}))
            _, data = await call(transport, build("GET", server.url + "/after"))  # the slot was released
    assert data == b"/after"
    assert [request.target for request in server.requests] == [b"/after"]


# -- connection reuse ------------------------------------------------------------------------------------------------


async def test_keep_alive_connection_is_reused() -> None:
    with RawServer(keep_alive) as server:
        async with AsyncHTTP11Transport() as transport, client(transport) as http:
            bodies = [(await http.get(server.url + f"/{i}")).content for i in range(4)]
            head = await http.head(server.url + "/head")
            post = await http.post(server.url + "/post", content=b"x" * 100)
    assert bodies == [b"/0", b"/1", b"/2", b"/3"]
    assert (head.status_code, head.content, post.content) == (200, b"", b"/post")
    assert server.accepted == 1
    assert [request.target for request in server.peers[0].requests] == [b"/0", b"/1", b"/2", b"/3", b"/head", b"/post"]


async def test_no_body_responses_keep_the_connection() -> None:
    answers = iter(
        [
            response(204, b"", reason="No Content"),
            b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\nETag: x\r\n\r\n",  # the length is the GET's
            b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n",  # the answer to a HEAD
            response(200, b"last"),
        ]
    )
    with RawServer(lambda peer: peer.serve(lambda request: next(answers))) as server:
        async with AsyncHTTP11Transport() as transport, client(transport) as http:
            first = await http.delete(server.url + "/1")
            second = await http.get(server.url + "/2")
            third = await http.head(server.url + "/3")
            fourth = await http.get(server.url + "/4")
    assert [(r.status_code, r.content) for r in (first, second, third, fourth)] == [
        (204, b""),
        (304, b""),
        (200, b""),
        (200, b"last"),
    ]
    assert server.accepted == 1


@pytest.fixture
def many_open_files() -> Iterator[None]:
    """Enough descriptors held open that the sockets opened next have numbers above select()'s FD_SETSIZE."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 1200
    if soft < wanted + 100:
        if hard != resource.RLIM_INFINITY and hard < wanted + 100:
            pytest.skip("not enough file descriptors allowed")
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted + 100, hard))
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(wanted)]
    try:
        yield
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def test_keep_alive_with_descriptors_above_fd_setsize(many_open_files: None) -> None:
    with RawServer(keep_alive) as server:
        async with AsyncHTTP11Transport() as transport, client(transport) as http:
            bodies = [(await http.get(server.url + f"/{i}")).content for i in range(3)]
    assert bodies == [b"/0", b"/1", b"/2"]
    assert server.accepted == 1


@pytest.mark.parametrize("size", [5, 1024 * 1024])
async def test_idle_connection_closed_by_the_server_is_not_reused(size: int) -> None:
    body = b"x" * size
    closed = threading.Event()

    def handler(peer: Peer) -> None:
        if peer.index == 0:
            request = peer.read_request()
            assert request is not None
            peer.send(response(200, body))  # keep-alive by default, then closed anyway (an idle timeout)
            peer.close()
            closed.set()
        else:
            keep_alive(peer)

    with RawServer(handler) as server:
        async with AsyncHTTP11Transport() as transport, client(transport) as http:
            assert (await http.get(server.url + "/1")).content == body
            await wait_for(closed)
            assert (await http.get(server.url + "/2")).content == b"/2"
            assert (await http.get(server.url + "/3")).content == b"/3"
    assert server.accepted == 2
    assert [request.target for request in server.peers[1].requests] == [b"/2", b"/3"]


async def test_idle_connection_closed_after_a_body_read_late_is_not_reused() -> None:
    """A body read only after it all arrived (the asyncio wire stops reading past 256 KiB buffered), then closed."""
    body = os.urandom(300_000)
    closed = threading.Event()

    def handler(peer: Peer) -> None:
        if peer.index == 0:
            assert peer.read_request() is not None
            peer.send(response(200, body))
            peer.close()
            closed.set()
        else:
            keep_alive(peer)

    with RawServer(handler) as server:
        async with AsyncHTTP11Transport() as transport:
            reply = await transport.handle_async_request(build("GET", server.url + "/1"))
            await wait_for(closed)
            await anyio.sleep(0.1)  # lets the loop read all it will before the body is consumed
            assert await reply.aread() == body
            _, data = await call(transport, build("GET", server.url + "/2"))  # at once
    assert data == b"/2"
    assert server.accepted == 2


async def test_idle_connection_closed_while_the_loop_was_busy_is_not_reused() -> None:
    """The server closes while the event loop is blocked; the next request comes before the loop runs again."""
    closed = threading.Event()

    def handler(peer: Peer) -> None:
        if peer.index == 0:
            assert peer.read_request() is not None
            peer.send(response(200, b"first"))
            peer.close()
            closed.set()
        else:
            keep_alive(peer)

    with RawServer(handler) as server:
        async with AsyncHTTP11Transport() as transport:
            _, data = await call(transport, build("GET", server.url + "/1"))
            assert data == b"first"
            assert closed.wait(10)  # blocks the loop on purpose: no chance to see the FIN before the next call
            _, data = await call(transport, build("GET", server.url + "/2"))
    assert data == b"/2"
    assert server.accepted == 2


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbye",
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nconnection: keep-alive, Close\r\n\r\nbye",
        b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nbye",
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nbye\r\n0\r\n\r\n",
    ],
)
async def test_response_that_ends_the_connection_is_not_reused(answer: bytes) -> None:
    def handler(peer: Peer) -> None:
        if peer.index == 0:
            assert peer.read_request() is not None
            peer.send(answer)
            assert peer.wait_eof() == b""  # the server leaves it open: the client must close it, unused
        else:
            keep_alive(peer)

    with RawServer(handler) as server:
        async with AsyncHTTP11Transport() as transport, client(transport) as http:
            assert (await http.get(server.url + "/1")).content == b"bye"
            await wait_for(server.peers[0].eof)
            assert (await http.get(server.url + "/2")).content == b"/2"
    assert server.accepted == 2


async def test_http_1_0_keep_alive_response_is_reused() -> None:
    def answer(request: Received) -> bytes:
        return b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: %d\r\n\r\n%s" % (
            len(request.target),
            request.target,
        )

    with RawServer(lambda peer: peer.serve(answer)) as server:
        async with AsyncHTTP11Transport() as transport, client(transport) as http:
            assert (await http.get(server.url + "/1")).content == b"/1"
            assert (await http.get(server.url + "/2")).content == b"/2"
    assert server.accepted == 1


async def test_extra_bytes_after_a_response_make_the_connection_unusable() -> None:
    def handler(peer: Peer) -> None:
        if peer.index == 0:
            assert peer.read_request() is not None
            peer.send(response(200, b"body") + b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nsmug!")
            peer.wait_eof()
        else:
            keep_alive(peer)

    with RawServer(handler) as server:
        async with AsyncHTTP11Transport() as transport, client(transport) as http:
            assert (await http.get(server.url + "/1")).content == b"body"
            assert (await http.get(server.url + "/2")).content == b"/2"
    assert server.accepted == 2


# -- response framing ------------------------------------------------------------------------------------------------


async def test_chunked_response() -> None:
    def handler(peer: Peer) -> None:
        assert peer.read_request() is not None
        peer.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n5;ext=1\r\nhel")
        peer.send(b"lo\r\n")
        peer.send(b"7\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n")
        keep_alive(peer)

    with RawServer(handler) as server:
        async with AsyncHTTP11Transport() as transport, client(transport) as http:
            reply = await http.get(server.url + "/chunked")
            assert (await http.get(server.url + "/again")).content == b"/again"
    assert reply.content == b"hello, world"
    assert reply.headers["content-type"] == "text/plain"
    assert "x-trailer" not in reply.headers
    assert server.accepted == 1  # a chunked response ends cleanly: the connection is reused


async def test_until_close_response() -> None:
    def handler(peer: Peer) -> None:
        if peer.index == 0:
            assert peer.read_request() is not None
            peer.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nno length, ")
            peer.send(b"read until the server closes")
            peer.close()
        else:
            keep_alive(peer)

    with RawServer(handler) as server:
        async with AsyncHTTP11Transport() as transport, client(transport) as http:
            reply = await http.get(server.url + "/1")
            assert (await http.get(server.url + "/2")).content == b"/2"
    assert reply.content == b"no length, read until the server closes"
    assert server.accepted == 2


async def test_interim_responses_are_skipped() -> None:
    def handler(peer: Peer) -> None:
        request = peer.read_request()
        assert request is not None
        peer.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        peer.send(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\n")
        peer.send(b"Content-Length: 5\r\nX-Final: 1\r\n\r\nfinal")
        keep_alive(peer)

    with RawServer(handler) as server:
        async with AsyncHTTP11Transport() as transport, client(transport) as http:
            reply = await http.post(server.url + "/1", content=b"data")
            again = await http.get(server.url + "/2")
    assert (reply.status_code, reply.content, reply.headers["x-final"]) == (200, b"final", "1")
    assert "link" not in reply.headers
    assert again.content == b"/2"
    assert server.accepted == 1


async def test_unexpected_101_is_refused() -> None:
    def handler(peer: Peer) -> None:
        assert peer.read_request() is not None
        peer.send(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
        peer.wait_eof()

    with RawServer(handler) as server:
        async with AsyncHTTP11Transport() as transport:
            with pytest.raises(httpx.RemoteProtocolError, match="101"):
                await call(transport, build("GET", server.url + "/"))
            await wait_for(server.peers[0].eof)


@pytest.mark.parametrize("chunked", [False, True])
async def test_response_arriving_in_many_small_pieces(chunked: bool) -> None:
    body = bytes(range(256)) * 2
    if chunked:
        encoded = b"".join(b"%x\r\n%s\r\n" % (len(body[i : i + 37]), body[i : i + 37]) for i in range(0, 512, 37))
        wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + encoded + b"0\r\n\r\n"
    else:
        wire = response(200, body, "X-Small: pieces")

    def handler(peer: Peer) -> None:
        assert peer.read_request() is not None
        peer.send_slowly(wire, piece=3)
        keep_alive(peer)

    with RawServer(handler) as server:
        async with AsyncHTTP11Transport() as transport, client(transport) as http:
            reply = await http.get(server.url + "/slow")
            assert (await http.get(server.url + "/2")).content == b"/2"
    assert reply.content == body
    assert server.accepted == 1


@pytest.mark.parametrize("chunked", [False, True])
async def test_large_body_read_whole(chunked: bool) -> None:
    body = os.urandom(4 * 1024 * 1024)
    if chunked:
        sizes = [1, 8191, 65536, 300_000, 1_000_000]
        pieces, at = [], 0
        while at < len(body):
            size = sizes[len(pieces) % len(sizes)]
            pieces.append(b"%x\r\n%s\r\n" % (len(body[at : at + size]), body[at : at + size]))
            at += size
        wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"".join(pieces) + b"0\r\n\r\n"
    else:
        wire = response(200, body)
    with RawServer(lambda peer: peer.serve(lambda request: wire)) as server:
        async with AsyncHTTP11Transport() as transport, client(transport) as http:
            first = await http.get(server.url + "/1")
            async with http.stream("GET", server.url + "/2") as streamed:
                digest = hashlib.sha256()
                async for part in streamed.aiter_raw():
                    await anyio.lowlevel.checkpoint()  # a slower consumer than the socket
                    digest.update(part)
            assert (await http.get(server.url + "/3")).content == body
    assert first.content == body
    assert digest.digest() == hashlib.sha256(body).digest()
    assert server.accepted == 1


async def test_streamed_body_closed_early_drops_the_connection_and_frees_the_slot() -> None:
    outcome: list[BaseException] = []
    gone = threading.Event()

    def handler(peer: Peer) -> None:
        if peer.index == 0:
            assert peer.read_request() is not None
            peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (1 << 30))
            try:
                while True:
                    peer.send(b"x" * 65536)
            except OSError as exc:
                outcome.append(exc)
                gone.set()
        else:
            keep_alive(peer)

    with RawServer(handler) as server:
        async with AsyncHTTP11Transport(max_connections=1) as transport:
            reply = await transport.handle_async_request(build("GET", server.url + "/huge"))
            assert reply.headers["content-length"] == str(1 << 30)
            parts = reply.stream.__aiter__()  # type: ignore[union-attr]
            received = 0
            while received <= 200_000:
                received += len(await parts.__anext__())
            await parts.aclose()  # on trio, an inner generator left to the garbage collector would warn
            await reply.aclose()
            await wait_for(gone)
            _, data = await call(transport, build("GET", server.url + "/next"))
    assert data == b"/next"
    assert isinstance(outcome[0], BrokenPipeError | ConnectionResetError)
    assert server.accepted == 2


async def test_streamed_body_closed_early_through_the_client() -> None:
    def handler(peer: Peer) -> None:
        if peer.index == 0:
            assert peer.read_request() is not None
            peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 1000)
            peer.wait_eof()
        else:
            keep_alive(peer)

    with RawServer(handler) as server:
        async with AsyncHTTP11Transport(max_connections=1) as transport, client(transport) as http:
            async with http.stream("GET", server.url + "/huge") as streamed:
                assert streamed.status_code == 200
            await wait_for(server.peers[0].eof)
            assert (await http.get(server.url + "/next")).content == b"/next"
    assert server.accepted == 2


# -- failures --------------------------------------------------------------------------------------------------------


async def test_server_reset_mid_head() -> None:
    def handler(peer: Peer) -> None:
        if peer.index == 0:
            assert peer.read_request() is not None
            peer.send(b"HTTP/1.1 200 OK\r\nContent-Len")
            peer.reset()
        else:
            keep_alive(peer)

    with RawServer(handler) as server:
        async with AsyncHTTP11Transport(max_connections=1) as transport, client(transport) as http:
            with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
                await http.get(server.url + "/1")
            assert (await http.get(server.url + "/2")).content == b"/2"
    assert server.accepted == 2


async def test_server_reset_mid_body() -> None:
    def handler(peer: Peer) -> None:
        if peer.index == 0:
            assert peer.read_request() is not None
            peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
            peer.reset()
        else:
            keep_alive(peer)

    with RawServer(handler) as server:
        async with AsyncHTTP11Transport(max_connections=1) as transport, client(transport) as http:
            with pytest.raises(httpx.ReadError):
                await http.get(server.url + "/1")
            assert (await http.get(server.url + "/2")).content == b"/2"
    assert server.accepted == 2


@pytest.mark.parametrize("sent", [b"", b"HTTP/1.1 200 OK\r\nContent-Len"])
async def test_server_closes_before_the_head_is_complete(sent: bytes) -> None:
    def handler(peer: Peer) -> None:
        if peer.index == 0:
            assert peer.read_request() is not None
            peer.send(sent)
            peer.close()
        else:
            keep_alive(peer)

    with RawServer(handler) as server:
        async with AsyncHTTP11Transport(max_connections=1) as transport, client(transport) as http:
            with pytest.raises(httpx.RemoteProtocolError, match="closed the connection"):
                await http.get(server.url + "/1")
            assert (await http.get(server.url + "/2")).content == b"/2"
    assert server.accepted == 2


@pytest.mark.parametrize("chunked", [False, True])
async def test_server_closes_in_the_middle_of_the_body(chunked: bool) -> None:
    def handler(peer: Peer) -> None:
        if peer.index == 0:
            assert peer.read_request() is not None
            if chunked:
                peer.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n5\r\nwo")
            else:
                peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhellowo")
            peer.close()
        else:
            keep_alive(peer)

    with RawServer(handler) as server:
        async with AsyncHTTP11Transport(max_connections=1) as transport, client(transport) as http:
            with pytest.raises(httpx.RemoteProtocolError, match="before the end of the body"):
                await http.get(server.url + "/1")
            assert (await http.get(server.url + "/2")).content == b"/2"
    assert server.accepted == 2


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/2 200 OK\r\nContent-Length: 0\r\n\r\n",
        b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nBad Header : 1\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n",
    ],
)
async def test_malformed_response_is_a_remote_protocol_error(answer: bytes) -> None:
    def handler(peer: Peer) -> None:
        if peer.index == 0:
            assert peer.read_request() is not None
            peer.send(answer)
            peer.wait_eof()
        else:
            keep_alive(peer)

    with RawServer(handler) as server:
        async with AsyncHTTP11Transport(max_connections=1) as transport, client(transport) as http:
            with pytest.raises(httpx.RemoteProtocolError) as caught:
                await http.get(server.url + "/1")
            assert caught.value.request.url.path == "/1"
            await wait_for(server.peers[0].eof)  # the connection was dropped, not kept
            assert (await http.get(server.url + "/2")).content == b"/2"
    assert server.accepted == 2


async def test_head_too_large_is_refused() -> None:
    def handler(peer: Peer) -> None:
        assert peer.read_request() is not None
        with contextlib.suppress(OSError):  # the client may close before reading it all
            peer.send(b"HTTP/1.1 200 OK\r\n" + b"X-Big: " + b"x" * 200_000 + b"\r\n\r\n")
        peer.wait_eof()

    with RawServer(handler) as server:
        async with AsyncHTTP11Transport() as transport:
            with pytest.raises(httpx.RemoteProtocolError, match="too large"):
                await call(transport, build("GET", server.url + "/"))
            await wait_for(server.peers[0].eof)


async def test_read_timeout_waiting_for_the_head() -> None:
    got = threading.Event()

    def handler(peer: Peer) -> None:
        if peer.index == 0:
            assert peer.read_request() is not None
            got.set()
            assert peer.wait_eof() == b""  # never answers
        else:
            keep_alive(peer)

    with RawServer(handler) as server:
        async with AsyncHTTP11Transport(max_connections=1) as transport, client(transport) as http:
            with pytest.raises(httpx.ReadTimeout):
                await http.get(server.url + "/1", timeout=httpx.Timeout(10.0, read=0.2))
            assert got.is_set()
            await wait_for(server.peers[0].eof)  # the timed-out connection was closed
            assert (await http.get(server.url + "/2")).content == b"/2"
    assert server.accepted == 2


async def test_read_timeout_in_the_body() -> None:
    def handler(peer: Peer) -> None:
        assert peer.read_request() is not None
        peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        peer.wait_eof()

    with RawServer(handler) as server:
        async with AsyncHTTP11Transport() as transport, client(transport) as http:
            with pytest.raises(httpx.ReadTimeout):
                await http.get(server.url + "/1", timeout=httpx.Timeout(10.0, read=0.2))
            await wait_for(server.peers[0].eof)


async def test_write_timeout() -> None:
    stop = threading.Event()

    def handler(peer: Peer) -> None:
        stop.wait(10)  # never reads the request

    with RawServer(handler) as server:
        async with AsyncHTTP11Transport() as transport, client(transport) as http:
            try:
                with pytest.raises(httpx.WriteTimeout):
                    await http.post(
                        server.url + "/", content=b"x" * (64 * 1024 * 1024), timeout=httpx.Timeout(10.0, write=0.3)
                    )
            finally:
                stop.set()


async def test_connect_refused() -> None:
    with socket.socket() as bound:  # bound but not listening: connections to it are refused, and nobody else has it
        bound.bind(("127.0.0.1", 0))
        port = bound.getsockname()[1]
        with RawServer(keep_alive) as server:
            async with AsyncHTTP11Transport(max_connections=1) as transport, client(transport) as http:
                with pytest.raises(httpx.ConnectError) as caught:
                    await http.get(f"http://127.0.0.1:{port}/")
                assert caught.value.request.url.port == port
                assert (await http.get(server.url + "/ok")).content == b"/ok"  # the slot was released


@pytest.mark.skipif(not os.path.isdir("/proc/sys/net"), reason="relies on Linux dropping SYNs to a full backlog")
async def test_connect_timeout() -> None:
    """A listener that never accepts, its backlog full: Linux drops further SYNs, so connecting hangs."""
    with socket.create_server(("127.0.0.1", 0), backlog=0) as listener:
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
                    break  # the backlog is full: this SYN was dropped
            else:
                pytest.skip("could not fill the listen backlog")
            with RawServer(keep_alive) as server:
                async with AsyncHTTP11Transport(max_connections=1) as transport, client(transport) as http:
                    with pytest.raises(httpx.ConnectTimeout):
                        await http.get(f"http://127.0.0.1:{address[1]}/", timeout=httpx.Timeout(10.0, connect=0.3))
                    assert (await http.get(server.url + "/ok")).content == b"/ok"  # the slot was released
        finally:
            for filler in fillers:
                filler.close()


# -- the pool --------------------------------------------------------------------------------------------------------


async def test_pool_limit() -> None:
    both_waiting = threading.Barrier(2, timeout=10)

    def handler(peer: Peer) -> None:
        first = True
        while (request := peer.read_request()) is not None:
            if first:  # two requests must be in flight at once (and never a third, or the barrier breaks)
                both_waiting.wait()
                first = False
            peer.send(response(200, request.target))

    results: dict[int, bytes] = {}
    with RawServer(handler) as server:
        async with AsyncHTTP11Transport(max_connections=2) as transport, client(transport) as http:

            async def one(i: int) -> None:
                results[i] = (await http.get(server.url + f"/{i}")).content

            async with anyio.create_task_group() as group:
                for i in range(5):
                    group.start_soon(one, i)
    assert results == {i: b"/%d" % i for i in range(5)}
    assert server.max_open == 2
    assert server.accepted == 2
    assert sorted(request.target for request in server.requests) == [b"/%d" % i for i in range(5)]


async def test_pool_timeout() -> None:
    got, release = threading.Event(), threading.Event()

    def handler(peer: Peer) -> None:
        while (request := peer.read_request()) is not None:
            if request.target == b"/slow":
                got.set()
                assert release.wait(10)
            peer.send(response(200, request.target))

    slow: list[bytes] = []
    with RawServer(handler) as server:
        async with AsyncHTTP11Transport(max_connections=1) as transport, client(transport) as http:

            async def hold() -> None:
                slow.append((await http.get(server.url + "/slow")).content)

            async with anyio.create_task_group() as group:
                group.start_soon(hold)
                await wait_for(got)
                with pytest.raises(httpx.PoolTimeout):
                    await http.get(server.url + "/waits", timeout=httpx.Timeout(10.0, pool=0.1))
                release.set()
            assert (await http.get(server.url + "/after")).content == b"/after"
    assert slow == [b"/slow"]
    assert [request.target for request in server.requests] == [b"/slow", b"/after"]
    assert server.accepted == 1


async def test_waiters_get_the_slot_in_order() -> None:
    got, release = threading.Event(), threading.Event()

    def handler(peer: Peer) -> None:
        while (request := peer.read_request()) is not None:
            if request.target == b"/first":
                got.set()
                assert release.wait(10)
            peer.send(response(200, request.target))

    with RawServer(handler) as server:
        async with AsyncHTTP11Transport(max_connections=1) as transport, client(transport) as http:

            async def get(path: str) -> None:
                await http.get(server.url + path)

            async with anyio.create_task_group() as group:
                group.start_soon(get, "/first")
                await wait_for(got)
                for i in range(4):
                    group.start_soon(get, f"/{i}")
                    await anyio.wait_all_tasks_blocked()
                release.set()
    assert [request.target for request in server.requests] == [b"/first", b"/0", b"/1", b"/2", b"/3"]
    assert server.accepted == 1


@needs_proc
async def test_cancelling_a_request_in_flight_frees_its_slot_and_its_socket() -> None:
    got = threading.Event()

    def handler(peer: Peer) -> None:
        if peer.index == 0:
            assert peer.read_request() is not None
            got.set()
            assert peer.wait_eof() == b""  # never answers
        else:
            keep_alive(peer)

    with RawServer(handler) as server:
        async with AsyncHTTP11Transport(max_connections=1) as transport, client(transport) as http:
            outcome: list[str] = []

            async def stuck(scope: anyio.CancelScope) -> None:
                with scope:
                    await http.get(server.url + "/stuck")
                    outcome.append("answered")
                outcome.append("cancelled" if scope.cancelled_caught else "not cancelled")

            async with anyio.create_task_group() as group:
                scope = anyio.CancelScope()
                group.start_soon(stuck, scope)
                await wait_for(got)
                assert client_sockets(server.port) == 1
                scope.cancel()
            assert outcome == ["cancelled"]
            await wait_for(server.peers[0].eof)
            assert client_sockets(server.port) == 0
            assert (await http.get(server.url + "/after")).content == b"/after"
            assert client_sockets(server.port) == 1  # kept alive
        await wait_for(server.peers[1].eof)
        assert client_sockets(server.port) == 0
    assert server.accepted == 2


async def test_cancelling_a_request_waiting_for_a_slot() -> None:
    got, release = threading.Event(), threading.Event()

    def handler(peer: Peer) -> None:
        while (request := peer.read_request()) is not None:
            if request.target == b"/slow":
                got.set()
                assert release.wait(10)
            peer.send(response(200, request.target))

    with RawServer(handler) as server:
        async with AsyncHTTP11Transport(max_connections=1) as transport, client(transport) as http:
            slow: list[bytes] = []

            async def hold() -> None:
                slow.append((await http.get(server.url + "/slow")).content)

            async def waits(scope: anyio.CancelScope) -> None:
                with scope:
                    await http.get(server.url + "/never")

            async with anyio.create_task_group() as group:
                group.start_soon(hold)
                await wait_for(got)
                scope = anyio.CancelScope()
                group.start_soon(waits, scope)
                await anyio.wait_all_tasks_blocked()
                scope.cancel()
                await anyio.wait_all_tasks_blocked()
                release.set()
            assert slow == [b"/slow"]
            assert (await http.get(server.url + "/after")).content == b"/after"
    assert [request.target for request in server.requests] == [b"/slow", b"/after"]


async def test_cancelling_while_reading_a_streamed_body() -> None:
    def handler(peer: Peer) -> None:
        if peer.index == 0:
            assert peer.read_request() is not None
            peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nfirst part")
            peer.wait_eof()
        else:
            keep_alive(peer)

    with RawServer(handler) as server:
        async with AsyncHTTP11Transport(max_connections=1) as transport, client(transport) as http:
            parts: list[bytes] = []
            with anyio.CancelScope() as scope:
                async with http.stream("GET", server.url + "/1") as streamed:
                    async for part in streamed.aiter_raw():
                        parts.append(part)
                        scope.cancel()
            assert parts == [b"first part"]
            await wait_for(server.peers[0].eof)
            assert (await http.get(server.url + "/2")).content == b"/2"


async def test_aclose_closes_idle_connections() -> None:
    gate = threading.Barrier(2, timeout=10)

    def handler(peer: Peer) -> None:
        request = peer.read_request()
        assert request is not None
        gate.wait()  # two connections at once
        peer.send(response(200, request.target))
        assert peer.wait_eof() == b""

    with RawServer(handler) as server:
        transport = AsyncHTTP11Transport()
        async with anyio.create_task_group() as group:
            for path in ("/a", "/b"):
                group.start_soon(call, transport, build("GET", server.url + path))
        assert not server.peers[0].eof.is_set()
        assert not server.peers[1].eof.is_set()
        await transport.aclose()
        await wait_for(server.peers[0].eof)
        await wait_for(server.peers[1].eof)
        with pytest.raises(httpx.ConnectError, match="closed"):
            await call(transport, build("GET", server.url + "/late"))
        await transport.aclose()  # twice is fine
    assert server.accepted == 2


async def test_response_finished_after_aclose_closes_its_connection() -> None:
    def handler(peer: Peer) -> None:
        assert peer.read_request() is not None
        peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nabc")
        peer.send(b"def")
        assert peer.wait_eof() == b""

    with RawServer(handler) as server:
        transport = AsyncHTTP11Transport()
        reply = await transport.handle_async_request(build("GET", server.url + "/"))
        await transport.aclose()
        assert await reply.aread() == b"abcdef"
        await wait_for(server.peers[0].eof)


async def test_keepalive_expiry_and_limit() -> None:
    with RawServer(keep_alive) as server:
        async with AsyncHTTP11Transport(keepalive_expiry=0) as transport:
            for path in ("/1", "/2"):
                await call(transport, build("GET", server.url + path))
            await wait_for(server.peers[0].eof)
        async with AsyncHTTP11Transport(max_keepalive_connections=0) as transport:
            await call(transport, build("GET", server.url + "/3"))
            await wait_for(server.peers[2].eof)
    assert server.accepted == 3


# -- what the transport does not handle itself -----------------------------------------------------------------------


class Recording(httpx.AsyncBaseTransport):
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(101 if "upgrade" in request.headers else 200, request=request)

    async def aclose(self) -> None:
        self.closed = True


async def test_upgrades_and_other_schemes_go_to_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    fallback = Recording()
    monkeypatch.setattr(httpx, "AsyncHTTPTransport", lambda **kwargs: fallback)
    with RawServer(keep_alive) as server:
        async with AsyncHTTP11Transport() as transport:
            upgrade = build("GET", server.url + "/ws", headers={"Connection": "Upgrade", "Upgrade": "websocket"})
            reply = await transport.handle_async_request(upgrade)
            assert reply.status_code == 101
            other = build("GET", "ws://127.0.0.1:1/x")
            assert (await transport.handle_async_request(other)).status_code == 200
            _, data = await call(transport, build("GET", server.url + "/plain"))
        assert fallback.requests == [upgrade, other]
        assert fallback.closed
    assert data == b"/plain"
    assert [request.target for request in server.requests] == [b"/plain"]


@pytest.fixture
def no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


async def test_default_transport_steps_aside_for_proxies(no_proxies: None, monkeypatch: pytest.MonkeyPatch) -> None:
    transport = default_transport()
    assert isinstance(transport, AsyncHTTP11Transport)
    await transport.aclose()
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    assert default_transport() is None
    monkeypatch.delenv("HTTPS_PROXY")
    monkeypatch.setenv("all_proxy", "http://127.0.0.1:3128")
    assert default_transport() is None


# -- through the public client ---------------------------------------------------------------------------------------


async def test_connector_client_sends_over_the_default_transport(
    no_proxies: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[httpx.Request] = []
    handle = AsyncHTTP11Transport.handle_async_request

    async def spy(self: AsyncHTTP11Transport, request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return await handle(self, request)

    monkeypatch.setattr(AsyncHTTP11Transport, "handle_async_request", spy)

    def answer(request: Received) -> bytes:
        return response(201, b'{"id": "activity-1"}', "Content-Type: application/json; charset=utf-8")

    with RawServer(lambda peer: peer.serve(answer)) as server:
        async with botconnect_aio.ConnectorClient(server.url) as connector:
            activity = Activity(type="message", text="héllo", from_property=ChannelAccount(id="bot-1"))
            first = await connector.conversations.send_to_conversation("conv 1", activity)
            second = await connector.conversations.send_to_conversation("conv 1", activity)
    assert (first.id, second.id) == ("activity-1", "activity-1")
    assert len(calls) == 2
    assert server.accepted == 1
    received = server.requests[0]
    assert (received.method, received.target, received.version) == (
        b"POST",
        b"/v3/conversations/conv%201/activities",
        b"HTTP/1.1",
    )
    assert received.header(b"Host") == b"127.0.0.1:%d" % server.port
    assert received.header(b"Content-Type") == b"application/json; charset=utf-8"
    assert received.header(b"Content-Length") == b"%d" % len(received.body)
    assert received.header(b"Authorization") is None
    assert received.header(b"Transfer-Encoding") is None
    assert received.raw.endswith(b"\r\n\r\n" + received.body)
    sent = json.loads(received.body)
    assert sent["type"] == "message"
    assert sent["text"] == "héllo"
    assert sent["from"] == {"id": "bot-1"}
    assert server.requests[1].raw == received.raw


async def test_early_answer_to_an_upload_is_returned(anyio_backend: str) -> None:
    """A server that answers (413) before reading a large body and then gives up on the connection: the caller
    gets that answer, not a write error, as with httpcore. The server waits before closing so the answer has
    reached the client; the close then resets the connection under the client's pending writes."""
    answered = threading.Event()

    def handler(peer: Peer) -> None:
        while b"\r\n\r\n" not in peer._buffer:  # the head only: the body is never read
            assert peer._fill()
        peer.send(response(413, b'{"error":{"code":"TooLarge"}}', "Connection: close"))
        peer.sock.shutdown(socket.SHUT_WR)
        answered.set()
        peer.eof.wait(0.5)
        peer.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # reset, not FIN

    with RawServer(handler) as server:
        async with AsyncHTTP11Transport() as transport, client(transport) as http:
            try:
                reply = await http.post(server.url + "/upload", content=b"x" * (64 * 1024 * 1024))
            except httpx.WriteError:
                # trio's stream is not read while a send is blocked: the kernel drops the unread answer when the
                # reset arrives, so only a write error is left to report
                assert anyio_backend == "trio"
            else:
                assert (reply.status_code, reply.json()) == (413, {"error": {"code": "TooLarge"}})
            assert answered.is_set()
            assert server.accepted == 1
