"""Azure Communication Services identifiers: who sent a message, who is in a thread.

An identifier is known by its *raw id*, a prefixed string (``8:acs:...`` for an ACS user, ``4:+15551234567`` for
a phone number, ``8:orgid:...`` for a Teams user, ``28:orgid:...`` for a Teams app). :func:`identifier_from_raw_id`
turns a raw id into the matching class; every identifier has a ``raw_id`` property, and two identifiers are equal
(and hash the same) exactly when their raw ids are equal, whatever their class.

On the wire an identifier is a ``CommunicationIdentifierModel``: ``{"kind", "rawId", "<kind>": {...}}``. A kind
this SDK does not know yet (or a malformed one) parses to :class:`UnknownIdentifier`, which keeps the raw id and the
whole wire dict, and serializes back to that dict unchanged: a new identifier kind is never an error.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import attrs

from .._core import serde

__all__ = [
    "CommunicationCloudEnvironment",
    "CommunicationIdentifier",
    "CommunicationIdentifierKind",
    "CommunicationUserIdentifier",
    "MicrosoftTeamsAppIdentifier",
    "MicrosoftTeamsUserIdentifier",
    "PhoneNumberIdentifier",
    "UnknownIdentifier",
    "identifier_from_raw_id",
    "identifier_from_wire",
    "identifier_to_wire",
]


class CommunicationIdentifierKind(enum.StrEnum):
    """The kind of an identifier (the Azure SDK's values; the wire ``kind`` is the camelCase form)."""

    UNKNOWN = "unknown"
    COMMUNICATION_USER = "communication_user"
    PHONE_NUMBER = "phone_number"
    MICROSOFT_TEAMS_USER = "microsoft_teams_user"
    MICROSOFT_TEAMS_APP = "microsoft_teams_app"


class CommunicationCloudEnvironment(enum.StrEnum):
    """The cloud a Teams user or app belongs to (wire values)."""

    PUBLIC = "public"
    DOD = "dod"
    GCCH = "gcch"


def _cloud(value: CommunicationCloudEnvironment | str) -> CommunicationCloudEnvironment:
    if isinstance(value, CommunicationCloudEnvironment):
        return value
    if not isinstance(value, str):
        raise TypeError(f"cloud must be a CommunicationCloudEnvironment or str, got {type(value).__name__}")
    try:
        return CommunicationCloudEnvironment(value.lower())
    except ValueError:
        raise ValueError(f"unknown cloud {value!r}: expected one of public, dod, gcch") from None


def _non_empty(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{attribute.name} must be a str, got {type(value).__name__}")
    if not value:
        raise ValueError(f"{attribute.name} must not be empty")


def _optional_raw_id(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and (not isinstance(value, str) or not value):
        raise TypeError("raw_id must be a non-empty str or None")


class CommunicationIdentifier:
    """Base of every identifier: equal and hashable by ``raw_id``."""

    __slots__ = ()

    kind: ClassVar[CommunicationIdentifierKind] = CommunicationIdentifierKind.UNKNOWN

    @property
    def raw_id(self) -> str:
        raise NotImplementedError  # pragma: no cover

    @property
    def properties(self) -> dict[str, Any]:
        """The kind-specific fields, keyed like the Azure SDK's ``properties``."""
        return {}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CommunicationIdentifier):
            return NotImplemented
        return self.raw_id == other.raw_id

    def __hash__(self) -> int:
        return hash(self.raw_id)

    def __repr__(self) -> str:
        fields = ", ".join(f"{key}={value!r}" for key, value in self.properties.items())
        return f"{type(self).__name__}({fields + ', ' if fields else ''}raw_id={self.raw_id!r})"


def _copy_json(value: Any) -> Any:
    # identifiers' wire dicts are small JSON trees: a plain recursive copy is ~10x cheaper than copy.deepcopy
    kind = type(value)
    if kind is str or kind is bool or kind is int or value is None:
        return value
    if kind is dict or isinstance(value, Mapping):
        return {key: _copy_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy_json(item) for item in value]
    return value


def _copy_wire(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise TypeError(f"raw must be a mapping, got {type(value).__name__}")
    copied: dict[str, Any] = _copy_json(value)
    return copied


# Every known kind also takes ``raw_id=``: an explicit raw id (kept as given, e.g. a service-assigned or sanitized
# one; None: computed from the kind), and keeps ``_wire``: the dict a parsed identifier came from, so ``to_dict``
# gives it back exactly (private, never compared).


@attrs.frozen(eq=False, repr=False)
class CommunicationUserIdentifier(CommunicationIdentifier):
    """A user created with an ACS resource; ``id`` is its full ``8:acs:...`` id (which is also its raw id)."""

    kind: ClassVar[CommunicationIdentifierKind] = CommunicationIdentifierKind.COMMUNICATION_USER

    id: str = attrs.field(validator=_non_empty)
    _raw_id: str | None = attrs.field(alias="raw_id", default=None, kw_only=True, validator=_optional_raw_id)
    _wire: dict[str, Any] | None = attrs.field(
        alias="_wire", default=None, kw_only=True, eq=False, repr=False, converter=_copy_wire
    )

    @property
    def raw_id(self) -> str:
        return self._raw_id if self._raw_id is not None else self.id

    @property
    def properties(self) -> dict[str, Any]:
        return {"id": self.id}


@attrs.frozen(eq=False, repr=False)
class PhoneNumberIdentifier(CommunicationIdentifier):
    """A phone number, usually E.164 (``+15551234567``); its raw id is ``4:`` followed by the value."""

    kind: ClassVar[CommunicationIdentifierKind] = CommunicationIdentifierKind.PHONE_NUMBER

    value: str = attrs.field(validator=_non_empty)
    _raw_id: str | None = attrs.field(alias="raw_id", default=None, kw_only=True, validator=_optional_raw_id)
    _wire: dict[str, Any] | None = attrs.field(
        alias="_wire", default=None, kw_only=True, eq=False, repr=False, converter=_copy_wire
    )

    @property
    def raw_id(self) -> str:
        return self._raw_id if self._raw_id is not None else _PHONE_PREFIX + self.value

    @property
    def properties(self) -> dict[str, Any]:
        return {"value": self.value}

    @property
    def is_anonymous(self) -> bool:
        """True for a caller who hid their number (the value is then ``anonymous``)."""
        return self.value == "anonymous"

    @property
    def asserted_id(self) -> str | None:
        """The suffix after the last ``_`` of the raw id, set when the same number joined more than once."""
        raw = self.raw_id
        index = raw.rfind("_") + 1
        return raw[index:] if 0 < index < len(raw) else None


@attrs.frozen(eq=False, repr=False)
class MicrosoftTeamsUserIdentifier(CommunicationIdentifier):
    """A Teams user by Entra object id (or an anonymous Teams visitor), in a given cloud."""

    kind: ClassVar[CommunicationIdentifierKind] = CommunicationIdentifierKind.MICROSOFT_TEAMS_USER

    user_id: str = attrs.field(validator=_non_empty)
    is_anonymous: bool = attrs.field(default=False, kw_only=True, validator=attrs.validators.instance_of(bool))
    cloud: CommunicationCloudEnvironment = attrs.field(
        default=CommunicationCloudEnvironment.PUBLIC, kw_only=True, converter=_cloud
    )
    _raw_id: str | None = attrs.field(alias="raw_id", default=None, kw_only=True, validator=_optional_raw_id)
    _wire: dict[str, Any] | None = attrs.field(
        alias="_wire", default=None, kw_only=True, eq=False, repr=False, converter=_copy_wire
    )

    @property
    def raw_id(self) -> str:
        if self._raw_id is not None:
            return self._raw_id
        if self.is_anonymous:
            return _TEAMS_VISITOR_PREFIX + self.user_id
        return _TEAMS_USER_PREFIXES[self.cloud] + self.user_id

    @property
    def properties(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "is_anonymous": self.is_anonymous, "cloud": self.cloud}


@attrs.frozen(eq=False, repr=False)
class MicrosoftTeamsAppIdentifier(CommunicationIdentifier):
    """A Teams application (a bot) by app id, in a given cloud."""

    kind: ClassVar[CommunicationIdentifierKind] = CommunicationIdentifierKind.MICROSOFT_TEAMS_APP

    app_id: str = attrs.field(validator=_non_empty)
    cloud: CommunicationCloudEnvironment = attrs.field(
        default=CommunicationCloudEnvironment.PUBLIC, kw_only=True, converter=_cloud
    )
    _raw_id: str | None = attrs.field(alias="raw_id", default=None, kw_only=True, validator=_optional_raw_id)
    _wire: dict[str, Any] | None = attrs.field(
        alias="_wire", default=None, kw_only=True, eq=False, repr=False, converter=_copy_wire
    )

    @property
    def raw_id(self) -> str:
        return self._raw_id if self._raw_id is not None else _TEAMS_APP_PREFIXES[self.cloud] + self.app_id

    @property
    def properties(self) -> dict[str, Any]:
        return {"app_id": self.app_id, "cloud": self.cloud}


@attrs.frozen(eq=False, repr=False)
class UnknownIdentifier(CommunicationIdentifier):
    """An identifier of a kind this SDK does not know; ``raw`` is the wire dict it came in (sent back as is)."""

    kind: ClassVar[CommunicationIdentifierKind] = CommunicationIdentifierKind.UNKNOWN

    identifier: str = attrs.field(validator=attrs.validators.instance_of(str))
    raw: dict[str, Any] | None = attrs.field(default=None, kw_only=True, converter=_copy_wire)

    @property
    def raw_id(self) -> str:
        return self.identifier


# -- raw ids --------------------------------------------------------------------------------------------------

_PHONE_PREFIX = "4:"
_TEAMS_VISITOR_PREFIX = "8:teamsvisitor:"
_ACS_USER_PREFIXES = ("8:acs:", "8:spool:", "8:dod-acs:", "8:gcch-acs:")
_TEAMS_USER_PREFIXES = {
    CommunicationCloudEnvironment.PUBLIC: "8:orgid:",
    CommunicationCloudEnvironment.DOD: "8:dod:",
    CommunicationCloudEnvironment.GCCH: "8:gcch:",
}
_TEAMS_APP_PREFIXES = {
    CommunicationCloudEnvironment.PUBLIC: "28:orgid:",
    CommunicationCloudEnvironment.DOD: "28:dod:",
    CommunicationCloudEnvironment.GCCH: "28:gcch:",
}


def identifier_from_raw_id(raw_id: str) -> CommunicationIdentifier:
    """The identifier a raw id stands for; an unrecognised prefix (or an empty id after it) is UnknownIdentifier.

    ``identifier_from_raw_id(x).raw_id == x`` for every string ``x``.
    """
    if not isinstance(raw_id, str):
        raise TypeError(f"raw_id must be a str, got {type(raw_id).__name__}")
    if raw_id.startswith(_PHONE_PREFIX) and len(raw_id) > len(_PHONE_PREFIX):
        return PhoneNumberIdentifier(raw_id[len(_PHONE_PREFIX) :])
    for prefix in _ACS_USER_PREFIXES:
        if raw_id.startswith(prefix) and len(raw_id) > len(prefix):
            return CommunicationUserIdentifier(raw_id)
    rest = _after(raw_id, _TEAMS_VISITOR_PREFIX)
    if rest:
        return MicrosoftTeamsUserIdentifier(rest, is_anonymous=True)
    for cloud, prefix in _TEAMS_USER_PREFIXES.items():
        rest = _after(raw_id, prefix)
        if rest:
            return MicrosoftTeamsUserIdentifier(rest, cloud=cloud)
    for cloud, prefix in _TEAMS_APP_PREFIXES.items():
        rest = _after(raw_id, prefix)
        if rest:
            return MicrosoftTeamsAppIdentifier(rest, cloud=cloud)
    return UnknownIdentifier(raw_id)


def _after(raw_id: str, prefix: str) -> str | None:
    return raw_id[len(prefix) :] if raw_id.startswith(prefix) else None


# -- wire form ------------------------------------------------------------------------------------------------

_WIRE_KINDS: dict[type[CommunicationIdentifier], str] = {
    CommunicationUserIdentifier: "communicationUser",
    PhoneNumberIdentifier: "phoneNumber",
    MicrosoftTeamsUserIdentifier: "microsoftTeamsUser",
    MicrosoftTeamsAppIdentifier: "microsoftTeamsApp",
}


def identifier_to_wire(identifier: CommunicationIdentifier, *, include_kind: bool | None = None) -> dict[str, Any]:
    """The ``CommunicationIdentifierModel`` dict: always ``rawId`` and the kind's object, ``kind`` when asked.

    ``include_kind=None`` (what ``to_dict`` uses) gives a parsed identifier back exactly as it came, and includes
    ``kind`` otherwise; True/False (what requests use, by API version) always builds the dict from the fields.
    An :class:`UnknownIdentifier` that came from the wire is always written back exactly as it came.
    """
    if isinstance(identifier, UnknownIdentifier):
        if identifier.raw is not None:
            raw: dict[str, Any] = _copy_json(identifier.raw)
            return raw
        return {"rawId": identifier.raw_id}
    source = getattr(identifier, "_wire", None)
    if include_kind is None:
        if source is not None:
            copied: dict[str, Any] = _copy_json(source)
            return copied
        include_kind = True
    out: dict[str, Any] = {}
    if isinstance(identifier, CommunicationUserIdentifier):
        body: dict[str, Any] = {"id": identifier.id}
    elif isinstance(identifier, PhoneNumberIdentifier):
        body = {"value": identifier.value}
    elif isinstance(identifier, MicrosoftTeamsUserIdentifier):
        body = {"userId": identifier.user_id, "isAnonymous": identifier.is_anonymous, "cloud": identifier.cloud.value}
    elif isinstance(identifier, MicrosoftTeamsAppIdentifier):
        body = {"appId": identifier.app_id, "cloud": identifier.cloud.value}
    else:
        raise TypeError(f"expected a CommunicationIdentifier, got {type(identifier).__name__}")
    wire_kind = _WIRE_KINDS[type(identifier)]
    if include_kind:
        out["kind"] = wire_kind
    out["rawId"] = identifier.raw_id
    out[wire_kind] = body
    return out


def _str_field(props: Mapping[str, Any], key: str) -> str | None:
    value = props.get(key)
    return value if isinstance(value, str) and value else None


def _user_from(props: Mapping[str, Any], raw_id: str | None, wire: Mapping[str, Any]) -> CommunicationIdentifier | None:
    user_id = _str_field(props, "id")
    return CommunicationUserIdentifier(user_id, raw_id=raw_id, _wire=wire) if user_id else None


def _phone_from(
    props: Mapping[str, Any], raw_id: str | None, wire: Mapping[str, Any]
) -> CommunicationIdentifier | None:
    value = _str_field(props, "value")
    return PhoneNumberIdentifier(value, raw_id=raw_id, _wire=wire) if value else None


def _wire_cloud(props: Mapping[str, Any]) -> CommunicationCloudEnvironment | None:
    value = props.get("cloud", "public")
    if value is None:
        return CommunicationCloudEnvironment.PUBLIC
    if isinstance(value, str):
        try:
            return CommunicationCloudEnvironment(value.lower())
        except ValueError:
            return None
    return None


def _teams_user_from(
    props: Mapping[str, Any], raw_id: str | None, wire: Mapping[str, Any]
) -> CommunicationIdentifier | None:
    user_id = _str_field(props, "userId")
    anonymous = props.get("isAnonymous", False)
    cloud = _wire_cloud(props)
    if not user_id or cloud is None or not isinstance(anonymous, bool | None):
        return None
    return MicrosoftTeamsUserIdentifier(user_id, is_anonymous=bool(anonymous), cloud=cloud, raw_id=raw_id, _wire=wire)


def _teams_app_from(
    props: Mapping[str, Any], raw_id: str | None, wire: Mapping[str, Any]
) -> CommunicationIdentifier | None:
    app_id = _str_field(props, "appId")
    cloud = _wire_cloud(props)
    if not app_id or cloud is None:
        return None
    return MicrosoftTeamsAppIdentifier(app_id, cloud=cloud, raw_id=raw_id, _wire=wire)


_FROM_WIRE: dict[str, Callable[[Mapping[str, Any], str | None, Mapping[str, Any]], CommunicationIdentifier | None]] = {
    "communicationUser": _user_from,
    "phoneNumber": _phone_from,
    "microsoftTeamsUser": _teams_user_from,
    "microsoftTeamsApp": _teams_app_from,
}


def identifier_from_wire(data: Mapping[str, Any]) -> CommunicationIdentifier:
    """Parse a ``CommunicationIdentifierModel`` dict; anything not understood becomes UnknownIdentifier(raw=data)."""
    if isinstance(data, CommunicationIdentifier):
        return data
    if not isinstance(data, Mapping):
        raise TypeError(f"a communication identifier must be a JSON object, got {type(data).__name__}")
    raw_value = data.get("rawId")
    raw_id = raw_value if isinstance(raw_value, str) and raw_value else None
    kind = data.get("kind")
    if kind is not None:
        keys = [kind] if isinstance(kind, str) and kind in _FROM_WIRE else []
    else:
        keys = [key for key in _FROM_WIRE if key in data]
    if len(keys) == 1:
        props = data.get(keys[0])
        if isinstance(props, Mapping):
            parsed = _FROM_WIRE[keys[0]](props, raw_id, data)
            if parsed is not None:
                return parsed
    return UnknownIdentifier(raw_id or "", raw=data)


# -- the converter ----------------------------------------------------------------------------------------------


def _is_identifier_type(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, CommunicationIdentifier)


def _structure_identifier(data: Any, tp: type[CommunicationIdentifier]) -> CommunicationIdentifier:
    identifier = identifier_from_wire(data)
    if not isinstance(identifier, tp):
        raise TypeError(f"expected a {tp.__name__}, got {type(identifier).__name__} ({identifier.raw_id!r})")
    return identifier


serde.converter.register_structure_hook_func(_is_identifier_type, _structure_identifier)
serde.converter.register_unstructure_hook_func(_is_identifier_type, identifier_to_wire)
