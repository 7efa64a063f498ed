"""BotAuthenticator against the test matrix of the inbound-auth spec (section 7.2), each case sync, on asyncio and
on trio: tokens signed with keys generated for the session, served by a loopback OpenID key server that counts
every fetch and can fail, stall or roll its keys over.

Every refusal is checked to be exactly ``AuthenticationError`` (401) with no part of the token in its message;
outages to be ``AuthenticationUnavailableError`` (503). Lifetimes leave a margin of at least 100 s either side of
every boundary, because ``now`` moves while a test runs.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import attrs
import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import botconnect
from botconnect._core import inbound_auth
from botconnect.errors import AuthenticationError, AuthenticationUnavailableError
from botconnect.inbound import ClaimsIdentity
from botconnect.models import Activity, ChannelAccount

from .harness import Env
from .keyserver import (
    CHANNEL_ISSUER,
    CHANNEL_KEYS,
    CHANNEL_META,
    ENDORSEMENTS,
    ENTRA_KEYS,
    ENTRA_META,
    KeyRing,
    KeyServer,
    b64url,
    forge_hmac,
    json_segment,
    make_keyring,
    mint,
    rsa_signature,
)

APP_ID = "a1b2c3d4-0000-4000-8000-000000000001"
OTHER_APP_ID = "a1b2c3d4-0000-4000-8000-00000000000f"
CALLER = "c0ffee00-0000-4000-8000-000000000002"
BF_TENANT = "d6d49420-f39b-4df7-a1dc-d59a935871db"
MY_TENANT = "7e57e57e-0000-4000-8000-000000000003"
SERVICE_URL = "https://smba.trafficmanager.net/teams/"
CHANNEL_AUDIENCE = "https://api.botframework.com"
EMULATOR_V1_ISSUER = f"https://sts.windows.net/{BF_TENANT}/"
EMULATOR_V2_ISSUER = f"https://login.microsoftonline.com/{BF_TENANT}/v2.0"
TENANT_ISSUERS = (
    f"https://sts.windows.net/{MY_TENANT}/",
    f"https://login.microsoftonline.com/{MY_TENANT}/v2.0",
    f"https://login.microsoftonline.us/{MY_TENANT}/",
    f"https://login.microsoftonline.us/{MY_TENANT}/v2.0",
)
NO_FETCH = {CHANNEL_META: 0, CHANNEL_KEYS: 0, ENTRA_META: 0, ENTRA_KEYS: 0}
#: the largest gap between two heartbeat ticks that still counts as an event loop that was never blocked
HEARTBEAT_GAP = 0.1
DROP = object()


# -- fixtures -----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def keys() -> KeyRing:
    """Fresh RSA 2048 keys for the session (none are checked in)."""
    return make_keyring()


@pytest.fixture
def server(keys: KeyRing) -> Iterator[KeyServer]:
    with KeyServer(keys) as running:
        yield running


class FakeClock:
    """The monotonic clock the key cache reads: moves only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make(env: Env, server: KeyServer) -> Iterator[Callable[..., Any]]:
    """Build a BotAuthenticator of the flavour against the key server; every one built is closed afterwards."""
    made: list[Any] = []

    def factory(app_id: Any = APP_ID, **kwargs: Any) -> Any:
        kwargs.setdefault("cloud", server.cloud())
        authenticator = env.construct("BotAuthenticator", app_id, **kwargs)
        made.append(authenticator)
        return authenticator

    yield factory
    for authenticator in made:
        authenticator.close()


# -- tokens and activities ----------------------------------------------------------------------------------------


def _apply(claims: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    for name, value in changes.items():
        if value is DROP:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def channel_claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": CHANNEL_ISSUER,
        "aud": APP_ID,
        "exp": now + 600,
        "nbf": now - 10,
        "iat": now - 10,
        "serviceurl": SERVICE_URL,
    }
    return _apply(claims, changes)


def emulator_claims(version: str = "1.0", **changes: Any) -> dict[str, Any]:
    """A token the Emulator sends (ver 1.0: ``appid``, 2.0: ``azp``, both this bot's own app id)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": EMULATOR_V1_ISSUER if version == "1.0" else EMULATOR_V2_ISSUER,
        "aud": APP_ID,
        "exp": now + 600,
        "nbf": now - 10,
        "iat": now - 10,
        "ver": version,
        "tid": BF_TENANT,
        ("appid" if version == "1.0" else "azp"): APP_ID,
    }
    return _apply(claims, changes)


def skill_claims(version: str = "2.0", caller: str = CALLER, **changes: Any) -> dict[str, Any]:
    """A calling bot's token for this bot (the caller differs from the audience)."""
    claims = emulator_claims(version)
    claims["appid" if version == "1.0" else "azp"] = caller
    return _apply(claims, changes)


def activity(channel_id: Any = "msteams", service_url: Any = SERVICE_URL, role: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"type": "message", "id": "1", "text": "hi"}
    if channel_id is not None:
        data["channelId"] = channel_id
    if service_url is not None:
        data["serviceUrl"] = service_url
    if role is not None:
        data["recipient"] = {"id": "bot", "role": role}
    return data


def bearer(token: str) -> str:
    return "Bearer " + token


def _secret_pieces(authorization: Any) -> list[str]:
    """The parts of a header a message must not repeat: the token and its segments (short ones are not telling)."""
    if not isinstance(authorization, str):
        return []
    token = authorization.partition(" ")[2] or authorization
    return [piece for piece in [token, *token.split(".")] if len(piece) >= 12]


def assert_no_token(exc: BaseException, authorization: Any) -> None:
    pieces = _secret_pieces(authorization)
    seen: BaseException | None = exc
    while seen is not None:
        for text in (str(seen), repr(seen)):
            for piece in pieces:
                assert piece not in text, f"the error repeats part of the token: {text[:200]!r}"
        seen = seen.__cause__ or seen.__context__


def refused(authenticator: Any, act: Any, authorization: Any) -> AuthenticationError:
    """The request is refused with exactly AuthenticationError (401), and the message holds no part of the token."""
    with pytest.raises(AuthenticationError) as info:
        authenticator.authenticate_request(act, authorization)
    exc = info.value
    assert type(exc) is AuthenticationError
    assert exc.status_code == 401
    assert str(exc).startswith("unauthorized: ")
    assert_no_token(exc, authorization)
    return exc


def unavailable(authenticator: Any, act: Any, authorization: Any) -> AuthenticationUnavailableError:
    with pytest.raises(AuthenticationUnavailableError) as info:
        authenticator.authenticate_request(act, authorization)
    exc = info.value
    assert type(exc) is AuthenticationUnavailableError
    assert exc.status_code == 503
    assert not isinstance(exc, AuthenticationError)
    assert_no_token(exc, authorization)
    return exc


def hits_of(server: KeyServer, *documents: str) -> tuple[int, ...]:
    hits = server.hits
    return tuple(hits[document] for document in documents)


# -- running requests side by side --------------------------------------------------------------------------------


async def _outcome(authenticator: Any, act: Any, authorization: Any) -> Any:
    try:
        return await authenticator.authenticate_request(act, authorization)
    except Exception as exc:
        return exc


def _sync_outcome(authenticator: Any, act: Any, authorization: Any) -> Any:
    try:
        return authenticator.authenticate_request(act, authorization)
    except Exception as exc:
        return exc


async def _gather(authenticator: Any, calls: list[tuple[Any, Any]]) -> list[Any]:
    results: list[Any] = [None] * len(calls)

    async def one(index: int, act: Any, authorization: Any) -> None:
        results[index] = await _outcome(authenticator, act, authorization)

    async with anyio.create_task_group() as group:
        for index, (act, authorization) in enumerate(calls):
            group.start_soon(one, index, act, authorization)
    return results


