"""Retries: the pure ``RetryPolicy`` decisions, then the pipeline driving them (three ways, no real sleeping)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import attrs
import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from botconnect import NO_RETRIES, RetryPolicy
from botconnect._core.retry import parse_retry_after
from botconnect.errors import (
    BadGatewayError,
    BotConnectError,
    HttpResponseError,
    RateLimitError,
    ServerError,
    ServiceRequestError,
    ServiceRequestTimeoutError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
    ServiceUnavailableError,
)

from .harness import Env, FakeService

URL = "https://slack.botframework.com"
ACTIVITY = {"type": "message", "text": "hello, retry"}
NOW = datetime(2024, 1, 1, 12, 0, 0, tzinfo=UTC)


def headers(**values: str) -> httpx.Headers:
    return httpx.Headers({k.replace("_", "-"): v for k, v in values.items()})


# -- parse_retry_after --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("5", 5.0), ("0", 0.0), (" 3 ", 3.0), ("1.5", 1.5), ("120", 120.0)],
)
def test_retry_after_seconds(value: str, expected: float) -> None:
    assert parse_retry_after(headers(retry_after=value)) == expected


@pytest.mark.parametrize("value", ["", "-1", "abc", "nan", "inf", "-inf", "1e999", "5 seconds", "Tomorrow"])
def test_retry_after_invalid_values_are_ignored(value: str) -> None:
    assert parse_retry_after(headers(retry_after=value)) is None


def test_retry_after_absent() -> None:
    assert parse_retry_after(httpx.Headers()) is None


def test_retry_after_http_date() -> None:
    when = format_datetime(NOW + timedelta(seconds=30), usegmt=True)
    assert when == "Mon, 01 Jan 2024 12:00:30 GMT"
    assert parse_retry_after(headers(retry_after=when), now=lambda: NOW) == 30.0


def test_retry_after_http_date_in_the_past_is_zero() -> None:
    when = format_datetime(NOW - timedelta(minutes=5), usegmt=True)
    assert parse_retry_after(headers(retry_after=when), now=lambda: NOW) == 0.0


def test_retry_after_ms_headers() -> None:
    assert parse_retry_after(headers(retry_after_ms="1500")) == 1.5
    assert parse_retry_after(headers(x_ms_retry_after_ms="250")) == 0.25
    # the millisecond header is more precise and wins
    assert parse_retry_after(headers(retry_after_ms="1500", retry_after="9")) == 1.5


@pytest.mark.parametrize("bad_ms", ["abc", "-5", "nan", "inf"])
def test_invalid_retry_after_ms_falls_back_to_retry_after(bad_ms: str) -> None:
    assert parse_retry_after(headers(retry_after_ms=bad_ms, retry_after="4")) == 4.0
    assert parse_retry_after(headers(retry_after_ms=bad_ms)) is None


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40))
def test_retry_after_never_raises(value: str) -> None:
    result = parse_retry_after(headers(retry_after=value, retry_after_ms=value), now=lambda: NOW)
    assert result is None or (math.isfinite(result) and result >= 0)


# -- RetryPolicy decisions -----------------------------------------------------------------------------------


def test_policy_validation() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(backoff_factor=-1)
    with pytest.raises(ValueError):
        RetryPolicy(max_backoff=-0.1)
    assert NO_RETRIES.max_attempts == 1


def decide(policy: RetryPolicy, **kwargs: Any) -> float | None:
    args: dict[str, Any] = {
        "attempt": 1,
        "status_code": 503,
        "retry_after": None,
        "idempotent": True,
        "elapsed": 0.0,
        "rand": lambda: 1.0,
    }
    args.update(kwargs)
    return policy.decide_status(**args)


@pytest.mark.parametrize("status", [408, 500, 502, 503, 504])
def test_idempotent_calls_retry_on_server_errors(status: int) -> None:
    assert decide(RetryPolicy(), status_code=status, idempotent=True) == 0.5


@pytest.mark.parametrize("status", [408, 500, 502, 503, 504])
def test_non_idempotent_calls_do_not_retry_when_the_server_may_have_acted(status: int) -> None:
    assert decide(RetryPolicy(), status_code=status, idempotent=False) is None


def test_non_idempotent_calls_retry_when_the_server_did_not_act() -> None:
    policy = RetryPolicy()
    assert decide(policy, status_code=429, idempotent=False) == 0.5
    assert decide(policy, status_code=429, idempotent=False, retry_after=3.0) == 3.0
    assert decide(policy, status_code=503, idempotent=False, retry_after=2.0) == 2.0
    assert decide(policy, status_code=503, idempotent=False, retry_after=None) is None


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 412, 418, 501])
def test_other_statuses_are_never_retried(status: int) -> None:
    assert decide(RetryPolicy(), status_code=status, idempotent=True, retry_after=1.0) is None


def test_retry_after_is_the_wait() -> None:
    assert decide(RetryPolicy(), status_code=429, retry_after=7.0) == 7.0
    assert decide(RetryPolicy(), status_code=429, retry_after=0.0) == 0.0


def test_retry_after_beyond_max_retry_after_gives_up() -> None:
    policy = RetryPolicy(max_retry_after=60.0, deadline=None)
    assert decide(policy, status_code=429, retry_after=60.0) == 60.0
    assert decide(policy, status_code=429, retry_after=60.5) is None
    assert decide(policy, status_code=503, retry_after=3600.0) is None


def test_deadline_bounds_the_total_time() -> None:
    policy = RetryPolicy(deadline=10.0, max_attempts=100)
    assert decide(policy, status_code=429, retry_after=4.0, elapsed=5.9) == 4.0
    assert decide(policy, status_code=429, retry_after=4.0, elapsed=6.0) is None
    assert policy.decide_transport_error(attempt=1, connected=False, idempotent=True, elapsed=10.0) is None
    unbounded = RetryPolicy(deadline=None, max_attempts=100)
    assert decide(unbounded, status_code=429, retry_after=50.0, elapsed=1e6) == 50.0


@pytest.mark.parametrize("max_attempts", [1, 2, 4, 7])
def test_attempts_are_bounded(max_attempts: int) -> None:
    policy = RetryPolicy(max_attempts=max_attempts, deadline=None)
    for attempt in range(1, max_attempts):
        assert decide(policy, attempt=attempt, status_code=429, retry_after=0.0) == 0.0
        assert policy.decide_transport_error(attempt=attempt, connected=False, idempotent=False, elapsed=0) is not None
    for attempt in (max_attempts, max_attempts + 1):
        assert decide(policy, attempt=attempt, status_code=429, retry_after=0.0) is None
        assert policy.decide_transport_error(attempt=attempt, connected=False, idempotent=False, elapsed=0) is None


def test_transport_errors() -> None:
    policy = RetryPolicy()
    rand: Callable[[], float] = lambda: 1.0  # noqa: E731
    # never connected: nothing reached the server, so even a POST is retried
    assert policy.decide_transport_error(attempt=1, connected=False, idempotent=False, elapsed=0, rand=rand) == 0.5
    # connected (e.g. a read timeout): only an idempotent call may be repeated
    assert policy.decide_transport_error(attempt=1, connected=True, idempotent=False, elapsed=0, rand=rand) is None
    assert policy.decide_transport_error(attempt=1, connected=True, idempotent=True, elapsed=0, rand=rand) == 0.5


def test_backoff_is_exponential_and_capped() -> None:
    policy = RetryPolicy(backoff_factor=0.5, max_backoff=20.0)
    ceilings = [policy.backoff(attempt, rand=lambda: 1.0) for attempt in range(1, 10)]
    assert ceilings == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 20.0, 20.0, 20.0]
    assert policy.backoff(3, rand=lambda: 0.0) == 0.0
    assert policy.backoff(3, rand=lambda: 0.25) == 0.5
    assert RetryPolicy(backoff_factor=0).backoff(5) == 0.0


@given(
    attempt=st.integers(min_value=1, max_value=60),
    r=st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
    factor=st.floats(min_value=0.0, max_value=10.0),
    cap=st.floats(min_value=0.0, max_value=100.0),
)
def test_jitter_stays_within_bounds(attempt: int, r: float, factor: float, cap: float) -> None:
    policy = RetryPolicy(backoff_factor=factor, max_backoff=cap)
    wait = policy.backoff(attempt, rand=lambda: r)
    ceiling = min(cap, factor * 2.0 ** (attempt - 1))
    assert 0.0 <= wait <= ceiling <= cap
    assert wait == pytest.approx(ceiling * r)


# -- the pipeline ----------------------------------------------------------------------------------------------


class Clock:
    """A fake monotonic clock that the fake sleep advances."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []
        self.sent: list[Sent] = []

    def __call__(self) -> float:
        return self.now

    def record(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


def raw(obj: Any) -> Any:
    return getattr(obj, "unwrapped", obj)


@attrs.frozen
class Sent:
    """What went over the wire for one attempt (the pipeline may reuse one request object across attempts)."""

    method: str
    url: str
    content: bytes
    headers: dict[str, str]


class Recorder:
    """Snapshots each request as it is sent, then lets the fake service answer it."""

    def __init__(self, fake: FakeService) -> None:
        self.fake = fake
        self.sent: list[Sent] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.sent.append(Sent(request.method, str(request.url), request.content, dict(request.headers)))
        return self.fake(request)


def make_client(env: Env, fake: FakeService, *args: Any, **kwargs: Any) -> tuple[Any, Clock]:
    recorder = Recorder(fake)
    client = env.construct("ConnectorClient", URL, *args, transport=httpx.MockTransport(recorder), **kwargs)
    clock = Clock()
    clock.sent = recorder.sent
    pipeline = raw(client)._pipeline
    if env.is_async:

        async def fake_sleep(seconds: float) -> None:
            clock.record(seconds)

        pipeline._sleep = fake_sleep
    else:
        pipeline._sleep = clock.record
    pipeline.config = attrs.evolve(pipeline.config, clock=clock)
    return client, clock


class CountingCredential:
    """An azure-identity style credential handing out a new token on every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        self.calls.append(scopes)
        return type("Token", (), {"token": f"tok-{len(self.calls)}", "expires_on": 2**31})()


def send(client: Any, **kwargs: Any) -> Any:
    return client.conversations.send_to_conversation("conv", ACTIVITY, **kwargs)


OK = {"id": "activity-1"}


def assert_same_body_every_time(clock: Clock, attempts: int) -> None:
    assert len(clock.sent) == attempts
    bodies = [sent.content for sent in clock.sent]
    assert len(set(bodies)) == 1
    assert json.loads(bodies[0]) == ACTIVITY
    assert len({sent.url for sent in clock.sent}) == 1
    assert {sent.method for sent in clock.sent} == {"POST"}
    assert {sent.headers["content-type"] for sent in clock.sent} == {"application/json; charset=utf-8"}


def test_post_retried_on_429_with_retry_after(env: Env, fake: FakeService) -> None:
    fake.reply(429, headers={"Retry-After": "3"})
    fake.reply(429, headers={"Retry-After": "1"})
    fake.reply(200, json_body=OK)
    client, clock = make_client(env, fake)
    with client:
        assert send(client).id == "activity-1"
    assert len(fake.requests) == 3
    assert clock.waits == [3.0, 1.0]
    assert_same_body_every_time(clock, len(fake.requests))


def test_post_retried_on_429_without_retry_after_with_backoff(env: Env, fake: FakeService) -> None:
    fake.reply(429)
    fake.reply(429)
    fake.reply(201, json_body=OK)
    client, clock = make_client(env, fake)
    with client:
        assert send(client).id == "activity-1"
    assert len(fake.requests) == 3
    assert len(clock.waits) == 2
    assert 0.0 <= clock.waits[0] <= 0.5
    assert 0.0 <= clock.waits[1] <= 1.0
    assert_same_body_every_time(clock, len(fake.requests))


def test_post_retried_on_503_with_retry_after(env: Env, fake: FakeService) -> None:
    fake.reply(503, headers={"Retry-After": "2"})
    fake.reply(200, json_body=OK)
    client, clock = make_client(env, fake)
    with client:
        assert send(client).id == "activity-1"
    assert len(fake.requests) == 2
    assert clock.waits == [2.0]
    assert_same_body_every_time(clock, len(fake.requests))


@pytest.mark.parametrize(
    "failure", [httpx.ConnectError("refused"), httpx.ConnectTimeout("connect timed out")], ids=type
)
def test_post_retried_when_the_connection_was_never_made(env: Env, fake: FakeService, failure: Exception) -> None:
    fake.fail(failure)
    fake.fail(failure)
    fake.reply(200, json_body=OK)
    client, clock = make_client(env, fake)
    with client:
        assert send(client).id == "activity-1"
    assert len(fake.requests) == 3
    assert len(clock.waits) == 2
    assert_same_body_every_time(clock, len(fake.requests))


POST_NOT_RETRIED: dict[str, tuple[Callable[[FakeService], None], type[BotConnectError]]] = {
    "500": (lambda f: f.reply(500, json_body={"error": {"code": "Boom", "message": "x"}}), ServerError),
    "502": (lambda f: f.reply(502), BadGatewayError),
    "504": (lambda f: f.reply(504), ServerError),
    "503-without-retry-after": (lambda f: f.reply(503), ServiceUnavailableError),
    "408": (lambda f: f.reply(408), HttpResponseError),
    "read-timeout": (lambda f: f.fail(httpx.ReadTimeout("read timed out")), ServiceResponseTimeoutError),
    "remote-protocol": (lambda f: f.fail(httpx.RemoteProtocolError("peer closed")), ServiceResponseError),
}


@pytest.mark.parametrize("case", list(POST_NOT_RETRIED))
def test_post_not_retried_when_the_server_may_have_acted(env: Env, fake: FakeService, case: str) -> None:
    queue, expected = POST_NOT_RETRIED[case]
    queue(fake)
    fake.reply(200, json_body=OK)  # would be returned by a (wrong) retry
    client, clock = make_client(env, fake)
    with client, pytest.raises(BotConnectError) as info:
        send(client)
    assert type(info.value) is expected
    assert len(fake.requests) == 1
    assert clock.waits == []


IDEMPOTENT: dict[str, tuple[str, Callable[[Any], Any], dict[str, Any] | None]] = {
    "get": ("GET", lambda c: c.conversations.get_conversation_member("conv", "m1"), {"id": "m1"}),
    "get-list": ("GET", lambda c: c.conversations.get_conversation_members("conv"), None),
    "put": ("PUT", lambda c: c.conversations.update_activity("conv", "a1", ACTIVITY), {"id": "a1"}),
    "delete": ("DELETE", lambda c: c.conversations.delete_activity("conv", "a1"), None),
}
IDEMPOTENT_FAILURES: dict[str, Callable[[FakeService], None]] = {
    "500": lambda f: f.reply(500),
    "502": lambda f: f.reply(502),
    "504": lambda f: f.reply(504),
    "503": lambda f: f.reply(503),
    "read-timeout": lambda f: f.fail(httpx.ReadTimeout("read timed out")),
    "remote-protocol": lambda f: f.fail(httpx.RemoteProtocolError("peer closed")),
}


@pytest.mark.parametrize("failure", list(IDEMPOTENT_FAILURES))
@pytest.mark.parametrize("operation", list(IDEMPOTENT))
def test_idempotent_calls_retried(env: Env, fake: FakeService, operation: str, failure: str) -> None:
    method, call, body = IDEMPOTENT[operation]
    IDEMPOTENT_FAILURES[failure](fake)
    IDEMPOTENT_FAILURES[failure](fake)
    if operation == "get-list":
        fake.reply(200, json_body=[{"id": "m1"}])
    else:
        fake.reply(200, json_body=body)
    client, clock = make_client(env, fake)
    with client:
        result = call(client)
    if body is not None:
        assert result.id == body["id"]
    assert len(fake.requests) == 3
    assert {r.method for r in fake.requests} == {method}
    assert len({sent.content for sent in clock.sent}) == 1
    assert len(clock.waits) == 2
    assert 0.0 <= clock.waits[0] <= 0.5
    assert 0.0 <= clock.waits[1] <= 1.0


def test_streamed_attachment_retried_on_502(env: Env, fake: FakeService) -> None:
    fake.reply(502, content=b"<html>bad gateway</html>")
    fake.reply(200, content=b"\x89PNG...", headers={"Content-Type": "image/png"})
    client, clock = make_client(env, fake)
    with client:
        stream = client.attachments.get_attachment("att", "original")
        assert stream.read() == b"\x89PNG..."
    assert len(fake.requests) == 2
    assert len(clock.waits) == 1


def test_paged_call_retried_per_page(env: Env, fake: FakeService) -> None:
    fake.reply(200, json_body={"members": [{"id": "1"}], "continuationToken": "t1"})
    fake.reply(500)
    fake.reply(200, json_body={"members": [{"id": "2"}]})
    client, clock = make_client(env, fake)
    with client:
        ids = [m.id for m in client.conversations.get_conversation_paged_members("conv")]
    assert ids == ["1", "2"]
    assert len(fake.requests) == 3
    assert fake.requests[1].url == fake.requests[2].url
    assert fake.requests[2].url.params["continuationToken"] == "t1"
    assert len(clock.waits) == 1


def test_waits_are_the_retry_after_values(env: Env, fake: FakeService) -> None:
    fake.reply(429, headers={"Retry-After": "1"})
    fake.reply(503, headers={"Retry-After": "2.5"})
    fake.reply(429, headers={"retry-after-ms": "1500"})
    fake.reply(200, json_body=OK)
    client, clock = make_client(env, fake)
    with client:
        assert send(client).id == "activity-1"
    assert clock.waits == [1.0, 2.5, 1.5]
    assert len(fake.requests) == 4


def test_http_date_retry_after_is_waited(env: Env, fake: FakeService) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    fake.reply(429, headers={"Retry-After": when})
    fake.reply(200, json_body=OK)
    client, clock = make_client(env, fake)
    with client:
        send(client)
    assert len(clock.waits) == 1
    assert 25.0 <= clock.waits[0] <= 30.0


def test_retry_after_beyond_max_is_not_waited_out(env: Env, fake: FakeService) -> None:
    fake.reply(429, headers={"Retry-After": "120"})
    fake.reply(200, json_body=OK)
    client, clock = make_client(env, fake, retry_policy=RetryPolicy(max_retry_after=60.0))
    with client, pytest.raises(RateLimitError) as info:
        send(client)
    assert info.value.retry_after == 120.0
    assert len(fake.requests) == 1
    assert clock.waits == []


@pytest.mark.parametrize("max_attempts", [1, 2, 3, 5])
def test_max_attempts_respected(env: Env, fake: FakeService, max_attempts: int) -> None:
    for _ in range(max_attempts + 3):
        fake.reply(503, headers={"Retry-After": "0"})
    client, clock = make_client(env, fake, retry_policy=RetryPolicy(max_attempts=max_attempts))
    with client, pytest.raises(ServiceUnavailableError):
        client.conversations.get_conversation_member("conv", "m1")
    assert len(fake.requests) == max_attempts
    assert clock.waits == [0.0] * (max_attempts - 1)


def test_max_attempts_respected_for_connection_failures(env: Env, fake: FakeService) -> None:
    for _ in range(6):
        fake.fail(httpx.ConnectError("refused"))
    client, clock = make_client(env, fake, retry_policy=RetryPolicy(max_attempts=3))
    with client, pytest.raises(ServiceRequestError) as info:
        send(client)
    assert type(info.value) is ServiceRequestError
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    assert len(fake.requests) == 3
    assert len(clock.waits) == 2


def test_deadline_stops_retrying(env: Env, fake: FakeService) -> None:
    for _ in range(10):
        fake.reply(429, headers={"Retry-After": "4"})
    client, clock = make_client(env, fake, retry_policy=RetryPolicy(max_attempts=10, deadline=10.0))
    with client, pytest.raises(RateLimitError):
        send(client)
    # attempts at t=0, 4, 8; waiting 4 more would end past the 10 s deadline
    assert clock.waits == [4.0, 4.0]
    assert len(fake.requests) == 3


def test_per_call_no_retries_overrides_the_client_policy(env: Env, fake: FakeService) -> None:
    fake.reply(429, headers={"Retry-After": "1"})
    client, clock = make_client(env, fake, retry_policy=RetryPolicy(max_attempts=5))
    with client:
        with pytest.raises(RateLimitError):
            send(client, retry_policy=NO_RETRIES)
        assert len(fake.requests) == 1
        assert clock.waits == []
        # the client's own policy is untouched for the next call
        fake.reply(429, headers={"Retry-After": "1"})
        fake.reply(200, json_body=OK)
        assert send(client).id == "activity-1"
    assert len(fake.requests) == 3
    assert clock.waits == [1.0]


def test_per_call_policy_can_allow_more_than_the_client(env: Env, fake: FakeService) -> None:
    fake.reply(500)
    fake.reply(200, json_body={"id": "m1"})
    client, clock = make_client(env, fake, retry_policy=NO_RETRIES)
    with client:
        member = client.conversations.get_conversation_member(
            "conv", "m1", retry_policy=RetryPolicy(max_attempts=2, backoff_factor=0)
        )
    assert member.id == "m1"
    assert clock.waits == [0.0]


def test_a_fresh_token_is_attached_on_each_attempt(env: Env, fake: FakeService) -> None:
    credential = CountingCredential()
    fake.reply(429, headers={"Retry-After": "0"})
    fake.fail(httpx.ConnectError("refused"))
    fake.reply(503, headers={"Retry-After": "0"})
    fake.reply(200, json_body=OK)
    client, clock = make_client(env, fake, credential)
    with client:
        send(client)
    assert [sent.headers["authorization"] for sent in clock.sent] == [f"Bearer tok-{n}" for n in range(1, 5)]
    assert credential.calls == [("https://api.botframework.com/.default",)] * 4
    assert_same_body_every_time(clock, len(fake.requests))


def test_connect_timeout_exhausts_to_typed_error(env: Env, fake: FakeService) -> None:
    for _ in range(4):
        fake.fail(httpx.ConnectTimeout("connect timed out"))
    client, clock = make_client(env, fake)
    with client, pytest.raises(ServiceRequestTimeoutError):
        send(client)
    assert len(fake.requests) == 4
    assert len(clock.waits) == 3
