"""Direct Line 3.0 request builders (directline-3.0.json), and the client's secret-or-token credential."""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Iterable, Mapping
from typing import IO, Any, Union

import httpx

from ...models import Activity, ResourceResponse
from ...models.directline import ActivitySet, Conversation, TokenParameters
from ..operation import Operation
from ..responses import model_parser
from ..security import path_segment
from ._common import build_url, coerce_model, with_article

__all__ = [
    "DEFAULT_ENDPOINT",
    "DirectLineCredential",
    "UploadFile",
    "build_generate_token",
    "build_get_activities",
    "build_post_activity",
    "build_reconnect_to_conversation",
    "build_refresh_token",
    "build_start_conversation",
    "build_upload",
    "normalize_endpoint",
]

DEFAULT_ENDPOINT = "https://directline.botframework.com"
ACTIVITY_PART_TYPE = "application/vnd.microsoft.activity"

#: what ``upload`` accepts per file: bytes, a binary file object, a path, or (filename, one of those, content type)
UploadFile = Union[bytes, IO[bytes], str, "os.PathLike[str]", tuple[str, Any, str | None]]

_JSON = {"Accept": "application/json", "Content-Type": "application/json; charset=utf-8"}
_ACCEPT = {"Accept": "application/json"}
_BASE = "/v3/directline"


class DirectLineCredential:
    """The secret or token a Direct Line client authenticates with; ``refresh_token`` swaps in the new token."""

    def __init__(self, *, secret: str | None, token: str | None) -> None:
        if (secret is None) == (token is None):
            raise ValueError("pass exactly one of secret= or token=")
        value = secret if secret is not None else token
        if not isinstance(value, str) or not value.strip():
            raise ValueError("the Direct Line secret/token must be a non-empty str")
        self._value = value
        self.is_secret = secret is not None

    def get_token(self, *scopes: str) -> str:
        return self._value

    def update(self, token: str) -> None:
        """Use ``token`` from now on (after a refresh, or a conversation token obtained with the secret)."""
        if not isinstance(token, str) or not token:
            raise ValueError("token must be a non-empty str")
        self._value = token
        self.is_secret = False

    def __repr__(self) -> str:
        return f"DirectLineCredential({'secret' if self.is_secret else 'token'}=<redacted>)"


def normalize_endpoint(endpoint: str) -> httpx.URL:
    if not isinstance(endpoint, str):
        raise TypeError(f"endpoint must be a str, got {type(endpoint).__name__}")
    url = httpx.URL(endpoint.strip().rstrip("/"))
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"endpoint must be an absolute http(s) URL, got {endpoint!r}")
    return url


def _url(base: httpx.URL, path: str, query: Mapping[str, str | None] | None = None) -> httpx.URL:
    return build_url(base, _BASE + path, (query or {}).items())


def _token_parameters(value: TokenParameters | Mapping[str, Any] | None) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        value = TokenParameters.from_dict(value)
    if not isinstance(value, TokenParameters):
        raise TypeError(f"token_parameters must be TokenParameters, got {type(value).__name__}")
    return value.to_json()


def _activity(value: Activity | Mapping[str, Any]) -> Activity:
    return coerce_model(value, Activity, "activity")


