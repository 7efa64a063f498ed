"""CommunicationTokenCredential, sync and async (asyncio and trio), on a fake clock: nothing really sleeps.

The sync credential's background refresh runs on timers made by an injected factory (the default is a daemon
``threading.Timer``); the async one awaits an injected sleep inside the task group its ``async with`` owns.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Callable
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest

import botconnect_aio.chat as aio_chat
from botconnect import AccessToken, BotConnectError
from botconnect.chat import ChatClient, CommunicationTokenCredential, ExpiredTokenError

NOW = 1_700_000_000.0
ENDPOINT = "https://contoso.communication.azure.com"
HOUR = 3600


def make_jwt(exp: float, **claims: Any) -> str:
    """An unsigned JWT with ``exp`` (the credential never checks signatures)."""

    def segment(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{segment({'alg': 'HS256', 'typ': 'JWT'})}.{segment({'exp': exp, **claims})}.c2lnbmF0dXJl"


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def jwt_in(clock: Clock, seconds: float, **claims: Any) -> str:
    return make_jwt(int(clock.now + seconds), **claims)


class Refresher:
    """Counts calls; returns a fresh hour-long token (or what ``result`` makes)."""

    def __init__(self, clock: Clock, result: Callable[[], Any] | None = None) -> None:
        self.clock = clock
        self.calls = 0
        self.issued: list[str] = []
        self.result = result

    def __call__(self) -> Any:
        self.calls += 1
        if self.result is not None:
            return self.result()
        token = jwt_in(self.clock, HOUR, n=self.calls)
        self.issued.append(token)
        return token


# -- parsing ------------------------------------------------------------------------------------------------


def test_expiry_is_read_from_the_jwt() -> None:
    token = make_jwt(1_700_003_600.9, skypeid="acs:abc")
    credential = CommunicationTokenCredential(token)
    assert credential.get_token() == AccessToken(token, 1_700_003_600)
    assert credential.get_token("https://ignored/.default") == AccessToken(token, 1_700_003_600)
    # base64url without padding, with '-' and '_' in the payload
    tricky = make_jwt(1_700_003_600, name="~~~???>>>")
    assert CommunicationTokenCredential(tricky).get_token().expires_on == 1_700_003_600


def _segment(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


MALFORMED = [
    "",
    "not-a-jwt",
    "a.b",
    "a.b.c.d",
    "header.!!!!.sig",
    f"h.{_segment(b'not json')}.s",
    f"h.{_segment(b'[1, 2]')}.s",
    f"h.{_segment(json.dumps({'sub': 'x'}).encode())}.s",
    f"h.{_segment(json.dumps({'exp': 'tomorrow'}).encode())}.s",
    f"h.{_segment(json.dumps({'exp': True}).encode())}.s",
    f"h.{_segment(json.dumps({'exp': -5}).encode())}.s",
    "h." + _segment(b'{"exp": 1e999}') + ".s",
    f"h.{_segment(bytes([0xFF, 0xFE]))}.s",
]


@pytest.mark.parametrize("token", MALFORMED)
@pytest.mark.parametrize("package", ["sync", "async"])
def test_malformed_tokens_are_a_clear_value_error(token: str, package: str) -> None:
    cls = CommunicationTokenCredential if package == "sync" else aio_chat.CommunicationTokenCredential
    with pytest.raises(ValueError, match=r"JWT|exp") as caught:
        cls(token)
    if token:
        assert token not in str(caught.value)
    assert caught.value.__cause__ is None


@pytest.mark.parametrize("value", [None, b"a.b.c", 42])
def test_a_token_must_be_a_str(value: Any) -> None:
    with pytest.raises(TypeError):
        CommunicationTokenCredential(value)


def test_arguments_are_checked() -> None:
    token = make_jwt(NOW + HOUR)
    with pytest.raises(ValueError, match="token_refresher"):
        CommunicationTokenCredential(token, proactive_refresh=True)
    with pytest.raises(TypeError):
        CommunicationTokenCredential(token, token_refresher="not callable")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="token_refresher"):
        aio_chat.CommunicationTokenCredential(token, proactive_refresh=True)


def test_the_token_never_shows(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    token = jwt_in(clock, HOUR)
    credential = CommunicationTokenCredential(token, _clock=clock)
    for text in (repr(credential), str(credential), repr(credential.get_token()), str(credential.get_token())):
        assert token not in text
        assert "expires_on" in text
    assert token not in repr(aio_chat.CommunicationTokenCredential(token))


# -- on-demand refresh (sync) ---------------------------------------------------------------------------------


def test_without_a_refresher_the_token_is_returned_as_is() -> None:
    clock = Clock()
    token = jwt_in(clock, 60)
    credential = CommunicationTokenCredential(token, _clock=clock)
    clock.now += 3600  # even expired: the service answers 401, as with the Azure SDK
    assert credential.get_token().token == token


def test_refreshes_within_ten_minutes_of_expiry() -> None:
    clock = Clock()
    first = jwt_in(clock, HOUR)
    refresher = Refresher(clock)
    credential = CommunicationTokenCredential(first, token_refresher=refresher, _clock=clock)
    clock.now += HOUR - 601
    assert credential.get_token().token == first
    assert refresher.calls == 0
    clock.now += 2
    assert credential.get_token().token == refresher.issued[0]
    assert credential.get_token().token == refresher.issued[0]
    assert refresher.calls == 1


@pytest.mark.parametrize("shape", ["str", "access_token", "azure_like"])
def test_refresher_results(shape: str) -> None:
    clock = Clock()
    new = jwt_in(clock, HOUR)

    class AzureAccessToken:  # azure.core.credentials.AccessToken-like
        token = new
        expires_on = int(clock.now + 7200)

    results = {"str": new, "access_token": AccessToken(new, int(clock.now + 7200)), "azure_like": AzureAccessToken()}
    credential = CommunicationTokenCredential(jwt_in(clock, 10), token_refresher=lambda: results[shape], _clock=clock)
    token = credential.get_token()
    assert token.token == new
    assert token.expires_on == (int(clock.now + HOUR) if shape == "str" else int(clock.now + 7200))


def test_a_refresher_returning_an_expired_token_is_an_error() -> None:
    clock = Clock()
    old = jwt_in(clock, 100)
    stale = jwt_in(clock, -1)
    credential = CommunicationTokenCredential(old, token_refresher=lambda: stale, _clock=clock)
    with pytest.raises(ExpiredTokenError) as caught:
        credential.get_token()
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, BotConnectError)
    assert stale not in str(caught.value)
    assert old not in str(caught.value)
    with pytest.raises(TypeError):
        CommunicationTokenCredential(old, token_refresher=lambda: 42, _clock=clock).get_token()


def test_a_failed_refresh_is_retried_by_the_next_caller() -> None:
    clock = Clock()
    outcomes: list[Any] = [RuntimeError("refresh service down"), jwt_in(clock, HOUR)]

    def flaky() -> Any:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    credential = CommunicationTokenCredential(jwt_in(clock, 5), token_refresher=flaky, _clock=clock)
    with pytest.raises(RuntimeError, match="down"):
        credential.get_token()
    assert credential.get_token().expires_on == int(clock.now + HOUR)


def test_twenty_threads_share_one_refresh() -> None:
    clock = Clock()
    new = jwt_in(clock, HOUR)
    entered, release = threading.Event(), threading.Event()
    calls: list[int] = []

    def slow_refresher() -> str:
        calls.append(1)
        entered.set()
        assert release.wait(10)
        return new

    credential = CommunicationTokenCredential(jwt_in(clock, -10), token_refresher=slow_refresher, _clock=clock)
    results: list[str] = []
    barrier = threading.Barrier(20)

    def caller() -> None:
        barrier.wait(10)
        results.append(credential.get_token().token)

    threads = [threading.Thread(target=caller) for _ in range(20)]
    for thread in threads:
        thread.start()
    assert entered.wait(10)
    release.set()
    for thread in threads:
        thread.join(10)
    assert not any(t.is_alive() for t in threads)
    assert len(calls) == 1
    assert results == [new] * 20


def test_while_one_thread_refreshes_others_keep_the_still_valid_token() -> None:
    clock = Clock()
    old, new = jwt_in(clock, 60), jwt_in(clock, HOUR)
    entered, release = threading.Event(), threading.Event()

    def slow_refresher() -> str:
        entered.set()
        assert release.wait(10)
        return new

    credential = CommunicationTokenCredential(old, token_refresher=slow_refresher, _clock=clock)
    refreshing = threading.Thread(target=credential.get_token)
    refreshing.start()
    assert entered.wait(10)
    assert credential.get_token().token == old  # does not block behind the refresh
    release.set()
    refreshing.join(10)
    assert credential.get_token().token == new


# -- proactive refresh (sync) ---------------------------------------------------------------------------------


class FakeTimer:
    def __init__(self, delay: float, callback: Callable[[], None]) -> None:
        self.delay, self.callback = delay, callback
        self.started = self.cancelled = self.fired = self.joined = False

    def start(self) -> None:
        self.started = True

    def cancel(self) -> None:
        self.cancelled = True

    def join(self, timeout: float | None = None) -> None:
        self.joined = True

    def is_alive(self) -> bool:
        return self.started and not (self.cancelled or self.fired)

    def fire(self) -> None:
        """Run the callback on a thread of its own, as threading.Timer does, and wait for it."""
        assert self.is_alive()
        self.fired = True
        thread = threading.Thread(target=self.callback)
        thread.start()
        thread.join(10)


class FakeTimers:
    def __init__(self) -> None:
        self.made: list[FakeTimer] = []

    def __call__(self, delay: float, callback: Callable[[], None]) -> FakeTimer:
        timer = FakeTimer(delay, callback)
        self.made.append(timer)
        return timer

    @property
    def live(self) -> list[FakeTimer]:
        return [t for t in self.made if t.is_alive()]


def test_proactive_refresh_runs_without_get_token() -> None:
    clock, timers = Clock(), FakeTimers()
    refresher = Refresher(clock)
    credential = CommunicationTokenCredential(
        jwt_in(clock, HOUR), token_refresher=refresher, proactive_refresh=True, _clock=clock, _timer=timers
    )
    [timer] = timers.live
    assert timer.delay == HOUR - 600  # at the start of the 10-minute window
    clock.now += timer.delay
    timer.fire()
    assert refresher.calls == 1  # nobody called get_token
    [next_timer] = timers.live
    assert next_timer.delay == HOUR - 600
    assert credential.get_token().token == refresher.issued[0]
    assert refresher.calls == 1
    credential.close()
    assert timers.live == []
    assert next_timer.cancelled
    assert next_timer.joined
    assert credential.get_token().token == refresher.issued[0]  # still usable after close


def test_an_early_wake_up_only_reschedules_and_short_tokens_refresh_at_half_life() -> None:
    clock, timers = Clock(), FakeTimers()
    refresher = Refresher(clock, result=lambda: jwt_in(clock, 300))  # a token shorter than the window
    with CommunicationTokenCredential(
        jwt_in(clock, HOUR), token_refresher=refresher, proactive_refresh=True, _clock=clock, _timer=timers
    ):
        timers.live[0].fire()  # fired before the window: nothing to do yet
        assert refresher.calls == 0
        [timer] = timers.live
        clock.now += timer.delay
        timer.fire()
        assert refresher.calls == 1
        assert timers.live[0].delay == 150  # inside the window: halfway to expiry
    assert timers.live == []


def test_a_failed_background_refresh_is_logged_without_secrets_and_retried(caplog: pytest.LogCaptureFixture) -> None:
    clock, timers = Clock(), FakeTimers()
    secret = jwt_in(clock, HOUR, secret=True)

    def failing() -> str:
        raise RuntimeError(f"could not refresh {secret}")

    token = jwt_in(clock, 60)
    with (
        caplog.at_level(logging.WARNING, logger="botconnect.chat"),
        CommunicationTokenCredential(
            token, token_refresher=failing, proactive_refresh=True, _clock=clock, _timer=timers
        ),
    ):
        timers.live[0].fire()
        [retry] = timers.live
        assert retry.delay == 30
    assert "RuntimeError" in caplog.text
    assert secret not in caplog.text
    assert token not in caplog.text


def test_the_real_timer_thread_is_a_daemon_and_close_joins_it() -> None:
    before = set(threading.enumerate())
    credential = CommunicationTokenCredential(
        make_jwt(4_102_444_800), token_refresher=lambda: make_jwt(4_102_444_800), proactive_refresh=True
    )
    [thread] = [t for t in threading.enumerate() if t not in before]
    assert thread.daemon
    assert thread.name == "botconnect-acs-token-refresh"
    assert thread.is_alive()
    credential.close()
    assert not thread.is_alive()
    credential.close()  # twice is fine
    assert set(threading.enumerate()) == before


def test_the_client_asks_for_a_token_without_scopes() -> None:
    asked: list[tuple[str, ...]] = []

    class Recording:
        def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
            asked.append(scopes)
            return AccessToken("opaque", 4_102_444_800)

    transport = httpx.MockTransport(lambda request: httpx.Response(204))
    with ChatClient(ENDPOINT, Recording(), transport=transport) as client:
        client.delete_chat_thread("19:x@thread.v2")
    assert asked == [()]


# -- async (asyncio and trio) ---------------------------------------------------------------------------------


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class FakeSleep:
    """The background task's sleep: records the delay, waits until woken, then moves the fake clock on."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.delays: list[float] = []
        self.cancelled = 0
        self._wake: anyio.Event | None = None

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        wake = self._wake = anyio.Event()
        try:
            await wake.wait()
        except anyio.get_cancelled_exc_class():
            self.cancelled += 1
            raise
        self.clock.now += seconds

    def wake(self) -> None:
        assert self._wake is not None
        assert not self._wake.is_set()
        self._wake.set()

    async def sleeps(self, count: int) -> None:
        """Let other tasks run (checkpoints only) until the background task has slept ``count`` times."""
        for _ in range(1000):
            if len(self.delays) >= count:
                return
            await anyio.lowlevel.checkpoint()
        raise AssertionError(f"expected {count} sleeps, saw {self.delays}")


