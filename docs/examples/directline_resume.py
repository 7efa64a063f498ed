"""A Direct Line client app (sync): a token minted from the secret on the server side, a streaming conversation,
and a resume later from the saved conversation id, token and watermark, with what the bot said meanwhile.

Runs offline against the local emulator (``python docs/examples/directline_resume.py``); with DIRECTLINE_SECRET set
the same code talks to your bot on the real service (the "meanwhile" step needs the emulator).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from botconnect import ChannelAccount, ConnectionStatus, DirectLineClient, DirectLineConversation
from botconnect.emulator import Emulator

USER = ChannelAccount(id="dl-user-1", name="Ada")


# --8<-- [start:token]
def token_for_a_browser(secret: str, endpoint: str) -> str:
    """Server side: never ship the secret to a client; mint a conversation token from it."""
    with DirectLineClient(secret=secret, endpoint=endpoint) as server:
        conversation = server.tokens.generate_token()
    assert conversation.token is not None
    return conversation.token


# --8<-- [end:token]


def bot_reply(conversation: DirectLineConversation) -> str | None:
    """The next message from the bot (the user's own messages come back on the stream too)."""
    for activity in conversation.activities(timeout=30):
        if activity.type == "message" and activity.from_property and activity.from_property.id != USER.id:
            return activity.text
    return None


@contextmanager
def service() -> Iterator[tuple[str, str, Emulator | None]]:
    secret = os.environ.get("DIRECTLINE_SECRET")
    if secret:
        yield secret, os.environ.get("DIRECTLINE_ENDPOINT", "https://directline.botframework.com"), None
        return
    with Emulator() as emulator:
        yield emulator.secret, emulator.url, emulator


def main() -> None:
    with service() as (secret, endpoint, emulator):
        token = token_for_a_browser(secret, endpoint)
        # --8<-- [start:session]
        statuses: list[str] = []
        with (
            DirectLineClient(token=token, endpoint=endpoint) as client,
            client.open_conversation(user=USER, on_status=lambda status: statuses.append(status.name)) as chat,
        ):
            chat.send("hello")
            print("bot:", bot_reply(chat))
            saved = (chat.conversation_id, chat.token, chat.watermark)  # store these to resume later
        print("statuses:", " -> ".join(statuses))
        # --8<-- [end:session]

        conversation_id, saved_token, watermark = saved
        assert conversation_id is not None
        assert saved_token is not None
        if emulator is not None:
            emulator.directline.bot_says(conversation_id, "Are you still there?")  # while the app was closed

        # --8<-- [start:resume]
        with (
            DirectLineClient(token=saved_token, endpoint=endpoint) as client,
            client.open_conversation(conversation_id=conversation_id, watermark=watermark, user=USER) as chat,
        ):
            assert chat.status is ConnectionStatus.ONLINE
            if emulator is not None:
                print("missed while away:", bot_reply(chat))
            chat.send("yes, back now")
            print("bot:", bot_reply(chat))
        # --8<-- [end:resume]


if __name__ == "__main__":
    main()
