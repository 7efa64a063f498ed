"""Code written for azure-communication-chat, moved to botconnect by changing the import.

Everything below ``main`` is what an Azure SDK user already has: identifiers from
``CommunicationIdentityClient.create_user()`` (any object with ``raw_id`` / ``kind`` / ``properties``), azure-core
keyword arguments (``connection_verify=``, ``headers=``, ``retry_total=``, ``logging_enable=``), pages iterated with
``by_page()``, and ``except azure.core.exceptions.ResourceNotFoundError`` (our errors are azure-core's too, once
azure-core is imported). Only this line changed::

    from azure.communication.chat import ChatClient, ChatParticipant, CommunicationTokenCredential

Offline: it starts botconnect's emulator over https (a throwaway CA, trusted here with ``connection_verify=``, as an
Azure SDK client would be) and makes users with azure-communication-identity when that is installed, else with the
emulator's own token issuer.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from _acs_users import make_users

from botconnect.chat import ChatClient, ChatMessageType, ChatParticipant, CommunicationTokenCredential

try:
    from azure.core.exceptions import ResourceNotFoundError
except ImportError:  # without azure-core, the same name from botconnect
    from botconnect.errors import ResourceNotFoundError


def chat(endpoint: str, token: str, user: Any, new_user: Any, ca_file: str) -> None:
    chat_client = ChatClient(
        endpoint, CommunicationTokenCredential(token), connection_verify=ca_file, headers={"x-app": "sample"}
    )
    with chat_client:
        participants = [ChatParticipant(identifier=user, display_name="Fred", share_history_time=datetime.now(UTC))]
        result = chat_client.create_chat_thread("test topic", thread_participants=participants)
        print(f"created thread {result.chat_thread.id!r}, errors: {result.errors}")
        chat_thread_client = chat_client.get_chat_thread_client(result.chat_thread.id)

        sent = chat_thread_client.send_message("Hello! My name is Fred", sender_display_name="Fred", retry_total=2)
        chat_thread_client.send_message("<b>Bold</b>", chat_message_type=ChatMessageType.HTML)
        chat_thread_client.add_participants([ChatParticipant(identifier=new_user, display_name="Wilma")])
        chat_thread_client.update_topic(topic="updated thread topic")

        start_time = datetime.now(UTC) - timedelta(days=1)
        for page in chat_thread_client.list_messages(results_per_page=2, start_time=start_time).by_page():
            for message in page:
                added = [p.display_name for p in message.content.participants]  # [] when none, as in the Azure SDK
                print(f"{message.type}: {message.content.message or message.content.topic or added}")

        chat_thread_client.remove_participant(new_user)
        print(f"participants: {[p.display_name for p in chat_thread_client.list_participants()]}")
        try:
            chat_thread_client.get_message("no-such-message", logging_enable=True)
        except ResourceNotFoundError as error:
            print(f"not found, as expected: {error.status_code} {error.error.code}")
        chat_thread_client.send_read_receipt(sent.id)
        readers = [r.sender == user for r in chat_thread_client.list_read_receipts()]  # ours == Azure's, by raw id
        print(f"message {sent.id} read by Fred: {readers}")
        chat_client.delete_chat_thread(result.chat_thread.id)
        print("deleted the thread")


def main() -> int:
    from botconnect.emulator import Emulator

    with Emulator(tls=True) as emulator:
        assert emulator.ca_file is not None
        token, user, new_user = make_users(emulator)
        # an endpoint without a scheme gets https://, as in the Azure SDK
        chat(emulator.url.removeprefix("https://"), token, user, new_user, emulator.ca_file)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
