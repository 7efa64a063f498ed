"""ACS access-key signing (botconnect._core.hmac_auth) against Microsoft's own ``HMACCredentialsPolicy``
(azure-communication-identity) run on the same requests at the same instant, and against a vector computed here
with hashlib/hmac from the documented scheme."""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
from typing import Any

import httpx
import pytest

from botconnect._core.hmac_auth import (
    HmacSigner,
    content_hash,
    decode_access_key,
    http_date,
    parse_connection_string,
    sign,
)

KEY = base64.b64encode(bytes(range(32))).decode()
NOW = 1_780_000_000.0  # a fixed instant: Thu, 28 May 2026 ...
ENDPOINT = "https://res.communication.azure.com"

REQUESTS = [
    ("POST", "/identities?api-version=2023-10-01", b""),
    ("POST", "/identities?api-version=2023-10-01", b'{"createTokenWithScopes":["chat","voip"],"expiresInMinutes":60}'),
    ("POST", "/identities/8%3Aacs%3Ares_0000-1111/:issueAccessToken?api-version=2023-10-01", b'{"scopes":["chat"]}'),
    ("DELETE", "/identities/8%3Aacs%3Ares_0000-1111?api-version=2023-10-01", b""),
    ("POST", "/teamsUser/:exchangeAccessToken?api-version=2023-10-01", '{"token":"é.ü.ß"}'.encode()),
]


def documented(method: str, target: str, host: str, body: bytes, key: str, now: float) -> dict[str, str]:
    """The scheme as ACS documents it, written out here (independently of botconnect's module)."""
    date = email.utils.formatdate(now, usegmt=True)
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    text = f"{method}\n{target}\n{date};{host};{digest}"
    mac = base64.b64encode(hmac.new(base64.b64decode(key), text.encode(), hashlib.sha256).digest()).decode()
    return {
        "x-ms-date": date,
        "x-ms-content-sha256": digest,
        "Authorization": f"HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature={mac}",
    }


