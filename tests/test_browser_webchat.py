"""Microsoft's Web Chat (botframework-webchat 4.18, from npm) against the emulator, in Debian's Chromium, from a
page on another loopback origin (a second port): the client most Direct Line users embed, run as they run it.

tests/interop/webchat holds the pinned package.json and package-lock.json, the host page and its script
(host.js, which resumes the conversation after a reload as Web Chat's reconnect sample does); the module's setup
runs ``npm ci`` there when node_modules is missing or stale. The host server serves only those files and the
package's prebuilt bundle (dist/webchat.js). What reaches the bot is checked on the bot, what the user sees in the DOM.
"""

from __future__ import annotations

import collections
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from botconnect.emulator import Emulator

from .browser_support import WAIT_MS, ScriptedBot, chromium, npm_ci
from .threaded_server import serving

PROJECT = Path(__file__).resolve().parent / "interop" / "webchat"
USER_ID = "webchat-user"
SEND_BOX = '[data-id="webchat-sendbox-input"]'
BOT_BUBBLES = ".webchat__bubble:not(.webchat__bubble--from-user) .webchat__bubble__content"
USER_BUBBLES = ".webchat__bubble--from-user .webchat__bubble__content"


def host_app() -> Starlette:
    """The web site hosting Web Chat on its own origin: the page, its script and Web Chat's prebuilt bundle."""
    files = {
        "/": PROJECT / "index.html",
        "/host.js": PROJECT / "host.js",
        "/webchat.js": PROJECT / "node_modules" / "botframework-webchat" / "dist" / "webchat.js",
    }

    async def serve(request: Request) -> Response:
        return FileResponse(files[request.url.path])

    return Starlette(routes=[Route(path, serve, methods=["GET"]) for path in files])


@pytest.fixture(scope="module")
def bot() -> Iterator[ScriptedBot]:
    scripted = ScriptedBot()
    with serving(scripted.app) as url:
        scripted.endpoint = url + "/api/messages"
        yield scripted


@pytest.fixture(scope="module")
def emulator(bot: ScriptedBot) -> Iterator[Emulator]:
    with Emulator(bot=bot.endpoint) as running:
        yield running


@pytest.fixture(scope="module")
def host() -> Iterator[str]:
    npm_ci(PROJECT)
    with serving(host_app()) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page_errors() -> list[str]:
    """What the page threw; the test fails on any it did not expect (and remove from this list)."""
    return []


@pytest.fixture
def page(browser: Any, bot: ScriptedBot, page_errors: list[str]) -> Iterator[Any]:
    bot.received.clear()
    context = browser.new_context(viewport={"width": 900, "height": 900})
    opened = context.new_page()
    opened.on("pageerror", lambda exc: page_errors.append(str(exc)))
    try:
        yield opened
    finally:
        context.close()
    assert page_errors == [], f"Web Chat threw: {page_errors}"


def token_for(emulator: Emulator) -> str:
    """A Direct Line token for a new conversation, as a web site's backend gets one for its page."""
    answer = httpx.post(
        f"{emulator.url}/v3/directline/tokens/generate",
        headers={"Authorization": f"Bearer {emulator.secret}"},
        json={"user": {"id": USER_ID, "name": "Web Chat user"}},
        trust_env=False,
    )
    answer.raise_for_status()
    token: str = answer.json()["token"]
    return token


def page_url(host: str, emulator: Emulator, token: str) -> str:
    return f"{host}/#domain={emulator.url}/v3/directline&token={token}&user={USER_ID}"


def open_webchat(page: Any, host: str, emulator: Emulator, token: str | None = None) -> str:
    page.goto(page_url(host, emulator, token or token_for(emulator)))
    page.wait_for_selector('body[data-connection-status="2"]', timeout=WAIT_MS)  # ConnectionStatus.Online
    conversation_id: str = page.evaluate("window.hostDirectLine.conversationId")
    return conversation_id


def send(page: Any, text: str) -> None:
    box = page.locator(SEND_BOX)
    box.fill(text)
    box.press("Enter")


def wait_for_bot_text(page: Any, text: str) -> None:
    page.locator(BOT_BUBBLES, has_text=text).first.wait_for(timeout=WAIT_MS)


def bot_texts(page: Any) -> list[str]:
    return [t.strip() for t in page.locator(BOT_BUBBLES).all_inner_texts()]


def test_messages_cross_origins(page: Any, host: str, emulator: Emulator, bot: ScriptedBot) -> None:
    assert urlsplit(host).port != urlsplit(emulator.url).port  # two origins: every call is cross-origin
    responses: list[Any] = []
    page.on("response", lambda response: responses.append(response))
    conversation_id = open_webchat(page, host, emulator)
    send(page, "hello **world**")
    wait_for_bot_text(page, "echo: hello world")

    (received,) = bot.messages()
    assert received["text"] == "hello **world**"
    assert received["from"]["id"] == USER_ID
    assert received["conversation"]["id"] == conversation_id
    assert page.locator(BOT_BUBBLES).first.locator("strong").inner_text() == "world"  # Web Chat's own markdown
    origin = host.rstrip("/")
    to_emulator = [r for r in responses if r.url.startswith(emulator.url)]
    assert any(r.request.method == "POST" and r.url.endswith("/activities") for r in to_emulator)
    for response in to_emulator:
        assert response.request.all_headers().get("origin") == origin, response.url
        assert response.all_headers().get("access-control-allow-origin") == origin, response.url


