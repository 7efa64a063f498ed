"""Interop: our Direct Line client against a server nobody on this project wrote.

``offline-directline`` (npm, pinned in tests/interop/offline_directline/package-lock.json) speaks the polling half of
Direct Line 3.0 in front of a botbuilder 4.x echo bot; tests/interop/offline_directline/server.js runs both on
127.0.0.1. The fixture runs ``npm ci`` when node_modules is missing or stale and fails loudly without Node/npm
(``BOTCONNECT_SKIP_NODE=1`` is the only way to skip).

offline-directline's quirks, and what each means for botconnect (none needed an SDK change):

1. Its client routes are ``/directline/...`` (the "domain" WebChat/DirectLineJS are given), not ``/v3/directline/...``.
   botconnect always appends ``/v3/directline`` to its endpoint, so server.js also mounts the package's router
   under ``/v3``, as a reverse proxy would. (SDK gap, not a bug: no way to give a DirectLineJS-style base URL.)
2. ``POST /conversations`` answers ``{"conversationId", "expiresIn"}``: no token, no streamUrl, and ``expiresIn``
   where Direct Line 3.0 has ``expires_in``, so ``expires_in`` is None and the value lands in
   ``additional_properties``. No streamUrl: a session that wants to stream falls back to polling.
3. The watermark is a JSON number (an index into the conversation's history), not a string: the model keeps it as
   its string, and the string goes back as ``?watermark=2``, which the server reads with ``Number()``.
4. A poll with nothing new answers the watermark it was given (0 when none was), so "no news" has a watermark.
5. The history holds the user's own activities (stamped ``channelId: emulator``, a uuid id, no timestamp) and the
   bot's; the bot's ``from`` is always overwritten to ``{"id": "id", "name": "Bot"}``. The conversationUpdate it
   sends the bot at start is not in the history, and there is no greeting (``membersAdded`` is empty).
6. ``POST .../activities`` answers only after the bot's turn is over, with the bot's HTTP status and
   ``{"id": ...}``; so with one post at a time the history alternates message, echo, message, echo.
7. Unknown conversations: 400 with an empty body. Token routes (generate, refresh) don't exist: Express's 404 with
   an HTML body. Reconnect, upload and stream are stubs that never answer: only a client timeout ends them.
   ``POST /conversations`` never answers either when the bot cannot be reached (the package drops that error).
8. No auth: the ``Authorization: Bearer <secret>`` we send is ignored.
"""

from __future__ import annotations

import logging
import os
import queue
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from botconnect import RetryPolicy
from botconnect.errors import HttpResponseError, ResourceNotFoundError, ServiceResponseTimeoutError

from .harness import Env, PortalProxy

NODE_PROJECT = Path(__file__).resolve().parent / "interop" / "offline_directline"
SKIP_ENV = "BOTCONNECT_SKIP_NODE"
NPM_CI_TIMEOUT = 300.0
READY_TIMEOUT = 30.0
#: bounded polling for a real external server: up to POLLS polls, POLL_PAUSE seconds apart (no timing asserted)
POLLS = 100
POLL_PAUSE = 0.05
NO_RETRY = RetryPolicy(max_attempts=1)
USER = {"id": "user-1", "name": "Interop User"}
BOT_ID = "id"  # quirk 5: offline-directline stamps every bot activity from {"id": "id", "name": "Bot"}


# -- the Node side ------------------------------------------------------------------------------------------


@dataclass
class NodeServer:
    """``node server.js``: offline-directline at ``endpoint``, the echo bot at ``bot_url``."""

    endpoint: str
    bot_url: str
    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    def log(self) -> str:
        return "".join(self.output[-60:])


def _npm_ci_needed() -> bool:
    installed = NODE_PROJECT / "node_modules" / ".package-lock.json"  # npm writes it once an install completes
    lock = NODE_PROJECT / "package-lock.json"
    return not installed.is_file() or installed.stat().st_mtime < lock.stat().st_mtime


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"`{name}` is not on PATH: the offline-directline interop tests need Node.js and npm "
            f"(set {SKIP_ENV}=1 to skip them deliberately)",
            pytrace=False,
        )
    return path


