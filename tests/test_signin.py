"""The sign-in helpers: the ``state`` encoding, the OAuth card, and ``SignInHandler`` answering Teams'
``signin/verifyState`` and ``signin/tokenExchange`` invokes three ways (sync, asyncio, trio), deduplicated."""

from __future__ import annotations

import base64
import json
import threading
from typing import Any

import anyio
import attrs
import httpx
import pytest

from botconnect._core.retry import NO_RETRIES
from botconnect._core.signin import UNABLE_TO_EXCHANGE, ExchangeDeduplicator
from botconnect.models import (
    Activity,
    ConversationReference,
    OAuthCard,
    SigninCard,
    SignInInvokeResponse,
    SignInUrlResponse,
    TokenExchangeInvokeResponse,
    TokenExchangeResource,
    TokenExchangeState,
    TokenPostResource,
    TokenResponse,
    oauth_card_attachment,
)

from .harness import Env, FakeService
from .test_user_token import TOKEN_BODY, check_request, credential_for, query

USER = "29:user-ada"
CONVERSATION = "a:personal-1"
EXCHANGE = "/api/usertoken/exchange"
GET_TOKEN = "/api/usertoken/GetToken"


def invoke(name: str, value: Any, *, user: str | None = USER, conversation: str = CONVERSATION) -> dict[str, Any]:
    """An invoke as Teams delivers it."""
    activity: dict[str, Any] = {
        "type": "invoke",
        "name": name,
        "id": "f:1",
        "channelId": "msteams",
        "serviceUrl": "https://smba.trafficmanager.net/emea/",
        "recipient": {"id": "28:bot"},
        "conversation": {"id": conversation},
        "value": value,
    }
    if user is not None:
        activity["from"] = {"id": user, "aadObjectId": "aad-ada"}
    return activity


def verify_state(state: Any = "123456", **kwargs: Any) -> dict[str, Any]:
    return invoke("signin/verifyState", {"state": state} if state is not None else {}, **kwargs)


def token_exchange(exchange_id: str | None = "ex-1", token: str | None = "sso.jwt", **kwargs: Any) -> dict[str, Any]:
    value = {"id": exchange_id, "connectionName": "graph", "token": token}
    return invoke("signin/tokenExchange", {k: v for k, v in value.items() if v is not None}, **kwargs)


def handler_for(env: Env, fake: FakeService, connection: str = "graph", **kwargs: Any) -> Any:
    client = env.construct("UserTokenClient", credential_for(env), transport=fake.transport, retry_policy=NO_RETRIES)
    return env.construct("SignInHandler", client.unwrapped if env.is_async else client, connection, **kwargs)


def exchange_body(exchange_id: str | None, detail: str | None = None) -> dict[str, Any]:
    body = {"id": exchange_id, "connectionName": "graph", "failureDetail": detail}
    return {k: v for k, v in body.items() if v is not None}


# -- TokenExchangeState ----------------------------------------------------------------------------------


def test_state_is_standard_base64_of_the_compact_json() -> None:
    state = TokenExchangeState(connection_name="graph", ms_app_id="app")
    # written out by hand: standard alphabet, "=" padding, no spaces in the JSON
    assert state.to_state() == "eyJjb25uZWN0aW9uTmFtZSI6ImdyYXBoIiwibXNBcHBJZCI6ImFwcCJ9"
    assert base64.b64decode(state.to_state()) == b'{"connectionName":"graph","msAppId":"app"}'
    padded = TokenExchangeState(connection_name="g?", ms_app_id="a>").to_state()
    assert padded.endswith("=")
    assert "-" not in padded
    assert "_" not in padded
    assert TokenExchangeState.from_state(padded) == TokenExchangeState(connection_name="g?", ms_app_id="a>")
    assert TokenExchangeState.from_state(padded.rstrip("=")) == TokenExchangeState.from_state(padded)


