"""The activity inspector's feed (``GET /_emulator/inspector``): what a conversation sent the bot, with the bot's
status and latency, and what the bot posted back, with the emulator's status."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import botconnect
from botconnect.emulator import Emulator
from botconnect.models import Activity, ChannelAccount, ConversationParameters


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
    assert {e["operation"] for e in to_bot} == {"deliver"}
    assert message["activityId"] == posted.json()["id"]
    (echo,) = from_bot
    assert echo["activity"]["text"] == "echo: hi inspector"
    assert echo["status"] == 200
    assert echo["operation"] in ("send", "reply")
    assert echo["activityId"] == echo["activity"]["id"]
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


def _bot_entries(emulator: Emulator, conversation_id: str, after: int) -> list[dict[str, Any]]:
    with _client(emulator) as client:
        entries: list[dict[str, Any]] = _feed(client, conversation_id, after)["entries"]
    return [e for e in entries if e["direction"] == "fromBot"]


def test_a_bots_send_reply_update_and_delete_are_recorded_with_their_operation(emulator: Emulator) -> None:
    with _client(emulator) as client:
        conversation_id = _start(client)
        before = _feed(client, conversation_id)["last"]
    with emulator.connector_client(retry_policy=botconnect.NO_RETRIES) as bot:
        calls = bot.conversations
        sent = calls.send_to_conversation(conversation_id, Activity(type="message", text="first"))
        reply = calls.reply_to_activity(conversation_id, sent.id, Activity(type="message", text="threaded"))
        calls.update_activity(conversation_id, sent.id, Activity(type="message", text="first (edited)"))
        calls.delete_activity(conversation_id, reply.id)
        with pytest.raises(botconnect.HttpResponseError):
            calls.update_activity(conversation_id, "no-such-activity", Activity(type="message", text="lost"))
    entries = _bot_entries(emulator, conversation_id, before)
    assert [(e["operation"], e["activityId"], e["status"]) for e in entries] == [
        ("send", sent.id, 200),
        ("reply", reply.id, 200),
        ("update", sent.id, 200),
        ("delete", reply.id, 200),
        ("update", "no-such-activity", 404),
    ]
    send, threaded, update, delete, lost = entries
    assert (send["activity"]["text"], send["activity"]["id"]) == ("first", sent.id)
    assert (threaded["activity"]["text"], threaded["activity"]["id"]) == ("threaded", reply.id)
    assert update["activity"]["text"] == "first (edited)"
    assert delete["activity"] is None
    assert lost["activity"] is None  # refused before its body was read
    assert lost["detail"] == "ActivityNotFound: Activity no-such-activity not found in the conversation"
    assert all(e["detail"] == "" for e in entries[:4])
    assert all(e["conversationId"] == conversation_id and e["latencyMs"] >= 0 for e in entries)


def test_a_created_conversation_is_recorded_under_its_new_id_with_its_first_activity(emulator: Emulator) -> None:
    parameters = ConversationParameters(
        bot=ChannelAccount(id="echo-bot"),
        members=[ChannelAccount(id="user-1"), ChannelAccount(id="user-2")],
        activity=Activity(type="message", text="welcome"),
    )
    with emulator.connector_client(retry_policy=botconnect.NO_RETRIES) as bot:
        created = bot.conversations.create_conversation(parameters)
        recorded = len(emulator.app.inspector.entries)
        with pytest.raises(botconnect.HttpResponseError) as refused:
            bot.conversations.create_conversation(ConversationParameters(bot=ChannelAccount(id="echo-bot")))
    assert refused.value.status_code == 400
    assert len(emulator.app.inspector.entries) == recorded  # a refused create has no conversation to file it under
    (entry,) = _bot_entries(emulator, created.id, 0)
    assert (entry["operation"], entry["status"], entry["conversationId"]) == ("createConversation", 200, created.id)
    assert (entry["activity"]["text"], entry["activity"]["id"]) == ("welcome", created.activity_id)
    assert entry["activityId"] == created.activity_id
    assert entry["detail"] == "created the conversation with 2 members"


def test_bot_says_is_recorded_as_injected_without_a_status(emulator: Emulator) -> None:
    with _client(emulator) as client:
        conversation_id = _start(client)
        before = _feed(client, conversation_id)["last"]
    said = emulator.directline.bot_says(conversation_id, "from the test", inputHint="ignoringInput")
    (entry,) = _bot_entries(emulator, conversation_id, before)
    assert (entry["operation"], entry["status"], entry["activityId"]) == ("injected", None, said)
    assert (entry["activity"]["text"], entry["activity"]["inputHint"]) == ("from the test", "ignoringInput")
    assert "bot_says()" in entry["detail"]
