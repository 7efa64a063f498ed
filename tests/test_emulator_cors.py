"""Cross-origin use of the emulator, as a browser does it: preflights, the headers that make answers readable, and
refusals for foreign origins (REST and WebSocket), against a served emulator over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from httpx_ws import WebSocketUpgradeError, connect_ws

from botconnect.emulator import Emulator
from botconnect.emulator.__main__ import main
from botconnect.emulator.cors import normalize_origin

EXTRA = "https://app.example.com"
LOOPBACK_ORIGINS = [
    "http://localhost:3000",
    "http://localhost",
    "https://127.0.0.1:8443",
    "http://[::1]:5173",
    "HTTP://LocalHost:3000",
]
FOREIGN_ORIGINS = [
    "https://evil.example",
    "http://localhost.evil.example",
    "http://127.0.0.1.nip.io",
    "https://app.example.com:8443",  # the configured origin on another port is another origin
    "null",
    "file://",
    "not an origin",
]


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(cors_origins=[EXTRA + ":443/"]) as running:
        yield running


def preflight(emulator: Emulator, origin: str, path: str = "/v3/directline/conversations") -> httpx.Response:
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,x-ms-bot-agent,x-custom-thing",
    }
    with httpx.Client(base_url=emulator.url) as http:
        return http.options(path, headers=headers)


def call(emulator: Emulator, method: str, path: str, origin: str | None, **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {emulator.secret}"}
    if origin is not None:
        headers["Origin"] = origin
    with httpx.Client(base_url=emulator.url) as http:
        return http.request(method, path, headers=headers, **kwargs)


def listed(value: str) -> set[str]:
    return {item.strip().lower() for item in value.split(",")}


@pytest.mark.parametrize("origin", [*LOOPBACK_ORIGINS, EXTRA])
def test_a_preflight_from_an_allowed_origin_is_answered(emulator: Emulator, origin: str) -> None:
    answer = preflight(emulator, origin)
    assert answer.status_code == 204
    assert answer.headers["access-control-allow-origin"] == origin  # echoed, never a wildcard
    assert answer.headers["access-control-allow-credentials"] == "true"
    assert {"get", "post", "put", "delete", "options"} <= listed(answer.headers["access-control-allow-methods"])
    allowed = listed(answer.headers["access-control-allow-headers"])
    assert {"authorization", "content-type", "x-ms-bot-agent", "x-custom-thing"} <= allowed
    assert int(answer.headers["access-control-max-age"]) > 0
    assert "origin" in listed(answer.headers["vary"])
    assert answer.content == b""


def test_every_answer_to_an_allowed_origin_is_readable_with_credentials(emulator: Emulator) -> None:
    origin = "http://localhost:3000"
    before = emulator.directline.conversation_ids()
    started = call(emulator, "POST", "/v3/directline/conversations", origin)
    assert started.status_code == 201
    cid = started.json()["conversationId"]
    assert cid not in before
    session = call(emulator, "GET", "/v3/directline/session/getsessionid", origin)
    missing = call(emulator, "GET", "/v3/directline/conversations/nope/activities", origin)
    for answer in (started, session, missing):
        assert answer.headers["access-control-allow-origin"] == origin
        assert answer.headers["access-control-allow-credentials"] == "true"
        assert "origin" in listed(answer.headers["vary"])
        assert "retry-after" in listed(answer.headers["access-control-expose-headers"])
    assert session.status_code == 200
    assert missing.status_code == 404  # errors too: the page can read why


def test_requests_without_an_origin_are_untouched(emulator: Emulator) -> None:
    answer = call(emulator, "POST", "/v3/directline/conversations", None)
    assert answer.status_code == 201
    assert not any(name.startswith("access-control-") for name in answer.headers)


@pytest.mark.parametrize("origin", FOREIGN_ORIGINS)
def test_a_foreign_origin_is_refused_and_nothing_happens(emulator: Emulator, origin: str) -> None:
    answer = preflight(emulator, origin)
    assert answer.status_code == 403
    assert "access-control-allow-origin" not in answer.headers
    before = emulator.directline.conversation_ids()
    posted = call(emulator, "POST", "/v3/directline/conversations", origin)  # as if the preflight were skipped
    assert posted.status_code == 403
    assert posted.json()["error"]["code"] == "Forbidden"
    assert "access-control-allow-origin" not in posted.headers
    assert emulator.directline.conversation_ids() == before  # the well-known secret got it nothing


def test_the_websocket_upgrade_checks_the_origin(emulator: Emulator) -> None:
    started = call(emulator, "POST", "/v3/directline/conversations", None).json()
    url = started["streamUrl"].replace("ws://", "http://")
    with httpx.Client() as http:
        with pytest.raises(WebSocketUpgradeError) as refused, connect_ws(url, http, headers={"Origin": EXTRA + ":1"}):
            pass
        assert refused.value.response.status_code == 403
        with connect_ws(url, http, headers={"Origin": "http://localhost:3000"}) as ws:
            ws.send_text("")  # an empty frame: the service ignores it, the stream stays open
    assert emulator.directline.stream_connects >= 1


def test_the_emulators_own_origin_is_allowed(emulator: Emulator) -> None:
    # a page the emulator serves itself, reached under a non-loopback name (served with --allow-remote)
    headers = {
        "Host": "devbox.lan:5005",
        "Origin": "http://devbox.lan:5005",
        "Authorization": f"Bearer {emulator.secret}",
    }
    with httpx.Client(base_url=emulator.url) as http:
        answer = http.get("/v3/directline/session/getsessionid", headers=headers)
        other = http.get("/v3/directline/session/getsessionid", headers={**headers, "Origin": "http://devbox.lan:6006"})
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "http://devbox.lan:5005"
    assert other.status_code == 403


def test_origins_are_normalized_and_checked() -> None:
    assert normalize_origin("HTTPS://App.Example.com:443/") == "https://app.example.com"
    assert normalize_origin("http://[::1]:80") == "http://[::1]"
    assert normalize_origin("http://localhost:3000") == "http://localhost:3000"
    for bad in ["app.example.com", "ftp://x", "https://x/path", "https://u:p@x", "https://x?q=1", "https://x:99999"]:
        with pytest.raises(ValueError, match="origin"):
            normalize_origin(bad)
    with pytest.raises(ValueError, match="origin"):
        Emulator(socket=False, cors_origins=["https://x/path"])


def test_the_command_line_takes_cors_origins(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--cors-origin", "not-an-origin", "--port", "0"]) == 2
    assert "bad --cors-origin" in capsys.readouterr().err
