"""Client construction shares one verifying SSL context per process and trust configuration.

Building a context (``load_verify_locations`` on the certifi bundle) made every ``ConnectorClient`` cost tens of
milliseconds; SDK-created transports now share one, keyed by ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``, so what a new
client trusts still follows the environment, as with httpx.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx
import pytest
import trustme

import botconnect
from botconnect._transport import HTTP11Transport, default_ssl_context
from botconnect.models import Activity
from botconnect_aio._transport import AsyncHTTP11Transport

from .rawhttp import RawServer, response
from .test_transport_tls import tls_handler


def sync_context(client: botconnect.ConnectorClient) -> ssl.SSLContext:
    transport = client._pipeline._direct
    assert isinstance(transport, HTTP11Transport)
    context: ssl.SSLContext = transport._pool._ssl_context
    return context


@pytest.fixture(autouse=True)
def no_cert_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


def test_sync_clients_share_one_context() -> None:
    with botconnect.ConnectorClient("http://127.0.0.1:1") as first:
        shared = sync_context(first)
    with botconnect.ConnectorClient("https://example.invalid") as second:
        assert sync_context(second) is shared  # closing the first left it usable
    assert default_ssl_context() is shared
    assert shared.verify_mode == ssl.CERT_REQUIRED
    assert shared.check_hostname


def test_async_transports_share_the_sync_context() -> None:
    one, two = AsyncHTTP11Transport(), AsyncHTTP11Transport()
    assert one._tls_context() is two._tls_context() is default_ssl_context()
    given = ssl.create_default_context()
    assert AsyncHTTP11Transport(ssl_context=given)._tls_context() is given  # an explicit context is kept


def test_context_follows_ssl_cert_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    default = default_ssl_context()
    bundle = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    custom = default_ssl_context()
    assert custom is not default
    assert default_ssl_context() is custom
    monkeypatch.delenv("SSL_CERT_FILE")
    assert default_ssl_context() is default


def test_sync_client_created_after_setting_ssl_cert_file_trusts_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    botconnect.ConnectorClient("http://127.0.0.1:1").close()  # the default context exists before the env changes
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_context)
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    answer = response(200, b'{"id":"activity-1"}', "Content-Type: application/json")
    with (
        RawServer(tls_handler(server_context, answer)) as server,
        botconnect.ConnectorClient(f"https://localhost:{server.port}", timeout=httpx.Timeout(10.0)) as client,
    ):
        result = client.conversations.send_to_conversation("conv/1", Activity(type="message", text="hi"))
    assert result.id == "activity-1"
    (request,) = server.requests
    assert (request.method, request.target) == (b"POST", b"/v3/conversations/conv%2F1/activities")
