"""The generated serializers (``to_dict``, and ``to_json``'s JSON tree) against the converter path they replace.

The reference is serde as it was before them: cattrs' generated unstructure functions for every model and
``isoformat`` for every datetime, with ``to_json`` being ``dumps(to_dict())``. Every model (Hypothesis, unknown
keys and odd values included) and every JSON object recorded in the reference material must serialize to the
same JSON, compared byte for byte after canonicalisation, with orjson and with the standard library; an input
the reference cannot serialize must fail with the same exception type.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import importlib.util
import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

import attrs
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from botconnect._core import serde, serde_scalars
from botconnect.models import Activity, ChannelAccount, HeroCard, Mention, Model

from .conftest import REFERENCE
from .test_model_roundtrip import ALL_MODELS, JSON_VALUES, KEYS, _inject_unknown_keys, model_strategy

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


def _reference_converter() -> Any:
    """serde's converter without the generated serializers: cattrs' functions and isoformat, as before them."""
    reference = serde.converter.copy()

    def unstructure_any(value: Any) -> Any:  # serde's Any hook, calling this converter
        kind = type(value)
        if kind is str or kind is int or kind is float or kind is bool or value is None:
            return value
        if kind is dict:
            return {key: unstructure_any(item) for key, item in value.items()}
        if kind is list:
            return [unstructure_any(item) for item in value]
        return reference.unstructure(value)

    reference.register_unstructure_hook(datetime, serde_scalars.isoformat_datetime)
    reference.register_unstructure_hook_func(lambda t: t is Any, unstructure_any)
    reference.register_unstructure_hook_factory(
        serde._is_model, lambda cls: serde._make_generic_unstructure(cls, reference)
    )
    return reference


REFERENCE_CONVERTER = _reference_converter()


@contextlib.contextmanager
def stdlib_json() -> Iterator[None]:
    """serde as installed without orjson."""
    with mock.patch.object(serde, "_orjson", None), mock.patch.object(serde_scalars, "_orjson", None):
        yield


def canonical(encoded: bytes) -> str:
    return json.dumps(json.loads(encoded), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def outcome(fn: Callable[[], Any]) -> tuple[Any, ...]:
    try:
        return ("ok", fn())
    except Exception as exc:
        return ("error", type(exc))


def assert_same_output(model: Any) -> None:
    """The generated serializers write what the reference writes, with either JSON engine."""
    for engine in (contextlib.nullcontext, stdlib_json):
        with engine():
            old = outcome(lambda: canonical(serde.dumps(REFERENCE_CONVERTER.unstructure(model))))
            assert outcome(lambda: canonical(serde.dumps(model.to_dict()))) == old
            assert outcome(lambda: canonical(model.to_json())) == old


# -- the generated functions are the ones in use ---------------------------------------------------------------


def test_models_get_generated_serializers() -> None:
    Activity(text="x").to_json()
    assert serde.converter.get_unstructure_hook(Activity).__name__ == "unstructure_Activity"
    tree = serde._tree_hooks[Activity]
    assert tree is not None
    assert tree.__name__ == "tree_Activity"
    assert REFERENCE_CONVERTER.get_unstructure_hook(Activity).__name__ == "unstructure_model"


# -- every model, Hypothesis ------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", ALL_MODELS, ids=lambda c: c.__name__)
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_every_model_serializes_as_before(cls: type[Any], data: st.DataObject) -> None:
    model = data.draw(model_strategy(cls))
    assert_same_output(model)
    # unknown keys, top level and nested, parsed back into additional_properties
    wire = model.to_dict()
    _inject_unknown_keys(data, cls, wire)
    assert_same_output(cls.from_dict(wire))


class Colour(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Point:
    x: int
    at: datetime


class Text(str):
    pass


ODD_TIMEZONES = (
    st.none()
    | st.just(UTC)
    | st.timedeltas(min_value=-timedelta(hours=23, minutes=59), max_value=timedelta(hours=23, minutes=59)).map(timezone)
    | st.timezones()
)
DATETIMES = st.datetimes(timezones=ODD_TIMEZONES)
#: what a caller can put in an Any field or the extras: JSON, and things only the converter knows how to write
ODD_LEAVES = (
    JSON_VALUES
    | DATETIMES
    | st.dates()
    | st.sampled_from([Colour.RED, Text("sub"), (1, "two"), 2**70, -(2**65), float("nan"), {1: "int key"}])
    | st.builds(Point, st.integers(-5, 5), DATETIMES)
    | st.builds(ChannelAccount, id=st.text(max_size=5), name=st.none() | st.text(max_size=5))
    | st.builds(Mention, text=st.none() | st.text(max_size=5))
)
ODD_VALUES = st.recursive(
    ODD_LEAVES,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(KEYS, children, max_size=3),
    max_leaves=5,
)
#: keys the extras may use: some collide with real wire keys (a field that is set wins, as before)
EXTRA_KEYS = KEYS | st.sampled_from(["text", "from", "type", "name", "id", "channelData", "additional_properties"])


@SETTINGS
@given(
    activity=model_strategy(Activity),
    channel_data=ODD_VALUES,
    value=ODD_VALUES,
    extras=st.dictionaries(EXTRA_KEYS, ODD_VALUES, max_size=4),
    account_extras=st.dictionaries(EXTRA_KEYS, ODD_VALUES, max_size=2),
    timestamp=st.none() | DATETIMES,
)
def test_odd_values_serialize_as_before(
    activity: Activity,
    channel_data: Any,
    value: Any,
    extras: dict[str, Any],
    account_extras: dict[str, Any],
    timestamp: datetime | None,
) -> None:
    activity.channel_data, activity.value, activity.timestamp = channel_data, value, timestamp
    activity.additional_properties = extras
    activity.from_property = ChannelAccount(id="29:1", additional_properties=account_extras)
    assert_same_output(activity)


@pytest.mark.parametrize(
    "value",
    [
        datetime(2024, 5, 1, 12, 34, 56, 789000, tzinfo=UTC),
        datetime(2024, 5, 1, 12, 34, 56),  # naive: UTC
        datetime(2024, 5, 1, tzinfo=timezone(timedelta(hours=5, minutes=30, seconds=15))),  # orjson cuts seconds
        datetime(2024, 5, 1, tzinfo=timezone(timedelta(seconds=1, microseconds=5))),
        datetime(2024, 5, 1, tzinfo=ZoneInfo("Europe/Berlin")),
        datetime(1, 1, 1, tzinfo=UTC),
        date(2024, 5, 1),
        Colour.RED,
        2**64,
        {1: "a non-str key"},
        {"set": {1, 2}},
        HeroCard(title="card in an Any field"),
        [Mention(text="<at>x</at>")],
    ],
    ids=repr,
)
def test_odd_value_in_every_place(value: Any) -> None:
    placed = [
        Activity(channel_data=value),
        Activity(value={"nested": [value]}),
        Activity(additional_properties={"extra": value}),
        Activity(from_property=ChannelAccount(id="1", properties=value)),
    ]
    if isinstance(value, datetime):
        placed.append(Activity(timestamp=value, local_timestamp=value, expiration=value))
    for activity in placed:
        assert_same_output(activity)


@settings(max_examples=600, deadline=None)
@given(DATETIMES)
def test_datetime_text_is_isoformat(value: datetime) -> None:
    expected = serde_scalars.isoformat_datetime(value)
    assert serde_scalars.unstructure_datetime(value) == expected
    fragment = serde_scalars.datetime_fragment(value)
    encoded = serde._orjson.dumps(fragment) if serde._orjson is not None else json.dumps(fragment).encode()
    assert json.loads(encoded) == expected
    with stdlib_json():
        assert serde_scalars.unstructure_datetime(value) == expected


# -- every JSON object recorded in the reference material -------------------------------------------------------


def _recorded_objects() -> Iterator[tuple[str, Any]]:
    for path in sorted((REFERENCE / "connector" / "recordings").glob("*.yaml")):
        for n, interaction in enumerate(yaml.safe_load(path.read_text(encoding="utf-8"))["interactions"]):
            for side, body in (
                ("request", interaction["request"].get("body")),
                ("response", (interaction["response"].get("body") or {}).get("string")),
            ):
                yield f"{path.stem}[{n}].{side}", body
    for path in sorted((REFERENCE / "acs-chat" / "recordings").glob("*.json")):
        for n, entry in enumerate(json.loads(path.read_text(encoding="utf-8"))["Entries"]):
            yield f"{path.stem}[{n}].request", entry.get("RequestBody")
            yield f"{path.stem}[{n}].response", entry.get("ResponseBody")
    spec = (REFERENCE / "activity" / "botframework-activity.md").read_text(encoding="utf-8")
    for n, block in enumerate(re.findall(r"```(?:json)?\n(.*?)```", spec, re.S)):
        yield f"botframework-activity.md[{n}]", block
    fixtures = _bench_fixtures()
    for name in ("SMALL_ACTIVITY", "INCOMING_ACTIVITY", "TEAMS_MESSAGE"):
        yield f"bench {name}", getattr(fixtures, name)


def _bench_fixtures() -> Any:
    path = Path(__file__).resolve().parents[1] / "bench" / "_fixtures.py"
    spec = importlib.util.spec_from_file_location("bench_fixtures", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _json_objects() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for name, body in _recorded_objects():
        if isinstance(body, bytes):
            body = body.decode("utf-8")
        if isinstance(body, str):
            try:
                body = json.loads(body)
            except ValueError:
                continue
        items = body if isinstance(body, list) else [body]
        found += [(name, item) for item in items if isinstance(item, dict)]
    return found


RECORDED = _json_objects()


def test_the_corpus_is_there() -> None:
    assert len(RECORDED) >= 45
    assert sum("type" in body and "from" in body for _, body in RECORDED) >= 12  # activities


@pytest.mark.parametrize(("name", "body"), RECORDED, ids=[name for name, _ in RECORDED])
def test_recorded_objects_serialize_as_before(name: str, body: dict[str, Any]) -> None:
    parsed = 0
    for cls in ALL_MODELS:
        try:
            model = cls.from_dict(body)
        except ValueError:  # not this model's shape
            continue
        parsed += 1
        assert_same_output(model)
        assert_same_output(cls.from_json(json.dumps(body)))
    assert parsed, f"{name} parses as no model"


# -- unknown keys survive a parse -> serialize round trip through JSON -----------------------------------------

ACTIVITIES = [body for _, body in RECORDED if "type" in body and ("from" in body or "recipient" in body)]


@SETTINGS
@given(data=st.data(), index=st.integers(min_value=0, max_value=len(ACTIVITIES) - 1))
def test_unknown_keys_round_trip_through_json(data: st.DataObject, index: int) -> None:
    wire = json.loads(json.dumps(ACTIVITIES[index]))
    _inject_unknown_keys(data, Activity, wire)
    for engine in (contextlib.nullcontext, stdlib_json):
        with engine():
            out = json.loads(Activity.from_json(json.dumps(wire)).to_json())
        assert _without_datetimes(out) == _without_datetimes(wire)


@SETTINGS
@given(activity=model_strategy(Activity), data=st.data())
def test_unknown_keys_of_any_activity_round_trip_through_json(activity: Activity, data: st.DataObject) -> None:
    wire = json.loads(serde.dumps(activity.to_dict()))
    _inject_unknown_keys(data, Activity, wire)
    assert json.loads(Activity.from_json(json.dumps(wire)).to_json()) == wire


def _without_datetimes(wire: dict[str, Any]) -> dict[str, Any]:
    """The wire dict without the Activity's date-time keys (re-written in canonical form: ``.789`` -> ``.789000``)."""
    dated = {serde.wire_name(f) for f in attrs.fields(Activity) if f.type in (datetime | None, "datetime | None")}
    return {key: value for key, value in wire.items() if key not in dated}


def test_model_base_serializes() -> None:
    assert_same_output(Model(additional_properties={"a": 1}))
