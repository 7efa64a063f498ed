"""ACS Chat with events: a thread used through ``ChatClient`` / ``ChatThreadClient`` (the azure-communication-chat
API) while an Event Grid webhook receives what happened, typed.

Runs offline (``python docs/examples/acs_chat_events.py``): the local emulator is the ACS resource and, with
``event_webhook=``, plays Event Grid (subscription validation first, then one POST per event). Needs
``pip install "botconnect[emulator]"``.
"""

from __future__ import annotations

import threading
import time

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from botconnect import (
    ChatClient,
    ChatMessageEventData,
    ChatParticipant,
    CommunicationTokenCredential,
    identifier_from_raw_id,
    parse_event_grid_events,
    subscription_validation_response,
)
from botconnect.emulator import Emulator

received: list[str] = []


# --8<-- [start:webhook]
async def events(request: Request) -> Response:
    """The Event Grid subscription's endpoint: answer the validation handshake, then read typed events."""
    body = await request.body()
    validation = subscription_validation_response(body)
    if validation is not None:  # Event Grid checks that you own the endpoint before it sends anything
        return JSONResponse(validation)
    for event in parse_event_grid_events(body):
        if isinstance(event.data, ChatMessageEventData):  # ChatMessageReceived / Edited / Deleted
            received.append(f"{event.event_type}: {event.data.sender_display_name}: {event.data.message_body}")
        else:
            received.append(str(event.event_type))
    return Response(status_code=200)


webhook = Starlette(routes=[Route("/api/events", events, methods=["POST"])])
# --8<-- [end:webhook]


def serve_webhook() -> tuple[str, uvicorn.Server, threading.Thread]:
    server = uvicorn.Server(uvicorn.Config(webhook, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return f"http://127.0.0.1:{port}/api/events", server, thread


def main() -> None:
    url, server, thread = serve_webhook()
    try:
        with Emulator(event_webhook=url) as emulator:
            token, my_raw_id = emulator.issue_acs_token()
            # --8<-- [start:chat]
            with ChatClient(emulator.url, CommunicationTokenCredential(token)) as client:
                me = identifier_from_raw_id(my_raw_id)
                created = client.create_chat_thread(
                    "Support", thread_participants=[ChatParticipant(identifier=me, display_name="Ada")]
                )
                assert created.chat_thread is not None  # every model field is Optional, as the service's are
                assert created.chat_thread.id is not None
                thread_client = client.get_chat_thread_client(created.chat_thread.id)
                sent = thread_client.send_message("My order did not arrive", sender_display_name="Ada")
                assert sent.id is not None
                thread_client.update_message(sent.id, "My order #42 did not arrive")
                texts = [m.content.message for m in thread_client.list_messages() if m.type == "text" and m.content]
                print("messages:", texts)
            # --8<-- [end:chat]
            deadline = time.monotonic() + 20  # deliveries are asynchronous: wait for the three events
            while len(received) < 3 and time.monotonic() < deadline:
                time.sleep(0.02)
    finally:
        server.should_exit = True
        thread.join(10)
    print("\n".join(received))


if __name__ == "__main__":
    main()
