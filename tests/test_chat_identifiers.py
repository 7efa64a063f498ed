"""Communication identifiers: raw id <-> object <-> wire dict for every kind, and unknown kinds round-tripping."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from botconnect._core import serde
from botconnect.chat import (
    ChatMessage,
    ChatParticipant,
    ChatThreadProperties,
    CommunicationCloudEnvironment,
    CommunicationIdentifier,
    CommunicationIdentifierKind,
    CommunicationUserIdentifier,
    CreateChatThreadResult,
    MicrosoftTeamsAppIdentifier,
    MicrosoftTeamsUserIdentifier,
    NoneRetentionPolicy,
    PhoneNumberIdentifier,
    ThreadCreationDateRetentionPolicy,
    UnknownIdentifier,
    identifier_from_raw_id,
)
from botconnect.errors import DeserializationError
from botconnect.models import identifiers
from botconnect.models.chat import ChatRetentionPolicy
from botconnect.models.identifiers import identifier_from_wire, identifier_to_wire

ACS = "8:acs:b6372803-0c35-4ec0-833b-c19b798cef2d_0000000e-3240-55cf-9806-113a0d001dd9"
PUBLIC, DOD, GCCH = (
    CommunicationCloudEnvironment.PUBLIC,
    CommunicationCloudEnvironment.DOD,
    CommunicationCloudEnvironment.GCCH,
)

# raw id, the identifier it stands for, and its wire form (with kind)
KINDS: list[tuple[str, CommunicationIdentifier, dict[str, Any]]] = [
    (ACS, CommunicationUserIdentifier(ACS), {"communicationUser": {"id": ACS}}),
    ("8:spool:abc", CommunicationUserIdentifier("8:spool:abc"), {"communicationUser": {"id": "8:spool:abc"}}),
    ("8:dod-acs:abc", CommunicationUserIdentifier("8:dod-acs:abc"), {"communicationUser": {"id": "8:dod-acs:abc"}}),
    ("8:gcch-acs:abc", CommunicationUserIdentifier("8:gcch-acs:abc"), {"communicationUser": {"id": "8:gcch-acs:abc"}}),
    ("4:+14255550123", PhoneNumberIdentifier("+14255550123"), {"phoneNumber": {"value": "+14255550123"}}),
    (
        "8:orgid:45ab2481",
        MicrosoftTeamsUserIdentifier("45ab2481"),
        {"microsoftTeamsUser": {"userId": "45ab2481", "isAnonymous": False, "cloud": "public"}},
    ),
    (
        "8:dod:45ab2481",
        MicrosoftTeamsUserIdentifier("45ab2481", cloud=DOD),
        {"microsoftTeamsUser": {"userId": "45ab2481", "isAnonymous": False, "cloud": "dod"}},
    ),
    (
        "8:gcch:45ab2481",
        MicrosoftTeamsUserIdentifier("45ab2481", cloud="GCCH"),
        {"microsoftTeamsUser": {"userId": "45ab2481", "isAnonymous": False, "cloud": "gcch"}},
    ),
    (
        "8:teamsvisitor:45ab2481",
        MicrosoftTeamsUserIdentifier("45ab2481", is_anonymous=True),
        {"microsoftTeamsUser": {"userId": "45ab2481", "isAnonymous": True, "cloud": "public"}},
    ),
    (
        "28:orgid:bot-1",
        MicrosoftTeamsAppIdentifier("bot-1"),
        {"microsoftTeamsApp": {"appId": "bot-1", "cloud": "public"}},
    ),
    (
        "28:dod:bot-1",
        MicrosoftTeamsAppIdentifier("bot-1", cloud=DOD),
        {"microsoftTeamsApp": {"appId": "bot-1", "cloud": "dod"}},
    ),
    (
        "28:gcch:bot-1",
        MicrosoftTeamsAppIdentifier("bot-1", cloud=GCCH),
        {"microsoftTeamsApp": {"appId": "bot-1", "cloud": "gcch"}},
    ),
]


def full_wire(raw_id: str, body: dict[str, Any]) -> dict[str, Any]:
    [kind] = body
    return {"kind": kind, "rawId": raw_id, **body}


@pytest.mark.parametrize(("raw_id", "expected", "body"), KINDS, ids=[k[0] for k in KINDS])
def test_each_kind_round_trips(raw_id: str, expected: CommunicationIdentifier, body: dict[str, Any]) -> None:
    identifier = identifier_from_raw_id(raw_id)
    assert type(identifier) is type(expected)
    assert identifier == expected
    assert identifier.properties == expected.properties
    assert expected.raw_id == identifier.raw_id == raw_id
    wire = identifier_to_wire(identifier)
    assert wire == full_wire(raw_id, body)
    assert identifier_to_wire(identifier, include_kind=False) == {"rawId": raw_id, **body}
    for form in (wire, {"rawId": raw_id, **body}):  # 2025-03-15 (kind) and 2024-03-07 (no kind) responses
        parsed = identifier_from_wire(form)
        assert type(parsed) is type(expected)
        assert parsed.properties == expected.properties
        assert parsed.raw_id == raw_id
        assert identifier_to_wire(parsed) == form  # a parsed identifier serializes back exactly as it came


def test_kind_specific_fields() -> None:
    assert CommunicationUserIdentifier(ACS).kind is CommunicationIdentifierKind.COMMUNICATION_USER
    phone = identifier_from_raw_id("4:+14255550123_9a0c")
    assert isinstance(phone, PhoneNumberIdentifier)
    assert (phone.value, phone.asserted_id, phone.is_anonymous) == ("+14255550123_9a0c", "9a0c", False)
    assert PhoneNumberIdentifier("+1555").asserted_id is None
    assert PhoneNumberIdentifier("anonymous").is_anonymous
    visitor = identifier_from_raw_id("8:teamsvisitor:x")
    assert isinstance(visitor, MicrosoftTeamsUserIdentifier)
    assert visitor.is_anonymous
    assert visitor.cloud is PUBLIC
    app = identifier_from_raw_id("28:gcch:bot")
    assert isinstance(app, MicrosoftTeamsAppIdentifier)
    assert app.cloud is GCCH
    assert app.app_id == "bot"


@pytest.mark.parametrize(
    "raw_id", ["", "8:acs:", "4:", "8:orgid:", "28:orgid:", "8:teamsvisitor:", "1:x", "28:x:y", "acs:x"]
)
def test_unrecognised_raw_ids_are_unknown(raw_id: str) -> None:
    identifier = identifier_from_raw_id(raw_id)
    assert type(identifier) is UnknownIdentifier
    assert identifier.raw_id == raw_id
    assert identifier_to_wire(identifier) == {"rawId": raw_id}


def test_an_explicit_raw_id_is_kept() -> None:
    user = CommunicationUserIdentifier("sanitized", raw_id=ACS)
    assert user.raw_id == ACS
    assert user == CommunicationUserIdentifier(ACS)
    assert identifier_to_wire(user) == {
        "kind": "communicationUser",
        "rawId": ACS,
        "communicationUser": {"id": "sanitized"},
    }


def test_equality_and_hashing_go_by_raw_id() -> None:
    assert CommunicationUserIdentifier(ACS) == CommunicationUserIdentifier(ACS)
    assert hash(CommunicationUserIdentifier(ACS)) == hash(UnknownIdentifier(ACS))
    assert CommunicationUserIdentifier(ACS) == UnknownIdentifier(ACS)  # the same participant, as in the Azure SDK
    assert CommunicationUserIdentifier(ACS) != CommunicationUserIdentifier(ACS + "x")
    assert PhoneNumberIdentifier("+1") != "4:+1"
    parsed = identifier_from_wire(full_wire(ACS, {"communicationUser": {"id": ACS}}))
    assert {parsed, CommunicationUserIdentifier(ACS), identifier_from_raw_id(ACS)} == {CommunicationUserIdentifier(ACS)}
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        parsed.id = "other"  # type: ignore[misc]


def test_constructors_validate() -> None:
    with pytest.raises(ValueError):
        CommunicationUserIdentifier("")
    with pytest.raises(TypeError):
        PhoneNumberIdentifier(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cloud"):
        MicrosoftTeamsAppIdentifier("a", cloud="moon")
    with pytest.raises(TypeError):
        MicrosoftTeamsUserIdentifier("u", is_anonymous="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        identifier_from_raw_id(None)  # type: ignore[arg-type]


UNKNOWN_WIRES = [
    {
        "kind": "teamsExtensionUser",
        "rawId": "8:acs:r_t_u",
        "teamsExtensionUser": {"userId": "u", "tenantId": "t", "resourceId": "r"},
    },
    {"kind": "somethingNew", "rawId": "99:new", "somethingNew": {"id": [1, 2]}},
    {"rawId": "8:acs:only-a-raw-id"},
    {"kind": "communicationUser", "rawId": ACS},  # the kind's object is missing
    {"rawId": "8:orgid:x", "microsoftTeamsUser": {"userId": "x", "cloud": "moon"}},  # a cloud we do not know
    {"rawId": "x", "communicationUser": {"id": "a"}, "phoneNumber": {"value": "+1"}},  # two kinds at once
    {"kind": "phoneNumber", "rawId": "4:+1", "phoneNumber": {"value": 15551234}},
    {"kind": 7},
    {},
]


@pytest.mark.parametrize("wire", UNKNOWN_WIRES)
def test_unknown_kinds_round_trip_unchanged(wire: dict[str, Any]) -> None:
    original = copy.deepcopy(wire)
    identifier = identifier_from_wire(wire)
    assert type(identifier) is UnknownIdentifier
    assert identifier.raw_id == (wire.get("rawId") if isinstance(wire.get("rawId"), str) else "")
    assert identifier.raw == original
    assert identifier_to_wire(identifier) == original
    assert identifier_to_wire(identifier, include_kind=False) == original
    wire.clear()  # the identifier kept its own copy
    assert identifier.raw == original


def test_identifiers_inside_models() -> None:
    message = {
        "id": "1",
        "type": "participantAdded",
        "sequenceId": "1",
        "version": "1",
        "createdOn": "2024-02-16T23:47:16Z",
        "senderCommunicationIdentifier": UNKNOWN_WIRES[0],
        "content": {
            "participants": [
                {"communicationIdentifier": {"rawId": ACS, "communicationUser": {"id": ACS}}, "metadata": {"a": "b"}}
            ],
            "initiatorCommunicationIdentifier": full_wire("4:+1", {"phoneNumber": {"value": "+1"}}),
        },
        "futureField": {"kept": True},
    }
    parsed = ChatMessage.from_dict(message)
    assert isinstance(parsed.sender, UnknownIdentifier)
    assert parsed.content.participants[0].identifier == CommunicationUserIdentifier(ACS)
    assert parsed.content.initiator == PhoneNumberIdentifier("+1")
    assert parsed.created_on == datetime(2024, 2, 16, 23, 47, 16, tzinfo=UTC)
    assert parsed.to_dict() == message
    assert ChatMessage.from_dict(parsed.to_dict()) == parsed
    built = ChatParticipant(identifier=MicrosoftTeamsAppIdentifier("bot"), display_name="Bot")
    assert built.to_dict() == {
        "communicationIdentifier": full_wire(
            "28:orgid:bot", {"microsoftTeamsApp": {"appId": "bot", "cloud": "public"}}
        ),
        "displayName": "Bot",
    }
    with pytest.raises(DeserializationError, match="must be a JSON object"):  # a ValueError too
        ChatParticipant.from_dict({"communicationIdentifier": "8:acs:x"})


def test_retention_policies_and_create_results() -> None:
    assert ThreadCreationDateRetentionPolicy(delete_thread_after_days=30).to_dict() == {
        "kind": "threadCreationDate",
        "deleteThreadAfterDays": 30,
    }
    assert NoneRetentionPolicy().to_dict() == {"kind": "none"}
    props = ChatThreadProperties.from_dict(
        {"id": "t", "retentionPolicy": {"kind": "threadCreationDate", "deleteThreadAfterDays": 9}}
    )
    assert isinstance(props.retention_policy, ThreadCreationDateRetentionPolicy)
    future = ChatRetentionPolicy.from_dict({"kind": "messageAge", "days": 3})
    assert type(future) is ChatRetentionPolicy
    assert future.to_dict() == {"kind": "messageAge", "days": 3}
    result = CreateChatThreadResult.from_dict(
        {"chatThread": {"id": "t"}, "invalidParticipants": [{"code": "c", "message": "m"}]}
    )
    assert result.errors == []  # filled in by create_chat_thread, never part of the wire form
    result.errors = [(ChatParticipant(), result.invalid_participants[0])]
    assert result.to_dict() == {"chatThread": {"id": "t"}, "invalidParticipants": [{"code": "c", "message": "m"}]}


# -- properties ---------------------------------------------------------------------------------------------

PREFIXES = [
    "8:acs:",
    "8:spool:",
    "8:dod-acs:",
    "8:gcch-acs:",
    "4:",
    "8:orgid:",
    "8:dod:",
    "8:gcch:",
    "8:teamsvisitor:",
    "28:orgid:",
    "28:dod:",
    "28:gcch:",
]
raw_ids = st.one_of(st.text(), st.builds(str.__add__, st.sampled_from(PREFIXES), st.text()))


@settings(max_examples=300)
@given(raw_ids)
def test_any_raw_id_round_trips(raw_id: str) -> None:
    identifier = identifier_from_raw_id(raw_id)
    assert identifier.raw_id == raw_id
    for include_kind in (True, False):
        back = identifier_from_wire(identifier_to_wire(identifier, include_kind=include_kind))
        assert type(back) is type(identifier)
        assert back == identifier
        assert back.properties == identifier.properties
    known = any(raw_id.startswith(p) and len(raw_id) > len(p) for p in PREFIXES)
    assert isinstance(identifier, UnknownIdentifier) != known


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(), children, max_size=3),
    max_leaves=8,
)
unknown_kinds = st.text().filter(
    lambda k: k not in {"communicationUser", "phoneNumber", "microsoftTeamsUser", "microsoftTeamsApp"}
)


@settings(max_examples=200)
@given(unknown_kinds, raw_ids, st.dictionaries(st.text(), json_values, max_size=4))
def test_any_unknown_kind_round_trips_unchanged(kind: str, raw_id: str, extra: dict[str, Any]) -> None:
    wire = {**extra, "kind": kind, "rawId": raw_id}
    identifier = identifier_from_wire(copy.deepcopy(wire))
    assert type(identifier) is UnknownIdentifier
    assert identifier.raw_id == raw_id
    assert identifier_to_wire(identifier) == wire
    participant = ChatParticipant.from_dict({"communicationIdentifier": wire, "displayName": "x"})
    assert participant.to_dict() == {"communicationIdentifier": wire, "displayName": "x"}


@pytest.mark.parametrize(
    "sender",
    [
        {"rawId": ACS, "communicationUser": {"id": ACS}},  # what the service sends: the fast path
        {"communicationUser": {"id": ACS}, "rawId": ACS},  # other order: kept as sent
        {"kind": "communicationUser", "rawId": ACS, "communicationUser": {"id": ACS}},
        {"rawId": "", "communicationUser": {"id": ACS}},
        {"rawId": 5, "communicationUser": {"id": ACS}},
        {"rawId": ACS, "communicationUser": {"id": ACS, "extra": 1}},
        {"rawId": ACS, "communicationUser": {"id": ""}},
        {"rawId": ACS, "communicationUser": {"id": 7}},
        {"rawId": ACS, "communicationUser": {"other": ACS}},
        {"rawId": ACS, "communicationUser": None},
        {"rawId": "8:acs:other", "communicationUser": {"id": ACS}},
        {"rawId": ACS, "phoneNumber": {"value": "+1"}},
    ],
    ids=repr,
)
def test_senders_parse_alike_from_a_decoded_tree_and_from_a_dict(sender: dict[str, Any]) -> None:
    """A message's sender parsed from JSON (the decoded tree, kept) equals the one parsed from a caller's dict
    (copied), and writes back the same bytes, in the order they came."""
    message = {"id": "1", "type": "text", "sequenceId": "1", "version": "1", "senderCommunicationIdentifier": sender}
    from_dict = outcome(lambda: ChatMessage.from_dict(copy.deepcopy(message)))
    from_json = outcome(lambda: ChatMessage.from_json(serde.dumps(message)))
    assert from_json == from_dict
    if from_json[0] == "ok":
        reference = identifiers._from_wire(copy.deepcopy(sender), True)  # the general path, no shortcuts
        for parsed in (from_json[1].sender, from_dict[1].sender):
            assert type(parsed) is type(reference)

            def public(field: attrs.Attribute[Any], _: Any) -> bool:
                return not field.name.startswith("_")  # the kept wire form aside: identifier_to_wire checks it

            assert attrs.asdict(parsed, filter=public) == attrs.asdict(reference, filter=public)
            assert parsed.raw_id == reference.raw_id
            assert identifier_to_wire(parsed) == sender
        assert from_json[1].to_json() == from_dict[1].to_json() == serde.dumps(message)


def outcome(fn: Any) -> tuple[Any, ...]:
    try:
        return ("ok", fn())
    except Exception as exc:
        return ("error", type(exc), str(exc))
