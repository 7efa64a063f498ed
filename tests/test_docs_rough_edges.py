"""The rough edges a first read of the docs found (issue 17), each pinned: documented errors from the model
parsers, Python-named keys in wire dicts refused before sending, operation groups visible in ``help()``, the
``trio`` extra, and article grammar in argument errors. Sync, asyncio and trio where a client is involved."""

from __future__ import annotations

import pydoc
import tomllib
import typing
from pathlib import Path
from typing import Any

import pytest

import botconnect
import botconnect_aio
from botconnect import errors
from botconnect.models import Activity, ChannelAccount

from .harness import Env, FakeService

ROOT = Path(__file__).resolve().parents[1]
SERVICE_URL = "https://smba.trafficmanager.net/emea/"

# -- Activity.from_dict / from_json raise the documented DeserializationError --------------------------------------

BAD_JSON: list[Any] = [
    b"{",  # truncated
    b"\xff\xfe",  # not UTF-8
    "[1, 2]",  # not an object
    '"hello"',
    '{"timestamp": 5}',  # a date-time that is a number
    '{"timestamp": "yesterday"}',
    '{"from": 3}',  # a nested model that is not an object
    '{"attachments": {"contentType": "x"}}',  # a list that is an object
    '{"membersAdded": [1]}',
]


@pytest.mark.parametrize("data", BAD_JSON)
def test_from_json_raises_deserialization_error_that_is_a_value_error(data: Any) -> None:
    with pytest.raises(errors.DeserializationError) as caught:
        Activity.from_json(data)
    assert isinstance(caught.value, ValueError)
    assert "Activity" in str(caught.value)
    assert caught.value.response is None


@pytest.mark.parametrize("data", [[1], "text", 5, None, {"from": 3}, {"timestamp": "x"}, {"entities": "x"}])
def test_from_dict_raises_deserialization_error_that_is_a_value_error(data: Any) -> None:
    with pytest.raises(ValueError) as caught:
        Activity.from_dict(data)
    assert type(caught.value) is errors.DeserializationError


def test_a_nested_model_error_names_the_outer_model_and_the_cause() -> None:
    with pytest.raises(errors.DeserializationError, match=r"Activity.*ChannelAccount") as caught:
        Activity.from_dict({"from": ["u"]})
    assert isinstance(caught.value.__cause__, TypeError | ValueError)


def test_deserialization_error_is_one_class_exported_by_both_facades() -> None:
    assert botconnect.DeserializationError is botconnect_aio.DeserializationError is errors.DeserializationError
    assert issubclass(errors.DeserializationError, errors.BotConnectError)


def test_good_json_still_parses() -> None:
    activity = Activity.from_json(b'{"type": "message", "text": "hi", "replyToId": "7", "from": {"id": "u"}}')
    assert (activity.text, activity.reply_to_id, activity.from_property) == ("hi", "7", ChannelAccount(id="u"))


# -- Python-named keys in a wire dict are refused, not sent as unknown keys -----------------------------------------


def connector(env: Env, fake: FakeService) -> Any:
    return env.construct("ConnectorClient", SERVICE_URL, transport=fake.transport)


@pytest.mark.parametrize(
    ("activity", "key", "wire_key"),
    [
        ({"type": "message", "text": "hi", "reply_to_id": "7"}, "reply_to_id", "replyToId"),
        ({"type": "message", "from_property": {"id": "bot"}}, "from_property", "from"),
        ({"type": "message", "from": {"id": "bot", "aad_object_id": "a"}}, "aad_object_id", "aadObjectId"),
        ({"type": "message", "attachments": [{"content_type": "text/plain"}]}, "content_type", "contentType"),
    ],
)
def test_python_named_keys_in_an_activity_dict_are_refused_before_sending(
    env: Env, fake: FakeService, activity: dict[str, Any], key: str, wire_key: str
) -> None:
    client = connector(env, fake)
    with pytest.raises(TypeError) as caught:
        client.conversations.send_to_conversation("conv", activity)
    message = str(caught.value)
    assert repr(key) in message, message
    assert repr(wire_key) in message, message
    assert fake.requests == []