async def settle() -> None:
    for _ in range(50):
        await anyio.lowlevel.checkpoint()


@pytest.mark.anyio
async def test_async_on_demand_refresh_sync_and_async_refreshers() -> None:
    clock = Clock()
    refresher = Refresher(clock)

    async def async_refresher() -> str:
        return refresher()

    for make in (refresher, async_refresher):
        credential = aio_chat.CommunicationTokenCredential(jwt_in(clock, 599), token_refresher=make, _clock=clock)
        assert (await credential.get_token()).token == refresher.issued[-1]
    assert refresher.calls == 2
    stale = aio_chat.CommunicationTokenCredential(jwt_in(clock, 5), token_refresher=lambda: jwt_in(clock, -1))
    with pytest.raises(ExpiredTokenError):
        await stale.get_token()


@pytest.mark.anyio
async def test_async_twenty_tasks_share_one_refresh() -> None:
    clock = Clock()
    new = jwt_in(clock, HOUR)
    entered, release = anyio.Event(), anyio.Event()
    calls: list[int] = []

    async def slow_refresher() -> str:
        calls.append(1)
        entered.set()
        await release.wait()
        return new

    credential = aio_chat.CommunicationTokenCredential(jwt_in(clock, -10), token_refresher=slow_refresher, _clock=clock)
    results: list[str] = []

    async def caller() -> None:
        results.append((await credential.get_token()).token)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            for _ in range(20):
                group.start_soon(caller)
            await entered.wait()
            await settle()  # every caller is now waiting on the one refresh
            release.set()
    assert len(calls) == 1
    assert results == [new] * 20


