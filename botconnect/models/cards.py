"""Bot Framework cards (hero, thumbnail, media, receipt, sign-in, OAuth) and their building blocks.

A card travels as the ``content`` of an :class:`~botconnect.models.Attachment` whose ``contentType`` names the
card kind: ``HeroCard(title="Hi").to_attachment()`` builds one, ``attachment.content_as(HeroCard)`` reads it.
"""

from typing import Any, ClassVar

import attrs

from ._base import Model
from .activity import Attachment, CardAction

__all__ = [
    "AnimationCard",
    "AudioCard",
    "BasicCard",
    "CardImage",
    "Fact",
    "HeroCard",
    "MediaCard",
    "MediaEventValue",
    "MediaUrl",
    "OAuthCard",
    "ReceiptCard",
    "ReceiptItem",
    "SigninCard",
    "ThumbnailCard",
    "ThumbnailUrl",
    "TokenExchangeResource",
    "TokenPostResource",
    "VideoCard",
]


# -- building blocks ---------------------------------------------------------------------------------------


@attrs.define(kw_only=True, repr=False)
class CardImage(Model):
    """An image shown on a card, with alt text and an optional tap action."""

    url: str | None = None
    alt: str | None = None
    tap: CardAction | None = None


@attrs.define(kw_only=True, repr=False)
class ThumbnailUrl(Model):
    """A placeholder/thumbnail image URL with alt text."""

    url: str | None = None
    alt: str | None = None


@attrs.define(kw_only=True, repr=False)
class MediaUrl(Model):
    """One rendition of a media card's content, optionally tagged with a profile hint."""

    url: str | None = None
    profile: str | None = None


@attrs.define(kw_only=True, repr=False)
class Fact(Model):
    """A key/value row of a receipt card."""

    key: str | None = None
    value: str | None = None


@attrs.define(kw_only=True, repr=False)
class ReceiptItem(Model):
    """A line item of a receipt card."""

    title: str | None = None
    subtitle: str | None = None
    text: str | None = None
    image: CardImage | None = None
    price: str | None = None
    quantity: str | None = None
    tap: CardAction | None = None


@attrs.define(kw_only=True, repr=False)
class TokenExchangeResource(Model):
    """What a client needs to attempt a single sign-on token exchange for an OAuth card."""

    id: str | None = None
    uri: str | None = None
    provider_id: str | None = None


@attrs.define(kw_only=True, repr=False)
class TokenPostResource(Model):
    """Where a client may post a token directly for an OAuth card (a SAS URL: a secret, kept out of reprs)."""

    sas_url: str | None = attrs.field(default=None, repr=False)


@attrs.define(kw_only=True, repr=False)
class MediaEventValue(Model):
    """The ``value`` of a media event activity: the originating media card's value."""

    card_value: Any = None


# -- cards -------------------------------------------------------------------------------------------------


@attrs.define(kw_only=True, repr=False)
class _Card(Model):
    """Base of the cards: knows its attachment content type."""

    CONTENT_TYPE: ClassVar[str]

    def to_attachment(self) -> Attachment:
        """An attachment carrying this card (``content`` is the card's wire dict)."""
        return Attachment(content_type=self.CONTENT_TYPE, content=self.to_dict())


@attrs.define(kw_only=True, repr=False)
class _ImageCard(_Card):
    """Fields shared by hero, thumbnail and basic cards."""

    title: str | None = None
    subtitle: str | None = None
    text: str | None = None
    images: list[CardImage] | None = None
    buttons: list[CardAction] | None = None
    tap: CardAction | None = None


@attrs.define(kw_only=True, repr=False)
class HeroCard(_ImageCard):
    """A card with one large image, title, text and buttons."""

    CONTENT_TYPE: ClassVar[str] = "application/vnd.microsoft.card.hero"


@attrs.define(kw_only=True, repr=False)
class ThumbnailCard(_ImageCard):
    """A card with a thumbnail image, title, text and buttons."""

    CONTENT_TYPE: ClassVar[str] = "application/vnd.microsoft.card.thumbnail"


@attrs.define(kw_only=True, repr=False)
class BasicCard(_ImageCard):
    """The generic image card shape; it has no content type of its own and is sent as a hero card."""

    CONTENT_TYPE: ClassVar[str] = "application/vnd.microsoft.card.hero"


@attrs.define(kw_only=True, repr=False)
class _MediaCardBase(_Card):
    """Fields shared by the animation, audio, video and media cards."""

    title: str | None = None
    subtitle: str | None = None
    text: str | None = None
    image: ThumbnailUrl | None = None
    media: list[MediaUrl] | None = None
    buttons: list[CardAction] | None = None
    shareable: bool | None = None
    autoloop: bool | None = None
    autostart: bool | None = None
    aspect: str | None = None
    duration: str | None = None
    value: Any = None


@attrs.define(kw_only=True, repr=False)
class AnimationCard(_MediaCardBase):
    """A card playing an animated image or short silent video."""

    CONTENT_TYPE: ClassVar[str] = "application/vnd.microsoft.card.animation"


@attrs.define(kw_only=True, repr=False)
class AudioCard(_MediaCardBase):
    """A card playing audio."""

    CONTENT_TYPE: ClassVar[str] = "application/vnd.microsoft.card.audio"


@attrs.define(kw_only=True, repr=False)
class VideoCard(_MediaCardBase):
    """A card playing video."""

    CONTENT_TYPE: ClassVar[str] = "application/vnd.microsoft.card.video"


@attrs.define(kw_only=True, repr=False)
class MediaCard(_MediaCardBase):
    """A card playing media of any kind."""

    CONTENT_TYPE: ClassVar[str] = "application/vnd.microsoft.card.media"


@attrs.define(kw_only=True, repr=False)
class ReceiptCard(_Card):
    """A receipt: line items, facts, tax and total."""

    CONTENT_TYPE: ClassVar[str] = "application/vnd.microsoft.card.receipt"

    title: str | None = None
    facts: list[Fact] | None = None
    items: list[ReceiptItem] | None = None
    tap: CardAction | None = None
    total: str | None = None
    tax: str | None = None
    vat: str | None = None
    buttons: list[CardAction] | None = None


@attrs.define(kw_only=True, repr=False)
class SigninCard(_Card):
    """A card asking the user to sign in."""

    CONTENT_TYPE: ClassVar[str] = "application/vnd.microsoft.card.signin"

    text: str | None = None
    buttons: list[CardAction] | None = None


@attrs.define(kw_only=True, repr=False)
class OAuthCard(_Card):
    """A sign-in card bound to an OAuth connection of the bot, optionally offering token exchange."""

    CONTENT_TYPE: ClassVar[str] = "application/vnd.microsoft.card.oauth"

    text: str | None = None
    connection_name: str | None = None
    token_exchange_resource: TokenExchangeResource | None = None
    token_post_resource: TokenPostResource | None = None
    buttons: list[CardAction] | None = None
