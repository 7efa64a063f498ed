"""Contract tests of every Connector operation, three ways (sync, asyncio, trio).

Each test pins down the wire request (method, exact raw path, query, headers, exact JSON body) and the parsed
result, and checks every captured request against both Swagger documents (v3.0 ConnectorAPI.json and v3.1
botframework-channel.json, where the operation exists) with tests/swagger.py.
"""

from __future__ import annotations

import base64
import json
import string
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from botconnect import errors
from botconnect._core.requests import connector as build
from botconnect.models import (
    Activity,
    ActivityTypes,
    Attachment,
    AttachmentData,
    AttachmentInfo,
    AttachmentView,
    CardImage,
    ChannelAccount,
    ConversationAccount,
    ConversationMembers,
    ConversationParameters,
    ConversationResourceResponse,
    HeroCard,
    Mention,
    ResourceResponse,
    RoleTypes,
    TeamsChannelAccount,
    Transcript,
)

from .conftest import REFERENCE
from .harness import Env, FakeService
from .swagger import SwaggerDoc, SwaggerError, load_swagger

SERVICE_URL = "https://smba.trafficmanager.net/amer/"
PREFIX = "/amer"

# Teams-style ids full of characters that would change the path's structure if sent raw
CONV = "19:meeting_Zm9v@thread.v2;messageid=1625/x?y#z%41 \u00e9.."
CONV_RAW = "19%3Ameeting_Zm9v%40thread.v2%3Bmessageid%3D1625%2Fx%3Fy%23z%2541%20%C3%A9.."
ACTIVITY = "1625:abc/../def"
ACTIVITY_RAW = "1625%3Aabc%2F..%2Fdef"
MEMBER = "29:1AbC-xyz_~+=@x;y"
MEMBER_RAW = "29%3A1AbC-xyz_~%2B%3D%40x%3By"
ATTACHMENT = "0-wus-d1-1234/abc def\U0001f600"
ATTACHMENT_RAW = "0-wus-d1-1234%2Fabc%20def%F0%9F%98%80"

_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")


def enc(value: str) -> str:
    """RFC 3986 path-segment encoding, written independently of the SDK: only unreserved characters stay raw."""
    if value and set(value) == {"."}:
        return "%2E" * len(value)
    return "".join(c if c in _UNRESERVED else "".join(f"%{b:02X}" for b in c.encode("utf-8")) for c in value)


def test_expected_encodings_are_consistent() -> None:
    assert enc(CONV) == CONV_RAW
    assert enc(ACTIVITY) == ACTIVITY_RAW
    assert enc(MEMBER) == MEMBER_RAW
    assert enc(ATTACHMENT) == ATTACHMENT_RAW


# -- helpers --------------------------------------------------------------------------------------------------


@pytest.fixture
def docs(reference: Path) -> tuple[SwaggerDoc, SwaggerDoc]:
    connector = reference / "connector"
    return load_swagger(connector / "ConnectorAPI.json"), load_swagger(connector / "botframework-channel.json")


@pytest.fixture(autouse=True)
def _every_captured_request_conforms(fake: FakeService, docs: tuple[SwaggerDoc, SwaggerDoc]) -> Iterator[None]:
    """Whatever a test sends, every API request it captured must be valid in both Swagger documents."""
    yield
    _, v31 = docs  # v3.1 has every operation; ``conforms`` then checks v3.0 has it too (or has no such path)
    for request in fake.requests:
        if "/v3/" not in request.url.path:
            continue  # the target of a redirect (a blob URL), not an API call
        base_path = PREFIX if request.url.host == "smba.trafficmanager.net" else ""
        conforms(docs, request, v31.validate_request(request, base_path=base_path).operation_id, base_path)


def _client(env: Env, fake: FakeService, service_url: str = SERVICE_URL) -> Any:
    return env.construct("ConnectorClient", service_url, transport=fake.transport)


def conforms(docs: tuple[SwaggerDoc, ...], request: httpx.Request, operation_id: str, base_path: str = PREFIX) -> None:
    """The request is ``operation_id`` in every document that has it, and matches nothing in the others."""
    found = 0
    for doc in docs:
        if doc.has_operation(operation_id):
            found += 1
            assert doc.validate_request(request, base_path=base_path).operation_id == operation_id
        else:
            with pytest.raises(SwaggerError):
                doc.validate_request(request, base_path=base_path)
    assert found, f"{operation_id} is in no document"


def response_conforms(docs: tuple[SwaggerDoc, ...], operation_id: str, status: int, body: Any) -> None:
    """The canned response we serve is itself what the documents promise (so the parse test is meaningful)."""
    content = json.dumps(body).encode()
    for doc in docs:
        if doc.has_operation(operation_id):
            doc.validate_response(operation_id, status, content, content_type="application/json")


def query_of(request: httpx.Request) -> list[tuple[str, str]]:
    return parse_qsl(request.url.query.decode("ascii"), keep_blank_values=True, strict_parsing=False)


def assert_common_headers(request: httpx.Request) -> None:
    assert request.headers["user-agent"].startswith("botconnect-python/")
    assert "authorization" not in request.headers  # no credential: anonymous (emulator-style) client


def assert_json_request(request: httpx.Request, method: str, raw_path: str, body: Any) -> None:
    assert request.method == method
    assert request.url.raw_path == raw_path.encode("ascii")
    assert request.url.host == "smba.trafficmanager.net"
    assert request.headers["content-type"] == "application/json; charset=utf-8"
    assert request.headers["accept"] == "application/json"
    assert request.headers["content-length"] == str(len(request.content))
    assert json.loads(request.content.decode("utf-8")) == body
    assert_common_headers(request)


