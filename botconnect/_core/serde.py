"""The one converter: camelCase wire names, ``None`` kept off the wire, base64 bytes, open enums, extras.

Every model class is converted by functions cattrs generates once per class (on first use), so the per-call
cost is a plain function call. Unknown wire keys are captured into ``additional_properties`` on parse and
written back on serialize, so whatever a channel adds survives a round trip untouched.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
import types
import typing
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

_orjson: Any
try:  # optional speed-up (`pip install botconnect[speed]`): 3-15x faster JSON than the standard library
    import orjson as _orjson
except ImportError:  # pragma: no cover - depends on the environment
    _orjson = None

__all__ = [
    "EXTRAS_FIELD",
    "WIRE_NAME",
    "converter",
    "dumps",
    "loads",
    "structure",
    "unstructure",
    "wire_name",
]

T = TypeVar("T")

#: attrs metadata key naming a field's exact wire name when camelCase conversion is not it.
WIRE_NAME = "botconnect.wire"
#: metadata key for a per-field (structure, unstructure) hook pair, e.g. seconds-as-timedelta.
CODEC = "botconnect.codec"
#: attrs metadata key marking a field that is not part of the wire form (filled in by the SDK, never sent).
LOCAL = "botconnect.local"
#: the attribute every model uses to keep keys the SDK does not know.
EXTRAS_FIELD = "additional_properties"
#: class attribute naming the discriminator key of a polymorphic base (e.g. Entity's "type").
DISCRIMINATOR = "__botconnect_discriminator__"
SUBTYPES = "__botconnect_subtypes__"

converter = cattrs.Converter(detailed_validation=False)


def wire_name(field: attrs.Attribute[Any]) -> str:
    """The JSON key for an attrs field: explicit metadata wins, otherwise snake_case -> camelCase."""
    explicit = field.metadata.get(WIRE_NAME)
    if explicit is not None:
        return str(explicit)
    head, *rest = field.name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _is_model(cls: Any) -> bool:
    return isinstance(cls, type) and attrs.has(cls) and EXTRAS_FIELD in attrs.fields_dict(cls)


# -- scalars ------------------------------------------------------------------------------------------------


def _structure_datetime(value: Any, _: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO 8601 date-time string, got {type(value).__name__}")
    # Python 3.11 parses "Z", offsets and 7-digit (.NET) fractions, truncating the 7th digit.
    return datetime.fromisoformat(value)


def _unstructure_datetime(value: datetime) -> str:
    if value.tzinfo is None:  # the wire format (RFC 3339) needs an offset; naive means UTC, as in botbuilder
        value = value.replace(tzinfo=UTC)
    text = value.isoformat()
    if value.utcoffset() == UTC.utcoffset(None) and text.endswith("+00:00"):
        return text[:-6] + "Z"
    return text


def _structure_bytes(value: Any, _: Any) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if not isinstance(value, str):
        raise TypeError(f"expected a base64 string, got {type(value).__name__}")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise ValueError(f"invalid base64 data: {exc}") from None


def _unstructure_bytes(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _passthrough(value: Any, _: Any) -> Any:
    return value


def _structure_str(value: Any, _: Any) -> str:
    if isinstance(value, str):
        return value
    # some channels send numeric ids; anything structured in a string field is a wire error
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise TypeError(f"expected a string, got {type(value).__name__}")


converter.register_structure_hook(datetime, _structure_datetime)
converter.register_unstructure_hook(datetime, _unstructure_datetime)
converter.register_structure_hook(bytes, _structure_bytes)
converter.register_unstructure_hook(bytes, _unstructure_bytes)
converter.register_structure_hook(Any, _passthrough)
converter.register_structure_hook(str, _structure_str)


# -- open enums: `SomeEnum | str` accepts values the SDK does not know yet --------------------------------


def _union_args(tp: Any) -> tuple[Any, ...]:
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        return typing.get_args(tp)
    return ()


def _open_enum_of(tp: Any) -> type[enum.Enum] | None:
    args = [a for a in _union_args(tp) if a is not type(None)]
    if len(args) != 2 or str not in args:
        return None
    other = args[0] if args[1] is str else args[1]
    if isinstance(other, type) and issubclass(other, enum.Enum) and issubclass(other, str):
        return other
    return None


def _make_open_enum_structure(tp: Any) -> Callable[[Any, Any], Any]:
    enum_cls = _open_enum_of(tp)
    assert enum_cls is not None
    members: dict[Any, Any] = {m.value: m for m in enum_cls}

    def structure_open_enum(value: Any, _: Any) -> Any:
        if value is None:
            return None
        member = members.get(value)
        if member is not None:
            return member
        if isinstance(value, str):
            return value
        raise TypeError(f"expected a string for {enum_cls.__name__}, got {type(value).__name__}")

    return structure_open_enum


converter.register_structure_hook_factory(lambda t: _open_enum_of(t) is not None, _make_open_enum_structure)


def _plain_optional_of(tp: Any) -> Any:
    """``X`` for a ``X | None`` that is not an open enum, else None."""
    args = _union_args(tp)
    if len(args) != 2 or type(None) not in args or _open_enum_of(tp) is not None:
        return None
    return args[0] if args[1] is type(None) else args[1]


def _structure_optional_str(value: Any, _: Any) -> str | None:
    if value is None or type(value) is str:
        return value
    return _structure_str(value, _)


def _make_optional_structure(tp: Any) -> Callable[[Any, Any], Any]:
    # cattrs' generic Optional handling dispatches on the type at every call; bind the inner hook once
    inner_type = _plain_optional_of(tp)
    if inner_type is str:  # the most common field type by far: no extra call for the usual case
        return _structure_optional_str
    inner = converter.get_structure_hook(inner_type)

    def structure_optional(value: Any, _: Any) -> Any:
        return None if value is None else inner(value, inner_type)

    return structure_optional


converter.register_structure_hook_factory(lambda t: _plain_optional_of(t) is not None, _make_optional_structure)


def _unstructure_any(value: Any) -> Any:
    # JSON-native values (channelData, value, attachment content) are copied without converter dispatch
    kind = type(value)
    if kind is str or kind is int or kind is float or kind is bool or value is None:
        return value
    if kind is dict:
        return {key: _unstructure_any(item) for key, item in value.items()}
    if kind is list:
        return [_unstructure_any(item) for item in value]
    return converter.unstructure(value)


converter.register_unstructure_hook_func(lambda t: t is Any, _unstructure_any)
converter.register_unstructure_hook_factory(
    lambda t: _open_enum_of(t) is not None, lambda t: lambda v: v.value if isinstance(v, enum.Enum) else v
)


# -- models -----------------------------------------------------------------------------------------------


def _wire_fields(cls: Any) -> list[attrs.Attribute[Any]]:
    return [f for f in attrs.fields(cls) if f.name != EXTRAS_FIELD and not f.metadata.get(LOCAL)]


def _omitted(cls: Any) -> dict[str, Any]:
    return {f.name: override(omit=True) for f in attrs.fields(cls) if f.name == EXTRAS_FIELD or f.metadata.get(LOCAL)}


def _make_model_structure(cls: type[T]) -> Callable[[Any, Any], T]:
    fields = _wire_fields(cls)
    overrides: dict[str, Any] = {f.name: override(rename=wire_name(f)) for f in fields}
    overrides.update(_omitted(cls))
    for f in fields:
        codec = f.metadata.get(CODEC)
        if codec is not None:
            overrides[f.name] = override(rename=wire_name(f), struct_hook=codec[0])
    generated = make_dict_structure_fn(cls, converter, _cattrs_forbid_extra_keys=False, **overrides)
    known = frozenset(wire_name(f) for f in fields)
    discriminator: str | None = cls.__dict__.get(DISCRIMINATOR)
    subtypes: dict[str, type[Any]] = cls.__dict__.get(SUBTYPES, {})

    def structure_model(data: Any, _: Any) -> T:
        if type(data) is not dict and not isinstance(data, Mapping):
            raise TypeError(f"{cls.__name__} expects a JSON object, got {type(data).__name__}")
        if discriminator is not None and subtypes:
            tag = data.get(discriminator)
            sub = subtypes.get(tag) if isinstance(tag, str) else None
            if sub is not None and sub is not cls:
                return converter.structure(data, sub)  # type: ignore[no-any-return]
        try:
            obj = generated(data, cls)
        except AttributeError as exc:  # e.g. a list where the spec has an object (``metadata: []``)
            raise TypeError(f"{cls.__name__}: a field has the wrong JSON shape ({exc})") from exc
        unknown = data.keys() - known
        if unknown:
            object.__setattr__(obj, EXTRAS_FIELD, {k: v for k, v in data.items() if k in unknown})
        return obj

    return structure_model


def _make_model_unstructure(cls: type[Any]) -> Callable[[Any], dict[str, Any]]:
    fields = _wire_fields(cls)
    overrides: dict[str, Any] = {f.name: override(rename=wire_name(f), omit_if_default=True) for f in fields}
    overrides.update(_omitted(cls))
    for f in fields:
        codec = f.metadata.get(CODEC)
        if codec is not None:
            overrides[f.name] = override(rename=wire_name(f), omit_if_default=True, unstruct_hook=codec[1])
    generated = make_dict_unstructure_fn(cls, converter, _cattrs_omit_if_default=True, **overrides)

    def unstructure_model(obj: Any) -> dict[str, Any]:
        if type(obj) is not cls:  # a subclass stored in a base-typed field (Mention in list[Entity])
            subclass_result: dict[str, Any] = converter.unstructure(obj, unstructure_as=type(obj))
            return subclass_result
        out: dict[str, Any] = generated(obj)
        extras = getattr(obj, EXTRAS_FIELD)
        if extras:
            for key, value in extras.items():
                if key not in out:
                    out[key] = converter.unstructure(value)
        return out

    return unstructure_model


converter.register_structure_hook_factory(_is_model, _make_model_structure)
converter.register_unstructure_hook_factory(_is_model, _make_model_unstructure)


def register_subtype(base: type[Any], key: str, sub: type[Any]) -> None:
    """Make ``base`` parse as ``sub`` when the discriminator (``base.__botconnect_discriminator__``) is ``key``."""
    registry = base.__dict__.get(SUBTYPES)
    if registry is None:
        registry = {}
        setattr(base, SUBTYPES, registry)
    registry[key] = sub


# -- entry points -----------------------------------------------------------------------------------------


def structure(data: Any, cls: type[T]) -> T:
    return converter.structure(data, cls)


def unstructure(obj: Any) -> Any:
    return converter.unstructure(obj)


def dumps(data: Any) -> bytes:
    """Compact UTF-8 JSON, as the services send and expect it."""
    if _orjson is not None:
        try:
            encoded: bytes = _orjson.dumps(data)
            return encoded
        except TypeError:  # integers beyond 64 bits, non-str keys: the standard library copes
            pass
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def loads(data: bytes | str) -> Any:
    """Parse JSON; raises ValueError (or RecursionError for absurd nesting) on bad input, whichever parser runs."""
    if _orjson is not None:
        return _orjson.loads(data)  # orjson.JSONDecodeError is a ValueError
    return json.loads(data)
