"""UserTokenClient, three ways (sync, asyncio, trio): every operation's wire request (method, path, exact query,
headers, exact body), checked against TokenAPI.json, and its result for every documented status; where the token
goes; what is refused before anything is sent.

Also home of the TokenAPI.json helpers the sign-in and emulator tests use (:class:`ValidatingTransport`)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from botconnect import errors
from botconnect._core.auth import GOVERNMENT_CLOUD, PUBLIC_CLOUD
from botconnect._core.retry import RetryPolicy
from botconnect.models import (
    ErrorResponse,
    SignInUrlResponse,
    TokenExchangeRequest,
    TokenExchangeState,
    TokenResponse,
    TokenStatus,
)

from .conftest import REFERENCE
from .harness import Env, FakeService
from .swagger import SwaggerDoc, load_swagger

SCOPE = PUBLIC_CLOUD.scope
USER = "29:1AbC/é&x=y"  # characters that must be percent-encoded in a query
TOKEN_BODY = {"channelId": "msteams", "connectionName": "graph", "token": "user-token-1", "expiration": "2030-01-01"}
FAST = RetryPolicy(backoff_factor=0)


def token_api() -> SwaggerDoc:
    return load_swagger(REFERENCE / "connector" / "TokenAPI.json")


def check_request(request: httpx.Request) -> str:
    """Validate ``request`` against TokenAPI.json; returns its operation id."""
    assert "api-version" not in request.url.params, "no api-version query on the user token service"
    return token_api().validate_request(request).operation_id


def check_response(operation_id: str, response: httpx.Response) -> None:
    """Validate a response body against the schema documented for its status."""
    if operation_id == "BotSignIn_GetSignInUrl" and response.status_code == 200:
        # documented as a JSON string; the service (and the emulator) answer with the bare URL as text
        assert httpx.URL(response.text.strip()).scheme in ("http", "https")
        return
    if operation_id == "UserToken_SignOut" and response.status_code == 204:
        return
    documented = token_api().doc["paths"]
    responses = next(
        op["responses"] for item in documented.values() for op in item.values() if op["operationId"] == operation_id
    )
    if response.status_code >= 400 and str(response.status_code) not in responses and "default" not in responses:
        # BotSignIn documents its 200 only: its errors have the service's one error shape
        body = json.loads(response.content)
        token_api().validate_schema({"$ref": "#/definitions/ErrorResponse"}, body, what=f"{operation_id} error")
        assert isinstance(body.get("error"), dict)
        return
    token_api().validate_response(
        operation_id, response.status_code, response.content, content_type=response.headers.get("content-type")
    )


class ValidatingTransport(httpx.BaseTransport):
    """Checks every request and response against TokenAPI.json on its way through ``inner``."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.operations: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        operation_id = check_request(request)
        self.operations.append(operation_id)
        response = self.inner.handle_request(request)
        content = response.read()
        response.close()
        check_response(operation_id, response)
        return httpx.Response(response.status_code, headers=response.headers, content=content, request=request)

    def close(self) -> None:
        self.inner.close()


