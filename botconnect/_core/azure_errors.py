"""Our errors are also azure-core's, once azure-core's exceptions module is loaded.

Code moved from the Azure SDKs keeps ``except azure.core.exceptions.HttpResponseError``. An ``except`` clause
matches by the real class hierarchy (``__instancecheck__`` / ABC ``register`` play no part), so each of our
classes gets the matching azure-core class as an extra base. Importing ``azure.core.exceptions`` costs ~100 ms
(it loads azure-core's pipeline), so it is never imported for that: a meta-path finder waits for the first
import of ``azure.core.exceptions`` (by the user's code, which must import it to name its classes in an
``except``) and adds the bases right after that module has run. If it is already loaded, the bases are added at
once. Without azure-core, nothing happens beyond one string comparison per later import, until the finder
leaves ``sys.meta_path`` (when it fires).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:  # importlib.abc costs ~2 ms to import, and the finder and loader need nothing of it
    from importlib.abc import Loader
    from importlib.machinery import ModuleSpec

__all__ = ["AZURE_EQUIVALENTS", "follow_azure_core"]

_TARGET = "azure.core.exceptions"

#: our class name -> the azure-core class name it also becomes
AZURE_EQUIVALENTS: dict[str, str] = {
    "ServiceRequestError": "ServiceRequestError",
    "ServiceRequestTimeoutError": "ServiceRequestTimeoutError",
    "ServiceResponseError": "ServiceResponseError",
    "ServiceResponseTimeoutError": "ServiceResponseTimeoutError",
    "DeserializationError": "DeserializationError",
    "HttpResponseError": "HttpResponseError",
    "ClientAuthenticationError": "ClientAuthenticationError",
    "ResourceNotFoundError": "ResourceNotFoundError",
    "ResourceExistsError": "ResourceExistsError",
    "ResourceModifiedError": "ResourceModifiedError",
}

_lock = threading.Lock()


def _add_base(ours: type, theirs: type) -> None:
    if issubclass(ours, theirs):
        return
    bases = list(ours.__bases__)
    # before the first base it specialises (azure's DeserializationError is a ValueError), else last
    index = next((i for i, base in enumerate(bases) if issubclass(theirs, base)), len(bases))
    bases.insert(index, theirs)
    ours.__bases__ = tuple(bases)


def bridge(ours: ModuleType, azure: ModuleType) -> None:
    """Give each class of ``ours`` (botconnect.errors) its azure-core equivalent from ``azure`` as a base."""
    with _lock:
        # bases first: a subclass's new MRO must see its parent's
        for name, azure_name in AZURE_EQUIVALENTS.items():
            theirs = getattr(azure, azure_name, None)
            mine = getattr(ours, name, None)
            if isinstance(theirs, type) and isinstance(mine, type):
                _add_base(mine, theirs)


class _Loader:
    """Runs azure-core's own loader, then bridges."""

    def __init__(self, inner: Any, ours: ModuleType) -> None:
        self._inner = inner
        self._ours = ours

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        create = getattr(self._inner, "create_module", None)
        result: ModuleType | None = create(spec) if create is not None else None
        return result

    def exec_module(self, module: ModuleType) -> None:
        self._inner.exec_module(module)
        bridge(self._ours, module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _Finder:
    """Finds nothing itself: for azure.core.exceptions, wraps the loader the other finders return."""

    def __init__(self, ours: ModuleType) -> None:
        self._ours = ours

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname != _TARGET:
            return None
        _remove(self)
        for finder in list(sys.meta_path):
            find = getattr(finder, "find_spec", None)
            spec: ModuleSpec | None = find(fullname, path, target) if find is not None else None
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = cast("Loader", _Loader(spec.loader, self._ours))
                return spec
        return None


def _remove(finder: _Finder) -> None:
    if finder in sys.meta_path:
        sys.meta_path.remove(finder)


def follow_azure_core(ours: ModuleType) -> None:
    """Bridge now if azure-core's exceptions are loaded, else when they are."""
    loaded = sys.modules.get(_TARGET)
    if loaded is not None:
        bridge(ours, loaded)
        return
    sys.meta_path.insert(0, _Finder(ours))
