"""The contract: the 2025-03-15 swagger and the helpers that check traffic against it (used by
test_chat_operations.py too), the Azure SDK's real ACS Chat recordings (api-version 2024-03-07) replayed against our
clients three ways, the 2024-03-07 request shapes, and error bodies mapped to the exception tree.

For every recorded entry our request must match the recording: method, the exact URI (percent-encoding, query
order, api-version), the JSON body, and a ``repeatability-request-id`` on thread creation (the recorded value,
passed as ``idempotency_token``). The recorded responses are served back and must parse into our models.
"""

from __future__ import annotations

import copy
import functools
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

import httpx
import pytest

import botconnect.chat
import botconnect_aio.chat
from botconnect import RetryPolicy
from botconnect.chat import (
    ChatMessage,
    ChatMessageType,
    ChatParticipant,
    ChatThreadItem,
    CommunicationUserIdentifier,
    NoneRetentionPolicy,
    SendChatMessageResult,
)
from botconnect.errors import ClientAuthenticationError, PermissionDeniedError, RateLimitError, ResourceNotFoundError

from .harness import Env, FakeService
from .swagger import SwaggerDoc
from .test_chat_credential import make_jwt

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "acs-chat"
RECORDINGS = REFERENCE / "recordings"
assert botconnect_aio.chat is not None  # env.pkg.chat needs both chat packages imported
assert botconnect.chat is not None

RECORDED_ENDPOINT = "https://web-ui-dev.unitedstates.communication.azure.com"
_DROPPED_HEADERS = {"content-length", "content-encoding", "transfer-encoding"}

# -- the swagger, with its Common references (Common/stable/2025-06-30) resolved --------------------------------

_STRING = {"type": "string"}
COMMON_DEFINITIONS: dict[str, Any] = {
    "CommunicationError": {
        "type": "object",
        "required": ["code", "message"],
        "properties": {
            "code": _STRING,
            "message": _STRING,
            "target": _STRING,
            "details": {"type": "array", "items": {"$ref": "#/definitions/CommunicationError"}},
            "innererror": {"$ref": "#/definitions/CommunicationError"},
        },
    },
    "CommunicationErrorResponse": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"$ref": "#/definitions/CommunicationError"}},
    },
    "CommunicationCloudEnvironment": {"type": "string", "enum": ["public", "dod", "gcch"]},
    "CommunicationIdentifierModel": {
        "type": "object",
        "properties": {
            "kind": {
                "type": "string",
                "enum": [
                    "unknown",
                    "communicationUser",
                    "phoneNumber",
                    "microsoftTeamsUser",
                    "microsoftTeamsApp",
                    "teamsExtensionUser",
                ],
            },
            "rawId": _STRING,
            "communicationUser": {"$ref": "#/definitions/CommunicationUserIdentifierModel"},
            "phoneNumber": {"$ref": "#/definitions/PhoneNumberIdentifierModel"},
            "microsoftTeamsUser": {"$ref": "#/definitions/MicrosoftTeamsUserIdentifierModel"},
            "microsoftTeamsApp": {"$ref": "#/definitions/MicrosoftTeamsAppIdentifierModel"},
            "teamsExtensionUser": {"$ref": "#/definitions/TeamsExtensionUserIdentifierModel"},
        },
    },
    "CommunicationUserIdentifierModel": {"type": "object", "required": ["id"], "properties": {"id": _STRING}},
    "PhoneNumberIdentifierModel": {
        "type": "object",
        "required": ["value"],
        "properties": {"value": _STRING, "isAnonymous": {"type": "boolean"}, "assertedId": _STRING},
    },
    "MicrosoftTeamsUserIdentifierModel": {
        "type": "object",
        "required": ["userId"],
        "properties": {
            "userId": _STRING,
            "isAnonymous": {"type": "boolean"},
            "cloud": {"$ref": "#/definitions/CommunicationCloudEnvironment"},
        },
    },
    "MicrosoftTeamsAppIdentifierModel": {
        "type": "object",
        "required": ["appId"],
        "properties": {"appId": _STRING, "cloud": {"$ref": "#/definitions/CommunicationCloudEnvironment"}},
    },
    "TeamsExtensionUserIdentifierModel": {
        "type": "object",
        "required": ["userId", "tenantId", "resourceId"],
        "properties": {
            "userId": _STRING,
            "tenantId": _STRING,
            "resourceId": _STRING,
            "cloud": {"$ref": "#/definitions/CommunicationCloudEnvironment"},
        },
    },
}


