"""Child process of the paging group's memory figure: iterate N members, report peak RSS growth as JSON.

    python bench/_memory_child.py BASE_URL CONVERSATION_ID PAGE_SIZE ours|raw

After the first two pages (imports, the connection and the generated converters all exist by then) the child
notes its resident set size and resets the kernel's peak-RSS mark (``/proc/self/clear_refs``); growth is the peak
RSS at the end (``VmHWM``) minus that baseline. (Not ``ru_maxrss``: it keeps the parent's peak across exec.)
A flat iterator holds one page at a time.
"""

from __future__ import annotations

import json
import sys
import time
from urllib.parse import quote

import httpx

import botconnect


def status_mb(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB
    raise RuntimeError(f"no {field} in /proc/self/status")


def mark_baseline() -> float:
    """The current RSS, with the peak mark reset to it (so VmHWM later is the peak since now)."""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
    except OSError:  # not permitted here: fall back to the peak so far (over-states nothing)
        return status_mb("VmHWM")
    return status_mb("VmRSS")


def main() -> None:
    base, conversation, page_size, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    baseline = 0.0
    count = 0
    started = time.perf_counter()
    with httpx.Client() as http:
        if mode == "ours":
            with botconnect.ConnectorClient(base, http_client=http) as client:
                for member in client.conversations.get_conversation_paged_members(conversation, page_size=page_size):
                    member.id  # noqa: B018 - touch the item, as a consumer would
                    count += 1
                    if count == 2 * page_size:
                        baseline = mark_baseline()
        else:
            url = f"{base}/v3/conversations/{quote(conversation, safe='')}/pagedmembers?pageSize={page_size}"
            token = None
            while True:
                data = http.get(url if token is None else f"{url}&continuationToken={token}").json()
                for item in data["members"]:
                    item["id"]
                    count += 1
                    if count == 2 * page_size:
                        baseline = mark_baseline()
                token = data.get("continuationToken")
                if not token:
                    break
    peak = status_mb("VmHWM")
    result = {
        "mode": mode,
        "items": count,
        "seconds": time.perf_counter() - started,
        "baseline_mb": baseline,
        "peak_mb": peak,
        "growth_mb": peak - baseline,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
