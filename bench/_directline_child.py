"""Child process of the directline group: the local Direct Line emulator (botconnect._devserver), in its own process.

    python bench/_directline_child.py [CPU]

Prints ``ENDPOINT <url> SECRET <secret>`` and serves until its stdin closes.
"""

from __future__ import annotations

import os
import sys

from botconnect._devserver.directline import DirectLineServer, serve


def main() -> None:
    if len(sys.argv) > 1 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {int(sys.argv[1])})
    with serve(DirectLineServer()) as server:
        print(f"ENDPOINT {server.endpoint} SECRET {server.secret}", flush=True)
        sys.stdin.read()  # until the benchmark closes our stdin (or exits)


if __name__ == "__main__":
    main()
