"""Turn responses into models, and any error response (whatever its body) into the typed error tree."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from ..errors import DeserializationError, ErrorDetails, HttpResponseError, error_class_for_status
from .deferred import DeferredModule
from .retry import parse_retry_after

if TYPE_CHECKING:
    from . import serde
else:
    # cattrs and the converter load with the first response parsed, not with every client module
    serde = DeferredModule("botconnect._core.serde", globals(), "serde")

__all__ = [
    "error_from_response",
    "model_parser",
    "model_list_parser",
    "parse_error_details",
    "parse_json",
    "parse_none",
]

T = TypeVar("T")

_TEXT_PREVIEW = 300


def parse_json(response: httpx.Response) -> Any:
    """The JSON body of a success response; a bad body becomes :class:`DeserializationError`."""
    try:
        return serde.loads(response.content)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise DeserializationError(
            f"expected a JSON body in the {response.status_code} response, could not parse it: {exc}",
            response=response,
        ) from exc


def model_parser(cls: type[T], *, empty_ok: bool = False) -> Callable[[httpx.Response], T]:
    """A parser for a response whose body is one ``cls`` (an empty body gives ``cls()`` when ``empty_ok``).

    The decoded body is ours alone, so it is structured with ``structure_parsed``, which consumes the tree instead
    of copying out of it (most of the cost of a page of small items).
    """

    def parse(response: httpx.Response) -> T:
        if empty_ok and not response.content.strip():
            return cls()
        data = parse_json(response)
        try:
            return serde.structure_parsed(data, cls)
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise DeserializationError(
                f"response body is not a valid {cls.__name__}: {exc}", response=response
            ) from exc

    return parse


def model_list_parser(cls: type[T]) -> Callable[[httpx.Response], list[T]]:
    """A parser for a response whose body is a JSON array of ``cls``."""

    def parse(response: httpx.Response) -> list[T]:
        data = parse_json(response)
        if not isinstance(data, list):
            raise DeserializationError(
                f"expected a JSON array of {cls.__name__}, got {type(data).__name__}", response=response
            )
        try:
            return [serde.structure_parsed(item, cls) for item in data]
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise DeserializationError(
                f"response body is not a list of {cls.__name__}: {exc}", response=response
            ) from exc

    return parse


def parse_none(response: httpx.Response) -> None:
    """For operations whose success carries no result."""
    return


def _details_from_object(obj: Mapping[str, Any], raw: Any) -> ErrorDetails:
    def text(key: str) -> str | None:
        value = obj.get(key)
        return value if isinstance(value, str) else (None if value is None else str(value))

    nested = obj.get("details")
    details: tuple[ErrorDetails, ...] = ()
    if isinstance(nested, list):
        details = tuple(_details_from_object(d, d) for d in nested if isinstance(d, Mapping))
    inner = obj.get("innererror", obj.get("innerError", obj.get("innerHttpError")))
    return ErrorDetails(
        code=text("code"), message=text("message"), target=text("target"), details=details, inner_error=inner, raw=raw
    )


def parse_error_details(response: httpx.Response) -> ErrorDetails:
    """Normalise any error body: ``{"error": {...}}``, bare ``{code, message}``, a JSON string, text, HTML, nothing."""
    content = response.content
    if not content.strip():
        return ErrorDetails()
    try:
        data = json.loads(content)
    except (ValueError, UnicodeDecodeError, RecursionError):
        text = content.decode("utf-8", errors="replace").strip()
        return ErrorDetails(message=_preview(text), raw=text)
    if isinstance(data, Mapping):
        error = data.get("error")
        if isinstance(error, Mapping):
            return _details_from_object(error, data)
        if isinstance(error, str):  # OAuth: {"error": "invalid_client", "error_description": "..."}
            message = _str_or_none(data.get("error_description")) or _str_or_none(data.get("message")) or error
            return ErrorDetails(code=error, message=message, raw=data)
        if "code" in data or "message" in data or "Message" in data:
            obj = dict(data)
            if "message" not in obj and "Message" in obj:
                obj["message"] = obj["Message"]
            return _details_from_object(obj, data)
        return ErrorDetails(raw=data)
    if isinstance(data, str):
        return ErrorDetails(message=_preview(data), raw=data)
    return ErrorDetails(raw=data)


def error_from_response(response: httpx.Response) -> HttpResponseError:
    """The typed error for a non-success response. The body must already be read."""
    details = parse_error_details(response)
    retry_after = parse_retry_after(response.headers)
    summary = f"{response.status_code} {response.reason_phrase}".strip()
    # the full text stays in .error.message; the exception's own text is bounded
    code = _preview(details.code) if details.code else None
    text = _preview(details.message) if details.message else None
    if code and text:
        message = f"{summary}: ({code}) {text}"
    elif code or text:
        message = f"{summary}: {code or text}"
    else:
        message = f"{summary}: the service returned no error details"
    cls = error_class_for_status(response.status_code, details.code)
    return cls(message, response=response, error=details, retry_after=retry_after)


def _preview(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _TEXT_PREVIEW else text[:_TEXT_PREVIEW] + "..."


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None
