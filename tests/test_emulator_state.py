"""``Emulator(state_file=...)`` / ``--state``: an emulator restarted on the same SQLite file resumes what the last
one had, checked through botconnect's own clients (sync, asyncio, trio) over loopback: Direct Line conversations
(history from a watermark, streams, ids that continue, a live session riding out the restart), Connector
conversations and a bot's cached token and key set, the user token service, ACS threads, tokens and identities; a
killed emulator keeps everything it answered; files it cannot use are refused with a clear error."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest

import botconnect
from botconnect._core.retry import RetryPolicy
from botconnect.emulator import Emulator
from botconnect.emulator.persistence import StateFileError
from botconnect.emulator.teams import TENANT_ID, USERS
from botconnect.errors import ClientAuthenticationError
from botconnect.models import Activity, ChannelAccount, ConversationParameters

from .directline_server import opened
from .harness import Env
from .test_emulator_cli import Running, _environment
from .test_emulator_identity import Identity
from .test_emulator_token_service import complete, state_for

APP_ID = "00000000-0000-0000-0000-0000000057a7"
APP_PASSWORD = "state-secret"
USER = ChannelAccount(id="user-ada", name="Ada")
FAST_RECONNECTS = RetryPolicy(max_attempts=200, backoff_factor=0.05, max_backoff=0.2, deadline=None)


@contextlib.contextmanager
def serving(path: Path, **options: Any) -> Iterator[Emulator]:
    emulator = Emulator(state_file=path, **options).start()
    try:
        yield emulator
    finally:
        emulator.stop()


def restart(emulator: Emulator, path: Path, **options: Any) -> Emulator:
    """Stop ``emulator`` and serve a new one on the same port and state file."""
    port = int(emulator.url.rsplit(":", 1)[1])
    emulator.stop()
    return Emulator(state_file=path, port=port, **options).start()


def message(text: str) -> Activity:
    return Activity(type="message", text=text, from_property=USER)


def wire(activities: list[Activity]) -> list[dict[str, Any]]:
    return [activity.to_dict() for activity in activities]


# -- Direct Line --------------------------------------------------------------------------------------------------


def test_a_direct_line_client_resumes_with_its_token_and_watermark(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with serving(path) as first, first.directline_client() as client:
        started = client.conversations.start_conversation()
        cid = started.conversation_id
        client.conversations.post_activity(cid, message("one"))
        middle = client.conversations.get_activities(cid).watermark
        client.conversations.post_activity(cid, message("two"))
        before = client.conversations.get_activities(cid)
        remainder = client.conversations.get_activities(cid, watermark=middle)
    assert [a.text for a in remainder.activities] == ["two", "echo: two"]

    with serving(path) as second, botconnect.DirectLineClient(token=started.token, endpoint=second.url) as client:
        assert wire(client.conversations.get_activities(cid).activities) == wire(before.activities)
        again = client.conversations.get_activities(cid, watermark=middle)
        assert (wire(again.activities), again.watermark) == (wire(remainder.activities), remainder.watermark)
        # a start with the conversation's token resumes it (200, the log's end as watermark), not a new one
        resumed = client.conversations.start_conversation()
        assert resumed.conversation_id == cid
        posted = client.conversations.post_activity(cid, message("three"))
        old_ids = {a.id for a in before.activities}
        assert posted.id not in old_ids
        after = client.conversations.get_activities(cid, watermark=before.watermark)
        assert [(a.text, a.id in old_ids) for a in after.activities] == [("three", False), ("echo: three", False)]
        assert after.activities[0].id == posted.id
        everything = client.conversations.get_activities(cid).activities
        assert wire(everything) == wire(before.activities) + wire(after.activities)


def test_a_stream_resumes_from_a_watermark_after_a_restart(env: Env, tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with serving(path) as first, first.directline_client() as client:
        started = client.conversations.start_conversation()
        cid = started.conversation_id
        client.conversations.post_activity(cid, message("one"))
        middle = client.conversations.get_activities(cid).watermark
        client.conversations.post_activity(cid, message("two"))
        expected = client.conversations.get_activities(cid, watermark=middle).activities
    with serving(path) as second:
        client = env.construct("DirectLineClient", token=started.token, endpoint=second.url)
        try:
            with opened(env, client, conversation_id=cid, watermark=middle, user=USER) as session:
                activities = session.activities(timeout=20)
                replayed = [next(activities) for _ in expected]
                assert wire(replayed) == wire(expected)
                # they came over a stream (opened from the resumed watermark), not by polling
                assert (second.directline.stream_starts, second.directline.polls) == ([2], 0)
                sent = session.send("three")
                texts = [(a.id, a.text) for a in (next(activities), next(activities))]
                assert texts[0] == (sent, "three")
                assert texts[1][1] == "echo: three"
        finally:
            client.close()


def test_a_live_session_rides_out_a_restart_on_the_same_port(env: Env, tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    emulator = Emulator(state_file=path).start()
    client = env.construct("DirectLineClient", secret=emulator.secret, endpoint=emulator.url)
    try:
        with opened(env, client, user=USER, reconnect_policy=FAST_RECONNECTS) as session:
            activities = session.activities(timeout=30)
            session.send("before")
            seen = [next(activities), next(activities)]
            emulator = restart(emulator, path)
            session.send("after")  # the token the session holds was issued by the emulator before
            seen += [next(activities), next(activities)]
            assert [a.text for a in seen] == ["before", "echo: before", "after", "echo: after"]
            assert len({a.id for a in seen}) == 4  # nothing replayed twice, nothing missed
            assert emulator.directline.stream_connects >= 1  # it reconnected its stream to the new emulator
            assert wire(seen) == [
                Activity.from_dict(a).to_dict() for a in emulator.directline.activities(session.conversation_id)
            ]
    finally:
        client.close()
        emulator.stop()


def test_tokens_keep_their_state_and_expiry_counts_the_downtime(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with serving(path) as first, first.directline_client() as client:
        expired = first.directline.issue_token(client.conversations.start_conversation().conversation_id)
        first.directline.expire_tokens()
        live = client.conversations.start_conversation()
        lifetime = first.directline.token_expires_in(live.token)
    with serving(path) as second:
        assert second.directline.token_expires_in(expired) is not None
        assert second.directline.token_expires_in(expired) <= 0  # type: ignore[operator]
        remaining = second.directline.token_expires_in(live.token)
        assert remaining is not None
        assert lifetime is not None
        assert 0 < remaining <= lifetime
        with (
            botconnect.DirectLineClient(token=expired, endpoint=second.url) as stale,
            pytest.raises(botconnect.errors.PermissionDeniedError),
        ):
            stale.conversations.get_activities(live.conversation_id)
        with botconnect.DirectLineClient(token=live.token, endpoint=second.url) as client:
            refreshed = client.tokens.refresh_token()
            assert refreshed.conversation_id == live.conversation_id


# -- the Connector side, the signing keys, the user token service ----------------------------------------------------


@attrs.frozen
class StaticCredential:
    """A credential handing out one token, as a bot that cached it does."""

    token: botconnect.AccessToken

    def get_token(self, *scopes: str, **kwargs: Any) -> botconnect.AccessToken:
        return self.token


def test_a_bots_cached_token_and_key_set_stay_valid(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    auth = {"app_id": APP_ID, "app_password": APP_PASSWORD}
    first = Emulator(state_file=path, **auth).start()
    authenticator = botconnect.BotAuthenticator(APP_ID, cloud=first.cloud)
    try:
        credential = botconnect.MicrosoftAppCredentials(APP_ID, APP_PASSWORD, cloud=first.cloud)
        cached = credential.get_token()
        credential.close()
        activity = {"type": "message", "channelId": "directline", "serviceUrl": first.service_url, "id": "1"}
        authenticator.authenticate_request(activity, f"Bearer {first.signing.channel_token(activity)}")
        keys = httpx.get(first.url + "/v1/.well-known/keys").json()
        with first.connector_client(StaticCredential(cached)) as connector:
            members = [ChannelAccount(id="user-ada", name="Ada"), ChannelAccount(id="user-bob", name="Bob")]
            created = connector.conversations.create_conversation(
                ConversationParameters(members=members, topic_name="standup", is_group=True)
            )
            sent = connector.conversations.send_to_conversation(created.id, Activity(type="message", text="hi"))
            connector.conversations.delete_conversation_member(created.id, "user-bob")
        second = restart(first, path, **auth)
        first = second
        identity = authenticator.authenticate_request(activity, f"Bearer {second.signing.channel_token(activity)}")
        assert identity.source == "channel"
        assert second.signing.hits["channel_keys"] == 0  # the bot's cached key set was enough
        assert httpx.get(second.url + "/v1/.well-known/keys").json() == keys
        with second.connector_client(StaticCredential(cached)) as connector:
            assert [m.id for m in connector.conversations.get_conversation_members(created.id)] == [
                "echo-bot",
                "user-ada",
            ]
            later = connector.conversations.reply_to_activity(created.id, sent.id, Activity(type="message", text="2"))
            assert later.id != sent.id
        with Emulator(**auth) as stranger:  # a token from another emulator is refused: the check is real
            foreign = botconnect.MicrosoftAppCredentials(APP_ID, APP_PASSWORD, cloud=stranger.cloud)
            token = foreign.get_token()
            foreign.close()
        with second.connector_client(StaticCredential(token)) as connector, pytest.raises(ClientAuthenticationError):
            connector.conversations.get_conversation_members(created.id)
    finally:
        authenticator.close()
        first.stop()


def test_user_tokens_and_pending_sign_ins_survive(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    first = Emulator(state_file=path).start()
    try:
        with botconnect.UserTokenClient(None, cloud=first.cloud) as tokens:
            code = complete(tokens.bot_sign_in.get_sign_in_url(state_for("29:ada")))
            signed_in = tokens.user_token.get_token("29:ada", "graph", code=code)
            pending = complete(tokens.bot_sign_in.get_sign_in_url(state_for("29:bob")))  # redeemed after
        second = first = restart(first, path)
        with botconnect.UserTokenClient(None, cloud=second.cloud) as tokens:
            assert signed_in is not None
            assert tokens.user_token.get_token("29:ada", "graph") == signed_in
            assert tokens.user_token.get_token("29:bob", "graph") is None
            bob = tokens.user_token.get_token("29:bob", "graph", code=pending)
            assert bob is not None
            assert bob.token != signed_in.token
            assert tokens.user_token.get_token("29:bob", "graph", code=pending) is None  # still good once only
    finally:
        first.stop()


# -- ACS ------------------------------------------------------------------------------------------------------------


def test_acs_threads_messages_and_tokens_survive(env: Env, tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with serving(path) as first:
        token, ada = first.issue_acs_token()
        bob_token, bob = first.issue_acs_token()
        credential = env.pkg.CommunicationTokenCredential(token)
        client = env.construct("ChatClient", first.url, credential)
        created = client.create_chat_thread(
            "plans", thread_participants=[botconnect.ChatParticipant(identifier=botconnect.identifier_from_raw_id(ada))]
        )
        thread_id = created.chat_thread.id
        thread = client.get_chat_thread_client(thread_id)
        bob_participant = botconnect.ChatParticipant(
            identifier=botconnect.identifier_from_raw_id(bob), display_name="Bob"
        )
        thread.add_participants([bob_participant])
        ids = [thread.send_message(text, sender_display_name="Ada").id for text in ("one", "two", "three")]
        thread.update_message(ids[0], content="one, edited")
        thread.delete_message(ids[1])
        thread.send_read_receipt(ids[2])
        thread.update_topic("plans, revised")
        before = {
            "properties": thread.get_properties(),
            "messages": list(thread.list_messages()),
            "participants": list(thread.list_participants()),
            "receipts": list(thread.list_read_receipts()),
            "threads": list(client.list_chat_threads()),
        }
        client.close()
        access_key = first.acs_access_key
    with serving(path) as second:
        assert second.acs_access_key == access_key  # the connection string handed out still signs
        credential = env.pkg.CommunicationTokenCredential(token)  # the token issued before
        client = env.construct("ChatClient", second.url, credential)
        thread = client.get_chat_thread_client(thread_id)
        after = {
            "properties": thread.get_properties(),
            "messages": list(thread.list_messages()),
            "participants": list(thread.list_participants()),
            "receipts": list(thread.list_read_receipts()),
            "threads": list(client.list_chat_threads()),
        }
        assert after == before
        bob_client = env.construct("ChatClient", second.url, env.pkg.CommunicationTokenCredential(bob_token))
        newest = bob_client.get_chat_thread_client(thread_id).send_message("four").id
        latest = next(iter(thread.list_messages()))
        assert latest.id == newest
        assert int(newest) > max(int(m.id) for m in before["messages"])
        assert int(latest.sequence_id) == max(int(m.sequence_id) for m in before["messages"]) + 1
        bob_client.close()
        client.close()


def test_acs_identities_and_revocations_survive(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with serving(path) as first, httpx.Client(timeout=10) as http:
        identity = Identity(first, http)
        user = identity.create(["chat"])
        raw_id, revoked = user["identity"]["id"], user["accessToken"]["token"]
        assert identity.call("POST", identity.user_path(raw_id, "revokeAccessTokens")).status_code == 204
    with serving(path) as second, httpx.Client(timeout=10) as http:
        identity = Identity(second, http)
        issued = identity.call("POST", identity.user_path(raw_id, "issueAccessToken"), {"scopes": ["chat"]})
        assert issued.status_code == 200, issued.text
        for token, works in ((revoked, False), (issued.json()["token"], True)):
            with botconnect.ChatClient(second.url, botconnect.CommunicationTokenCredential(token)) as client:
                if works:
                    assert client.create_chat_thread("still me").chat_thread is not None
                else:
                    with pytest.raises(ClientAuthenticationError):
                        client.create_chat_thread("revoked")


# -- the whole state, field by field --------------------------------------------------------------------------------


def test_every_field_of_the_kept_state_round_trips(tmp_path: Path) -> None:
    """Each conversation, attachment, Teams map and ACS thread is equal, field by field, after a restart: a field
    added to the state and not kept fails here."""
    path = tmp_path / "state.db"
    with serving(path) as first:
        with first.directline_client() as client:
            cid = client.conversations.start_conversation().conversation_id
            client.conversations.post_activity(cid, message("hello"))
            client.conversations.upload(cid, ("note.txt", b"some bytes", "text/plain"), user_id=USER.id)
        with first.connector_client() as connector:
            posted = connector.conversations.send_to_conversation(cid, Activity(type="message", text="x"))
            connector.conversations.update_activity(cid, posted.id, Activity(type="message", text="y"))
            gone = connector.conversations.send_to_conversation(cid, Activity(type="message", text="z"))
            connector.conversations.delete_activity(cid, gone.id)
            connector.teams.add_reaction(cid, posted.id, "like")
            note = Activity(type="message", text="note")
            batch = connector.teams.send_message_to_list_of_users(note, [USERS[0]["id"]], TENANT_ID)
            first.store.on_loop(lambda: first.app.teams.complete(batch))  # a 1:1 conversation for the user
        with first.chat_client() as chat:
            chat.create_chat_thread("kept")

        def snapshot(emulator: Emulator) -> dict[str, Any]:
            import dataclasses

            threads = emulator.app.acs._state.threads
            return {
                "conversations": {k: attrs.asdict(c) for k, c in emulator.store.conversations.items()},
                "attachments": {k: attrs.asdict(a) for k, a in emulator.store.attachments.items()},
                "threads": {
                    k: {**dataclasses.asdict(t), "message_index": sorted(t.message_index)} for k, t in threads.items()
                },
                "personal": dict(emulator.app.teams._personal),
                "reactions": dict(emulator.app.teams.reactions),
            }

        before = first.store.on_loop(lambda: snapshot(first))
    assert before["attachments"]
    assert before["threads"]
    assert before["personal"]
    assert before["reactions"]
    assert any(c["deleted"] for c in before["conversations"].values())
    with serving(path) as second:
        assert second.store.on_loop(lambda: snapshot(second)) == before
        second.reset()  # forgetting is kept too
    with serving(path) as third:
        assert third.directline.conversation_ids() == []


# -- crashes, files it cannot use ------------------------------------------------------------------------------------


def test_a_killed_emulator_keeps_everything_it_answered(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    command = [sys.executable, "-m", "botconnect.emulator", "--port", "0", "--state", str(path)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_environment())
    running = Running(process)
    try:
        banner = running.until("Press Ctrl+C")
        assert any(str(path) in line for line in banner), banner
        url = re.search(r"on (http://\S+)", banner[0])[1]  # type: ignore[index]
        with botconnect.DirectLineClient(secret="dev-secret", endpoint=url) as client:
            cid = client.conversations.start_conversation().conversation_id
            answered = [client.conversations.post_activity(cid, message(str(n))).id for n in range(5)]
            seen = client.conversations.get_activities(cid)
        with pytest.raises(StateFileError, match="in use by another emulator"):  # the lock holds across processes
            Emulator(state_file=path)
        process.send_signal(signal.SIGKILL)  # no shutdown, no final write
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        for stream in (process.stdout, process.stderr):
            assert stream is not None
            stream.close()
    with serving(path) as after:
        kept = after.directline.activities(cid)
        assert [a["id"] for a in kept] == [a.id for a in seen.activities]
        assert set(answered) <= {a["id"] for a in kept}


def test_a_file_that_is_not_a_state_file_is_refused_untouched(tmp_path: Path) -> None:
    garbage = tmp_path / "notes.txt"
    garbage.write_bytes(b"these are my notes, not a database\n" * 200)
    other = tmp_path / "other.db"
    with contextlib.closing(sqlite3.connect(other)) as conn:
        conn.execute("CREATE TABLE things (name TEXT)")
        conn.commit()
    for path in (garbage, other):
        content = path.read_bytes()
        with pytest.raises(StateFileError, match=re.escape(str(path)) + ".* not an emulator state file"):
            Emulator(state_file=path)
        assert path.read_bytes() == content


def test_a_damaged_or_newer_state_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with serving(path) as first, first.directline_client() as client:
        client.conversations.start_conversation()
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("UPDATE rows SET data = '{\"members\": [' WHERE kind = 'conversation'")
        conn.commit()
    with pytest.raises(StateFileError, match="damaged"):
        Emulator(state_file=path)
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema'")
        conn.commit()
    with pytest.raises(StateFileError, match="newer botconnect"):
        Emulator(state_file=path)


def test_one_emulator_per_state_file(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    first = Emulator(state_file=path).start()
    try:
        with pytest.raises(StateFileError, match="in use by another emulator"):
            Emulator(state_file=path)
    finally:
        first.stop()
    Emulator(state_file=path).stop()  # released by stop(): the next one opens it
    assert os.stat(path).st_mode & 0o077 == 0  # it holds tokens and keys: the owner's only


def test_the_cli_refuses_a_bad_state_file_with_a_message(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"\x00not sqlite" * 100)
    command = [sys.executable, "-m", "botconnect.emulator", "--port", "0", "--state", str(garbage)]
    done = subprocess.run(command, capture_output=True, text=True, env=_environment(), timeout=60, check=False)
    assert done.returncode == 2
    assert "not an emulator state file" in done.stderr
    assert "Traceback" not in done.stderr


def test_without_a_state_file_nothing_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # where a default file would land
    with Emulator() as emulator, emulator.directline_client() as client:
        assert emulator.state is None
        client.conversations.post_activity(client.conversations.start_conversation().conversation_id, message("x"))
        assert emulator.store.after_calls == []  # nothing is hooked in: the default is the in-memory emulator
    assert list(tmp_path.iterdir()) == []


class FailingConnection:
    """Stands in for the state file's connection while the disk is 'full'."""

    def __init__(self, real: sqlite3.Connection) -> None:
        self.real = real

    def execute(self, *args: Any) -> Any:
        raise sqlite3.OperationalError("database or disk is full")

    def close(self) -> None:
        self.real.close()


def test_a_failing_write_is_logged_and_caught_up_later(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "state.db"
    with serving(path) as first, first.directline_client() as client:
        state = first.state
        assert state is not None
        cid = client.conversations.start_conversation().conversation_id
        real = state._conn
        assert real is not None
        state._conn = FailingConnection(real)  # type: ignore[assignment]
        with caplog.at_level("ERROR", logger="botconnect.emulator"):
            ids = [client.conversations.post_activity(cid, message(str(n))).id for n in range(3)]  # still served
        assert [r.getMessage() for r in caplog.records].count(
            f"the emulator could not write its state to {path}: database or disk is full"
        ) == 1  # said once, not once a request
        state._conn = real  # the disk has room again: the next write catches up on everything
        seen = client.conversations.get_activities(cid).activities
    with serving(path) as second:
        assert [a["id"] for a in second.directline.activities(cid)] == [a.id for a in seen]
        assert set(ids) <= {a.id for a in seen}
