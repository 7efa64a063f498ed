"""``Emulator(tls=True)`` / ``--tls`` with bots: the built-in echo bot is delivered to and answers over https,
its calls to the emulator trusting the throwaway CA and nothing else (and nothing in the process trusting it
because of them); a bot of the user's own on http answers through the https serviceUrl; the emulator's clients
and its Event Grid webhook deliveries work the same under TLS."""

from __future__ import annotations

import os
import re
import signal
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import botconnect
import botconnect_aio
from botconnect.emulator import Emulator
from botconnect.models import Activity, ChannelAccount

from .harness import Env
from .test_emulator_cli import Running
from .test_emulator_events import Webhook, settled
from .threaded_server import emulator_for_bot

USER = ChannelAccount(id="user-1", name="User One")
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(tls=True) as running:
        yield running


def _transport(env: Env, context: ssl.SSLContext) -> Any:
    if env.is_async:
        return botconnect_aio.AsyncHTTP11Transport(ssl_context=context)
    return botconnect.HTTP11Transport(ssl_context=context)


def _turn(client: Any, text: str) -> tuple[str, Any, list[Any]]:
    """Start a conversation, say ``text``, read every activity back."""
    cid = client.conversations.start_conversation().conversation_id
    sent = client.conversations.post_activity(cid, Activity(type="message", text=text, from_property=USER))
    return cid, sent, client.conversations.get_activities(cid).activities


def test_the_echo_bot_answers_a_direct_line_client_over_https(env: Env, emulator: Emulator) -> None:
    secret, url = emulator.secret, emulator.url
    transport = _transport(env, emulator.ssl_context())
    with env.construct("DirectLineClient", secret=secret, endpoint=url, transport=transport) as client:
        cid, sent, activities = _turn(client, "bye")
    assert [(a.type, a.from_property.id, a.text) for a in activities] == [
        ("message", "user-1", "bye"),
        ("message", "echo-bot", "echo: bye"),
        ("endOfConversation", "echo-bot", None),
    ]
    assert activities[1].reply_to_id == sent.id
    # delivered to the built-in bot over the https socket, with the https serviceUrl it answered through
    assert emulator.app.delivery.url == url + "/_bot/api/messages"
    assert url.startswith("https://")
    assert emulator.app.echo_bot is not None
    heard = [a for a in emulator.app.echo_bot.received if a["type"] == "message" and a["conversation"]["id"] == cid]
    assert [(a["text"], a["serviceUrl"]) for a in heard] == [("bye", emulator.service_url)]


def test_the_echo_bot_answers_through_an_httpx_client_trusting_the_ca(env: Env, emulator: Emulator) -> None:
    context = emulator.ssl_context()
    http: Any = httpx.AsyncClient(verify=context) if env.is_async else httpx.Client(verify=context)
    try:
        client = env.construct("DirectLineClient", secret=emulator.secret, endpoint=emulator.url, http_client=http)
        with client:
            _, _, activities = _turn(client, "through httpx")
    finally:
        env.run(http.aclose) if env.is_async else http.close()
    assert [a.text for a in activities] == ["through httpx", "echo: through httpx"]


def test_the_emulators_wired_clients_reach_it_over_https(env: Env, emulator: Emulator) -> None:
    wired = emulator.aio_directline_client() if env.is_async else emulator.directline_client()
    with env.make(lambda: wired) as client:
        _, _, activities = _turn(client, "wired")
    assert [a.text for a in activities] == ["wired", "echo: wired"]


def test_the_echo_bot_gets_its_token_over_https_when_the_emulator_wants_app_credentials() -> None:
    with Emulator(tls=True, app_id="tls-app", app_password="tls-password") as emulator:
        with emulator.directline_client() as client:
            _, _, activities = _turn(client, "signed in")
        # the Connector refuses anonymous calls (below), so the echo got through with a token the bot fetched
        # from the emulator's token endpoint over https
        assert [a.text for a in activities] == ["signed in", "echo: signed in"]
        with emulator.connector_client() as anonymous, pytest.raises(botconnect.HttpResponseError) as refused:
            anonymous.conversations.get_conversation_members(activities[0].conversation.id)
    assert refused.value.status_code == 401


def test_the_ca_is_trusted_by_the_emulators_own_clients_only(emulator: Emulator) -> None:
    assert emulator.ca_file is not None
    with emulator.directline_client() as client:
        _, _, activities = _turn(client, "first a turn")
    assert [a.text for a in activities] == ["first a turn", "echo: first a turn"]
    # nothing in the process was told to trust the CA: not the environment, not a client's defaults
    assert emulator.ca_file not in {os.environ.get("SSL_CERT_FILE"), os.environ.get("REQUESTS_CA_BUNDLE")}
    with httpx.Client() as http, pytest.raises(httpx.ConnectError):
        http.get(emulator.url + "/_emulator")
    with (
        botconnect.DirectLineClient(secret=emulator.secret, endpoint=emulator.url) as untrusting,
        pytest.raises(botconnect.ServiceRequestError),
    ):
        untrusting.conversations.start_conversation()


