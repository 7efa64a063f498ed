"""``ConnectorClient.teams``, three ways (sync, asyncio, trio): every operation's wire request (method, raw path with
encoded ids, query, headers with the bearer token, exact JSON body), the statuses each answers with (202/207,
201 + operationId), the wire names Microsoft's SDKs disagree on, failed-entries paging, 429 retries of batch sends,
and bad input refused before anything is sent.

There is no Swagger for the Teams operations: the expected requests are written out by hand from the table in
``../shared/reference/auth/inbound-auth-spec.md`` section 4.
"""

from __future__ import annotations

import json
import string
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from botconnect import errors
from botconnect._core.retry import RetryPolicy
from botconnect.models import (
    Activity,
    ChannelAccount,
    ChannelInfo,
    MeetingStageSurface,
    MeetingTabIconSurface,
    MessageReactionTypes,
    OnBehalfOf,
    TargetedMeetingNotification,
    TeamMember,
    TeamsChannelAccount,
)

from .harness import Env, FakeService

SERVICE_URL = "https://smba.trafficmanager.net/teams/"
PREFIX = "/teams"
SCOPE = "https://api.botframework.com/.default"
TENANT = "72f9-tenant"
TEAM = "19:Ab/c?d#e%f@thread.tacv2"
MEETING = "MCMxOTpt+ZW/V0aW5nX2Vt==="  # base64: "+", "/" and "=" must all be encoded
USER = "29:1AbC+x/y="
OPERATION = "op/1+2="
CONVERSATION = "a:1Xy/z"
ACTIVITY_ID = "1625:abc/def"

_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")


def enc(value: str) -> str:
    """RFC 3986 path-segment encoding, written independently of the SDK: only unreserved characters stay raw."""
    return "".join(c if c in _UNRESERVED else "".join(f"%{b:02X}" for b in c.encode()) for c in value)


def test_the_test_ids_hold_what_must_be_encoded() -> None:
    assert enc(MEETING) == "MCMxOTpt%2BZW%2FV0aW5nX2Vt%3D%3D%3D"
    assert enc(TEAM) == "19%3AAb%2Fc%3Fd%23e%25f%40thread.tacv2"


class Token:
    def __init__(self, token: str) -> None:
        self.token = token
        self.expires_on = 2**31


class Credential:
    def __init__(self) -> None:
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> Token:
        self.scopes.append(scopes)
        return Token("teams-bearer-token")


class AsyncCredential(Credential):
    async def get_token(self, *scopes: str, **kwargs: Any) -> Token:  # type: ignore[override]
        return super().get_token(*scopes)


def raw(obj: Any) -> Any:
    return getattr(obj, "unwrapped", obj)


@pytest.fixture
def credential(env: Env) -> Credential:
    return AsyncCredential() if env.is_async else Credential()


@pytest.fixture
def waits(env: Env) -> list[float]:
    return []


@pytest.fixture
def client(env: Env, fake: FakeService, credential: Credential, waits: list[float]) -> Any:
    connector = env.construct("ConnectorClient", SERVICE_URL, credential, transport=fake.transport)
    pipeline = raw(connector)._pipeline
    if env.is_async:

        async def sleep(seconds: float) -> None:
            waits.append(seconds)

        pipeline._sleep = sleep
    else:
        pipeline._sleep = waits.append
    with connector:
        yield connector


def assert_request(request: httpx.Request, method: str, raw_path: str, query: list[tuple[str, str]] | None = None):
    assert request.method == method
    assert request.url.host == "smba.trafficmanager.net"
    assert request.url.raw_path.split(b"?")[0] == (PREFIX + raw_path).encode("ascii")
    assert parse_qsl(request.url.query.decode("ascii"), keep_blank_values=True) == (query or [])
    assert request.headers["authorization"] == "Bearer teams-bearer-token"
    assert request.headers["accept"] == "application/json"
    assert request.headers["user-agent"].startswith("botconnect-python/")


def assert_json(request: httpx.Request, body: Any) -> None:
    assert request.headers["content-type"] == "application/json; charset=utf-8"
    assert json.loads(request.content) == body


