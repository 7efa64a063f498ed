"""Fidelity: Microsoft's azure-communication-identity 1.5.0 client, unchanged, against the emulator's identity
service over https (its connection-string parsing drops the scheme and adds https), every operation; then its
tokens on ACS Chat, through our ChatClient and through Microsoft's. And both identity clients side by side: the
same requests on the wire, header for header that the service reads."""

from __future__ import annotations

import base64
import contextlib
import importlib
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

import botconnect
from botconnect import HTTP11Transport
from botconnect.emulator import Emulator
from botconnect.emulator.identity import ReceivedRequest

identity = pytest.importorskip("azure.communication.identity")


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(tls=True) as running:
        yield running


@pytest.fixture
def trusted(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    assert emulator.ca_file is not None
    monkeypatch.setenv("SSL_CERT_FILE", emulator.ca_file)  # requests (azure-core's transport) reads these
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", emulator.ca_file)
    emulator.app.identity.received.clear()
    return emulator


@contextlib.contextmanager
def microsoft_client(emulator: Emulator) -> Iterator[Any]:
    """Microsoft's client, its connection pool closed after (its public class has no close(): the generated
    client inside it has)."""
    client = identity.CommunicationIdentityClient.from_connection_string(emulator.acs_connection_string)
    try:
        yield client
    finally:
        client._identity_service_client.close()


def skype_id(token: str) -> str:
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    return "8:" + str(claims["skypeid"])


def our_chat(emulator: Emulator, token: str) -> botconnect.ChatClient:
    transport = HTTP11Transport(ssl_context=emulator.ssl_context())
    return botconnect.ChatClient(emulator.url, botconnect.CommunicationTokenCredential(token), transport=transport)


def test_microsofts_identity_client_runs_every_operation(trusted: Emulator) -> None:
    with microsoft_client(trusted) as client:
        run_every_operation(trusted, client)


def run_every_operation(trusted: Emulator, client: Any) -> None:
    user = client.create_user()
    assert user.properties["id"].startswith(f"8:acs:{trusted.acs.resource_id}_")
    other, token = client.create_user_and_token(
        [identity.CommunicationTokenScope.CHAT], token_expires_in=timedelta(hours=1)
    )
    assert skype_id(token.token) == other.properties["id"]
    issued = client.get_token(user, ["chat"])
    assert skype_id(issued.token) == user.properties["id"]

    with our_chat(trusted, issued.token) as chat:  # a token from Microsoft's client works with ours
        assert chat.create_chat_thread("from Microsoft's identity client").chat_thread is not None

    client.revoke_tokens(user)
    with our_chat(trusted, issued.token) as chat, pytest.raises(botconnect.errors.ClientAuthenticationError):
        chat.create_chat_thread("revoked")
    teams = client.get_token_for_teams_user("h.p.s", "app", "oid")
    assert skype_id(teams.token).startswith(f"8:acs:{trusted.acs.resource_id}_")
    client.delete_user(user)
    from azure.core.exceptions import ResourceNotFoundError

    with pytest.raises(ResourceNotFoundError) as gone:
        client.get_token(user, ["chat"])
    assert gone.value.status_code == 404


def test_microsofts_chat_client_takes_our_identity_clients_token(trusted: Emulator) -> None:
    chat = pytest.importorskip("azure.communication.chat")
    transport = HTTP11Transport(ssl_context=trusted.ssl_context())
    with botconnect.CommunicationIdentityClient.from_connection_string(
        trusted.acs_connection_string, transport=transport
    ) as ours:
        user, token = ours.create_user_and_token([botconnect.CommunicationTokenScope.CHAT])
    with chat.ChatClient(trusted.url, chat.CommunicationTokenCredential(token.token)) as client:
        thread = client.create_chat_thread("our token, Microsoft's chat").chat_thread
        sent = client.get_chat_thread_client(thread.id).send_message("hello")
        messages = [m for m in client.get_chat_thread_client(thread.id).list_messages() if m.type == "text"]
    assert [(m.id, m.sender.properties["id"]) for m in messages] == [(sent.id, user.raw_id)]


def _wire(request: ReceivedRequest) -> tuple[str, str, Any, str | None]:
    body = json.loads(request.body) if request.body else None
    return request.method, request.target, body, request.headers.get("accept")


def test_both_clients_send_the_same_requests(trusted: Emulator) -> None:
    received = trusted.app.identity.received
    transport = HTTP11Transport(ssl_context=trusted.ssl_context())
    ours = botconnect.CommunicationIdentityClient.from_connection_string(
        trusted.acs_connection_string, transport=transport
    )

    def run(client: Any, user_type: Any) -> list[tuple[str, str, Any, str | None]]:
        received.clear()
        user = client.create_user()
        client.create_user_and_token(["chat", "voip"], token_expires_in=timedelta(minutes=90))
        client.get_token(user, ["chat"])
        client.get_token(user, ["voip"], token_expires_in=timedelta(hours=24))
        client.revoke_tokens(user)
        client.get_token_for_teams_user("h.p.s", "app", "oid")
        client.delete_user(user)
        assert isinstance(user, user_type)
        users = {r.target.split("/")[2].split("?")[0] for r in received if r.target.startswith("/identities/")}
        assert len(users) == 1
        (encoded,) = users
        wire = [_wire(r) for r in received]
        return [(m, t.replace(encoded, "<user>"), b, a) for m, t, b, a in wire]

    with ours:
        mine = run(ours, botconnect.CommunicationUserIdentifier)
    with microsoft_client(trusted) as theirs:
        microsoft = run(theirs, identity.CommunicationUserIdentifier)
    assert mine == microsoft
    assert len(mine) == 7


def test_every_name_of_microsofts_package_is_in_ours() -> None:
    import botconnect.identity
    import botconnect_aio.identity

    assert set(identity.__all__) <= set(botconnect.identity.__all__)
    assert set(importlib.import_module("azure.communication.identity.aio").__all__) <= set(
        botconnect_aio.identity.__all__
    )
    assert {scope.value for scope in identity.CommunicationTokenScope} == {
        scope.value for scope in botconnect.CommunicationTokenScope
    }


def test_connection_verify_trusts_the_emulators_ca(emulator: Emulator) -> None:
    assert emulator.ca_file is not None
    with botconnect.CommunicationIdentityClient.from_connection_string(
        emulator.acs_connection_string, connection_verify=emulator.ca_file
    ) as client:
        assert client.create_user().id.startswith("8:acs:")
    untrusting = botconnect.CommunicationIdentityClient.from_connection_string(emulator.acs_connection_string)
    with untrusting, pytest.raises(botconnect.errors.ServiceRequestError):  # the default store lacks that CA
        untrusting.create_user(retry_total=0)
