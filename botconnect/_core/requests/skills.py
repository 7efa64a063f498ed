"""Bot-to-bot: a parent bot (the skill host) posting an activity to a skill's messaging endpoint.

What goes on the wire is what every Bot Framework SDK sends (``BotFrameworkHttpClient.post_activity``): a copy
of the activity re-addressed to the skill conversation, relating back to the original one, with a token for
the skill's app id.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Generic, TypeVar

import attrs
import httpx

from ...models import (
    Activity,
    ChannelAccount,
    ConversationAccount,
    ConversationReference,
    DeliveryModes,
    ExpectedReplies,
    InvokeResponse,
    RoleTypes,
)
from .. import serde
from ..clientconfig import check_credential, client_call_config
from ..operation import Operation
from ..pipeline import CallConfig
from ..responses import model_parser
from ..retry import RetryPolicy
from ..security import ensure_safe_for_credentials
from ._common import coerce_model
from .connector import normalize_service_url

__all__ = [
    "SkillCall",
    "build_post_activity",
    "build_post_buffered_activity",
    "parse_invoke_response",
    "skill_activity",
    "skill_config",
]

T = TypeVar("T")

#: the skill's answer, whatever its status, is the result of post_activity (as in every Bot Framework SDK)
_ANY_STATUS = frozenset(range(100, 1000))
_SUCCESS = frozenset(range(200, 300))
_CONVERSATION_ID_HEADER = "x-ms-conversation-id"


@attrs.frozen
class SkillCall(Generic[T]):
    """A skill call: the operation, and the scopes its token is for (None: anonymous, no Authorization)."""

    operation: Operation[T]
    scopes: tuple[str, ...] | None

    def config(self, base: CallConfig) -> CallConfig:
        """``base`` with this call's scopes: one client calls many skills, each with its own audience."""
        return attrs.evolve(base, scopes=self.scopes)


def skill_config(
    credential: Any,
    *,
    timeout: float | httpx.Timeout | None,
    retry_policy: RetryPolicy | None,
    user_agent: str | None,
) -> CallConfig:
    """Client-wide settings; the scopes are per call (:meth:`SkillCall.config`), so none are set here."""
    check_credential(credential)
    # skill endpoints are whatever the bot's configuration names: any https host (or loopback http)
    return client_call_config(
        timeout=timeout, retry_policy=retry_policy, user_agent=user_agent, scopes=None, trusted_hosts=None
    )


def build_post_activity(
    credential: Any,
    from_bot_id: str | None,
    to_bot_id: str,
    to_url: str | httpx.URL,
    service_url: str,
    conversation_id: str,
    activity: Activity | Mapping[str, Any],
) -> SkillCall[InvokeResponse]:
    request, scopes = _skill_request(
        credential, from_bot_id, to_bot_id, to_url, service_url, conversation_id, activity, buffered=False
    )
    return SkillCall(Operation(request=request, parse=parse_invoke_response, success=_ANY_STATUS), scopes)


def build_post_buffered_activity(
    credential: Any,
    from_bot_id: str | None,
    to_bot_id: str,
    to_url: str | httpx.URL,
    service_url: str,
    conversation_id: str,
    activity: Activity | Mapping[str, Any],
) -> SkillCall[ExpectedReplies]:
    request, scopes = _skill_request(
        credential, from_bot_id, to_bot_id, to_url, service_url, conversation_id, activity, buffered=True
    )
    # no status to hand back with the replies: a non-2xx answer raises the usual HttpResponseError
    operation = Operation(request=request, parse=model_parser(ExpectedReplies, empty_ok=True), success=_SUCCESS)
    return SkillCall(operation, scopes)


