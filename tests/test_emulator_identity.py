"""The emulator's ACS identity service: HMAC-signed requests over a real loopback socket, and the tokens it
issues working (then refused, once revoked or deleted) on the emulator's ACS Chat.

The signing helper here is written from the documented scheme, independently of botconnect's own client.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest

import botconnect
from botconnect.emulator import Emulator
from botconnect.errors import ClientAuthenticationError

API = "2023-10-01"


def sign(
    method: str, url: str, body: bytes, key: str, *, date: str | None = None, host: str | None = None
) -> dict[str, str]:
    """The three headers ACS's HMAC-SHA256 scheme puts on a request."""
    parts = urlsplit(url)
    path_and_query = parts.path + (f"?{parts.query}" if parts.query else "")
    date = date or email.utils.formatdate(usegmt=True)
    host = host or parts.netloc
    content_hash = base64.b64encode(hashlib.sha256(body).digest()).decode()
    to_sign = f"{method}\n{path_and_query}\n{date};{host};{content_hash}"
    signature = base64.b64encode(hmac.new(base64.b64decode(key), to_sign.encode(), hashlib.sha256).digest()).decode()
    return {
        "x-ms-date": date,
        "x-ms-content-sha256": content_hash,
        "Authorization": f"HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature={signature}",
    }


class Identity:
    def __init__(self, emulator: Emulator, http: httpx.Client) -> None:
        self.emulator = emulator
        self.http = http

    def call(self, method: str, path: str, body: Any = None, *, api: str = API, **sign_options: Any) -> httpx.Response:
        url = f"{self.emulator.url}{path}?api-version={api}"
        content = b"" if body is None else json.dumps(body).encode()
        headers = sign(method, url, content, self.emulator.acs_access_key, **sign_options)
        if body is not None:
            headers["Content-Type"] = "application/json"
        return self.http.request(method, url, content=content, headers=headers)

    def create(self, scopes: list[str] | None = None) -> dict[str, Any]:
        body = {"createTokenWithScopes": scopes} if scopes is not None else None
        response = self.call("POST", "/identities", body)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    def user_path(self, raw_id: str, action: str = "") -> str:
        return f"/identities/{quote(raw_id, safe='')}" + (f"/:{action}" if action else "")


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator() as running:
        yield running


@pytest.fixture
def identity(emulator: Emulator) -> Iterator[Identity]:
    with httpx.Client(timeout=10) as http:
        yield Identity(emulator, http)


def chat_works(emulator: Emulator, token: str) -> str:
    with botconnect.ChatClient(emulator.url, botconnect.CommunicationTokenCredential(token)) as client:
        return client.create_chat_thread("identity check").chat_thread.id  # type: ignore[union-attr]


def test_the_connection_string_names_the_endpoint_and_a_32_byte_key(emulator: Emulator) -> None:
    assert emulator.acs_connection_string == f"endpoint={emulator.url}/;accesskey={emulator.acs_access_key}"
    assert len(base64.b64decode(emulator.acs_access_key, validate=True)) == 32


def test_create_user_without_scopes_answers_the_identity_only(identity: Identity, emulator: Emulator) -> None:
    result = identity.create()
    assert set(result) == {"identity"}
    assert result["identity"]["id"].startswith(f"8:acs:{emulator.acs.resource_id}_")


@pytest.mark.parametrize("api", ["2023-10-01", "2023-08-01", "2022-10-01"])
def test_create_user_and_token_gives_a_token_chat_accepts(identity: Identity, emulator: Emulator, api: str) -> None:
    response = identity.call("POST", "/identities", {"createTokenWithScopes": ["chat", "voip"]}, api=api)
    assert response.status_code == 201
    token = response.json()["accessToken"]
    assert token["expiresOn"].endswith("Z")
    assert chat_works(emulator, token["token"]).startswith("19:")


def test_an_unknown_api_version_is_refused(identity: Identity) -> None:
    response = identity.call("POST", "/identities", api="2021-01-01")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "InvalidApiVersion"


def test_issue_access_token_honours_scopes_and_lifetime(identity: Identity, emulator: Emulator) -> None:
    raw_id = identity.create()["identity"]["id"]
    before = time.time()
    response = identity.call(
        "POST", identity.user_path(raw_id, "issueAccessToken"), {"scopes": ["chat"], "expiresInMinutes": 60}
    )
    assert response.status_code == 200
    body = response.json()
    claims = json.loads(base64.urlsafe_b64decode(body["token"].split(".")[1] + "=="))
    assert "8:" + claims["skypeid"] == raw_id
    assert before + 3600 - 5 <= claims["exp"] <= time.time() + 3600 + 5
    assert chat_works(emulator, body["token"])


