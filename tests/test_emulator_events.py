"""``Emulator(event_webhook=URL)`` / ``--event-webhook URL``: the emulated ACS Chat's events POSTed to a loopback
webhook in the Event Grid schema, after Event Grid's subscription validation, and read back with botconnect's
own parser (parse_event_grid_events, subscription_validation_response)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

import botconnect
from botconnect.emulator import Emulator
from botconnect.emulator.__main__ import _banner, parser
from botconnect.models import CommunicationUserIdentifier

WAIT = 20.0  # seconds a delivery may take on a loaded machine (a bound on waiting, not an assertion on speed)


class Webhook:
    """A loopback webhook: answers Event Grid's validation when ``validate``, keeps every POST it gets."""

    def __init__(self, *, validate: bool = True) -> None:
        self.validate = validate
        self.posts: list[tuple[dict[str, str], Any]] = []
        self._changed = threading.Condition()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                answer = botconnect.subscription_validation_response(body) if hook.validate else None
                with hook._changed:
                    hook.posts.append(({k.lower(): v for k, v in self.headers.items()}, json.loads(body)))
                    hook._changed.notify_all()
                content = json.dumps(answer).encode() if answer is not None else b""
                self.send_response(200 if hook.validate else 403)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/events"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def wait_for(self, count: int) -> list[tuple[dict[str, str], Any]]:
        deadline = time.monotonic() + WAIT
        with self._changed:
            while len(self.posts) < count and time.monotonic() < deadline:
                self._changed.wait(deadline - time.monotonic())
            return list(self.posts)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)


def settled(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.close()


def test_chat_operations_reach_the_webhook_as_typed_events(webhook: Webhook) -> None:
    with Emulator(event_webhook=webhook.url) as emulator:
        bob = CommunicationUserIdentifier(emulator.issue_acs_token()[1])
        with emulator.chat_client() as client:
            thread = client.create_chat_thread("events").chat_thread
            thread_client = client.get_chat_thread_client(thread.id)
            thread_client.add_participants([botconnect.ChatParticipant(identifier=bob, display_name="Bob")])
            sent = thread_client.send_message("hello events")
            thread_client.update_message(sent.id, "edited")
            thread_client.delete_message(sent.id)
            thread_client.remove_participant(bob)
            client.delete_chat_thread(thread.id)
        posts = webhook.wait_for(8)
        settled(lambda: len(emulator.events.delivered) == 7)  # it notes a delivery once the webhook answered
        assert emulator.events.failures == []
        assert [e["id"] for e in emulator.events.delivered] == [body[0]["id"] for _, body in posts[1:]]

    validation_headers, validation = posts[0]
    assert validation_headers["aeg-event-type"] == "SubscriptionValidation"
    assert validation[0]["eventType"] == "Microsoft.EventGrid.SubscriptionValidationEvent"
    events = [event for _, body in posts[1:] for event in botconnect.parse_event_grid_events(json.dumps(body))]
    assert all(headers["aeg-event-type"] == "Notification" for headers, _ in posts[1:])
    assert [e.event_type for e in events] == [
        "Microsoft.Communication." + name
        for name in (
            "ChatThreadCreated",
            "ChatThreadParticipantAdded",
            "ChatMessageReceivedInThread",
            "ChatMessageEditedInThread",
            "ChatMessageDeletedInThread",
            "ChatThreadParticipantRemoved",
            "ChatThreadDeleted",
        )
    ]
    assert all(e.data.thread_id == thread.id for e in events)
    created, added, received, edited, deleted, removed, _ = events
    assert created.data.properties == {"topic": "events"}
    assert added.data.participant_added.participant_communication_identifier.raw_id == bob.raw_id
    assert added.data.participant_added.display_name == "Bob"
    assert (received.data.message_id, received.data.message_body) == (sent.id, "hello events")
    assert (edited.data.message_id, edited.data.message_body) == (sent.id, "edited")
    assert edited.data.edit_time is not None
    assert deleted.data.delete_time is not None
    assert removed.data.participant_removed.participant_communication_identifier.raw_id == bob.raw_id
    assert created.topic.endswith(f"/communicationServices/{emulator.acs.resource_id}")


def test_a_webhook_that_fails_the_validation_gets_no_events() -> None:
    hook = Webhook(validate=False)
    try:
        with Emulator(event_webhook=hook.url) as emulator:
            with emulator.chat_client() as client:
                client.create_chat_thread("unvalidated")
                client.create_chat_thread("again")
            posts = hook.wait_for(2)
            settled(lambda: len(emulator.events.failures) == 2)
            failures = list(emulator.events.failures)
            delivered = list(emulator.events.delivered)
    finally:
        hook.close()
    # each event first retries the validation; none is sent while it fails
    assert [headers["aeg-event-type"] for headers, _ in posts] == ["SubscriptionValidation"] * 2
    assert failures == ["subscription validation: 403"] * 2
    assert delivered == []


def test_without_a_webhook_there_is_no_delivery() -> None:
    emulator = Emulator(socket=False)
    assert emulator.events is None


def test_the_cli_takes_the_webhook_and_prints_it(webhook: Webhook) -> None:
    args = parser().parse_args(["--event-webhook", webhook.url, "--port", "0"])
    assert args.event_webhook == webhook.url
    with Emulator(port=0, event_webhook=args.event_webhook) as emulator:
        banner = "\n".join(_banner(emulator, emulator.faults))
    assert f"Event Grid deliveries to {webhook.url}" in banner
