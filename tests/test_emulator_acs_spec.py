"""The ACS Chat emulator against the contract, independently of our client: raw HTTP over httpx.ASGITransport.

* A walk through every operation of ``communicationserviceschat.json`` (2025-03-15 and 2024-03-07): each request we
  send is checked against the swagger, each answer must be a documented status with a body that validates against
  the documented schema (strictly: no undeclared keys; the Common identifier and error definitions filled in as
  test_chat_recordings.py does), with the service's headers (Location on create and send).
* The real recordings (2024-03-07) replayed against the emulator: same statuses, same response shapes.
* Error answers: status, the service's error code, and a body that is a CommunicationErrorResponse.
* A Hypothesis fuzz run generated from the swagger (operations, parameters, bodies from the request schemas, plus
  wrong methods, tokens, api-versions, content types and junk): never a 5xx, and every answer conforms.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette

from botconnect.emulator.acs import AcsChatService

from .swagger import SwaggerDoc, SwaggerError
from .test_chat_credential import make_jwt
from .test_chat_recordings import chat_swagger, load

BASE = "http://acs.test"
VERSIONS = ["2025-03-15", "2024-03-07"]
ERROR_SCHEMA = {"$ref": "#/definitions/CommunicationErrorResponse"}
TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")


class Api:
    """Raw requests to the emulator's ASGI app from sync test code (the client lives on a blocking portal)."""

    def __init__(self, portal: BlockingPortal) -> None:
        self.portal = portal
        self.service = AcsChatService()
        self.client: httpx.AsyncClient = portal.call(self._open)
        self.alice_token, self.alice = self.service.issue_user_token()
        self.bob_token, self.bob = self.service.issue_user_token()
        self.mallory_token, self.mallory = self.service.issue_user_token()

    async def _open(self) -> httpx.AsyncClient:
        app = Starlette(routes=self.service.routes())
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)

    def close(self) -> None:
        self.portal.call(self.client.aclose)

    def send(
        self,
        method: str,
        url: str,
        *,
        api: str | None = "2025-03-15",
        token: str | None = None,
        body: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, Any] | None = None,
        auth: bool = True,
    ) -> httpx.Response:
        """``url`` is a path (or a nextLink); ``api`` None leaves api-version out, ``auth`` False the token."""
        params = dict(query or {})
        if api is not None and "api-version=" not in url:
            params["api-version"] = api
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params)
        all_headers = {"Authorization": f"Bearer {token or self.alice_token}"} if auth else {}
        if body is not None:
            content = json.dumps(body).encode()
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers or {})
        request = self.client.build_request(method, url, content=content, headers=all_headers)
        return self.portal.call(self.client.send, request)

    def new_thread(self, *, token: str | None = None, participants: list[str] | None = None, **extra: Any) -> str:
        people = [{"communicationIdentifier": {"rawId": p}} for p in (participants or [self.bob])]
        response = self.send("POST", "/chat/threads", token=token, body={"topic": "t", "participants": people, **extra})
        assert response.status_code == 201, response.text
        return str(response.json()["chatThread"]["id"])

    def new_message(self, thread_id: str, *, token: str | None = None) -> str:
        response = self.send("POST", path(thread_id, "messages"), token=token, body={"content": "hi"})
        assert response.status_code == 201, response.text
        return str(response.json()["id"])


@pytest.fixture(scope="module")
def portal() -> Iterator[BlockingPortal]:
    with start_blocking_portal(backend="asyncio") as portal:
        yield portal


@pytest.fixture
def api(portal: BlockingPortal) -> Iterator[Api]:
    api = Api(portal)
    try:
        yield api
    finally:
        api.close()


def path(thread_id: str, *rest: str) -> str:
    return "/".join([f"/chat/threads/{quote(thread_id, safe='')}", *rest])


def swagger() -> SwaggerDoc:
    return chat_swagger(strict=True)


def statuses_of(operation_id: str) -> set[str]:
    """The statuses the swagger documents for an operation."""
    [operation] = [op for _, _, op in operations() if op["operationId"] == operation_id]
    return set(operation["responses"])