def test_state_from_an_incoming_activity() -> None:
    activity = Activity.from_dict(
        {
            "type": "message",
            "id": "m-1",
            "channelId": "msteams",
            "serviceUrl": "https://smba.trafficmanager.net/emea/",
            "from": {"id": USER, "name": "Ada"},
            "recipient": {"id": "28:bot", "name": "Bot"},
            "conversation": {"id": CONVERSATION, "tenantId": "t-1"},
            "locale": "en-GB",
            "relatesTo": {"activityId": "p-1", "conversation": {"id": "parent"}, "channelId": "msteams"},
        }
    )
    state = TokenExchangeState.from_activity(activity, "graph", app_id="app-1", bot_url="https://bot.example/api")
    decoded = json.loads(base64.b64decode(state.to_state(), validate=True))
    assert decoded == {
        "connectionName": "graph",
        "conversation": {
            "activityId": "m-1",
            "user": {"id": USER, "name": "Ada"},
            "bot": {"id": "28:bot", "name": "Bot"},
            "conversation": {"id": CONVERSATION, "tenantId": "t-1"},
            "channelId": "msteams",
            "serviceUrl": "https://smba.trafficmanager.net/emea/",
            "locale": "en-GB",
        },
        "relatesTo": {"activityId": "p-1", "conversation": {"id": "parent"}, "channelId": "msteams"},
        "botUrl": "https://bot.example/api",
        "msAppId": "app-1",
    }
    back = TokenExchangeState.from_state(state.to_state())
    assert back == state
    assert isinstance(back.conversation, ConversationReference)
    from_dict = TokenExchangeState.from_activity(activity.to_dict(), "graph", app_id=None)
    assert from_dict == attrs.evolve(state, bot_url=None, ms_app_id=None)


@pytest.mark.parametrize(
    ("state", "error"),
    [
        ("not base64!", ValueError),
        (base64.b64encode(b"[1, 2]").decode(), ValueError),
        (base64.b64encode(b"{not json").decode(), ValueError),
        (base64.b64encode(b'{"conversation": "x"}').decode(), ValueError),
        (b"eyJ9", TypeError),
    ],
)
def test_bad_states_are_value_errors(state: Any, error: type) -> None:
    with pytest.raises(error):
        TokenExchangeState.from_state(state)


def test_state_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="connection_name"):
        TokenExchangeState.from_activity(Activity(type="message"), " ", app_id="a")
    with pytest.raises(TypeError, match="activity"):
        TokenExchangeState.from_activity("hi", "graph", app_id="a")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="app_id"):
        TokenExchangeState.from_activity(Activity(type="message"), "graph", app_id=7)  # type: ignore[arg-type]


# -- the OAuth card ----------------------------------------------------------------------------------------

RESOURCE = SignInUrlResponse(
    sign_in_link="https://token.botframework.com/api/oauth/signin?signin=abc",
    token_exchange_resource=TokenExchangeResource(id="r1", uri="api://botid-app-1", provider_id="aad"),
    token_post_resource=TokenPostResource(sas_url="https://token.botframework.com/post?sig=s"),
)


def test_oauth_card_carries_the_link_and_the_exchange_resource() -> None:
    attachment = oauth_card_attachment("graph", RESOURCE, text="Please sign in", channel_id="msteams")
    assert attachment.to_dict() == {
        "contentType": "application/vnd.microsoft.card.oauth",
        "content": {
            "text": "Please sign in",
            "connectionName": "graph",
            "tokenExchangeResource": {"id": "r1", "uri": "api://botid-app-1", "providerId": "aad"},
            "tokenPostResource": {"sasUrl": "https://token.botframework.com/post?sig=s"},
            "buttons": [{"type": "signin", "title": "Sign in", "text": "Sign in", "value": RESOURCE.sign_in_link}],
        },
    }
    assert isinstance(attachment.content_as(OAuthCard), OAuthCard)
    plain = oauth_card_attachment("graph", "https://example.com/signin", title="Connect")
    assert plain.content == {
        "connectionName": "graph",
        "buttons": [{"type": "signin", "title": "Connect", "text": "Connect", "value": "https://example.com/signin"}],
    }


@pytest.mark.parametrize("channel", ["skype", "Cortana", "skypeforbusiness"])
def test_channels_without_oauth_cards_get_a_signin_card(channel: str) -> None:
    attachment = oauth_card_attachment("graph", RESOURCE, text="Please sign in", channel_id=channel)
    assert attachment.content_type == SigninCard.CONTENT_TYPE
    assert attachment.content == {
        "text": "Please sign in",
        "buttons": [{"type": "signin", "title": "Sign in", "text": "Sign in", "value": RESOURCE.sign_in_link}],
    }


def test_oauth_card_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="no sign-in link"):
        oauth_card_attachment("graph", SignInUrlResponse())
    with pytest.raises(ValueError, match="connection_name"):
        oauth_card_attachment("", RESOURCE)
    with pytest.raises(TypeError, match="sign_in_resource"):
        oauth_card_attachment("graph", {"signInLink": "x"})  # type: ignore[arg-type]


# -- signin/verifyState ------------------------------------------------------------------------------------


