"""Quick figure: sync ``send_to_conversation`` vs a raw httpx POST of the same bytes, same transport, loopback.

Prints calls/s for both and the ratio measured in the same run (the full suite is `nox -s bench`).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import serve

import botconnect
from botconnect.models import Activity, ChannelAccount, ConversationAccount

CALLS = 3000
ACTIVITY = Activity(
    type="message",
    text="hello there, this is a typical bot message",
    from_property=ChannelAccount(id="28:bot-id", name="Bot"),
    recipient=ChannelAccount(id="29:user-id", name="User"),
    conversation=ConversationAccount(id="a:1-conversation-id"),
    channel_id="msteams",
    locale="en-US",
)


def rate(fn: object, calls: int) -> float:
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(calls):
            fn()  # type: ignore[operator]
        best = max(best, calls / (time.perf_counter() - start))
    return best


def main() -> None:
    with serve() as base:
        body = ACTIVITY.to_json()
        url = f"{base}/v3/conversations/a%3A1-conversation-id/activities"
        headers = {"Content-Type": "application/json; charset=utf-8", "Accept": "application/json"}
        with httpx.Client() as raw:
            raw_rate = rate(lambda: raw.post(url, content=body, headers=headers).json(), CALLS)
        with botconnect.ConnectorClient(base) as client:
            sdk_rate = rate(lambda: client.conversations.send_to_conversation("a:1-conversation-id", ACTIVITY), CALLS)
    print(f"raw httpx POST          {raw_rate:8.0f} calls/s")
    print(f"send_to_conversation    {sdk_rate:8.0f} calls/s")
    print(f"ratio                   {sdk_rate / raw_rate:8.2f}x raw")


if __name__ == "__main__":
    main()
