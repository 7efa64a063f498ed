"""The ACS Chat emulator driven by our own clients, three ways (sync, asyncio, trio), over a real socket.

The emulator (``botconnect.emulator.acs``) runs under uvicorn in a background thread on 127.0.0.1; each test gets a
fresh state and a clock it can move forward. Spec conformance of the raw traffic is test_emulator_acs_spec.py's job:
here the question is whether chat code written against our SDK sees the service behave as the real one does.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.applications import Starlette

import botconnect.chat
import botconnect_aio.chat
from botconnect.chat import (
    ChatMessageType,
    ChatParticipant,
    CommunicationUserIdentifier,
    MicrosoftTeamsAppIdentifier,
    MicrosoftTeamsUserIdentifier,
    NoneRetentionPolicy,
    PhoneNumberIdentifier,
    ThreadCreationDateRetentionPolicy,
    UnknownIdentifier,
)
from botconnect.emulator.acs import AcsChatService
from botconnect.errors import ClientAuthenticationError, PermissionDeniedError, ResourceNotFoundError

from .harness import Env
from .test_chat_credential import make_jwt
from .threaded_server import serving

assert botconnect.chat is not None  # env.pkg.chat needs both chat packages imported
assert botconnect_aio.chat is not None

VERSIONS = ["2025-03-15", "2024-03-07"]
DAY = 86_400.0


class Clock:
    """Real time, plus an offset the tests move forward (retention, startTime)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self(), UTC)


class Acs:
    """The running emulator: its service, base URL and clock."""

    def __init__(self, service: AcsChatService, endpoint: str, clock: Clock) -> None:
        self.service = service
        self.endpoint = endpoint
        self.clock = clock

    def user(self, *, lifetime: float = 3600) -> tuple[str, str]:
        """A new user: (token, raw id)."""
        return self.service.issue_user_token(lifetime=lifetime)


@pytest.fixture(scope="module")
def running() -> Iterator[Acs]:
    clock = Clock()
    service = AcsChatService(clock=clock)
    with serving(Starlette(routes=service.routes())) as url:
        yield Acs(service, url, clock)


@pytest.fixture
def acs(running: Acs) -> Acs:
    running.service.reset()
    running.clock.offset = 0.0
    return running


def chat(env: Env, acs: Acs, token: str, api_version: str = "2025-03-15") -> Any:
    credential = env.pkg.chat.CommunicationTokenCredential(token)
    return env.make(env.pkg.chat.ChatClient, acs.endpoint, credential, api_version=api_version)


def member(raw_id: str, name: str | None = None, **kwargs: Any) -> ChatParticipant:
    return ChatParticipant(identifier=CommunicationUserIdentifier(raw_id), display_name=name, **kwargs)


def pages_of(paged: Any) -> list[list[Any]]:
    return [list(page) for page in paged.by_page()]


# -- threads ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("api_version", VERSIONS)
def test_create_reports_invalid_participants_and_is_idempotent(env: Env, acs: Acs, api_version: str) -> None:
    alice_token, alice = acs.user()
    _, bob = acs.user()
    participants = [
        member(alice, "Alice"),
        member(bob, "Bob"),
        ChatParticipant(identifier=PhoneNumberIdentifier("+14255550123"), display_name="Phone"),
        ChatParticipant(identifier=MicrosoftTeamsUserIdentifier("oid-1")),
        ChatParticipant(identifier=UnknownIdentifier("x:nobody")),
    ]
    with chat(env, acs, alice_token, api_version) as client:
        first = client.create_chat_thread("Lunch", thread_participants=participants, idempotency_token="req-1")
        again = client.create_chat_thread("Lunch", thread_participants=participants, idempotency_token="req-1")
        other = client.create_chat_thread("Lunch", thread_participants=participants)
        thread = client.get_chat_thread_client(first.chat_thread.id)
        listed = [(p.identifier, p.display_name) for p in thread.list_participants()]
        threads = list(client.list_chat_threads())
    assert again.chat_thread.id == first.chat_thread.id != other.chat_thread.id
    assert (first.chat_thread.topic, first.chat_thread.created_by) == ("Lunch", CommunicationUserIdentifier(alice))
    failures = [(p.display_name, e.code, e.message, e.target) for p, e in first.errors]
    assert failures == [
        ("Phone", "403", "Permissions check failed", "4:+14255550123"),
        (None, "403", "Permissions check failed", "8:orgid:oid-1"),
        (None, "404", "Not found", "x:nobody"),
    ]
    assert [(p.display_name, e.target) for p, e in again.errors] == [(f[0], f[3]) for f in failures]
    assert listed == [(CommunicationUserIdentifier(alice), "Alice"), (CommunicationUserIdentifier(bob), "Bob")]
    assert len(threads) == 2  # the repeated request made no third thread


