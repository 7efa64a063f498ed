"""The public transports: ``botconnect.HTTP11Transport`` / ``botconnect_aio.AsyncHTTP11Transport``, the defaults of
clients the SDK creates and the way to tune their pools (``transport=``)."""

from __future__ import annotations

import ssl
import threading

import anyio
import httpx
import pytest
import trustme

import botconnect
import botconnect_aio
from botconnect.models import Activity

from .rawhttp import Peer, RawServer, Received, response

ANSWER = response(200, b'{"id":"a-1"}', "Content-Type: application/json")


def answer_sends(peer: Peer) -> None:
    peer.serve(lambda request: ANSWER)


def test_sync_clients_default_to_http11_transport_and_accept_a_tuned_one() -> None:
    with RawServer(answer_sends) as server:
        with botconnect.ConnectorClient(server.url) as default:
            assert isinstance(default._pipeline._direct, botconnect.HTTP11Transport)
            assert default.conversations.send_to_conversation("c1", Activity(type="message", text="x")).id == "a-1"
        tuned = botconnect.HTTP11Transport(max_connections=1, max_keepalive_connections=1, keepalive_expiry=30)
        with botconnect.ConnectorClient(server.url, transport=tuned) as client:
            assert client._pipeline._direct is tuned
            ids = [client.conversations.send_to_conversation("c2", Activity(type="message")).id for _ in range(3)]
    assert ids == ["a-1"] * 3
    assert server.accepted == 2  # one connection for the default client, one kept alive for the tuned one
    targets = [request.target for request in server.requests]
    assert targets == [b"/v3/conversations/c1/activities"] + [b"/v3/conversations/c2/activities"] * 3


@pytest.mark.anyio
async def test_async_clients_accept_a_tuned_transport() -> None:
    """max_connections=2 holds 10 concurrent sends to 2 connections, all answered."""
    release = threading.Event()
    ready = threading.Semaphore(0)

    def slow(peer: Peer) -> None:
        def answer(request: Received) -> bytes:
            ready.release()
            release.wait(10)
            return ANSWER

        peer.serve(answer)

    with RawServer(slow) as server:
        transport = botconnect_aio.AsyncHTTP11Transport(max_connections=2)
        async with botconnect_aio.ConnectorClient(server.url, transport=transport) as client:
            results: list[str | None] = []

            async def send() -> None:
                results.append((await client.conversations.send_to_conversation("c", Activity(type="message"))).id)

            async with anyio.create_task_group() as group:
                for _ in range(10):
                    group.start_soon(send)
                for _ in range(2):  # both connections are busy, the other 8 calls wait for a slot
                    assert await anyio.to_thread.run_sync(ready.acquire, True, 10)
                assert server.max_open == 2
                release.set()
    assert results == ["a-1"] * 10
    assert server.max_open == 2
    assert len(server.requests) == 10


@pytest.mark.parametrize("cls", [botconnect.HTTP11Transport, botconnect_aio.AsyncHTTP11Transport])
def test_transports_refuse_an_empty_pool(cls: type) -> None:
    with pytest.raises(ValueError, match="max_connections"):
        cls(max_connections=0)


def test_sync_transport_verifies_tls_with_the_given_context() -> None:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)

    def handler(peer: Peer) -> None:
        try:
            peer.sock = server_context.wrap_socket(peer.sock, server_side=True)
        except (ssl.SSLError, OSError):
            return  # the client refused our certificate
        answer_sends(peer)

    with RawServer(handler) as server:
        url = f"https://localhost:{server.port}"
        with botconnect.ConnectorClient(url, transport=botconnect.HTTP11Transport(ssl_context=client_context)) as ok:
            assert ok.conversations.send_to_conversation("c", Activity(type="message")).id == "a-1"
        with botconnect.ConnectorClient(url) as untrusting, pytest.raises(botconnect.errors.ServiceRequestError):
            untrusting.conversations.send_to_conversation("c", Activity(type="message"))
    assert len(server.requests) == 1


def test_repr_names_the_pool() -> None:
    assert "HTTP11Transport" in repr(botconnect.HTTP11Transport())
    assert "max_connections=100" in repr(botconnect_aio.AsyncHTTP11Transport())


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_httpx_interface() -> None:
    assert issubclass(botconnect.HTTP11Transport, httpx.BaseTransport)
    assert issubclass(botconnect_aio.AsyncHTTP11Transport, httpx.AsyncBaseTransport)


def test_sync_clients_step_aside_for_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a proxy in the environment the sync client is httpx's own, which routes through the proxy."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    with botconnect.ConnectorClient("http://127.0.0.1:9") as plain:
        assert isinstance(plain._pipeline._direct, botconnect.HTTP11Transport)
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    with botconnect.ConnectorClient("https://smba.trafficmanager.net/amer/") as proxied:
        assert proxied._pipeline._direct is None
        mounted = proxied._pipeline.http_client._mounts
        assert any(transport is not None for transport in mounted.values())  # httpx built its proxy transport
