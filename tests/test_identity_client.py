"""CommunicationIdentityClient three ways (sync, asyncio, trio) against the emulator's identity service: every
operation as the emulator received it (method, path and query as sent, headers, the HMAC signature recomputed
here from the documented scheme, body) and its result; the tokens then used on ACS Chat; errors and the checks
made before sending. Microsoft's own client against the same emulator (over https) is in
test_identity_fidelity.py."""

from __future__ import annotations

import base64
import collections
import email.utils
import gc
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import attrs
import httpx
import pytest

import botconnect
from botconnect._core import pipeline as core_pipeline
from botconnect._core.hmac_auth import HmacSigner
from botconnect._core.requests import identity as build
from botconnect.emulator import Emulator
from botconnect.emulator.identity import ReceivedRequest
from botconnect.errors import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    UntrustedEndpointError,
)
from botconnect.models.identifiers import CommunicationUserIdentifier, PhoneNumberIdentifier

from .harness import Env

API = "2023-10-01"
Received = collections.deque[ReceivedRequest]


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator() as running:
        yield running


@pytest.fixture
def received(emulator: Emulator) -> Received:
    log: Received = emulator.app.identity.received
    log.clear()
    return log


def identity_client(env: Env, emulator: Emulator, **options: Any) -> Any:
    return env.make(
        env.pkg.CommunicationIdentityClient.from_connection_string, emulator.acs_connection_string, **options
    )


