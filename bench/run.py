"""botconnect benchmark suite: every figure is a ratio against its floor (or competitor) measured in the same run.

    python bench/run.py                     # all groups; writes bench/results/latest.md and latest.json
    python bench/run.py parse send          # some groups; writes bench/results/partial.md / .json
    python bench/run.py --quick             # small N, a smoke test (< 60 s); writes partial.*
    python bench/run.py --list              # the groups

The loopback HTTP server runs in its own process (pinned to the last CPU; this process and its threads to the
others, unless --no-pin), so it never shares a GIL or a core with the client being measured. The official SDKs
(botbuilder-schema, botframework-connector, azure-communication-chat) and aiohttp are compared when installed (the
nox ``bench`` session installs bench/requirements.txt); otherwise their rows say so. Exit status: 0, or 1 with
--strict when a target is missed.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import platform
import sys
import time
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# bench/ for its modules; the repository root so the working tree's botconnect is what gets measured
for _path in (str(ROOT), str(HERE)):
    if _path in sys.path:
        sys.path.remove(_path)
    sys.path.insert(0, _path)

from _measure import Context, Row, Settings, dist_version  # noqa: E402
from _server import serve, server_loop_name  # noqa: E402

#: group name -> module, in run order
GROUPS = {
    "parse": "bench_parse",
    "send": "bench_send",
    "concurrency": "bench_concurrency",
    "paging": "bench_paging",
    "chat": "bench_chat",
    "directline": "bench_directline",
    "import": "bench_import",
    "auth": "bench_auth",
    "construct": "bench_construct",
}
RESULTS = HERE / "results"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def pin_cpus(enabled: bool) -> tuple[int | None, str]:
    """Pin this process to all CPUs but the last, which the server gets. Returns (server CPU, description)."""
    if not enabled or not hasattr(os, "sched_getaffinity"):
        return None, "not pinned"
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, "not pinned (1 CPU)"
    server_cpu = cpus[-1]
    os.sched_setaffinity(0, set(cpus[:-1]))
    return server_cpu, f"client on CPU {','.join(map(str, cpus[:-1]))}, server on CPU {server_cpu}"


# -- output -------------------------------------------------------------------------------------------------


def fmt_value(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit in ("ms", "MB", "s"):
        return f"{value:,.1f} {unit}"
    return f"{value:,.0f} {unit}"


def fmt_ratio(ratio: float | None) -> str:
    if ratio is None:
        return "-"
    return f"{ratio:.2f}x" if ratio < 100 else f"{ratio:,.0f}x"


def verdict(row: Row) -> str:
    if not row.target:
        return "-"
    if row.passed is None:
        return "n/a"
    return "pass" if row.passed else "MISS"


COLUMNS = ("benchmark", "ours", "vs (floor / competitor)", "theirs", "ratio", "target", "result")


def table_cells(row: Row) -> tuple[str, ...]:
    return (
        row.benchmark,
        fmt_value(row.ours, row.unit),
        row.baseline,
        fmt_value(row.baseline_value, row.unit),
        fmt_ratio(row.ratio),
        row.target or "-",
        verdict(row),
    )


def print_table(rows: list[Row]) -> None:
    cells = [COLUMNS, *(table_cells(r) for r in rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(COLUMNS))]
    right = {1, 3, 4}  # numbers
    for n, line in enumerate(cells):
        padded = [text.rjust(widths[i]) if i in right else text.ljust(widths[i]) for i, text in enumerate(line)]
        print("  ".join(padded).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def markdown(rows: list[Row], meta: dict[str, Any]) -> str:
    out = ["# botconnect benchmarks", ""]
    out += [f"- **{key}**: {value}" for key, value in meta.items()]
    out += [
        "",
        "Each ratio is ours / theirs measured in the same run, interleaved (median of per-round ratios); for times"
        " (import) lower is better. Absolute numbers are not comparable between runs or machines.",
        "",
        "| " + " | ".join(COLUMNS) + " | note |",
        "|" + "---|" * (len(COLUMNS) + 1),
    ]
    for row in rows:
        cells = [c.replace("|", "\\|") for c in table_cells(row)]
        if row.passed is False:
            cells[-1] = "**MISS**"
        out.append("| " + " | ".join(cells) + f" | {row.note.replace('|', '/')} |")
    missed = [r for r in rows if r.passed is False]
    out += ["", f"Targets: {sum(r.passed is True for r in rows)} met, {len(missed)} missed."]
    return "\n".join(out) + "\n"


def write_results(rows: list[Row], meta: dict[str, Any], stem: str) -> Path:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{stem}.md").write_text(markdown(rows, meta))
    payload = {"meta": meta, "results": [r.as_dict() for r in rows]}
    (RESULTS / f"{stem}.json").write_text(json.dumps(payload, indent=2) + "\n")
    return RESULTS / f"{stem}.md"


# -- main ---------------------------------------------------------------------------------------------------


def load(group: str) -> ModuleType:
    return importlib.import_module(GROUPS[group])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="botconnect benchmark suite (ratios against floors, same run)")
    parser.add_argument("groups", nargs="*", metavar="GROUP", help=f"groups to run (default: all): {', '.join(GROUPS)}")
    parser.add_argument("--quick", action="store_true", help="small N: a smoke test, not a measurement")
    parser.add_argument("--no-pin", action="store_true", help="do not pin the client and the server to CPUs")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--list", action="store_true", help="list the groups and exit")
    parser.add_argument("--output", help="results file stem under bench/results (default: latest or partial)")
    args = parser.parse_args(argv)
    if args.list:
        for name in GROUPS:
            print(f"{name:12} {load(name).TITLE}")
        return 0
    unknown = [g for g in args.groups if g not in GROUPS]
    if unknown:
        parser.error(f"unknown group(s) {', '.join(unknown)}; choose from {', '.join(GROUPS)}")
    groups = args.groups or list(GROUPS)
    settings = Settings.for_mode(args.quick)
    server_cpu, pinning = pin_cpus(not args.no_pin)

    started = time.perf_counter()
    rows: list[Row] = []
    failures: list[str] = []
    with serve(cpu=server_cpu) as base:
        ctx = Context(base=base, settings=settings, server_cpu=server_cpu)
        for group in groups:
            t0 = time.perf_counter()
            print(f"== {group}", flush=True)
            try:
                group_rows = load(group).run(ctx)
            except Exception:
                failures.append(group)
                traceback.print_exc()
                continue
            rows += group_rows
            print_table(group_rows)
            print(f"   ({time.perf_counter() - t0:.1f} s)\n", flush=True)

    meta = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{cpu_model()} ({os.cpu_count()} CPUs; {pinning})",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "server": f"bench/_server.py in its own process ({server_loop_name()} loop)",
        "mode": "quick (smoke test: small N, not a measurement)" if args.quick else "full",
        "groups": ", ".join(groups),
        "versions": ", ".join(
            f"{d} {dist_version(d)}"
            for d in (
                "botconnect",
                "httpx",
                "httpcore",
                "aiohttp",
                "botbuilder-schema",
                "botframework-connector",
                "azure-communication-chat",
                "azure-core",
                "orjson",
                "microsoft-teams-api",
                "microsoft-agents-activity",
                "pydantic",
                "pydantic-core",
            )
        ),
        "duration": f"{time.perf_counter() - started:.0f} s",
    }
    full = groups == list(GROUPS) and not args.quick
    path = write_results(rows, meta, args.output or ("latest" if full else "partial"))
    print("== all")
    print_table(rows)
    missed = [r for r in rows if r.passed is False]
    print(f"\nTargets: {sum(r.passed is True for r in rows)} met, {len(missed)} missed. Written: {path}")
    if failures:
        print(f"Groups that failed: {', '.join(failures)}", file=sys.stderr)
        return 2
    return 1 if (args.strict and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
