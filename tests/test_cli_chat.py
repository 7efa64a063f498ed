"""``python -m botconnect chat``: talking to a bot from a terminal, as a script and as a person at a terminal would."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

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
