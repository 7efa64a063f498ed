"""What a bot answers to an ``invoke`` activity, and the Adaptive Card ``Action.Execute`` invoke bodies.

An invoke (and an activity sent with ``deliveryMode: expectReplies``) is answered synchronously, in the HTTP
response to the channel's POST: a status and a JSON body. A skill call returns the same pair.
"""

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Self

import attrs

from .._core import serde
from ._base import Model
from .activity import Activity
from .connector import ExpectedReplies, TokenExchangeInvokeRequest

__all__ = [
    "AdaptiveCardInvokeAction",
    "AdaptiveCardInvokeResponse",
    "AdaptiveCardInvokeValue",
    "InvokeResponse",
]


def _check_status(instance: Any, attribute: "attrs.Attribute[int]", value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"status must be an int, got {type(value).__name__}")
    if not 100 <= value <= 999:
        raise ValueError(f"status must be a three-digit HTTP status code, got {value}")


def _to_wire(value: Any) -> Any:
    # models anywhere in the body (an ExpectedReplies, a list of cards) become their camelCase dicts
    return serde.unstructure(value)


@attrs.frozen
class InvokeResponse:
    """An HTTP status and JSON body: the synchronous answer to an invoke (or expectReplies) activity.

    Not a :class:`Model`: ``status`` is required, and the pair is written as an HTTP response rather than as a
    JSON object (except as the ``value`` of an ``invokeResponse`` activity, see :meth:`to_dict`). ``body`` is
    any JSON value or a model (serialized with its camelCase ``to_dict``). In a web handler::

        web.Response(status=r.status, body=r.json_body(), content_type="application/json")  # aiohttp
        Response(r.json_body(), status_code=r.status, media_type="application/json")  # starlette
    """

    status: int = attrs.field(validator=_check_status)
    body: Any = None

    @property
    def is_successful(self) -> bool:
        """Whether ``status`` is 2xx."""
        return 200 <= self.status <= 299

    def json_body(self) -> bytes:
        """The body as compact UTF-8 JSON for the HTTP response; ``b""`` when there is no body."""
        if self.body is None:
            return b""
        return serde.dumps(_to_wire(self.body))

    def to_dict(self) -> dict[str, Any]:
        """``{"status": ..., "body": ...}`` (body omitted when None), as in an ``invokeResponse`` activity."""
        result: dict[str, Any] = {"status": self.status}
        if self.body is not None:
            result["body"] = _to_wire(self.body)
        return result

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Build from ``{"status": ..., "body": ...}``; the body is kept as the JSON value it is."""
        if not isinstance(data, Mapping):
            raise TypeError(f"InvokeResponse expects a mapping, got {type(data).__name__}")
        status = data.get("status")
        if isinstance(status, bool) or not isinstance(status, int):
            raise TypeError(f"InvokeResponse needs an int status, got {type(status).__name__}")
        return cls(status, data.get("body"))

    @classmethod
    def from_expected_replies(cls, activities: Iterable[Activity | Mapping[str, Any]]) -> Self:
        """The 200 answer to an activity sent with ``deliveryMode: expectReplies``: ``{"activities": [...]}``."""
        if isinstance(activities, str | bytes | Mapping | Activity):
            raise TypeError("activities must be an iterable of Activity (or activity dicts)")
        items: list[Activity] = []
        for index, activity in enumerate(activities):
            if isinstance(activity, Activity):
                items.append(activity)
            elif isinstance(activity, Mapping):
                items.append(Activity.from_dict(activity))
            else:
                raise TypeError(f"activities[{index}] must be an Activity or a dict, got {type(activity).__name__}")
        return cls(200, ExpectedReplies(activities=items).to_dict())


# -- Adaptive Card Action.Execute (invoke name "adaptiveCard/action") ----------------------------------------


@attrs.define(kw_only=True, repr=False)
class AdaptiveCardInvokeAction(Model):
    """The ``Action.Execute`` a user triggered: its type, id, ``verb`` and the card's input ``data``."""

    type: str | None = None
    id: str | None = None
    verb: str | None = None
    data: Any = None


@attrs.define(kw_only=True, repr=False)
class AdaptiveCardInvokeValue(Model):
    """The ``value`` of an ``adaptiveCard/action`` invoke: the action, an SSO token to exchange, a login state."""

    action: AdaptiveCardInvokeAction | None = None
    authentication: TokenExchangeInvokeRequest | None = None
    state: str | None = None


@attrs.define(kw_only=True, repr=False)
class AdaptiveCardInvokeResponse(Model):
    """The body a bot returns for an ``adaptiveCard/action`` invoke: a card to show, or a message to display.

    Build one with :meth:`card` or :meth:`message` and hand it to ``activity.create_invoke_response(...)``.
    """

    #: ``type`` when ``value`` is an Adaptive Card that replaces the one the user acted on
    CARD: ClassVar[str] = "application/vnd.microsoft.card.adaptive"
    #: ``type`` when ``value`` is a string shown to the user
    MESSAGE: ClassVar[str] = "application/vnd.microsoft.activity.message"

    status_code: int | None = None
    type: str | None = None
    value: Any = None

    @classmethod
    def card(cls, card: Any, status_code: int = 200) -> Self:
        """Replace the card the user acted on with ``card`` (an Adaptive Card JSON object)."""
        return cls(status_code=status_code, type=cls.CARD, value=card)

    @classmethod
    def message(cls, text: str, status_code: int = 200) -> Self:
        """Show ``text`` to the user (the card stays as it is)."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        return cls(status_code=status_code, type=cls.MESSAGE, value=text)