@functools.cache
def chat_swagger(strict: bool = True) -> SwaggerDoc:
    """The 2025-03-15 document; ``strict`` forbids undeclared keys in (non-polymorphic) request objects."""
    with (REFERENCE / "stable" / "2025-03-15" / "communicationserviceschat.json").open(encoding="utf-8") as f:
        doc = json.load(f)
    definitions = doc["definitions"]
    external = [name for name, schema in definitions.items() if schema.get("$ref", "#").startswith("..")]
    assert sorted(external) == sorted(
        [
            "CommunicationUserIdentifierModel",
            "CommunicationCloudEnvironment",
            "MicrosoftTeamsUserIdentifierModel",
            "MicrosoftTeamsAppIdentifierModel",
            "CommunicationIdentifierModel",
            "CommunicationError",
            "CommunicationErrorResponse",
        ]
    ), "the swagger's Common references changed: update COMMON_DEFINITIONS"
    definitions.update(copy.deepcopy(COMMON_DEFINITIONS))
    if strict:
        for schema in definitions.values():
            polymorphic = "discriminator" in schema or "allOf" in schema
            if schema.get("type") == "object" and "properties" in schema and not polymorphic:
                schema.setdefault("additionalProperties", False)
    return SwaggerDoc(doc, name="communicationserviceschat.json")


