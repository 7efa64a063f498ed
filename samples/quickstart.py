"""botconnect in one run: a bot, a user chatting with it over Direct Line, and an ACS chat thread.

1. A small weather bot: a Starlette app on loopback whose handler answers each activity it receives with
   ``botconnect_aio.ConnectorClient(activity.service_url).conversations.reply_to_activity(...)``, as a real bot does.
2. botconnect's local emulator plays the Bot Framework channel: it delivers the user's messages to that bot and
   streams the bot's replies back to the user.
3. A user chats with the bot over Direct Line (``DirectLineClient.open_conversation``: the WebSocket stream).
4. An ACS chat thread on the same emulator: create it, add a participant, send a message, list the messages.

Everything runs offline on 127.0.0.1 in a few seconds and prints a transcript. Needs the emulator extra::

    python3 -m pip install -e ".[emulator]" && python3 samples/quickstart.py
"""

from __future__ import annotations

import asyncio
import importlib.util
import socket
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botconnect.emulator import Emulator

BOT_NAME = "Weather Bot"
FORECASTS = {"paris": "sunny, 24°C", "london": "light rain, 17°C", "seattle": "cloudy, 15°C"}
USER_TURNS = ["hi!", "what's the weather in Paris?", "bye"]


def say(line: str = "") -> None:
    print(line, flush=True)


def header(title: str) -> None:
    say()
    say(f"== {title} " + "=" * max(2, 76 - len(title)))


# -- 1. the bot: a web handler that answers through the Connector API ------------------------------------------------


class WeatherBot:
    """A Bot Framework bot in a few lines: receive an activity, answer on its ``serviceUrl``."""

    def __init__(self) -> None:
        import botconnect_aio

        self._clients: dict[str, botconnect_aio.ConnectorClient] = {}

    def client(self, service_url: str) -> Any:
        import botconnect_aio

        if service_url not in self._clients:  # one client per channel: it keeps its connections open
            # anonymous: the local emulator checks no credentials (give MicrosoftAppCredentials for a real channel)
            self._clients[service_url] = botconnect_aio.ConnectorClient(service_url)
        return self._clients[service_url]

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.close()

    async def on_activity(self, activity: Any) -> None:
        from botconnect.models import ActionTypes, ActivityTypes, CardAction, HeroCard

        if activity.type != ActivityTypes.MESSAGE:
            return
        conversations = self.client(activity.service_url).conversations
        conversation_id = activity.conversation.id
        typing = activity.create_reply()
        typing.type = ActivityTypes.TYPING
        await conversations.send_to_conversation(conversation_id, typing)
        text = (activity.text or "").strip()
        words = text.lower().strip("!?.").split()
        if words[:1] in (["hi"], ["hello"], ["hey"]):
            reply = activity.create_reply(f"Hello {activity.from_property.name}! I'm {BOT_NAME}.")
            card = HeroCard(
                title=BOT_NAME,
                subtitle="Forecasts for a few cities",
                text="Ask me about the weather somewhere.",
                buttons=[
                    CardAction(type=ActionTypes.IM_BACK, title=f"Weather in {city.title()}", value=f"weather in {city}")
                    for city in FORECASTS
                ],
            )
            reply.attachments = [card.to_attachment()]
        elif "weather" in words:
            city = next((word for word in words if word in FORECASTS), None)
            forecast = FORECASTS.get(city or "")
            reply = activity.create_reply(
                f"In {city.title()} it is {forecast}." if city and forecast else "Which city? Paris, London, Seattle."
            )
        elif words[:1] == ["bye"]:
            reply = activity.create_reply("Goodbye, and take an umbrella just in case!")
        else:
            reply = activity.create_reply(f"You said {text!r}; backwards that is {text[::-1]!r}.")
        await conversations.reply_to_activity(conversation_id, activity.id, reply)
        if words[:1] == ["bye"]:
            goodbye = activity.create_reply()
            goodbye.type = ActivityTypes.END_OF_CONVERSATION
            goodbye.code = "completedSuccessfully"
            await conversations.send_to_conversation(conversation_id, goodbye)

    def app(self) -> Any:
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import Response
        from starlette.routing import Route

        from botconnect.models import Activity

        async def messages(request: Request) -> Response:
            await self.on_activity(Activity.from_dict(await request.json()))
            return Response(status_code=200)

        return Starlette(routes=[Route("/api/messages", messages, methods=["POST"])])


# -- 2. a user chatting with the bot over Direct Line ----------------------------------------------------------------


