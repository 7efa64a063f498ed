"""botconnect's local emulator: a faithful, stateful Bot Framework channel on loopback, for offline samples, tests
and development without an Azure account.

It plays the channel as the Bot Framework service does: Direct Line 3.0 for client apps, the Bot Connector v3 for
bots (activities are delivered to the bot by HTTP POST with ``serviceUrl`` pointing back at the emulator; a built-in
echo bot answers when no bot URL is given) and ACS Chat -- with faults on demand.

::

    from botconnect.emulator import Emulator

    with Emulator() as emulator:
        client = botconnect.DirectLineClient(secret=emulator.secret, endpoint=emulator.url)

From a shell: ``python -m botconnect.emulator --port 5005`` (``--help`` for the options). For pytest, the plugin
:mod:`botconnect.emulator.pytest_plugin` provides fixtures. Needs the ``emulator`` extra
(``pip install botconnect[emulator]``: starlette, uvicorn, wsproto, PyJWT with cryptography); nothing in the SDK
imports this package, and importing it loads nothing until a name is used (so the pytest plugin costs nothing where
the extra is missing).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import DEFAULT_BOT_ACCOUNT, EmulatorApp
    from .bots import BotDelivery, EchoBot, OAuthIssuer
    from .connector import Connector, Conversation, Store
    from .directline import DeliveryResult, DirectLine, DirectLineFaults
    from .faults import TOKEN_FAULTS, DroppedConnection, FaultMiddleware, FaultRule, Faults
    from .persistence import StateFileError
    from .server import Emulator
    from .signing import SigningService

__all__ = [
    "DEFAULT_BOT_ACCOUNT",
    "TOKEN_FAULTS",
    "BotDelivery",
    "Connector",
    "Conversation",
    "DeliveryResult",
    "DirectLine",
    "DirectLineFaults",
    "DroppedConnection",
    "EchoBot",
    "Emulator",
    "EmulatorApp",
    "FaultMiddleware",
    "FaultRule",
    "Faults",
    "OAuthIssuer",
    "SigningService",
    "StateFileError",
    "Store",
]

_WHERE = {
    "DEFAULT_BOT_ACCOUNT": "app",
    "EmulatorApp": "app",
    "BotDelivery": "bots",
    "EchoBot": "bots",
    "OAuthIssuer": "bots",
    "Connector": "connector",
    "Conversation": "connector",
    "Store": "connector",
    "DeliveryResult": "directline",
    "DirectLine": "directline",
    "DirectLineFaults": "directline",
    "DroppedConnection": "faults",
    "FaultMiddleware": "faults",
    "FaultRule": "faults",
    "Faults": "faults",
    "TOKEN_FAULTS": "faults",
    "Emulator": "server",
    "SigningService": "signing",
    "StateFileError": "persistence",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    except ImportError as exc:
        missing = (exc.name or "").partition(".")[0]
        if missing in ("starlette", "uvicorn", "wsproto", "jwt", "cryptography") or "starlette" in str(exc):
            raise ImportError(
                "the botconnect emulator needs its server dependencies: pip install 'botconnect[emulator]'"
            ) from exc
        raise
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