def operations() -> list[tuple[str, str, Mapping[str, Any]]]:
    """(method, path template, operation) for every operation of the swagger."""
    doc = swagger().doc
    return [(m.upper(), template, op) for template, item in doc["paths"].items() for m, op in item.items()]


def resolve(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    """Follow ``#/definitions/...`` and ``#/parameters/...`` references."""
    while "$ref" in schema:
        section, name = schema["$ref"].split("/")[-2:]
        schema = swagger().doc[section][name]
    return schema


def operation_of(request: httpx.Request) -> str | None:
    """The operation a request calls (whatever its query), or None for a route or method the swagger lacks."""
    raw_path = request.url.raw_path.split(b"?")[0] + b"?api-version=2025-03-15"
    try:
        return swagger().match(request.method, raw_path).operation_id
    except SwaggerError:
        return None


def conforming(response: httpx.Response) -> Any:
    """Check an answer against the swagger; returns its parsed body (None when it has none)."""
    request, status = response.request, response.status_code
    assert status < 500, f"{request.method} {request.url} -> {status}: {response.text}"
    operation = operation_of(request)
    content_type = response.headers.get("content-type", "")
    if request.method == "HEAD":  # no operation answers HEAD (405, or 404 off the routes); and the answer has no body
        assert status in (404, 405)
        assert response.content == b""
        return None
    if status >= 400:
        assert content_type == "application/json; charset=utf-8", response.headers
        body = response.json()
        swagger().validate_schema(ERROR_SCHEMA, body, what=f"{status} error body")
        documented = operation is not None and str(status) in statuses_of(operation)
        if documented:
            assert operation is not None
            swagger().validate_response(operation, status, response.content, content_type=content_type)
        return body
    assert operation is not None, f"{request.method} {request.url} succeeded but is no operation"
    assert str(status) in statuses_of(operation), f"{operation} answered {status}"
    if swagger().response_schema(operation, status) is None:
        assert response.content == b"", f"{operation} {status} has a body"
        return None
    return swagger().validate_response(operation, status, response.content, content_type=content_type)


def walk(node: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object in ``node``, depth first."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def identifiers(node: Any) -> list[dict[str, Any]]:
    return [obj for obj in walk(node) if "rawId" in obj]


# -- every operation, as documented -----------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_every_operation_answers_as_documented(api: Api, version: str) -> None:
    seen: dict[str, int] = {}
    bodies: list[Any] = []

    def call(method: str, url: str, *, follow: bool = False, **kwargs: Any) -> httpx.Response:
        response = api.send(method, url, api=version, **kwargs)
        if not follow:  # our nextLinks carry syncState, which the swagger does not declare (nor do the service's)
            swagger().validate_request(response.request)
        body = conforming(response)
        operation = operation_of(response.request)
        assert operation is not None
        seen[operation] = response.status_code
        bodies.append(body)
        return response

    def every_page(url: str, size: int) -> list[Any]:
        items: list[Any] = []
        response = call("GET", url, query={"maxPageSize": size})
        while True:
            page = response.json()
            assert len(page["value"]) <= size
            items.extend(page["value"])
            if "nextLink" not in page:
                return items
            link = page["nextLink"]
            assert link.startswith(BASE + "/chat/threads")
            assert f"api-version={version}" in link
            response = call("GET", link, follow=True)

    metadata = {"metadata": {"purpose": "walk"}} if version == "2025-03-15" else {}
    created = call(
        "POST",
        "/chat/threads",
        headers={"repeatability-request-id": "walk-1"},
        body={
            "topic": "Walk",
            "participants": [
                {"communicationIdentifier": {"rawId": api.bob, "communicationUser": {"id": api.bob}}},
                {"communicationIdentifier": {"rawId": "4:+15550100", "phoneNumber": {"value": "+15550100"}}},
            ],
            **metadata,
        },
    )
    thread = created.json()["chatThread"]["id"]
    assert created.status_code == 201
    assert created.headers["location"] == f"{BASE}/chat/threads/{quote(thread, safe='@')}"
    assert created.json()["invalidParticipants"] == [
        {"code": "403", "message": "Permissions check failed", "target": "4:+15550100"}
    ]
    call("GET", path(thread))
    patch = {"Content-Type": "application/merge-patch+json"}
    call("PATCH", path(thread), content=json.dumps({"topic": "Walk on"}).encode(), headers=patch)
    sent = call("POST", path(thread, "messages"), body={"content": "hello", "senderDisplayName": "Alice"})
    message = sent.json()["id"]
    assert sent.headers["location"] == f"{BASE}/chat/threads/{quote(thread, safe='@')}/messages/{message}"
    for i in range(3):
        call("POST", path(thread, "messages"), token=api.bob_token, body={"content": f"<p>{i}</p>", "type": "html"})
    call("GET", path(thread, "messages", message))
    call("PATCH", path(thread, "messages", message), content=b'{"content": "hello!"}', headers=patch)
    call("POST", path(thread, "typing"), body={"senderDisplayName": "Alice"})
    call("POST", path(thread, "typing"))
    call("POST", path(thread, "readReceipts"), body={"chatMessageId": message})
    call("POST", path(thread, "readReceipts"), token=api.bob_token, body={"chatMessageId": message})
    added = call(
        "POST",
        path(thread, "participants/:add"),
        body={"participants": [{"communicationIdentifier": {"rawId": api.mallory}}]},
    )
    assert added.json() == {}
    messages = every_page(path(thread, "messages"), 2)
    participants = every_page(path(thread, "participants"), 1)
    receipts = every_page(path(thread, "readReceipts"), 1)
    call("POST", path(thread, "participants/:remove"), body={"rawId": api.mallory})
    call("DELETE", path(thread, "messages", message))
    api.new_thread()
    threads = every_page("/chat/threads", 1)
    call("DELETE", path(thread))

    assert seen.keys() == swagger().operation_ids  # every operation was called
    assert [m["sequenceId"] for m in messages] == [str(n) for n in range(len(messages), 0, -1)]
    assert [m["type"] for m in messages][-3:] == ["topicUpdated", "topicUpdated", "participantAdded"]
    assert [p["communicationIdentifier"]["rawId"] for p in participants] == [api.alice, api.bob, api.mallory]
    assert {r["senderCommunicationIdentifier"]["rawId"] for r in receipts} == {api.alice, api.bob}
    assert len(threads) == 2
    everything = [b for b in bodies if b is not None]
    stamps = [v for obj in walk(everything) for k, v in obj.items() if k.endswith("On") or k == "shareHistoryTime"]
    assert stamps
    assert all(TIMESTAMP.fullmatch(s) for s in stamps)
    if version == "2024-03-07":
        assert all("kind" not in identifier for identifier in identifiers(everything))
        assert not any("metadata" in obj or "retentionPolicy" in obj for obj in walk(everything) if "topic" in obj)
    else:
        assert identifiers(everything)
        assert all("kind" in identifier for identifier in identifiers(everything))
        assert api.send("GET", path(api.new_thread(metadata={"a": "b"}))).json()["metadata"] == {"a": "b"}


def test_2024_answers_have_no_2025_fields(api: Api) -> None:
    thread = api.new_thread(metadata={"a": "b"}, retentionPolicy={"kind": "none"})
    added = {"communicationIdentifier": {"rawId": api.mallory}, "metadata": {"role": "x"}}
    api.send("POST", path(thread, "participants/:add"), body={"participants": [added]})
    for version, present in (("2025-03-15", True), ("2024-03-07", False)):
        properties = conforming(api.send("GET", path(thread), api=version))
        participants = conforming(api.send("GET", path(thread, "participants"), api=version))["value"]
        assert ("metadata" in properties, "retentionPolicy" in properties) == (present, present)
        assert ("metadata" in participants[-1]) == present
        assert ("kind" in properties["createdByCommunicationIdentifier"]) == present


# -- the recordings ---------------------------------------------------------------------------------------------


def location_form(url: str) -> str:
    """A Location with its host, thread id and message id abstracted (the thread id's ``:`` encoded, ``@`` not)."""
    form = re.sub(r"^https?://[^/]+/", "BASE/", url)
    form = re.sub(r"/chat/threads/19%3A[A-Za-z0-9_-]+@thread\.v2", "/chat/threads/THREAD", form)
    return re.sub(r"/messages/[0-9]{13}$", "/messages/MESSAGE", form)


def shape(node: Any) -> Any:
    """A JSON value's structure: keys and value types (what survives the recordings' sanitizing)."""
    if isinstance(node, dict):
        return {key: shape(value) for key, value in node.items()}
    if isinstance(node, list):
        return [shape(item) for item in node[:1]]
    return type(node).__name__


@pytest.mark.parametrize("name", ["list_chat_threads.json", "send_message.json", "get_message.json"])
def test_recordings_replayed_against_the_emulator(api: Api, name: str) -> None:
    entries = load(name)
    creator = entries[0]["RequestBody"]["participants"][0]["communicationIdentifier"]["rawId"]
    token, _ = api.service.issue_user_token(creator)
    thread_id = message_id = ""
    for entry in entries:
        recorded = httpx.URL(entry["RequestUri"])
        url = recorded.raw_path.decode()
        parts = recorded.path.split("/")
        if len(parts) > 3:  # the recorded thread and message ids stand for the ones the emulator made
            url = path(thread_id, *(["messages", message_id] if len(parts) > 5 else parts[4:]))
            url += "?" + recorded.query.decode()
        headers = {k: v for k, v in entry["RequestHeaders"].items() if k.lower() == "repeatability-request-id"}
        response = api.send(
            entry["RequestMethod"], url, api=None, token=token, body=entry["RequestBody"], headers=headers
        )
        body = conforming(response)
        assert response.status_code == entry["StatusCode"]
        assert shape(body) == shape(entry["ResponseBody"])
        if entry["RequestMethod"] == "POST" and recorded.path == "/chat/threads":
            thread_id = body["chatThread"]["id"]
        elif entry["RequestMethod"] == "POST":
            message_id = body["id"]
        recorded_headers = {k.lower(): v for k, v in entry["ResponseHeaders"].items()}
        for name in ("access-control-expose-headers", "content-type", "ms-cv", "api-supported-versions", "location"):
            assert (name in response.headers) == (name in recorded_headers), name
        assert response.headers["content-type"] == recorded_headers["content-type"]
        if "Location" in entry["ResponseHeaders"]:
            assert location_form(response.headers["location"]) == location_form(entry["ResponseHeaders"]["Location"])
        if name == "get_message.json" and entry is entries[-1]:
            assert body["sequenceId"] == entry["ResponseBody"]["sequenceId"] == "3"
            assert body["content"] == entry["ResponseBody"]["content"]


# -- errors -----------------------------------------------------------------------------------------------------

JUNK = "not-a-jwt"


def forged(state: Any) -> str:
    """A syncState the service never issued."""
    return base64.urlsafe_b64encode(json.dumps(state).encode()).decode().rstrip("=")


def people(*identifiers: Any) -> dict[str, Any]:
    return {"participants": [{"communicationIdentifier": i} for i in identifiers]}


def error_cases(api: Api) -> list[tuple[str, dict[str, Any], int, str, str | None]]:
    """(method, request arguments, status, error code, target) for one mistake each."""
    thread = api.new_thread()
    foreign = api.new_thread(token=api.mallory_token, participants=[])
    message = api.new_message(thread)
    bobs = api.new_message(thread, token=api.bob_token)
    merge = {"Content-Type": "application/merge-patch+json"}
    expired, _ = api.service.issue_user_token(lifetime=-1)
    return [
        ("GET", {"url": "/chat/threads", "api": None}, 400, "MissingApiVersionParameter", None),
        ("GET", {"url": "/chat/threads", "api": "2023-11-07"}, 400, "UnsupportedApiVersion", "api-version"),
        ("GET", {"url": "/chat/threads", "auth": False}, 401, "Unauthorized", None),
        ("GET", {"url": "/chat/threads", "token": JUNK}, 401, "InvalidAuthenticationToken", None),
        (
            "GET",
            {"url": "/chat/threads", "headers": {"Authorization": "Basic abc"}},
            401,
            "InvalidAuthenticationToken",
            None,
        ),
        ("GET", {"url": "/chat/threads", "token": expired}, 401, "InvalidAuthenticationToken", None),
        (
            "GET",
            {"url": "/chat/threads", "token": make_jwt(time.time() + 60, skypeid="orgid:x")},
            401,
            "InvalidAuthenticationToken",
            None,
        ),
        ("GET", {"url": path(foreign)}, 403, "Forbidden", None),
        ("GET", {"url": path("19:missing@thread.v2")}, 404, "NotFound", "19:missing@thread.v2"),
        ("GET", {"url": path(thread, "messages", "1")}, 404, "NotFound", "1"),
        ("PUT", {"url": "/chat/threads"}, 405, "MethodNotAllowed", None),
        ("GET", {"url": "/chat/nowhere"}, 404, "NotFound", "/chat/nowhere"),
        ("GET", {"url": "/chat"}, 404, "NotFound", "/chat"),
        ("GET", {"url": "/chat/threads/%2F%0A/readReceipts"}, 404, "NotFound", "/chat/threads//\n/readReceipts"),
        ("GET", {"url": path("19:a\nb@thread.v2")}, 404, "NotFound", "19:a\nb@thread.v2"),
        ("GET", {"url": "/chat/threads", "query": {"maxPageSize": 0}}, 400, "BadRequest", "maxPageSize"),
        ("GET", {"url": "/chat/threads", "query": {"maxPageSize": "ten"}}, 400, "BadRequest", "maxPageSize"),
        ("GET", {"url": "/chat/threads", "query": {"startTime": "yesterday"}}, 400, "BadRequest", "startTime"),
        ("GET", {"url": "/chat/threads", "query": {"syncState": "e30"}}, 400, "BadRequest", "syncState"),
        (
            "GET",
            {"url": "/chat/threads", "query": {"syncState": forged({"scope": "threads", "start": 10**400})}},
            400,
            "BadRequest",
            "syncState",
        ),
        (
            "GET",
            {"url": "/chat/threads", "query": {"syncState": forged({"scope": "threads", "after": [True, "x"]})}},
            400,
            "BadRequest",
            "syncState",
        ),
        (
            "GET",
            {"url": "/chat/threads", "query": {"syncState": forged({"scope": "threads", "after": [1]})}},
            400,
            "BadRequest",
            "syncState",
        ),
        (
            "GET",
            {
                "url": path(thread, "messages"),
                "query": {"syncState": forged({"scope": "threads", "after": [1.0, "x"]})},
            },
            400,
            "BadRequest",
            "syncState",
        ),
        (
            "GET",
            {"url": path(thread, "messages"), "query": {"syncState": forged({"scope": thread, "after": ["1"]})}},
            400,
            "BadRequest",
            "syncState",
        ),
        ("GET", {"url": path(thread, "participants"), "query": {"skip": -1}}, 400, "BadRequest", "skip"),
        ("POST", {"url": "/chat/threads", "body": {"participants": []}}, 400, "BadRequest", "topic"),
        ("POST", {"url": "/chat/threads", "body": {"topic": 7}}, 400, "BadRequest", "topic"),
        ("POST", {"url": "/chat/threads", "body": ["topic"]}, 400, "BadRequest", "body"),
        (
            "POST",
            {"url": "/chat/threads", "content": b"{", "headers": {"Content-Type": "application/json"}},
            400,
            "BadRequest",
            "body",
        ),
        (
            "POST",
            {"url": "/chat/threads", "content": b'{"topic": "x"}', "headers": {"Content-Type": "text/plain"}},
            415,
            "UnsupportedMediaType",
            "Content-Type",
        ),
        ("POST", {"url": "/chat/threads"}, 400, "BadRequest", "body"),
        (
            "POST",
            {
                "url": "/chat/threads",
                "body": {"topic": "x", "retentionPolicy": {"kind": "threadCreationDate", "deleteThreadAfterDays": 7}},
            },
            400,
            "BadRequest",
            "retentionPolicy.deleteThreadAfterDays",
        ),
        (
            "POST",
            {"url": "/chat/threads", "body": {"topic": "x", "metadata": {"k": "v" * 1100}}},
            400,
            "BadRequest",
            "metadata",
        ),
        (
            "POST",
            {
                "url": "/chat/threads",
                "body": {
                    "topic": "x",
                    **people({"communicationUser": {"id": "8:acs:a"}, "phoneNumber": {"value": "+1"}}),
                },
            },
            400,
            "BadRequest",
            "participants[0].communicationIdentifier",
        ),
        (
            "POST",
            {"url": "/chat/threads", "body": {"topic": "x", **people({"kind": "communicationUser"})}},
            400,
            "BadRequest",
            "participants[0].communicationIdentifier",
        ),
        (
            "POST",
            {"url": "/chat/threads", "body": {"topic": "x", **people({"rawId": 5})}},
            400,
            "BadRequest",
            "participants[0].communicationIdentifier.rawId",
        ),
        ("PATCH", {"url": path(thread), "body": {"topic": "x"}}, 415, "UnsupportedMediaType", "Content-Type"),
        ("PATCH", {"url": path(thread), "content": b'{"topic": null}', "headers": merge}, 400, "BadRequest", "topic"),
        ("POST", {"url": path(thread, "messages"), "body": {"senderDisplayName": "x"}}, 400, "BadRequest", "content"),
        (
            "POST",
            {"url": path(thread, "messages"), "body": {"content": "x", "type": "topicUpdated"}},
            400,
            "BadRequest",
            "type",
        ),
        ("POST", {"url": path(thread, "messages"), "body": {"content": "x" * 30_000}}, 400, "BadRequest", "content"),
        (
            "POST",
            {"url": path(thread, "messages"), "body": {"content": "x", "metadata": {"k": 1}}},
            400,
            "BadRequest",
            "metadata.k",
        ),
        (
            "PATCH",
            {"url": path(thread, "messages", bobs), "content": b'{"content": "x"}', "headers": merge},
            403,
            "Forbidden",
            None,
        ),
        ("DELETE", {"url": path(thread, "messages", bobs)}, 403, "Forbidden", None),
        (
            "PATCH",
            {"url": path(thread, "messages", message), "content": b'{"content": null}', "headers": merge},
            400,
            "BadRequest",
            "content",
        ),
        (
            "POST",
            {"url": path(thread, "participants/:add"), "body": {"participants": []}},
            400,
            "BadRequest",
            "participants",
        ),
        ("POST", {"url": path(thread, "participants/:add"), "body": {}}, 400, "BadRequest", "participants"),
        ("POST", {"url": path(thread, "participants/:remove"), "body": {}}, 400, "BadRequest", "rawId"),
        ("POST", {"url": path(thread, "readReceipts"), "body": {}}, 400, "BadRequest", "chatMessageId"),
        ("POST", {"url": path(thread, "readReceipts"), "body": {"chatMessageId": "1"}}, 404, "NotFound", "1"),
        (
            "POST",
            {"url": path(thread, "typing"), "body": {"senderDisplayName": False}},
            400,
            "BadRequest",
            "senderDisplayName",
        ),
    ]


def test_errors_answer_with_the_service_error_shape(api: Api) -> None:
    for method, arguments, status, code, target in error_cases(api):
        response = api.send(method, arguments.pop("url"), **arguments)
        body = conforming(response)
        context = f"{method} {response.request.url}: {body}"
        assert response.status_code == status, context
        assert (body["error"]["code"], body["error"].get("target")) == (code, target), context
        assert body["error"]["message"], context
        assert isinstance(body["error"]["details"], list), context
        if status == 401:
            assert response.headers["www-authenticate"] == "Bearer"
        if status == 405:
            assert response.headers["allow"] == "GET, POST"
    expired, _ = api.service.issue_user_token(lifetime=-1)
    inner = api.send("GET", "/chat/threads", token=expired).json()["error"]["innererror"]
    assert inner["code"] == "TokenExpired"


def test_idempotent_create_is_per_user_and_deleted_threads_stay_listed(api: Api) -> None:
    request = {"url": "/chat/threads", "body": {"topic": "once"}, "headers": {"repeatability-request-id": "same"}}
    first = api.send("POST", **request).json()["chatThread"]
    again = api.send("POST", **request).json()["chatThread"]
    bobs = api.send("POST", **request, token=api.bob_token).json()["chatThread"]
    assert first == again
    assert bobs["id"] != first["id"]
    assert api.send("DELETE", path(first["id"])).status_code == 204
    listed = conforming(api.send("GET", "/chat/threads"))["value"]
    assert [(t["id"], "deletedOn" in t) for t in listed] == [(first["id"], True)]
    assert api.send("GET", path(first["id"], "messages")).status_code == 404
    assert api.send("DELETE", path(first["id"])).status_code == 204  # idempotent for its participants
    assert api.send("DELETE", path(first["id"]), token=api.bob_token).status_code == 404


# -- fuzzing from the swagger -----------------------------------------------------------------------------------

ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
DATE_TIMES = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)).map(
    lambda d: d.isoformat().replace("+00:00", "Z")
)


