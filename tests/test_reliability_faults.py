"""The fault matrix: every fault the emulator can inject (plus refused ports and truncated bodies from raw sockets),
against every kind of call, over real loopback sockets.

For each (fault, call) the outcome is one of exactly two: the call succeeds once, or it raises a typed
``BotConnectError``. Either way the server-side count is checked: no message is ever stored twice, and a message is
missing only when the error said so ("may have acted" errors -- a timeout or a lost answer on a POST -- leave at most
one copy; the tests wait for the server to finish and count it).

Retries are made instant and observable by replacing the pipeline's ``_sleep``: it records each requested wait and,
for faults meant to be transient, lifts the fault so the next attempt goes through. No test sleeps on a Retry-After.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

import botconnect
from botconnect.emulator import Emulator, FaultRule
from botconnect.errors import (
    BadGatewayError,
    BotConnectError,
    DeserializationError,
    RateLimitError,
    ResourceNotFoundError,
    ServerError,
    ServiceRequestError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
    ServiceUnavailableError,
    TokenExpiredError,
)
from botconnect.models import Activity, ChannelAccount, ConversationParameters

from .harness import Env, FakeService

BOT = ChannelAccount(id="bot", name="Bot")
USER = ChannelAccount(id="user-1", name="User")
POLICY = botconnect.RetryPolicy(max_attempts=3, backoff_factor=0.0, deadline=None)
TIMEOUT = 0.3  # per-call timeout of the slow-response cases
LATENCY = 1.0  # server-side delay of the slow-response cases: well past TIMEOUT


@pytest.fixture(scope="module")
def shared() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


@pytest.fixture
def emulator(shared: Emulator) -> Iterator[Emulator]:
    shared.faults.clear()
    yield shared
    shared.faults.clear()


def wait_until(condition: Callable[[], bool], what: str, limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.01)


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Waits:
    """Replaces a pipeline's sleep: records the waits asked for and lifts ``rule`` (if any) on the first one."""

    def __init__(self, env: Env, client: Any, emulator: Emulator | None = None) -> None:
        self.seconds: list[float] = []
        self.rule: FaultRule | None = None
        self._emulator = emulator
        pipeline = client.unwrapped._pipeline if env.is_async else client._pipeline
        if env.is_async:

            async def sleep(seconds: float) -> None:
                self._record(seconds)

            pipeline._sleep = sleep
        else:
            pipeline._sleep = self._record

    def _record(self, seconds: float) -> None:
        self.seconds.append(seconds)
        if self.rule is not None and self._emulator is not None and self.rule in self._emulator.faults.rules:
            self._emulator.faults.remove(self.rule)


def add_fault(emulator: Emulator, kind: str, prefix: str) -> FaultRule:
    if kind == "latency":
        return emulator.faults.add("latency", prefix, delay=LATENCY)
    if kind in ("429", "503"):
        return emulator.faults.add(kind, prefix, retry_after=0.5)
    return emulator.faults.add(kind, prefix)


def call_timeout(kind: str) -> float | None:
    return TIMEOUT if kind == "latency" else None


# -- Bot Connector: send (POST, not idempotent) -------------------------------------------------------------

# fault -> (error raised or None for success, retried?, copies stored in the end)
# (None copies: "may have acted" -- 0 or 1, never 2; here the emulator drops the request when the client hangs up)
POST_OUTCOMES: dict[str, tuple[type[BotConnectError] | None, bool, int | None]] = {
    "drop": (ServiceResponseError, False, 0),  # connection closed before processing: not retried (may have acted)
    "drop-response": (ServiceResponseError, False, 1),  # processed, answer lost: not re-sent
    "latency": (ServiceResponseTimeoutError, False, None),  # timed out: may or may not have acted
    "429": (None, True, 1),
    "503": (None, True, 1),  # 503 *with* Retry-After: the service did not act
    "500": (ServerError, False, 0),
    "502": (BadGatewayError, False, 0),
    "504": (ServerError, False, 0),
}

IDEMPOTENT_FAULTS = ["drop", "drop-response", "latency", "429", "503", "500", "502", "504"]


def connector(env: Env, emulator: Emulator) -> Any:
    return env.construct("ConnectorClient", emulator.service_url, retry_policy=POLICY)


def new_conversation(client: Any) -> str:
    return str(client.conversations.create_conversation(ConversationParameters(bot=BOT, members=[USER])).id)