def test_verify_state_redeems_the_magic_code(env: Env, fake: FakeService) -> None:
    fake.reply(200, json_body=TOKEN_BODY)
    answer = handler_for(env, fake).handle_verify_state(verify_state("123456"))
    assert isinstance(answer, SignInInvokeResponse)
    assert (answer.status, answer.body, answer.json_body(), answer.duplicate) == (200, None, b"", False)
    assert answer.token_response == TokenResponse.from_dict(TOKEN_BODY)
    (request,) = fake.requests
    check_request(request)
    assert (request.method, request.url.path) == ("GET", GET_TOKEN)
    assert query(request) == [
        ("userId", USER),
        ("connectionName", "graph"),
        ("channelId", "msteams"),
        ("code", "123456"),
    ]


def test_verify_state_answers(env: Env, fake: FakeService) -> None:
    handler = handler_for(env, fake)
    fake.reply(404, json_body={"connectionName": "graph"})
    assert handler.handle_verify_state(verify_state()).status == 404
    fake.reply(500, json_body={"error": {"code": "ServiceError", "message": "try again"}})
    failed = handler.handle_verify_state(verify_state())
    assert (failed.status, failed.token_response) == (500, None)  # Teams sends the invoke again
    fake.reply(200, json_body=TOKEN_BODY)
    assert handler.handle_verify_state(verify_state(654321)).status == 200  # a code sent as a JSON number
    assert dict(query(fake.last))["code"] == "654321"
    fake.reply(200, json_body=TOKEN_BODY)
    assert handler.handle_verify_state(verify_state(None)).status == 200  # no state: the stored token, if any
    assert "code" not in dict(query(fake.last))
    assert len(fake.requests) == 4


def test_verify_state_without_a_sender_is_a_400_and_other_invokes_are_refused(env: Env, fake: FakeService) -> None:
    handler = handler_for(env, fake)
    assert handler.handle_verify_state(verify_state(user=None)).status == 400
    with pytest.raises(ValueError, match="signin/verifyState"):
        handler.handle_verify_state(token_exchange())
    with pytest.raises(ValueError, match="invoke"):
        handler.handle_verify_state({"type": "message", "text": "hi"})
    with pytest.raises(TypeError):
        handler.handle_verify_state("123456")
    assert fake.requests == []


# -- signin/tokenExchange ----------------------------------------------------------------------------------


def test_token_exchange_exchanges_the_sso_token(env: Env, fake: FakeService) -> None:
    fake.reply(200, json_body=TOKEN_BODY)
    answer = handler_for(env, fake).handle_token_exchange(token_exchange("ex-1", "sso.jwt"))
    assert (answer.status, answer.duplicate) == (200, False)
    assert answer.body == TokenExchangeInvokeResponse(id="ex-1", connection_name="graph")
    assert json.loads(answer.json_body()) == {"id": "ex-1", "connectionName": "graph"}
    assert answer.token_response == TokenResponse.from_dict(TOKEN_BODY)
    (request,) = fake.requests
    check_request(request)
    assert (request.method, request.url.path) == ("POST", EXCHANGE)
    assert query(request) == [("userId", USER), ("connectionName", "graph"), ("channelId", "msteams")]
    assert json.loads(request.content) == {"token": "sso.jwt"}
    assert "sso.jwt" not in repr(answer)


@pytest.mark.parametrize(
    "failure",
    [
        (400, {"error": {"code": "ConsentRequired", "message": "consent first"}}),
        (404, {"connectionName": "graph"}),
        (200, {"connectionName": "graph"}),
        (500, {"error": {"code": "ServiceError", "message": "down"}}),
    ],
    ids=["400", "404", "no-token", "500"],
)
def test_a_token_that_cannot_be_exchanged_is_a_412(env: Env, fake: FakeService, failure: tuple[int, Any]) -> None:
    handler = handler_for(env, fake)
    fake.reply(failure[0], json_body=failure[1])
    answer = handler.handle_token_exchange(token_exchange("ex-1"))
    assert (answer.status, answer.token_response) == (412, None)
    assert answer.body == TokenExchangeInvokeResponse(
        id="ex-1",
        connection_name="graph",
        failure_detail="The bot is unable to exchange token. Proceed with regular login.",
    )
    # a failed exchange is forgotten: the next delivery of the same id tries again
    fake.reply(200, json_body=TOKEN_BODY)
    again = handler.handle_token_exchange(token_exchange("ex-1"))
    assert (again.status, again.duplicate) == (200, False)
    assert len(fake.requests) == 2


