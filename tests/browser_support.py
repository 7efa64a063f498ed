"""What the browser tests share: Debian's Chromium driven by Playwright for Python, a scripted bot, a server in a
thread, ``npm ci`` for a Node project, and pixel checks of screenshots done by the browser itself.

Chromium is ``/usr/bin/chromium`` (``apt-get install chromium``; ``.ci/run`` installs it): Playwright's own browser
download is never used. A missing or broken Chromium fails the tests, it never skips them.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

CHROMIUM = "/usr/bin/chromium"
#: Chromium on a closed network: no background connections, no first-run or sync chatter, no sandbox as root
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: bounded waits for a real browser (milliseconds, Playwright's unit); no test asserts on how long anything took
WAIT_MS = 15_000
#: how long the slow turn of the scripted bot waits to be released by the test
SLOW_TURN_LIMIT = 30.0
NPM_CI_TIMEOUT = 600.0


@contextmanager
def chromium() -> Iterator[Any]:
    """Playwright's Chromium driver on Debian's Chromium, with a fresh profile; closed afterwards."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)", pytrace=False)
    with sync_playwright() as playwright:
        # Playwright gives every launch a new, empty user-data-dir of its own
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def npm_ci(project: Path) -> None:
    """``npm ci`` in ``project`` unless its node_modules is complete and newer than the lock; fails loudly."""
    installed = project / "node_modules" / ".package-lock.json"  # npm writes it once an install completes
    lock = project / "package-lock.json"
    if installed.is_file() and installed.stat().st_mtime >= lock.stat().st_mtime:
        return
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("`npm` is not on PATH: the Web Chat tests install botframework-webchat with it", pytrace=False)
    try:
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=NPM_CI_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"`npm ci` in {project} took over {NPM_CI_TIMEOUT:.0f} s", pytrace=False)
    if done.returncode != 0:
        pytest.fail(f"`npm ci` in {project} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}", pytrace=False)


# -- the scripted bot -------------------------------------------------------------------------------------------

HERO = {
    "contentType": "application/vnd.microsoft.card.hero",
    "content": {
        "title": "Hero title",
        "subtitle": "Hero subtitle",
        "text": "A **hero** card",
        "buttons": [{"type": "imBack", "title": "Hero button", "value": "hero pressed"}],
    },
}
THUMBNAIL = {
    "contentType": "application/vnd.microsoft.card.thumbnail",
    "content": {"title": "Thumbnail title", "text": "A thumbnail card"},
}
ADAPTIVE = {
    "contentType": "application/vnd.microsoft.card.adaptive",
    "content": {
        "type": "AdaptiveCard",
        "version": "1.5",
        "body": [{"type": "TextBlock", "text": "Adaptive body text"}],
        "actions": [
            {"type": "Action.Submit", "title": "Submit it", "data": {"choice": "submitted-42"}},
            {"type": "Action.Execute", "title": "Execute it", "verb": "doThing", "data": {"n": 7}},
        ],
    },
}
CHOICES = [
    {"type": "imBack", "title": "Red", "value": "red"},
    {"type": "imBack", "title": "Blue", "value": "blue"},
]


