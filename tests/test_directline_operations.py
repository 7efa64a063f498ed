"""Direct Line 3.0 low-level operations, three ways (sync, asyncio, trio), checked against directline-3.0.json."""

from __future__ import annotations

import email.parser
import email.policy
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from botconnect.errors import (
    BadGatewayError,
    PermissionDeniedError,
    RateLimitError,
    ResourceNotFoundError,
    ServiceResponseTimeoutError,
    TokenExpiredError,
    UntrustedEndpointError,
)
from botconnect.models import Activity, ChannelAccount, TokenParameters

from .harness import Env, FakeService
from .swagger import SwaggerDoc, load_swagger

ENDPOINT = "https://directline.botframework.com"
CONVERSATION = {"conversationId": "abc123", "token": "TOKEN-1", "expires_in": 1800, "streamUrl": "wss://x/s?t=T"}


@pytest.fixture(scope="module")
def spec() -> SwaggerDoc:
    return load_swagger(Path(__file__).resolve().parents[2] / "shared/reference/directline/directline-3.0.json")


def make_client(env: Env, fake: FakeService, **kwargs: Any) -> Any:
    kwargs.setdefault("secret", "SECRET-XYZ")
    return env.construct("DirectLineClient", transport=fake.transport, **kwargs)


def test_generate_token(env: Env, fake: FakeService, spec: SwaggerDoc) -> None:
    fake.reply(200, json_body=CONVERSATION)
    with make_client(env, fake) as client:
        result = client.tokens.generate_token(TokenParameters(user=ChannelAccount(id="dl_user")))
    request = fake.last
    assert (request.method, request.url.path) == ("POST", "/v3/directline/tokens/generate")
    assert request.headers["Authorization"] == "Bearer SECRET-XYZ"
    assert json.loads(request.content) == {"user": {"id": "dl_user"}}
    assert spec.validate_request(request).operation_id == "Tokens_GenerateTokenForNewConversation"
    assert (result.conversation_id, result.token, result.expires_in) == ("abc123", "TOKEN-1", 1800)


def test_generate_token_without_parameters_sends_no_body(env: Env, fake: FakeService, spec: SwaggerDoc) -> None:
    fake.reply(200, json_body=CONVERSATION)
    with make_client(env, fake) as client:
        client.tokens.generate_token()
    assert fake.last.content == b""
    spec.validate_request(fake.last)


def test_refresh_token_switches_the_client_to_the_new_token(env: Env, fake: FakeService, spec: SwaggerDoc) -> None:
    fake.reply(200, json_body={**CONVERSATION, "token": "TOKEN-2"})
    fake.reply(200, json_body={"activities": [], "watermark": "1"})
    with make_client(env, fake, secret=None, token="TOKEN-1") as client:
        refreshed = client.tokens.refresh_token()
        assert client.token == "TOKEN-2"
        client.conversations.get_activities("abc123")
    first, second = fake.requests
    assert (first.method, first.url.path, first.content) == ("POST", "/v3/directline/tokens/refresh", b"")
    assert first.headers["Authorization"] == "Bearer TOKEN-1"
    assert second.headers["Authorization"] == "Bearer TOKEN-2"
    assert refreshed.token == "TOKEN-2"
    spec.validate_request(first)


@pytest.mark.parametrize("status", [200, 201])
def test_start_conversation(env: Env, fake: FakeService, spec: SwaggerDoc, status: int) -> None:
    fake.reply(status, json_body=CONVERSATION)
    with make_client(env, fake) as client:
        conversation = client.conversations.start_conversation()
    assert (fake.last.method, fake.last.url.path) == ("POST", "/v3/directline/conversations")
    assert spec.validate_request(fake.last).operation_id == "Conversations_StartConversation"
    spec.validate_response("Conversations_StartConversation", status, json.dumps(CONVERSATION).encode())
    assert conversation.stream_url == "wss://x/s?t=T"
    assert "TOKEN-1" not in repr(conversation)
    assert "wss://" not in repr(conversation)


