"""Reading Event Grid deliveries of ACS Chat events (sans-IO: bytes or JSON in, typed events out).

Both delivery schemas are read: Event Grid's (``eventType``, ``eventTime``, ``topic``, ``dataVersion``) and
CloudEvents 1.0 (``type``, ``time``, ``source``, ``specversion``), one event or an array. The two webhook
handshakes are answered by :func:`subscription_validation_response` (Event Grid's
``Microsoft.EventGrid.SubscriptionValidationEvent``: answer its code) and :func:`webhook_validation_headers`
(CloudEvents abuse protection: an ``OPTIONS`` with ``WebHook-Request-Origin``, answered with
``WebHook-Allowed-Origin``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..models.chat_events import CHAT_EVENT_TYPES, ChatEvent

__all__ = [
    "SUBSCRIPTION_VALIDATION_EVENT",
    "parse_event_grid_events",
    "subscription_validation_response",
    "webhook_validation_headers",
]

SUBSCRIPTION_VALIDATION_EVENT = "Microsoft.EventGrid.SubscriptionValidationEvent"
_CLOUD_EVENT_KEYS = {"type": "eventType", "time": "eventTime", "source": "topic"}


def parse_event_grid_events(body: bytes | str | Mapping[str, Any] | list[Any]) -> list[ChatEvent]:
    """The events of a webhook delivery (Event Grid or CloudEvents 1.0 schema; one event or an array), chat
    events with typed ``data``; ``ValueError`` when the body is not JSON or not events."""
    value = _load(body)
    items = value if isinstance(value, list) else [value]
    return [_event(item, index) for index, item in enumerate(items)]


def subscription_validation_response(
    events: bytes | str | Mapping[str, Any] | list[Any] | list[ChatEvent],
) -> dict[str, str] | None:
    """``{"validationResponse": code}`` when the delivery is Event Grid's subscription validation (answer it with
    200 and this body), else None."""
    parsed = (
        events
        if isinstance(events, list) and events and all(isinstance(e, ChatEvent) for e in events)
        else parse_event_grid_events(events)
    )
    for event in parsed:
        if isinstance(event, ChatEvent) and event.event_type == SUBSCRIPTION_VALIDATION_EVENT:
            code = event.data.get("validationCode") if isinstance(event.data, Mapping) else None
            if not isinstance(code, str) or not code:
                raise ValueError("the subscription validation event carries no validationCode")
            return {"validationResponse": code}
    return None


def webhook_validation_headers(
    request_headers: Mapping[str, str], *, allowed_rate: int | None = None
) -> dict[str, str]:
    """The headers answering a CloudEvents abuse-protection ``OPTIONS`` request (with status 200):
    ``WebHook-Allowed-Origin`` echoes ``WebHook-Request-Origin`` (and ``WebHook-Allowed-Rate`` when given)."""
    lowered = {key.lower(): value for key, value in request_headers.items()}
    origin = lowered.get("webhook-request-origin", "").strip()
    if not origin:
        raise ValueError("not a CloudEvents validation request: no WebHook-Request-Origin header")
    headers = {"WebHook-Allowed-Origin": origin}
    if allowed_rate is not None:
        if isinstance(allowed_rate, bool) or not isinstance(allowed_rate, int) or allowed_rate < 1:
            raise ValueError("allowed_rate must be a positive int (requests per minute)")
        headers["WebHook-Allowed-Rate"] = str(allowed_rate)
    return headers


def _load(body: bytes | str | Mapping[str, Any] | list[Any]) -> Any:
    if isinstance(body, bytes | bytearray | str):
        try:
            return json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise ValueError("the delivery is not JSON") from exc
    if isinstance(body, Mapping | list):
        return body
    raise TypeError(f"body must be bytes, str, a mapping or a list, got {type(body).__name__}")


def _event(item: Any, index: int) -> ChatEvent:
    if not isinstance(item, Mapping):
        raise ValueError(f"event [{index}] is not a JSON object")
    cloud = "specversion" in item
    envelope: dict[str, Any] = {
        str(_CLOUD_EVENT_KEYS.get(k, k) if cloud else k): v for k, v in item.items() if k != "data"
    }
    if not isinstance(envelope.get("eventType"), str):
        raise ValueError(f"event [{index}] has no {'type' if cloud else 'eventType'}")
    event = ChatEvent.from_dict(envelope)
    event.schema = "CloudEvents" if cloud else "EventGrid"
    data = item.get("data")
    model = CHAT_EVENT_TYPES.get(event.event_type or "")
    event.data = model.from_dict(data) if model is not None and isinstance(data, Mapping) else data
    return event
