"""The generated structure functions (serde's fast path) against the generic cattrs path they stand in for.

Every model is parsed three ways: ``serde.structure`` of a dict (the generated function that only reads),
``serde.structure_parsed`` of a private copy (the one that consumes a decoded tree: ``from_json`` and the page
parsers) and, as the reference, the generic cattrs-generated functions alone (the fast path switched off). They
must give equal models and equal ``to_dict`` output, or the same exception type with the same message.
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from unittest import mock

import attrs
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from botconnect._core import serde, serde_codegen, serde_scalars
from botconnect._core.paging import Page, page_parser, resolve_next_link
from botconnect._core.requests.connector import build_get_conversation_paged_members
from botconnect._core.responses import model_parser
from botconnect._core.security import same_origin
from botconnect.errors import DeserializationError, UntrustedEndpointError
from botconnect.models import (
    Activity,
    CardAction,
    ChannelAccount,
    ConversationAccount,
    ConversationReference,
    GeoCoordinates,
    InnerHttpError,
    Model,
    PagedMembersResult,
    SuggestedActions,
    TeamsChannelAccount,
)
from botconnect.models.chat import (
    ChatMessage,
    ChatMessagesCollection,
    ChatMessageType,
    ChatRetentionPolicy,
    ChatThreadProperties,
    ThreadCreationDateRetentionPolicy,
)
from botconnect.models.enums import RoleTypes
from botconnect.models.identifiers import (
    CommunicationUserIdentifier,
    MicrosoftTeamsAppIdentifier,
    MicrosoftTeamsUserIdentifier,
    PhoneNumberIdentifier,
    UnknownIdentifier,
    _from_wire,
    identifier_from_wire,
    identifier_to_wire,
)

from .test_model_roundtrip import ALL_MODELS, JSON_VALUES, _inject_unknown_keys, model_strategy


class Text(str):
    """A str subclass: not ``type(v) is str``, so the fast path must hand it to the converter's hook."""


@contextlib.contextmanager
def generic_only() -> Iterator[None]:
    """Every model structured by the generic cattrs functions alone, as before the fast path existed."""
    with mock.patch.object(serde, "_fast_supported", return_value=False):
        serde.converter._structure_func.clear_cache()
        serde._parsed_hooks.clear()
        try:
            yield
        finally:
            serde.converter._structure_func.clear_cache()
            serde._parsed_hooks.clear()


def outcome(fn: Callable[[], Any]) -> tuple[Any, ...]:
    try:
        result = fn()
    except Exception as exc:
        return ("error", type(exc), str(exc))
    return ("ok", result)


def assert_same(fast: tuple[Any, ...], reference: tuple[Any, ...]) -> None:
    if reference[0] == "error" or fast[0] == "error":
        assert fast == reference
        return
    assert type(fast[1]) is type(reference[1])
    assert fast[1] == reference[1]
    assert fast[1].to_dict() == reference[1].to_dict()


def check_all_paths(wire: Any, cls: type[Any]) -> tuple[Any, ...]:
    """Parse ``wire`` every way; they must agree; ``wire`` must not be touched. Returns the outcome.

    Each fast function runs twice from no remembered shapes: the first parse takes the general path (and learns
    the document's key sequence), the second the shape function made from it.
    """
    snapshot = copy.deepcopy(wire)
    serde_codegen.forget_shapes()
    fast = outcome(lambda: serde.structure(wire, cls))
    fast_shaped = outcome(lambda: serde.structure(wire, cls))
    assert wire == snapshot, "structure must not change its input"
    parsed = outcome(lambda: serde.structure_parsed(copy.deepcopy(wire), cls))
    parsed_shaped = outcome(lambda: serde.structure_parsed(copy.deepcopy(wire), cls))
    with generic_only():
        reference = outcome(lambda: serde.structure(wire, cls))
    for result in (fast, fast_shaped, parsed, parsed_shaped):
        assert_same(result, reference)
    return fast


# -- the generated functions are the ones in use ---------------------------------------------------------------


