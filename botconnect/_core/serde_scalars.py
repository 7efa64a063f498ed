"""Hooks for the scalar wire values: strings (numeric ids accepted), numbers, base64 bytes, ISO 8601 date-times
and open enums. Each raises TypeError or ValueError for a value of the wrong kind, so that a bad document is a
DeserializationError with the field's name, never a model holding the wrong type.

serde registers them on the converter and hands some straight to the generated structure functions.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from datetime import UTC, datetime, timezone
from typing import Any

from .serde_codegen import open_enum_of

_orjson: Any
try:  # a dependency; the standard library path is kept (and tested) for an install without its wheel
    import orjson as _orjson
except ImportError:  # pragma: no cover - depends on the environment
    _orjson = None

__all__ = [
    "DATETIME_OPTIONS",
    "Fragment",
    "datetime_fragment",
    "isoformat_datetime",
    "make_open_enum_structure",
    "passthrough",
    "structure_bytes",
    "structure_datetime",
    "structure_number",
    "structure_optional_str",
    "structure_str",
    "unstructure_bytes",
    "unstructure_datetime",
]


def structure_datetime(value: Any, _: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO 8601 date-time string, got {type(value).__name__}")
    # Python 3.11 parses "Z", offsets and 7-digit (.NET) fractions, truncating the 7th digit.
    return datetime.fromisoformat(value)


def isoformat_datetime(value: datetime) -> str:
    if value.tzinfo is None:  # the wire format (RFC 3339) needs an offset; naive means UTC, as in botbuilder
        value = value.replace(tzinfo=UTC)
    text = value.isoformat()
    if value.utcoffset() == UTC.utcoffset(None) and text.endswith("+00:00"):
        return text[:-6] + "Z"
    return text


DATETIME_OPTIONS = 0 if _orjson is None else _orjson.OPT_UTC_Z | _orjson.OPT_NAIVE_UTC


def unstructure_datetime(value: datetime) -> str:
    """RFC 3339, ``Z`` for UTC: what :func:`isoformat_datetime` writes (``datetime.isoformat`` costs ~1 us).

    orjson writes the same text for UTC, naive (taken as UTC) and whole-minute offsets; an offset with seconds
    (``+05:30:15``) it would cut to minutes, so that and any other tzinfo go through ``isoformat``.
    """
    if _orjson is not None and type(value) is datetime:
        zone = value.tzinfo
        if zone is UTC or zone is None or (type(zone) is timezone and _whole_minutes(zone)):
            text: str = _orjson.dumps(value, option=DATETIME_OPTIONS)[1:-1].decode()
            return text
    return isoformat_datetime(value)


def _whole_minutes(zone: timezone) -> bool:
    offset = zone.utcoffset(None)
    return not (offset.seconds % 60 or offset.microseconds)


Fragment: Any = getattr(_orjson, "Fragment", None)


def datetime_fragment(value: datetime) -> Any:
    """:func:`unstructure_datetime` for a JSON tree: the encoded text itself (orjson writes it in place)."""
    if type(value) is datetime:
        zone = value.tzinfo
        if zone is UTC or zone is None or (type(zone) is timezone and _whole_minutes(zone)):
            return Fragment(_orjson.dumps(value, option=DATETIME_OPTIONS))
    return unstructure_datetime(value)


def structure_bytes(value: Any, _: Any) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if not isinstance(value, str):
        raise TypeError(f"expected a base64 string, got {type(value).__name__}")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise ValueError(f"invalid base64 data: {exc}") from None


def unstructure_bytes(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def passthrough(value: Any, _: Any) -> Any:
    return value


def structure_str(value: Any, _: Any) -> str:
    if isinstance(value, str):
        return value
    # some channels send numeric ids; anything structured in a string field is a wire error
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise TypeError(f"expected a string, got {type(value).__name__}")


def structure_number(value: Any, cls: type[Any]) -> Any:
    try:
        return cls(value)
    except OverflowError as exc:  # int(1e400), float(10**400): a bad value like any other, not an arithmetic bug
        raise ValueError(f"{type(value).__name__} value out of range for {cls.__name__}") from exc


def structure_optional_str(value: Any, _: Any) -> str | None:
    if value is None or type(value) is str:
        return value
    return structure_str(value, _)


def make_open_enum_structure(tp: Any) -> Callable[[Any, Any], Any]:
    enum_cls = open_enum_of(tp)
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
