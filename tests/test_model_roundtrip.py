"""Property tests: any model value survives dict and JSON round trips, and so do keys the SDK does not know.

Strategies are derived from the attrs classes themselves (field types walked recursively), so a field added to
a model is covered without touching this file.
"""

import enum
import functools
import types
import typing
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import botconnect.models as models
from botconnect._core import serde
from botconnect.models import (
    Activity,
    AnimationCard,
    AttachmentData,
    AudioCard,
    BasicCard,
    CardImage,
    ConversationParameters,
    Fact,
    HeroCard,
    MediaCard,
    MediaEventValue,
    MediaUrl,
    Model,
    OAuthCard,
    ReceiptCard,
    ReceiptItem,
    SigninCard,
    ThumbnailCard,
    ThumbnailUrl,
    TokenExchangeResource,
    Transcript,
    VideoCard,
)
from botconnect.models.identifiers import CommunicationIdentifier, identifier_from_raw_id

PROPERTY_SETTINGS = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)

# -- strategies ------------------------------------------------------------------------------------------

KEYS = st.text(max_size=8)
JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10)
)
#: what an ``Any`` field (channelData, value, content, ...) can hold on the wire.
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(KEYS, children, max_size=3),
    max_leaves=6,
)
UTC_OFFSETS = st.just(UTC) | st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
AWARE_DATETIMES = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 12, 31), timezones=UTC_OFFSETS)


def _non_none_args(tp: Any) -> list[Any]:
    return [arg for arg in typing.get_args(tp) if arg is not type(None)]


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, Model)


@functools.cache
def strategy_for(tp: Any) -> st.SearchStrategy[Any]:
    """Values of type ``tp`` as a model field can hold them."""
    if _is_union(tp):
        args = _non_none_args(tp)
        enums = [a for a in args if isinstance(a, type) and issubclass(a, enum.Enum)]
        if enums and str in args:  # open enum: a known member or any string
            inner = st.sampled_from(list(enums[0])) | st.text(max_size=12)
        else:
            (single,) = args
            inner = strategy_for(single)
        return st.none() | inner if type(None) in typing.get_args(tp) else inner
    origin = typing.get_origin(tp)
    if origin is list:
        return st.lists(strategy_for(typing.get_args(tp)[0]), max_size=2)
    if origin is dict:
        key_type, value_type = typing.get_args(tp)
        assert key_type is str
        return st.dictionaries(KEYS, strategy_for(value_type), max_size=2)
    scalars: dict[Any, st.SearchStrategy[Any]] = {
        Any: JSON_VALUES,
        str: st.text(max_size=12),
        bool: st.booleans(),
        int: st.integers(min_value=-(2**31), max_value=2**31 - 1),
        float: st.floats(allow_nan=False, allow_infinity=False),
        bytes: st.binary(max_size=16),
        datetime: AWARE_DATETIMES,
    }
    if tp in scalars:
        return scalars[tp]
    if tp is CommunicationIdentifier:  # ACS identifiers: every kind, and kinds the SDK does not know
        prefixes = st.sampled_from(["8:acs:", "4:+", "8:orgid:", "8:teamsvisitor:", "28:orgid:", "28:dod:", "99:new:"])
        suffix = st.text(alphabet="abcdef0123456789-", min_size=1, max_size=12)
        return st.builds(lambda p, s: identifier_from_raw_id(p + s), prefixes, suffix)
    if _is_model(tp):
        return st.deferred(lambda: model_strategy(tp))
    raise TypeError(f"no strategy for {tp!r}")


def _subtypes(cls: type[Any]) -> dict[str, type[Any]]:
    registry: dict[str, type[Any]] = cls.__dict__.get(serde.SUBTYPES, {})
    return registry


def _discriminator_attribute(cls: type[Any]) -> str:
    key = cls.__dict__[serde.DISCRIMINATOR]
    return next(f.name for f in attrs.fields(cls) if serde.wire_name(f) == key)


