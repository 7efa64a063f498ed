"""Chat with a bot over Direct Line with the sync client: a streaming conversation session.

Offline by default: it starts botconnect's local emulator with its echo bot in this process (needs the emulator
extra: starlette and uvicorn), and cuts the stream once to show the session reconnecting without losing or
repeating anything. Set DIRECTLINE_SECRET (and DIRECTLINE_ENDPOINT for a regional endpoint) to talk to your bot on
the real service.
Messages to send may be given as arguments.

    python samples/directline_chat.py "hello" "how are you?"
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

import botconnect
from botconnect.directline import ConnectionStatus, DirectLineConversation

if TYPE_CHECKING:
    from botconnect.emulator.directline import DirectLine

DEFAULT_MESSAGES = ["hello", "what can you do?", "bye"]


_output = threading.Lock()


def say(line: str) -> None:
    with _output:  # status changes are reported from the session's thread
        print(line, flush=True)


def show_status(status: ConnectionStatus) -> None:
    say(f"[status] {status.name}")


def next_reply(conversation: DirectLineConversation) -> str | None:
    """The next activity from the bot (our own messages come back too), or None if none comes in time."""
    try:
        for activity in conversation.activities(timeout=30):
            if activity.from_property is None or activity.from_property.id != conversation.user.id:
                return activity.text if activity.type == "message" else f"<{activity.type}>"
    except TimeoutError:
        return None
    return None  # the conversation ended


@contextlib.contextmanager
def direct_line() -> Iterator[tuple[botconnect.DirectLineClient, DirectLine | None]]:
    """A client for the real service when DIRECTLINE_SECRET is set, else for a local one (also yielded)."""
    secret = os.environ.get("DIRECTLINE_SECRET")
    if secret:
        endpoint = os.environ.get("DIRECTLINE_ENDPOINT", "https://directline.botframework.com")
        with botconnect.DirectLineClient(secret=secret, endpoint=endpoint) as client:
            yield client, None
        return
    from botconnect.emulator import Emulator

    with (
        Emulator() as emulator,
        botconnect.DirectLineClient(secret=emulator.secret, endpoint=emulator.url) as client,
    ):
        yield client, emulator.directline


def main(messages: list[str]) -> int:
    with (
        direct_line() as (client, local_server),
        client.open_conversation(user="sample-user", on_status=show_status) as conversation,
    ):
        say(f"conversation {conversation.conversation_id} is {conversation.status.name}")
        for number, text in enumerate(messages):
            conversation.send(text)
            say(f"you: {text}")
            reply = next_reply(conversation)
            say(f"bot: {reply}" if reply is not None else "(no reply)")
            if local_server is not None and number == 0:
                say("(the local service cuts the stream)")
                local_server.drop_streams()
        if local_server is not None and messages[-1].strip().lower() == "bye":
            # the echo bot ends the conversation after "bye": the iteration stops by itself
            rest = [str(activity.type) for activity in conversation.activities(timeout=30)]
            say(f"then: {rest}; the conversation is {conversation.status.name}")
        say(f"resume later from watermark {conversation.watermark}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or DEFAULT_MESSAGES))
