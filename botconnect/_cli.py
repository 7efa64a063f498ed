"""``python -m botconnect chat``: talk to a bot over Direct Line from a terminal.

Each line typed is sent as a message; the bot's activities are printed as they arrive (over the WebSocket stream,
or by polling with ``--poll``). ``/quit`` or end of input leaves (after waiting a little for the answer to the
last message); the connection's status changes go to stderr. Credentials come from the options or from
``DIRECTLINE_SECRET`` / ``DIRECTLINE_TOKEN`` / ``DIRECTLINE_ENDPOINT``; ``--emulator`` starts a private emulator
(with its echo bot) in this process instead, and says how to join a running one. A message the bot fails (or
cannot be reached for) is reported as its typed error and the chat goes on.
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import IO, TYPE_CHECKING, NamedTuple

import anyio
import anyio.from_thread
from anyio.streams.memory import MemoryObjectSendStream

if TYPE_CHECKING:
    from botconnect.models import Activity

    from .directline import ConnectionStatus

__all__ = ["main", "parser"]

DEFAULT_ENDPOINT = "https://directline.botframework.com"


class Connection(NamedTuple):
    secret: str | None
    token: str | None
    endpoint: str


QUIT = "/quit"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m botconnect", description="botconnect command-line tools.")
    commands = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chat = commands.add_parser(
        "chat",
        help="talk to a bot over Direct Line from the terminal",
        description="Talk to a bot over Direct Line: each line you type is sent, the bot's replies are printed as "
        f"they arrive. {QUIT} or end of input (Ctrl+D) leaves.",
        epilog="Without --secret or --token, DIRECTLINE_SECRET or DIRECTLINE_TOKEN is used (and DIRECTLINE_ENDPOINT "
        "without --endpoint).",
    )
    where = chat.add_mutually_exclusive_group()
    where.add_argument("--secret", help="the bot's Direct Line secret")
    where.add_argument("--token", help="a Direct Line token (from your token service)")
    where.add_argument(
        "--emulator", action="store_true", help="start botconnect's local emulator with its echo bot and talk to it"
    )
    chat.add_argument("--endpoint", help=f"the Direct Line endpoint (default {DEFAULT_ENDPOINT})")
    chat.add_argument("--user", default="terminal-user", help="your user id (default terminal-user)")
    chat.add_argument("--conversation", metavar="ID", help="resume this conversation instead of starting one")
    chat.add_argument("--poll", action="store_true", help="poll for activities instead of using the WebSocket stream")
    chat.add_argument(
        "--wait",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="on leaving, how long to wait for the answer to the last message (default 10)",
    )
    return p


def describe(activity: Activity) -> str | None:
    """How an activity from the bot is shown (None: not at all)."""
    from botconnect.models import ActivityTypes, HeroCard

    sender = activity.from_property
    name = (sender.name or sender.id) if sender is not None else None
    prefix = f"{name or 'bot'}> "
    if activity.type == ActivityTypes.MESSAGE:
        lines = [activity.text] if activity.text else []
        for attachment in activity.attachments or []:
            if attachment.content_type == HeroCard.CONTENT_TYPE and isinstance(attachment.content, dict):
                card = attachment.content_as(HeroCard)
                buttons = " | ".join(str(button.title) for button in card.buttons or [])
                lines.append(f"[card] {card.title or ''}: {card.text or ''}" + (f" [{buttons}]" if buttons else ""))
            else:
                lines.append(f"[attachment] {attachment.name or attachment.content_url or attachment.content_type}")
        return prefix + ("\n" + " " * len(prefix)).join(lines or [""])
    if activity.type == ActivityTypes.END_OF_CONVERSATION:
        return f"* {name or 'the bot'} ended the conversation" + (f" ({activity.code})" if activity.code else "")
    if activity.type == ActivityTypes.TYPING:
        return None
    return f"* {activity.type} from {name or 'the bot'}"


class _Chat:
    def __init__(self, out: IO[str], err: IO[str], user: str) -> None:
        self.out, self.err, self.user = out, err, user
        #: ids of our messages not answered yet (a bot message answers its replyToId, or the oldest)
        self.unanswered: list[str] = []
        self.answered = anyio.Event()
        self._online_before = False

    def status(self, status: ConnectionStatus) -> None:
        name = status.name.lower().replace("_", " ")
        if name == "connecting" and self._online_before:
            name = "reconnecting"
        self._online_before = self._online_before or name == "online"
        print(f"* {name}", file=self.err, flush=True)

    def show(self, activity: Activity) -> None:
        from botconnect.models import ActivityTypes

        if activity.from_property is not None and activity.from_property.id == self.user:
            return  # our own message, echoed back by the channel
        line = describe(activity)
        if line is not None:
            print(line, file=self.out, flush=True)
        if activity.type == ActivityTypes.END_OF_CONVERSATION:
            self.unanswered.clear()
        elif activity.type == ActivityTypes.MESSAGE and self.unanswered:
            reply_to = activity.reply_to_id
            self.unanswered.remove(reply_to if reply_to in self.unanswered else self.unanswered[0])
        if not self.unanswered:
            self.answered.set()

    def sent(self, activity_id: str | None) -> None:
        if activity_id:
            self.unanswered.append(activity_id)
            self.answered = anyio.Event()


def _read_lines(fd: int, portal: anyio.from_thread.BlockingPortal, lines: MemoryObjectSendStream[str | None]) -> None:
    """Read lines from ``fd`` (a daemon thread: os.read, so a read still blocked at exit holds no lock)."""
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    pending = ""
    try:
        while True:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                chunk = b""
            pending += decoder.decode(chunk, final=not chunk)
            *complete, pending = pending.split("\n")
            for line in complete:
                portal.call(lines.send, line)
            if not chunk:
                if pending:
                    portal.call(lines.send, pending)
                portal.call(lines.send, None)
                return
    except (RuntimeError, anyio.BrokenResourceError, anyio.ClosedResourceError):
        return  # the chat is over


def _describe_error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


async def chat(connection: Connection, user: str, *, conversation_id: str | None, streaming: bool, wait: float) -> int:
    import botconnect_aio
    from botconnect.errors import BotConnectError

    session = _Chat(sys.stdout, sys.stderr, user)
    send_lines, receive_lines = anyio.create_memory_object_stream[str | None](16)
    async with (
        botconnect_aio.DirectLineClient(
            secret=connection.secret, token=connection.token, endpoint=connection.endpoint
        ) as client,
        client.open_conversation(
            conversation_id=conversation_id, user=user, streaming=streaming, on_status=session.status
        ) as conversation,
        anyio.from_thread.BlockingPortal() as portal,
        anyio.create_task_group() as tasks,
    ):
        print(
            f"* conversation {conversation.conversation_id} as {user}: type a message and Enter, {QUIT} to leave",
            file=sys.stderr,
            flush=True,
        )

        failed: list[BotConnectError] = []

        async def receive() -> None:
            try:
                async for activity in conversation.activities():
                    session.show(activity)
            except BotConnectError as exc:  # the session ended on an error (an expired token, a lost service)
                print(f"* the conversation ended: {_describe_error(exc)}", file=sys.stderr, flush=True)
                failed.append(exc)
            else:
                print("* the conversation has ended", file=sys.stderr, flush=True)
            tasks.cancel_scope.cancel()

        tasks.start_soon(receive)
        reader = threading.Thread(
            target=_read_lines, args=(sys.stdin.fileno(), portal, send_lines), name="stdin", daemon=True
        )
        reader.start()
        async with receive_lines:
            async for line in receive_lines:
                text = (line or "").rstrip("\r")
                if line is None or text.strip() == QUIT:
                    break
                if not text.strip():
                    continue
                try:
                    session.sent(await conversation.send(text))
                except BotConnectError as exc:  # the bot failed this one (502) or is unreachable: say so, go on
                    print(f"* not delivered: {_describe_error(exc)}", file=sys.stderr, flush=True)
        if session.unanswered:
            with anyio.move_on_after(wait):
                await session.answered.wait()
        tasks.cancel_scope.cancel()
    return 1 if failed else 0


@contextlib.contextmanager
def _connection(args: argparse.Namespace) -> Iterator[Connection]:
    """Where to connect, as the arguments ask (starting an emulator for --emulator)."""
    if args.emulator:
        try:
            from botconnect.emulator import Emulator
        except ImportError as exc:  # the emulator extra is missing
            raise SystemExit('--emulator needs the emulator extra: pip install "botconnect[emulator]"') from exc
        with Emulator() as emulator:
            print(
                f"* started a private emulator with its echo bot at {emulator.url}: it serves this chat only and "
                "stops when you leave.\n"
                "* to join a running emulator instead (your bot, the chat page, other clients), start one with "
                "'python -m botconnect.emulator' and run 'python -m botconnect chat --endpoint http://127.0.0.1:5005 "
                f"--secret {emulator.secret}'",
                file=sys.stderr,
                flush=True,
            )
            yield Connection(emulator.secret, None, emulator.url)
        return
    secret = args.secret or (None if args.token else os.environ.get("DIRECTLINE_SECRET"))
    token = args.token or (None if secret else os.environ.get("DIRECTLINE_TOKEN"))
    if not secret and not token:
        raise SystemExit("give --secret, --token or --emulator (or set DIRECTLINE_SECRET or DIRECTLINE_TOKEN)")
    endpoint = args.endpoint or os.environ.get("DIRECTLINE_ENDPOINT") or DEFAULT_ENDPOINT
    yield Connection(secret, None, endpoint) if secret else Connection(None, token, endpoint)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command != "chat":  # pragma: no cover - argparse allows only the known commands
        return 2
    from botconnect.errors import BotConnectError

    try:
        with _connection(args) as connection:
            return anyio.run(
                lambda: chat(
                    connection, args.user, conversation_id=args.conversation, streaming=not args.poll, wait=args.wait
                )
            )
    except KeyboardInterrupt:
        return 130
    except BotConnectError as exc:
        print(f"error: {_describe_error(exc)}", file=sys.stderr)
        return 1
    except BaseExceptionGroup as group:  # from the chat's task group: report the SDK's errors, not a traceback
        matched, rest = group.split(BotConnectError)
        if rest is not None or matched is None:
            raise
        for leaf in _leaves(matched):
            print(f"error: {_describe_error(leaf)}", file=sys.stderr)
        return 1


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]