def assert_bodyless_request(
    request: httpx.Request, method: str, raw_path: str, accept: str = "application/json"
) -> None:
    assert request.method == method
    assert request.url.raw_path == raw_path.encode("ascii")
    assert request.content == b""
    assert "content-type" not in request.headers
    assert request.headers["accept"] == accept
    assert_common_headers(request)


CONV_PATH = f"{PREFIX}/v3/conversations/{CONV_RAW}"
NOW = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


# -- conversations --------------------------------------------------------------------------------------------


def test_create_conversation(env: Env, fake: FakeService, docs: tuple[SwaggerDoc, SwaggerDoc]) -> None:
    answer = {"id": "a:1Conv", "activityId": "1625:1", "serviceUrl": SERVICE_URL}
    response_conforms(docs, "Conversations_CreateConversation", 201, answer)
    fake.reply(201, json_body=answer)
    parameters = ConversationParameters(
        is_group=False,
        bot=ChannelAccount(id="28:bot-app", name="Bot"),
        members=[ChannelAccount(id="29:1user", name="Ann \u00e9", role=RoleTypes.USER)],
        topic_name="Topic",
        tenant_id="tenant-1",
        activity=Activity(type=ActivityTypes.MESSAGE, text="Hello \U0001f44b"),
        channel_data={"tenant": {"id": "tenant-1"}},
    )
    with _client(env, fake) as client:
        result = client.conversations.create_conversation(parameters)
    assert len(fake.requests) == 1
    assert_json_request(
        fake.last,
        "POST",
        f"{PREFIX}/v3/conversations",
        {
            "isGroup": False,
            "bot": {"id": "28:bot-app", "name": "Bot"},
            "members": [{"id": "29:1user", "name": "Ann \u00e9", "role": "user"}],
            "topicName": "Topic",
            "tenantId": "tenant-1",
            "activity": {"type": "message", "text": "Hello \U0001f44b"},
            "channelData": {"tenant": {"id": "tenant-1"}},
        },
    )
    assert fake.last.url.query == b""
    assert "Hello \U0001f44b".encode() in fake.last.content  # UTF-8 on the wire, not \\u escapes
    conforms(docs, fake.last, "Conversations_CreateConversation")
    assert isinstance(result, ConversationResourceResponse)
    assert (result.id, result.activity_id, result.service_url) == ("a:1Conv", "1625:1", SERVICE_URL)


def _rich_activity() -> tuple[Activity, dict[str, Any]]:
    activity = Activity(
        type=ActivityTypes.MESSAGE,
        timestamp=NOW,
        from_property=ChannelAccount(id="28:bot", name="Bot", role=RoleTypes.BOT),
        recipient=ChannelAccount(id=MEMBER, aad_object_id="0000-aad"),
        conversation=ConversationAccount(id=CONV, is_group=True, conversation_type="channel", tenant_id="t1"),
        text="<at>Ann</at> look",
        attachments=[
            Attachment(
                content_type=HeroCard.CONTENT_TYPE,
                content=HeroCard(title="T", images=[CardImage(url="https://x/y.png")]),
            )
        ],
        entities=[Mention.for_account(ChannelAccount(id=MEMBER, name="Ann"))],
        channel_data={"notification": {"alert": True}},
    )
    wire = {
        "type": "message",
        "timestamp": "2024-01-02T03:04:05Z",
        "from": {"id": "28:bot", "name": "Bot", "role": "bot"},
        "recipient": {"id": MEMBER, "aadObjectId": "0000-aad"},
        "conversation": {"id": CONV, "isGroup": True, "conversationType": "channel", "tenantId": "t1"},
        "text": "<at>Ann</at> look",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.hero",
                "content": {"title": "T", "images": [{"url": "https://x/y.png"}]},
            }
        ],
        "entities": [{"type": "mention", "mentioned": {"id": MEMBER, "name": "Ann"}, "text": "<at>Ann</at>"}],
        "channelData": {"notification": {"alert": True}},
    }
    return activity, wire


@pytest.mark.parametrize("as_dict", [False, True], ids=["model", "dict"])
def test_send_to_conversation(env: Env, fake: FakeService, docs: tuple[SwaggerDoc, SwaggerDoc], as_dict: bool) -> None:
    activity, wire = _rich_activity()
    response_conforms(docs, "Conversations_SendToConversation", 200, {"id": "1625:9"})
    fake.reply(200, json_body={"id": "1625:9"})
    with _client(env, fake) as client:
        result = client.conversations.send_to_conversation(CONV, wire if as_dict else activity)
    assert_json_request(fake.last, "POST", f"{CONV_PATH}/activities", wire)
    conforms(docs, fake.last, "Conversations_SendToConversation")
    assert isinstance(result, ResourceResponse)
    assert result.id == "1625:9"


def test_reply_to_activity(env: Env, fake: FakeService, docs: tuple[SwaggerDoc, SwaggerDoc]) -> None:
    fake.reply(201, json_body={"id": "1625:10"})
    with _client(env, fake) as client:
        result = client.conversations.reply_to_activity(
            CONV, ACTIVITY, Activity(type="message", text="re", reply_to_id=ACTIVITY)
        )
    assert_json_request(
        fake.last,
        "POST",
        f"{CONV_PATH}/activities/{ACTIVITY_RAW}",
        {"type": "message", "text": "re", "replyToId": ACTIVITY},
    )
    conforms(docs, fake.last, "Conversations_ReplyToActivity")
    assert result == ResourceResponse(id="1625:10")