def load(name: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads((RECORDINGS / name).read_text(encoding="utf-8"))["Entries"]
    return entries


# -- requests and responses checked against the document -----------------------------------------------------

ENDPOINT = "https://contoso.communication.azure.com"
API = "2025-03-15"
THREAD = "19:abc@thread.v2"
THREAD_PATH = b"/chat/threads/19%3Aabc%40thread.v2"
USER = "8:acs:b6372803-0c35-4ec0-833b-c19b798cef2d_0000000e-3240-55cf-9806-113a0d001dd9"
FAST = RetryPolicy(backoff_factor=0)
TOKEN = make_jwt(4_102_444_800, skypeid="acs:user")  # 2100-01-01


def conforms(request: httpx.Request) -> str:
    return chat_swagger().validate_request(request).operation_id


def reply(fake: FakeService, operation_id: str, status: int, body: Any = None, **headers: str) -> None:
    """Queue a response, after checking it is what the swagger documents for that operation and status."""
    content = b"" if body is None else json.dumps(body).encode()
    chat_swagger(strict=False).validate_response(operation_id, status, content, content_type="application/json")
    if body is None:
        fake.reply(status, headers=headers or None)
    else:
        fake.reply(status, json_body=body, headers=headers or None)


NO_BODY = object()


def check(
    request: httpx.Request,
    operation_id: str,
    method: str,
    path: bytes,
    *,
    query: dict[str, str] | None = None,
    body: Any = NO_BODY,
    content_type: str = "application/json",
    api_version: str = API,
) -> None:
    assert request.method == method
    raw_path, _, raw_query = request.url.raw_path.partition(b"?")
    assert raw_path == path
    pairs = parse_qsl(raw_query.decode("ascii"), keep_blank_values=True)
    assert pairs[-1] == ("api-version", api_version)
    assert dict(pairs) == {**(query or {}), "api-version": api_version}
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["accept"] == "application/json"
    if body is NO_BODY:
        assert request.content == b""
        assert "content-type" not in request.headers
    else:
        assert request.headers["content-type"] == content_type
        assert json.loads(request.content) == body
    assert conforms(request) == operation_id


def user_wire(raw_id: str = USER, *, kind: bool = True) -> dict[str, Any]:
    wire: dict[str, Any] = {"rawId": raw_id, "communicationUser": {"id": raw_id}}
    return {"kind": "communicationUser", **wire} if kind else wire


def new_client(env: Env, fake: FakeService, **kwargs: Any) -> Any:
    credential = env.pkg.chat.CommunicationTokenCredential(TOKEN)
    return env.make(env.pkg.chat.ChatClient, ENDPOINT, credential, transport=fake.transport, **kwargs)


def thread_client(env: Env, fake: FakeService, **kwargs: Any) -> Any:
    return new_client(env, fake, **kwargs).get_chat_thread_client(THREAD)


THREAD_PROPERTIES = {
    "id": THREAD,
    "topic": "Lunch",
    "createdOn": "2024-02-16T23:46:42Z",
    "createdByCommunicationIdentifier": user_wire(),
}


# -- the recordings -----------------------------------------------------------------------------------------


class Replay:
    """A transport that expects the recorded requests in order and answers with the recorded responses."""

    def __init__(self, entries: list[dict[str, Any]]) -> None:
        self.entries = entries
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        index = len(self.seen)
        self.seen.append(request)
        assert index < len(self.entries), f"unexpected extra request {request.method} {request.url}"
        entry = self.entries[index]
        assert request.method == entry["RequestMethod"]
        assert str(request.url) == entry["RequestUri"]
        recorded_body = entry["RequestBody"]
        if recorded_body is None:
            assert request.content == b""
        else:
            assert json.loads(request.content) == recorded_body
            assert request.headers["content-type"] == entry["RequestHeaders"]["Content-Type"]
        recorded_id = entry["RequestHeaders"].get("repeatability-request-id")
        assert request.headers.get("repeatability-request-id") == recorded_id
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert request.headers["accept"] == entry["RequestHeaders"]["Accept"]
        # our request also conforms to the current (2025-03-15) document
        chat_swagger().validate_request(request)
        headers = {k: v for k, v in entry["ResponseHeaders"].items() if k.lower() not in _DROPPED_HEADERS}
        body = entry["ResponseBody"]
        content = b"" if body is None else json.dumps(body).encode()
        return httpx.Response(entry["StatusCode"], headers=headers, content=content)

    def done(self) -> None:
        assert len(self.seen) == len(self.entries), "not every recorded request was replayed"


def client_for(env: Env, replay: Replay) -> Any:
    credential = env.pkg.chat.CommunicationTokenCredential(TOKEN)
    return env.make(
        env.pkg.chat.ChatClient,
        RECORDED_ENDPOINT,
        credential,
        api_version="2024-03-07",
        transport=httpx.MockTransport(replay),
    )


def create_thread(client: Any, entry: dict[str, Any]) -> Any:
    """Create the thread exactly as the recording did, from plain values only."""
    [recorded] = entry["RequestBody"]["participants"]
    identifier = recorded["communicationIdentifier"]
    participant = ChatParticipant(
        # the recording sanitized communicationUser.id but kept the raw id: an explicit raw_id reproduces that
        identifier=CommunicationUserIdentifier(identifier["communicationUser"]["id"], raw_id=identifier["rawId"]),
        display_name=recorded["displayName"],
        share_history_time=datetime.fromisoformat(recorded["shareHistoryTime"]),
    )
    result = client.create_chat_thread(
        entry["RequestBody"]["topic"],
        thread_participants=[participant],
        idempotency_token=entry["RequestHeaders"]["repeatability-request-id"],
    )
    thread = result.chat_thread
    assert (thread.id, thread.topic) == ("sanitized", "test topic")
    assert thread.created_by == CommunicationUserIdentifier(identifier["rawId"])
    assert thread.created_by.id == "sanitized"
    assert thread.created_on.tzinfo is not None
    assert result.errors == []
    assert result.invalid_participants is None
    return result


def recorded_thread_id(entry: dict[str, Any]) -> str:
    """Responses say ``sanitized``; the thread's real id survives only in the recorded request URI."""
    path = httpx.URL(entry["RequestUri"]).raw_path.decode("ascii").split("?")[0]
    return unquote(path.split("/")[3])


def test_list_chat_threads_recording(env: Env) -> None:
    entries = load("list_chat_threads.json")
    replay = Replay(entries)
    with client_for(env, replay) as client:
        create_thread(client, entries[0])
        threads = list(client.list_chat_threads(results_per_page=1))
    replay.done()
    assert threads == [
        ChatThreadItem(
            id="sanitized",
            topic="test topic",
            last_message_received_on=datetime(2024, 2, 16, 23, 46, 43, tzinfo=UTC),
        )
    ]


def test_send_message_recording(env: Env) -> None:
    entries = load("send_message.json")
    replay = Replay(entries)
    with client_for(env, replay) as client:
        create_thread(client, entries[0])
        thread = client.get_chat_thread_client(recorded_thread_id(entries[1]))
        body = entries[1]["RequestBody"]
        sent = thread.send_message(
            body["content"], chat_message_type=body["type"], sender_display_name=body["senderDisplayName"]
        )
    replay.done()
    assert sent == SendChatMessageResult(id="sanitized")


def test_get_message_recording(env: Env) -> None:
    entries = load("get_message.json")
    replay = Replay(entries)
    message_id = httpx.URL(entries[2]["RequestUri"]).path.rsplit("/", 1)[1]
    with client_for(env, replay) as client:
        create_thread(client, entries[0])
        thread = client.get_chat_thread_client(recorded_thread_id(entries[1]))
        thread.send_message("hello world", sender_display_name="sender name")
        message = thread.get_message(message_id)
    replay.done()
    assert message_id == "1708127236061"
    assert (message.id, message.type, message.sequence_id, message.version) == (
        "sanitized",
        ChatMessageType.TEXT,
        "3",
        "1708127236061",
    )
    assert message.content.message == "hello world"
    assert message.content.attachments == []
    assert "participants" not in entries[2]["ResponseBody"]["content"]
    assert message.content.participants == []  # as the Azure SDK gives a served message without any
    assert message.sender_display_name == "sender name"
    assert message.created_on == datetime(2024, 2, 16, 23, 47, 16, tzinfo=UTC)
    raw_id = entries[0]["RequestBody"]["participants"][0]["communicationIdentifier"]["rawId"]
    assert message.sender == CommunicationUserIdentifier(raw_id)
    # the model parses and serializes the recorded body back unchanged
    assert ChatMessage.from_dict(entries[2]["ResponseBody"]).to_dict() == entries[2]["ResponseBody"]


@pytest.mark.parametrize("name", ["list_chat_threads.json", "send_message.json", "get_message.json"])
def test_recorded_responses_conform_to_the_current_document(name: str) -> None:
    operations = {
        ("POST", "/chat/threads"): "Chat_CreateChatThread",
        ("GET", "/chat/threads"): "Chat_ListChatThreads",
        ("POST", "/chat/threads/{chatThreadId}/messages"): "ChatThread_SendChatMessage",
        ("GET", "/chat/threads/{chatThreadId}/messages/{chatMessageId}"): "ChatThread_GetChatMessage",
    }
    doc = chat_swagger(strict=False)
    for entry in load(name):
        match = doc.match(entry["RequestMethod"], httpx.URL(entry["RequestUri"]).raw_path)
        assert operations[(match.method, match.template)] == match.operation_id
        doc.validate_response(match.operation_id, entry["StatusCode"], json.dumps(entry["ResponseBody"]))


# -- API versions and error bodies ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (401, ClientAuthenticationError),
        (403, PermissionDeniedError),
        (404, ResourceNotFoundError),
        (429, RateLimitError),
    ],
)
def test_communication_errors_map_to_the_exception_tree(
    env: Env, fake: FakeService, status: int, error_class: type[Exception]
) -> None:
    body = {
        "error": {
            "code": "Denied",
            "message": "Permission check failed",
            "target": THREAD,
            "details": [{"code": "Inner", "message": "not a member"}],
            "innererror": {"code": "Deeper", "message": "x"},
        }
    }
    if status == 404:
        fake.reply(status, json_body=body)  # 404 is not documented by the swagger, but the service sends it
    else:
        reply(fake, "ChatThread_GetChatThreadProperties", status, body, **{"retry-after": "120"})
    with thread_client(env, fake, retry_policy=FAST) as thread, pytest.raises(error_class) as caught:
        thread.get_properties()
    error = caught.value
    assert (error.status_code, error.error.code, error.error.message, error.error.target) == (
        status,
        "Denied",
        "Permission check failed",
        THREAD,
    )
    assert [(d.code, d.message) for d in error.error.details] == [("Inner", "not a member")]
    assert TOKEN not in str(error)
    assert TOKEN not in repr(error)


