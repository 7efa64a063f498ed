"""samples/teams_sso_bot.py, offline against the emulator's token service: what it prints is what happened."""

from __future__ import annotations

import re
import subprocess
import sys

from .test_samples import SAMPLES, _offline_environment


def test_teams_sso_sample_transcript() -> None:
    result = subprocess.run(
        [sys.executable, str(SAMPLES / "teams_sso_bot.py")],
        capture_output=True,
        text=True,
        timeout=60,
        env={**_offline_environment(), "PYTHONPATH": str(SAMPLES.parent)},
        check=True,
    )
    lines = result.stdout.splitlines()
    found = re.fullmatch(
        r"token service at (http://127\.0\.0\.1:\d+) \(the emulator\), OAuth connection 'graph'", lines[0]
    )
    assert found, lines[0]
    url = re.escape(found[1])
    assert lines[1] == "not signed in: the bot sent an OAuthCard for 'graph'"
    assert re.fullmatch(rf"  sign-in link {url}/api/oauth/signin\?signin=[\w-]+", lines[2]), lines[2]
    assert lines[3:] == [
        "  SSO resource api://botid-00000000-0000-0000-0000-0000000550b0",
        "the user signed in on the sign-in page and got a 6-digit magic code",
        "signin/verifyState answered 200; signed in: True",
        "user said 'hi again': You are signed in.",
        'signin/tokenExchange answered 200: {"id":"sso-exchange-1","connectionName":"graph"}',
        "the same signin/tokenExchange again answered 200 (duplicate: True); exchanges sent to the token service: 1",
        "signin/tokenExchange with a token it cannot exchange answered 412: "
        "The bot is unable to exchange token. Proceed with regular login.",
        "user said 'logout': You are signed out.",
        "token status after sign-out: [('graph', False)]",
    ]
    assert "emu-user." not in result.stdout  # the sample never prints a user's token
