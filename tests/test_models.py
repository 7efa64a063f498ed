"""Wire models: exact round trips, datetimes, open enums, helpers, cards, and coverage of the spec's fields."""

import copy
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs
import pytest

import botconnect.models as models
from botconnect._core import serde
from botconnect.models import (
    ActionTypes,
    Activity,
    ActivityTypes,
    AnimationCard,
    Attachment,
    AttachmentData,
    AudioCard,
    BasicCard,
    CardAction,
    CardImage,
    ChannelAccount,
    ConversationAccount,
    ConversationReference,
    DeliveryModes,
    Entity,
    Fact,
    GeoCoordinates,
    HeroCard,
    MediaCard,
    MediaUrl,
    Mention,
    MessageReactionTypes,
    OAuthCard,
    Place,
    ReceiptCard,
    ReceiptItem,
    RoleTypes,
    SigninCard,
    TeamsChannelAccount,
    TeamsPagedMembersResult,
    Thing,
    ThumbnailCard,
    ThumbnailUrl,
    TokenExchangeResource,
    VideoCard,
)

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"

HERO_CONTENT: dict[str, Any] = {
    "title": "Seattle Center Monorail",
    "subtitle": "Monorail",
    "text": "The Seattle Center Monorail is an elevated train line.",
    "images": [
        {
            "url": "https://example.com/monorail.jpg",
            "alt": "monorail",
            "tap": {"type": "showImage", "value": "https://example.com/monorail.jpg"},
        }
    ],
    "buttons": [
        {"type": "openUrl", "title": "Official website", "value": "https://www.seattlemonorail.com"},
        {"type": "futureAction", "title": "?", "value": {"k": 1}, "cardOnlyKey": "kept"},
    ],
    "tap": {"type": "imBack", "title": "tap", "value": "tapped"},
    "heroExtension": {"x": [1, 2]},
}