def claims(token: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    return payload


def check_signed(request: ReceivedRequest, key: str) -> None:
    """The request's signature, recomputed from what the emulator received (the scheme written out here)."""
    headers = request.headers
    body_hash = base64.b64encode(hashlib.sha256(request.body).digest()).decode()
    assert headers["x-ms-content-sha256"] == body_hash
    sent = email.utils.parsedate_to_datetime(headers["x-ms-date"]).timestamp()
    assert abs(time.time() - sent) < 300
    assert headers["x-ms-date"].endswith(" GMT")
    text = f"{request.method}\n{request.target}\n{headers['x-ms-date']};{headers['host']};{body_hash}"
    mac = base64.b64encode(hmac.new(base64.b64decode(key), text.encode(), hashlib.sha256).digest()).decode()
    assert headers["authorization"] == f"HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature={mac}"


def only(received: Received, key: str) -> ReceivedRequest:
    assert len(received) == 1, [(r.method, r.target) for r in received]
    request = received.pop()
    check_signed(request, key)
    assert request.headers["accept"] == "application/json"
    assert "botconnect-python/" in request.headers["user-agent"]
    return request


def json_body(request: ReceivedRequest) -> Any:
    assert request.headers["content-type"] == "application/json"
    return json.loads(request.body)


def path(raw_id: str, action: str = "") -> str:
    return "/identities/" + raw_id.replace(":", "%3A") + (f"/:{action}" if action else "") + f"?api-version={API}"


def test_every_operation_on_the_wire(env: Env, emulator: Emulator, received: Received) -> None:
    key, resource = emulator.acs_access_key, emulator.acs.resource_id
    with identity_client(env, emulator) as client:
        user = client.create_user()
        request = only(received, key)
        assert (request.method, request.target, request.body) == ("POST", f"/identities?api-version={API}", b"")
        assert isinstance(user, CommunicationUserIdentifier)
        assert user.raw_id == user.id
        assert user.id.startswith(f"8:acs:{resource}_")
        assert user.properties == {"id": user.id}

        before = time.time()
        other, token = client.create_user_and_token(
            ["chat", env.pkg.CommunicationTokenScope.VOIP], token_expires_in=timedelta(hours=1)
        )
        request = only(received, key)
        assert (request.method, request.target) == ("POST", f"/identities?api-version={API}")
        assert json_body(request) == {"createTokenWithScopes": ["chat", "voip"], "expiresInMinutes": 60}
        assert isinstance(other, CommunicationUserIdentifier)
        assert other != user
        assert isinstance(token, botconnect.AccessToken)
        assert "8:" + claims(token.token)["skypeid"] == other.raw_id
        assert claims(token.token)["scp"] == "chat voip"
        assert before + 3600 - 5 <= token.expires_on <= time.time() + 3600 + 5
        text, expires_on = token  # azure-core's AccessToken is a NamedTuple: code unpacks it
        assert (text, expires_on) == (token.token, token.expires_on) == (token[0], token[1])

        again = client.get_token(user, [env.pkg.CommunicationTokenScope.CHAT])
        request = only(received, key)
        assert (request.method, request.target) == ("POST", path(user.id, "issueAccessToken"))
        assert json_body(request) == {"scopes": ["chat"]}  # no lifetime given: none sent (the service's 24 h)
        assert "8:" + claims(again.token)["skypeid"] == user.raw_id
        assert abs(again.expires_on - (time.time() + 86400)) < 10

        assert client.revoke_tokens(user) is None
        request = only(received, key)
        assert (request.method, request.target, request.body) == ("POST", path(user.id, "revokeAccessTokens"), b"")
        assert "content-type" not in request.headers

        teams = client.get_token_for_teams_user("header.payload.signature", "app-id", "object-id")
        request = only(received, key)
        assert (request.method, request.target) == ("POST", f"/teamsUser/:exchangeAccessToken?api-version={API}")
        assert json_body(request) == {"token": "header.payload.signature", "appId": "app-id", "userId": "object-id"}
        assert claims(teams.token)["skypeid"].startswith(f"acs:{resource}_")

        assert client.delete_user(user) is None
        request = only(received, key)
        assert (request.method, request.target, request.body) == ("DELETE", path(user.id), b"")


def chat(env: Env, emulator: Emulator, token: str) -> Any:
    return env.construct("ChatClient", emulator.url, env.pkg.CommunicationTokenCredential(token))


def test_a_token_from_the_identity_client_works_on_chat_until_revoked(env: Env, emulator: Emulator) -> None:
    with identity_client(env, emulator) as client:
        user, token = client.create_user_and_token([env.pkg.CommunicationTokenScope.CHAT])
        with chat(env, emulator, token.token) as chat_client:
            thread = chat_client.create_chat_thread("from the identity client").chat_thread
            thread_client = chat_client.get_chat_thread_client(thread.id)
            sent = thread_client.send_message("hello")
            texts = [m for m in thread_client.list_messages() if m.type == "text"]
        assert [(m.id, m.sender.raw_id) for m in texts] == [(sent.id, user.raw_id)]

        client.revoke_tokens(user)
        with chat(env, emulator, token.token) as chat_client, pytest.raises(ClientAuthenticationError):
            chat_client.create_chat_thread("revoked")
        fresh = client.get_token(user, ["chat"])
        with chat(env, emulator, fresh.token) as chat_client:
            assert chat_client.create_chat_thread("after the revocation").chat_thread.id.startswith("19:")

        client.delete_user(user)
        with chat(env, emulator, fresh.token) as chat_client, pytest.raises(ClientAuthenticationError):
            chat_client.create_chat_thread("deleted")
        with pytest.raises(ResourceNotFoundError) as gone:
            client.get_token(user, ["chat"])
    assert gone.value.status_code == 404
    assert gone.value.error.code == "IdentityNotFound"


def test_a_voip_token_is_refused_by_chat(env: Env, emulator: Emulator) -> None:
    with identity_client(env, emulator) as client:
        _, token = client.create_user_and_token(["voip"])
    with chat(env, emulator, token.token) as chat_client, pytest.raises(botconnect.errors.PermissionDeniedError):
        chat_client.create_chat_thread("voip only")


def test_a_wrong_key_is_a_401_that_never_shows_a_key(env: Env, emulator: Emulator) -> None:
    wrong = base64.b64encode(b"w" * 32).decode()
    client = env.construct("CommunicationIdentityClient", emulator.url, wrong)
    with client, pytest.raises(ClientAuthenticationError) as denied:
        client.create_user()
    error = denied.value
    assert (error.status_code, error.error.code) == (401, "Denied")
    text = f"{error!s} {error!r} {error.response.request.headers}"
    assert wrong not in text
    assert emulator.acs_access_key not in text
    assert "authorization" not in error.response.request.headers


def test_an_azure_key_credential_is_read_at_every_call(env: Env, emulator: Emulator) -> None:
    class KeyCredential:  # azure-core's AzureKeyCredential, as far as the client cares: .key, and update()
        def __init__(self, key: str) -> None:
            self.key = key

        def update(self, key: str) -> None:
            self.key = key

    credential = KeyCredential(base64.b64encode(b"old" * 11).decode())
    with env.construct("CommunicationIdentityClient", emulator.url, credential) as client:
        with pytest.raises(ClientAuthenticationError):
            client.create_user()
        credential.update(emulator.acs_access_key)
        assert client.create_user().id.startswith("8:acs:")


def test_an_endpoint_without_a_scheme_gets_https(env: Env) -> None:
    key = base64.b64encode(b"k" * 32).decode()
    client = env.construct("CommunicationIdentityClient", "res.communication.azure.com", key)
    assert client.endpoint == "https://res.communication.azure.com"
    assert client.api_version == API


def test_an_unknown_api_version_is_the_services_400(env: Env, emulator: Emulator) -> None:
    client = identity_client(env, emulator, api_version="2020-01-01")
    with client, pytest.raises(HttpResponseError) as refused:
        client.create_user()
    assert (refused.value.status_code, refused.value.error.code) == (400, "InvalidApiVersion")


def test_microsofts_identifier_is_accepted(env: Env, emulator: Emulator) -> None:
    identity = pytest.importorskip("azure.communication.identity")
    with identity_client(env, emulator) as client:
        ours = client.create_user()
        theirs = identity.CommunicationUserIdentifier(ours.id)
        assert claims(client.get_token(theirs, [identity.CommunicationTokenScope.CHAT]).token)["scp"] == "chat"
        client.revoke_tokens(theirs)
        client.delete_user(theirs)
        with pytest.raises(TypeError):  # an identifier of another kind is refused before sending
            client.get_token(identity.PhoneNumberIdentifier("+15551234567"), ["chat"])


BAD_CALLS: list[tuple[str, tuple[Any, ...], dict[str, Any], type[Exception]]] = [
    ("create_user_and_token", ("chat",), {}, TypeError),
    ("create_user_and_token", ([],), {}, ValueError),
    ("create_user_and_token", ([1],), {}, TypeError),
    ("create_user_and_token", (["chat voip"],), {}, ValueError),
    ("create_user_and_token", ([""],), {}, ValueError),
    ("create_user_and_token", (["chat"],), {"token_expires_in": timedelta(minutes=59)}, ValueError),
    ("create_user_and_token", (["chat"],), {"token_expires_in": timedelta(hours=25)}, ValueError),
    ("create_user_and_token", (["chat"],), {"token_expires_in": 60}, TypeError),
    ("get_token", ("8:acs:res_user", ["chat"]), {}, TypeError),
    ("get_token", (PhoneNumberIdentifier("+15551234567"), ["chat"]), {}, TypeError),
    ("get_token", (CommunicationUserIdentifier("8:acs:res_user"), None), {}, TypeError),
    ("revoke_tokens", (None,), {}, TypeError),
    ("delete_user", ({"id": "8:acs:res_user"},), {}, TypeError),
    ("get_token_for_teams_user", ("", "app", "oid"), {}, ValueError),
    ("get_token_for_teams_user", ("a.b.c", None, "oid"), {}, TypeError),
    ("get_token_for_teams_user", ("a.b.c", "app", "  "), {}, ValueError),
]


@pytest.mark.parametrize(("operation", "args", "kwargs", "error"), BAD_CALLS)
def test_bad_arguments_fail_before_sending(
    env: Env,
    emulator: Emulator,
    received: Received,
    operation: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    error: type[Exception],
) -> None:
    with identity_client(env, emulator) as client, pytest.raises(error):
        getattr(client, operation)(*args, **kwargs)
    assert not received


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("https://res.communication.azure.com", None), TypeError),
        (("https://res.communication.azure.com", 42), TypeError),
        (("https://res.communication.azure.com", "not base64!"), ValueError),
        (("http://res.communication.azure.com", base64.b64encode(b"k" * 32).decode()), UntrustedEndpointError),
        (("", base64.b64encode(b"k" * 32).decode()), ValueError),
        (("https://res.communication.azure.com?x=1", base64.b64encode(b"k" * 32).decode()), ValueError),
    ],
)
def test_bad_construction(env: Env, args: tuple[Any, ...], error: type[Exception]) -> None:
    with pytest.raises(error) as refused:
        env.pkg.CommunicationIdentityClient(*args)
    assert "not base64!" not in str(refused.value)