def test_models_get_generated_functions() -> None:
    hook = serde.converter.get_structure_hook(ChannelAccount)
    assert hook.__name__ == "structure_ChannelAccount"
    assert serde._parsed_hook(ChannelAccount).__name__ == "structure_parsed_ChannelAccount"
    assert serde._parsed_hook(ChatMessage).__name__ == "structure_parsed_ChatMessage"


# -- odd inputs, one by one --------------------------------------------------------------------------------------

ODD_VALUES: list[Any] = [
    None,
    "x",
    "",
    Text("sub"),
    5,
    -1.5,
    True,
    False,
    [],
    ["a"],
    [{"id": "1"}],
    {},
    {"id": "1", "unknownNested": {"deep": [1, {"x": None}]}},
    "2024-05-01T12:00:00Z",
    "2024-05-01T12:00:00.1234567+02:00",
    "not a date",
    "text",
    "user",
    "threadCreationDate",
    {"rawId": "8:acs:a", "communicationUser": {"id": "8:acs:a"}},
]
#: models whose fields cover every kind of field the generator handles
ODD_MODELS = [ChannelAccount, TeamsChannelAccount, Activity, ChatMessage, ChatThreadProperties, ChatRetentionPolicy]


def _odd_cases() -> Iterator[Any]:
    for cls in ODD_MODELS:
        for field in attrs.fields(cls):
            if field.name == serde.EXTRAS_FIELD:
                continue
            for index, value in enumerate(ODD_VALUES):
                yield pytest.param(cls, serde.wire_name(field), value, id=f"{cls.__name__}.{field.name}-{index}")


@pytest.mark.parametrize(("cls", "key", "value"), list(_odd_cases()))
def test_odd_field_values_match_the_generic_path(cls: type[Any], key: str, value: Any) -> None:
    check_all_paths({key: value, "someUnknownKey": {"nested": [1, {"a": None}]}}, cls)


@pytest.mark.parametrize(
    "data",
    [None, "x", 5, [], [{"id": "1"}], Text("x"), {"id": "1"}],
    ids=lambda v: type(v).__name__,
)
def test_odd_documents_match_the_generic_path(data: Any) -> None:
    for cls in ODD_MODELS:
        check_all_paths(data, cls)


def test_expected_outcomes() -> None:
    """A few of the cases above spelled out, so the reference itself is pinned down."""
    assert check_all_paths({"id": 5}, ChannelAccount)[1].id == "5"
    assert check_all_paths({"id": True}, ChannelAccount) == ("error", TypeError, "expected a string, got bool")
    sub = check_all_paths({"id": Text("a")}, ChannelAccount)[1].id
    assert sub == "a"
    assert type(sub) is Text
    assert check_all_paths({"role": "user"}, ChannelAccount)[1].role is RoleTypes.USER
    assert check_all_paths({"role": "robot"}, ChannelAccount)[1].role == "robot"
    message = check_all_paths({"type": "text", "createdOn": "2024-05-01T12:00:00Z"}, ChatMessage)[1]
    assert message.type is ChatMessageType.TEXT
    assert message.created_on == datetime(2024, 5, 1, 12, tzinfo=UTC)
    error = check_all_paths({"metadata": []}, ChatMessage)
    assert error[:2] == ("error", TypeError)
    assert error[2].startswith("ChatMessage: a field has the wrong JSON shape")
    assert check_all_paths({"members": {"id": "1"}}, PagedMembersResult)[:2] == ("error", TypeError)
    # out-of-range numbers are a ValueError like any bad value (the page parsers turn those into DeserializationError)
    assert check_all_paths({"statusCode": float("inf")}, InnerHttpError) == (
        "error",
        ValueError,
        "float value out of range for int",
    )
    assert check_all_paths({"latitude": 10**400}, GeoCoordinates)[:2] == ("error", ValueError)
    assert check_all_paths({"statusCode": "12"}, InnerHttpError)[1].status_code == 12
    policy = check_all_paths({"kind": "threadCreationDate", "deleteThreadAfterDays": 3}, ChatRetentionPolicy)[1]
    assert type(policy) is ThreadCreationDateRetentionPolicy
    assert policy.delete_thread_after_days == 3


