"""The Teams models: channelData as Teams sends it, the wire names Microsoft's SDKs disagree on (parsed every way,
written one way), meeting-notification surfaces by ``surface``, and the AI-answer entity (label, citations)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from botconnect.models import (
    Activity,
    BatchFailedEntriesResponse,
    BatchFailedEntry,
    BatchOperationState,
    ChannelInfo,
    Citation,
    Entity,
    MeetingNotificationChannelData,
    MeetingNotificationRecipientFailureInfo,
    MeetingNotificationResponse,
    MeetingStageSurface,
    MeetingSurface,
    MeetingTabIconSurface,
    Mention,
    MessageEntity,
    NotificationInfo,
    OnBehalfOf,
    SensitivityUsageInfo,
    TargetedMeetingNotification,
    TeamsChannelData,
)

# A channel message as Teams delivers it (shape of the Teams docs' examples; ids made up).
TEAMS_MESSAGE: dict[str, Any] = {
    "type": "message",
    "id": "1481567603816",
    "channelId": "msteams",
    "serviceUrl": "https://smba.trafficmanager.net/amer/",
    "from": {"id": "29:1XJ", "name": "Megan", "aadObjectId": "aad-megan"},
    "conversation": {"conversationType": "channel", "id": "19:abc@thread.skype;messageid=1481567603816"},
    "text": "<at>Bot</at> hello",
    "channelData": {
        "teamsChannelId": "19:abc@thread.skype",
        "teamsTeamId": "19:team@thread.skype",
        "channel": {"id": "19:abc@thread.skype", "name": "General"},
        "team": {"id": "19:team@thread.skype", "name": "Contoso", "aadGroupId": "g-1"},
        "tenant": {"id": "t-1"},
        "meeting": {"id": "MCMxOTpt+ZW/V0aW5n=="},
        "eventType": "channelCreated",
        "settings": {"selectedChannel": {"id": "19:sel@thread.skype"}},
        "notification": {"alert": True, "alertInMeeting": False, "externalResourceUrl": "https://x"},
        "onBehalfOf": [{"itemid": 0, "mentionType": "person", "mri": "29:1XJ", "displayName": "Megan"}],
    },
}


def test_channel_data_from_an_activity() -> None:
    activity = Activity.from_dict(TEAMS_MESSAGE)
    data = TeamsChannelData.from_activity(activity)
    assert data.tenant_id == "t-1"
    assert (data.team.id, data.team.name, data.team.aad_group_id) == ("19:team@thread.skype", "Contoso", "g-1")
    assert data.channel == ChannelInfo(id="19:abc@thread.skype", name="General")
    assert data.meeting.id == "MCMxOTpt+ZW/V0aW5n=="
    assert data.event_type == "channelCreated"
    assert data.settings.selected_channel.id == "19:sel@thread.skype"
    assert data.notification == NotificationInfo(alert=True, alert_in_meeting=False, external_resource_url="https://x")
    assert data.on_behalf_of == [OnBehalfOf.person("29:1XJ", "Megan")]
    # what the SDK does not model survives, and the whole thing writes back as it came
    assert data.additional_properties == {
        "teamsChannelId": "19:abc@thread.skype",
        "teamsTeamId": "19:team@thread.skype",
    }
    assert data.to_dict() == TEAMS_MESSAGE["channelData"]


def test_channel_data_from_a_wire_dict_and_from_nothing() -> None:
    assert TeamsChannelData.from_activity(TEAMS_MESSAGE).tenant_id == "t-1"
    assert TeamsChannelData.from_activity(Activity(type="message")) == TeamsChannelData()
    assert TeamsChannelData.from_activity({"type": "message"}).tenant_id is None
    data = TeamsChannelData(notification=NotificationInfo(alert=True))
    assert TeamsChannelData.from_activity(Activity(channel_data=data)) is data


@pytest.mark.parametrize("channel_data", ["text", 5, ["list"]])
def test_channel_data_that_is_not_an_object_is_a_type_error(channel_data: Any) -> None:
    with pytest.raises(TypeError):
        TeamsChannelData.from_activity(Activity(type="message", channel_data=channel_data))
    with pytest.raises(TypeError):
        TeamsChannelData.from_activity("not an activity")  # type: ignore[arg-type]


def test_channel_data_sent_by_a_bot() -> None:
    activity = Activity(
        type="message", text="ping", channel_data=TeamsChannelData(notification=NotificationInfo(alert=True))
    )
    assert activity.to_dict()["channelData"] == {"notification": {"alert": True}}


# -- the names the SDKs disagree on ---------------------------------------------------------------------------

ALIASES = [
    (
        BatchOperationState,
        {"state": "Completed", "stateMap": {"201": 3}},
        {"state": "Completed", "statusMap": {"201": 3}},
    ),
    (BatchFailedEntry, {"Id": "29:a", "error": "NotFound"}, {"entryId": "29:a", "error": "NotFound"}),
    (
        BatchFailedEntriesResponse,
        {"failedEntriesResponses": [{"Id": "29:a"}], "continuationToken": "t"},
        {"failedEntryResponses": [{"entryId": "29:a"}], "continuationToken": "t"},
    ),
    (
        MeetingNotificationResponse,
        {"recipientsFailureInfo": [{"recipientMri": "m", "errorCode": "E"}]},
        {"recipientsFailureInfo": [{"recipientMri": "m", "errorcode": "E"}]},
    ),
    (MeetingNotificationRecipientFailureInfo, {"errorCode": "E"}, {"errorcode": "E"}),
    (MeetingNotificationChannelData, {"onBehalfOf": [{"mri": "m"}]}, {"OnBehalfOf": [{"mri": "m"}]}),
    (TeamsChannelData, {"OnBehalfOf": [{"mri": "m"}]}, {"onBehalfOf": [{"mri": "m"}]}),
]


@pytest.mark.parametrize(("cls", "theirs", "ours"), ALIASES, ids=[c[0].__name__ for c in ALIASES])
def test_other_sdks_spellings_parse_and_ours_are_written(
    cls: Any, theirs: dict[str, Any], ours: dict[str, Any]
) -> None:
    for parsed in (
        cls.from_dict(theirs),
        cls.from_json(json.dumps(theirs)),
        cls.from_json(json.dumps(theirs).encode()),
    ):
        assert parsed == cls.from_dict(ours)
        assert parsed.additional_properties == {}
        assert parsed.to_dict() == ours
    assert cls.from_dict(ours).to_dict() == ours


def test_aliases_do_not_change_the_callers_dict() -> None:
    theirs = {"stateMap": {"201": 1}}
    BatchOperationState.from_dict(theirs)
    assert theirs == {"stateMap": {"201": 1}}


def test_when_both_spellings_come_ours_wins_and_the_other_is_kept() -> None:
    state = BatchOperationState.from_dict({"statusMap": {"201": 1}, "stateMap": {"404": 9}})
    assert state.status_map == {"201": 1}
    assert state.additional_properties == {"stateMap": {"404": 9}}
    assert state.to_dict() == {"statusMap": {"201": 1}, "stateMap": {"404": 9}}


def test_an_alias_nested_in_an_unaliased_model_is_parsed() -> None:
    # MeetingNotificationResponse has no aliases of its own: its items must still go through theirs
    response = MeetingNotificationResponse.from_json(
        b'{"recipientsFailureInfo": [{"errorCode": "E1"}, {"errorcode": "E2"}]}'
    )
    assert [info.error_code for info in response.recipients_failure_info or []] == ["E1", "E2"]


# -- meeting notifications ------------------------------------------------------------------------------------


def test_surfaces_parse_by_their_surface_and_unknown_ones_are_kept() -> None:
    value = {
        "recipients": ["aad-1"],
        "surfaces": [
            {"surface": "meetingStage", "contentType": "task", "content": {"value": {"url": "https://x"}}},
            {"surface": "meetingTabIcon", "tabEntityId": "tab"},
            {"surface": "meetingCopilotPane", "contentType": "task", "content": {}},
        ],
    }
    notification = TargetedMeetingNotification.from_dict({"type": "targetedMeetingNotification", "value": value})
    stage, tab, pane = notification.value.surfaces
    assert isinstance(stage, MeetingStageSurface)
    assert stage.content == {"value": {"url": "https://x"}}
    assert isinstance(tab, MeetingTabIconSurface)
    assert tab.tab_entity_id == "tab"
    assert type(pane) is MeetingSurface
    assert pane.additional_properties == {"contentType": "task", "content": {}}
    assert notification.to_dict()["value"] == value


def test_notification_builders() -> None:
    stage = MeetingStageSurface.task("https://x/poll", title="Poll", width=400)
    assert stage.to_dict() == {
        "surface": "meetingStage",
        "contentType": "task",
        "content": {"value": {"title": "Poll", "url": "https://x/poll", "width": 400}},
    }
    with pytest.raises(ValueError):
        MeetingStageSurface.task("")
    with pytest.raises(TypeError):
        TargetedMeetingNotification.create("aad-1", [stage])
    with pytest.raises(ValueError):
        OnBehalfOf.person("")
    built = TargetedMeetingNotification.create(iter(["aad-1"]), (stage,))
    assert built.to_dict()["type"] == "targetedMeetingNotification"
    assert "channelData" not in built.to_dict()


# -- the AI-answer entity -------------------------------------------------------------------------------------

AI_ENTITY: dict[str, Any] = {
    "type": "https://schema.org/Message",
    "@type": "Message",
    "@context": "https://schema.org",
    "@id": "",
    "additionalType": ["AIGeneratedContent"],
    "citation": [
        {
            "@type": "Claim",
            "position": 1,
            "appearance": {
                "@type": "DigitalDocument",
                "name": "Handbook",
                "abstract": "Leave is 25 days",
                "url": "https://contoso.example/handbook",
                "encodingFormat": "application/vnd.microsoft.card.adaptive",
                "image": {"@type": "ImageObject", "name": "Microsoft Word"},
                "keywords": ["leave", "HR"],
                "usageInfo": {"@type": "CreativeWork", "name": "Confidential", "description": "HR only"},
            },
        }
    ],
    "usageInfo": {"type": "https://schema.org/Message", "@type": "CreativeWork", "name": "General"},
}


def test_the_ai_entity_parses_by_type_beside_other_entities() -> None:
    unknown = {"type": "streaminfo", "streamId": "s-1", "streamSequence": 2}
    activity = Activity.from_dict(
        {"type": "message", "entities": [AI_ENTITY, {"type": "mention", "text": "x"}, unknown]}
    )
    ai, mention, other = activity.entities
    assert isinstance(ai, MessageEntity)
    assert isinstance(mention, Mention)
    assert type(other) is Entity
    assert other.additional_properties == {"streamId": "s-1", "streamSequence": 2}
    assert ai.is_ai_generated
    (citation,) = ai.citation
    assert citation.position == 1
    assert (citation.appearance.name, citation.appearance.abstract) == ("Handbook", "Leave is 25 days")
    assert citation.appearance.image.name == "Microsoft Word"
    assert citation.appearance.usage_info.name == "Confidential"
    assert ai.usage_info.name == "General"
    assert MessageEntity.from_activity(activity) is ai
    assert activity.to_dict()["entities"] == [AI_ENTITY, {"type": "mention", "text": "x"}, unknown]


def test_building_an_ai_answer_with_a_citation() -> None:
    entity = MessageEntity.create(usage_info=SensitivityUsageInfo.create("General"))
    entity.add_citation(
        Citation.create(
            1, "Handbook", "Leave is 25 days", url="https://contoso.example/handbook", icon="Microsoft Word"
        )
    )
    activity = Activity(type="message", text="You get 25 days [1].", entities=[entity])
    wire = activity.to_dict()["entities"][0]
    assert wire == {
        "type": "https://schema.org/Message",
        "@type": "Message",
        "@context": "https://schema.org",
        "@id": "",
        "additionalType": ["AIGeneratedContent"],
        "citation": [
            {
                "@type": "Claim",
                "position": 1,
                "appearance": {
                    "@type": "DigitalDocument",
                    "name": "Handbook",
                    "url": "https://contoso.example/handbook",
                    "abstract": "Leave is 25 days",
                    "image": {"@type": "ImageObject", "name": "Microsoft Word"},
                },
            }
        ],
        "usageInfo": {"type": "https://schema.org/Message", "@type": "CreativeWork", "name": "General"},
    }
    assert isinstance(Activity.from_dict(activity.to_dict()).entities[0], MessageEntity)


def test_citations_without_the_ai_label() -> None:
    entity = MessageEntity.create(ai_generated=False, citations=[Citation.create(2, "Doc", "Excerpt")])
    assert not entity.is_ai_generated
    assert "additionalType" not in entity.to_dict()
    assert MessageEntity.from_activity(Activity(type="message")) is None


@pytest.mark.parametrize("position", [0, -1, True, 1.5, "1"])
def test_citation_positions_start_at_one(position: Any) -> None:
    with pytest.raises(ValueError):
        Citation.create(position, "Doc", "Excerpt")


def test_citation_builder_refuses_bad_types() -> None:
    with pytest.raises(TypeError):
        Citation.create(1, "Doc", None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Citation.create(1, "Doc", "Excerpt", keywords="one")
    with pytest.raises(TypeError):
        MessageEntity.create().add_citation({"position": 1})  # type: ignore[arg-type]