def texts(emulator: Emulator, conversation_id: str) -> list[str | None]:
    return [a.get("text") for a in emulator.directline.activities(conversation_id)]


def settle(kind: str) -> None:
    """After a timed-out call, let the server finish (or abandon) the slow request before counting."""
    if kind == "latency":
        time.sleep(LATENCY + 0.3)


def assert_copies(found: int, stored: int | None) -> None:
    if stored is None:
        assert found <= 1
    else:
        assert found == stored


def check_outcome(call: Callable[[], Any], expected: type[BotConnectError] | None) -> Any:
    if expected is None:
        return call()
    with pytest.raises(expected) as caught:
        call()
    assert type(caught.value) is expected or expected is ServiceResponseError
    return caught.value


@pytest.mark.parametrize("kind", list(POST_OUTCOMES))
def test_send_to_conversation_under_each_fault(env: Env, emulator: Emulator, kind: str) -> None:
    error, retried, stored = POST_OUTCOMES[kind]
    marker = f"send-{kind}-{uuid.uuid4().hex[:8]}"
    with connector(env, emulator) as client:
        cid = new_conversation(client)
        waits = Waits(env, client, emulator)
        waits.rule = add_fault(emulator, kind, f"/v3/conversations/{cid}/activities")
        result = check_outcome(
            lambda: client.conversations.send_to_conversation(
                cid, Activity(type="message", text=marker, from_property=BOT), timeout=call_timeout(kind)
            ),
            error,
        )
    assert waits.seconds == ([0.5] if retried else [])  # Retry-After honoured as asked, and only when safe
    if error is None:
        assert result.id
    settle(kind)
    if stored:
        wait_until(lambda: marker in texts(emulator, cid), "the server to finish the request")
    assert_copies(texts(emulator, cid).count(marker), stored)
    if error is None:
        assert [a["id"] for a in emulator.directline.activities(cid) if a.get("text") == marker] == [result.id]


@pytest.mark.parametrize("kind", IDEMPOTENT_FAULTS)
def test_update_activity_is_retried_through_each_fault(env: Env, emulator: Emulator, kind: str) -> None:
    with connector(env, emulator) as client:
        cid = new_conversation(client)
        sent = client.conversations.send_to_conversation(cid, Activity(type="message", text="v1", from_property=BOT))
        before = len(emulator.directline.activities(cid))
        waits = Waits(env, client, emulator)
        waits.rule = add_fault(emulator, kind, f"/v3/conversations/{cid}/activities")
        result = client.conversations.update_activity(
            cid, sent.id, Activity(type="message", text="v2", from_property=BOT), timeout=call_timeout(kind)
        )
    assert result.id == sent.id
    assert len(waits.seconds) == 1  # exactly one retry, then it went through
    assert emulator.faults.fired[kind] == 1
    wait_until(lambda: emulator.faults.rules == [], "the fault to be lifted")
    activities = emulator.directline.activities(cid)
    assert len(activities) == before  # an update never adds an activity, however often it is repeated
    assert [a.get("text") for a in activities if a["id"] == sent.id] == ["v2"]


@pytest.mark.parametrize("kind", IDEMPOTENT_FAULTS)
def test_delete_activity_is_retried_through_each_fault(env: Env, emulator: Emulator, kind: str) -> None:
    """A DELETE is retried. When the lost attempt had already deleted it, the retry may meet 404 (typed): the
    activity is gone either way, and nothing else in the conversation changed."""
    with connector(env, emulator) as client:
        cid = new_conversation(client)
        keep = client.conversations.send_to_conversation(cid, Activity(type="message", text="k", from_property=BOT))
        gone = client.conversations.send_to_conversation(cid, Activity(type="message", text="d", from_property=BOT))
        waits = Waits(env, client, emulator)
        waits.rule = add_fault(emulator, kind, f"/v3/conversations/{cid}/activities")
        try:
            client.conversations.delete_activity(cid, gone.id, timeout=call_timeout(kind))
        except ResourceNotFoundError:
            assert kind in ("drop-response", "latency")  # only where the first attempt may have acted
    assert len(waits.seconds) == 1
    wait_until(lambda: gone.id not in [a["id"] for a in emulator.directline.activities(cid)], "the delete")
    assert keep.id in [a["id"] for a in emulator.directline.activities(cid)]