def test_reconnect_with_watermark(env: Env, fake: FakeService, spec: SwaggerDoc) -> None:
    fake.reply(200, json_body=CONVERSATION)
    with make_client(env, fake) as client:
        client.conversations.reconnect_to_conversation("abc|123", "0000a-42")
    assert fake.last.method == "GET"
    assert fake.last.url.raw_path == b"/v3/directline/conversations/abc%7C123?watermark=0000a-42"
    assert spec.validate_request(fake.last).operation_id == "Conversations_ReconnectToConversation"


def test_get_activities_with_and_without_watermark(env: Env, fake: FakeService, spec: SwaggerDoc) -> None:
    body = {
        "activities": [
            {"type": "message", "id": "abc123|0000", "from": {"id": "user1"}, "text": "hello"},
            {"type": "message", "id": "abc123|0001", "from": {"id": "bot1"}, "text": "hi", "newField": 1},
        ],
        "watermark": "0001a-95",
    }
    fake.reply(200, json_body=body)
    fake.reply(200, json_body={"activities": [], "watermark": 96})  # a numeric watermark is tolerated
    with make_client(env, fake) as client:
        first = client.conversations.get_activities("abc123")
        second = client.conversations.get_activities("abc123", first.watermark)
    assert fake.requests[0].url.raw_path == b"/v3/directline/conversations/abc123/activities"
    assert fake.requests[1].url.params["watermark"] == "0001a-95"
    for request in fake.requests:
        assert spec.validate_request(request).operation_id == "Conversations_GetActivities"
    assert [a.text for a in first.activities] == ["hello", "hi"]
    assert first.activities[1].additional_properties == {"newField": 1}
    assert first.to_dict() == body
    assert second.watermark == "96"


def test_post_activity(env: Env, fake: FakeService, spec: SwaggerDoc) -> None:
    fake.reply(200, json_body={"id": "0001"})
    activity = Activity(type="message", from_property=ChannelAccount(id="user1"), text="hello")
    with make_client(env, fake) as client:
        result = client.conversations.post_activity("abc123", activity)
    assert (fake.last.method, fake.last.url.path) == ("POST", "/v3/directline/conversations/abc123/activities")
    assert fake.last_json() == {"type": "message", "from": {"id": "user1"}, "text": "hello"}
    assert fake.last.headers["Content-Type"] == "application/json; charset=utf-8"
    assert spec.validate_request(fake.last).operation_id == "Conversations_PostActivity"
    assert result.id == "0001"


def test_post_activity_204_has_no_id(env: Env, fake: FakeService) -> None:
    fake.reply(204)
    with make_client(env, fake) as client:
        assert client.conversations.post_activity("abc123", {"type": "typing"}).id is None


def _multipart_parts(request: httpx.Request) -> list[Any]:
    raw = b"Content-Type: " + request.headers["Content-Type"].encode() + b"\r\n\r\n" + request.content
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
    return list(message.iter_parts())


def test_upload_files_of_every_kind_with_an_activity(
    env: Env, fake: FakeService, spec: SwaggerDoc, tmp_path: Path
) -> None:
    picture = tmp_path / "eel.jpg"
    picture.write_bytes(b"\xff\xd8jpeg-bytes")
    fake.reply(200, json_body={"id": "0003"})
    activity = Activity(type="message", from_property=ChannelAccount(id="user1"), text="look")
    with make_client(env, fake) as client, (tmp_path / "eel.jpg").open("rb") as handle:
        result = client.conversations.upload(
            "abc123", [picture, b"raw", ("notes.txt", b"hi", "text/plain"), handle], activity=activity
        )
    request = fake.last
    match = spec.match(request.method, request.url.raw_path)
    assert match.operation_id == "Conversations_Upload"
    assert request.url.params["userId"] == "user1"  # taken from the activity's sender
    parts = _multipart_parts(request)
    summary = [
        (p.get_param("name", header="content-disposition"), p.get_filename(), p.get_content_type()) for p in parts
    ]
    assert summary == [
        ("file", "eel.jpg", "image/jpeg"),
        ("file", "file1", "application/octet-stream"),
        ("file", "notes.txt", "text/plain"),
        ("file", "eel.jpg", "image/jpeg"),
        ("activity", "blob", "application/vnd.microsoft.activity"),
    ]
    assert parts[0].get_payload(decode=True) == b"\xff\xd8jpeg-bytes"
    assert parts[3].get_payload(decode=True) == b"\xff\xd8jpeg-bytes"
    assert json.loads(parts[4].get_payload(decode=True)) == activity.to_dict()
    assert result.id == "0003"