async def chat(emulator: Emulator) -> None:
    import botconnect_aio
    from botconnect.models import ActivityTypes, ChannelAccount, HeroCard

    header("2. A user chats with the bot over Direct Line (WebSocket stream)")
    statuses: list[str] = []
    async with (
        botconnect_aio.DirectLineClient(secret=emulator.secret, endpoint=emulator.url) as client,
        client.open_conversation(
            user=ChannelAccount(id="ada", name="Ada"), on_status=lambda status: statuses.append(status.name)
        ) as conversation,
    ):
        say(f"conversation {conversation.conversation_id}: {' -> '.join(statuses)}")
        me = conversation.user.id
        activities = conversation.activities(timeout=15)
        for text in USER_TURNS:
            await conversation.send(text)
            say(f"  ada > {text}")
            async for activity in activities:
                if activity.from_property is not None and activity.from_property.id == me:
                    continue  # our own message, echoed back by the channel
                if activity.type == ActivityTypes.TYPING:
                    say("        (the bot is typing...)")
                    continue
                if activity.type == ActivityTypes.END_OF_CONVERSATION:
                    say(f"        (the bot ended the conversation: {activity.code})")
                    break
                say(f"  bot > {activity.text}")
                for attachment in activity.attachments or []:
                    card = attachment.content_as(HeroCard)
                    buttons = ", ".join(str(button.title) for button in card.buttons or [])
                    say(f"        [card] {card.title}: {card.text} [{buttons}]")
                if text.startswith("bye"):
                    continue  # the end of conversation follows
                break
        say(f"resume later from watermark {conversation.watermark}")


# -- 3. an ACS chat thread -------------------------------------------------------------------------------------------


async def acs_thread(emulator: Emulator) -> None:
    from botconnect_aio.chat import (
        ChatClient,
        ChatParticipant,
        CommunicationTokenCredential,
        identifier_from_raw_id,
    )

    header("3. An Azure Communication Services chat thread")
    token, ada_id = emulator.issue_acs_token()  # what your identity service would issue
    grace_token, grace_id = emulator.issue_acs_token()
    ada = ChatParticipant(identifier=identifier_from_raw_id(ada_id), display_name="Ada")
    grace = ChatParticipant(identifier=identifier_from_raw_id(grace_id), display_name="Grace")
    async with ChatClient(emulator.url, CommunicationTokenCredential(token)) as client:
        created = await client.create_chat_thread("Weekend hike", thread_participants=[ada])
        thread_id = created.chat_thread.id
        say(f"Ada created thread {created.chat_thread.topic!r}")
        async with client.get_chat_thread_client(thread_id) as thread:
            failures = await thread.add_participants([grace])
            say(f"Ada added Grace ({len(failures)} failures)")
            await thread.send_message("The forecast says sunny: shall we go on Saturday?", sender_display_name="Ada")
            async with (
                ChatClient(emulator.url, CommunicationTokenCredential(grace_token)) as graces_client,
                graces_client.get_chat_thread_client(thread_id) as graces_thread,
            ):
                await graces_thread.send_message("Yes! I'll bring the map.", sender_display_name="Grace")
            say("messages, oldest first:")
            messages = [message async for message in thread.list_messages()]
            for message in reversed(messages):
                if message.type in ("text", "html"):
                    say(f"  {message.sender_display_name} > {message.content.message}")
                else:
                    say(f"  ({message.type})")  # the thread's own events
            names = [participant.display_name async for participant in thread.list_participants()]
            say(f"participants: {names}")
        await client.delete_chat_thread(thread_id)
        say("Ada deleted the thread")


# -- all together ----------------------------------------------------------------------------------------------------


async def demo(emulator: Emulator, bot: WeatherBot, bot_socket: socket.socket) -> None:
    import uvicorn

    config = uvicorn.Config(bot.app(), log_config=None, log_level="warning", lifespan="off", http="h11")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[bot_socket]))
    try:
        while not server.started:
            if serving.done():
                serving.result()
                raise RuntimeError("the bot's web server stopped")
            await asyncio.sleep(0.01)
        await chat(emulator)
        await acs_thread(emulator)
    finally:
        server.should_exit = True
        await serving
        await bot.aclose()


def main() -> int:
    missing = [name for name in ("starlette", "uvicorn") if importlib.util.find_spec(name) is None]
    if missing:
        print(f'the quickstart needs the emulator extra ({", ".join(missing)} missing): pip install -e ".[emulator]"')
        return 1
    from botconnect.emulator import Emulator

    bot_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    bot_socket.bind(("127.0.0.1", 0))  # loopback only, a free port
    bot_url = f"http://127.0.0.1:{bot_socket.getsockname()[1]}/api/messages"
    header("1. A bot built on botconnect_aio.ConnectorClient, behind the local emulator")
    try:
        with Emulator(bot=bot_url, bot_account={"id": "weather-bot", "name": BOT_NAME}) as emulator:
            say(f"bot: {bot_url}")
            say(f"channel (emulator): Direct Line, Connector and ACS Chat at {emulator.url}")
            asyncio.run(demo(emulator, WeatherBot(), bot_socket))
    finally:
        bot_socket.close()
    header("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