def test_refused_connection_is_retried_then_typed(env: Env) -> None:
    client = env.construct("ConnectorClient", f"http://127.0.0.1:{closed_port()}/", retry_policy=POLICY)
    with client:
        waits = Waits(env, client)
        with pytest.raises(ServiceRequestError) as caught:
            client.conversations.send_to_conversation("c", Activity(type="message", text="x"))
    assert not isinstance(caught.value, ServiceResponseError)
    assert waits.seconds == [0.0, 0.0]  # nothing reached a server: even a POST is retried, up to max_attempts
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


def test_429_past_the_retry_budget_is_a_rate_limit_error_and_nothing_is_stored(env: Env, emulator: Emulator) -> None:
    marker = f"limited-{uuid.uuid4().hex[:8]}"
    with connector(env, emulator) as client:
        cid = new_conversation(client)
        waits = Waits(env, client, emulator)  # no rule to lift: every attempt is refused
        emulator.faults.add(429, f"/v3/conversations/{cid}/activities", retry_after=0.25)
        with pytest.raises(RateLimitError) as caught:
            client.conversations.send_to_conversation(cid, Activity(type="message", text=marker, from_property=BOT))
    assert caught.value.retry_after == 0.25
    assert waits.seconds == [0.25, 0.25]
    assert emulator.faults.fired["429"] == POLICY.max_attempts
    assert marker not in texts(emulator, cid)


def test_503_without_retry_after_is_not_retried_for_a_post(env: Env) -> None:
    fake = FakeService()
    fake.reply(503, json_body={"error": {"code": "ServiceUnavailable", "message": "busy"}})
    client = env.construct(
        "ConnectorClient", "http://127.0.0.1:1/", retry_policy=POLICY, transport=httpx.MockTransport(fake)
    )
    with client, pytest.raises(ServiceUnavailableError):
        client.conversations.send_to_conversation("c", Activity(type="message", text="x"))
    assert len(fake.requests) == 1


# -- ACS Chat: send_message (not idempotent), create_chat_thread (idempotency key) -----------------------------


def chat(env: Env, emulator: Emulator) -> Any:
    token, _ = emulator.issue_acs_token()
    credential = env.pkg.CommunicationTokenCredential(token)
    return env.construct("ChatClient", emulator.url, credential, retry_policy=POLICY)


def message_contents(thread: Any) -> list[str]:
    return [m.content.message for m in thread.list_messages() if m.type == "text"]


@pytest.mark.parametrize("kind", list(POST_OUTCOMES))
def test_acs_send_message_under_each_fault(env: Env, emulator: Emulator, kind: str) -> None:
    error, retried, stored = POST_OUTCOMES[kind]
    marker = f"acs-{kind}-{uuid.uuid4().hex[:8]}"
    with chat(env, emulator) as client:
        tid = client.create_chat_thread("faults").chat_thread.id
        thread = client.get_chat_thread_client(tid)
        waits = Waits(env, thread, emulator)  # a bound thread client has its own pipeline on the shared pool
        waits.rule = add_fault(emulator, kind, f"/chat/threads/{tid}/messages")
        result = check_outcome(lambda: thread.send_message(marker, timeout=call_timeout(kind)), error)
        assert waits.seconds == ([0.5] if retried else [])
        settle(kind)  # let the server finish the timed-out request before the faults are lifted
        emulator.faults.clear()
        if stored:
            wait_until(lambda: marker in message_contents(thread), "the server to finish the request")
        assert_copies(message_contents(thread).count(marker), stored)
        if error is None:
            assert result.id


@pytest.mark.parametrize("kind", ["drop", "drop-response", "latency", "500", "502", "504", "429", "503"])
def test_acs_create_chat_thread_retries_make_one_thread(env: Env, emulator: Emulator, kind: str) -> None:
    topic = f"idempotent-{kind}-{uuid.uuid4().hex[:8]}"
    with chat(env, emulator) as client:
        waits = Waits(env, client, emulator)
        waits.rule = add_fault(emulator, kind, "/chat/threads")
        created = client.create_chat_thread(topic, timeout=call_timeout(kind))
        assert len(waits.seconds) == 1
        settle(kind)  # the timed-out first attempt may land too: it must not make a second thread
        emulator.faults.clear()
        threads = [t.id for t in client.list_chat_threads() if t.topic == topic]
    assert threads == [created.chat_thread.id]


# -- Direct Line: post_activity and the session ---------------------------------------------------------------