def test_unknown_keys_keep_their_order_and_nested_values() -> None:
    wire = {"z": 1, "id": "a", "b": {"c": [1, 2]}, "name": "n", "a": None}
    for account in (ChannelAccount.from_dict(wire), ChannelAccount.from_json(serde.dumps(wire))):
        assert list(account.additional_properties) == ["z", "b", "a"]
        assert account.additional_properties["b"] == {"c": [1, 2]}
        assert account.to_dict() == wire


def test_post_init_runs_on_the_fast_path() -> None:
    wire = {"deleteThreadAfterDays": 3}
    assert ThreadCreationDateRetentionPolicy.from_dict(wire).kind == "threadCreationDate"
    assert ThreadCreationDateRetentionPolicy.from_json(serde.dumps(wire)).kind == "threadCreationDate"
    assert check_all_paths(wire, ThreadCreationDateRetentionPolicy)[1].kind == "threadCreationDate"


# -- models the generator treats differently -------------------------------------------------------------------


def _positive(instance: Any, attribute: Any, value: Any) -> None:
    if value is not None and value < 0:
        raise ValueError(f"{attribute.name} must not be negative")


@attrs.define(kw_only=True, repr=False)
class _Validated(Model):
    count: int | None = attrs.field(default=None, validator=_positive)
    label: str | None = None


@attrs.define(kw_only=True, repr=False)
class _WithDefault(Model):
    size: int | None = 3
    label: str | None = None


def _seconds(value: Any, _: Any) -> timedelta:
    return timedelta(seconds=value)


@attrs.define(kw_only=True, repr=False)
class _WithCodec(Model):
    delay: timedelta | None = attrs.field(default=None, metadata={serde.CODEC: (_seconds, timedelta.total_seconds)})


@attrs.define(kw_only=True, repr=False)
class _Shouting(Model):
    label: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.label is not None:
            self.label = self.label.upper()


def test_validators_still_run() -> None:
    assert check_all_paths({"count": 2, "x": 1}, _Validated)[1].count == 2
    assert check_all_paths({"count": -1}, _Validated) == ("error", ValueError, "count must not be negative")
    assert check_all_paths({"count": "-1"}, _Validated) == ("error", ValueError, "count must not be negative")


def test_non_none_defaults_use_the_generic_path() -> None:
    assert check_all_paths({}, _WithDefault)[1].size == 3
    assert check_all_paths({"size": None, "q": 1}, _WithDefault)[1].size is None


def test_codec_fields() -> None:
    assert check_all_paths({"delay": 1.5}, _WithCodec)[1].delay == timedelta(seconds=1.5)
    assert check_all_paths({}, _WithCodec)[1].delay is None
    assert check_all_paths({"delay": None}, _WithCodec)[:2] == ("error", TypeError)


def test_post_init_classes() -> None:
    assert check_all_paths({"label": "abc"}, _Shouting)[1].label == "ABC"


# -- random documents ------------------------------------------------------------------------------------------

ODD = st.one_of(JSON_VALUES, st.sampled_from(ODD_VALUES), st.text(max_size=8).map(Text))


def _positions(tree: Any) -> list[tuple[Any, Any]]:
    found: list[tuple[Any, Any]] = []

    def walk(node: Any) -> None:
        if type(node) is dict:
            for key, value in node.items():
                found.append((node, key))
                walk(value)
        elif type(node) is list:
            for index, value in enumerate(node):
                found.append((node, index))
                walk(value)

    walk(tree)
    return found


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_random_documents_match_the_generic_path(data: st.DataObject) -> None:
    cls = data.draw(st.sampled_from(ALL_MODELS), label="class")
    wire = data.draw(model_strategy(cls)).to_dict()
    _inject_unknown_keys(data, cls, wire)
    positions = _positions(wire)
    for _ in range(data.draw(st.integers(min_value=0, max_value=3), label="changes")):
        if positions:
            container, key = data.draw(st.sampled_from(positions), label="where")
            container[key] = data.draw(ODD, label="value")
    check_all_paths(wire, cls)


# -- identifiers -----------------------------------------------------------------------------------------------

