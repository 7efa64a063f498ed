"""The emulator's Direct Line 3.0: secrets and tokens (expiry enforced), start and reconnect, activities with
watermarks, upload, the WebSocket stream, and the state it shares with the Connector side."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest
from httpx_ws import WebSocketUpgradeError, connect_ws

import botconnect
from botconnect.emulator import Emulator
from botconnect.emulator.connector import now_iso
from botconnect.models import Activity, ChannelAccount, TokenParameters

USER = ChannelAccount(id="user-1", name="User One")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def emulator(clock: Clock) -> Iterator[Emulator]:
    with Emulator(clock=clock, token_lifetime=100) as running:
        yield running


@pytest.fixture
def client(emulator: Emulator) -> Iterator[botconnect.DirectLineClient]:
    with botconnect.DirectLineClient(
        secret=emulator.secret, endpoint=emulator.url, retry_policy=botconnect.NO_RETRIES
    ) as c:
        yield c


def say(text: str, user: ChannelAccount = USER) -> Activity:
    return Activity(type="message", text=text, from_property=user)


def raw(emulator: Emulator, method: str, path: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    with httpx.Client(base_url=emulator.url) as http:
        return http.request(method, path, headers=headers, **kwargs)


def test_tokens_generate_start_refresh(emulator: Emulator, client: botconnect.DirectLineClient) -> None:
    generated = client.tokens.generate_token(TokenParameters(user=USER))
    assert generated.conversation_id
    assert generated.token
    assert generated.expires_in == 100
    assert generated.stream_url is None  # generate neither starts the conversation nor makes a stream URL

    with botconnect.DirectLineClient(token=generated.token, endpoint=emulator.url) as holder:
        first = raw(emulator, "POST", "/v3/directline/conversations", holder.token)
        again = raw(emulator, "POST", "/v3/directline/conversations", holder.token)
        refreshed = holder.tokens.refresh_token()
        assert holder.token == refreshed.token != generated.token  # the client switched to the new token
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["conversationId"] == generated.conversation_id
    assert first.json()["streamUrl"].startswith(emulator.url.replace("http://", "ws://"))
    assert refreshed.conversation_id == generated.conversation_id
    assert refreshed.expires_in == 100


def test_tokens_expire_and_then_are_refused(emulator: Emulator, clock: Clock) -> None:
    token = raw(emulator, "POST", "/v3/directline/tokens/generate", emulator.secret).json()["token"]
    assert raw(emulator, "POST", "/v3/directline/conversations", token).status_code == 201
    clock.advance(101)
    for method, path in (("POST", "/v3/directline/conversations"), ("POST", "/v3/directline/tokens/refresh")):
        answer = raw(emulator, method, path, token)
        assert answer.status_code == 403
        assert answer.json()["error"]["code"] == "TokenExpired"


@pytest.mark.parametrize(
    ("method", "path", "token", "status"),
    [
        ("POST", "/v3/directline/conversations", None, 401),
        ("POST", "/v3/directline/conversations", "forged", 403),
        ("POST", "/v3/directline/tokens/generate", "forged", 403),
        ("POST", "/v3/directline/tokens/refresh", "dev-secret", 403),
        ("GET", "/v3/directline/conversations/unknown/activities", "dev-secret", 404),
    ],
)
def test_auth_errors_have_the_documented_status(
    emulator: Emulator, method: str, path: str, token: str | None, status: int
) -> None:
    answer = raw(emulator, method, path, token)
    assert answer.status_code == status
    assert set(answer.json()["error"]) == {"code", "message"}


def test_a_token_is_for_its_own_conversation_only(emulator: Emulator, client: botconnect.DirectLineClient) -> None:
    mine = client.tokens.generate_token()
    other = client.conversations.start_conversation()
    answer = raw(emulator, "GET", f"/v3/directline/conversations/{other.conversation_id}/activities", mine.token)
    assert answer.status_code == 403


def test_activities_and_watermarks(client: botconnect.DirectLineClient) -> None:
    cid = client.conversations.start_conversation().conversation_id
    first = client.conversations.post_activity(cid, say("one"))
    second = client.conversations.post_activity(cid, say("two"))
    assert (first.id, second.id) == (f"{cid}|0000000", f"{cid}|0000002")  # each answered by the echo bot

    everything = client.conversations.get_activities(cid)
    assert [(a.from_property.id, a.text) for a in everything.activities] == [
        ("user-1", "one"),
        ("echo-bot", "echo: one"),
        ("user-1", "two"),
        ("echo-bot", "echo: two"),
    ]
    assert everything.watermark == "3"  # the sequence number of the last activity, as the service has it
    assert everything.activities[1].reply_to_id == first.id
    assert {a.channel_id for a in everything.activities} == {"directline"}

    later = client.conversations.get_activities(cid, watermark="1")
    assert [a.text for a in later.activities] == ["two", "echo: two"]
    assert client.conversations.get_activities(cid, watermark="3").activities == []


def test_a_bad_watermark_is_400(emulator: Emulator, client: botconnect.DirectLineClient) -> None:
    cid = client.conversations.start_conversation().conversation_id
    answer = raw(emulator, "GET", f"/v3/directline/conversations/{cid}/activities?watermark=abc", emulator.secret)
    assert answer.status_code == 400


def test_a_post_needs_from_id(emulator: Emulator, client: botconnect.DirectLineClient) -> None:
    cid = client.conversations.start_conversation().conversation_id
    path = f"/v3/directline/conversations/{cid}/activities"
    answer = raw(emulator, "POST", path, emulator.secret, json={"type": "message", "text": "anonymous"})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "BadArgument"


def test_the_tokens_user_is_the_sender(emulator: Emulator, client: botconnect.DirectLineClient) -> None:
    generated = client.tokens.generate_token(TokenParameters(user=ChannelAccount(id="alice")))
    with botconnect.DirectLineClient(token=generated.token, endpoint=emulator.url) as alice:
        cid = alice.conversations.start_conversation().conversation_id
        alice.conversations.post_activity(cid, say("hi", ChannelAccount(id="mallory")))
        senders = [a.from_property.id for a in alice.conversations.get_activities(cid).activities]
    assert senders == ["alice", "echo-bot"]


def test_upload_stores_files_and_delivers_one_message(emulator: Emulator, client: botconnect.DirectLineClient) -> None:
    cid = client.conversations.start_conversation().conversation_id
    blob = bytes(range(256)) + b"\r\n--not-a-boundary\r\n"
    files = [("notes.txt", b"hello", "text/plain"), ("blob.bin", blob, "application/octet-stream")]
    sent = client.conversations.upload(cid, files, user_id="user-1", activity=say("two files"))
    activities = client.conversations.get_activities(cid).activities
    assert activities[0].id == sent.id
    assert [a.name for a in activities[0].attachments] == ["notes.txt", "blob.bin"]
    assert activities[1].text == "echo: two files (2 attachments)"
    with httpx.Client() as http:
        contents = [http.get(a.content_url).content for a in activities[0].attachments]
    assert contents == [b"hello", blob]


def test_a_single_file_upload_without_multipart(emulator: Emulator, client: botconnect.DirectLineClient) -> None:
    cid = client.conversations.start_conversation().conversation_id
    headers = {"Content-Type": "image/png", "Content-Disposition": 'name="file"; filename="eel.png"'}
    with httpx.Client(base_url=emulator.url) as http:
        answer = http.post(
            f"/v3/directline/conversations/{cid}/upload",
            params={"userId": "user-1"},
            content=b"\x89PNG...",
            headers={"Authorization": f"Bearer {emulator.secret}", **headers},
        )
    assert answer.status_code == 200
    attachment = client.conversations.get_activities(cid).activities[0].attachments[0]
    assert (attachment.name, attachment.content_type) == ("eel.png", "image/png")


def test_the_stream_sends_activity_sets_and_keepalives(client: botconnect.DirectLineClient) -> None:
    with (
        Emulator(keepalive_interval=0.05) as emulator,
        botconnect.DirectLineClient(secret=emulator.secret, endpoint=emulator.url) as local,
    ):
        started = local.conversations.start_conversation()
        url = started.stream_url.replace("ws://", "http://")
        with httpx.Client() as http, connect_ws(url, http) as ws:
            local.conversations.post_activity(started.conversation_id, say("streamed"))
            frames: list[str] = []
            # a keepalive, and both activities (in one set or two: each is pushed as soon as it is stored)
            while "" not in frames or sum(len(json.loads(f)["activities"]) for f in frames if f) < 2:
                frames.append(ws.receive_text(timeout=10))
    activity_sets = [json.loads(frame) for frame in frames if frame]
    assert [a["text"] for s in activity_sets for a in s["activities"]] == ["streamed", "echo: streamed"]
    for activity_set in activity_sets:  # each set's watermark is its last activity's sequence number
        assert activity_set["watermark"] == str(int(activity_set["activities"][-1]["id"].rpartition("|")[2]))


def test_a_stream_url_works_for_its_conversation_only(emulator: Emulator, client: botconnect.DirectLineClient) -> None:
    one = client.conversations.start_conversation()
    two = client.conversations.start_conversation()
    forged = one.stream_url.replace(one.conversation_id, two.conversation_id).replace("ws://", "http://")
    with httpx.Client() as http, pytest.raises(WebSocketUpgradeError), connect_ws(forged, http):
        pass


def test_reconnect_replays_from_the_watermark(emulator: Emulator, client: botconnect.DirectLineClient) -> None:
    cid = client.conversations.start_conversation().conversation_id
    client.conversations.post_activity(cid, say("before"))
    resumed = client.conversations.reconnect_to_conversation(cid, watermark="0")
    with httpx.Client() as http, connect_ws(resumed.stream_url.replace("ws://", "http://"), http) as ws:
        frame = json.loads(ws.receive_text(timeout=10))
    assert [a["text"] for a in frame["activities"]] == ["echo: before"]


def test_what_a_bot_sends_through_the_connector_reaches_a_session(emulator: Emulator) -> None:
    with (
        botconnect.DirectLineClient(secret=emulator.secret, endpoint=emulator.url) as client,
        client.open_conversation(user="user-1") as conversation,
        botconnect.ConnectorClient(emulator.service_url) as bot,
    ):
        bot.conversations.send_to_conversation(
            conversation.conversation_id, Activity(type="message", text="proactive hello")
        )
        arrived = next(iter(conversation.activities(timeout=10)))
    assert arrived.text == "proactive hello"
    assert arrived.from_property.id == "echo-bot"


def test_session_id(emulator: Emulator) -> None:
    answer = raw(emulator, "GET", "/v3/directline/session/getsessionid", emulator.secret)
    assert answer.status_code == 200
    assert isinstance(answer.json(), dict)


def test_no_socket_sync_transport() -> None:
    with Emulator(socket=False) as emulator:
        assert emulator.url == "http://emulator.localhost"
        with emulator.directline_client() as client:
            cid = client.conversations.start_conversation().conversation_id
            client.conversations.post_activity(cid, say("in-process"))
            texts = [a.text for a in client.conversations.get_activities(cid).activities]
    assert texts == ["in-process", "echo: in-process"]


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_no_socket_async_transport_from_any_event_loop(backend: str) -> None:
    async def chat(emulator: Emulator) -> list[str | None]:
        async with emulator.aio_directline_client() as client:
            cid = (await client.conversations.start_conversation()).conversation_id
            await client.conversations.post_activity(cid, say("async"))
            return [a.text for a in (await client.conversations.get_activities(cid)).activities]

    with Emulator(socket=False) as emulator:
        assert anyio.run(chat, emulator, backend=backend) == ["async", "echo: async"]


def test_a_token_outliving_a_reset_finds_no_conversation() -> None:
    with Emulator(socket=False) as emulator, emulator.directline_client() as client:
        token = client.tokens.generate_token().token
        emulator.reset()
        holder = emulator.directline_client(secret=None, token=token, retry_policy=botconnect.NO_RETRIES)
        with holder, pytest.raises(botconnect.HttpResponseError) as caught:
            holder.conversations.start_conversation()
    assert caught.value.status_code == 404


def _webchat_upload(emulator: Emulator, cid: str, listed: list[dict[str, Any]], files: list[tuple[str, bytes]]) -> Any:
    """POST .../upload as DirectLineJS builds it: the activity part (attachments listed without contentUrl), then
    one ``file`` part per attachment, in the same order."""
    activity = {"type": "message", "from": {"id": "user-1"}, "text": "look", "attachments": listed}
    parts: list[tuple[str, tuple[str | None, bytes, str]]] = [
        ("activity", ("blob", json.dumps(activity).encode(), "application/vnd.microsoft.activity"))
    ]
    parts += [("file", (name, content, "image/png")) for name, content in files]
    with httpx.Client(base_url=emulator.url) as http:
        return http.post(
            f"/v3/directline/conversations/{cid}/upload",
            params={"userId": "user-1"},
            files=parts,
            headers={"Authorization": f"Bearer {emulator.secret}"},
        )


@pytest.mark.parametrize("count", [1, 2])
def test_a_webchat_upload_gives_one_attachment_per_file(
    emulator: Emulator, client: botconnect.DirectLineClient, count: int
) -> None:
    cid = client.conversations.start_conversation().conversation_id
    names = [f"photo{n}.png" for n in range(count)]
    listed = [
        {"contentType": "image/png", "name": name, "thumbnailUrl": f"data:image/png,{n}"}
        for n, name in enumerate(names)
    ]
    answer = _webchat_upload(emulator, cid, listed, [(name, name.encode() * 3) for name in names])
    assert answer.status_code == 200
    stored = client.conversations.get_activities(cid).activities
    assert stored[0].id == answer.json()["id"]
    attachments = stored[0].attachments
    assert [(a.name, a.content_type) for a in attachments] == [(name, "image/png") for name in names]
    assert [a.thumbnail_url for a in attachments] == [f"data:image/png,{n}" for n in range(count)]
    with httpx.Client() as http:
        assert [http.get(a.content_url).content for a in attachments] == [name.encode() * 3 for name in names]
    delivered = [a for a in emulator.app.echo_bot.received if a.get("id") == answer.json()["id"]]
    assert [len(a["attachments"]) for a in delivered] == [count]  # the bot got one attachment per file too
    assert stored[1].text == f"echo: look ({count} attachment{'s' if count > 1 else ''})"


def test_an_upload_keeps_attachments_by_url_and_appends_leftover_files(
    emulator: Emulator, client: botconnect.DirectLineClient
) -> None:
    cid = client.conversations.start_conversation().conversation_id
    listed = [
        {"contentType": "image/png", "contentUrl": "https://example.com/linked.png", "name": "linked.png"},
        {"contentType": "image/png", "name": "first.png"},
    ]
    answer = _webchat_upload(emulator, cid, listed, [("first.png", b"1"), ("extra.png", b"2")])
    assert answer.status_code == 200
    attachments = client.conversations.get_activities(cid).activities[0].attachments
    assert [a.name for a in attachments] == ["linked.png", "first.png", "extra.png"]
    assert attachments[0].content_url == "https://example.com/linked.png"
    with httpx.Client() as http:
        assert [http.get(a.content_url).content for a in attachments[1:]] == [b"1", b"2"]


def test_watermarks_are_sequence_numbers_that_stay_put(emulator: Emulator, client: botconnect.DirectLineClient) -> None:
    started = client.conversations.start_conversation()
    cid = started.conversation_id
    assert started.stream_url is not None
    assert "watermark=-&" in started.stream_url  # a new conversation's stream starts before the first activity
    empty = client.conversations.get_activities(cid)
    assert (empty.activities, empty.watermark) == ([], None)
    with botconnect.ConnectorClient(emulator.service_url) as bot:
        bot.conversations.send_to_conversation(cid, Activity(type="typing"))  # takes number 0, never kept
        first = client.conversations.post_activity(cid, say("one"))  # 1, and its echo 2
        doomed = bot.conversations.send_to_conversation(cid, Activity(type="message", text="doomed"))  # 3
        mark = client.conversations.get_activities(cid).watermark
        bot.conversations.delete_activity(cid, doomed.id)
        client.conversations.post_activity(cid, say("two"))  # 4, and its echo 5
    assert first.id == f"{cid}|0000001"
    assert mark == "3"
    after = client.conversations.get_activities(cid, watermark=mark)
    assert [a.text for a in after.activities] == ["two", "echo: two"]  # the deletion moved nothing
    assert after.watermark == "5"
    for watermark in ["-", ""]:
        texts = [a.text for a in client.conversations.get_activities(cid, watermark=watermark).activities]
        assert texts == ["one", "echo: one", "two", "echo: two"]
    for bad in ["abc", "-1", "1.5", "9" * 13]:
        answer = raw(emulator, "GET", f"/v3/directline/conversations/{cid}/activities?watermark={bad}", emulator.secret)
        assert answer.status_code == 400, bad


def test_ids_timestamps_and_service_url_have_the_services_shape(emulator: Emulator) -> None:
    with (
        botconnect.DirectLineClient(secret=emulator.secret, endpoint=emulator.url) as client,
        httpx.Client(base_url=emulator.url) as http,
    ):
        started = client.conversations.start_conversation()
        cid = started.conversation_id
        assert cid is not None
        assert re.fullmatch(r"[A-Za-z0-9]{22}-us", cid), cid
        posted = client.conversations.post_activity(cid, say("shape"))
        assert posted.id == f"{cid}|0000000"
        answer = http.get(
            f"/v3/directline/conversations/{cid}/activities", headers={"Authorization": f"Bearer {emulator.secret}"}
        )
    activities = answer.json()["activities"]
    assert [a["text"] for a in activities] == ["shape", "echo: shape"]
    for activity in activities:  # on the wire, as the service writes them: 100 ns precision
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z", activity["timestamp"]), activity["timestamp"]
        assert re.fullmatch(re.escape(cid) + r"\|\d{7}", activity["id"])
    assert activities[0]["serviceUrl"] == emulator.service_url  # the client's activity as delivered to the bot
    assert emulator.service_url.endswith("/")
    delivered = [a for a in emulator.app.echo_bot.received if a.get("id") == posted.id]
    assert [a["serviceUrl"] for a in delivered] == [emulator.service_url]
    # 7 digits every time, also when the clock's microseconds are round
    stamps = {now_iso() for _ in range(200)}
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z", stamp) for stamp in stamps)