@pytest.mark.anyio
async def test_async_proactive_refresh_is_owned_by_async_with() -> None:
    clock = Clock()
    sleep = FakeSleep(clock)
    refresher = Refresher(clock)
    credential = aio_chat.CommunicationTokenCredential(
        jwt_in(clock, HOUR), token_refresher=refresher, proactive_refresh=True, _clock=clock, _timer=sleep
    )
    await settle()
    assert sleep.delays == []  # not entered: no background task, refresh on demand only
    with anyio.fail_after(10):
        async with credential:
            await sleep.sleeps(1)
            assert sleep.delays == [HOUR - 600]
            sleep.wake()
            await sleep.sleeps(2)  # refreshed in the background, then went back to sleep
            assert refresher.calls == 1
            assert sleep.delays[1] == HOUR - 600
            assert (await credential.get_token()).token == refresher.issued[0]
        assert sleep.cancelled == 1  # leaving the block ended the background task
    await settle()
    assert len(sleep.delays) == 2
    assert refresher.calls == 1


@pytest.mark.anyio
async def test_async_close_stops_the_background_task_and_errors_are_not_wrapped() -> None:
    clock = Clock()
    sleep = FakeSleep(clock)
    credential = aio_chat.CommunicationTokenCredential(
        jwt_in(clock, HOUR), token_refresher=Refresher(clock), proactive_refresh=True, _clock=clock, _timer=sleep
    )

    async def fail_inside() -> None:
        async with credential:
            await sleep.sleeps(1)
            await credential.close()
            await settle()
            assert sleep.cancelled == 1
            raise KeyError("the caller's own error, not an ExceptionGroup")

    with anyio.fail_after(10), pytest.raises(KeyError):
        await fail_inside()
    async with credential:  # closed: entering again starts nothing
        await settle()
    assert len(sleep.delays) == 1


