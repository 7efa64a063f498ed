"""What a bot answers to the Teams sign-in invokes, decided once for both façades.

Each flow is a generator: it yields the one token-service call it needs (:class:`GetUserToken` or
:class:`ExchangeUserToken`), the driver performs it and sends the result back (or throws the exception in), and
the flow returns the :class:`SignInInvokeResponse`. The statuses are those Microsoft's ``OAuthPrompt`` answers and
Teams acts on:

* ``signin/verifyState`` (after the sign-in popup; ``value.state`` is the magic code): 200 once the token is
  there, 404 when the service has none, 500 when asking failed (Teams sends the invoke again).
* ``signin/tokenExchange`` (single sign-on): 400 for a value that is missing or names another connection,
  412 when the SSO token cannot be exchanged (Teams then shows the sign-in button), 200 on success. Teams may
  deliver one exchange more than once; a delivery whose ``{channelId}/{conversationId}/{value.id}`` was seen is
  answered 200 without calling the service again.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Generator, Mapping
from typing import Any

import attrs

from ..models import (
    Activity,
    SignInInvokeResponse,
    TokenExchangeInvokeRequest,
    TokenExchangeInvokeResponse,
    TokenResponse,
)
from ..models.enums import ActivityTypes

__all__ = [
    "TOKEN_EXCHANGE",
    "UNABLE_TO_EXCHANGE",
    "VERIFY_STATE",
    "ExchangeDeduplicator",
    "ExchangeUserToken",
    "GetUserToken",
    "SignInFlow",
    "check_connection_name",
    "token_exchange_flow",
    "verify_state_flow",
]

logger = logging.getLogger("botconnect.signin")

VERIFY_STATE = "signin/verifyState"
TOKEN_EXCHANGE = "signin/tokenExchange"  # noqa: S105 - an invoke name, not a secret
#: the failure detail of a 412: Teams reads it as "show the sign-in button instead"
UNABLE_TO_EXCHANGE = "The bot is unable to exchange token. Proceed with regular login."
DEFAULT_DEDUPE_SIZE = 1000


@attrs.frozen
class GetUserToken:
    """Perform ``user_token.get_token(user_id, connection_name, channel_id=..., code=...)``; send its result."""

    user_id: str
    connection_name: str
    channel_id: str | None
    code: str | None = attrs.field(repr=False)


@attrs.frozen
class ExchangeUserToken:
    """Perform ``user_token.exchange_token(...)`` with ``TokenExchangeRequest(token=token)``; send its result."""

    user_id: str
    connection_name: str
    channel_id: str
    token: str = attrs.field(repr=False)


SignInFlow = Generator[GetUserToken | ExchangeUserToken, Any, SignInInvokeResponse]


class ExchangeDeduplicator:
    """The token exchanges seen, in memory and bounded (the oldest are forgotten first); safe across threads.

    A key is claimed before its exchange starts, so a redelivery arriving meanwhile is a duplicate too; a failed
    exchange releases its key (a later delivery may try again), a successful one keeps it.
    """

    def __init__(self, max_entries: int = DEFAULT_DEDUPE_SIZE) -> None:
        if isinstance(max_entries, bool) or not isinstance(max_entries, int):
            raise TypeError(f"max_entries must be an int, got {type(max_entries).__name__}")
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self.max_entries = max_entries
        self._seen: collections.OrderedDict[str, bool] = collections.OrderedDict()
        self._lock = threading.Lock()

    def claim(self, key: str) -> bool:
        """True for the first delivery of ``key``; False for a duplicate (in flight or done)."""
        with self._lock:
            if key in self._seen:
                return False
            self._seen[key] = False
            while len(self._seen) > self.max_entries:
                self._seen.popitem(last=False)
            return True

    def release(self, key: str) -> None:
        with self._lock:
            self._seen.pop(key, None)

    def complete(self, key: str) -> None:
        with self._lock:
            if key in self._seen:
                self._seen[key] = True

    def __len__(self) -> int:
        return len(self._seen)


def check_connection_name(connection_name: Any) -> str:
    if not isinstance(connection_name, str):
        raise TypeError(f"connection_name must be a str, got {type(connection_name).__name__}")
    if not connection_name.strip():
        raise ValueError("connection_name must not be empty")
    return connection_name


def verify_state_flow(activity: Activity | Mapping[str, Any], connection_name: str) -> SignInFlow:
    """Answer a ``signin/verifyState`` invoke: redeem ``value.state`` (the magic code) for the user's token."""
    invoke = _invoke(activity, VERIFY_STATE)
    user_id = _user_id(invoke)
    if user_id is None:
        return SignInInvokeResponse(400)
    try:
        token = yield GetUserToken(user_id, connection_name, _text(invoke.channel_id), _magic_code(invoke.value))
    except Exception as exc:  # the service failed, not the user: Teams retries a 500
        logger.warning("signin/verifyState: getting the token failed (%s: %s)", type(exc).__name__, exc)
        return SignInInvokeResponse(500)
    if token is None:
        return SignInInvokeResponse(404)
    return SignInInvokeResponse(200, token_response=token)