class AsyncValidatingTransport(httpx.AsyncBaseTransport):
    """:class:`ValidatingTransport` for the async package."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.operations: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        operation_id = check_request(request)
        self.operations.append(operation_id)
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        await response.aclose()
        check_response(operation_id, response)
        return httpx.Response(response.status_code, headers=response.headers, content=content, request=request)

    async def aclose(self) -> None:
        await self.inner.aclose()


class Token:
    def __init__(self, token: str) -> None:
        self.token = token
        self.expires_on = 2**31


class RecordingCredential:
    """Records the scopes of every get_token call (a ``cloud`` attribute, as MicrosoftAppCredentials has, if given)."""

    def __init__(self, cloud: Any = None) -> None:
        if cloud is not None:
            self.cloud = cloud
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str) -> Token:
        self.scopes.append(scopes)
        return Token("tok-for-" + scopes[0])


class AsyncRecordingCredential(RecordingCredential):
    async def get_token(self, *scopes: str) -> Token:  # type: ignore[override]
        return super().get_token(*scopes)


def credential_for(env: Env, cloud: Any = None) -> RecordingCredential:
    return AsyncRecordingCredential(cloud) if env.is_async else RecordingCredential(cloud)


@pytest.fixture
def client(env: Env, fake: FakeService) -> Iterator[Any]:
    with env.construct("UserTokenClient", credential_for(env), transport=fake.transport, retry_policy=FAST) as made:
        yield made


def query(request: httpx.Request) -> list[tuple[str, str]]:
    return parse_qsl(request.url.query.decode("ascii"), keep_blank_values=True)


def sent(fake: FakeService, method: str, path: str) -> httpx.Request:
    """The one request sent: checked against the Swagger, on the public endpoint, with the bot's token."""
    (request,) = fake.requests
    check_request(request)
    assert (request.method, request.url.scheme, request.url.host, request.url.path) == (
        method,
        "https",
        "token.botframework.com",
        path,
    )
    assert request.headers["authorization"] == f"Bearer tok-for-{SCOPE}"
    assert request.headers["user-agent"].startswith("botconnect-python/")
    return request


# -- UserToken -------------------------------------------------------------------------------------------------


def test_get_token_on_the_wire(client: Any, fake: FakeService) -> None:
    fake.reply(200, json_body=TOKEN_BODY)
    result = client.user_token.get_token(USER, "graph", channel_id="msteams", code="123456")
    request = sent(fake, "GET", "/api/usertoken/GetToken")
    assert query(request) == [
        ("userId", USER),
        ("connectionName", "graph"),
        ("channelId", "msteams"),
        ("code", "123456"),
    ]
    assert b"%2F" in request.url.query
    assert b"%26" in request.url.query
    assert request.headers["accept"] == "application/json"
    assert request.content == b""
    assert result == TokenResponse.from_dict(TOKEN_BODY)
    assert "user-token-1" not in repr(result)


@pytest.mark.parametrize(
    ("status", "body"),
    [(404, {"connectionName": "graph"}), (404, None), (200, {"connectionName": "graph", "token": None}), (200, None)],
    ids=["404", "404-empty", "200-null-token", "200-empty"],
)
def test_get_token_without_a_token_is_none(client: Any, fake: FakeService, status: int, body: Any) -> None:
    fake.reply(status, json_body=body)
    assert client.user_token.get_token("u", "graph") is None
    assert query(sent(fake, "GET", "/api/usertoken/GetToken")) == [("userId", "u"), ("connectionName", "graph")]


def test_get_token_errors_raise(client: Any, fake: FakeService) -> None:
    fake.reply(400, json_body={"error": {"code": "BadArgument", "message": "no such connection"}})
    with pytest.raises(errors.HttpResponseError) as caught:
        client.user_token.get_token("u", "nope")
    assert (caught.value.status_code, caught.value.error.code) == (400, "BadArgument")
    assert "authorization" not in caught.value.response.request.headers


def test_a_magic_code_is_not_sent_twice_after_an_ambiguous_failure(client: Any, fake: FakeService) -> None:
    # a 500 may come after the service redeemed the code: only a call without one is repeated
    fake.reply(500)
    fake.reply(200, json_body=TOKEN_BODY)
    assert client.user_token.get_token("u", "graph") == TokenResponse.from_dict(TOKEN_BODY)
    assert len(fake.requests) == 2
    fake.requests.clear()
    fake.reply(500)
    with pytest.raises(errors.ServerError):
        client.user_token.get_token("u", "graph", code="123456")
    assert len(fake.requests) == 1


