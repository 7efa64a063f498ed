"""The flows of Microsoft's azure-communication-identity samples (identity_samples.py and its async twin), written
out here with the same calls and only the import changed (``azure.communication.identity`` -> ``botconnect.identity``,
``.aio`` -> ``botconnect_aio.identity``), run against the emulator's identity service from its connection string.
The Entra ID variant (DefaultAzureCredential) and the MSAL sign-in of the Teams sample need real accounts: the Teams
exchange is run with a JWT-shaped stand-in for the Entra ID token."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

from botconnect.emulator import Emulator

TEAMS_TOKEN = "eyJhbGciOiJub25lIn0.eyJvaWQiOiJ0ZWFtcy11c2VyIn0.c2ln"  # shaped like an Entra ID token


@pytest.fixture(scope="module")
def connection_string() -> Iterator[str]:
    with Emulator() as emulator:
        yield emulator.acs_connection_string


def skype_id(token: str) -> str:
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    return "8:" + str(claims["skypeid"])


def test_the_sync_samples(connection_string: str, capsys: pytest.CaptureFixture[str]) -> None:
    from botconnect.identity import CommunicationIdentityClient, CommunicationTokenScope

    # create_user
    identity_client = CommunicationIdentityClient.from_connection_string(connection_string)
    user = identity_client.create_user()
    print("User created with id:" + user.properties.get("id"))
    # create_user_and_token
    user, tokenresponse = identity_client.create_user_and_token(scopes=[CommunicationTokenScope.CHAT])
    print("User created with id:" + user.properties.get("id"))
    print("Token issued with value: " + tokenresponse.token)
    assert skype_id(tokenresponse.token) == user.properties["id"]
    # get_token
    user = identity_client.create_user()
    tokenresponse = identity_client.get_token(user, scopes=[CommunicationTokenScope.CHAT])
    print("Token issued with value: " + tokenresponse.token)
    assert skype_id(tokenresponse.token) == user.properties["id"]
    # revoke_tokens
    identity_client.revoke_tokens(user)
    print(tokenresponse.token + " revoked successfully")
    # delete_user
    identity_client.delete_user(user)
    print(user.properties.get("id") + " deleted")
    # get_token_for_teams_user
    tokenresponse = identity_client.get_token_for_teams_user(TEAMS_TOKEN, "m365-app-id", "teams-user")
    print("Token issued with value: " + tokenresponse.token)

    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 7
    assert printed[0].startswith("User created with id:8:acs:")
    assert printed[-1].startswith("Token issued with value: ey")


async def async_samples(connection_string: str) -> list[str]:
    from botconnect_aio.identity import CommunicationIdentityClient, CommunicationTokenScope

    printed: list[str] = []
    identity_client = CommunicationIdentityClient.from_connection_string(connection_string)
    async with identity_client:
        user = await identity_client.create_user()
        printed.append("User created with id:" + user.properties.get("id"))
        user, tokenresponse = await identity_client.create_user_and_token(scopes=[CommunicationTokenScope.CHAT])
        printed.append("Token issued with value: " + tokenresponse.token)
        assert skype_id(tokenresponse.token) == user.properties["id"]
        tokenresponse = await identity_client.get_token(user, scopes=[CommunicationTokenScope.CHAT])
        assert skype_id(tokenresponse.token) == user.properties["id"]
        await identity_client.revoke_tokens(user)
        printed.append(tokenresponse.token + " revoked successfully")
        await identity_client.delete_user(user)
        printed.append(user.properties.get("id") + " deleted")
        tokenresponse = await identity_client.get_token_for_teams_user(TEAMS_TOKEN, "m365-app-id", "teams-user")
        printed.append("Token issued with value: " + tokenresponse.token)
    return printed


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_the_async_samples(connection_string: str, backend: str) -> None:
    printed = anyio.run(async_samples, connection_string, backend=backend)
    assert len(printed) == 5
    assert printed[0].startswith("User created with id:8:acs:")
    assert printed[1].startswith("Token issued with value: ey")
    assert printed[2].endswith(" revoked successfully")
    assert printed[3].startswith("8:acs:")
    assert printed[3].endswith(" deleted")
    assert printed[4].startswith("Token issued with value: ey")