def test_update_activity(env: Env, fake: FakeService, docs: tuple[SwaggerDoc, SwaggerDoc]) -> None:
    fake.reply(200, json_body={"id": ACTIVITY})
    with _client(env, fake) as client:
        result = client.conversations.update_activity(
            CONV, ACTIVITY, Activity(type=ActivityTypes.MESSAGE, id=ACTIVITY, text="edited")
        )
    assert_json_request(
        fake.last,
        "PUT",
        f"{CONV_PATH}/activities/{ACTIVITY_RAW}",
        {"type": "message", "id": ACTIVITY, "text": "edited"},
    )
    conforms(docs, fake.last, "Conversations_UpdateActivity")
    assert result.id == ACTIVITY


@pytest.mark.parametrize(("status", "body"), [(200, b"{}"), (202, b""), (204, b"")])
def test_delete_activity(
    env: Env, fake: FakeService, docs: tuple[SwaggerDoc, SwaggerDoc], status: int, body: bytes
) -> None:
    fake.reply(status, content=body)
    with _client(env, fake) as client:
        result = client.conversations.delete_activity(CONV, ACTIVITY)
    assert result is None
    assert len(fake.requests) == 1
    assert_bodyless_request(fake.last, "DELETE", f"{CONV_PATH}/activities/{ACTIVITY_RAW}")
    conforms(docs, fake.last, "Conversations_DeleteActivity")


def test_send_conversation_history(env: Env, fake: FakeService, docs: tuple[SwaggerDoc, SwaggerDoc]) -> None:
    fake.reply(200, json_body={"id": "history-1"})
    transcript = Transcript(
        activities=[
            Activity(type="message", id="1", text="first", timestamp=NOW),
            Activity(type="message", id="2", text="second", from_property=ChannelAccount(id="29:u")),
        ]
    )
    with _client(env, fake) as client:
        result = client.conversations.send_conversation_history(CONV, transcript)
    assert_json_request(
        fake.last,
        "POST",
        f"{CONV_PATH}/activities/history",
        {
            "activities": [
                {"type": "message", "id": "1", "text": "first", "timestamp": "2024-01-02T03:04:05Z"},
                {"type": "message", "id": "2", "text": "second", "from": {"id": "29:u"}},
            ]
        },
    )
    conforms(docs, fake.last, "Conversations_SendConversationHistory")
    assert result.id == "history-1"


MEMBERS_BODY = [
    {"id": "28:bot", "name": "Bot", "role": "bot"},
    {"id": MEMBER, "name": "Ann", "aadObjectId": "aad-1", "role": "user", "tenantId": "t1"},
]


def _assert_members(members: list[ChannelAccount]) -> None:
    assert [type(m) for m in members] == [ChannelAccount, ChannelAccount]
    assert [(m.id, m.name, m.role) for m in members] == [("28:bot", "Bot", "bot"), (MEMBER, "Ann", "user")]
    assert members[0].role is RoleTypes.BOT
    assert members[1].aad_object_id == "aad-1"
    assert members[1].additional_properties == {"tenantId": "t1"}  # unknown keys are kept


def test_get_conversation_members(env: Env, fake: FakeService, docs: tuple[SwaggerDoc, SwaggerDoc]) -> None:
    response_conforms(docs, "Conversations_GetConversationMembers", 200, MEMBERS_BODY)
    fake.reply(200, json_body=MEMBERS_BODY)
    with _client(env, fake) as client:
        members = client.conversations.get_conversation_members(CONV)
    assert_bodyless_request(fake.last, "GET", f"{CONV_PATH}/members")
    conforms(docs, fake.last, "Conversations_GetConversationMembers")
    _assert_members(members)


def test_get_conversation_member_is_v31_only(env: Env, fake: FakeService, docs: tuple[SwaggerDoc, SwaggerDoc]) -> None:
    response_conforms(docs, "Conversations_GetConversationMember", 200, MEMBERS_BODY[1])
    fake.reply(200, json_body=MEMBERS_BODY[1])
    with _client(env, fake) as client:
        member = client.conversations.get_conversation_member(CONV, MEMBER)
    assert_bodyless_request(fake.last, "GET", f"{CONV_PATH}/members/{MEMBER_RAW}")
    v30, v31 = docs
    assert not v30.has_operation("Conversations_GetConversationMember")
    assert v31.validate_request(fake.last, base_path=PREFIX).path_params == {"conversationId": CONV, "memberId": MEMBER}
    conforms(docs, fake.last, "Conversations_GetConversationMember")  # and v3.0 matches no operation at all
    assert isinstance(member, ChannelAccount)
    assert (member.id, member.name, member.aad_object_id, member.role) == (MEMBER, "Ann", "aad-1", "user")


def test_get_conversation_member_not_found(env: Env, fake: FakeService, docs: tuple[SwaggerDoc, SwaggerDoc]) -> None:
    body = {"error": {"code": "MemberNotFound", "message": "no such member"}}
    response_conforms(docs, "Conversations_GetConversationMember", 404, body)
    fake.reply(404, json_body=body)
    with _client(env, fake) as client, pytest.raises(errors.ResourceNotFoundError) as info:
        client.conversations.get_conversation_member(CONV, MEMBER)
    assert info.value.status_code == 404
    assert (info.value.error.code, info.value.error.message) == ("MemberNotFound", "no such member")
    assert len(fake.requests) == 1  # a 404 is not retried