FULL_ACTIVITY: dict[str, Any] = {
    "type": "message",
    "id": "1485983408511",
    "timestamp": "2017-12-26T18:20:54.123456Z",
    "localTimestamp": "2017-12-26T10:20:54.123456-08:00",
    "localTimezone": "America/Los_Angeles",
    "callerId": "urn:botframework:azure",
    "serviceUrl": "https://smba.trafficmanager.net/amer/",
    "channelId": "msteams",
    "from": {
        "id": "29:1user",
        "name": "Jane Doe",
        "aadObjectId": "6b9e3a1c-0000-4c2a-9d5e-000000000001",
        "role": "user",
        "properties": {"department": "R&D"},
        "userPrincipalNameHint": "jane@example.com",
    },
    "conversation": {
        "isGroup": True,
        "conversationType": "channel",
        "tenantId": "72f988bf-0000-41af-91ab-2d7cd011db47",
        "id": "19:abc@thread.skype;messageid=1485983408511",
        "name": "General",
        "aadObjectId": "2c9a0000-0000-4000-8000-000000000002",
        "role": "bot",
        "properties": {"pinned": False},
        "x-nested-unknown": {"deep": ["a", {"b": None}]},
    },
    "recipient": {"id": "28:bot-app-id", "name": "EchoBot", "role": "bot"},
    "textFormat": "markdown",
    "attachmentLayout": "carousel",
    "membersAdded": [{"id": "29:1new", "name": "New Member"}, {"id": "28:bot-app-id", "role": "skill"}],
    "membersRemoved": [{"id": "29:1gone"}],
    "reactionsAdded": [{"type": "like"}, {"type": "plusOne"}],
    "reactionsRemoved": [{"type": "heart"}],
    "topicName": "Quarterly planning",
    "historyDisclosed": False,
    "locale": "en-US",
    "text": "<at>EchoBot</at> hello **world**",
    "speak": "<speak>hello world</speak>",
    "inputHint": "expectingInput",
    "summary": "A greeting with a card",
    "suggestedActions": {
        "to": ["29:1user"],
        "actions": [
            {"type": "imBack", "title": "Yes", "value": "yes"},
            {
                "type": "messageBack",
                "title": "Details",
                "image": "https://example.com/i.png",
                "imageAltText": "info",
                "text": "details please",
                "displayText": "Details",
                "value": {"id": 7},
                "channelData": {"teams": True},
            },
        ],
    },
    "attachments": [
        {"contentType": "application/vnd.microsoft.card.hero", "content": HERO_CONTENT},
        {
            "contentType": "application/pdf",
            "contentUrl": "https://example.com/report.pdf",
            "name": "report.pdf",
            "thumbnailUrl": "https://example.com/report.png",
        },
    ],
    "entities": [
        {
            "type": "mention",
            "mentioned": {"id": "28:bot-app-id", "name": "EchoBot"},
            "text": "<at>EchoBot</at>",
        },
        {"type": "clientInfo", "locale": "en-US", "country": "US", "platform": "Web", "timezone": "UTC"},
        {
            "type": "GeoCoordinates",
            "latitude": 47.6062,
            "longitude": -122.3321,
            "elevation": 56.5,
            "name": "Seattle",
        },
        {
            "type": "Place",
            "name": "Space Needle",
            "address": {"streetAddress": "400 Broad St"},
            "geo": {"type": "GeoCoordinates", "latitude": 47.6205, "longitude": -122.3493},
            "hasMap": "https://example.com/map",
        },
        {"type": "Thing", "name": "monorail", "@context": "http://schema.org"},
    ],
    "channelData": {"tenant": {"id": "72f988bf-0000-41af-91ab-2d7cd011db47"}, "eventType": "teamMemberAdded"},
    "action": "add",
    "replyToId": "1485983408500",
    "label": "Bot State",
    "valueType": "https://www.botframework.com/schemas/botState",
    "value": {"answer": 42, "items": [1, "two", None, True, 3.5]},
    "name": "application/vnd.example.event",
    "relatesTo": {
        "activityId": "1485983408400",
        "user": {"id": "29:1user"},
        "bot": {"id": "28:bot-app-id", "name": "EchoBot"},
        "conversation": {"id": "a:other"},
        "channelId": "msteams",
        "serviceUrl": "https://smba.trafficmanager.net/amer/",
        "locale": "en-GB",
    },
    "code": "completedSuccessfully",
    "expiration": "2017-12-27T18:20:54.654321Z",
    "importance": "high",
    "deliveryMode": "expectReplies",
    "listenFor": ["yes", "no"],
    "textHighlights": [{"text": "hello", "occurrence": 1}],
    "semanticAction": {
        "state": "continue",
        "id": "bookFlight",
        "entities": {
            "destination": {"type": "Place", "name": "New York"},
            "airport": {"type": "http://icao.org/airport/code", "code": "KSEA"},
            "$instance": {"destination": {"text": "NYC", "startIndex": 10, "endIndex": 13}},
        },
        "semanticExtra": 1,
    },
    "x-unknown-top-level": {"survives": True, "list": [1, 2, 3]},
}


def _wire_names(cls: type[Any]) -> set[str]:
    return {serde.wire_name(f) for f in attrs.fields(cls) if f.name != serde.EXTRAS_FIELD}


def _incoming() -> Activity:
    return Activity.from_dict(copy.deepcopy(FULL_ACTIVITY))


# -- parsing and round trips ------------------------------------------------------------------------------


def test_full_activity_fixture_covers_every_activity_field() -> None:
    assert _wire_names(Activity) <= set(FULL_ACTIVITY)


def test_full_activity_round_trips_exactly() -> None:
    original = copy.deepcopy(FULL_ACTIVITY)
    activity = Activity.from_dict(original)
    assert activity.to_dict() == FULL_ACTIVITY
    assert original == FULL_ACTIVITY  # parsing does not mutate its input
    assert Activity.from_json(activity.to_json()) == activity
    assert json.loads(activity.to_json()) == FULL_ACTIVITY


