"""Micro-benchmark of the parse side of paging, without any HTTP: page body bytes -> ``Page`` of models.

Builds one members page (100 Teams-like members, as ``get_conversation_paged_members`` gets them) and one ACS
``list_messages`` page (200 messages) with the same code as the benchmark server, then times, in interleaved
rounds, ``json.loads`` of the body (the floor: what the raw httpx loop pays via ``response.json()``), the SDK's
JSON loader alone, and the SDK's page parser (the ``Operation.parse`` of those calls). Prints items/s and the
ratio of the page parser to ``json.loads``.

    python bench/micro_parse_pages.py                 # with orjson when installed
    python bench/micro_parse_pages.py --no-orjson     # force the standard library JSON path
    python bench/micro_parse_pages.py --profile       # plus a cProfile of the page parsers
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import statistics
import time
from collections.abc import Callable
from typing import Any

import httpx
from _server import _members_page, _messages_page

from botconnect._core import serde
from botconnect._core.paging import Page
from botconnect._core.requests.chat import build_list_messages, chat_context
from botconnect._core.requests.connector import build_get_conversation_paged_members

MEMBERS_PER_PAGE = 100
MESSAGES_PER_PAGE = 200
ORIGIN = "http://127.0.0.1:8000"
THREAD_PATH = "/chat/threads/msgs-5000/messages"


def members_case() -> tuple[bytes, Callable[[httpx.Response], Page[Any]], httpx.Request]:
    body = _members_page(10_000, 0, MEMBERS_PER_PAGE)
    op = build_get_conversation_paged_members(httpx.URL(ORIGIN), "members-10000", MEMBERS_PER_PAGE, None)
    return body, op.parse, op.request


def messages_case() -> tuple[bytes, Callable[[httpx.Response], Page[Any]], httpx.Request]:
    body = _messages_page(ORIGIN, THREAD_PATH, 5_000, 0, MESSAGES_PER_PAGE, "2024-03-07")
    factory = build_list_messages(chat_context(ORIGIN, "2024-03-07"), "msgs-5000", MESSAGES_PER_PAGE, None)
    op = factory(None)
    return body, op.parse, op.request


def _timer(fn: Callable[[], object], batch: int) -> Callable[[], float]:
    def run() -> float:
        start = time.perf_counter()
        for _ in range(batch):
            fn()
        return time.perf_counter() - start

    return run


def compare(name: str, items: int, cases: dict[str, Callable[[], object]], rounds: int, target_s: float) -> None:
    # calibrate every case to about target_s per batch, then interleave the batches so drift hits all alike
    batches: dict[str, int] = {}
    for label, fn in cases.items():
        n = 1
        while True:
            start = time.perf_counter()
            for _ in range(n):
                fn()
            if time.perf_counter() - start >= target_s / 4 or n >= 1 << 20:
                elapsed = (time.perf_counter() - start) / n
                batches[label] = max(1, int(target_s / elapsed))
                break
            n *= 2
    timers = {label: _timer(fn, batches[label]) for label, fn in cases.items()}
    per_item: dict[str, list[float]] = {label: [] for label in cases}
    labels = list(cases)
    for r in range(rounds):
        for label in labels[r % len(labels) :] + labels[: r % len(labels)]:
            per_item[label].append(timers[label]() / (batches[label] * items))
    print(f"\n{name} ({items} items/page)")
    for label in labels:
        # the ratio is the median of per-round ratios: drift of the machine between rounds cancels out
        ratio = statistics.median(f / t for f, t in zip(per_item["json.loads"], per_item[label], strict=True))
        print(f"  {label:<24} {1 / statistics.median(per_item[label]):>12,.0f} items/s   {ratio:5.2f}x json.loads")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-orjson", action="store_true", help="use the standard library JSON path")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of each page parser")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--batch-seconds", type=float, default=0.1)
    args = parser.parse_args()
    if args.no_orjson:
        serde._orjson = None
    print(f"JSON loader: {'orjson' if serde._orjson is not None else 'json (standard library)'}")

    for name, make, items in (
        ("paged members", members_case, MEMBERS_PER_PAGE),
        ("ACS list_messages", messages_case, MESSAGES_PER_PAGE),
    ):
        body, parse, request = make()
        page = parse(httpx.Response(200, content=body, request=request))
        assert len(page.items) == items, "the page must parse into every item"
        response = httpx.Response(200, content=body, request=request)
        cases: dict[str, Callable[[], object]] = {
            "json.loads": lambda body=body: json.loads(body),
            "serde.loads": lambda body=body: serde.loads(body),
            "page parser": lambda parse=parse, response=response: parse(response),
        }
        compare(name, items, cases, args.rounds, args.batch_seconds)
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(300):
                parse(response)
            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