@pytest.mark.parametrize("status", [200, 204])
def test_delete_conversation_member(
    env: Env, fake: FakeService, docs: tuple[SwaggerDoc, SwaggerDoc], status: int
) -> None:
    fake.reply(status)
    with _client(env, fake) as client:
        assert client.conversations.delete_conversation_member(CONV, MEMBER) is None
    assert_bodyless_request(fake.last, "DELETE", f"{CONV_PATH}/members/{MEMBER_RAW}")
    conforms(docs, fake.last, "Conversations_DeleteConversationMember")


def test_get_activity_members(env: Env, fake: FakeService, docs: tuple[SwaggerDoc, SwaggerDoc]) -> None:
    fake.reply(200, json_body=MEMBERS_BODY)
    with _client(env, fake) as client:
        members = client.conversations.get_activity_members(CONV, ACTIVITY)
    assert_bodyless_request(fake.last, "GET", f"{CONV_PATH}/activities/{ACTIVITY_RAW}/members")
    conforms(docs, fake.last, "Conversations_GetActivityMembers")
    _assert_members(members)


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))


def test_upload_attachment(env: Env, fake: FakeService, docs: tuple[SwaggerDoc, SwaggerDoc]) -> None:
    fake.reply(200, json_body={"id": "att-1"})
    upload = AttachmentData(type="image/png", name="pic \u00e9.png", original_base64=PNG, thumbnail_base64=b"\x00\xff")
    with _client(env, fake) as client:
        result = client.conversations.upload_attachment(CONV, upload)
    assert_json_request(
        fake.last,
        "POST",
        f"{CONV_PATH}/attachments",
        {
            "type": "image/png",
            "name": "pic \u00e9.png",
            "originalBase64": base64.b64encode(PNG).decode("ascii"),
            "thumbnailBase64": "AP8=",
        },
    )
    conforms(docs, fake.last, "Conversations_UploadAttachment")
    assert result.id == "att-1"


# -- paged operations -----------------------------------------------------------------------------------------


def test_get_conversations(env: Env, fake: FakeService, docs: tuple[SwaggerDoc, SwaggerDoc]) -> None:
    body = {"conversations": [{"id": CONV, "members": [{"id": MEMBER}]}, {"id": "a:2", "members": []}]}
    response_conforms(docs, "Conversations_GetConversations", 200, body)
    fake.reply(200, json_body=body)
    with _client(env, fake) as client:
        conversations = list(client.conversations.get_conversations())
    assert len(fake.requests) == 1  # no continuation token: one page
    assert_bodyless_request(fake.last, "GET", f"{PREFIX}/v3/conversations")
    conforms(docs, fake.last, "Conversations_GetConversations")
    assert [type(c) for c in conversations] == [ConversationMembers, ConversationMembers]
    assert conversations[0].id == CONV
    assert conversations[0].members == [ChannelAccount(id=MEMBER)]
    assert conversations[1].members == []


def test_get_conversations_by_page_with_tokens(
    env: Env, fake: FakeService, docs: tuple[SwaggerDoc, SwaggerDoc]
) -> None:
    token1, token2 = "t1 +/=&?#%\u00e9", "t2"
    fake.reply(200, json_body={"conversations": [{"id": "a"}, {"id": "b"}], "continuationToken": token1})
    fake.reply(200, json_body={"conversations": [{"id": "c"}], "continuationToken": token2})
    fake.reply(200, json_body={"conversations": [{"id": "d"}]})
    with _client(env, fake) as client:
        pager = client.conversations.get_conversations().by_page()
        assert pager.continuation_token is None
        first = next(pager)
        assert [c.id for c in first] == ["a", "b"]
        assert first.continuation_token == token1
        assert pager.continuation_token == token1
        rest = list(pager)
    assert [[c.id for c in page] for page in rest] == [["c"], ["d"]]
    assert [page.continuation_token for page in rest] == [token2, None]
    assert pager.continuation_token is None
    assert [query_of(r) for r in fake.requests] == [
        [],
        [("continuationToken", token1)],
        [("continuationToken", token2)],
    ]
    assert all(r.url.path == f"{PREFIX}/v3/conversations" for r in fake.requests)
    for request in fake.requests:
        conforms(docs, request, "Conversations_GetConversations")


def test_resume_with_continuation_token(env: Env, fake: FakeService, docs: tuple[SwaggerDoc, SwaggerDoc]) -> None:
    token = "resume me/+="
    fake.reply(200, json_body={"members": [{"id": "3"}]})
    with _client(env, fake) as client:
        pages = list(client.conversations.get_conversation_paged_members(CONV, page_size=7).by_page(token))
    assert [[m.id for m in page] for page in pages] == [["3"]]
    assert len(fake.requests) == 1
    assert fake.last.url.raw_path.startswith(f"{CONV_PATH}/pagedmembers?".encode())
    assert query_of(fake.last) == [("pageSize", "7"), ("continuationToken", token)]
    conforms(docs, fake.last, "Conversations_GetConversationPagedMembers")


def test_empty_continuation_token_ends_paging(env: Env, fake: FakeService) -> None:
    fake.reply(200, json_body={"members": [{"id": "1"}], "continuationToken": ""})
    fake.reply(200, json_body={"members": [{"id": "never"}]})
    with _client(env, fake) as client:
        pages = list(client.conversations.get_conversation_paged_members(CONV).by_page())
        items = [m.id for m in client.conversations.get_teams_conversation_paged_members(CONV)]
    assert [[m.id for m in page] for page in pages] == [["1"]]
    assert pages[0].continuation_token is None
    assert items == ["never"]  # the second reply went to the second call, not to a second page of the first
    assert len(fake.requests) == 2
    assert query_of(fake.requests[1]) == []