def test_the_creator_joins_even_when_not_listed(env: Env, acs: Acs) -> None:
    alice_token, alice = acs.user()
    _, bob = acs.user()
    with chat(env, acs, alice_token) as client:
        created = client.create_chat_thread("Solo", thread_participants=[member(bob, "Bob")])
        thread = client.get_chat_thread_client(created.chat_thread.id)
        names = [(p.identifier.raw_id, p.display_name) for p in thread.list_participants()]
        [added] = [m for m in thread.list_messages() if m.type == ChatMessageType.PARTICIPANT_ADDED]
    assert names == [(alice, None), (bob, "Bob")]
    assert [p.identifier.raw_id for p in added.content.participants] == [alice, bob]
    assert added.content.initiator == CommunicationUserIdentifier(alice)


def test_teams_apps_join_on_2025_only(env: Env, acs: Acs) -> None:
    token, _ = acs.user()
    app = ChatParticipant(identifier=MicrosoftTeamsAppIdentifier("bot-1"), display_name="Bot")
    with chat(env, acs, token) as client:
        assert client.create_chat_thread("Bots", thread_participants=[app]).errors == []
    with chat(env, acs, token, "2024-03-07") as client:
        [(participant, error)] = client.create_chat_thread("Bots", thread_participants=[app]).errors
    assert (participant.display_name, error.code, error.target) == ("Bot", "404", "28:orgid:bot-1")


def test_properties_metadata_and_retention(env: Env, acs: Acs) -> None:
    token, alice = acs.user()
    with chat(env, acs, token) as client:
        created = client.create_chat_thread(
            "Plans",
            metadata={"a": "1", "b": "2"},
            retention_policy=ThreadCreationDateRetentionPolicy(delete_thread_after_days=40),
        )
        thread = client.get_chat_thread_client(created.chat_thread.id)
        before = thread.get_properties()
        thread.update_properties(metadata={"b": "3", "c": "4"}, retention_policy=NoneRetentionPolicy())
        thread.update_topic("New plans")
        after = thread.get_properties()
        topics = [m.content.topic for m in thread.list_messages() if m.type == ChatMessageType.TOPIC_UPDATED]
    with chat(env, acs, token, "2024-03-07") as old:
        seen_by_2024 = old.get_chat_thread_client(created.chat_thread.id).get_properties()
    assert (before.topic, before.metadata) == ("Plans", {"a": "1", "b": "2"})
    assert before.retention_policy == ThreadCreationDateRetentionPolicy(delete_thread_after_days=40)
    assert before.created_by == CommunicationUserIdentifier(alice)
    assert (after.topic, after.metadata) == ("New plans", {"a": "1", "b": "3", "c": "4"})  # a merge patch
    assert isinstance(after.retention_policy, NoneRetentionPolicy)
    assert topics == ["New plans", "Plans"]
    assert (seen_by_2024.topic, seen_by_2024.metadata, seen_by_2024.retention_policy) == ("New plans", None, None)


def test_retention_policy_deletes_the_thread_when_due(env: Env, acs: Acs) -> None:
    token, _ = acs.user(lifetime=60 * DAY)
    policy = ThreadCreationDateRetentionPolicy(delete_thread_after_days=30)
    with chat(env, acs, token) as client:
        created = client.create_chat_thread("Short-lived", retention_policy=policy).chat_thread
        kept = client.create_chat_thread("Kept").chat_thread
        thread = client.get_chat_thread_client(created.id)
        acs.clock.offset = 29 * DAY
        assert thread.get_properties().deleted_on is None
        acs.clock.offset = 31 * DAY
        with pytest.raises(ResourceNotFoundError):
            thread.get_properties()
        listed = {t.id: t.deleted_on for t in client.list_chat_threads()}
    assert listed[kept.id] is None
    assert listed[created.id] == created.created_on + timedelta(days=30)


