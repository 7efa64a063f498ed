"""The JSON layer gives the same wire bytes and the same errors with orjson (the speed extra) and without it."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import orjson
import pytest

from botconnect._core import serde, serde_scalars
from botconnect.errors import DeserializationError
from botconnect.models import Activity, ChannelAccount, HeroCard

from .harness import Env, FakeService


@pytest.fixture(params=["orjson", "stdlib"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    engine = orjson if request.param == "orjson" else None
    monkeypatch.setattr(serde, "_orjson", engine)
    monkeypatch.setattr(serde_scalars, "_orjson", engine)
    return str(request.param)


def _activity() -> Activity:
    return Activity(
        type="message",
        text='héllo ✓ \u2028 "quoted"',
        timestamp=datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
        from_property=ChannelAccount(id="29:1", name="Zoë"),
        channel_data={"tenant": {"id": "t"}, "list": [1, 2.5, True, None], "big": 2**70},
        attachments=[HeroCard(title="t").to_attachment()],
        additional_properties={"unknownKey": {"nested": ["x"]}},
    )


def test_dumps_is_compact_utf8_json(backend: str) -> None:
    activity = _activity()
    encoded = activity.to_json()
    assert json.loads(encoded) == activity.to_dict()
    assert b": " not in encoded
    assert b", " not in encoded.replace(b'\\"quoted\\"', b"")
    assert "héllo ✓".encode() in encoded  # UTF-8, not \\u escapes
    assert json.loads(encoded)["channelData"]["big"] == 2**70  # beyond orjson's 64 bits: falls back


def test_both_backends_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    activity = _activity()
    fast = activity.to_json()
    monkeypatch.setattr(serde, "_orjson", None)
    monkeypatch.setattr(serde_scalars, "_orjson", None)
    slow = activity.to_json()
    assert json.loads(fast) == json.loads(slow)
    assert Activity.from_json(fast) == Activity.from_json(slow) == activity


@pytest.mark.parametrize("body", [b"{", b"[1,", b"nul", b"\xff\xfe", b"{" * 5000 + b"}" * 5000])
def test_bad_json_is_a_deserialization_error(backend: str, env: Env, fake: FakeService, body: bytes) -> None:
    fake.reply(200, content=body, headers={"Content-Type": "application/json"})
    client = env.construct("ConnectorClient", "https://slack.botframework.com", transport=fake.transport)
    with client, pytest.raises(DeserializationError):
        client.conversations.send_to_conversation("c", {"type": "message"})