def test_by_page_with_empty_token_starts_from_the_beginning(env: Env, fake: FakeService) -> None:
    fake.reply(200, json_body={"conversations": [{"id": "a"}]})
    with _client(env, fake) as client:
        assert [c.id for page in client.conversations.get_conversations().by_page("") for c in page] == ["a"]
    assert query_of(fake.last) == []


def test_paging_is_lazy(env: Env, fake: FakeService) -> None:
    fake.reply(200, json_body={"members": [{"id": "1"}], "continuationToken": "t"})
    fake.reply(200, json_body={"members": [{"id": "2"}]})
    with _client(env, fake) as client:
        paged = client.conversations.get_conversation_paged_members(CONV, page_size=1)
        client.conversations.get_conversations()
        client.conversations.get_teams_conversation_paged_members(CONV)
        paged.by_page()
        assert fake.requests == []
        assert next(paged).id == "1"
        assert len(fake.requests) == 1  # one page at a time
        assert next(paged).id == "2"
        assert len(fake.requests) == 2
        with pytest.raises(StopIteration):
            next(paged)
    assert len(fake.requests) == 2


def test_error_mid_paging_carries_the_token_to_resume_from(env: Env, fake: FakeService) -> None:
    fake.reply(200, json_body={"members": [{"id": "1"}], "continuationToken": "t1"})
    fake.reply(404, json_body={"error": {"code": "NotFound", "message": "gone"}})
    with _client(env, fake) as client:
        paged = client.conversations.get_conversation_paged_members(CONV)
        assert next(paged).id == "1"
        with pytest.raises(errors.ResourceNotFoundError) as info:
            next(paged)
    assert info.value.continuation_token == "t1"
    assert query_of(fake.last) == [("continuationToken", "t1")]


def test_iteration_after_a_failed_page_retries_that_page(env: Env, fake: FakeService) -> None:
    """After an error mid-paging, iterating on retries the failed page: items are never silently dropped.

    (The async ItemPaged does this; the sync one must not instead end the iteration as if all items were seen.)
    """
    fake.reply(200, json_body={"members": [{"id": "1"}], "continuationToken": "t1"})
    fake.reply(503, json_body={"error": {"code": "ServiceUnavailable", "message": "busy"}})
    fake.reply(200, json_body={"members": [{"id": "2"}]})
    no_retries = env.pkg.NO_RETRIES
    with env.construct("ConnectorClient", SERVICE_URL, transport=fake.transport, retry_policy=no_retries) as client:
        paged = client.conversations.get_conversation_paged_members(CONV)
        assert next(paged).id == "1"
        with pytest.raises(errors.ServiceUnavailableError):
            next(paged)
        rest = [member.id for member in paged]
    assert rest == ["2"]
    assert [query_of(r) for r in fake.requests] == [[], [("continuationToken", "t1")], [("continuationToken", "t1")]]


@pytest.mark.parametrize(
    "service_url",
    [
        "https://smba.trafficmanager.net/amer",
        "https://smba.trafficmanager.net/amer/",
        " https://smba.trafficmanager.net/amer// ",
    ],
)
def test_service_url_path_prefix_is_kept(env: Env, fake: FakeService, service_url: str) -> None:
    fake.reply(200, json_body=[])
    with _client(env, fake, service_url) as client:
        client.conversations.get_conversation_members("a:b")
    assert str(fake.last.url) == "https://smba.trafficmanager.net/amer/v3/conversations/a%3Ab/members"


def test_get_conversation_paged_members(env: Env, fake: FakeService, docs: tuple[SwaggerDoc, SwaggerDoc]) -> None:
    page1 = {"members": MEMBERS_BODY, "continuationToken": "next"}
    response_conforms(docs, "Conversations_GetConversationPagedMembers", 200, page1)
    fake.reply(200, json_body=page1)
    fake.reply(200, json_body={"members": [{"id": "29:3"}]})
    with _client(env, fake) as client:
        members = list(client.conversations.get_conversation_paged_members(CONV, page_size=2))
    _assert_members(members[:2])
    assert [m.id for m in members[2:]] == ["29:3"]
    assert fake.requests[0].url.raw_path == f"{CONV_PATH}/pagedmembers?pageSize=2".encode()
    assert fake.requests[1].url.raw_path == f"{CONV_PATH}/pagedmembers?pageSize=2&continuationToken=next".encode()
    for request in fake.requests:
        assert_bodyless_request(request, "GET", request.url.raw_path.decode())
        conforms(docs, request, "Conversations_GetConversationPagedMembers")


def test_paged_members_without_page_size_sends_no_query(env: Env, fake: FakeService) -> None:
    fake.reply(200, json_body={"members": []})
    with _client(env, fake) as client:
        assert list(client.conversations.get_conversation_paged_members(CONV)) == []
    assert fake.last.url.raw_path == f"{CONV_PATH}/pagedmembers".encode()


TEAMS_MEMBER = {
    "id": MEMBER,
    "name": "Ann Lee",
    "aadObjectId": "6f1b-aad",
    "givenName": "Ann",
    "surname": "Lee",
    "email": "ann@contoso.com",
    "userPrincipalName": "ann@contoso.onmicrosoft.com",
    "tenantId": "72f9-tenant",
    "userRole": "user",
    "role": "user",
}


