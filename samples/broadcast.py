"""A bot broadcasting to many conversations from a thread pool, on a connection pool sized for it.

Sync clients run on ``HTTP11Transport`` (httpx's pool) by default; give ``transport=`` your own to size it for the
threads you run. Offline by default: the local emulator starts in this process (needs the emulator extra:
``pip install -e ".[emulator]"``) and 8 threads send 60 activities to 6 conversations. To broadcast on a real
channel instead, set BOTCONNECT_SERVICE_URL, BOTCONNECT_CONVERSATION_IDS (comma separated), MICROSOFT_APP_ID and
MICROSOFT_APP_PASSWORD.
"""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import botconnect
from botconnect.models import Activity, ChannelAccount, ConversationParameters

BOT = ChannelAccount(id="bot-1", name="Sample Bot")
MESSAGES_EACH = 10
THREADS = 8


@contextlib.contextmanager
def connector() -> Iterator[tuple[botconnect.ConnectorClient, list[str]]]:
    """(client, conversation ids): the real channel when BOTCONNECT_SERVICE_URL is set, else the local emulator."""
    pool = botconnect.HTTP11Transport(max_connections=THREADS, max_keepalive_connections=THREADS, keepalive_expiry=30)
    service_url = os.environ.get("BOTCONNECT_SERVICE_URL")
    if service_url:
        credential = botconnect.MicrosoftAppCredentials(
            os.environ["MICROSOFT_APP_ID"], os.environ["MICROSOFT_APP_PASSWORD"]
        )
        with botconnect.ConnectorClient(service_url, credential, transport=pool) as client:
            yield client, os.environ["BOTCONNECT_CONVERSATION_IDS"].split(",")
        return
    from botconnect.emulator import Emulator

    with Emulator(bot_account=BOT.to_dict()) as emulator, emulator.connector_client(transport=pool) as client:
        ids = []
        for i in range(1, 7):
            created = client.conversations.create_conversation(
                ConversationParameters(bot=BOT, members=[ChannelAccount(id=f"user-{i}")])
            )
            assert created.id is not None
            ids.append(created.id)
        print(f"created {len(ids)} conversations on the local emulator at {emulator.service_url}")
        yield client, ids


def main() -> int:
    with connector() as (client, conversation_ids):

        def announce(conversation_id: str, number: int) -> str:
            text = f"Announcement {number} of {MESSAGES_EACH}"
            result = client.conversations.send_to_conversation(
                conversation_id, Activity(type="message", text=text, from_property=BOT)
            )
            assert result.id is not None
            return conversation_id

        jobs = [(c, n) for c in conversation_ids for n in range(1, MESSAGES_EACH + 1)]
        with ThreadPoolExecutor(THREADS) as threads:  # one client, shared by every thread
            sent = Counter(threads.map(lambda job: announce(*job), jobs))
        print(f"sent {sum(sent.values())} activities to {len(sent)} conversations from {THREADS} threads")
        print(f"per conversation: {sorted(set(sent.values()))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
