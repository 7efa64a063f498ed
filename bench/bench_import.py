"""7. Import time (ms) of ``botconnect`` and ``botconnect_aio`` vs ``import httpx``: fresh interpreters, repeated.

Both packages export their names lazily (PEP 562), so ``import botconnect_aio`` alone loads almost nothing; the
``from botconnect_aio import ConnectorClient`` rows are what a program actually pays before its first call, and
carry the same target. Each sample is a new ``python`` process timing its own statement (interpreter start-up,
the same for every statement, is left out). Statements alternate within each round; bytecode caches are warmed
first; the figure is the median, and the ratio the median of per-round ratios (lower is better).
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

from _measure import Context, Row, Stat, compare

GROUP = "import"
TITLE = "import time vs import httpx"
ROUNDS = 15
ROUNDS_QUICK = 3

_TIMER = "import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"


def installed(dist: str) -> bool:
    try:
        importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def import_seconds(statement: str) -> float:
    here = Path(__file__).resolve().parent
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(here.parent), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    out = subprocess.run(
        [sys.executable, "-c", _TIMER.format(statement=statement)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=here.parent,
    ).stdout
    return float(out.strip())


#: key -> (statement, distribution that must be installed or None)
STATEMENTS: dict[str, tuple[str, str | None]] = {
    "httpx": ("import httpx", None),
    "botconnect": ("import botconnect", None),
    "botconnect_aio": ("import botconnect_aio", None),
    "sync_client": ("from botconnect import ConnectorClient", None),
    "aio_client": ("from botconnect_aio import ConnectorClient", None),
    "aio_chat": ("from botconnect_aio import ChatClient", None),
    "bf_aio": ("from botframework.connector.aio import ConnectorClient", "botframework-connector"),
    "acs_aio": ("from azure.communication.chat.aio import ChatClient", "azure-communication-chat"),
}


def run(ctx: Context) -> list[Row]:
    keys = [key for key, (_, dist) in STATEMENTS.items() if dist is None or installed(dist)]
    for key in keys:  # warm the bytecode caches
        import_seconds(STATEMENTS[key][0])
    rounds = ROUNDS_QUICK if ctx.settings.quick else ROUNDS
    stats = {key: Stat([], 1) for key in keys}
    for r in range(rounds):
        for key in keys[r % len(keys) :] + keys[: r % len(keys)]:
            stats[key].samples.append(import_seconds(STATEMENTS[key][0]) * 1000)
    floor = ("httpx", "import httpx (floor)")
    lazy = "PEP 562 lazy exports: nothing but botconnect._version is imported yet"
    first_use = "what a program's first line costs: httpx, attrs, cattrs, anyio and the models load"
    specs = [
        ("botconnect", [(*floor, "")], lazy),
        ("botconnect_aio", [(*floor, "<= 1.5x")], lazy),
        ("sync_client", [(*floor, "")], first_use),
        ("aio_client", [(*floor, "<= 1.5x"), ("bf_aio", STATEMENTS["bf_aio"][0], "")], first_use),
        ("aio_chat", [("acs_aio", STATEMENTS["acs_aio"][0], "")], ""),
    ]
    rows: list[Row] = []
    for key, baselines, note in specs:
        rows += compare(GROUP, STATEMENTS[key][0], "ms", stats, key, baselines, note)
    return rows
