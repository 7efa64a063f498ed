"""Stream an AI answer as it is generated (Teams and Direct Line / Web Chat streaming) with StreamingReply.

The bot answers a question with an informative update ("Searching the docs..."), then the answer word by word as
a language model would produce it, then the final message with an "AI generated" label and a citation. Updates go
out at most once per ``interval`` (Teams takes one a second); words that arrive in between are sent together with
the next update, each of which carries the whole text so far.

Offline: the bot is served by uvicorn on 127.0.0.1 behind botconnect's local emulator (needs the emulator extra:
``pip install -e ".[emulator]"``), and a Direct Line user prints each update as it arrives, then the final message.
In a real bot, the body of ``answer`` is all there is to it: construct the ``StreamingReply`` with your
``ConnectorClient`` and the incoming activity.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import botconnect_aio
from botconnect.models import Activity, Citation, MessageEntity

QUESTION = "what is streaming?"
#: the generated answer, in the bursts a model produces it: words come fast, with a pause between sentences
ANSWER = [
    "Streaming shows an answer while it is written[1].",
    " Each update carries the whole text so far,",
    " and the final message adds the citation.",
]
INTERVAL = 0.5  # the emulator takes any rate; Teams wants the default, 1 second
PAUSE = 0.6  # longer than the interval: the first word of each sentence opens a new update


async def generate() -> AsyncIterator[str]:
    """Stands in for a language model's token stream."""
    for sentence in ANSWER:
        await anyio.sleep(PAUSE)
        for token in re.findall(r"\s*\S+", sentence):  # words with the space before them, as tokens come
            yield token


class StreamingBot:
    def __init__(self) -> None:
        self._clients: dict[str, botconnect_aio.ConnectorClient] = {}

    def client(self, service_url: str) -> botconnect_aio.ConnectorClient:
        if service_url not in self._clients:
            self._clients[service_url] = botconnect_aio.ConnectorClient(service_url)
        return self._clients[service_url]

    async def answer(self, activity: Activity) -> None:
        assert activity.service_url
        stream = botconnect_aio.StreamingReply(self.client(activity.service_url), activity, interval=INTERVAL)
        async with stream:  # leaving the block sends the final message
            await stream.update("Searching the docs...")
            async for token in generate():
                await stream.append(token)
            citation = Citation.create(1, "Stream bot messages", "How Teams shows a streamed answer.")
            stream.final_activity.entities = [MessageEntity.create(citations=[citation])]

    async def messages(self, request: Request) -> Response:
        activity = Activity.from_dict(await request.json())
        if activity.type == "message":
            await self.answer(activity)
        return Response(status_code=200)

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()


def describe(activity: Activity) -> str:
    info = botconnect_aio.StreamInfo.from_activity(activity)
    if info is None:
        return f"[{activity.type}] {activity.text}"
    if info.stream_type == "final":
        label = MessageEntity.from_activity(activity)
        extras = f" (AI generated: {label.is_ai_generated}, citations: {len(label.citation or [])})" if label else ""
        return f"[final] {activity.text}{extras}"
    return f"[{info.stream_type} {info.stream_sequence}] {activity.text}"


async def chat(emulator_url: str, secret: str) -> None:
    async with (
        botconnect_aio.DirectLineClient(secret=secret, endpoint=emulator_url) as directline,
        directline.open_conversation(user="user-1") as conversation,
        anyio.create_task_group() as tasks,
    ):
        # the post is answered once the bot's turn is over; the updates arrive meanwhile
        tasks.start_soon(conversation.send, QUESTION)
        print(f"you: {QUESTION}", flush=True)
        first_id = None
        async for activity in conversation.activities(timeout=30):
            if activity.from_property is None or activity.from_property.id == "user-1":
                continue
            print(describe(activity), flush=True)
            info = botconnect_aio.StreamInfo.from_activity(activity)
            first_id = first_id or activity.id
            if activity.type == "message":
                closes = info is not None and info.stream_id == first_id
                print(f"the final message closes the stream the first update opened: {closes}", flush=True)
                break


async def main() -> int:
    from botconnect.emulator import Emulator

    bot = StreamingBot()
    app = Starlette(routes=[Route("/api/messages", bot.messages, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()  # the server failed to start: raise its error
        await asyncio.sleep(0.01)
    bot_url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}/api/messages"
    emulator = Emulator(bot=bot_url)
    await anyio.to_thread.run_sync(emulator.start)
    try:
        print(f"bot at {bot_url}, emulator at {emulator.url}", flush=True)
        await chat(emulator.url, emulator.secret)
    finally:
        await anyio.to_thread.run_sync(emulator.stop)
        server.should_exit = True
        await serving
        await bot.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))  # uvicorn runs on asyncio