def _npm_ci(npm: str) -> None:
    try:
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=NODE_PROJECT,
            capture_output=True,
            text=True,
            timeout=NPM_CI_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"`npm ci` in {NODE_PROJECT} took over {NPM_CI_TIMEOUT:.0f} s", pytrace=False)
    if done.returncode != 0:
        pytest.fail(
            f"`npm ci` in {NODE_PROJECT} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}",
            pytrace=False,
        )


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _drain(stream: Any, lines: queue.Queue[str | None], output: list[str]) -> None:
    """Read the child's output to the end (so its pipe never fills), keeping it for failure messages."""
    for line in stream:
        output.append(line)
        lines.put(line)
    lines.put(None)


def _stop(server: NodeServer) -> None:
    """Stop the server and anything it started: close its stdin (it exits), else SIGTERM/SIGKILL its group."""
    process = server.process
    if process.stdin is not None:
        process.stdin.close()
    try:
        process.wait(timeout=3)
    except subprocess.TimeoutExpired:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            os.killpg(process.pid, sig)  # our child's own process group (start_new_session=True)
            try:
                process.wait(timeout=3)
                break
            except subprocess.TimeoutExpired:
                continue
    if server.reader is not None:
        server.reader.join(timeout=3)  # it reaches the end of the output once the process is gone
    if process.stdout is not None and (server.reader is None or not server.reader.is_alive()):
        process.stdout.close()


