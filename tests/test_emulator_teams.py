"""The emulator's Teams operations, driven by ``ConnectorClient.teams`` (sync, asyncio, trio) and by raw HTTP: the
fixed tenant, team, channels and meeting, notifications (202/207), batch sends moving from NotStarted to Completed
with failed entries a page at a time, throttling, reactions, app credentials and reset."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

import botconnect
from botconnect.emulator import Emulator
from botconnect.emulator.teams import CHANNELS, MEETING_ID, TEAM_ID, TENANT_ID, USERS
from botconnect.models import (
    Activity,
    MeetingStageSurface,
    MeetingTabIconSurface,
    TargetedMeetingNotification,
    TeamsChannelData,
)

from .harness import Env

ADA, GRACE, ALAN = USERS


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator() as running:
        yield running


@pytest.fixture
def client(env: Env, emulator: Emulator) -> Iterator[Any]:
    emulator.reset()
    connector = env.construct("ConnectorClient", emulator.service_url, retry_policy=botconnect.NO_RETRIES)
    with connector:
        yield connector


@pytest.fixture
def http(emulator: Emulator) -> Iterator[httpx.Client]:
    emulator.reset()
    with httpx.Client(base_url=emulator.url) as raw:
        yield raw


def message(text: str) -> Activity:
    return Activity(type="message", text=text)


def test_the_meeting_id_needs_encoding() -> None:
    assert all(c in MEETING_ID for c in "+/=")


# -- teams, channels, meetings --------------------------------------------------------------------------------


def test_team_details_and_channels(client: Any) -> None:
    team = client.teams.get_team_details(TEAM_ID)
    assert (team.id, team.name, team.member_count, team.channel_count) == (TEAM_ID, "Emulator Team", 3, 2)
    channels = client.teams.get_teams_channels(TEAM_ID)
    assert [(c.id, c.name) for c in channels] == [(TEAM_ID, None), (CHANNELS[1]["id"], "Announcements")]


def test_unknown_team_is_404(client: Any) -> None:
    with pytest.raises(botconnect.ResourceNotFoundError) as caught:
        client.teams.get_teams_channels("19:other@thread.tacv2")
    assert caught.value.error.code == "TeamNotFound"


def test_channels_are_conversations_the_bot_can_post_to(client: Any, emulator: Emulator) -> None:
    assert CHANNELS[1]["id"] not in emulator.store.conversations  # made on first use of the Teams API
    client.teams.get_teams_channels(TEAM_ID)
    sent = client.conversations.send_to_conversation(CHANNELS[1]["id"], message("hello channel"))
    conversation = emulator.store.conversations[CHANNELS[1]["id"]]
    assert conversation.activities[-1]["text"] == "hello channel"
    assert sent.id == conversation.activities[-1]["id"]
    assert {m["id"] for m in conversation.members} >= {u["id"] for u in USERS}


def test_meeting_info_and_participants(client: Any) -> None:
    info = client.teams.get_meeting_info(MEETING_ID)
    assert info.details.id == MEETING_ID
    assert info.details.scheduled_end_time > info.details.scheduled_start_time
    assert info.organizer.name == ADA["name"]
    roles = [
        (p.user.name, p.meeting.role, p.meeting.in_meeting)
        for p in (client.teams.get_meeting_participant(MEETING_ID, u["aadObjectId"], TENANT_ID) for u in USERS)
    ]
    assert roles == [
        (ADA["name"], "Organizer", True),
        (GRACE["name"], "Presenter", True),
        (ALAN["name"], "Attendee", False),
    ]


@pytest.mark.parametrize("tenant", ["another-tenant"])
def test_participant_of_another_tenant_is_404(client: Any, tenant: str) -> None:
    with pytest.raises(botconnect.ResourceNotFoundError):
        client.teams.get_meeting_participant(MEETING_ID, ADA["aadObjectId"], tenant)


def test_raw_meeting_paths_keep_encoded_slashes(http: httpx.Client) -> None:
    encoded = quote(MEETING_ID, safe="")
    assert http.get(f"/v1/meetings/{encoded}").status_code == 200
    # sent raw, the "/" in the id splits it: the service (and the emulator) see another path
    assert http.get(f"/v1/meetings/{MEETING_ID}").status_code == 404
    without_tenant = http.get(f"/v1/meetings/{encoded}/participants/{ADA['id']}")
    assert without_tenant.status_code == 404  # as the service answers a missing tenantId
    with_tenant = http.get(f"/v1/meetings/{encoded}/participants/{ADA['id']}", params={"tenantId": TENANT_ID})
    assert with_tenant.status_code == 200


# -- meeting notifications ------------------------------------------------------------------------------------


def stage() -> MeetingStageSurface:
    return MeetingStageSurface.task("https://example.com/poll", title="Poll")


def test_notification_to_participants_is_delivered(client: Any, emulator: Emulator) -> None:
    recipients = [ADA["aadObjectId"], GRACE["aadObjectId"]]
    notification = TargetedMeetingNotification.create(
        recipients, [stage(), MeetingTabIconSurface(surface="meetingTabIcon")]
    )
    assert client.teams.send_meeting_notification(MEETING_ID, notification) is None
    assert [(n["recipient"], n["surfaces"]) for n in emulator.app.teams.notifications] == [
        (r, ["meetingStage", "meetingTabIcon"]) for r in recipients
    ]


def test_notification_to_unknown_recipients_is_207(client: Any, emulator: Emulator, http: httpx.Client) -> None:
    notification = TargetedMeetingNotification.create([ADA["aadObjectId"], "stranger"], [stage()])
    result = client.teams.send_meeting_notification(MEETING_ID, notification)
    (failure,) = result.recipients_failure_info
    assert (failure.recipient_mri, failure.error_code) == ("stranger", "MeetingNotificationRecipientNotFound")
    assert [n["recipient"] for n in emulator.app.teams.notifications] == [ADA["aadObjectId"]]
    raw = http.post(f"/v1/meetings/{quote(MEETING_ID, safe='')}/notification", json=notification.to_dict())
    assert raw.status_code == 207
    everyone = TargetedMeetingNotification.create([ADA["aadObjectId"]], [stage()])
    raw = http.post(f"/v1/meetings/{quote(MEETING_ID, safe='')}/notification", json=everyone.to_dict())
    assert (raw.status_code, raw.content) == (202, b"")


@pytest.mark.parametrize(
    "body",
    [
        {"type": "message", "value": {"recipients": ["r"], "surfaces": [{"surface": "meetingTabIcon"}]}},
        {
            "type": "targetedMeetingNotification",
            "value": {"recipients": [], "surfaces": [{"surface": "meetingTabIcon"}]},
        },
        {"type": "targetedMeetingNotification", "value": {"recipients": ["r"], "surfaces": [{"surface": "nowhere"}]}},
        {
            "type": "targetedMeetingNotification",
            "value": {"recipients": ["r"], "surfaces": [{"surface": "meetingStage"}]},
        },
    ],
)
def test_malformed_notifications_are_400(http: httpx.Client, body: Any) -> None:
    response = http.post(f"/v1/meetings/{quote(MEETING_ID, safe='')}/notification", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BadArgument"


# -- batch messaging ------------------------------------------------------------------------------------------


def follow(client: Any, operation_id: str) -> list[Any]:
    states = []
    for _ in range(20):
        states.append(client.teams.get_operation_state(operation_id))
        if states[-1].state not in ("NotStarted", "InProgress"):
            return states
    raise AssertionError("the operation never finished")


def test_batch_to_users_progresses_and_lists_failed_entries(client: Any, emulator: Emulator) -> None:
    members = [ADA["id"], "29:ghost-1", GRACE["id"], "29:ghost-2", ALAN["id"], "29:ghost-3"]
    operation_id = client.teams.send_message_to_list_of_users(message("reminder"), members, TENANT_ID)
    states = follow(client, operation_id)
    assert [s.state for s in states] == ["NotStarted", "InProgress", "InProgress", "Completed"]
    assert [s.status_map for s in states] == [{}, {"201": 1, "404": 1}, {"201": 2, "404": 2}, {"201": 3, "404": 3}]
    assert {s.total_entries_count for s in states} == {6}
    assert states[0].retry_after is not None
    assert states[-1].retry_after is None

    pages = list(client.teams.get_failed_entries(operation_id).by_page())
    assert [[e.entry_id for e in page] for page in pages] == [["29:ghost-1", "29:ghost-2"], ["29:ghost-3"]]
    assert all("NotFound" in e.error for page in pages for e in page)

    # each user got it in their 1:1 conversation with the bot
    delivered = {
        m["id"]: c
        for c in emulator.store.conversations.values()
        if c.channel_id == "msteams" and c.id not in {ch["id"] for ch in CHANNELS}
        for m in c.members
        if m["id"].startswith("29:")
    }
    assert sorted(delivered) == sorted(u["id"] for u in USERS)
    assert all(c.activities[-1]["text"] == "reminder" and c.tenant_id == TENANT_ID for c in delivered.values())


def test_batch_to_team_tenant_and_channels(client: Any, emulator: Emulator) -> None:
    for operation_id, expected in [
        (client.teams.send_message_to_all_users_in_team(message("team"), TEAM_ID, TENANT_ID), {"201": 3}),
        (client.teams.send_message_to_all_users_in_tenant(message("tenant"), TENANT_ID), {"201": 3}),
        (
            client.teams.send_message_to_list_of_channels(
                message("channels"), [CHANNELS[0]["id"], "19:gone@thread.tacv2"], TENANT_ID
            ),
            {"201": 1, "404": 1},
        ),
    ]:
        assert follow(client, operation_id)[-1].status_map == expected
    assert emulator.store.conversations[TEAM_ID].activities[-1]["text"] == "channels"
    # the same user's messages land in one 1:1 conversation
    ada = [
        c
        for c in emulator.store.conversations.values()
        if c.member(ADA["id"]) and c.id not in {TEAM_ID, CHANNELS[1]["id"]}
    ]
    assert len(ada) == 1
    assert [a["text"] for a in ada[0].activities] == ["team", "tenant"]


def test_batch_errors(client: Any) -> None:
    with pytest.raises(botconnect.PermissionDeniedError):
        client.teams.send_message_to_all_users_in_tenant(message("x"), "another-tenant")
    with pytest.raises(botconnect.ResourceNotFoundError):
        client.teams.send_message_to_all_users_in_team(message("x"), "19:other@thread.tacv2", TENANT_ID)
    with pytest.raises(botconnect.ResourceNotFoundError) as caught:
        client.teams.get_operation_state("no-such-operation")
    assert caught.value.error.code == "OperationNotFound"


def test_malformed_batch_bodies_are_400(http: httpx.Client) -> None:
    bad = [
        ("users", {"activity": {"type": "message"}, "members": [], "tenantId": TENANT_ID}),
        ("users", {"activity": {"type": "message"}, "members": [{"name": "x"}], "tenantId": TENANT_ID}),
        ("tenant", {"activity": {"text": "no type"}, "tenantId": TENANT_ID}),
    ]
    for target, body in bad:
        assert http.post(f"/v3/batch/conversation/{target}", json=body).status_code == 400


def test_cancel_stops_the_delivery(client: Any) -> None:
    operation_id = client.teams.send_message_to_list_of_users(message("x"), [u["id"] for u in USERS], TENANT_ID)
    client.teams.get_operation_state(operation_id)
    client.teams.get_operation_state(operation_id)  # two of three delivered
    assert client.teams.cancel_operation(operation_id) is None
    state = client.teams.get_operation_state(operation_id)
    assert (state.state, state.status_map) == ("Cancelled", {"201": 2})


def test_throttled_batch_sends_are_retried_by_the_client(env: Env, emulator: Emulator) -> None:
    emulator.reset()
    emulator.app.teams.throttle_batch(2, retry_after=0)
    with env.construct("ConnectorClient", emulator.service_url) as client:
        operation_id = client.teams.send_message_to_all_users_in_tenant(message("after 429s"), TENANT_ID)
    assert operation_id in emulator.app.teams.operations
    emulator.app.teams.throttle_batch(1, retry_after=0)
    no_retries = env.construct("ConnectorClient", emulator.service_url, retry_policy=botconnect.NO_RETRIES)
    with no_retries, pytest.raises(botconnect.RateLimitError) as caught:
        no_retries.teams.send_message_to_all_users_in_tenant(message("no retries"), TENANT_ID)
    assert caught.value.retry_after == 0.0
    assert len(emulator.app.teams.operations) == 1


# -- reactions, channelData, credentials, reset ---------------------------------------------------------------


def test_reactions_on_a_message(client: Any, emulator: Emulator) -> None:
    emulator.app.teams.incoming_message("hello bot")  # the user writes in the General channel
    sent = client.conversations.send_to_conversation(TEAM_ID, message("react to me"))
    client.teams.add_reaction(TEAM_ID, sent.id, "like")
    client.teams.add_reaction(TEAM_ID, sent.id, "heart")
    client.teams.remove_reaction(TEAM_ID, sent.id, "like")
    assert emulator.app.teams.reactions[(TEAM_ID, sent.id)] == ["heart"]
    with pytest.raises(botconnect.ResourceNotFoundError):
        client.teams.add_reaction(TEAM_ID, "no-such-activity", "like")


def test_incoming_messages_carry_teams_channel_data(emulator: Emulator) -> None:
    channel = TeamsChannelData.from_activity(emulator.app.teams.incoming_message("hi"))
    assert (channel.tenant_id, channel.team.id, channel.channel.id, channel.meeting) == (
        TENANT_ID,
        TEAM_ID,
        TEAM_ID,
        None,
    )
    meeting = Activity.from_dict(emulator.app.teams.incoming_message("hi", user=2, in_meeting=True))
    assert TeamsChannelData.from_activity(meeting).meeting.id == MEETING_ID
    assert meeting.from_property.aad_object_id == ALAN["aadObjectId"]
    assert meeting.service_url == emulator.service_url


def test_with_app_credentials_the_teams_routes_want_a_token(env: Env) -> None:
    with Emulator(app_id="teams-app", app_password="s3cret") as secured:
        anonymous = env.construct("ConnectorClient", secured.service_url, retry_policy=botconnect.NO_RETRIES)
        with anonymous, pytest.raises(botconnect.ClientAuthenticationError):
            anonymous.teams.get_team_details(TEAM_ID)
        credential = env.pkg.MicrosoftAppCredentials("teams-app", "s3cret", oauth_endpoint=secured.url)
        try:
            with env.construct("ConnectorClient", secured.service_url, credential) as client:
                assert client.teams.get_team_details(TEAM_ID).name == "Emulator Team"
        finally:
            env.run(credential.close)


def test_reset_forgets_operations_and_the_channels_come_back_on_use(client: Any, emulator: Emulator) -> None:
    client.teams.send_message_to_all_users_in_tenant(message("x"), TENANT_ID)
    emulator.reset()
    assert emulator.app.teams.operations == {}
    assert emulator.store.conversations == {}
    client.teams.get_team_details(TEAM_ID)
    assert set(emulator.store.conversations) == {c["id"] for c in CHANNELS}
