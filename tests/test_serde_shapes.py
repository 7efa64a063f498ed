"""Shape functions: a structure function made for one key sequence, learned from a document, used for the next.

A shape is learned from one document and then applied to others with the same keys but any values, so each test
here parses a first document (the general path, which learns), then a second one (the shape function), and
compares the second with the generic cattrs path (tests/test_serde_fast.py's reference): equal models and
``to_dict`` output, or the same exception type and message.
"""

from __future__ import annotations

import copy
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from botconnect._core import serde, serde_codegen
from botconnect.models import Activity, ChannelAccount, ConversationAccount

from .test_model_roundtrip import ALL_MODELS, _inject_unknown_keys, model_strategy
from .test_serde_fast import ODD, _positions, assert_same, generic_only, outcome

MESSAGE: dict[str, Any] = {
    "type": "message",
    "id": "1",
    "timestamp": "2024-05-01T12:34:56.789Z",
    "serviceUrl": "https://smba.trafficmanager.net/emea/",
    "from": {"id": "29:a", "name": "Ada"},
    "conversation": {"conversationType": "personal", "id": "a:1"},
    "recipient": {"id": "28:b", "name": "Bot"},
    "text": "hi",
}


def learned_then(first: Any, second: Any, cls: type[Any]) -> None:
    """Parse ``first`` (learning its shapes), then ``second`` each fast way; ``second`` must match the reference."""
    snapshot = copy.deepcopy(second)
    serde_codegen.forget_shapes()
    outcome(lambda: serde.structure(first, cls))
    fast = outcome(lambda: serde.structure(second, cls))
    assert second == snapshot, "structure must not change its input"
    outcome(lambda: serde.structure_parsed(copy.deepcopy(first), cls))
    parsed = outcome(lambda: serde.structure_parsed(copy.deepcopy(second), cls))
    with generic_only():
        reference = outcome(lambda: serde.structure(second, cls))
    assert_same(fast, reference)
    assert_same(parsed, reference)


def test_a_second_document_of_a_shape_takes_its_shape_function() -> None:
    serde_codegen.forget_shapes()
    hook = serde._parsed_hook(Activity)
    first = Activity.from_json(serde.dumps(MESSAGE))
    shapes = hook.shapes  # type: ignore[attr-defined]
    assert list(shapes) == [tuple(MESSAGE)]
    shaped = shapes[tuple(MESSAGE)]
    assert shaped.__name__ == "structure_parsed_Activity_shape0"
    second = Activity.from_json(serde.dumps(MESSAGE))
    assert second == first
    assert second.to_dict() == first.to_dict()
    assert second.to_dict()["text"] == MESSAGE["text"]
    assert type(second.from_property) is ChannelAccount
    assert type(second.conversation) is ConversationAccount


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"from": {"name": "Ada", "id": "29:a"}}, id="account-keys-reordered"),
        pytest.param({"from": {"id": "29:a", "name": "Ada", "tenant": "t"}}, id="account-gains-unknown-key"),
        pytest.param({"from": {"name": "Ada", "tenant": "t"}}, id="account-unknown-key-same-count"),
        pytest.param({"from": {"id": "29:a"}}, id="account-loses-key"),
        pytest.param({"from": {"id": "29:a", "role": "user"}}, id="account-other-known-key"),
        pytest.param({"from": None}, id="account-null"),
        pytest.param({"from": []}, id="account-list"),
        pytest.param({"from": "29:a"}, id="account-string"),
        pytest.param({"from": {"id": True, "name": "Ada"}}, id="account-bad-id"),
        pytest.param({"id": 5}, id="numeric-id"),
        pytest.param({"id": True}, id="bad-id"),
        pytest.param({"id": True, "timestamp": "never"}, id="two-bad-fields"),
        pytest.param({"timestamp": 5, "from": {"id": [], "name": "Ada"}}, id="two-bad-fields-nested"),
        pytest.param({"type": "somethingNew", "text": None}, id="open-enum-and-null"),
        pytest.param({"conversation": {"conversationType": "personal", "id": "a:1", "isGroup": "no"}}, id="grows"),
    ],
)
def test_documents_of_a_learned_shape_match_the_generic_path(change: dict[str, Any]) -> None:
    second = {**MESSAGE, **change}
    assert list(second) == list(MESSAGE), "the top-level keys keep their order: the same shape"
    learned_then(MESSAGE, second, Activity)


def test_unknown_keys_in_a_shape_keep_their_order_and_values() -> None:
    first = {"z": 1, "id": "a", "b": {"c": [1, 2]}, "name": "n", "a": None}
    second = {"z": [2], "id": "b", "b": "x", "name": "m", "a": {"d": 1}}
    learned_then(first, second, ConversationAccount)
    serde_codegen.forget_shapes()
    for wire in (first, second):
        account = ConversationAccount.from_dict(wire)
        assert list(account.additional_properties) == ["z", "b", "a"]
        assert account.to_dict() == wire