def _watermark(value: str | int | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise TypeError(f"watermark must be a str, got {type(value).__name__}")
    return str(value) or None


def _conversation_path(conversation_id: str) -> str:
    return "/conversations/" + path_segment(conversation_id, "conversation_id")


def build_generate_token(base: httpx.URL, token_parameters: TokenParameters | None = None) -> Operation[Conversation]:
    body = _token_parameters(token_parameters)
    return Operation(
        request=httpx.Request("POST", _url(base, "/tokens/generate"), content=body, headers=_JSON if body else _ACCEPT),
        parse=model_parser(Conversation),
    )


def build_refresh_token(base: httpx.URL, credential: DirectLineCredential) -> Operation[Conversation]:
    parse_conversation = model_parser(Conversation)

    def parse(response: httpx.Response) -> Conversation:
        conversation = parse_conversation(response)
        if conversation.token:
            credential.update(conversation.token)
        return conversation

    # a refresh has no effect on the conversation, so repeating it is harmless
    return Operation(
        request=httpx.Request("POST", _url(base, "/tokens/refresh"), headers=_ACCEPT), parse=parse, idempotent=True
    )


def build_start_conversation(
    base: httpx.URL, token_parameters: TokenParameters | None = None
) -> Operation[Conversation]:
    body = _token_parameters(token_parameters)
    return Operation(
        request=httpx.Request("POST", _url(base, "/conversations"), content=body, headers=_JSON if body else _ACCEPT),
        parse=model_parser(Conversation),
        success=frozenset({200, 201}),
    )


def build_reconnect_to_conversation(
    base: httpx.URL, conversation_id: str, watermark: str | None = None
) -> Operation[Conversation]:
    url = _url(base, _conversation_path(conversation_id), {"watermark": _watermark(watermark)})
    return Operation(
        request=httpx.Request("GET", url, headers=_ACCEPT), parse=model_parser(Conversation), idempotent=True
    )


def build_get_activities(base: httpx.URL, conversation_id: str, watermark: str | None = None) -> Operation[ActivitySet]:
    url = _url(base, _conversation_path(conversation_id) + "/activities", {"watermark": _watermark(watermark)})
    return Operation(
        request=httpx.Request("GET", url, headers=_ACCEPT), parse=model_parser(ActivitySet), idempotent=True
    )


def build_post_activity(base: httpx.URL, conversation_id: str, activity: Activity) -> Operation[ResourceResponse]:
    url = _url(base, _conversation_path(conversation_id) + "/activities")
    body = _activity(activity).to_json()
    # Not idempotent: a post that timed out or got 502 may have reached the bot; the caller decides.
    return Operation(
        request=httpx.Request("POST", url, content=body, headers=_JSON),
        parse=model_parser(ResourceResponse, empty_ok=True),
        success=frozenset({200, 204}),
    )


def _file_part(item: UploadFile, index: int) -> tuple[tuple[str, Any, str], Any | None]:
    """One multipart file: (filename, content, content type), plus a file we opened and must close."""
    opened: Any | None = None
    if isinstance(item, tuple):
        if len(item) != 3 or not isinstance(item[0], str):
            raise TypeError("an upload tuple is (filename, bytes | file | path, content_type | None)")
        filename, content, content_type = item
    else:
        filename, content, content_type = "", item, None
    if isinstance(content, str | os.PathLike):
        path = os.fspath(content)
        if not os.path.isfile(path):
            raise ValueError(f"no such file to upload: {path!r}")
        filename = filename or os.path.basename(path)
        opened = content = open(path, "rb")  # noqa: SIM115 - closed by the driver once the upload is sent
    elif isinstance(content, bytes | bytearray | memoryview):
        content = bytes(content)
    elif not callable(getattr(content, "read", None)):
        raise TypeError(
            f"cannot upload {with_article(type(content).__name__)}: pass bytes, a binary file object or a path"
        )
    if not filename:
        filename = os.path.basename(str(getattr(content, "name", ""))) or f"file{index}"
    if content_type is None:
        content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    return (filename, content, content_type), opened


def build_upload(
    base: httpx.URL,
    conversation_id: str,
    files: UploadFile | Iterable[UploadFile],
    *,
    user_id: str | None = None,
    activity: Activity | None = None,
) -> Operation[ResourceResponse]:
    """Multipart upload: each file a ``file`` part (streamed from disk for paths), the activity an activity part."""
    path = _conversation_path(conversation_id) + "/upload"
    message = _activity(activity) if activity is not None else None
    if user_id is None and message is not None and message.from_property is not None:
        user_id = message.from_property.id
    if user_id is not None and (not isinstance(user_id, str) or not user_id):
        raise ValueError("user_id must be a non-empty str")
    items: list[UploadFile]
    if isinstance(files, bytes | bytearray | str | os.PathLike | tuple) or callable(getattr(files, "read", None)):
        items = [files]  # type: ignore[list-item]
    else:
        items = list(files)
    if not items:
        raise ValueError("upload needs at least one file")
    parts: list[tuple[str, tuple[str, Any, str]]] = []
    opened: list[Any] = []
    try:
        for index, item in enumerate(items):
            part, handle = _file_part(item, index)
            parts.append(("file", part))
            if handle is not None:
                opened.append(handle)
    except BaseException:
        for handle in opened:
            handle.close()
        raise
    if message is not None:
        parts.append(("activity", ("blob", message.to_json(), ACTIVITY_PART_TYPE)))
    url = _url(base, path, {"userId": user_id})
    request = httpx.Request("POST", url, files=parts, headers=_ACCEPT)
    return Operation(
        request=request,
        parse=model_parser(ResourceResponse, empty_ok=True),
        success=frozenset({200, 201, 202, 204}),
        closing=tuple(opened),
    )
