"""ACS Chat request builders: one function per operation of ``communicationserviceschat.json``.

Every request carries ``api-version`` (default 2025-03-15; 2024-03-07 and other versions are accepted). Thread and
message ids are percent-encoded path segments (``19:abc@thread.v2`` -> ``19%3Aabc%40thread.v2``); the literal
``participants/:add`` and ``participants/:remove`` segments keep their colons. Paged operations follow the
service's ``nextLink`` (the continuation token), refusing one on another origin.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import attrs
import httpx

from ...models.chat import (
    AddChatParticipantsResult,
    ChatError,
    ChatMessage,
    ChatMessageReadReceipt,
    ChatMessageReadReceiptsCollection,
    ChatMessagesCollection,
    ChatMessageType,
    ChatParticipant,
    ChatParticipantsCollection,
    ChatRetentionPolicy,
    ChatThreadItem,
    ChatThreadProperties,
    ChatThreadsItemCollection,
    CreateChatThreadResult,
    SendChatMessageResult,
)
from ...models.identifiers import (
    CommunicationIdentifier,
    CommunicationIdentifierLike,
    as_identifier,
    identifier_from_raw_id,
    identifier_to_wire,
)
from .. import serde
from ..azure_compat import ClientOptions, client_options
from ..operation import Operation
from ..paging import Page, page_parser, resolve_next_link
from ..pipeline import CallConfig
from ..responses import model_parser, parse_none
from ..security import HostAllowList, ensure_safe_for_credentials, path_segment
from ._common import build_url, bytes_request, coerce_model

__all__ = [
    "API_VERSION_2024_03_07",
    "API_VERSION_2025_03_15",
    "DEFAULT_API_VERSION",
    "ChatContext",
    "build_add_participants",
    "build_create_chat_thread",
    "build_delete_chat_thread",
    "build_delete_message",
    "build_get_message",
    "build_get_properties",
    "build_list_chat_threads",
    "build_list_messages",
    "build_list_participants",
    "build_list_read_receipts",
    "build_remove_participant",
    "build_send_message",
    "build_send_read_receipt",
    "build_send_typing_notification",
    "build_update_message",
    "build_update_properties",
    "build_update_topic",
    "chat_client_setup",
    "chat_config",
    "chat_context",
    "pair_failures",
]

API_VERSION_2024_03_07 = "2024-03-07"
API_VERSION_2025_03_15 = "2025-03-15"
DEFAULT_API_VERSION = API_VERSION_2025_03_15


_ACCEPT = {"Accept": "application/json"}
_JSON = {"Accept": "application/json", "Content-Type": "application/json"}
_MERGE_PATCH = {"Accept": "application/json", "Content-Type": "application/merge-patch+json"}
_NO_CONTENT = frozenset({204})
_OK = frozenset({200})
_CREATED = frozenset({201})


@attrs.frozen
class ChatContext:
    """Where a chat client sends requests, and with which API version."""

    endpoint: httpx.URL
    api_version: str

    @property
    def sends_identifier_kind(self) -> bool:
        """Whether identifiers carry ``kind`` (2025-03-15 on; older clients sent ``rawId`` + the kind's object)."""
        return self.api_version >= API_VERSION_2025_03_15

    def require(self, feature: str) -> None:
        """Refuse (before sending) a field the chosen API version does not have, rather than let it be dropped."""
        if self.api_version < API_VERSION_2025_03_15:
            raise ValueError(
                f"{feature} needs api_version {API_VERSION_2025_03_15} or later (client: {self.api_version})"
            )


def chat_context(endpoint: str | httpx.URL, api_version: str) -> ChatContext:
    """Validate the endpoint (an absolute http(s) URL, no query) and the API version.

    An endpoint without a scheme (``contoso.communication.azure.com``) gets ``https://``, as the Azure SDK does.
    """
    if not isinstance(endpoint, str | httpx.URL):
        raise TypeError(f"endpoint must be a str, got {type(endpoint).__name__}")
    text = str(endpoint).strip()
    if text and "://" not in text:
        text = "https://" + text
    url = httpx.URL(text)
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"endpoint must be an absolute http(s) URL, got {str(endpoint)!r}")
    if url.query or url.fragment:
        raise ValueError("endpoint must not carry a query or fragment")
    if not isinstance(api_version, str) or not api_version.strip():
        raise TypeError("api_version must be a non-empty str such as '2025-03-15'")
    return ChatContext(url, api_version.strip())