def test_shapes_stop_being_learned_past_the_limit() -> None:
    serde_codegen.forget_shapes()
    hook = serde._parsed_hook(ConversationAccount)
    documents = [{"id": "1", f"extra{n}": n} for n in range(serde_codegen.MAX_SHAPES + 5)]
    for wire in documents:
        ConversationAccount.from_json(serde.dumps(wire))
    assert len(hook.shapes) == serde_codegen.MAX_SHAPES  # type: ignore[attr-defined]
    for wire in documents:  # learned or not, every document parses as before
        assert ConversationAccount.from_json(serde.dumps(wire)).to_dict() == wire


def test_documents_with_non_string_keys_teach_no_shape() -> None:
    serde_codegen.forget_shapes()
    slow = serde.converter.get_structure_hook(ConversationAccount)
    hook = serde._make_fast_structure(ConversationAccount, slow, False)
    wire: dict[Any, Any] = {"id": "1", 1: "one"}
    extras: dict[Any, Any] = hook(wire, ConversationAccount).additional_properties
    assert extras == {1: "one"}
    assert not hook.shapes  # type: ignore[attr-defined]
    learned_then(wire, {"id": "2", 1: "uno"}, ConversationAccount)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_random_documents_of_a_learned_shape_match_the_generic_path(data: st.DataObject) -> None:
    """Any model; a document with unknown keys everywhere teaches its shapes, then a second one with the same
    top-level keys and changed values (nested dicts reordered, grown, shrunk or replaced) is parsed by them."""
    cls = data.draw(st.sampled_from(ALL_MODELS), label="class")
    first = data.draw(model_strategy(cls)).to_dict()
    _inject_unknown_keys(data, cls, first)
    second = copy.deepcopy(first)
    positions = _positions(second)
    for _ in range(data.draw(st.integers(min_value=0, max_value=4), label="changes")):
        if not positions:
            break
        container, key = data.draw(st.sampled_from(positions), label="where")
        value = container[key]
        action = data.draw(st.sampled_from(["replace", "reorder", "grow", "shrink"]), label="action")
        if action == "reorder" and type(value) is dict:
            container[key] = dict(reversed(list(value.items())))
        elif action == "grow" and type(value) is dict:
            value[data.draw(st.text(max_size=6), label="new key")] = copy.deepcopy(data.draw(ODD, label="new value"))
        elif action == "shrink" and type(value) is dict and value:
            del value[data.draw(st.sampled_from(sorted(value)), label="removed key")]
        else:
            container[key] = copy.deepcopy(data.draw(ODD, label="value"))  # ODD shares its sampled values
        positions = _positions(second)
    learned_then(first, second, cls)


def test_models_of_one_group_of_fields_learn_no_shape_and_keep_unknown_keys_in_order() -> None:
    # a shape saves a lookup per field and costs a call: a model of at most CHUNK fields (an account) skips it
    assert len(attrs.fields(ChannelAccount)) - 1 <= serde_codegen.CHUNK
    serde_codegen.forget_shapes()
    hook = serde._parsed_hook(ChannelAccount)
    wire = {"z": 1, "id": "a", "b": {"c": [1, 2]}, "name": "n", "a": None}
    for _ in range(3):
        account = ChannelAccount.from_json(serde.dumps(wire))
        assert (account.id, account.name) == ("a", "n")
        assert list(account.additional_properties.items()) == [("z", 1), ("b", {"c": [1, 2]}), ("a", None)]
        assert account.to_dict() == wire
    assert not hook.shapes  # type: ignore[attr-defined]
    learned_then(wire, {"id": "b", "y": 2}, ChannelAccount)


def test_alternating_shapes_each_parse_with_their_own_function() -> None:
    """The previous document's shape is tried first: a document of another shape must never take it."""
    typing_ = {"type": "typing", "id": "2", "from": {"id": "29:a"}, "recipient": {"id": "28:b"}}
    reordered = {"text": "hi", **{k: v for k, v in MESSAGE.items() if k != "text"}}
    same_keys_other_values = {**MESSAGE, "text": "bye", "from": {"id": "29:z", "name": "Zed"}}
    documents = [MESSAGE, typing_, MESSAGE, reordered, reordered, typing_, same_keys_other_values, MESSAGE] * 2
    with generic_only():
        references = [outcome(lambda: serde.structure(wire, Activity)) for wire in documents]  # noqa: B023
    serde_codegen.forget_shapes()
    hook = serde._parsed_hook(Activity)
    for wire, reference in zip(documents, references, strict=True):
        parsed = Activity.from_json(serde.dumps(wire))
        assert_same(("ok", parsed), reference)
        listed, shaped = hook.__globals__["last"]
        assert listed == list(wire), "the shape just used is the one tried first next time"
        assert shaped is hook.shapes[tuple(wire)]  # type: ignore[attr-defined]
    assert len(hook.shapes) == 3  # type: ignore[attr-defined]


def test_forgetting_shapes_forgets_the_last_one_too() -> None:
    hook = serde._parsed_hook(Activity)
    Activity.from_json(serde.dumps(MESSAGE))
    serde_codegen.forget_shapes()
    assert hook.__globals__["last"] == serde_codegen._NO_SHAPE
    assert not hook.shapes  # type: ignore[attr-defined]
    assert Activity.from_json(serde.dumps(MESSAGE)).text == MESSAGE["text"]
    assert list(hook.shapes) == [tuple(MESSAGE)]  # type: ignore[attr-defined]
