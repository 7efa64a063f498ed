"""The Swagger checker itself must reject bad traffic, or the contract tests built on it prove nothing."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from .swagger import SwaggerDoc, SwaggerError, load_swagger

HOST = "https://slack.botframework.com"


@pytest.fixture
def v30(reference: Path) -> SwaggerDoc:
    return load_swagger(reference / "connector" / "ConnectorAPI.json")


@pytest.fixture
def v31(reference: Path) -> SwaggerDoc:
    return load_swagger(reference / "connector" / "botframework-channel.json")


def test_valid_request_matches_its_operation_and_decodes_path_params(v30: SwaggerDoc) -> None:
    request = httpx.Request(
        "POST",
        HOST + "/v3/conversations/a%3Ab%2Fc/activities/1%2E2",
        json={"type": "message", "text": "hi", "from": {"id": "u"}, "timestamp": "2024-01-02T03:04:05.1234567Z"},
    )
    match = v30.validate_request(request)
    assert match.operation_id == "Conversations_ReplyToActivity"
    assert match.path_params == {"conversationId": "a:b/c", "activityId": "1.2"}
    assert match.body["text"] == "hi"


def test_invalid_body_is_rejected_with_every_problem_named(v30: SwaggerDoc) -> None:
    request = httpx.Request(
        "POST",
        HOST + "/v3/conversations/c/activities",
        json={"type": 5, "from": {"id": 3}, "timestamp": "yesterday", "attachments": {}},
    )
    with pytest.raises(SwaggerError) as info:
        v30.validate_request(request)
    message = str(info.value)
    assert "Conversations_SendToConversation" in message
    for fragment in ("at type:", "at from/id: 3 is not of type 'string'", "'yesterday' is not a 'date-time'"):
        assert fragment in message
    assert "at attachments: {} is not of type 'array'" in message


def test_byte_format_must_be_base64(v30: SwaggerDoc) -> None:
    good = httpx.Request("POST", HOST + "/v3/conversations/c/attachments", json={"originalBase64": "AAE="})
    assert v30.validate_request(good).operation_id == "Conversations_UploadAttachment"
    bad = httpx.Request("POST", HOST + "/v3/conversations/c/attachments", json={"originalBase64": "not base64!"})
    with pytest.raises(SwaggerError, match="'not base64!' is not a 'byte'"):
        v30.validate_request(bad)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("/v3/conversations/c/pagedmembers?pageSize=ten", "'pageSize' must be an integer"),
        ("/v3/conversations/c/pagedmembers?pageSize=1&top=2", "unknown query parameter 'top'"),
        ("/v3/conversations/c/pagedmembers?pageSize=1&pageSize=2", "'pageSize' repeated"),
        ("/v3/conversations/c/pagedmembers?pageSize", "malformed query string"),
        ("/v3/conversations/c/nothere", "no operation for GET"),
        ("/v3/conversations//members", "no operation for GET"),
    ],
)
def test_query_and_path_checks(v30: SwaggerDoc, url: str, problem: str) -> None:
    with pytest.raises(SwaggerError, match=problem):
        v30.validate_request(httpx.Request("GET", HOST + url))


def test_optional_empty_query_value_and_encoded_dots_are_accepted(v30: SwaggerDoc) -> None:
    match = v30.validate_request(httpx.Request("GET", HOST + "/v3/conversations?continuationToken="))
    assert match.query_params == {"continuationToken": ""}
    match = v30.validate_request(httpx.Request("GET", HOST + "/v3/conversations/%2E%2E/pagedmembers?pageSize=-1"))
    assert match.path_params == {"conversationId": ".."}
    assert match.query_params == {"pageSize": "-1"}


def test_unencoded_characters_and_dot_segments_in_path_params_are_rejected(v30: SwaggerDoc) -> None:
    with pytest.raises(SwaggerError, match="not percent-encoded properly"):
        v30.match("GET", "/v3/conversations/a b/members")
    with pytest.raises(SwaggerError, match="not percent-encoded properly"):
        v30.match("GET", "/v3/conversations/caf\u00e9/members")
    with pytest.raises(SwaggerError, match="dot segment"):
        v30.match("GET", "/v3/conversations/../members")
    with pytest.raises(SwaggerError, match="not UTF-8"):
        v30.match("GET", "/v3/conversations/%FF/members")


def test_wrong_method_body_rules_and_content_type(v30: SwaggerDoc) -> None:
    with pytest.raises(SwaggerError, match=r"no operation for PATCH .*matches"):
        v30.validate_request(httpx.Request("PATCH", HOST + "/v3/conversations/c/activities/a"))
    with pytest.raises(SwaggerError, match="requires a body"):
        v30.validate_request(httpx.Request("POST", HOST + "/v3/conversations/c/activities"))
    with pytest.raises(SwaggerError, match="takes no body"):
        v30.validate_request(httpx.Request("GET", HOST + "/v3/conversations/c/members", content=b"{}"))
    with pytest.raises(SwaggerError, match="Content-Type 'text/plain'"):
        v30.validate_request(
            httpx.Request("POST", HOST + "/v3/conversations", content=b"{}", headers={"Content-Type": "text/plain"})
        )


def test_base_path_prefix(v30: SwaggerDoc) -> None:
    request = httpx.Request("DELETE", "https://smba.trafficmanager.net/amer/v3/conversations/c/members/m")
    assert v30.validate_request(request, base_path="/amer").operation_id == "Conversations_DeleteConversationMember"
    with pytest.raises(SwaggerError):
        v30.validate_request(request)  # without the prefix the path is not an API path
    with pytest.raises(SwaggerError, match="does not start with the base path"):
        v30.validate_request(request, base_path="/emea")


def test_get_member_exists_only_in_v31(v30: SwaggerDoc, v31: SwaggerDoc) -> None:
    request = httpx.Request("GET", HOST + "/v3/conversations/c/members/m")
    assert v31.validate_request(request).operation_id == "Conversations_GetConversationMember"
    with pytest.raises(SwaggerError, match=r"no operation for GET .*DELETE"):
        v30.validate_request(request)


def test_concrete_path_wins_over_template(v30: SwaggerDoc) -> None:
    request = httpx.Request("POST", HOST + "/v3/conversations/c/activities/history", json={"activities": []})
    assert v30.validate_request(request).operation_id == "Conversations_SendConversationHistory"


def test_response_validation(v30: SwaggerDoc, v31: SwaggerDoc) -> None:
    op = "Conversations_GetConversationMembers"
    assert v30.validate_response(op, 200, b'[{"id": "1", "name": "x", "role": "user"}]') == [
        {"id": "1", "name": "x", "role": "user"}
    ]
    with pytest.raises(SwaggerError, match="at 0/role: 'admin' is not one of"):
        v30.validate_response(op, 200, b'[{"id": "1", "role": "admin"}]')
    with pytest.raises(SwaggerError, match="not UTF-8 JSON"):
        v30.validate_response(op, 200, b"<html>")
    with pytest.raises(SwaggerError, match="empty"):
        v30.validate_response("Conversations_SendToConversation", 200, b"")
    # errors validate against the default ErrorResponse
    v30.validate_response(op, 404, b'{"error": {"code": "NotFound", "message": "gone"}}')
    with pytest.raises(SwaggerError, match="at error/code"):
        v30.validate_response(op, 404, b'{"error": {"code": 404}}')
    # no schema documented (DELETE 202): nothing to check; an undocumented status without default fails
    assert v30.validate_response("Conversations_DeleteActivity", 202, b"") is None
    with pytest.raises(SwaggerError, match="documents no 500 response"):
        v30.validate_response("Conversations_GetConversationPagedMembers", 500, b"{}")
    # x-nullable (v3.1 only) admits null
    activities = {"type": "array", "items": {"$ref": "#/definitions/Activity"}}
    v31.validate_schema(activities, [{"id": "a", "type": "message", "timestamp": None}])
    with pytest.raises(SwaggerError, match="None is not of type 'string'"):
        v30.validate_schema(activities, [{"timestamp": None}])


def test_rejects_non_swagger_documents() -> None:
    with pytest.raises(ValueError, match=r"Swagger 2\.0"):
        SwaggerDoc({"openapi": "3.0.0"})