def test_full_activity_parses_to_typed_objects() -> None:
    activity = _incoming()
    assert activity.type is ActivityTypes.MESSAGE
    assert isinstance(activity.from_property, ChannelAccount)
    assert activity.from_property.role is RoleTypes.USER
    assert activity.from_property.additional_properties == {"userPrincipalNameHint": "jane@example.com"}
    assert activity.conversation is not None
    assert activity.conversation.is_group is True
    assert activity.conversation.additional_properties == {"x-nested-unknown": {"deep": ["a", {"b": None}]}}
    assert activity.members_added is not None
    assert activity.members_added[1].role is RoleTypes.SKILL
    assert activity.reactions_added is not None
    assert activity.reactions_added[1].type is MessageReactionTypes.PLUS_ONE
    assert activity.reactions_removed is not None
    assert activity.reactions_removed[0].type == "heart"
    assert activity.delivery_mode is DeliveryModes.EXPECT_REPLIES
    assert activity.timestamp == datetime(2017, 12, 26, 18, 20, 54, 123456, tzinfo=UTC)
    assert activity.local_timestamp == datetime(2017, 12, 26, 10, 20, 54, 123456, tzinfo=timezone(timedelta(hours=-8)))
    assert activity.additional_properties == {"x-unknown-top-level": {"survives": True, "list": [1, 2, 3]}}

    assert activity.entities is not None
    mention, client_info, geo, place, thing = activity.entities
    assert type(mention) is Mention
    assert mention.mentioned == ChannelAccount(id="28:bot-app-id", name="EchoBot")
    assert type(client_info) is Entity
    assert client_info.type == "clientInfo"
    assert client_info.additional_properties == {
        "locale": "en-US",
        "country": "US",
        "platform": "Web",
        "timezone": "UTC",
    }
    assert type(geo) is GeoCoordinates
    assert geo.latitude == 47.6062
    assert type(place) is Place
    assert place.has_map == "https://example.com/map"
    assert type(thing) is Thing
    assert thing.additional_properties == {"@context": "http://schema.org"}

    assert activity.semantic_action is not None
    entities = activity.semantic_action.entities
    assert entities is not None
    assert type(entities["destination"]) is Place
    assert type(entities["airport"]) is Entity
    assert type(entities["$instance"]) is Entity

    assert activity.attachments is not None
    hero_attachment = activity.attachments[0]
    assert isinstance(hero_attachment.content, dict)
    hero = hero_attachment.content_as(HeroCard)
    assert hero.title == "Seattle Center Monorail"
    assert hero.buttons is not None
    assert hero.buttons[0].type is ActionTypes.OPEN_URL
    assert hero.buttons[1].type == "futureAction"
    assert hero.buttons[1].additional_properties == {"cardOnlyKey": "kept"}
    assert hero.additional_properties == {"heroExtension": {"x": [1, 2]}}
    assert hero.to_dict() == HERO_CONTENT


