"""Every sample runs offline to exit code 0 and prints what it claims to do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
SAMPLE_FILES = sorted(p for p in SAMPLES.glob("*.py") if not p.name.startswith("_"))


@pytest.mark.parametrize("sample", SAMPLE_FILES, ids=lambda p: p.name)
def test_sample_runs_offline(sample: Path) -> None:
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("BOTCONNECT_", "MICROSOFT_APP", "ACS_", "DIRECTLINE_"))
    }
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
        env={**os.environ, "PYTHONPATH": str(SAMPLES.parent)},
        check=True,
    )
    lines = result.stdout.splitlines()
    assert lines[:4] == ["sent activity 1", "replied with activity 2", "updated activity 1", "deleted activity 2"]
    assert lines[-1] == "members page 3: ['User 6'] (next token: None)"
