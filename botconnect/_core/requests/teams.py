"""Microsoft Teams Connector request builders: teams, channels, meetings, meeting notifications, batch messaging
and message reactions, on the activity's ``serviceUrl`` with the usual Bot Framework token.

There is no Swagger for these: the paths, bodies and statuses are those the Teams service documents and
Microsoft's SDKs send (C#, JavaScript, Agents, teams.py). Ids go into paths percent-encoded: meeting ids are
base64 and hold ``/``, ``+`` and ``=``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import attrs
import httpx

from ...errors import DeserializationError
from ...models import Activity, ChannelAccount
from ...models._base import Model
from ...models.enums import MessageReactionTypes
from ...models.teams import (
    BatchFailedEntriesResponse,
    BatchFailedEntry,
    BatchOperationState,
    ChannelInfo,
    ConversationList,
    MeetingInfo,
    MeetingNotificationResponse,
    TargetedMeetingNotification,
    TeamDetails,
    TeamMember,
    TeamsMeetingParticipant,
)
from .. import serde
from ..operation import Operation
from ..paging import Page
from ..responses import parse_json, parse_none
from ..security import path_segment
from ._common import build_url, bytes_request, coerce_model

__all__ = [
    "build_add_reaction",
    "build_cancel_operation",
    "build_get_failed_entries",
    "build_get_meeting_info",
    "build_get_meeting_participant",
    "build_get_operation_state",
    "build_get_team_details",
    "build_get_teams_channels",
    "build_remove_reaction",
    "build_send_meeting_notification",
    "build_send_message_to_all_users_in_team",
    "build_send_message_to_all_users_in_tenant",
    "build_send_message_to_list_of_channels",
    "build_send_message_to_list_of_users",
]

M = TypeVar("M", bound=Model)

_JSON_HEADERS = {"Accept": "application/json", "Content-Type": "application/json; charset=utf-8"}
_ACCEPT_JSON = {"Accept": "application/json"}
_CREATED = frozenset({200, 201, 202})
_NO_CONTENT = frozenset({200, 202, 204})


def _alias_parser(cls: type[M]) -> Callable[[httpx.Response], M]:
    """Like ``model_parser``, through ``from_dict``: the Teams models accept other SDKs' spellings there."""

    def parse(response: httpx.Response) -> M:
        data = parse_json(response)
        try:
            return cls.from_dict(data)
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise DeserializationError(
                f"response body is not a valid {cls.__name__}: {exc}", response=response
            ) from exc

    return parse


def _get(base: httpx.URL, path: str, query: Iterable[tuple[str, Any]] = ()) -> httpx.Request:
    return httpx.Request("GET", build_url(base, path, query), headers=_ACCEPT_JSON)


def _post(base: httpx.URL, path: str, body: Any) -> httpx.Request:
    return bytes_request("POST", build_url(base, path), serde.dumps(body), _JSON_HEADERS)


