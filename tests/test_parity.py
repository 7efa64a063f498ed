"""``botconnect`` and ``botconnect_aio`` are twins: same names, same methods, same signatures, same docs.

Everything is discovered, nothing is listed by hand: every public module of either package, every class in a
public ``__all__``, and every operation group hanging off a client instance, so a new client (Direct Line, chat,
...) is covered the moment it is exported.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import anyio
import httpx
import pytest

import botconnect
import botconnect_aio

SYNC_ROOT = "botconnect"
ASYNC_ROOT = "botconnect_aio"

#: sync dunder -> its async twin
DUNDERS = {"__enter__": "__aenter__", "__exit__": "__aexit__", "__iter__": "__aiter__", "__next__": "__anext__"}
ASYNC_DUNDERS = {v: k for k, v in DUNDERS.items()}
#: httpx's transport interface names its sync and async methods differently
TRANSPORT_METHODS = {"handle_async_request": "handle_request", "aclose": "close"}
#: a parameter with one of these names makes a class an I/O class, which must exist in both packages
IO_PARAMETERS = frozenset({"pipeline", "http_client", "transport"})


def sync_name(name: str) -> str:
    """``AsyncItemPaged`` -> ``ItemPaged``; other names are unchanged."""
    return name[5:] if name.startswith("Async") and name[5:6].isupper() else name


#: server-side packages (the local emulator): one implementation, not a client with a sync and an async face
SERVER_SIDE = frozenset({"emulator"})


def public_modules(root: ModuleType) -> dict[str, ModuleType]:
    """Importable modules with no ``_``-prefixed component, keyed by their name relative to the package."""
    found = {"": root}
    for info in pkgutil.walk_packages(root.__path__, root.__name__ + "."):
        relative = info.name[len(root.__name__) + 1 :]
        parts = relative.split(".")
        if any(part.startswith("_") for part in parts) or parts[0] in SERVER_SIDE:
            continue
        found[relative] = importlib.import_module(info.name)
    return found


SYNC_MODULES = public_modules(botconnect)
ASYNC_MODULES = public_modules(botconnect_aio)


def exported(module: ModuleType) -> list[str]:
    return list(getattr(module, "__all__", []))


def defines_io_class(module: ModuleType) -> bool:
    for name in exported(module):
        obj = getattr(module, name, None)
        if inspect.isclass(obj) and obj.__module__.startswith(SYNC_ROOT + "."):
            try:
                parameters = inspect.signature(obj.__init__).parameters
            except (TypeError, ValueError):
                continue
            if IO_PARAMETERS & set(parameters):
                return True
    return False


def class_pairs() -> Iterator[tuple[str, type, type]]:
    """(label, sync class, async class) for every class the async package exports that is not shared."""
    seen: set[tuple[type, type]] = set()
    for relative, aio_module in sorted(ASYNC_MODULES.items()):
        sync_module = SYNC_MODULES.get(relative)
        if sync_module is None:
            continue
        for name in exported(aio_module):
            aio_obj = getattr(aio_module, name, None)
            sync_obj = getattr(sync_module, sync_name(name), None)
            if not inspect.isclass(aio_obj) or aio_obj is sync_obj or not inspect.isclass(sync_obj):
                continue
            if (sync_obj, aio_obj) in seen:
                continue
            seen.add((sync_obj, aio_obj))
            yield f"{relative or 'root'}.{sync_obj.__name__}", sync_obj, aio_obj


CLASS_PAIRS = list(class_pairs())


# -- names ----------------------------------------------------------------------------------------------


def test_there_is_something_to_compare() -> None:
    labels = {label for label, _, _ in CLASS_PAIRS}
    for expected in ("root.ConnectorClient", "root.ItemPaged", "root.PageIterator", "root.MicrosoftAppCredentials"):
        assert expected in labels
    assert "connector" in ASYNC_MODULES


@pytest.mark.parametrize("relative", sorted(set(SYNC_MODULES) | set(ASYNC_MODULES)))
def test_public_modules_have_twins(relative: str) -> None:
    if relative in ASYNC_MODULES:
        assert relative in SYNC_MODULES, f"{ASYNC_ROOT}.{relative} has no sync twin"
    else:
        # shared, I/O-free modules (models, errors) live in botconnect only; anything that talks needs a twin
        assert not defines_io_class(SYNC_MODULES[relative]), f"{SYNC_ROOT}.{relative} has no async twin"


@pytest.mark.parametrize("relative", sorted(set(SYNC_MODULES) & set(ASYNC_MODULES)))
def test_public_modules_export_the_same_names(relative: str) -> None:
    sync_module, aio_module = SYNC_MODULES[relative], ASYNC_MODULES[relative]
    sync_all, aio_all = exported(sync_module), exported(aio_module)
    for module, names in ((sync_module, sync_all), (aio_module, aio_all)):
        missing = [n for n in names if not hasattr(module, n)]
        assert missing == [], f"{module.__name__}.__all__ names missing attributes"
        assert len(set(names)) == len(names), f"{module.__name__}.__all__ has duplicates"
    assert sorted(sync_name(n) for n in aio_all) == sorted(sync_all)


def test_top_level_names_match() -> None:
    expected_renames = {"AsyncItemPaged": "ItemPaged", "AsyncPageIterator": "PageIterator"}
    for aio_name, sync in expected_renames.items():
        assert aio_name in botconnect_aio.__all__
        assert sync in botconnect.__all__
        assert sync not in botconnect_aio.__all__
    assert sorted(sync_name(n) for n in botconnect_aio.__all__) == sorted(botconnect.__all__)


@pytest.mark.parametrize("relative", sorted(set(SYNC_MODULES) & set(ASYNC_MODULES)))
def test_shared_values_are_the_same(relative: str) -> None:
    """Errors, constants, policies, models: anything with no I/O is the very same object in both packages."""
    sync_module, aio_module = SYNC_MODULES[relative], ASYNC_MODULES[relative]
    for name in exported(aio_module):
        aio_obj = getattr(aio_module, name)
        sync_obj = getattr(sync_module, sync_name(name))
        if inspect.isclass(aio_obj) and aio_obj is not sync_obj:
            continue  # a twin class, compared below
        assert aio_obj is sync_obj or aio_obj == sync_obj, f"{relative}.{name} differs between the packages"


# -- classes ------------------------------------------------------------------------------------------------


def _normalize(annotation: Any) -> str:
    if annotation is inspect.Parameter.empty:
        return "<empty>"
    text = annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)
    text = re.sub(r"\bAsync(?=[A-Z])", "", text)
    # Awaitable[X] / Coroutine[Any, Any, X] -> X
    while True:
        match = re.search(r"\b(?:typing\.|collections\.abc\.)?(Awaitable|Coroutine)\[", text)
        if match is None:
            break
        start, depth, i = match.end(), 1, match.end()
        while depth:
            depth += {"[": 1, "]": -1}.get(text[i], 0)
            i += 1
        inner = text[start : i - 1]
        if match.group(1) == "Coroutine":
            inner = inner.split(",", 2)[2].strip()
        text = text[: match.start()] + inner + text[i:]
    return text.replace(" ", "")


def _doc(obj: Any) -> str | None:
    """The object's own docstring (``inspect.getdoc`` would fall back to, e.g., ``Iterator.__next__``'s)."""
    doc = getattr(obj, "__doc__", None)
    return inspect.cleandoc(doc) if doc else None


def _signature(func: Any) -> tuple[Any, ...]:
    sig = inspect.signature(func)
    params = tuple((p.name, p.kind, repr(p.default), _normalize(p.annotation)) for p in sig.parameters.values())
    return params, _normalize(sig.return_annotation)


def _members(cls: type, *, is_async: bool) -> dict[str, tuple[str, Any]]:
    """Public members (methods, properties, class/static methods) defined by our packages, by their sync name."""
    members: dict[str, tuple[str, Any]] = {}
    for name in dir(cls):
        if name.startswith("_"):
            mapped = ASYNC_DUNDERS.get(name) if is_async else (name if name in DUNDERS else None)
            if name == "__init__":
                mapped = name
            if mapped is None:
                continue
        elif is_async and issubclass(cls, httpx.AsyncBaseTransport):
            mapped = TRANSPORT_METHODS.get(name, name)
        else:
            mapped = name
        owner = next((klass for klass in cls.__mro__ if name in vars(klass)), None)
        if owner is None or not owner.__module__.startswith(SYNC_ROOT):
            continue  # inherited from object / typing / collections.abc
        static = vars(owner)[name]
        if isinstance(static, property):
            members[mapped] = ("property", static)
        elif isinstance(static, staticmethod):
            members[mapped] = ("staticmethod", static.__func__)
        elif isinstance(static, classmethod):
            members[mapped] = ("classmethod", static.__func__)
        elif inspect.isfunction(static):
            members[mapped] = ("method", static)
    return members


def _is_paged(func: Any) -> bool:
    returns = _normalize(inspect.signature(func).return_annotation)
    return bool(re.search(r"\b(ItemPaged|PageIterator)\b", returns))


#: twin classes a plain method hands out without I/O (ChatThreadClient; the Direct Line session and its iterator)
NO_IO_HANDLES = frozenset({"DirectLineConversation", "ActivityIterator"})
TWIN_CLIENT_NAMES = frozenset(
    sync.__name__ for _, sync, _aio in CLASS_PAIRS if sync.__name__.endswith("Client") or sync.__name__ in NO_IO_HANDLES
)


def _is_factory(func: Any) -> bool:
    """A plain method handing out a twin client (``get_chat_thread_client``): no I/O, so plain def in both."""
    returns = _normalize(inspect.signature(func).return_annotation)
    return not func.__name__.startswith("__") and returns in TWIN_CLIENT_NAMES


def assert_twins(sync_cls: type, aio_cls: type) -> None:
    label = sync_cls.__qualname__
    if sync_cls.__name__ == aio_cls.__name__:
        assert _doc(sync_cls) == _doc(aio_cls), f"{label}: class docstrings differ"
    sync_members = _members(sync_cls, is_async=False)
    aio_members = _members(aio_cls, is_async=True)
    assert sorted(sync_members) == sorted(aio_members), f"{label}: public members differ"
    for async_dunder in DUNDERS.values():
        assert async_dunder not in vars(sync_cls), f"{label}: the sync class defines {async_dunder}"
    for sync_dunder in DUNDERS:
        assert sync_dunder not in vars(aio_cls), f"{label}: the async class defines {sync_dunder}"

    for name, (kind, sync_obj) in sync_members.items():
        aio_kind, aio_obj = aio_members[name]
        where = f"{label}.{name}"
        assert kind == aio_kind, f"{where}: {kind} in botconnect, {aio_kind} in botconnect_aio"
        assert _doc(sync_obj) == _doc(aio_obj), f"{where}: docstrings differ"
        if kind == "property":
            assert (sync_obj.fset is None) == (aio_obj.fset is None), f"{where}: settable in one package only"
            assert _signature(sync_obj.fget) == _signature(aio_obj.fget), f"{where}: property types differ"
            continue
        assert _signature(sync_obj) == _signature(aio_obj), f"{where}: signatures differ"
        if name == "__init__":
            continue
        if name == "__iter__":
            # `def __aiter__(self): return self` or an async generator; never a coroutine
            assert not inspect.iscoroutinefunction(aio_obj), f"{where}: __aiter__ must not be a coroutine"
            continue
        if _is_paged(sync_obj):
            assert not inspect.iscoroutinefunction(sync_obj), f"{where}: paged methods are plain def"
            assert not inspect.iscoroutinefunction(aio_obj), f"{where}: paged methods are plain def, not async"
            continue
        if inspect.isgeneratorfunction(sync_obj):
            assert inspect.isasyncgenfunction(aio_obj), f"{where}: a sync generator needs an async generator twin"
            continue
        if _is_factory(sync_obj) and not inspect.iscoroutinefunction(sync_obj):
            assert not inspect.iscoroutinefunction(aio_obj), f"{where}: factory methods are plain def in both"
            continue
        assert not inspect.iscoroutinefunction(sync_obj), f"{where}: botconnect must not have async methods"
        assert inspect.iscoroutinefunction(aio_obj), f"{where}: must be `async def` in botconnect_aio"


@pytest.mark.parametrize(("sync_cls", "aio_cls"), [p[1:] for p in CLASS_PAIRS], ids=[p[0] for p in CLASS_PAIRS])
def test_twin_classes_match(sync_cls: type, aio_cls: type) -> None:
    assert_twins(sync_cls, aio_cls)


# -- operation groups reachable from client instances -------------------------------------------------------


class _Credential:
    scope = "https://api.botframework.com/.default"

    def get_token(self, *scopes: str, **kwargs: Any) -> str:
        return "token"


def _value_for(parameter: inspect.Parameter) -> Any:
    name = parameter.name.lower()
    if "url" in name or "endpoint" in name:
        return "https://slack.botframework.com"
    if "credential" in name:
        return _Credential()
    return "placeholder"


def _construct(cls: type, transport: Any) -> Any:
    """Build a client with placeholder arguments (URL-ish for urls/endpoints, a fake credential, strings)."""
    parameters = inspect.signature(cls).parameters
    attempts: list[dict[str, Any]] = [{}, {"secret": "placeholder"}, {"token": "placeholder"}]
    errors: list[Exception] = []
    for extra in attempts:
        args: list[Any] = []
        kwargs: dict[str, Any] = {"transport": transport} if "transport" in parameters else {}
        for parameter in parameters.values():
            if parameter.name in extra:
                kwargs[parameter.name] = extra[parameter.name]
            elif parameter.default is not inspect.Parameter.empty or parameter.name == "transport":
                continue
            elif parameter.kind is inspect.Parameter.KEYWORD_ONLY:
                kwargs[parameter.name] = _value_for(parameter)
            elif parameter.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
                args.append(_value_for(parameter))
        try:
            return cls(*args, **kwargs)
        except (TypeError, ValueError) as exc:
            errors.append(exc)
    raise AssertionError(f"cannot build {cls.__name__} with placeholder arguments: {errors}")


def _public_attributes(obj: Any) -> dict[str, Any]:
    """Instance attributes and read-only properties (operation groups such as ``client.conversations``)."""
    names = [*vars(obj), *(name for name, value in vars(type(obj)).items() if isinstance(value, property))]
    values = {name: getattr(obj, name) for name in names if not name.startswith("_")}
    return {name: value for name, value in values.items() if type(value).__module__.startswith(SYNC_ROOT)}


CLIENT_PAIRS = [
    (label, sync_cls, aio_cls)
    for label, sync_cls, aio_cls in CLASS_PAIRS
    if sync_cls.__name__.endswith("Client") and callable(getattr(sync_cls, "close", None))
]


def test_clients_are_discovered() -> None:
    assert "root.ConnectorClient" in {label for label, _, _ in CLIENT_PAIRS}


@pytest.mark.parametrize(("sync_cls", "aio_cls"), [p[1:] for p in CLIENT_PAIRS], ids=[p[0] for p in CLIENT_PAIRS])
def test_operation_groups_of_clients_are_twins(sync_cls: type, aio_cls: type) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(500))
    sync_client = _construct(sync_cls, transport)
    aio_client = _construct(aio_cls, transport)
    try:
        exported_classes = {
            getattr(module, name)
            for module in SYNC_MODULES.values()
            for name in exported(module)
            if inspect.isclass(getattr(module, name, None))
        }
        pending = [(sync_cls.__name__, sync_client, aio_client)]
        checked = 0
        while pending:
            path, sync_obj, aio_obj = pending.pop()
            sync_attrs, aio_attrs = _public_attributes(sync_obj), _public_attributes(aio_obj)
            assert sorted(sync_attrs) == sorted(aio_attrs), f"{path}: public attributes differ"
            for name, sync_value in sync_attrs.items():
                aio_value = aio_attrs[name]
                sync_type, aio_type = type(sync_value), type(aio_value)
                assert sync_type.__name__ == sync_name(aio_type.__name__), f"{path}.{name}: types differ"
                assert aio_type.__module__.startswith(ASYNC_ROOT), f"{path}.{name} is not from botconnect_aio"
                assert sync_type in exported_classes, f"{path}.{name}: {sync_type.__name__} is not exported"
                assert_twins(sync_type, aio_type)
                checked += 1
                pending.append((f"{path}.{name}", sync_value, aio_value))
        # flat clients (ChatClient, as in the Azure SDK) have no groups; grouped ones must be found
        if sync_cls.__name__ in ("ConnectorClient", "DirectLineClient"):
            assert checked >= 1, f"{sync_cls.__name__} has no operation groups"
    finally:
        sync_client.close()
        anyio.run(aio_client.close)