def microsoft(method: str, target: str, body: bytes, key: Any, now: float, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The headers Microsoft's HMACCredentialsPolicy puts on the same request, its clock set to ``now``."""
    policy_module = pytest.importorskip("azure.communication.identity._shared.policy")
    from azure.core.pipeline import PipelineContext, PipelineRequest
    from azure.core.pipeline.transport import HttpRequest

    monkeypatch.setattr(policy_module, "get_current_utc_time", lambda: http_date(now))
    request = HttpRequest(method, ENDPOINT + target)
    request.body = body.decode("utf-8")  # the policy hashes body.encode("utf-8"): the same bytes
    policy_module.HMACCredentialsPolicy(ENDPOINT, key).on_request(PipelineRequest(request, PipelineContext(None)))
    return request.headers


@pytest.mark.parametrize(("method", "target", "body"), REQUESTS)
def test_our_headers_are_microsofts_and_the_documented_ones(
    method: str, target: str, body: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = "res.communication.azure.com"
    ours = sign(method, target, host, body, decode_access_key(KEY), now=NOW)
    theirs = microsoft(method, target, body, KEY, NOW, monkeypatch)
    assert ours == {name: theirs[name] for name in ("x-ms-date", "x-ms-content-sha256", "Authorization")}
    assert ours == documented(method, target, host, body, KEY, NOW)


def test_a_known_vector() -> None:
    # computed once with the documented scheme (the function above) and kept: a change in any part shows here
    headers = sign("POST", "/identities?api-version=2023-10-01", "res.communication.azure.com", b"", bytes(32), now=0)
    assert headers["x-ms-date"] == "Thu, 01 Jan 1970 00:00:00 GMT"
    assert headers["x-ms-content-sha256"] == "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
    expected = documented(
        "POST",
        "/identities?api-version=2023-10-01",
        "res.communication.azure.com",
        b"",
        base64.b64encode(bytes(32)).decode(),
        0,
    )
    assert headers == expected


def test_the_signer_signs_what_httpx_will_send(monkeypatch: pytest.MonkeyPatch) -> None:
    user = "8:acs:res_0000-1111"
    url = httpx.URL(f"https://res.communication.azure.com:8443/identities/{user.replace(':', '%3A')}/:issueAccessToken")
    url = url.copy_merge_params({"api-version": "2023-10-01"})
    request = httpx.Request("POST", url, content=b'{"scopes":["chat"]}')
    HmacSigner(KEY, clock=lambda: NOW)(request)
    target = request.url.raw_path.decode()
    assert target == "/identities/8%3Aacs%3Ares_0000-1111/:issueAccessToken?api-version=2023-10-01"
    assert request.headers["Host"] == "res.communication.azure.com:8443"
    expected = documented("POST", target, "res.communication.azure.com:8443", request.content, KEY, NOW)
    assert {k: request.headers[k] for k in expected} == expected


def test_the_key_of_an_azure_key_credential_is_read_at_every_request() -> None:
    class KeyCredential:  # azure-core's AzureKeyCredential, as far as the signer cares
        def __init__(self, key: str) -> None:
            self.key = key

    credential = KeyCredential(KEY)
    signer = HmacSigner(credential, clock=lambda: NOW)
    first = httpx.Request("POST", "https://h/identities")
    signer(first)
    credential.key = base64.b64encode(b"\x01" * 32).decode()
    second = httpx.Request("POST", "https://h/identities")
    signer(second)
    assert first.headers["x-ms-date"] == second.headers["x-ms-date"]
    assert first.headers["Authorization"] != second.headers["Authorization"]
    expected = documented("POST", "/identities", "h", b"", credential.key, NOW)
    assert {name: second.headers[name] for name in expected} == expected


def test_microsofts_policy_takes_an_azure_key_credential_the_same_way(monkeypatch: pytest.MonkeyPatch) -> None:
    credentials = pytest.importorskip("azure.core.credentials")
    theirs = microsoft(
        "POST", "/identities?api-version=2023-10-01", b"", credentials.AzureKeyCredential(KEY), NOW, monkeypatch
    )
    request = httpx.Request("POST", ENDPOINT + "/identities?api-version=2023-10-01")
    HmacSigner(credentials.AzureKeyCredential(KEY), clock=lambda: NOW)(request)
    assert request.headers["Authorization"] == theirs["Authorization"]


@pytest.mark.parametrize("key", ["not base64!", "", "   "])
def test_a_bad_key_is_refused_without_quoting_it(key: str) -> None:
    with pytest.raises(ValueError) as refused:
        HmacSigner(key)
    assert not key.strip() or key not in str(refused.value)


def test_a_key_that_is_not_a_str_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        HmacSigner(b"key")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        HmacSigner(object())  # type: ignore[arg-type]


def test_the_signer_repr_hides_the_key() -> None:
    assert KEY not in repr(HmacSigner(KEY))


def test_content_hash_of_nothing_is_the_sha256_of_empty() -> None:
    assert content_hash(b"") == base64.b64encode(hashlib.sha256(b"").digest()).decode()


@pytest.mark.parametrize(
    ("text", "endpoint"),
    [
        (f"endpoint=https://res.communication.azure.com/;accesskey={KEY}", "https://res.communication.azure.com/"),
        (f"AccessKey={KEY};Endpoint=http://127.0.0.1:5005/", "http://127.0.0.1:5005/"),
        (f"endpoint=res.communication.azure.com;accesskey={KEY};", "https://res.communication.azure.com"),
    ],
)
def test_connection_strings(text: str, endpoint: str) -> None:
    assert parse_connection_string(text) == (endpoint, KEY)


def test_connection_strings_read_like_microsofts() -> None:
    utils = pytest.importorskip("azure.communication.identity._shared.utils")
    text = f"endpoint=https://res.communication.azure.com/;accesskey={KEY}"
    host, key = utils.parse_connection_str(text)
    endpoint, ours = parse_connection_string(text)
    assert (httpx.URL(endpoint).host, ours) == (host, key)


@pytest.mark.parametrize("text", ["", "endpoint=https://x", f"accesskey={KEY}", "endpoint=https://x;accesskey=%%%"])
def test_bad_connection_strings_are_value_errors_that_do_not_quote_them(text: str) -> None:
    with pytest.raises(ValueError) as refused:
        parse_connection_string(text)
    assert KEY not in str(refused.value)
    assert "%%%" not in str(refused.value)


def test_a_connection_string_that_is_not_a_str_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        parse_connection_string(None)