def test_get_teams_conversation_paged_members(env: Env, fake: FakeService, docs: tuple[SwaggerDoc, SwaggerDoc]) -> None:
    page1 = {"members": [TEAMS_MEMBER], "continuationToken": "c2"}
    response_conforms(docs, "Conversations_GetConversationPagedMembers", 200, page1)  # Teams fields are extras
    fake.reply(200, json_body=page1)
    fake.reply(200, json_body={"members": [{"id": "29:guest", "userRole": "guest", "futureField": 1}]})
    with _client(env, fake) as client:
        members = list(client.conversations.get_teams_conversation_paged_members(CONV, page_size=50))
    assert [type(m) for m in members] == [TeamsChannelAccount, TeamsChannelAccount]
    ann, guest = members
    assert (ann.id, ann.name, ann.aad_object_id, ann.role) == (MEMBER, "Ann Lee", "6f1b-aad", "user")
    assert (ann.given_name, ann.surname, ann.email) == ("Ann", "Lee", "ann@contoso.com")
    assert (ann.user_principal_name, ann.tenant_id, ann.user_role) == (
        "ann@contoso.onmicrosoft.com",
        "72f9-tenant",
        "user",
    )
    assert ann.additional_properties == {}
    assert (guest.user_role, guest.additional_properties) == ("guest", {"futureField": 1})
    assert [query_of(r) for r in fake.requests] == [
        [("pageSize", "50")],
        [("pageSize", "50"), ("continuationToken", "c2")],
    ]
    for request in fake.requests:
        assert request.url.path == f"{PREFIX}/v3/conversations/{CONV}/pagedmembers"
        conforms(docs, request, "Conversations_GetConversationPagedMembers")


# -- attachments ----------------------------------------------------------------------------------------------

ATTACHMENT_PATH = f"{PREFIX}/v3/attachments/{ATTACHMENT_RAW}"


def test_get_attachment_info(env: Env, fake: FakeService, docs: tuple[SwaggerDoc, SwaggerDoc]) -> None:
    body = {"name": "pic.png", "type": "image/png", "views": [{"viewId": "original", "size": 1234}]}
    response_conforms(docs, "Attachments_GetAttachmentInfo", 200, body)
    fake.reply(200, json_body=body)
    with _client(env, fake) as client:
        info = client.attachments.get_attachment_info(ATTACHMENT)
    assert_bodyless_request(fake.last, "GET", ATTACHMENT_PATH)
    conforms(docs, fake.last, "Attachments_GetAttachmentInfo")
    assert info == AttachmentInfo(
        name="pic.png", type="image/png", views=[AttachmentView(view_id="original", size=1234)]
    )


class ChunkStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response body served in chunks, recording whether anyone read or closed it."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.started = False
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        self.started = True
        yield from self.chunks

    async def __aiter__(self) -> Any:
        self.started = True
        for chunk in self.chunks:
            yield chunk

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


CHUNKS = [PNG[:10], PNG[10:100], PNG[100:]]


def _serve_chunks(fake: FakeService, path: str) -> ChunkStream:
    stream = ChunkStream(CHUNKS)
    headers = {"Content-Type": "image/png", "Content-Length": str(len(PNG))}
    fake.route("GET", path, lambda request: httpx.Response(200, headers=headers, stream=stream))
    return stream


@pytest.mark.parametrize("how", ["read", "iterate", "with"])
def test_get_attachment_streams_the_view(
    env: Env, fake: FakeService, docs: tuple[SwaggerDoc, SwaggerDoc], how: str
) -> None:
    body = _serve_chunks(fake, f"{PREFIX}/v3/attachments/{ATTACHMENT}/views/original")
    with _client(env, fake) as client:
        stream = client.attachments.get_attachment(ATTACHMENT, "original")
        assert not body.started  # nothing read yet: the caller streams it
        assert stream.content_type == "image/png"
        assert stream.content_length == len(PNG)
        if how == "read":
            data = stream.read()
        elif how == "iterate":
            chunks = list(stream)
            assert len(chunks) == len(CHUNKS)  # really streamed, chunk by chunk
            data = b"".join(chunks)
        else:
            with stream as s:
                data = b"".join(s)
        assert body.closed  # released as soon as it is consumed, not only when the client closes
    assert data == PNG
    assert len(fake.requests) == 1
    assert_bodyless_request(fake.last, "GET", f"{ATTACHMENT_PATH}/views/original", accept="*/*")
    conforms(docs, fake.last, "Attachments_GetAttachment")


@pytest.mark.parametrize("status", [301, 302])
def test_get_attachment_follows_redirects_on_the_same_host(
    env: Env, fake: FakeService, docs: tuple[SwaggerDoc, SwaggerDoc], status: int
) -> None:
    fake.route(
        "GET",
        f"{PREFIX}/v3/attachments/a1/views/thumbnail",
        lambda request: httpx.Response(status, headers={"Location": "/blobs/a1/thumb?sig=abc%2Bd"}),
    )
    body = _serve_chunks(fake, "/blobs/a1/thumb")
    with _client(env, fake) as client:
        data = client.attachments.get_attachment("a1", "thumbnail").read()
        assert body.closed
    assert data == PNG
    assert [r.method for r in fake.requests] == ["GET", "GET"]
    assert str(fake.requests[1].url) == "https://smba.trafficmanager.net/blobs/a1/thumb?sig=abc%2Bd"
    conforms(docs, fake.requests[0], "Attachments_GetAttachment")
    for doc in docs:
        assert doc.response_schema("Attachments_GetAttachment", status) is None  # documented, no body


