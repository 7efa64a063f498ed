"""The emulator's chat page (``GET /``) in a real browser: Debian's Chromium driven by Playwright, against the
emulator in front of a scripted bot. What the page shows is checked in the DOM and in screenshots (decoded by the
browser: sizes, colours at the places the DOM says the bubbles are); what reached the bot is checked on the bot.

``BOTCONNECT_UPDATE_SCREENSHOTS=1`` also writes the README's picture, docs/images/chat-page.png.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx
import pytest

from botconnect.emulator import Emulator
from botconnect.models import Activity

from .browser_support import WAIT_MS, ScriptedBot, analyse_png, chromium, close_to
from .threaded_server import emulator_for_bot

ROOT = Path(__file__).resolve().parents[1]
README_SCREENSHOT = ROOT / "docs" / "images" / "chat-page.png"
USER_BLUE = (0x00, 0x63, 0xB1)  # the user's bubble (chat.css --user)
VIEWPORT = {"width": 1280, "height": 760}


@pytest.fixture(scope="module")
def bot() -> ScriptedBot:
    return ScriptedBot()


@pytest.fixture(scope="module")
def emulator(bot: ScriptedBot) -> Iterator[Emulator]:
    with emulator_for_bot(bot.app) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Any, bot: ScriptedBot) -> Iterator[Any]:
    """A new browser context (empty storage) per test; page errors and CSP violations fail the test."""
    bot.received.clear()
    context = browser.new_context(viewport=VIEWPORT)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    # the page keeps to its own policy: a refused script, style or connection is a bug
    opened.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    try:
        yield opened
    finally:
        context.close()
    assert errors == [], f"the page threw: {errors}"


def open_chat(page: Any, emulator: Emulator) -> str:
    page.goto(emulator.url + "/")
    page.wait_for_selector('#status[data-state="online"]', timeout=WAIT_MS)
    conversation_id: str = page.inner_text("#conversation-id")
    assert conversation_id in emulator.directline.conversation_ids()
    return conversation_id


def send(page: Any, text: str) -> None:
    page.fill("#message-text", text)
    page.press("#message-text", "Enter")


def bot_bubbles(page: Any) -> list[str]:
    texts: list[str] = page.locator(".activity.bot .bubble").all_inner_texts()
    return [t.strip() for t in texts]


def wait_for_bot_text(page: Any, text: str) -> Any:
    locator = page.locator(".activity.bot .bubble", has_text=text)
    locator.first.wait_for(timeout=WAIT_MS)
    return locator


# -- without a browser: what the emulator serves ---------------------------------------------------------------


def test_the_root_url_serves_the_page_with_a_strict_policy(emulator: Emulator) -> None:
    with httpx.Client(base_url=emulator.url, trust_env=False) as client:
        page = client.get("/")
        script = client.get("/_emulator/chat/chat.js")
        config = client.get("/_emulator/chat/config")
        missing = client.get("/_emulator/chat/secrets.txt")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert 'src="/_emulator/chat/chat.js"' in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert "innerHTML" not in script.text
    assert config.json()["directLine"] == {"domain": "/v3/directline", "secret": emulator.secret}
    assert config.json()["bot"]["name"] == "Echo Bot"
    assert missing.status_code == 404


@pytest.mark.parametrize("path", ["/_emulator/chat/config", "/_emulator/inspector?conversationId=x"])
def test_the_secret_and_the_inspector_are_for_loopback_callers_only(path: str) -> None:
    app = Emulator(socket=False).app

    async def get_from(client_host: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=(client_host, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://emulator.localhost") as client:
            return await client.get(path)

    refused = anyio.run(get_from, "203.0.113.9")
    answered = anyio.run(get_from, "127.0.0.1")
    assert refused.status_code == 403
    assert "dev-secret" not in refused.text
    assert answered.status_code == 200


# -- in Chromium ------------------------------------------------------------------------------------------------


def test_a_message_is_echoed_and_rendered(page: Any, emulator: Emulator, bot: ScriptedBot, browser: Any) -> None:
    conversation_id = open_chat(page, emulator)
    send(page, "hello **bold** and _it_ `code` [docs](https://example.com/d) <img src=x onerror=alert(1)>")
    wait_for_bot_text(page, "echo: hello")

    received = bot.messages()
    assert len(received) == 1
    assert received[0]["conversation"]["id"] == conversation_id
    assert received[0]["text"].startswith("hello **bold**")
    assert received[0]["channelData"]["clientActivityID"]
    echo = page.locator(".activity.bot .bubble").first
    assert echo.locator("strong").inner_text() == "bold"
    assert echo.locator("em").inner_text() == "it"
    assert echo.locator("code").inner_text() == "code"
    assert echo.locator("a").get_attribute("href") == "https://example.com/d"
    assert echo.locator("img").count() == 0  # markup in text stays text
    assert "<img src=x onerror=alert(1)>" in echo.inner_text()
    mine = page.locator(".activity.user")
    assert mine.count() == 1  # the stream's copy of the user's message is not shown twice
    page.locator('.activity.user[data-state="sent"]').wait_for(timeout=WAIT_MS)

    box = mine.locator(".bubble").bounding_box()
    shot = page.screenshot()
    pixels = analyse_png(browser, shot, [(box["x"] + 6, box["y"] + box["height"] / 2)])
    assert (pixels["width"], pixels["height"]) == (VIEWPORT["width"], VIEWPORT["height"])
    assert pixels["colours"] > 20  # text, bubbles, panes: not a blank page
    assert close_to(pixels["at"][0], USER_BLUE), pixels["at"]


def test_a_suggested_action_click_sends_its_value(page: Any, emulator: Emulator, bot: ScriptedBot) -> None:
    open_chat(page, emulator)
    send(page, "choices")
    buttons = page.locator(".suggested-action")
    buttons.first.wait_for(timeout=WAIT_MS)
    assert buttons.all_inner_texts() == ["Red", "Blue"]
    buttons.nth(1).click()
    wait_for_bot_text(page, "echo: blue")
    assert [m.get("text") for m in bot.messages()] == ["choices", "blue"]
    assert page.locator(".suggested-action").count() == 0  # gone once one was used
    assert page.locator(".activity.user .bubble").all_inner_texts()[-1].strip() == "blue"


def test_cards_render_and_their_actions_reach_the_bot(
    page: Any, emulator: Emulator, bot: ScriptedBot, browser: Any
) -> None:
    open_chat(page, emulator)
    send(page, "cards")
    hero = page.locator(".hero-card")
    hero.wait_for(timeout=WAIT_MS)
    assert hero.locator(".card-title").inner_text() == "Hero title"
    assert hero.locator(".card-subtitle").inner_text() == "Hero subtitle"
    assert hero.locator(".card-text strong").inner_text() == "hero"
    assert page.locator(".thumbnail-card .card-title").inner_text() == "Thumbnail title"
    adaptive = page.locator(".adaptive-card")
    shown = json.loads(adaptive.locator(".adaptive-json").inner_text())
    assert shown["body"][0]["text"] == "Adaptive body text"
    assert adaptive.locator(".card-action").all_inner_texts() == ["Submit it", "Execute it"]

    card_shot = adaptive.screenshot()
    card_box = adaptive.bounding_box()
    assert card_box["width"] > 100
    assert card_box["height"] > 100
    assert analyse_png(browser, card_shot)["colours"] > 5

    hero.locator(".card-action").click()
    wait_for_bot_text(page, "echo: hero pressed")
    adaptive.locator(".card-action", has_text="Submit it").click()
    wait_for_bot_text(page, "submitted choice=submitted-42")
    adaptive.locator(".card-action", has_text="Execute it").click()
    wait_for_bot_text(page, "executed doThing n=7")

    submitted = [m for m in bot.messages() if m.get("value") is not None]
    assert [m["value"] for m in submitted] == [{"choice": "submitted-42"}]
    invokes = [a for a in bot.received if a.get("type") == "invoke"]
    assert len(invokes) == 1
    assert invokes[0]["name"] == "adaptiveCard/action"
    assert invokes[0]["value"]["action"] == {"type": "Action.Execute", "verb": "doThing", "data": {"n": 7}}


def test_an_uploaded_file_reaches_the_bot_once(page: Any, emulator: Emulator, bot: ScriptedBot) -> None:
    open_chat(page, emulator)
    content = b"col1,col2\n1,2\n"
    page.set_input_files("#file-input", files=[{"name": "data.csv", "mimeType": "text/csv", "buffer": content}])
    wait_for_bot_text(page, "(1 attachments: data.csv)")

    uploads = [m for m in bot.messages() if m.get("attachments")]
    assert len(uploads) == 1
    (attachment,) = uploads[0]["attachments"]
    assert attachment["name"] == "data.csv"
    assert attachment["contentType"] == "text/csv"
    with httpx.Client(trust_env=False) as client:
        assert client.get(attachment["contentUrl"]).content == content
    user_bubble = page.locator(".activity.user").last
    assert user_bubble.locator(".file-name").inner_text() == "data.csv"


def test_typing_is_shown_while_the_bot_works(page: Any, emulator: Emulator, bot: ScriptedBot) -> None:
    open_chat(page, emulator)
    with bot.slow_turn():
        send(page, "slow")
        typing = page.locator("#typing")
        typing.wait_for(state="visible", timeout=WAIT_MS)  # during the turn: the answer has not been sent
        assert "Echo Bot is typing" in typing.inner_text()
        assert "done slowly" not in bot_bubbles(page)
        bot.release()
        wait_for_bot_text(page, "done slowly")
    assert typing.is_hidden()  # the answer replaces the indicator


def test_a_streamed_update_shows_live_and_the_final_message_replaces_it(
    page: Any, emulator: Emulator, bot: ScriptedBot
) -> None:
    open_chat(page, emulator)
    with bot.slow_turn():
        send(page, "stream")
        live = page.locator(".activity.bot.streaming")
        live.wait_for(timeout=WAIT_MS)  # mid-turn: the bot has not sent its final message yet
        assert live.inner_text().endswith("Thinking...")
        bot.release()
        wait_for_bot_text(page, "The streamed answer")
    assert bot_bubbles(page) == ["The streamed answer"]  # the update's bubble became the answer
    assert page.locator(".activity.bot.streaming").count() == 0


def test_a_reload_resumes_from_the_watermark(page: Any, emulator: Emulator, bot: ScriptedBot) -> None:
    conversation_id = open_chat(page, emulator)
    send(page, "first")
    wait_for_bot_text(page, "echo: first")
    saved = json.loads(page.evaluate("sessionStorage.getItem('botconnect.chat.state')"))
    watermark = saved["watermark"]
    assert saved["conversationId"] == conversation_id
    assert watermark

    page.goto("about:blank")  # away: the bot says something while nobody listens
    emulator.directline.bot_says(conversation_id, "while you were away")
    requests: list[str] = []
    sockets: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("websocket", lambda socket: sockets.append(socket.url))
    page.goto(emulator.url + "/")
    wait_for_bot_text(page, "while you were away")
    page.wait_for_selector('#status[data-state="online"]', timeout=WAIT_MS)

    assert page.inner_text("#conversation-id") == conversation_id
    reconnects = [urlsplit(u) for u in requests if f"/v3/directline/conversations/{conversation_id}?" in u]
    assert [parse_qs(u.query) for u in reconnects] == [{"watermark": [watermark]}]
    assert not any(u.endswith("/v3/directline/conversations") for u in requests)  # no new conversation
    assert len(sockets) == 1
    assert parse_qs(urlsplit(sockets[0]).query)["watermark"] == [watermark]
    assert bot_bubbles(page) == ["echo: first", "while you were away"]  # each once: kept, then what was missed

    send(page, "second")
    wait_for_bot_text(page, "echo: second")
    texts = [a.get("text") for a in emulator.directline.activities(conversation_id)]
    assert texts == ["first", "echo: first", "while you were away", "second", "echo: second"]


def test_a_dropped_stream_is_reconnected_from_the_watermark(page: Any, emulator: Emulator, bot: ScriptedBot) -> None:
    conversation_id = open_chat(page, emulator)
    send(page, "one")
    wait_for_bot_text(page, "echo: one")
    watermark = json.loads(page.evaluate("sessionStorage.getItem('botconnect.chat.state')"))["watermark"]
    assert watermark  # saved with the frame that brought the echo
    with page.expect_websocket(timeout=WAIT_MS) as reopened:
        emulator.directline.drop_streams()
    stream = urlsplit(reopened.value.url)
    assert stream.path == f"/v3/directline/conversations/{conversation_id}/stream"
    assert parse_qs(stream.query)["watermark"] == [watermark]
    page.wait_for_selector('#status[data-state="online"]', timeout=WAIT_MS)
    emulator.directline.bot_says(conversation_id, "after the drop")
    wait_for_bot_text(page, "after the drop")
    assert bot_bubbles(page) == ["echo: one", "after the drop"]


def test_the_token_is_refreshed_halfway_through_its_life(page: Any, emulator: Emulator, bot: ScriptedBot) -> None:
    page.clock.install()  # the page's timers on a fake clock: it refreshes its 30-minute token after 15
    open_chat(page, emulator)
    first = json.loads(page.evaluate("sessionStorage.getItem('botconnect.chat.state')"))["token"]
    with page.expect_response(lambda r: r.url == f"{emulator.url}/v3/directline/tokens/refresh") as refreshed:
        page.clock.fast_forward("15:05")
    assert refreshed.value.status == 200
    assert refreshed.value.request.all_headers()["authorization"] == f"Bearer {first}"
    renewed = refreshed.value.json()["token"]
    assert renewed != first
    page.wait_for_function(
        "token => JSON.parse(sessionStorage.getItem('botconnect.chat.state')).token === token",
        arg=renewed,
        timeout=WAIT_MS,
    )
    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/activities")) as posted:
        send(page, "after the refresh")
    assert posted.value.all_headers()["authorization"] == f"Bearer {renewed}"
    wait_for_bot_text(page, "echo: after the refresh")


def test_new_conversation_starts_afresh(page: Any, emulator: Emulator, bot: ScriptedBot) -> None:
    first = open_chat(page, emulator)
    send(page, "before")
    wait_for_bot_text(page, "echo: before")
    page.click("#restart")
    page.wait_for_function(
        "id => document.getElementById('conversation-id').textContent !== id", arg=first, timeout=WAIT_MS
    )
    page.wait_for_selector('#status[data-state="online"]', timeout=WAIT_MS)
    second = page.inner_text("#conversation-id")
    assert second in emulator.directline.conversation_ids()
    assert page.locator(".activity").count() == 0
    send(page, "after")
    wait_for_bot_text(page, "echo: after")
    assert [m["conversation"]["id"] for m in bot.messages()] == [first, second]
    page.reload()
    wait_for_bot_text(page, "echo: after")
    assert page.inner_text("#conversation-id") == second  # a reload resumes the new conversation, not the old


def test_the_inspector_shows_both_directions_with_status(page: Any, emulator: Emulator, bot: ScriptedBot) -> None:
    open_chat(page, emulator)
    send(page, "inspect me")
    echo = wait_for_bot_text(page, "echo: inspect me")
    echo_id = page.locator(".activity.bot").last.get_attribute("data-activity-id")
    to_bot = page.locator('.entry[data-direction="toBot"]', has_text="inspect me")
    from_bot = page.locator(f'.entry[data-direction="fromBot"][data-activity-id="{echo_id}"]')
    to_bot.wait_for(timeout=WAIT_MS)
    from_bot.wait_for(timeout=WAIT_MS)
    assert echo.count() == 1
    assert to_bot.get_attribute("data-status") == "200"
    assert from_bot.get_attribute("data-status") == "200"
    assert to_bot.locator(".latency").inner_text().endswith(" ms")
    to_bot.locator("summary").click()
    delivered = json.loads(to_bot.locator(".entry-json").inner_text())
    assert delivered["text"] == "inspect me"
    assert delivered["serviceUrl"].startswith(emulator.url)
    assert page.locator('.entry[data-direction="toBot"]', has_text="conversationUpdate").count() == 1

    send(page, "fail")
    page.locator('.activity.user[data-state="failed"]').wait_for(timeout=WAIT_MS)
    failed = page.locator('.entry[data-direction="toBot"]', has_text='"fail"')
    failed.wait_for(timeout=WAIT_MS)
    assert failed.get_attribute("data-status") == "500"
    assert "502" in page.locator(".activity.user").last.inner_text()


def test_the_inspector_labels_a_bots_updates_deletes_and_injections(
    page: Any, emulator: Emulator, bot: ScriptedBot
) -> None:
    open_chat(page, emulator)
    send(page, "label me")
    wait_for_bot_text(page, "echo: label me")
    conversation_id = page.inner_text("#conversation-id")
    with emulator.connector_client() as connector:
        sent = connector.conversations.send_to_conversation(conversation_id, Activity(type="message", text="v1"))
        connector.conversations.update_activity(conversation_id, sent.id, Activity(type="message", text="v2"))
        connector.conversations.delete_activity(conversation_id, sent.id)
    said = emulator.directline.bot_says(conversation_id, "said by the test")
    update = page.locator(f'.entry[data-operation="update"][data-activity-id="{sent.id}"]')
    delete = page.locator(f'.entry[data-operation="delete"][data-activity-id="{sent.id}"]')
    injected = page.locator(f'.entry[data-operation="injected"][data-activity-id="{said}"]')
    for entry in (update, delete, injected):
        entry.wait_for(timeout=WAIT_MS)
    assert update.locator(".operation").inner_text() == "update"
    assert update.locator(".what").inner_text() == f'{sent.id}: message "v2"'
    assert delete.locator(".what").inner_text() == f"deleted {sent.id}"
    assert delete.get_attribute("data-status") == "200"
    assert injected.locator(".operation").inner_text() == "bot_says()"
    assert injected.locator(".status").inner_text() == "no call"
    assert page.locator(f'.entry[data-operation="send"][data-activity-id="{sent.id}"] .operation').count() == 0


def test_the_readme_screenshot(page: Any, emulator: Emulator, bot: ScriptedBot, browser: Any, tmp_path: Path) -> None:
    open_chat(page, emulator)
    send(page, "Hello **bot**, what can you do?")
    wait_for_bot_text(page, "echo: Hello")
    send(page, "cards")
    page.locator(".adaptive-card").wait_for(timeout=WAIT_MS)
    send(page, "choices")
    page.locator(".suggested-action").first.wait_for(timeout=WAIT_MS)
    page.locator('.entry[data-direction="fromBot"]', has_text="Pick a colour").wait_for(timeout=WAIT_MS)
    page.locator('.entry[data-direction="toBot"]', has_text='"choices"').wait_for(timeout=WAIT_MS)
    target = README_SCREENSHOT if os.environ.get("BOTCONNECT_UPDATE_SCREENSHOTS") == "1" else tmp_path / "chat.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    shot = page.screenshot(path=str(target))
    transcript = page.locator("#transcript").bounding_box()
    inspector = page.locator(".inspector").bounding_box()
    assert transcript["x"] + transcript["width"] <= inspector["x"]  # side by side, neither hides the other
    last = page.locator(".activity").last.bounding_box()
    assert transcript["y"] <= last["y"]
    assert last["y"] + last["height"] <= transcript["y"] + transcript["height"]
    assert analyse_png(browser, shot)["colours"] > 30