def test_redeliveries_are_answered_without_a_second_exchange(env: Env, fake: FakeService) -> None:
    handler = handler_for(env, fake)
    fake.reply(200, json_body=TOKEN_BODY)
    first = handler.handle_token_exchange(token_exchange("ex-1"))
    second = handler.handle_token_exchange(token_exchange("ex-1"))
    assert (first.status, first.duplicate, second.status, second.duplicate) == (200, False, 200, True)
    assert second.body == TokenExchangeInvokeResponse(id="ex-1", connection_name="graph")
    assert second.token_response is None
    assert len(fake.requests) == 1
    # the key is channel/conversation/id: the same id elsewhere is another exchange
    fake.reply(200, json_body=TOKEN_BODY)
    assert not handler.handle_token_exchange(token_exchange("ex-1", conversation="a:other")).duplicate
    fake.reply(200, json_body=TOKEN_BODY)
    fake.reply(200, json_body=TOKEN_BODY)
    assert not handler.handle_token_exchange(token_exchange(None)).duplicate  # no id: nothing to deduplicate by
    assert not handler.handle_token_exchange(token_exchange(None)).duplicate
    assert len(fake.requests) == 4


def test_a_redelivery_during_the_exchange_is_a_duplicate(env: Env, fake: FakeService) -> None:
    """The id is claimed before the exchange starts: a redelivery arriving meanwhile never reaches the service."""
    handler = handler_for(env, fake)
    raw = handler.unwrapped if env.is_async else handler
    meanwhile: list[SignInInvokeResponse] = []

    if env.is_async:

        async def exchange(request: httpx.Request) -> httpx.Response:
            meanwhile.append(await raw.handle_token_exchange(token_exchange("ex-1")))
            return httpx.Response(200, json=TOKEN_BODY)

    else:

        def exchange(request: httpx.Request) -> httpx.Response:  # type: ignore[misc]
            meanwhile.append(raw.handle_token_exchange(token_exchange("ex-1")))
            return httpx.Response(200, json=TOKEN_BODY)

    fake.route("POST", EXCHANGE, exchange)
    first = handler.handle_token_exchange(token_exchange("ex-1"))
    assert (first.status, first.duplicate) == (200, False)
    assert [(a.status, a.duplicate) for a in meanwhile] == [(200, True)]
    assert len(fake.requests) == 1


def test_concurrent_deliveries_in_threads_exchange_once(fake: FakeService) -> None:
    import botconnect

    release = threading.Event()

    def exchange(request: httpx.Request) -> httpx.Response:
        assert release.wait(30)
        return httpx.Response(200, json=TOKEN_BODY)

    fake.route("POST", EXCHANGE, exchange)
    with botconnect.UserTokenClient(credential_for_sync(), transport=fake.transport) as client:
        handler = botconnect.SignInHandler(client, "graph")
        answers: list[SignInInvokeResponse] = []
        lock = threading.Lock()
        duplicates_answered = threading.Event()

        def deliver() -> None:
            answer = handler.handle_token_exchange(token_exchange())
            with lock:
                answers.append(answer)
                if len(answers) == 7:
                    duplicates_answered.set()

        threads = [threading.Thread(target=deliver) for _ in range(8)]
        for thread in threads:
            thread.start()
        # every delivery but the exchanging one is answered while that one is still waiting for the service
        assert duplicates_answered.wait(30)
        release.set()
        for thread in threads:
            thread.join(30)
    assert sorted((a.status, a.duplicate) for a in answers) == [(200, False)] + [(200, True)] * 7
    assert len(fake.requests) == 1


def credential_for_sync() -> Any:
    from .test_user_token import RecordingCredential

    return RecordingCredential()


def test_concurrent_tasks_exchange_once(async_env: Env, fake: FakeService) -> None:
    handler = handler_for(async_env, fake).unwrapped
    release = anyio.Event()

    async def exchange(request: httpx.Request) -> httpx.Response:
        await release.wait()
        return httpx.Response(200, json=TOKEN_BODY)

    fake.route("POST", EXCHANGE, exchange)

    async def deliver_eight() -> list[SignInInvokeResponse]:
        answers: list[SignInInvokeResponse] = []

        async def one() -> None:
            answers.append(await handler.handle_token_exchange(token_exchange()))
            if len(answers) == 7:
                release.set()  # the seven duplicates were answered while the first was still exchanging

        async with anyio.create_task_group() as group:
            for _ in range(8):
                group.start_soon(one)
        return answers

    answers = async_env.run(deliver_eight)
    assert sorted((a.status, a.duplicate) for a in answers) == [(200, False)] + [(200, True)] * 7
    assert len(fake.requests) == 1


