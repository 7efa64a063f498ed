"""Replay the official Python connector's vcrpy cassettes (live Slack channel traffic, Dec 2017) through our client.

For every recorded interaction we rebuild the same call (the body parsed into our model, the ids taken from the
recorded URI), answer it with the recorded response, and check that our request is the recorded one (method, the
full URI string including its percent-encoding, the JSON body, Content-Type) and that the recorded response
parses into the expected model or raises the expected typed error. Every recorded request and response is also
validated against both Swagger documents, which shows tests/swagger.py agrees with real traffic.

Known, deliberate differences from the 2017 msrest client, not checked byte for byte:
- msrest sent ``Content-Type: application/json; charset=utf-8`` even on GET/DELETE without a body; we send no
  Content-Type when there is no body (asserted below).
- msrest sent ``Accept: application/json`` for attachment views, which are binary (image/png here); we send
  ``Accept: */*`` for views and ``application/json`` everywhere else (asserted below).
- User-Agent, Accept-Encoding, Connection and Content-Length are transport details, not compared.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from botconnect import errors
from botconnect.models import (
    Activity,
    AttachmentData,
    AttachmentInfo,
    AttachmentView,
    ChannelAccount,
    ConversationParameters,
    ConversationResourceResponse,
    ResourceResponse,
)

from .conftest import REFERENCE
from .harness import Env
from .swagger import OperationMatch, SwaggerDoc, load_swagger

RECORDINGS_DIR = REFERENCE / "connector" / "recordings"
SERVICE_URL = "https://slack.botframework.com"
CONVERSATION = "B21UTEF8S:T03CWQ0QB:D2369CT7C"
MEMBERS = [
    ChannelAccount(id="B21UTEF8S:T03CWQ0QB", name="botbuilder-pc-bot"),
    ChannelAccount(id="U19KH8EHJ:T03CWQ0QB", name="pc"),
]


# -- cassettes ------------------------------------------------------------------------------------------------


def load_cassette(name: str) -> list[dict[str, Any]]:
    """The interactions of a vcrpy cassette (``yaml.safe_load`` understands ``!!binary`` bodies too)."""
    with (RECORDINGS_DIR / f"{name}.yaml").open(encoding="utf-8") as f:
        data = yaml.safe_load(f)
    assert data["version"] == 1
    interactions: list[dict[str, Any]] = data["interactions"]
    return interactions


def body_bytes(body: Any) -> bytes:
    """A recorded body (request body, or a response's ``{string: ...}``) as the bytes that went over the wire."""
    if isinstance(body, dict):
        body = body.get("string")
    if body is None:
        return b""
    if isinstance(body, bytes):  # `!!binary` in the cassette
        return body
    return str(body).encode("utf-8")


def flat_headers(headers: dict[str, list[str] | str]) -> list[tuple[str, str]]:
    out = []
    for name, values in headers.items():
        for value in values if isinstance(values, list) else [values]:
            out.append((name, str(value)))
    return out


def recorded_request(interaction: dict[str, Any]) -> httpx.Request:
    rec = interaction["request"]
    headers = [(k, v) for k, v in flat_headers(rec["headers"]) if k.lower() != "content-length"]
    return httpx.Request(rec["method"], rec["uri"], headers=headers, content=body_bytes(rec["body"]))


def recorded_response(interaction: dict[str, Any]) -> httpx.Response:
    rec = interaction["response"]
    return httpx.Response(rec["status"]["code"], headers=flat_headers(rec["headers"]), content=body_bytes(rec["body"]))


def test_body_bytes_handles_plain_and_binary_cassette_bodies() -> None:
    binary = yaml.safe_load("body: {string: !!binary iVBORw0KGgo=}")["body"]
    assert body_bytes(binary) == b"\x89PNG\r\n\x1a\n"
    assert body_bytes({"string": "{\r\n}"}) == b"{\r\n}"
    assert body_bytes(None) == b""
    assert body_bytes('{"a": 1}') == b'{"a": 1}'


# -- swagger --------------------------------------------------------------------------------------------------


def swagger_docs() -> tuple[SwaggerDoc, SwaggerDoc]:
    connector = REFERENCE / "connector"
    return load_swagger(connector / "ConnectorAPI.json"), load_swagger(connector / "botframework-channel.json")


def match_recorded(interaction: dict[str, Any]) -> OperationMatch:
    """Which operation a recorded request called, with its decoded path parameters (path matching only)."""
    request = recorded_request(interaction)
    v30, _ = swagger_docs()
    return v30.match(request.method, request.url.raw_path)


# -- replay ---------------------------------------------------------------------------------------------------


class Replayer:
    """A transport handler serving one cassette in order, keeping our requests."""

    def __init__(self, interactions: list[dict[str, Any]]) -> None:
        self.interactions = interactions
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        index = len(self.requests) - 1
        if index >= len(self.interactions):
            return httpx.Response(599, text=f"Replayer: no recorded interaction #{index + 1}")
        return recorded_response(self.interactions[index])


def call_for(client: Any, interaction: dict[str, Any]) -> Callable[[], Any]:
    """The client call that reproduces a recorded request: ids from its URI, its body parsed into our model."""
    match = match_recorded(interaction)
    params = match.path_params
    raw_body = body_bytes(interaction["request"]["body"])
    body = json.loads(raw_body) if raw_body else None
    conversations, attachments = client.conversations, client.attachments
    op = match.operation_id
    if op == "Conversations_CreateConversation":
        return lambda: conversations.create_conversation(ConversationParameters.from_dict(body))
    if op == "Conversations_SendToConversation":
        return lambda: conversations.send_to_conversation(params["conversationId"], Activity.from_dict(body))
    if op == "Conversations_ReplyToActivity":
        return lambda: conversations.reply_to_activity(
            params["conversationId"], params["activityId"], Activity.from_dict(body)
        )
    if op == "Conversations_UpdateActivity":
        return lambda: conversations.update_activity(
            params["conversationId"], params["activityId"], Activity.from_dict(body)
        )
    if op == "Conversations_DeleteActivity":
        return lambda: conversations.delete_activity(params["conversationId"], params["activityId"])
    if op == "Conversations_GetConversationMembers":
        return lambda: conversations.get_conversation_members(params["conversationId"])
    if op == "Conversations_GetActivityMembers":
        return lambda: conversations.get_activity_members(params["conversationId"], params["activityId"])
    if op == "Conversations_UploadAttachment":
        # build the model from raw bytes (base64-decoded from the recording): we must re-encode them identically
        upload = AttachmentData(
            type=body["type"],
            name=body["name"],
            original_base64=base64.b64decode(body["originalBase64"], validate=True),
            thumbnail_base64=base64.b64decode(body["thumbnailBase64"], validate=True),
        )
        return lambda: conversations.upload_attachment(params["conversationId"], upload)
    if op == "Attachments_GetAttachmentInfo":
        return lambda: attachments.get_attachment_info(params["attachmentId"])
    if op == "Attachments_GetAttachment":
        return lambda: attachments.get_attachment(params["attachmentId"], params["viewId"]).read()
    raise AssertionError(f"no replay for {op}")


def assert_same_request(ours: httpx.Request, interaction: dict[str, Any]) -> None:
    rec = interaction["request"]
    assert ours.method == rec["method"]
    assert str(ours.url) == rec["uri"]  # exact string, percent-encoding (%3A) included
    recorded_body = body_bytes(rec["body"])
    recorded_headers = {k.lower(): v for k, v in flat_headers(rec["headers"])}
    if recorded_body:
        assert json.loads(ours.content) == json.loads(recorded_body)
        assert ours.headers["content-type"] == recorded_headers["content-type"]
        assert ours.headers["accept"] == recorded_headers["accept"]
    else:
        assert ours.content == b""
        assert "content-type" not in ours.headers  # msrest sent one without a body; see the module docstring
        is_view = "/views/" in rec["uri"]
        assert ours.headers["accept"] == ("*/*" if is_view else recorded_headers["accept"])


def replay(env: Env, name: str) -> tuple[list[Any], list[httpx.Request]]:
    """Replay cassette ``name``; returns each call's outcome (result or the exception raised) and our requests."""
    interactions = load_cassette(name)
    replayer = Replayer(interactions)
    outcomes: list[Any] = []
    with env.construct("ConnectorClient", SERVICE_URL, transport=httpx.MockTransport(replayer)) as client:
        for interaction in interactions:
            try:
                outcomes.append(call_for(client, interaction)())
            except errors.BotConnectError as exc:
                outcomes.append(exc)
    assert len(replayer.requests) == len(interactions)  # one request per interaction: no retries, no extras
    for ours, interaction in zip(replayer.requests, interactions, strict=True):
        assert_same_request(ours, interaction)
    return outcomes, replayer.requests


def _ok(*expected: Any) -> Callable[[list[Any]], None]:
    def check(outcomes: list[Any]) -> None:
        assert outcomes == list(expected)
        for outcome, value in zip(outcomes, expected, strict=True):
            assert type(outcome) is type(value)

    return check


def _fails(
    error_type: type[errors.HttpResponseError], status: int, code: str, message: str, *, before: list[Any]
) -> Callable[[list[Any]], None]:
    def check(outcomes: list[Any]) -> None:
        *first, last = outcomes
        assert first == before
        assert type(last) is error_type
        assert isinstance(last, errors.HttpResponseError)
        assert last.status_code == status
        assert last.error.code == code
        assert last.error.message == message
        assert last.error_code == code
        assert message in str(last)
        assert f"{status} " in str(last)

    return check


def _view_bytes_match_upload(outcomes: list[Any]) -> None:
    interactions = load_cassette("test_attachments_get_attachment_view")
    upload, view = outcomes
    assert upload == ResourceResponse(id="at13796-8TaO2Ql8iYq")
    recorded_view = body_bytes(interactions[1]["response"]["body"])
    assert view == recorded_view
    assert len(view) == 11476  # the recorded content-length
    # the service returns the exact bytes that were uploaded as originalBase64
    uploaded = base64.b64decode(json.loads(body_bytes(interactions[0]["request"]["body"]))["originalBase64"])
    assert view == uploaded


EXPECTED: dict[str, Callable[[list[Any]], None]] = {
    "test_attachments_get_attachment_view": _view_bytes_match_upload,
    "test_attachments_get_attachment_view_with_invalid_view_id_fails": _fails(
        errors.ResourceNotFoundError,
        404,
        "ServiceError",
        "attachment not found",
        before=[ResourceResponse(id="at13867-GVxj5BPLpV4")],
    ),
    "test_attachments_upload_and_get_attachment": _ok(
        ResourceResponse(id="at13796-GJS5yaxDLI"),
        AttachmentInfo(
            name="Bot.png",
            type="image/png",
            views=[AttachmentView(view_id="thumbnail", size=2532), AttachmentView(view_id="original", size=11476)],
        ),
    ),
    "test_conversations_create_conversation": _ok(
        ConversationResourceResponse(activity_id="1514296290.000025", id="B21UTEF8S:T03CWQ0QB:D2369CT7C")
    ),
    "test_conversations_create_conversation_without_members_fails": _fails(
        errors.HttpResponseError, 400, "BadArgument", "Conversations must be to a single member", before=[]
    ),
    "test_conversations_delete_activity": _ok(ResourceResponse(id="1514312541.000062"), None),
    "test_conversations_get_activity_members": _ok(ResourceResponse(id="1514313493.000196"), MEMBERS),
    "test_conversations_get_conversation_members": _ok(MEMBERS),
    "test_conversations_reply_to_activity": _ok(
        ResourceResponse(id="1514312453.000142"), ResourceResponse(id="1514312455.000028")
    ),
    "test_conversations_send_to_conversation": _ok(ResourceResponse(id="1514296291.000146")),
    "test_conversations_send_to_conversation_with_attachment": _ok(ResourceResponse(id="1514296292.000128")),
    "test_conversations_send_to_conversation_with_invalid_conversation_id_fails": _fails(
        errors.HttpResponseError, 400, "ServiceError", "Invalid ConversationId: 123", before=[]
    ),
    "test_conversations_update_activity": _ok(
        ResourceResponse(id="1514310955.000243"), ResourceResponse(id="1514310955.000243")
    ),
}


def test_every_recording_is_replayed() -> None:
    on_disk = sorted(p.stem for p in Path(RECORDINGS_DIR).glob("*.yaml"))
    assert len(on_disk) == 13
    assert sorted(EXPECTED) == on_disk


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_replay(env: Env, name: str) -> None:
    outcomes, _ = replay(env, name)
    EXPECTED[name](outcomes)


def test_recorded_conversation_ids_are_encoded_like_the_official_client(env: Env) -> None:
    _, requests = replay(env, "test_conversations_get_conversation_members")
    assert requests[0].url.raw_path == b"/v3/conversations/B21UTEF8S%3AT03CWQ0QB%3AD2369CT7C/members"
    assert match_recorded(load_cassette("test_conversations_get_conversation_members")[0]).path_params == {
        "conversationId": CONVERSATION
    }


def test_attachment_upload_reencodes_the_recorded_base64_identically() -> None:
    for name in (
        "test_attachments_get_attachment_view",
        "test_attachments_get_attachment_view_with_invalid_view_id_fails",
        "test_attachments_upload_and_get_attachment",
    ):
        recorded = json.loads(body_bytes(load_cassette(name)[0]["request"]["body"]))
        upload = AttachmentData(
            type=recorded["type"],
            name=recorded["name"],
            original_base64=base64.b64decode(recorded["originalBase64"]),
            thumbnail_base64=base64.b64decode(recorded["thumbnailBase64"]),
        )
        assert upload.to_dict() == recorded
        assert AttachmentData.from_dict(recorded) == upload


# -- the recorded traffic against the Swagger documents ---------------------------------------------------------

# (without the reference material there is nothing to parametrize; test_every_recording_is_replayed then fails)
ALL_INTERACTIONS = [
    pytest.param(name, index, id=f"{name}[{index}]")
    for name in sorted(EXPECTED)
    if RECORDINGS_DIR.is_dir()
    for index in range(len(load_cassette(name)))
]


@pytest.mark.parametrize(("name", "index"), ALL_INTERACTIONS)
def test_recorded_traffic_conforms_to_both_swagger_documents(name: str, index: int) -> None:
    interaction = load_cassette(name)[index]
    request = recorded_request(interaction)
    response = recorded_response(interaction)
    for doc in swagger_docs():
        match = doc.validate_request(request)
        assert match.operation_id == match_recorded(interaction).operation_id
        # the view (a `type: file` response) is returned as raw bytes; JSON bodies are schema-checked
        doc.validate_response(
            match.operation_id, response.status_code, response.content, content_type=response.headers["content-type"]
        )