def test_api_version_2024_03_07(env: Env, fake: FakeService) -> None:
    reply(fake, "Chat_CreateChatThread", 201, {"chatThread": THREAD_PROPERTIES})
    reply(fake, "ChatThread_RemoveChatParticipant", 204)
    with new_client(env, fake, api_version="2024-03-07") as client:
        assert client.api_version == "2024-03-07"
        participant = ChatParticipant(identifier=CommunicationUserIdentifier(USER))
        client.create_chat_thread("Lunch", thread_participants=[participant], idempotency_token="k")
        with pytest.raises(ValueError, match="2025-03-15"):
            client.create_chat_thread("Lunch", metadata={"a": "b"})
        with pytest.raises(ValueError, match="2025-03-15"):
            client.create_chat_thread("Lunch", retention_policy=NoneRetentionPolicy())
        thread = client.get_chat_thread_client(THREAD)
        with pytest.raises(ValueError, match="2025-03-15"):
            thread.add_participants(
                [ChatParticipant(identifier=CommunicationUserIdentifier(USER), metadata={"a": "b"})]
            )
        thread.remove_participant(CommunicationUserIdentifier(USER))
    create, remove = fake.requests
    body = {"topic": "Lunch", "participants": [{"communicationIdentifier": user_wire(kind=False)}]}
    check(create, "Chat_CreateChatThread", "POST", b"/chat/threads", body=body, api_version="2024-03-07")
    check(
        remove,
        "ChatThread_RemoveChatParticipant",
        "POST",
        THREAD_PATH + b"/participants/:remove",
        body=user_wire(kind=False),
        api_version="2024-03-07",
    )
