"""``Emulator(tls=True)``: https with a throwaway CA, reached by our clients three ways and, as the fidelity check,
by Microsoft's azure-communication-chat SDK (which sends bearer tokens over https only)."""

from __future__ import annotations

import os
import ssl
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import botconnect.chat
import botconnect_aio.chat
from botconnect._transport import HTTP11Transport
from botconnect.emulator import Emulator
from botconnect_aio._transport import AsyncHTTP11Transport

from .harness import Env

assert botconnect.chat is not None
assert botconnect_aio.chat is not None


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(tls=True) as running:
        yield running


def test_the_url_is_https_and_the_ca_is_published(emulator: Emulator) -> None:
    assert emulator.url.startswith("https://127.0.0.1:")
    assert emulator.ca_pem is not None
    assert emulator.ca_pem.startswith("-----BEGIN CERTIFICATE-----")
    assert emulator.ca_file is not None
    with open(emulator.ca_file) as file:
        assert file.read() == emulator.ca_pem


def test_a_client_trusting_the_ca_connects_and_one_without_is_refused(emulator: Emulator) -> None:
    with httpx.Client(verify=emulator.ssl_context()) as http:
        assert http.get(emulator.url + "/_emulator").json()["url"] == emulator.url
    with httpx.Client(verify=ssl.create_default_context()) as http, pytest.raises(httpx.ConnectError):
        http.get(emulator.url + "/_emulator")


def test_the_private_files_are_removed_at_stop() -> None:
    emulator = Emulator(tls=True).start()
    try:
        ca_file = emulator.ca_file
        assert ca_file is not None
        assert os.path.exists(ca_file)
        directory = os.path.dirname(ca_file)
        assert os.stat(directory).st_mode & 0o077 == 0  # private to this user
    finally:
        emulator.stop()
    assert not os.path.exists(directory)
    assert emulator.ca_file is None


def test_tls_needs_a_socket() -> None:
    with pytest.raises(ValueError, match="socket"):
        Emulator(tls=True, socket=False)


def _chat_client(env: Env, emulator: Emulator, token: str) -> Any:
    context = emulator.ssl_context()
    transport = AsyncHTTP11Transport(ssl_context=context) if env.is_async else HTTP11Transport(ssl_context=context)
    credential = env.pkg.CommunicationTokenCredential(token)
    return env.construct("ChatClient", emulator.url, credential, transport=transport)


def test_our_chat_client_over_https(env: Env, emulator: Emulator) -> None:
    token, raw_id = emulator.issue_acs_token()
    with _chat_client(env, emulator, token) as client:
        thread = client.create_chat_thread("over TLS").chat_thread
        thread_client = client.get_chat_thread_client(thread.id)
        sent = thread_client.send_message("hello over https")
        messages = [m for m in thread_client.list_messages() if m.type == "text"]
    assert [(m.id, m.content.message, m.sender.raw_id) for m in messages] == [(sent.id, "hello over https", raw_id)]


# -- fidelity: Microsoft's SDK against the emulator ---------------------------------------------------------------


@pytest.fixture
def trusted(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    assert emulator.ca_file is not None
    monkeypatch.setenv("SSL_CERT_FILE", emulator.ca_file)  # requests (azure-core's transport) reads it per session
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", emulator.ca_file)
    return emulator


def test_microsofts_sdk_creates_a_thread_sends_and_lists(trusted: Emulator) -> None:
    chat = pytest.importorskip("azure.communication.chat")
    token, raw_id = trusted.issue_acs_token()
    client = chat.ChatClient(trusted.url, chat.CommunicationTokenCredential(token))
    with client:
        result = client.create_chat_thread("fidelity")
        assert result.errors is None or result.errors == []
        thread_client = client.get_chat_thread_client(result.chat_thread.id)
        sent = thread_client.send_message("hello from azure", sender_display_name="Az")
        texts = [m for m in thread_client.list_messages() if m.type == chat.ChatMessageType.TEXT]
        thread_client.update_topic("renamed")
        properties = thread_client.get_properties()
        participants = list(thread_client.list_participants())
    assert [(m.id, m.content.message, m.sender_display_name) for m in texts] == [(sent.id, "hello from azure", "Az")]
    assert texts[0].sender.properties["id"] == raw_id
    assert properties.topic == "renamed"
    assert [p.identifier.properties["id"] for p in participants] == [raw_id]


def test_the_cli_takes_tls_and_prints_the_ca_and_the_connection_string(emulator: Emulator) -> None:
    from botconnect.emulator.__main__ import _banner, parser
    from botconnect.emulator.faults import Faults

    assert parser().parse_args(["--tls"]).tls is True
    assert parser().parse_args([]).tls is False
    banner = "\n".join(_banner(emulator, Faults()))
    assert f"SSL_CERT_FILE={emulator.ca_file}" in banner
    assert f"connection string {emulator.acs_connection_string}" in banner