def _skill_request(
    credential: Any,
    from_bot_id: str | None,
    to_bot_id: str,
    to_url: str | httpx.URL,
    service_url: str,
    conversation_id: str,
    activity: Activity | Mapping[str, Any],
    *,
    buffered: bool,
) -> tuple[httpx.Request, tuple[str, ...] | None]:
    if from_bot_id is not None and not isinstance(from_bot_id, str):
        raise TypeError(f"from_bot_id must be a str, got {type(from_bot_id).__name__}")
    if not isinstance(to_bot_id, str):
        raise TypeError(f"to_bot_id must be a str, got {type(to_bot_id).__name__}")
    # as in the other SDKs, a caller with no app id of its own calls anonymously (local development)
    authenticated = credential is not None and bool(from_bot_id)
    if authenticated:
        _check_caller(credential, from_bot_id or "")
        if not to_bot_id.strip():
            raise ValueError("to_bot_id (the skill's app id) must not be empty: the token is requested for it")
    url = _endpoint(to_url)
    normalize_service_url(service_url)  # only validated: the skill calls back at exactly the URL given
    _check_conversation_id(conversation_id)
    original = coerce_model(activity, Activity, "activity")
    if authenticated:
        # refused with the other argument checks (call_flow would also refuse it, before asking for a token)
        ensure_safe_for_credentials(url, None)
    sent = skill_activity(original, service_url, conversation_id)
    if buffered:
        sent.delivery_mode = DeliveryModes.EXPECT_REPLIES
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        _CONVERSATION_ID_HEADER: conversation_id,
    }
    request = httpx.Request("POST", url, content=sent.to_json(), headers=headers)
    return request, (_scope(to_bot_id),) if authenticated else None


def skill_activity(original: Activity, service_url: str, conversation_id: str) -> Activity:
    """The copy of ``original`` a skill receives; ``original`` and everything it holds stay untouched."""
    sent = Activity.from_dict(original.to_dict())  # a deep copy: nothing is shared with the caller's objects
    sent.relates_to = ConversationReference(
        service_url=sent.service_url,
        activity_id=sent.id,
        channel_id=sent.channel_id,
        conversation=sent.conversation,  # the original conversation (the copy below gets the skill's id)
        user=sent.from_property,
        bot=None,
        locale=sent.locale,
    )
    if sent.conversation is None:
        sent.conversation = ConversationAccount(id=conversation_id)
    else:
        sent.conversation = attrs.evolve(sent.conversation, id=conversation_id)
    sent.service_url = service_url
    if sent.recipient is None:
        sent.recipient = ChannelAccount(role=RoleTypes.SKILL)
    else:
        sent.recipient = attrs.evolve(sent.recipient, role=RoleTypes.SKILL)
    return sent


def parse_invoke_response(response: httpx.Response) -> InvokeResponse:
    """The skill's status and body: parsed JSON, the text of any other body, None when empty."""
    return InvokeResponse(response.status_code, _body(response))


def _body(response: httpx.Response) -> Any:
    content = response.content
    if not content.strip():
        return None
    if _may_be_json(response.headers.get("content-type")):
        try:
            return serde.loads(content)
        except (ValueError, UnicodeDecodeError, RecursionError):
            pass  # e.g. an error page from a proxy that claims to be JSON: its text is still worth showing
    return response.text


def _may_be_json(content_type: str | None) -> bool:
    if not content_type:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _scope(to_bot_id: str) -> str:
    to_bot_id = to_bot_id.strip()
    return to_bot_id if to_bot_id.endswith("/.default") else f"{to_bot_id}/.default"


def _check_caller(credential: Any, from_bot_id: str) -> None:
    # A token says who the caller is (its appid claim), and the skill authorizes callers by that app id: a
    # credential for another app would be refused by the skill, or worse, accepted as a bot it is not.
    app_id = getattr(credential, "app_id", None)
    if isinstance(app_id, str) and app_id and app_id.strip().lower() != from_bot_id.strip().lower():
        raise ValueError(f"from_bot_id {from_bot_id!r} is not the app id of the credential ({app_id!r})")


def _endpoint(to_url: str | httpx.URL) -> httpx.URL:
    if not isinstance(to_url, str | httpx.URL):
        raise TypeError(f"to_url must be a str, got {type(to_url).__name__}")
    try:
        url = httpx.URL(str(to_url).strip())
    except httpx.InvalidURL as exc:
        raise ValueError(f"to_url is not a valid URL: {exc}") from exc
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"to_url must be an absolute http(s) URL (the skill's endpoint), got {str(to_url)!r}")
    if url.userinfo:
        raise ValueError("to_url must not carry a user name or password")
    return url.copy_with(fragment=None)


def _check_conversation_id(conversation_id: str) -> None:
    if not isinstance(conversation_id, str):
        raise TypeError(f"conversation_id must be a str, got {type(conversation_id).__name__}")
    if not conversation_id.strip():
        raise ValueError("conversation_id must not be empty")
    # it travels in the x-ms-conversation-id header: printable ASCII only
    if not all(" " <= c <= "~" for c in conversation_id):
        raise ValueError("conversation_id must be printable ASCII (it is sent in the x-ms-conversation-id header)")
