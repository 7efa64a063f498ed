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
from .identifier_kinds import (
    CommunicationCloudEnvironment,
    CommunicationIdentifierKind,
    CommunicationIdentifierLike,
    CommunicationUserProperties,
    MicrosoftTeamsAppProperties,
    MicrosoftTeamsUserProperties,
    PhoneNumberProperties,
)

__all__ = [
    "CommunicationCloudEnvironment",
    "CommunicationIdentifier",
    "CommunicationIdentifierKind",
    "CommunicationIdentifierLike",
    "CommunicationUserIdentifier",
    "CommunicationUserProperties",
    "MicrosoftTeamsAppIdentifier",
    "MicrosoftTeamsAppProperties",
    "MicrosoftTeamsUserIdentifier",
    "MicrosoftTeamsUserProperties",
    "PhoneNumberIdentifier",
    "PhoneNumberProperties",
    "UnknownIdentifier",
    "as_identifier",
    "identifier_from_raw_id",
    "identifier_from_wire",
    "identifier_to_wire",
]


def _cloud(value: CommunicationCloudEnvironment | str) -> CommunicationCloudEnvironment:
    if isinstance(value, CommunicationCloudEnvironment):
        return value
    if not isinstance(value, str):
        raise TypeError(f"cloud must be a CommunicationCloudEnvironment or str, got {type(value).__name__}")
    try:
        return CommunicationCloudEnvironment(value)
    except ValueError:
        raise ValueError(f"unknown cloud {value!r}: expected one of PUBLIC, DOD, GCCH") from None


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
        """The identifier's raw id, as ACS writes it (``8:acs:...``, ``4:+1...``, ``8:orgid:...``, ``28:...``)."""
        raise NotImplementedError  # pragma: no cover

    @property
    def properties(self) -> Mapping[str, Any]:
        """The kind-specific fields, keyed like the Azure SDK's ``properties``."""
        return {}

    def __eq__(self, other: object) -> bool:
        # an Azure SDK identifier compares equal by raw id too, as theirs compare with ours
        if isinstance(other, CommunicationIdentifier) or _is_identifier_like(other):
            return bool(self.raw_id == other.raw_id)  # type: ignore[attr-defined]
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.raw_id)

    def __repr__(self) -> str:
        fields = ", ".join(f"{key}={value!r}" for key, value in self.properties.items())
        return f"{type(self).__name__}({fields + ', ' if fields else ''}raw_id={self.raw_id!r})"


_ATOMS = frozenset({str, bool, int, float, type(None)})


def _copy_json(value: Any) -> Any:
    # identifiers' wire dicts are small JSON trees: a plain recursive copy is ~10x cheaper than copy.deepcopy,
    # and testing the (usual) scalar items inline saves a call per item
    kind = type(value)
    if kind is dict:
        return {key: item if type(item) in _ATOMS else _copy_json(item) for key, item in value.items()}
    if kind in _ATOMS:
        return value
    if isinstance(value, Mapping):
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


class _Built(enum.Enum):
    """Kept instead of a parsed wire dict that was exactly what ``identifier_to_wire`` builds (with or without
    ``kind``): the usual case, and then the identifier need not hold two dicts per message."""

    WITH_KIND = True
    WITHOUT_KIND = False


def _copy_source(value: Mapping[str, Any] | _Built | None) -> dict[str, Any] | _Built | None:
    return value if isinstance(value, _Built) else _copy_wire(value)


# Every known kind also takes ``raw_id=``: an explicit raw id (kept as given, e.g. a service-assigned or sanitized
# one; None: computed from the kind), and keeps ``_wire``: the dict a parsed identifier came from, so ``to_dict``
# gives it back exactly (private, never compared).


@attrs.frozen(eq=False, repr=False)
class CommunicationUserIdentifier(CommunicationIdentifier):
    """A user created with an ACS resource; ``id`` is its full ``8:acs:...`` id (which is also its raw id)."""

    kind: ClassVar[CommunicationIdentifierKind] = CommunicationIdentifierKind.COMMUNICATION_USER

    id: str = attrs.field(validator=_non_empty)
    _raw_id: str | None = attrs.field(alias="raw_id", default=None, kw_only=True, validator=_optional_raw_id)
    _wire: dict[str, Any] | _Built | None = attrs.field(
        alias="_wire", default=None, kw_only=True, eq=False, repr=False, converter=_copy_source
    )

    @property
    def raw_id(self) -> str:
        """The identifier's raw id, as ACS writes it (``8:acs:...``, ``4:+1...``, ``8:orgid:...``, ``28:...``)."""
        return self._raw_id if self._raw_id is not None else self.id

    @property
    def properties(self) -> CommunicationUserProperties:
        """The identifier's properties as azure.communication.chat exposes them (a typed dict)."""
        return {"id": self.id}


