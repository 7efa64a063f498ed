"""Your first bot on Starlette (and so FastAPI): the same ``Bot`` behind a Starlette route.

Runs offline (``python docs/examples/first_bot_starlette.py``): the local emulator plays the channel and a Direct
Line user talks to the bot. Needs ``pip install "botconnect[emulator]"`` (starlette and uvicorn come with it).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import anyio
import uvicorn
from _drive import drive
from _first_bot import Bot
from starlette.applications import Starlette
from starlette.background import BackgroundTasks
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import botconnect_aio
from botconnect.errors import AuthenticationError, AuthenticationUnavailableError
from botconnect.models import Activity


# --8<-- [start:endpoint]
def make_app(bot: Bot, authenticator: botconnect_aio.BotAuthenticator) -> Starlette:
    async def messages(request: Request) -> Response:
        try:
            body = json.loads(await request.body())
        except ValueError:
            return Response("the body is not JSON", status_code=400)
        try:
            await authenticator.authenticate_request(body, request.headers.get("Authorization"))
        except (AuthenticationError, AuthenticationUnavailableError) as exc:
            return Response(status_code=exc.status_code)  # 401; 503 when the signing keys cannot be fetched

        background = BackgroundTasks()  # run by Starlette once the response is sent

        def later(work: Awaitable[None]) -> None:
            async def run() -> None:
                await work

            background.add_task(run)

        answer = await bot.on_activity(Activity.from_dict(body), later)
        if answer is None:
            return Response(status_code=200, background=background)
        return Response(answer.json_body(), answer.status, media_type="application/json", background=background)

    return Starlette(routes=[Route("/api/messages", messages, methods=["POST"])])


# --8<-- [end:endpoint]


async def serve(
    bot: Bot, authenticator: botconnect_aio.BotAuthenticator, port: int
) -> Callable[[], Coroutine[Any, Any, None]]:
    config = uvicorn.Config(make_app(bot, authenticator), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # the server failed to start: raise its error
        await asyncio.sleep(0.01)

    async def stop() -> None:
        server.should_exit = True
        await task

    return stop


if __name__ == "__main__":
    anyio.run(drive, serve)  # uvicorn runs on asyncio