#: a wire dict, and the identifier its public constructor gives for it (``_wire`` / ``raw``: that dict)
IDENTIFIER_WIRES: list[tuple[dict[str, Any], Callable[[dict[str, Any]], Any]]] = [
    (
        {"rawId": "8:acs:a", "communicationUser": {"id": "8:acs:a"}},
        lambda w: CommunicationUserIdentifier("8:acs:a", raw_id="8:acs:a", _wire=w),
    ),
    (
        {"kind": "communicationUser", "communicationUser": {"id": "8:acs:a"}},
        lambda w: CommunicationUserIdentifier("8:acs:a", _wire=w),
    ),
    (
        {"rawId": "4:+1555", "phoneNumber": {"value": "+1555"}},
        lambda w: PhoneNumberIdentifier("+1555", raw_id="4:+1555", _wire=w),
    ),
    (
        {"microsoftTeamsUser": {"userId": "u", "isAnonymous": None, "cloud": "DOD"}},
        lambda w: MicrosoftTeamsUserIdentifier("u", cloud="dod", _wire=w),
    ),
    (
        {"microsoftTeamsUser": {"userId": "u", "isAnonymous": True}, "rawId": "8:teamsvisitor:u"},
        lambda w: MicrosoftTeamsUserIdentifier("u", is_anonymous=True, raw_id="8:teamsvisitor:u", _wire=w),
    ),
    (
        {"microsoftTeamsApp": {"appId": "a"}, "rawId": "28:orgid:a"},
        lambda w: MicrosoftTeamsAppIdentifier("a", raw_id="28:orgid:a", _wire=w),
    ),
    # not understood: two kinds, an unknown kind, wrong shapes
    (
        {"rawId": "x", "communicationUser": {"id": "a"}, "phoneNumber": {"value": "b"}},
        lambda w: UnknownIdentifier("x", raw=w),
    ),
    ({"rawId": "x", "kind": "newKind", "newKind": {}}, lambda w: UnknownIdentifier("x", raw=w)),
    ({"communicationUser": {"id": ""}}, lambda w: UnknownIdentifier("", raw=w)),
    ({"communicationUser": []}, lambda w: UnknownIdentifier("", raw=w)),
    ({"microsoftTeamsUser": {"userId": "u", "cloud": "mars"}}, lambda w: UnknownIdentifier("", raw=w)),
    ({"rawId": 5, "communicationUser": {"id": "a"}}, lambda w: CommunicationUserIdentifier("a", _wire=w)),
]


@pytest.mark.parametrize(("wire", "construct"), IDENTIFIER_WIRES, ids=lambda v: str(v)[:40])
def test_identifiers_built_without_init_equal_constructed_ones(
    wire: dict[str, Any], construct: Callable[[dict[str, Any]], Any]
) -> None:
    expected = construct(wire)
    for copy_wire in (True, False):
        parsed = _from_wire(copy.deepcopy(wire), copy=copy_wire)
        assert type(parsed) is type(expected)
        names = [f.name for f in attrs.fields(type(expected)) if f.name != "_wire"]
        assert [getattr(parsed, n) for n in names] == [getattr(expected, n) for n in names]
        assert [type(getattr(parsed, n)) for n in names] == [type(getattr(expected, n)) for n in names]
        assert identifier_to_wire(parsed) == identifier_to_wire(expected) == wire
        assert list(identifier_to_wire(parsed)) == list(wire)
        assert identifier_to_wire(parsed, include_kind=True) == identifier_to_wire(expected, include_kind=True)
        assert identifier_to_wire(parsed, include_kind=False) == identifier_to_wire(expected, include_kind=False)
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            parsed.raw_id = "y"  # type: ignore[misc]


