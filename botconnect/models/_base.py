"""The base every wire model shares: dict/JSON conversion, unknown-key preservation, a readable repr."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import attrs

from .._core import serde
from ..errors import DeserializationError

__all__ = ["Model", "wire"]

M = TypeVar("M", bound="Model")


@attrs.define(kw_only=True, repr=False)
class Model:
    """Base class of all wire models.

    ``additional_properties`` holds keys the service sent that this model does not declare; they are written
    back unchanged by :meth:`to_dict`, so nothing a channel adds is lost on a parse -> serialize round trip.
    """

    additional_properties: dict[str, Any] = attrs.field(factory=dict)

    @classmethod
    def from_dict(cls: type[M], data: Mapping[str, Any]) -> M:
        """Build the model from its camelCase wire dict (as a web framework hands you the JSON body).

        Raises:
            DeserializationError: ``data`` is not a JSON object of this model's shape (a ``ValueError``).
        """
        try:
            return serde.structure(data, cls)
        except DeserializationError:
            raise
        except (TypeError, ValueError, KeyError, AttributeError, OverflowError, RecursionError) as exc:
            raise DeserializationError(f"not a valid {cls.__name__}: {exc}") from exc

    def to_dict(self) -> dict[str, Any]:
        """The camelCase wire dict, without ``None`` fields and with unknown keys restored."""
        result: dict[str, Any] = serde.unstructure(self)
        return result

    @classmethod
    def from_json(cls: type[M], data: bytes | str) -> M:
        """Parse JSON text or bytes into the model.

        Raises:
            DeserializationError: ``data`` is not JSON, or not a JSON object of this model's shape (a
                ``ValueError``).
        """
        # serde.loads and serde.structure_parsed spelled out: the two calls are ~2-3% of parsing a small activity
        decoder = serde._orjson
        try:
            parsed = decoder.loads(data) if decoder is not None else serde.loads(data)
        except (ValueError, TypeError, UnicodeError, RecursionError) as exc:
            raise DeserializationError(f"{cls.__name__} JSON does not parse: {exc}") from exc
        if type(parsed) is not dict and not isinstance(parsed, Mapping):  # the ABC check alone is ~3% of a parse
            raise DeserializationError(f"{cls.__name__} expects a JSON object, got {type(parsed).__name__}")
        try:
            hook = serde._parsed_hooks.get(cls) or serde._parsed_hook(cls)
            return hook(parsed, cls)  # type: ignore[no-any-return]  # the decoded tree is ours: consumed, not copied
        except (TypeError, ValueError, KeyError, AttributeError, OverflowError, RecursionError) as exc:
            raise DeserializationError(f"not a valid {cls.__name__}: {exc}") from exc

    def to_json(self) -> bytes:
        """Compact UTF-8 JSON bytes of :meth:`to_dict`."""
        # serde.model_to_json's fast path spelled out (a call less: ~3% of serializing a small activity)
        hook = serde._tree_hooks.get(type(self))
        encoder = serde._orjson
        if hook is not None and encoder is not None:
            try:
                encoded: bytes = encoder.dumps(hook(self), default=serde._encode_default, option=serde._TREE_OPTIONS)
                return encoded
            except TypeError:  # not JSON as orjson has it (big integers, non-str keys, ...): the exact path
                return serde.dumps(serde.converter.unstructure(self))
        return serde.model_to_json(self)

    def _refuse_python_names(self, argument: str) -> None:
        """Refuse a dict argument that spelled a field by its Python name (``reply_to_id``): the wire dict needs the
        wire name (``replyToId``), and an unknown key would otherwise travel as an extra and the field stay empty."""
        found = python_named_keys(self)
        if found:
            key, owner, wire_key = found[0]
            raise TypeError(
                f"{argument}: {key!r} is the Python name of {owner}.{key}; a wire dict spells it {wire_key!r} "
                f"(or pass the model: {owner}({key}=...))"
            )

    def __repr__(self) -> str:
        # Activities have ~45 fields and most are None: show only what is set.
        parts = []
        for field in attrs.fields(type(self)):
            value = getattr(self, field.name)
            if value is None or field.name == serde.EXTRAS_FIELD:
                continue
            if field.repr is False:
                parts.append(f"{field.name}=<redacted>")
                continue
            parts.append(f"{field.name}={value!r}")
        if self.additional_properties:
            parts.append(f"additional_properties={self.additional_properties!r}")
        return f"{type(self).__name__}({', '.join(parts)})"


def python_named_keys(model: Model) -> list[tuple[str, str, str]]:
    """``(key, model class, wire key)`` for each unknown key, at any depth, that is a field's Python name."""
    found: list[tuple[str, str, str]] = []
    pending: list[Any] = [model]
    while pending:
        value = pending.pop()
        if isinstance(value, Model):
            fields = attrs.fields(type(value))
            renamed = {f.name: serde.wire_name(f) for f in fields if serde.wire_name(f) != f.name}
            owner = type(value).__name__
            found.extend((key, owner, renamed[key]) for key in value.additional_properties if key in renamed)
            pending.extend(getattr(value, f.name) for f in fields if f.name != serde.EXTRAS_FIELD)
        elif isinstance(value, list | tuple):
            pending.extend(value)
        elif isinstance(value, dict):
            pending.extend(value.values())
    return found


def wire(name: str, **kwargs: Any) -> Any:
    """An optional field whose JSON key is ``name`` (for keys that are not the camelCase of the attribute)."""
    metadata = dict(kwargs.pop("metadata", {}))
    metadata[serde.WIRE_NAME] = name
    kwargs.setdefault("default", None)
    return attrs.field(metadata=metadata, **kwargs)