def run_concurrently(env: Env, authenticator: Any, calls: list[tuple[Any, Any]]) -> list[Any]:
    """Every call at once: tasks of one task group (async flavours) or threads released together (sync)."""
    if env.is_async:
        result: list[Any] = env.run(_gather, authenticator.unwrapped, calls)
        return result
    results: list[Any] = [None] * len(calls)
    barrier = threading.Barrier(len(calls))

    def one(index: int, act: Any, authorization: Any) -> None:
        barrier.wait()
        results[index] = _sync_outcome(authenticator, act, authorization)

    threads = [threading.Thread(target=one, args=(i, *call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


# == channel tokens ===============================================================================================


@pytest.mark.parametrize("as_model", [False, True], ids=["wire-dict", "Activity"])
def test_valid_channel_token_is_accepted(make: Any, server: KeyServer, keys: KeyRing, as_model: bool) -> None:
    authenticator = make()
    act: Any = activity()
    if as_model:
        act = Activity(type="message", channel_id="msteams", service_url=SERVICE_URL)
    identity = authenticator.authenticate_request(act, bearer(mint(keys.channel, channel_claims())))
    assert isinstance(identity, ClaimsIdentity)
    assert identity.source == "channel"
    assert identity.app_id == APP_ID
    assert identity.caller_id == "urn:botframework:azure"
    assert identity.oauth_scope == CHANNEL_AUDIENCE
    assert (identity.is_skill, identity.is_anonymous, identity.caller_app_id) == (False, False, None)
    assert identity.claims["serviceurl"] == SERVICE_URL
    assert server.hits == {CHANNEL_META: 1, CHANNEL_KEYS: 1, ENTRA_META: 0, ENTRA_KEYS: 0}


def test_scheme_is_case_insensitive(make: Any, keys: KeyRing) -> None:
    authenticator = make()
    identity = authenticator.authenticate_request(activity(), "bearer " + mint(keys.channel, channel_claims()))
    assert identity.source == "channel"


@pytest.mark.parametrize("algorithm", ["RS384", "RS512"])
def test_rs384_and_rs512_are_accepted(make: Any, keys: KeyRing, algorithm: str) -> None:
    authenticator = make()
    token = mint(keys.channel, channel_claims(), algorithm=algorithm)
    assert authenticator.authenticate_request(activity(), bearer(token)).source == "channel"


def test_an_algorithm_other_than_the_one_signed_with_is_refused(make: Any, keys: KeyRing) -> None:
    """Header says RS512, signature is RS256 over the same input: the header's alg is what is verified."""
    authenticator = make()
    good = mint(keys.channel, channel_claims())
    head = json_segment({"alg": "RS512", "typ": "JWT", "kid": keys.channel.kid})
    payload, signature = good.split(".")[1:]
    refused(authenticator, activity(), bearer(f"{head}.{payload}.{signature}"))


@pytest.mark.parametrize(("key_alg", "token_alg", "accepted"), [("RS256", "RS512", False), ("RS512", "RS512", True)])
def test_a_key_declaring_its_alg_verifies_only_that_alg(
    make: Any, server: KeyServer, keys: KeyRing, key_alg: str, token_alg: str, accepted: bool
) -> None:
    server.publish_channel(keys.channel.jwk(endorsements=ENDORSEMENTS, alg=key_alg))
    authenticator = make()
    header = bearer(mint(keys.channel, channel_claims(), algorithm=token_alg))
    if accepted:
        assert authenticator.authenticate_request(activity(), header).source == "channel"
    else:
        refused(authenticator, activity(), header)


def _lifetime_cases() -> list[Any]:
    return [
        pytest.param({"exp": -301}, False, id="exp-now-301"),
        pytest.param({"exp": -200}, True, id="exp-now-200"),
        pytest.param({"nbf": 400}, False, id="nbf-now+400"),
        pytest.param({"nbf": 200}, True, id="nbf-now+200"),
        pytest.param({"iat": 400}, False, id="iat-now+400"),
    ]


@pytest.mark.parametrize(("offsets", "accepted"), _lifetime_cases())
def test_lifetime_allows_five_minutes_of_skew(
    make: Any, keys: KeyRing, offsets: dict[str, int], accepted: bool
) -> None:
    authenticator = make()
    now = int(time.time())
    token = mint(keys.channel, channel_claims(**{name: now + offset for name, offset in offsets.items()}))
    if accepted:
        assert authenticator.authenticate_request(activity(), bearer(token)).source == "channel"
    else:
        refused(authenticator, activity(), bearer(token))


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"exp": DROP}, id="no-exp"),
        pytest.param({"exp": str(int(time.time()) + 600)}, id="exp-string"),
        pytest.param({"exp": True}, id="exp-bool"),
        pytest.param({"exp": None}, id="exp-null"),
        pytest.param({"exp": float("inf")}, id="exp-infinity"),
        pytest.param({"exp": float("nan")}, id="exp-nan"),
        pytest.param({"nbf": "0"}, id="nbf-string"),
        pytest.param({"iat": [1]}, id="iat-list"),
        pytest.param({"nbf": None}, id="nbf-null"),
        pytest.param({"exp": -(10**400)}, id="exp-huge-negative-int"),
    ],
)
def test_lifetime_claims_must_be_present_finite_numbers(make: Any, keys: KeyRing, changes: dict[str, Any]) -> None:
    authenticator = make()
    refused(authenticator, activity(), bearer(mint(keys.channel, channel_claims(**changes))))


def test_numeric_dates_beyond_the_range_of_a_float_are_numbers(make: Any, keys: KeyRing) -> None:
    """JSON integers of any size: a far-future exp and far-past nbf/iat are valid, not a crash."""
    authenticator = make()
    claims = channel_claims(exp=10**400, nbf=-(10**400), iat=-(10**400))
    assert authenticator.authenticate_request(activity(), bearer(mint(keys.channel, claims))).source == "channel"


@pytest.mark.parametrize(
    "audience",
    [
        pytest.param("other", id="other"),
        pytest.param(OTHER_APP_ID, id="another-app"),
        pytest.param([APP_ID, "x"], id="list-with-app"),
        pytest.param([APP_ID], id="list-of-app"),
        pytest.param(DROP, id="missing"),
        pytest.param(CHANNEL_AUDIENCE, id="connector"),
    ],
)
def test_audience_must_be_this_bots_app_id_as_a_string(make: Any, keys: KeyRing, audience: Any) -> None:
    authenticator = make()
    refused(authenticator, activity(), bearer(mint(keys.channel, channel_claims(aud=audience))))


def test_several_app_ids_accept_each(make: Any, keys: KeyRing) -> None:
    authenticator = make([APP_ID, OTHER_APP_ID])
    identity = authenticator.authenticate_request(
        activity(), bearer(mint(keys.channel, channel_claims(aud=OTHER_APP_ID)))
    )
    assert identity.app_id == OTHER_APP_ID


@pytest.mark.parametrize(
    "issuer",
    [
        pytest.param("https://evil.example", id="evil"),
        pytest.param(CHANNEL_ISSUER + "/", id="trailing-slash"),
        pytest.param("HTTPS://API.BOTFRAMEWORK.COM", id="upper-case"),
        pytest.param("https://login.microsoftonline.com/0badc0de-0000-4000-8000-000000000000/v2.0", id="other-tenant"),
        pytest.param(DROP, id="missing"),
        pytest.param(42, id="number"),
    ],
)
def test_wrong_issuer_is_refused_before_any_key_fetch(make: Any, server: KeyServer, keys: KeyRing, issuer: Any) -> None:
    authenticator = make()
    refused(authenticator, activity(), bearer(mint(keys.channel, channel_claims(iss=issuer))))
    refused(authenticator, activity(), bearer(mint(keys.entra, emulator_claims(iss=issuer))))
    assert server.hits == NO_FETCH


def test_unknown_kid_forces_one_refresh_then_respects_the_cooldown(
    make: Any, server: KeyServer, keys: KeyRing, clock: FakeClock
) -> None:
    authenticator = make(clock=clock, unknown_key_cooldown=60)
    authenticator.authenticate_request(activity(), bearer(mint(keys.channel, channel_claims())))
    assert hits_of(server, CHANNEL_META, CHANNEL_KEYS) == (1, 1)
    unknown = bearer(mint(keys.channel, channel_claims(), kid="nope"))
    refused(authenticator, activity(), unknown)  # the keys were fetched just now: within the cooldown
    assert hits_of(server, CHANNEL_META, CHANNEL_KEYS) == (1, 1)
    clock.advance(61)
    refused(authenticator, activity(), unknown)  # one forced refresh, still unknown
    assert hits_of(server, CHANNEL_META, CHANNEL_KEYS) == (2, 2)
    refused(authenticator, activity(), unknown)
    clock.advance(30)
    refused(authenticator, activity(), unknown)
    assert hits_of(server, CHANNEL_META, CHANNEL_KEYS) == (2, 2)
    authenticator.authenticate_request(activity(), bearer(mint(keys.channel, channel_claims())))
    assert hits_of(server, CHANNEL_META, CHANNEL_KEYS) == (2, 2)


def test_unknown_kid_on_a_cold_cache_fetches_once(make: Any, server: KeyServer, keys: KeyRing) -> None:
    authenticator = make(unknown_key_cooldown=3600)
    unknown = bearer(mint(keys.channel, channel_claims(), kid="nope"))
    refused(authenticator, activity(), unknown)
    refused(authenticator, activity(), unknown)
    assert hits_of(server, CHANNEL_META, CHANNEL_KEYS) == (1, 1)


def test_zero_cooldown_refreshes_for_every_unknown_kid(make: Any, server: KeyServer, keys: KeyRing) -> None:
    authenticator = make(unknown_key_cooldown=0)
    unknown = bearer(mint(keys.channel, channel_claims(), kid="nope"))
    for expected in (1, 2, 3):
        refused(authenticator, activity(), unknown)
        assert hits_of(server, CHANNEL_META, CHANNEL_KEYS) == (expected, expected)