def test_upload_rejects_bad_input_before_sending(env: Env, fake: FakeService, tmp_path: Path) -> None:
    with make_client(env, fake) as client:
        with pytest.raises(ValueError, match="no such file"):
            client.conversations.upload("abc123", tmp_path / "missing.png", user_id="u")
        with pytest.raises(TypeError):
            client.conversations.upload("abc123", 12345, user_id="u")
        with pytest.raises(ValueError, match="at least one file"):
            client.conversations.upload("abc123", [], user_id="u")
        with pytest.raises(ValueError):
            client.conversations.upload("", b"x", user_id="u")
    assert fake.requests == []


@pytest.mark.parametrize(
    ("status", "body", "error", "code"),
    [
        (403, {"error": {"code": "TokenExpired", "message": "Token expired"}}, TokenExpiredError, "TokenExpired"),
        (403, {"error": {"code": "BadArgument", "message": "no"}}, PermissionDeniedError, "BadArgument"),
        (404, {"error": {"code": "BadArgument", "message": "Conversation not found"}}, ResourceNotFoundError, None),
        (502, {"error": {"code": "BotRejectedActivity", "message": "bot failed"}}, BadGatewayError, None),
    ],
)
def test_errors_are_typed(
    env: Env, fake: FakeService, status: int, body: dict[str, Any], error: type[Exception], code: str | None
) -> None:
    fake.reply(status, json_body=body)
    with make_client(env, fake) as client, pytest.raises(error) as raised:
        client.conversations.post_activity("abc123", {"type": "message", "text": "x"})
    assert raised.value.status_code == status  # type: ignore[attr-defined]
    assert raised.value.error.code == body["error"]["code"]  # type: ignore[attr-defined]
    assert len(fake.requests) == 1, "a failed post must never be re-sent automatically"
    if code == "TokenExpired":
        assert isinstance(raised.value, PermissionDeniedError)


def test_429_post_is_retried_after_retry_after(env: Env, fake: FakeService) -> None:
    slept: list[float] = []
    fake.reply(429, json_body={"error": {"code": "Throttled", "message": "slow down"}}, headers={"Retry-After": "2"})
    fake.reply(200, json_body={"id": "0009"})
    with make_client(env, fake) as client:
        pipeline = client.unwrapped._pipeline if env.is_async else client._pipeline

        async def async_sleep(seconds: float) -> None:
            slept.append(seconds)

        pipeline._sleep = async_sleep if env.is_async else slept.append
        assert client.conversations.post_activity("abc123", {"type": "message"}).id == "0009"
    assert slept == [2.0]
    assert len(fake.requests) == 2
    assert fake.requests[0].content == fake.requests[1].content


def test_429_beyond_the_retry_budget_raises_rate_limit(env: Env, fake: FakeService) -> None:
    fake.reply(429, json_body={"error": {"code": "Throttled", "message": "later"}}, headers={"Retry-After": "3600"})
    with make_client(env, fake) as client, pytest.raises(RateLimitError) as raised:
        client.conversations.get_activities("abc123")
    assert raised.value.retry_after == 3600.0


def test_timed_out_post_is_not_resent(env: Env, fake: FakeService) -> None:
    fake.fail(httpx.ReadTimeout("slow bot"))
    fake.reply(200, json_body={"id": "never"})
    with make_client(env, fake) as client, pytest.raises(ServiceResponseTimeoutError):
        client.conversations.post_activity("abc123", {"type": "message", "text": "once"})
    assert len(fake.requests) == 1


def test_secret_goes_only_to_the_endpoint(env: Env, fake: FakeService) -> None:
    with pytest.raises(UntrustedEndpointError):
        make_client(env, fake, endpoint="http://directline.example.com")
    client = make_client(env, fake, endpoint="http://127.0.0.1:9/")
    with client:
        assert "SECRET" not in repr(client)


def test_exactly_one_of_secret_or_token(env: Env, fake: FakeService) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        make_client(env, fake, secret=None)
    with pytest.raises(ValueError, match="exactly one"):
        make_client(env, fake, token="t")
    with pytest.raises(ValueError):
        make_client(env, fake, secret="  ")
