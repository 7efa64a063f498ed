"""The emulator's switches of the "Running the emulator" guide: https, CORS, the bot account, the inspector feed.

Each part starts its own emulator on a free loopback port, talks to it the way an app or a web page would, and
prints what it saw. Offline; needs the emulator extra.

    python docs/examples/emulator_options.py
"""

from __future__ import annotations

import httpx

import botconnect
from botconnect.emulator import Emulator
from botconnect.models import Activity, ChannelAccount

USER = ChannelAccount(id="user-1", name="Ada")


# --8<-- [start:tls]
def over_https() -> None:
    """``Emulator(tls=True)`` (``--tls``): https with a throwaway CA that only your clients trust."""
    with Emulator(tls=True) as emulator:
        print(f"serving {emulator.url}")  # https://127.0.0.1:<port>
        # a transport of the client's own, trusting the emulator's CA and nothing else
        transport = botconnect.HTTP11Transport(ssl_context=emulator.ssl_context())
        with botconnect.DirectLineClient(secret=emulator.secret, endpoint=emulator.url, transport=transport) as client:
            conversation_id = client.conversations.start_conversation().conversation_id
            assert conversation_id  # the service always gives one; the model types every field Optional
            client.conversations.post_activity(
                conversation_id, Activity(type="message", text="over https", from_property=USER)
            )
            replies = client.conversations.get_activities(conversation_id)
            print("https:", [activity.text for activity in replies.activities or []])
        # tools that read SSL_CERT_FILE (Microsoft's SDKs, curl) can use the CA file while the emulator runs
        assert emulator.ca_file is not None
        with httpx.Client(verify=emulator.ssl_context()) as web:
            print("chat page over https:", web.get(emulator.url + "/").status_code)


# --8<-- [end:tls]


# --8<-- [start:cors]
def cross_origin() -> None:
    """``Emulator(cors_origins=[...])`` (``--cors-origin``): a web page on another origin may call Direct Line."""
    with Emulator(cors_origins=["https://chat.example.test"]) as emulator, httpx.Client() as web:
        for origin in ("https://chat.example.test", "https://elsewhere.example.test"):
            preflight = web.options(
                emulator.url + "/v3/directline/tokens/generate",
                headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
            )
            allowed = preflight.headers.get("access-control-allow-origin")
            print(f"preflight from {origin}: {preflight.status_code}, allowed origin {allowed}")


# --8<-- [end:cors]


# --8<-- [start:bot_account]
def bot_account_and_inspector() -> None:
    """``bot_account=`` (``--bot-id`` / ``--bot-name``) and the inspector's feed the chat page polls."""
    account = {"id": "support-bot", "name": "Support", "role": "bot"}
    with Emulator(bot_account=account) as emulator, emulator.directline_client() as client:
        conversation_id = client.conversations.start_conversation().conversation_id
        assert conversation_id
        client.conversations.post_activity(
            conversation_id, Activity(type="message", text="who are you?", from_property=USER)
        )
        activities = client.conversations.get_activities(conversation_id).activities or []
        for activity in activities:
            sender = activity.from_property
            print(f"{sender.id if sender else '?'} ({sender.name if sender else '?'}): {activity.text}")
        # the bot edits its reply through the Connector; a test injects a message with bot_says()
        reply_id = activities[-1].id
        assert reply_id
        with emulator.connector_client() as connector:
            edited = Activity(type="message", text="echo: who are you? (edited)")
            connector.conversations.update_activity(conversation_id, reply_id, edited)
        emulator.directline.bot_says(conversation_id, "said by the test")
        # what the chat page's activity inspector shows: every activity to and from the bot, with status and latency
        with httpx.Client() as web:
            feed = web.get(emulator.url + "/_emulator/inspector", params={"conversationId": conversation_id}).json()
        for entry in feed["entries"]:
            kind = entry["activity"].get("type") if entry["activity"] else None
            print(f"inspector: {entry['direction']} {entry['operation']} {kind} -> HTTP {entry['status']}")


# --8<-- [end:bot_account]


if __name__ == "__main__":
    over_https()
    cross_origin()
    bot_account_and_inspector()
