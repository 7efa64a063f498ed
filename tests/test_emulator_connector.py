"""The emulator's Bot Connector v3 endpoints, driven by our own ConnectorClient (sync, asyncio, trio): state, paging,
errors in the service's shape, app credentials, and the composed app (404s, info, ACS when present)."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import botconnect
from botconnect.emulator import Emulator
from botconnect.models import (
    Activity,
    AttachmentData,
    ChannelAccount,
    ConversationParameters,
    Transcript,
)

from .harness import Env

BOT = ChannelAccount(id="echo-bot", name="Echo Bot")
USERS = [ChannelAccount(id=f"user-{i}", name=f"User {i}") for i in range(7)]


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator() as running:
        yield running


@pytest.fixture
def client(env: Env, emulator: Emulator) -> Iterator[Any]:
    connector = env.construct("ConnectorClient", emulator.service_url, retry_policy=botconnect.NO_RETRIES)
    with connector:
        yield connector


def new_conversation(client: Any, members: list[ChannelAccount] | None = None, **fields: Any) -> str:
    parameters = ConversationParameters(bot=BOT, members=members or USERS[:1], **fields)
    result = client.conversations.create_conversation(parameters)
    assert result.id
    return str(result.id)


def message(text: str, **fields: Any) -> Activity:
    return Activity(type="message", text=text, **{"from_property": BOT, **fields})


def test_create_conversation_returns_id_service_url_and_the_first_activity(client: Any, emulator: Emulator) -> None:
    parameters = ConversationParameters(
        bot=BOT, members=USERS[:2], topic_name="planning", is_group=True, activity=message("welcome")
    )
    result = client.conversations.create_conversation(parameters)
    assert result.service_url == emulator.service_url
    assert result.activity_id == f"{result.id}|0000000"
    conversation = emulator.store.conversations[result.id]
    assert [m["id"] for m in conversation.members] == ["echo-bot", "user-0", "user-1"]
    stored = conversation.activities[0]
    assert stored["text"] == "welcome"
    assert stored["conversation"] == {"id": result.id, "isGroup": True, "name": "planning"}
    assert stored["from"]["id"] == "echo-bot"


def test_create_conversation_without_members_is_rejected_like_the_service(client: Any) -> None:
    with pytest.raises(botconnect.HttpResponseError) as caught:
        client.conversations.create_conversation(ConversationParameters(bot=BOT))
    assert caught.value.status_code == 400
    assert caught.value.error_code == "BadArgument"


def test_send_reply_update_delete_change_the_shared_state(client: Any, emulator: Emulator) -> None:
    cid = new_conversation(client)
    sent = client.conversations.send_to_conversation(cid, message("first"))
    reply = client.conversations.reply_to_activity(cid, sent.id, message("threaded"))
    assert (sent.id, reply.id) == (f"{cid}|0000000", f"{cid}|0000001")
    updated = client.conversations.update_activity(cid, sent.id, Activity(type="message", text="first (edited)"))
    assert updated.id == sent.id
    client.conversations.delete_activity(cid, reply.id)

    visible = emulator.directline.activities(cid)  # what Direct Line clients of this conversation see
    assert [(a["id"], a["text"]) for a in visible] == [(sent.id, "first (edited)")]
    assert visible[0]["from"]["id"] == "echo-bot"  # the update kept the sender
    log = emulator.store.conversations[cid].activities
    assert log[1]["replyToId"] == sent.id


@pytest.mark.parametrize("operation", ["reply", "update", "delete", "members"])
def test_unknown_activity_is_404(client: Any, operation: str) -> None:
    cid = new_conversation(client)
    calls = {
        "reply": lambda: client.conversations.reply_to_activity(cid, "nope", message("x")),
        "update": lambda: client.conversations.update_activity(cid, "nope", message("x")),
        "delete": lambda: client.conversations.delete_activity(cid, "nope"),
        "members": lambda: client.conversations.get_activity_members(cid, "nope"),
    }
    with pytest.raises(botconnect.HttpResponseError) as caught:
        calls[operation]()
    assert (caught.value.status_code, caught.value.error_code) == (404, "ActivityNotFound")


def test_unknown_conversation_is_404(client: Any) -> None:
    with pytest.raises(botconnect.HttpResponseError) as caught:
        client.conversations.send_to_conversation("123", message("hello"))
    assert caught.value.status_code == 404
    assert caught.value.error_code == "ConversationNotFound"
    assert caught.value.error.message == "Invalid ConversationId: 123"  # the live service's words


def test_an_activity_without_a_type_is_rejected(emulator: Emulator) -> None:
    with (
        Emulator(socket=False) as local,  # no socket: its transport reaches it in-process
        httpx.Client(transport=local.transport(), base_url=local.url) as http,
    ):
        cid = http.post("/v3/conversations", json={"members": [{"id": "u"}]}).json()["id"]
        answer = http.post(f"/v3/conversations/{cid}/activities", json={"text": "no type"})
        wrong = http.post(f"/v3/conversations/{cid}/activities", json={"type": "message", "text": 5})
    assert answer.status_code == wrong.status_code == 400
    assert answer.json() == {"error": {"code": "BadArgument", "message": "an activity needs a type"}}
    assert wrong.json()["error"]["message"] == "text must be a string"


def test_members_one_member_and_removal(client: Any) -> None:
    cid = new_conversation(client, USERS[:3])
    members = client.conversations.get_conversation_members(cid)
    assert [m.id for m in members] == ["echo-bot", "user-0", "user-1", "user-2"]
    assert client.conversations.get_conversation_member(cid, "user-1").name == "User 1"
    client.conversations.delete_conversation_member(cid, "user-1")
    assert [m.id for m in client.conversations.get_conversation_members(cid)] == ["echo-bot", "user-0", "user-2"]
    with pytest.raises(botconnect.HttpResponseError) as caught:
        client.conversations.get_conversation_member(cid, "user-1")
    assert caught.value.status_code == 404
    sent = client.conversations.send_to_conversation(cid, message("hi"))
    assert [m.id for m in client.conversations.get_activity_members(cid, sent.id)] == ["echo-bot", "user-0", "user-2"]


def test_paged_members_follow_continuation_tokens(client: Any) -> None:
    cid = new_conversation(client, USERS)
    pages = _pages(client.conversations.get_conversation_paged_members(cid, page_size=3))
    assert [[m.id for m in page] for page in pages] == [
        ["echo-bot", "user-0", "user-1"],
        ["user-2", "user-3", "user-4"],
        ["user-5", "user-6"],
    ]


def _pages(paged: Any) -> list[list[Any]]:
    """Every page of an ItemPaged (the async ones come wrapped for the test thread)."""
    return [list(page) for page in paged.by_page()]


def test_paged_members_reject_a_forged_token(emulator: Emulator) -> None:
    with httpx.Client(base_url=emulator.url) as http:
        cid = http.post("/v3/conversations", json={"members": [{"id": "u"}]}).json()["id"]
        forged = http.get(f"/v3/conversations/{cid}/pagedmembers", params={"continuationToken": "xyz"})
        bad_size = http.get(f"/v3/conversations/{cid}/pagedmembers", params={"pageSize": "many"})
    assert forged.status_code == bad_size.status_code == 400
    assert forged.json()["error"]["code"] == "BadArgument"


def test_conversations_are_listed_page_by_page(env: Env) -> None:
    with Emulator() as local:
        local.connector.conversations_page_size = 2
        client = env.construct("ConnectorClient", local.service_url)
        with client:
            created = [new_conversation(client, USERS[i : i + 1]) for i in range(5)]
            pages = _pages(client.conversations.get_conversations())
    assert [len(page) for page in pages] == [2, 2, 1]
    assert [c.id for page in pages for c in page] == created
    assert [m.id for m in pages[0][1].members] == ["echo-bot", "user-1"]


def test_history_is_kept_with_the_conversation(client: Any, emulator: Emulator) -> None:
    cid = new_conversation(client)
    transcript = Transcript(activities=[message("old one", id="h1"), message("old two", id="h2")])
    result = client.conversations.send_conversation_history(cid, transcript)
    assert result.id
    history = emulator.store.conversations[cid].history
    assert [[a["text"] for a in h] for h in history] == [["old one", "old two"]]


def test_attachments_upload_info_and_views(client: Any) -> None:
    cid = new_conversation(client)
    original, thumbnail = bytes(range(256)) * 3, b"\x89PNG small"
    data = AttachmentData(type="image/png", name="bot.png", original_base64=original, thumbnail_base64=thumbnail)
    uploaded = client.conversations.upload_attachment(cid, data)
    info = client.attachments.get_attachment_info(uploaded.id)
    assert (info.name, info.type) == ("bot.png", "image/png")
    assert {v.view_id: v.size for v in info.views} == {"original": len(original), "thumbnail": len(thumbnail)}
    with client.attachments.get_attachment(uploaded.id, "original") as view:
        assert view.content_type == "image/png"
        assert view.read() == original
    with pytest.raises(botconnect.HttpResponseError) as caught:
        client.attachments.get_attachment(uploaded.id, "invalid")
    assert (caught.value.status_code, caught.value.error_code) == (404, "ServiceError")


def test_app_credentials_are_checked_against_the_emulators_token_endpoint(env: Env) -> None:
    with Emulator(app_id="app-1", app_password="s3cret") as local:
        anonymous = env.construct("ConnectorClient", local.service_url, retry_policy=botconnect.NO_RETRIES)
        with anonymous, pytest.raises(botconnect.HttpResponseError) as caught:
            new_conversation(anonymous)
        assert caught.value.status_code == 401

        credential = env.pkg.MicrosoftAppCredentials("app-1", "s3cret", oauth_endpoint=local.url)
        client = env.construct("ConnectorClient", local.service_url, credential)
        with client:
            assert new_conversation(client)
        env.run(credential.close)

        wrong = env.construct("MicrosoftAppCredentials", "app-1", "guess", oauth_endpoint=local.url)
        with wrong, pytest.raises(botconnect.HttpResponseError) as caught:
            wrong.get_token()
        assert caught.value.status_code == 401

        # the built-in bot signs in the same way to answer
        with botconnect.DirectLineClient(secret=local.secret, endpoint=local.url) as direct_line:
            started = direct_line.conversations.start_conversation()
            user = ChannelAccount(id="u1")
            direct_line.conversations.post_activity(started.conversation_id, message("hi", from_property=user))
            texts = [a.text for a in direct_line.conversations.get_activities(started.conversation_id).activities]
        assert texts == ["hi", "echo: hi"]


def test_the_composed_app_describes_itself_and_answers_unknown_routes_in_the_service_shape(emulator: Emulator) -> None:
    with httpx.Client(base_url=emulator.url) as http:
        info = http.get("/_emulator").json()
        missing = http.get("/v3/nowhere")
        wrong_method = http.patch("/v3/conversations")
    assert info["connector"]["serviceUrl"] == emulator.service_url
    assert info["directline"] == {"endpoint": emulator.url, "secret": "dev-secret"}
    assert info["bot"] == emulator.url + "/_bot/api/messages"
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "NotFound"
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "MethodNotAllowed"


def test_reset_forgets_everything_and_loopback_is_the_default() -> None:
    with Emulator(socket=False) as local, local.connector_client() as client:
        new_conversation(client)
        local.faults.add(503, "/v3/nowhere")
        local.reset()
        assert local.store.conversations == {}
        assert local.faults.rules == []
    with pytest.raises(ValueError, match="not loopback"):
        Emulator(host="0.0.0.0")  # refused before anything binds
    assert Emulator(host="0.0.0.0", socket=False).url == "http://emulator.localhost"  # never binds


if importlib.util.find_spec("botconnect.emulator.acs") is not None:

    def test_acs_chat_is_served_beside_the_bot_framework_services(emulator: Emulator) -> None:
        """Smoke: the ACS Chat routes are mounted, and accept a user token the emulator issues."""
        assert emulator.acs is not None
        with emulator.chat_client() as chat:
            created = chat.create_chat_thread("emulated")
            thread = chat.get_chat_thread_client(created.chat_thread.id)
            sent = thread.send_message("hello from the emulator")
            texts = [m.content.message for m in thread.list_messages() if m.type == "text"]
        assert sent.id
        assert "hello from the emulator" in texts
