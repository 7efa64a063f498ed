"""ACS users and their access tokens with CommunicationIdentityClient, then chat with those tokens.

Offline by default: it starts botconnect's local emulator in this process (needs the emulator extra:
``pip install -e ".[emulator]"``), whose identity service checks the HMAC signature of every request against its
access key. To use a real Communication Services resource, set ACS_CONNECTION_STRING
(``endpoint=https://<resource>.communication.azure.com/;accesskey=<key>``, from the portal's Keys page).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from datetime import timedelta

from botconnect import (
    ChatClient,
    ChatParticipant,
    CommunicationIdentityClient,
    CommunicationTokenCredential,
    CommunicationTokenScope,
)
from botconnect.errors import ClientAuthenticationError


@contextlib.contextmanager
def resource() -> Iterator[str]:
    """The connection string: the real resource's when ACS_CONNECTION_STRING is set, else the local emulator's."""
    connection_string = os.environ.get("ACS_CONNECTION_STRING")
    if connection_string:
        yield connection_string
        return
    from botconnect.emulator import Emulator

    with Emulator() as emulator:
        yield emulator.acs_connection_string


def main() -> int:
    with resource() as connection_string, CommunicationIdentityClient.from_connection_string(connection_string) as ids:
        endpoint = ids.endpoint
        alice, alice_token = ids.create_user_and_token(
            [CommunicationTokenScope.CHAT], token_expires_in=timedelta(hours=1)
        )
        bob = ids.create_user()
        bob_token = ids.get_token(bob, [CommunicationTokenScope.CHAT])
        print(f"created users {alice.raw_id} and {bob.raw_id}")

        def refresh_alice() -> str:
            """Called by the credential when Alice's token nears its expiry: a new one from the identity service."""
            return ids.get_token(alice, [CommunicationTokenScope.CHAT]).token

        credential = CommunicationTokenCredential(alice_token.token, token_refresher=refresh_alice)
        with ChatClient(endpoint, credential) as alice_chat:
            thread = alice_chat.create_chat_thread(
                "Identity sample", thread_participants=[ChatParticipant(identifier=bob, display_name="Bob")]
            ).chat_thread
            assert thread is not None
            thread_id = str(thread.id)
            alice_chat.get_chat_thread_client(thread_id).send_message("Hello Bob", sender_display_name="Alice")

        with ChatClient(endpoint, CommunicationTokenCredential(bob_token.token)) as bob_chat:
            texts = [m for m in bob_chat.get_chat_thread_client(thread_id).list_messages() if m.type == "text"]
            print(f"Bob reads: {texts[0].content.message if texts[0].content else ''!r}")

            ids.revoke_tokens(bob)
            try:
                bob_chat.get_chat_thread_client(thread_id).send_message("still here?")
            except ClientAuthenticationError as error:
                print(f"Bob's revoked token is refused: {error.status_code}")

        fresh = ids.get_token(bob, [CommunicationTokenScope.CHAT])
        with ChatClient(endpoint, CommunicationTokenCredential(fresh.token)) as bob_chat:
            sent = bob_chat.get_chat_thread_client(thread_id).send_message("back with a new token")
            print(f"Bob sent message {sent.id} with a new token")

        for user in (alice, bob):
            ids.delete_user(user)
        print("deleted both users")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
