"""Restart the local emulator without ending its conversations: ``Emulator(state_file=...)`` (``--state FILE``).

A user chats with the echo bot; the bot says something more while the user's app is away; the emulator stops (a
developer restarting it), and a new one starts on the same file. The user's app comes back with the token and the
watermark it saved: it gets what it missed, then goes on chatting over the WebSocket stream. Offline only (needs
the emulator extra); the state file lives in a temporary directory here (``python -m botconnect.emulator --state
emulator.db`` keeps one for you).

    python samples/emulator_restart.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import botconnect
from botconnect.emulator import Emulator
from botconnect.models import Activity, ChannelAccount

USER = ChannelAccount(id="sample-user", name="Sam")


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        state = Path(directory) / "emulator.db"
        with Emulator(state_file=state) as emulator, emulator.directline_client() as client:
            started = client.conversations.start_conversation()
            conversation_id = started.conversation_id
            assert conversation_id  # the service always gives one; the model types every field Optional
            client.conversations.post_activity(conversation_id, Activity(type="message", text="hi", from_property=USER))
            seen = client.conversations.get_activities(conversation_id)
            for activity in seen.activities or []:
                print(f"{activity.from_property.id if activity.from_property else '?'}: {activity.text}")
            saved = (started.token, seen.watermark)  # what the app keeps to resume
            print(f"the app saves its token and watermark {seen.watermark}, and goes away")
            emulator.directline.bot_says(conversation_id, "anything else?")
        print("emulator stopped; a new one starts on the same state file")

        token, watermark = saved
        with (
            Emulator(state_file=state) as emulator,
            botconnect.DirectLineClient(token=token, endpoint=emulator.url) as client,
        ):
            missed = client.conversations.get_activities(conversation_id, watermark=watermark)
            print(f"missed while away: {[activity.text for activity in missed.activities or []]}")
            with client.open_conversation(
                conversation_id=conversation_id, watermark=missed.watermark, user=USER
            ) as conversation:
                sent = conversation.send("yes: are you still the same bot?")
                print(f"sent {sent} in the same conversation {conversation.conversation_id}")
                for activity in conversation.activities(timeout=20):
                    if activity.from_property is not None and activity.from_property.id != USER.id:
                        print(f"bot: {activity.text}")
                        break


if __name__ == "__main__":
    main()
