"""ACS Chat: every operation three ways (sync, asyncio, trio) against a fake service, checked against the swagger.

Each request is matched to its operation in ``communicationserviceschat.json`` (2025-03-15) and validated there
(strictly: no undeclared keys); each fake response is validated against the documented response schema before it
is served. The contract helpers, the API-version and the error-body tests live in test_chat_recordings.py.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest

from botconnect.chat import (
    ChatMessageType,
    ChatParticipant,
    CommunicationUserIdentifier,
    MicrosoftTeamsAppIdentifier,
    MicrosoftTeamsUserIdentifier,
    NoneRetentionPolicy,
    PhoneNumberIdentifier,
    ThreadCreationDateRetentionPolicy,
)
from botconnect.errors import (
    ServerError,
    ServiceResponseTimeoutError,
    UntrustedEndpointError,
)

from .harness import Env, FakeService
from .test_chat_recordings import (
    API,
    ENDPOINT,
    FAST,
    THREAD,
    THREAD_PATH,
    THREAD_PROPERTIES,
    TOKEN,
    USER,
    chat_swagger,
    check,
    new_client,
    reply,
    thread_client,
    user_wire,
)

# -- the chat client ----------------------------------------------------------------------------------------


def test_create_chat_thread(env: Env, fake: FakeService) -> None:
    failed = "4:+14255550123"
    reply(
        fake,
        "Chat_CreateChatThread",
        201,
        {
            "chatThread": {**THREAD_PROPERTIES, "metadata": {"k": "v"}, "retentionPolicy": {"kind": "none"}},
            "invalidParticipants": [{"code": "403", "message": "Permissions check failed", "target": failed}],
        },
    )
    participants = [
        ChatParticipant(
            identifier=CommunicationUserIdentifier(USER),
            display_name="Ann",
            share_history_time=datetime(2024, 2, 16, 23, 46, 42, 589898, tzinfo=UTC),
            metadata={"role": "host"},
        ),
        ChatParticipant(identifier=PhoneNumberIdentifier("+14255550123"), display_name="Phone"),
        ChatParticipant(identifier=MicrosoftTeamsUserIdentifier("oid-1", is_anonymous=True)),
        ChatParticipant(identifier=MicrosoftTeamsAppIdentifier("app-1", cloud="gcch")),
    ]
    with new_client(env, fake) as client:
        result = client.create_chat_thread(
            "Lunch",
            thread_participants=participants,
            idempotency_token="c0ffee00-0000-4000-8000-000000000001",
            metadata={"purpose": "demo"},
            retention_policy=ThreadCreationDateRetentionPolicy(delete_thread_after_days=40),
        )
    request = fake.last
    check(
        request,
        "Chat_CreateChatThread",
        "POST",
        b"/chat/threads",
        body={
            "topic": "Lunch",
            "participants": [
                {
                    "communicationIdentifier": user_wire(),
                    "displayName": "Ann",
                    "shareHistoryTime": "2024-02-16T23:46:42.589898Z",
                    "metadata": {"role": "host"},
                },
                {
                    "communicationIdentifier": {
                        "kind": "phoneNumber",
                        "rawId": failed,
                        "phoneNumber": {"value": "+14255550123"},
                    },
                    "displayName": "Phone",
                },
                {
                    "communicationIdentifier": {
                        "kind": "microsoftTeamsUser",
                        "rawId": "8:teamsvisitor:oid-1",
                        "microsoftTeamsUser": {"userId": "oid-1", "isAnonymous": True, "cloud": "public"},
                    }
                },
                {
                    "communicationIdentifier": {
                        "kind": "microsoftTeamsApp",
                        "rawId": "28:gcch:app-1",
                        "microsoftTeamsApp": {"appId": "app-1", "cloud": "gcch"},
                    }
                },
            ],
            "metadata": {"purpose": "demo"},
            "retentionPolicy": {"kind": "threadCreationDate", "deleteThreadAfterDays": 40},
        },
    )
    assert request.headers["repeatability-request-id"] == "c0ffee00-0000-4000-8000-000000000001"
    assert "repeatability-first-sent" not in request.headers  # the swagger defines only the request id
    thread = result.chat_thread
    assert (thread.id, thread.topic, thread.metadata) == (THREAD, "Lunch", {"k": "v"})
    assert thread.created_on == datetime(2024, 2, 16, 23, 46, 42, tzinfo=UTC)
    assert thread.created_by == CommunicationUserIdentifier(USER)
    assert isinstance(thread.retention_policy, NoneRetentionPolicy)
    [(participant, error)] = result.errors
    assert participant is participants[1]
    assert (error.code, error.message, error.target) == ("403", "Permissions check failed", failed)


def test_create_chat_thread_generates_a_uuid4_request_id_per_call(env: Env, fake: FakeService) -> None:
    for _ in range(2):
        reply(fake, "Chat_CreateChatThread", 201, {"chatThread": THREAD_PROPERTIES})
    with new_client(env, fake) as client:
        first = client.create_chat_thread("Lunch")
        client.create_chat_thread("Lunch")
    check(fake.requests[0], "Chat_CreateChatThread", "POST", b"/chat/threads", body={"topic": "Lunch"})
    ids = [uuid.UUID(r.headers["repeatability-request-id"]) for r in fake.requests]
    assert [i.version for i in ids] == [4, 4]
    assert ids[0] != ids[1]
    assert first.errors == []
    assert first.invalid_participants is None


@pytest.mark.parametrize("failure", ["status", "timeout"])
def test_create_chat_thread_retries_reuse_the_request_id(env: Env, fake: FakeService, failure: str) -> None:
    if failure == "status":
        reply(fake, "Chat_CreateChatThread", 503, {"error": {"code": "ServiceUnavailable", "message": "busy"}})
        fake.reply(500, json_body={"error": {"code": "InternalError", "message": "oops"}})
    else:
        fake.fail(httpx.ReadTimeout("read timed out"))
        fake.fail(httpx.RemoteProtocolError("connection dropped"))
    reply(fake, "Chat_CreateChatThread", 201, {"chatThread": THREAD_PROPERTIES})
    with new_client(env, fake, retry_policy=FAST) as client:
        result = client.create_chat_thread("Lunch")
    assert result.chat_thread.id == THREAD
    assert len(fake.requests) == 3
    ids = {r.headers["repeatability-request-id"] for r in fake.requests}
    assert len(ids) == 1
    assert {r.content for r in fake.requests} == {b'{"topic":"Lunch"}'}


def test_send_message_is_not_retried_after_500_or_a_read_timeout(env: Env, fake: FakeService) -> None:
    fake.reply(500, json_body={"error": {"code": "InternalError", "message": "oops"}})
    fake.fail(httpx.ReadTimeout("read timed out"))
    with thread_client(env, fake, retry_policy=FAST) as thread:
        with pytest.raises(ServerError):
            thread.send_message("hi")
        assert len(fake.requests) == 1
        with pytest.raises(ServiceResponseTimeoutError):
            thread.send_message("hi")
    assert len(fake.requests) == 2


def test_send_message_is_retried_on_429(env: Env, fake: FakeService) -> None:
    reply(fake, "ChatThread_SendChatMessage", 429, {"error": {"code": "TooManyRequests", "message": "slow"}})
    reply(fake, "ChatThread_SendChatMessage", 201, {"id": "1700000000001"})
    with thread_client(env, fake, retry_policy=FAST) as thread:
        assert thread.send_message("hi").id == "1700000000001"
    assert len(fake.requests) == 2


def test_delete_chat_thread(env: Env, fake: FakeService) -> None:
    reply(fake, "Chat_DeleteChatThread", 204)
    with new_client(env, fake) as client:
        assert client.delete_chat_thread(THREAD) is None
    check(fake.last, "Chat_DeleteChatThread", "DELETE", THREAD_PATH)


def test_list_chat_threads_follows_next_link(env: Env, fake: FakeService) -> None:
    start = datetime(2024, 2, 16, 15, 0, tzinfo=timezone(timedelta(hours=-8)))
    link_without_version = f"{ENDPOINT}/chat/threads?maxPageSize=2&startTime=2024-02-16T23%3A00%3A00Z"
    link_with_version = f"{ENDPOINT}/chat/threads?maxPageSize=2&api-version=2024-03-07"
    reply(
        fake,
        "Chat_ListChatThreads",
        200,
        {"value": [{"id": "t1", "topic": "a"}, {"id": "t2", "topic": "b"}], "nextLink": link_without_version},
    )
    reply(fake, "Chat_ListChatThreads", 200, {"value": [{"id": "t3", "topic": "c"}], "nextLink": link_with_version})
    reply(
        fake,
        "Chat_ListChatThreads",
        200,
        {"value": [{"id": "t4", "topic": "d", "lastMessageReceivedOn": "2024-02-16T23:46:43Z"}]},
    )
    with new_client(env, fake) as client:
        items = list(client.list_chat_threads(results_per_page=2, start_time=start))
    assert [t.id for t in items] == ["t1", "t2", "t3", "t4"]
    assert items[3].last_message_received_on == datetime(2024, 2, 16, 23, 46, 43, tzinfo=UTC)
    first, second, third = fake.requests
    query = {"maxPageSize": "2", "startTime": "2024-02-16T23:00:00Z"}
    check(first, "Chat_ListChatThreads", "GET", b"/chat/threads", query=query)
    check(second, "Chat_ListChatThreads", "GET", b"/chat/threads", query=query)  # api-version re-applied
    assert str(third.url) == link_with_version  # the service's own api-version is kept


def test_paging_refuses_a_next_link_to_another_origin(env: Env, fake: FakeService) -> None:
    for evil in ("https://evil.example.com/chat/threads?x=1", "http://contoso.communication.azure.com/chat/threads"):
        fake.requests.clear()
        reply(fake, "Chat_ListChatThreads", 200, {"value": [{"id": "t1", "topic": "a"}], "nextLink": evil})
        with new_client(env, fake) as client:
            pages = client.list_chat_threads().by_page()
            assert [t.id for t in next(pages)] == ["t1"]
            with pytest.raises(UntrustedEndpointError):
                next(pages)
        assert len(fake.requests) == 1


def test_by_page_resumes_from_a_continuation_token(env: Env, fake: FakeService) -> None:
    link = "/chat/threads/19%3Aabc%40thread.v2/participants?skip=2&maxPageSize=2"
    reply(fake, "ChatThread_ListChatParticipants", 200, {"value": [{"communicationIdentifier": user_wire()}]})
    with thread_client(env, fake) as thread:
        pages = list(thread.list_participants(results_per_page=2).by_page(continuation_token=link))
    assert [len(p) for p in pages] == [1]
    assert pages[0].continuation_token is None
    check(
        fake.last,
        "ChatThread_ListChatParticipants",
        "GET",
        THREAD_PATH + b"/participants",
        query={"skip": "2", "maxPageSize": "2"},
    )


# -- the thread client --------------------------------------------------------------------------------------


def test_get_properties_and_updates(env: Env, fake: FakeService) -> None:
    reply(
        fake,
        "ChatThread_GetChatThreadProperties",
        200,
        {**THREAD_PROPERTIES, "retentionPolicy": {"kind": "threadCreationDate", "deleteThreadAfterDays": 7}},
    )
    for _ in range(2):
        reply(fake, "ChatThread_UpdateChatThreadProperties", 204)
    with thread_client(env, fake) as thread:
        assert thread.thread_id == THREAD
        props = thread.get_properties()
        thread.update_topic("Dinner")
        thread.update_properties(metadata={"a": "b"}, retention_policy=NoneRetentionPolicy())
    get, topic, props_update = fake.requests
    check(get, "ChatThread_GetChatThreadProperties", "GET", THREAD_PATH)
    assert props.retention_policy.delete_thread_after_days == 7
    assert props.created_by.raw_id == USER
    merge = "application/merge-patch+json"
    check(
        topic,
        "ChatThread_UpdateChatThreadProperties",
        "PATCH",
        THREAD_PATH,
        body={"topic": "Dinner"},
        content_type=merge,
    )
    check(
        props_update,
        "ChatThread_UpdateChatThreadProperties",
        "PATCH",
        THREAD_PATH,
        body={"metadata": {"a": "b"}, "retentionPolicy": {"kind": "none"}},
        content_type=merge,
    )


def test_send_get_update_delete_message(env: Env, fake: FakeService) -> None:
    message_id = "1708127236061"
    message_path = THREAD_PATH + b"/messages/1708127236061"
    reply(fake, "ChatThread_SendChatMessage", 201, {"id": message_id})
    reply(
        fake,
        "ChatThread_GetChatMessage",
        200,
        {
            "id": message_id,
            "type": "html",
            "sequenceId": "3",
            "version": message_id,
            "content": {"message": "<b>hi</b>", "attachments": [{"id": "img", "attachmentType": "image"}]},
            "senderDisplayName": "Ann",
            "createdOn": "2024-02-16T23:47:16Z",
            "senderCommunicationIdentifier": user_wire(),
            "metadata": {"tag": "x"},
        },
    )
    reply(fake, "ChatThread_UpdateChatMessage", 204)
    reply(fake, "ChatThread_DeleteChatMessage", 204)
    with thread_client(env, fake) as thread:
        sent = thread.send_message(
            "<b>hi</b>", chat_message_type="html", sender_display_name="Ann", metadata={"tag": "x"}
        )
        message = thread.get_message(sent.id)
        thread.update_message(message_id, "<b>hello</b>", metadata={"tag": "y"})
        thread.delete_message(message_id)
    send, get, update, delete = fake.requests
    check(
        send,
        "ChatThread_SendChatMessage",
        "POST",
        THREAD_PATH + b"/messages",
        body={"content": "<b>hi</b>", "type": "html", "senderDisplayName": "Ann", "metadata": {"tag": "x"}},
    )
    check(get, "ChatThread_GetChatMessage", "GET", message_path)
    assert message.type is ChatMessageType.HTML
    assert message.sender == CommunicationUserIdentifier(USER)
    assert message.content.attachments[0].attachment_type == "image"
    check(
        update,
        "ChatThread_UpdateChatMessage",
        "PATCH",
        message_path,
        body={"content": "<b>hello</b>", "metadata": {"tag": "y"}},
        content_type="application/merge-patch+json",
    )
    check(delete, "ChatThread_DeleteChatMessage", "DELETE", message_path)


def test_send_message_defaults_to_text_and_refuses_other_types(env: Env, fake: FakeService) -> None:
    reply(fake, "ChatThread_SendChatMessage", 201, {"id": "1"})
    with thread_client(env, fake) as thread:
        thread.send_message("hi")
        for bad in ("topicUpdated", ChatMessageType.PARTICIPANT_ADDED, "markdown"):
            with pytest.raises(ValueError, match="text"):
                thread.send_message("hi", chat_message_type=bad)
    assert len(fake.requests) == 1
    check(
        fake.last,
        "ChatThread_SendChatMessage",
        "POST",
        THREAD_PATH + b"/messages",
        body={"content": "hi", "type": "text"},
    )


def test_list_messages_parses_system_messages(env: Env, fake: FakeService) -> None:
    reply(
        fake,
        "ChatThread_ListChatMessages",
        200,
        {
            "value": [
                {
                    "id": "2",
                    "type": "participantAdded",
                    "sequenceId": "2",
                    "version": "2",
                    "createdOn": "2024-02-16T23:47:00Z",
                    "content": {
                        "participants": [{"communicationIdentifier": user_wire(), "displayName": "Ann"}],
                        "initiatorCommunicationIdentifier": {"rawId": "4:+1555", "phoneNumber": {"value": "+1555"}},
                    },
                },
                {
                    "id": "1",
                    "type": "topicUpdated",
                    "sequenceId": "1",
                    "version": "1",
                    "createdOn": "2024-02-16T23:46:00Z",
                    "content": {"topic": "Lunch"},
                },
            ]
        },
    )
    with thread_client(env, fake) as thread:
        messages = list(thread.list_messages(results_per_page=5, start_time=datetime(2024, 2, 16)))
    check(
        fake.last,
        "ChatThread_ListChatMessages",
        "GET",
        THREAD_PATH + b"/messages",
        query={"maxPageSize": "5", "startTime": "2024-02-16T00:00:00Z"},
    )
    added, topic = messages
    assert added.type is ChatMessageType.PARTICIPANT_ADDED
    assert added.content.participants[0].identifier == CommunicationUserIdentifier(USER)
    assert added.content.initiator == PhoneNumberIdentifier("+1555")
    assert topic.content.topic == "Lunch"


def test_participants(env: Env, fake: FakeService) -> None:
    phone = PhoneNumberIdentifier("+14255550123")
    reply(
        fake,
        "ChatThread_ListChatParticipants",
        200,
        {
            "value": [
                {
                    "communicationIdentifier": user_wire(),
                    "displayName": "Ann",
                    "shareHistoryTime": "2024-02-16T00:00:00Z",
                }
            ]
        },
    )
    reply(
        fake,
        "ChatThread_AddChatParticipants",
        201,
        {"invalidParticipants": [{"code": "403", "message": "denied", "target": phone.raw_id}]},
    )
    reply(fake, "ChatThread_AddChatParticipants", 201, {})
    reply(fake, "ChatThread_RemoveChatParticipant", 204)
    ann = ChatParticipant(identifier=CommunicationUserIdentifier(USER), display_name="Ann")
    caller = ChatParticipant(identifier=phone)
    with thread_client(env, fake) as thread:
        [listed] = list(thread.list_participants(results_per_page=10, skip=0))
        failures = thread.add_participants([ann, caller])
        assert thread.add_participants([ann]) == []
        thread.remove_participant(phone)
    listing, add, _, remove = fake.requests
    check(
        listing,
        "ChatThread_ListChatParticipants",
        "GET",
        THREAD_PATH + b"/participants",
        query={"maxPageSize": "10", "skip": "0"},
    )
    assert listed.identifier == ann.identifier
    assert listed.display_name == "Ann"
    phone_wire = {"kind": "phoneNumber", "rawId": "4:+14255550123", "phoneNumber": {"value": "+14255550123"}}
    check(
        add,
        "ChatThread_AddChatParticipants",
        "POST",
        THREAD_PATH + b"/participants/:add",
        body={
            "participants": [
                {"communicationIdentifier": user_wire(), "displayName": "Ann"},
                {"communicationIdentifier": phone_wire},
            ]
        },
    )
    [(who, error)] = failures
    assert who is caller
    assert (error.code, error.target) == ("403", phone.raw_id)
    check(remove, "ChatThread_RemoveChatParticipant", "POST", THREAD_PATH + b"/participants/:remove", body=phone_wire)


def test_typing_and_read_receipts(env: Env, fake: FakeService) -> None:
    for _ in range(2):
        reply(fake, "ChatThread_SendTypingNotification", 200)
    reply(fake, "ChatThread_SendChatReadReceipt", 200)
    reply(
        fake,
        "ChatThread_ListChatReadReceipts",
        200,
        {
            "value": [
                {"senderCommunicationIdentifier": user_wire(), "chatMessageId": "7", "readOn": "2024-02-16T23:50:00Z"}
            ]
        },
    )
    with thread_client(env, fake) as thread:
        thread.send_typing_notification()
        thread.send_typing_notification(sender_display_name="Ann")
        thread.send_read_receipt("7")
        [receipt] = list(thread.list_read_receipts(results_per_page=3, skip=1))
    typing, named, read, listing = fake.requests
    check(typing, "ChatThread_SendTypingNotification", "POST", THREAD_PATH + b"/typing", body={})
    check(
        named, "ChatThread_SendTypingNotification", "POST", THREAD_PATH + b"/typing", body={"senderDisplayName": "Ann"}
    )
    check(read, "ChatThread_SendChatReadReceipt", "POST", THREAD_PATH + b"/readReceipts", body={"chatMessageId": "7"})
    check(
        listing,
        "ChatThread_ListChatReadReceipts",
        "GET",
        THREAD_PATH + b"/readReceipts",
        query={"maxPageSize": "3", "skip": "1"},
    )
    assert (receipt.sender, receipt.chat_message_id) == (CommunicationUserIdentifier(USER), "7")
    assert receipt.read_on == datetime(2024, 2, 16, 23, 50, tzinfo=UTC)


@pytest.mark.parametrize("message_id", ["a/b", "x?y#z", "..", "id with space", "ü"])
def test_ids_are_single_percent_encoded_path_segments(env: Env, fake: FakeService, message_id: str) -> None:
    reply(fake, "ChatThread_DeleteChatMessage", 204)
    with thread_client(env, fake) as thread:
        thread.delete_message(message_id)
    match = chat_swagger().validate_request(fake.last)
    assert match.path_params == {"chatThreadId": THREAD, "chatMessageId": message_id}


# -- errors, versions, endpoints ----------------------------------------------------------------------------


def test_bad_arguments_fail_before_sending(env: Env, fake: FakeService) -> None:
    with new_client(env, fake) as client:
        thread = client.get_chat_thread_client(THREAD)
        with pytest.raises(TypeError):
            client.create_chat_thread(None)
        with pytest.raises(ValueError):
            client.list_chat_threads(results_per_page=0)
        with pytest.raises(TypeError):
            client.list_chat_threads(start_time="2024-01-01")
        with pytest.raises(ValueError):
            thread.list_participants(skip=-1)
        with pytest.raises(TypeError, match="identifier_from_raw_id"):
            thread.remove_participant(USER)
        with pytest.raises(ValueError):
            thread.add_participants([])
        with pytest.raises(ValueError):
            thread.get_message("")
        with pytest.raises(ValueError, match="nothing to update"):
            thread.update_properties()
        with pytest.raises(ValueError):
            client.get_chat_thread_client("")
    assert fake.requests == []


@pytest.mark.parametrize("endpoint", ["http://contoso.communication.azure.com", "ftp://contoso", "https://x/?q=1"])
def test_endpoints_the_token_must_not_reach_are_refused(env: Env, fake: FakeService, endpoint: str) -> None:
    credential = env.pkg.chat.CommunicationTokenCredential(TOKEN)
    with pytest.raises(ValueError):
        env.make(env.pkg.chat.ChatClient, endpoint, credential, transport=fake.transport)
    with pytest.raises(ValueError):
        env.make(env.pkg.chat.ChatThreadClient, endpoint, credential, THREAD, transport=fake.transport)


def test_thread_client_on_its_own_and_on_loopback(env: Env, fake: FakeService) -> None:
    reply(fake, "ChatThread_SendChatReadReceipt", 200)
    credential = env.pkg.chat.CommunicationTokenCredential(TOKEN)
    endpoint = "http://127.0.0.1:8080/"
    with env.make(env.pkg.chat.ChatThreadClient, endpoint, credential, THREAD, transport=fake.transport) as thread:
        assert (thread.thread_id, thread.endpoint) == (THREAD, endpoint)
        thread.send_read_receipt("1")
    assert (
        str(fake.last.url) == f"http://127.0.0.1:8080/chat/threads/19%3Aabc%40thread.v2/readReceipts?api-version={API}"
    )
    assert fake.last.headers["authorization"] == f"Bearer {TOKEN}"


def test_closing_a_thread_client_leaves_the_chat_client_open(env: Env, fake: FakeService) -> None:
    reply(fake, "Chat_DeleteChatThread", 204)
    with new_client(env, fake) as client:
        thread = client.get_chat_thread_client(THREAD)
        thread.close()
        client.delete_chat_thread(THREAD)
    assert "ChatClient" in repr(client)
    assert API in repr(client)
