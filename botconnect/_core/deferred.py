"""Modules imported on first use, so that importing a client does not load the models and the converter.

``from botconnect_aio import ConnectorClient`` used to load every Connector model and cattrs (about half of what
the import cost beyond httpx); a bot pays for them on its first call instead, once.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

__all__ = ["DeferredModule"]


class DeferredModule:
    """Stands in for a module global until an attribute is first read, then imports the module and puts it in its
    own place in the importing module's namespace: later reads are ordinary global lookups, at no cost.

    Use it under ``if not TYPE_CHECKING`` beside the real import, so type checkers see the module::

        if TYPE_CHECKING:
            from .. import models
        else:
            models = DeferredModule("botconnect.models", globals(), "models")
    """

    __slots__ = ("_alias", "_name", "_namespace")

    def __init__(self, name: str, namespace: dict[str, Any], alias: str) -> None:
        self._name = name
        self._namespace = namespace
        self._alias = alias

    def load(self) -> ModuleType:
        module = importlib.import_module(self._name)
        if self._namespace.get(self._alias) is self:
            self._namespace[self._alias] = module
        return module

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.load(), attribute)

    def __repr__(self) -> str:
        return f"<deferred module {self._name!r}>"
