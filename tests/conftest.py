from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .harness import FLAVOURS, Env, FakeService, flavour_env

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"


@pytest.fixture(params=FLAVOURS)
def env(request: pytest.FixtureRequest) -> Iterator[Env]:
    """The package under test, three ways: sync, async on asyncio, async on trio."""
    with flavour_env(request.param) as flavour:
        yield flavour


@pytest.fixture(params=[f for f in FLAVOURS if f != "sync"])
def async_env(request: pytest.FixtureRequest) -> Iterator[Env]:
    """The async package only, on asyncio and on trio (for behaviour with no sync counterpart: cancellation)."""
    with flavour_env(request.param) as flavour:
        yield flavour


@pytest.fixture
def fake() -> FakeService:
    return FakeService()


@pytest.fixture
def reference() -> Path:
    if not REFERENCE.is_dir():
        pytest.fail(f"reference material not found at {REFERENCE}: ../shared must sit beside the project")
    return REFERENCE
