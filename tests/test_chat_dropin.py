"""Drop-in for code written against azure-communication-chat (issue 15): identifier-shaped objects, ``async for`` over
pages, values field by field as Microsoft's SDK gives them for the same wire payloads, azure-core keyword
arguments, endpoints without a scheme, ``update_topic()`` and azure-core's exception classes."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import botconnect
import botconnect.chat
import botconnect.errors
import botconnect_aio.chat
from botconnect._core.azure_compat import IgnoredAzureOptionWarning
from botconnect.chat import (
    ChatParticipant,
    CommunicationCloudEnvironment,
    CommunicationUserIdentifier,
    MicrosoftTeamsAppIdentifier,
    MicrosoftTeamsUserIdentifier,
    PhoneNumberIdentifier,
    identifier_from_raw_id,
)
from botconnect.emulator import Emulator
from botconnect.models.identifiers import as_identifier, identifier_to_wire

from .harness import Env
from .test_chat_credential import make_jwt

assert botconnect_aio.chat is not None  # env.pkg.chat needs both chat packages imported

identity = pytest.importorskip("azure.communication.identity")
azure_chat = pytest.importorskip("azure.communication.chat")

ENDPOINT = "https://contoso.communication.azure.com"
THREAD = "19:abc@thread.v2"
USER = "8:acs:res_0001"
RECORDINGS = Path(__file__).resolve().parents[2] / "shared" / "reference" / "acs-chat" / "recordings"


def token() -> str:
    return make_jwt(time.time() + 3600)


class Service:
    """Answers every request with ``status`` and ``body`` (JSON) and keeps the requests."""

    def __init__(self, status: int = 204, body: Any = None, headers: dict[str, str] | None = None) -> None:
        self.status, self.body, self.headers = status, body, headers or {}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.body is None:
            return httpx.Response(self.status, headers=self.headers)
        return httpx.Response(self.status, json=self.body, headers=self.headers)

    def json(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)


def thread_client(env: Env, service: Service, **kwargs: Any) -> Any:
    credential = env.pkg.chat.CommunicationTokenCredential(token())
    return env.make(
        env.pkg.chat.ChatThreadClient, ENDPOINT, credential, THREAD, transport=env.transport(service), **kwargs
    )


# -- 1. identifier-shaped objects -----------------------------------------------------------------------------------

AZURE_AND_OURS: list[tuple[Callable[[], Any], Any]] = [
    (lambda: identity.CommunicationUserIdentifier(USER), CommunicationUserIdentifier(USER)),
    (lambda: azure_chat.PhoneNumberIdentifier("+15551234567"), PhoneNumberIdentifier("+15551234567")),
    (
        lambda: azure_chat.MicrosoftTeamsUserIdentifier(
            "oid-1", cloud=azure_chat._shared.models.CommunicationCloudEnvironment.DOD
        ),
        MicrosoftTeamsUserIdentifier("oid-1", cloud=CommunicationCloudEnvironment.DOD),
    ),
    (
        lambda: azure_chat.MicrosoftTeamsUserIdentifier("visitor-1", is_anonymous=True),
        MicrosoftTeamsUserIdentifier("visitor-1", is_anonymous=True),
    ),
    (lambda: azure_chat.MicrosoftTeamsAppIdentifier("app-1"), MicrosoftTeamsAppIdentifier("app-1")),
    (lambda: azure_chat.identifier_from_raw_id("8:gcch:oid-2"), identifier_from_raw_id("8:gcch:oid-2")),
    (lambda: azure_chat.UnknownIdentifier("48:weird:id"), identifier_from_raw_id("48:weird:id")),
]


@pytest.mark.parametrize(("azure_identifier", "ours"), AZURE_AND_OURS)
def test_azure_identifiers_go_on_the_wire_as_ours(env: Env, azure_identifier: Callable[[], Any], ours: Any) -> None:
    theirs = azure_identifier()
    assert as_identifier(theirs) == ours
    assert as_identifier(theirs).raw_id == theirs.raw_id
    assert ours == theirs  # ours compare equal to Azure's by raw id, as theirs do with ours
    service = Service(201, {})
    with thread_client(env, service) as client:
        assert client.add_participants([ChatParticipant(identifier=theirs, display_name="A")]) == []
    assert service.json() == {
        "participants": [{"communicationIdentifier": identifier_to_wire(ours, include_kind=True), "displayName": "A"}]
    }


def test_remove_participant_sends_the_azure_identifier_by_raw_id(env: Env) -> None:
    service = Service()
    user = identity.CommunicationUserIdentifier(USER)
    with thread_client(env, service) as client:
        client.remove_participant(user)
    [request] = service.requests
    assert request.method == "POST"
    assert request.url.raw_path.split(b"?")[0] == b"/chat/threads/19%3Aabc%40thread.v2/participants/:remove"
    assert service.json() == {"kind": "communicationUser", "rawId": USER, "communicationUser": {"id": USER}}


def test_a_failed_azure_participant_comes_back_as_given(env: Env) -> None:
    user = identity.CommunicationUserIdentifier(USER)
    participant = ChatParticipant(identifier=user)
    service = Service(
        201, {"invalidParticipants": [{"code": "403", "message": "Permissions check failed", "target": USER}]}
    )
    with thread_client(env, service) as client:
        [(failed, error)] = client.add_participants([participant])
    assert failed is participant
    assert (error.code, error.target) == ("403", USER)


def test_what_is_not_an_identifier_is_refused_before_sending(env: Env) -> None:
    service = Service()
    with thread_client(env, service) as client:
        with pytest.raises(TypeError, match="raw_id, kind and properties"):
            client.remove_participant(USER)
        with pytest.raises(TypeError):
            client.add_participants([ChatParticipant(identifier=object())])  # type: ignore[arg-type]
    assert service.requests == []


def test_cloud_environment_values_are_microsofts() -> None:
    theirs = azure_chat._shared.models.CommunicationCloudEnvironment
    assert [m.value for m in CommunicationCloudEnvironment] == [m.value for m in theirs] == ["PUBLIC", "DOD", "GCCH"]
    assert CommunicationCloudEnvironment("dod") is CommunicationCloudEnvironment.DOD
    assert MicrosoftTeamsUserIdentifier("u", cloud="gcch").properties["cloud"] is CommunicationCloudEnvironment.GCCH
    wire = identifier_to_wire(MicrosoftTeamsUserIdentifier("u", cloud=CommunicationCloudEnvironment.GCCH))
    assert wire["microsoftTeamsUser"]["cloud"] == "gcch"  # the wire keeps the service's lowercase values
    assert botconnect.chat.CommunicationUserProperties.__required_keys__ == frozenset({"id"})
    assert botconnect.chat.MicrosoftTeamsUserProperties.__annotations__.keys() == {"user_id", "is_anonymous", "cloud"}


# -- 2. async for over pages -----------------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_pages_iterate_with_async_for_and_for(anyio_backend: str) -> None:
    pages = {
        None: {
            "value": [{"id": "1", "topic": "a"}, {"id": "2", "topic": "b"}],
            "nextLink": ENDPOINT + "/chat/threads?skip=2",
        },
        "2": {"value": [{"id": "3", "topic": "c"}]},
    }

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=pages[request.url.params.get("skip")])

    credential = botconnect_aio.chat.CommunicationTokenCredential(token())
    async with botconnect_aio.chat.ChatClient(ENDPOINT, credential, transport=httpx.MockTransport(answer)) as client:
        seen = []
        async for page in client.list_chat_threads().by_page():
            seen.append([item.id async for item in page])
            assert [item.id for item in page] == seen[-1]  # plain for still works
    assert seen == [["1", "2"], ["3"]]


# -- 4. azure-core keyword arguments ----------------------------------------------------------------------------------


def test_headers_user_agent_and_request_id_per_client_and_per_call(env: Env) -> None:
    service = Service(201, {"id": "1"})
    with thread_client(env, service, headers={"x-app": "client", "x-both": "client"}, user_agent="myapp/1") as client:
        client.send_message("a")
        client.send_message("b", headers={"x-both": "call"}, user_agent="call/2", request_id="req-1")
        client.send_message("c", user_agent="exact/3", user_agent_overwrite=True)
    first, second, third = (r.headers for r in service.requests)
    assert (first["x-app"], first["x-both"]) == ("client", "client")
    assert first["user-agent"].startswith("myapp/1 botconnect-python/")
    assert (second["x-app"], second["x-both"], second["x-ms-client-request-id"]) == ("client", "call", "req-1")
    assert second["user-agent"] == "call/2 " + first["user-agent"]
    assert third["user-agent"] == "exact/3"
    assert all(r.headers["authorization"].startswith("Bearer ") for r in service.requests)


REQUEST_ID = "x-ms-client-request-id"


def test_every_call_gets_a_new_request_id_kept_across_its_retries(env: Env) -> None:
    """azure-core's RequestIdPolicy: a new id per call (per page of a paged call), the same on its retries."""
    answers = iter([503, 201, 201, 201])

    def service(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        status = next(answers) if request.method == "POST" else 200
        if request.method == "GET":
            more = (
                {"nextLink": f"{ENDPOINT}/chat/threads/{THREAD}/participants?skip=1"}
                if "skip" not in str(request.url)
                else {}
            )
            return httpx.Response(
                200,
                json={
                    "value": [
                        {"communicationIdentifier": {"rawId": "8:acs:x", "communicationUser": {"id": "8:acs:x"}}}
                    ],
                    **more,
                },
            )
        return httpx.Response(status, json={"id": "1"}, headers={"Retry-After": "0"})

    seen: list[httpx.Request] = []
    credential = env.pkg.chat.CommunicationTokenCredential(token())
    with env.make(env.pkg.chat.ChatThreadClient, ENDPOINT, credential, THREAD, transport=env.transport(service)) as c:
        c.send_message("retried once")
        c.send_message("b")
        c.send_message("c")
        assert len(list(c.list_participants())) == 2
    ids = [r.headers[REQUEST_ID] for r in seen]
    assert [uuid.UUID(i).version for i in ids] == [4] * 6
    assert ids[0] == ids[1], "a retry keeps its call's id"
    assert len({ids[1], ids[2], ids[3], ids[4], ids[5]}) == 5, "each call and each page: a new id"


def test_request_id_per_client_per_call_and_off(env: Env) -> None:
    service = Service(201, {"id": "1"})
    with thread_client(env, service, request_id="client-id") as client:
        client.send_message("a")
        client.send_message("b", request_id="call-id")
        client.send_message("c", request_id=None)  # the call turns it off
        client.send_message("d", headers={REQUEST_ID: "from-headers"})
    with thread_client(env, service, auto_request_id=False) as client:
        client.send_message("e")
        client.send_message("f", request_id="only-this")
    with thread_client(env, service, request_id=None) as client:
        client.send_message("g")
    with thread_client(env, service) as client:
        client.send_message("h", headers={REQUEST_ID: "kept"})  # a header given stands
    assert [r.headers.get(REQUEST_ID) for r in service.requests] == [
        "client-id",
        "call-id",
        None,
        "from-headers",
        None,
        "only-this",
        None,
        "kept",
    ]
    with pytest.raises(TypeError, match="auto_request_id must be a bool"):
        thread_client(env, service, auto_request_id="no")
    with pytest.raises(ValueError, match="control characters"):
        thread_client(env, service, request_id="a\r\nInjected: 1")
    assert len(service.requests) == 8, "a bad option is refused before anything is sent"


def test_connection_and_read_timeouts(env: Env) -> None:
    service = Service(201, {"id": "1"})
    with thread_client(env, service, connection_timeout=3, read_timeout=40) as client:
        client.send_message("a")
        client.send_message("b", read_timeout=7)
    first, second = (r.extensions["timeout"] for r in service.requests)
    assert (first["connect"], first["read"]) == (3.0, 40.0)
    assert (second["connect"], second["read"]) == (3.0, 7.0)


def test_retry_total(env: Env) -> None:
    service = Service(503, {"error": {"code": "Busy", "message": "busy"}}, {"Retry-After": "0"})
    with thread_client(env, service, retry_total=2) as client:
        with pytest.raises(botconnect.errors.ServiceUnavailableError):
            client.get_properties()
        assert len(service.requests) == 3  # the first attempt and retry_total=2 retries
        with pytest.raises(botconnect.errors.ServiceUnavailableError):
            client.get_properties(retry_total=0)
        assert len(service.requests) == 4


def test_logging_enable_traces_the_call_without_the_token(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    service = Service(201, {"id": "m-1"})
    with caplog.at_level(logging.DEBUG, logger="botconnect.chat"), thread_client(env, service) as client:
        client.send_message("quiet")
        quiet = len(caplog.records)
        client.send_message("traced", logging_enable=True)
    text = "\n".join(r.getMessage() for r in caplog.records[quiet:])
    assert "Request method: 'POST'" in text
    assert "traced" in text
    assert "Response status: 201" in text
    assert "m-1" in text
    assert "Bearer" not in text
    assert token().split(".")[1] not in text


def test_pipeline_only_options_are_ignored_with_a_warning(env: Env) -> None:
    from azure.core.pipeline.policies import HttpLoggingPolicy
    from azure.core.pipeline.transport import RequestsTransport

    service = Service(201, {"id": "1"})
    with pytest.warns(IgnoredAzureOptionWarning) as caught:
        client = thread_client(env, service, http_logging_policy=HttpLoggingPolicy(), policies=[])
    assert {str(w.message).split("option ")[1].split("=")[0] for w in caught} == {"http_logging_policy", "policies"}
    with pytest.warns(IgnoredAzureOptionWarning) as direct:
        botconnect.chat.ChatThreadClient(
            ENDPOINT, botconnect.chat.CommunicationTokenCredential(token()), THREAD, policies=[]
        )
    assert [w.filename for w in direct] == [__file__]  # pointing at the caller's line
    with client, pytest.warns(IgnoredAzureOptionWarning, match="raw_response_hook"):
        assert client.send_message("a", raw_response_hook=lambda response: None).id == "1"
    credential = env.pkg.chat.CommunicationTokenCredential(token())
    with pytest.warns(IgnoredAzureOptionWarning, match="transport"):
        ignored = env.make(env.pkg.chat.ChatClient, ENDPOINT, credential, transport=RequestsTransport())
    ignored.close()
    assert len(service.requests) == 1


def test_unknown_keywords_are_still_a_type_error(env: Env) -> None:
    service = Service(201, {"id": "1"})
    with pytest.raises(TypeError, match="loging_enable"):
        thread_client(env, service, loging_enable=True)
    with thread_client(env, service) as client:
        with pytest.raises(TypeError, match="sender_name"):
            client.send_message("a", sender_name="x")
        with pytest.raises(ValueError, match="control characters"):
            client.send_message("a", headers={"x-a": "b\r\nInjected: 1"})
    assert service.requests == []


# -- 5. endpoints without a scheme, update_topic() ---------------------------------------------------------------------


def test_an_endpoint_without_a_scheme_gets_https(env: Env) -> None:
    service = Service(200, {"id": THREAD, "topic": "t", "createdOn": "2024-02-16T23:47:16Z"})
    credential = env.pkg.chat.CommunicationTokenCredential(token())
    client = env.make(
        env.pkg.chat.ChatThreadClient,
        "contoso.communication.azure.com",
        credential,
        THREAD,
        transport=env.transport(service),
    )
    with client:
        assert client.endpoint == ENDPOINT
        client.get_properties()
    assert str(service.requests[0].url).startswith(ENDPOINT + "/chat/threads/")


def test_update_topic_without_a_topic_sends_an_empty_patch(env: Env) -> None:
    service = Service()
    with thread_client(env, service) as client:
        client.update_topic()
        client.update_topic(topic="new")
    assert [(r.method, json.loads(r.content)) for r in service.requests] == [("PATCH", {}), ("PATCH", {"topic": "new"})]


# -- errors: azure-core's classes -----------------------------------------------------------------------------------


def test_errors_are_caught_by_azure_core_classes(env: Env) -> None:
    from azure.core.exceptions import AzureError, HttpResponseError, ResourceNotFoundError

    service = Service(404, {"error": {"code": "NotFound", "message": "no such thread"}})
    with thread_client(env, service) as client, pytest.raises(ResourceNotFoundError) as caught:
        client.get_properties()
    error = caught.value
    assert isinstance(error, HttpResponseError)
    assert isinstance(error, AzureError)
    assert isinstance(error, botconnect.errors.ResourceNotFoundError)
    assert (error.status_code, error.reason, error.error.code, error.error.message) == (
        404,
        "Not Found",
        "NotFound",
        "no such thread",
    )
    assert error.response.status_code == 404
    assert "no such thread" in error.message
    assert str(error) == error.message


def _run(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    return result.stdout.strip()


def test_azure_core_is_not_imported_for_that_and_bridged_when_it_is() -> None:
    out = _run(
        "import sys, botconnect, botconnect.chat\n"
        "print('azure.core' in sys.modules)\n"
        "import azure.core.exceptions as az\n"
        "import botconnect.errors as ours\n"
        "print(issubclass(ours.ResourceExistsError, az.ResourceExistsError),\n"
        "      issubclass(ours.ClientAuthenticationError, az.ClientAuthenticationError))\n"
        "try:\n    raise ours.ServiceRequestTimeoutError('x')\nexcept az.ServiceRequestError:\n    print('caught')\n"
    )
    assert out.splitlines() == ["False", "True True", "caught"]


def test_bridged_at_once_when_azure_core_came_first() -> None:
    out = _run(
        "import azure.core.exceptions as az\nimport botconnect.errors as ours\n"
        "print(issubclass(ours.HttpResponseError, az.HttpResponseError),\n"
        "      issubclass(ours.DeserializationError, ValueError))"
    )
    assert out == "True True"


def test_logging_enable_traces_a_failed_call_too(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    service = Service(404, {"error": {"code": "NotFound", "message": "gone"}})
    with (
        caplog.at_level(logging.DEBUG, logger="botconnect.chat"),
        thread_client(env, service, logging_enable=True) as client,
        pytest.raises(botconnect.errors.ResourceNotFoundError),
    ):
        client.get_message("m-9")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "Request method: 'GET'" in text
    assert "Response status: 404" in text
    assert "gone" in text


# -- connection_verify: a CA bundle instead of the default store ----------------------------------------------------


@pytest.fixture(scope="module")
def tls_emulator() -> Iterator[Emulator]:
    with Emulator(tls=True) as running:
        yield running


def test_connection_verify_trusts_the_given_ca_bundle(
    env: Env, tls_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    token_, raw_id = tls_emulator.issue_acs_token()
    credential = env.pkg.chat.CommunicationTokenCredential(token_)
    with env.make(
        env.pkg.chat.ChatClient, tls_emulator.url, credential, connection_verify=tls_emulator.ca_file
    ) as client:
        thread = client.create_chat_thread("trusted by connection_verify").chat_thread
    assert thread.created_by.raw_id == raw_id
    credential = env.pkg.chat.CommunicationTokenCredential(token_)
    with (
        env.make(env.pkg.chat.ChatClient, tls_emulator.url, credential) as client,
        pytest.raises(botconnect.errors.ServiceRequestError),  # the default store does not know the CA
    ):
        client.create_chat_thread("untrusted", retry_policy=botconnect.RetryPolicy(max_attempts=1))


def test_connection_verify_false_leaves_verification_on(env: Env, tls_emulator: Emulator) -> None:
    token_, _ = tls_emulator.issue_acs_token()
    credential = env.pkg.chat.CommunicationTokenCredential(token_)
    with pytest.warns(IgnoredAzureOptionWarning, match="connection_verify=False"):
        client = env.make(env.pkg.chat.ChatClient, tls_emulator.url, credential, connection_verify=False)
    with client, pytest.raises(botconnect.errors.ServiceRequestError):
        client.create_chat_thread("still verified", retry_policy=botconnect.RetryPolicy(max_attempts=1))


def test_connection_verify_must_name_a_bundle(env: Env) -> None:
    credential = env.pkg.chat.CommunicationTokenCredential(token())
    with pytest.raises(ValueError, match="no CA bundle"):
        env.make(env.pkg.chat.ChatClient, ENDPOINT, credential, connection_verify="/nonexistent/ca.pem")
    with pytest.raises(TypeError, match="connection_verify"):
        env.make(env.pkg.chat.ChatClient, ENDPOINT, credential, connection_verify=1)


def test_a_chat_clients_options_reach_its_thread_clients(env: Env) -> None:
    service = Service(201, {"id": "1"})
    credential = env.pkg.chat.CommunicationTokenCredential(token())
    with env.make(
        env.pkg.chat.ChatClient, ENDPOINT, credential, transport=env.transport(service), headers={"x-app": "parent"}
    ) as client:
        client.get_chat_thread_client(THREAD).send_message("a", headers={"x-call": "1"})
    [request] = service.requests
    assert (request.headers["x-app"], request.headers["x-call"]) == ("parent", "1")
