"""Quick figure: sync ``send_to_conversation`` vs a raw httpx POST of the same bytes, same transport, loopback.

Prints calls/s for both and the ratio measured in the same run (the full suite is `nox -s bench`).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import anyio
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import serve

import botconnect
import botconnect_aio
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
        async_raw, async_sdk = anyio.run(measure_async, base, url, body, headers)
    print(f"sync  raw httpx POST          {raw_rate:8.0f} calls/s")
    print(f"sync  send_to_conversation    {sdk_rate:8.0f} calls/s   {sdk_rate / raw_rate:5.2f}x raw")
    print(f"async raw httpx POST          {async_raw:8.0f} calls/s")
    print(f"async send_to_conversation    {async_sdk:8.0f} calls/s   {async_sdk / async_raw:5.2f}x raw")


async def measure_async(base: str, url: str, body: bytes, headers: dict[str, str]) -> tuple[float, float]:
    async def rate_async(fn: object) -> float:
        best = 0.0
        for _ in range(3):
            start = time.perf_counter()
            for _ in range(CALLS):
                await fn()  # type: ignore[operator]
            best = max(best, CALLS / (time.perf_counter() - start))
        return best

    async with httpx.AsyncClient() as raw:

        async def post() -> None:
            (await raw.post(url, content=body, headers=headers)).json()

        raw_rate = await rate_async(post)
    async with botconnect_aio.ConnectorClient(base) as client:

        async def send() -> None:
            await client.conversations.send_to_conversation("a:1-conversation-id", ACTIVITY)

        sdk_rate = await rate_async(send)
    return raw_rate, sdk_rate


if __name__ == "__main__":
    main()