def test_seven_digit_fractions_and_offsets_parse() -> None:
    activity = Activity.from_dict(
        {
            "timestamp": "2017-12-26T18:20:54.1234567Z",
            "localTimestamp": "2017-12-26T10:20:54.1234567-08:00",
            "expiration": "2019-01-02T03:04:05.0000001+05:30",
        }
    )
    assert activity.timestamp == datetime(2017, 12, 26, 18, 20, 54, 123456, tzinfo=UTC)
    assert activity.timestamp.utcoffset() == timedelta(0)
    assert activity.local_timestamp == datetime(2017, 12, 26, 10, 20, 54, 123456, tzinfo=timezone(timedelta(hours=-8)))
    assert activity.local_timestamp is not None
    assert activity.local_timestamp.utcoffset() == timedelta(hours=-8)
    assert activity.expiration == datetime(2019, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    assert activity.to_dict() == {
        "timestamp": "2017-12-26T18:20:54.123456Z",
        "localTimestamp": "2017-12-26T10:20:54.123456-08:00",
        "expiration": "2019-01-02T03:04:05+05:30",
    }


def test_datetimes_serialize_utc_with_z() -> None:
    activity = Activity(timestamp=datetime(2020, 1, 2, 3, 4, 5, 6, tzinfo=UTC))
    assert activity.to_dict() == {"timestamp": "2020-01-02T03:04:05.000006Z"}


def test_unknown_enum_value_is_kept_as_str_and_round_trips() -> None:
    wire = {"type": "somethingNew", "inputHint": "maybe", "from": {"id": "x", "role": "moderator"}}
    activity = Activity.from_dict(wire)
    assert activity.type == "somethingNew"
    assert type(activity.type) is str
    assert activity.input_hint == "maybe"
    assert activity.from_property is not None
    assert type(activity.from_property.role) is str
    assert activity.to_dict() == wire


def test_known_enum_value_becomes_member() -> None:
    activity = Activity.from_dict({"type": "conversationUpdate", "importance": "low", "code": "userCancelled"})
    assert activity.type is ActivityTypes.CONVERSATION_UPDATE
    assert activity.importance is models.ActivityImportance.LOW
    assert activity.code is models.EndOfConversationCodes.USER_CANCELLED
    assert activity.to_dict() == {"type": "conversationUpdate", "importance": "low", "code": "userCancelled"}
    assert ActivityTypes.MESSAGE == "message"


def test_enum_members_and_plain_strings_serialize_the_same() -> None:
    assert Activity(type=ActivityTypes.TYPING).to_dict() == Activity(type="typing").to_dict() == {"type": "typing"}
    assert Activity(type=ActivityTypes.COMMAND_RESULT).to_json() == b'{"type":"commandResult"}'


def test_none_fields_are_omitted() -> None:
    assert Activity().to_dict() == {}
    assert Activity(type="message", text=None, from_property=ChannelAccount(id="u")).to_dict() == {
        "type": "message",
        "from": {"id": "u"},
    }
    # empty strings, False, 0 and empty lists are values, not absence
    assert Activity(text="", history_disclosed=False, attachments=[]).to_dict() == {
        "text": "",
        "historyDisclosed": False,
        "attachments": [],
    }
    assert models.TextHighlight(text="x", occurrence=0).to_dict() == {"text": "x", "occurrence": 0}


def test_bytes_are_base64() -> None:
    data = AttachmentData(type="image/png", name="a.png", original_base64=b"\x89PNG\x00\xff", thumbnail_base64=b"")
    wire = data.to_dict()
    assert wire == {"type": "image/png", "name": "a.png", "originalBase64": "iVBORwD/", "thumbnailBase64": ""}
    assert AttachmentData.from_dict(wire) == data
    assert AttachmentData.from_json(data.to_json()) == data


def test_invalid_base64_is_rejected() -> None:
    with pytest.raises(ValueError, match="base64"):
        AttachmentData.from_dict({"originalBase64": "not base64!"})


def test_teams_members_parse_with_profile_fields() -> None:
    wire = {
        "continuationToken": "next",
        "members": [
            {
                "id": "29:1",
                "name": "Jane",
                "aadObjectId": "aad",
                "givenName": "Jane",
                "surname": "Doe",
                "email": "jane@example.com",
                "userPrincipalName": "jane@example.com",
                "tenantId": "tenant",
                "userRole": "user",
                "unknownTeamsField": 1,
            }
        ],
    }
    result = TeamsPagedMembersResult.from_dict(wire)
    assert result.members is not None
    member = result.members[0]
    assert isinstance(member, TeamsChannelAccount)
    assert isinstance(member, ChannelAccount)
    assert member.user_principal_name == "jane@example.com"
    assert member.additional_properties == {"unknownTeamsField": 1}
    assert result.to_dict() == wire


def test_subclass_entity_in_base_typed_list_serializes_its_own_fields() -> None:
    activity = Activity(
        entities=[
            Mention(type="mention", mentioned=ChannelAccount(id="b"), text="<at>b</at>"),
            GeoCoordinates(type="GeoCoordinates", latitude=1.5, longitude=2.5),
            Entity(type="custom", additional_properties={"payload": {"a": 1}}),
        ]
    )
    wire = activity.to_dict()
    assert wire == {
        "entities": [
            {"type": "mention", "mentioned": {"id": "b"}, "text": "<at>b</at>"},
            {"type": "GeoCoordinates", "latitude": 1.5, "longitude": 2.5},
            {"type": "custom", "payload": {"a": 1}},
        ]
    }
    assert Activity.from_dict(wire) == activity


def test_entity_type_aliases_parse_to_subclasses() -> None:
    for type_value, cls in [
        ("mention", Mention),
        ("Mention", Mention),
        ("https://botframework.com/schema/mention", Mention),
        ("http://schema.org/Place", Place),
        ("http://schema.org/GeoCoordinates", GeoCoordinates),
        ("http://schema.org/Thing", Thing),
    ]:
        entity = Entity.from_dict({"type": type_value})
        assert type(entity) is cls
        assert entity.to_dict() == {"type": type_value}


# -- repr -------------------------------------------------------------------------------------------------


def test_repr_shows_only_set_fields() -> None:
    assert repr(ChannelAccount(id="1")) == "ChannelAccount(id='1')"
    assert repr(Activity()) == "Activity()"
    activity = Activity.from_dict({"type": "typing", "text": "", "zz": 1})
    assert repr(activity) == "Activity(type=<ActivityTypes.TYPING: 'typing'>, text='', additional_properties={'zz': 1})"
    assert "=None" not in repr(_incoming())


# -- replies and conversation references ------------------------------------------------------------------


def test_create_reply() -> None:
    incoming = _incoming()
    before = datetime.now(UTC)
    reply = incoming.create_reply("pong")
    after = datetime.now(UTC)

    assert reply.type is ActivityTypes.MESSAGE
    assert reply.timestamp is not None
    assert reply.timestamp.tzinfo is not None
    assert before <= reply.timestamp <= after
    assert reply.from_property == ChannelAccount(id="28:bot-app-id", name="EchoBot")
    assert reply.recipient == ChannelAccount(id="29:1user", name="Jane Doe")
    assert reply.reply_to_id == "1485983408511"
    assert reply.service_url == "https://smba.trafficmanager.net/amer/"
    assert reply.channel_id == "msteams"
    assert reply.conversation == ConversationAccount(
        id="19:abc@thread.skype;messageid=1485983408511", name="General", is_group=True
    )
    assert reply.conversation is not incoming.conversation
    assert reply.text == "pong"
    assert reply.locale == "en-US"
    assert reply.attachments is None
    assert reply.entities is None
    wire = reply.to_dict()
    assert "attachments" not in wire
    assert "entities" not in wire
    assert set(wire) == {
        "type",
        "timestamp",
        "from",
        "recipient",
        "replyToId",
        "serviceUrl",
        "channelId",
        "conversation",
        "text",
        "locale",
    }


def test_create_reply_locale_and_missing_parts() -> None:
    assert _incoming().create_reply(locale="fr-FR").locale == "fr-FR"
    reply = Activity(type="message", id="7").create_reply()
    assert reply.text is None
    assert reply.from_property is None
    assert reply.recipient is None
    assert reply.conversation is None
    assert reply.reply_to_id == "7"


def test_conversation_update_on_webchat_has_no_reply_to() -> None:
    update = Activity(
        type="conversationUpdate", id="abc", channel_id="webchat", conversation=ConversationAccount(id="c")
    )
    assert update.create_reply("hi").reply_to_id is None
    assert update.get_conversation_reference().activity_id is None
    update.channel_id = "msteams"
    assert update.create_reply("hi").reply_to_id == "abc"
    assert update.get_conversation_reference().activity_id == "abc"


def test_get_conversation_reference() -> None:
    incoming = _incoming()
    reference = incoming.get_conversation_reference()
    assert reference.activity_id == "1485983408511"
    assert reference.user == incoming.from_property
    assert reference.bot == incoming.recipient
    assert reference.conversation == incoming.conversation
    assert reference.channel_id == "msteams"
    assert reference.service_url == "https://smba.trafficmanager.net/amer/"
    assert reference.locale == "en-US"
    assert ConversationReference.from_json(reference.to_json()) == reference


def test_apply_conversation_reference_outgoing() -> None:
    reference = _incoming().get_conversation_reference()
    proactive = Activity(type="message", text="reminder")
    result = proactive.apply_conversation_reference(reference)
    assert result is proactive
    assert proactive.from_property == reference.bot
    assert proactive.recipient == reference.user
    assert proactive.reply_to_id == reference.activity_id
    assert proactive.id is None
    assert proactive.conversation == reference.conversation
    assert proactive.channel_id == reference.channel_id
    assert proactive.service_url == reference.service_url
    assert proactive.locale == "en-US"


def test_apply_conversation_reference_incoming() -> None:
    reference = ConversationReference(
        activity_id="42",
        user=ChannelAccount(id="u"),
        bot=ChannelAccount(id="b"),
        conversation=ConversationAccount(id="c"),
        channel_id="test",
        service_url="https://example.com",
    )
    activity = Activity(type="message", locale="de-DE")
    assert activity.apply_conversation_reference(reference, is_incoming=True) is activity
    assert activity.from_property == ChannelAccount(id="u")
    assert activity.recipient == ChannelAccount(id="b")
    assert activity.id == "42"
    assert activity.reply_to_id is None
    assert activity.locale == "de-DE"  # a reference without locale keeps the activity's


# -- mentions ---------------------------------------------------------------------------------------------


def test_mention_for_account() -> None:
    bot = ChannelAccount(id="28:bot", name="EchoBot")
    mention = Mention.for_account(bot)
    assert mention == Mention(type="mention", mentioned=bot, text="<at>EchoBot</at>")
    assert mention.to_dict() == {
        "type": "mention",
        "mentioned": {"id": "28:bot", "name": "EchoBot"},
        "text": "<at>EchoBot</at>",
    }
    assert Mention.for_account(bot, "<at>Echo</at>").text == "<at>Echo</at>"
    assert Mention.for_account(ChannelAccount(id="29:x")).text == "<at>29:x</at>"


def test_add_and_get_mentions() -> None:
    activity = Activity(type="message", text="hi <at>Jane</at>")
    jane = ChannelAccount(id="29:jane", name="Jane")
    mention = activity.add_mention(jane)
    assert activity.entities == [mention]
    assert activity.get_mentions() == [mention]
    assert activity.text == "hi <at>Jane</at>"  # text untouched
    activity.entities.append(Entity(type="clientInfo"))
    activity.add_mention(ChannelAccount(id="29:bob", name="Bob"), text="<at>Bobby</at>")
    assert [m.text for m in activity.get_mentions()] == ["<at>Jane</at>", "<at>Bobby</at>"]
    assert Activity.from_dict(activity.to_dict()).get_mentions() == activity.get_mentions()


def test_get_mentions_is_case_insensitive_on_type() -> None:
    activity = Activity.from_dict(
        {"entities": [{"type": "MENTION", "mentioned": {"id": "x"}, "text": "<at>X</at>"}, {"type": "Mention"}]}
    )
    mentions = activity.get_mentions()
    assert [type(m) for m in mentions] == [Mention, Mention]
    assert mentions[0].mentioned == ChannelAccount(id="x")
    assert Activity().get_mentions() == []


def test_remove_recipient_mention() -> None:
    activity = _incoming()
    assert activity.remove_recipient_mention() == "hello **world**"
    assert activity.text == "hello **world**"


def test_remove_recipient_mention_variants() -> None:
    bot = ChannelAccount(id="28:bot", name="Echo Bot")
    jane = ChannelAccount(id="29:jane", name="Jane")
    activity = Activity(text="<AT>Echo Bot</AT> ping <at>Jane</at>", recipient=bot)
    activity.entities = [Mention(type="mention", mentioned=bot), Mention.for_account(jane)]
    # a mention without text falls back to <at>name</at>; other accounts' mentions stay
    assert activity.remove_recipient_mention() == "ping <at>Jane</at>"
    assert Activity(text="x").remove_recipient_mention() == "x"
    assert Activity(recipient=bot).remove_recipient_mention() is None
    special = Activity(text="<at>a.b (c)</at>   hi", recipient=bot)
    special.add_mention(bot, "<at>a.b (c)</at>")
    assert special.remove_recipient_mention() == "hi"


# -- cards ------------------------------------------------------------------------------------------------

CARD_CONTENT_TYPES = {
    HeroCard: "application/vnd.microsoft.card.hero",
    ThumbnailCard: "application/vnd.microsoft.card.thumbnail",
    BasicCard: "application/vnd.microsoft.card.hero",
    AnimationCard: "application/vnd.microsoft.card.animation",
    AudioCard: "application/vnd.microsoft.card.audio",
    VideoCard: "application/vnd.microsoft.card.video",
    MediaCard: "application/vnd.microsoft.card.media",
    ReceiptCard: "application/vnd.microsoft.card.receipt",
    SigninCard: "application/vnd.microsoft.card.signin",
    OAuthCard: "application/vnd.microsoft.card.oauth",
}


@pytest.mark.parametrize(("card_type", "content_type"), CARD_CONTENT_TYPES.items())
def test_card_to_attachment_and_back(card_type: type[Any], content_type: str) -> None:
    assert content_type == card_type.CONTENT_TYPE
    assert "CONTENT_TYPE" not in attrs.fields_dict(card_type)
    card = card_type(buttons=[CardAction(type=ActionTypes.SIGNIN, title="Go", value="https://example.com")])
    attachment = card.to_attachment()
    assert attachment.content_type == content_type
    assert attachment.content == card.to_dict()
    assert attachment.to_dict() == {
        "contentType": content_type,
        "content": {"buttons": [{"type": "signin", "title": "Go", "value": "https://example.com"}]},
    }
    parsed = Attachment.from_json(attachment.to_json())
    assert parsed.content_as(card_type) == card


def test_content_as_returns_existing_model_instance() -> None:
    card = HeroCard(title="x")
    attachment = Attachment(content_type=HeroCard.CONTENT_TYPE, content=card)
    assert attachment.content_as(HeroCard) is card
    # a model of another card type is converted through its wire form
    assert attachment.content_as(ThumbnailCard) == ThumbnailCard(title="x")
    # a model stored as content serializes as its dict
    assert attachment.to_dict() == {"contentType": HeroCard.CONTENT_TYPE, "content": {"title": "x"}}


def test_content_as_rejects_non_objects() -> None:
    with pytest.raises(TypeError, match="HeroCard"):
        Attachment(content_url="https://example.com/a.png").content_as(HeroCard)
    with pytest.raises(TypeError):
        Attachment(content="text").content_as(HeroCard)


def test_rich_cards_round_trip() -> None:
    receipt = ReceiptCard(
        title="Receipt",
        facts=[Fact(key="Order", value="1234")],
        items=[
            ReceiptItem(
                title="Widget",
                subtitle="blue",
                text="a widget",
                image=CardImage(url="https://example.com/w.png", alt="widget"),
                price="$10",
                quantity="2",
                tap=CardAction(type="openUrl", value="https://example.com/w"),
            )
        ],
        tax="$1",
        vat="$0",
        total="$21",
        buttons=[CardAction(type=ActionTypes.OPEN_URL, title="More", value="https://example.com")],
    )
    video = VideoCard(
        title="Clip",
        image=ThumbnailUrl(url="https://example.com/t.png", alt="thumb"),
        media=[MediaUrl(url="https://example.com/v.mp4", profile="hd")],
        shareable=False,
        autoloop=True,
        autostart=False,
        aspect="16:9",
        duration="PT1M",
        value={"id": 1},
    )
    oauth = OAuthCard(
        text="Sign in",
        connection_name="graph",
        token_exchange_resource=TokenExchangeResource(id="1", uri="api://x", provider_id="aad"),
    )
    activity = Activity(
        type="message", attachments=[receipt.to_attachment(), video.to_attachment(), oauth.to_attachment()]
    )
    parsed = Activity.from_json(activity.to_json())
    assert parsed.attachments is not None
    assert parsed.attachments[0].content_as(ReceiptCard) == receipt
    assert parsed.attachments[1].content_as(VideoCard) == video
    assert parsed.attachments[2].content_as(OAuthCard) == oauth
    assert parsed.attachments[2].content["tokenExchangeResource"] == {
        "id": "1",
        "uri": "api://x",
        "providerId": "aad",
    }


# -- coverage of the specifications ---------------------------------------------------------------------

_SPEC_FILES = [
    REFERENCE / "connector" / "botframework-channel.json",
    REFERENCE / "connector" / "ConnectorAPI.json",
    REFERENCE / "activity" / "botframework-schema.json",
]
_MODEL_NAME_FOR = {"ErrorModel": "Error"}  # the JSON schema's name for the Swagger's Error


def _is_payment(name: str) -> bool:
    return name.startswith(("Payment", "MicrosoftPay"))


def _definitions() -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for path in _SPEC_FILES:
        if not path.exists():
            pytest.skip(f"reference spec not available: {path}")
        for name, definition in json.loads(path.read_text(encoding="utf-8"))["definitions"].items():
            if not _is_payment(name):
                found.append((path.name, name, definition))
    return found


def test_every_spec_property_is_a_model_field() -> None:
    missing = []
    checked = 0
    for source, name, definition in _definitions():
        if "enum" in definition:
            continue
        cls = getattr(models, _MODEL_NAME_FOR.get(name, name), None)
        if cls is None:
            missing.append(f"{source}: no model class {name}")
            continue
        wire_names = _wire_names(cls)
        for prop in definition.get("properties", {}):
            checked += 1
            if prop not in wire_names:
                missing.append(f"{source}: {name}.{prop}")
    assert not missing, missing
    assert checked > 300


def test_every_spec_enum_value_is_a_member() -> None:
    missing = []
    for source, name, definition in _definitions():
        if "enum" not in definition:
            continue
        enum_cls = getattr(models, name)
        values = {member.value for member in enum_cls}
        missing += [f"{source}: {name}.{v}" for v in definition["enum"] if v not in values]
    assert not missing, missing


def test_enum_typed_fields_accept_their_enum() -> None:
    # every field the Swagger types with an enum definition is declared `Enum | str | None`
    spec = json.loads(_SPEC_FILES[0].read_text(encoding="utf-8")) if _SPEC_FILES[0].exists() else None
    if spec is None:
        pytest.skip("reference spec not available")
    definitions = spec["definitions"]
    enums = {name for name, d in definitions.items() if "enum" in d}
    checked = 0
    for name, definition in definitions.items():
        if name in enums:
            continue
        by_wire = {serde.wire_name(f): f for f in attrs.fields(getattr(models, name))}
        for prop, schema in definition.get("properties", {}).items():
            ref = schema.get("$ref", "").rsplit("/", 1)[-1]
            if ref in enums:
                checked += 1
                assert by_wire[prop].type == getattr(models, ref) | str | None, f"{name}.{prop}"
    assert checked >= 12


def test_public_names() -> None:
    assert models.__all__ == sorted(models.__all__)
    for name in models.__all__:
        assert getattr(models, name) is not None
    model_classes = [getattr(models, n) for n in models.__all__ if isinstance(getattr(models, n), type)]
    for cls in model_classes:
        if attrs.has(cls) and cls is not models.Model:
            assert cls.__doc__, cls
        if attrs.has(cls) and issubclass(cls, models.Model):
            for field in attrs.fields(cls):
                if field.name != serde.EXTRAS_FIELD and not field.metadata.get(serde.LOCAL):
                    assert field.default is None, f"{cls.__name__}.{field.name}"
