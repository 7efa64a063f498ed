"""1. Activity parse (JSON bytes -> model) and serialize (model -> JSON bytes), ops/s.

Floors: ``json.loads`` / ``json.dumps`` of the same document (the cost of JSON alone). Competitor: botbuilder-schema
(msrest) the way the Bot Framework SDK does it: ``Activity.deserialize(json.loads(body))`` and
``json.dumps(activity.serialize())``, both with the same compact separators as ours.

The pydantic peers (issue 16), each as its SDK does it, on a small (406 B) and a large (2.9 kB) Teams message:
``microsoft-teams-api`` (Teams SDK v2) ``MessageActivity.model_validate_json(body)`` and
``activity.model_dump_json(by_alias=True, exclude_none=True)``; ``microsoft-agents-activity`` (Microsoft 365 Agents
SDK) ``Activity.model_validate_json(body)`` and the same ``model_dump_json``. Ours: ``Activity.from_json(body)`` and
``activity.to_json()``. The three run interleaved in one measurement, so each ratio pairs rounds moments apart.
"""

from __future__ import annotations

import json
from typing import Any

from _fixtures import INCOMING_ACTIVITY, SMALL_ACTIVITY, TEAMS_MESSAGE
from _measure import Context, Row, SyncCase, compare, label, measure, optional_import

from botconnect.models import Activity

GROUP = "parse"
TITLE = "Activity parse / serialize"


def run(ctx: Context) -> list[Row]:
    doc = INCOMING_ACTIVITY
    wire: dict[str, Any] = json.loads(doc)
    ours = Activity.from_json(doc)
    assert ours.conversation is not None, "the document must parse into a full Activity"
    assert ours.entities, "the document must parse into a full Activity"

    def ours_parse(n: int) -> None:
        from_json = Activity.from_json
        for _ in range(n):
            from_json(doc)

    def json_parse(n: int) -> None:
        loads = json.loads
        for _ in range(n):
            loads(doc)

    def ours_serialize(n: int) -> None:
        to_json = ours.to_json
        for _ in range(n):
            to_json()

    def json_serialize(n: int) -> None:
        dumps = json.dumps
        for _ in range(n):
            dumps(wire, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    parse_cases = {"ours": ours_parse, "json": json_parse}
    serialize_cases = {"ours": ours_serialize, "json": json_serialize}

    schema = optional_import("botbuilder.schema")
    if schema is not None:
        bb_activity = schema.Activity.deserialize(wire)
        assert bb_activity.conversation is not None

        def bb_parse(n: int) -> None:
            deserialize = schema.Activity.deserialize
            loads = json.loads
            for _ in range(n):
                deserialize(loads(doc))

        def bb_serialize(n: int) -> None:
            dumps = json.dumps
            for _ in range(n):
                dumps(bb_activity.serialize(), separators=(",", ":"), ensure_ascii=False).encode("utf-8")

        parse_cases["botbuilder"] = bb_parse
        serialize_cases["botbuilder"] = bb_serialize

    competitor = label("botbuilder-schema", "(msrest)")
    note = f"{len(doc):,}-byte Teams channel message"
    rows = compare(
        GROUP,
        "Activity parse (JSON bytes -> model)",
        "ops/s",
        measure(parse_cases, ctx.settings),
        "ours",
        [("json", "json.loads (floor)", ""), ("botbuilder", competitor, ">= 10x")],
        note,
    )
    rows += compare(
        GROUP,
        "Activity serialize (model -> JSON bytes)",
        "ops/s",
        measure(serialize_cases, ctx.settings),
        "ours",
        [("json", "json.dumps (floor)", ""), ("botbuilder", competitor, ">= 15x")],
        note,
    )
    for size, doc in (("small", SMALL_ACTIVITY), ("large", TEAMS_MESSAGE)):
        rows += peer_rows(ctx, size, doc)
    return rows


def peer_rows(ctx: Context, size: str, doc: bytes) -> list[Row]:
    """Ours against the pydantic peers on one document: parse from bytes, serialize to bytes."""
    ours = Activity.from_json(doc)
    assert ours.from_property is not None, "the document must parse into a full Activity"

    def ours_parse(n: int) -> None:
        from_json = Activity.from_json
        for _ in range(n):
            from_json(doc)

    def ours_serialize(n: int) -> None:
        to_json = ours.to_json
        for _ in range(n):
            to_json()

    parse_cases: dict[str, SyncCase] = {"ours": ours_parse}
    serialize_cases: dict[str, SyncCase] = {"ours": ours_serialize}
    teams = optional_import("microsoft_teams.api")
    if teams is not None:
        parse_cases["teams"], serialize_cases["teams"] = pydantic_cases(teams.MessageActivity, doc)
    agents = optional_import("microsoft_agents.activity")
    if agents is not None:
        parse_cases["agents"], serialize_cases["agents"] = pydantic_cases(agents.Activity, doc)

    teams_label = label("microsoft-teams-api", "(pydantic)")
    agents_label = label("microsoft-agents-activity", "(pydantic)")
    note = f"{len(doc):,}-byte {'one-to-one chat' if size == 'small' else 'Teams channel'} message"
    rows = compare(
        GROUP,
        f"Activity parse, {size} (JSON bytes -> model)",
        "ops/s",
        measure(parse_cases, ctx.settings),
        "ours",
        [("teams", teams_label, ">= 2x"), ("agents", agents_label, ">= 3x")],
        note,
    )
    rows += compare(
        GROUP,
        f"Activity serialize, {size} (model -> JSON bytes)",
        "ops/s",
        measure(serialize_cases, ctx.settings),
        "ours",
        [("teams", teams_label, ">= 1.5x"), ("agents", agents_label, ">= 3x")],
        note,
    )
    return rows


def pydantic_cases(model: Any, doc: bytes) -> tuple[SyncCase, SyncCase]:
    """(parse, serialize) for a pydantic Activity model, the way its SDK reads and writes activities."""
    parsed = model.model_validate_json(doc)
    assert parsed.conversation is not None, "the document must parse into a full Activity"

    def parse(n: int) -> None:
        validate = model.model_validate_json
        for _ in range(n):
            validate(doc)

    def serialize(n: int) -> None:
        dump = parsed.model_dump_json
        for _ in range(n):
            dump(by_alias=True, exclude_none=True).encode("utf-8")

    return parse, serialize
