"""The call plumbing the ACS clients share (``botconnect._acs_client``, ``botconnect_aio._acs_client``): an
azure-core option a call ignores warns at the line that made the call, for each client of both packages."""

from __future__ import annotations

import base64
import time
import warnings
from typing import Any

import anyio
import httpx

import botconnect.chat
import botconnect.identity
import botconnect_aio.chat
import botconnect_aio.identity
from botconnect._core.azure_compat import IgnoredAzureOptionWarning
from botconnect.models.identifiers import CommunicationUserIdentifier

from .test_chat_credential import make_jwt

ENDPOINT = "https://contoso.communication.azure.com"
CONNECTION_STRING = f"endpoint={ENDPOINT}/;accesskey={base64.b64encode(b'key').decode()}"
THREAD = "19:t@thread.v2"
USER = CommunicationUserIdentifier("8:acs:resource_user")


def no_content(request: httpx.Request) -> httpx.Response:
    return httpx.Response(204)


def hook(response: Any) -> None:
    """An azure-core ``raw_response_hook``: ignored here, with a warning."""


def ignored_options(caught: list[warnings.WarningMessage]) -> list[tuple[str, str]]:
    """(the method the warning names, the file it points at) of each IgnoredAzureOptionWarning."""
    return [
        (str(w.message).split(":")[0], w.filename) for w in caught if issubclass(w.category, IgnoredAzureOptionWarning)
    ]


def test_sync_call_warnings_point_at_the_callers_line() -> None:
    transport = httpx.MockTransport(no_content)
    credential = botconnect.chat.CommunicationTokenCredential(make_jwt(time.time() + 3600))
    chat = botconnect.chat.ChatClient(ENDPOINT, credential, transport=transport)
    identity = botconnect.identity.CommunicationIdentityClient.from_connection_string(
        CONNECTION_STRING, transport=transport
    )
    with chat, chat.get_chat_thread_client(THREAD) as thread, identity, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chat.delete_chat_thread(THREAD, raw_response_hook=hook)
        thread.delete_message("1", raw_response_hook=hook)
        identity.delete_user(USER, raw_response_hook=hook)
    assert ignored_options(caught) == [
        ("delete_chat_thread", __file__),
        ("delete_message", __file__),
        ("delete_user", __file__),
    ]


def test_async_call_warnings_point_at_the_callers_line() -> None:
    async def main() -> list[warnings.WarningMessage]:
        transport = httpx.MockTransport(no_content)
        credential = botconnect_aio.chat.CommunicationTokenCredential(make_jwt(time.time() + 3600))
        chat = botconnect_aio.chat.ChatClient(ENDPOINT, credential, transport=transport)
        identity = botconnect_aio.identity.CommunicationIdentityClient.from_connection_string(
            CONNECTION_STRING, transport=transport
        )
        async with chat, chat.get_chat_thread_client(THREAD) as thread, identity:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                await chat.delete_chat_thread(THREAD, raw_response_hook=hook)
                await thread.delete_message("1", raw_response_hook=hook)
                await identity.delete_user(USER, raw_response_hook=hook)
        return caught

    assert ignored_options(anyio.run(main)) == [
        ("delete_chat_thread", __file__),
        ("delete_message", __file__),
        ("delete_user", __file__),
    ]
