"""The users the Azure samples make with the identity service: azure-communication-identity's
``CommunicationIdentityClient`` against the emulator's identity routes when it is installed, else the emulator's own
token issuer. Shared by chat_from_azure_sdk.py and chat_from_azure_sdk_async.py."""

from __future__ import annotations

from typing import Any


def make_users(emulator: Any) -> tuple[str, Any, Any]:
    """(token, user, new_user), as the Azure samples get them from the identity service."""
    try:
        from azure.communication.identity import CommunicationIdentityClient
    except ImportError:
        from botconnect.chat import identifier_from_raw_id

        token, raw_id = emulator.issue_acs_token()
        _, other = emulator.issue_acs_token()
        return token, identifier_from_raw_id(raw_id), identifier_from_raw_id(other)
    identity_client = CommunicationIdentityClient.from_connection_string(
        emulator.acs_connection_string, connection_verify=emulator.ca_file
    )
    user = identity_client.create_user()
    return identity_client.get_token(user, scopes=["chat"]).token, user, identity_client.create_user()