def _start(node: str) -> NodeServer | str:
    """Start ``node server.js`` on two free loopback ports; the server, or why it did not come up."""
    dl_port, bot_port = _free_ports(2)
    process = subprocess.Popen(
        [node, "server.js", str(dl_port), str(bot_port)],
        cwd=NODE_PROJECT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    server = NodeServer(f"http://127.0.0.1:{dl_port}", f"http://127.0.0.1:{bot_port}/api/messages", process)
    lines: queue.Queue[str | None] = queue.Queue()
    server.reader = threading.Thread(target=_drain, args=(process.stdout, lines, server.output), daemon=True)
    server.reader.start()
    expected = f"READY directline={server.endpoint} bot={server.bot_url}"
    deadline = time.monotonic() + READY_TIMEOUT
    problem = None
    while problem is None:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            problem = f"no READY line within {READY_TIMEOUT:.0f} s"
            continue
        if line is None:
            problem = "server.js exited"
        elif line.startswith("READY"):
            if line.strip() == expected:
                return server
            problem = f"expected {expected!r}, got {line.strip()!r}"
    _stop(server)
    return f"{problem} (exit status {process.returncode}); its output:\n{server.log()}"


@pytest.fixture(scope="session")
def offline_directline() -> Iterator[NodeServer]:
    if os.environ.get(SKIP_ENV) == "1":
        pytest.skip(f"{SKIP_ENV}=1: offline-directline interop tests skipped on request")
    node, npm = _tool("node"), _tool("npm")
    if _npm_ci_needed():
        _npm_ci(npm)
    failures = []
    for _ in range(3):  # a free port can be taken between picking it and node binding it: try fresh ones
        started = _start(node)
        if isinstance(started, NodeServer):
            break
        failures.append(started)
    else:
        pytest.fail("offline-directline did not start:\n" + "\n".join(failures), pytrace=False)
    try:
        yield started
    finally:
        _stop(started)


# -- helpers ------------------------------------------------------------------------------------------------


def client_for(env: Env, server: NodeServer) -> Any:
    return env.construct("DirectLineClient", secret="not-checked", endpoint=server.endpoint, timeout=10)


def say(text: str) -> dict[str, Any]:
    return {"type": "message", "from": USER, "text": text}


def poll_until(
    client: Any, conversation_id: str, watermark: str | None, done: Callable[[list[Any]], bool]
) -> tuple[list[Any], str | None, int]:
    """Poll from ``watermark`` until ``done(everything received)``: (activities, last watermark, polls made)."""
    received: list[Any] = []
    for polls in range(1, POLLS + 1):
        page = client.conversations.get_activities(conversation_id, watermark)
        received.extend(page.activities or [])
        if page.watermark is not None:
            watermark = page.watermark
        if done(received):
            return received, watermark, polls
        time.sleep(POLL_PAUSE)
    pytest.fail(f"gave up after {POLLS} polls; received {[(a.type, a.text) for a in received]}")


def echoes(count: int) -> Callable[[list[Any]], bool]:
    return lambda activities: sum(1 for a in activities if a.from_property and a.from_property.id == BOT_ID) >= count


def described(activities: list[Any]) -> list[tuple[str, str | None]]:
    return [(a.from_property.id if a.from_property else "?", a.text) for a in activities]


# -- the low-level client -----------------------------------------------------------------------------------


def test_start_post_and_poll_the_echo(env: Env, offline_directline: NodeServer) -> None:
    with client_for(env, offline_directline) as client:
        conversation = client.conversations.start_conversation()
        cid = conversation.conversation_id
        assert cid
        # quirk 2: no token or stream URL, and the lifetime under a camelCase key
        assert conversation.token is None
        assert conversation.stream_url is None
        assert conversation.expires_in is None
        assert conversation.additional_properties == {"expiresIn": 1800}

        # quirk 4: nothing yet (no greeting), but a numeric watermark all the same
        first = client.conversations.get_activities(cid)
        assert first.activities == []
        assert first.watermark == "0"

        posted = client.conversations.post_activity(cid, say("hello"))
        assert posted.id

        received, watermark, _ = poll_until(client, cid, first.watermark, echoes(1))
        assert described(received) == [(USER["id"], "hello"), (BOT_ID, "echo: hello")]
        mine, echo = received
        assert mine.id == posted.id
        assert mine.type == echo.type == "message"
        assert mine.conversation.id == echo.conversation.id == cid
        assert echo.id
        assert echo.id != mine.id
        assert echo.reply_to_id == mine.id
        assert echo.recipient.id == USER["id"]
        assert watermark == "2"

        # polling from the latest watermark repeats nothing, and keeps the watermark
        again = client.conversations.get_activities(cid, watermark)
        assert again.activities == []
        assert again.watermark == watermark
        # while polling from the start replays exactly the same history
        replay = client.conversations.get_activities(cid)
        assert [a.id for a in replay.activities] == [mine.id, echo.id]
        assert replay.watermark == watermark


def test_several_messages_arrive_once_each_and_in_order(env: Env, offline_directline: NodeServer) -> None:
    words = ["one", "two", "three", "four"]
    with client_for(env, offline_directline) as client:
        cid = client.conversations.start_conversation().conversation_id
        sent = [client.conversations.post_activity(cid, say(word)).id for word in words]
        assert len(set(sent)) == len(words)

        received, watermark, _ = poll_until(client, cid, None, echoes(len(words)))
        # quirk 6: each post returns after the bot's turn, so the history alternates message and echo
        expected: list[tuple[str, str | None]] = []
        for word in words:
            expected += [(USER["id"], word), (BOT_ID, f"echo: {word}")]
        assert described(received) == expected
        ids = [a.id for a in received]
        assert all(ids)
        assert len(set(ids)) == len(ids)
        assert ids[0::2] == sent
        assert [a.reply_to_id for a in received[1::2]] == sent
        assert watermark == str(len(expected))

        # resuming from a saved watermark in the middle gets exactly the rest
        rest = client.conversations.get_activities(cid, "4")
        assert [a.id for a in rest.activities] == ids[4:]
        assert rest.watermark == watermark
        assert client.conversations.get_activities(cid, watermark).activities == []


def test_conversations_are_separate(env: Env, offline_directline: NodeServer) -> None:
    with client_for(env, offline_directline) as client:
        first = client.conversations.start_conversation().conversation_id
        second = client.conversations.start_conversation().conversation_id
        assert first != second
        client.conversations.post_activity(first, say("for the first"))
        client.conversations.post_activity(second, say("for the second"))
        got_first, _, _ = poll_until(client, first, None, echoes(1))
        got_second, _, _ = poll_until(client, second, None, echoes(1))
        assert described(got_first) == [(USER["id"], "for the first"), (BOT_ID, "echo: for the first")]
        assert described(got_second) == [(USER["id"], "for the second"), (BOT_ID, "echo: for the second")]


def test_unknown_conversation_is_a_400(env: Env, offline_directline: NodeServer) -> None:
    with client_for(env, offline_directline) as client:
        with pytest.raises(HttpResponseError) as polled:
            client.conversations.get_activities("no-such-conversation")
        assert polled.value.status_code == 400
        with pytest.raises(HttpResponseError) as posted:
            client.conversations.post_activity("no-such-conversation", say("anyone?"))
        assert posted.value.status_code == 400


def test_missing_token_routes_are_a_clean_404(env: Env, offline_directline: NodeServer) -> None:
    # quirk 7: Express's HTML "Cannot POST" page, not a Direct Line error body
    with client_for(env, offline_directline) as client:
        with pytest.raises(ResourceNotFoundError) as generated:
            client.tokens.generate_token()
        assert generated.value.status_code == 404
        with pytest.raises(ResourceNotFoundError):
            client.tokens.refresh_token()


def test_a_route_that_never_answers_ends_with_our_timeout(env: Env, offline_directline: NodeServer) -> None:
    # quirk 7: reconnect is a stub that logs and never responds; the per-call timeout must end the wait
    with client_for(env, offline_directline) as client:
        cid = client.conversations.start_conversation().conversation_id
        with pytest.raises(ServiceResponseTimeoutError):
            client.conversations.reconnect_to_conversation(cid, timeout=0.5, retry_policy=NO_RETRY)
        # and the client is still good for the routes that work
        assert client.conversations.get_activities(cid).activities == []


# -- the conversation session (polling: offline-directline has no stream) --------------------------------------
# Not covered here (it takes minutes): a session that fell back to polling retries the stream every
# stream_retry_interval (300 s) with a reconnect, which offline-directline never answers, so polling stalls for the
# whole retried timeout (30 s x 4 attempts, 120 s deadline by default) every time.


@contextmanager
def session(env: Env, client: Any, **options: Any) -> Iterator[Any]:
    """``with`` / ``async with`` ``client.open_conversation(**options)`` for any flavour."""
    raw = client.unwrapped if isinstance(client, PortalProxy) else client
    conversation = raw.open_conversation(**options)
    if env.portal is None:
        with conversation as opened:
            yield opened
    else:
        with env.portal.wrap_async_context_manager(conversation) as opened:
            yield PortalProxy(opened, env.portal)


@pytest.mark.parametrize("streaming", [False, True], ids=["polling", "stream-falls-back"])
def test_session_sends_and_receives_by_polling(
    env: Env, offline_directline: NodeServer, streaming: bool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="botconnect")
    with (
        client_for(env, offline_directline) as client,
        session(env, client, user=USER["id"], streaming=streaming, poll_interval=0.1) as conversation,
    ):
        assert conversation.conversation_id
        first = conversation.send("hello")
        second = conversation.send("again")
        iterator = conversation.activities(timeout=10)
        received = [next(iterator) for _ in range(4)]
        assert described(received) == [
            (USER["id"], "hello"),
            (BOT_ID, "echo: hello"),
            (USER["id"], "again"),
            (BOT_ID, "echo: again"),
        ]
        assert [received[0].id, received[2].id] == [first, second]
        assert [received[1].reply_to_id, received[3].reply_to_id] == [first, second]
        assert conversation.watermark == "4"
        # nothing is handed out twice, however many polls happen meanwhile
        with pytest.raises(TimeoutError):
            next(conversation.activities(timeout=0.5))
    # streaming=True: quirk 2 (no streamUrl) is what made the session poll; no stream was ever tried
    fell_back = [r for r in caplog.records if "no stream URL" in r.getMessage()]
    assert len(fell_back) == (1 if streaming else 0)
    assert not [r for r in caplog.records if "stream open" in r.getMessage()]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