@pytest.mark.parametrize("how", ["clock", "zero-cooldown"])
def test_key_rollover_is_picked_up_with_one_extra_fetch(
    make: Any, server: KeyServer, keys: KeyRing, clock: FakeClock, how: str
) -> None:
    options = {"clock": clock, "unknown_key_cooldown": 300} if how == "clock" else {"unknown_key_cooldown": 0}
    authenticator = make(**options)
    authenticator.authenticate_request(activity(), bearer(mint(keys.channel, channel_claims())))
    server.publish_channel(
        keys.channel.jwk(endorsements=ENDORSEMENTS), keys.channel_next.jwk(endorsements=ENDORSEMENTS)
    )
    clock.advance(301)
    identity = authenticator.authenticate_request(activity(), bearer(mint(keys.channel_next, channel_claims())))
    assert identity.source == "channel"
    assert hits_of(server, CHANNEL_META, CHANNEL_KEYS) == (2, 2)
    authenticator.authenticate_request(activity(), bearer(mint(keys.channel_next, channel_claims(jti="2"))))
    authenticator.authenticate_request(activity(), bearer(mint(keys.channel, channel_claims(jti="3"))))
    assert hits_of(server, CHANNEL_META, CHANNEL_KEYS) == (2, 2)
    assert server.hits[ENTRA_META] == 0


def test_a_retired_key_no_longer_verifies_a_token_it_verified_before(
    make: Any, server: KeyServer, keys: KeyRing, clock: FakeClock
) -> None:
    authenticator = make(clock=clock, refresh_interval=100)
    token = bearer(mint(keys.channel, channel_claims()))
    authenticator.authenticate_request(activity(), token)
    server.publish_channel(keys.channel_next.jwk(endorsements=ENDORSEMENTS))
    authenticator.authenticate_request(activity(), token)  # before the scheduled refresh: the cached key
    clock.advance(101)
    refused(authenticator, activity(), token)
    assert hits_of(server, CHANNEL_META, CHANNEL_KEYS) == (2, 2)
    authenticator.authenticate_request(activity(), bearer(mint(keys.channel_next, channel_claims())))
    assert hits_of(server, CHANNEL_META, CHANNEL_KEYS) == (2, 2)


def test_scheduled_refresh_happens_after_refresh_interval(
    make: Any, server: KeyServer, keys: KeyRing, clock: FakeClock
) -> None:
    authenticator = make(clock=clock, refresh_interval=100)
    for _ in range(5):
        authenticator.authenticate_request(activity(), bearer(mint(keys.channel, channel_claims())))
    clock.advance(99)
    authenticator.authenticate_request(activity(), bearer(mint(keys.channel, channel_claims())))
    assert hits_of(server, CHANNEL_META, CHANNEL_KEYS) == (1, 1)
    clock.advance(2)
    authenticator.authenticate_request(activity(), bearer(mint(keys.channel, channel_claims())))
    assert hits_of(server, CHANNEL_META, CHANNEL_KEYS) == (2, 2)


def test_signature_from_another_key_with_a_known_kid_is_refused(make: Any, keys: KeyRing) -> None:
    authenticator = make()
    refused(authenticator, activity(), bearer(mint(keys.stranger, channel_claims(), kid=keys.channel.kid)))


def test_a_payload_changed_after_signing_is_refused(make: Any, keys: KeyRing) -> None:
    authenticator = make()
    head, _, signature = mint(keys.channel, channel_claims(aud=OTHER_APP_ID)).split(".")
    refused(authenticator, activity(), bearer(f"{head}.{json_segment(channel_claims())}.{signature}"))


def test_keys_of_one_source_do_not_verify_tokens_of_the_other(make: Any, server: KeyServer, keys: KeyRing) -> None:
    authenticator = make()
    refused(authenticator, activity(), bearer(mint(keys.entra, channel_claims())))  # Entra key, channel issuer
    refused(authenticator, activity(), bearer(mint(keys.channel, emulator_claims())))  # channel key, Emulator issuer
    assert server.hits == {CHANNEL_META: 1, CHANNEL_KEYS: 1, ENTRA_META: 1, ENTRA_KEYS: 1}


@pytest.mark.parametrize(
    "channel_id", [pytest.param("slack", id="not-endorsed"), pytest.param("MSTeams", id="case-differs")]
)
def test_channel_id_must_be_endorsed_by_the_signing_key(make: Any, keys: KeyRing, channel_id: str) -> None:
    authenticator = make()
    refused(authenticator, activity(channel_id=channel_id), bearer(mint(keys.channel, channel_claims())))


def test_activity_without_channel_id_is_refused_on_the_channel_path(make: Any, keys: KeyRing) -> None:
    authenticator = make()
    refused(authenticator, activity(channel_id=None), bearer(mint(keys.channel, channel_claims())))


@pytest.mark.parametrize("endorsements", [None, ()], ids=["no-member", "empty-list"])
def test_key_without_endorsements_is_refused_on_the_channel_path(
    make: Any, server: KeyServer, keys: KeyRing, endorsements: tuple[str, ...] | None
) -> None:
    server.publish_channel(keys.channel.jwk(endorsements=endorsements))
    authenticator = make()
    refused(authenticator, activity(), bearer(mint(keys.channel, channel_claims())))
    assert hits_of(server, CHANNEL_META, CHANNEL_KEYS) == (1, 1)  # it was refused after the key was found


@pytest.mark.parametrize(
    ("claim", "activity_url"),
    [
        pytest.param(SERVICE_URL, "https://evil.example/teams/", id="mismatch"),
        pytest.param(SERVICE_URL, "https://smba.trafficmanager.net/emea/", id="other-path"),
        pytest.param(SERVICE_URL, "https://smba.trafficmanager.net/teams//", id="two-slashes"),
        pytest.param(DROP, SERVICE_URL, id="claim-missing"),
        pytest.param("", SERVICE_URL, id="claim-empty"),
        pytest.param([SERVICE_URL], SERVICE_URL, id="claim-list"),
        pytest.param(SERVICE_URL, None, id="activity-without-serviceUrl"),
    ],
)
def test_service_url_must_match_the_claim(make: Any, keys: KeyRing, claim: Any, activity_url: Any) -> None:
    authenticator = make()
    refused(
        authenticator, activity(service_url=activity_url), bearer(mint(keys.channel, channel_claims(serviceurl=claim)))
    )


@pytest.mark.parametrize(
    ("claim", "activity_url"),
    [
        ("https://smba.trafficmanager.net/teams/", "HTTPS://SMBA.trafficmanager.net/teams"),
        ("HTTPS://smba.trafficmanager.net/Teams", "https://smba.trafficmanager.net/teams/"),
        ("https://smba.trafficmanager.net/teams", "https://smba.trafficmanager.net/teams"),
    ],
)
def test_service_url_case_and_trailing_slash_are_ignored(
    make: Any, keys: KeyRing, claim: str, activity_url: str
) -> None:
    authenticator = make()
    token = bearer(mint(keys.channel, channel_claims(serviceurl=claim)))
    assert authenticator.authenticate_request(activity(service_url=activity_url), token).source == "channel"


def test_a_token_verified_before_is_still_checked_against_each_activity(
    make: Any, server: KeyServer, keys: KeyRing
) -> None:
    authenticator = make()
    token = bearer(mint(keys.channel, channel_claims()))
    assert authenticator.authenticate_request(activity(), token).source == "channel"
    refused(authenticator, activity(service_url="https://evil.example/"), token)
    refused(authenticator, activity(channel_id="slack"), token)
    refused(make(OTHER_APP_ID), activity(), token)
    assert authenticator.authenticate_request(activity(), token).source == "channel"