@pytest.mark.parametrize("api_version", VERSIONS)
def test_list_threads_pages_newest_first_and_shows_deletions(env: Env, acs: Acs, api_version: str) -> None:
    alice_token, _ = acs.user()
    bob_token, bob = acs.user()
    with chat(env, acs, alice_token, api_version) as client:
        ids = []
        for i in range(5):
            participants = [member(bob)] if i == 1 else []
            ids.append(client.create_chat_thread(f"topic {i}", thread_participants=participants).chat_thread.id)
            acs.clock.offset += 10
        pages = pages_of(client.list_chat_threads(results_per_page=2))
        client.delete_chat_thread(ids[3])
        client.delete_chat_thread(ids[3])  # deleting again is not an error
        with pytest.raises(ResourceNotFoundError):
            client.get_chat_thread_client(ids[3]).get_properties()
        deleted = {t.id: t.deleted_on for t in client.list_chat_threads()}
        since = [t.topic for t in client.list_chat_threads(start_time=acs.clock.now() - timedelta(seconds=25))]
    with chat(env, acs, bob_token, api_version) as client:
        bobs = [t.topic for t in client.list_chat_threads()]
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [t.topic for p in pages for t in p] == [f"topic {i}" for i in reversed(range(5))]
    assert all(t.last_message_received_on is not None for p in pages for t in p)
    assert [i for i, at in deleted.items() if at is not None] == [ids[3]]
    assert since == ["topic 4", "topic 3"]
    assert bobs == ["topic 1"]


# -- messages ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("api_version", VERSIONS)
def test_message_life(env: Env, acs: Acs, api_version: str) -> None:
    alice_token, alice = acs.user()
    bob_token, bob = acs.user()
    with chat(env, acs, alice_token, api_version) as client:
        thread_id = client.create_chat_thread("Chat", thread_participants=[member(bob, "Bob")]).chat_thread.id
        alice = client.get_chat_thread_client(thread_id)
        hello = alice.send_message("hello", sender_display_name="Alice", metadata={"k": "v"}).id
        with chat(env, acs, bob_token, api_version) as other:
            bob = other.get_chat_thread_client(thread_id)
            reply = bob.send_message("<b>hi</b>", chat_message_type="html").id
            with pytest.raises(PermissionDeniedError):
                bob.update_message(hello, "not mine")
            with pytest.raises(PermissionDeniedError):
                bob.delete_message(hello)
            bob.delete_message(reply)
            bob.delete_message(reply)  # again: still deleted, no error
            with pytest.raises(ResourceNotFoundError):
                bob.update_message(reply, "too late")
        original = alice.get_message(hello)
        alice.update_message(hello, "hello!", metadata={"k2": "v2"})
        edited = alice.get_message(hello)
        pages = pages_of(alice.list_messages(results_per_page=3))
        with pytest.raises(ResourceNotFoundError):
            alice.get_message("1")
    messages = [m for page in pages for m in page]
    assert [len(p) for p in pages] == [3, 1]
    assert [m.sequence_id for m in messages] == ["4", "3", "2", "1"]
    assert [m.type for m in messages] == ["html", "text", "topicUpdated", "participantAdded"]
    assert int(hello) < int(reply)
    assert (original.content.message, original.sender_display_name, original.metadata) == ("hello", "Alice", {"k": "v"})
    assert (original.edited_on, original.version) == (None, hello)
    assert (edited.content.message, edited.metadata) == ("hello!", {"k": "v", "k2": "v2"})
    assert edited.edited_on is not None
    assert int(edited.version) > int(original.version)
    assert edited.sender == CommunicationUserIdentifier(messages[1].sender.raw_id)
    removed = messages[0]
    assert (removed.id, removed.content) == (reply, None)
    assert removed.deleted_on is not None
    assert messages[2].content.topic == "Chat"


def test_message_pages_do_not_shift_when_messages_arrive(env: Env, acs: Acs) -> None:
    token, _ = acs.user()
    with chat(env, acs, token) as client:
        thread = client.get_chat_thread_client(client.create_chat_thread("Busy").chat_thread.id)
        sent = [thread.send_message(f"m{i}").id for i in range(5)]
        pages = thread.list_messages(results_per_page=2).by_page()
        first = list(next(pages))
        late = thread.send_message("late").id
        rest = [m.id for page in pages for m in page]
    assert [m.id for m in first] == sent[:2:-1]
    assert late not in rest
    assert [m for m in rest if m in sent] == sent[2::-1]
    assert len(rest) == 3 + 2  # the three older messages and the two system messages, each once


