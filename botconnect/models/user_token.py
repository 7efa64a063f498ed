"""The user token service (OAuth sign-in, Teams SSO): its bodies, the sign-in ``state``, the OAuth card a bot
sends, and the invoke answer a sign-in handler returns.

The wire shapes are TokenAPI.json's; ``TokenExchangeState`` is what every Bot Framework SDK encodes as the
``state`` of ``GetSignInUrl`` / ``GetSignInResource``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

import attrs

from .._core import serde
from ._base import Model
from .accounts import ConversationReference
from .activity import Activity, Attachment, CardAction
from .cards import OAuthCard, SigninCard, TokenExchangeResource, TokenPostResource
from .connector import TokenResponse
from .enums import ActionTypes
from .invoke import InvokeResponse

__all__ = [
    "AadResourceUrls",
    "SignInInvokeResponse",
    "SignInUrlResponse",
    "TokenExchangeRequest",
    "TokenExchangeState",
    "TokenStatus",
    "oauth_card_attachment",
]

#: channels that cannot render an OAuthCard: they get a SigninCard with the link (as Microsoft's OAuthPrompt does)
_NO_OAUTH_CARD_CHANNELS = frozenset({"cortana", "skype", "skypeforbusiness"})


@attrs.define(kw_only=True, repr=False)
class TokenStatus(Model):
    """Whether a user has a token for one OAuth connection of the bot (``GetTokenStatus``)."""

    channel_id: str | None = None
    connection_name: str | None = None
    has_token: bool | None = None
    service_provider_display_name: str | None = None


@attrs.define(kw_only=True, repr=False)
class SignInUrlResponse(Model):
    """The sign-in link for a user, and what a client needs to try single sign-on instead (``GetSignInResource``)."""

    sign_in_link: str | None = None
    token_exchange_resource: TokenExchangeResource | None = None
    token_post_resource: TokenPostResource | None = None


@attrs.define(kw_only=True, repr=False)
class AadResourceUrls(Model):
    """The body of ``GetAadTokens``: the Entra ID resources to get tokens for."""

    resource_urls: list[str] | None = None


@attrs.define(kw_only=True, repr=False)
class TokenExchangeRequest(Model):
    """The body of ``exchange``: the SSO token a client obtained (``token``), or a resource ``uri``."""

    uri: str | None = None
    token: str | None = attrs.field(default=None, repr=False)  # the user's SSO token: never in a repr or a log


@attrs.define(kw_only=True, repr=False)
class TokenExchangeState(Model):
    """Who is signing in, where, and for which connection: the ``state`` of a sign-in link.

    Build it from the incoming activity with :meth:`from_activity`, encode it with :meth:`to_state` (standard
    base64, with padding, of the compact UTF-8 JSON: what the token service and every Bot Framework SDK expect),
    read one back with :meth:`from_state`.
    """

    connection_name: str | None = None
    conversation: ConversationReference | None = None
    relates_to: ConversationReference | None = None
    bot_url: str | None = None
    ms_app_id: str | None = None

    @classmethod
    def from_activity(
        cls,
        activity: Activity | Mapping[str, Any],
        connection_name: str,
        *,
        app_id: str | None,
        bot_url: str | None = None,
    ) -> TokenExchangeState:
        """The state for signing in the sender of ``activity`` (the bot's ``app_id``; None for an anonymous bot)."""
        if isinstance(activity, Mapping):
            activity = Activity.from_dict(activity)
        elif not isinstance(activity, Activity):
            raise TypeError(f"activity must be an Activity (or its wire dict), got {type(activity).__name__}")
        _check_text(connection_name, "connection_name")
        if app_id is not None and not isinstance(app_id, str):
            raise TypeError(f"app_id must be a str or None, got {type(app_id).__name__}")
        if bot_url is not None and not isinstance(bot_url, str):
            raise TypeError(f"bot_url must be a str or None, got {type(bot_url).__name__}")
        return cls(
            connection_name=connection_name,
            conversation=activity.get_conversation_reference(),
            relates_to=activity.relates_to,
            bot_url=bot_url,
            ms_app_id=app_id,
        )

    def to_state(self) -> str:
        """The ``state`` query value: standard base64 (with padding) of the compact UTF-8 JSON."""
        return base64.b64encode(self.to_json()).decode("ascii")

    @classmethod
    def from_state(cls, state: str) -> TokenExchangeState:
        """Decode a ``state`` made by :meth:`to_state` (missing padding is tolerated); ``ValueError`` if not one."""
        if not isinstance(state, str):
            raise TypeError(f"state must be a str, got {type(state).__name__}")
        text = state.strip()
        try:
            raw = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
            data = serde.loads(raw)
        except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise ValueError(f"state is not base64 of a JSON TokenExchangeState: {exc}") from exc
        if not isinstance(data, Mapping):
            raise ValueError(f"state is not a TokenExchangeState: it holds a JSON {type(data).__name__}")
        try:
            return cls.from_dict(data)
        except (TypeError, KeyError) as exc:
            raise ValueError(f"state is not a TokenExchangeState: {exc}") from exc


@attrs.frozen
class SignInInvokeResponse(InvokeResponse):
    """A sign-in handler's answer to a ``signin/verifyState`` or ``signin/tokenExchange`` invoke.

    Write ``status`` and ``json_body()`` to the HTTP response like any :class:`InvokeResponse`. ``token_response``
    is the user's token when the sign-in completed with this invoke (continue the bot's flow with it);
    ``duplicate`` is True for a token exchange Teams delivered again while (or after) the first was handled: it
    is answered 200 without a second exchange, and the bot should do nothing more with it.
    """

    token_response: TokenResponse | None = None
    duplicate: bool = False


def oauth_card_attachment(
    connection_name: str,
    sign_in_resource: SignInUrlResponse | str,
    *,
    text: str | None = None,
    title: str = "Sign in",
    channel_id: str | None = None,
) -> Attachment:
    """The sign-in card for ``connection_name``: an OAuthCard with a ``signin`` button on ``signInLink``.

    ``sign_in_resource`` is the result of ``bot_sign_in.get_sign_in_resource`` (its token exchange resource lets
    Teams try single sign-on first) or a plain link from ``get_sign_in_url``. Channels that cannot show an
    OAuthCard (``channel_id`` cortana, skype, skypeforbusiness) get a SigninCard with the same button.
    """
    _check_text(connection_name, "connection_name")
    if isinstance(sign_in_resource, str):
        sign_in_resource = SignInUrlResponse(sign_in_link=sign_in_resource)
    elif not isinstance(sign_in_resource, SignInUrlResponse):
        raise TypeError(
            f"sign_in_resource must be a SignInUrlResponse or a link, got {type(sign_in_resource).__name__}"
        )
    link = sign_in_resource.sign_in_link
    if not isinstance(link, str) or not link.strip():
        raise ValueError("sign_in_resource has no sign-in link")
    _check_text(title, "title")
    if text is not None and not isinstance(text, str):
        raise TypeError(f"text must be a str or None, got {type(text).__name__}")
    if channel_id is not None and not isinstance(channel_id, str):
        raise TypeError(f"channel_id must be a str or None, got {type(channel_id).__name__}")
    button = CardAction(type=ActionTypes.SIGNIN, title=title, text=title, value=link)
    if channel_id is not None and channel_id.lower() in _NO_OAUTH_CARD_CHANNELS:
        return SigninCard(text=text, buttons=[button]).to_attachment()
    card = OAuthCard(
        text=text,
        connection_name=connection_name,
        buttons=[button],
        token_exchange_resource=sign_in_resource.token_exchange_resource,
        token_post_resource=sign_in_resource.token_post_resource,
    )
    return card.to_attachment()


def _check_text(value: Any, name: str) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{name} must not be empty")
