"""Direct Line 3.0 bodies: conversations (with their tokens and stream URLs), activity sets, token parameters."""

import attrs

from ._base import Model, wire
from .accounts import ChannelAccount
from .activity import Activity

__all__ = ["ActivitySet", "Conversation", "TokenParameters"]


@attrs.define(kw_only=True, repr=False)
class Conversation(Model):
    """A Direct Line conversation or conversation token: id, token, its lifetime, and the WebSocket stream URL."""

    conversation_id: str | None = None
    token: str | None = attrs.field(default=None, repr=False)
    #: seconds until ``token`` expires (the one snake_case key on the Direct Line wire)
    expires_in: int | None = wire("expires_in")
    stream_url: str | None = attrs.field(default=None, repr=False)
    reference_grammar_id: str | None = None
    e_tag: str | None = None


@attrs.define(kw_only=True, repr=False)
class ActivitySet(Model):
    """Activities received by polling or over the stream, with the watermark to resume after them."""

    activities: list[Activity] | None = None
    #: opaque position in the conversation; a number on the wire is accepted and kept as its string
    watermark: str | None = None


@attrs.define(kw_only=True, repr=False)
class TokenParameters(Model):
    """Parameters for a new token: the user to embed and the origins it may be used from."""

    user: ChannelAccount | None = None
    trusted_origins: list[str] | None = None
    e_tag: str | None = None