def assert_no_body(request: httpx.Request) -> None:
    assert request.content == b""
    assert "content-type" not in request.headers


# -- teams and channels -------------------------------------------------------------------------------------


def test_get_team_details(client: Any, fake: FakeService, credential: Credential) -> None:
    fake.reply(
        200,
        json_body={
            "id": TEAM,
            "name": "Contoso",
            "aadGroupId": "g-1",
            "channelCount": 3,
            "memberCount": 42,
            "type": "standard",
        },
    )
    details = client.teams.get_team_details(TEAM)
    (request,) = fake.requests
    assert_request(request, "GET", "/v3/teams/" + enc(TEAM))
    assert_no_body(request)
    assert credential.scopes == [(SCOPE,)]
    assert (details.id, details.name, details.aad_group_id) == (TEAM, "Contoso", "g-1")
    assert (details.channel_count, details.member_count, details.type) == (3, 42, "standard")


def test_get_teams_channels(client: Any, fake: FakeService) -> None:
    fake.reply(
        200,
        json_body={
            "conversations": [
                {"id": TEAM, "type": "standard"},
                {"id": "19:x@thread.tacv2", "name": "Design", "type": "private", "futureField": 1},
            ]
        },
    )
    channels = client.teams.get_teams_channels(TEAM)
    assert_request(fake.last, "GET", "/v3/teams/" + enc(TEAM) + "/conversations")
    assert channels == [
        ChannelInfo(id=TEAM, type="standard"),
        ChannelInfo(id="19:x@thread.tacv2", name="Design", type="private", additional_properties={"futureField": 1}),
    ]


def test_get_teams_channels_empty_body_fields(client: Any, fake: FakeService) -> None:
    fake.reply(200, json_body={})
    assert client.teams.get_teams_channels(TEAM) == []


def test_unknown_team_is_a_typed_404(client: Any, fake: FakeService) -> None:
    fake.reply(404, json_body={"error": {"code": "NotFound", "message": "team not found"}})
    with pytest.raises(errors.ResourceNotFoundError) as caught:
        client.teams.get_team_details(TEAM)
    assert caught.value.error.code == "NotFound"
    assert "teams-bearer-token" not in repr(caught.value.response.request.headers)


# -- meetings -----------------------------------------------------------------------------------------------

ORGANIZER = {"id": "29:org", "name": "Ada", "aadObjectId": "aad-ada", "email": "ada@contoso.com", "tenantId": TENANT}


def test_get_meeting_info(client: Any, fake: FakeService) -> None:
    fake.reply(
        200,
        json_body={
            "details": {
                "id": MEETING,
                "msGraphResourceId": "graph-1",
                "scheduledStartTime": "2024-05-01T09:00:00.1234567+00:00",
                "scheduledEndTime": "2024-05-01T09:30:00Z",
                "joinUrl": "https://teams.microsoft.com/l/meetup-join/1",
                "title": "Stand-up",
                "type": "Scheduled",
            },
            "conversation": {"id": "19:meeting_1@thread.v2", "isGroup": True, "conversationType": "groupChat"},
            "organizer": ORGANIZER,
        },
    )
    info = client.teams.get_meeting_info(MEETING)
    (request,) = fake.requests
    assert_request(request, "GET", "/v1/meetings/" + enc(MEETING))
    assert b"%2B" in request.url.raw_path
    assert b"%2F" in request.url.raw_path
    assert b"%3D" in request.url.raw_path
    assert info.details.title == "Stand-up"
    assert info.details.scheduled_start_time.isoformat() == "2024-05-01T09:00:00.123456+00:00"
    assert info.details.join_url == "https://teams.microsoft.com/l/meetup-join/1"
    assert isinstance(info.organizer, TeamsChannelAccount)
    assert (info.organizer.email, info.conversation.conversation_type) == ("ada@contoso.com", "groupChat")


def test_get_meeting_participant(client: Any, fake: FakeService) -> None:
    fake.reply(
        200,
        json_body={
            "user": {**ORGANIZER, "userRole": "user"},
            "meeting": {"role": "Organizer", "inMeeting": True},
            "conversation": {"id": "19:meeting_1@thread.v2"},
        },
    )
    participant = client.teams.get_meeting_participant(MEETING, USER, TENANT)
    assert_request(fake.last, "GET", f"/v1/meetings/{enc(MEETING)}/participants/{enc(USER)}", [("tenantId", TENANT)])
    assert participant.user.user_role == "user"
    assert (participant.meeting.role, participant.meeting.in_meeting) == ("Organizer", True)


