"""Fault injection: 429/503 with Retry-After per path prefix, error rates, dropped connections and sockets,
latency, shortened token lifetimes; deterministic with a seed; and the SDK's retries seen against it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from httpx_ws import WebSocketDisconnect, WebSocketUpgradeError, connect_ws

import botconnect
from botconnect.emulator import Emulator, FaultRule, Faults
from botconnect.models import Activity, ChannelAccount

USER = ChannelAccount(id="user-1")


@pytest.fixture(scope="module")
def shared() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


@pytest.fixture
def emulator(shared: Emulator) -> Iterator[Emulator]:
    shared.faults.clear()
    yield shared
    shared.faults.clear()


def dl(emulator: Emulator) -> httpx.Client:
    return httpx.Client(base_url=emulator.url, headers={"Authorization": f"Bearer {emulator.secret}"})


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("429", FaultRule("429")),
        ("503:/v3/conversations:0.25:7", FaultRule("503", "/v3/conversations", 0.25, retry_after=7)),
        ("drop:/v3/directline", FaultRule("drop", "/v3/directline")),
        ("latency:/:0.5:0.2", FaultRule("latency", "/", 0.5, delay=0.2)),
        ("DROP-RESPONSE::0.1", FaultRule("drop-response", "/", 0.1)),
    ],
)
def test_rules_parse(spec: str, expected: FaultRule) -> None:
    assert FaultRule.parse(spec) == expected


@pytest.mark.parametrize("spec", ["", "teapot", "429:/x:2", "429:nowhere", "429:/x:half", "999", "1:2:3:4:5"])
def test_bad_rules_are_refused(spec: str) -> None:
    with pytest.raises(ValueError, match="fault"):
        FaultRule.parse(spec)


def test_429_with_retry_after_on_its_prefix_only(emulator: Emulator) -> None:
    emulator.faults.add(429, "/v3/directline/tokens", retry_after=3)
    with dl(emulator) as http:
        limited = http.post("/v3/directline/tokens/generate")
        fine = http.post("/v3/directline/conversations")
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "3"
    assert limited.json()["error"]["code"] == "TooManyRequests"
    assert fine.status_code == 201
    assert emulator.faults.fired == {"429": 1}


def test_503_defaults_to_one_second_retry_after(emulator: Emulator) -> None:
    emulator.faults.add(503, "/v3/conversations")
    with httpx.Client(base_url=emulator.url) as http:
        answer = http.get("/v3/conversations")
    assert (answer.status_code, answer.headers["retry-after"]) == (503, "1")
    assert answer.json()["error"]["code"] == "ServiceUnavailable"


def test_the_sdk_waits_out_retry_after_and_succeeds(emulator: Emulator) -> None:
    emulator.faults.seed(1)
    emulator.faults.add(429, "/v3/conversations", rate=0.5, retry_after=0)  # some attempts refused
    with emulator.connector_client() as connector:
        pages = [list(connector.conversations.get_conversations()) for _ in range(6)]
    assert all(isinstance(page, list) for page in pages)  # every call got through in the end
    assert emulator.faults.fired["429"] >= 1


def test_error_rate_answers_500(emulator: Emulator) -> None:
    emulator.faults.error_rate = 1.0
    with httpx.Client(base_url=emulator.url) as http:
        answer = http.get("/v3/conversations")
        internal = http.get("/_emulator")  # the emulator's own routes are never faulted
    assert answer.status_code == 500
    assert answer.json()["error"]["code"] == "InternalServerError"
    assert internal.status_code == 200


def test_the_same_seed_gives_the_same_faults() -> None:
    def statuses(seed: int) -> list[int]:
        faults = Faults(seed=seed, rules=[FaultRule("503", "/v3/conversations", 0.5)])
        with Emulator(socket=False, faults=faults) as emulator, httpx.Client(transport=emulator.transport()) as http:
            return [http.get(emulator.url + "/v3/conversations").status_code for _ in range(24)]

    first, again, other = statuses(7), statuses(7), statuses(8)
    assert first == again
    assert set(first) == {200, 503}
    assert first != other


def test_drop_closes_the_connection_without_an_answer(emulator: Emulator) -> None:
    emulator.faults.add("drop", "/v3/conversations")
    with httpx.Client(base_url=emulator.url) as http, pytest.raises(httpx.RemoteProtocolError):
        http.get("/v3/conversations")


def test_drop_in_process_is_an_httpx_error_too() -> None:
    with (
        Emulator(socket=False, faults=Faults(rules=[FaultRule("drop")])) as emulator,
        httpx.Client(transport=emulator.transport()) as http,
        pytest.raises(httpx.RemoteProtocolError),
    ):
        http.get(emulator.url + "/v3/conversations")


def test_drop_response_processes_the_request_but_loses_the_answer(emulator: Emulator) -> None:
    with dl(emulator) as http:
        cid = http.post("/v3/directline/conversations").json()["conversationId"]
        emulator.faults.add("drop-response", "/v3/directline/conversations/")
        with pytest.raises(httpx.RemoteProtocolError):
            http.post(
                f"/v3/directline/conversations/{cid}/activities",
                json={"type": "message", "text": "did it arrive?", "from": {"id": "user-1"}},
            )
    assert [a["text"] for a in emulator.directline.activities(cid)] == ["did it arrive?", "echo: did it arrive?"]


def test_a_post_is_not_retried_when_the_answer_was_lost(emulator: Emulator) -> None:
    with emulator.directline_client() as client:
        cid = client.conversations.start_conversation().conversation_id
        emulator.faults.add("drop-response", f"/v3/directline/conversations/{cid}/activities")
        with pytest.raises(botconnect.BotConnectError):
            client.conversations.post_activity(cid, Activity(type="message", text="once", from_property=USER))
    assert [a["text"] for a in emulator.directline.activities(cid)] == ["once", "echo: once"]  # sent exactly once


def test_latency_delays_but_answers(emulator: Emulator) -> None:
    emulator.faults.add("latency", "/v3/conversations", delay=0.01)
    with httpx.Client(base_url=emulator.url) as http:
        assert http.get("/v3/conversations").status_code == 200
    assert emulator.faults.fired == {"latency": 1}


def test_a_refused_upgrade_sends_sessions_to_polling(emulator: Emulator) -> None:
    with emulator.directline_client() as client:
        started = client.conversations.start_conversation()
        cid = started.conversation_id
        emulator.faults.add(503, f"/v3/directline/conversations/{cid}/stream")
        url = started.stream_url.replace("ws://", "http://")
        with httpx.Client() as plain, pytest.raises(WebSocketUpgradeError), connect_ws(url, plain):
            pass
        with client.open_conversation(conversation_id=cid, user="user-1") as conversation:
            conversation.send("still there?")
            activities = conversation.activities(timeout=10)
            texts = [next(activities).text for _ in range(2)]
    assert texts == ["still there?", "echo: still there?"]
    assert emulator.faults.fired["503"] >= 1


def test_a_socket_drop_cuts_the_stream_on_its_next_frame(emulator: Emulator) -> None:
    with dl(emulator) as http:
        started = http.post("/v3/directline/conversations").json()
        emulator.faults.add("drop", "/v3/directline/conversations/" + started["conversationId"] + "/stream")
        with httpx.Client() as plain, connect_ws(started["streamUrl"].replace("ws://", "http://"), plain) as ws:
            http.post(
                f"/v3/directline/conversations/{started['conversationId']}/activities",
                json={"type": "message", "text": "x", "from": {"id": "u"}},
            )
            with pytest.raises(WebSocketDisconnect) as caught:
                ws.receive_text(timeout=10)
    assert caught.value.code == 1011


def test_short_token_lifetimes(emulator: Emulator) -> None:
    emulator.faults.token_lifetime = 5
    with dl(emulator) as http:
        generated = http.post("/v3/directline/tokens/generate").json()
    assert generated["expires_in"] <= 5
    with Emulator(app_id="app", app_password="pw", faults=Faults(token_lifetime=3)) as secured, httpx.Client() as http:
        token = http.post(
            secured.url + "/botframework.com/oauth2/v2.0/token",
            data={"grant_type": "client_credentials", "client_id": "app", "client_secret": "pw"},
        ).json()
    assert token["expires_in"] == 3
    assert token["token_type"] == "Bearer"


def test_faults_change_at_runtime_from_any_thread(emulator: Emulator) -> None:
    rule = emulator.faults.add(503, "/v3/conversations")
    with httpx.Client(base_url=emulator.url) as http:
        before = http.get("/v3/conversations").status_code
        emulator.faults.remove(rule)
        after = http.get("/v3/conversations").status_code
    assert (before, after) == (503, 200)