@attrs.frozen(eq=False, repr=False)
class PhoneNumberIdentifier(CommunicationIdentifier):
    """A phone number, usually E.164 (``+15551234567``); its raw id is ``4:`` followed by the value."""

    kind: ClassVar[CommunicationIdentifierKind] = CommunicationIdentifierKind.PHONE_NUMBER

    value: str = attrs.field(validator=_non_empty)
    _raw_id: str | None = attrs.field(alias="raw_id", default=None, kw_only=True, validator=_optional_raw_id)
    _wire: dict[str, Any] | _Built | None = attrs.field(
        alias="_wire", default=None, kw_only=True, eq=False, repr=False, converter=_copy_source
    )

    @property
    def raw_id(self) -> str:
        """The identifier's raw id, as ACS writes it (``8:acs:...``, ``4:+1...``, ``8:orgid:...``, ``28:...``)."""
        return self._raw_id if self._raw_id is not None else _PHONE_PREFIX + self.value

    @property
    def properties(self) -> PhoneNumberProperties:
        """The identifier's properties as azure.communication.chat exposes them (a typed dict)."""
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
    _wire: dict[str, Any] | _Built | None = attrs.field(
        alias="_wire", default=None, kw_only=True, eq=False, repr=False, converter=_copy_source
    )

    @property
    def raw_id(self) -> str:
        """The identifier's raw id, as ACS writes it (``8:acs:...``, ``4:+1...``, ``8:orgid:...``, ``28:...``)."""
        if self._raw_id is not None:
            return self._raw_id
        if self.is_anonymous:
            return _TEAMS_VISITOR_PREFIX + self.user_id
        return _TEAMS_USER_PREFIXES[self.cloud] + self.user_id

    @property
    def properties(self) -> MicrosoftTeamsUserProperties:
        """The identifier's properties as azure.communication.chat exposes them (a typed dict)."""
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
    _wire: dict[str, Any] | _Built | None = attrs.field(
        alias="_wire", default=None, kw_only=True, eq=False, repr=False, converter=_copy_source
    )

    @property
    def raw_id(self) -> str:
        """The identifier's raw id, as ACS writes it (``8:acs:...``, ``4:+1...``, ``8:orgid:...``, ``28:...``)."""
        return self._raw_id if self._raw_id is not None else _TEAMS_APP_PREFIXES[self.cloud] + self.app_id

    @property
    def properties(self) -> MicrosoftTeamsAppProperties:
        """The identifier's properties as azure.communication.chat exposes them (a typed dict)."""
        return {"app_id": self.app_id, "cloud": self.cloud}


@attrs.frozen(eq=False, repr=False)
class UnknownIdentifier(CommunicationIdentifier):
    """An identifier of a kind this SDK does not know; ``raw`` is the wire dict it came in (sent back as is)."""

    kind: ClassVar[CommunicationIdentifierKind] = CommunicationIdentifierKind.UNKNOWN

    identifier: str = attrs.field(validator=attrs.validators.instance_of(str))
    raw: dict[str, Any] | None = attrs.field(default=None, kw_only=True, converter=_copy_wire)

    @property
    def raw_id(self) -> str:
        """The identifier's raw id, as ACS writes it (``8:acs:...``, ``4:+1...``, ``8:orgid:...``, ``28:...``)."""
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


# -- identifiers of other SDKs --------------------------------------------------------------------------------


def _is_identifier_like(value: object) -> bool:
    return (
        isinstance(getattr(value, "raw_id", None), str)
        and hasattr(value, "kind")
        and isinstance(getattr(value, "properties", None), Mapping)
    )