@pytest.mark.anyio
async def test_async_background_failures_are_retried(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    sleep = FakeSleep(clock)

    async def failing() -> str:
        raise RuntimeError("down")

    credential = aio_chat.CommunicationTokenCredential(
        jwt_in(clock, 60), token_refresher=failing, proactive_refresh=True, _clock=clock, _timer=sleep
    )
    with caplog.at_level(logging.WARNING, logger="botconnect.chat"), anyio.fail_after(10):
        async with credential:
            await sleep.sleeps(1)
            assert sleep.delays == [30]  # inside the window: halfway to expiry
            sleep.wake()
            await sleep.sleeps(2)
            assert sleep.delays[1] == 30  # the retry delay after a failure
    assert "RuntimeError" in caplog.text


@pytest.mark.anyio
async def test_async_clients_enter_their_credential() -> None:
    clock = Clock()
    sleep = FakeSleep(clock)
    refresher = Refresher(clock)
    first = jwt_in(clock, HOUR)
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["authorization"])
        return httpx.Response(204)

    credential = aio_chat.CommunicationTokenCredential(
        first, token_refresher=refresher, proactive_refresh=True, _clock=clock, _timer=sleep
    )
    with anyio.fail_after(10):
        async with aio_chat.ChatClient(ENDPOINT, credential, transport=httpx.MockTransport(handler)) as client:
            await sleep.sleeps(1)
            async with client.get_chat_thread_client("19:x@thread.v2") as thread:
                await thread.delete_message("1")
            assert sleep.cancelled == 0  # the inner block left the credential entered
            sleep.wake()
            await sleep.sleeps(2)
            await client.delete_chat_thread("19:x@thread.v2")
        assert sleep.cancelled == 1
    assert seen == [f"Bearer {first}", f"Bearer {refresher.issued[0]}"]
