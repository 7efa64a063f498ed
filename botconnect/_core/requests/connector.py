"""Bot Connector v3 request builders: one function per operation of ConnectorAPI.json / botframework-channel.json."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx

from ..deferred import DeferredModule
from ..operation import Operation
from ..paging import Page, page_parser
from ..responses import model_list_parser, model_parser, parse_none
from ..security import path_segment
from ._common import build_url, bytes_request, coerce_model

if TYPE_CHECKING:
    from ... import models
    from ...models import (
        Activity,
        AttachmentData,
        AttachmentInfo,
        ChannelAccount,
        ConversationMembers,
        ConversationParameters,
        ConversationResourceResponse,
        ResourceResponse,
        TeamsChannelAccount,
        Transcript,
    )
    from ...models._base import Model
else:
    # the models (and the converter they bring) load on the first call, not with the client: an import of
    # ConnectorClient skips ~25 ms of class building
    models = DeferredModule("botconnect.models", globals(), "models")

__all__ = [
    "build_create_conversation",
    "build_delete_activity",
    "build_delete_conversation_member",
    "build_get_activity_members",
    "build_get_attachment",
    "build_get_attachment_info",
    "build_get_conversation_member",
    "build_get_conversation_members",
    "build_get_conversation_paged_members",
    "build_get_conversations",
    "build_get_teams_conversation_paged_members",
    "build_reply_to_activity",
    "build_send_conversation_history",
    "build_send_to_conversation",
    "build_update_activity",
    "build_upload_attachment",
    "normalize_service_url",
]


_JSON_HEADERS = {"Accept": "application/json", "Content-Type": "application/json; charset=utf-8"}
_ACCEPT_JSON = {"Accept": "application/json"}
_CREATED = frozenset({200, 201, 202})


def normalize_service_url(service_url: str | httpx.URL) -> httpx.URL:
    """The channel's ``serviceUrl`` as a base URL (path kept, e.g. ``https://smba.trafficmanager.net/amer/``)."""
    if isinstance(service_url, str):
        return _parse_service_url(service_url)
    if not isinstance(service_url, httpx.URL):
        raise TypeError(f"service_url must be a str, got {type(service_url).__name__}")
    return _parse_service_url(str(service_url))


@functools.lru_cache(maxsize=1024)
def _parse_service_url(service_url: str) -> httpx.URL:
    # cached: a bot builds a client per incoming activity for one of a few service URLs, and parsing one was a
    # third of building the client; httpx.URL is immutable, so clients share it (errors are not cached)
    url = httpx.URL(service_url.strip())
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"service_url must be an absolute http(s) URL, got {str(service_url)!r}")
    if url.query or url.fragment:
        raise ValueError("service_url must not carry a query or fragment")
    return url


def _url(base: httpx.URL, path: str, query: Mapping[str, Any] | None = None) -> httpx.URL:
    return build_url(base, path, (query or {}).items())


_coerce = coerce_model


def _json_request(method: str, url: httpx.URL, body: Model) -> httpx.Request:
    return bytes_request(method, url, body.to_json(), _JSON_HEADERS)


def _conversation(conversation_id: str) -> str:
    return "/v3/conversations/" + path_segment(conversation_id, "conversation_id")


def build_create_conversation(
    base: httpx.URL, parameters: ConversationParameters
) -> Operation[ConversationResourceResponse]:
    params = _coerce(parameters, models.ConversationParameters, "parameters")
    return Operation(
        request=_json_request("POST", _url(base, "/v3/conversations"), params),
        parse=model_parser(models.ConversationResourceResponse, empty_ok=True),
        success=_CREATED,
    )


def build_send_to_conversation(
    base: httpx.URL, conversation_id: str, activity: Activity
) -> Operation[ResourceResponse]:
    path = _conversation(conversation_id) + "/activities"
    body = _coerce(activity, models.Activity, "activity")
    return Operation(
        request=_json_request("POST", _url(base, path), body),
        parse=model_parser(models.ResourceResponse, empty_ok=True),
        success=_CREATED,
    )


def build_send_conversation_history(
    base: httpx.URL, conversation_id: str, transcript: Transcript
) -> Operation[ResourceResponse]:
    path = _conversation(conversation_id) + "/activities/history"
    body = _coerce(transcript, models.Transcript, "transcript")
    return Operation(
        request=_json_request("POST", _url(base, path), body),
        parse=model_parser(models.ResourceResponse, empty_ok=True),
        success=_CREATED,
    )


def _activity_path(conversation_id: str, activity_id: str) -> str:
    return _conversation(conversation_id) + "/activities/" + path_segment(activity_id, "activity_id")


def build_reply_to_activity(
    base: httpx.URL, conversation_id: str, activity_id: str, activity: Activity
) -> Operation[ResourceResponse]:
    path = _activity_path(conversation_id, activity_id)
    body = _coerce(activity, models.Activity, "activity")
    return Operation(
        request=_json_request("POST", _url(base, path), body),
        parse=model_parser(models.ResourceResponse, empty_ok=True),
        success=_CREATED,
    )


def build_update_activity(
    base: httpx.URL, conversation_id: str, activity_id: str, activity: Activity
) -> Operation[ResourceResponse]:
    path = _activity_path(conversation_id, activity_id)
    body = _coerce(activity, models.Activity, "activity")
    return Operation(
        request=_json_request("PUT", _url(base, path), body),
        parse=model_parser(models.ResourceResponse, empty_ok=True),
        success=_CREATED,
        idempotent=True,
    )


def build_delete_activity(base: httpx.URL, conversation_id: str, activity_id: str) -> Operation[None]:
    path = _activity_path(conversation_id, activity_id)
    return Operation(
        request=httpx.Request("DELETE", _url(base, path), headers=_ACCEPT_JSON),
        parse=parse_none,
        success=frozenset({200, 202, 204}),
        idempotent=True,
    )


