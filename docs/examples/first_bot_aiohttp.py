"""Your first bot on aiohttp: a secured messaging endpoint in front of the framework-neutral ``Bot``.

Runs offline (``python docs/examples/first_bot_aiohttp.py``): the local emulator plays the channel and a Direct
Line user talks to the bot. Needs ``pip install "botconnect[emulator]" aiohttp``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import anyio
from _drive import drive
from _first_bot import Bot
from aiohttp import web

import botconnect_aio
from botconnect.errors import AuthenticationError, AuthenticationUnavailableError
from botconnect.models import Activity

# --8<-- [start:endpoint]
BOT = web.AppKey("bot", Bot)
AUTHENTICATOR = web.AppKey("authenticator", botconnect_aio.BotAuthenticator)
BACKGROUND = web.AppKey("background", set)  # tasks started after answering: referenced until they finish


async def messages(request: web.Request) -> web.Response:
    try:
        body = await request.json()
    except ValueError:
        return web.Response(status=400, text="the body is not JSON")
    try:
        await request.app[AUTHENTICATOR].authenticate_request(body, request.headers.get("Authorization"))
    except (AuthenticationError, AuthenticationUnavailableError) as exc:
        return web.Response(status=exc.status_code)  # 401; 503 when the signing keys cannot be fetched

    def later(work: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        request.app[BACKGROUND].add(task)
        task.add_done_callback(request.app[BACKGROUND].discard)

    answer = await request.app[BOT].on_activity(Activity.from_dict(body), later)
    if answer is None:
        return web.Response(status=200)
    return web.Response(status=answer.status, body=answer.json_body(), content_type="application/json")


def make_app(bot: Bot, authenticator: botconnect_aio.BotAuthenticator) -> web.Application:
    app = web.Application()
    app[BOT], app[AUTHENTICATOR], app[BACKGROUND] = bot, authenticator, set()
    app.router.add_post("/api/messages", messages)
    return app


# --8<-- [end:endpoint]


async def serve(
    bot: Bot, authenticator: botconnect_aio.BotAuthenticator, port: int
) -> Callable[[], Coroutine[Any, Any, None]]:
    runner = web.AppRunner(make_app(bot, authenticator), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner.cleanup


if __name__ == "__main__":
    anyio.run(drive, serve)  # aiohttp runs on asyncio