@pytest.mark.parametrize(
    "body",
    [
        {"scopes": ["chat"], "expiresInMinutes": 59},
        {"scopes": ["chat"], "expiresInMinutes": 1441},
        {"scopes": []},
        {"scopes": ["email"]},
    ],
)
def test_bad_token_requests_are_400(identity: Identity, body: dict[str, Any]) -> None:
    raw_id = identity.create()["identity"]["id"]
    assert identity.call("POST", identity.user_path(raw_id, "issueAccessToken"), body).status_code == 400


def test_a_voip_only_token_is_forbidden_on_chat(identity: Identity, emulator: Emulator) -> None:
    raw_id = identity.create()["identity"]["id"]
    token = identity.call("POST", identity.user_path(raw_id, "issueAccessToken"), {"scopes": ["voip"]}).json()["token"]
    with pytest.raises(botconnect.errors.PermissionDeniedError):
        chat_works(emulator, token)


def test_revoking_refuses_earlier_tokens_but_not_later_ones(identity: Identity, emulator: Emulator) -> None:
    created = identity.create(["chat"])
    raw_id, old = created["identity"]["id"], created["accessToken"]["token"]
    assert chat_works(emulator, old)
    assert identity.call("POST", identity.user_path(raw_id, "revokeAccessTokens")).status_code == 204
    with pytest.raises(ClientAuthenticationError):
        chat_works(emulator, old)
    new = identity.call("POST", identity.user_path(raw_id, "issueAccessToken"), {"scopes": ["chat"]}).json()["token"]
    assert chat_works(emulator, new)


def test_a_deleted_user_is_refused_everywhere(identity: Identity, emulator: Emulator) -> None:
    created = identity.create(["chat"])
    raw_id, token = created["identity"]["id"], created["accessToken"]["token"]
    assert identity.call("DELETE", identity.user_path(raw_id)).status_code == 204
    with pytest.raises(ClientAuthenticationError):
        chat_works(emulator, token)
    response = identity.call("POST", identity.user_path(raw_id, "issueAccessToken"), {"scopes": ["chat"]})
    assert response.status_code == 404


def test_a_user_of_another_resource_is_404(identity: Identity) -> None:
    path = identity.user_path("8:acs:other_00000000-0000-0000-0000-000000000000", "issueAccessToken")
    assert identity.call("POST", path, {"scopes": ["chat"]}).status_code == 404


def test_teams_token_exchange_gives_the_same_user_for_the_same_pair(identity: Identity, emulator: Emulator) -> None:
    body = {"token": "a.b.c", "appId": "app", "userId": "user"}
    first = identity.call("POST", "/teamsUser/:exchangeAccessToken", body)
    second = identity.call("POST", "/teamsUser/:exchangeAccessToken", body)
    assert first.status_code == second.status_code == 200
    skype = [
        json.loads(base64.urlsafe_b64decode(r.json()["token"].split(".")[1] + "=="))["skypeid"] for r in (first, second)
    ]
    assert skype[0] == skype[1]
    assert chat_works(emulator, first.json()["token"])
    assert identity.call("POST", "/teamsUser/:exchangeAccessToken", {"token": "a.b.c"}).status_code == 400


# -- the HMAC check -----------------------------------------------------------------------------------------------


def denied(response: httpx.Response) -> bool:
    return response.status_code == 401 and response.json()["error"]["code"] == "Denied"


def test_a_request_signed_with_another_key_is_denied(identity: Identity, emulator: Emulator) -> None:
    url = f"{emulator.url}/identities?api-version={API}"
    headers = sign("POST", url, b"", base64.b64encode(b"x" * 32).decode())
    assert denied(identity.http.post(url, headers=headers))


def test_an_unsigned_request_is_denied(identity: Identity, emulator: Emulator) -> None:
    assert denied(identity.http.post(f"{emulator.url}/identities?api-version={API}"))


def test_a_body_that_does_not_match_its_hash_is_denied(identity: Identity, emulator: Emulator) -> None:
    url = f"{emulator.url}/identities?api-version={API}"
    headers = sign("POST", url, b"{}", emulator.acs_access_key)
    assert denied(identity.http.post(url, headers=headers, content=b'{"createTokenWithScopes":["chat"]}'))