def test_the_verified_token_memory_is_bounded(
    env: Env, make: Any, keys: KeyRing, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Distinct valid tokens evict the oldest remembered ones; an evicted token is simply verified again."""
    monkeypatch.setattr(inbound_auth, "_VERIFIED_CACHE_SIZE", 4)
    authenticator = make()
    core = (authenticator.unwrapped if env.is_async else authenticator)._core
    tokens = [bearer(mint(keys.channel, channel_claims(jti=str(i)))) for i in range(10)]
    for token in tokens:
        authenticator.authenticate_request(activity(), token)
        assert len(core._verified) <= 4
    assert authenticator.authenticate_request(activity(), tokens[0]).source == "channel"
    refused(authenticator, activity(), tokens[0][:-6] + "AAAAAA")


def test_government_cloud_tokens(make: Any, server: KeyServer, keys: KeyRing) -> None:
    authenticator = make(cloud=server.cloud(botconnect.GOVERNMENT_CLOUD))
    identity = authenticator.authenticate_request(
        activity(), bearer(mint(keys.channel, channel_claims(iss="https://api.botframework.us")))
    )
    assert identity.caller_id == "urn:botframework:azureusgov"
    assert identity.oauth_scope == "https://api.botframework.us"
    before = server.hits
    refused(authenticator, activity(), bearer(mint(keys.channel, channel_claims())))  # the public issuer
    assert server.hits == before


# == forged and malformed headers =================================================================================


def _unsigned(header: dict[str, Any], signature: str = "") -> str:
    return f"{json_segment(header)}.{json_segment(channel_claims())}.{signature}"


@pytest.mark.parametrize(
    "header",
    [
        pytest.param({"alg": "none", "typ": "JWT"}, id="none"),
        pytest.param({"alg": "none", "kid": "bf-k1"}, id="none-with-kid"),
        pytest.param({"alg": "None", "kid": "bf-k1"}, id="None"),
        pytest.param({"alg": "NONE", "kid": "bf-k1"}, id="NONE"),
        pytest.param({"kid": "bf-k1"}, id="no-alg"),
    ],
)
@pytest.mark.parametrize("signature", ["", "c2lnbmF0dXJl"], ids=["empty-signature", "some-signature"])
def test_alg_none_is_refused(make: Any, server: KeyServer, header: dict[str, Any], signature: str) -> None:
    authenticator = make()
    refused(authenticator, activity(), bearer(_unsigned(header, signature)))
    assert server.hits == NO_FETCH


@pytest.mark.parametrize("algorithm", ["HS256", "HS384", "HS512"])
@pytest.mark.parametrize("secret_form", ["public-pem", "jwk-json"])
def test_hmac_forged_with_the_public_key_is_refused(
    make: Any, server: KeyServer, keys: KeyRing, algorithm: str, secret_form: str
) -> None:
    authenticator = make()
    if secret_form == "public-pem":
        secret = keys.channel.public_pem
    else:
        secret = json.dumps(keys.channel.jwk(endorsements=ENDORSEMENTS)).encode()
    token = forge_hmac(secret, channel_claims(), kid=keys.channel.kid, algorithm=algorithm)
    refused(authenticator, activity(), bearer(token))
    assert server.hits == NO_FETCH


@pytest.mark.parametrize("algorithm", ["PS256", "ES256", "EdDSA", "RS1", "rs256"])
def test_other_algorithms_are_refused(make: Any, server: KeyServer, keys: KeyRing, algorithm: str) -> None:
    authenticator = make()
    good = mint(keys.channel, channel_claims())
    head = json_segment({"alg": algorithm, "kid": keys.channel.kid})
    refused(authenticator, activity(), bearer(head + good[good.index(".") :]))
    assert server.hits == NO_FETCH


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param({"crit": ["x"], "x": 1}, id="crit-x"),
        pytest.param({"crit": ["b64"], "b64": True}, id="crit-b64"),
        pytest.param({"crit": []}, id="crit-empty"),
    ],
)
def test_crit_header_is_refused(make: Any, keys: KeyRing, extra: dict[str, Any]) -> None:
    authenticator = make()
    refused(authenticator, activity(), bearer(mint(keys.channel, channel_claims(), header=extra)))


@pytest.mark.parametrize("kid", [None, "", 7, ["bf-k1"]], ids=["null", "empty", "number", "list"])
def test_kid_must_be_a_non_empty_string(make: Any, server: KeyServer, keys: KeyRing, kid: Any) -> None:
    authenticator = make()
    head = {"alg": "RS256", "typ": "JWT"}
    if kid is not None:
        head["kid"] = kid
    signing_input = f"{json_segment(head)}.{json_segment(channel_claims())}"
    token = f"{signing_input}.{b64url(rsa_signature(keys.channel.private, 'RS256', signing_input))}"
    refused(authenticator, activity(), bearer(token))
    assert server.hits == NO_FETCH


def _malformed_headers(keys: KeyRing) -> dict[str, Any]:
    token = mint(keys.channel, channel_claims())
    head, payload, signature = token.split(".")
    return {
        "empty": "",
        "blank": "   ",
        "scheme-only": "Bearer",
        "scheme-and-space": "Bearer ",
        "basic": "Basic x",
        "basic-with-token": "Basic " + token,
        "no-scheme": token,
        "two-tokens": f"Bearer {token} {token}",
        "comma-separated": f"Bearer {token},{token}",
        "tab-inside": f"Bearer {token}\tx",
        "newline-inside": f"Bearer {token}\r\nX-Injected: 1",
        "two-segments": f"Bearer {head}.{payload}",
        "four-segments": f"Bearer {token}.{signature}",
        "bad-base64": f"Bearer {head}.{payload}!.{signature}",
        "padded-base64": f"Bearer {head}==.{payload}.{signature}",
        "one-char-too-many": f"Bearer {head}.{payload}a.{signature}",
        "header-not-json": f"Bearer {b64url(b'not json')}.{payload}.{signature}",
        "header-json-array": f"Bearer {json_segment(['alg', 'RS256'])}.{payload}.{signature}",
        "payload-json-string": f"Bearer {head}.{json_segment('claims')}.{signature}",
        "payload-not-utf8": f"Bearer {head}.{b64url(bytes([0xFF, 0xFE, 0x7B]))}.{signature}",
        "deeply-nested-payload": f"Bearer {head}.{b64url(b'[' * 5000 + b']' * 5000)}.{signature}",
        "20-KiB-token": "Bearer " + token + "A" * (20 * 1024),
        "20-KiB-valid-shape": "Bearer " + mint(keys.channel, channel_claims(pad="x" * 20 * 1024)),
        "non-ascii": f"Bearer {token}é",
        "non-ascii-token": "Bearer ééé.ààà.ççç",
        "signature-modified": f"Bearer {head}.{payload}.{signature[:-4]}AAAA",
        "signature-truncated": f"Bearer {head}.{payload}.{signature[:20]}",
        "nul": "Bearer \x00",
        "garbage-bytes": bytes(range(256)),
        "garbage-bytes-ascii": b"Bearer \x01\x02\x03",
        "valid-token-as-bytes-prefix-junk": b"\xffBearer " + token.encode(),
    }


MALFORMED = (
    "empty",
    "blank",
    "scheme-only",
    "scheme-and-space",
    "basic",
    "basic-with-token",
    "no-scheme",
    "two-tokens",
    "comma-separated",
    "tab-inside",
    "newline-inside",
    "two-segments",
    "four-segments",
    "bad-base64",
    "padded-base64",
    "one-char-too-many",
    "header-not-json",
    "header-json-array",
    "payload-json-string",
    "payload-not-utf8",
    "deeply-nested-payload",
    "20-KiB-token",
    "20-KiB-valid-shape",
    "non-ascii",
    "non-ascii-token",
    "signature-modified",
    "signature-truncated",
    "nul",
    "garbage-bytes",
    "garbage-bytes-ascii",
    "valid-token-as-bytes-prefix-junk",
)


@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_authorization_headers_are_refused(make: Any, keys: KeyRing, name: str) -> None:
    headers = _malformed_headers(keys)
    assert set(headers) == set(MALFORMED)
    authenticator = make()
    refused(authenticator, activity(), headers[name])


# -- property tests: nothing but AuthenticationError comes out --------------------------------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)
_KIDS = st.sampled_from(["bf-k1", "bf-k2", "entra-k1", "stranger", "nope", ""])
_ISSUERS = st.sampled_from(
    [CHANNEL_ISSUER, EMULATOR_V1_ISSUER, EMULATOR_V2_ISSUER, *TENANT_ISSUERS, "https://evil.example", ""]
)
_TIMES = st.builds(lambda delta: int(time.time()) + delta, st.integers(-2000, 2000)) | st.sampled_from(
    [10**400, -(10**400), 2**63, float("inf"), float("nan"), 0]
)
_HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "alg": st.sampled_from(["RS256", "RS384", "RS512", "none", "HS256", "PS256"]) | _JSON,
        "kid": _KIDS | _JSON,
        "typ": st.just("JWT") | _JSON,
        "crit": _JSON,
        "x5t": _JSON,
    },
)
_PAYLOADS = st.fixed_dictionaries(
    {},
    optional={
        "iss": _ISSUERS | _JSON,
        "aud": st.sampled_from([APP_ID, CALLER, CHANNEL_AUDIENCE, APP_ID.upper()]) | _JSON,
        "exp": _TIMES | _JSON,
        "nbf": _TIMES | _JSON,
        "iat": _TIMES | _JSON,
        "ver": st.sampled_from(["1.0", "2.0", "3.0", ""]) | _JSON,
        "appid": st.sampled_from([APP_ID, CALLER, "AnonymousSkill"]) | _JSON,
        "azp": st.sampled_from([APP_ID, CALLER, "AnonymousSkill"]) | _JSON,
        "tid": st.sampled_from([BF_TENANT, MY_TENANT]) | _JSON,
        "serviceurl": st.sampled_from([SERVICE_URL, SERVICE_URL.upper(), "https://evil.example/"]) | _JSON,
    },
)
_SEGMENTS = st.one_of(
    _HEADERS.map(json_segment),
    _PAYLOADS.map(json_segment),
    _JSON.map(lambda value: json_segment(value)),
    st.binary(max_size=48).map(b64url),
    st.text(max_size=24),
)
_TOKENS = st.lists(_SEGMENTS, min_size=1, max_size=4).map(".".join)
_AUTHORIZATION = st.one_of(
    st.text(max_size=64),
    st.binary(max_size=64),
    _TOKENS.map(bearer),
    st.tuples(st.sampled_from(["Bearer", "bearer", "BEARER", "Basic", "", "Bearer "]), _TOKENS).map(" ".join),
)
_ACTIVITIES = st.fixed_dictionaries(
    {},
    optional={
        "channelId": st.sampled_from(["msteams", "emulator", "slack"]) | _JSON,
        "serviceUrl": st.sampled_from([SERVICE_URL, "https://evil.example/"]) | _JSON,
        "recipient": st.fixed_dictionaries({}, optional={"role": st.sampled_from(["skill", "bot"]) | _JSON}) | _JSON,
        "type": _JSON,
    },
)
#: one authenticator serves every example of a test (its key cache warm after the first), built outside @given
_FUZZ = settings(max_examples=150, deadline=None, database=None)


def _only_authentication_errors(authenticator: Any, act: Any, authorization: Any) -> ClaimsIdentity | None:
    """The outcome: an identity, or None for an AuthenticationError (any other exception fails the test)."""
    try:
        identity: ClaimsIdentity = authenticator.authenticate_request(act, authorization)
    except AuthenticationError as exc:
        error = exc
    else:
        return identity
    assert type(error) is AuthenticationError
    assert error.status_code == 401
    assert_no_token(error, authorization)
    return None


def test_arbitrary_headers_raise_only_authentication_errors(make: Any) -> None:
    """Arbitrary text, bytes and JSON segments: never accepted (nothing is signed), never another exception."""
    authenticator = make(allowed_callers=["*"])

    @_FUZZ
    @given(authorization=_AUTHORIZATION, act=_ACTIVITIES)
    def check(authorization: Any, act: Any) -> None:
        assert _only_authentication_errors(authenticator, act, authorization) is None

    check()


@st.composite
def _signed_tokens(draw: st.DrawFn, keys: KeyRing) -> tuple[str, dict[str, Any]]:
    """A token truly signed by a published key over an arbitrary header and payload (trusted ``iss`` mostly)."""
    key = draw(st.sampled_from([keys.channel, keys.entra]))
    header = draw(_HEADERS)
    header.setdefault("alg", draw(st.sampled_from(["RS256", "RS384", "RS512"])))
    header.setdefault("kid", key.kid)
    payload = draw(_PAYLOADS)
    if draw(st.booleans()):
        payload["iss"] = (
            CHANNEL_ISSUER if key is keys.channel else draw(st.sampled_from([EMULATOR_V1_ISSUER, EMULATOR_V2_ISSUER]))
        )
    algorithm = header["alg"] if header["alg"] in ("RS256", "RS384", "RS512") else "RS256"
    signing_input = f"{json_segment(header)}.{json_segment(payload)}"
    return f"{signing_input}.{b64url(rsa_signature(key.private, algorithm, signing_input))}", payload


def test_arbitrary_signed_claims_raise_only_authentication_errors(make: Any, keys: KeyRing) -> None:
    """Correctly signed tokens with arbitrary claims reach every claim check; what is accepted obeys the rules."""
    authenticator = make(allowed_callers=["*"])

    @_FUZZ
    @given(signed=_signed_tokens(keys), act=_ACTIVITIES)
    def check(signed: tuple[str, dict[str, Any]], act: Any) -> None:
        _check_signed(authenticator, *signed, act)

    check()


def _check_signed(authenticator: Any, token: str, payload: dict[str, Any], act: Any) -> None:
    identity = _only_authentication_errors(authenticator, act, bearer(token))
    if identity is None:
        return
    assert identity.app_id == APP_ID
    assert payload["aud"] == APP_ID
    exp = payload["exp"]
    assert isinstance(exp, int | float)
    assert not isinstance(exp, bool)
    assert exp > time.time() - 301
    if identity.source == "channel":
        assert payload["iss"] == CHANNEL_ISSUER
        assert act["channelId"] in ENDORSEMENTS
        assert act["serviceUrl"].removesuffix("/").casefold() == payload["serviceurl"].removesuffix("/").casefold()
    else:
        assert identity.source in ("emulator", "skill")
        assert payload["ver"] in ("1.0", "2.0")
        assert payload["tid"] in payload["iss"]


# == Emulator tokens ==============================================================================================


@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_emulator_tokens_are_accepted(make: Any, server: KeyServer, keys: KeyRing, version: str) -> None:
    authenticator = make()
    identity = authenticator.authenticate_request(
        activity(channel_id="emulator"), bearer(mint(keys.entra, emulator_claims(version)))
    )
    assert identity.source == "emulator"
    assert (identity.app_id, identity.caller_app_id) == (APP_ID, APP_ID)
    assert (identity.is_skill, identity.is_anonymous) == (False, False)
    assert identity.caller_id == "urn:botframework:azure"
    assert identity.oauth_scope == CHANNEL_AUDIENCE
    assert server.hits == {CHANNEL_META: 0, CHANNEL_KEYS: 0, ENTRA_META: 1, ENTRA_KEYS: 1}


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param(lambda: emulator_claims("1.0", appid=DROP), id="v1-without-appid"),
        pytest.param(lambda: emulator_claims("2.0", azp=DROP), id="v2-without-azp"),
        pytest.param(lambda: emulator_claims("2.0", azp=DROP, appid=APP_ID), id="v2-with-appid-only"),
        pytest.param(lambda: emulator_claims("1.0", ver="3.0"), id="ver-3.0"),
        pytest.param(lambda: emulator_claims("1.0", ver=DROP), id="ver-missing"),
        pytest.param(lambda: emulator_claims("1.0", ver=1.0), id="ver-number"),
        pytest.param(lambda: emulator_claims("1.0", aud=CHANNEL_AUDIENCE), id="aud-connector-v1"),
        pytest.param(lambda: emulator_claims("2.0", aud=CHANNEL_AUDIENCE), id="aud-connector-v2"),
        pytest.param(lambda: emulator_claims("1.0", aud=DROP), id="aud-missing"),
        pytest.param(lambda: emulator_claims("1.0", aud=OTHER_APP_ID, appid=OTHER_APP_ID), id="another-bots-token"),
        pytest.param(lambda: emulator_claims("1.0", tid=DROP), id="tid-missing"),
        pytest.param(lambda: emulator_claims("1.0", tid=MY_TENANT), id="tid-other-tenant"),
        pytest.param(lambda: emulator_claims("1.0", exp=int(time.time()) - 301), id="expired"),
    ],
)
def test_bad_emulator_tokens_are_refused(make: Any, keys: KeyRing, claims: Callable[[], dict[str, Any]]) -> None:
    authenticator = make(allowed_callers=["*"])
    refused(authenticator, activity(channel_id="emulator"), bearer(mint(keys.entra, claims())))


@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_allow_emulator_false_refuses_emulator_tokens_without_fetching(
    make: Any, server: KeyServer, keys: KeyRing, version: str
) -> None:
    authenticator = make(allow_emulator=False)
    refused(authenticator, activity(channel_id="emulator"), bearer(mint(keys.entra, emulator_claims(version))))
    bot_token = emulator_claims(version, aud=CHANNEL_AUDIENCE)  # the bot's own Connector token, sent back
    refused(authenticator, activity(channel_id="emulator"), bearer(mint(keys.entra, bot_token)))
    assert server.hits == NO_FETCH


# == skill (bot-to-bot) tokens ====================================================================================


def test_skill_token_without_allowed_callers_is_refused(make: Any, server: KeyServer, keys: KeyRing) -> None:
    authenticator = make()
    refused(authenticator, activity(), bearer(mint(keys.entra, skill_claims())))
    assert server.hits == NO_FETCH


@pytest.mark.parametrize(
    ("allowed_callers", "accepted"),
    [
        pytest.param([CALLER], True, id="caller-allowed"),
        pytest.param([CALLER.upper()], True, id="caller-allowed-other-case"),
        pytest.param([OTHER_APP_ID], False, id="caller-not-allowed"),
        pytest.param(["*"], True, id="star"),
    ],
)
@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_skill_tokens_and_allowed_callers(
    make: Any, keys: KeyRing, allowed_callers: list[str], accepted: bool, version: str
) -> None:
    authenticator = make(allowed_callers=allowed_callers)
    header = bearer(mint(keys.entra, skill_claims(version)))
    if not accepted:
        refused(authenticator, activity(), header)
        return
    identity = authenticator.authenticate_request(activity(), header)
    assert identity.source == "skill"
    assert identity.is_skill
    assert not identity.is_anonymous
    assert (identity.app_id, identity.caller_app_id) == (APP_ID, CALLER)
    assert identity.caller_id == f"urn:botframework:aadappid:{CALLER}"
    assert identity.oauth_scope == CALLER


def test_skill_tokens_pass_with_allow_emulator_false(make: Any, keys: KeyRing) -> None:
    authenticator = make(allowed_callers=[CALLER], allow_emulator=False)
    assert authenticator.authenticate_request(activity(), bearer(mint(keys.entra, skill_claims()))).is_skill


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param(lambda: skill_claims(aud=OTHER_APP_ID), id="for-another-bot"),
        pytest.param(lambda: skill_claims(caller="AnonymousSkill"), id="caller-AnonymousSkill"),
        pytest.param(lambda: skill_claims(tid=DROP), id="tid-missing"),
        pytest.param(lambda: skill_claims(tid=MY_TENANT), id="tid-other-tenant"),
        pytest.param(lambda: skill_claims(exp=DROP), id="no-exp"),
    ],
)
def test_bad_skill_tokens_are_refused(make: Any, keys: KeyRing, claims: Callable[[], dict[str, Any]]) -> None:
    authenticator = make(allowed_callers=["*"])
    refused(authenticator, activity(), bearer(mint(keys.entra, claims())))


def test_skill_token_signed_by_a_stranger_is_refused(make: Any, keys: KeyRing) -> None:
    authenticator = make(allowed_callers=["*"])
    refused(authenticator, activity(), bearer(mint(keys.stranger, skill_claims(), kid=keys.entra.kid)))


# == single-tenant issuers ========================================================================================


@pytest.mark.parametrize("issuer", TENANT_ISSUERS)
def test_single_tenant_issuers_are_accepted_with_tenant_id(make: Any, keys: KeyRing, issuer: str) -> None:
    authenticator = make(tenant_id=MY_TENANT, allowed_callers=[CALLER])
    skill = authenticator.authenticate_request(
        activity(), bearer(mint(keys.entra, skill_claims(iss=issuer, tid=MY_TENANT)))
    )
    assert skill.source == "skill"
    emulator = authenticator.authenticate_request(
        activity(channel_id="emulator"), bearer(mint(keys.entra, emulator_claims(iss=issuer, tid=MY_TENANT)))
    )
    assert emulator.source == "emulator"


@pytest.mark.parametrize(
    ("tid", "tenant_id"),
    [
        pytest.param(BF_TENANT, MY_TENANT, id="tid-differs-from-iss"),
        pytest.param(MY_TENANT.replace("7e57", "0000"), MY_TENANT, id="tid-other-guid"),
        pytest.param(DROP, MY_TENANT, id="tid-missing"),
        pytest.param(MY_TENANT, None, id="no-tenant-configured"),
    ],
)
def test_single_tenant_tokens_are_refused_when_the_tenant_does_not_match(
    make: Any, server: KeyServer, keys: KeyRing, tid: Any, tenant_id: str | None
) -> None:
    authenticator = make(tenant_id=tenant_id, allowed_callers=[CALLER])
    issuer = f"https://login.microsoftonline.com/{MY_TENANT}/v2.0"
    refused(authenticator, activity(), bearer(mint(keys.entra, skill_claims(iss=issuer, tid=tid))))
    if tenant_id is None:
        assert server.hits == NO_FETCH  # an untrusted issuer: refused before any fetch


# == anonymous (development) mode =================================================================================


@pytest.mark.parametrize("authorization", [None, "", "  "], ids=["none", "empty", "blank"])
def test_no_app_id_and_no_header_is_anonymous(make: Any, server: KeyServer, authorization: str | None) -> None:
    authenticator = make(None)
    identity = authenticator.authenticate_request(activity(), authorization)
    assert identity.is_anonymous
    assert not identity.is_skill
    assert identity.source == "anonymous"
    assert dict(identity.claims) == {}
    assert (identity.app_id, identity.caller_id, identity.oauth_scope, identity.caller_app_id) == (None,) * 4
    assert server.hits == NO_FETCH


@pytest.mark.parametrize("as_model", [False, True], ids=["wire-dict", "Activity"])
def test_anonymous_skill_call_from_the_emulator(make: Any, as_model: bool) -> None:
    authenticator = make(None)
    act: Any = activity(channel_id="emulator", role="skill")
    if as_model:
        act = Activity(type="message", channel_id="emulator", recipient=ChannelAccount(id="bot", role="skill"))
    identity = authenticator.authenticate_request(act, None)
    assert dict(identity.claims) == {"appid": "AnonymousSkill"}
    assert identity.caller_app_id == "AnonymousSkill"
    assert identity.is_skill
    assert identity.is_anonymous
    assert identity.caller_id is None
    assert identity.oauth_scope is None
    not_skill = authenticator.authenticate_request(activity(channel_id="msteams", role="skill"), None)
    assert not not_skill.is_skill


def test_header_in_anonymous_mode_is_validated_and_refused(make: Any, server: KeyServer, keys: KeyRing) -> None:
    authenticator = make(None)
    refused(authenticator, activity(), bearer(mint(keys.channel, channel_claims())))
    refused(authenticator, activity(), "Bearer garbage")
    refused(authenticator, activity(), "Basic x")
    assert server.hits == NO_FETCH


@pytest.mark.parametrize("authorization", [None, "", "  "], ids=["none", "empty", "blank"])
def test_app_id_configured_and_no_header_is_refused(make: Any, server: KeyServer, authorization: str | None) -> None:
    authenticator = make()
    refused(authenticator, activity(), authorization)
    refused(authenticator, activity(channel_id="emulator", role="skill"), authorization)
    assert server.hits == NO_FETCH


# == key-fetch outages ============================================================================================

_FAULTS = [
    pytest.param("500", id="500"),
    pytest.param("invalid-json", id="invalid-json"),
    pytest.param("empty", id="empty"),
    pytest.param("redirect", id="redirect"),
    pytest.param("huge", id="oversized"),
    pytest.param("sleep", id="timeout"),
]


def _break(server: KeyServer, document: str, fault: str) -> None:
    server.fail(document, fault, seconds=1.0 if fault == "sleep" else 0.0)  # "sleep" outlasts timeout=0.1


@pytest.mark.parametrize("fault", _FAULTS)
@pytest.mark.parametrize("document", [CHANNEL_META, CHANNEL_KEYS])
def test_outage_with_a_warm_cache_keeps_accepting(
    make: Any, server: KeyServer, keys: KeyRing, clock: FakeClock, document: str, fault: str
) -> None:
    authenticator = make(clock=clock, refresh_interval=100, timeout=0.1)
    authenticator.authenticate_request(activity(), bearer(mint(keys.channel, channel_claims())))
    _break(server, document, fault)
    clock.advance(101)
    before = server.hits[document]
    identity = authenticator.authenticate_request(activity(), bearer(mint(keys.channel, channel_claims(jti="new"))))
    assert identity.source == "channel"
    assert server.hits[document] > before  # the scheduled refresh was tried, and failed
    refused(authenticator, activity(), bearer(mint(keys.channel, channel_claims(), kid="nope")))  # 401, not 503


@pytest.mark.parametrize("fault", _FAULTS)
@pytest.mark.parametrize("document", [CHANNEL_META, CHANNEL_KEYS])
def test_outage_with_a_cold_cache_is_unavailable_then_recovers(
    make: Any, server: KeyServer, keys: KeyRing, document: str, fault: str
) -> None:
    authenticator = make(timeout=0.1)
    _break(server, document, fault)
    header = bearer(mint(keys.channel, channel_claims()))
    unavailable(authenticator, activity(), header)
    assert server.hits[document] >= 1
    server.heal()
    assert authenticator.authenticate_request(activity(), header).source == "channel"


@pytest.mark.parametrize("document", [ENTRA_META, ENTRA_KEYS])
def test_outage_on_the_emulator_path_is_unavailable(make: Any, server: KeyServer, keys: KeyRing, document: str) -> None:
    authenticator = make(allowed_callers=[CALLER])
    server.fail(document, "500")
    unavailable(authenticator, activity(), bearer(mint(keys.entra, skill_claims())))
    unavailable(authenticator, activity(channel_id="emulator"), bearer(mint(keys.entra, emulator_claims())))
    assert (
        authenticator.authenticate_request(activity(), bearer(mint(keys.channel, channel_claims()))).source == "channel"
    )


def test_a_refused_token_during_a_cold_outage_is_still_a_401_when_it_needs_no_key(
    make: Any, server: KeyServer, keys: KeyRing
) -> None:
    authenticator = make()
    server.fail(CHANNEL_META, "500")
    refused(authenticator, activity(), bearer(mint(keys.channel, channel_claims(iss="https://evil.example"))))
    refused(authenticator, activity(), "Basic x")


@pytest.mark.parametrize("jwks_uri", ["ftp://127.0.0.1/keys", "file:///etc/passwd", "not a url", ""])
def test_a_jwks_uri_that_is_not_https_or_loopback_http_is_not_fetched(
    make: Any, server: KeyServer, keys: KeyRing, jwks_uri: str
) -> None:
    server.jwks_uri_override[CHANNEL_META] = jwks_uri
    authenticator = make()
    unavailable(authenticator, activity(), bearer(mint(keys.channel, channel_claims())))
    assert hits_of(server, CHANNEL_META, CHANNEL_KEYS)[1] == 0


class _LoopbackOnly:
    """A transport forwarding loopback requests to the real one and recording (never sending) any other."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.elsewhere: list[str] = []

    def _refuse(self, request: httpx.Request) -> httpx.Response | None:
        if request.url.host in ("127.0.0.1", "localhost", "::1"):
            return None
        self.elsewhere.append(str(request.url))
        return httpx.Response(599, request=request)


class _SyncLoopbackOnly(_LoopbackOnly, httpx.BaseTransport):
    def handle_request(self, request: httpx.Request) -> httpx.Response:
        refused_response = self._refuse(request)
        return refused_response if refused_response is not None else self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


class _AsyncLoopbackOnly(_LoopbackOnly, httpx.AsyncBaseTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        refused_response = self._refuse(request)
        return refused_response if refused_response is not None else await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_a_plain_http_jwks_uri_on_another_host_is_never_requested(
    env: Env, make: Any, server: KeyServer, keys: KeyRing
) -> None:
    """The metadata names ``http://example.com/...``: refused before any request (a guard transport records one)."""
    transport: Any = (
        _AsyncLoopbackOnly(httpx.AsyncHTTPTransport()) if env.is_async else _SyncLoopbackOnly(httpx.HTTPTransport())
    )
    server.jwks_uri_override[CHANNEL_META] = "http://example.com/v1/.well-known/keys"
    authenticator = make(transport=transport)
    unavailable(authenticator, activity(), bearer(mint(keys.channel, channel_claims())))
    assert transport.elsewhere == []
    assert hits_of(server, CHANNEL_META, CHANNEL_KEYS) == (1, 0)  # the guard forwarded the loopback metadata fetch


@pytest.mark.parametrize("document", [CHANNEL_META, CHANNEL_KEYS])
def test_redirects_are_not_followed_even_by_a_client_that_follows_them(
    env: Env, make: Any, server: KeyServer, keys: KeyRing, document: str
) -> None:
    client: Any = httpx.AsyncClient(follow_redirects=True) if env.is_async else httpx.Client(follow_redirects=True)
    try:
        server.fail(document, "redirect")
        authenticator = make(http_client=client)
        unavailable(authenticator, activity(), bearer(mint(keys.channel, channel_claims())))
        assert server.hits[document] == 1  # the redirect's target (the real document) was never requested
    finally:
        if env.is_async:
            env.run(client.aclose)
        else:
            client.close()


def test_unusable_entries_of_a_key_set_are_skipped(make: Any, server: KeyServer, keys: KeyRing) -> None:
    good = keys.channel.jwk(endorsements=ENDORSEMENTS)
    server.publish_channel(
        {"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA"},
        {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB", "endorsements": list(ENDORSEMENTS)},
        {**good, "kid": "no-use", "use": "enc"},
        {**good, "kid": "bad-endorsements", "endorsements": "msteams"},
        {**good, "kid": "hs", "alg": "HS256"},
        {key: value for key, value in good.items() if key != "kid"},
        "not an object",
        good,
    )
    authenticator = make()
    assert (
        authenticator.authenticate_request(activity(), bearer(mint(keys.channel, channel_claims()))).source == "channel"
    )
    for kid in ("ec", "broken", "no-use", "bad-endorsements", "hs"):
        refused(authenticator, activity(), bearer(mint(keys.channel, channel_claims(), kid=kid)))
    assert hits_of(server, CHANNEL_META, CHANNEL_KEYS) == (1, 1)


# == concurrency ==================================================================================================


def test_fifty_concurrent_validations_on_a_cold_cache_fetch_once(
    env: Env, make: Any, server: KeyServer, keys: KeyRing
) -> None:
    authenticator = make()
    server.fail(CHANNEL_META, "sleep", seconds=0.3)  # every request is surely waiting while the fetch runs
    calls = [(activity(), bearer(mint(keys.channel, channel_claims(jti=str(i))))) for i in range(50)]
    results = run_concurrently(env, authenticator, calls)
    assert all(isinstance(result, ClaimsIdentity) and result.source == "channel" for result in results), results
    assert server.hits == {CHANNEL_META: 1, CHANNEL_KEYS: 1, ENTRA_META: 0, ENTRA_KEYS: 0}


def test_concurrent_validations_on_both_paths_fetch_each_source_once(
    env: Env, make: Any, server: KeyServer, keys: KeyRing
) -> None:
    authenticator = make(allowed_callers=[CALLER])
    server.fail(CHANNEL_META, "sleep", seconds=0.2)
    server.fail(ENTRA_META, "sleep", seconds=0.2)
    calls = [(activity(), bearer(mint(keys.channel, channel_claims(jti=str(i))))) for i in range(25)]
    calls += [(activity(), bearer(mint(keys.entra, skill_claims(jti=str(i))))) for i in range(25)]
    results = run_concurrently(env, authenticator, calls)
    assert [result.source for result in results] == ["channel"] * 25 + ["skill"] * 25
    assert server.hits == {CHANNEL_META: 1, CHANNEL_KEYS: 1, ENTRA_META: 1, ENTRA_KEYS: 1}


def test_concurrent_validations_during_a_cold_outage_share_one_failed_fetch(
    env: Env, make: Any, server: KeyServer, keys: KeyRing
) -> None:
    server.fail(CHANNEL_META, "500", seconds=0.2)  # slow to fail: every request is surely waiting on the fetch
    header = bearer(mint(keys.channel, channel_claims()))
    unavailable(make(), activity(), header)
    one_failed_refresh = server.hits[CHANNEL_META]  # however many attempts the retry policy makes
    authenticator = make()
    results = run_concurrently(env, authenticator, [(activity(), header)] * 20)
    assert all(type(result) is AuthenticationUnavailableError for result in results), results
    assert server.hits[CHANNEL_META] - one_failed_refresh == one_failed_refresh


async def _while_one_fetch_is_held(
    server: KeyServer, authenticator: Any, held: tuple[Any, Any], other: tuple[Any, Any]
) -> tuple[Any, bool, Any]:
    held_outcome: list[Any] = []

    async def run_held() -> None:
        held_outcome.append(await _outcome(authenticator, *held))

    async with anyio.create_task_group() as group:
        group.start_soon(run_held)
        reached = await anyio.to_thread.run_sync(server.gate_reached.wait, 30)
        assert reached, "the held request never reached the key server"
        other_outcome = await _outcome(authenticator, *other)
        held_finished_first = bool(held_outcome)
        server.gate_released.set()
    return other_outcome, held_finished_first, held_outcome[0]


def test_a_stalled_key_fetch_does_not_hold_up_the_other_source(
    env: Env, make: Any, server: KeyServer, keys: KeyRing
) -> None:
    """While the Entra metadata is held by the server, a channel token on a cold cache is validated."""
    authenticator = make()
    server.fail(ENTRA_META, "gate")
    held = (activity(channel_id="emulator"), bearer(mint(keys.entra, emulator_claims())))
    other = (activity(), bearer(mint(keys.channel, channel_claims())))
    if env.is_async:
        other_outcome, held_finished_first, held_outcome = env.run(
            _while_one_fetch_is_held, server, authenticator.unwrapped, held, other
        )
    else:
        outcome: list[Any] = []
        thread = threading.Thread(target=lambda: outcome.append(_sync_outcome(authenticator, *held)))
        thread.start()
        try:
            assert server.gate_reached.wait(30), "the held request never reached the key server"
            other_outcome = _sync_outcome(authenticator, *other)
            held_finished_first = bool(outcome)
        finally:
            server.gate_released.set()
            thread.join()
        held_outcome = outcome[0]
    assert isinstance(other_outcome, ClaimsIdentity), other_outcome
    assert other_outcome.source == "channel"
    assert not held_finished_first
    assert isinstance(held_outcome, ClaimsIdentity), held_outcome
    assert held_outcome.source == "emulator"


async def _cancel_mid_fetch_then_retry(
    server: KeyServer, authenticator: Any, call: tuple[Any, Any]
) -> tuple[bool, Any]:
    async with anyio.create_task_group() as group:
        group.start_soon(_outcome, authenticator, *call)
        reached: bool = await anyio.to_thread.run_sync(server.gate_reached.wait, 30)
        group.cancel_scope.cancel()
    server.heal()
    server.gate_released.set()
    return reached, await _outcome(authenticator, *call)


def test_a_validation_cancelled_during_the_fetch_leaves_the_cache_usable(
    async_env: Env, server: KeyServer, keys: KeyRing
) -> None:
    """Cancelled while holding the refresh lock mid-fetch: the next validation fetches again and succeeds."""
    server.fail(ENTRA_META, "gate")
    with async_env.construct("BotAuthenticator", APP_ID, cloud=server.cloud()) as authenticator:
        call = (activity(channel_id="emulator"), bearer(mint(keys.entra, emulator_claims())))
        reached, outcome = async_env.run(_cancel_mid_fetch_then_retry, server, authenticator.unwrapped, call)
    assert reached
    assert isinstance(outcome, ClaimsIdentity), outcome
    assert outcome.source == "emulator"
    assert hits_of(server, ENTRA_META, ENTRA_KEYS) == (2, 1)


async def _validate_with_heartbeat(
    authenticator: Any, act: Any, authorization: Any
) -> tuple[Any, float, float, list[float]]:
    ticks: list[float] = []

    async def heartbeat() -> None:
        while True:
            ticks.append(time.monotonic())
            await anyio.sleep(0.01)

    async with anyio.create_task_group() as group:
        group.start_soon(heartbeat)
        await anyio.sleep(0.02)
        started = time.monotonic()
        outcome = await _outcome(authenticator, act, authorization)
        finished = time.monotonic()
        group.cancel_scope.cancel()
    return outcome, started, finished, ticks


def _sync_validate_with_heartbeat(
    authenticator: Any, act: Any, authorization: Any
) -> tuple[Any, float, float, list[float]]:
    ticks: list[float] = []
    stop = threading.Event()

    def heartbeat() -> None:
        while not stop.is_set():
            ticks.append(time.monotonic())
            stop.wait(0.01)

    thread = threading.Thread(target=heartbeat)
    thread.start()
    try:
        time.sleep(0.02)
        started = time.monotonic()
        outcome = _sync_outcome(authenticator, act, authorization)
        finished = time.monotonic()
    finally:
        stop.set()
        thread.join()
    return outcome, started, finished, ticks


def test_a_slow_key_server_does_not_block_the_event_loop(env: Env, make: Any, server: KeyServer, keys: KeyRing) -> None:
    """A heartbeat (a task on the same loop; a thread for the sync package) keeps ticking through a 1 s fetch."""
    authenticator = make()
    server.fail(CHANNEL_KEYS, "sleep", seconds=1.0)
    call = (activity(), bearer(mint(keys.channel, channel_claims())))
    if env.is_async:
        outcome, started, finished, ticks = env.run(_validate_with_heartbeat, authenticator.unwrapped, *call)
    else:
        outcome, started, finished, ticks = _sync_validate_with_heartbeat(authenticator, *call)
    assert isinstance(outcome, ClaimsIdentity), outcome
    [(slept_from, slept_until)] = server.slept
    assert started <= slept_from
    assert slept_until <= finished
    points = [started, *(tick for tick in ticks if started < tick < finished), finished]
    gaps = [later - earlier for earlier, later in itertools.pairwise(points)]
    assert max(gaps) < HEARTBEAT_GAP, f"the heartbeat stalled for {max(gaps):.3f} s during validation"


# == messages, repr, construction =================================================================================


def test_error_messages_never_contain_the_token(make: Any, server: KeyServer, keys: KeyRing) -> None:
    """The checks above go through ``refused``, which asserts this for each; here the 503 and a spread of 401s."""
    authenticator = make(allowed_callers=["*"])
    tokens = [
        mint(keys.channel, channel_claims(aud="other")),
        mint(keys.stranger, channel_claims(), kid=keys.channel.kid),
        mint(keys.channel, channel_claims(exp=int(time.time()) - 1000)),
        mint(keys.entra, skill_claims(tid=DROP)),
        mint(keys.channel, channel_claims(), kid="a-kid-that-is-unknown-0123456789"),
    ]
    for token in tokens:
        exc = refused(authenticator, activity(), bearer(token))
        assert token.split(".")[2] not in str(exc)
    server.fail(ENTRA_META, "500")
    cold = make(allowed_callers=["*"])
    token = mint(keys.entra, skill_claims())
    exc = unavailable(cold, activity(), bearer(token))
    for piece in token.split("."):
        assert piece not in str(exc)
        assert piece not in repr(exc)


def test_repr_holds_no_secrets(make: Any, keys: KeyRing) -> None:
    authenticator = make(allowed_callers=[CALLER])
    token = mint(keys.channel, channel_claims())
    authenticator.authenticate_request(activity(), bearer(token))
    text = repr(authenticator)
    assert APP_ID in text
    assert CALLER in text
    jwk = keys.channel.jwk()
    for secret in (token, *token.split("."), jwk["n"], "Bearer"):
        assert secret not in text


@pytest.mark.parametrize(
    ("app_id", "kwargs", "error"),
    [
        pytest.param("", {}, ValueError, id="empty-app-id"),
        pytest.param("   ", {}, ValueError, id="blank-app-id"),
        pytest.param([], {}, ValueError, id="no-app-ids"),
        pytest.param([APP_ID, ""], {}, ValueError, id="empty-app-id-in-list"),
        pytest.param(b"app", {}, TypeError, id="bytes-app-id"),
        pytest.param(APP_ID, {"allowed_callers": CALLER}, TypeError, id="allowed-callers-str"),
        pytest.param(APP_ID, {"allowed_callers": b"x"}, TypeError, id="allowed-callers-bytes"),
        pytest.param(APP_ID, {"allowed_callers": [""]}, ValueError, id="allowed-callers-empty-item"),
        pytest.param(APP_ID, {"tenant_id": ""}, ValueError, id="empty-tenant"),
        pytest.param(APP_ID, {"allow_emulator": "no"}, TypeError, id="allow-emulator-str"),
        pytest.param(APP_ID, {"refresh_interval": -1}, ValueError, id="negative-refresh"),
        pytest.param(APP_ID, {"unknown_key_cooldown": -1}, ValueError, id="negative-cooldown"),
        pytest.param(APP_ID, {"cloud": "public"}, TypeError, id="cloud-str"),
    ],
)
def test_constructor_validates_its_arguments(
    env: Env, server: KeyServer, app_id: Any, kwargs: dict[str, Any], error: type[Exception]
) -> None:
    kwargs.setdefault("cloud", server.cloud())
    with pytest.raises(error):
        env.construct("BotAuthenticator", app_id, **kwargs)


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"channel_openid_metadata_url": "http://example.com/meta"}, id="http-channel-remote"),
        pytest.param({"emulator_openid_metadata_url": "http://10.0.0.1/meta"}, id="http-emulator-private-ip"),
        pytest.param({"channel_openid_metadata_url": "ftp://127.0.0.1/meta"}, id="ftp-loopback"),
        pytest.param({"channel_openid_metadata_url": "not a url"}, id="not-a-url"),
        pytest.param({"emulator_openid_metadata_url": "https://"}, id="https-without-host"),
    ],
)
def test_metadata_urls_must_be_https_or_loopback(env: Env, changes: dict[str, str]) -> None:
    cloud = attrs.evolve(botconnect.PUBLIC_CLOUD, **changes)
    with pytest.raises(ValueError):
        env.construct("BotAuthenticator", APP_ID, cloud=cloud)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]"])