def _fields_strategy(cls: type[Any], **overrides: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    hints = typing.get_type_hints(cls)
    kwargs = {
        f.name: overrides[f.name] if f.name in overrides else strategy_for(hints[f.name])
        for f in attrs.fields(cls)
        if f.name != serde.EXTRAS_FIELD and f.init
    }
    return st.builds(cls, **kwargs)


@functools.cache
def model_strategy(cls: type[Any]) -> st.SearchStrategy[Any]:
    """Instances of ``cls``; for a polymorphic base, also its subtypes with a matching discriminator."""
    subtypes = _subtypes(cls)
    if not subtypes:
        return _fields_strategy(cls)
    attribute = _discriminator_attribute(cls)
    unregistered = st.none() | st.text(max_size=12).filter(lambda value: value not in subtypes)
    options = [_fields_strategy(cls, **{attribute: unregistered})]
    for sub in sorted(set(subtypes.values()), key=lambda c: c.__name__):
        keys = sorted(k for k, v in subtypes.items() if v is sub)
        options.append(_fields_strategy(sub, **{attribute: st.sampled_from(keys)}))
    return st.one_of(options)


# -- round trips -------------------------------------------------------------------------------------------

CARDS = [
    HeroCard,
    ThumbnailCard,
    BasicCard,
    AnimationCard,
    AudioCard,
    VideoCard,
    MediaCard,
    ReceiptCard,
    SigninCard,
    OAuthCard,
    CardImage,
    Fact,
    MediaUrl,
    ThumbnailUrl,
    ReceiptItem,
    TokenExchangeResource,
    MediaEventValue,
]
MAIN_MODELS = [Activity, ConversationParameters, Transcript, AttachmentData, *CARDS]
ALL_MODELS = [
    obj
    for name in models.__all__
    if isinstance(obj := getattr(models, name), type) and _is_model(obj) and obj is not Model
]


def _check_round_trip(cls: type[Any], value: Any) -> None:
    assert type(value) is cls or issubclass(type(value), cls)
    wire = value.to_dict()
    assert cls.from_dict(wire) == value
    assert cls.from_json(value.to_json()) == value
    assert cls.from_dict(wire).to_dict() == wire


@pytest.mark.parametrize("cls", MAIN_MODELS, ids=lambda c: c.__name__)
@PROPERTY_SETTINGS
@given(data=st.data())
def test_round_trip(cls: type[Any], data: st.DataObject) -> None:
    _check_round_trip(cls, data.draw(model_strategy(cls)))


@pytest.mark.parametrize("cls", [c for c in ALL_MODELS if c not in MAIN_MODELS], ids=lambda c: c.__name__)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_round_trip_other_models(cls: type[Any], data: st.DataObject) -> None:
    _check_round_trip(cls, data.draw(model_strategy(cls)))


# -- unknown keys -----------------------------------------------------------------------------------------


def _model_in(tp: Any) -> tuple[str, type[Any]] | None:
    """('one' | 'list' | 'dict', model class) when a field of type ``tp`` holds models."""
    if _is_union(tp):
        args = _non_none_args(tp)
        if len(args) != 1:
            return None
        tp = args[0]
    origin = typing.get_origin(tp)
    if origin is list and _is_model(typing.get_args(tp)[0]):
        return "list", typing.get_args(tp)[0]
    if origin is dict and _is_model(typing.get_args(tp)[1]):
        return "dict", typing.get_args(tp)[1]
    if _is_model(tp):
        return "one", tp
    return None


def _inject_unknown_keys(data: st.DataObject, cls: type[Any], wire: dict[str, Any]) -> dict[str, Any]:
    """Add unknown keys to ``wire`` (a ``cls`` dict) and every nested model dict; return the top-level ones."""
    cls = _subtypes(cls).get(wire.get(cls.__dict__.get(serde.DISCRIMINATOR, "")), cls)
    hints = typing.get_type_hints(cls)
    fields = {serde.wire_name(f): hints[f.name] for f in attrs.fields(cls) if f.name != serde.EXTRAS_FIELD}
    for key, value in wire.items():
        nested = _model_in(fields[key]) if key in fields else None
        if nested is None or value is None:
            continue
        kind, nested_cls = nested
        items = [value] if kind == "one" else value if kind == "list" else list(value.values())
        for item in items:
            _inject_unknown_keys(data, nested_cls, item)
    taken = set(fields) | set(wire)
    extras = data.draw(
        st.dictionaries(KEYS.filter(lambda k: k not in taken), JSON_VALUES, max_size=3), label=cls.__name__
    )
    wire.update(extras)
    return extras


@PROPERTY_SETTINGS
@given(data=st.data())
def test_unknown_keys_survive(data: st.DataObject) -> None:
    cls = data.draw(st.sampled_from(MAIN_MODELS), label="class")
    wire = data.draw(model_strategy(cls)).to_dict()
    top_level_extras = _inject_unknown_keys(data, cls, wire)

    parsed = cls.from_dict(wire)
    assert parsed.additional_properties == top_level_extras
    assert parsed.to_dict() == wire
    assert cls.from_json(serde.dumps(wire)).to_dict() == wire


@PROPERTY_SETTINGS
@given(
    extras=st.dictionaries(
        KEYS.filter(lambda k: k not in {serde.wire_name(f) for f in attrs.fields(models.ChannelAccount)}),
        JSON_VALUES,
        min_size=1,
        max_size=4,
    ),
    activity=model_strategy(Activity),
)
def test_unknown_keys_in_nested_account_survive(extras: dict[str, Any], activity: Activity) -> None:
    wire = activity.to_dict()
    wire["from"] = {**wire.get("from", {}), **extras}
    parsed = Activity.from_dict(wire)
    assert parsed.from_property is not None
    assert parsed.from_property.additional_properties == extras
    assert parsed.to_dict() == wire