@pytest.mark.parametrize("tenant", ["", "  ", None, 7])
def test_meeting_participant_needs_a_tenant(client: Any, fake: FakeService, tenant: Any) -> None:
    with pytest.raises((TypeError, ValueError)):
        client.teams.get_meeting_participant(MEETING, USER, tenant)
    assert fake.requests == []


def notification() -> TargetedMeetingNotification:
    return TargetedMeetingNotification.create(
        ["aad-1", "aad-2"],
        [
            MeetingStageSurface.task("https://contoso.com/poll", title="Poll", height=300, width=400),
            MeetingTabIconSurface(surface="meetingTabIcon", tab_entity_id="tab-1"),
        ],
        on_behalf_of=[OnBehalfOf.person("8:orgid:aad-ada", "Ada")],
    )


NOTIFICATION_WIRE = {
    "type": "targetedMeetingNotification",
    "value": {
        "recipients": ["aad-1", "aad-2"],
        "surfaces": [
            {
                "surface": "meetingStage",
                "contentType": "task",
                "content": {"value": {"title": "Poll", "url": "https://contoso.com/poll", "height": 300, "width": 400}},
            },
            {"surface": "meetingTabIcon", "tabEntityId": "tab-1"},
        ],
    },
    "channelData": {
        "OnBehalfOf": [{"itemid": 0, "mentionType": "person", "mri": "8:orgid:aad-ada", "displayName": "Ada"}]
    },
}


def test_meeting_notification_delivered_to_everyone_is_none(client: Any, fake: FakeService) -> None:
    fake.reply(202)
    assert client.teams.send_meeting_notification(MEETING, notification()) is None
    (request,) = fake.requests
    assert_request(request, "POST", f"/v1/meetings/{enc(MEETING)}/notification")
    assert_json(request, NOTIFICATION_WIRE)


@pytest.mark.parametrize("code_key", ["errorcode", "errorCode"])
def test_meeting_notification_partly_delivered_lists_the_failures(
    client: Any, fake: FakeService, code_key: str
) -> None:
    failure = {"recipientMri": "8:orgid:aad-2", code_key: "BadRecipient", "failureReason": "not in the meeting"}
    fake.reply(207, json_body={"recipientsFailureInfo": [failure]})
    result = client.teams.send_meeting_notification(MEETING, NOTIFICATION_WIRE)
    assert_json(fake.last, NOTIFICATION_WIRE)  # the dict form sends the same body
    (info,) = result.recipients_failure_info
    assert (info.recipient_mri, info.error_code, info.failure_reason) == (
        "8:orgid:aad-2",
        "BadRecipient",
        "not in the meeting",
    )
    assert info.additional_properties == {}


def test_meeting_notification_type_is_filled_in_without_touching_the_callers_object(
    client: Any, fake: FakeService
) -> None:
    fake.reply(202)
    mine = notification()
    mine.type = None
    client.teams.send_meeting_notification(MEETING, mine)
    assert json.loads(fake.last.content)["type"] == "targetedMeetingNotification"
    assert mine.type is None


def test_meeting_notification_error_is_typed(client: Any, fake: FakeService) -> None:
    fake.reply(400, json_body={"error": {"code": "BadArgument", "message": "bad surface"}})
    with pytest.raises(errors.HttpResponseError) as caught:
        client.teams.send_meeting_notification(MEETING, notification())
    assert caught.value.status_code == 400
    assert len(fake.requests) == 1  # a POST answered 400 is not retried