def test_the_wire_spelling_of_the_same_dict_reaches_the_service(env: Env, fake: FakeService) -> None:
    fake.reply(200, json_body={"id": "8"})
    client = connector(env, fake)
    client.conversations.reply_to_activity("conv", "7", {"type": "message", "replyToId": "7", "from": {"id": "b"}})
    sent = fake.last_json()
    assert fake.last.method == "POST"
    assert fake.last.url.path == "/emea/v3/conversations/conv/activities/7"
    assert (sent["replyToId"], sent["from"]) == ("7", {"id": "b"})
    assert "reply_to_id" not in sent


def test_a_transcript_dict_with_python_names_inside_is_refused(env: Env, fake: FakeService) -> None:
    client = connector(env, fake)
    with pytest.raises(TypeError, match=r"'service_url'.*'serviceUrl'"):
        client.conversations.send_conversation_history("conv", {"activities": [{"service_url": "x"}]})
    assert fake.requests == []


def test_direct_line_send_refuses_python_named_keys_before_posting() -> None:
    from botconnect._core.directline_session_support import outgoing_activity

    user = ChannelAccount(id="u")
    with pytest.raises(TypeError, match=r"'reply_to_id'.*'replyToId'"):
        outgoing_activity({"type": "message", "text": "hi", "reply_to_id": "1"}, user)
    assert outgoing_activity({"type": "message", "replyToId": "1"}, user).reply_to_id == "1"


# -- argument errors read as English ---------------------------------------------------------------------------------


def test_wrong_argument_types_get_the_right_article(env: Env, fake: FakeService) -> None:
    client = connector(env, fake)
    with pytest.raises(TypeError, match=r"activity must be an Activity \(or its wire dict\), got int"):
        client.conversations.send_to_conversation("conv", 5)
    with pytest.raises(TypeError, match=r"transcript must be a Transcript \(or its wire dict\), got str"):
        client.conversations.send_conversation_history("conv", "x")
    assert fake.requests == []


# -- help() shows the operation groups, typed -------------------------------------------------------------------------

GROUPS = [
    ("ConnectorClient", {"conversations": "ConversationsOperations", "attachments": "AttachmentsOperations"}),
    ("ConnectorClient", {"teams": "TeamsOperations"}),
    ("DirectLineClient", {"conversations": "DirectLineConversationsOperations", "tokens": "TokensOperations"}),
    ("UserTokenClient", {"user_token": "UserTokenOperations", "bot_sign_in": "BotSignInOperations"}),
]


@pytest.mark.parametrize("package", [botconnect, botconnect_aio], ids=["sync", "async"])
@pytest.mark.parametrize(("client", "groups"), GROUPS)
def test_help_shows_each_operation_group_with_its_type(package: Any, client: str, groups: dict[str, str]) -> None:
    cls = getattr(package, client)
    text = pydoc.render_doc(cls, renderer=pydoc.plaintext)
    for attribute, type_name in groups.items():
        prop = getattr(cls, attribute)
        assert isinstance(prop, property), attribute
        assert prop.fset is None, attribute
        hints = typing.get_type_hints(prop.fget)
        assert hints["return"].__name__ == type_name
        assert hints["return"].__module__.startswith(package.__name__ + ".")
        assert f"\n |  {attribute}\n |      {type_name}: " in text, text


def test_the_operation_groups_still_work_on_an_instance(env: Env, fake: FakeService) -> None:
    fake.reply(200, json_body={"id": "9"})
    client = connector(env, fake)
    assert client.conversations.send_to_conversation("c", Activity(type="message", text="x")).id == "9"
    assert fake.last.url.path == "/emea/v3/conversations/c/activities"


# -- the trio extra ------------------------------------------------------------------------------------------------


def test_trio_extra_provides_what_the_samples_trio_flag_imports() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    trio_extra = project["optional-dependencies"]["trio"]
    assert any(requirement.split(">")[0].strip() == "trio" for requirement in trio_extra), trio_extra
    samples_with_flag = [p.name for p in (ROOT / "samples").glob("*.py") if "--trio" in p.read_text()]
    assert samples_with_flag, "no sample has --trio any more: drop the extra or this test"
    readme = (ROOT / "README.md").read_text()
    assert "botconnect[trio]" in readme