def test_get_aad_tokens_on_the_wire(client: Any, fake: FakeService) -> None:
    resources = ["https://graph.microsoft.com", "https://contoso.sharepoint.com"]
    fake.reply(200, json_body={url: dict(TOKEN_BODY, token=f"aad-{i}") for i, url in enumerate(resources)})
    result = client.user_token.get_aad_tokens(USER, "aad", iter(resources), channel_id="msteams")
    request = sent(fake, "POST", "/api/usertoken/GetAadTokens")
    assert query(request) == [("userId", USER), ("connectionName", "aad"), ("channelId", "msteams")]
    assert request.headers["content-type"] == "application/json; charset=utf-8"
    assert json.loads(request.content) == {"resourceUrls": resources}
    assert {url: r.token for url, r in result.items()} == {resources[0]: "aad-0", resources[1]: "aad-1"}
    assert all(isinstance(r, TokenResponse) for r in result.values())


def test_get_aad_tokens_empty_answer_and_bad_answer(client: Any, fake: FakeService) -> None:
    fake.reply(200)
    assert client.user_token.get_aad_tokens("u", "aad", ["https://graph.microsoft.com"]) == {}
    fake.reply(200, json_body=["not", "a", "map"])
    with pytest.raises(errors.DeserializationError):
        client.user_token.get_aad_tokens("u", "aad", ["https://graph.microsoft.com"])


@pytest.mark.parametrize("status", [200, 204])
def test_sign_out_on_the_wire(client: Any, fake: FakeService, status: int) -> None:
    fake.reply(status, json_body={} if status == 200 else None)
    assert client.user_token.sign_out(USER, connection_name="graph", channel_id="msteams") is None
    request = sent(fake, "DELETE", "/api/usertoken/SignOut")
    assert query(request) == [("userId", USER), ("connectionName", "graph"), ("channelId", "msteams")]
    fake.requests.clear()
    fake.reply(status)
    client.user_token.sign_out("u")  # every connection
    assert query(sent(fake, "DELETE", "/api/usertoken/SignOut")) == [("userId", "u")]


def test_get_token_status_on_the_wire(client: Any, fake: FakeService) -> None:
    body = [
        {"channelId": "msteams", "connectionName": "graph", "hasToken": True, "serviceProviderDisplayName": "AAD v2"},
        {"channelId": "msteams", "connectionName": "github", "hasToken": False, "futureField": 1},
    ]
    fake.reply(200, json_body=body)
    result = client.user_token.get_token_status(USER, channel_id="msteams", include="graph,github")
    request = sent(fake, "GET", "/api/usertoken/GetTokenStatus")
    assert query(request) == [("userId", USER), ("channelId", "msteams"), ("include", "graph,github")]
    assert result == [TokenStatus.from_dict(item) for item in body]
    assert [(s.connection_name, s.has_token) for s in result] == [("graph", True), ("github", False)]
    assert result[1].additional_properties == {"futureField": 1}


def test_exchange_token_on_the_wire(client: Any, fake: FakeService) -> None:
    fake.reply(200, json_body=TOKEN_BODY)
    result = client.user_token.exchange_token(USER, "graph", "msteams", TokenExchangeRequest(token="sso.jwt"))
    request = sent(fake, "POST", "/api/usertoken/exchange")
    assert query(request) == [("userId", USER), ("connectionName", "graph"), ("channelId", "msteams")]
    assert json.loads(request.content) == {"token": "sso.jwt"}
    assert result == TokenResponse.from_dict(TOKEN_BODY)
    fake.requests.clear()
    fake.reply(200, json_body=TOKEN_BODY)
    client.user_token.exchange_token("u", "graph", "msteams", {"uri": "api://botid-x"})  # a wire dict works too
    assert json.loads(sent(fake, "POST", "/api/usertoken/exchange").content) == {"uri": "api://botid-x"}


