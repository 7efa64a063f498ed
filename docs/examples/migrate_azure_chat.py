"""The "From azure-communication-chat" guide: what code written for the Azure SDK keeps doing after the import change.

An identifier object of the Azure SDK's shape, an endpoint without a scheme, azure-core keyword arguments (one
of them a pipeline option, ignored with a warning), ``async for`` over pages, and an ``except`` clause naming
azure-core's exception class. Offline: the emulator serves https with a throwaway CA, trusted with
``connection_verify=`` as an Azure SDK client would trust it.

    python docs/examples/migrate_azure_chat.py
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import anyio

# the application's own except clauses keep naming azure-core's classes
from azure.core.exceptions import ResourceNotFoundError

from botconnect.emulator import Emulator
from botconnect.models.identifiers import as_identifier

# --8<-- [start:imports]
# was: from azure.communication.chat.aio import ChatClient, ChatParticipant, CommunicationTokenCredential
from botconnect_aio.chat import ChatClient, ChatParticipant, CommunicationTokenCredential, IgnoredAzureOptionWarning

# --8<-- [end:imports]


@dataclass
class AzureStyleUser:
    """Stands for azure.communication.identity's CommunicationUserIdentifier: raw_id, kind and properties."""

    raw_id: str
    kind: str = "communication_user"
    properties: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.properties = {"id": self.raw_id}


# --8<-- [start:dropin]
async def azure_sdk_code(endpoint: str, token: str, user: AzureStyleUser, ca_file: str) -> None:
    """Written for azure-communication-chat; only the imports above changed."""
    # endpoint without a scheme (https:// is added); connection_verify / headers / retry_total as in azure-core
    client = ChatClient(
        endpoint,
        CommunicationTokenCredential(token),
        connection_verify=ca_file,
        headers={"x-app": "support-desk"},
        retry_total=2,
    )
    async with client:
        created = await client.create_chat_thread(
            "Support",
            # at run time identifier=user works as it is; as_identifier gives mypy our CommunicationIdentifier
            thread_participants=[ChatParticipant(identifier=as_identifier(user), display_name="Ada")],
        )
        assert created.chat_thread is not None
        assert created.chat_thread.id
        async with client.get_chat_thread_client(created.chat_thread.id) as thread:
            await thread.send_message("Hello", sender_display_name="Ada")
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", IgnoredAzureOptionWarning)
                # an option of azure-core's own pipeline: there is no such pipeline here, so it is ignored
                await thread.send_typing_notification(raw_response_hook=print)
            print("warned:", [str(warning.message) for warning in caught])
            async for page in thread.list_messages(results_per_page=2).by_page():
                async for message in page:
                    print(f"{message.type}: {message.content.message if message.content else None}")
            async for participant in thread.list_participants():
                print(f"participant {participant.display_name}: the same user? {participant.identifier == user}")
            try:
                await thread.get_message("no-such-message")
            except ResourceNotFoundError as error:
                ours = f"{type(error).__module__}.{type(error).__name__}"
                print(f"except azure.core.exceptions.ResourceNotFoundError caught {ours}: {error.status_code}")
        await client.delete_chat_thread(created.chat_thread.id)


# --8<-- [end:dropin]


async def main() -> None:
    with Emulator(tls=True) as emulator:
        assert emulator.ca_file is not None
        token, raw_id = emulator.issue_acs_token()
        endpoint = emulator.url.removeprefix("https://")
        await azure_sdk_code(endpoint, token, AzureStyleUser(raw_id), emulator.ca_file)


if __name__ == "__main__":
    anyio.run(main)
