"""Importing a client loads no models and no converter: they load on the first call (issue 16).

``from botconnect_aio import ConnectorClient`` used to load every Connector model and cattrs; a bot that only
forwards bytes, or a serverless cold start, paid for them before its first line ran. The first call loads them
and still sends the right request and parses the answer.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .rawhttp import RawServer, Received, response

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("cattrs", "botconnect.models", "botconnect.models.activity", "botconnect._core.serde", "anyio.streams.tls")

_FIRST_CALL = {
    "botconnect": (
        "from botconnect import ConnectorClient\n"
        "{report}\n"
        "with ConnectorClient({url!r}) as client:\n"
        "    result = client.conversations.send_to_conversation('a:1', {activity!r})\n"
    ),
    "botconnect_aio": (
        "import asyncio\n"
        "from botconnect_aio import ConnectorClient\n"
        "{report}\n"
        "async def main():\n"
        "    async with ConnectorClient({url!r}) as client:\n"
        "        return await client.conversations.send_to_conversation('a:1', {activity!r})\n"
        "result = asyncio.run(main())\n"
    ),
}
_REPORT = f"import sys; print([m for m in {HEAVY!r} if m in sys.modules])"


def _run(code: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


@pytest.mark.parametrize("package", ["botconnect", "botconnect_aio"])
def test_importing_the_client_loads_no_models_and_no_converter(package: str) -> None:
    (loaded,) = _run(f"from {package} import ConnectorClient\n{_REPORT}")
    assert loaded == "[]"


@pytest.mark.parametrize("package", ["botconnect", "botconnect_aio"])
def test_the_first_call_loads_them_and_works(package: str) -> None:
    def answer(request: Received) -> bytes:
        return response(201, b'{"id": "activity-7"}', "Content-Type: application/json")

    activity = {"type": "message", "text": "hi", "from": {"id": "bot"}}
    with RawServer(lambda peer: peer.serve(answer)) as server:
        code = _FIRST_CALL[package].format(report=_REPORT, url=server.url, activity=activity)
        before, type_and_id, after = _run(code + "print(type(result).__name__, result.id)\n" + _REPORT)
    assert before == "[]"
    assert type_and_id == "ResourceResponse activity-7"
    assert "cattrs" in after
    assert "botconnect.models.activity" in after
    (request,) = server.requests
    assert (request.method, request.target) == (b"POST", b"/v3/conversations/a%3A1/activities")
    assert request.header(b"content-type") == b"application/json; charset=utf-8"
    assert json.loads(request.body) == activity