@pytest.mark.parametrize(
    ("body", "exc"),
    [
        ({"type": "targetedMeetingNotification"}, ValueError),
        ({"value": {"recipients": [], "surfaces": [{"surface": "meetingTabIcon"}]}}, ValueError),
        ({"value": {"recipients": ["aad-1"], "surfaces": []}}, ValueError),
        ({"value": {"recipients": ["aad-1", {"id": 5}], "surfaces": [{"surface": "meetingTabIcon"}]}}, TypeError),
        ({"value": {"recipients": ["aad-1", ""], "surfaces": [{"surface": "meetingTabIcon"}]}}, ValueError),
        ({"value": {"recipients": "aad-1"}}, TypeError),
        ("not a notification", TypeError),
        (None, TypeError),
    ],
)
def test_bad_meeting_notifications_are_refused_before_sending(
    client: Any, fake: FakeService, body: Any, exc: type[Exception]
) -> None:
    with pytest.raises(exc):
        client.teams.send_meeting_notification(MEETING, body)
    assert fake.requests == []


# -- batch messaging ----------------------------------------------------------------------------------------

ACTIVITY = Activity(type="message", text="Quarterly update")
ACTIVITY_WIRE = {"type": "message", "text": "Quarterly update"}


def batch_cases() -> list[Any]:
    members = ["29:a", TeamMember(id="29:b"), ChannelAccount(id="29:c", name="C"), {"id": "29:d"}]
    channels = ["19:general@thread.tacv2", ChannelInfo(id="19:x@thread.tacv2", name="X")]
    return [
        pytest.param(
            lambda t: t.send_message_to_list_of_users(ACTIVITY, members, TENANT),
            "users",
            {"activity": ACTIVITY_WIRE, "members": [{"id": f"29:{c}"} for c in "abcd"], "tenantId": TENANT},
            id="users",
        ),
        pytest.param(
            lambda t: t.send_message_to_all_users_in_tenant(ACTIVITY_WIRE, TENANT),
            "tenant",
            {"activity": ACTIVITY_WIRE, "tenantId": TENANT},
            id="tenant",
        ),
        pytest.param(
            lambda t: t.send_message_to_all_users_in_team(ACTIVITY, TEAM, TENANT),
            "team",
            {"activity": ACTIVITY_WIRE, "teamId": TEAM, "tenantId": TENANT},
            id="team",
        ),
        pytest.param(
            lambda t: t.send_message_to_list_of_channels(ACTIVITY, channels, TENANT),
            "channels",
            {
                "activity": ACTIVITY_WIRE,
                "members": [{"id": "19:general@thread.tacv2"}, {"id": "19:x@thread.tacv2"}],
                "tenantId": TENANT,
            },
            id="channels",
        ),
    ]


@pytest.mark.parametrize(("call", "target", "body"), batch_cases())
def test_batch_send_wire_and_operation_id(client: Any, fake: FakeService, call: Any, target: str, body: Any) -> None:
    fake.reply(201, json_body={"operationId": "op-123"})
    assert call(client.teams) == "op-123"
    (request,) = fake.requests
    assert_request(request, "POST", f"/v3/batch/conversation/{target}")
    assert_json(request, body)


@pytest.mark.parametrize(("call", "target", "body"), batch_cases())
def test_batch_send_is_retried_on_429(
    client: Any, fake: FakeService, waits: list[float], call: Any, target: str, body: Any
) -> None:
    fake.reply(429, json_body={"error": {"code": "TooManyRequests"}}, headers={"Retry-After": "2"})
    fake.reply(429, json_body={"error": {"code": "TooManyRequests"}})  # no Retry-After: backoff
    fake.reply(201, json_body={"operationId": "op-after-throttling"})
    assert call(client.teams) == "op-after-throttling"
    assert len(fake.requests) == 3
    assert {r.content for r in fake.requests} == {fake.requests[0].content}
    assert json.loads(fake.requests[0].content) == body
    assert waits[0] == 2.0
    assert len(waits) == 2
    assert 0.0 <= waits[1] <= RetryPolicy().backoff_factor * 2


def test_batch_send_gives_up_after_the_policys_attempts(client: Any, fake: FakeService, waits: list[float]) -> None:
    for _ in range(3):
        fake.reply(429, json_body={"error": {"code": "TooManyRequests"}}, headers={"Retry-After": "0"})
    with pytest.raises(errors.RateLimitError):
        client.teams.send_message_to_all_users_in_tenant(ACTIVITY, TENANT, retry_policy=RetryPolicy(max_attempts=3))
    assert len(fake.requests) == 3
    assert waits == [0.0, 0.0]


