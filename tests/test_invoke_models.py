"""InvokeResponse, the Adaptive Card invoke bodies and Activity.create_invoke_response: what a bot answers to an
invoke, checked on the bytes a web handler writes (and through real aiohttp / Starlette responses)."""

from __future__ import annotations

import json
from typing import Any

import anyio
import httpx
import pytest
from aiohttp import web
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import botconnect
import botconnect_aio
from botconnect.models import (
    Activity,
    ActivityTypes,
    AdaptiveCardInvokeAction,
    AdaptiveCardInvokeResponse,
    AdaptiveCardInvokeValue,
    ChannelAccount,
    DeliveryModes,
    ExpectedReplies,
    InvokeResponse,
    TokenExchangeInvokeRequest,
)

CARD = {"type": "AdaptiveCard", "version": "1.4", "body": [{"type": "TextBlock", "text": "Done"}]}


def invoke(name: str = "adaptiveCard/action", value: Any = None) -> Activity:
    return Activity(type=ActivityTypes.INVOKE, id="inv-1", name=name, value=value, channel_id="msteams")


# -- InvokeResponse ----------------------------------------------------------------------------------------


def test_status_and_body_positionally_or_by_name() -> None:
    assert InvokeResponse(200, {"a": 1}) == InvokeResponse(status=200, body={"a": 1})
    assert InvokeResponse(204).body is None


@pytest.mark.parametrize(("status", "ok"), [(199, False), (200, True), (204, True), (299, True), (300, False)])
def test_is_successful_is_2xx(status: int, ok: bool) -> None:
    assert InvokeResponse(status).is_successful is ok


@pytest.mark.parametrize("status", [True, "200", 200.0, None])
def test_status_must_be_an_int(status: Any) -> None:
    with pytest.raises(TypeError, match="status must be an int"):
        InvokeResponse(status)


@pytest.mark.parametrize("status", [0, 99, 1000, -200])
def test_status_must_be_an_http_status(status: int) -> None:
    with pytest.raises(ValueError, match="three-digit"):
        InvokeResponse(status)


def test_json_body_of_no_body_is_empty() -> None:
    assert InvokeResponse(200).json_body() == b""


def test_json_body_is_compact_utf8_json() -> None:
    body = InvokeResponse(200, {"text": "caf\u00e9", "n": [1, None]}).json_body()
    assert body == '{"text":"café","n":[1,null]}'.encode()


def test_json_body_of_a_model_is_its_camel_case_dict() -> None:
    response = InvokeResponse(200, AdaptiveCardInvokeResponse.message("Saved"))
    assert json.loads(response.json_body()) == {
        "statusCode": 200,
        "type": "application/vnd.microsoft.activity.message",
        "value": "Saved",
    }


def test_models_nested_in_a_plain_body_are_serialized() -> None:
    response = InvokeResponse(200, {"members": [ChannelAccount(id="29:1", aad_object_id="aad")], "ok": True})
    assert json.loads(response.json_body()) == {"members": [{"id": "29:1", "aadObjectId": "aad"}], "ok": True}


def test_a_string_body_is_written_as_a_json_string() -> None:
    assert InvokeResponse(200, "plain").json_body() == b'"plain"'


def test_to_dict_and_from_dict() -> None:
    response = InvokeResponse(200, AdaptiveCardInvokeResponse.card(CARD))
    wire = response.to_dict()
    assert wire == {
        "status": 200,
        "body": {"statusCode": 200, "type": "application/vnd.microsoft.card.adaptive", "value": CARD},
    }
    back = InvokeResponse.from_dict(wire)
    assert back.status == 200
    assert back.body == wire["body"]  # kept as the JSON it is: the body's type is not on the wire
    assert InvokeResponse(500).to_dict() == {"status": 500}


@pytest.mark.parametrize("data", [{}, {"status": "200"}, {"status": True}])
def test_from_dict_needs_an_int_status(data: dict[str, Any]) -> None:
    with pytest.raises(TypeError, match="int status"):
        InvokeResponse.from_dict(data)


def test_from_dict_refuses_a_non_mapping() -> None:
    with pytest.raises(TypeError, match="mapping"):
        InvokeResponse.from_dict([200])  # type: ignore[arg-type]


def test_as_the_value_of_an_invoke_response_activity() -> None:
    activity = Activity(type="invokeResponse", value=InvokeResponse(200, ExpectedReplies(activities=[])))
    assert activity.to_dict()["value"] == {"status": 200, "body": {"activities": []}}


# -- expectReplies -------------------------------------------------------------------------------------------


def test_from_expected_replies_wraps_activities_in_the_wire_body() -> None:
    first = Activity(type=ActivityTypes.MESSAGE, text="one", reply_to_id="a1")
    second = {"type": "message", "text": "two", "customField": {"x": 1}}
    response = InvokeResponse.from_expected_replies([first, second])
    assert response.status == 200
    assert response.body == {
        "activities": [
            {"type": "message", "text": "one", "replyToId": "a1"},
            {"type": "message", "text": "two", "customField": {"x": 1}},
        ]
    }
    assert ExpectedReplies.from_json(response.json_body()).activities == [first, Activity.from_dict(second)]


def test_from_expected_replies_of_nothing_is_an_empty_list() -> None:
    response = InvokeResponse.from_expected_replies(iter([]))
    assert response.body == {"activities": []}
    assert response.json_body() == b'{"activities":[]}'


@pytest.mark.parametrize("activities", ["message", {"type": "message"}, Activity(type="message")])
def test_from_expected_replies_needs_a_list(activities: Any) -> None:
    with pytest.raises(TypeError, match="iterable of Activity"):
        InvokeResponse.from_expected_replies(activities)