def chat_config(context: ChatContext, credential: Any, options: ClientOptions) -> CallConfig:
    """Call settings of a chat client: the token goes to the endpoint's own host only, over https (or loopback)."""
    if credential is None or not callable(getattr(credential, "get_token", None)):
        raise TypeError("credential must have a get_token() method (e.g. CommunicationTokenCredential)")
    allow = HostAllowList.of([context.endpoint.host])
    ensure_safe_for_credentials(context.endpoint, allow)
    return CallConfig(
        user_agent=options.user_agent,
        timeout=options.timeout,
        retry_policy=options.retry_policy,
        scopes=(),
        trusted_hosts=allow,
    )


def chat_client_setup(
    endpoint: str,
    credential: Any,
    api_version: str,
    kwargs: Mapping[str, Any],
    *,
    where: str,
    timeout: float | httpx.Timeout | None,
    retry_policy: Any,
    user_agent: str | None,
    transport: Any,
    transport_type: type[Any],
    http_client: Any = None,
    make_transport: Callable[..., Any] | None = None,
) -> tuple[ChatContext, CallConfig, ClientOptions]:
    """Everything a chat client's constructor decides: where it sends, its call settings, and its azure-core
    keyword arguments (``kwargs``, see :mod:`botconnect._core.azure_compat`)."""
    context = chat_context(endpoint, api_version)
    options = client_options(
        kwargs,
        where=where,
        timeout=timeout,
        retry_policy=retry_policy,
        user_agent=user_agent,
        transport=transport,
        transport_type=transport_type,
        http_client=http_client,
        make_transport=make_transport,
    )
    return context, chat_config(context, credential, options), options


# -- URLs and bodies --------------------------------------------------------------------------------------------


def _url(ctx: ChatContext, path: str, query: Sequence[tuple[str, Any]] = ()) -> httpx.URL:
    return build_url(ctx.endpoint, path, [*query, ("api-version", ctx.api_version)])


def _thread(thread_id: str) -> str:
    return "/chat/threads/" + path_segment(thread_id, "thread_id")


def _message(thread_id: str, message_id: str) -> str:
    return _thread(thread_id) + "/messages/" + path_segment(message_id, "message_id")


def _request(method: str, url: httpx.URL, body: Any = None, headers: Mapping[str, str] = _ACCEPT) -> httpx.Request:
    if body is None:
        return httpx.Request(method, url, headers=dict(headers))
    return bytes_request(method, url, serde.dumps(body), headers)