def test_batch_send_is_not_retried_when_the_service_may_have_acted(client: Any, fake: FakeService) -> None:
    fake.reply(500, json_body={"error": {"code": "InternalError"}})
    with pytest.raises(errors.ServerError):
        client.teams.send_message_to_all_users_in_tenant(ACTIVITY, TENANT)
    assert len(fake.requests) == 1  # a second attempt could message every user twice


@pytest.mark.parametrize("body", [{}, {"operationId": ""}, {"operationId": 5}, [], "null"])
def test_batch_response_without_an_operation_id_is_a_deserialization_error(
    client: Any, fake: FakeService, body: Any
) -> None:
    fake.reply(201, content=json.dumps(body) if body != "null" else "null")
    with pytest.raises(errors.DeserializationError):
        client.teams.send_message_to_all_users_in_tenant(ACTIVITY, TENANT)


@pytest.mark.parametrize(
    ("call", "exc"),
    [
        (lambda t: t.send_message_to_list_of_users(ACTIVITY, [], TENANT), ValueError),
        (lambda t: t.send_message_to_list_of_users(ACTIVITY, "29:a", TENANT), TypeError),
        (lambda t: t.send_message_to_list_of_users(ACTIVITY, [{"name": "no id"}], TENANT), ValueError),
        (lambda t: t.send_message_to_list_of_users(ACTIVITY, [ChannelAccount(name="no id")], TENANT), ValueError),
        (lambda t: t.send_message_to_list_of_users(ACTIVITY, [42], TENANT), TypeError),
        (lambda t: t.send_message_to_list_of_users(ACTIVITY, ["29:a"], ""), ValueError),
        (lambda t: t.send_message_to_list_of_users("hello", ["29:a"], TENANT), TypeError),
        (lambda t: t.send_message_to_all_users_in_tenant(ACTIVITY, None), TypeError),
        (lambda t: t.send_message_to_all_users_in_team(ACTIVITY, "", TENANT), ValueError),
        (lambda t: t.send_message_to_list_of_channels(ACTIVITY, {"id": "19:x"}, TENANT), TypeError),
        (lambda t: t.send_message_to_list_of_channels(ACTIVITY, [], TENANT), ValueError),
    ],
)
def test_bad_batch_input_is_refused_before_sending(client: Any, fake: FakeService, call: Any, exc: Any) -> None:
    with pytest.raises(exc):
        call(client.teams)
    assert fake.requests == []


@pytest.mark.parametrize("map_key", ["statusMap", "stateMap"])
def test_get_operation_state(client: Any, fake: FakeService, map_key: str) -> None:
    fake.reply(
        200,
        json_body={
            "state": "InProgress",
            map_key: {"201": 40, "404": 2},
            "retryAfter": "2024-05-01T09:00:05Z",
            "totalEntriesCount": 100,
        },
    )
    state = client.teams.get_operation_state(OPERATION)
    assert_request(fake.last, "GET", "/v3/batch/conversation/" + enc(OPERATION))
    assert_no_body(fake.last)
    assert (state.state, state.status_map, state.total_entries_count) == ("InProgress", {"201": 40, "404": 2}, 100)
    assert state.retry_after.isoformat() == "2024-05-01T09:00:05+00:00"
    assert state.additional_properties == {}


def test_cancel_operation(client: Any, fake: FakeService) -> None:
    fake.reply(200)
    assert client.teams.cancel_operation(OPERATION) is None
    assert_request(fake.last, "DELETE", "/v3/batch/conversation/" + enc(OPERATION))
    assert_no_body(fake.last)