def _from_kind(kind: str, props: Mapping[str, Any], raw_id: str | None) -> CommunicationIdentifier | None:
    if kind == "communication_user":
        return CommunicationUserIdentifier(props["id"], raw_id=raw_id)
    if kind == "phone_number":
        return PhoneNumberIdentifier(props["value"], raw_id=raw_id)
    if kind == "microsoft_teams_user":
        return MicrosoftTeamsUserIdentifier(
            props["user_id"],
            is_anonymous=bool(props.get("is_anonymous", False)),
            cloud=props.get("cloud") or CommunicationCloudEnvironment.PUBLIC,
            raw_id=raw_id,
        )
    if kind in ("microsoft_teams_app", "microsoft_bot"):
        app_id = props["app_id"] if "app_id" in props else props["bot_id"]
        return MicrosoftTeamsAppIdentifier(
            app_id, cloud=props.get("cloud") or CommunicationCloudEnvironment.PUBLIC, raw_id=raw_id
        )
    return None


def as_identifier(value: Any, name: str = "identifier") -> CommunicationIdentifier:
    """``value`` as one of this SDK's identifiers: ours are returned as they are; an identifier-shaped object (an
    Azure SDK's, see :class:`CommunicationIdentifierLike`) becomes the class of its ``kind`` with the same
    ``raw_id`` and properties, or, for a kind this SDK does not know or properties that do not fit it, the
    identifier its raw id stands for (:func:`identifier_from_raw_id`). Anything else is a TypeError."""
    if isinstance(value, CommunicationIdentifier):
        return value
    if not _is_identifier_like(value):
        raise TypeError(
            f"{name} must be a CommunicationIdentifier or an object with raw_id, kind and properties "
            f"(use identifier_from_raw_id for a raw id), got {type(value).__name__}"
        )
    raw_id: str = value.raw_id
    kind = value.kind
    kind = getattr(kind, "value", kind)  # the Azure SDK's kinds are a (str, Enum)
    if isinstance(kind, str):
        try:
            converted = _from_kind(kind, value.properties, raw_id or None)
        except (KeyError, TypeError, ValueError):
            converted = None  # properties that do not fit the kind: the raw id still says who it is
        if converted is not None:
            return converted
    if not raw_id:
        raise ValueError(f"{name} has an empty raw_id and no properties this SDK can read")
    return identifier_from_raw_id(raw_id)


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
    if not isinstance(identifier, CommunicationIdentifier):
        identifier = as_identifier(identifier)
    if isinstance(identifier, UnknownIdentifier):
        if identifier.raw is not None:
            raw: dict[str, Any] = _copy_json(identifier.raw)
            return raw
        return {"rawId": identifier.raw_id}
    source = getattr(identifier, "_wire", None)
    if include_kind is None:
        if isinstance(source, _Built):
            include_kind = source.value
        elif source is not None:
            copied: dict[str, Any] = _copy_json(source)
            return copied
        else:
            include_kind = True
    out: dict[str, Any] = {}
    if isinstance(identifier, CommunicationUserIdentifier):
        body: dict[str, Any] = {"id": identifier.id}
    elif isinstance(identifier, PhoneNumberIdentifier):
        body = {"value": identifier.value}
    elif isinstance(identifier, MicrosoftTeamsUserIdentifier):
        body = {
            "userId": identifier.user_id,
            "isAnonymous": identifier.is_anonymous,
            "cloud": identifier.cloud.wire_value,
        }
    elif isinstance(identifier, MicrosoftTeamsAppIdentifier):
        body = {"appId": identifier.app_id, "cloud": identifier.cloud.wire_value}
    else:
        raise TypeError(f"expected a CommunicationIdentifier, got {type(identifier).__name__}")
    wire_kind = _WIRE_KINDS[type(identifier)]
    if include_kind:
        out["kind"] = wire_kind
    out["rawId"] = identifier.raw_id
    out[wire_kind] = body
    return out


# Parsing builds identifiers without their __init__: every value has been checked here just as the validators
# would, and the wire dict is copied once (or, for a tree fresh from the JSON decoder, kept as is), where the
# attrs converters would copy it again. The slots are set through their descriptors (cheaper than
# object.__setattr__ on a frozen class). A page of 200 messages has 200 of these.
_new = object.__new__


def _slot_setters(cls: type[Any]) -> tuple[Callable[[Any, Any], None], ...]:
    return tuple(getattr(cls, field.name).__set__ for field in attrs.fields(cls))