def test_plain_http_metadata_is_allowed_on_loopback(env: Env, host: str) -> None:
    cloud = attrs.evolve(
        botconnect.PUBLIC_CLOUD,
        channel_openid_metadata_url=f"http://{host}:1/meta",
        emulator_openid_metadata_url=f"http://{host}:1/meta",
    )
    with env.construct("BotAuthenticator", APP_ID, cloud=cloud) as authenticator:
        assert authenticator.app_ids == (APP_ID,)


# -- the verified-token cache -------------------------------------------------------------------------------------


def test_a_remembered_token_is_refused_once_it_expires(
    make: Any, keys: KeyRing, server: KeyServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A verified token is remembered, but its lifetime is checked on every request (the wall clock moves on)."""
    authenticator = make()
    token = bearer(mint(keys.channel, channel_claims()))
    assert authenticator.authenticate_request(activity(), token).source == "channel"
    assert authenticator.authenticate_request(activity(), token).source == "channel"  # from the cache now
    import botconnect._core.inbound_auth as inbound_auth

    real_time = time.time
    monkeypatch.setattr(inbound_auth.time, "time", lambda: real_time() + 600 + 301)
    error = refused(authenticator, activity(), token)
    assert "expired" in error.message
    assert hits_of(server, CHANNEL_META, CHANNEL_KEYS) == (1, 1)
