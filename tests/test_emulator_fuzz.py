"""The emulator checked by documents nobody here wrote: schemathesis generates requests from the services' own
Swagger (Connector v3.1 and Direct Line 3.0, in ../shared/reference), positive and negative, and checks every answer:
no 5xx, documented status codes and content types, bodies that match the documented schemas, valid data accepted,
invalid data rejected, 405s that say what is allowed.

Where the emulator deliberately follows the services rather than the letter of a Swagger, the document is adjusted
here, each time saying why:

* bodies are JSON (the Swaggers also list XML and form encodings, an artefact of the ASP.NET generator; every SDK
  sends JSON, and the emulator answers anything else with 415);
* ``null`` members mean absent (``x-nullable``), as the services' JSON deserializer reads them;
* enums marked ``x-ms-enum: modelAsString`` are open (custom activity types are part of the Activity protocol);
* ``value`` (of an Activity, of a CardAction) is any JSON: the Activity protocol only says it SHOULD be complex
  (A3080), and Web Chat sends strings there for imBack and messageBack;
* an attachment view is the file itself, served with its own content type (recorded: ``image/png``);
* ``GET .../pagedmembers`` documents only 200, and ``POST tokens/generate`` no 400: they get the error responses
  their siblings document (an unknown conversation cannot be 200; a malformed TokenParameters is 400 in ``start``);
* valid requests carry what only the service issues or the protocol requires beyond the Swagger: continuation
  tokens and watermarks it issued, an activity ``type``, ``from.id`` on a Direct Line post, ``userId`` on an upload
  (directline-3.0-protocol-description.md), members with ids (the live service refuses a conversation without
  members: recording ``test_conversations_create_conversation_without_members_fails``), an uploaded attachment
  with content (``originalBase64``).

Bounded: a few dozen examples per operation, on one emulator per Swagger, well under a minute.
"""

from __future__ import annotations

import copy
import json
import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402

from botconnect.emulator import Emulator  # noqa: E402

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"
#: examples per operation; BOTCONNECT_FUZZ_EXAMPLES=500 for a deep (random, slower) run
EXAMPLES = int(os.environ.get("BOTCONNECT_FUZZ_EXAMPLES", "25"))
FUZZ = settings(
    deadline=None,
    max_examples=EXAMPLES,
    suppress_health_check=list(HealthCheck),
    derandomize="BOTCONNECT_FUZZ_EXAMPLES" not in os.environ,
)


def _load(relative: str) -> dict[str, Any]:
    path = REFERENCE / relative
    if not path.is_file():
        pytest.skip(f"reference material not found at {path}", allow_module_level=True)
    raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return raw


def _adjusted(raw: dict[str, Any]) -> dict[str, Any]:
    """JSON bodies only, nullable members, open enums, open values (see the module docs)."""
    adjusted = copy.deepcopy(raw)
    for operations in adjusted["paths"].values():
        for operation in operations.values():
            consumes = operation.get("consumes") if isinstance(operation, dict) else None
            if consumes and "multipart/form-data" not in consumes:
                operation["consumes"] = ["application/json"]
    for definition in adjusted["definitions"].values():
        if definition.get("x-ms-enum", {}).get("modelAsString"):
            del definition["enum"]
        for member in definition.get("properties", {}).values():
            member["x-nullable"] = True
    for name in ("Activity", "CardAction"):
        adjusted["definitions"][name]["properties"]["value"].pop("type", None)
    return adjusted


def _connector_swagger() -> dict[str, Any]:
    raw = _adjusted(_load("connector/botframework-channel.json"))
    paths = raw["paths"]
    error_response = paths["/v3/conversations/{conversationId}/members"]["get"]["responses"]["default"]
    paths["/v3/conversations/{conversationId}/pagedmembers"]["get"]["responses"]["default"] = error_response
    paths["/v3/attachments/{attachmentId}/views/{viewId}"]["get"]["produces"] = ["*/*"]
    return raw


def _directline_swagger() -> dict[str, Any]:
    raw = _adjusted(_load("directline/directline-3.0.json"))
    paths = raw["paths"]
    bad_request = paths["/v3/directline/conversations"]["post"]["responses"]["400"]
    paths["/v3/directline/tokens/generate"]["post"]["responses"]["400"] = bad_request
    return raw


