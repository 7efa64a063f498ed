"""Values field by field as Microsoft's azure-communication-chat gives them (issue 15, item 3): the same wire
payloads (recorded, spec-shaped and emulator-served bodies) fed to Microsoft's SDK (through an azure-core transport
answering them) and to ours (through httpx.MockTransport), every attribute Microsoft's objects have compared."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

import botconnect
import botconnect.chat
from botconnect.chat import ChatParticipant, CommunicationUserIdentifier
from botconnect.emulator import Emulator

from .test_chat_dropin import ENDPOINT, RECORDINGS, THREAD, USER, token

identity = pytest.importorskip("azure.communication.identity")
azure_chat = pytest.importorskip("azure.communication.chat")


@pytest.fixture(scope="module")
def tls_emulator() -> Iterator[Emulator]:
    with Emulator(tls=True) as running:
        yield running


# -- 3. [] vs None: the same wire payloads through both SDKs ----------------------------------------------------------

TEAMS_USER = {"rawId": "8:dod:oid-1", "microsoftTeamsUser": {"userId": "oid-1", "isAnonymous": False, "cloud": "dod"}}
PHONE = {"rawId": "4:+15551234567", "phoneNumber": {"value": "+15551234567"}}
ACS = {"rawId": USER, "communicationUser": {"id": USER}}
MESSAGES = [
    json.loads((RECORDINGS / "get_message.json").read_text())["Entries"][2]["ResponseBody"],
    {
        "id": "2",
        "type": "text",
        "sequenceId": "2",
        "version": "2",
        "content": {"message": "hi"},
        "createdOn": "2024-02-16T23:47:16Z",
        "senderCommunicationIdentifier": ACS,
        "metadata": {"k": "v"},
    },
    {
        "id": "3",
        "type": "participantAdded",
        "sequenceId": "3",
        "version": "3",
        "createdOn": "2024-02-16T23:47:16Z",
        "content": {
            "participants": [
                {"communicationIdentifier": TEAMS_USER, "displayName": "T"},
                {"communicationIdentifier": PHONE, "shareHistoryTime": "2024-02-16T23:47:16Z"},
            ],
            "initiatorCommunicationIdentifier": ACS,
        },
    },
    {
        "id": "4",
        "type": "topicUpdated",
        "sequenceId": "4",
        "version": "4",
        "createdOn": "2024-02-16T23:47:16Z",
        "content": {"topic": "new", "initiatorCommunicationIdentifier": ACS},
    },
    {
        "id": "5",
        "type": "html",
        "sequenceId": "5",
        "version": "5",
        "createdOn": "2024-02-16T23:47:16Z",
        "content": {
            "message": "<p>x</p>",
            "attachments": [
                {
                    "id": "a1",
                    "attachmentType": "image",
                    "name": "cat.png",
                    "url": "https://x/a1",
                    "previewUrl": "https://x/p1",
                },
                {"id": "a2", "attachmentType": "file"},
            ],
        },
        "senderCommunicationIdentifier": ACS,
        "deletedOn": "2024-02-17T00:00:00Z",
        "editedOn": "2024-02-16T23:50:00Z",
    },
    {"id": "6", "type": "text", "sequenceId": "6", "version": "6", "createdOn": "2024-02-16T23:47:16Z"},
]


def same(ours: Any, theirs: Any, path: str = "result") -> None:
    """Every attribute Microsoft's object has, ours has with the same value (identifiers: same raw id and kind)."""
    if theirs is None or isinstance(theirs, str | int | float | bool | datetime):
        assert ours == theirs, path
        assert (ours is None) == (theirs is None), path
    elif isinstance(theirs, list | tuple):
        assert type(ours) is type(theirs), f"{path}: {type(ours).__name__} vs {type(theirs).__name__}"
        assert len(ours) == len(theirs), path
        for i, (mine, other) in enumerate(zip(ours, theirs, strict=True)):
            same(mine, other, f"{path}[{i}]")
    elif isinstance(theirs, dict):
        assert ours == theirs, path
    elif hasattr(theirs, "raw_id"):
        assert ours.raw_id == theirs.raw_id, path
        if theirs.kind != "unknown":  # Microsoft's 1.3.0 chat parser reads a Teams app as unknown; ours knows it
            assert ours.kind == theirs.kind, path
    else:
        for name, value in vars(theirs).items():
            if not name.startswith("_") and name != "additional_properties":
                same(getattr(ours, name), value, f"{path}.{name}")


class _Canned:
    """An azure-core transport answering with one canned JSON body."""

    def __init__(self, status: int, body: Any) -> None:
        self.status, self.body = status, body

    def __enter__(self) -> _Canned:
        return self

    def __exit__(self, *args: Any) -> None:
        pass

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def send(self, request: Any, **kwargs: Any) -> Any:
        import requests
        from azure.core.pipeline.transport import RequestsTransportResponse

        response = requests.Response()
        response.status_code = self.status
        response.reason = "OK"
        response._content = json.dumps(self.body).encode()
        response.headers["Content-Type"] = "application/json"
        return RequestsTransportResponse(request, response)


def client_module(client: Any) -> Any:
    return botconnect.chat if isinstance(client, botconnect.chat.ChatThreadClient) else azure_chat


