"""The benchmark suite keeps running (a smoke run with small N; its numbers are not read, only that it works)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_bench_quick_run_completes(tmp_path: Path) -> None:
    output = tmp_path / "smoke"
    result = subprocess.run(
        [sys.executable, "bench/run.py", "parse", "send", "paging", "chat", "--quick", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for row in ("Activity parse", "send_to_conversation, sync", "paged members", "ACS list_messages"):
        assert row in result.stdout, row
    assert output.with_suffix(".md").is_file()