connector_schema = schemathesis.openapi.from_dict(_connector_swagger())
directline_schema = schemathesis.openapi.from_dict(_directline_swagger())
for _schema in (connector_schema, directline_schema):
    _schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=EXAMPLES)


class Known:
    """Real things in the emulator for cases to point at: half the cases use them instead of random ids."""

    def __init__(self, emulator: Emulator) -> None:
        import httpx

        self.emulator = emulator
        with httpx.Client(base_url=emulator.url, headers={"Authorization": f"Bearer {emulator.secret}"}) as http:
            members = [{"id": f"member-{i}", "name": f"Member {i}"} for i in range(3)]
            created = http.post("/v3/conversations", json={"members": members}).json()
            self.conversation_id: str = created["id"]
            sent = http.post(
                f"/v3/conversations/{self.conversation_id}/activities", json={"type": "message", "text": "hi"}
            )
            self.activity_id: str = sent.json()["id"]
            paged = http.get(f"/v3/conversations/{self.conversation_id}/pagedmembers", params={"pageSize": 1})
            self.continuation_token: str = paged.json()["continuationToken"]
            upload = {"type": "text/plain", "name": "a.txt", "originalBase64": "aGVsbG8="}
            self.attachment_id: str = http.post(
                f"/v3/conversations/{self.conversation_id}/attachments", json=upload
            ).json()["id"]
            self.dl_conversation_id: str = http.post("/v3/directline/conversations").json()["conversationId"]

    def pin(self, case: Any) -> None:
        """Point half the cases (chosen by their content, so runs repeat) at real resources."""
        parameters = case.path_parameters or {}
        if zlib.crc32(json.dumps(parameters, sort_keys=True, default=str).encode()) % 2:
            return
        real = {
            "conversationId": self.dl_conversation_id if "directline" in case.path else self.conversation_id,
            "activityId": self.activity_id,
            "memberId": "member-1",
            "attachmentId": self.attachment_id,
            "viewId": "original",
        }
        for name in parameters:
            if name in real:
                parameters[name] = real[name]

    def make_valid(self, case: Any) -> None:
        """Valid cases carry what only the service issues, or the protocol requires (see the module docs)."""
        if case.meta is None or case.meta.generation.mode != GenerationMode.POSITIVE:
            return
        if case.query and "continuationToken" in case.query:
            case.query["continuationToken"] = self.continuation_token
        if case.query and "watermark" in case.query:
            case.query["watermark"] = "0"
        if case.path.endswith("/upload") and case.query is not None:
            case.query["userId"] = case.query.get("userId") or "fuzz-user"
        body = case.body if isinstance(case.body, dict) else None
        if body is None:
            return
        activity: Any = None
        if case.path.endswith("/attachments"):
            body["originalBase64"] = body.get("originalBase64") or "aGVsbG8="
        elif case.path == "/v3/conversations":
            members = body.get("members") or [{}]
            body["members"] = [{**(m or {}), "id": (m or {}).get("id") or f"fuzz-{i}"} for i, m in enumerate(members)]
            activity = body.get("activity")
        elif case.path.endswith(("/activities", "/activities/{activityId}")):
            activity = body
        if isinstance(activity, dict):
            activity["type"] = activity.get("type") or "message"
            if "directline" in case.path:
                activity["from"] = {**(activity.get("from") or {}), "id": (activity.get("from") or {}).get("id") or "u"}


@pytest.fixture(scope="module")
def known() -> Iterator[Known]:
    with Emulator() as emulator:
        yield Known(emulator)


@connector_schema.parametrize()
@FUZZ
def test_connector_swagger(case: Any, known: Known) -> None:
    known.pin(case)
    known.make_valid(case)
    case.call_and_validate(base_url=known.emulator.url)


@directline_schema.parametrize()
@FUZZ
def test_directline_swagger(case: Any, known: Known) -> None:
    known.pin(case)
    known.make_valid(case)
    case.call_and_validate(base_url=known.emulator.url, headers={"Authorization": f"Bearer {known.emulator.secret}"})
