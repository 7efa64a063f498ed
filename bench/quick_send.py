"""Quick figure: ``send_to_conversation`` vs a raw httpx POST of the same bytes (kept for muscle memory).

Same as ``python bench/run.py send --quick``; the full suite is ``nox -s bench`` (``python bench/run.py``).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import main

if __name__ == "__main__":
    sys.exit(main(["send", "--quick", *sys.argv[1:]]))