def test_exchange_token_results_are_not_exceptions(client: Any, fake: FakeService) -> None:
    exchange = client.user_token.exchange_token
    fake.reply(400, json_body={"error": {"code": "ConsentRequired", "message": "consent first"}})
    refused = exchange("u", "graph", "msteams", {"token": "sso.x"})
    assert isinstance(refused, ErrorResponse)
    assert refused.error is not None
    assert (refused.error.code, refused.error.message) == ("ConsentRequired", "consent first")
    fake.reply(400, content="Bad Request", headers={"content-type": "text/plain"})
    refused = exchange("u", "graph", "msteams", {"token": "sso.x"})
    assert isinstance(refused, ErrorResponse)
    assert refused.error is not None
    assert refused.error.message == "Bad Request"
    fake.reply(404, json_body={"connectionName": "graph"})
    assert exchange("u", "graph", "msteams", {"token": "sso.x"}) is None
    fake.reply(200, json_body={"connectionName": "graph"})
    assert exchange("u", "graph", "msteams", {"token": "sso.x"}) is None
    fake.reply(401, json_body={"error": {"code": "Unauthorized", "message": "no"}})
    with pytest.raises(errors.ClientAuthenticationError):
        exchange("u", "graph", "msteams", {"token": "sso.x"})


@pytest.mark.parametrize(
    ("operation", "path"),
    [
        (lambda c: c.user_token.get_aad_tokens("u", "aad", ["https://graph.microsoft.com"]), "GetAadTokens"),
        (lambda c: c.user_token.exchange_token("u", "graph", "msteams", {"token": "sso.x"}), "exchange"),
        (lambda c: c.user_token.sign_out("u"), "SignOut"),
        (lambda c: c.user_token.get_token_status("u"), "GetTokenStatus"),
    ],
    ids=["GetAadTokens", "exchange", "SignOut", "GetTokenStatus"],
)
def test_reads_and_exchanges_are_retried_after_a_500(client: Any, fake: FakeService, operation: Any, path: str) -> None:
    fake.reply(500)
    fake.reply(200, json_body={} if path != "GetTokenStatus" else [])
    operation(client)
    assert [r.url.path for r in fake.requests] == [fake.requests[0].url.path] * 2
    assert fake.requests[0].url.path.endswith(path)


# -- BotSignIn -------------------------------------------------------------------------------------------------

STATE = TokenExchangeState(connection_name="graph", ms_app_id="app-1")


def test_get_sign_in_url_on_the_wire(client: Any, fake: FakeService) -> None:
    fake.reply(
        200,
        content="https://token.botframework.com/api/oauth/signin?signin=abc",
        headers={"content-type": "text/plain"},
    )
    url = client.bot_sign_in.get_sign_in_url(
        STATE, code_challenge="chal", emulator_url="http://localhost:3978", final_redirect="https://app.example/done"
    )
    request = sent(fake, "GET", "/api/botsignin/GetSignInUrl")
    assert query(request) == [
        ("state", STATE.to_state()),
        ("code_challenge", "chal"),
        ("emulatorUrl", "http://localhost:3978"),
        ("finalRedirect", "https://app.example/done"),
    ]
    assert url == "https://token.botframework.com/api/oauth/signin?signin=abc"
    fake.requests.clear()
    fake.reply(200, json_body="https://token.botframework.com/x")  # a JSON string, as the Swagger documents it
    assert client.bot_sign_in.get_sign_in_url("c3RhdGU=") == "https://token.botframework.com/x"
    assert query(sent(fake, "GET", "/api/botsignin/GetSignInUrl")) == [("state", "c3RhdGU=")]
    fake.reply(200)
    with pytest.raises(errors.DeserializationError):
        client.bot_sign_in.get_sign_in_url("c3RhdGU=")


def test_get_sign_in_resource_on_the_wire(client: Any, fake: FakeService) -> None:
    body = {
        "signInLink": "https://token.botframework.com/api/oauth/signin?signin=abc",
        "tokenExchangeResource": {"id": "r1", "uri": "api://botid-app-1", "providerId": "aad"},
        "tokenPostResource": {"sasUrl": "https://token.botframework.com/post?sig=secret"},
    }
    fake.reply(200, json_body=body)
    result = client.bot_sign_in.get_sign_in_resource(STATE.to_state(), final_redirect="https://app.example/done")
    request = sent(fake, "GET", "/api/botsignin/GetSignInResource")
    assert query(request) == [("state", STATE.to_state()), ("finalRedirect", "https://app.example/done")]
    assert result == SignInUrlResponse.from_dict(body)
    assert result.token_exchange_resource is not None
    assert result.token_exchange_resource.uri == "api://botid-app-1"
    assert result.token_post_resource is not None
    assert "sig=secret" not in repr(result)


