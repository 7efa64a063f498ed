"""Developer tasks: `nox -s tests`, `nox -s lint`, `nox -s docs`, `nox -s package`, `nox -s bench`."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "docs", "package"]
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


@nox.session
def docs(session: nox.Session) -> None:
    """The documentation site: `mkdocs build --strict` (fails on a public name without a docstring, a broken
    reference or link); `nox -s docs -- serve` serves it on http://127.0.0.1:8000 with live reload."""
    session.install("-e", ".[docs]")
    session.env["NO_MKDOCS_2_WARNING"] = "1"
    session.run("python", "docs/_hooks/api_inventory.py")  # names each undocumented public name, exits 1
    if session.posargs[:1] == ["serve"]:
        session.run("mkdocs", "serve", *session.posargs[1:])
    else:
        session.run("mkdocs", "build", "--strict", "--site-dir", "site", *session.posargs)


@nox.session
def package(session: nox.Session) -> None:
    """Build the sdist and wheel, `twine check` them, install the wheel here and run the quickstart from outside
    the checkout (so it is the installed package that runs, not the source tree)."""
    import pathlib
    import shutil
    import tempfile

    session.install("build", "twine")
    dist = pathlib.Path(tempfile.mkdtemp(prefix="botconnect-dist-"))
    session.run("python", "-m", "build", "--outdir", str(dist))
    artifacts = sorted(str(path) for path in dist.iterdir())
    session.run("twine", "check", "--strict", *artifacts)
    wheel = next(path for path in artifacts if path.endswith(".whl"))
    session.install(f"{wheel}[emulator]")
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="botconnect-quickstart-"))
    shutil.copy("samples/quickstart.py", workdir)
    session.chdir(str(workdir))
    where = "import botconnect; assert 'site-packages' in botconnect.__file__, botconnect.__file__"
    session.run("python", "-c", where)
    session.run("python", "quickstart.py")