def test_list_messages_since_start_time(env: Env, acs: Acs) -> None:
    token, _ = acs.user()
    with chat(env, acs, token) as client:
        thread = client.get_chat_thread_client(client.create_chat_thread("Timeline").chat_thread.id)
        acs.clock.offset = 60
        old = thread.send_message("old").id
        acs.clock.offset = 120
        mark = acs.clock.now()
        new = thread.send_message("new").id
        acs.clock.offset = 180
        recent = [m.id for m in thread.list_messages(start_time=mark - timedelta(seconds=1))]
        thread.update_message(old, "old, edited")
        changed = [m.id for m in thread.list_messages(start_time=mark + timedelta(seconds=30))]
    assert recent == [new]
    assert changed == [old]  # an edit counts as a change since then


# -- participants -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("api_version", VERSIONS)
def test_participants_add_list_remove(env: Env, acs: Acs, api_version: str) -> None:
    alice_token, alice = acs.user()
    carol_token, carol = acs.user()
    dave_token, dave = acs.user()
    with chat(env, acs, alice_token, api_version) as client:
        thread_id = client.create_chat_thread("Team").chat_thread.id
        thread = client.get_chat_thread_client(thread_id)
        thread.send_message("before carol")
        acs.clock.offset = 30
        joined = acs.clock.now()
        acs.clock.offset = 31
        failed = thread.add_participants(
            [
                member(carol, "Carol", share_history_time=joined),
                member(dave, "Dave"),
                ChatParticipant(identifier=PhoneNumberIdentifier("+15550100"), display_name="Phone"),
            ]
        )
        thread.send_message("after carol")
        pages = pages_of(thread.list_participants(results_per_page=1))
        skipped = [p.display_name for p in thread.list_participants(skip=1)]
        with chat(env, acs, carol_token, api_version) as other:
            carols_view = [m.type for m in other.get_chat_thread_client(thread_id).list_messages()]
        with chat(env, acs, dave_token, api_version) as other:
            daves_view = [m.type for m in other.get_chat_thread_client(thread_id).list_messages()]
        thread.remove_participant(CommunicationUserIdentifier(carol))
        thread.remove_participant(CommunicationUserIdentifier(carol))  # not there any more: no error
        remaining = [p.display_name for p in thread.list_participants()]
        [removed] = [m for m in thread.list_messages() if m.type == ChatMessageType.PARTICIPANT_REMOVED]
        with chat(env, acs, carol_token, api_version) as other:
            with pytest.raises(PermissionDeniedError):
                other.get_chat_thread_client(thread_id).get_properties()
            assert list(other.list_chat_threads()) == []
    assert [(p.display_name, e.code, e.target) for p, e in failed] == [("Phone", "403", "4:+15550100")]
    assert [[p.display_name for p in page] for page in pages] == [[None], ["Carol"], ["Dave"]]
    assert pages[1][0].share_history_time == joined.replace(microsecond=0)
    assert pages[2][0].share_history_time == datetime(1970, 1, 1, tzinfo=UTC)  # the whole history
    assert skipped == ["Carol", "Dave"]
    assert carols_view == ["text", "participantAdded"]
    assert daves_view == ["text", "participantAdded", "text", "topicUpdated", "participantAdded"]
    assert remaining == [None, "Dave"]
    assert [p.identifier.raw_id for p in removed.content.participants] == [carol]
    assert removed.content.initiator.raw_id == alice


def test_participant_metadata_needs_2025(env: Env, acs: Acs) -> None:
    token, _ = acs.user()
    _, bob = acs.user()
    with chat(env, acs, token) as client:
        thread_id = client.create_chat_thread("Meta").chat_thread.id
        client.get_chat_thread_client(thread_id).add_participants([member(bob, "Bob", metadata={"role": "guest"})])
        [_, new] = client.get_chat_thread_client(thread_id).list_participants()
    with chat(env, acs, token, "2024-03-07") as old:
        [_, seen_by_2024] = old.get_chat_thread_client(thread_id).list_participants()
    assert (new.display_name, new.metadata) == ("Bob", {"role": "guest"})
    assert (seen_by_2024.display_name, seen_by_2024.metadata) == ("Bob", None)


# -- typing and read receipts -----------------------------------------------------------------------------------


