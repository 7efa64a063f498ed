"""Parsing Event Grid deliveries of ACS Chat events (both schemas) and answering the two webhook handshakes,
through both packages' exports."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

import botconnect
import botconnect_aio
from botconnect.models import (
    CHAT_EVENT_TYPES,
    ChatEvent,
    ChatMessageEventData,
    ChatParticipantEventData,
    ChatThreadEventData,
    CommunicationUserIdentifier,
)

from .harness import Env

ALICE = {"rawId": "8:acs:res_alice", "communicationUser": {"id": "8:acs:res_alice"}}
BOB = {"rawId": "8:acs:res_bob", "communicationUser": {"id": "8:acs:res_bob"}}
THREAD = "19:acsV1_abc@thread.v2"

MESSAGE_RECEIVED = {
    "id": "02272459-badb-4e2e-b538-4cb8a2f71da6",
    "topic": "/subscriptions/s/resourcegroups/g/providers/Microsoft.Communication/communicationServices/res",
    "subject": f"thread/{THREAD}/sender/8:acs:res_alice/recipient/8:acs:res_bob",
    "eventType": "Microsoft.Communication.ChatMessageReceived",
    "eventTime": "2021-02-19T00:25:58.9436463Z",
    "dataVersion": "1.0",
    "metadataVersion": "1",
    "data": {
        "messageBody": "Welcome to Azure Communication Services",
        "messageId": "1613694358927",
        "metadata": {"key": "value"},
        "senderCommunicationIdentifier": ALICE,
        "senderDisplayName": "Alice",
        "composeTime": "2021-02-19T00:25:58.927Z",
        "type": "Text",
        "version": 1613694358927,
        "recipientCommunicationIdentifier": BOB,
        "transactionId": "oh+LGB2dUUadMcTAdRWQxQ.1.1.1.1.1827536918.1.7",
        "threadId": THREAD,
    },
}
PARTICIPANT_ADDED = {
    "id": "e1",
    "eventType": "Microsoft.Communication.ChatThreadParticipantAdded",
    "eventTime": "2021-02-20T00:54:42Z",
    "subject": f"thread/{THREAD}",
    "dataVersion": "1.0",
    "data": {
        "time": "2021-02-20T00:54:42.5218946Z",
        "addedByCommunicationIdentifier": ALICE,
        "participantAdded": {
            "displayName": "Bob",
            "participantCommunicationIdentifier": BOB,
            "shareHistoryTime": "2021-02-20T00:54:42Z",
        },
        "version": 1613782482822,
        "transactionId": "9q6cO7i4FkaZ+5RRVzshVw.1.1.1.1.1473446055.1.5",
        "threadId": THREAD,
    },
}
THREAD_CREATED_CLOUD_EVENT = {
    "specversion": "1.0",
    "id": "c1",
    "source": "/subscriptions/s/resourcegroups/g/providers/Microsoft.Communication/communicationServices/res",
    "subject": f"thread/{THREAD}",
    "type": "Microsoft.Communication.ChatThreadCreated",
    "time": "2021-02-20T00:31:54.5369967Z",
    "data": {
        "createdByCommunicationIdentifier": ALICE,
        "properties": {"topic": "Talk about new Thread Events in commuication services"},
        "metadata": {},
        "participants": [{"displayName": "Bob", "participantCommunicationIdentifier": BOB}],
        "createTime": "2021-02-20T00:31:54.365+00:00",
        "version": 1613781114365,
        "threadId": THREAD,
        "transactionId": "gK6+kgANy0O1wchlVKVTJg.1.1.1.1.921436178.1",
    },
}


def test_an_event_grid_array_parses_into_typed_events(env: Env) -> None:
    events = env.pkg.parse_event_grid_events(json.dumps([MESSAGE_RECEIVED, PARTICIPANT_ADDED]).encode())
    message, added = events
    assert isinstance(message, ChatEvent)
    assert (message.schema, message.event_type, message.id) == (
        "EventGrid",
        MESSAGE_RECEIVED["eventType"],
        MESSAGE_RECEIVED["id"],
    )
    assert message.topic == MESSAGE_RECEIVED["topic"]
    assert message.data_version == "1.0"
    assert message.event_time == datetime(2021, 2, 19, 0, 25, 58, 943646, tzinfo=UTC)
    data = message.data
    assert isinstance(data, ChatMessageEventData)
    assert data.sender_communication_identifier == CommunicationUserIdentifier("8:acs:res_alice")
    assert data.recipient_communication_identifier == CommunicationUserIdentifier("8:acs:res_bob")
    assert (data.message_body, data.message_id, data.type, data.version) == (
        "Welcome to Azure Communication Services",
        "1613694358927",
        "Text",
        1613694358927,
    )
    assert (data.thread_id, data.sender_display_name, data.metadata) == (THREAD, "Alice", {"key": "value"})
    assert data.compose_time == datetime(2021, 2, 19, 0, 25, 58, 927000, tzinfo=UTC)
    assert isinstance(added.data, ChatParticipantEventData)
    assert added.data.participant_added is not None
    assert added.data.participant_added.display_name == "Bob"
    assert added.data.participant_added.participant_communication_identifier.raw_id == "8:acs:res_bob"
    assert added.data.added_by_communication_identifier.raw_id == "8:acs:res_alice"


def test_a_single_cloud_event_parses_with_its_envelope_renamed(env: Env) -> None:
    (event,) = env.pkg.parse_event_grid_events(THREAD_CREATED_CLOUD_EVENT)
    assert (event.schema, event.event_type, event.topic) == (
        "CloudEvents",
        "Microsoft.Communication.ChatThreadCreated",
        THREAD_CREATED_CLOUD_EVENT["source"],
    )
    assert event.event_time == datetime(2021, 2, 20, 0, 31, 54, 536996, tzinfo=UTC)
    assert isinstance(event.data, ChatThreadEventData)
    assert event.data.properties == {"topic": "Talk about new Thread Events in commuication services"}
    assert event.data.participants[0].participant_communication_identifier.raw_id == "8:acs:res_bob"
    assert event.data.created_by_communication_identifier.raw_id == "8:acs:res_alice"


def test_unknown_event_types_keep_their_data_and_fields(env: Env) -> None:
    other = {
        "id": "x",
        "eventType": "Microsoft.Storage.BlobCreated",
        "data": {"url": "u"},
        "eventTime": "2021-01-01T00:00:00Z",
        "extra": 1,
    }
    (event,) = env.pkg.parse_event_grid_events([other])
    assert event.data == {"url": "u"}
    assert event.to_dict()["extra"] == 1


def test_every_chat_event_type_is_typed() -> None:
    names = {name.removeprefix("Microsoft.Communication.") for name in CHAT_EVENT_TYPES}
    assert {
        "ChatMessageReceived",
        "ChatMessageEdited",
        "ChatMessageDeleted",
        "ChatMessageReceivedInThread",
        "ChatMessageEditedInThread",
        "ChatMessageDeletedInThread",
        "ChatThreadCreated",
        "ChatThreadDeleted",
        "ChatThreadPropertiesUpdated",
        "ChatThreadCreatedWithUser",
        "ChatThreadWithUserDeleted",
        "ChatThreadPropertiesUpdatedPerUser",
        "ChatThreadParticipantAdded",
        "ChatThreadParticipantRemoved",
        "ChatParticipantAddedToThreadWithUser",
        "ChatParticipantRemovedFromThreadWithUser",
    } == names


@pytest.mark.parametrize("body", [b"not json", b"42", b"[1]", b'[{"id": "no type"}]', b'{"specversion": "1.0"}'])
def test_bodies_that_are_not_events_raise_value_error(env: Env, body: bytes) -> None:
    with pytest.raises(ValueError):
        env.pkg.parse_event_grid_events(body)


def test_a_body_of_the_wrong_type_raises_type_error(env: Env) -> None:
    with pytest.raises(TypeError):
        env.pkg.parse_event_grid_events(42)


VALIDATION = {
    "id": "v1",
    "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
    "eventTime": "2021-01-01T00:00:00Z",
    "dataVersion": "1",
    "data": {"validationCode": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6", "validationUrl": "https://x"},
}


def test_the_subscription_validation_is_answered_with_its_code(env: Env) -> None:
    assert env.pkg.subscription_validation_response(json.dumps([VALIDATION])) == {
        "validationResponse": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"
    }
    assert env.pkg.subscription_validation_response(env.pkg.parse_event_grid_events([VALIDATION]))["validationResponse"]
    assert env.pkg.subscription_validation_response([MESSAGE_RECEIVED]) is None
    broken: dict[str, Any] = {**VALIDATION, "data": {}}
    with pytest.raises(ValueError):
        env.pkg.subscription_validation_response([broken])


def test_the_cloudevents_abuse_protection_handshake(env: Env) -> None:
    assert env.pkg.webhook_validation_headers({"WebHook-Request-Origin": "eventemitter.example.com"}) == {
        "WebHook-Allowed-Origin": "eventemitter.example.com"
    }
    assert env.pkg.webhook_validation_headers({"webhook-request-origin": "o"}, allowed_rate=120) == {
        "WebHook-Allowed-Origin": "o",
        "WebHook-Allowed-Rate": "120",
    }
    with pytest.raises(ValueError):
        env.pkg.webhook_validation_headers({})
    with pytest.raises(ValueError):
        env.pkg.webhook_validation_headers({"WebHook-Request-Origin": "o"}, allowed_rate=0)


def test_both_packages_export_the_same_objects() -> None:
    for name in (
        "parse_event_grid_events",
        "subscription_validation_response",
        "webhook_validation_headers",
        "ChatEvent",
    ):
        assert getattr(botconnect, name) is getattr(botconnect_aio, name)
