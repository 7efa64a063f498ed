"""MicrosoftAppCredentials (OAuth2 client credentials) and credentials in the Connector client, three ways."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import anyio
import anyio.lowlevel
import httpx
import pytest

from botconnect.errors import (
    BotConnectError,
    ClientAuthenticationError,
    DeserializationError,
    HttpResponseError,
)

from .harness import Env, FakeService

APP_ID = "00000000-1111-2222-3333-444444444444"
SECRET = "Sup3r~Secret.Value_9876543210"
SERVICE_URL = "https://smba.trafficmanager.net/amer/"
PUBLIC_TOKEN_URL = "https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token"
BF_SCOPE = "https://api.botframework.com/.default"
T0 = 1_700_000_000.0


def tok(n: int) -> str:
    """The n-th access token the fake endpoint hands out."""
    return f"eyJ0eXAiOiJKV1Qi.fake-access-token-{n}"


def raw(obj: Any) -> Any:
    """The real object behind a portal proxy (async flavours); the object itself for sync."""
    return getattr(obj, "unwrapped", obj)


class TokenEndpoint:
    """A fake Azure AD token endpoint: records every request, answers with tok-1, tok-2, ... or queued failures."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.failures: list[httpx.Response | Exception] = []
        self.expires_in: Any = 3600
        self.gate: Callable[[], Any] | None = None

    def _answer(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        if self.failures:
            item = self.failures.pop(0)
            if isinstance(item, Exception):
                raise item
            return item
        return httpx.Response(
            200,
            json={
                "token_type": "Bearer",
                "expires_in": self.expires_in,
                "ext_expires_in": self.expires_in,
                "access_token": tok(len(self.requests)),
            },
        )

    def __call__(self, request: httpx.Request) -> Any:
        if self.gate is None:
            return self._answer(request)
        gate = self.gate()
        if gate is None:  # a sync gate has already waited
            return self._answer(request)

        async def after_gate() -> httpx.Response:
            await gate
            return self._answer(request)

        return after_gate()

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def form(self, index: int = -1) -> dict[str, list[str]]:
        return parse_qs(self.requests[index].content.decode("ascii"), strict_parsing=True)


@pytest.fixture
def endpoint() -> TokenEndpoint:
    return TokenEndpoint()


def make_credential(env: Env, endpoint: TokenEndpoint, **kwargs: Any) -> Any:
    cred = env.construct("MicrosoftAppCredentials", APP_ID, SECRET, transport=endpoint.transport, **kwargs)
    core = raw(cred)._core
    core._clock = lambda: T0
    return cred


def set_clock(cred: Any, now: float) -> None:
    raw(cred)._core._clock = lambda: now


def no_sleep(env: Env, pipeline_owner: Any) -> list[float]:
    waits: list[float] = []
    pipeline = raw(pipeline_owner)._pipeline
    if env.is_async:

        async def fake_sleep(seconds: float) -> None:
            waits.append(seconds)

        pipeline._sleep = fake_sleep
    else:
        pipeline._sleep = waits.append
    return waits


# -- the token request ----------------------------------------------------------------------------------------


def test_token_request_is_oauth2_client_credentials(env: Env, endpoint: TokenEndpoint) -> None:
    cred = make_credential(env, endpoint)
    token = cred.get_token()
    assert token.token == tok(1)
    assert token.expires_on == int(T0 + 3600)
    assert len(endpoint.requests) == 1
    request = endpoint.requests[0]
    assert request.method == "POST"
    assert str(request.url) == PUBLIC_TOKEN_URL
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert "authorization" not in request.headers
    assert endpoint.form() == {
        "grant_type": ["client_credentials"],
        "client_id": [APP_ID],
        "client_secret": [SECRET],
        "scope": [BF_SCOPE],
    }
    assert cred.scope == BF_SCOPE
    assert cred.app_id == APP_ID


def test_explicit_scopes_are_requested(env: Env, endpoint: TokenEndpoint) -> None:
    cred = make_credential(env, endpoint)
    cred.get_token("api://custom/.default")
    assert endpoint.form()["scope"] == ["api://custom/.default"]


def test_tenant_override(env: Env, endpoint: TokenEndpoint) -> None:
    cred = make_credential(env, endpoint, tenant="contoso.onmicrosoft.com")
    cred.get_token()
    assert str(endpoint.requests[0].url) == (
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
    )
    assert endpoint.form()["scope"] == [BF_SCOPE]


def test_government_cloud_preset(env: Env, endpoint: TokenEndpoint, fake: FakeService) -> None:
    cred = make_credential(env, endpoint, cloud=env.pkg.GOVERNMENT_CLOUD)
    assert cred.scope == "https://api.botframework.us/.default"
    client = env.construct("ConnectorClient", "https://gov.botframework.us", raw(cred), transport=fake.transport)
    fake.reply(200, json_body={"id": "1"})
    with client:
        client.conversations.send_to_conversation("conv", {"type": "message"})
    assert str(endpoint.requests[0].url) == (
        "https://login.microsoftonline.us/MicrosoftServices.onmicrosoft.us/oauth2/v2.0/token"
    )
    assert endpoint.form()["scope"] == ["https://api.botframework.us/.default"]
    assert fake.last.headers["Authorization"] == "Bearer " + tok(1)


def test_government_credential_not_sent_to_public_cloud_hosts(env: Env, endpoint: TokenEndpoint) -> None:
    cred = make_credential(env, endpoint, cloud=env.pkg.GOVERNMENT_CLOUD)
    with pytest.raises(env.pkg.UntrustedEndpointError):
        env.construct("ConnectorClient", "https://slack.botframework.com", raw(cred), transport=endpoint.transport)
    assert endpoint.requests == []


@pytest.mark.parametrize("expires_in", [3600, "3600"])
def test_token_is_cached(env: Env, endpoint: TokenEndpoint, expires_in: Any) -> None:
    endpoint.expires_in = expires_in
    cred = make_credential(env, endpoint)
    first = cred.get_token()
    second = cred.get_token()
    assert second.token == first.token == tok(1)
    assert len(endpoint.requests) == 1


def test_token_refreshed_within_five_minutes_of_expiry(env: Env, endpoint: TokenEndpoint) -> None:
    cred = make_credential(env, endpoint)
    expires_on = cred.get_token().expires_on
    set_clock(cred, expires_on - 301)
    assert cred.get_token().token == tok(1)
    assert len(endpoint.requests) == 1
    set_clock(cred, expires_on - 299)
    refreshed = cred.get_token()
    assert refreshed.token == tok(2)
    assert refreshed.expires_on == int(expires_on - 299 + 3600)
    assert len(endpoint.requests) == 2
    assert cred.get_token().token == tok(2)
    assert len(endpoint.requests) == 2


def test_expired_token_is_replaced(env: Env, endpoint: TokenEndpoint) -> None:
    cred = make_credential(env, endpoint)
    expires_on = cred.get_token().expires_on
    set_clock(cred, expires_on + 10_000)
    assert cred.get_token().token == tok(2)


def test_short_lived_token_is_not_cached_forever(env: Env, endpoint: TokenEndpoint) -> None:
    endpoint.expires_in = 60  # shorter than the refresh margin: every call refreshes
    cred = make_credential(env, endpoint)
    assert cred.get_token().token == tok(1)
    assert cred.get_token().token == tok(2)


# -- one refresh at a time ----------------------------------------------------------------------------------

CALLERS = 20


class CacheChecks:
    """Counts calls of the core's cache lookup (each get_token makes one before taking the lock)."""

    def __init__(self, cred: Any) -> None:
        self.count = 0
        self.changed = threading.Condition()
        self.listeners: list[Callable[[], None]] = []
        core = raw(cred)._core
        original = core.cached

        def counting(scopes: tuple[str, ...]) -> Any:
            with self.changed:
                self.count += 1
                self.changed.notify_all()
            for listener in self.listeners:
                listener()
            return original(scopes)

        core.cached = counting


def test_concurrent_callers_share_one_token_request(env: Env, endpoint: TokenEndpoint) -> None:
    cred = make_credential(env, endpoint)
    checks = CacheChecks(cred)
    # The token endpoint answers only once every caller has looked in the (empty) cache: all of them are then
    # inside get_token at the same time. The lock holder looks twice, so that is CALLERS + 1 lookups.
    everyone_in = lambda: checks.count >= CALLERS + 1  # noqa: E731

    if env.is_async:
        target = raw(cred)

        async def many() -> list[Any]:
            ready = anyio.Event()  # created here: it belongs to the running event loop
            checks.listeners.append(lambda: ready.set() if everyone_in() else None)

            async def wait_for_everyone() -> None:
                with anyio.move_on_after(5):
                    await ready.wait()

            endpoint.gate = wait_for_everyone
            results: list[Any] = []

            async def one() -> None:
                results.append(await target.get_token())

            async with anyio.create_task_group() as tg:
                for _ in range(CALLERS):
                    tg.start_soon(one)
            return results

        results = env.run(many)
    else:
        condition = threading.Lock()

        def sync_gate() -> None:
            with checks.changed:
                checks.changed.wait_for(everyone_in, timeout=5)

        endpoint.gate = sync_gate
        start = threading.Barrier(CALLERS)
        results = []
        errors: list[BaseException] = []

        def one() -> None:
            start.wait()
            try:
                token = cred.get_token()
            except BaseException as exc:
                errors.append(exc)
                return
            with condition:
                results.append(token)

        threads = [threading.Thread(target=one) for _ in range(CALLERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert errors == []

    assert len(results) == CALLERS
    assert {token.token for token in results} == {tok(1)}
    assert len(endpoint.requests) == 1


# -- failures ---------------------------------------------------------------------------------------------

REFRESH_FAILURES: dict[str, Callable[[], list[httpx.Response | Exception]]] = {
    "500": lambda: [httpx.Response(500, json={"error": "server_error"})] * 4,
    "503": lambda: [httpx.Response(503, headers={"Retry-After": "1"})] * 4,
    "400-invalid-grant": lambda: [httpx.Response(400, json={"error": "invalid_grant"})],
    "connect-error": lambda: [httpx.ConnectError("login.microsoftonline.com unreachable")] * 4,
    "read-timeout": lambda: [httpx.ReadTimeout("no answer")] * 4,
    "garbage-200": lambda: [httpx.Response(200, content=b"<html>captive portal</html>")],
}


@pytest.mark.parametrize("failure", list(REFRESH_FAILURES))
def test_failing_refresh_keeps_the_still_valid_token(env: Env, endpoint: TokenEndpoint, failure: str) -> None:
    cred = make_credential(env, endpoint)
    no_sleep(env, cred)
    old = cred.get_token()
    set_clock(cred, old.expires_on - 120)  # inside the refresh margin, still valid for two minutes
    endpoint.failures = REFRESH_FAILURES[failure]()
    assert cred.get_token().token == tok(1)
    assert len(endpoint.requests) >= 2


def test_failing_refresh_after_expiry_raises(env: Env, endpoint: TokenEndpoint) -> None:
    cred = make_credential(env, endpoint)
    old = cred.get_token()
    set_clock(cred, old.expires_on + 1)
    endpoint.failures = [httpx.Response(400, json={"error": "invalid_grant", "error_description": "nope"})]
    with pytest.raises(HttpResponseError) as info:
        cred.get_token()
    assert info.value.status_code == 400
    assert info.value.error.code == "invalid_grant"


def assert_secret_absent(exc: BaseException) -> None:
    assert SECRET not in str(exc)
    assert SECRET not in repr(exc)
    assert all(SECRET not in str(arg) for arg in exc.args)
    response = getattr(exc, "response", None)
    if response is not None:
        request = response.request
        assert SECRET.encode() not in request.content
        assert SECRET not in str(request.url)
        for name, value in request.headers.items():
            assert SECRET not in name
            assert SECRET not in value


def test_invalid_client_raises_without_leaking_the_secret(env: Env, endpoint: TokenEndpoint) -> None:
    endpoint.failures = [
        httpx.Response(
            401,
            json={
                "error": "invalid_client",
                "error_description": "AADSTS7000215: Invalid client secret provided.",
                "error_codes": [7000215],
            },
            headers={"x-ms-request-id": "aad-req-1"},
        )
    ]
    cred = make_credential(env, endpoint)
    with pytest.raises(ClientAuthenticationError) as info:
        cred.get_token()
    exc = info.value
    assert exc.status_code == 401
    assert exc.error.code == "invalid_client"
    assert "AADSTS7000215" in str(exc)
    assert exc.request_id == "aad-req-1"
    assert_secret_absent(exc)
    assert len(endpoint.requests) == 1  # a 401 is not retried


def test_token_endpoint_garbage_does_not_leak_the_secret(env: Env, endpoint: TokenEndpoint) -> None:
    endpoint.failures = [httpx.Response(200, content=b"<html>captive portal</html>")]
    cred = make_credential(env, endpoint)
    with pytest.raises(DeserializationError) as info:
        cred.get_token()
    assert_secret_absent(info.value)


def test_token_endpoint_without_access_token_is_a_deserialization_error(env: Env, endpoint: TokenEndpoint) -> None:
    endpoint.failures = [httpx.Response(200, json={"token_type": "Bearer", "expires_in": 3600})]
    cred = make_credential(env, endpoint)
    with pytest.raises(DeserializationError) as info:
        cred.get_token()
    assert_secret_absent(info.value)


def test_credential_failure_surfaces_through_the_client(env: Env, endpoint: TokenEndpoint, fake: FakeService) -> None:
    endpoint.failures = [httpx.Response(401, json={"error": "invalid_client"})]
    cred = make_credential(env, endpoint)
    client = env.construct("ConnectorClient", SERVICE_URL, raw(cred), transport=fake.transport)
    with client, pytest.raises(ClientAuthenticationError) as info:
        client.conversations.send_to_conversation("conv", {"type": "message"})
    assert_secret_absent(info.value)
    assert fake.requests == []  # nothing went to the channel without a token


def test_repr_hides_the_password(env: Env, endpoint: TokenEndpoint) -> None:
    cred = make_credential(env, endpoint)
    token = cred.get_token()
    for text in (repr(cred), str(cred), repr(raw(cred)), repr(raw(cred)._core)):
        assert SECRET not in text
        assert APP_ID in text
    assert tok(1) not in repr(token)


@pytest.mark.parametrize("bad", ["", None, 42])
def test_missing_app_id_or_password_rejected(env: Env, bad: Any) -> None:
    with pytest.raises((ValueError, TypeError)):
        env.construct("MicrosoftAppCredentials", bad, SECRET)
    with pytest.raises((ValueError, TypeError)):
        env.construct("MicrosoftAppCredentials", APP_ID, bad)


def test_plain_http_token_endpoint_refused(env: Env) -> None:
    with pytest.raises(ValueError):
        env.construct("MicrosoftAppCredentials", APP_ID, SECRET, oauth_endpoint="http://login.example.com")


# -- credentials in the Connector client ---------------------------------------------------------------------


def test_client_sends_bearer_token(env: Env, endpoint: TokenEndpoint, fake: FakeService) -> None:
    cred = make_credential(env, endpoint)
    fake.reply(200, json_body={"id": "1"})
    fake.reply(200, json_body={"id": "2"})
    with env.construct("ConnectorClient", SERVICE_URL, raw(cred), transport=fake.transport) as client:
        client.conversations.send_to_conversation("conv", {"type": "message", "text": "a"})
        first_auth = fake.last.headers["Authorization"]
        client.conversations.send_to_conversation("conv", {"type": "message", "text": "b"})
    assert first_auth == "Bearer " + tok(1)
    assert fake.last.headers["Authorization"] == "Bearer " + tok(1)
    assert len(endpoint.requests) == 1  # the cached token served both calls
    assert endpoint.form()["scope"] == [BF_SCOPE]


class AzureStyleToken:
    def __init__(self, token: str, expires_on: int) -> None:
        self.token = token
        self.expires_on = expires_on


class SyncAzureCredential:
    """Shaped like azure.identity's credentials: ``get_token(*scopes, **kwargs) -> AccessToken``."""

    def __init__(self) -> None:
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AzureStyleToken:
        self.scopes.append(scopes)
        return AzureStyleToken("azure-sync-token", int(T0) + 3600)


class AsyncAzureCredential:
    """Shaped like azure.identity.aio's credentials."""

    def __init__(self) -> None:
        self.scopes: list[tuple[str, ...]] = []

    async def get_token(self, *scopes: str, **kwargs: Any) -> AzureStyleToken:
        await anyio.lowlevel.checkpoint()
        self.scopes.append(scopes)
        return AzureStyleToken("azure-async-token", int(T0) + 3600)


def test_azure_identity_style_credentials(env: Env, fake: FakeService) -> None:
    kinds: list[tuple[Any, str]] = [(SyncAzureCredential(), "azure-sync-token")]
    if env.is_async:
        kinds.append((AsyncAzureCredential(), "azure-async-token"))
    for credential, expected in kinds:
        fake.reply(200, json_body={"id": "1"})
        with env.construct("ConnectorClient", SERVICE_URL, credential, transport=fake.transport) as client:
            client.conversations.send_to_conversation("conv", {"type": "message"})
        assert fake.last.headers["Authorization"] == f"Bearer {expected}"
        assert credential.scopes == [(BF_SCOPE,)]


def test_object_without_get_token_rejected(env: Env) -> None:
    with pytest.raises(TypeError):
        env.construct("ConnectorClient", SERVICE_URL, "not-a-credential")


def test_anonymous_client_sends_no_authorization(env: Env, fake: FakeService) -> None:
    fake.reply(200, json_body={"id": "1"})
    fake.reply(200, json_body=[{"id": "m"}])
    with env.construct("ConnectorClient", "http://localhost:3978", transport=fake.transport) as client:
        client.conversations.send_to_conversation("conv", {"type": "message"})
        client.conversations.get_conversation_members("conv")
    assert len(fake.requests) == 2
    for request in fake.requests:
        assert "authorization" not in request.headers


def test_logs_carry_neither_secret_nor_token(
    env: Env, endpoint: TokenEndpoint, fake: FakeService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    cred = make_credential(env, endpoint)
    no_sleep(env, cred)
    endpoint.failures = [httpx.Response(503, headers={"Retry-After": "0"})]  # a retry logs too
    fake.reply(429, headers={"Retry-After": "0"})
    fake.reply(200, json_body={"id": "1"})
    client = env.construct("ConnectorClient", SERVICE_URL, raw(cred), transport=fake.transport)
    no_sleep(env, client)
    with client:
        client.conversations.send_to_conversation("conv", {"type": "message", "text": "hello"})
    token = fake.last.headers["Authorization"].removeprefix("Bearer ")
    assert token == tok(2)
    records = caplog.records
    assert any(r.name.startswith("botconnect") and r.levelno == logging.DEBUG for r in records)
    for record in records:
        text = record.getMessage() + (record.exc_text or "") + repr(record.args)
        assert SECRET not in text
        assert token not in text


def test_logs_of_a_failed_token_request_carry_no_secret(
    env: Env, endpoint: TokenEndpoint, fake: FakeService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    endpoint.failures = [httpx.Response(401, json={"error": "invalid_client"})]
    cred = make_credential(env, endpoint)
    client = env.construct("ConnectorClient", SERVICE_URL, raw(cred), transport=fake.transport)
    with client, pytest.raises(BotConnectError):
        client.conversations.send_to_conversation("conv", {"type": "message"})
    for record in caplog.records:
        assert SECRET not in record.getMessage() + repr(record.args)