@pytest.mark.parametrize(
    "wire",
    [
        {"rawId": "8:acs:a", "communicationUser": {"id": "8:acs:a"}},
        {"kind": "communicationUser", "rawId": "8:acs:a", "communicationUser": {"id": "8:acs:a"}},
        {"communicationUser": {"id": "8:acs:a"}, "rawId": "8:acs:a"},
        {"rawId": "8:acs:a", "kind": "communicationUser", "communicationUser": {"id": "8:acs:a"}},
        {"rawId": "8:acs:b", "communicationUser": {"id": "8:acs:a"}},
        {"rawId": "8:acs:a", "communicationUser": {"id": "8:acs:a", "x": 1}},
        {"rawId": "", "communicationUser": {"id": "8:acs:a"}},
        {"kind": None, "rawId": "8:acs:a", "communicationUser": {"id": "8:acs:a"}},
    ],
)
def test_identifier_comes_back_exactly_as_it_came(wire: dict[str, Any]) -> None:
    """Whether the wire dict is kept or only flagged as the built form, to_dict/to_json give the same keys, order
    and bytes; ``attrs.evolve`` still works on a parsed identifier."""
    for parsed in (identifier_from_wire(wire), _from_wire(copy.deepcopy(wire), copy=False)):
        out = identifier_to_wire(parsed)
        assert out == wire
        assert serde.dumps(out) == serde.dumps(wire)
        assert attrs.evolve(parsed).raw_id == parsed.raw_id
    message = {"id": "1", "senderCommunicationIdentifier": wire}
    assert ChatMessage.from_json(serde.dumps(message)).to_json() == serde.dumps(message)
    assert ChatMessage.from_dict(message).to_json() == serde.dumps(message)


def test_identifier_wire_copied_unless_parsed() -> None:
    wire = {"rawId": "8:acs:a", "communicationUser": {"id": "8:acs:a"}, "extra": {"k": [1]}}
    copied = identifier_from_wire(wire)
    wire["extra"]["k"].append(2)
    assert identifier_to_wire(copied)["extra"] == {"k": [1]}
    kept = _from_wire(wire, copy=False)
    assert kept._wire is wire  # type: ignore[attr-defined]


def test_identifier_errors_unchanged() -> None:
    with pytest.raises(TypeError, match="must be a JSON object, got list"):
        identifier_from_wire([])  # type: ignore[arg-type]
    assert check_all_paths({"senderCommunicationIdentifier": "8:acs:a"}, ChatMessage)[:2] == ("error", TypeError)


# -- page parsers ----------------------------------------------------------------------------------------------


def _response(body: bytes) -> httpx.Response:
    return httpx.Response(200, content=body, request=httpx.Request("GET", "http://127.0.0.1/x"))


