"""7. Import time (ms) of ``botconnect`` and ``botconnect_aio`` vs ``import httpx``: fresh interpreters, repeated.

Both packages export their names lazily (PEP 562), so ``import botconnect_aio`` alone loads almost nothing; the
``from botconnect_aio import ConnectorClient`` rows are what a program actually pays before its first call, and
carry the same target. The models and the converter load on the first call (or when the program builds its first
model), so the ``first call`` rows time the import plus one ``send_to_conversation`` of an activity parsed from a
dict, against ``import httpx`` plus one raw POST of the same bytes. Each sample is a new ``python`` process timing
its own statement (interpreter start-up, the same for every statement, is left out). Statements alternate within
each round; bytecode caches are warmed first, in a cache directory of the run's own (``PYTHONPYCACHEPREFIX``, so
``PYTHONDONTWRITEBYTECODE`` in the environment cannot leave our modules compiled from source on every sample while
httpx's come from site-packages' caches); the figure is the median, and the ratio the median of per-round ratios
(lower is better).
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
import tempfile
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


def import_seconds(statement: str, cache: str) -> float:
    here = Path(__file__).resolve().parent
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(here.parent), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = cache
    done = subprocess.run(
        [sys.executable, "-c", _TIMER.format(statement=statement)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=here.parent,
    )
    if done.returncode:
        raise RuntimeError(f"{statement!r} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return float(done.stdout.strip().splitlines()[-1])


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

#: import + one send: ours parses the activity from its wire dict (as a bot does with the incoming one) and sends it
#: on a new client; the floor imports httpx and POSTs the same bytes. ``{base}`` is the bench server.
_ACTIVITY = "{'type': 'message', 'text': 'hi', 'from': {'id': 'bot'}, 'recipient': {'id': 'user'}}"
_PATH = "/v3/conversations/a%3A1/activities"
FIRST_CALLS: dict[str, str] = {
    "httpx_first": (
        "import asyncio, json, httpx; body = json.dumps(" + _ACTIVITY + ").encode()\n"
        "async def main():\n"
        " async with httpx.AsyncClient() as c:\n"
        "  (await c.post('{base}" + _PATH + "', content=body, headers={'Content-Type': 'application/json'}))"
        ".raise_for_status()\n"
        "asyncio.run(main())"
    ),
    "aio_first": (
        "import asyncio; from botconnect_aio import Activity, ConnectorClient\n"
        "async def main():\n"
        " async with ConnectorClient('{base}') as c:\n"
        "  await c.conversations.send_to_conversation('a:1', Activity.from_dict(" + _ACTIVITY + "))\n"
        "asyncio.run(main())"
    ),
    "sync_httpx_first": (
        "import json, httpx; body = json.dumps(" + _ACTIVITY + ").encode()\n"
        "with httpx.Client() as c:\n"
        " c.post('{base}" + _PATH + "', content=body, headers={'Content-Type': 'application/json'})"
        ".raise_for_status()"
    ),
    "sync_first": (
        "from botconnect import Activity, ConnectorClient\n"
        "with ConnectorClient('{base}') as c:\n"
        " c.conversations.send_to_conversation('a:1', Activity.from_dict(" + _ACTIVITY + "))"
    ),
}


def run(ctx: Context) -> list[Row]:
    statements = {key: statement for key, (statement, dist) in STATEMENTS.items() if dist is None or installed(dist)}
    statements |= {key: template.replace("{base}", ctx.base) for key, template in FIRST_CALLS.items()}
    keys = list(statements)
    cache = tempfile.mkdtemp(prefix="botconnect-bench-pycache-")
    try:
        for key in keys:  # warm the bytecode caches
            import_seconds(statements[key], cache)
        rounds = ROUNDS_QUICK if ctx.settings.quick else ROUNDS
        stats = {key: Stat([], 1) for key in keys}
        for r in range(rounds):
            for key in keys[r % len(keys) :] + keys[: r % len(keys)]:
                stats[key].samples.append(import_seconds(statements[key], cache) * 1000)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    floor = ("httpx", "import httpx (floor)")
    lazy = "PEP 562 lazy exports: nothing but botconnect._version is imported yet"
    first_use = "what a program's first line costs: httpx, attrs, anyio and the transport load; models on first use"
    first_call = "the models, the converter and anyio's backend load here; the floor pays for its own first call"
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
    rows += compare(
        GROUP,
        "import + first send_to_conversation, async (a new process)",
        "ms",
        stats,
        "aio_first",
        [("httpx_first", "import httpx + first raw AsyncClient POST", "")],
        first_call,
    )
    rows += compare(
        GROUP,
        "import + first send_to_conversation, sync (a new process)",
        "ms",
        stats,
        "sync_first",
        [("sync_httpx_first", "import httpx + first raw Client POST", "")],
        first_call,
    )
    return rows