def test_get_attachment_error_is_read_and_typed(env: Env, fake: FakeService) -> None:
    fake.reply(404, json_body={"error": {"code": "ServiceError", "message": "attachment not found"}})
    with _client(env, fake) as client, pytest.raises(errors.ResourceNotFoundError) as info:
        client.attachments.get_attachment("a1", "nope")
    assert info.value.error.message == "attachment not found"
    assert info.value.response.is_closed


# -- statuses -------------------------------------------------------------------------------------------------

POSTS: list[tuple[str, Callable[[Any], Any], type]] = [
    (
        "create_conversation",
        lambda c: c.conversations.create_conversation({"isGroup": True}),
        ConversationResourceResponse,
    ),
    (
        "send_to_conversation",
        lambda c: c.conversations.send_to_conversation(CONV, {"type": "typing"}),
        ResourceResponse,
    ),
    ("reply_to_activity", lambda c: c.conversations.reply_to_activity(CONV, ACTIVITY, Activity()), ResourceResponse),
    ("update_activity", lambda c: c.conversations.update_activity(CONV, ACTIVITY, Activity()), ResourceResponse),
    (
        "send_conversation_history",
        lambda c: c.conversations.send_conversation_history(CONV, Transcript()),
        ResourceResponse,
    ),
    ("upload_attachment", lambda c: c.conversations.upload_attachment(CONV, AttachmentData()), ResourceResponse),
]


@pytest.mark.parametrize("status", [200, 201, 202])
@pytest.mark.parametrize(("name", "call", "result_type"), POSTS, ids=[p[0] for p in POSTS])
def test_empty_success_body_gives_an_empty_result(
    env: Env, fake: FakeService, status: int, name: str, call: Callable[[Any], Any], result_type: type
) -> None:
    fake.reply(status)
    with _client(env, fake) as client:
        result = call(client)
    assert type(result) is result_type
    assert result.id is None
    assert len(fake.requests) == 1


def test_undocumented_success_status_is_an_error(env: Env, fake: FakeService) -> None:
    fake.reply(204)  # not a documented success of GET members
    with _client(env, fake) as client, pytest.raises(errors.HttpResponseError) as info:
        client.conversations.get_conversation_members(CONV)
    assert info.value.status_code == 204


# -- argument checking ----------------------------------------------------------------------------------------

A = Activity(type="message", text="x")
BAD_CALLS: list[tuple[str, Callable[[Any], Any], type[Exception]]] = [
    ("send empty conversation", lambda c: c.conversations.send_to_conversation("", A), ValueError),
    ("send int conversation", lambda c: c.conversations.send_to_conversation(123, A), TypeError),
    ("send None conversation", lambda c: c.conversations.send_to_conversation(None, A), TypeError),
    ("send str activity", lambda c: c.conversations.send_to_conversation(CONV, "hello"), TypeError),
    ("send wrong model", lambda c: c.conversations.send_to_conversation(CONV, ChannelAccount(id="x")), TypeError),
    ("send bad dict", lambda c: c.conversations.send_to_conversation(CONV, {"timestamp": "never"}), TypeError),
    ("reply empty activity id", lambda c: c.conversations.reply_to_activity(CONV, "", A), ValueError),
    ("reply bytes activity id", lambda c: c.conversations.reply_to_activity(CONV, b"1", A), TypeError),
    ("reply transcript", lambda c: c.conversations.reply_to_activity(CONV, "1", Transcript()), TypeError),
    ("update int activity id", lambda c: c.conversations.update_activity(CONV, 5, A), TypeError),
    ("update None activity", lambda c: c.conversations.update_activity(CONV, "1", None), TypeError),
    ("delete empty conversation", lambda c: c.conversations.delete_activity("", "1"), ValueError),
    ("delete empty activity", lambda c: c.conversations.delete_activity(CONV, ""), ValueError),
    ("history activity", lambda c: c.conversations.send_conversation_history(CONV, A), TypeError),
    ("history empty conversation", lambda c: c.conversations.send_conversation_history("", Transcript()), ValueError),
    ("create activity", lambda c: c.conversations.create_conversation(A), TypeError),
    ("create list", lambda c: c.conversations.create_conversation([]), TypeError),
    ("members empty", lambda c: c.conversations.get_conversation_members(""), ValueError),
    ("member empty", lambda c: c.conversations.get_conversation_member(CONV, ""), ValueError),
    ("member int", lambda c: c.conversations.get_conversation_member(CONV, 29), TypeError),
    ("delete member bytes", lambda c: c.conversations.delete_conversation_member(CONV, b"m"), TypeError),
    ("delete member empty conv", lambda c: c.conversations.delete_conversation_member("", "m"), ValueError),
    ("activity members empty", lambda c: c.conversations.get_activity_members(CONV, ""), ValueError),
    ("upload str", lambda c: c.conversations.upload_attachment(CONV, "data"), TypeError),
    ("upload bytes", lambda c: c.conversations.upload_attachment(CONV, b"data"), TypeError),
    ("upload bad base64", lambda c: c.conversations.upload_attachment(CONV, {"originalBase64": "!"}), TypeError),
    ("upload empty conv", lambda c: c.conversations.upload_attachment("", AttachmentData()), ValueError),
    ("paged empty conv", lambda c: c.conversations.get_conversation_paged_members(""), ValueError),
    ("paged int conv", lambda c: c.conversations.get_conversation_paged_members(7), TypeError),
    ("page_size 0", lambda c: c.conversations.get_conversation_paged_members(CONV, page_size=0), ValueError),
    ("page_size -1", lambda c: c.conversations.get_conversation_paged_members(CONV, page_size=-1), ValueError),
    ("page_size True", lambda c: c.conversations.get_conversation_paged_members(CONV, page_size=True), TypeError),
    ("page_size False", lambda c: c.conversations.get_conversation_paged_members(CONV, page_size=False), TypeError),
    ("page_size str", lambda c: c.conversations.get_conversation_paged_members(CONV, page_size="10"), TypeError),
    ("page_size float", lambda c: c.conversations.get_conversation_paged_members(CONV, page_size=2.0), TypeError),
    (
        "teams page_size 0",
        lambda c: c.conversations.get_teams_conversation_paged_members(CONV, page_size=0),
        ValueError,
    ),
    (
        "teams page_size bool",
        lambda c: c.conversations.get_teams_conversation_paged_members(CONV, page_size=True),
        TypeError,
    ),
    ("teams empty conv", lambda c: c.conversations.get_teams_conversation_paged_members(""), ValueError),
    ("info empty", lambda c: c.attachments.get_attachment_info(""), ValueError),
    ("info None", lambda c: c.attachments.get_attachment_info(None), TypeError),
    ("view empty view", lambda c: c.attachments.get_attachment("a", ""), ValueError),
    ("view int attachment", lambda c: c.attachments.get_attachment(1, "original"), TypeError),
]


