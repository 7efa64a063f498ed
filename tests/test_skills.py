"""SkillClient, three ways (sync, asyncio, trio): what a parent bot puts on the wire when it calls a skill, the
token it asks for, how the skill's answer comes back, and what is refused before anything is sent."""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import pytest

from botconnect import errors
from botconnect._core.retry import RetryPolicy
from botconnect.models import (
    Activity,
    ChannelAccount,
    ConversationAccount,
    ExpectedReplies,
    InvokeResponse,
)

from .harness import Env, FakeService

PARENT = "00000000-0000-0000-0000-00000000aaaa"
SKILL = "00000000-0000-0000-0000-00000000bbbb"
SKILL_URL = "https://skill.example.com/api/messages"
SKILL_HOST = "https://parent.example.com/api/skills/"
SKILL_CONV = "skill-conv-7f3a"
ORIGINAL_SERVICE_URL = "https://smba.trafficmanager.net/emea/"
HTML = "<html><body>Internal error</body></html>"


class Token:
    def __init__(self, token: str) -> None:
        self.token = token
        self.expires_on = 2**31


class RecordingCredential:
    """Records the scopes of every get_token call; ``app_id`` as MicrosoftAppCredentials has it."""

    def __init__(self, app_id: str | None = PARENT) -> None:
        if app_id is not None:
            self.app_id = app_id
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str) -> Token:
        self.scopes.append(scopes)
        return Token("tok-for-" + scopes[0])


class AsyncRecordingCredential(RecordingCredential):
    async def get_token(self, *scopes: str) -> Token:  # type: ignore[override]
        return super().get_token(*scopes)


def credential_for(env: Env, app_id: str | None = PARENT) -> RecordingCredential:
    return AsyncRecordingCredential(app_id) if env.is_async else RecordingCredential(app_id)


def original() -> Activity:
    return Activity(
        type="message",
        id="act-1",
        text="book a flight",
        locale="en-GB",
        service_url=ORIGINAL_SERVICE_URL,
        channel_id="msteams",
        from_property=ChannelAccount(id="29:user", name="Ada", aad_object_id="aad-user"),
        recipient=ChannelAccount(id="28:parent", name="Parent bot", role="bot"),
        conversation=ConversationAccount(id="a:teams-conv", name="Trip", is_group=True, tenant_id="t-1"),
        channel_data={"tenant": {"id": "t-1"}},
        additional_properties={"futureField": {"x": 1}},
    )


USER_WIRE = {"id": "29:user", "name": "Ada", "aadObjectId": "aad-user"}
#: what the skill must receive for original(), written out by hand
EXPECTED_BODY = {
    "type": "message",
    "id": "act-1",
    "text": "book a flight",
    "locale": "en-GB",
    "serviceUrl": SKILL_HOST,
    "channelId": "msteams",
    "from": USER_WIRE,
    "recipient": {"id": "28:parent", "name": "Parent bot", "role": "skill"},
    "conversation": {"id": SKILL_CONV, "name": "Trip", "isGroup": True, "tenantId": "t-1"},
    "channelData": {"tenant": {"id": "t-1"}},
    "futureField": {"x": 1},
    "relatesTo": {
        "activityId": "act-1",
        "user": USER_WIRE,
        "conversation": {"id": "a:teams-conv", "name": "Trip", "isGroup": True, "tenantId": "t-1"},
        "channelId": "msteams",
        "serviceUrl": ORIGINAL_SERVICE_URL,
        "locale": "en-GB",
    },
}


def skill_client(env: Env, fake: FakeService, credential: Any = None, **kwargs: Any) -> Any:
    return env.construct("SkillClient", credential, transport=fake.transport, **kwargs)


def post(client: Any, activity: Any = None, *, buffered: bool = False, **overrides: Any) -> Any:
    args: dict[str, Any] = {
        "from_bot_id": PARENT,
        "to_bot_id": SKILL,
        "to_url": SKILL_URL,
        "service_url": SKILL_HOST,
        "conversation_id": SKILL_CONV,
        "activity": original() if activity is None else activity,
    }
    args.update(overrides)
    method = client.post_buffered_activity if buffered else client.post_activity
    return method(**args)


