"""The built distribution works on its own: build the sdist and wheel from this checkout, install the wheel into a
fresh virtual environment and run the quickstart there, away from the source tree.

Offline: the wheel is built without build isolation (hatchling from this environment) and installed with
``--no-index --no-deps``; the fresh environment borrows the third-party dependencies of this one through a
``.pth`` line (a path entry: this environment's editable botconnect is not visible through it), so every
``botconnect`` import in the run resolves to the installed wheel. ``nox -s package`` does the same with a real
``pip install`` of the wheel and its dependencies, plus ``twine check``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

import botconnect

ROOT = Path(__file__).resolve().parents[1]


def _run(*command: str | Path, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, timeout=300, cwd=cwd, env=env, check=False
    )


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    built = _run(sys.executable, "-m", "build", "--no-isolation", "--outdir", out, ROOT, cwd=ROOT)
    assert built.returncode == 0, built.stdout + built.stderr
    return out


def _wheel(dist: Path) -> Path:
    (wheel,) = dist.glob("*.whl")
    return wheel


@pytest.fixture(scope="module")
def venv(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("fresh") / "venv"
    created = _run(sys.executable, "-m", "venv", "--without-pip", where, cwd=where.parent)
    assert created.returncode == 0, created.stderr
    python = where / "bin" / "python"
    site = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=where).stdout.strip())
    (site / "_borrowed_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n", encoding="utf-8")
    installed = _run(
        sys.executable, "-m", "pip", "--python", python, "install", "--no-index", "--no-deps", _wheel(dist), cwd=where
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return where


def _clean_environment() -> dict[str, str]:
    """No PYTHONPATH and none of the variables that point the quickstart at real services."""
    return {
        key: value
        for key, value in os.environ.items()
        if key != "PYTHONPATH" and not key.startswith(("BOTCONNECT_", "MICROSOFT_APP", "ACS_", "DIRECTLINE_"))
    }


def test_the_wheel_holds_both_packages_typed_and_nothing_else(dist: Path) -> None:
    names = zipfile.ZipFile(_wheel(dist)).namelist()
    tops = {name.split("/", 1)[0] for name in names}
    assert tops == {"botconnect", "botconnect_aio", f"botconnect-{botconnect.__version__}.dist-info"}
    assert {"botconnect/py.typed", "botconnect_aio/py.typed", "botconnect/emulator/pytest_plugin.py"} <= set(names)
    metadata = zipfile.ZipFile(_wheel(dist)).read(f"botconnect-{botconnect.__version__}.dist-info/METADATA").decode()
    assert f"Version: {botconnect.__version__}\n" in metadata
    assert "License-Expression: MIT" in metadata
    assert "Provides-Extra: trio" in metadata
    assert "Provides-Extra: emulator" in metadata


def test_the_sdist_carries_the_license_changelog_and_tests(dist: Path) -> None:
    (sdist,) = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {"LICENSE", "CHANGELOG.md", "README.md", "pyproject.toml", "samples/quickstart.py"} <= names
    assert "botconnect/_version.py" in names


def test_the_installed_wheel_is_what_imports_in_the_fresh_environment(venv: Path, tmp_path: Path) -> None:
    probe = (
        "import importlib.metadata as m, botconnect, botconnect_aio, botconnect.emulator.pytest_plugin\n"
        "print(botconnect.__file__); print(botconnect_aio.__file__); print(botconnect.__version__)\n"
        "print(m.version('botconnect'))\n"
        "print(sorted(e.value for e in m.entry_points(group='pytest11') if e.name == 'botconnect_emulator'))\n"
    )
    result = _run(venv / "bin" / "python", "-c", probe, cwd=tmp_path, env=_clean_environment())
    assert result.returncode == 0, result.stderr
    sync_file, aio_file, version, distribution_version, plugins = result.stdout.splitlines()
    assert Path(sync_file).is_relative_to(venv), sync_file
    assert Path(aio_file).is_relative_to(venv), aio_file
    assert version == distribution_version == botconnect.__version__
    assert plugins == "['botconnect.emulator.pytest_plugin']"
    assert (venv / "bin" / "botconnect-emulator").is_file()


def test_the_quickstart_runs_from_the_installed_wheel(venv: Path, tmp_path: Path) -> None:
    script = tmp_path / "quickstart.py"
    script.write_text((ROOT / "samples" / "quickstart.py").read_text(encoding="utf-8"), encoding="utf-8")
    result = _run(venv / "bin" / "python", script, cwd=tmp_path, env=_clean_environment())
    assert result.returncode == 0, result.stderr
    transcript = result.stdout
    assert "Weather Bot" in transcript
    assert "sunny, 24°C" in transcript  # the bot's answer to "what's the weather in Paris?" made the round trip
