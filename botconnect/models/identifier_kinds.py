"""The kinds of Azure Communication Services identifiers and their Azure SDK shapes: ``CommunicationIdentifierKind``,
``CommunicationCloudEnvironment``, the ``*Properties`` typed dicts and the identifier-shaped protocol (re-exported by
:mod:`botconnect.models.identifiers`)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, Protocol, TypedDict, runtime_checkable

__all__ = [
    "CommunicationCloudEnvironment",
    "CommunicationIdentifierKind",
    "CommunicationIdentifierLike",
    "CommunicationUserProperties",
    "MicrosoftTeamsAppProperties",
    "MicrosoftTeamsUserProperties",
    "PhoneNumberProperties",
]


class CommunicationIdentifierKind(enum.StrEnum):
    """The kind of an identifier (the Azure SDK's values; the wire ``kind`` is the camelCase form)."""

    UNKNOWN = "unknown"
    COMMUNICATION_USER = "communication_user"
    PHONE_NUMBER = "phone_number"
    MICROSOFT_TEAMS_USER = "microsoft_teams_user"
    MICROSOFT_TEAMS_APP = "microsoft_teams_app"


class CommunicationCloudEnvironment(enum.StrEnum):
    """The cloud a Teams user or app belongs to, with the Azure SDK's values (``"PUBLIC"``, ``"DOD"``, ``"GCCH"``).

    Looked up case-insensitively, as the Azure SDK's enum is: ``CommunicationCloudEnvironment("public")`` is
    ``PUBLIC``. The wire carries the lowercase form (``"cloud": "public"``).
    """

    PUBLIC = "PUBLIC"
    DOD = "DOD"
    GCCH = "GCCH"

    @classmethod
    def _missing_(cls, value: object) -> CommunicationCloudEnvironment | None:
        if isinstance(value, str):
            upper = value.upper()
            for member in cls:
                if member.value == upper:
                    return member
        return None

    @property
    def wire_value(self) -> str:
        """The form the service sends and expects (``"public"``, ``"dod"``, ``"gcch"``)."""
        return self.value.lower()


class CommunicationUserProperties(TypedDict):
    """``CommunicationUserIdentifier.properties``: the user's id as the identity service gave it."""

    id: str


class PhoneNumberProperties(TypedDict):
    """``PhoneNumberIdentifier.properties``: the number, usually E.164."""

    value: str


class MicrosoftTeamsUserProperties(TypedDict):
    """``MicrosoftTeamsUserIdentifier.properties``."""

    user_id: str
    is_anonymous: bool
    cloud: CommunicationCloudEnvironment | str


class MicrosoftTeamsAppProperties(TypedDict):
    """``MicrosoftTeamsAppIdentifier.properties``."""

    app_id: str
    cloud: CommunicationCloudEnvironment | str


@runtime_checkable
class CommunicationIdentifierLike(Protocol):
    """Anything shaped like an identifier: ``raw_id``, ``kind`` and ``properties``.

    The Azure SDKs' identifiers (``azure.communication.identity.CommunicationUserIdentifier`` from
    ``CommunicationIdentityClient.create_user()``, ...) are such objects; every method taking an identifier
    accepts them and converts them with :func:`as_identifier`.
    """

    @property
    def raw_id(self) -> str:
        """The raw id, as ACS writes it (``8:acs:...``)."""

    @property
    def kind(self) -> Any:
        """The identifier's kind (``communicationUser``, ``phoneNumber``...), an enum or its string value."""

    @property
    def properties(self) -> Mapping[str, Any]:
        """The kind's own fields (``id``, ``value``, ``user_id``...)."""
