"""Where a bot's token may go, how ids go into URL paths, and a client's life cycle -- three ways."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from botconnect.errors import ClientClosedError, UntrustedEndpointError

from .harness import Env, FakeService

ACTIVITY = {"type": "message", "text": "hi"}


def raw(obj: Any) -> Any:
    return getattr(obj, "unwrapped", obj)


class StaticCredential:
    """An azure-identity style credential that counts how often it was asked for a token."""

    token = "static-bearer-token"

    def __init__(self) -> None:
        self.calls = 0

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        self.calls += 1
        return type("AccessToken", (), {"token": self.token, "expires_on": 2**31})()


# -- trusted hosts ------------------------------------------------------------------------------------------

UNTRUSTED = [
    "https://evil.example.com",
    "https://botframework.com.evil.com",
    "https://slack.botframework.com.evil.com/",
    "https://evilbotframework.com",
    "https://smba.trafficmanager.net.evil.com/amer/",
    "http://slack.botframework.com",
    "http://smba.trafficmanager.net/amer/",
    "https://slack.botframework.com@evil.example.com/",
    "https://evil.example.com/slack.botframework.com/",
    "https://10.0.0.1",
    "http://192.168.1.10:3978",
]


@pytest.mark.parametrize("url", UNTRUSTED)
def test_untrusted_service_url_refused_at_construction(env: Env, fake: FakeService, url: str) -> None:
    credential = StaticCredential()
    with pytest.raises(UntrustedEndpointError) as info:
        env.construct("ConnectorClient", url, credential, transport=fake.transport)
    assert isinstance(info.value, ValueError)
    assert credential.calls == 0
    assert fake.requests == []


TRUSTED = [
    ("https://slack.botframework.com", "/v3/conversations/c/activities"),
    ("https://webchat.botframework.com/", "/v3/conversations/c/activities"),
    ("https://europe.webchat.botframework.com", "/v3/conversations/c/activities"),
    ("https://SLACK.BotFramework.COM", "/v3/conversations/c/activities"),
    ("https://smba.trafficmanager.net/amer/", "/amer/v3/conversations/c/activities"),
    ("https://smba.trafficmanager.net/teams", "/teams/v3/conversations/c/activities"),
    ("http://127.0.0.1:3978", "/v3/conversations/c/activities"),
    ("http://localhost", "/v3/conversations/c/activities"),
    ("http://localhost:3978/", "/v3/conversations/c/activities"),
    ("http://[::1]:3978", "/v3/conversations/c/activities"),
]


@pytest.mark.parametrize(("url", "path"), TRUSTED)
def test_trusted_service_url_accepted(env: Env, fake: FakeService, url: str, path: str) -> None:
    credential = StaticCredential()
    fake.reply(200, json_body={"id": "1"})
    with env.construct("ConnectorClient", url, credential, transport=fake.transport) as client:
        assert client.conversations.send_to_conversation("c", ACTIVITY).id == "1"
    assert fake.last.url.raw_path.decode() == path
    assert fake.last.headers["Authorization"] == f"Bearer {StaticCredential.token}"


def test_custom_trusted_hosts_replace_the_default(env: Env, fake: FakeService) -> None:
    credential = StaticCredential()
    fake.reply(200, json_body={"id": "1"})
    with env.construct(
        "ConnectorClient",
        "https://bots.contoso.com",
        credential,
        trusted_hosts=["bots.contoso.com"],
        transport=fake.transport,
    ) as client:
        client.conversations.send_to_conversation("c", ACTIVITY)
    assert fake.last.headers["Authorization"] == f"Bearer {StaticCredential.token}"
    for refused in ("https://slack.botframework.com", "https://x.bots.contoso.com", "https://contoso.com"):
        with pytest.raises(UntrustedEndpointError):
            env.construct(
                "ConnectorClient", refused, credential, trusted_hosts=["bots.contoso.com"], transport=fake.transport
            )
    # loopback stays usable for local testing
    env.construct("ConnectorClient", "http://localhost:3978", credential, trusted_hosts=["bots.contoso.com"])


def test_wildcard_trusted_hosts(env: Env) -> None:
    credential = StaticCredential()
    env.construct("ConnectorClient", "https://a.contoso.com", credential, trusted_hosts=["*.contoso.com"])
    env.construct("ConnectorClient", "https://a.b.contoso.com", credential, trusted_hosts=["*.contoso.com"])
    for refused in ("https://contoso.com", "https://evilcontoso.com", "https://a.contoso.com.evil.io"):
        with pytest.raises(UntrustedEndpointError):
            env.construct("ConnectorClient", refused, credential, trusted_hosts=["*.contoso.com"])


def test_trusted_hosts_still_require_https(env: Env) -> None:
    with pytest.raises(UntrustedEndpointError):
        env.construct("ConnectorClient", "http://bots.contoso.com", StaticCredential(), trusted_hosts=["*"])


def test_trusted_hosts_as_a_single_string_is_a_type_error(env: Env) -> None:
    with pytest.raises(TypeError):
        env.construct(
            "ConnectorClient", "https://bots.contoso.com", StaticCredential(), trusted_hosts="bots.contoso.com"
        )


@pytest.mark.parametrize(
    "url", ["https://evil.example.com", "http://bots.example.org:8080", "http://192.168.1.10:3978/api/"]
)
def test_anonymous_client_may_talk_to_any_host(env: Env, fake: FakeService, url: str) -> None:
    fake.reply(200, json_body={"id": "1"})
    with env.construct("ConnectorClient", url, transport=fake.transport) as client:
        assert client.conversations.send_to_conversation("c", ACTIVITY).id == "1"
    assert fake.last.url.host == httpx.URL(url).host
    assert "authorization" not in fake.last.headers


@pytest.mark.parametrize("url", ["ftp://slack.botframework.com", "slack.botframework.com", "https://", "/v3"])
def test_malformed_service_url_is_a_value_error(env: Env, url: str) -> None:
    with pytest.raises(ValueError):
        env.construct("ConnectorClient", url)


# -- redirects ------------------------------------------------------------------------------------------------


class RedirectingService:
    """Answers the attachment view with a 302 to ``location``; records what each request carried."""

    def __init__(self, location: str) -> None:
        self.location = location
        self.seen: list[tuple[httpx.URL, dict[str, str]]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((request.url, dict(request.headers)))
        if request.url.path.startswith("/v3/attachments/"):
            return httpx.Response(302, headers={"Location": self.location})
        return httpx.Response(200, content=b"\x89PNG-bytes", headers={"Content-Type": "image/png"})


def fetch_attachment(env: Env, service: RedirectingService) -> bytes:
    client = env.construct(
        "ConnectorClient", "https://slack.botframework.com", StaticCredential(), transport=httpx.MockTransport(service)
    )
    with client:
        stream = client.attachments.get_attachment("att-1", "original")
        try:
            return stream.read()
        finally:
            stream.close()


@pytest.mark.parametrize(
    "location", ["https://cdn.other.example/x", "https://evil.example.com/steal", "http://slack.botframework.com/x"]
)
def test_redirect_to_another_origin_drops_the_authorization_header(env: Env, location: str) -> None:
    service = RedirectingService(location)
    assert fetch_attachment(env, service) == b"\x89PNG-bytes"
    assert len(service.seen) == 2
    first_url, first_headers = service.seen[0]
    assert first_url.host == "slack.botframework.com"
    assert first_headers["authorization"] == f"Bearer {StaticCredential.token}"
    second_url, second_headers = service.seen[1]
    assert str(second_url) == location
    assert "authorization" not in second_headers


def test_same_host_redirect_keeps_the_authorization_header(env: Env) -> None:
    service = RedirectingService("https://slack.botframework.com/blobs/att-1/original")
    assert fetch_attachment(env, service) == b"\x89PNG-bytes"
    assert len(service.seen) == 2
    second_url, second_headers = service.seen[1]
    assert second_url.path == "/blobs/att-1/original"
    assert second_headers["authorization"] == f"Bearer {StaticCredential.token}"


def test_non_attachment_calls_do_not_follow_redirects(env: Env) -> None:
    seen: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return httpx.Response(302, headers={"Location": "https://evil.example.com/x"})

    client = env.construct(
        "ConnectorClient",
        "https://slack.botframework.com",
        StaticCredential(),
        transport=httpx.MockTransport(handler),
        retry_policy=env.pkg.NO_RETRIES,
    )
    with client, pytest.raises(env.pkg.HttpResponseError) as info:
        client.conversations.send_to_conversation("c", ACTIVITY)
    assert info.value.status_code == 302
    assert [url.host for url in seen] == ["slack.botframework.com"]


# -- ids in paths -----------------------------------------------------------------------------------------

TRICKY_IDS = [
    "a/b",
    "..",
    ".",
    "...",
    "../..",
    "a?b=c",
    "a#frag",
    "100%",
    "%2F",
    "%2e%2e",
    "with space",
    "ünïcødé-😀",
    "19:abc@thread.skype;messageid=1",
    "a:b",
    "@evil.example.com",
    "\\..\\",
    "a\r\nX-Injected: 1",
]


def assert_path(request: httpx.Request, prefix: list[str], parts: list[tuple[str, str | None]]) -> None:
    """``parts`` are (literal, None) or (encoded-slot-name, id) in order after ``prefix``."""
    segments = request.url.raw_path.decode("ascii").split("?")[0].split("/")
    expected_len = 1 + len(prefix) + len(parts)
    assert len(segments) == expected_len, segments
    assert segments[0] == ""
    assert segments[1 : 1 + len(prefix)] == prefix
    for segment, (literal, value) in zip(segments[1 + len(prefix) :], parts, strict=True):
        if value is None:
            assert segment == literal
        else:
            assert unquote(segment, errors="strict") == value
            assert "/" not in segment
            assert "?" not in segment
            assert "#" not in segment
    assert request.url.host in ("smba.trafficmanager.net", "slack.botframework.com")
    assert request.url.query == b""
    assert request.url.fragment == ""


def send_reply(env: Env, conversation_id: str, activity_id: str) -> httpx.Request:
    fake = FakeService()
    fake.reply(200, json_body={"id": "1"})
    client = env.construct(
        "ConnectorClient", "https://smba.trafficmanager.net/amer/", StaticCredential(), transport=fake.transport
    )
    with client:
        client.conversations.reply_to_activity(conversation_id, activity_id, ACTIVITY)
    assert len(fake.requests) == 1
    return fake.last


@pytest.mark.parametrize("value", TRICKY_IDS)
def test_tricky_ids_keep_the_path_structure(env: Env, value: str) -> None:
    request = send_reply(env, value, value)
    assert_path(
        request, ["amer"], [("v3", None), ("conversations", None), ("", value), ("activities", None), ("", value)]
    )


@pytest.mark.parametrize("value", TRICKY_IDS)
def test_tricky_ids_in_every_operation(env: Env, fake: FakeService, value: str) -> None:
    fake.reply(200, json_body={"id": "m"})
    fake.reply(200)
    fake.reply(200, json_body={"name": "n"})
    fake.reply(200, json_body={"members": []})
    client = env.construct("ConnectorClient", "https://slack.botframework.com", transport=fake.transport)
    with client:
        client.conversations.get_conversation_member(value, value)
        client.conversations.delete_activity(value, value)
        client.attachments.get_attachment_info(value)
        list(client.conversations.get_conversation_paged_members(value))
    member, delete, info, paged = fake.requests
    slot = ("", value)
    assert_path(member, [], [("v3", None), ("conversations", None), slot, ("members", None), slot])
    assert_path(delete, [], [("v3", None), ("conversations", None), slot, ("activities", None), slot])
    assert_path(info, [], [("v3", None), ("attachments", None), slot])
    assert paged.url.raw_path.split(b"?")[0].split(b"/")[-1] == b"pagedmembers"
    assert unquote(paged.url.raw_path.split(b"/")[3].decode(), errors="strict") == value


@pytest.mark.parametrize("bad", ["", None, 5, b"bytes"])
def test_empty_or_non_string_ids_rejected_before_sending(env: Env, fake: FakeService, bad: Any) -> None:
    client = env.construct("ConnectorClient", "https://slack.botframework.com", transport=fake.transport)
    with client, pytest.raises((ValueError, TypeError)):
        client.conversations.delete_activity("conv", bad)
    assert fake.requests == []


ids = st.text(min_size=1, max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(conversation_id=ids, activity_id=ids)
@example(conversation_id="..", activity_id=".")
@example(conversation_id="a/../../b", activity_id="?#%")
def test_any_ids_keep_the_path_structure(env: Env, conversation_id: str, activity_id: str) -> None:
    request = send_reply(env, conversation_id, activity_id)
    assert_path(
        request,
        ["amer"],
        [("v3", None), ("conversations", None), ("", conversation_id), ("activities", None), ("", activity_id)],
    )


# -- life cycle --------------------------------------------------------------------------------------------


def test_use_after_close_raises_client_closed_error(env: Env, fake: FakeService) -> None:
    client = env.construct("ConnectorClient", "https://slack.botframework.com", transport=fake.transport)
    client.close()
    calls = [
        lambda: client.conversations.send_to_conversation("c", ACTIVITY),
        lambda: client.conversations.get_conversation_member("c", "m"),
        lambda: client.attachments.get_attachment("a", "original"),
        lambda: list(client.conversations.get_conversation_paged_members("c")),
    ]
    for call in calls:
        with pytest.raises(ClientClosedError) as info:
            call()
        assert isinstance(info.value, RuntimeError)
    assert fake.requests == []


def test_close_twice_is_fine(env: Env, fake: FakeService) -> None:
    client = env.construct("ConnectorClient", "https://slack.botframework.com", transport=fake.transport)
    client.close()
    client.close()
    with client:
        pass
    assert raw(client)._pipeline.http_client.is_closed


def test_context_manager_closes_the_owned_http_client(env: Env, fake: FakeService) -> None:
    fake.reply(200, json_body={"id": "1"})
    with env.construct("ConnectorClient", "https://slack.botframework.com", transport=fake.transport) as client:
        client.conversations.send_to_conversation("c", ACTIVITY)
        assert not raw(client)._pipeline.http_client.is_closed
    assert raw(client)._pipeline.http_client.is_closed
    with pytest.raises(ClientClosedError):
        client.conversations.send_to_conversation("c", ACTIVITY)


def test_user_supplied_http_client_is_not_closed(env: Env, fake: FakeService) -> None:
    fake.reply(200, json_body={"id": "1"})
    fake.reply(200, json_body={"id": "2"})
    http = httpx.AsyncClient(transport=fake.transport) if env.is_async else httpx.Client(transport=fake.transport)
    try:
        with env.construct("ConnectorClient", "https://slack.botframework.com", http_client=http) as client:
            assert client.conversations.send_to_conversation("c", ACTIVITY).id == "1"
        client.close()
        assert not http.is_closed
        # still usable by its owner
        if env.is_async:

            async def use() -> int:
                return (await http.get("https://slack.botframework.com/x")).status_code

            assert env.run(use) == 200
        else:
            assert http.get("https://slack.botframework.com/x").status_code == 200
    finally:
        env.run(http.aclose) if env.is_async else http.close()
    assert len(fake.requests) == 2


def test_credential_used_after_close_raises_client_closed_error(env: Env) -> None:
    def token_endpoint(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})

    cred = env.construct("MicrosoftAppCredentials", "app", "pw", transport=httpx.MockTransport(token_endpoint))
    cred.close()
    cred.close()
    with pytest.raises(ClientClosedError):
        cred.get_token()
