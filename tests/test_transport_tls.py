"""The lean async transport over TLS (the production path: every Bot Framework and ACS endpoint is https).

A throwaway CA (trustme) signs a certificate for ``localhost``; the server side is ``tests/rawhttp.py`` with each
accepted socket wrapped in TLS. Verification is never turned off: the client trusts the CA through an SSL context,
or through ``SSL_CERT_FILE`` as httpx does, and a client that does not trust it must refuse to talk.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import trustme

import botconnect_aio
from botconnect.models import Activity
from botconnect_aio._shared_pool import LoopPools
from botconnect_aio._transport import AsyncHTTP11Transport

from .rawhttp import Peer, RawServer, Received, response

pytestmark = pytest.mark.anyio

TIMEOUT = httpx.Timeout(10.0)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(context)
    return context


@pytest.fixture
def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def tls_handler(context: ssl.SSLContext, answer: bytes | None = None) -> Callable[[Peer], None]:
    def handle(peer: Peer) -> None:
        try:
            peer.sock = context.wrap_socket(peer.sock, server_side=True)
        except (ssl.SSLError, OSError):
            return  # the client refused the certificate: nothing more to read
        if answer is None:
            peer.serve(lambda request: response(200, request.target + b"|" + request.body))
        else:
            peer.serve(lambda request: answer)

    return handle


async def test_https_requests_and_keep_alive(server_context: ssl.SSLContext, client_context: ssl.SSLContext) -> None:
    with RawServer(tls_handler(server_context)) as server:
        url = f"https://localhost:{server.port}"
        async with (
            AsyncHTTP11Transport(ssl_context=client_context) as transport,
            httpx.AsyncClient(transport=transport, timeout=TIMEOUT) as http,
        ):
            first = await http.get(url + "/a?x=1")
            second = await http.post(url + "/b", content=b"payload" * 5000)
    assert (first.status_code, first.content) == (200, b"/a?x=1|")
    assert second.content == b"/b|" + b"payload" * 5000
    assert server.accepted == 1  # the TLS connection was kept alive and reused
    received: list[Received] = server.peers[0].requests
    assert [r.header(b"host") for r in received] == [f"localhost:{server.port}".encode()] * 2


async def test_untrusted_certificate_is_refused_before_any_request(server_context: ssl.SSLContext) -> None:
    with RawServer(tls_handler(server_context)) as server:
        async with AsyncHTTP11Transport() as transport:  # certifi's roots: our throwaway CA is not among them
            request = httpx.Request("GET", f"https://localhost:{server.port}/secret", extensions={"timeout": {}})
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await transport.handle_async_request(request)
    assert server.requests == []


async def test_certificate_for_another_name_is_refused(ca: trustme.CA, client_context: ssl.SSLContext) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("bots.example.com").configure_cert(context)
    with RawServer(tls_handler(context)) as server:
        async with AsyncHTTP11Transport(ssl_context=client_context) as transport:
            request = httpx.Request("GET", f"https://localhost:{server.port}/", extensions={"timeout": {}})
            with pytest.raises(httpx.ConnectError, match=r"CERTIFICATE_VERIFY_FAILED|match"):
                await transport.handle_async_request(request)
    assert server.requests == []


async def test_sdk_default_transport_trusts_ssl_cert_file(
    ca: trustme.CA, server_context: ssl.SSLContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As with httpx, ``SSL_CERT_FILE`` decides which roots a client created by the SDK trusts."""
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    answer = response(200, b'{"id":"activity-1"}', "Content-Type: application/json")
    with RawServer(tls_handler(server_context, answer)) as server:
        async with botconnect_aio.ConnectorClient(f"https://localhost:{server.port}") as client:
            # the default: the shared per-loop pools of AsyncHTTP11Transport, not httpx's pool
            assert isinstance(client._pipeline._direct, LoopPools)
            result = await client.conversations.send_to_conversation("conv/1", Activity(type="message", text="hi"))
    assert result.id == "activity-1"
    (request,) = server.requests
    assert (request.method, request.target) == (b"POST", b"/v3/conversations/conv%2F1/activities")
    assert b'"text":"hi"' in request.body
