"""The activity inspector's feed (``GET /_emulator/inspector``): what a conversation sent the bot, with the bot's
status and latency, and what the bot posted back, with the emulator's status."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from botconnect.emulator import Emulator


def _client(emulator: Emulator) -> httpx.Client:
    return httpx.Client(
        base_url=emulator.url, headers={"Authorization": f"Bearer {emulator.secret}"}, trust_env=False, timeout=20
    )


def _feed(client: httpx.Client, conversation_id: str, after: int = 0) -> dict[str, Any]:
    answer = client.get("/_emulator/inspector", params={"conversationId": conversation_id, "after": after})
    assert answer.status_code == 200
    body: dict[str, Any] = answer.json()
    return body


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator() as running:
        yield running


def _start(client: httpx.Client) -> str:
    started = client.post("/v3/directline/conversations")
    assert started.status_code == 201
    conversation_id: str = started.json()["conversationId"]
    return conversation_id


def test_both_directions_with_status_and_latency(emulator: Emulator) -> None:
    with _client(emulator) as client:
        conversation_id = _start(client)
        posted = client.post(
            f"/v3/directline/conversations/{conversation_id}/activities",
            json={"type": "message", "from": {"id": "u1"}, "text": "hi inspector"},
        )
        assert posted.status_code == 200
        feed = _feed(client, conversation_id)
        later = _feed(client, conversation_id, after=feed["last"])
    entries = feed["entries"]
    to_bot = [e for e in entries if e["direction"] == "toBot"]
    from_bot = [e for e in entries if e["direction"] == "fromBot"]
    assert [e["activity"]["type"] for e in to_bot] == ["conversationUpdate", "conversationUpdate", "message"]
    message = to_bot[-1]
    assert message["activity"]["id"] == posted.json()["id"]
    assert message["activity"]["text"] == "hi inspector"
    assert message["status"] == 200
    assert message["latencyMs"] >= 0
    (echo,) = from_bot
    assert echo["activity"]["text"] == "echo: hi inspector"
    assert echo["status"] == 200
    assert echo["activity"]["id"] in [a["id"] for a in emulator.directline.activities(conversation_id)]
    assert [e["sequence"] for e in entries] == sorted(e["sequence"] for e in entries)
    assert later == {"entries": [], "last": feed["last"]}


def test_a_bot_that_cannot_be_reached_has_no_status() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the block ends: nothing listens there
    with Emulator(bot=f"http://127.0.0.1:{port}/api/messages") as emulator, _client(emulator) as client:
        conversation_id = _start(client)
        posted = client.post(
            f"/v3/directline/conversations/{conversation_id}/activities",
            json={"type": "message", "from": {"id": "u1"}, "text": "anyone?"},
        )
        entries = _feed(client, conversation_id)["entries"]
    assert posted.status_code == 502
    message = next(e for e in entries if e["activity"]["type"] == "message")
    assert message["status"] is None
    assert "unreachable" in message["detail"]


def test_a_transcript_upload_is_not_an_activity(emulator: Emulator) -> None:
    with _client(emulator) as client:
        conversation_id = _start(client)
        before = _feed(client, conversation_id)["last"]
        history = {"activities": [{"type": "message", "text": "old", "id": "h1", "timestamp": "2024-01-01T00:00:00Z"}]}
        uploaded = client.post(f"/v3/conversations/{conversation_id}/activities/history", json=history)
        assert uploaded.status_code < 300
        assert _feed(client, conversation_id, after=before)["entries"] == []


@pytest.mark.parametrize("query", [{}, {"conversationId": "x", "after": "-1"}, {"conversationId": "x", "after": "a"}])
def test_bad_queries_are_400(emulator: Emulator, query: dict[str, str]) -> None:
    with _client(emulator) as client:
        assert client.get("/_emulator/inspector", params=query).status_code == 400