def test_a_burst_reaches_the_bot_once_each(page: Any, host: str, emulator: Emulator, bot: ScriptedBot) -> None:
    open_webchat(page, host, emulator)
    burst = [f"burst {n}" for n in range(1, 9)]
    for text in burst:
        send(page, text)
    for text in burst:
        wait_for_bot_text(page, f"echo: {text}")
    assert collections.Counter(m["text"] for m in bot.messages()) == collections.Counter(burst)
    echoes = collections.Counter(bot_texts(page))
    assert all(echoes[f"echo: {text}"] == 1 for text in burst), echoes
    assert sorted(t.strip() for t in page.locator(USER_BUBBLES).all_inner_texts()) == sorted(burst)


@pytest.mark.parametrize("count", [1, 2])
def test_an_upload_gives_one_attachment_per_file(
    page: Any, host: str, emulator: Emulator, bot: ScriptedBot, count: int
) -> None:
    open_webchat(page, host, emulator)
    files = [
        {"name": f"file{n}.txt", "mimeType": "text/plain", "buffer": f"content of file {n}\n".encode()}
        for n in range(1, count + 1)
    ]
    page.set_input_files(".webchat__upload-button--file-input", files=files)  # 4.18 attaches them to the send box
    page.locator(".webchat__send-button").click()
    names = ", ".join(f["name"] for f in files)
    wait_for_bot_text(page, f"({count} attachments: {names})")

    uploads = [m for m in bot.messages() if m.get("attachments")]
    assert len(uploads) == 1  # one message reached the bot ...
    attachments = uploads[0]["attachments"]
    assert [a.get("name") for a in attachments] == [f["name"] for f in files]  # ... with one attachment per file
    with httpx.Client(trust_env=False) as client:
        for attachment, sent in zip(attachments, files, strict=True):
            assert attachment["contentType"] == "text/plain"
            assert client.get(attachment["contentUrl"]).content == sent["buffer"]


def test_cards_and_their_actions(page: Any, host: str, emulator: Emulator, bot: ScriptedBot) -> None:
    open_webchat(page, host, emulator)
    send(page, "cards")
    cards = page.locator(".ac-adaptiveCard")
    page.locator(".ac-adaptiveCard", has_text="Adaptive body text").wait_for(timeout=WAIT_MS)
    assert cards.count() == 3  # hero and thumbnail cards are rendered as Adaptive Cards too
    assert "Hero title" in cards.nth(0).inner_text()
    assert "Thumbnail title" in cards.nth(1).inner_text()
    box = cards.nth(2).bounding_box()
    assert box["width"] > 100
    assert box["height"] > 50

    page.locator('.ac-pushButton[title="Submit it"]').click()
    wait_for_bot_text(page, "submitted choice=submitted-42")
    page.locator('.ac-pushButton[title="Hero button"]').click()
    wait_for_bot_text(page, "echo: hero pressed")
    submitted = [m["value"] for m in bot.messages() if m.get("value") is not None]
    assert submitted == [{"choice": "submitted-42"}]

    send(page, "choices")
    page.locator(".webchat__suggested-actions__button", has_text="Blue").click(timeout=WAIT_MS)
    wait_for_bot_text(page, "echo: blue")
    assert [m.get("text") for m in bot.messages()][-1] == "blue"


def test_typing_shows_during_a_slow_turn(page: Any, host: str, emulator: Emulator, bot: ScriptedBot) -> None:
    open_webchat(page, host, emulator)
    with bot.slow_turn():
        send(page, "slow")
        page.locator(".webchat__typing-indicator").wait_for(state="visible", timeout=WAIT_MS)
        assert "done slowly" not in bot_texts(page)  # the turn is still open: the typing came first
        bot.release()
        wait_for_bot_text(page, "done slowly")
    page.locator(".webchat__typing-indicator").wait_for(state="hidden", timeout=WAIT_MS)


def test_a_reload_resumes_from_the_watermark(page: Any, host: str, emulator: Emulator, bot: ScriptedBot) -> None:
    token = token_for(emulator)
    conversation_id = open_webchat(page, host, emulator, token)
    send(page, "first")
    wait_for_bot_text(page, "echo: first")
    saved = json.loads(page.evaluate("sessionStorage.getItem('webchat.resume')"))
    assert saved["conversationId"] == conversation_id
    watermark = saved["watermark"]
    assert watermark

    page.goto("about:blank")
    emulator.directline.bot_says(conversation_id, "while you were away")
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    open_webchat(page, host, emulator, token)
    wait_for_bot_text(page, "while you were away")

    assert page.evaluate("window.hostResumed") is True
    assert page.evaluate("window.hostDirectLine.conversationId") == conversation_id
    reconnects = [urlsplit(u) for u in requests if f"/v3/directline/conversations/{conversation_id}?" in u]
    assert [parse_qs(u.query) for u in reconnects] == [{"watermark": [watermark]}]
    assert f"{emulator.url}/v3/directline/conversations" not in requests  # no new conversation was started
    assert bot_texts(page) == ["while you were away"]  # only what came after the watermark, once

    send(page, "second")
    wait_for_bot_text(page, "echo: second")
    texts = [a.get("text") for a in emulator.directline.activities(conversation_id)]
    assert texts == ["first", "echo: first", "while you were away", "second", "echo: second"]


