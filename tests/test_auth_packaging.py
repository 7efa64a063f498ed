"""The ``auth`` extra: the base install stays crypto-free, and a missing extra fails with its name, at construction."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("package", ["botconnect", "botconnect_aio"])
def test_the_authenticator_name_does_not_load_pyjwt_or_cryptography(package: str) -> None:
    code = (
        f"import sys, {package}; {package}.BotAuthenticator; {package}.ClaimsIdentity; "
        "print(','.join(m for m in ('jwt', 'cryptography') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert result.stdout.strip() == ""


@pytest.mark.parametrize("package", ["botconnect", "botconnect_aio"])
def test_without_pyjwt_construction_names_the_extra(package: str) -> None:
    # sys.modules[name] = None makes "import jwt" raise ImportError, as in an install without the extra
    code = (
        "import sys; sys.modules['jwt'] = None; "
        f"import {package}\n"
        "try:\n"
        f"    {package}.BotAuthenticator('app-id')\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert "pip install 'botconnect[auth]'" in result.stdout