@pytest.mark.parametrize(("name", "call", "exc"), BAD_CALLS, ids=[b[0] for b in BAD_CALLS])
def test_bad_arguments_raise_before_sending(
    env: Env, fake: FakeService, name: str, call: Callable[[Any], Any], exc: type[Exception]
) -> None:
    fake.reply(200, json_body={"id": "must not be used"})
    with _client(env, fake) as client, pytest.raises(exc):
        call(client)
    assert fake.requests == []


@pytest.mark.parametrize("token", [5, b"t"])
def test_non_str_continuation_token_is_refused_before_sending(env: Env, fake: FakeService, token: Any) -> None:
    with _client(env, fake) as client, pytest.raises(TypeError):
        next(client.conversations.get_conversations().by_page(token))
    assert fake.requests == []


# -- path encoding --------------------------------------------------------------------------------------------

ODD_IDS = [
    ".",
    "..",
    "...",
    "a/b",
    "../../v3/attachments/x",
    "?x=1",
    "#frag",
    "%2F",
    "%",
    "a b",
    "+",
    "29:1\u00e9\u4e2d\U0001f600",
    "a;b=c",
    "@",
    "\\",
    "\x00\n",
]


@pytest.mark.parametrize("odd", ODD_IDS)
def test_odd_ids_never_change_the_path_structure(
    env: Env, fake: FakeService, docs: tuple[SwaggerDoc, SwaggerDoc], odd: str
) -> None:
    fake.reply(200, json_body={"id": "1"})
    fake.reply(200, json_body=[])
    with _client(env, fake) as client:
        client.conversations.reply_to_activity(odd, odd, A)
        client.conversations.get_activity_members(odd, odd)
    reply, members = fake.requests
    assert reply.url.raw_path == f"{PREFIX}/v3/conversations/{enc(odd)}/activities/{enc(odd)}".encode()
    assert members.url.raw_path == f"{PREFIX}/v3/conversations/{enc(odd)}/activities/{enc(odd)}/members".encode()
    for doc in docs:
        match = doc.validate_request(reply, base_path=PREFIX)
        assert match.operation_id == "Conversations_ReplyToActivity"
        assert match.path_params == {"conversationId": odd, "activityId": odd}
        assert doc.validate_request(members, base_path=PREFIX).path_params == match.path_params


def test_service_url_without_path(env: Env, fake: FakeService, docs: tuple[SwaggerDoc, SwaggerDoc]) -> None:
    fake.reply(200, json_body={"id": "1"})
    with _client(env, fake, "https://slack.botframework.com") as client:
        client.conversations.send_to_conversation("B21UTEF8S:T03CWQ0QB:D2369CT7C", A)
    assert str(fake.last.url) == (
        "https://slack.botframework.com/v3/conversations/B21UTEF8S%3AT03CWQ0QB%3AD2369CT7C/activities"
    )
    conforms(docs, fake.last, "Conversations_SendToConversation", base_path="")


# sans-IO property check: any id, any operation taking ids, the path parses back to exactly those ids
_ids = st.text(min_size=1, max_size=40)


# (the module's autouse fixture only checks the FakeService, which this sans-IO test does not use)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(conversation_id=_ids, second_id=_ids)
def test_path_params_round_trip_through_the_swagger_matcher(conversation_id: str, second_id: str) -> None:
    v30 = load_swagger(REFERENCE / "connector" / "ConnectorAPI.json")
    v31 = load_swagger(REFERENCE / "connector" / "botframework-channel.json")
    base = build.normalize_service_url(SERVICE_URL)
    cases = [
        (build.build_update_activity(base, conversation_id, second_id, A), "activityId", v30),
        (build.build_delete_conversation_member(base, conversation_id, second_id), "memberId", v30),
        (build.build_get_conversation_member(base, conversation_id, second_id), "memberId", v31),
        (build.build_get_attachment(base, second_id, conversation_id), "attachmentId", v31),
    ]
    for operation, second_name, doc in cases:
        raw = operation.request.url.raw_path.decode("ascii")
        match = doc.match(operation.request.method, raw, base_path=PREFIX)
        if second_name == "attachmentId":
            assert match.path_params == {"attachmentId": second_id, "viewId": conversation_id}
        else:
            assert match.path_params == {"conversationId": conversation_id, second_name: second_id}
        assert raw.count("/") == match.template.count("/") + PREFIX.count("/")
