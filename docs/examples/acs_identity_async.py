"""The "ACS identities" guide, async: users and tokens signed with the resource's access key, on asyncio or trio.

Offline: the local emulator plays the ACS resource; its identity service checks every request's HMAC-SHA256
signature against its access key, so a wrong key is refused as a real resource refuses it.

    python docs/examples/acs_identity_async.py
"""

from __future__ import annotations

import anyio

from botconnect.emulator import Emulator
from botconnect.errors import ClientAuthenticationError
from botconnect_aio import CommunicationTokenCredential
from botconnect_aio.chat import ChatClient

# --8<-- [start:imports]
# was: from azure.communication.identity.aio import CommunicationIdentityClient, CommunicationTokenScope
from botconnect_aio.identity import CommunicationIdentityClient, CommunicationTokenScope

# --8<-- [end:imports]


# --8<-- [start:key]
async def with_the_access_key(endpoint: str, access_key: str) -> None:
    """The endpoint and the key (a str, or azure-core's AzureKeyCredential, read at every call)."""
    async with CommunicationIdentityClient(endpoint, access_key) as identities:
        user, token = await identities.create_user_and_token([CommunicationTokenScope.CHAT])
        print(f"created {user.raw_id}; its token expires at {token.expires_on} (Unix seconds)")
        async with ChatClient(endpoint, CommunicationTokenCredential(token.token)) as chat:
            created = await chat.create_chat_thread("Signed in")
            print(f"{user.raw_id} created a thread: {created.chat_thread is not None}")
        await identities.delete_user(user)


async def with_a_wrong_key(endpoint: str) -> None:
    """Every request is signed (HMAC-SHA256 over the method, path and query, date, host and body hash)."""
    async with CommunicationIdentityClient(endpoint, "d3Jvbmcga2V5") as identities:  # base64 of "wrong key"
        try:
            await identities.create_user()
        except ClientAuthenticationError as error:
            print(f"a wrong access key is refused: {error.status_code}")


# --8<-- [end:key]


async def main() -> None:
    with Emulator() as emulator:  # the ACS resource and its identity service, on loopback
        # --8<-- [start:connection_string]
        # "endpoint=https://<resource>.communication.azure.com/;accesskey=<key>", from the portal's Keys page
        async with CommunicationIdentityClient.from_connection_string(emulator.acs_connection_string) as identities:
            user = await identities.create_user()
            token = await identities.get_token(user, ["chat", CommunicationTokenScope.VOIP])
            await identities.revoke_tokens(user)  # every token issued to the user so far stops working
            print(f"{user.raw_id}: a token issued, then revoked ({len(token.token)} characters)")
        # --8<-- [end:connection_string]
        await with_the_access_key(emulator.url, emulator.acs_access_key)
        await with_a_wrong_key(emulator.url)


if __name__ == "__main__":
    anyio.run(main)