def test_the_token_is_renewed_before_it_expires(page: Any, host: str, emulator: Emulator, bot: ScriptedBot) -> None:
    page.clock.install()  # the page's timers on a fake clock: DirectLineJS renews its token every 15 minutes
    first = token_for(emulator)
    open_webchat(page, host, emulator, first)
    send(page, "before")
    wait_for_bot_text(page, "echo: before")
    with page.expect_response(lambda r: r.url == f"{emulator.url}/v3/directline/tokens/refresh") as refreshed:
        page.clock.fast_forward("15:05")
    assert refreshed.value.status == 200
    assert refreshed.value.request.all_headers()["authorization"] == f"Bearer {first}"
    renewed = refreshed.value.json()["token"]
    assert renewed != first
    page.wait_for_function("token => window.hostDirectLine.token === token", arg=renewed, timeout=WAIT_MS)

    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/activities")) as posted:
        send(page, "after")
    assert posted.value.all_headers()["authorization"] == f"Bearer {renewed}"
    wait_for_bot_text(page, "echo: after")
    assert [m["text"] for m in bot.messages()] == ["before", "after"]
    left = emulator.directline.token_expires_in(renewed)
    assert left is not None
    assert left > 0


def test_an_expired_token_is_refused_and_a_new_one_resumes_the_conversation(
    page: Any, host: str, emulator: Emulator, bot: ScriptedBot, page_errors: list[str]
) -> None:
    conversation_id = open_webchat(page, host, emulator)
    send(page, "before")
    wait_for_bot_text(page, "echo: before")
    emulator.directline.expire_tokens()
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/activities")) as refused:
        send(page, "during")
    assert refused.value.status == 403
    page.wait_for_function("() => window.hostStatuses.includes(3)", timeout=WAIT_MS)  # ConnectionStatus.ExpiredToken
    assert [m["text"] for m in bot.messages()] == ["before"]

    # the site's backend gets a token for the same conversation with its secret; the page starts Web Chat with it
    renewed = httpx.get(
        f"{emulator.url}/v3/directline/conversations/{conversation_id}",
        headers={"Authorization": f"Bearer {emulator.secret}"},
        trust_env=False,
    )
    assert renewed.status_code == 200
    token = renewed.json()["token"]
    page.evaluate(
        """token => {
          const saved = JSON.parse(sessionStorage.getItem("webchat.resume"));
          sessionStorage.setItem("webchat.resume", JSON.stringify({ ...saved, token }));
        }""",
        token,
    )
    page.reload()
    page.wait_for_selector('body[data-connection-status="2"]', timeout=WAIT_MS)
    assert page.evaluate("window.hostDirectLine.conversationId") == conversation_id
    send(page, "after")
    wait_for_bot_text(page, "echo: after")
    assert [m["text"] for m in bot.messages()] == ["before", "after"]
    assert "echo: before" not in bot_texts(page)  # resumed from the watermark, not replayed
    # the first instance, its retries refused, may have given up before the reload ("conversation ended"), as it
    # does with the service; nothing else may have gone wrong
    page_errors[:] = [e for e in page_errors if e != "conversation ended"]


def test_a_restarted_emulator_with_state_resumes_the_conversation(
    page: Any, host: str, bot: ScriptedBot, tmp_path: Path
) -> None:
    state = tmp_path / "emulator.sqlite"
    with Emulator(bot=bot.endpoint, state_file=state) as before:
        conversation_id = open_webchat(page, host, before)
        send(page, "first")
        wait_for_bot_text(page, "echo: first")
        port = urlsplit(before.url).port
        page.goto("about:blank")  # the page goes away while the emulator restarts
    with Emulator(bot=bot.endpoint, state_file=state, port=port) as after:
        after.directline.bot_says(conversation_id, "after the restart")
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        page.goto(page_url(host, after, "unused"))  # resumes with the conversation id, token and watermark it kept
        page.wait_for_selector('body[data-connection-status="2"]', timeout=WAIT_MS)
        wait_for_bot_text(page, "after the restart")
        assert page.evaluate("window.hostResumed") is True
        assert not any(u.endswith("/v3/directline/conversations") for u in requests)  # the same conversation
        send(page, "second")
        wait_for_bot_text(page, "echo: second")
        texts = [a.get("text") for a in after.directline.activities(conversation_id)]
    assert texts == ["first", "echo: first", "after the restart", "second", "echo: second"]
    assert bot_texts(page) == ["after the restart", "echo: second"]