# -- the wire ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("buffered", [False, True], ids=["post_activity", "post_buffered_activity"])
def test_request_on_the_wire(env: Env, fake: FakeService, buffered: bool) -> None:
    credential = credential_for(env)
    fake.reply(200, json_body={"activities": []} if buffered else {"ok": True})
    with skill_client(env, fake, credential) as client:
        post(client, buffered=buffered)
    (request,) = fake.requests
    assert request.method == "POST"
    assert str(request.url) == SKILL_URL
    assert request.headers["content-type"] == "application/json; charset=utf-8"
    assert request.headers["x-ms-conversation-id"] == SKILL_CONV
    assert request.headers["authorization"] == f"Bearer tok-for-{SKILL}/.default"
    assert request.headers["user-agent"].startswith("botconnect-python/")
    expected = dict(EXPECTED_BODY, deliveryMode="expectReplies") if buffered else EXPECTED_BODY
    assert json.loads(request.content) == expected
    assert credential.scopes == [(f"{SKILL}/.default",)]


def test_the_callers_activity_is_not_changed(env: Env, fake: FakeService) -> None:
    activity = original()
    before = copy.deepcopy(activity.to_dict())
    conversation, recipient = activity.conversation, activity.recipient
    fake.reply(200)
    fake.reply(200, json_body={"activities": []})
    with skill_client(env, fake, credential_for(env)) as client:
        post(client, activity)
        post(client, activity, buffered=True)
    assert activity.to_dict() == before
    assert activity.conversation is conversation
    assert conversation is not None
    assert conversation.id == "a:teams-conv"
    assert activity.recipient is recipient
    assert recipient is not None
    assert recipient.role == "bot"
    assert activity.relates_to is None
    assert activity.delivery_mode is None
    assert activity.service_url == ORIGINAL_SERVICE_URL


def test_activity_as_a_wire_dict(env: Env, fake: FakeService) -> None:
    wire = original().to_dict()
    before = copy.deepcopy(wire)
    fake.reply(200)
    with skill_client(env, fake, credential_for(env)) as client:
        post(client, wire)
    assert fake.last_json() == EXPECTED_BODY
    assert wire == before


def test_missing_recipient_and_conversation_are_created(env: Env, fake: FakeService) -> None:
    fake.reply(200)
    with skill_client(env, fake, credential_for(env)) as client:
        post(client, Activity(type="event", name="bookFlight", value={"to": "LHR"}))
    assert fake.last_json() == {
        "type": "event",
        "name": "bookFlight",
        "value": {"to": "LHR"},
        "serviceUrl": SKILL_HOST,
        "recipient": {"role": "skill"},
        "conversation": {"id": SKILL_CONV},
        "relatesTo": {},
    }


def test_an_existing_relates_to_is_replaced_by_the_original_conversation(env: Env, fake: FakeService) -> None:
    activity = original()
    activity.relates_to = activity.get_conversation_reference()
    activity.relates_to.service_url = "https://stale.example.com/"
    fake.reply(200)
    with skill_client(env, fake, credential_for(env)) as client:
        post(client, activity)
    assert fake.last_json()["relatesTo"] == EXPECTED_BODY["relatesTo"]


def test_to_url_path_and_query_are_kept(env: Env, fake: FakeService) -> None:
    fake.reply(200)
    with skill_client(env, fake, credential_for(env)) as client:
        post(client, to_url="https://skill.example.com:8443/bots/travel/api/messages?code=abc%3D")
    assert fake.last.url.raw_path == b"/bots/travel/api/messages?code=abc%3D"
    assert fake.last.url.port == 8443


# -- the token ----------------------------------------------------------------------------------------------


def test_each_call_asks_for_its_own_skills_audience(env: Env, fake: FakeService) -> None:
    credential = credential_for(env)
    fake.reply(200)
    fake.reply(200)
    fake.reply(200)
    with skill_client(env, fake, credential) as client:
        post(client, to_bot_id="skill-a")
        post(client, to_bot_id="skill-b")
        post(client, to_bot_id="api://skill-c/.default")  # already a scope: not doubled
    assert credential.scopes == [("skill-a/.default",), ("skill-b/.default",), ("api://skill-c/.default",)]
    assert [r.headers["authorization"] for r in fake.requests] == [
        "Bearer tok-for-skill-a/.default",
        "Bearer tok-for-skill-b/.default",
        "Bearer tok-for-api://skill-c/.default",
    ]


