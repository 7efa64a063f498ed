"""Conversation sessions against a real local Direct Line service (uvicorn on 127.0.0.1): sync, asyncio and trio.

Every test checks exact delivery: the ids a session hands out are the service's, once each, in order.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import socket
import sys
import threading
from typing import Any

import pytest

import botconnect
import botconnect.directline._session as sync_session
import botconnect_aio
import botconnect_aio.directline._session as async_session
from botconnect import RetryPolicy
from botconnect.errors import (
    BadGatewayError,
    ClientClosedError,
    PermissionDeniedError,
    ResourceNotFoundError,
    ServiceResponseTimeoutError,
    TokenExpiredError,
)
from botconnect.models import Activity, ChannelAccount

from .directline_server import (
    DirectLineServer,
    FakeClock,
    _shared_dl_server,
    dl_server,
    opened,
    serve,
    take,
    wait_until,
)
from .harness import Env

__all__ = ["_shared_dl_server", "dl_server"]  # fixtures, imported for pytest

Status = sync_session.ConnectionStatus
FAST = RetryPolicy(max_attempts=50, backoff_factor=0.001, max_backoff=0.01, deadline=None)
NO_WAIT = RetryPolicy(max_attempts=50, backoff_factor=0.0, deadline=None)


def secret_client(env: Env, server: DirectLineServer, **kwargs: Any) -> Any:
    return env.construct("DirectLineClient", secret=server.secret, endpoint=server.endpoint, **kwargs)


def token_client(env: Env, server: DirectLineServer, token: str | None = None) -> Any:
    if token is None:  # a token for a fresh conversation, as a web page gets it from its backend
        with botconnect.DirectLineClient(secret=server.secret, endpoint=server.endpoint) as issuer:
            token = issuer.tokens.generate_token().token
    assert token is not None
    return env.construct("DirectLineClient", token=token, endpoint=server.endpoint)


def texts(activities: list[Any]) -> list[str | None]:
    return [a.text if a.type == "message" else a.type for a in activities]


def server_ids(server: DirectLineServer, conversation_id: str) -> list[str]:
    return [a["id"] for a in server.activities(conversation_id)]


# -- the basics ---------------------------------------------------------------------------------------------


def test_send_and_receive_over_the_stream(env: Env, dl_server: DirectLineServer) -> None:
    statuses: list[Any] = []
    with secret_client(env, dl_server) as client, opened(env, client, user="u1", on_status=statuses.append) as conv:
        assert conv.status is Status.ONLINE
        assert statuses == [Status.CONNECTING, Status.ONLINE]
        assert conv.conversation_id in dl_server.conversation_ids()
        sent_id = conv.send("hello")
        received = take(conv, 2)
        assert texts(received) == ["hello", "echo: hello"]
        assert received[0].id == sent_id
        assert received[0].from_property.id == "u1"
        assert received[1].reply_to_id == sent_id
        assert [a.id for a in received] == server_ids(dl_server, conv.conversation_id)
        assert dl_server.stream_connects == 1
        assert dl_server.polls == 0
    assert statuses[-1] is Status.ENDED
    assert conv.status is Status.ENDED


def test_send_activities_dicts_and_default_user(env: Env, dl_server: DirectLineServer) -> None:
    with secret_client(env, dl_server) as client, opened(env, client) as conv:
        assert conv.user.id.startswith("dl_")
        conv.send(Activity(type="message", text="typed", from_property=ChannelAccount(id="someone")))
        conv.send({"type": "event", "name": "ping"})
        conv.send(Activity(text="no from"))
        got = take(conv, 4)
    assert [(a.type, a.from_property.id) for a in got] == [
        ("message", "someone"),
        ("message", "echo-bot"),
        ("event", conv.user.id),
        ("message", conv.user.id),
    ]


def test_end_of_conversation_ends_the_iteration(env: Env, dl_server: DirectLineServer) -> None:
    with secret_client(env, dl_server) as client, opened(env, client) as conv:
        conv.send("bye")
        assert texts(list(conv.activities(timeout=10))) == ["bye", "echo: bye", "endOfConversation"]
        assert conv.status is Status.ENDED
        assert list(conv.activities(timeout=10)) == []


@pytest.mark.parametrize("streaming", [True, False], ids=["stream", "polling"])
def test_ended_comes_after_the_goodbye_was_handed_out(env: Env, dl_server: DirectLineServer, streaming: bool) -> None:
    events: list[tuple[str, Any]] = []
    options = {"on_status": lambda status: events.append(("status", status)), "streaming": streaming}
    with secret_client(env, dl_server) as client, opened(env, client, poll_interval=0.05, **options) as conv:
        conv.send("bye")
        for activity in conv.activities(timeout=10):
            events.append(("activity", activity.text if activity.type == "message" else activity.type))
            events.append(("status now", conv.status))
        events.append(("iteration over", conv.status))
    handed_out = [what for kind, what in events if kind == "activity"]
    assert handed_out == ["bye", "echo: bye", "endOfConversation"]
    # a UI tearing down on ENDED has shown the goodbye and the end by then
    assert events[-3:] == [
        ("status now", Status.ONLINE),
        ("status", Status.ENDED),
        ("iteration over", Status.ENDED),
    ]
    assert [what for kind, what in events if kind == "status"].count(Status.ENDED) == 1
    assert all(status is Status.ONLINE for kind, status in events if kind == "status now")


def test_closing_reports_ended_at_once_even_with_activities_unread(env: Env, dl_server: DirectLineServer) -> None:
    statuses: list[Any] = []
    with secret_client(env, dl_server) as client:
        with opened(env, client, on_status=statuses.append) as conv:
            conv.send("bye")
            wait_until(lambda: len(dl_server.activities(conv.conversation_id)) == 3, "the goodbye")
        assert statuses[-1] is Status.ENDED  # nobody read the goodbye: closing ends it anyway
        assert statuses.count(Status.ENDED) == 1
        assert conv.status is Status.ENDED


def test_activities_timeout_does_not_end_the_session(env: Env, dl_server: DirectLineServer) -> None:
    with secret_client(env, dl_server) as client, opened(env, client) as conv:
        with pytest.raises(TimeoutError):
            next(conv.activities(timeout=0.01))
        conv.send("still there")
        assert texts(take(conv, 2)) == ["still there", "echo: still there"]


def test_send_after_close_raises(env: Env, dl_server: DirectLineServer) -> None:
    with secret_client(env, dl_server) as client:
        with opened(env, client) as conv:
            pass
        with pytest.raises(ClientClosedError):
            conv.send("too late")
        assert list(conv.activities(timeout=1)) == []
        unopened = client.open_conversation()
        with pytest.raises(RuntimeError):
            unopened.send("too early")
        with pytest.raises(RuntimeError):
            next(unopened.activities())


def test_watermark_moves_with_what_was_handed_out(env: Env, dl_server: DirectLineServer) -> None:
    with secret_client(env, dl_server) as client, opened(env, client) as conv:
        store = dl_server.emulator.store

        def two_at_once() -> None:  # stored in one go on the emulator's loop: they go out in one activity set
            conversation = store.conversations[conv.conversation_id]
            for text in ("a", "b"):
                store.append(conversation, {"type": "message", "text": text}, from_bot=True)

        store.on_loop(two_at_once)
        iterator = conv.activities(timeout=10)
        assert next(iterator).text == "a"
        assert conv.watermark is None  # "b" is not handed out yet: resuming must replay it
        assert next(iterator).text == "b"
        assert conv.watermark == "1"


def test_close_from_another_thread_ends_a_waiting_reader(env: Env, dl_server: DirectLineServer) -> None:
    results: list[Any] = []
    with secret_client(env, dl_server) as client, opened(env, client) as conv:
        reader = threading.Thread(target=lambda: results.append(list(conv.activities(timeout=10))))
        reader.start()
        wait_until(lambda: reader.is_alive(), "the reader to start")
        conv.close()
        reader.join(10)
        assert not reader.is_alive()
        assert results == [[]]
        assert conv.status is Status.ENDED


def test_a_failing_status_callback_does_not_break_the_session(
    env: Env, dl_server: DirectLineServer, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(status: Any) -> None:
        raise ValueError(status)

    with secret_client(env, dl_server) as client, opened(env, client, on_status=broken) as conv:
        conv.send("ok")
        assert texts(take(conv, 2)) == ["ok", "echo: ok"]
    assert any("on_status raised" in record.getMessage() for record in caplog.records)


# -- faults on the stream -----------------------------------------------------------------------------------


def test_every_activity_once_in_order_across_many_reconnects(env: Env, dl_server: DirectLineServer) -> None:
    faults = dl_server.faults
    faults.drop_after_frames = 1  # every stream dies before its second frame: that activity comes by replay
    faults.duplicate_frames = True
    faults.overlap = 1
    faults.replay_overlap = 2
    received: list[Any] = []
    with secret_client(env, dl_server) as client, opened(env, client, reconnect_policy=FAST) as conv:
        for n in range(6):
            conv.send(f"m{n}")
            dl_server.bot_says(conv.conversation_id, f"note {n}")
            received += take(conv, 3)
        assert [a.id for a in received] == server_ids(dl_server, conv.conversation_id)
        assert texts(received[:3]) == ["m0", "echo: m0", "note 0"]
        assert dl_server.stream_connects >= 6
        assert conv.status is Status.ONLINE
        with pytest.raises(TimeoutError):  # and nothing more: no duplicate is still queued
            next(conv.activities(timeout=0.05))


def test_dropped_stream_reconnects_from_the_watermark(env: Env, dl_server: DirectLineServer) -> None:
    statuses: list[Any] = []
    options = {"reconnect_policy": FAST, "on_status": statuses.append}
    with secret_client(env, dl_server) as client, opened(env, client, **options) as conv:
        conv.send("one")
        take(conv, 2)
        dl_server.drop_streams()
        conv.send("two")
        assert texts(take(conv, 2)) == ["two", "echo: two"]
        assert dl_server.stream_starts == [0, 2]  # the second stream replayed from watermark 2
    assert statuses == [Status.CONNECTING, Status.ONLINE, Status.CONNECTING, Status.ONLINE, Status.ENDED]


def test_keepalives_and_junk_frames_are_ignored(env: Env, dl_server: DirectLineServer) -> None:
    dl_server.faults.keepalive_interval = 0.005
    with secret_client(env, dl_server) as client, opened(env, client) as conv:
        conv.send("x")
        first = take(conv, 2)
        wait_until(lambda: conv._core.keepalives >= 3, "keepalive frames")
        dl_server.inject_frame("{not json")
        dl_server.inject_frame('{"someFutureFrame": {"a": 1}}')
        replay = {"activities": dl_server.activities(conv.conversation_id), "watermark": "2", "extra": True}
        dl_server.inject_frame(json.dumps(replay))  # a duplicate set: nothing new in it
        conv.send("y")
        assert texts(take(conv, 2)) == ["y", "echo: y"]
        assert [a.id for a in first] == server_ids(dl_server, conv.conversation_id)[:2]
        assert conv._core.malformed_frames == 1
        assert conv._core.unknown_frames == 1
        assert dl_server.stream_connects == 1
        assert conv.status is Status.ONLINE


def test_silent_stream_is_replaced(env: Env, dl_server: DirectLineServer) -> None:
    clock = FakeClock()
    options = {"silence_timeout": 30.0, "reconnect_policy": NO_WAIT, "_clock": clock, "_max_wait": 0.01}
    with secret_client(env, dl_server) as client, opened(env, client, **options) as conv:
        conv.send("before")
        take(conv, 2)
        dl_server.go_silent()
        conv.send("into the void")  # stored by the service, not sent on the silent stream
        with pytest.raises(TimeoutError):
            next(conv.activities(timeout=0.05))
        assert dl_server.stream_connects == 1
        clock.advance(31)  # no frame, not even a keepalive, for longer than the silence timeout
        assert texts(take(conv, 2)) == ["into the void", "echo: into the void"]
        assert dl_server.stream_connects == 2
        assert dl_server.stream_starts == [0, 2]


def test_refused_websocket_falls_back_to_polling(env: Env, dl_server: DirectLineServer) -> None:
    dl_server.faults.refuse_websocket = True
    with secret_client(env, dl_server) as client, opened(env, client, poll_interval=0.02) as conv:
        assert conv.status is Status.ONLINE
        conv.send("polled")
        dl_server.bot_says(conv.conversation_id, "unprompted")
        got = take(conv, 3)
        assert texts(got) == ["polled", "echo: polled", "unprompted"]
        assert [a.id for a in got] == server_ids(dl_server, conv.conversation_id)
        assert dl_server.stream_connects == 0
        assert dl_server.polls >= 1
        assert conv._core.streaming is False


def test_without_httpx_ws_the_session_polls(
    env: Env, dl_server: DirectLineServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "httpx_ws", None)  # as if it were not installed
    with secret_client(env, dl_server) as client, opened(env, client, poll_interval=0.02) as conv:
        conv.send("p")
        assert texts(take(conv, 2)) == ["p", "echo: p"]
        assert dl_server.stream_connects == 0
        assert dl_server.polls >= 1


def test_polling_only_session(env: Env, dl_server: DirectLineServer) -> None:
    with secret_client(env, dl_server) as client, opened(env, client, streaming=False, poll_interval=0.02) as conv:
        conv.send("p")
        assert texts(take(conv, 2)) == ["p", "echo: p"]
        assert dl_server.stream_connects == 0
        assert dl_server.reconnects == 0


# -- tokens -------------------------------------------------------------------------------------------------


def test_token_is_refreshed_before_it_expires(env: Env) -> None:
    clock = FakeClock()
    with serve(DirectLineServer(token_lifetime=100, clock=clock)) as server:
        client = token_client(env, server)
        original = client.token
        options = {"silence_timeout": None, "reconnect_policy": NO_WAIT, "_clock": clock, "_max_wait": 0.01}
        with client, opened(env, client, **options) as conv:
            assert conv.token == original
            clock.advance(60)  # past half the lifetime
            wait_until(lambda: server.refreshes == 1, "the first refresh")
            wait_until(lambda: conv.token != original, "the client to switch tokens")
            clock.advance(60)  # the original token has expired by now; the refreshed one has not
            wait_until(lambda: server.refreshes == 2, "the second refresh")
            assert server.token_expires_in(original) < 0
            assert server.token_expires_in(conv.token) > 0
            server.drop_streams()  # reconnecting needs a valid token
            conv.send("still here")
            assert texts(take(conv, 2)) == ["still here", "echo: still here"]
            assert conv.status is Status.ONLINE
            assert server.stream_connects == 2


def test_expired_token_ends_the_session(env: Env) -> None:
    clock = FakeClock()
    with serve(DirectLineServer(token_lifetime=100, clock=clock)) as server:
        client = token_client(env, server)
        statuses: list[Any] = []
        options = {"silence_timeout": None, "on_status": statuses.append, "_clock": clock, "_max_wait": 0.01}
        with client, opened(env, client, **options) as conv:
            conv.send("hi")
            take(conv, 2)
            server.expire_tokens()
            with pytest.raises(TokenExpiredError):
                conv.send("rejected")
            clock.advance(50)  # the refresh is due, and refused
            with pytest.raises(TokenExpiredError):
                next(conv.activities(timeout=10))
            assert conv.status is Status.EXPIRED_TOKEN
        assert statuses == [Status.CONNECTING, Status.ONLINE, Status.EXPIRED_TOKEN]


def test_resume_from_saved_state_gets_only_newer_activities(env: Env) -> None:
    with serve(DirectLineServer()) as server:
        client = token_client(env, server)
        with client, opened(env, client, user="u1") as conv:
            conv.send("one")
            take(conv, 2)
            saved = (conv.conversation_id, conv.token, conv.watermark)
        assert saved[2] == "1"  # the echo is activity number 1
        server.bot_says(saved[0], "while you were away")
        resumed_client = token_client(env, server, token=saved[1])
        with resumed_client, opened(env, resumed_client, conversation_id=saved[0], watermark=saved[2]) as again:
            assert again.conversation_id == saved[0]
            assert texts(take(again, 1)) == ["while you were away"]
            again.send("two")
            assert texts(take(again, 2)) == ["two", "echo: two"]
            with pytest.raises(TimeoutError):
                next(again.activities(timeout=0.05))
        assert server.stream_starts == [0, 2]
        assert server.refreshes == 0  # the reconnect said how long the token lasts: not due yet


def test_resume_without_watermark_replays_the_history(env: Env, dl_server: DirectLineServer) -> None:
    with secret_client(env, dl_server) as client:
        with opened(env, client) as conv:
            conv.send("old")
            take(conv, 2)
        with opened(env, client, conversation_id=conv.conversation_id) as again:
            assert texts(take(again, 2)) == ["old", "echo: old"]
            again.send("new")
            got = take(again, 2)
            assert texts(got) == ["new", "echo: new"]
            assert [a.id for a in got] == server_ids(dl_server, conv.conversation_id)[2:]


# -- sending: errors are the caller's to handle ---------------------------------------------------------------


def test_502_on_post_is_raised_and_not_resent(env: Env, dl_server: DirectLineServer) -> None:
    dl_server.faults.post_failures = [502]
    with secret_client(env, dl_server) as client, opened(env, client) as conv:
        with pytest.raises(BadGatewayError):
            conv.send("fails in the bot")
        assert dl_server.posts == 1
        conv.send("next")
        got = take(conv, 3)
        # the failed one reached the conversation (the bot failed on it): it shows up once, never sent twice
        assert texts(got) == ["fails in the bot", "next", "echo: next"]
        assert dl_server.posts == 2
        assert conv.status is Status.ONLINE


def test_timed_out_post_is_raised_and_not_resent(env: Env, dl_server: DirectLineServer) -> None:
    gate = threading.Event()
    dl_server.faults.post_gate = gate
    try:
        with secret_client(env, dl_server) as client, opened(env, client) as conv:
            with pytest.raises(ServiceResponseTimeoutError):
                conv.send("slow", timeout=0.05)
            assert dl_server.posts == 1
            gate.set()  # the service goes on with it anyway
            assert texts(take(conv, 2)) == ["slow", "echo: slow"]
            assert dl_server.posts == 1
    finally:
        gate.set()


# -- failures to connect ------------------------------------------------------------------------------------


def test_failure_to_start_is_raised_from_with(env: Env, dl_server: DirectLineServer) -> None:
    statuses: list[Any] = []
    before = threading.active_count()
    client = env.construct("DirectLineClient", secret="wrong", endpoint=dl_server.endpoint)
    with client, pytest.raises(PermissionDeniedError), opened(env, client, on_status=statuses.append):
        pytest.fail("must not be entered")
    assert statuses == [Status.CONNECTING, Status.FAILED_TO_CONNECT]
    assert threading.active_count() <= before


def test_resuming_an_unknown_conversation_fails(env: Env, dl_server: DirectLineServer) -> None:
    with (
        secret_client(env, dl_server) as client,
        pytest.raises(ResourceNotFoundError),
        opened(env, client, conversation_id="nope"),
    ):
        pytest.fail("must not be entered")


# -- nothing left behind, nothing leaked ------------------------------------------------------------------------


def test_close_leaves_no_thread_task_or_socket(env: Env, dl_server: DirectLineServer) -> None:
    baseline_threads = threading.active_count()

    async def tasks() -> int:
        return len(asyncio.all_tasks())

    baseline_tasks = env.run(tasks) if env.name == "asyncio" else None
    with secret_client(env, dl_server) as client:
        for _ in range(3):
            with opened(env, client) as conv:
                conv.send("x")
                take(conv, 2)
                assert dl_server.open_streams == 1
            assert not any(t.name == "botconnect-directline-session" for t in threading.enumerate())
            wait_until(lambda: dl_server.open_streams == 0, "the service to see the stream closed")
    wait_until(lambda: threading.active_count() <= baseline_threads, "the WebSocket threads to end")
    if baseline_tasks is not None:
        assert env.run(tasks) == baseline_tasks


def test_cancelling_the_block_stops_everything(async_env: Env, dl_server: DirectLineServer) -> None:
    env = async_env
    assert env.portal is not None
    import anyio

    with secret_client(env, dl_server) as client:
        raw = client.unwrapped
        seen: list[Any] = []

        async def chat_until_cancelled() -> Any:
            with anyio.CancelScope() as scope:
                async with raw.open_conversation() as conv:
                    await conv.send("hi")
                    async for activity in conv.activities():
                        seen.append(activity)
                        if len(seen) == 2:
                            scope.cancel()
            return conv

        conv = env.portal.call(chat_until_cancelled)
        assert texts(seen) == ["hi", "echo: hi"]
        assert conv.status is Status.ENDED
        wait_until(lambda: dl_server.open_streams == 0, "the service to see the stream closed")


def test_cancelling_while_starting_ends_cleanly(async_env: Env) -> None:
    env = async_env
    assert env.portal is not None
    import anyio

    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}"
        client = env.construct("DirectLineClient", secret="s", endpoint=endpoint)
        conv = client.open_conversation()
        raw = conv.unwrapped

        async def start_then_give_up() -> bool:
            with anyio.move_on_after(0.05) as scope:
                async with raw:
                    pytest.fail("must not be entered")
            return scope.cancelled_caught

        with client:
            assert env.portal.call(start_then_give_up)
        assert conv.status is Status.ENDED


def test_tokens_never_reach_logs_or_reprs(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with serve(DirectLineServer()) as server:
        client = token_client(env, server)
        with client, opened(env, client, reconnect_policy=FAST) as conv:
            conv.send("x")
            take(conv, 2)
            server.drop_streams()
            conv.send("y")
            take(conv, 2)
            secrets = {client.token, *server._stream_tokens}
            shown = repr(conv) + repr(client)
        assert server.stream_connects == 2
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "stream?<query>" in logged
    for secret in secrets:
        assert secret not in logged
        assert secret not in shown


# -- one API, two packages ----------------------------------------------------------------------------------


def _public(cls: type) -> dict[str, Any]:
    members = {}
    for name, member in inspect.getmembers(cls):
        if name.startswith("_") and name not in ("__enter__", "__exit__", "__aenter__", "__aexit__"):
            continue
        if isinstance(member, property):
            members[name] = "property"
        elif callable(member):
            members[name] = inspect.signature(member)
    return members


def test_sync_and_async_sessions_have_the_same_api() -> None:
    sync_api = _public(sync_session.DirectLineConversation)
    async_api = _public(async_session.DirectLineConversation)
    sync_api["__aenter__"], sync_api["__aexit__"] = sync_api.pop("__enter__"), sync_api.pop("__exit__")
    assert {k: str(v) for k, v in sync_api.items()} == {k: str(v) for k, v in async_api.items()}
    assert inspect.signature(sync_session.DirectLineConversation) == inspect.signature(
        async_session.DirectLineConversation
    )
    assert sync_session.ConnectionStatus is async_session.ConnectionStatus

    assert str(inspect.signature(botconnect.DirectLineClient.open_conversation)) == str(
        inspect.signature(botconnect_aio.DirectLineClient.open_conversation)
    )
    assert inspect.iscoroutinefunction(async_session.DirectLineConversation.send)
    assert inspect.iscoroutinefunction(async_session.DirectLineConversation.close)