def test_the_emulators_own_transport_trusts_its_ca_and_no_other(emulator: Emulator) -> None:
    with Emulator(tls=True) as other:  # another throwaway CA, and a certificate it signed
        own_url, other_url = emulator.url + "/_emulator", other.url + "/_emulator"

        async def fetch(url: str) -> int | str:
            async with httpx.AsyncClient(transport=emulator.app._internal_transport()) as http:
                try:
                    return (await http.get(url)).status_code
                except httpx.ConnectError as exc:
                    return type(exc).__name__

        assert emulator.run(lambda: fetch(own_url)) == 200
        assert emulator.run(lambda: fetch(other_url)) == "ConnectError"


def test_a_restarted_emulator_with_a_new_ca_still_echoes() -> None:
    emulator = Emulator(tls=True)
    answers, authorities = [], []
    try:
        for round_ in ("one", "two"):
            emulator.start()
            authorities.append(emulator.ca_pem)
            with emulator.directline_client() as client:
                answers.append([a.text for a in _turn(client, round_)[2]])
            emulator.stop()
    finally:
        emulator.stop()
    assert answers == [["one", "echo: one"], ["two", "echo: two"]]
    assert authorities[0] != authorities[1]


# -- a bot of the user's own, served over http, answering through the https serviceUrl ---------------------------


class HttpBot:
    """Answers ``got: <text>`` through a ConnectorClient trusting the emulator's CA (set once it serves)."""

    def __init__(self) -> None:
        self.context: ssl.SSLContext | None = None
        self.received: list[dict[str, Any]] = []
        self.app = Starlette(routes=[Route("/api/messages", self.messages, methods=["POST"])])

    async def messages(self, request: Request) -> Response:
        activity = await request.json()
        self.received.append(activity)
        if activity["type"] == "message":
            incoming = Activity.from_dict(activity)
            transport = botconnect_aio.AsyncHTTP11Transport(ssl_context=self.context)
            async with botconnect_aio.ConnectorClient(incoming.service_url, transport=transport) as connector:
                reply = incoming.create_reply(f"got: {incoming.text}")
                await connector.conversations.reply_to_activity(incoming.conversation.id, incoming.id, reply)
        return Response(status_code=200)


@pytest.fixture(scope="module")
def http_bot() -> Iterator[tuple[HttpBot, Emulator]]:
    bot = HttpBot()
    with emulator_for_bot(bot.app, tls=True) as emulator:
        bot.context = emulator.ssl_context()
        yield bot, emulator


def test_a_users_http_bot_answers_through_the_https_service_url(env: Env, http_bot: tuple[HttpBot, Emulator]) -> None:
    bot, emulator = http_bot
    transport = _transport(env, emulator.ssl_context())
    with env.construct("DirectLineClient", secret=emulator.secret, endpoint=emulator.url, transport=transport) as dl:
        cid, sent, activities = _turn(dl, "ping")
    assert [(a.from_property.id, a.text) for a in activities] == [("user-1", "ping"), ("echo-bot", "got: ping")]
    assert activities[1].reply_to_id == sent.id
    message = [a for a in bot.received if a["type"] == "message" and a["conversation"]["id"] == cid]
    assert [(m["text"], m["serviceUrl"]) for m in message] == [("ping", emulator.service_url)]
    assert emulator.service_url.startswith("https://")


# -- the Event Grid webhook under TLS ------------------------------------------------------------------------------


def test_the_event_webhook_gets_the_chat_events_under_tls() -> None:
    webhook = Webhook()
    try:
        with Emulator(tls=True, event_webhook=webhook.url) as emulator:
            with emulator.chat_client() as client:
                thread = client.create_chat_thread("over https").chat_thread
                sent = client.get_chat_thread_client(thread.id).send_message("hello webhook")
            posts = webhook.wait_for(3)
            settled(lambda: len(emulator.events.delivered) == 2)
            assert emulator.events.failures == []
    finally:
        webhook.close()
    kinds = [headers["aeg-event-type"] for headers, _ in posts]
    assert kinds == ["SubscriptionValidation", "Notification", "Notification"]
    events = [event for _, body in posts[1:] for event in body]
    assert [e["eventType"] for e in events] == [
        "Microsoft.Communication.ChatThreadCreated",
        "Microsoft.Communication.ChatMessageReceivedInThread",
    ]
    assert (events[1]["data"]["messageId"], events[1]["data"]["messageBody"]) == (sent.id, "hello webhook")


# -- python -m botconnect.emulator --tls ---------------------------------------------------------------------------


def test_the_cli_with_tls_echoes_over_https_without_ssl_cert_file() -> None:
    environment = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")}
    environment["PYTHONPATH"] = os.pathsep.join([str(ROOT), environment.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    command = [sys.executable, "-m", "botconnect.emulator", "--port", "0", "--tls", "--secret", "tls-secret"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
    try:
        banner = "\n".join(Running(process).until("Press Ctrl+C"))
        url = re.search(r"botconnect emulator on (https://127\.0\.0\.1:\d+)", banner)
        ca_file = re.search(r"SSL_CERT_FILE=(\S+)", banner)
        assert url is not None, banner
        assert ca_file is not None, banner
        transport = botconnect.HTTP11Transport(ssl_context=ssl.create_default_context(cafile=ca_file.group(1)))
        with botconnect.DirectLineClient(secret="tls-secret", endpoint=url.group(1), transport=transport) as client:
            texts = [a.text for a in _turn(client, "cli")[2]]
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
    assert texts == ["cli", "echo: cli"]