def test_bad_connection_strings(env: Env) -> None:
    key = base64.b64encode(b"k" * 32).decode()
    with pytest.raises(ValueError) as refused:
        env.pkg.CommunicationIdentityClient.from_connection_string(f"endpoint=https://x/;key={key}")
    assert key not in str(refused.value)
    with pytest.raises(TypeError):
        env.pkg.CommunicationIdentityClient.from_connection_string(None)


def test_the_repr_shows_no_key(env: Env, emulator: Emulator) -> None:
    client = identity_client(env, emulator)
    assert emulator.acs_access_key not in repr(client)
    assert repr(client).startswith("<CommunicationIdentityClient endpoint=")


def test_a_token_credential_gets_an_entra_token_for_acs(env: Env) -> None:
    asked: list[tuple[str, ...]] = []
    seen: list[httpx.Request] = []

    class Credential:
        def get_token(self, *scopes: str, **kwargs: Any) -> botconnect.AccessToken:
            asked.append(scopes)
            return botconnect.AccessToken("entra-token", int(time.time()) + 3600)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"identity": {"id": "8:acs:res_u"}})

    transport = httpx.MockTransport(handler)
    with env.construct(
        "CommunicationIdentityClient", "https://res.communication.azure.com", Credential(), transport=transport
    ) as client:
        assert client.create_user().id == "8:acs:res_u"
    assert asked == [("https://communication.azure.com//.default",)]
    assert seen[0].headers["Authorization"] == "Bearer entra-token"
    assert "x-ms-content-sha256" not in seen[0].headers