@pytest.mark.parametrize("from_bot_id", ["", None])
def test_no_app_id_of_its_own_calls_anonymously(env: Env, fake: FakeService, from_bot_id: str | None) -> None:
    credential = credential_for(env)
    fake.reply(200)
    with skill_client(env, fake, credential) as client:
        result = post(client, from_bot_id=from_bot_id, to_bot_id="")
    assert result == InvokeResponse(200)
    assert "authorization" not in fake.last.headers
    assert credential.scopes == []


def test_no_credential_calls_anonymously_even_over_plain_http(env: Env, fake: FakeService) -> None:
    fake.reply(200, json_body={"ok": 1})
    with skill_client(env, fake) as client:
        result = post(client, to_url="http://skill.internal:3978/api/messages")
    assert result == InvokeResponse(200, {"ok": 1})
    assert "authorization" not in fake.last.headers
    assert fake.last.headers["x-ms-conversation-id"] == SKILL_CONV


def test_from_bot_id_must_be_the_credentials_app_id(env: Env, fake: FakeService) -> None:
    credential = credential_for(env)
    with skill_client(env, fake, credential) as client:
        with pytest.raises(ValueError, match="not the app id of the credential"):
            post(client, from_bot_id="11111111-0000-0000-0000-000000000000")
        fake.reply(200)
        post(client, from_bot_id=PARENT.upper())  # app ids are GUIDs: case does not matter
    assert len(fake.requests) == 1
    assert credential.scopes == [(f"{SKILL}/.default",)]


def test_a_credential_without_app_id_accepts_any_from_bot_id(env: Env, fake: FakeService) -> None:
    credential = credential_for(env, app_id=None)  # azure-identity style: the identity is not visible
    fake.reply(200)
    with skill_client(env, fake, credential) as client:
        post(client, from_bot_id="managed-identity-bot")
    assert fake.last.headers["authorization"] == f"Bearer tok-for-{SKILL}/.default"


@pytest.mark.parametrize(
    "to_url",
    ["http://skill.example.com/api/messages", "http://10.0.0.5:3978/api/messages", "http://localhost.evil.com/x"],
)
def test_token_never_goes_over_plain_http(env: Env, fake: FakeService, to_url: str) -> None:
    credential = credential_for(env)
    with (
        skill_client(env, fake, credential) as client,
        pytest.raises(errors.UntrustedEndpointError, match="refusing to send credentials"),
    ):
        post(client, to_url=to_url)
    assert fake.requests == []
    assert credential.scopes == []  # refused before the credential was even asked


@pytest.mark.parametrize(
    "to_url", ["http://localhost:3978/api/messages", "http://127.0.0.1:39783/api/messages", "http://[::1]:3978/x"]
)
def test_token_may_go_over_http_to_loopback(env: Env, fake: FakeService, to_url: str) -> None:
    fake.reply(200)
    with skill_client(env, fake, credential_for(env)) as client:
        post(client, to_url=to_url)
    assert fake.last.headers["authorization"] == f"Bearer tok-for-{SKILL}/.default"


# -- bad input, refused before sending ----------------------------------------------------------------------

BAD_INPUT = [
    ({"conversation_id": ""}, ValueError, "conversation_id must not be empty"),
    ({"conversation_id": "  "}, ValueError, "conversation_id must not be empty"),
    ({"conversation_id": "conv\r\nx-injected: 1"}, ValueError, "printable ASCII"),
    ({"conversation_id": "caf\u00e9"}, ValueError, "printable ASCII"),
    ({"conversation_id": 7}, TypeError, "conversation_id must be a str"),
    ({"to_bot_id": ""}, ValueError, "to_bot_id"),
    ({"to_bot_id": None}, TypeError, "to_bot_id must be a str"),
    ({"from_bot_id": 1}, TypeError, "from_bot_id must be a str"),
    ({"to_url": "ftp://skill.example.com/api"}, ValueError, "absolute http"),
    ({"to_url": "/api/messages"}, ValueError, "absolute http"),
    ({"to_url": "https://user:pw@skill.example.com/api"}, ValueError, "user name or password"),
    ({"to_url": None}, TypeError, "to_url must be a str"),
    ({"service_url": "parent.example.com/api/skills"}, ValueError, "service_url"),
    ({"service_url": ""}, ValueError, "service_url"),
    ({"activity": 42}, TypeError, "activity must be an Activity"),
    ({"activity": "hello"}, TypeError, "activity must be an Activity"),
    ({"activity": {"type": "message", "timestamp": "not a date"}}, TypeError, "not a valid Activity"),
]