class ScriptedBot:
    """A bot answering by what it is told: ``cards``, ``choices`` (suggested actions), ``slow`` (typing, then the
    answer once the test calls :meth:`release`), ``stream`` (a streamed update, then the final message once
    released), ``fail`` (HTTP 500); anything else is echoed, with the number and names of the attachments. Every
    activity it receives is kept in :attr:`received`."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        #: its messaging endpoint, once something serves :attr:`app`
        self.endpoint = ""
        self._released = threading.Event()
        self._released.set()
        self.app = Starlette(routes=[Route("/api/messages", self._messages, methods=["POST"])])

    def messages(self) -> list[dict[str, Any]]:
        return [a for a in list(self.received) if a.get("type") == "message"]

    @contextmanager
    def slow_turn(self) -> Iterator[None]:
        """Within the block, a ``slow`` turn waits after its typing for :meth:`release` (it is released at exit)."""
        self._released.clear()
        try:
            yield
        finally:
            self._released.set()

    def release(self) -> None:
        self._released.set()

    async def _messages(self, request: Request) -> Response:
        activity = await request.json()
        self.received.append(activity)
        kind = activity.get("type")
        if kind == "invoke" and activity.get("name") == "adaptiveCard/action":
            action = (activity.get("value") or {}).get("action") or {}
            await self._reply(activity, text=f"executed {action.get('verb')} {_pairs(action.get('data'))}")
            return JSONResponse(
                {"statusCode": 200, "type": "application/vnd.microsoft.activity.message", "value": "ok"}
            )
        if kind != "message":
            return Response(status_code=200)
        text = (activity.get("text") or "").strip()
        if activity.get("value") is not None and not text:
            await self._reply(activity, text=f"submitted {_pairs(activity['value'])}")
        elif text == "cards":
            await self._reply(activity, text="Here are cards", attachments=[HERO, THUMBNAIL, ADAPTIVE])
        elif text == "choices":
            await self._reply(activity, text="Pick a colour", suggestedActions={"actions": CHOICES})
        elif text == "slow":
            await self._reply(activity, type="typing")
            await anyio.to_thread.run_sync(self._released.wait, SLOW_TURN_LIMIT)
            await self._reply(activity, text="done slowly")
        elif text == "stream":  # a streamed answer: an informative update, then (once released) the final message
            info = {"type": "streaminfo", "streamType": "informative", "streamSequence": 1}
            first = await self._reply(activity, type="typing", text="Thinking...", entities=[info])
            await anyio.to_thread.run_sync(self._released.wait, SLOW_TURN_LIMIT)
            final = {"type": "streaminfo", "streamId": first, "streamType": "final"}
            await self._reply(activity, text="The streamed answer", entities=[final])
        elif text == "fail":
            return JSONResponse({"error": "the scripted bot fails on purpose"}, status_code=500)
        else:
            attachments = activity.get("attachments") or []
            names = ", ".join(str(a.get("name")) for a in attachments)
            suffix = f" ({len(attachments)} attachments: {names})" if attachments else ""
            await self._reply(activity, text=f"echo: {text}{suffix}")
        return Response(status_code=200)

    async def _reply(self, activity: dict[str, Any], **fields: Any) -> str:
        """Post a reply through the Connector; returns the id the channel gave it."""
        conversation = activity["conversation"]["id"]
        reply = {
            "type": "message",
            "from": activity["recipient"],
            "recipient": activity["from"],
            "conversation": activity["conversation"],
            "replyToId": activity["id"],
            **fields,
        }
        url = f"{activity['serviceUrl'].rstrip('/')}/v3/conversations/{conversation}/activities/{activity['id']}"
        async with httpx.AsyncClient(trust_env=False, timeout=10) as client:
            answer = await client.post(url, json=reply)
        answer.raise_for_status()
        given: str = answer.json()["id"]
        return given


def _pairs(value: Any) -> str:
    """``key=value`` pairs of a JSON object (no quotes: Web Chat's markdown would curl them)."""
    if isinstance(value, dict):
        return " ".join(f"{key}={value[key]}" for key in sorted(value))
    return json.dumps(value)


# -- screenshots ----------------------------------------------------------------------------------------------

_ANALYSE = """async ([data, points]) => {
  const image = new Image();
  image.src = "data:image/png;base64," + data;
  await image.decode();
  const canvas = document.createElement("canvas");
  canvas.width = image.width;
  canvas.height = image.height;
  const context = canvas.getContext("2d");
  context.drawImage(image, 0, 0);
  const pixels = context.getImageData(0, 0, image.width, image.height).data;
  const colours = new Set();
  for (let i = 0; i < pixels.length; i += 4 * 7) colours.add((pixels[i] << 16) | (pixels[i + 1] << 8) | pixels[i + 2]);
  const at = points.map(([x, y]) => {
    const i = (Math.floor(y) * image.width + Math.floor(x)) * 4;
    return [pixels[i], pixels[i + 1], pixels[i + 2]];
  });
  return { width: image.width, height: image.height, colours: colours.size, at };
}"""


def analyse_png(browser: Any, png: bytes, points: list[tuple[float, float]] | None = None) -> dict[str, Any]:
    """Size, number of distinct colours (sampled) and the RGB at ``points`` of a PNG, decoded by Chromium."""
    page = browser.new_page()
    try:
        spots = [list(p) for p in points or []]
        result: dict[str, Any] = page.evaluate(_ANALYSE, [base64.b64encode(png).decode(), spots])
    finally:
        page.close()
    return result


def close_to(rgb: list[int], expected: tuple[int, int, int], tolerance: int = 12) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(rgb, expected, strict=True))
