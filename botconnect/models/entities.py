"""Entities: typed metadata attached to an activity, polymorphic on their ``type`` field.

An entity dict whose ``type`` names a known kind parses to that subclass (``"mention"`` -> :class:`Mention`);
any other entity parses to a plain :class:`Entity` whose extra fields live in ``additional_properties``, so
unknown entity types round-trip unchanged.
"""

from typing import Any, ClassVar, Self

import attrs

from .._core import serde
from ._base import Model
from .accounts import ChannelAccount

__all__ = ["Entity", "GeoCoordinates", "Mention", "Place", "Thing"]


@attrs.define(kw_only=True, repr=False)
class Entity(Model):
    """Metadata object attached to an activity; its ``type`` defines its meaning and shape."""

    __botconnect_discriminator__: ClassVar[str] = "type"

    type: str | None = None


@attrs.define(kw_only=True, repr=False)
class Mention(Entity):
    """An @-mention of a channel account inside the activity text."""

    #: the ``type`` value written for mentions this SDK creates.
    TYPE: ClassVar[str] = "mention"

    mentioned: ChannelAccount | None = None
    text: str | None = None

    @classmethod
    def for_account(cls, account: ChannelAccount, text: str | None = None) -> Self:
        """A mention of ``account``; ``text`` defaults to ``<at>{name}</at>`` (the id when there is no name).

        The same text must also appear in the activity's ``text`` for channels such as Teams to render it.
        """
        if text is None:
            text = f"<at>{account.name if account.name is not None else account.id}</at>"
        return cls(type=cls.TYPE, mentioned=account, text=text)


@attrs.define(kw_only=True, repr=False)
class Thing(Entity):
    """A schema.org Thing: the most generic named entity."""

    name: str | None = None


@attrs.define(kw_only=True, repr=False)
class Place(Entity):
    """A schema.org Place (address, coordinates and map are free-form objects)."""

    address: Any = None
    geo: Any = None
    has_map: Any = None
    name: str | None = None


@attrs.define(kw_only=True, repr=False)
class GeoCoordinates(Entity):
    """A schema.org GeoCoordinates: latitude/longitude (WGS 84) and elevation."""

    elevation: float | None = None
    latitude: float | None = None
    longitude: float | None = None
    name: str | None = None


#: ``type`` values (short names of the Activity spec's appendix II and their IRIs) mapped to their classes.
ENTITY_TYPES: dict[str, type[Entity]] = {
    "mention": Mention,
    "Mention": Mention,
    "https://botframework.com/schema/mention": Mention,
    "Thing": Thing,
    "http://schema.org/Thing": Thing,
    "Place": Place,
    "http://schema.org/Place": Place,
    "GeoCoordinates": GeoCoordinates,
    "http://schema.org/GeoCoordinates": GeoCoordinates,
    "http://schema.org/GeoCoordinates/": GeoCoordinates,
}

for _key, _cls in ENTITY_TYPES.items():
    serde.register_subtype(Entity, _key, _cls)

# Teams' schema.org Message entity (AI label, citations) lives in its own module; importing it registers its type.
from . import citations as _citations  # noqa: E402, F401
