"""A bot's secured messaging endpoint on aiohttp: every request authenticated with ``BotAuthenticator``, a message
answered, an Adaptive Card ``Action.Execute`` invoke and an ``expectReplies`` request answered in the response.

Offline by default: the bot listens on 127.0.0.1 and the local emulator, started with an app id, plays the channel
(it signs a token for every delivery, as the Bot Framework does, and serves its keys); the run shows a message, a
forged request refused with 401, an invoke and an expectReplies answer (needs the emulator extra and aiohttp).
With MICROSOFT_APP_ID and MICROSOFT_APP_PASSWORD set it serves a real Azure Bot registration on PORT (3978).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _receiving import Endpoint, run

from botconnect.errors import AuthenticationError, AuthenticationUnavailableError
from botconnect.models import Activity

ENDPOINT = web.AppKey("endpoint", Endpoint)


async def messages(request: web.Request) -> web.Response:
    endpoint = request.app[ENDPOINT]
    assert endpoint.authenticator is not None
    assert endpoint.bot is not None
    try:
        body = json.loads(await request.read())
    except ValueError:
        return web.Response(status=400, text="the body is not JSON")
    try:
        await endpoint.authenticator.authenticate_request(body, request.headers.get("Authorization"))
    except (AuthenticationError, AuthenticationUnavailableError) as exc:
        # 401 for a bad token, 503 when the signing keys cannot be fetched: the channel retries then
        return web.Response(status=exc.status_code)
    answer = await endpoint.bot.on_activity(Activity.from_dict(body))
    if answer is None:
        return web.Response(status=200)
    return web.Response(status=answer.status, body=answer.json_body(), content_type="application/json")


async def serve(endpoint: Endpoint, port: int) -> tuple[str, Callable[[], Awaitable[None]]]:
    app = web.Application()
    app[ENDPOINT] = endpoint
    app.router.add_post("/api/messages", messages)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    host, bound_port = runner.addresses[0][:2]
    return f"http://{host}:{bound_port}/api/messages", runner.cleanup


if __name__ == "__main__":
    anyio.run(run, serve)  # aiohttp runs on asyncio
