"""The base every wire model shares: dict/JSON conversion, unknown-key preservation, a readable repr."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import attrs

from .._core import serde

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
        """Build the model from its camelCase wire dict (as a web framework hands you the JSON body)."""
        return serde.structure(data, cls)

    def to_dict(self) -> dict[str, Any]:
        """The camelCase wire dict, without ``None`` fields and with unknown keys restored."""
        result: dict[str, Any] = serde.unstructure(self)
        return result

    @classmethod
    def from_json(cls: type[M], data: bytes | str) -> M:
        """Parse JSON text or bytes into the model."""
        parsed = serde.loads(data)
        if not isinstance(parsed, Mapping):
            raise TypeError(f"{cls.__name__} expects a JSON object, got {type(parsed).__name__}")
        return serde.structure_parsed(parsed, cls)  # the decoded tree is ours: consumed, not copied

    def to_json(self) -> bytes:
        """Compact UTF-8 JSON bytes of :meth:`to_dict`."""
        return serde.dumps(self.to_dict())

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


def wire(name: str, **kwargs: Any) -> Any:
    """An optional field whose JSON key is ``name`` (for keys that are not the camelCase of the attribute)."""
    metadata = dict(kwargs.pop("metadata", {}))
    metadata[serde.WIRE_NAME] = name
    kwargs.setdefault("default", None)
    return attrs.field(metadata=metadata, **kwargs)
