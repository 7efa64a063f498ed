"""``python -m botconnect chat``: talking to a bot from a terminal, as a script and as a person at a terminal would."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from botconnect.emulator import Emulator

ROOT = Path(__file__).resolve().parents[1]


def _environment() -> dict[str, str]:
    """No variable that would point the chat at a real service; the checkout first on the path."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("BOTCONNECT_", "DIRECTLINE_"))}
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return environment


def _chat(stdin: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "botconnect", "chat", *arguments],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env=_environment(),
        cwd=ROOT,
        check=False,
    )


def test_chat_with_the_emulator_from_piped_input() -> None:
    result = _chat("hello\n/quit\n", "--emulator")
    assert result.returncode == 0, result.stderr
    assert "echo: hello" in result.stdout
    assert "online" in result.stderr  # status changes go to stderr, replies to stdout
    assert "online" not in result.stdout


def test_end_of_input_leaves_after_the_last_answer() -> None:
    result = _chat("one\ntwo", "--emulator")  # no /quit, and no newline after the last line
    assert result.returncode == 0, result.stderr
    assert [line for line in result.stdout.splitlines() if "echo:" in line] == [
        "Echo Bot> echo: one",
        "Echo Bot> echo: two",
    ]


def test_the_bot_ending_the_conversation_ends_the_chat_with_input_still_open() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "botconnect", "chat", "--emulator"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_environment(),
        cwd=ROOT,
    )
    try:
        assert process.stdin is not None
        process.stdin.write("bye\n")
        process.stdin.flush()  # and left open: the echo bot's endOfConversation must end the chat by itself
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "echo: bye" in out
    assert "ended the conversation" in out


def test_the_private_emulator_says_so_and_how_to_join_a_running_one() -> None:
    result = _chat("/quit\n", "--emulator")
    assert result.returncode == 0, result.stderr
    assert "started a private emulator" in result.stderr
    assert "python -m botconnect.emulator" in result.stderr
    assert "python -m botconnect chat --endpoint http://127.0.0.1:5005 --secret dev-secret" in result.stderr


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _no_traceback(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr
    assert "ExceptionGroup" not in stderr, stderr


def test_a_message_the_bot_fails_is_reported_and_the_chat_goes_on() -> None:
    with Emulator() as emulator:
        emulator.directline.faults.post_failures = [502]  # the bot fails the first message only
        result = _chat("first\nsecond\n/quit\n", "--endpoint", emulator.url, "--secret", emulator.secret)
        texts = [
            a.get("text") for cid in emulator.directline.conversation_ids() for a in emulator.directline.activities(cid)
        ]
    _no_traceback(result.stderr)
    assert result.returncode == 0, result.stderr
    assert "* not delivered: BadGatewayError" in result.stderr
    assert "echo: first" not in result.stdout
    assert "Echo Bot> echo: second" in result.stdout
    assert texts == ["first", "second", "echo: second"]


def test_an_unreachable_bot_is_reported_for_each_message() -> None:
    with Emulator(bot=f"http://127.0.0.1:{_closed_port()}/api/messages") as emulator:
        result = _chat("one\ntwo\n/quit\n", "--endpoint", emulator.url, "--secret", emulator.secret)
    _no_traceback(result.stderr)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("* not delivered: BadGatewayError") == 2
    assert "online" in result.stderr  # the chat itself stayed up


def test_an_unreachable_service_is_one_typed_error() -> None:
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    result = _chat("hello\n", "--endpoint", endpoint, "--secret", "dev-secret")
    _no_traceback(result.stderr)
    assert result.returncode == 1
    assert re.search(r"^error: \w+Error: ", result.stderr, re.MULTILINE), result.stderr


def test_no_credentials_is_a_clear_error() -> None:
    result = _chat("", "--user", "me")
    assert result.returncode != 0
    assert "--secret, --token or --emulator" in result.stderr


# -- as a person would: in a real terminal (tmux) --------------------------------------------------------------------


@pytest.fixture
def tmux() -> Iterator[list[str]]:
    """The tmux command on a private server (its own socket), killed afterwards whatever happened."""
    if shutil.which("tmux") is None:
        if os.environ.get("BOTCONNECT_SKIP_TMUX") == "1":
            pytest.skip("tmux is not installed (BOTCONNECT_SKIP_TMUX=1)")
        pytest.fail("tmux is needed to test the terminal chat as a person would: apt-get install -y tmux")
    command = ["tmux", "-L", f"botconnect-test-{uuid.uuid4().hex[:12]}"]
    try:
        yield command
    finally:
        subprocess.run([*command, "kill-server"], capture_output=True, timeout=10, check=False)


def _pane(tmux: list[str]) -> str:
    result = subprocess.run(
        [*tmux, "capture-pane", "-p", "-t", "chat"], capture_output=True, text=True, timeout=10, check=False
    )
    return result.stdout


def _wait_for(predicate: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_chat_in_a_terminal(tmux: list[str], tmp_path: Path) -> None:
    status_file = tmp_path / "status"
    script = f"{sys.executable} -m botconnect chat --emulator --user ada; echo $? > {status_file}"
    subprocess.run(
        [*tmux, "new-session", "-d", "-s", "chat", "-x", "120", "-y", "30", "sh", "-c", script],
        env={**_environment(), "TERM": "xterm"},
        cwd=ROOT,
        timeout=10,
        check=True,
    )
    _wait_for(lambda: "/quit to leave" in _pane(tmux), "the chat to be ready")

    subprocess.run([*tmux, "send-keys", "-t", "chat", "hi there", "Enter"], timeout=10, check=True)
    _wait_for(lambda: "echo: hi there" in _pane(tmux), "the bot's answer on the screen")
    screen = _pane(tmux)
    assert screen.index("hi there") < screen.index("Echo Bot> echo: hi there")  # typed, then answered

    subprocess.run([*tmux, "send-keys", "-t", "chat", "/quit", "Enter"], timeout=10, check=True)

    def session_gone() -> bool:
        has = subprocess.run([*tmux, "has-session", "-t", "chat"], capture_output=True, timeout=10, check=False)
        return has.returncode != 0

    _wait_for(session_gone, "the chat to end after /quit", timeout=20)
    assert status_file.read_text().strip() == "0"