def test_from_expected_replies_refuses_other_items() -> None:
    with pytest.raises(TypeError, match=r"activities\[1\]"):
        InvokeResponse.from_expected_replies([Activity(type="message"), "text"])  # type: ignore[list-item]


# -- Activity.create_invoke_response -------------------------------------------------------------------------


def test_create_invoke_response() -> None:
    body = AdaptiveCardInvokeResponse.card(CARD)
    response = invoke().create_invoke_response(body)
    assert response == InvokeResponse(200, body)
    assert invoke().create_invoke_response().body is None
    assert invoke().create_invoke_response({"error": "x"}, status=400) == InvokeResponse(400, {"error": "x"})


def test_create_invoke_response_accepts_the_type_as_a_plain_string() -> None:
    assert Activity.from_dict({"type": "invoke", "name": "x"}).create_invoke_response(status=202).status == 202


@pytest.mark.parametrize("kind", ["message", "event", None, "Invoke"])
def test_create_invoke_response_refuses_other_activities(kind: str | None) -> None:
    with pytest.raises(ValueError, match="only an invoke activity"):
        Activity(type=kind).create_invoke_response()


def test_create_invoke_response_points_expect_replies_to_the_right_helper() -> None:
    activity = Activity(type="message", delivery_mode=DeliveryModes.EXPECT_REPLIES)
    with pytest.raises(ValueError, match="from_expected_replies"):
        activity.create_invoke_response()


def test_create_invoke_response_refuses_a_bad_status() -> None:
    with pytest.raises(ValueError, match="three-digit"):
        invoke().create_invoke_response(status=20)


# -- Adaptive Card Action.Execute ------------------------------------------------------------------------------


def test_adaptive_card_invoke_value_parses_typed() -> None:
    wire = {
        "action": {"type": "Action.Execute", "id": "btn", "verb": "approve", "data": {"comment": "ok"}},
        "authentication": {"id": "x1", "connectionName": "graph", "token": "sso"},
        "state": "123456",
        "trigger": "manual",
    }
    value = AdaptiveCardInvokeValue.from_dict(wire)
    assert value.action == AdaptiveCardInvokeAction(
        type="Action.Execute", id="btn", verb="approve", data={"comment": "ok"}
    )
    assert value.authentication == TokenExchangeInvokeRequest(id="x1", connection_name="graph", token="sso")
    assert value.state == "123456"
    assert value.additional_properties == {"trigger": "manual"}
    assert value.to_dict() == wire


def test_an_invoke_value_is_read_with_from_dict() -> None:
    activity = Activity.from_dict({"type": "invoke", "name": "adaptiveCard/action", "value": {"action": {"verb": "v"}}})
    action = AdaptiveCardInvokeValue.from_dict(activity.value).action
    assert action is not None
    assert action.verb == "v"


def test_adaptive_card_responses_use_the_wire_names() -> None:
    card = AdaptiveCardInvokeResponse.card(CARD)
    assert card.to_dict() == {"statusCode": 200, "type": "application/vnd.microsoft.card.adaptive", "value": CARD}
    message = AdaptiveCardInvokeResponse.message("Thanks", status_code=200)
    assert message.to_dict() == {
        "statusCode": 200,
        "type": "application/vnd.microsoft.activity.message",
        "value": "Thanks",
    }
    parsed = AdaptiveCardInvokeResponse.from_dict({"statusCode": 400, "type": "application/vnd.microsoft.error"})
    assert (parsed.status_code, parsed.type, parsed.value) == (400, "application/vnd.microsoft.error", None)


def test_adaptive_card_message_must_be_text() -> None:
    with pytest.raises(TypeError, match="text must be a str"):
        AdaptiveCardInvokeResponse.message(CARD)  # type: ignore[arg-type]


def test_names_are_exported_by_both_packages() -> None:
    for name in ("InvokeResponse", "AdaptiveCardInvokeResponse", "AdaptiveCardInvokeValue", "AdaptiveCardInvokeAction"):
        assert getattr(botconnect, name) is getattr(botconnect_aio, name) is getattr(botconnect.models, name)


# -- in a web handler, one line ---------------------------------------------------------------------------------


def _answer(activity: Activity) -> InvokeResponse:
    value = AdaptiveCardInvokeValue.from_dict(activity.value)
    assert value.action is not None
    if value.action.verb != "approve":
        return activity.create_invoke_response({"error": "unknown verb"}, status=400)
    return activity.create_invoke_response(AdaptiveCardInvokeResponse.message("Approved"))


def test_starlette_handler() -> None:
    async def messages(request: Request) -> Response:
        r = _answer(Activity.from_dict(await request.json()))
        return Response(r.json_body(), status_code=r.status, media_type="application/json")

    app = Starlette(routes=[Route("/api/messages", messages, methods=["POST"])])

    async def post_both() -> tuple[httpx.Response, httpx.Response]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bot") as client:
            ok = await client.post("/api/messages", json=invoke(value={"action": {"verb": "approve"}}).to_dict())
            bad = await client.post("/api/messages", json=invoke(value={"action": {"verb": "nope"}}).to_dict())
        return ok, bad

    ok, bad = anyio.run(post_both)
    assert ok.status_code == 200
    assert ok.headers["content-type"].startswith("application/json")
    assert ok.json() == {"statusCode": 200, "type": "application/vnd.microsoft.activity.message", "value": "Approved"}
    assert (bad.status_code, bad.json()) == (400, {"error": "unknown verb"})


def test_aiohttp_response() -> None:
    r = _answer(invoke(value={"action": {"verb": "approve"}}))
    response = web.Response(status=r.status, body=r.json_body(), content_type="application/json")
    assert response.status == 200
    assert response.content_type == "application/json"
    assert isinstance(response.body, bytes)
    assert json.loads(response.body)["value"] == "Approved"