def from_schema(
    schema: Mapping[str, Any], good_ids: st.SearchStrategy[Any], junk: bool, depth: int = 0
) -> st.SearchStrategy[Any]:
    """Values for a request schema; with ``junk``, sprinkled with wrong types and missing required fields."""
    name = schema.get("$ref", "").rsplit("/", 1)[-1]
    schema = resolve(schema)
    if name == "CommunicationIdentifierModel":
        return good_ids | _object(schema, good_ids, junk, depth) if junk else good_ids
    if name == "ChatRetentionPolicy":
        days = st.integers(25, 95) | (st.integers(-(2**31), 2**31 - 1) | ANY_JSON if junk else st.nothing())
        kinds = st.sampled_from(["none", "threadCreationDate", "x"] if junk else ["none", "threadCreationDate"])
        return st.fixed_dictionaries({"kind": kinds, "deleteThreadAfterDays": days})
    valid: st.SearchStrategy[Any]
    kind = schema.get("type")
    if "enum" in schema:
        valid = st.sampled_from(schema["enum"])
    elif kind == "string":
        valid = DATE_TIMES if schema.get("format") == "date-time" else st.text(max_size=12)
    elif kind == "integer":
        valid = st.integers(-(2**31), 2**31 - 1)
    elif kind == "boolean":
        valid = st.booleans()
    elif kind == "array":
        valid = st.lists(from_schema(schema["items"], good_ids, junk, depth + 1), max_size=3)
    else:
        valid = _object(schema, good_ids, junk, depth)
    return st.one_of(valid, valid, valid, ANY_JSON) if junk and depth <= 2 else valid


