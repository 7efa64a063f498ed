"""The documents and ids every benchmark group shares."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

__all__ = [
    "ACS_THREAD",
    "CONVERSATION_ID",
    "INCOMING_ACTIVITY",
    "OUTGOING_ACTIVITY",
    "SMALL_ACTIVITY",
    "TEAMS_MESSAGE",
    "acs_token",
    "messages_thread",
    "members_conversation",
]

#: the conversation activities are sent to (percent-encoded by every client: ``a%3A1...``)
CONVERSATION_ID = "a:1-conversation-id-0123456789abcdefghijklmnopqrstuvwxyz"
#: an ACS thread id as the service gives them
ACS_THREAD = "19:acs-bench-thread_0123456789abcdef@thread.v2"


def members_conversation(total: int) -> str:
    """A conversation whose ``pagedmembers`` has ``total`` members on the bench server."""
    return f"19:members-{total}@thread.tacv2"


def messages_thread(total: int) -> str:
    """An ACS thread whose ``messages`` has ``total`` messages on the bench server."""
    return f"19:msgs-{total}@thread.v2"


def acs_token(days: float = 30.0) -> str:
    """An unsigned JWT with an ``exp`` claim: what both ACS credentials read (neither verifies signatures)."""

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    claims = {"skypeid": "acs:11111111-2222-3333-4444-555555555555_bench", "exp": int(time.time() + days * 86400)}
    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


#: an incoming Teams channel message as a bot's web handler receives it: mention, HTML and hero-card attachments,
#: client info entity, channel data (about 2.4 kB)
INCOMING_ACTIVITY: bytes = json.dumps(
    {
        "type": "message",
        "id": "1714566896789",
        "timestamp": "2024-05-01T12:34:56.789Z",
        "localTimestamp": "2024-05-01T14:34:56.789+02:00",
        "localTimezone": "Europe/Berlin",
        "serviceUrl": "https://smba.trafficmanager.net/emea/",
        "channelId": "msteams",
        "from": {
            "id": "29:1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-abcdefghijklmnopqrstuv",
            "name": "Ada Lovelace",
            "aadObjectId": "00000000-0000-0000-0000-00000000000a",
        },
        "conversation": {
            "isGroup": True,
            "conversationType": "channel",
            "tenantId": "11111111-2222-3333-4444-555555555555",
            "id": "19:0123456789abcdef0123456789abcdef@thread.tacv2;messageid=1714566896789",
        },
        "recipient": {"id": "28:00000000-0000-0000-0000-0000000000b0", "name": "Order Bot"},
        "textFormat": "plain",
        "locale": "en-US",
        "text": "<at>Order Bot</at> what is the status of order 42? It was due yesterday.",
        "attachments": [
            {
                "contentType": "text/html",
                "content": '<div><div><span itemscope itemtype="http://schema.skype.com/Mention" itemid="0">'
                "Order Bot</span> what is the status of order 42? It was due yesterday.</div></div>",
            },
            {
                "contentType": "application/vnd.microsoft.card.hero",
                "content": {
                    "title": "Order 42",
                    "subtitle": "Placed 2024-04-28",
                    "text": "3 items, express shipping",
                    "images": [{"url": "https://example.com/order42.png", "alt": "order"}],
                    "buttons": [
                        {"type": "openUrl", "title": "Track", "value": "https://example.com/track/42"},
                        {"type": "imBack", "title": "Cancel", "value": "cancel order 42"},
                    ],
                },
            },
        ],
        "entities": [
            {
                "type": "mention",
                "mentioned": {"id": "28:00000000-0000-0000-0000-0000000000b0", "name": "Order Bot"},
                "text": "<at>Order Bot</at>",
            },
            {"type": "clientInfo", "locale": "en-US", "country": "US", "platform": "Web", "timezone": "Europe/Berlin"},
        ],
        "channelData": {
            "teamsChannelId": "19:0123456789abcdef0123456789abcdef@thread.tacv2",
            "teamsTeamId": "19:fedcba9876543210fedcba9876543210@thread.tacv2",
            "channel": {"id": "19:0123456789abcdef0123456789abcdef@thread.tacv2"},
            "team": {"id": "19:fedcba9876543210fedcba9876543210@thread.tacv2"},
            "tenant": {"id": "11111111-2222-3333-4444-555555555555"},
        },
    },
    separators=(",", ":"),
).encode()

#: what a bot sends back (``create_reply`` plus text): the body of every send_to_conversation benchmark
OUTGOING_ACTIVITY: dict[str, Any] = {
    "type": "message",
    "text": "Order 42 shipped yesterday and arrives tomorrow before noon.",
    "textFormat": "plain",
    "locale": "en-US",
    "channelId": "msteams",
    "serviceUrl": "https://smba.trafficmanager.net/emea/",
    "from": {"id": "28:00000000-0000-0000-0000-0000000000b0", "name": "Order Bot"},
    "recipient": {"id": "29:1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-abcdefghijklmnopqrstuv", "name": "Ada Lovelace"},
    "conversation": {"isGroup": True, "id": "19:0123456789abcdef0123456789abcdef@thread.tacv2"},
    "replyToId": "1714566896789",
}

#: a small incoming activity (~400 bytes): a one-to-one Teams chat message with nothing but the addressing
SMALL_ACTIVITY: bytes = json.dumps(
    {
        "type": "message",
        "id": "1714566896789",
        "timestamp": "2024-05-01T12:34:56.789Z",
        "serviceUrl": "https://smba.trafficmanager.net/emea/",
        "channelId": "msteams",
        "from": {"id": "29:1AbCdEfGhIjKlMnOpQrStUvWxYz", "name": "Ada Lovelace"},
        "conversation": {"conversationType": "personal", "id": "a:1AbCdEfGhIjKlMn"},
        "recipient": {"id": "28:0000-0000-0000-0000-0000000000b0", "name": "Order Bot"},
        "locale": "en-US",
        "text": "order 42?",
    },
    separators=(",", ":"),
).encode()

#: a large incoming Teams channel message (~2.9 kB): INCOMING_ACTIVITY plus an Adaptive Card attachment, a second
#: mention, and the channel data Teams adds (event, settings, tenant)
TEAMS_MESSAGE: bytes = json.dumps(
    {
        **json.loads(INCOMING_ACTIVITY),
        "text": "<at>Order Bot</at> what is the status of order 42? <at>Grace Hopper</at> said it was due yesterday.",
        "attachments": [
            *json.loads(INCOMING_ACTIVITY)["attachments"],
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "content": {
                    "type": "AdaptiveCard",
                    "version": "1.5",
                    "body": [
                        {"type": "TextBlock", "text": "Order 42", "weight": "Bolder", "size": "Medium"},
                        {
                            "type": "TextBlock",
                            "text": "Express shipping from the Redmond warehouse; the carrier scanned it this morning.",
                            "wrap": True,
                            "isSubtle": True,
                        },
                        {
                            "type": "FactSet",
                            "facts": [
                                {"title": "Status", "value": "In transit"},
                                {"title": "Carrier", "value": "Contoso Express"},
                                {"title": "ETA", "value": "2024-05-02"},
                                {"title": "Tracking", "value": "CX-0042-7781-2024"},
                                {"title": "Items", "value": "3 (keyboard, mouse, monitor stand)"},
                            ],
                        },
                    ],
                    "actions": [{"type": "Action.Execute", "title": "Refresh", "verb": "refresh", "data": {"id": 42}}],
                },
            },
        ],
        "entities": [
            *json.loads(INCOMING_ACTIVITY)["entities"],
            {
                "type": "mention",
                "mentioned": {"id": "29:1GrAcEhOpPeR0123456789-abcdefghijklmnopqrstuv", "name": "Grace Hopper"},
                "text": "<at>Grace Hopper</at>",
            },
        ],
        "channelData": {
            **json.loads(INCOMING_ACTIVITY)["channelData"],
            "settings": {"selectedChannel": {"id": "19:0123456789abcdef0123456789abcdef@thread.tacv2"}},
            "tenant": {"id": "11111111-2222-3333-4444-555555555555"},
        },
    },
    separators=(",", ":"),
).encode()
