"""Every failure a call can meet becomes one typed error of ``botconnect.errors``, whatever the service sent.

Client-level tests run three ways (sync, asyncio, trio) through the ``env`` fixture; the Hypothesis tests call
``parse_error_details`` / ``error_from_response`` directly on ``httpx.Response`` objects.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from botconnect import errors
from botconnect._core.responses import error_from_response, parse_error_details
from botconnect.errors import (
    BadGatewayError,
    BotConnectError,
    ClientAuthenticationError,
    DeserializationError,
    ErrorDetails,
    HttpResponseError,
    PermissionDeniedError,
    RateLimitError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServerError,
    ServiceRequestError,
    ServiceRequestTimeoutError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
    ServiceUnavailableError,
    error_class_for_status,
)

from .harness import Env, FakeService

URL = "https://slack.botframework.com"
ACTIVITY = {"type": "message", "text": "hi"}
REQUEST_ID = "req-0123"

STATUS_CLASSES: dict[int, type[HttpResponseError]] = {
    302: HttpResponseError,
    400: HttpResponseError,
    401: ClientAuthenticationError,
    403: PermissionDeniedError,
    404: ResourceNotFoundError,
    409: ResourceExistsError,
    412: ResourceModifiedError,
    418: HttpResponseError,
    429: RateLimitError,
    500: ServerError,
    502: BadGatewayError,
    503: ServiceUnavailableError,
    504: ServerError,
}

CONNECTOR_BODY = {
    "error": {
        "code": "BadArgument",
        "message": "Unknown conversation",
        "innerHttpError": {"statusCode": 400, "body": {"reason": "no such thread"}},
    }
}
ACS_BODY = {
    "error": {
        "code": "Forbidden",
        "message": "The initiator does not have access",
        "target": "threadId",
        "details": [{"code": "Detail1", "message": "first detail"}, {"code": "Detail2", "message": "second"}],
        "innererror": {"code": "InnerCode", "message": "inner"},
    }
}
HUGE_TEXT = b"<html><body>" + b"overloaded " * 200_000 + b"</body></html>"


def _check_connector(err: ErrorDetails) -> None:
    assert err.code == "BadArgument"
    assert err.message == "Unknown conversation"
    assert err.inner_error == {"statusCode": 400, "body": {"reason": "no such thread"}}
    assert err.raw == CONNECTOR_BODY


def _check_acs(err: ErrorDetails) -> None:
    assert err.code == "Forbidden"
    assert err.message == "The initiator does not have access"
    assert err.target == "threadId"
    assert [(d.code, d.message) for d in err.details] == [("Detail1", "first detail"), ("Detail2", "second")]
    assert err.inner_error == {"code": "InnerCode", "message": "inner"}


def _check_empty(err: ErrorDetails) -> None:
    assert err.code is None
    assert err.message is None


def _check_json_string(err: ErrorDetails) -> None:
    assert err.code is None
    assert err.message == "Something went wrong"
    assert err.raw == "Something went wrong"


def _check_html(err: ErrorDetails) -> None:
    assert err.code is None
    assert err.message is not None
    assert "Service Unavailable" in err.message


def _check_invalid_json(err: ErrorDetails) -> None:
    assert err.code is None
    assert err.message is not None
    assert err.message.startswith('{"error": {"code": "Trunc')


def _check_array(err: ErrorDetails) -> None:
    assert err.code is None
    assert err.message is None
    assert err.raw == [{"code": "X", "message": "in an array"}]


def _check_huge(err: ErrorDetails) -> None:
    assert err.code is None
    assert err.message is not None
    assert err.message.startswith("<html><body>overloaded overloaded")
    assert len(err.message) <= 303
    assert err.message.endswith("...")


BODIES: dict[str, tuple[bytes, str, Callable[[ErrorDetails], None]]] = {
    "connector": (json.dumps(CONNECTOR_BODY).encode(), "application/json", _check_connector),
    "acs": (json.dumps(ACS_BODY).encode(), "application/json", _check_acs),
    "empty": (b"", "text/plain", _check_empty),
    "json-string": (b'"Something went wrong"', "application/json", _check_json_string),
    "html": (
        b"<html><head><title>503</title></head><body><h1>Service Unavailable</h1></body></html>",
        "text/html",
        _check_html,
    ),
    "invalid-json": (b'{"error": {"code": "Trunc', "application/json", _check_invalid_json),
    "json-array": (b'[{"code": "X", "message": "in an array"}]', "application/json", _check_array),
    "huge": (HUGE_TEXT, "text/html", _check_huge),
}


def make_client(env: Env, fake: FakeService, **kwargs: Any) -> Any:
    kwargs.setdefault("retry_policy", env.pkg.NO_RETRIES)
    return env.construct("ConnectorClient", URL, transport=fake.transport, **kwargs)


# -- status x body shape ------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", list(BODIES))
@pytest.mark.parametrize("status", list(STATUS_CLASSES))
def test_error_status_and_body_shape(env: Env, fake: FakeService, status: int, shape: str) -> None:
    body, content_type, check = BODIES[shape]
    fake.reply(
        status,
        content=body,
        headers={"Content-Type": content_type, "x-ms-request-id": REQUEST_ID, "Retry-After": "7"},
    )
    with make_client(env, fake) as client, pytest.raises(HttpResponseError) as info:
        client.conversations.send_to_conversation("conv", ACTIVITY)
    exc = info.value
    assert type(exc) is STATUS_CLASSES[status]
    assert exc.status_code == status
    assert exc.response.status_code == status
    assert exc.response.content == body
    assert exc.request_id == REQUEST_ID
    assert exc.retry_after == 7.0
    assert exc.error_code == exc.error.code
    check(exc.error)
    text = str(exc)
    assert str(status) in text
    assert len(text) < 1000
    assert repr(exc).startswith(type(exc).__name__ + "(")
    assert len(fake.requests) == 1


def test_rate_limit_error_carries_retry_after(env: Env, fake: FakeService) -> None:
    fake.reply(429, json_body={"error": {"code": "Throttled", "message": "slow down"}}, headers={"Retry-After": "12"})
    with make_client(env, fake) as client, pytest.raises(RateLimitError) as info:
        client.conversations.send_to_conversation("conv", ACTIVITY)
    assert info.value.retry_after == 12.0
    assert info.value.error.code == "Throttled"
    assert "slow down" in str(info.value)


def test_error_without_retry_after_has_none(env: Env, fake: FakeService) -> None:
    fake.reply(429, json_body={"error": {"code": "Throttled", "message": "slow down"}})
    with make_client(env, fake) as client, pytest.raises(RateLimitError) as info:
        client.conversations.send_to_conversation("conv", ACTIVITY)
    assert info.value.retry_after is None
    assert info.value.request_id is None


def test_request_id_from_ms_cv(env: Env, fake: FakeService) -> None:
    fake.reply(404, json_body=CONNECTOR_BODY, headers={"MS-CV": "cv-42.1"})
    with make_client(env, fake) as client, pytest.raises(ResourceNotFoundError) as info:
        client.conversations.get_conversation_member("conv", "member")
    assert info.value.request_id == "cv-42.1"


def test_x_ms_request_id_wins_over_ms_cv(env: Env, fake: FakeService) -> None:
    fake.reply(404, json_body=CONNECTOR_BODY, headers={"MS-CV": "cv-42.1", "x-ms-request-id": REQUEST_ID})
    with make_client(env, fake) as client, pytest.raises(ResourceNotFoundError) as info:
        client.conversations.get_conversation_member("conv", "member")
    assert info.value.request_id == REQUEST_ID


OPERATIONS: dict[str, Callable[[Any], Any]] = {
    "post": lambda c: c.conversations.send_to_conversation("conv", ACTIVITY),
    "put": lambda c: c.conversations.update_activity("conv", "act", ACTIVITY),
    "delete": lambda c: c.conversations.delete_activity("conv", "act"),
    "get": lambda c: c.conversations.get_conversation_member("conv", "member"),
    "get-list": lambda c: c.conversations.get_conversation_members("conv"),
    "paged": lambda c: list(c.conversations.get_conversation_paged_members("conv")),
    "attachment-info": lambda c: c.attachments.get_attachment_info("att"),
    "attachment-stream": lambda c: c.attachments.get_attachment("att", "original"),
}


@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_every_operation_maps_errors_the_same_way(env: Env, fake: FakeService, operation: str) -> None:
    fake.reply(403, json_body=ACS_BODY, headers={"x-ms-request-id": REQUEST_ID})
    with make_client(env, fake) as client, pytest.raises(PermissionDeniedError) as info:
        OPERATIONS[operation](client)
    exc = info.value
    assert exc.status_code == 403
    assert exc.request_id == REQUEST_ID
    _check_acs(exc.error)
    # the body of a streamed (attachment) error response has been read, so it is usable after the call
    assert json.loads(exc.response.content) == ACS_BODY


def test_oauth_style_error_body(env: Env, fake: FakeService) -> None:
    fake.reply(401, json_body={"error": "invalid_client", "error_description": "AADSTS7000215: bad secret"})
    with make_client(env, fake) as client, pytest.raises(ClientAuthenticationError) as info:
        client.conversations.send_to_conversation("conv", ACTIVITY)
    assert info.value.error.code == "invalid_client"
    assert info.value.error.message == "AADSTS7000215: bad secret"


def test_error_tree_shape() -> None:
    assert issubclass(errors.UntrustedEndpointError, ServiceRequestError)
    assert issubclass(errors.UntrustedEndpointError, ValueError)
    assert issubclass(errors.ClientClosedError, RuntimeError)
    assert issubclass(DeserializationError, ServiceResponseError)
    assert issubclass(ServiceResponseTimeoutError, ServiceResponseError)
    assert issubclass(ServiceRequestTimeoutError, ServiceRequestError)
    for cls in (*STATUS_CLASSES.values(), ServiceRequestError, ServiceResponseError, errors.ClientClosedError):
        assert issubclass(cls, BotConnectError)
    assert issubclass(BadGatewayError, ServerError)
    assert issubclass(ServiceUnavailableError, ServerError)
    for status in range(500, 600):
        assert issubclass(error_class_for_status(status), ServerError)


# -- 2xx bodies that are not the documented model -------------------------------------------------------------

BAD_SUCCESS: dict[str, tuple[str, bytes]] = {
    "post-not-json": ("post", b"<html>ok</html>"),
    "post-truncated": ("post", b'{"id": "4'),
    "post-array": ("post", b'[{"id": "1"}]'),
    "post-string": ("post", b'"id"'),
    "post-number": ("post", b"42"),
    "post-invalid-utf8": ("post", b'{"id": "\xff\xfe"}'),
    "list-object": ("get-list", b'{"members": []}'),
    "list-of-numbers": ("get-list", b'[1, "x"]'),
    "list-empty-body": ("get-list", b""),
    "get-empty-body": ("get", b""),
    "get-null": ("get", b"null"),
    "get-array": ("get", b"[]"),
    "info-views-number": ("attachment-info", b'{"name": "a", "views": 5}'),
    "info-views-items": ("attachment-info", b'{"views": [1, 2]}'),
    "paged-members-number": ("paged", b'{"members": 3}'),
    "paged-string": ("paged", b'"members"'),
}


@pytest.mark.parametrize("case", list(BAD_SUCCESS))
def test_success_with_bad_body_raises_deserialization_error(env: Env, fake: FakeService, case: str) -> None:
    operation, body = BAD_SUCCESS[case]
    fake.reply(200, content=body, headers={"Content-Type": "application/json"})
    with make_client(env, fake) as client, pytest.raises(DeserializationError) as info:
        OPERATIONS[operation](client)
    assert info.value.response is not None
    assert info.value.response.status_code == 200
    assert info.value.response.content == body


def test_success_with_deeply_nested_json_raises_deserialization_error(env: Env, fake: FakeService) -> None:
    # a hostile or broken service: nesting deeper than the interpreter's recursion limit
    fake.reply(200, content=b"[" * 100_000, headers={"Content-Type": "application/json"})
    with make_client(env, fake) as client, pytest.raises(DeserializationError):
        client.conversations.send_to_conversation("conv", ACTIVITY)


def test_error_with_deeply_nested_json_is_still_an_http_error(env: Env, fake: FakeService) -> None:
    fake.reply(500, content=b'{"error": ' + b"[" * 100_000, headers={"Content-Type": "application/json"})
    with make_client(env, fake) as client, pytest.raises(ServerError) as info:
        client.conversations.send_to_conversation("conv", ACTIVITY)
    assert info.value.status_code == 500


# httpx's own async generators are left suspended when decoding fails; trio reports that at teardown
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_success_with_corrupt_compressed_body_is_a_botconnect_error(env: Env, fake: FakeService) -> None:
    def corrupt_gzip(request: httpx.Request) -> httpx.Response:
        # the body is decoded by the client while reading it, not by the handler
        return httpx.Response(
            200,
            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
            stream=httpx.ByteStream(b"this is not gzip"),
        )

    fake.route("POST", "/v3/conversations/conv/activities", corrupt_gzip)
    with make_client(env, fake) as client, pytest.raises(ServiceResponseError):
        client.conversations.send_to_conversation("conv", ACTIVITY)


def test_redirect_loop_is_a_botconnect_error(env: Env, fake: FakeService) -> None:
    def loop(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": "/v3/attachments/att/views/original"})

    fake.route("GET", "/v3/attachments/att/views/original", loop)
    with make_client(env, fake) as client, pytest.raises(BotConnectError):
        client.attachments.get_attachment("att", "original")


def test_huge_json_error_message_does_not_blow_up_str(env: Env, fake: FakeService) -> None:
    message = "m" * 1_000_000
    fake.reply(400, json_body={"error": {"code": "BadArgument", "message": message}})
    with make_client(env, fake) as client, pytest.raises(HttpResponseError) as info:
        client.conversations.send_to_conversation("conv", ACTIVITY)
    assert info.value.error.message == message  # the data itself is kept whole
    assert len(str(info.value)) < 2000  # ... but the exception text (logs, tracebacks) is a preview


# -- transport failures -----------------------------------------------------------------------------------

TRANSPORT: dict[str, tuple[Callable[[], Exception], type[BotConnectError]]] = {
    "connect-error": (lambda: httpx.ConnectError("connection refused"), ServiceRequestError),
    "connect-timeout": (lambda: httpx.ConnectTimeout("connect timed out"), ServiceRequestTimeoutError),
    "pool-timeout": (lambda: httpx.PoolTimeout("no connection free"), ServiceRequestTimeoutError),
    "read-timeout": (lambda: httpx.ReadTimeout("read timed out"), ServiceResponseTimeoutError),
    "write-timeout": (lambda: httpx.WriteTimeout("write timed out"), ServiceResponseTimeoutError),
    "remote-protocol": (lambda: httpx.RemoteProtocolError("peer closed connection"), ServiceResponseError),
    "read-error": (lambda: httpx.ReadError("connection reset"), ServiceResponseError),
}


@pytest.mark.parametrize("operation", ["post", "get", "attachment-stream"])
@pytest.mark.parametrize("case", list(TRANSPORT))
def test_transport_errors_are_typed_and_chained(env: Env, fake: FakeService, case: str, operation: str) -> None:
    factory, expected = TRANSPORT[case]
    raised = factory()
    fake.fail(raised)
    with make_client(env, fake) as client, pytest.raises(BotConnectError) as info:
        OPERATIONS[operation](client)
    assert type(info.value) is expected
    assert info.value.__cause__ is raised
    assert str(raised) in str(info.value)
    assert len(fake.requests) == 1


# -- any body, any error status (no client) ---------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
error_keys = st.sampled_from(["code", "message", "Message", "target", "details", "innererror", "error_description"])
json_bodies = st.one_of(
    json_values,
    st.dictionaries(error_keys, json_values, max_size=5),
    st.dictionaries(st.just("error"), json_values | st.dictionaries(error_keys, json_values, max_size=5)),
).map(lambda value: json.dumps(value).encode())
bodies = st.one_of(st.binary(max_size=3000), json_bodies, st.text(max_size=500).map(str.encode))
header_values = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)


@settings(max_examples=300, deadline=None)
@given(
    status=st.integers(min_value=400, max_value=599),
    body=bodies,
    retry_after=st.none() | header_values,
    request_id=st.none() | header_values,
)
def test_any_error_body_gives_an_http_response_error(
    status: int, body: bytes, retry_after: str | None, request_id: str | None
) -> None:
    headers = {}
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    if request_id is not None:
        headers["x-ms-request-id"] = request_id
    response = httpx.Response(
        status, content=body, headers=headers, request=httpx.Request("POST", URL + "/v3/conversations")
    )

    details = parse_error_details(response)
    assert isinstance(details, ErrorDetails)
    for field in (details.code, details.message, details.target):
        assert field is None or isinstance(field, str)

    exc = error_from_response(response)
    assert isinstance(exc, HttpResponseError)
    assert type(exc) is error_class_for_status(status)
    assert exc.status_code == status
    assert exc.response is response
    assert exc.error == details
    assert exc.retry_after is None or exc.retry_after >= 0
    assert exc.request_id == (request_id or None)
    assert str(status) in str(exc)
    assert isinstance(repr(exc), str)
    try:
        json.loads(body)
    except ValueError:
        # not JSON: the message is a bounded preview of the text
        assert details.message is None or len(details.message) <= 303