_USER_ID, _USER_RAW_ID, _USER_WIRE = _slot_setters(CommunicationUserIdentifier)
#: the keys, in order, of what identifier_to_wire builds for an ACS user
_USER_KEYS = ("rawId", "communicationUser")
_USER_KEYS_WITH_KIND = ("kind", "rawId", "communicationUser")
_USER_KEY_LIST = list(_USER_KEYS)
_PHONE_VALUE, _PHONE_RAW_ID, _PHONE_WIRE = _slot_setters(PhoneNumberIdentifier)
_TEAMS_USER_SETTERS = _slot_setters(MicrosoftTeamsUserIdentifier)
_TEAMS_APP_SETTERS = _slot_setters(MicrosoftTeamsAppIdentifier)
_UNKNOWN_IDENTIFIER, _UNKNOWN_RAW = _slot_setters(UnknownIdentifier)


def _str_field(props: Mapping[str, Any], key: str) -> str | None:
    value = props.get(key)
    return value if isinstance(value, str) and value else None


def _user_from(props: Mapping[str, Any], raw_id: str | None, wire: dict[str, Any]) -> CommunicationIdentifier | None:
    user_id = props.get("id")
    if not isinstance(user_id, str) or not user_id:
        return None
    identifier = _new(CommunicationUserIdentifier)
    _USER_ID(identifier, user_id)
    _USER_RAW_ID(identifier, raw_id)
    _USER_WIRE(identifier, wire)
    return identifier


def _phone_from(props: Mapping[str, Any], raw_id: str | None, wire: dict[str, Any]) -> CommunicationIdentifier | None:
    value = _str_field(props, "value")
    if not value:
        return None
    identifier = _new(PhoneNumberIdentifier)
    _PHONE_VALUE(identifier, value)
    _PHONE_RAW_ID(identifier, raw_id)
    _PHONE_WIRE(identifier, wire)
    return identifier


def _build(cls: type[CommunicationIdentifier], setters: tuple[Callable[[Any, Any], None], ...], *values: Any) -> Any:
    identifier = _new(cls)
    for setter, value in zip(setters, values, strict=True):
        setter(identifier, value)
    return identifier


def _wire_cloud(props: Mapping[str, Any]) -> CommunicationCloudEnvironment | None:
    value = props.get("cloud", "public")
    if value is None:
        return CommunicationCloudEnvironment.PUBLIC
    if isinstance(value, str):
        try:
            return CommunicationCloudEnvironment(value)
        except ValueError:
            return None
    return None


def _teams_user_from(
    props: Mapping[str, Any], raw_id: str | None, wire: dict[str, Any]
) -> CommunicationIdentifier | None:
    user_id = _str_field(props, "userId")
    anonymous = props.get("isAnonymous", False)
    cloud = _wire_cloud(props)
    if not user_id or cloud is None or not isinstance(anonymous, bool | None):
        return None
    values = (user_id, bool(anonymous), cloud, raw_id, wire)
    identifier: CommunicationIdentifier = _build(MicrosoftTeamsUserIdentifier, _TEAMS_USER_SETTERS, *values)
    return identifier


def _teams_app_from(
    props: Mapping[str, Any], raw_id: str | None, wire: dict[str, Any]
) -> CommunicationIdentifier | None:
    app_id = _str_field(props, "appId")
    cloud = _wire_cloud(props)
    if not app_id or cloud is None:
        return None
    identifier: CommunicationIdentifier = _build(
        MicrosoftTeamsAppIdentifier, _TEAMS_APP_SETTERS, app_id, cloud, raw_id, wire
    )
    return identifier


_FROM_WIRE: dict[str, Callable[[Mapping[str, Any], str | None, dict[str, Any]], CommunicationIdentifier | None]] = {
    "communicationUser": _user_from,
    "phoneNumber": _phone_from,
    "microsoftTeamsUser": _teams_user_from,
    "microsoftTeamsApp": _teams_app_from,
}


def identifier_from_wire(data: Mapping[str, Any]) -> CommunicationIdentifier:
    """Parse a ``CommunicationIdentifierModel`` dict; anything not understood becomes UnknownIdentifier(raw=data)."""
    return _structure_identifier(data, CommunicationIdentifier)


