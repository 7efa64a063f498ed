"""Developer tasks: `nox -s tests`, `nox -s lint`, `nox -s bench`."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite (sync, asyncio and trio flavours; contract tests against ../shared/reference)."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (lint + format check) and mypy --strict on the packages."""
    session.install("-e", ".[lint]")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy", "--strict", "botconnect", "botconnect_aio")


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks (bench/run.py): ratios vs raw clients and the official SDKs on loopback; `-- --quick` to smoke."""
    session.install("-e", ".[emulator,speed]", "-r", "bench/requirements.txt")
    session.run("python", "bench/run.py", *session.posargs)