@pytest.mark.parametrize("api_version", VERSIONS)
def test_typing_and_read_receipts(env: Env, acs: Acs, api_version: str) -> None:
    alice_token, alice = acs.user()
    bob_token, bob = acs.user()
    with chat(env, acs, alice_token, api_version) as client:
        thread_id = client.create_chat_thread("Reads", thread_participants=[member(bob)]).chat_thread.id
        thread = client.get_chat_thread_client(thread_id)
        first = thread.send_message("one").id
        second = thread.send_message("two").id
        thread.send_typing_notification(sender_display_name="Alice")
        thread.send_typing_notification()
        with chat(env, acs, bob_token, api_version) as other:
            bobs = other.get_chat_thread_client(thread_id)
            bobs.send_read_receipt(first)
            bobs.send_read_receipt(second)
            bobs.send_read_receipt(first)  # an older one does not move the receipt back
            with pytest.raises(ResourceNotFoundError):
                bobs.send_read_receipt("12345")
        thread.send_read_receipt(first)
        pages = pages_of(thread.list_read_receipts(results_per_page=1))
        skipped = list(thread.list_read_receipts(skip=1))
    receipts = [(r.sender.raw_id, r.chat_message_id) for page in pages for r in page]
    assert [len(p) for p in pages] == [1, 1]
    assert receipts == [(bob, second), (alice, first)]
    assert all(r.read_on is not None for page in pages for r in page)
    assert [r.chat_message_id for r in skipped] == [first]


# -- who may do what --------------------------------------------------------------------------------------------


def test_a_non_participant_gets_403_and_an_unknown_thread_404(env: Env, acs: Acs) -> None:
    alice_token, _ = acs.user()
    mallory_token, mallory = acs.user()
    with chat(env, acs, alice_token) as client:
        thread_id = client.create_chat_thread("Private").chat_thread.id
        message_id = client.get_chat_thread_client(thread_id).send_message("secret").id
    with chat(env, acs, mallory_token) as client:
        thread = client.get_chat_thread_client(thread_id)
        attempts = [
            thread.get_properties,
            lambda: thread.send_message("hi"),
            lambda: list(thread.list_messages()),
            lambda: thread.get_message(message_id),
            lambda: list(thread.list_participants()),
            lambda: thread.add_participants([member(mallory)]),
            thread.send_typing_notification,
            lambda: thread.send_read_receipt(message_id),
            lambda: client.delete_chat_thread(thread_id),
        ]
        for attempt in attempts:
            with pytest.raises(PermissionDeniedError) as denied:
                attempt()
            assert denied.value.error.code == "Forbidden"
        with pytest.raises(ResourceNotFoundError) as missing:
            client.get_chat_thread_client("19:nothing@thread.v2").get_properties()
        assert list(client.list_chat_threads()) == []
    assert missing.value.error.code == "NotFound"


def test_tokens_expired_unusable_or_self_minted(env: Env, acs: Acs) -> None:
    expired, _ = acs.user(lifetime=-60)
    with chat(env, acs, expired) as client, pytest.raises(ClientAuthenticationError) as rejected:
        client.create_chat_thread("Late")
    assert rejected.value.error.code == "InvalidAuthenticationToken"
    assert rejected.value.error.inner_error["code"] == "TokenExpired"
    no_user = make_jwt(time.time() + 3600, scp="chat")
    with chat(env, acs, no_user) as client, pytest.raises(ClientAuthenticationError) as rejected:
        list(client.list_chat_threads())
    assert rejected.value.error.code == "InvalidAuthenticationToken"
    voip_only = make_jwt(time.time() + 3600, skypeid="acs:caller", acsScope="voip")
    with chat(env, acs, voip_only) as client, pytest.raises(PermissionDeniedError):
        client.create_chat_thread("Calls only")
    minted = make_jwt(time.time() + 3600, skypeid="acs:resource_mine")
    with chat(env, acs, minted) as client:
        created = client.create_chat_thread("Mine").chat_thread
    assert created.created_by == CommunicationUserIdentifier("8:acs:resource_mine")


def test_issue_user_token_checks_its_arguments(acs: Acs) -> None:
    token, raw_id = acs.service.issue_user_token("8:acs:resource_fixed", lifetime=60)
    assert raw_id == "8:acs:resource_fixed"
    assert token.count(".") == 2
    for bad in ("4:+15550100", "acs:missing-prefix", "8:orgid:teams-user", ""):
        with pytest.raises(ValueError):
            acs.service.issue_user_token(bad)
    with pytest.raises(ValueError):
        acs.service.issue_user_token(lifetime=float("inf"))
