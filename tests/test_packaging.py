"""Package shape: typed, every public name resolves, and importing a package does not load the heavy parts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import botconnect
import botconnect_aio

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("package", [botconnect, botconnect_aio], ids=lambda p: p.__name__)
def test_every_public_name_resolves(package: object) -> None:
    names = package.__all__  # type: ignore[attr-defined]
    assert len(set(names)) == len(names), "duplicate names in __all__"
    for name in names:
        assert getattr(package, name) is not None, name
    assert set(names) <= set(dir(package))


@pytest.mark.parametrize("package", ["botconnect", "botconnect_aio"])
def test_py_typed_is_shipped(package: str) -> None:
    assert (ROOT / package / "py.typed").is_file()


@pytest.mark.parametrize("package", ["botconnect", "botconnect_aio"])
def test_import_is_lazy(package: str) -> None:
    # serverless bots pay for imports on every cold start: the models, cattrs and the WebSocket stack load on use
    code = (
        f"import sys, {package}; "
        "heavy = [m for m in ('cattrs', 'httpx_ws', 'trio', 'botconnect.models') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert result.stdout.strip() == ""


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'NotAThing'"):
        _ = botconnect_aio.NotAThing  # type: ignore[attr-defined]
