"""``python -m botconnect.emulator`` as a user runs it: a subprocess on a free port, what it prints, using it, stopping
it with Ctrl+C; and the options it refuses."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import botconnect
from botconnect.models import Activity, ChannelAccount

ROOT = Path(__file__).resolve().parents[1]


def _environment() -> dict[str, str]:
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join([str(ROOT), environment.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return environment


class Running:
    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def until(self, marker: str) -> list[str]:
        seen: list[str] = []
        while True:
            line = self.lines.get(timeout=20)
            if line is None:
                pytest.fail(f"the emulator exited before printing {marker!r}: {seen}")
            seen.append(line)
            if marker in line:
                return seen


@pytest.fixture
def started() -> Iterator[Running]:
    command = [sys.executable, "-m", "botconnect.emulator", "--port", "0", "--secret", "cli-secret", "--seed", "3"]
    command += ["--fault", "503:/v3/directline/tokens:1:7", "--token-lifetime", "900"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_environment())
    running = Running(process)
    try:
        yield running
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        assert process.stdout is not None
        assert process.stderr is not None
        process.stdout.close()
        process.stderr.close()


def test_it_prints_what_it_serves_serves_it_and_stops_on_ctrl_c(started: Running) -> None:
    banner = started.until("Press Ctrl+C")
    match = re.fullmatch(r"botconnect emulator on (http://127\.0\.0\.1:\d+)", banner[0])
    assert match, banner
    url = match.group(1)
    text = "\n".join(banner)
    assert f"Direct Line  endpoint {url}  secret cli-secret" in text
    assert f"Connector    serviceUrl {url}/" in text
    assert "ACS Chat" in text
    assert "503 on /v3/directline/tokens at 1.0" in text

    with botconnect.DirectLineClient(secret="cli-secret", endpoint=url) as client:
        started_conversation = client.conversations.start_conversation()
        assert started_conversation.expires_in == 900
        cid = started_conversation.conversation_id
        client.conversations.post_activity(
            cid, Activity(type="message", text="hi", from_property=ChannelAccount(id="u"))
        )
        texts = [a.text for a in client.conversations.get_activities(cid).activities]
    assert texts == ["hi", "echo: hi"]
    refused = httpx.post(url + "/v3/directline/tokens/generate", headers={"Authorization": "Bearer cli-secret"})
    assert (refused.status_code, refused.headers["retry-after"]) == (503, "7")

    started.process.send_signal(signal.SIGINT)
    assert started.process.wait(20) == 0
    assert "botconnect emulator stopped" in started.until("stopped")[-1]


def test_the_acs_sample_token_is_printed_when_acs_is_there(started: Running) -> None:
    banner = "\n".join(started.until("Press Ctrl+C"))
    if "ACS Chat     not available" in banner:
        pytest.skip("botconnect.emulator.acs is not available")
    assert re.search(r"token \S+\.\S+\.\S*", banner)  # a JWT, as ACS issues
    started.process.send_signal(signal.SIGTERM)
    assert started.process.wait(20) == 0


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        (["--host", "0.0.0.0"], "not a loopback address"),
        (["--fault", "teapot"], "bad fault options"),
        (["--error-rate", "2"], "bad fault options"),
        (["--app-id", "only-the-id"], "--app-id and --app-password go together"),
    ],
)
def test_refused_options(arguments: list[str], complaint: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "botconnect.emulator", "--port", "0", *arguments],
        capture_output=True,
        text=True,
        timeout=30,
        env=_environment(),
        check=False,
    )
    assert result.returncode == 2
    assert complaint in result.stderr


def test_help_lists_the_options() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "botconnect.emulator", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        env=_environment(),
        check=True,
    )
    for option in ("--host", "--port", "--bot", "--secret", "--token-lifetime", "--latency", "--error-rate", "--seed"):
        assert option in result.stdout