def _from_wire(data: Mapping[str, Any], copy: bool) -> CommunicationIdentifier:
    if type(data) is not dict:
        if isinstance(data, CommunicationIdentifier):
            return data
        if not isinstance(data, Mapping):
            raise TypeError(f"a communication identifier must be a JSON object, got {type(data).__name__}")
    raw_value = data.get("rawId")
    raw_id = raw_value if isinstance(raw_value, str) and raw_value else None
    kind = data.get("kind")
    key: str | None = None
    if kind is not None:
        key = kind if isinstance(kind, str) and kind in _FROM_WIRE else None
    else:  # no kind (API versions before 2025-03-15): exactly one kind's object tells it
        for candidate in _FROM_WIRE:
            if candidate in data:
                if key is not None:
                    key = None
                    break
                key = candidate
    # whatever the outcome, the identifier keeps the wire dict: a copy, unless it is ours to keep
    wire: dict[str, Any] = data if not copy and type(data) is dict else _copy_json(data)
    if key is not None:
        props = data.get(key)
        if type(props) is dict or isinstance(props, Mapping):
            parsed = _FROM_WIRE[key](props, raw_id, wire)
            if parsed is not None:
                return parsed
    unknown = _new(UnknownIdentifier)
    _UNKNOWN_IDENTIFIER(unknown, raw_id or "")
    _UNKNOWN_RAW(unknown, wire)
    return unknown


# -- the converter ----------------------------------------------------------------------------------------------


def _is_identifier_type(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, CommunicationIdentifier)


def _structure_hook(copy: bool) -> Callable[[Any, type[CommunicationIdentifier]], CommunicationIdentifier]:
    """The converter's hook (``copy``: the dict is the caller's) or the one for a decoded tree (kept, not copied).

    It reads the usual ACS user itself, as ``_from_wire`` would, in a third of the time (one per chat message).
    """

    def structure_identifier(data: Any, tp: type[CommunicationIdentifier]) -> CommunicationIdentifier:
        if type(data) is dict and (tp is CommunicationIdentifier or tp is CommunicationUserIdentifier):
            if [*data] == _USER_KEY_LIST:  # what the service sends for every message's sender: no lookups
                raw_value, user = data.values()
                if type(user) is dict and len(user) == 1 and type(raw_value) is str and raw_value:
                    user_id = user.get("id")
                    if type(user_id) is str and user_id:
                        identifier = _new(CommunicationUserIdentifier)
                        _USER_ID(identifier, user_id)
                        _USER_RAW_ID(identifier, raw_value)
                        _USER_WIRE(identifier, _Built.WITHOUT_KIND)
                        return identifier
            kind = data.get("kind")
            if kind == "communicationUser" or (
                kind is None
                and "phoneNumber" not in data
                and "microsoftTeamsUser" not in data
                and "microsoftTeamsApp" not in data
            ):
                props: Any = data.get("communicationUser")
                user_id = props.get("id") if type(props) is dict else None
                if type(user_id) is str and user_id:
                    raw_value = data.get("rawId")
                    identifier = _new(CommunicationUserIdentifier)
                    _USER_ID(identifier, user_id)
                    _USER_RAW_ID(identifier, raw_value if isinstance(raw_value, str) and raw_value else None)
                    if len(props) == 1 and type(raw_value) is str and raw_value:
                        keys = tuple(data)  # key order too: to_json must give back the same bytes
                        if keys == _USER_KEYS:
                            _USER_WIRE(identifier, _Built.WITHOUT_KIND)
                            return identifier
                        if keys == _USER_KEYS_WITH_KIND and type(kind) is str:
                            _USER_WIRE(identifier, _Built.WITH_KIND)
                            return identifier
                    _USER_WIRE(identifier, _copy_json(data) if copy else data)
                    return identifier
        parsed = _from_wire(data, copy)
        if not isinstance(parsed, tp):
            raise TypeError(f"expected a {tp.__name__}, got {type(parsed).__name__} ({parsed.raw_id!r})")
        return parsed

    return structure_identifier


_structure_identifier = _structure_hook(copy=True)
_structure_parsed_identifier = _structure_hook(copy=False)

serde.converter.register_structure_hook_func(_is_identifier_type, _structure_identifier)
serde.register_parsed_hook(_is_identifier_type, _structure_parsed_identifier)
serde.converter.register_unstructure_hook_func(_is_identifier_type, identifier_to_wire)
