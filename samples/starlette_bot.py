"""A bot's secured messaging endpoint on Starlette (FastAPI is the same: it is Starlette underneath): every request
authenticated with ``BotAuthenticator``, a message answered, an Adaptive Card ``Action.Execute`` invoke and an
``expectReplies`` request answered in the response.

Offline by default: the bot is served by uvicorn on 127.0.0.1 and the local emulator, started with an app id, plays
the channel (it signs a token for every delivery, as the Bot Framework does, and serves its keys); the run shows a
message, a forged request refused with 401, an invoke and an expectReplies answer (needs the emulator extra).
With MICROSOFT_APP_ID and MICROSOFT_APP_PASSWORD set it serves a real Azure Bot registration on PORT (3978).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _receiving import Endpoint, run

from botconnect.errors import AuthenticationError, AuthenticationUnavailableError
from botconnect.models import Activity


async def messages(request: Request) -> Response:
    endpoint: Endpoint = request.app.state.endpoint
    assert endpoint.authenticator is not None
    assert endpoint.bot is not None
    try:
        body = json.loads(await request.body())
    except ValueError:
        return Response("the body is not JSON", status_code=400)
    try:
        await endpoint.authenticator.authenticate_request(body, request.headers.get("Authorization"))
    except (AuthenticationError, AuthenticationUnavailableError) as exc:
        # 401 for a bad token, 503 when the signing keys cannot be fetched: the channel retries then
        return Response(status_code=exc.status_code)
    answer = await endpoint.bot.on_activity(Activity.from_dict(body))
    if answer is None:
        return Response(status_code=200)
    return Response(answer.json_body(), status_code=answer.status, media_type="application/json")


async def serve(endpoint: Endpoint, port: int) -> tuple[str, Callable[[], Awaitable[None]]]:
    app = Starlette(routes=[Route("/api/messages", messages, methods=["POST"])])
    app.state.endpoint = endpoint
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # the server failed to start: raise its error
        await asyncio.sleep(0.01)
    bound_port = server.servers[0].sockets[0].getsockname()[1]

    async def stop() -> None:
        server.should_exit = True
        await task

    return f"http://127.0.0.1:{bound_port}/api/messages", stop


if __name__ == "__main__":
    asyncio.run(run(serve))  # uvicorn runs on asyncio