def test_every_operation_of_the_swagger_is_covered(env: Env, fake: FakeService) -> None:
    for _ in range(7):
        fake.reply(200, json_body={})
    with env.construct("UserTokenClient", None, endpoint="http://127.0.0.1:9", transport=fake.transport) as client:
        client.user_token.get_token("u", "c")
        client.user_token.get_aad_tokens("u", "c", ["https://r"])
        client.user_token.sign_out("u")
        with pytest.raises(errors.DeserializationError):  # {} is no list
            client.user_token.get_token_status("u")
        client.user_token.exchange_token("u", "c", "ch", {"token": "t"})
        client.bot_sign_in.get_sign_in_url("s")
        client.bot_sign_in.get_sign_in_resource("s")
    operations = {check_request(request) for request in fake.requests}
    assert operations == set(token_api().operation_ids)
    assert all("authorization" not in request.headers for request in fake.requests)  # anonymous: no credential


# -- endpoint, cloud, credential ---------------------------------------------------------------------------


def test_regional_endpoint_and_a_path_prefix(env: Env, fake: FakeService) -> None:
    fake.reply(404)
    fake.reply(404)
    credential = credential_for(env)
    with env.construct(
        "UserTokenClient", credential, endpoint="https://europe.token.botframework.com", transport=fake.transport
    ) as client:
        assert client.endpoint == "https://europe.token.botframework.com"
        client.user_token.get_token("u", "graph")
    with env.construct(
        "UserTokenClient", credential, endpoint="https://proxy.example.com/tokens/", transport=fake.transport
    ) as client:
        client.user_token.get_token("u", "graph")
    first, second = fake.requests
    assert (
        str(first.url) == "https://europe.token.botframework.com/api/usertoken/GetToken?userId=u&connectionName=graph"
    )
    assert (second.url.host, second.url.path) == ("proxy.example.com", "/tokens/api/usertoken/GetToken")
    assert credential.scopes == [(SCOPE,), (SCOPE,)]


def test_cloud_picks_the_endpoint_and_the_scope(env: Env, fake: FakeService) -> None:
    fake.reply(404)
    fake.reply(404)
    explicit = credential_for(env)
    with env.construct("UserTokenClient", explicit, cloud=GOVERNMENT_CLOUD, transport=fake.transport) as client:
        assert client.endpoint == "https://token.botframework.azure.us"
        client.user_token.get_token("u", "graph")
    inherited = credential_for(env, cloud=GOVERNMENT_CLOUD)  # MicrosoftAppCredentials(cloud=...) is enough
    with env.construct("UserTokenClient", inherited, transport=fake.transport) as client:
        client.user_token.get_token("u", "graph")
    assert [r.url.host for r in fake.requests] == ["token.botframework.azure.us"] * 2
    assert explicit.scopes == inherited.scopes == [(GOVERNMENT_CLOUD.scope,)]
    assert fake.requests[0].headers["authorization"] == f"Bearer tok-for-{GOVERNMENT_CLOUD.scope}"


def test_the_token_stays_on_the_endpoints_host(env: Env, fake: FakeService) -> None:
    # a redirect elsewhere is not followed: the answer is an error, and nothing else was asked
    fake.reply(307, headers={"location": "https://evil.example.com/api/usertoken/GetToken"})
    with env.construct("UserTokenClient", credential_for(env), transport=fake.transport) as client:
        with pytest.raises(errors.HttpResponseError) as caught:
            client.user_token.get_token("u", "graph")
        assert "tok-for" not in repr(client)
    assert caught.value.status_code == 307
    assert [r.url.host for r in fake.requests] == ["token.botframework.com"]