def both(call: Callable[[Any], Any], status: int, body: Any) -> tuple[Any, Any]:
    from azure.core.pipeline.transport import HttpTransport

    HttpTransport.register(_Canned)
    theirs_client = azure_chat.ChatThreadClient(
        ENDPOINT, azure_chat.CommunicationTokenCredential(token()), THREAD, transport=_Canned(status, body)
    )
    ours_client = botconnect.chat.ChatThreadClient(
        ENDPOINT,
        botconnect.chat.CommunicationTokenCredential(token()),
        THREAD,
        transport=httpx.MockTransport(lambda request: httpx.Response(status, json=body)),
    )
    with ours_client:
        return call(ours_client), call(theirs_client)


@pytest.mark.parametrize("body", MESSAGES, ids=lambda b: f"{b['type']}-{b['id']}")
def test_get_message_gives_microsofts_values(body: dict[str, Any]) -> None:
    ours, theirs = both(lambda client: client.get_message("1"), 200, body)
    same(ours, theirs)
    if theirs.content is not None:
        assert ours.content.participants == [] or theirs.content.participants  # [] where Microsoft gives []
        assert isinstance(ours.content.attachments, list)


def test_list_messages_gives_microsofts_values() -> None:
    ours, theirs = both(lambda client: list(client.list_messages()), 200, {"value": MESSAGES})
    same(ours, theirs)


def test_participants_receipts_and_properties_give_microsofts_values() -> None:
    participants = {"value": [{"communicationIdentifier": ACS, "displayName": "A"}, {"communicationIdentifier": PHONE}]}
    same(*both(lambda client: list(client.list_participants()), 200, participants))
    receipts = {
        "value": [{"senderCommunicationIdentifier": ACS, "chatMessageId": "1", "readOn": "2024-02-16T23:47:16Z"}]
    }
    same(*both(lambda client: list(client.list_read_receipts()), 200, receipts))
    properties = {
        "id": THREAD,
        "topic": "t",
        "createdOn": "2024-02-16T23:47:16Z",
        "createdByCommunicationIdentifier": ACS,
    }
    same(*both(lambda client: client.get_properties(), 200, properties))
    same(*both(lambda client: client.send_message("hi"), 201, {"id": "77"}))

    def add(client: Any) -> Any:
        return client.add_participants(
            [client_module(client).ChatParticipant(identifier=identity.CommunicationUserIdentifier(USER))]
        )

    same(*both(add, 201, {}))


def test_list_chat_threads_gives_microsofts_values() -> None:
    body = json.loads((RECORDINGS / "list_chat_threads.json").read_text())["Entries"][-1]["ResponseBody"]
    theirs_client = azure_chat.ChatClient(
        ENDPOINT, azure_chat.CommunicationTokenCredential(token()), transport=_Canned(200, body)
    )
    with botconnect.chat.ChatClient(
        ENDPOINT,
        botconnect.chat.CommunicationTokenCredential(token()),
        transport=httpx.MockTransport(lambda request: httpx.Response(200, json=body)),
    ) as ours_client:
        same(list(ours_client.list_chat_threads()), list(theirs_client.list_chat_threads()))


def test_emulator_responses_give_microsofts_values(tls_emulator: Emulator) -> None:
    """Bodies the emulator served (system messages, an edited and a deleted message, receipts) through both SDKs."""
    token_, _ = tls_emulator.issue_acs_token()
    other_token, other_id = tls_emulator.issue_acs_token()
    transport = botconnect.HTTP11Transport(ssl_context=tls_emulator.ssl_context())
    credential = botconnect.chat.CommunicationTokenCredential(token_)
    with botconnect.chat.ChatClient(tls_emulator.url, credential, transport=transport) as client:
        thread_id = client.create_chat_thread("recorded").chat_thread.id
        thread = client.get_chat_thread_client(thread_id)
        thread.add_participants([ChatParticipant(identifier=CommunicationUserIdentifier(other_id), display_name="O")])
        first = thread.send_message("first", sender_display_name="Me", metadata={"k": "v"}).id
        second = thread.send_message("<b>second</b>", chat_message_type="html").id
        thread.update_message(first, content="first, edited")
        thread.delete_message(second)
        thread.send_read_receipt(first)
        thread.update_topic(topic="renamed")
    api = {"api-version": "2024-03-07"}  # the version Microsoft's 1.3.0 asks for
    with httpx.Client(
        base_url=tls_emulator.url, verify=tls_emulator.ssl_context(), headers={"Authorization": f"Bearer {token_}"}
    ) as http:
        served = {
            "messages": http.get(f"/chat/threads/{thread_id}/messages", params=api).json(),
            "message": http.get(f"/chat/threads/{thread_id}/messages/{first}", params=api).json(),
            "participants": http.get(f"/chat/threads/{thread_id}/participants", params=api).json(),
            "receipts": http.get(f"/chat/threads/{thread_id}/readReceipts", params=api).json(),
            "properties": http.get(f"/chat/threads/{thread_id}", params=api).json(),
        }
    assert other_token
    assert {m["type"] for m in served["messages"]["value"]} >= {"text", "html", "participantAdded", "topicUpdated"}
    served["messages"].pop("nextLink", None)
    served["participants"].pop("nextLink", None)
    served["receipts"].pop("nextLink", None)
    same(*both(lambda c: list(c.list_messages()), 200, served["messages"]))
    same(*both(lambda c: c.get_message(first), 200, served["message"]))
    same(*both(lambda c: list(c.list_participants()), 200, served["participants"]))
    same(*both(lambda c: list(c.list_read_receipts()), 200, served["receipts"]))
    same(*both(lambda c: c.get_properties(), 200, served["properties"]))
