"""``python -m botconnect.emulator``: serve the emulator on loopback until Ctrl+C (or SIGTERM).

It prints what it serves -- the base URL, the Direct Line endpoint and secret, the Connector serviceUrl, the ACS
endpoint with a sample user token, the bot and the faults; with ``--app-id``, the OpenID metadata a bot checks the
delivered tokens against and the ``CloudSettings`` to build for that -- and serves until stopped.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from .app import DEFAULT_BOT_ACCOUNT
from .cors import normalize_origin
from .faults import TOKEN_FAULTS, FaultRule, Faults
from .persistence import StateFileError
from .server import Emulator, is_loopback_host
from .signing import cloud_code

__all__ = ["main", "parser"]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m botconnect.emulator",
        description="A local Bot Framework channel: Direct Line 3.0, Bot Connector v3 and ACS Chat, on loopback.",
        epilog="Fault rules (--fault, repeatable) are KIND[:PREFIX[:RATE[:ARG]]]: KIND is an HTTP status (429, 503, "
        "500...), drop, drop-response or latency; ARG is the Retry-After (statuses) or the delay (latency) in "
        "seconds. Example: --fault 429:/v3/conversations:0.1:2 --fault drop:/v3/directline:0.05",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; loopback only)")
    p.add_argument("--port", type=int, default=5005, help="port to bind (default 5005; 0 picks a free one)")
    p.add_argument("--allow-remote", action="store_true", help="allow binding a non-loopback address")
    p.add_argument("--bot", metavar="URL", help="your bot's messaging endpoint (default: the built-in echo bot)")
    p.add_argument(
        "--bot-id", default=DEFAULT_BOT_ACCOUNT["id"], metavar="ID", help="the bot account's id (default %(default)s)"
    )
    p.add_argument(
        "--bot-name",
        default=DEFAULT_BOT_ACCOUNT["name"],
        metavar="NAME",
        help="the bot account's name (default %(default)s)",
    )
    p.add_argument("--secret", default="dev-secret", help="the Direct Line secret (default dev-secret)")
    p.add_argument("--token-lifetime", type=float, default=1800, metavar="SECONDS", help="Direct Line token lifetime")
    p.add_argument(
        "--app-id",
        help="sign deliveries for this app id, and require Connector calls to carry a token (with --app-password)",
    )
    p.add_argument("--app-password", help="the password --app-id must present at /botframework.com/oauth2/v2.0/token")
    p.add_argument(
        "--oauth-connection",
        action="append",
        default=[],
        metavar="NAME",
        help="an OAuth connection of the user token service (repeatable; default: any name is accepted)",
    )
    p.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="let web pages from ORIGIN (scheme://host[:port]) use the emulator, besides loopback ones (repeatable)",
    )
    p.add_argument(
        "--tls",
        action="store_true",
        help="serve https with a throwaway CA generated at start (its file is printed: trust it with SSL_CERT_FILE)",
    )
    p.add_argument(
        "--state",
        metavar="FILE",
        help="keep conversations, tokens, ACS threads and signing keys in this SQLite file, so a restart resumes them",
    )
    p.add_argument(
        "--event-webhook",
        metavar="URL",
        help="POST the ACS Chat events (Event Grid schema, after its subscription validation) to this URL",
    )
    p.add_argument("--latency", type=float, default=0.0, metavar="SECONDS", help="delay every request")
    p.add_argument("--error-rate", type=float, default=0.0, metavar="RATE", help="answer this fraction with 500")
    p.add_argument("--seed", type=int, help="seed of the fault dice (same seed, same faults)")
    p.add_argument("--fault", action="append", default=[], metavar="RULE", help="a fault rule (repeatable)")
    p.add_argument(
        "--short-tokens", type=float, metavar="SECONDS", help="cap the lifetime of every token issued (faults)"
    )
    p.add_argument(
        "--token-fault", choices=TOKEN_FAULTS, help="spoil the token of every delivery to the bot (needs --app-id)"
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if not args.allow_remote and not is_loopback_host(args.host):
        print(f"refusing to serve on {args.host}: not a loopback address (use --allow-remote)", file=sys.stderr)
        return 2
    if (args.app_id is None) != (args.app_password is None):
        print("--app-id and --app-password go together", file=sys.stderr)
        return 2
    if args.token_fault is not None and args.app_id is None:
        print("--token-fault needs --app-id: deliveries carry no token without one", file=sys.stderr)
        return 2
    try:
        rules = [FaultRule.parse(spec) for spec in args.fault]
        faults = Faults(
            latency=args.latency,
            error_rate=args.error_rate,
            seed=args.seed,
            rules=rules,
            token_lifetime=args.short_tokens,
            token=args.token_fault,
        )
    except ValueError as exc:
        print(f"bad fault options: {exc}", file=sys.stderr)
        return 2
    if not args.bot_id.strip() or not args.bot_name.strip():
        print("--bot-id and --bot-name must not be empty", file=sys.stderr)
        return 2
    bot_account = {"id": args.bot_id, "name": args.bot_name, "role": "bot"}
    try:
        cors_origins = [normalize_origin(origin) for origin in args.cors_origin]
    except ValueError as exc:
        print(f"bad --cors-origin: {exc}", file=sys.stderr)
        return 2
    try:
        emulator = Emulator(
            host=args.host,
            port=args.port,
            bot=args.bot,
            bot_account=bot_account,
            secret=args.secret,
            token_lifetime=args.token_lifetime,
            faults=faults,
            app_id=args.app_id,
            app_password=args.app_password,
            allow_remote=args.allow_remote,
            oauth_connections=args.oauth_connection,
            cors_origins=cors_origins,
            tls=args.tls,
            state_file=args.state,
            event_webhook=args.event_webhook,
        )
    except StateFileError as exc:
        print(f"cannot use --state: {exc}", file=sys.stderr)
        return 2
    try:
        emulator.start()
    except OSError as exc:
        print(f"cannot serve: {exc}", file=sys.stderr)
        return 1
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        for line in _banner(emulator, faults):
            print(line, flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        emulator.stop()
    print("botconnect emulator stopped", flush=True)
    return 0


def _banner(emulator: Emulator, faults: Faults) -> list[str]:
    url = emulator.url
    lines = [
        f"botconnect emulator on {url}",
        f"  Chat page    {url}/  (chat with the bot, inspect every activity)",
        f"  Direct Line  endpoint {url}  secret {emulator.secret}",
        f"  Connector    serviceUrl {emulator.service_url}",
    ]
    if emulator.ca_file is not None:
        lines.insert(1, f"  TLS          trust the throwaway CA: SSL_CERT_FILE={emulator.ca_file}")
    if emulator.app.auth.required:
        lines.append(f"               app credentials required; tokens from {url}/botframework.com/oauth2/v2.0/token")
        lines += _auth_banner(emulator)
    if emulator.acs is not None:
        token, raw_id = emulator.issue_acs_token()
        lines.append(f"  ACS Chat     endpoint {url}  user {raw_id}")
        lines.append(f"               token {token}")
        lines.append(f"  ACS Identity connection string {emulator.acs_connection_string}")
        if emulator.events is not None:
            lines.append(f"  ACS Events   Event Grid deliveries to {emulator.events.url}")
    else:
        lines.append("  ACS Chat     not available (botconnect.emulator.acs is missing)")
    connections = ", ".join(emulator.token_service.connections) or "any connection name"
    lines.append(f"  User tokens  endpoint {url}  OAuth connections: {connections}")
    builtin = "  (built-in echo bot)" if not emulator.app.delivery.bot_url else ""
    account = emulator.store.bot_account
    lines.append(f"  bot          {emulator.app.delivery.url}{builtin}  account {account['id']!r} ({account['name']})")
    active = [f"latency {faults.latency}s"] if faults.latency else []
    active += [f"error rate {faults.error_rate}"] if faults.error_rate else []
    active += [f"{r.kind} on {r.prefix} at {r.rate}" for r in faults.rules]
    active += [f"tokens live at most {faults.token_lifetime}s"] if faults.token_lifetime is not None else []
    active += [f"delivery tokens {faults.token}"] if faults.token is not None else []
    if active:
        lines.append("  faults       " + "; ".join(active))
    origins = ", ".join(sorted(emulator.app.cors.origins))
    lines.append("  Web pages    from loopback origins" + (f" and {origins}" if origins else " (more: --cors-origin)"))
    if emulator.state is not None:
        lines.append(f"  State        kept in {emulator.state.path} (a restart on it resumes everything)")
    lines.append("Press Ctrl+C to stop.")
    return lines


_CODE = " " * 17


def _auth_banner(emulator: Emulator) -> list[str]:
    signing = emulator.signing
    cloud = cloud_code(emulator.cloud).splitlines()
    return [
        f"  Inbound auth deliveries carry a channel token (RS256) for app id {emulator.app_id}",
        f"               channel metadata  {signing.channel_metadata_url}",
        f"               Entra metadata    {signing.entra_metadata_url}  (tenant {signing.tenant_id})",
        "               in the bot:",
        f"{_CODE}import attrs, botconnect",
        f"{_CODE}cloud = {cloud[0]}",
        *(_CODE + line for line in cloud[1:]),
        f"{_CODE}authenticator = botconnect.BotAuthenticator({emulator.app_id!r}, cloud=cloud)",
    ]


if __name__ == "__main__":
    sys.exit(main())
