"""The emulator signs what it delivers and publishes the keys: a bot of the user's own (a raw ``http.server`` on
loopback) checks every delivery with ``BotAuthenticator(app_id, cloud=emulator.cloud)``, as a real bot must; token
faults and key rotation as a bot meets them; the token endpoint's JWTs as skill and Emulator tokens and at the
Connector endpoints; invoke responses relayed to the Direct Line client; the CLI banner and the pytest fixture."""

from __future__ import annotations

import dataclasses
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import attrs
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

import botconnect
from botconnect.emulator import TOKEN_FAULTS, Emulator
from botconnect.emulator.__main__ import main
from botconnect.emulator.pytest_plugin import EMULATOR_APP_ID
from botconnect.emulator.signing import EMULATOR_TENANT_ID, cloud_code
from botconnect.errors import AuthenticationError
from botconnect.inbound import ClaimsIdentity
from botconnect.models import Activity, ChannelAccount

from .harness import Env

APP_ID = "11111111-2222-4333-8444-555555555555"
APP_PASSWORD = "bot-password"
SKILL_APP_ID = "99999999-8888-4777-8666-555555555555"
USER = ChannelAccount(id="user-1", name="User One")
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi"}
ROOT = Path(__file__).resolve().parents[1]


@dataclasses.dataclass
class Delivery:
    activity: dict[str, Any]
    authorization: str | None
    identity: ClaimsIdentity | None = None
    error: AuthenticationError | None = None


class CheckingBot:
    """A bot's messaging endpoint: checks each delivery with :attr:`authenticator` (401 when it fails), answers an
    invoke with the ``status`` and ``body`` its ``value`` asks for, and a message with a JSON body of its own."""

    def __init__(self) -> None:
        self.authenticator: botconnect.BotAuthenticator | None = None
        self.deliveries: list[Delivery] = []
        bot = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                activity = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                delivery = Delivery(activity, self.headers.get("Authorization"))
                bot.deliveries.append(delivery)
                if bot.authenticator is not None:
                    try:
                        delivery.identity = bot.authenticator.authenticate_request(activity, delivery.authorization)
                    except AuthenticationError as exc:
                        delivery.error = exc
                        self._answer(401, None)
                        return
                if activity["type"] == "invoke":
                    asked = activity.get("value") or {}
                    self._answer(asked.get("status", 200), asked.get("body"))
                else:
                    self._answer(200, {"note": "a message's answer is not relayed"})

            def _answer(self, status: int, body: Any) -> None:
                content = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/messages"

    def last(self, kind: str = "message") -> Delivery:
        return [d for d in self.deliveries if d.activity["type"] == kind][-1]


