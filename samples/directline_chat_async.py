"""Chat with a bot over Direct Line with the async client (asyncio, or trio with --trio): a streaming session.

Offline by default: it starts botconnect's local emulator with its echo bot in this process (needs the emulator
extra: starlette and uvicorn), and cuts the stream once to show the session reconnecting without losing or
repeating anything. Set DIRECTLINE_SECRET (and DIRECTLINE_ENDPOINT for a regional endpoint) to talk to your bot on
the real service.
Messages to send may be given as arguments.

    python samples/directline_chat_async.py --trio "hello" "how are you?"
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

import anyio

import botconnect_aio
from botconnect_aio.directline import ConnectionStatus, DirectLineConversation

if TYPE_CHECKING:
    from botconnect.emulator.directline import DirectLine

DEFAULT_MESSAGES = ["hello", "what can you do?", "bye"]


def show_status(status: ConnectionStatus) -> None:
    print(f"[status] {status.name}", flush=True)


async def next_reply(conversation: DirectLineConversation) -> str | None:
    """The next activity from the bot (our own messages come back too), or None if none comes in time."""
    try:
        async for activity in conversation.activities(timeout=30):
            if activity.from_property is None or activity.from_property.id != conversation.user.id:
                return activity.text if activity.type == "message" else f"<{activity.type}>"
    except TimeoutError:
        return None
    return None  # the conversation ended


@contextlib.contextmanager
def endpoint() -> Iterator[tuple[str, str, DirectLine | None]]:
    """(secret, endpoint, local server or None): the real service when DIRECTLINE_SECRET is set, else a local one."""
    secret = os.environ.get("DIRECTLINE_SECRET")
    if secret:
        yield secret, os.environ.get("DIRECTLINE_ENDPOINT", "https://directline.botframework.com"), None
        return
    from botconnect.emulator import Emulator

    with Emulator() as emulator:  # its own thread and event loop: any async library can talk to it
        yield emulator.secret, emulator.url, emulator.directline


async def chat(secret: str, url: str, local_server: DirectLine | None, messages: list[str]) -> None:
    async with (
        botconnect_aio.DirectLineClient(secret=secret, endpoint=url) as client,
        client.open_conversation(user="sample-user", on_status=show_status) as conversation,
    ):
        print(f"conversation {conversation.conversation_id} is {conversation.status.name}", flush=True)
        for number, text in enumerate(messages):
            await conversation.send(text)
            print(f"you: {text}", flush=True)
            reply = await next_reply(conversation)
            print(f"bot: {reply}" if reply is not None else "(no reply)", flush=True)
            if local_server is not None and number == 0:
                print("(the local service cuts the stream)", flush=True)
                local_server.drop_streams()
        if local_server is not None and messages[-1].strip().lower() == "bye":
            # the echo bot ends the conversation after "bye": the iteration stops by itself
            rest = [str(activity.type) async for activity in conversation.activities(timeout=30)]
            print(f"then: {rest}; the conversation is {conversation.status.name}", flush=True)
        print(f"resume later from watermark {conversation.watermark}", flush=True)


def main(arguments: list[str]) -> int:
    backend = "trio" if "--trio" in arguments else "asyncio"
    messages = [a for a in arguments if a != "--trio"] or DEFAULT_MESSAGES
    with endpoint() as (secret, url, local_server):
        anyio.run(chat, secret, url, local_server, messages, backend=backend)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
