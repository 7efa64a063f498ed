"""Async code written for azure-communication-chat (``azure.communication.chat.aio``), moved to botconnect_aio by
changing the import; it runs on asyncio, or on trio with ``--trio``.

As the Azure SDK's async samples do, it iterates pages with ``async for page in paged.by_page(): async for item in
page:``, passes identifiers from ``CommunicationIdentityClient.create_user()`` and azure-core keyword arguments,
and catches azure-core's exception classes. Offline against botconnect's emulator over https (see
chat_from_azure_sdk.py for the setup).
"""

from __future__ import annotations

import sys
from typing import Any

import anyio
from _acs_users import make_users

from botconnect_aio.chat import ChatClient, ChatParticipant, CommunicationTokenCredential

try:
    from azure.core.exceptions import HttpResponseError
except ImportError:  # without azure-core, the same name from botconnect
    from botconnect.errors import HttpResponseError


async def chat(endpoint: str, token: str, user: Any, new_user: Any, ca_file: str) -> None:
    chat_client = ChatClient(endpoint, CommunicationTokenCredential(token), connection_verify=ca_file)
    async with chat_client:
        participants = [ChatParticipant(identifier=user, display_name="Fred")]
        result = await chat_client.create_chat_thread("test topic", thread_participants=participants)
        chat_thread_client = chat_client.get_chat_thread_client(result.chat_thread.id)
        async with chat_thread_client:
            await chat_thread_client.send_message("Hello! My name is Fred", sender_display_name="Fred")
            failed = await chat_thread_client.add_participants([ChatParticipant(identifier=new_user, display_name="W")])
            print(f"added Wilma ({len(failed)} failures)")
            async for page in chat_thread_client.list_messages(results_per_page=1).by_page():
                async for message in page:
                    content = message.content
                    added = [p.display_name for p in content.participants]  # [] when none, as in the Azure SDK
                    print(f"{message.type}: {content.message or content.topic or added}")
            async for page in chat_thread_client.list_participants().by_page():
                async for participant in page:
                    print(f"participant {participant.display_name}: same as Fred? {participant.identifier == user}")
            try:
                await chat_thread_client.update_message("no-such-message", content="x", headers={"x-app": "sample"})
            except HttpResponseError as error:
                print(f"as expected: {error.status_code} {error.reason}")
        await chat_client.delete_chat_thread(result.chat_thread.id)
        print("deleted the thread")


async def main() -> None:
    from botconnect.emulator import Emulator

    with Emulator(tls=True) as emulator:
        assert emulator.ca_file is not None
        token, user, new_user = make_users(emulator)
        await chat(emulator.url, token, user, new_user, emulator.ca_file)


if __name__ == "__main__":
    anyio.run(main, backend="trio" if "--trio" in sys.argv else "asyncio")
