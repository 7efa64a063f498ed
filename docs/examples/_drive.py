"""The offline run of the first-bot examples: the local emulator plays the channel in front of the bot (it signs
every delivery as the Bot Framework does) and a Direct Line user talks to it. Not part of a bot."""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable

import anyio
import httpx
from _first_bot import Bot

import botconnect_aio
from botconnect.emulator import Emulator
from botconnect.models import Activity, AdaptiveCardInvokeResponse, ChannelAccount, ExpectedReplies

APP_ID = "00000000-0000-0000-0000-0000000f1257"  # any id: the emulator signs for the app it is given
APP_PASSWORD = "first-bot-password"
USER = ChannelAccount(id="user-1", name="Ada")

#: serve(bot, authenticator, port) -> stop: serve the messaging endpoint on 127.0.0.1:port/api/messages
Serve = Callable[[Bot, botconnect_aio.BotAuthenticator, int], Awaitable[Callable[[], Awaitable[None]]]]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def drive(serve: Serve) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/api/messages"
    emulator = Emulator(app_id=APP_ID, app_password=APP_PASSWORD, bot=url)
    await anyio.to_thread.run_sync(emulator.start)
    # the emulator is this run's channel: trust its keys; a real bot uses the default cloud (PUBLIC_CLOUD)
    bot = Bot(APP_ID, APP_PASSWORD, emulator.cloud)
    authenticator = botconnect_aio.BotAuthenticator(APP_ID, cloud=emulator.cloud, allow_emulator=False)
    stop = await serve(bot, authenticator, port)
    try:
        await talk(emulator, bot, url)
    finally:
        await stop()
        await bot.close()
        await authenticator.close()
        await anyio.to_thread.run_sync(emulator.stop)


async def talk(emulator: Emulator, bot: Bot, url: str) -> None:
    async with (
        emulator.aio_directline_client() as directline,
        directline.open_conversation(user="user-1") as conversation,
    ):
        incoming = conversation.activities(timeout=30)

        async def bot_says() -> Activity:
            async for activity in incoming:
                if activity.from_property is not None and activity.from_property.id != "user-1":
                    return activity
            raise AssertionError("the conversation ended")

        await conversation.send("hello")
        print("bot:", (await bot_says()).text)

        await conversation.send("slow question")
        first = await bot_says()
        print("bot:", first.type, "then", (await bot_says()).text)

        assert conversation.conversation_id is not None
        invoke = Activity(type="invoke", name="adaptiveCard/action", from_property=USER, value={})
        answer = await directline.conversations.post_activity(conversation.conversation_id, invoke)
        print("invoke answered:", AdaptiveCardInvokeResponse.from_dict(answer.to_dict()).value)

        inline = Activity(type="message", text="inline", from_property=USER, delivery_mode="expectReplies")
        answer = await directline.conversations.post_activity(conversation.conversation_id, inline)
        print("expectReplies:", [reply.text for reply in ExpectedReplies.from_dict(answer.to_dict()).activities or []])

        saved_conversation = next(iter(bot.references))
        await bot.notify(saved_conversation, "A proactive hello, from a saved conversation reference")
        print("bot:", (await bot_says()).text)

    async with httpx.AsyncClient() as raw:
        forged = await raw.post(url, json={"type": "message"}, headers={"Authorization": "Bearer not.a.token"})
    print("a forged request was answered", forged.status_code)