@contextmanager
def running_bot() -> Iterator[CheckingBot]:
    bot = CheckingBot()
    thread = threading.Thread(target=bot.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield bot
    finally:
        bot.server.shutdown()
        bot.server.server_close()
        thread.join(10)


@pytest.fixture(scope="module")
def bot() -> Iterator[CheckingBot]:
    with running_bot() as running:
        yield running


@pytest.fixture(scope="module")
def emulator(bot: CheckingBot) -> Iterator[Emulator]:
    with Emulator(bot=bot.url, app_id=APP_ID, app_password=APP_PASSWORD) as running:
        yield running


@pytest.fixture
def checked(bot: CheckingBot, emulator: Emulator) -> Iterator[CheckingBot]:
    """The bot checking deliveries with a fresh authenticator (nothing cached); the emulator reset around it."""
    emulator.reset()
    bot.deliveries.clear()
    authenticator = botconnect.BotAuthenticator(APP_ID, cloud=emulator.cloud, unknown_key_cooldown=0)
    bot.authenticator = authenticator
    try:
        yield bot
    finally:
        bot.authenticator = None
        authenticator.close()
        emulator.reset()


def post(emulator: Emulator, text: str = "hi") -> botconnect.models.ResourceResponse:
    with emulator.directline_client(retry_policy=botconnect.NO_RETRIES) as client:
        cid = client.conversations.start_conversation().conversation_id
        return client.conversations.post_activity(cid, Activity(type="message", text=text, from_property=USER))


def bearer(delivery: Delivery) -> str:
    assert delivery.authorization is not None
    scheme, _, token = delivery.authorization.partition(" ")
    assert scheme == "Bearer"
    return token


def unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    return jwt.get_unverified_header(token), jwt.decode(token, options={"verify_signature": False})


# -- deliveries ------------------------------------------------------------------------------------------------


def test_every_delivery_carries_a_channel_token_the_bot_accepts(
    env: Env, checked: CheckingBot, emulator: Emulator
) -> None:
    post(emulator)
    kinds = [d.activity["type"] for d in checked.deliveries]
    assert kinds == ["conversationUpdate", "conversationUpdate", "message"]
    for delivery in checked.deliveries:
        assert delivery.error is None
        assert delivery.identity is not None
        assert delivery.identity.source == "channel"
        assert delivery.identity.caller_id == "urn:botframework:azure"
        assert delivery.identity.app_id == APP_ID
        assert delivery.identity.oauth_scope == "https://api.botframework.com"
    message = checked.last()
    header, claims = unverified(bearer(message))
    assert header["alg"] == "RS256"
    assert header["kid"] == emulator.signing.channel.current.kid
    assert claims["iss"] == "https://api.botframework.com"
    assert claims["aud"] == APP_ID
    assert claims["serviceurl"] == message.activity["serviceUrl"] == emulator.service_url
    assert claims["nbf"] < claims["iat"] < claims["exp"]
    assert 3000 < claims["exp"] - time.time() <= 3600

    # the async façades accept the same delivery; the token is bound to its serviceUrl and its channel
    with env.construct("BotAuthenticator", APP_ID, cloud=emulator.cloud) as authenticator:
        identity = authenticator.authenticate_request(message.activity, message.authorization)
        assert (identity.source, identity.app_id) == ("channel", APP_ID)
        elsewhere = {**message.activity, "serviceUrl": "http://127.0.0.1:1/other/"}
        with pytest.raises(AuthenticationError, match="serviceurl does not match"):
            authenticator.authenticate_request(elsewhere, message.authorization)
        unknown_channel = {**message.activity, "channelId": "not-a-channel"}
        with pytest.raises(AuthenticationError, match="not endorsed"):
            authenticator.authenticate_request(unknown_channel, message.authorization)
    another_bot = env.construct("BotAuthenticator", SKILL_APP_ID, cloud=emulator.cloud)
    with another_bot, pytest.raises(AuthenticationError, match="aud is not this bot's app id"):
        another_bot.authenticate_request(message.activity, message.authorization)


def test_without_an_app_id_deliveries_carry_no_token(bot: CheckingBot) -> None:
    bot.deliveries.clear()
    with Emulator(bot=bot.url) as anonymous:
        post(anonymous)
        message = bot.last()
        assert message.authorization is None
        with botconnect.BotAuthenticator(None, cloud=anonymous.cloud) as development:
            assert development.authenticate_request(message.activity, None).is_anonymous
        production = botconnect.BotAuthenticator(APP_ID, cloud=anonymous.cloud)
        with production, pytest.raises(AuthenticationError, match="no Authorization header"):
            production.authenticate_request(message.activity, None)
        assert anonymous.signing.hits == {}


@pytest.mark.parametrize(
    ("fault", "refusal"),
    [
        ("expired", "the token has expired"),
        ("wrong_audience", "aud is not this bot's app id"),
        ("unknown_kid", "no signing key has the token's kid"),
        ("missing_endorsement", "not endorsed for the activity's channelId"),
    ],
)
def test_each_token_fault_makes_the_bot_refuse_the_delivery(
    checked: CheckingBot, emulator: Emulator, fault: str, refusal: str
) -> None:
    emulator.faults.token = fault
    with pytest.raises(botconnect.HttpResponseError) as caught:
        post(emulator)
    assert caught.value.status_code == 502  # the bot answered 401
    spoiled = checked.last()
    assert spoiled.identity is None
    assert spoiled.error is not None
    assert re.search(refusal, str(spoiled.error)), spoiled.error
    assert emulator.faults.fired[f"token:{fault}"] == 3  # two conversationUpdates and the message

    published = {key["kid"]: key for key in emulator.signing.channel.jwks()["keys"]}
    kid = unverified(bearer(spoiled))[0]["kid"]
    if fault == "unknown_kid":
        assert kid not in published
    elif fault == "missing_endorsement":
        assert "directline" not in published[kid]["endorsements"]
    else:
        assert kid == emulator.signing.channel.current.kid

    emulator.faults.token = None
    post(emulator)
    assert checked.last().identity is not None


def test_token_faults_are_validated_and_cleared_by_reset(emulator: Emulator) -> None:
    assert set(TOKEN_FAULTS) == {"expired", "wrong_audience", "unknown_kid", "missing_endorsement"}
    with pytest.raises(ValueError, match="unknown token fault"):
        emulator.faults.token = "forged"
    emulator.faults.token = "expired"
    emulator.reset()
    assert emulator.faults.token is None


def test_a_rotated_key_is_fetched_once_and_the_old_one_stays_published(
    checked: CheckingBot, emulator: Emulator
) -> None:
    post(emulator)
    before = checked.last()
    old_kid = unverified(bearer(before))[0]["kid"]
    assert (emulator.signing.hits["channel_metadata"], emulator.signing.hits["channel_keys"]) == (1, 1)

    new_kid = emulator.rotate_signing_key()
    assert new_kid != old_kid
    post(emulator)
    after = checked.last()
    assert unverified(bearer(after))[0]["kid"] == new_kid
    assert after.identity is not None
    assert after.identity.source == "channel"
    # the unknown kid made the bot fetch the key set once more, and only once
    assert (emulator.signing.hits["channel_metadata"], emulator.signing.hits["channel_keys"]) == (2, 2)
    kids = [key["kid"] for key in emulator.signing.channel.jwks()["keys"]]
    assert new_kid in kids
    assert old_kid in kids

    assert checked.authenticator is not None
    assert checked.authenticator.authenticate_request(before.activity, before.authorization).source == "channel"
    assert emulator.signing.hits["channel_keys"] == 2


# -- what it publishes -------------------------------------------------------------------------------------------


def test_metadata_and_key_sets_are_published_and_counted(emulator: Emulator) -> None:
    emulator.reset()
    with httpx.Client(base_url=emulator.url) as http:
        channel = http.get("/v1/.well-known/openidconfiguration").json()
        channel_keys = http.get("/v1/.well-known/keys").json()["keys"]
        entra = http.get(f"/{EMULATOR_TENANT_ID}/v2.0/.well-known/openid-configuration").json()
        entra_keys = http.get(f"/{EMULATOR_TENANT_ID}/discovery/v2.0/keys").json()["keys"]
        common = http.get("/common/v2.0/.well-known/openid-configuration").json()
    assert channel["issuer"] == "https://api.botframework.com"
    assert channel["jwks_uri"] == emulator.url + "/v1/.well-known/keys"
    assert channel["id_token_signing_alg_values_supported"] == ["RS256"]
    assert channel["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
    assert entra["jwks_uri"] == f"{emulator.url}/{EMULATOR_TENANT_ID}/discovery/v2.0/keys"
    assert entra["token_endpoint"] == f"{emulator.url}/{EMULATOR_TENANT_ID}/oauth2/v2.0/token"
    assert common["jwks_uri"] == emulator.url + "/common/discovery/v2.0/keys"

    current = next(key for key in channel_keys if key["kid"] == emulator.signing.channel.current.kid)
    for channel_id in ("msteams", "webchat", "directline", "emulator", "slack"):
        assert channel_id in current["endorsements"]
    for key in channel_keys + entra_keys:
        assert (key["kty"], key["use"]) == ("RSA", "sig")
        assert key["n"]
        assert key["e"]
        assert key["kid"]
        assert not PRIVATE_MEMBERS & set(key)
    assert all("endorsements" not in key for key in entra_keys)
    assert not {k["kid"] for k in channel_keys} & {k["kid"] for k in entra_keys}
    assert dict(emulator.signing.hits) == {
        "channel_metadata": 1,
        "channel_keys": 1,
        "entra_metadata": 2,
        "entra_keys": 1,
    }
    emulator.reset()
    assert dict(emulator.signing.hits) == {}


def test_the_cloud_points_everything_at_the_emulator(emulator: Emulator) -> None:
    cloud = emulator.cloud
    tid = EMULATOR_TENANT_ID
    assert cloud.oauth_endpoint == cloud.token_service_url == emulator.url
    assert cloud.tenant == tid
    assert cloud.channel_openid_metadata_url == emulator.url + "/v1/.well-known/openidconfiguration"
    assert cloud.channel_token_issuer == "https://api.botframework.com"
    assert cloud.emulator_openid_metadata_url == f"{emulator.url}/{tid}/v2.0/.well-known/openid-configuration"
    assert cloud.emulator_token_issuers == (
        f"https://sts.windows.net/{tid}/",
        f"https://login.microsoftonline.com/{tid}/v2.0",
    )
    assert {"127.0.0.1", "localhost"} <= set(cloud.trusted_hosts)
    assert cloud.scope == botconnect.PUBLIC_CLOUD.scope
    assert eval(cloud_code(cloud), {"attrs": attrs, "botconnect": botconnect}) == cloud


# -- the token endpoint's tokens -----------------------------------------------------------------------------------


def test_token_endpoint_tokens_are_skill_tokens_for_allowed_callers_only(env: Env, emulator: Emulator) -> None:
    credential = env.construct("MicrosoftAppCredentials", APP_ID, APP_PASSWORD, cloud=emulator.cloud)
    with credential:
        token = credential.get_token(f"{SKILL_APP_ID}/.default").token
        own = credential.get_token(f"{APP_ID}/.default").token
    claims = unverified(token)[1]
    assert (claims["aud"], claims["appid"], claims["ver"]) == (SKILL_APP_ID, APP_ID, "1.0")
    assert (claims["tid"], claims["iss"]) == (EMULATOR_TENANT_ID, f"https://sts.windows.net/{EMULATOR_TENANT_ID}/")
    # what a parent bot posts to its skill
    activity = {"type": "message", "channelId": "directline", "serviceUrl": "http://127.0.0.1:1/api/skills/"}
    header = f"Bearer {token}"
    cloud = emulator.cloud
    with env.construct("BotAuthenticator", SKILL_APP_ID, cloud=cloud, allowed_callers=[APP_ID]) as skill:
        identity = skill.authenticate_request(activity, header)
    assert (identity.source, identity.is_skill, identity.caller_app_id) == ("skill", True, APP_ID)
    assert identity.caller_id == f"urn:botframework:aadappid:{APP_ID}"
    assert identity.oauth_scope == APP_ID
    no_callers = env.construct("BotAuthenticator", SKILL_APP_ID, cloud=cloud)
    with no_callers, pytest.raises(AuthenticationError, match="no allowed_callers"):
        no_callers.authenticate_request(activity, header)
    others = env.construct("BotAuthenticator", SKILL_APP_ID, cloud=cloud, allowed_callers=["someone-else"])
    with others, pytest.raises(AuthenticationError, match="not in allowed_callers"):
        others.authenticate_request(activity, header)

    # a token for the bot's own app id is what the Bot Framework Emulator sends
    with env.construct("BotAuthenticator", APP_ID, cloud=cloud) as authenticator:
        assert authenticator.authenticate_request(activity, f"Bearer {own}").source == "emulator"
    strict = env.construct("BotAuthenticator", APP_ID, cloud=cloud, allow_emulator=False)
    with strict, pytest.raises(AuthenticationError, match="allow_emulator is False"):
        strict.authenticate_request(activity, f"Bearer {own}")


def test_the_token_endpoint_refuses_scopes_client_credentials_cannot_have(emulator: Emulator) -> None:
    url = f"{emulator.url}/{EMULATOR_TENANT_ID}/oauth2/v2.0/token"
    form = {"grant_type": "client_credentials", "client_id": APP_ID, "client_secret": APP_PASSWORD}
    with httpx.Client() as http:
        for scope in ("https://api.botframework.com", "/.default", "a/.default b/.default"):
            answer = http.post(url, data={**form, "scope": scope})
            assert (answer.status_code, answer.json()["error"]) == (400, "invalid_scope"), scope
        defaulted = http.post(url, data=form).json()["access_token"]
    assert unverified(defaulted)[1]["aud"] == "https://api.botframework.com"


def connector_status(emulator: Emulator, authorization: str | None) -> int:
    headers = {"Authorization": authorization} if authorization is not None else {}
    with httpx.Client() as http:
        return http.get(emulator.url + "/v3/conversations", headers=headers).status_code


def test_the_connector_endpoints_refuse_forged_expired_and_misdirected_tokens(emulator: Emulator) -> None:
    with botconnect.MicrosoftAppCredentials(APP_ID, APP_PASSWORD, cloud=emulator.cloud) as credential:
        valid = credential.get_token().token
        for_a_skill = credential.get_token(f"{SKILL_APP_ID}/.default").token
    assert connector_status(emulator, f"Bearer {valid}") == 200
    header, claims = unverified(valid)
    now = int(time.time())
    key = emulator.signing.entra.current
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    refused = {
        "no header": None,
        "not bearer": f"Basic {valid}",
        "opaque": "Bearer emu.not-a-jwt",
        "a skill's audience": f"Bearer {for_a_skill}",
        "forged": "Bearer " + jwt.encode(claims, stranger, algorithm="RS256", headers={"kid": header["kid"]}),
        "unsigned": "Bearer " + jwt.encode(claims, None, algorithm="none", headers={"kid": header["kid"]}),
        "expired": "Bearer " + key.sign({**claims, "iat": now - 3600, "nbf": now - 3600, "exp": now - 1}),
        "another client": "Bearer " + key.sign({**claims, "appid": SKILL_APP_ID}),
        "another tenant": "Bearer " + key.sign({**claims, "tid": "00000000-0000-0000-0000-000000000001"}),
    }
    statuses = {name: connector_status(emulator, value) for name, value in refused.items()}
    assert statuses == dict.fromkeys(refused, 401)
    assert connector_status(emulator, "Bearer " + key.sign(claims)) == 200  # re-signed unchanged: still good

    emulator.rotate_signing_key()
    assert connector_status(emulator, f"Bearer {valid}") == 200  # signed by a key still published
    with botconnect.MicrosoftAppCredentials(APP_ID, APP_PASSWORD, cloud=emulator.cloud) as fresh:
        rotated = fresh.get_token().token
    assert unverified(rotated)[0]["kid"] == emulator.signing.entra.current.kid != header["kid"]
    assert connector_status(emulator, f"Bearer {rotated}") == 200


def test_connector_tokens_expire_by_the_issuers_clock(emulator: Emulator) -> None:
    with botconnect.MicrosoftAppCredentials(APP_ID, APP_PASSWORD, cloud=emulator.cloud) as credential:
        valid = credential.get_token().token
    issuer = emulator.app.auth
    issuer.clock = lambda: time.time() + 3601
    try:
        assert connector_status(emulator, f"Bearer {valid}") == 401
    finally:
        issuer.clock = time.time
    assert connector_status(emulator, f"Bearer {valid}") == 200


# -- invoke responses ------------------------------------------------------------------------------------------------


def test_invoke_responses_are_relayed_to_the_direct_line_client(
    env: Env, checked: CheckingBot, emulator: Emulator
) -> None:
    def invoke(status: int, body: Any = None) -> Activity:
        return Activity(type="invoke", name="test/answer", value={"status": status, "body": body}, from_property=USER)

    client = env.construct(
        "DirectLineClient", secret=emulator.secret, endpoint=emulator.url, retry_policy=botconnect.NO_RETRIES
    )
    with client:
        cid = client.conversations.start_conversation().conversation_id
        answered = client.conversations.post_activity(cid, invoke(200, {"answer": 42, "id": "from-the-bot"}))
        assert (answered.id, answered.additional_properties) == ("from-the-bot", {"answer": 42})
        with pytest.raises(botconnect.HttpResponseError) as refused:
            client.conversations.post_activity(cid, invoke(409, {"error": {"code": "Taken", "message": "no"}}))
        assert (refused.value.status_code, refused.value.error_code) == (409, "Taken")
        with pytest.raises(botconnect.HttpResponseError) as failed:
            client.conversations.post_activity(cid, invoke(500, {"error": {"code": "Crash", "message": "boom"}}))
        assert (failed.value.status_code, failed.value.error_code) == (502, "BotError")
        silent = client.conversations.post_activity(cid, invoke(200))
        assert silent.id is not None
        assert silent.id.startswith(cid)
        message = client.conversations.post_activity(cid, Activity(type="message", text="hi", from_property=USER))
        assert message.id is not None
        assert message.id.startswith(cid)
        assert message.additional_properties == {}
    assert all(d.identity is not None and d.identity.source == "channel" for d in checked.deliveries)
    assert [d.activity["type"] for d in checked.deliveries].count("invoke") == 4


# -- the CLI and the pytest fixture ----------------------------------------------------------------------------------


def _banner(process: subprocess.Popen[str]) -> list[str]:
    """The lines the CLI prints up to "Press Ctrl+C" (read on a thread, so a silent process fails the test)."""
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    seen: list[str] = []
    while not seen or "Press Ctrl+C" not in seen[-1]:
        line = lines.get(timeout=20)
        if line is None:
            pytest.fail(f"the emulator exited before its banner was complete: {seen}")
        seen.append(line)
    return seen


def test_the_cli_banner_tells_a_bot_how_to_trust_it() -> None:
    command = [sys.executable, "-m", "botconnect.emulator", "--port", "0", "--app-id", APP_ID]
    command += ["--app-password", APP_PASSWORD, "--token-fault", "wrong_audience"]
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
    try:
        banner = _banner(process)
        url = re.fullmatch(r"botconnect emulator on (http://127\.0\.0\.1:\d+)", banner[0])
        assert url, banner
        base = url.group(1)
        text = "\n".join(banner)
        assert f"channel metadata  {base}/v1/.well-known/openidconfiguration" in text
        assert f"{base}/{EMULATOR_TENANT_ID}/v2.0/.well-known/openid-configuration" in text
        assert "delivery tokens wrong_audience" in text
        start = next(i for i, line in enumerate(banner) if "cloud = attrs.evolve(" in line)
        end = next(i for i in range(start, len(banner)) if banner[i].strip() == ")")
        code = "\n".join(line.strip() for line in banner[start : end + 1]).removeprefix("cloud = ")
        cloud = eval(code, {"attrs": attrs, "botconnect": botconnect})
        assert cloud.channel_openid_metadata_url == base + "/v1/.well-known/openidconfiguration"
        assert cloud.oauth_endpoint == base
        assert f"botconnect.BotAuthenticator({APP_ID!r}, cloud=cloud)" in text
        assert httpx.get(cloud.channel_openid_metadata_url).json()["jwks_uri"] == base + "/v1/.well-known/keys"
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


def test_the_cli_refuses_a_token_fault_without_an_app_id(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--port", "0", "--token-fault", "expired"]) == 2
    assert "--token-fault needs --app-id" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--port", "0", "--app-id", "a", "--app-password", "b", "--token-fault", "bogus"])


def test_the_fixture_with_auth_signs_deliveries_and_guards_the_connector(
    botconnect_emulator_with_auth: Emulator,
) -> None:
    emulator = botconnect_emulator_with_auth
    assert emulator.app_id == EMULATOR_APP_ID
    assert connector_status(emulator, None) == 401
    assert [a.text for a in _echoed(emulator)] == ["hi", "echo: hi"]  # the built-in bot signs in to answer
    activity = {"type": "message", "channelId": "directline", "serviceUrl": emulator.service_url}
    token = emulator.signing.channel_token(activity)
    with botconnect.BotAuthenticator(EMULATOR_APP_ID, cloud=emulator.cloud) as authenticator:
        assert authenticator.authenticate_request(activity, f"Bearer {token}").source == "channel"


def _echoed(emulator: Emulator) -> list[Activity]:
    with emulator.directline_client() as client:
        cid = client.conversations.start_conversation().conversation_id
        client.conversations.post_activity(cid, Activity(type="message", text="hi", from_property=USER))
        return list(client.conversations.get_activities(cid).activities)


def test_a_socketless_emulator_is_trusted_through_its_transport() -> None:
    with Emulator(socket=False, app_id=APP_ID, app_password=APP_PASSWORD) as emulator:
        activity = {"type": "message", "channelId": "msteams", "serviceUrl": emulator.service_url}
        token = emulator.signing.channel_token(activity)
        cloud = emulator.cloud
        assert cloud.channel_openid_metadata_url.startswith("http://emulator.localhost/")
        with botconnect.BotAuthenticator(APP_ID, cloud=cloud, transport=emulator.transport()) as authenticator:
            assert authenticator.authenticate_request(activity, f"Bearer {token}").source == "channel"
        assert emulator.signing.hits["channel_keys"] == 1
