"""The emulator's user token service over loopback, driven by UserTokenClient three ways (sync, asyncio, trio),
every request and response checked against TokenAPI.json: the sign-in page and its magic code, GetToken, SSO
exchange, sign-out, status; bearer auth as on its Connector; configured connections; the CLI flag."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from botconnect import errors
from botconnect._core.retry import NO_RETRIES
from botconnect.emulator import Emulator
from botconnect.models import Activity, ErrorResponse, TokenExchangeState, TokenResponse

from .harness import Env
from .test_emulator_cli import Running, _environment
from .test_user_token import AsyncValidatingTransport, ValidatingTransport, check_response

APP_ID = "00000000-0000-0000-0000-00000000700c"
APP_PASSWORD = "token-service-secret"
USER = "29:user-ada"


@pytest.fixture(scope="module")
def running() -> Iterator[Emulator]:
    with Emulator(app_id=APP_ID, app_password=APP_PASSWORD, oauth_connections=["graph", "GitHub"]) as emulator:
        yield emulator


@pytest.fixture
def emulator(running: Emulator) -> Emulator:
    running.reset()
    return running


class Validating:
    """A UserTokenClient for the flavour on a validating loopback transport, with its credential."""

    def __init__(self, env: Env, emulator: Emulator, *, credential: bool = True) -> None:
        self.env = env
        if env.is_async:
            self.transport: Any = AsyncValidatingTransport(httpx.AsyncHTTPTransport())
        else:
            self.transport = ValidatingTransport(httpx.HTTPTransport())
        self.credential = (
            env.pkg.MicrosoftAppCredentials(APP_ID, APP_PASSWORD, cloud=emulator.cloud) if credential else None
        )
        cloud = emulator.cloud
        self.client = env.construct(
            "UserTokenClient", self.credential, cloud=cloud, transport=self.transport, retry_policy=NO_RETRIES
        )

    def close(self) -> None:
        self.client.close()
        if self.credential is not None:
            self.env.run(self.credential.close)


@pytest.fixture
def tokens(env: Env, emulator: Emulator) -> Iterator[Any]:
    made = Validating(env, emulator)
    try:
        yield made.client
    finally:
        made.close()


def state_for(user: str = USER, connection: str = "graph") -> TokenExchangeState:
    activity = Activity.from_dict(
        {
            "type": "message",
            "channelId": "msteams",
            "from": {"id": user},
            "recipient": {"id": "28:bot"},
            "conversation": {"id": "a:1"},
            "serviceUrl": "https://smba.trafficmanager.net/emea/",
        }
    )
    return TokenExchangeState.from_activity(activity, connection, app_id=APP_ID)


def complete(link: str) -> str:
    """What the user does: open the sign-in page, complete it, read the magic code."""
    page = httpx.get(link)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    done = httpx.get(httpx.URL(link).copy_merge_params({"complete": "1"}))
    found = re.search(r'<code id="magic-code">(\d{6})</code>', done.text)
    assert found, done.text
    return found[1]


def test_sign_in_with_a_magic_code(tokens: Any, emulator: Emulator) -> None:
    link = tokens.bot_sign_in.get_sign_in_url(state_for())
    assert link.startswith(emulator.url + "/api/oauth/signin?signin=")
    assert tokens.user_token.get_token(USER, "graph", channel_id="msteams") is None  # not signed in yet
    code = complete(link)
    assert complete(link) == code  # the page shows the same code until it is used
    assert tokens.user_token.get_token("29:someone-else", "graph", code=code) is None  # bound to the user
    assert tokens.user_token.get_token(USER, "github", code=code) is None  # and to the connection
    token = tokens.user_token.get_token(USER, "graph", channel_id="msteams", code=code)
    assert isinstance(token, TokenResponse)
    assert (token.connection_name, token.channel_id) == ("graph", "msteams")
    assert token.token is not None
    assert token.token.startswith("emu-user.")
    assert token.expiration
    assert tokens.user_token.get_token(USER, "graph", code=code) is None  # a code is good once
    assert tokens.user_token.get_token(USER, "GRAPH") == token  # from now on without a code
    assert httpx.get(link).status_code == 404  # the sign-in is over
    assert emulator.token_service.hits["GetToken"] == 6


def test_sign_in_resource_offers_sso(tokens: Any, emulator: Emulator) -> None:
    resource = tokens.bot_sign_in.get_sign_in_resource(state_for().to_state(), final_redirect="https://a.example")
    assert resource.sign_in_link.startswith(emulator.url + "/api/oauth/signin?signin=")
    assert resource.token_exchange_resource is not None
    assert resource.token_exchange_resource.uri == f"api://botid-{APP_ID}"
    assert resource.token_exchange_resource.id
    code = complete(resource.sign_in_link)
    assert tokens.user_token.get_token(USER, "graph", code=code) is not None


def test_sso_exchange_status_aad_tokens_and_sign_out(tokens: Any, emulator: Emulator) -> None:
    exchange = tokens.user_token.exchange_token
    refused = exchange(USER, "graph", "msteams", {"token": "not-sso"})
    assert isinstance(refused, ErrorResponse)
    assert refused.error is not None
    assert refused.error.code == "TokenExchangeFailed"
    assert exchange(USER, "graph", "msteams", {"token": "sso.x", "uri": "api://botid-other"}) is None
    token = exchange(USER, "graph", "msteams", {"token": "sso.eyJ", "uri": f"api://botid-{APP_ID}"})
    assert isinstance(token, TokenResponse)
    assert token.token is not None
    assert token.token.startswith("emu-user.")
    assert exchange(USER, "graph", "msteams", {"token": "sso.again"}) == token  # the stored token
    assert emulator.token_service.hits["exchange"] == 4

    statuses = tokens.user_token.get_token_status(USER, channel_id="msteams")
    assert [(s.connection_name, s.has_token, s.channel_id) for s in statuses] == [
        ("graph", True, "msteams"),
        ("GitHub", False, "msteams"),
    ]
    only = tokens.user_token.get_token_status(USER, include="github")
    assert [s.connection_name for s in only] == ["GitHub"]

    aad = tokens.user_token.get_aad_tokens(USER, "graph", ["https://graph.microsoft.com", "https://x.example"])
    assert sorted(aad) == ["https://graph.microsoft.com", "https://x.example"]
    assert all(t.token and t.token.startswith("emu-aad.") for t in aad.values())
    assert aad["https://graph.microsoft.com"].token != aad["https://x.example"].token
    assert tokens.user_token.get_aad_tokens("29:nobody", "graph", ["https://graph.microsoft.com"]) == {}

    tokens.user_token.sign_out(USER, connection_name="graph", channel_id="msteams")
    assert tokens.user_token.get_token(USER, "graph") is None
    exchange(USER, "GitHub", "msteams", {"token": "sso.y"})
    exchange(USER, "graph", "msteams", {"token": "sso.y"})
    tokens.user_token.sign_out(USER)  # every connection
    assert [s.has_token for s in tokens.user_token.get_token_status(USER)] == [False, False]


def test_unknown_connections_and_bad_states_are_400s(tokens: Any) -> None:
    with pytest.raises(errors.HttpResponseError) as caught:
        tokens.user_token.get_token(USER, "dropbox")
    assert (caught.value.status_code, caught.value.error.code) == (400, "BadArgument")
    assert "dropbox" in str(caught.value)
    with pytest.raises(errors.HttpResponseError) as caught:
        tokens.bot_sign_in.get_sign_in_url(state_for(connection="dropbox"))
    assert caught.value.status_code == 400
    with pytest.raises(errors.HttpResponseError) as caught:
        tokens.bot_sign_in.get_sign_in_url("bm90IGEgc3RhdGU=")  # base64 of "not a state"
    assert caught.value.status_code == 400


def test_every_operation_went_through_the_swagger_check(env: Env, emulator: Emulator) -> None:
    made = Validating(env, emulator)
    try:
        client = made.client
        client.bot_sign_in.get_sign_in_url(state_for())
        client.bot_sign_in.get_sign_in_resource(state_for())
        client.user_token.get_token(USER, "graph")
        client.user_token.exchange_token(USER, "graph", "msteams", {"token": "sso.z"})
        client.user_token.get_aad_tokens(USER, "graph", ["https://graph.microsoft.com"])
        client.user_token.get_token_status(USER)
        client.user_token.sign_out(USER)
    finally:
        made.close()
    assert len(set(made.transport.operations)) == 7


API_CALLS = [
    ("GET", "/api/botsignin/GetSignInUrl?state=e30="),
    ("GET", "/api/botsignin/GetSignInResource?state=e30="),
    ("GET", f"/api/usertoken/GetToken?userId={USER}&connectionName=graph"),
    ("POST", f"/api/usertoken/GetAadTokens?userId={USER}&connectionName=graph"),
    ("DELETE", f"/api/usertoken/SignOut?userId={USER}"),
    ("GET", f"/api/usertoken/GetTokenStatus?userId={USER}"),
    ("POST", f"/api/usertoken/exchange?userId={USER}&connectionName=graph&channelId=msteams"),
]


@pytest.mark.parametrize(("method", "path"), API_CALLS, ids=[p.split("?")[0].rsplit("/", 1)[1] for _, p in API_CALLS])
def test_the_api_wants_the_bots_token(emulator: Emulator, method: str, path: str) -> None:
    body = {"resourceUrls": ["https://graph.microsoft.com"]} if "Aad" in path else {"token": "sso.x"}
    content = httpx.Request(method, "http://x", json=body).content if method == "POST" else None
    headers = {"content-type": "application/json"} if content else {}
    with httpx.Client(base_url=emulator.url) as http:
        anonymous = http.request(method, path, content=content, headers=headers)
        # a token for another audience (a skill's) is no good either
        with emulator_credential(emulator) as credential:
            skill_token = credential.get_token("api://some-skill/.default").token
            bot_token = credential.get_token().token
        wrong = http.request(
            method, path, content=content, headers={**headers, "authorization": f"Bearer {skill_token}"}
        )
        right = http.request(method, path, content=content, headers={**headers, "authorization": f"Bearer {bot_token}"})
    operation = {"GetSignInUrl": "BotSignIn_GetSignInUrl"}.get(path.split("?")[0].rsplit("/", 1)[1])
    for response in (anonymous, wrong):
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "Unauthorized"
    assert right.status_code in (200, 400, 404), right.text  # e30= is "{}": no connection in it
    if operation is not None and right.status_code == 200:
        check_response(operation, right)


def emulator_credential(emulator: Emulator) -> Any:
    import botconnect

    return botconnect.MicrosoftAppCredentials(APP_ID, APP_PASSWORD, cloud=emulator.cloud)


def test_the_sign_in_page_needs_no_token_and_escapes_what_it_shows() -> None:
    # no app id and no connections configured: anonymous calls, any connection name
    with Emulator(socket=False) as local:
        transport = local.transport()
        cloud = local.cloud
        assert cloud.token_service_url == "http://emulator.localhost"
        import botconnect

        with botconnect.UserTokenClient(None, cloud=cloud, transport=ValidatingTransport(transport)) as client:
            link = client.bot_sign_in.get_sign_in_url(state_for(user="<i>ada</i>", connection="<b>any</b>"))
            with httpx.Client(transport=transport) as browser:
                page = browser.get(link).text
                done = browser.get(httpx.URL(link).copy_merge_params({"complete": "1"})).text
                missing = browser.get(local.url + "/api/oauth/signin?signin=nope")
            assert "&lt;b&gt;any&lt;/b&gt;" in page
            assert "&lt;i&gt;ada&lt;/i&gt;" in page
            assert "<b>any</b>" not in page
            assert missing.status_code == 404
            found = re.search(r'id="magic-code">(\d{6})<', done)
            assert found
            token = client.user_token.get_token("<i>ada</i>", "<b>any</b>", code=found[1])
            assert token is not None
            assert client.user_token.get_token_status("<i>ada</i>")[0].connection_name == "<b>any</b>"
        info = httpx.Client(transport=transport).get(local.url + "/_emulator").json()
        assert info["tokenService"] == {"endpoint": local.url, "connections": [], "signInPage": "/api/oauth/signin"}
        local.reset()
        assert local.token_service.hits == {}


def test_the_cli_configures_the_connections() -> None:
    command = [sys.executable, "-m", "botconnect.emulator", "--port", "0", "--oauth-connection", "graph"]
    command += ["--oauth-connection", "github"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_environment())
    started = Running(process)
    try:
        banner = started.until("Press Ctrl+C")
        url = re.fullmatch(r"botconnect emulator on (http://127\.0\.0\.1:\d+)", banner[0])
        assert url, banner
        assert f"  User tokens  endpoint {url[1]}  OAuth connections: graph, github" in banner
        import botconnect

        with botconnect.UserTokenClient(None, endpoint=url[1]) as client:
            assert client.user_token.get_token(USER, "github") is None
            with pytest.raises(errors.HttpResponseError) as caught:
                client.user_token.get_token(USER, "dropbox")
        assert caught.value.status_code == 400
        process.send_signal(signal.SIGINT)
        assert process.wait(20) == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        assert process.stdout is not None
        assert process.stderr is not None
        process.stdout.close()
        process.stderr.close()