def test_a_cancelled_exchange_releases_its_id(async_env: Env, fake: FakeService) -> None:
    handler = handler_for(async_env, fake).unwrapped
    started = anyio.Event()

    async def hang(request: httpx.Request) -> httpx.Response:
        started.set()
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    fake.route("POST", EXCHANGE, hang)

    async def cancel_mid_exchange() -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(handler.handle_token_exchange, token_exchange("ex-1"))
            await started.wait()
            group.cancel_scope.cancel()

    async_env.run(cancel_mid_exchange)
    fake._routes.clear()
    fake.reply(200, json_body=TOKEN_BODY)
    answer = async_env.portal.call(handler.handle_token_exchange, token_exchange("ex-1"))
    assert (answer.status, answer.duplicate) == (200, False)
    assert len(fake.requests) == 2


@pytest.mark.parametrize(
    ("value", "detail"),
    [
        (None, "no TokenExchangeInvokeRequest"),
        ("sso.jwt", "no TokenExchangeInvokeRequest"),
        ({"id": "ex-1", "connectionName": "github", "token": "sso.jwt"}, "connection 'github'"),
        ({"id": "ex-1", "token": "sso.jwt"}, "connection None"),
        (["ex-1", "graph", "sso.jwt"], "no TokenExchangeInvokeRequest"),
    ],
)
def test_a_bad_exchange_value_is_a_400(env: Env, fake: FakeService, value: Any, detail: str) -> None:
    answer = handler_for(env, fake).handle_token_exchange(invoke("signin/tokenExchange", value))
    assert answer.status == 400
    assert isinstance(answer.body, TokenExchangeInvokeResponse)
    assert answer.body.connection_name == "graph"
    assert answer.body.failure_detail is not None
    assert detail in answer.body.failure_detail
    assert fake.requests == []


def test_exchange_edge_cases(env: Env, fake: FakeService) -> None:
    handler = handler_for(env, fake, connection="Graph")
    assert handler.connection_name == "Graph"
    fake.reply(200, json_body=TOKEN_BODY)
    # connection names are compared case-blind; the bot's own spelling is what goes to the service
    assert handler.handle_token_exchange(token_exchange("ex-1")).status == 200
    assert dict(query(fake.last))["connectionName"] == "Graph"
    no_token = handler.handle_token_exchange(token_exchange("ex-2", token=None))
    assert (no_token.status, no_token.body.failure_detail) == (412, UNABLE_TO_EXCHANGE)
    no_sender = handler.handle_token_exchange(token_exchange("ex-3", user=None))
    assert (no_sender.status, no_sender.body.id) == (400, "ex-3")
    assert len(fake.requests) == 1
    with pytest.raises(ValueError, match="signin/tokenExchange"):
        handler.handle_token_exchange(verify_state())


def test_handler_arguments_are_checked(env: Env, fake: FakeService) -> None:
    client = env.construct("UserTokenClient", None, endpoint="http://127.0.0.1:9", transport=fake.transport)
    raw = client.unwrapped if env.is_async else client
    with pytest.raises(ValueError):
        env.construct("SignInHandler", raw, "")
    with pytest.raises(TypeError):
        env.construct("SignInHandler", raw, None)
    with pytest.raises(ValueError):
        env.construct("SignInHandler", raw, "graph", dedupe_size=0)
    assert repr(env.construct("SignInHandler", raw, "graph")) == "<SignInHandler connection_name='graph'>"
    client.close()


def test_the_dedupe_store_is_bounded() -> None:
    seen = ExchangeDeduplicator(max_entries=2)
    assert seen.claim("a")
    assert seen.claim("b")
    assert not seen.claim("a")
    seen.complete("a")
    assert seen.claim("c")  # "a", the oldest, is forgotten
    assert len(seen) == 2
    assert seen.claim("a")
    seen.release("c")
    assert seen.claim("c")
    with pytest.raises(TypeError):
        ExchangeDeduplicator(True)


def test_models_of_the_sign_in_answers_round_trip() -> None:
    answer = SignInInvokeResponse(412, TokenExchangeInvokeResponse(id="x", connection_name="g", failure_detail="d"))
    assert answer.to_dict() == {"status": 412, "body": {"id": "x", "connectionName": "g", "failureDetail": "d"}}
    assert SignInInvokeResponse.from_dict(answer.to_dict()).status == 412