def _required_str(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{name} must not be empty")
    return value


# -- teams and channels -------------------------------------------------------------------------------------


def _team(team_id: str) -> str:
    return "/v3/teams/" + path_segment(team_id, "team_id")


_parse_team_details = _alias_parser(TeamDetails)
_parse_conversation_list = _alias_parser(ConversationList)
_parse_meeting_info = _alias_parser(MeetingInfo)
_parse_participant = _alias_parser(TeamsMeetingParticipant)
_parse_notification_response = _alias_parser(MeetingNotificationResponse)
_parse_operation_state = _alias_parser(BatchOperationState)
_parse_failed_entries = _alias_parser(BatchFailedEntriesResponse)


def build_get_team_details(base: httpx.URL, team_id: str) -> Operation[TeamDetails]:
    return Operation(request=_get(base, _team(team_id)), parse=_parse_team_details, idempotent=True)


def _channels(response: httpx.Response) -> list[ChannelInfo]:
    return _parse_conversation_list(response).conversations or []


def build_get_teams_channels(base: httpx.URL, team_id: str) -> Operation[list[ChannelInfo]]:
    return Operation(request=_get(base, _team(team_id) + "/conversations"), parse=_channels, idempotent=True)


# -- meetings -----------------------------------------------------------------------------------------------


def _meeting(meeting_id: str) -> str:
    return "/v1/meetings/" + path_segment(meeting_id, "meeting_id")


def build_get_meeting_info(base: httpx.URL, meeting_id: str) -> Operation[MeetingInfo]:
    return Operation(request=_get(base, _meeting(meeting_id)), parse=_parse_meeting_info, idempotent=True)


def build_get_meeting_participant(
    base: httpx.URL, meeting_id: str, participant_id: str, tenant_id: str
) -> Operation[TeamsMeetingParticipant]:
    path = _meeting(meeting_id) + "/participants/" + path_segment(participant_id, "participant_id")
    query = [("tenantId", _required_str(tenant_id, "tenant_id"))]  # without it the service answers 404
    return Operation(request=_get(base, path, query), parse=_parse_participant, idempotent=True)


def _notification_body(notification: TargetedMeetingNotification | Mapping[str, Any]) -> TargetedMeetingNotification:
    raw_value = notification.get("value") if isinstance(notification, Mapping) else None
    if isinstance(raw_value, Mapping) and isinstance(raw_value.get("recipients"), str):
        raise TypeError("value.recipients must be a list of ids, not a single str")  # parsing would split it up
    body = coerce_model(notification, TargetedMeetingNotification, "notification")
    value = body.value
    if value is not None and value.recipients is not None and not isinstance(value.recipients, list):
        raise TypeError("value.recipients must be a list of ids")
    if value is None or not value.recipients:
        raise ValueError("a meeting notification needs at least one recipient (value.recipients)")
    if any(not isinstance(r, str) for r in value.recipients):
        raise TypeError("value.recipients must be str ids")
    if not all(value.recipients):
        raise ValueError("value.recipients must not hold empty ids")
    if not value.surfaces:
        raise ValueError("a meeting notification needs at least one surface (value.surfaces)")
    if body.type is None:  # the service routes on it; the caller's object is left as it was
        body = attrs.evolve(body, type=TargetedMeetingNotification.TYPE)
    return body


def _notification_result(response: httpx.Response) -> MeetingNotificationResponse | None:
    # 202 with no body: every recipient was notified; 207: the body lists those who were not
    if not response.content.strip():
        return None
    return _parse_notification_response(response)


def build_send_meeting_notification(
    base: httpx.URL, meeting_id: str, notification: TargetedMeetingNotification | Mapping[str, Any]
) -> Operation[MeetingNotificationResponse | None]:
    path = _meeting(meeting_id) + "/notification"
    body = _notification_body(notification)
    return Operation(
        request=bytes_request("POST", build_url(base, path), body.to_json(), _JSON_HEADERS),
        parse=_notification_result,
        success=frozenset({200, 201, 202, 207}),
    )


# -- batch messaging ----------------------------------------------------------------------------------------

_BATCH = "/v3/batch/conversation"


def _member_id(member: Any, index: int, what: str) -> str:
    if isinstance(member, str):
        member_id: Any = member
    elif isinstance(member, TeamMember | ChannelAccount | ChannelInfo):
        member_id = member.id
    elif isinstance(member, Mapping):
        member_id = member.get("id")
    else:
        raise TypeError(f"{what}[{index}] must be an id, a TeamMember or an account, got {type(member).__name__}")
    if not isinstance(member_id, str) or not member_id:
        raise ValueError(f"{what}[{index}] has no id")
    return member_id


def _members(members: Iterable[Any], what: str) -> list[dict[str, str]]:
    if isinstance(members, str | bytes | Mapping) or not isinstance(members, Iterable):
        raise TypeError(f"{what} must be an iterable of ids or members, got {type(members).__name__}")
    ids = [{"id": _member_id(member, i, what)} for i, member in enumerate(members)]
    if not ids:
        raise ValueError(f"{what} must not be empty")
    return ids


def _activity(activity: Activity | Mapping[str, Any]) -> dict[str, Any]:
    return coerce_model(activity, Activity, "activity").to_dict()


def _operation_id(response: httpx.Response) -> str:
    data = parse_json(response)
    operation_id = data.get("operationId") if isinstance(data, Mapping) else data  # a bare JSON string is the id
    if not isinstance(operation_id, str) or not operation_id:
        raise DeserializationError("the batch response carries no operationId", response=response)
    return operation_id


def _batch(base: httpx.URL, target: str, body: dict[str, Any]) -> Operation[str]:
    # Not idempotent: retried only when the service certainly did not act (429 above all: batch sends are throttled)
    return Operation(request=_post(base, f"{_BATCH}/{target}", body), parse=_operation_id, success=_CREATED)


def build_send_message_to_list_of_users(
    base: httpx.URL, activity: Activity | Mapping[str, Any], members: Iterable[Any], tenant_id: str
) -> Operation[str]:
    body = {
        "activity": _activity(activity),
        "members": _members(members, "members"),
        "tenantId": _required_str(tenant_id, "tenant_id"),
    }
    return _batch(base, "users", body)


def build_send_message_to_all_users_in_tenant(
    base: httpx.URL, activity: Activity | Mapping[str, Any], tenant_id: str
) -> Operation[str]:
    body = {"activity": _activity(activity), "tenantId": _required_str(tenant_id, "tenant_id")}
    return _batch(base, "tenant", body)


def build_send_message_to_all_users_in_team(
    base: httpx.URL, activity: Activity | Mapping[str, Any], team_id: str, tenant_id: str
) -> Operation[str]:
    body = {
        "activity": _activity(activity),
        "teamId": _required_str(team_id, "team_id"),
        "tenantId": _required_str(tenant_id, "tenant_id"),
    }
    return _batch(base, "team", body)


def build_send_message_to_list_of_channels(
    base: httpx.URL, activity: Activity | Mapping[str, Any], channels: Iterable[Any], tenant_id: str
) -> Operation[str]:
    body = {
        "activity": _activity(activity),
        "members": _members(channels, "channels"),
        "tenantId": _required_str(tenant_id, "tenant_id"),
    }
    return _batch(base, "channels", body)


def _batch_operation(operation_id: str) -> str:
    return f"{_BATCH}/" + path_segment(operation_id, "operation_id")


def build_get_operation_state(base: httpx.URL, operation_id: str) -> Operation[BatchOperationState]:
    return Operation(request=_get(base, _batch_operation(operation_id)), parse=_parse_operation_state, idempotent=True)


def _failed_page(response: httpx.Response) -> Page[BatchFailedEntry]:
    result = _parse_failed_entries(response)
    return Page(result.failed_entry_responses or [], result.continuation_token)


def build_get_failed_entries(
    base: httpx.URL, operation_id: str, continuation_token: str | None
) -> Operation[Page[BatchFailedEntry]]:
    if continuation_token is not None and not isinstance(continuation_token, str):
        raise TypeError(f"continuation_token must be a str, got {type(continuation_token).__name__}")
    path = f"{_BATCH}/failedentries/" + path_segment(operation_id, "operation_id")
    query = [("continuationToken", continuation_token or None)]
    return Operation(request=_get(base, path, query), parse=_failed_page, idempotent=True)


def build_cancel_operation(base: httpx.URL, operation_id: str) -> Operation[None]:
    request = httpx.Request("DELETE", build_url(base, _batch_operation(operation_id)), headers=_ACCEPT_JSON)
    return Operation(request=request, parse=parse_none, success=_NO_CONTENT, idempotent=True)


# -- reactions ----------------------------------------------------------------------------------------------


def _reaction_path(conversation_id: str, activity_id: str, reaction_type: MessageReactionTypes | str) -> str:
    if isinstance(reaction_type, MessageReactionTypes):
        reaction_type = reaction_type.value
    return (
        "/v3/conversations/"
        + path_segment(conversation_id, "conversation_id")
        + "/activities/"
        + path_segment(activity_id, "activity_id")
        + "/reactions/"
        + path_segment(reaction_type, "reaction_type")
    )


def _reaction(
    method: str, base: httpx.URL, conversation_id: str, activity_id: str, reaction_type: MessageReactionTypes | str
) -> Operation[None]:
    url = build_url(base, _reaction_path(conversation_id, activity_id, reaction_type))
    request = httpx.Request(method, url, headers=_ACCEPT_JSON)
    return Operation(request=request, parse=parse_none, success=frozenset({200, 201, 202, 204}), idempotent=True)


def build_add_reaction(
    base: httpx.URL, conversation_id: str, activity_id: str, reaction_type: MessageReactionTypes | str
) -> Operation[None]:
    return _reaction("PUT", base, conversation_id, activity_id, reaction_type)


def build_remove_reaction(
    base: httpx.URL, conversation_id: str, activity_id: str, reaction_type: MessageReactionTypes | str
) -> Operation[None]:
    return _reaction("DELETE", base, conversation_id, activity_id, reaction_type)