@pytest.mark.parametrize(
    ("endpoint", "error"),
    [
        ("http://token.botframework.com", errors.UntrustedEndpointError),
        ("ftp://token.botframework.com", ValueError),
        ("https://token.botframework.com/?x=1", ValueError),
        ("https://user:pw@token.botframework.com", ValueError),
        ("token.botframework.com", ValueError),
        (42, TypeError),
    ],
)
def test_bad_endpoints_are_refused_at_construction(env: Env, endpoint: Any, error: type[Exception]) -> None:
    for credential in (credential_for(env), None):  # user tokens come back: never in clear, credential or not
        with pytest.raises(error):
            env.construct("UserTokenClient", credential, endpoint=endpoint)


def test_loopback_http_is_fine_and_other_arguments_are_checked(env: Env, fake: FakeService) -> None:
    with env.construct("UserTokenClient", credential_for(env), endpoint="http://127.0.0.1:5005") as client:
        assert repr(client) == "<UserTokenClient endpoint='http://127.0.0.1:5005'>"
    with pytest.raises(TypeError, match="get_token"):
        env.construct("UserTokenClient", object())
    with pytest.raises(TypeError, match="cloud"):
        env.construct("UserTokenClient", None, cloud="public")
    with pytest.raises(TypeError, match="retry_policy"):
        env.construct("UserTokenClient", None, retry_policy=3)


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda c: c.user_token.get_token("", "graph"), ValueError),
        (lambda c: c.user_token.get_token("u", "  "), ValueError),
        (lambda c: c.user_token.get_token(7, "graph"), TypeError),
        (lambda c: c.user_token.get_token("u", "graph", code=""), ValueError),
        (lambda c: c.user_token.get_token("u", "graph", channel_id=1), TypeError),
        (lambda c: c.user_token.get_aad_tokens("u", "aad", "https://graph.microsoft.com"), TypeError),
        (lambda c: c.user_token.get_aad_tokens("u", "aad", []), ValueError),
        (lambda c: c.user_token.get_aad_tokens("u", "aad", [None]), TypeError),
        (lambda c: c.user_token.sign_out(""), ValueError),
        (lambda c: c.user_token.get_token_status("u", include=""), ValueError),
        (lambda c: c.user_token.exchange_token("u", "graph", "", {"token": "t"}), ValueError),
        (lambda c: c.user_token.exchange_token("u", "graph", "msteams", {}), ValueError),
        (lambda c: c.user_token.exchange_token("u", "graph", "msteams", "sso.t"), TypeError),
        (lambda c: c.bot_sign_in.get_sign_in_url(""), ValueError),
        (lambda c: c.bot_sign_in.get_sign_in_resource(None), TypeError),
        (lambda c: c.user_token.get_token("u", "graph", deadline=0), ValueError),
    ],
)
def test_bad_arguments_are_refused_before_sending(client: Any, fake: FakeService, call: Any, error: type) -> None:
    with pytest.raises(error):
        call(client)
    assert fake.requests == []


def test_a_closed_client_refuses_calls(env: Env, fake: FakeService) -> None:
    client = env.construct("UserTokenClient", credential_for(env), transport=fake.transport)
    client.close()
    client.close()
    with pytest.raises(errors.ClientClosedError):
        client.user_token.get_token("u", "graph")
    assert fake.requests == []


def test_the_encoded_state_in_the_query_is_standard_base64() -> None:
    # what GetSignInUrl receives decodes with the strict standard alphabet, padding included
    state = TokenExchangeState(connection_name="graph?>", ms_app_id="app-1").to_state()
    assert len(state) % 4 == 0
    decoded = json.loads(base64.b64decode(state, validate=True))
    assert decoded == {"connectionName": "graph?>", "msAppId": "app-1"}