@pytest.mark.parametrize("buffered", [False, True], ids=["post_activity", "post_buffered_activity"])
@pytest.mark.parametrize(("overrides", "error", "match"), BAD_INPUT, ids=[str(o) for o, _, _ in BAD_INPUT])
def test_bad_input_is_refused_before_sending(
    env: Env, fake: FakeService, buffered: bool, overrides: dict[str, Any], error: type[Exception], match: str
) -> None:
    credential = credential_for(env)
    with skill_client(env, fake, credential) as client, pytest.raises(error, match=match):
        post(client, buffered=buffered, **overrides)
    assert fake.requests == []
    assert credential.scopes == []


def test_constructor_arguments_are_checked(env: Env, fake: FakeService) -> None:
    with pytest.raises(TypeError, match="get_token"):
        skill_client(env, fake, object())
    with pytest.raises(TypeError, match="retry_policy"):
        skill_client(env, fake, retry_policy=3)
    with pytest.raises(ValueError, match="timeout"):
        skill_client(env, fake, timeout=-1)


def test_use_after_close_is_refused(env: Env, fake: FakeService) -> None:
    client = skill_client(env, fake, credential_for(env))
    client.close()
    client.close()  # twice is fine
    with pytest.raises(errors.ClientClosedError):
        post(client)
    assert fake.requests == []


def test_user_agent_prefix(env: Env, fake: FakeService) -> None:
    fake.reply(200)
    with skill_client(env, fake, user_agent="travel-bot/2.1") as client:
        post(client)
    assert fake.last.headers["user-agent"].startswith("travel-bot/2.1 botconnect-python/")


# -- the skill's answer ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "content", "headers", "expected"),
    [
        (200, b'{"ref":[1,2]}', {"content-type": "application/json"}, {"ref": [1, 2]}),
        (200, b"", {"content-type": "application/json"}, None),
        (202, b"", {}, None),
        (200, b"  \r\n", {}, None),
        (200, b'{"n":1}', {}, {"n": 1}),  # no content type: JSON is tried
        (200, b"[1,2]", {"content-type": "application/json; charset=utf-8"}, [1, 2]),
        (200, b'{"a":1}', {"content-type": "application/vnd.ms+json"}, {"a": 1}),
        (200, b"true", {"content-type": "text/plain"}, "true"),  # text stays text
        (500, HTML.encode(), {"content-type": "text/html"}, HTML),
        (502, b"{not json", {"content-type": "application/json"}, "{not json"),
        (404, b'{"error":{"code":"NotFound"}}', {"content-type": "application/json"}, {"error": {"code": "NotFound"}}),
        (401, b"", {}, None),
    ],
)
def test_post_activity_returns_the_skills_status_and_body(
    env: Env, fake: FakeService, status: int, content: bytes, headers: dict[str, str], expected: Any
) -> None:
    fake.reply(status, content=content, headers=headers)
    with skill_client(env, fake, credential_for(env)) as client:
        result = post(client)
    assert type(result) is InvokeResponse
    assert (result.status, result.body) == (status, expected)
    assert result.is_successful is (200 <= status < 300)


@pytest.mark.parametrize("status", [429, 503])
def test_post_activity_does_not_retry_an_answer(env: Env, fake: FakeService, status: int) -> None:
    # the skill answered: its status is the result (as in every Bot Framework SDK), not a reason to post twice
    fake.reply(status, content=b"busy", headers={"Retry-After": "0", "content-type": "text/plain"})
    with skill_client(env, fake, credential_for(env)) as client:
        result = post(client)
    assert result == InvokeResponse(status, "busy")
    assert len(fake.requests) == 1