def token_exchange_flow(
    activity: Activity | Mapping[str, Any], connection_name: str, dedupe: ExchangeDeduplicator
) -> SignInFlow:
    """Answer a ``signin/tokenExchange`` invoke: exchange the SSO token in ``value`` for the user's token."""
    invoke = _invoke(activity, TOKEN_EXCHANGE)
    value = invoke.value
    request: TokenExchangeInvokeRequest | None = None
    if isinstance(value, TokenExchangeInvokeRequest):
        request = value
    elif isinstance(value, Mapping):
        try:
            request = TokenExchangeInvokeRequest.from_dict(value)
        except (TypeError, ValueError, KeyError):
            request = None
    if request is None:
        return _exchange_answer(400, None, connection_name, "the invoke has no TokenExchangeInvokeRequest value")
    exchange_id = _text(request.id)
    asked = _text(request.connection_name)
    if asked is None or asked.casefold() != connection_name.casefold():
        detail = f"the invoke asks for connection {asked!r}, the bot signs in with {connection_name!r}"
        return _exchange_answer(400, exchange_id, connection_name, detail)
    user_id, channel_id = _user_id(invoke), _text(invoke.channel_id)
    if user_id is None or channel_id is None:
        return _exchange_answer(400, exchange_id, connection_name, "the invoke has no from.id or channelId")
    sso_token = _text(request.token)
    if sso_token is None:
        return _exchange_answer(412, exchange_id, connection_name, UNABLE_TO_EXCHANGE)
    conversation_id = (invoke.conversation.id if invoke.conversation is not None else None) or ""
    key = f"{channel_id}/{conversation_id}/{exchange_id}" if exchange_id is not None else None
    if key is not None and not dedupe.claim(key):
        answer = _exchange_answer(200, exchange_id, connection_name, None)
        return attrs.evolve(answer, duplicate=True)
    exchanged = False
    try:
        try:
            result = yield ExchangeUserToken(user_id, connection_name, channel_id, sso_token)
        except Exception as exc:  # as in Microsoft's OAuthPrompt: any failure means "sign in the regular way"
            logger.warning("signin/tokenExchange: the exchange failed (%s: %s)", type(exc).__name__, exc)
            result = None
        if isinstance(result, TokenResponse) and result.token:
            exchanged = True
            return attrs.evolve(_exchange_answer(200, exchange_id, connection_name, None), token_response=result)
        return _exchange_answer(412, exchange_id, connection_name, UNABLE_TO_EXCHANGE)
    finally:
        # also when the caller was cancelled mid-exchange (the generator is closed): a redelivery may try again
        if key is not None:
            if exchanged:
                dedupe.complete(key)
            else:
                dedupe.release(key)


def _exchange_answer(
    status: int, exchange_id: str | None, connection_name: str, failure_detail: str | None
) -> SignInInvokeResponse:
    body = TokenExchangeInvokeResponse(id=exchange_id, connection_name=connection_name, failure_detail=failure_detail)
    return SignInInvokeResponse(status, body)


def _invoke(activity: Activity | Mapping[str, Any], name: str) -> Activity:
    if isinstance(activity, Mapping):
        try:
            activity = Activity.from_dict(activity)
        except (TypeError, ValueError, KeyError) as exc:
            raise TypeError(f"activity is not a valid Activity: {exc}") from exc
    elif not isinstance(activity, Activity):
        raise TypeError(f"activity must be an Activity (or its wire dict), got {type(activity).__name__}")
    if activity.type != ActivityTypes.INVOKE or activity.name != name:
        raise ValueError(f"expected an invoke named {name!r}, got type {activity.type!r} name {activity.name!r}")
    return activity


def _user_id(activity: Activity) -> str | None:
    return _text(activity.from_property.id) if activity.from_property is not None else None


def _magic_code(value: Any) -> str | None:
    """``value.state``; None (ask for the stored token without a code, as OAuthPrompt does) when there is none."""
    state = value.get("state") if isinstance(value, Mapping) else None
    if isinstance(state, int) and not isinstance(state, bool):
        state = str(state)  # a six-digit code sent as a JSON number
    return _text(state)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None
