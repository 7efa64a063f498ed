"""build_url assembles httpx URLs without re-parsing; it must agree with httpx parsing the same text, always."""

from __future__ import annotations

from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from botconnect._core.requests import _common
from botconnect._core.requests._common import build_url, bytes_request, parse_url
from botconnect._core.security import path_segment

BASES = [
    "http://127.0.0.1:8000",
    "http://[::1]:3978/",
    "https://smba.trafficmanager.net/amer/",
    "https://smba.trafficmanager.net/teams",
    "https://User:Secret@example.communication.azure.com",
    "https://directline.botframework.com/v3/directline/",
]

ids = st.text(min_size=1, max_size=40)
query_values = st.none() | st.text(max_size=30) | st.integers()
queries = st.lists(
    st.tuples(st.sampled_from(["pageSize", "continuationToken", "watermark", "api-version"]), query_values)
)


def same(a: httpx.URL, b: httpx.URL) -> None:
    assert str(a) == str(b)
    assert a.raw_path == b.raw_path
    assert (a.scheme, a.host, a.port, a.query, a.fragment) == (b.scheme, b.host, b.port, b.query, b.fragment)
    assert a == b
    request_a, request_b = httpx.Request("GET", a), httpx.Request("GET", b)
    assert request_a.url.raw_path == request_b.url.raw_path
    assert request_a.headers["Host"] == request_b.headers["Host"]


@settings(max_examples=300)
@given(base=st.sampled_from(BASES), first=ids, second=ids, query=queries)
def test_fast_urls_equal_httpx_parsing(base: str, first: str, second: str, query: list[tuple[str, object]]) -> None:
    path = f"/v3/conversations/{path_segment(first, 'id')}/activities/{path_segment(second, 'id')}"
    pairs = [(key, str(value)) for key, value in query if value is not None]
    fast = build_url(httpx.URL(base), path, query)
    same(fast, parse_url(httpx.URL(base), path, urlencode(pairs) if pairs else None))
    assert fast.userinfo == b""  # credentials in a base URL never travel in request URLs


@pytest.mark.parametrize("value", ["..", ".", "a/b", "19:abc@thread.v2;messageid=1", "%2F", "?x#y", "é 🙂"])
def test_awkward_ids_stay_one_segment(value: str) -> None:
    url = build_url(
        httpx.URL("https://smba.trafficmanager.net/amer/"), f"/v3/conversations/{path_segment(value, 'id')}"
    )
    assert url.raw_path.count(b"/") == 4
    assert url.raw_path.startswith(b"/amer/v3/conversations/")
    assert url.path.endswith("/" + value)


def test_fallback_without_fast_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    base = httpx.URL("https://smba.trafficmanager.net/amer/")
    fast = build_url(base, "/v3/conversations/a%3Ab", [("pageSize", 5), ("continuationToken", None)])
    monkeypatch.setattr(_common, "_FAST_URLS", False)
    slow = build_url(base, "/v3/conversations/a%3Ab", [("pageSize", 5), ("continuationToken", None)])
    same(fast, slow)
    assert str(slow) == "https://smba.trafficmanager.net/amer/v3/conversations/a%3Ab?pageSize=5"


@settings(max_examples=200)
@given(
    base=st.sampled_from(BASES),
    method=st.sampled_from(["POST", "PUT", "patch"]),
    body=st.binary(max_size=200),
    headers=st.dictionaries(st.sampled_from(["Accept", "Content-Type", "X-Ms-Test", "Host"]), st.text("abc/;= ")),
)
def test_bytes_request_equals_httpx_building_it(base: str, method: str, body: bytes, headers: dict[str, str]) -> None:
    headers.pop("Host", None)  # the builders never set one: the URL decides it
    url = build_url(httpx.URL(base), "/v3/conversations/a%3Ab/activities")
    fast = bytes_request(method, url, body, headers)
    slow = httpx.Request(method, url, content=body, headers=headers)
    assert (fast.method, fast.url, fast.headers.raw, fast.content) == (slow.method, slow.url, slow.headers.raw, body)
    assert (fast.extensions, type(fast.stream), b"".join(fast.stream)) == ({}, httpx.ByteStream, body)  # type: ignore[arg-type]