def test_what_a_skill_handler_writes_is_what_the_caller_reads(env: Env, fake: FakeService) -> None:
    def skill(request: httpx.Request) -> httpx.Response:
        activity = Activity.from_json(request.content)
        answer = activity.create_invoke_response({"echo": activity.name, "conv": activity.conversation.id}, 201)  # type: ignore[union-attr]
        return httpx.Response(answer.status, content=answer.json_body(), headers={"content-type": "application/json"})

    fake.route("POST", "/api/messages", skill)
    with skill_client(env, fake, credential_for(env)) as client:
        result = post(client, Activity(type="invoke", name="flight/quote"))
    assert result == InvokeResponse(201, {"echo": "flight/quote", "conv": SKILL_CONV})


def test_connection_never_made_is_retried_then_raised(env: Env, fake: FakeService) -> None:
    fake.fail(httpx.ConnectError("connection refused"))
    fake.fail(httpx.ConnectError("connection refused"))
    policy = RetryPolicy(max_attempts=2, backoff_factor=0)
    with (
        skill_client(env, fake, credential_for(env), retry_policy=policy) as client,
        pytest.raises(errors.ServiceRequestError, match="could not connect"),
    ):
        post(client)
    assert len(fake.requests) == 2


def test_connection_never_made_then_answer(env: Env, fake: FakeService) -> None:
    fake.fail(httpx.ConnectError("connection refused"))
    fake.reply(200, json_body={"ok": True})
    with skill_client(env, fake, credential_for(env), retry_policy=RetryPolicy(backoff_factor=0)) as client:
        assert post(client) == InvokeResponse(200, {"ok": True})
    assert len(fake.requests) == 2
    assert all(r.headers["authorization"] == f"Bearer tok-for-{SKILL}/.default" for r in fake.requests)


def test_connection_lost_after_sending_is_not_retried(env: Env, fake: FakeService) -> None:
    fake.fail(httpx.ReadError("connection reset"))
    fake.reply(200)
    with (
        skill_client(env, fake, credential_for(env), retry_policy=RetryPolicy(backoff_factor=0)) as client,
        pytest.raises(errors.ServiceResponseError),
    ):
        post(client)
    assert len(fake.requests) == 1  # the skill may have acted: an activity is not posted twice


# -- expectReplies --------------------------------------------------------------------------------------------


def test_buffered_replies_are_parsed(env: Env, fake: FakeService) -> None:
    replies = {
        "activities": [
            {"type": "message", "text": "Which date?", "replyToId": "act-1", "inputHint": "expectingInput"},
            {"type": "endOfConversation", "code": "completedSuccessfully", "extra": 1},
        ]
    }
    fake.reply(200, json_body=replies)
    with skill_client(env, fake, credential_for(env)) as client:
        result = post(client, buffered=True)
    assert isinstance(result, ExpectedReplies)
    assert result.activities is not None
    assert [a.text for a in result.activities] == ["Which date?", None]
    assert result.activities[0].reply_to_id == "act-1"
    assert result.to_dict() == replies


def test_buffered_empty_answer_is_no_replies(env: Env, fake: FakeService) -> None:
    fake.reply(200)
    with skill_client(env, fake, credential_for(env)) as client:
        assert post(client, buffered=True) == ExpectedReplies()


def test_buffered_error_status_raises_without_the_token(env: Env, fake: FakeService) -> None:
    fake.reply(500, content=b"<html>boom</html>", headers={"content-type": "text/html"})
    with skill_client(env, fake, credential_for(env)) as client, pytest.raises(errors.ServerError) as caught:
        post(client, buffered=True)
    assert caught.value.status_code == 500
    assert "authorization" not in caught.value.response.request.headers
    assert len(fake.requests) == 1  # not idempotent: a 500 is not retried


def test_buffered_rate_limit_is_retried(env: Env, fake: FakeService) -> None:
    fake.reply(429, headers={"Retry-After": "0"})
    fake.reply(200, json_body={"activities": [{"type": "message", "text": "ok"}]})
    with skill_client(env, fake, credential_for(env)) as client:
        result = post(client, buffered=True)
    assert result.activities == [Activity(type="message", text="ok")]
    assert len(fake.requests) == 2


def test_buffered_bad_json_is_a_deserialization_error(env: Env, fake: FakeService) -> None:
    fake.reply(200, content=b"<html>not replies</html>", headers={"content-type": "text/html"})
    with skill_client(env, fake, credential_for(env)) as client, pytest.raises(errors.DeserializationError):
        post(client, buffered=True)
