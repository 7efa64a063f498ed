"""Every sample runs offline to exit code 0 and prints what it claims to do."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
SAMPLE_FILES = sorted(p for p in SAMPLES.glob("*.py") if not p.name.startswith("_"))


def _offline_environment() -> dict[str, str]:
    """The environment without the variables that point samples at real services."""
    return {
        k: v for k, v in os.environ.items() if not k.startswith(("BOTCONNECT_", "MICROSOFT_APP", "ACS_", "DIRECTLINE_"))
    }


@pytest.mark.parametrize("sample", SAMPLE_FILES, ids=lambda p: p.name)
def test_sample_runs_offline(sample: Path) -> None:
    environment = _offline_environment()
    environment["PYTHONPATH"] = str(SAMPLES.parent)
    result = subprocess.run(
        [sys.executable, str(sample)], capture_output=True, text=True, timeout=60, env=environment, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip(), "a sample should show what it did"


def test_connector_sample_transcript() -> None:
    result = subprocess.run(
        [sys.executable, str(SAMPLES / "connector_bot.py")],
        capture_output=True,
        text=True,
        timeout=60,
        env={**_offline_environment(), "PYTHONPATH": str(SAMPLES.parent)},
        check=True,
    )
    lines = result.stdout.splitlines()
    created = re.fullmatch(r"created conversation (\S+) on the local emulator at http://127\.0\.0\.1:\d+/", lines[0])
    assert created, lines[0]
    first, second = f"{created[1]}|0000000", f"{created[1]}|0000001"  # the emulator's activity ids: log positions
    assert lines[1:5] == [
        f"sent activity {first}",
        f"replied with activity {second}",
        f"updated activity {first}",
        f"deleted activity {second}",
    ]
    assert lines[5:] == [
        "members page 1: ['Sample Bot', 'User 1', 'User 2'] (more: True)",
        "members page 2: ['User 3', 'User 4', 'User 5'] (more: True)",
        "members page 3: ['User 6'] (more: False)",
    ]


@pytest.mark.parametrize("sample", ["aiohttp_bot.py", "starlette_bot.py"])
def test_receiving_sample_transcript(sample: str) -> None:
    """The secured endpoint answers the emulator's signed deliveries and refuses a forged token."""
    result = subprocess.run(
        [sys.executable, str(SAMPLES / sample)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**_offline_environment(), "PYTHONPATH": str(SAMPLES.parent)},
        check=True,
    )
    lines = result.stdout.splitlines()
    assert re.fullmatch(
        r"bot at http://127\.0\.0\.1:\d+/api/messages, emulator at http://127\.0\.0\.1:\d+ .*", lines[0]
    )
    assert lines[1:] == [
        "bot replied: You said: hello",
        "a forged request was answered 401",
        "invoke answered 200: approved request 42",
        "expectReplies answered with ['You said: inline please']",
    ]