def build_get_conversation_members(base: httpx.URL, conversation_id: str) -> Operation[list[ChannelAccount]]:
    path = _conversation(conversation_id) + "/members"
    return Operation(
        request=httpx.Request("GET", _url(base, path), headers=_ACCEPT_JSON),
        parse=model_list_parser(models.ChannelAccount),
        idempotent=True,
    )


def _member_path(conversation_id: str, member_id: str) -> str:
    return _conversation(conversation_id) + "/members/" + path_segment(member_id, "member_id")


def build_get_conversation_member(base: httpx.URL, conversation_id: str, member_id: str) -> Operation[ChannelAccount]:
    return Operation(
        request=httpx.Request("GET", _url(base, _member_path(conversation_id, member_id)), headers=_ACCEPT_JSON),
        parse=model_parser(models.ChannelAccount),
        idempotent=True,
    )


def build_delete_conversation_member(base: httpx.URL, conversation_id: str, member_id: str) -> Operation[None]:
    return Operation(
        request=httpx.Request("DELETE", _url(base, _member_path(conversation_id, member_id)), headers=_ACCEPT_JSON),
        parse=parse_none,
        success=frozenset({200, 204}),
        idempotent=True,
    )


def build_get_activity_members(
    base: httpx.URL, conversation_id: str, activity_id: str
) -> Operation[list[ChannelAccount]]:
    path = _activity_path(conversation_id, activity_id) + "/members"
    return Operation(
        request=httpx.Request("GET", _url(base, path), headers=_ACCEPT_JSON),
        parse=model_list_parser(models.ChannelAccount),
        idempotent=True,
    )


def build_upload_attachment(
    base: httpx.URL, conversation_id: str, attachment_upload: AttachmentData
) -> Operation[ResourceResponse]:
    path = _conversation(conversation_id) + "/attachments"
    body = _coerce(attachment_upload, models.AttachmentData, "attachment_upload")
    return Operation(
        request=_json_request("POST", _url(base, path), body),
        parse=model_parser(models.ResourceResponse, empty_ok=True),
        success=_CREATED,
    )


# -- paged --------------------------------------------------------------------------------------------------


def _check_page_size(page_size: int | None) -> int | None:
    if page_size is None:
        return None
    if isinstance(page_size, bool) or not isinstance(page_size, int):
        raise TypeError(f"page_size must be an int, got {type(page_size).__name__}")
    if page_size < 1:
        raise ValueError("page_size must be at least 1")
    return page_size


def _check_token(token: str | None) -> str | None:
    if token is not None and not isinstance(token, str):
        raise TypeError(f"continuation_token must be a str, got {type(token).__name__}")
    return token or None


def build_get_conversations(base: httpx.URL, continuation_token: str | None) -> Operation[Page[ConversationMembers]]:
    token = _check_token(continuation_token)
    parse = page_parser(
        models.ConversationsResult, lambda result: Page(result.conversations or [], result.continuation_token)
    )

    return Operation(
        request=httpx.Request(
            "GET", _url(base, "/v3/conversations", {"continuationToken": token}), headers=_ACCEPT_JSON
        ),
        parse=parse,
        idempotent=True,
    )


def _paged_members_request(
    base: httpx.URL, conversation_id: str, page_size: int | None, continuation_token: str | None
) -> httpx.Request:
    path = _conversation(conversation_id) + "/pagedmembers"
    query = {"pageSize": _check_page_size(page_size), "continuationToken": _check_token(continuation_token)}
    return httpx.Request("GET", _url(base, path, query), headers=_ACCEPT_JSON)


def build_get_conversation_paged_members(
    base: httpx.URL, conversation_id: str, page_size: int | None, continuation_token: str | None
) -> Operation[Page[ChannelAccount]]:
    request = _paged_members_request(base, conversation_id, page_size, continuation_token)
    parse = page_parser(models.PagedMembersResult, lambda result: Page(result.members or [], result.continuation_token))
    return Operation(request=request, parse=parse, idempotent=True)


def build_get_teams_conversation_paged_members(
    base: httpx.URL, conversation_id: str, page_size: int | None, continuation_token: str | None
) -> Operation[Page[TeamsChannelAccount]]:
    request = _paged_members_request(base, conversation_id, page_size, continuation_token)
    parse = page_parser(
        models.TeamsPagedMembersResult, lambda result: Page(result.members or [], result.continuation_token)
    )
    return Operation(request=request, parse=parse, idempotent=True)


# -- attachments --------------------------------------------------------------------------------------------


def _attachment_path(attachment_id: str) -> str:
    return "/v3/attachments/" + path_segment(attachment_id, "attachment_id")


def build_get_attachment_info(base: httpx.URL, attachment_id: str) -> Operation[AttachmentInfo]:
    return Operation(
        request=httpx.Request("GET", _url(base, _attachment_path(attachment_id)), headers=_ACCEPT_JSON),
        parse=model_parser(models.AttachmentInfo),
        idempotent=True,
    )


def build_get_attachment(base: httpx.URL, attachment_id: str, view_id: str) -> Operation[httpx.Response]:
    """The response is returned unread: the façade streams its bytes. Redirects (301/302) are followed."""
    path = _attachment_path(attachment_id) + "/views/" + path_segment(view_id, "view_id")
    return Operation(
        request=httpx.Request("GET", _url(base, path), headers={"Accept": "*/*"}),
        parse=_identity,
        idempotent=True,
        stream=True,
        follow_redirects=True,
    )


def _identity(response: httpx.Response) -> httpx.Response:
    return response
