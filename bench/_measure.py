"""Timing harness and result rows: every figure is a ratio against its floor, measured in the same run.

Cases of one comparison are calibrated to the same batch duration, then timed in interleaved rounds (the order
rotates each round), so slow drifts of a noisy machine hit both sides alike. A case is a function that performs
``n`` operations (``case(n)``, or ``await case(n)``); the rate is operations (or items) per second. The ratio is
the median of the per-round ratios (each round pairs ours with the floor measured moments apart).
"""

from __future__ import annotations

import gc
import importlib
import importlib.metadata
import statistics
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field
from types import ModuleType
from typing import Any

__all__ = [
    "NOT_INSTALLED",
    "AsyncCase",
    "Context",
    "Row",
    "Settings",
    "Stat",
    "SyncCase",
    "check",
    "compare",
    "dist_version",
    "label",
    "measure",
    "measure_async",
    "optional_import",
    "paired_ratio",
]

SyncCase = Callable[[int], object]
AsyncCase = Callable[[int], Awaitable[object]]


@dataclass(frozen=True)
class Settings:
    rounds: int = 7  # timed rounds per case (interleaved)
    seconds: float = 0.4  # target duration of one timed batch
    warmup: float = 0.15  # untimed calibration time per case
    quick: bool = False

    @classmethod
    def for_mode(cls, quick: bool) -> Settings:
        return cls(rounds=2, seconds=0.05, warmup=0.02, quick=True) if quick else cls()


@dataclass
class Stat:
    """Rates of one case, one per round (operations or items per second)."""

    samples: list[float]
    batch: int  # operations per timed batch

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def spread(self) -> float:
        """(max - min) / median: how noisy this case was."""
        return (max(self.samples) - min(self.samples)) / self.median if self.median else 0.0


@dataclass
class Row:
    """One line of the results table."""

    group: str
    benchmark: str
    ours: float | None
    unit: str
    baseline: str
    baseline_value: float | None
    ratio: float | None  # ours / baseline for rates; ours / baseline for times (lower is better)
    target: str = ""  # e.g. ">= 0.85x", "<= 1.5x", "< 20 MB"
    passed: bool | None = None  # None: informational (no target) or not measured
    note: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def check(value: float | None, target: str) -> bool | None:
    """Whether ``value`` meets ``target`` (``">= 0.85x"``, ``"<= 1.5x"``, ``"< 20 MB"``)."""
    if value is None or not target:
        return None
    op, number = target.split()[:2]
    bound = float(number.rstrip("x"))
    return {">=": value >= bound, "<=": value <= bound, "<": value < bound, ">": value > bound}[op]


def paired_ratio(ours: Stat, floor: Stat) -> float:
    """Median over rounds of ours/floor measured in the same round."""
    return statistics.median(a / b for a, b in zip(ours.samples, floor.samples, strict=True))


def _next_size(n: int, elapsed: float, spent: float, settings: Settings, start: int) -> tuple[int, bool]:
    """Calibration step: (batch size, done). Done once a batch lasted ``warmup`` (the runs double as warm-up)."""
    if elapsed >= settings.warmup or spent >= 4 * settings.warmup:
        return max(start, round(settings.seconds * n / max(elapsed, 1e-9))), True
    return max(n * 2, round(n * min(settings.warmup / max(elapsed, 1e-9), 64.0))), False


def measure(
    cases: Mapping[str, SyncCase],
    settings: Settings,
    *,
    items_per_op: int = 1,
    start: int = 1,
) -> dict[str, Stat]:
    """Time sync cases in interleaved rounds; rates are ``items_per_op`` items per operation per second."""

    def timed(case: SyncCase, n: int) -> float:
        gc.collect()
        begin = time.perf_counter()
        case(n)
        return time.perf_counter() - begin

    sizes: dict[str, int] = {}
    for name, case in cases.items():
        n, spent, done = start, 0.0, False
        while not done:
            elapsed = timed(case, n)
            spent += elapsed
            n, done = _next_size(n, elapsed, spent, settings, start)
        sizes[name] = n
    stats = {name: Stat([], sizes[name]) for name in cases}
    names = list(cases)
    for r in range(settings.rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            n = sizes[name]
            stats[name].samples.append(n * items_per_op / timed(cases[name], n))
    return stats


async def measure_async(
    cases: Mapping[str, AsyncCase],
    settings: Settings,
    *,
    items_per_op: int = 1,
    start: int = 1,
) -> dict[str, Stat]:
    """:func:`measure` for coroutine cases, all on the running event loop."""

    async def timed(case: AsyncCase, n: int) -> float:
        gc.collect()
        begin = time.perf_counter()
        await case(n)
        return time.perf_counter() - begin

    sizes: dict[str, int] = {}
    for name, case in cases.items():
        n, spent, done = start, 0.0, False
        while not done:
            elapsed = await timed(case, n)
            spent += elapsed
            n, done = _next_size(n, elapsed, spent, settings, start)
        sizes[name] = n
    stats = {name: Stat([], sizes[name]) for name in cases}
    names = list(cases)
    for r in range(settings.rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            n = sizes[name]
            stats[name].samples.append(n * items_per_op / await timed(cases[name], n))
    return stats


def optional_import(module: str) -> ModuleType | None:
    """The module, or None when it is not installed (official SDKs exist only in the bench environment)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def dist_version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def label(dist: str, extra: str = "") -> str:
    """``"<dist> <version> <extra>"`` for the table's competitor column."""
    try:
        text = f"{dist} {importlib.metadata.version(dist)}"
    except importlib.metadata.PackageNotFoundError:
        text = dist
    return f"{text} {extra}" if extra else text


@dataclass(frozen=True)
class Context:
    """What every group gets: the loopback server's base URL and the timing settings."""

    base: str
    settings: Settings
    #: the CPU the servers are pinned to (None: not pinned); child servers a group starts use it too
    server_cpu: int | None = None


NOT_INSTALLED = "not installed here (the nox bench session installs bench/requirements.txt)"


def compare(
    group: str,
    benchmark: str,
    unit: str,
    stats: Mapping[str, Stat],
    ours: str,
    baselines: list[tuple[str, str, str]],
    note: str = "",
) -> list[Row]:
    """Rows for ``stats[ours]`` against each ``(key, label, target)``; a missing key is a baseline not installed."""
    mine = stats[ours]
    rows = []
    for key, label, target in baselines:
        floor = stats.get(key)
        if floor is None:
            rows.append(Row(group, benchmark, mine.median, unit, label, None, None, target, None, NOT_INSTALLED))
            continue
        ratio = paired_ratio(mine, floor)
        detail = {
            "ours_samples": [round(x, 1) for x in mine.samples],
            "baseline_samples": [round(x, 1) for x in floor.samples],
            "ours_batch": mine.batch,
            "baseline_batch": floor.batch,
        }
        passed = check(ratio, target)
        rows.append(Row(group, benchmark, mine.median, unit, label, floor.median, ratio, target, passed, note, detail))
    return rows