def _object(
    schema: Mapping[str, Any], good_ids: st.SearchStrategy[Any], junk: bool, depth: int
) -> st.SearchStrategy[Any]:
    properties = {k: from_schema(v, good_ids, junk, depth + 1) for k, v in schema.get("properties", {}).items()}
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict) and not properties:
        return st.dictionaries(st.text(max_size=6), from_schema(extra, good_ids, junk, depth + 1), max_size=3)
    required = [k for k in schema.get("required", []) if k in properties and not junk]
    return st.fixed_dictionaries(
        {k: properties[k] for k in required}, optional={k: v for k, v in properties.items() if k not in required}
    )


@st.composite
def fuzzed_request(draw: st.DrawFn, api: Api, thread: str, message: str) -> dict[str, Any]:
    """One request for a swagger operation: well-formed (parameters and body from the swagger, a participant's
    token, a supported api-version) or, one time in three, with anything wrong: ids, token, version, content type,
    body, method."""
    method, template, operation = draw(st.sampled_from(operations()))
    junk = draw(st.integers(0, 2)) == 0
    ids = {"chatThreadId": st.just(thread), "chatMessageId": st.just(message)}
    if junk:
        ids["chatThreadId"] = st.sampled_from([thread, "19:missing@thread.v2"]) | st.text(min_size=1, max_size=8)
        ids["chatMessageId"] = st.sampled_from([message, "1"]) | st.text(min_size=1, max_size=8)
    url = template
    for name, values in ids.items():
        value = draw(values.filter(lambda v: v not in (".", "..")))
        url = url.replace("{" + name + "}", quote(value, safe=""))
    query: dict[str, Any] = {}
    for param in map(resolve, operation.get("parameters", [])):
        if param["in"] == "query" and param["name"] != "api-version" and draw(st.booleans()):
            good = st.integers(0 if param["name"] == "skip" else 1, 300) if param["type"] == "integer" else DATE_TIMES
            query[param["name"]] = draw(good | st.text(max_size=6) if junk else good)
    versions = [*VERSIONS, None, "2021-09-07"] if junk else VERSIONS
    tokens = [api.alice_token, api.bob_token]
    if junk:
        tokens += [api.mallory_token, api.service.issue_user_token(lifetime=-1)[0], JUNK, ""]
    token = draw(st.sampled_from(tokens))
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if template == "/chat/threads" and method == "POST" and draw(st.booleans()):
        headers["repeatability-request-id"] = draw(st.sampled_from(["r1", "r2"]))
    # well-formed requests name ACS users; ids the service refuses (phone, Teams, nonsense) are part of the junk
    raw_ids = [api.alice, api.bob, "8:acs:new"]
    if junk:
        raw_ids += [api.mallory, "4:+15550100", "8:orgid:o", "28:orgid:a", "x"]
    good_ids = st.sampled_from(raw_ids).map(lambda raw: {"rawId": raw})
    content = b""
    [body_param] = [p for p in operation.get("parameters", []) if p.get("in") == "body"] or [None]
    if body_param is not None and not (junk and draw(st.integers(0, 4)) == 0):
        body = draw(from_schema(body_param["schema"], good_ids, junk))
        if isinstance(body, dict) and "chatMessageId" in body and not (junk and draw(st.booleans())):
            body["chatMessageId"] = message  # a read receipt for a message that exists
        content = json.dumps(body).encode()
        consumes = operation.get("consumes", ["application/json"])
        headers["Content-Type"] = draw(st.sampled_from([*consumes, "text/plain"] if junk else consumes))
    elif junk and draw(st.booleans()):
        content = draw(st.binary(max_size=16))
        headers["Content-Type"] = "application/json"
    if junk and draw(st.integers(0, 4)) == 0:
        method = draw(st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]))
    api_version = draw(st.sampled_from(versions))
    return {"method": method, "url": url, "api": api_version, "query": query, "headers": headers, "content": content}


def test_fuzz_from_the_swagger_never_fails_and_always_conforms(api: Api) -> None:
    statuses: Counter[tuple[str | None, int]] = Counter()

    @given(st.data())
    @settings(
        max_examples=400,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    def run(data: st.DataObject) -> None:
        thread = api.new_thread()
        message = api.new_message(thread, token=api.bob_token)
        for _ in range(data.draw(st.integers(1, 4))):
            request = data.draw(fuzzed_request(api, thread, message))
            response = api.send(request.pop("method"), request.pop("url"), auth=False, **request)
            conforming(response)
            statuses[(operation_of(response.request), response.status_code)] += 1
        conforming(api.send("GET", path(thread, "messages")))  # the state still answers

    run()
    succeeded = {operation for (operation, status), _ in statuses.items() if status < 300}
    assert succeeded == swagger().operation_ids, f"never succeeded: {swagger().operation_ids - succeeded}"
    assert {status for _, status in statuses} >= {200, 201, 204, 400, 401, 403, 404, 415}