DL_POST_OUTCOMES = {**POST_OUTCOMES}


def user_texts(emulator: Emulator, cid: str) -> list[str]:
    return [a["text"] for a in emulator.directline.activities(cid) if a.get("from", {}).get("id") == USER.id]


@pytest.mark.parametrize("kind", list(DL_POST_OUTCOMES))
def test_directline_post_activity_under_each_fault(env: Env, emulator: Emulator, kind: str) -> None:
    error, retried, stored = DL_POST_OUTCOMES[kind]
    marker = f"dl-{kind}-{uuid.uuid4().hex[:8]}"
    client = env.construct("DirectLineClient", secret=emulator.secret, endpoint=emulator.url, retry_policy=POLICY)
    with client:
        cid = client.conversations.start_conversation().conversation_id
        waits = Waits(env, client, emulator)
        waits.rule = add_fault(emulator, kind, f"/v3/directline/conversations/{cid}/activities")
        check_outcome(
            lambda: client.conversations.post_activity(
                cid, Activity(type="message", text=marker, from_property=USER), timeout=call_timeout(kind)
            ),
            error,
        )
    assert waits.seconds == ([0.5] if retried else [])
    settle(kind)
    if stored:
        wait_until(lambda: marker in user_texts(emulator, cid), "the server to finish the request")
        wait_until(lambda: f"echo: {marker}" in texts(emulator, cid), "the bot's answer")
    copies = user_texts(emulator, cid).count(marker)
    assert_copies(copies, stored)
    assert texts(emulator, cid).count(f"echo: {marker}") == copies  # the bot saw it as often as it was stored


def test_session_send_after_a_lost_answer_is_not_resent_and_the_session_goes_on(emulator: Emulator) -> None:
    with emulator.directline_client(retry_policy=POLICY) as client, client.open_conversation(user="user-1") as conv:
        conv.send("first")
        rule = emulator.faults.add("drop-response", f"/v3/directline/conversations/{conv.conversation_id}/activities")
        with pytest.raises(ServiceResponseError):
            conv.send("lost answer")
        emulator.faults.remove(rule)
        conv.send("last")
        activities = conv.activities(timeout=10)
        got = [next(activities).text for _ in range(6)]
        cid = conv.conversation_id
    expected = ["first", "echo: first", "lost answer", "echo: lost answer", "last", "echo: last"]
    assert got == expected  # the session delivers the one stored copy, once
    assert texts(emulator, cid) == expected


def test_websocket_drops_mid_stream_lose_and_repeat_nothing(emulator: Emulator) -> None:
    emulator.faults.seed(2024)
    count = 15
    fast = botconnect.RetryPolicy(max_attempts=100, backoff_factor=0.01, max_backoff=0.05, deadline=None)
    with (
        emulator.directline_client() as client,
        client.open_conversation(user="user-1", reconnect_policy=fast) as conv,
    ):
        emulator.faults.add("drop", f"/v3/directline/conversations/{conv.conversation_id}/stream", rate=0.3)
        connects_before = emulator.directline.stream_connects
        emulator.directline.drop_streams()  # the rule applies to streams opened from now on
        received: list[Any] = []
        activities = conv.activities(timeout=20)
        for n in range(count):
            conv.send(f"m{n}")
            received += [next(activities), next(activities)]
        cid = conv.conversation_id
    assert emulator.faults.fired.get("drop", 0) >= 1  # the stream really was cut, more than once in practice
    assert emulator.directline.stream_connects > connects_before
    ids = [a.id for a in received]
    assert len(ids) == len(set(ids)) == 2 * count  # nothing repeated
    assert [a.text for a in received] == [t for n in range(count) for t in (f"m{n}", f"echo: m{n}")]  # in order
    assert ids == [a["id"] for a in emulator.directline.activities(cid)]  # nothing lost


def test_token_expiry_mid_conversation(emulator: Emulator) -> None:
    """An expired token is a typed TokenExpiredError and nothing is stored; a new token carries on."""
    with emulator.directline_client() as by_secret:
        started = by_secret.conversations.start_conversation()
    cid = started.conversation_id
    with botconnect.DirectLineClient(token=started.token, endpoint=emulator.url, retry_policy=POLICY) as client:
        client.conversations.post_activity(cid, Activity(type="message", text="before", from_property=USER))
        emulator.directline.expire_tokens()
        with pytest.raises(TokenExpiredError):
            client.conversations.post_activity(cid, Activity(type="message", text="after", from_property=USER))
    fresh = emulator.directline.issue_token(cid)
    with botconnect.DirectLineClient(token=fresh, endpoint=emulator.url, retry_policy=POLICY) as client:
        client.conversations.post_activity(cid, Activity(type="message", text="renewed", from_property=USER))
    assert user_texts(emulator, cid) == ["before", "renewed"]