@pytest.mark.parametrize(
    "body",
    [
        b'{"members": [{"id": "1", "givenName": "G"}], "continuationToken": "t"}',
        b'{"members": [{"id": true}]}',
        b'{"members": {"id": "1"}}',
        b"[]",
        b'{"members": null}',
    ],
)
@pytest.mark.parametrize("use_orjson", [True, False])
def test_page_parser_matches_model_parser(body: bytes, use_orjson: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if not use_orjson:
        monkeypatch.setattr(serde, "_orjson", None)
        monkeypatch.setattr(serde_scalars, "_orjson", None)
    op = build_get_conversation_paged_members(httpx.URL("http://127.0.0.1"), "c", 10, None)
    page = outcome(lambda: op.parse(_response(body)))
    result = outcome(lambda: model_parser(PagedMembersResult)(_response(body)))
    if result[0] == "error":
        assert page == result
        assert page[1] is DeserializationError
        return
    assert page[0] == "ok"
    assert list(page[1]) == (result[1].members or [])
    assert page[1].continuation_token == result[1].continuation_token


def test_page_parser_for_messages() -> None:
    body = (
        b'{"value": [{"id": "1", "type": "text", "content": {"message": "hi", "x": 1},'
        b' "senderCommunicationIdentifier": {"rawId": "8:acs:a", "communicationUser": {"id": "8:acs:a"}},'
        b' "createdOn": "2024-05-01T12:00:00Z"}], "nextLink": "http://127.0.0.1/next"}'
    )
    parse = page_parser(ChatMessagesCollection, lambda result: Page(result.value or [], result.next_link))
    page = parse(_response(body))
    (message,) = page.items
    assert page.continuation_token == "http://127.0.0.1/next"
    assert message == ChatMessage.from_dict(serde.loads(body)["value"][0])
    assert message.to_dict() == serde.loads(body)["value"][0]


# -- nextLink ---------------------------------------------------------------------------------------------------

BASE = httpx.URL("https://acs.example.com/chat/threads/t/messages?api-version=2025-03-15")


@pytest.mark.parametrize(
    "link",
    [
        "https://acs.example.com/chat/threads/t/messages?syncState=2&maxPageSize=200&api-version=2025-03-15",
        "HTTPS://ACS.example.com/chat/threads/19%3Aa%40thread.v2/messages?x=1",
        "https://acs.example.com/a/../b/./c?q=1#frag",
        "https://acs.example.com/a;p?q",
        "https://acs.example.com/a?",
        "https://acs.example.com/a#",
        "https://acs.example.com:443/a?b=c d",
        "/chat/threads/t/messages?syncState=2",
        "messages?syncState=2",
        "?syncState=2",
        "//acs.example.com/x",
        "https://other.example.com/x",
        "http://acs.example.com/x",
        "https://acs.example.com:8443/x",
        "//evil.example.com/x",
        "https://acs.example.com/\x01",
    ],
)
def test_resolve_next_link_matches_join(link: str) -> None:
    """The one-parse shortcut for absolute links gives what ``base.join`` gives, refusals and errors included."""

    def joined() -> httpx.URL:
        url = BASE.join(link)
        if not same_origin(url, BASE):
            raise UntrustedEndpointError("other origin")
        return url

    expected = outcome(joined)
    got = outcome(lambda: resolve_next_link(BASE, link))
    if expected[0] == "ok":
        assert got[0] == "ok"
        assert str(got[1]) == str(expected[1])
    else:
        assert got[:2] == expected[:2]


def _written_keys(activity: Activity) -> list[Any]:
    """Every key of ``to_json``'s output, depth first, in the order written."""
    keys: list[Any] = []
    pending: list[Any] = [json.loads(activity.to_json())]
    while pending:
        value = pending.pop(0)
        if isinstance(value, dict):
            keys.append(list(value))
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return keys


def test_inline_models_serialize_exactly_as_the_reference() -> None:
    # the tree function writes accounts and other one-level models in place, its locals shared between fields:
    # each state of an inline model (extras, a role, a None id, a subclass) and the fields after it keep their
    # keys, order and values
    from .test_serde_unstructure import REFERENCE_CONVERTER

    activity = Activity(
        type="message",
        id="1",
        timestamp=datetime(2024, 5, 1, 12, 34, 56, tzinfo=timezone(timedelta(hours=2))),
        local_timestamp=datetime(2024, 5, 1, 10, 34, 56, 789000, tzinfo=UTC),
        from_property=ChannelAccount(
            id="29:1", name="Ada", role=RoleTypes.USER, additional_properties={"tenant": "t", "id": "shadowed"}
        ),
        conversation=ConversationAccount(id=None, name="chat", is_group=True, additional_properties={"x": [1]}),
        recipient=TeamsChannelAccount(id="28:1", name="Bot", email="b@example.com"),
        suggested_actions=SuggestedActions(to=["29:1"], actions=[CardAction(type="imBack", title="t", value="v")]),
        relates_to=ConversationReference(activity_id="0", user=ChannelAccount(id="u"), channel_id="msteams"),
        members_added=[ChannelAccount(name="only a name")],
        text="hi",
        additional_properties={"text": "shadowed", "extra": {"k": None}},
    )
    reference = REFERENCE_CONVERTER.unstructure(activity)
    assert activity.to_json() == json.dumps(reference, separators=(",", ":"), ensure_ascii=False).encode()
    assert activity.to_dict() == reference
    assert list(activity.to_dict()) == list(reference)
    assert _written_keys(activity)[:2] == [list(reference), ["id", "name", "role", "tenant"]]
    # the same accounts bare, and absent
    bare = Activity(from_property=ChannelAccount(id="29:1"), conversation=ConversationAccount(name="n"))
    assert bare.to_json() == b'{"from":{"id":"29:1"},"conversation":{"name":"n"}}'
    assert Activity().to_json() == b"{}"