def test_the_signature_covers_the_query(identity: Identity, emulator: Emulator) -> None:
    url = f"{emulator.url}/identities?api-version={API}"
    headers = sign("POST", url, b"", emulator.acs_access_key)
    assert denied(identity.http.post(url.replace(API, "2023-08-01"), headers=headers))


def test_a_signature_for_another_host_is_denied(identity: Identity) -> None:
    assert denied(identity.call("POST", "/identities", host="example.com"))


def test_a_stale_date_is_denied_and_a_recent_one_accepted(identity: Identity) -> None:
    stale = email.utils.formatdate(time.time() - 16 * 60, usegmt=True)
    assert denied(identity.call("POST", "/identities", date=stale))
    recent = email.utils.formatdate(time.time() - 14 * 60, usegmt=True)
    assert identity.call("POST", "/identities", date=recent).status_code == 201


def test_the_key_is_not_in_the_repr(emulator: Emulator) -> None:
    assert emulator.acs_access_key not in repr(emulator.app.identity)


# -- the service limits ACS documents (on the chat routes) ---------------------------------------------------------


def _users(count: int) -> list[Any]:
    from botconnect.chat import ChatParticipant, CommunicationUserIdentifier

    return [ChatParticipant(identifier=CommunicationUserIdentifier(f"8:acs:limits_{i}")) for i in range(count)]


def test_at_most_200_participants_per_add_and_250_per_thread(emulator: Emulator) -> None:
    token, _ = emulator.issue_acs_token()
    with botconnect.ChatClient(emulator.url, botconnect.CommunicationTokenCredential(token)) as client:
        thread = client.create_chat_thread("limits", thread_participants=_users(199)).chat_thread
        assert thread is not None
        thread_client = client.get_chat_thread_client(thread.id)
        with pytest.raises(botconnect.errors.HttpResponseError) as too_many:
            thread_client.add_participants(_users(201))
        assert too_many.value.status_code == 400
        thread_client.add_participants(_users(249)[199:])  # the creator + 249 = 250: the limit, allowed
        with pytest.raises(botconnect.errors.HttpResponseError) as full:
            thread_client.add_participants(_users(250)[249:])
        assert full.value.status_code == 400
        assert len(list(thread_client.list_participants())) == 250


def test_no_read_receipts_above_20_participants(emulator: Emulator) -> None:
    token, _ = emulator.issue_acs_token()
    with botconnect.ChatClient(emulator.url, botconnect.CommunicationTokenCredential(token)) as client:
        small = client.get_chat_thread_client(
            client.create_chat_thread("small", thread_participants=_users(19)).chat_thread.id
        )  # type: ignore[union-attr]
        large = client.get_chat_thread_client(
            client.create_chat_thread("large", thread_participants=_users(20)).chat_thread.id
        )  # type: ignore[union-attr]
        for thread_client in (small, large):
            thread_client.send_read_receipt(thread_client.send_message("read me").id)
        assert len(list(small.list_read_receipts())) == 1
        assert list(large.list_read_receipts()) == []


def test_topics_are_limited_to_256_characters(emulator: Emulator) -> None:
    token, _ = emulator.issue_acs_token()
    with botconnect.ChatClient(emulator.url, botconnect.CommunicationTokenCredential(token)) as client:
        thread = client.create_chat_thread("t" * 256).chat_thread
        assert thread is not None
        with pytest.raises(botconnect.errors.HttpResponseError):
            client.create_chat_thread("t" * 257)
        with pytest.raises(botconnect.errors.HttpResponseError):
            client.get_chat_thread_client(thread.id).update_topic("t" * 257)


@pytest.mark.parametrize("api", ["2022-06-01", "2021-03-07"])
def test_before_2022_10_01_a_token_lifetime_is_ignored(identity: Identity, api: str) -> None:
    body = {"createTokenWithScopes": ["chat"], "expiresInMinutes": 60}
    response = identity.call("POST", "/identities", body, api=api)
    assert response.status_code == 201
    claims = json.loads(base64.urlsafe_b64decode(response.json()["accessToken"]["token"].split(".")[1] + "=="))
    assert abs(claims["exp"] - (time.time() + 86400)) < 10  # the field is not in these versions: 24 hours


def test_the_teams_exchange_starts_with_2022_06_01(identity: Identity) -> None:
    body = {"token": "a.b.c", "appId": "app", "userId": "user"}
    assert identity.call("POST", "/teamsUser/:exchangeAccessToken", body, api="2022-06-01").status_code == 200
    assert identity.call("POST", "/teamsUser/:exchangeAccessToken", body, api="2021-03-07").status_code == 404