@pytest.mark.parametrize(
    "body",
    [
        {"identity": {}},
        {"identity": {"id": "8:acs:u"}, "accessToken": {"token": "a.b.c"}},
        {"identity": {"id": "8:acs:u"}, "accessToken": {"token": "a.b.c", "expiresOn": "tomorrow"}},
        {"identity": {"id": "8:acs:u"}, "accessToken": {"token": "a.b.c", "expiresOn": "2030-01-01T00:00:00"}},
    ],
)
def test_a_malformed_answer_is_a_deserialization_error(env: Env, body: dict[str, Any]) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(201, json=body))
    key = base64.b64encode(b"k" * 32).decode()
    with (
        env.construct(
            "CommunicationIdentityClient", "https://res.communication.azure.com", key, transport=transport
        ) as c,
        pytest.raises(botconnect.errors.DeserializationError),
    ):
        c.create_user_and_token(["chat"])


def test_expires_on_is_read_with_its_offset_and_fraction(env: Env) -> None:
    token = {"token": "a.b.c", "expiresOn": "2030-01-01T01:00:00.1234567+01:00"}
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=token))
    key = base64.b64encode(b"k" * 32).decode()
    with env.construct(
        "CommunicationIdentityClient", "https://res.communication.azure.com", key, transport=transport
    ) as c:
        result = c.get_token(CommunicationUserIdentifier("8:acs:res_u"), ["chat"])
    assert result.expires_on == 1893456000  # 2030-01-01T00:00:00Z


# -- retries: each attempt is signed afresh -----------------------------------------------------------------------


def test_every_attempt_is_signed_again() -> None:
    dates = iter([1_780_000_000.0, 1_780_000_030.0])
    context = build.identity_context("https://res.communication.azure.com", API)
    key = base64.b64encode(b"k" * 32).decode()
    _, config, _, _ = build.identity_client_setup(
        context.endpoint,
        key,
        API,
        {},
        timeout=None,
        retry_policy=None,
        user_agent=None,
        transport=None,
        transport_type=httpx.BaseTransport,
    )
    config = attrs.evolve(config, signer=HmacSigner(key, clock=lambda: next(dates)))
    operation = build.build_get_token(context, CommunicationUserIdentifier("8:acs:res_u"), ["chat"])
    flow = core_pipeline.call_flow(operation, config)
    first = next(flow)
    assert isinstance(first, core_pipeline.Send)
    first_date, first_auth = first.request.headers["x-ms-date"], first.request.headers["Authorization"]
    retry = flow.send(httpx.Response(503, headers={"Retry-After": "1"}, request=first.request))
    assert isinstance(retry, core_pipeline.Sleep)
    second = flow.send(None)
    assert isinstance(second, core_pipeline.Send)
    assert second.request.headers["x-ms-date"] != first_date
    assert second.request.headers["Authorization"] != first_auth
    with pytest.raises(StopIteration) as done:
        flow.send(httpx.Response(200, json={"token": "a.b.c", "expiresOn": "2030-01-01T00:00:00Z"}))
    assert done.value.value.token == "a.b.c"


def test_the_signature_covers_the_percent_encoded_path_as_sent(
    env: Env, emulator: Emulator, received: Received
) -> None:
    odd = CommunicationUserIdentifier("8:acs:other_a b é?#%;@+")
    with identity_client(env, emulator) as client, pytest.raises(ResourceNotFoundError) as missing:
        client.get_token(odd, ["chat"])
    assert missing.value.error.code == "IdentityNotFound"  # past the signature check: a 401 otherwise
    request = only(received, emulator.acs_access_key)
    assert (
        request.target
        == f"/identities/8%3Aacs%3Aother_a%20b%20%C3%A9%3F%23%25%3B%40%2B/:issueAccessToken?api-version={API}"
    )


# -- azure-core keyword arguments, as Microsoft's client takes them -------------------------------------------------


