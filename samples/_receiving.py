"""What the two web samples (aiohttp_bot.py, starlette_bot.py) share: the bot's logic, and the offline run that
drives it through the local emulator as a channel would.

The web framework part of each sample is only: read the body, ``authenticate_request``, hand the activity to
:class:`EchoCardBot`, write its answer. Everything here is plain botconnect_aio.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable

import anyio
import httpx

import botconnect_aio
from botconnect.models import (
    Activity,
    AdaptiveCardInvokeResponse,
    AdaptiveCardInvokeValue,
    ChannelAccount,
    ExpectedReplies,
    InvokeResponse,
)

#: the emulator's app registration in the offline run (any id works: the emulator signs for whatever it is given)
OFFLINE_APP_ID = "00000000-0000-0000-0000-0000000b07b0"
OFFLINE_APP_PASSWORD = "offline-sample-password"


class EchoCardBot:
    """Answers messages (inline for ``expectReplies``, else through the Connector), and ``Action.Execute`` invokes.

    One long-lived ``ConnectorClient`` per channel ``serviceUrl``, all on one credential: what the README
    recommends for a bot (constructing clients per message costs a TLS context and a connection each time).
    """

    def __init__(self, credential: botconnect_aio.MicrosoftAppCredentials | None) -> None:
        self._credential = credential
        self._clients: dict[str, botconnect_aio.ConnectorClient] = {}

    def _client(self, service_url: str) -> botconnect_aio.ConnectorClient:
        client = self._clients.get(service_url)
        if client is None:
            client = self._clients[service_url] = botconnect_aio.ConnectorClient(service_url, self._credential)
        return client

    async def on_activity(self, activity: Activity) -> InvokeResponse | None:
        """The synchronous answer (status + JSON body) for the HTTP response, or None for a plain 200."""
        if activity.type == "invoke" and activity.name == "adaptiveCard/action":
            value = AdaptiveCardInvokeValue.from_dict(activity.value or {})
            verb = value.action.verb if value.action is not None else None
            data = value.action.data if value.action is not None else None
            if verb != "approve":
                return activity.create_invoke_response(AdaptiveCardInvokeResponse.message(f"unknown verb {verb!r}"))
            answer = AdaptiveCardInvokeResponse.message(f"approved request {data.get('request') if data else '?'}")
            return activity.create_invoke_response(answer)
        if activity.type == "invoke":
            return activity.create_invoke_response(status=501)  # an invoke this bot does not implement
        if activity.type != "message":
            return None
        reply = activity.create_reply(f"You said: {activity.text}")
        if activity.delivery_mode == "expectReplies":  # the caller waits for the replies in the response
            return InvokeResponse.from_expected_replies([reply])
        assert activity.service_url
        assert activity.conversation
        assert activity.conversation.id
        assert activity.id
        await self._client(activity.service_url).conversations.reply_to_activity(
            activity.conversation.id, activity.id, reply
        )
        return None

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()
        if self._credential is not None:
            await self._credential.close()


class Endpoint:
    """What a messaging endpoint needs, set up once the cloud is known: the authenticator and the bot."""

    def __init__(self) -> None:
        self.authenticator: botconnect_aio.BotAuthenticator | None = None
        self.bot: EchoCardBot | None = None

    def configure(self, app_id: str, password: str, cloud: botconnect_aio.CloudSettings) -> None:
        # allow_emulator=False in production: Emulator tokens are for local development only
        self.authenticator = botconnect_aio.BotAuthenticator(app_id, cloud=cloud, allow_emulator=False)
        self.bot = EchoCardBot(botconnect_aio.MicrosoftAppCredentials(app_id, password, cloud=cloud))

    async def close(self) -> None:
        if self.bot is not None:
            await self.bot.close()
        if self.authenticator is not None:
            await self.authenticator.close()


def real_settings() -> tuple[str, str] | None:
    """(app id, password) of a real Azure Bot registration, when the environment gives them."""
    app_id, password = os.environ.get("MICROSOFT_APP_ID"), os.environ.get("MICROSOFT_APP_PASSWORD")
    return (app_id, password) if app_id and password else None


Serve = Callable[[Endpoint, int], Awaitable[tuple[str, Callable[[], Awaitable[None]]]]]


async def run(serve: Serve) -> None:
    """Serve the bot for a real registration (MICROSOFT_APP_ID / MICROSOFT_APP_PASSWORD, PORT) until interrupted,
    or offline: in front of the local emulator, driven through one conversation."""
    endpoint = Endpoint()
    try:
        settings = real_settings()
        if settings is None:
            await drive_offline(endpoint, serve)
            return
        endpoint.configure(*settings, botconnect_aio.PUBLIC_CLOUD)
        url, _ = await serve(endpoint, int(os.environ.get("PORT", "3978")))
        print(f"listening on {url}; press Ctrl+C to stop")
        await anyio.sleep_forever()
    finally:
        await endpoint.close()


async def drive_offline(endpoint: Endpoint, serve: Serve) -> None:
    """Serve the bot (``serve(endpoint, port) -> (messages url, stop)``), put the emulator in front of it with an
    app id, and talk to it: a message, a forged request, an ``Action.Execute`` invoke, an ``expectReplies`` message."""
    from botconnect.emulator import Emulator

    bot_url, stop = await serve(endpoint, 0)
    emulator = Emulator(app_id=OFFLINE_APP_ID, app_password=OFFLINE_APP_PASSWORD, bot=bot_url)
    await anyio.to_thread.run_sync(emulator.start)
    try:
        # the emulator is this run's channel: trust the keys it signs with (allow_emulator stays False)
        endpoint.configure(OFFLINE_APP_ID, OFFLINE_APP_PASSWORD, emulator.cloud)
        print(f"bot at {bot_url}, emulator at {emulator.url} signing deliveries for app {OFFLINE_APP_ID}")
        user = ChannelAccount(id="user-1", name="Ada")
        async with (
            emulator.aio_directline_client() as directline,
            directline.open_conversation(user=user.id) as conversation,
        ):
            await conversation.send("hello")
            async for activity in conversation.activities(timeout=30):
                if activity.from_property is not None and activity.from_property.id != user.id:
                    print(f"bot replied: {activity.text}")
                    break

            async with httpx.AsyncClient() as raw:
                forged = await raw.post(
                    bot_url,
                    json={"type": "message", "channelId": "emulator", "serviceUrl": emulator.service_url},
                    headers={"Authorization": "Bearer not.a.token"},
                )
            print(f"a forged request was answered {forged.status_code}")

            assert conversation.conversation_id is not None
            invoke = Activity(
                type="invoke",
                name="adaptiveCard/action",
                from_property=user,
                value={"action": {"type": "Action.Execute", "verb": "approve", "data": {"request": 42}}},
            )
            answer = await directline.conversations.post_activity(conversation.conversation_id, invoke)
            card_answer = AdaptiveCardInvokeResponse.from_dict(answer.to_dict())
            print(f"invoke answered {card_answer.status_code}: {card_answer.value}")

            buffered = Activity(type="message", text="inline please", from_property=user, delivery_mode="expectReplies")
            answer = await directline.conversations.post_activity(conversation.conversation_id, buffered)
            replies = ExpectedReplies.from_dict(answer.to_dict()).activities or []
            print(f"expectReplies answered with {[reply.text for reply in replies]}")
    finally:
        await stop()
        await anyio.to_thread.run_sync(emulator.stop)
