"""The chat page's files are package data: a built wheel carries them, and the emulator serves them from there."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from botconnect.emulator.__main__ import _banner
from botconnect.emulator.faults import Faults
from botconnect.emulator.server import Emulator

ROOT = Path(__file__).resolve().parents[1]
STATIC = ["index.html", "chat.js", "render.js", "chat.css"]


def test_the_wheel_carries_the_chat_page(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    (wheel,) = tmp_path.glob("botconnect-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for name in STATIC:
            path = f"botconnect/emulator/static/{name}"
            assert path in names
            assert archive.read(path) == (ROOT / path).read_bytes()
    assert "botconnect/emulator/chat_page.py" in names
    assert "botconnect/emulator/inspector.py" in names


def test_the_banner_links_the_chat_page() -> None:
    with Emulator() as emulator:
        lines = _banner(emulator, Faults())
        url = emulator.url
    assert lines[0] == f"botconnect emulator on {url}"
    assert lines[1].split() == [
        "Chat",
        "page",
        f"{url}/",
        "(chat",
        "with",
        "the",
        "bot,",
        "inspect",
        "every",
        "activity)",
    ]
