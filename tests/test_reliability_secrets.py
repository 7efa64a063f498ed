"""Secrets never show: one end-to-end scenario per credential against the emulator, failures included (401/403/500
answers, expired tokens, timeouts), with every logger captured at DEBUG (botconnect, httpx, httpcore, httpx_ws and
the root). No secret or token string may appear in a log record's message or args, in ``str`` / ``repr`` of any
raised exception or anything on its ``__cause__`` / ``__context__`` chain, in the request a botconnect error carries
(``exc.response.request`` headers, URL and content), nor in the ``repr`` of clients, credentials and conversations.

Where the bearer may go (another origin on redirect, a foreign nextLink, an untrusted serviceUrl, plain http off
loopback) is covered by test_security.py, test_chat_operations.py and test_credentials.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest

import botconnect
from botconnect.emulator import Emulator
from botconnect.errors import BotConnectError, HttpResponseError
from botconnect.models import Activity, ChannelAccount, ConversationParameters

APP_PASSWORD = "app-pw-Zq8!sekrit-0001"
DL_SECRET = "dl-secret-Kx93-sekrit-0002"
LOGGERS = ("botconnect", "httpx", "httpcore", "httpx_ws", "")
NO_RETRIES = botconnect.NO_RETRIES
USER = ChannelAccount(id="user-1")


@pytest.fixture
def capture(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name or None)
    return caplog


class Evidence:
    """Everything that could leak: raised errors (with their chains) and reprs."""

    def __init__(self) -> None:
        self.errors: list[BaseException] = []
        self.shown: list[str] = []

    def expect_error(self, call: Callable[[], Any]) -> BaseException:
        with pytest.raises(BotConnectError) as caught:
            call()
        self.errors.append(caught.value)
        return caught.value

    def show(self, *objects: Any) -> None:
        self.shown += [repr(o) for o in objects] + [str(o) for o in objects]

    def texts(self) -> list[str]:
        out = list(self.shown)
        for error in self.errors:
            seen: set[int] = set()
            current: BaseException | None = error
            while current is not None and id(current) not in seen:
                seen.add(id(current))
                out += [str(current), repr(current), repr(current.args)]
                response = getattr(current, "response", None)
                if isinstance(current, BotConnectError) and response is not None:
                    request = response.request
                    try:
                        content = request.content
                    except httpx.RequestNotRead:
                        content = request.read()
                    out += [str(request.url), repr(dict(request.headers)), content.decode("latin-1")]
                current = current.__cause__ or current.__context__
        return out


def assert_hidden(secrets: set[str], capture: pytest.LogCaptureFixture, evidence: Evidence) -> None:
    secrets = {s for s in secrets if s}
    assert secrets
    records = capture.records
    assert any(r.name.startswith("httpx") for r in records)  # the loggers really were captured at DEBUG
    assert any(r.name == "botconnect" and r.levelno == logging.DEBUG for r in records)
    logged = [r.getMessage() for r in records] + [repr(r.args) for r in records]
    logged += [r.exc_text or "" for r in records]
    for secret in secrets:
        for text in logged:
            assert secret not in text, f"leaked in a log record: {text[:200]}"
        for text in evidence.texts():
            assert secret not in text, f"leaked in an error or repr: {text[:200]}"


def test_app_password_and_bot_tokens(capture: pytest.LogCaptureFixture) -> None:
    evidence = Evidence()
    with Emulator(app_id="app-1", app_password=APP_PASSWORD) as emulator:
        credential = botconnect.MicrosoftAppCredentials("app-1", APP_PASSWORD, oauth_endpoint=emulator.url)
        token = credential.get_token().token
        params = ConversationParameters(members=[USER])
        with botconnect.ConnectorClient(emulator.service_url, credential, retry_policy=NO_RETRIES) as client:
            cid = client.conversations.create_conversation(params).id
            client.conversations.send_to_conversation(cid, Activity(type="message", text="hi"))
            for status in (403, 500):
                rule = emulator.faults.add(status, "/v3/conversations")
                error = evidence.expect_error(
                    lambda: client.conversations.send_to_conversation(cid, Activity(type="message", text="x"))
                )
                assert isinstance(error, HttpResponseError)
                assert error.response.request.headers.get("authorization") != f"Bearer {token}"
                emulator.faults.remove(rule)
            emulator.faults.add("latency", "/v3/conversations", delay=0.5)
            evidence.expect_error(
                lambda: client.conversations.send_to_conversation(
                    cid, Activity(type="message", text="slow"), timeout=0.1
                )
            )
            emulator.faults.clear()
            evidence.show(client, credential)
        wrong = botconnect.MicrosoftAppCredentials("app-1", APP_PASSWORD + "x", oauth_endpoint=emulator.url)
        evidence.expect_error(wrong.get_token)  # 401 from the token endpoint: the password was in the request body
        emulator.faults.add(500, "/botframework.com")
        fresh = botconnect.MicrosoftAppCredentials("app-1", APP_PASSWORD, oauth_endpoint=emulator.url)
        evidence.expect_error(fresh.get_token)
        with botconnect.ConnectorClient(emulator.service_url, fresh, retry_policy=NO_RETRIES) as failing:
            evidence.expect_error(lambda: failing.conversations.get_conversation_members(cid))
        emulator.faults.clear()
        evidence.show(wrong, fresh)
        for item in (credential, wrong, fresh):
            item.close()
    assert_hidden({APP_PASSWORD, APP_PASSWORD + "x", token}, capture, evidence)


def test_directline_secret_tokens_and_stream_urls(capture: pytest.LogCaptureFixture) -> None:
    evidence = Evidence()
    secrets = {DL_SECRET}
    with Emulator(secret=DL_SECRET) as emulator:
        with botconnect.DirectLineClient(secret=DL_SECRET, endpoint=emulator.url, retry_policy=NO_RETRIES) as client:
            started = client.conversations.start_conversation()
            secrets |= {started.token, started.stream_url.split("t=")[-1]}
            generated = client.tokens.generate_token()
            secrets.add(generated.token)
            emulator.faults.add(500, "/v3/directline/conversations")
            evidence.expect_error(client.conversations.start_conversation)
            emulator.faults.clear()
            evidence.show(client, started, generated)
        cid = started.conversation_id
        with botconnect.DirectLineClient(
            token=started.token, endpoint=emulator.url, retry_policy=NO_RETRIES
        ) as by_token:
            refreshed = by_token.tokens.refresh_token()
            secrets.add(refreshed.token)
            with by_token.open_conversation(conversation_id=cid, user="user-1") as conv:
                conv.send("hello")
                activities = conv.activities(timeout=10)
                assert [next(activities).text for _ in range(2)] == ["hello", "echo: hello"]
                emulator.directline.drop_streams()  # a reconnect: a new stream URL with a new token in it
                conv.send("again")
                assert [next(activities).text for _ in range(2)] == ["again", "echo: again"]
                emulator.faults.add("latency", f"/v3/directline/conversations/{cid}/activities", delay=0.5)
                evidence.expect_error(lambda: conv.send("slow", timeout=0.1))
                emulator.faults.clear()
                evidence.show(conv)
            secrets |= set(emulator.directline._stream_tokens)
            evidence.show(by_token)
            emulator.directline.expire_tokens()
            evidence.expect_error(
                lambda: by_token.conversations.post_activity(
                    cid, Activity(type="message", text="x", from_property=USER)
                )
            )
    with botconnect.DirectLineClient(secret=DL_SECRET, endpoint="http://127.0.0.1:1", retry_policy=NO_RETRIES) as dead:
        evidence.expect_error(dead.conversations.start_conversation)  # connection refused
    assert len(secrets) >= 5
    assert_hidden(secrets, capture, evidence)


def test_acs_tokens(capture: pytest.LogCaptureFixture) -> None:
    evidence = Evidence()
    with Emulator() as emulator:
        token, _ = emulator.issue_acs_token()
        other, _ = emulator.issue_acs_token()
        refreshed: list[str] = []

        def refresher() -> str:
            refreshed.append(emulator.issue_acs_token(lifetime=3600)[0])
            return refreshed[-1]

        short, _ = emulator.issue_acs_token(lifetime=60)  # within 10 minutes of expiry: refreshed on use
        credential = botconnect.CommunicationTokenCredential(short, token_refresher=refresher)
        with botconnect.ChatClient(emulator.url, credential, retry_policy=NO_RETRIES) as chat:
            thread_id = chat.create_chat_thread("secrets").chat_thread.id
            thread = chat.get_chat_thread_client(thread_id)
            thread.send_message("hi")
            for status in (401, 403, 500):
                rule = emulator.faults.add(status, "/chat/threads")
                evidence.expect_error(lambda: thread.send_message("x"))
                emulator.faults.remove(rule)
            emulator.faults.add("latency", "/chat/threads", delay=0.5)
            evidence.expect_error(lambda: thread.send_message("slow", timeout=0.1))
            emulator.faults.clear()
            evidence.show(chat, thread, credential)
        stranger = botconnect.CommunicationTokenCredential(other)
        with botconnect.ChatClient(emulator.url, stranger, retry_policy=NO_RETRIES) as outsider:
            evidence.expect_error(lambda: outsider.get_chat_thread_client(thread_id).get_properties())  # 403
            evidence.show(outsider, stranger)
    assert refreshed
    assert_hidden({token, other, short, *refreshed}, capture, evidence)