def _str(value: Any, name: str, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    if not value:
        raise ValueError(f"{name} must not be empty")
    return value


def _metadata(ctx: ChatContext, value: Any, name: str, *, since_2025: bool) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise TypeError(f"{name} must be a mapping of str to str")
    if since_2025:
        ctx.require(name)
    return dict(value)


_coerce = coerce_model


def _identifier(ctx: ChatContext, identifier: Any, name: str) -> dict[str, Any]:
    """The wire form of one of our identifiers or of an identifier-shaped one (an Azure SDK's), by raw id."""
    return identifier_to_wire(as_identifier(identifier, name), include_kind=ctx.sends_identifier_kind)


def _participants(ctx: ChatContext, participants: Any, name: str) -> list[ChatParticipant]:
    if isinstance(participants, ChatParticipant | Mapping | str) or not isinstance(participants, Iterable):
        raise TypeError(f"{name} must be a list of ChatParticipant")
    result = [_coerce(p, ChatParticipant, f"{name}[{i}]") for i, p in enumerate(participants)]
    for i, participant in enumerate(result):
        if participant.identifier is None:
            raise ValueError(f"{name}[{i}] has no identifier")
        if participant.metadata is not None:
            ctx.require(f"{name}[{i}].metadata")
    return result


def _participant_wire(ctx: ChatContext, participant: ChatParticipant) -> dict[str, Any]:
    body = participant.to_dict()
    body["communicationIdentifier"] = _identifier(ctx, participant.identifier, "participant.identifier")
    return body


def _retention(ctx: ChatContext, policy: Any) -> dict[str, Any] | None:
    if policy is None:
        return None
    ctx.require("retention_policy")
    return _coerce(policy, ChatRetentionPolicy, "retention_policy").to_dict()


def _int(value: Any, name: str, minimum: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}")
    return value


def _timestamp(value: Any, name: str) -> str | None:
    """ISO 8601 in UTC with ``Z``; a naive datetime is taken as UTC (as the Azure SDK does)."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return utc.isoformat().replace("+00:00", "Z")


def pair_failures(
    participants: Sequence[ChatParticipant], errors: Sequence[ChatError] | None
) -> list[tuple[ChatParticipant, ChatError]]:
    """Each failed participant with its error, matched by the error's ``target`` (the participant's raw id, or
    the kind's own id as the Azure SDK matched it). An error no sent participant matches gets a participant
    built from its target."""
    by_key: dict[str, ChatParticipant] = {}
    for participant in participants:
        identifier = participant.identifier
        if identifier is None:
            continue
        by_key.setdefault(identifier.raw_id, participant)
        for value in identifier.properties.values():
            if isinstance(value, str):
                by_key.setdefault(value, participant)
    failures: list[tuple[ChatParticipant, ChatError]] = []
    for error in errors or ():
        target = error.target
        matched = by_key.get(target) if target else None
        if matched is None:
            matched = ChatParticipant(identifier=identifier_from_raw_id(target) if target else None)
        failures.append((matched, error))
    return failures


# -- paging -----------------------------------------------------------------------------------------------------


def _next_link_url(ctx: ChatContext, link: str) -> httpx.URL:
    if not isinstance(link, str) or not link:
        raise TypeError("continuation_token must be the non-empty nextLink string of a previous page")
    url = resolve_next_link(ctx.endpoint, link)
    if "api-version" in url.params:
        return url
    text = str(url)
    return httpx.URL(text + ("&" if url.query else "?") + urlencode({"api-version": ctx.api_version}))


def _as_served(message: ChatMessage) -> ChatMessage:
    """A message as the service's client gives it: the Azure SDK fills a message's missing content
    ``participants`` and ``attachments`` with ``[]`` (code written for it iterates them unguarded)."""
    content = message.content
    if content is not None:
        if content.participants is None:
            content.participants = []
        if content.attachments is None:
            content.attachments = []
    return message


def _all_served(messages: list[ChatMessage] | None) -> list[ChatMessage]:
    served = messages or []
    for message in served:  # inline: once per message of every page
        content = message.content
        if content is not None:
            if content.participants is None:
                content.participants = []
            if content.attachments is None:
                content.attachments = []
    return served


def _items(result: Any) -> list[Any]:
    return result.value or []


def _paged(
    ctx: ChatContext,
    path: str,
    query: Sequence[tuple[str, Any]],
    token: str | None,
    collection: type[Any],
    items: Callable[[Any], list[Any]],
) -> Operation[Page[Any]]:
    url = _url(ctx, path, query) if token is None else _next_link_url(ctx, token)
    parse = page_parser(collection, lambda result: Page(items(result), result.next_link))
    return Operation(request=_request("GET", url), parse=parse, success=_OK, idempotent=True)


def _page_factory(
    ctx: ChatContext,
    path: str,
    query: Sequence[tuple[str, Any]],
    collection: type[Any],
    items: Callable[[Any], list[Any]] = _items,
) -> Callable[[str | None], Operation[Page[Any]]]:
    def factory(token: str | None) -> Operation[Page[Any]]:
        return _paged(ctx, path, query, token, collection, items)

    return factory


def build_list_chat_threads(
    ctx: ChatContext, results_per_page: int | None, start_time: datetime | None
) -> Callable[[str | None], Operation[Page[ChatThreadItem]]]:
    query = [
        ("maxPageSize", _int(results_per_page, "results_per_page", 1)),
        ("startTime", _timestamp(start_time, "start_time")),
    ]
    return _page_factory(ctx, "/chat/threads", query, ChatThreadsItemCollection)


def build_list_messages(
    ctx: ChatContext, thread_id: str, results_per_page: int | None, start_time: datetime | None
) -> Callable[[str | None], Operation[Page[ChatMessage]]]:
    query = [
        ("maxPageSize", _int(results_per_page, "results_per_page", 1)),
        ("startTime", _timestamp(start_time, "start_time")),
    ]
    return _page_factory(
        ctx, _thread(thread_id) + "/messages", query, ChatMessagesCollection, lambda result: _all_served(result.value)
    )


def build_list_participants(
    ctx: ChatContext, thread_id: str, results_per_page: int | None, skip: int | None
) -> Callable[[str | None], Operation[Page[ChatParticipant]]]:
    query = [("maxPageSize", _int(results_per_page, "results_per_page", 1)), ("skip", _int(skip, "skip", 0))]
    return _page_factory(ctx, _thread(thread_id) + "/participants", query, ChatParticipantsCollection)


def build_list_read_receipts(
    ctx: ChatContext, thread_id: str, results_per_page: int | None, skip: int | None
) -> Callable[[str | None], Operation[Page[ChatMessageReadReceipt]]]:
    query = [("maxPageSize", _int(results_per_page, "results_per_page", 1)), ("skip", _int(skip, "skip", 0))]
    return _page_factory(ctx, _thread(thread_id) + "/readReceipts", query, ChatMessageReadReceiptsCollection)


# -- threads ----------------------------------------------------------------------------------------------------


def build_create_chat_thread(
    ctx: ChatContext,
    topic: str,
    *,
    thread_participants: Any = None,
    idempotency_token: str | None = None,
    metadata: Mapping[str, str] | None = None,
    retention_policy: ChatRetentionPolicy | None = None,
) -> Operation[CreateChatThreadResult]:
    """``POST /chat/threads`` with a ``repeatability-request-id`` decided once, so every retry repeats it."""
    body: dict[str, Any] = {"topic": _str(topic, "topic")}
    participants = [] if thread_participants is None else _participants(ctx, thread_participants, "thread_participants")
    if thread_participants is not None:
        body["participants"] = [_participant_wire(ctx, p) for p in participants]
    thread_metadata = _metadata(ctx, metadata, "metadata", since_2025=True)
    if thread_metadata is not None:
        body["metadata"] = thread_metadata
    policy = _retention(ctx, retention_policy)
    if policy is not None:
        body["retentionPolicy"] = policy
    request_id = _str(idempotency_token, "idempotency_token", optional=True) or str(uuid.uuid4())
    parse_result = model_parser(CreateChatThreadResult)

    def parse(response: httpx.Response) -> CreateChatThreadResult:
        result = parse_result(response)
        result.errors = pair_failures(participants, result.invalid_participants)
        return result

    return Operation(
        request=_request("POST", _url(ctx, "/chat/threads"), body, {**_JSON, "repeatability-request-id": request_id}),
        parse=parse,
        success=_CREATED,
        idempotent=True,
    )


def build_delete_chat_thread(ctx: ChatContext, thread_id: str) -> Operation[None]:
    return Operation(
        request=_request("DELETE", _url(ctx, _thread(thread_id))),
        parse=parse_none,
        success=_NO_CONTENT,
        idempotent=True,
    )


def build_get_properties(ctx: ChatContext, thread_id: str) -> Operation[ChatThreadProperties]:
    return Operation(
        request=_request("GET", _url(ctx, _thread(thread_id))),
        parse=model_parser(ChatThreadProperties),
        success=_OK,
        idempotent=True,
    )


def build_update_topic(ctx: ChatContext, thread_id: str, topic: str | None) -> Operation[None]:
    """``PATCH`` the topic; ``topic=None`` sends ``{}``, which succeeds and changes nothing (the Azure SDK's
    ``update_topic()`` without a topic)."""
    body = {} if topic is None else {"topic": _str(topic, "topic")}
    return Operation(
        request=_request("PATCH", _url(ctx, _thread(thread_id)), body, _MERGE_PATCH),
        parse=parse_none,
        success=_NO_CONTENT,
    )


def build_update_properties(
    ctx: ChatContext,
    thread_id: str,
    *,
    topic: str | None = None,
    metadata: Mapping[str, str] | None = None,
    retention_policy: ChatRetentionPolicy | None = None,
) -> Operation[None]:
    """``PATCH`` (merge-patch) the thread: only the given fields change."""
    body: dict[str, Any] = {}
    if topic is not None:
        body["topic"] = _str(topic, "topic")
    thread_metadata = _metadata(ctx, metadata, "metadata", since_2025=True)
    if thread_metadata is not None:
        body["metadata"] = thread_metadata
    policy = _retention(ctx, retention_policy)
    if policy is not None:
        body["retentionPolicy"] = policy
    if not body:
        raise ValueError("nothing to update: give topic, metadata or retention_policy")
    return Operation(
        request=_request("PATCH", _url(ctx, _thread(thread_id)), body, _MERGE_PATCH),
        parse=parse_none,
        success=_NO_CONTENT,
    )


# -- messages ---------------------------------------------------------------------------------------------------

_SENDABLE_TYPES = (ChatMessageType.TEXT, ChatMessageType.HTML)


def build_send_message(
    ctx: ChatContext,
    thread_id: str,
    content: str,
    *,
    chat_message_type: ChatMessageType | str | None = ChatMessageType.TEXT,
    sender_display_name: str | None = None,
    metadata: Mapping[str, str] | None = None,
) -> Operation[SendChatMessageResult]:
    """Not retried after the server may have acted: the API has no idempotency key for messages."""
    kind = ChatMessageType.TEXT if chat_message_type is None else chat_message_type
    if isinstance(kind, str) and not isinstance(kind, ChatMessageType):
        kind = kind.lower()  # "TEXT" / "Html" too, as the Azure SDK's case-insensitive enum takes them
    if kind not in _SENDABLE_TYPES:
        raise ValueError(f"chat_message_type must be 'text' or 'html', got {chat_message_type!r}")
    body: dict[str, Any] = {"content": _str(content, "content"), "type": ChatMessageType(kind).value}
    if sender_display_name is not None:
        body["senderDisplayName"] = _str(sender_display_name, "sender_display_name")
    message_metadata = _metadata(ctx, metadata, "metadata", since_2025=False)
    if message_metadata is not None:
        body["metadata"] = message_metadata
    return Operation(
        request=_request("POST", _url(ctx, _thread(thread_id) + "/messages"), body, _JSON),
        parse=model_parser(SendChatMessageResult),
        success=_CREATED,
    )


def build_get_message(ctx: ChatContext, thread_id: str, message_id: str) -> Operation[ChatMessage]:
    parse_message = model_parser(ChatMessage)
    return Operation(
        request=_request("GET", _url(ctx, _message(thread_id, message_id))),
        parse=lambda response: _as_served(parse_message(response)),
        success=_OK,
        idempotent=True,
    )


def build_update_message(
    ctx: ChatContext,
    thread_id: str,
    message_id: str,
    content: str | None = None,
    *,
    metadata: Mapping[str, str] | None = None,
) -> Operation[None]:
    body: dict[str, Any] = {}
    if content is not None:
        body["content"] = _str(content, "content")
    message_metadata = _metadata(ctx, metadata, "metadata", since_2025=False)
    if message_metadata is not None:
        body["metadata"] = message_metadata
    return Operation(
        request=_request("PATCH", _url(ctx, _message(thread_id, message_id)), body, _MERGE_PATCH),
        parse=parse_none,
        success=_NO_CONTENT,
    )


def build_delete_message(ctx: ChatContext, thread_id: str, message_id: str) -> Operation[None]:
    return Operation(
        request=_request("DELETE", _url(ctx, _message(thread_id, message_id))),
        parse=parse_none,
        success=_NO_CONTENT,
        idempotent=True,
    )


# -- participants, typing, read receipts ------------------------------------------------------------------------


def build_add_participants(
    ctx: ChatContext, thread_id: str, thread_participants: Any
) -> Operation[list[tuple[ChatParticipant, ChatError]]]:
    """``POST participants/:add``; the result lists (participant, error) for each failure, empty on success."""
    participants = _participants(ctx, thread_participants, "thread_participants")
    if not participants:
        raise ValueError("thread_participants must not be empty")
    body = {"participants": [_participant_wire(ctx, p) for p in participants]}
    parse_result = model_parser(AddChatParticipantsResult, empty_ok=True)

    def parse(response: httpx.Response) -> list[tuple[ChatParticipant, ChatError]]:
        return pair_failures(participants, parse_result(response).invalid_participants)

    return Operation(
        request=_request("POST", _url(ctx, _thread(thread_id) + "/participants/:add"), body, _JSON),
        parse=parse,
        success=_CREATED,
    )


def build_remove_participant(
    ctx: ChatContext, thread_id: str, identifier: CommunicationIdentifier | CommunicationIdentifierLike
) -> Operation[None]:
    body = _identifier(ctx, identifier, "identifier")
    return Operation(
        request=_request("POST", _url(ctx, _thread(thread_id) + "/participants/:remove"), body, _JSON),
        parse=parse_none,
        success=_NO_CONTENT,
    )


def build_send_typing_notification(
    ctx: ChatContext, thread_id: str, *, sender_display_name: str | None = None
) -> Operation[None]:
    body: dict[str, Any] = {}
    if sender_display_name is not None:
        body["senderDisplayName"] = _str(sender_display_name, "sender_display_name")
    return Operation(
        request=_request("POST", _url(ctx, _thread(thread_id) + "/typing"), body, _JSON),
        parse=parse_none,
        success=_OK,
    )


def build_send_read_receipt(ctx: ChatContext, thread_id: str, message_id: str) -> Operation[None]:
    body = {"chatMessageId": _str(message_id, "message_id")}
    return Operation(
        request=_request("POST", _url(ctx, _thread(thread_id) + "/readReceipts"), body, _JSON),
        parse=parse_none,
        success=_OK,
    )