def test_azure_core_headers_user_agent_and_request_id(env: Env, emulator: Emulator, received: Received) -> None:
    with identity_client(env, emulator, headers={"x-app": "client"}) as client:
        client.create_user(headers={"x-call": "call"}, user_agent="migrated-app/1.0", request_id="req-42")
    request = only(received, emulator.acs_access_key)  # extra headers are not signed: the signature still holds
    assert (request.headers["x-app"], request.headers["x-call"]) == ("client", "call")
    assert request.headers["x-ms-client-request-id"] == "req-42"
    assert request.headers["user-agent"].startswith("migrated-app/1.0 botconnect-python/")


def test_pipeline_only_options_are_ignored_with_a_warning_and_typos_refused(env: Env, emulator: Emulator) -> None:
    with pytest.warns(botconnect.IgnoredAzureOptionWarning, match="http_logging_policy"):
        client = identity_client(env, emulator, http_logging_policy=object())
    with client:
        with pytest.warns(botconnect.IgnoredAzureOptionWarning, match="raw_response_hook"):
            assert client.create_user(raw_response_hook=lambda response: None).id.startswith("8:acs:")
        with pytest.raises(TypeError, match="tokn_expires_in"):
            client.create_user_and_token(["chat"], tokn_expires_in=timedelta(hours=1))
    with pytest.raises(TypeError, match="credentail"):
        identity_client(env, emulator, credentail="x")


def test_retry_total_per_call(env: Env) -> None:
    attempts: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        return httpx.Response(503, headers={"Retry-After": "0"}, json={"error": {"code": "Busy", "message": "busy"}})

    key = base64.b64encode(b"k" * 32).decode()
    client = env.construct(
        "CommunicationIdentityClient",
        "https://res.communication.azure.com",
        key,
        transport=httpx.MockTransport(handler),
    )
    with client, pytest.raises(botconnect.errors.ServiceUnavailableError):
        client.get_token(CommunicationUserIdentifier("8:acs:res_u"), ["chat"], retry_total=1)
    assert len(attempts) == 2  # the first attempt and one retry, each signed afresh
    assert all("HMAC-SHA256" in request.headers["Authorization"] for request in attempts)


def test_logging_enable_traces_without_any_token(
    env: Env, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="botconnect.identity")
    with identity_client(env, emulator, logging_enable=True) as client:
        user, token = client.create_user_and_token(["chat"])
        teams = client.get_token_for_teams_user("aad.secret.token", "app", "oid")
        quiet = client.get_token(user, ["chat"], logging_enable=False)
        client.delete_user(user)
        with pytest.raises(ResourceNotFoundError):
            client.get_token(user, ["chat"])
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "Request URL: 'http://127.0.0.1" in text
    assert "Response status: 201" in text
    assert "IdentityNotFound" in text  # a failed call's answer is traced too
    assert text.count('"token": "<redacted>"') >= 3  # the issued token, the Teams token sent, the one issued for it
    for secret in (token.token, teams.token, "aad.secret.token", quiet.token, emulator.acs_access_key, "HMAC-SHA256"):
        assert secret not in text
    assert text.count("Request URL:") == 4  # not the call with logging_enable=False


# -- older api-versions (as Microsoft's ApiVersion lists them) ------------------------------------------------------


@pytest.mark.parametrize("api_version", ["2022-06-01", "2021-03-07"])
def test_older_api_versions_without_token_lifetimes(
    env: Env, emulator: Emulator, received: Received, api_version: str
) -> None:
    with identity_client(env, emulator, api_version=api_version) as client:
        user, token = client.create_user_and_token(["chat"])
        assert received.pop().target == f"/identities?api-version={api_version}"
        assert abs(token.expires_on - (time.time() + 86400)) < 10
        with pytest.raises(ValueError, match="token_expires_in needs api_version 2022-10-01"):
            client.get_token(user, ["chat"], token_expires_in=timedelta(hours=1))
        assert not received  # refused before sending, not dropped
        if api_version == "2021-03-07":
            with pytest.raises(ValueError, match="needs api_version 2022-06-01"):
                client.get_token_for_teams_user("a.b.c", "app", "oid")
        else:
            assert client.get_token_for_teams_user("a.b.c", "app", "oid").token.count(".") == 2


def test_a_sync_client_never_closed_closes_its_pool_when_it_goes_away(emulator: Emulator) -> None:
    # Microsoft's sync client has no close(), so code written for it never closes ours
    client = botconnect.CommunicationIdentityClient.from_connection_string(emulator.acs_connection_string)
    client.create_user()
    pipeline = client._pipeline
    del client
    gc.collect()
    assert pipeline._closed
