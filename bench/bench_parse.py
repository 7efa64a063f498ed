"""1. Activity parse (JSON bytes -> model) and serialize (model -> JSON bytes), ops/s.

Floors: ``json.loads`` / ``json.dumps`` of the same document (the cost of JSON alone). Competitor: botbuilder-schema
(msrest) the way the Bot Framework SDK does it: ``Activity.deserialize(json.loads(body))`` and
``json.dumps(activity.serialize())``, both with the same compact separators as ours.
"""

from __future__ import annotations

import json
from typing import Any

from _fixtures import INCOMING_ACTIVITY
from _measure import Context, Row, compare, label, measure, optional_import

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
    return rows