def test_short_lived_tokens_are_refreshed_by_the_session_without_loss(emulator: Emulator) -> None:
    emulator.faults.token_lifetime = 2  # the session refreshes at half-life: about every second
    with emulator.directline_client() as by_secret:
        started = by_secret.conversations.start_conversation()
    refreshes = emulator.directline.refreshes
    with (
        botconnect.DirectLineClient(token=started.token, endpoint=emulator.url) as client,
        client.open_conversation(conversation_id=started.conversation_id, user="user-1") as conv,
    ):
        activities = conv.activities(timeout=10)
        got: list[str | None] = []
        for n in range(4):
            conv.send(f"t{n}")
            got += [next(activities).text, next(activities).text]
            time.sleep(0.8)  # let the token age past its lifetime over the run
    assert emulator.directline.refreshes > refreshes
    assert got == [t for n in range(4) for t in (f"t{n}", f"echo: t{n}")]
    assert len(emulator.directline.activities(started.conversation_id)) == 8


# -- truncated and invalid bodies ---------------------------------------------------------------------------


class TruncatingServer:
    """A raw loopback HTTP server: announces a body longer than what it sends, then closes the connection."""

    def __init__(self, body: bytes = b'{"id": "trunc') -> None:
        self.body = body
        self.requests = 0
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}/"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                self.requests += 1
                head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(self.body) + 50}"
                conn.sendall(head.encode() + b"\r\n\r\n" + self.body)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()


@pytest.fixture
def truncating() -> Iterator[TruncatingServer]:
    server = TruncatingServer()
    yield server
    server.close()


def test_truncated_body_on_a_post_is_typed_and_not_resent(env: Env, truncating: TruncatingServer) -> None:
    client = env.construct("ConnectorClient", truncating.url, retry_policy=POLICY)
    with client, pytest.raises(ServiceResponseError) as caught:
        client.conversations.send_to_conversation("c", Activity(type="message", text="x"))
    # the connection broke mid-body: seen as a protocol error, or as a reset when the close races the read
    assert isinstance(caught.value.__cause__, httpx.RemoteProtocolError | httpx.ReadError)
    assert truncating.requests == 1  # the server may have acted: never re-sent


def test_truncated_body_on_a_get_is_retried_then_typed(env: Env, truncating: TruncatingServer) -> None:
    client = env.construct("ConnectorClient", truncating.url, retry_policy=POLICY)
    with client:
        waits = Waits(env, client)
        with pytest.raises(ServiceResponseError):
            client.conversations.get_conversation_members("c")
    assert truncating.requests == POLICY.max_attempts
    assert len(waits.seconds) == POLICY.max_attempts - 1


BAD_BODIES = [b'{"id": "abc"', b"not json at all", b"\xff\xfe\x00garbage", b"[1, 2, 3]", b'"just a string"', b"{}}"]


@pytest.mark.parametrize("body", BAD_BODIES)
def test_invalid_json_success_bodies_are_deserialization_errors_and_not_resent(env: Env, body: bytes) -> None:
    fake = FakeService()
    for _ in range(3):
        fake.reply(200, content=body, headers={"content-type": "application/json"})
    connector_client = env.construct(
        "ConnectorClient", "http://127.0.0.1:1/", retry_policy=POLICY, transport=httpx.MockTransport(fake)
    )
    dl = env.construct(
        "DirectLineClient",
        secret="s",
        endpoint="http://127.0.0.1:1",
        retry_policy=POLICY,
        transport=httpx.MockTransport(fake),
    )
    with connector_client, dl:
        with pytest.raises(DeserializationError):
            connector_client.conversations.send_to_conversation("c", Activity(type="message", text="x"))
        with pytest.raises(DeserializationError):
            connector_client.conversations.get_conversation_members("c")
        with pytest.raises(DeserializationError):
            dl.conversations.post_activity("c", Activity(type="message", text="x", from_property=USER))
    assert len(fake.requests) == 3  # one each: a body that does not parse is not a reason to send again
