"""Microsoft's published azure-communication-chat 1.x samples (chat_client_sample*.py,
chat_thread_client_sample*.py): their flows, written here with the same calls, run against the emulator over https.

Each flow takes the chat package as a parameter, so "only the import changed" is literal: it runs with
``botconnect.chat`` / ``botconnect_aio.chat`` and, as the fidelity check, with ``azure.communication.chat`` (and
``.aio``) itself. Users and tokens come from azure-communication-identity's ``CommunicationIdentityClient`` against
the emulator's identity routes (as in the samples), so every identifier our clients get is Azure's own object.
Each flow returns what it observed, with user ids replaced by their roles; ours must observe exactly what
Microsoft's SDK observes.
"""

from __future__ import annotations

import asyncio
import ssl
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from types import ModuleType
from typing import Any

import pytest

import botconnect.chat
import botconnect_aio.chat
from botconnect.emulator import Emulator

identity = pytest.importorskip("azure.communication.identity")
azure_chat = pytest.importorskip("azure.communication.chat")
azure_chat_aio = pytest.importorskip("azure.communication.chat.aio")

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # datetime.utcnow(), as the samples call it


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(tls=True) as running:
        yield running


@pytest.fixture
def trusted(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    assert emulator.ca_file is not None
    # how a sample's process trusts the emulator's CA, for all three SDKs alike: no argument of the flows changes
    monkeypatch.setenv("SSL_CERT_FILE", emulator.ca_file)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", emulator.ca_file)
    # aiohttp (azure-core's async transport) builds its default context once, when first imported: a process that
    # imported it before the variable was set (another test of this run) would not see it, as a fresh sample would
    connector = sys.modules.get("aiohttp.connector")
    if connector is not None:
        context = ssl.create_default_context(cafile=emulator.ca_file)
        context.set_alpn_protocols(("http/1.1",))
        monkeypatch.setattr(connector, "_SSL_CONTEXT_VERIFIED", context)
    return emulator


class Users:
    """The samples' identity_client, user, token and new_user; ``role`` names a raw id in what flows return."""

    def __init__(self, emulator: Emulator) -> None:
        self.identity_client = identity.CommunicationIdentityClient.from_connection_string(
            emulator.acs_connection_string
        )
        self.user = self.identity_client.create_user()
        self.token = self.identity_client.get_token(self.user, scopes=["chat"]).token
        self.new_user = self.identity_client.create_user()
        self.roles = {self.user.raw_id: "user", self.new_user.raw_id: "new_user"}

    def create_user(self, role: str) -> Any:
        created = self.identity_client.create_user()
        self.roles[created.raw_id] = role
        return created

    def role(self, identifier: Any) -> str:
        return self.roles.get(identifier.raw_id, "?")


# -- chat_client_sample.py / chat_client_sample_async.py ----------------------------------------------------------


def chat_client_sample(chat: ModuleType, endpoint: str, users: Users) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    chat_client = chat.ChatClient(endpoint, chat.CommunicationTokenCredential(users.token))
    topic = "test topic"
    participants = [
        chat.ChatParticipant(identifier=users.user, display_name="name", share_history_time=datetime.utcnow())
    ]
    create_chat_thread_result = chat_client.create_chat_thread(topic, thread_participants=participants)
    idempotency_token = "b66d6031-fdcc-41df-8306-e524c9f226b8"
    repeated = chat_client.create_chat_thread(
        topic, thread_participants=participants, idempotency_token=idempotency_token
    )
    thread_id = create_chat_thread_result.chat_thread.id
    seen["errors"] = create_chat_thread_result.errors
    seen["topic"] = create_chat_thread_result.chat_thread.topic
    seen["created_by"] = users.role(create_chat_thread_result.chat_thread.created_by)
    chat_thread_client = chat_client.get_chat_thread_client(thread_id)
    seen["thread_client_id_matches"] = chat_thread_client.thread_id == thread_id
    start_time = datetime.utcnow() - timedelta(days=2)
    chat_threads = chat_client.list_chat_threads(results_per_page=5, start_time=start_time)
    listed = [(item.id, item.topic) for page in chat_threads.by_page() for item in page]
    seen["listed"] = sorted((item_id == thread_id, item_id == repeated.chat_thread.id, t) for item_id, t in listed)
    chat_client.delete_chat_thread(thread_id)
    seen["listed_after_delete"] = sorted(
        (item.id == thread_id, item.deleted_on is not None) for item in chat_client.list_chat_threads()
    )
    chat_client.close()
    return seen


async def chat_client_sample_async(chat: ModuleType, aio: ModuleType, endpoint: str, users: Users) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    chat_client = aio.ChatClient(endpoint, aio.CommunicationTokenCredential(users.token))
    async with chat_client:
        topic = "test topic"
        participants = [
            chat.ChatParticipant(identifier=users.user, display_name="name", share_history_time=datetime.utcnow())
        ]
        create_chat_thread_result = await chat_client.create_chat_thread(topic, thread_participants=participants)
        idempotency_token = "c77d6031-fdcc-41df-8306-e524c9f226b8"
        repeated = await chat_client.create_chat_thread(
            topic, thread_participants=participants, idempotency_token=idempotency_token
        )
        thread_id = create_chat_thread_result.chat_thread.id
        seen["errors"] = create_chat_thread_result.errors
        seen["topic"] = create_chat_thread_result.chat_thread.topic
        seen["created_by"] = users.role(create_chat_thread_result.chat_thread.created_by)
        seen["thread_client_id_matches"] = chat_client.get_chat_thread_client(thread_id).thread_id == thread_id
        start_time = datetime.utcnow() - timedelta(days=2)
        chat_threads = chat_client.list_chat_threads(results_per_page=5, start_time=start_time)
        listed = []
        async for chat_thread_item_page in chat_threads.by_page():
            async for chat_thread_item in chat_thread_item_page:
                listed.append((chat_thread_item.id, chat_thread_item.topic))
        seen["listed"] = sorted((i == thread_id, i == repeated.chat_thread.id, t) for i, t in listed)
        await chat_client.delete_chat_thread(thread_id)
        seen["listed_after_delete"] = sorted(
            [(item.id == thread_id, item.deleted_on is not None) async for item in chat_client.list_chat_threads()]
        )
    return seen


# -- chat_thread_client_sample.py ---------------------------------------------------------------------------------


def chat_thread_client_sample(chat: ModuleType, endpoint: str, users: Users) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    chat_client = chat.ChatClient(endpoint, chat.CommunicationTokenCredential(users.token))
    participants = [
        chat.ChatParticipant(identifier=users.user, display_name="name", share_history_time=datetime.utcnow())
    ]
    thread_id = chat_client.create_chat_thread("test topic", thread_participants=participants).chat_thread.id
    chat_thread_client = chat_client.get_chat_thread_client(thread_id=thread_id)
    # get_chat_thread_properties / update_topic
    seen["properties_id_matches"] = chat_thread_client.get_properties().id == thread_id
    previous_topic = chat_thread_client.get_properties().topic
    chat_thread_client.update_topic(topic="updated thread topic")
    seen["topics"] = (previous_topic, chat_thread_client.get_properties().topic)
    # send_message / get_message
    send_message_result = chat_thread_client.send_message(
        "Hello! My name is Fred Flinstone", sender_display_name="Fred Flinstone"
    )
    second = chat_thread_client.send_message(
        "Hello! My name is Wilma Flinstone",
        sender_display_name="Wilma Flinstone",
        chat_message_type=chat.ChatMessageType.TEXT,
    )
    message_id = send_message_result.id
    seen["sent"] = [chat_thread_client.get_message(i).content.message for i in (message_id, second.id)]
    chat_message = chat_thread_client.get_message(message_id)
    seen["got"] = (chat_message.content.message, chat_message.sender_display_name, users.role(chat_message.sender))
    # list_messages, one per page
    start_time = datetime.utcnow() - timedelta(days=1)
    chat_messages = chat_thread_client.list_messages(results_per_page=1, start_time=start_time)
    pages = [[(m.type, m.content.message) for m in page] for page in chat_messages.by_page()]
    seen["message_pages"] = pages
    # update_message
    previous_content = chat_thread_client.get_message(message_id).content.message
    chat_thread_client.update_message(message_id, content="updated content")
    seen["contents"] = (previous_content, chat_thread_client.get_message(message_id).content.message)
    # send_read_receipt / list_read_receipts
    chat_thread_client.send_read_receipt(message_id)
    receipts = [r for page in chat_thread_client.list_read_receipts().by_page() for r in page]
    seen["receipts"] = [(r.chat_message_id == message_id, users.role(r.sender)) for r in receipts]
    # delete_message
    chat_thread_client.delete_message(message_id)
    # list_participants
    listed = [p for page in chat_thread_client.list_participants().by_page() for p in page]
    seen["participants"] = sorted((users.role(p.identifier), p.display_name) for p in listed)
    # add_participants_w_check (it first removes new_user, who is not in the thread yet)
    chat_thread_client.remove_participant(users.new_user)
    new_participant = chat.ChatParticipant(
        identifier=users.new_user, display_name="name", share_history_time=datetime.utcnow()
    )
    result = chat_thread_client.add_participants([new_participant])
    retry = [p for p, e in result if e]
    if retry:
        chat_thread_client.add_participants(retry)
    seen["add_result"] = result
    # remove_participant
    user1 = users.create_user("fred")
    user2 = users.create_user("wilma")
    participant1 = chat.ChatParticipant(
        identifier=user1, display_name="Fred Flinstone", share_history_time=datetime.utcnow()
    )
    participant2 = chat.ChatParticipant(
        identifier=user2, display_name="Wilma Flinstone", share_history_time=datetime.utcnow()
    )
    chat_thread_client.add_participants([participant1, participant2])
    found = False
    for chat_thread_participant_page in chat_thread_client.list_participants().by_page():
        for chat_thread_participant in chat_thread_participant_page:
            if chat_thread_participant.identifier.properties["id"] == user1.properties["id"]:
                found = True
                chat_thread_client.remove_participant(chat_thread_participant.identifier)
                break
    seen["found_fred"] = found
    unique_identifier = user2.properties["id"]
    chat_thread_client.remove_participant(chat.CommunicationUserIdentifier(unique_identifier))
    # send_typing_notification
    chat_thread_client.send_typing_notification()
    seen["final_participants"] = sorted(users.role(p.identifier) for p in chat_thread_client.list_participants())
    system = [m for m in chat_thread_client.list_messages() if m.type != chat.ChatMessageType.TEXT]
    seen["system_messages"] = sorted(
        (str(m.type), sorted(users.role(p.identifier) for p in m.content.participants), len(m.content.attachments))
        for m in system
    )
    chat_client.close()
    return seen


async def chat_thread_client_sample_async(
    chat: ModuleType, aio: ModuleType, endpoint: str, users: Users
) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    chat_client = aio.ChatClient(endpoint, aio.CommunicationTokenCredential(users.token))
    async with chat_client:
        participants = [
            chat.ChatParticipant(identifier=users.user, display_name="name", share_history_time=datetime.utcnow())
        ]
        created = await chat_client.create_chat_thread("test topic", thread_participants=participants)
        thread_id = created.chat_thread.id
        chat_thread_client = chat_client.get_chat_thread_client(thread_id=thread_id)
        async with chat_thread_client:
            seen["properties_id_matches"] = (await chat_thread_client.get_properties()).id == thread_id
            previous_topic = (await chat_thread_client.get_properties()).topic
            await chat_thread_client.update_topic(topic="updated thread topic")
            seen["topics"] = (previous_topic, (await chat_thread_client.get_properties()).topic)
            send_message_result = await chat_thread_client.send_message(
                "Hello! My name is Fred Flinstone", sender_display_name="Fred Flinstone"
            )
            second = await chat_thread_client.send_message(
                "Hello! My name is Wilma Flinstone",
                sender_display_name="Wilma Flinstone",
                chat_message_type=chat.ChatMessageType.TEXT,
            )
            message_id = send_message_result.id
            seen["sent"] = [(await chat_thread_client.get_message(i)).content.message for i in (message_id, second.id)]
            chat_message = await chat_thread_client.get_message(message_id)
            seen["got"] = (
                chat_message.content.message,
                chat_message.sender_display_name,
                users.role(chat_message.sender),
            )
            start_time = datetime.utcnow() - timedelta(days=1)
            chat_messages = chat_thread_client.list_messages(results_per_page=1, start_time=start_time)
            pages = []
            async for chat_message_page in chat_messages.by_page():
                pages.append([(m.type, m.content.message) async for m in chat_message_page])
            seen["message_pages"] = pages
            previous_content = (await chat_thread_client.get_message(message_id)).content.message
            await chat_thread_client.update_message(message_id, content="updated content")
            seen["contents"] = (previous_content, (await chat_thread_client.get_message(message_id)).content.message)
            await chat_thread_client.send_read_receipt(message_id)
            receipts = []
            async for read_receipt_page in chat_thread_client.list_read_receipts().by_page():
                async for read_receipt in read_receipt_page:
                    receipts.append(read_receipt)
            seen["receipts"] = [(r.chat_message_id == message_id, users.role(r.sender)) for r in receipts]
            await chat_thread_client.delete_message(message_id)
            listed = []
            async for chat_thread_participant_page in chat_thread_client.list_participants().by_page():
                async for chat_thread_participant in chat_thread_participant_page:
                    listed.append(chat_thread_participant)
            seen["participants"] = sorted((users.role(p.identifier), p.display_name) for p in listed)
            await chat_thread_client.remove_participant(users.new_user)
            new_participant = chat.ChatParticipant(
                identifier=users.new_user, display_name="name", share_history_time=datetime.utcnow()
            )
            result = await chat_thread_client.add_participants([new_participant])
            retry = [p for p, e in result if e]
            if retry:
                await chat_thread_client.add_participants(retry)
            seen["add_result"] = result
            user1 = users.create_user("fred")
            user2 = users.create_user("wilma")
            await chat_thread_client.add_participants(
                [
                    chat.ChatParticipant(identifier=user1, display_name="Fred Flinstone"),
                    chat.ChatParticipant(identifier=user2, display_name="Wilma Flinstone"),
                ]
            )
            found = False
            async for chat_thread_participant_page in chat_thread_client.list_participants().by_page():
                async for chat_thread_participant in chat_thread_participant_page:
                    if chat_thread_participant.identifier.properties["id"] == user1.properties["id"]:
                        found = True
                        await chat_thread_client.remove_participant(chat_thread_participant.identifier)
                        break
            seen["found_fred"] = found
            await chat_thread_client.remove_participant(chat.CommunicationUserIdentifier(user2.properties["id"]))
            await chat_thread_client.send_typing_notification()
            seen["final_participants"] = sorted(
                [users.role(p.identifier) async for p in chat_thread_client.list_participants()]
            )
            system = [m async for m in chat_thread_client.list_messages() if m.type != chat.ChatMessageType.TEXT]
            seen["system_messages"] = sorted(
                (
                    str(m.type),
                    sorted(users.role(p.identifier) for p in m.content.participants),
                    len(m.content.attachments),
                )
                for m in system
            )
    return seen


# -- the runs -----------------------------------------------------------------------------------------------------

EXPECTED_THREAD_FLOW = {
    "properties_id_matches": True,
    "topics": ("test topic", "updated thread topic"),
    "sent": ["Hello! My name is Fred Flinstone", "Hello! My name is Wilma Flinstone"],
    "got": ("Hello! My name is Fred Flinstone", "Fred Flinstone", "user"),
    "contents": ("Hello! My name is Fred Flinstone", "updated content"),
    "receipts": [(True, "user")],
    "participants": [("user", "name")],
    "add_result": [],
    "found_fred": True,
    "final_participants": ["new_user", "user"],
}


def _check_thread_flow(seen: dict[str, Any]) -> None:
    for key, value in EXPECTED_THREAD_FLOW.items():
        assert seen[key] == value, key
    pages = seen["message_pages"]
    assert pages
    assert all(len(page) == 1 for page in pages)
    assert [text for [(kind, text)] in pages if kind == "text"] == [
        "Hello! My name is Wilma Flinstone",
        "Hello! My name is Fred Flinstone",
    ]


def _check_client_flow(seen: dict[str, Any]) -> None:
    assert seen["errors"] == []
    assert (seen["topic"], seen["created_by"], seen["thread_client_id_matches"]) == ("test topic", "user", True)
    assert (True, False, "test topic") in seen["listed"]
    assert (False, True, "test topic") in seen["listed"]
    # the service lists a deleted thread with its deletedOn, the others without
    assert (True, True) in seen["listed_after_delete"]
    assert (True, False) not in seen["listed_after_delete"]


def _normalised(seen: dict[str, Any]) -> dict[str, Any]:
    """Enum members as their values, so ours and Microsoft's compare (both are str enums)."""
    out = dict(seen)
    out["message_pages"] = [[(str(getattr(k, "value", k)), t) for k, t in page] for page in seen["message_pages"]]
    out["system_messages"] = [
        (kind.split(".")[-1].lower().replace("_", ""), who, n) for kind, who, n in seen.get("system_messages", [])
    ]
    return out


def test_chat_client_sample_sync(trusted: Emulator) -> None:
    _check_client_flow(chat_client_sample(botconnect.chat, trusted.url, Users(trusted)))


def test_chat_client_sample_endpoint_without_scheme(trusted: Emulator) -> None:
    # the samples take AZURE_COMMUNICATION_SERVICE_ENDPOINT as it is; without https:// it still works
    endpoint = trusted.url.removeprefix("https://")
    _check_client_flow(chat_client_sample(botconnect.chat, endpoint, Users(trusted)))


def test_chat_thread_client_sample_sync(trusted: Emulator) -> None:
    _check_thread_flow(chat_thread_client_sample(botconnect.chat, trusted.url, Users(trusted)))


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
@pytest.mark.anyio
async def test_chat_client_sample_async(trusted: Emulator, anyio_backend: str) -> None:
    users = Users(trusted)
    _check_client_flow(await chat_client_sample_async(botconnect_aio.chat, botconnect_aio.chat, trusted.url, users))


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
@pytest.mark.anyio
async def test_chat_thread_client_sample_async(trusted: Emulator, anyio_backend: str) -> None:
    users = Users(trusted)
    seen = await chat_thread_client_sample_async(botconnect_aio.chat, botconnect_aio.chat, trusted.url, users)
    _check_thread_flow(seen)


def test_microsofts_sdk_observes_what_ours_does_sync(trusted: Emulator) -> None:
    theirs = chat_thread_client_sample(azure_chat, trusted.url, Users(trusted))
    ours = chat_thread_client_sample(botconnect.chat, trusted.url, Users(trusted))
    _check_thread_flow(theirs)
    assert _normalised(ours) == _normalised(theirs)
    client_theirs = chat_client_sample(azure_chat, trusted.url, Users(trusted))
    client_ours = chat_client_sample(botconnect.chat, trusted.url, Users(trusted))
    assert client_ours == client_theirs


def test_microsofts_sdk_observes_what_ours_does_async(trusted: Emulator) -> None:
    async def both() -> tuple[dict[str, Any], dict[str, Any]]:
        theirs = await chat_thread_client_sample_async(azure_chat, azure_chat_aio, trusted.url, Users(trusted))
        ours = await chat_thread_client_sample_async(
            botconnect_aio.chat, botconnect_aio.chat, trusted.url, Users(trusted)
        )
        return theirs, ours

    theirs, ours = asyncio.run(both())
    _check_thread_flow(theirs)
    assert _normalised(ours) == _normalised(theirs)