def failed_page(entries_key: str, id_key: str, ids: list[str], token: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {entries_key: [{id_key: i, "error": f"NotFound {i}"} for i in ids]}
    if token is not None:
        body["continuationToken"] = token
    return body


def test_failed_entries_are_paged_by_continuation_token(client: Any, fake: FakeService) -> None:
    fake.reply(200, json_body=failed_page("failedEntryResponses", "entryId", ["29:a", "29:b"], "tok/1+"))
    fake.reply(200, json_body=failed_page("failedEntriesResponses", "Id", ["29:c"], "tok 2"))
    fake.reply(200, json_body=failed_page("failedEntryResponses", "entryId", ["29:d"], None))
    paged = client.teams.get_failed_entries(OPERATION)
    assert fake.requests == []  # lazy: nothing is sent before iterating
    entries = list(paged)
    assert [(e.entry_id, e.error) for e in entries] == [(f"29:{c}", f"NotFound 29:{c}") for c in "abcd"]
    path = "/v3/batch/conversation/failedentries/" + enc(OPERATION)
    assert_request(fake.requests[0], "GET", path)
    assert_request(fake.requests[1], "GET", path, [("continuationToken", "tok/1+")])
    assert_request(fake.requests[2], "GET", path, [("continuationToken", "tok 2")])
    assert len(fake.requests) == 3


def test_failed_entries_resume_from_a_token(client: Any, fake: FakeService) -> None:
    fake.reply(200, json_body=failed_page("failedEntryResponses", "entryId", ["29:z"], ""))
    pages = list(client.teams.get_failed_entries(OPERATION).by_page(continuation_token="resume-here"))
    assert [[e.entry_id for e in page] for page in pages] == [["29:z"]]
    assert pages[0].continuation_token is None  # an empty token ends the paging
    assert parse_qsl(fake.last.url.query.decode()) == [("continuationToken", "resume-here")]


def test_failed_entries_error_mid_paging_carries_the_token(client: Any, fake: FakeService) -> None:
    fake.reply(200, json_body=failed_page("failedEntryResponses", "entryId", ["29:a"], "next"))
    fake.reply(404, json_body={"error": {"code": "NotFound"}})
    with pytest.raises(errors.ResourceNotFoundError) as caught:
        list(client.teams.get_failed_entries(OPERATION))
    assert caught.value.continuation_token == "next"


@pytest.mark.parametrize("operation_id", ["", None, 3])
def test_bad_operation_ids_are_refused_before_sending(client: Any, fake: FakeService, operation_id: Any) -> None:
    for call in (
        lambda: client.teams.get_operation_state(operation_id),
        lambda: client.teams.cancel_operation(operation_id),
        lambda: client.teams.get_failed_entries(operation_id),
    ):
        with pytest.raises((TypeError, ValueError)):
            call()
    assert fake.requests == []


# -- reactions ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "reaction", "wire"),
    [("PUT", "heart", "heart"), ("DELETE", MessageReactionTypes.LIKE, "like"), ("PUT", "1f440_eyes", "1f440_eyes")],
)
def test_reactions(client: Any, fake: FakeService, method: str, reaction: Any, wire: str) -> None:
    fake.reply(200)
    call = client.teams.add_reaction if method == "PUT" else client.teams.remove_reaction
    assert call(CONVERSATION, ACTIVITY_ID, reaction) is None
    path = f"/v3/conversations/{enc(CONVERSATION)}/activities/{enc(ACTIVITY_ID)}/reactions/{wire}"
    assert_request(fake.last, method, path)
    assert_no_body(fake.last)


def test_reaction_ids_are_checked_before_sending(client: Any, fake: FakeService) -> None:
    with pytest.raises(ValueError):
        client.teams.add_reaction(CONVERSATION, ACTIVITY_ID, "")
    with pytest.raises(TypeError):
        client.teams.remove_reaction(CONVERSATION, None, "like")
    assert fake.requests == []


def test_reads_are_retried_on_503(client: Any, fake: FakeService, waits: list[float]) -> None:
    fake.reply(503, json_body={"error": {"code": "ServiceUnavailable"}})
    fake.reply(200, json_body={"id": TEAM})
    assert client.teams.get_team_details(TEAM).id == TEAM
    assert len(fake.requests) == 2
    assert len(waits) == 1


def test_untrusted_service_url_never_gets_the_token(env: Env, fake: FakeService, credential: Credential) -> None:
    with pytest.raises(errors.UntrustedEndpointError):
        env.construct("ConnectorClient", "https://teams.evil.example/", credential, transport=fake.transport)
    assert credential.scopes == []
