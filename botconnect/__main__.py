"""``python -m botconnect``: command-line tools (``chat``: talk to a bot over Direct Line from a terminal)."""

from __future__ import annotations

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
