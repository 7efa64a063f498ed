"""The bot account the emulator's Direct Line plays (``--bot-id`` / ``--bot-name``), from the command line, as a user
runs it: a subprocess on a free port, used over HTTP, stopped with Ctrl+C."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import botconnect
from botconnect.models import Activity, ChannelAccount

ROOT = Path(__file__).resolve().parents[1]


def _environment() -> dict[str, str]:
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join([str(ROOT), environment.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return environment


def _banner(process: subprocess.Popen[str]) -> list[str]:
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    seen: list[str] = []
    while not seen or "Press Ctrl+C" not in seen[-1]:
        line = lines.get(timeout=20)
        if line is None:
            pytest.fail(f"the emulator exited early: {seen}")
        seen.append(line)
    return seen


def test_the_bot_account_comes_from_the_command_line() -> None:
    command = [sys.executable, "-m", "botconnect.emulator", "--port", "0", "--bot-id", "my-bot", "--bot-name", "My Bot"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_environment())
    try:
        banner = _banner(process)
        match = re.fullmatch(r"botconnect emulator on (http://127\.0\.0\.1:\d+)", banner[0])
        assert match, banner
        url = match.group(1)
        assert any("account 'my-bot' (My Bot)" in line for line in banner), banner
        with (
            botconnect.DirectLineClient(secret="dev-secret", endpoint=url) as client,
            botconnect.ConnectorClient(url + "/") as connector,
        ):
            cid = client.conversations.start_conversation().conversation_id
            assert cid is not None
            user = ChannelAccount(id="user-1")
            client.conversations.post_activity(cid, Activity(type="message", text="hi", from_property=user))
            connector.conversations.send_to_conversation(cid, Activity(type="message", text="proactive"))
            activities = client.conversations.get_activities(cid).activities
            members = connector.conversations.get_conversation_members(cid)
        senders = [(a.text, a.from_property.id, a.from_property.name) for a in activities]
        assert senders == [
            ("hi", "user-1", None),
            ("echo: hi", "my-bot", "My Bot"),
            ("proactive", "my-bot", "My Bot"),
        ]
        assert activities[1].recipient.id == "user-1"
        assert ("my-bot", "My Bot") in [(m.id, m.name) for m in members]
        assert "echo-bot" not in [m.id for m in members]
        process.send_signal(signal.SIGINT)
        process.wait(20)
        assert process.returncode == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        for stream in (process.stdout, process.stderr):
            assert stream is not None
            stream.close()


@pytest.mark.parametrize("option", ["--bot-id", "--bot-name"])
def test_an_empty_bot_account_is_refused(option: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "botconnect.emulator", "--port", "0", option, " "],
        capture_output=True,
        text=True,
        timeout=60,
        env=_environment(),
        check=False,
    )
    assert result.returncode == 2
    assert "must not be empty" in result.stderr
