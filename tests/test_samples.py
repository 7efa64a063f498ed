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


def test_teams_operations_sample_transcript() -> None:
    """Team, channels, meeting, participant, a partly delivered notification and a batch send to its end."""
    result = subprocess.run(
        [sys.executable, str(SAMPLES / "teams_operations.py")],
        capture_output=True,
        text=True,
        timeout=60,
        env={**_offline_environment(), "PYTHONPATH": str(SAMPLES.parent)},
        check=True,
    )
    assert result.stdout.splitlines() == [
        "team: Emulator Team, 3 members, 2 channels",
        "channels: General, Announcements",
        "answered with the AI label and citation [1] 'Team calendar'",
        "reacted: ['like']",
        "meeting: Emulator stand-up, organised by Ada Lovelace",
        "participant: Grace Hopper is Presenter",
        "notification: not delivered to 00000000-0000-0000-0000-000000000000 (MeetingNotificationRecipientNotFound)",
        "batch: NotStarted -> InProgress -> InProgress -> Completed",
        "batch result: {'201': 3, '404': 3} of 6 entries",
        "failed entries page 1: ['29:left-the-company', '29:never-installed']",
        "failed entries page 2: ['29:guest-elsewhere']",
    ]


def test_streaming_answer_sample_transcript() -> None:
    """The Direct Line user sees the informative update, updates with the whole text so far, then the final."""
    result = subprocess.run(
        [sys.executable, str(SAMPLES / "streaming_answer.py")],
        capture_output=True,
        text=True,
        timeout=60,
        env={**_offline_environment(), "PYTHONPATH": str(SAMPLES.parent)},
        check=True,
    )
    lines = result.stdout.splitlines()
    assert re.fullmatch(r"bot at http://127\.0\.0\.1:\d+/api/messages, emulator at http://127\.0\.0\.1:\d+", lines[0])
    first = "Streaming shows an answer while it is written[1]."
    second = " Each update carries the whole text so far,"
    # one update per interval: the first word of each sentence opens one, the words after it wait for the next
    assert lines[1:] == [
        "you: what is streaming?",
        "[informative 1] Searching the docs...",
        "[streaming 2] Streaming",
        f"[streaming 3] {first} Each",
        f"[streaming 4] {first}{second} and",
        f"[final] {first}{second} and the final message adds the citation. (AI generated: True, citations: 1)",
        "the final message closes the stream the first update opened: True",
    ]


def test_acs_identity_sample_transcript() -> None:
    """Users and tokens from the identity client, chat with them, a revoked token refused, a new one working."""
    result = subprocess.run(
        [sys.executable, str(SAMPLES / "acs_identity.py")],
        capture_output=True,
        text=True,
        timeout=60,
        env={**_offline_environment(), "PYTHONPATH": str(SAMPLES.parent)},
        check=True,
    )
    lines = result.stdout.splitlines()
    users = re.fullmatch(r"created users (8:acs:[\w-]+) and (8:acs:[\w-]+)", lines[0])
    assert users, lines[0]
    assert users[1] != users[2]
    assert lines[1:3] == ["Bob reads: 'Hello Bob'", "Bob's revoked token is refused: 401"]
    assert re.fullmatch(r"Bob sent message \d+ with a new token", lines[3]), lines[3]
    assert lines[4:] == ["deleted both users"]
