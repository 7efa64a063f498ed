"""Instructions per operation for Activity parse and serialize, counted by valgrind's callgrind.

    python bench/instructions.py            # ours and the pydantic peers (when installed), small and large
    python bench/instructions.py --ours     # ours only (about a minute)

Wall-clock ratios on a shared machine move by 10-15% from one run to the next; instruction counts do not: the same
code, input and interpreter give the same count whatever else the machine is doing. Each figure is (instructions
of a child process doing N operations - those of the same child doing none) / N, so start-up and imports cancel.

Use it to tell whether a change to our parse or serialize path made it cheaper, not to compare with the peers:
compiled code (pydantic-core is Rust) retires more instructions per cycle than the interpreter, so a ratio of
instructions is not a ratio of times (the peers' columns are there for scale).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
N = 20_000
CASES = ("parse", "serialize")
SIZES = ("small", "large")
LIBRARIES = ("ours", "teams", "agents")
_COLLECTED = re.compile(r"Collected : (\d+)")


def child(library: str, case: str, size: str, n: int) -> None:
    """Run ``n`` operations after a warm-up (imports, the first parse of the document, learned shapes)."""
    for path in (str(ROOT), str(HERE)):
        sys.path.insert(0, path)
    from _fixtures import SMALL_ACTIVITY, TEAMS_MESSAGE

    doc = SMALL_ACTIVITY if size == "small" else TEAMS_MESSAGE
    if library == "ours":
        from botconnect.models import Activity

        parse = Activity.from_json

        def serialize_with(parsed: Activity) -> object:
            return parsed.to_json()

    else:
        if library == "teams":
            from microsoft_teams.api import MessageActivity as model
        else:
            from microsoft_agents.activity import Activity as model
        parse = model.model_validate_json

        def serialize_with(parsed: object) -> object:
            return parsed.model_dump_json(by_alias=True, exclude_none=True).encode("utf-8")  # type: ignore[attr-defined]

    parsed = parse(doc)
    for _ in range(3):  # warm: the first calls compile and learn what later ones reuse
        parse(doc)
        serialize_with(parsed)
    if case == "parse":
        for _ in range(n):
            parse(doc)
    else:
        for _ in range(n):
            serialize_with(parsed)


def count(library: str, case: str, size: str, n: int) -> int:
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        __file__,
        "--child",
        library,
        case,
        size,
        str(n),
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, check=False, env={**os.environ, "PYTHONHASHSEED": "0"}
    )
    found = _COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"{library} {case} {size}: valgrind failed:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def per_operation(library: str, case: str, size: str, n: int) -> int:
    return round((count(library, case, size, n) - count(library, case, size, 0)) / n)


def installed(library: str) -> bool:
    sys.path.insert(0, str(HERE))
    from _measure import optional_import

    module = {"ours": "botconnect", "teams": "microsoft_teams.api", "agents": "microsoft_agents.activity"}[library]
    return optional_import(module) is not None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ours", action="store_true", help="ours only")
    parser.add_argument("-n", type=int, default=N, help=f"operations per count (default {N:,})")
    parser.add_argument("--child", nargs=4, metavar=("LIBRARY", "CASE", "SIZE", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        library, case, size, n = args.child
        child(library, case, size, int(n))
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian: apt-get install valgrind)", file=sys.stderr)
        return 2
    libraries = ["ours"] if args.ours else [lib for lib in LIBRARIES if installed(lib)]
    print(f"instructions per operation ({args.n:,} operations, callgrind); 'x ours' = theirs / ours")
    print(f"{'case':<18}" + "".join(f"{lib:>22}" for lib in libraries))
    for case in CASES:
        for size in SIZES:
            counts = {lib: per_operation(lib, case, size, args.n) for lib in libraries}
            cells = [f"{counts['ours']:>22,}"]
            cells += [f"{counts[lib]:>12,} ({counts[lib] / counts['ours']:.2f}x ours)" for lib in libraries[1:]]
            print(f"{case + ' ' + size:<18}" + "".join(cells), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
