"""The one converter: camelCase wire names, ``None`` kept off the wire, base64 bytes, open enums, extras.

Every model class is converted by functions generated once per class (on first use): ours for parsing a dict
(see "Fast path" below), cattrs' for serializing and for any other Mapping. Unknown wire keys are captured into
``additional_properties`` on parse and written back on serialize, so whatever a channel adds survives a round
trip untouched.
"""

from __future__ import annotations

import enum
import json
import threading
import typing
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from .serde_codegen import (
    StructureField,
    UnstructureField,
    stores_plainly,
    structure_function,
    unstructure_function,
)
from .serde_codegen import open_enum_of as _open_enum_of
from .serde_codegen import plain_optional_of as _plain_optional_of
from .serde_scalars import (
    DATETIME_OPTIONS,
    Fragment,
    datetime_fragment,
    make_open_enum_structure,
    passthrough,
    structure_bytes,
    structure_datetime,
    structure_number,
    structure_optional_str,
    structure_str,
    unstructure_bytes,
    unstructure_datetime,
)
from .serde_scalars import _orjson as _orjson  # None without its wheel; a name here too, for tests to take away

__all__ = [
    "EXTRAS_FIELD",
    "WIRE_NAME",
    "converter",
    "dumps",
    "loads",
    "model_to_json",
    "register_parsed_hook",
    "structure",
    "structure_parsed",
    "unstructure",
    "wire_name",
]

T = TypeVar("T")

#: attrs metadata key naming a field's exact wire name when camelCase conversion is not it.
WIRE_NAME = "botconnect.wire"
#: metadata key for a per-field (structure, unstructure) hook pair, e.g. seconds-as-timedelta.
CODEC = "botconnect.codec"
#: attrs metadata key marking a field that is not part of the wire form (filled in by the SDK, never sent).
LOCAL = "botconnect.local"
#: the attribute every model uses to keep keys the SDK does not know.
EXTRAS_FIELD = "additional_properties"
#: class attribute naming the discriminator key of a polymorphic base (e.g. Entity's "type").
DISCRIMINATOR = "__botconnect_discriminator__"
SUBTYPES = "__botconnect_subtypes__"

converter = cattrs.Converter(detailed_validation=False)


def wire_name(field: attrs.Attribute[Any]) -> str:
    """The JSON key for an attrs field: explicit metadata wins, otherwise snake_case -> camelCase."""
    explicit = field.metadata.get(WIRE_NAME)
    if explicit is not None:
        return str(explicit)
    head, *rest = field.name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _is_model(cls: Any) -> bool:
    return isinstance(cls, type) and attrs.has(cls) and EXTRAS_FIELD in attrs.fields_dict(cls)


# -- scalars ------------------------------------------------------------------------------------------------


converter.register_structure_hook(datetime, structure_datetime)
converter.register_unstructure_hook(datetime, unstructure_datetime)
converter.register_structure_hook(bytes, structure_bytes)
converter.register_unstructure_hook(bytes, unstructure_bytes)
converter.register_structure_hook(Any, passthrough)
converter.register_structure_hook(str, structure_str)
converter.register_structure_hook(int, structure_number)
converter.register_structure_hook(float, structure_number)


# -- open enums: `SomeEnum | str` accepts values the SDK does not know yet --------------------------------


converter.register_structure_hook_factory(lambda t: _open_enum_of(t) is not None, make_open_enum_structure)


def _make_optional_structure(tp: Any) -> Callable[[Any, Any], Any]:
    # cattrs' generic Optional handling dispatches on the type at every call; bind the inner hook once
    inner_type = _plain_optional_of(tp)
    if inner_type is str:  # the most common field type by far: no extra call for the usual case
        return structure_optional_str
    inner = converter.get_structure_hook(inner_type)

    def structure_optional(value: Any, _: Any) -> Any:
        return None if value is None else inner(value, inner_type)

    return structure_optional


converter.register_structure_hook_factory(lambda t: _plain_optional_of(t) is not None, _make_optional_structure)


def _unstructure_any(value: Any) -> Any:
    # JSON-native values (channelData, value, attachment content) are copied without converter dispatch
    kind = type(value)
    if kind is str or kind is int or kind is float or kind is bool or value is None:
        return value
    if kind is dict:
        return {key: _unstructure_any(item) for key, item in value.items()}
    if kind is list:
        return [_unstructure_any(item) for item in value]
    return converter.unstructure(value)


converter.register_unstructure_hook_func(lambda t: t is Any, _unstructure_any)
converter.register_unstructure_hook_factory(
    lambda t: _open_enum_of(t) is not None, lambda t: lambda v: v.value if isinstance(v, enum.Enum) else v
)


# -- models -----------------------------------------------------------------------------------------------


def _wire_fields(cls: Any) -> list[attrs.Attribute[Any]]:
    return [f for f in attrs.fields(cls) if f.name != EXTRAS_FIELD and not f.metadata.get(LOCAL)]


def _omitted(cls: Any) -> dict[str, Any]:
    return {f.name: override(omit=True) for f in attrs.fields(cls) if f.name == EXTRAS_FIELD or f.metadata.get(LOCAL)}


def _make_generic_structure(cls: type[T]) -> Callable[[Any, Any], T]:
    """cattrs' generated function plus the extras: any Mapping, and models the fast generator does not cover."""
    fields = _wire_fields(cls)
    overrides: dict[str, Any] = {f.name: override(rename=wire_name(f)) for f in fields}
    overrides.update(_omitted(cls))
    for f in fields:
        codec = f.metadata.get(CODEC)
        if codec is not None:
            overrides[f.name] = override(rename=wire_name(f), struct_hook=codec[0])
    generated = make_dict_structure_fn(cls, converter, _cattrs_forbid_extra_keys=False, **overrides)
    known = frozenset(wire_name(f) for f in fields)
    discriminator: str | None = cls.__dict__.get(DISCRIMINATOR)
    subtypes: dict[str, type[Any]] = cls.__dict__.get(SUBTYPES, {})

    def structure_model(data: Any, _: Any) -> T:
        if type(data) is not dict and not isinstance(data, Mapping):
            raise TypeError(f"{cls.__name__} expects a JSON object, got {type(data).__name__}")
        if discriminator is not None and subtypes:
            tag = data.get(discriminator)
            sub = subtypes.get(tag) if isinstance(tag, str) else None
            if sub is not None and sub is not cls:
                return converter.structure(data, sub)  # type: ignore[no-any-return]
        try:
            obj = generated(data, cls)
        except AttributeError as exc:  # e.g. a list where the spec has an object (``metadata: []``)
            raise TypeError(f"{cls.__name__}: a field has the wrong JSON shape ({exc})") from exc
        unknown = data.keys() - known
        if unknown:
            object.__setattr__(obj, EXTRAS_FIELD, {k: v for k, v in data.items() if k in unknown})
        return obj

    return structure_model


# Fast path. A page of 200 messages is ~3,000 field values; cattrs' generated code calls one hook per value, so
# for a plain dict we generate our own function that tests the common case inline (`type(v) is str`) and calls
# the hook cattrs would have used for anything else: values, errors and messages stay the same. Non-dict
# mappings go through the generic function above.
#
# Each model gets two such functions. Neither changes the dict it reads (``from_dict`` must not touch the
# caller's dict). The "parsed" one is for a tree fresh from ``loads`` that nothing else holds: the hooks it calls
# for nested values may consume them (identifiers keep their wire dict uncopied).

_generating = threading.local()
_SCALAR_HOOKS: dict[Any, Any] = {
    str: structure_str,
    int: structure_number,
    float: structure_number,
    bool: structure_number,  # bool subclasses int: the int hook serves it too
}
#: hooks for a "parsed" tree, by type (the converter's hooks for every other type)
_parsed_hooks: dict[Any, Callable[[Any, Any], Any]] = {}
#: (predicate, hook) pairs for non-model types with a "parsed" hook (the identifiers)
_parsed_hook_funcs: list[tuple[Callable[[Any], bool], Callable[[Any, Any], Any]]] = []


def _hook_or_late(tp: Any) -> Callable[[Any, Any], Any]:
    """The converter's hook for ``tp``; for a model still being generated (a cycle), a per-call lookup."""
    try:
        return converter.get_structure_hook(tp)
    except RecursionError:
        return converter.structure


def _parsed_hook(tp: Any) -> Callable[[Any, Any], Any]:
    hook = _parsed_hooks.get(tp)
    if hook is not None:
        return hook
    if _is_model(tp):
        working = _working("parsed")
        if tp in working:  # a model that contains itself
            return structure_parsed
        working.add(tp)
        try:
            regular = converter.get_structure_hook(tp)
            hook = _make_fast_structure(tp, regular, parsed=True) if _fast_supported(tp) else regular
        finally:
            working.discard(tp)
    else:
        hook = next((h for predicate, h in _parsed_hook_funcs if predicate(tp)), None) or _hook_or_late(tp)
    _parsed_hooks[tp] = hook
    return hook


def register_parsed_hook(predicate: Callable[[Any], bool], hook: Callable[[Any, Any], Any]) -> None:
    """A hook for :func:`structure_parsed` trees (it may keep or change the dicts it gets) for matching types."""
    _parsed_hook_funcs.append((predicate, hook))
    _parsed_hooks.clear()


def _working(kind: str) -> set[Any]:
    working: set[Any] | None = getattr(_generating, kind, None)
    if working is None:
        working = set()
        setattr(_generating, kind, working)
    return working


def _model_list_item(tp: Any) -> Any:
    if typing.get_origin(tp) is list:
        args = typing.get_args(tp)
        if len(args) == 1 and _is_model(args[0]):
            return args[0]
    return None


def _field_source(i: Any, field: attrs.Attribute[Any], ns: dict[str, Any], parsed: bool) -> list[str]:
    """Lines that structure ``v<i>``, the value of one field's key (present: missing keys never get here)."""
    tp, v, h, t = field.type, f"v{i}", f"h{i}", f"t{i}"
    call = f"{v} = {h}({v}, {t})"
    codec = field.metadata.get(CODEC)
    hook = codec[0] if codec is not None else _hook_or_late(tp)
    ns[h], ns[t] = hook, tp
    if hook is passthrough:
        return []
    enum_cls = _open_enum_of(tp)
    if enum_cls is not None and codec is None:
        ns[f"m{i}"] = {m.value: m for m in enum_cls}
        return [f"if type({v}) is str: {v} = m{i}.get({v}, {v})", f"elif {v} is not None: {call}"]
    inner = _plain_optional_of(tp) if codec is None else None
    if inner is None:  # the hook sees every value that is present, None included
        return [call]
    inner_hook = _parsed_hook(inner) if parsed else _hook_or_late(inner)
    ns[h], ns[t] = inner_hook, inner
    if _SCALAR_HOOKS.get(inner) is inner_hook:
        return [f"if type({v}) is not {inner.__name__} and {v} is not None: {call}"]
    if inner is datetime and inner_hook is structure_datetime:
        return [f"if type({v}) is str: {v} = fromisoformat({v})", f"elif {v} is not None: {call}"]
    item = _model_list_item(inner)
    if item is not None:
        ns[f"e{i}"], ns[f"u{i}"] = _parsed_hook(item) if parsed else _hook_or_late(item), item
        return [f"if type({v}) is list: {v} = [e{i}(x, u{i}) for x in {v}]", f"elif {v} is not None: {call}"]
    return [f"if {v} is not None: {call}"]


def _structure_fields(cls: Any, ns: dict[str, Any], parsed: bool, prefix: str = "") -> list[StructureField]:
    fields = []
    for n, f in enumerate(_wire_fields(cls)):
        i = f"{prefix}{n}"
        source = tuple(_field_source(i, f, ns, parsed))
        fields.append(StructureField(wire_name(f), f.name, f.alias or f.name, source, _inline(i, f, ns, parsed)))
    return fields


def _inline(i: str, field: attrs.Attribute[Any], ns: dict[str, Any], parsed: bool) -> Any:
    """(class, fields) when a ``Model | None`` field can be structured in place, as its own function would do.

    One level deep (an Activity's accounts and conversation), for plain models without subtypes whose hook is
    the generated function; it saves a call and its setup for each (~3% of parsing a small activity).
    """
    inner: Any = _plain_optional_of(field.type) if field.metadata.get(CODEC) is None else None
    if "_" in i or not _is_model(inner) or inner.__dict__.get(SUBTYPES) or not stores_plainly(inner):
        return None
    generated = f"structure_{'parsed_' if parsed else ''}{inner.__name__}"
    if getattr(ns[f"h{i}"], "__name__", None) != generated:  # the generic function, a late lookup (a cycle), ...
        return None
    return inner, _structure_fields(inner, ns, parsed, prefix=f"{i}_")


def _make_fast_structure(cls: type[T], slow: Callable[[Any, Any], T], parsed: bool) -> Callable[[Any, Any], T]:
    """The structure function for ``cls`` described above; ``slow`` for anything but a dict."""
    ns: dict[str, Any] = {
        "slow": slow,
        "fromisoformat": datetime.fromisoformat,
        "structure": structure_parsed if parsed else converter.structure,
        "sub_hooks": _parsed_hooks if parsed else {},
    }
    fields = _structure_fields(cls, ns, parsed)
    subtypes = cls.__dict__.get(SUBTYPES, {})
    discriminator = cls.__dict__.get(DISCRIMINATOR) if subtypes else None
    name = f"structure_{'parsed_' if parsed else ''}{cls.__name__}"
    fast: Callable[[Any, Any], T] = structure_function(
        cls,
        name,
        fields,
        ns,
        extras_attribute=EXTRAS_FIELD,
        discriminator=discriminator,
        subtypes=subtypes,
        consume=parsed,
    )
    return fast


def _fast_supported(cls: type[Any]) -> bool:
    if any(isinstance(f.type, str) for f in attrs.fields(cls)):
        attrs.resolve_types(cls)
    # only None defaults: passing None for a missing key is then exactly what the attrs default does
    return attrs.fields_dict(cls)[EXTRAS_FIELD].init and all(
        f.default is None and f.init and f.type is not None for f in _wire_fields(cls)
    )


def _make_model_structure(cls: type[T]) -> Callable[[Any, Any], T]:
    working = _working("classes")
    if cls in working:  # a model that contains itself: cattrs' list/optional factories fall back to late binding
        raise RecursionError(f"{cls.__name__} is being generated")
    working.add(cls)
    try:
        if not _fast_supported(cls):
            return _make_generic_structure(cls)
        generic: list[Callable[[Any, Any], T]] = []

        def slow(data: Any, tp: Any) -> T:
            if not generic:  # built on first use: most models never see anything but a dict
                generic.append(_make_generic_structure(cls))
            return generic[0](data, tp)

        return _make_fast_structure(cls, slow, parsed=False)
    finally:
        working.discard(cls)


def _make_generic_unstructure(cls: type[Any], conv: cattrs.Converter = converter) -> Callable[[Any], dict[str, Any]]:
    """cattrs' generated function plus the extras: for models the generated serializers do not cover.

    (``conv``: the tests build a converter with nothing but these, the reference the generated ones must match.)
    """
    fields = _wire_fields(cls)
    overrides: dict[str, Any] = {f.name: override(rename=wire_name(f), omit_if_default=True) for f in fields}
    overrides.update(_omitted(cls))
    for f in fields:
        codec = f.metadata.get(CODEC)
        if codec is not None:
            overrides[f.name] = override(rename=wire_name(f), omit_if_default=True, unstruct_hook=codec[1])
    generated = make_dict_unstructure_fn(cls, conv, _cattrs_omit_if_default=True, **overrides)

    def unstructure_model(obj: Any) -> dict[str, Any]:
        if type(obj) is not cls:  # a subclass stored in a base-typed field (Mention in list[Entity])
            subclass_result: dict[str, Any] = conv.unstructure(obj, unstructure_as=type(obj))
            return subclass_result
        out: dict[str, Any] = generated(obj)
        extras = getattr(obj, EXTRAS_FIELD)
        if extras:
            for key, value in extras.items():
                if key not in out:
                    out[key] = conv.unstructure(value)
        return out

    return unstructure_model


def _unstructure_other_class(obj: Any) -> dict[str, Any]:
    result: dict[str, Any] = converter.unstructure(obj, unstructure_as=type(obj))
    return result


# Serializers. cattrs' generated function calls a hook for every field (identity for a str) and compares each
# with its default; ours, generated the same way as the structure functions, reads the attribute, tests
# ``is not None`` and writes plain values inline, calling the converter's own hook for anything else: the
# output is the same (tests/test_serde_unstructure.py compares them over every model). Each model gets two:
# the converter's (``to_dict``: a dict the caller owns, every JSON value copied) and the "tree" one
# (``to_json``: the input of the JSON encoder, which reads Any values and extras where they are).

#: tree serializers by class (None: not generated, the class serializes through the converter)
_tree_hooks: dict[Any, Callable[[Any], Any] | None] = {}


def _fast_unstructure_supported(cls: type[Any]) -> bool:
    if any(isinstance(f.type, str) for f in attrs.fields(cls)):
        attrs.resolve_types(cls)
    # None defaults only: cattrs omits a value equal to the default, which is then exactly ``is None``
    return all(f.default is None and f.type is not None for f in _wire_fields(cls))


def _model_hook(tp: Any, tree: bool) -> Callable[[Any], Any]:
    """The serializer of model ``tp`` (tree or dict); for a model being generated (a cycle), a per-call one."""
    if tree:
        if tp in _working("tree"):
            return _tree_of
        hook = _tree_hooks.get(tp) if tp in _tree_hooks else _tree_hook(tp)
        return hook if hook is not None else converter.get_unstructure_hook(tp)
    try:
        return converter.get_unstructure_hook(tp)
    except RecursionError:
        return converter.unstructure


def _unstructure_field(field: attrs.Attribute[Any], tree: bool, nested: bool = False) -> UnstructureField:
    key, tp, name = wire_name(field), field.type, field.name
    codec = field.metadata.get(CODEC)
    if codec is not None:
        return UnstructureField(name, key, "call", codec[1])
    if _open_enum_of(tp) is not None:
        return UnstructureField(name, key, "open_enum", converter.get_unstructure_hook(tp))
    if tp is Any:
        return UnstructureField(name, key, "any", _unstructure_any)
    inner = _plain_optional_of(tp)
    if inner is None:  # not ``X | None``: the converter's hook sees the value
        return UnstructureField(name, key, "call", _model_hook(tp, tree) if _is_model(tp) else _late_hook(tp))
    if _is_model(inner):
        hook = _model_hook(inner, tree)
        working = _working("tree" if tree else "unstructure")
        if nested or inner in working or not _fast_unstructure_supported(inner):
            return UnstructureField(name, key, "model", hook)
        working.add(inner)
        try:  # one level deep: an Activity writes its accounts and conversation itself
            inline = (inner, [_unstructure_field(f, tree, nested=True) for f in _wire_fields(inner)])
        finally:
            working.discard(inner)
        return UnstructureField(name, key, "model", hook, inline=inline)
    item = _model_list_item(inner)
    if item is not None:
        return UnstructureField(name, key, "model_list", _late_hook(inner), _model_hook(item, tree))
    hook = _late_hook(inner)
    if hook is unstructure_datetime and tree and Fragment is not None:
        return UnstructureField(name, key, "datetime", datetime_fragment)
    if inner in (str, int, float, bool) and hook.__name__ == "identity":
        return UnstructureField(name, key, "identity")
    if hook is list or hook is dict:  # list[str], dict[str, str]: cattrs copies them
        return UnstructureField(name, key, f"{hook.__name__}_copy", hook)
    return UnstructureField(name, key, "call", hook)


def _late_hook(tp: Any) -> Callable[[Any], Any]:
    try:
        return converter.get_unstructure_hook(tp)
    except RecursionError:  # a collection of a model being generated
        return lambda value: converter.unstructure(value, unstructure_as=tp)


def _make_fast_unstructure(cls: type[Any], tree: bool) -> Callable[[Any], dict[str, Any]]:
    working = _working("tree" if tree else "unstructure")
    if cls in working:
        raise RecursionError(f"{cls.__name__} is being generated")
    working.add(cls)
    try:
        fields = [_unstructure_field(f, tree) for f in _wire_fields(cls)]
    finally:
        working.discard(cls)
    return unstructure_function(
        cls,
        fields,
        EXTRAS_FIELD,
        tree=tree,
        other_class=_tree_of if tree else _unstructure_other_class,
        extra_value=converter.unstructure,
        datetime_json=None if _orjson is None else (Fragment, _orjson.dumps, DATETIME_OPTIONS),
    )


def _make_model_unstructure(cls: type[Any]) -> Callable[[Any], dict[str, Any]]:
    if _fast_unstructure_supported(cls):
        return _make_fast_unstructure(cls, tree=False)
    return _make_generic_unstructure(cls)


def _tree_hook(cls: type[Any]) -> Callable[[Any], Any] | None:
    hook = _make_fast_unstructure(cls, tree=True) if _fast_unstructure_supported(cls) else None
    _tree_hooks[cls] = hook
    return hook


def _tree_of(obj: Any) -> Any:
    """``obj`` (any model) as a JSON tree."""
    cls = type(obj)
    hook = _tree_hooks.get(cls) if cls in _tree_hooks else _tree_hook(cls)
    return hook(obj) if hook is not None else converter.unstructure(obj)


converter.register_unstructure_hook_factory(_is_model, _make_model_unstructure)


converter.register_structure_hook_factory(_is_model, _make_model_structure)


def register_subtype(base: type[Any], key: str, sub: type[Any]) -> None:
    """Make ``base`` parse as ``sub`` when the discriminator (``base.__botconnect_discriminator__``) is ``key``."""
    registry = base.__dict__.get(SUBTYPES)
    if registry is None:
        registry = {}
        setattr(base, SUBTYPES, registry)
    registry[key] = sub


# -- entry points -----------------------------------------------------------------------------------------


def structure(data: Any, cls: type[T]) -> T:
    return converter.structure(data, cls)


def structure_parsed(data: Any, cls: type[T]) -> T:
    """Like :func:`structure`, for a tree fresh from :func:`loads` that nothing else holds: it may be consumed."""
    hook = _parsed_hooks.get(cls) or _parsed_hook(cls)
    return hook(data, cls)  # type: ignore[no-any-return]


def unstructure(obj: Any) -> Any:
    return converter.unstructure(obj)


#: the standard library's encoder, made once (json.dumps with any option builds one per call: ~1 us)
_json_encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def dumps(data: Any) -> bytes:
    """Compact UTF-8 JSON, as the services send and expect it."""
    if _orjson is not None:
        try:
            encoded: bytes = _orjson.dumps(data)
            return encoded
        except TypeError:  # integers beyond 64 bits, non-str keys: the standard library copes
            pass
    return _json_encoder.encode(data).encode("utf-8")


def _encode_default(value: Any) -> Any:
    """What orjson gets for a value of a JSON tree it cannot encode itself: the converter's form of it.

    A model is written as its tree; a datetime (orjson's own format differs) as the converter writes it. Anything
    the converter leaves as it is raises TypeError, which sends the whole document down the exact path.
    """
    if _is_model(type(value)):
        return _tree_of(value)
    result = converter.unstructure(value)
    if type(result) is type(value):
        raise TypeError(f"{type(value).__name__} is not JSON serializable")
    return result


_TREE_OPTIONS = 0 if _orjson is None else _orjson.OPT_PASSTHROUGH_DATETIME | _orjson.OPT_PASSTHROUGH_DATACLASS


def model_to_json(obj: Any) -> bytes:
    """``dumps(unstructure(obj))`` for a model, without copying its JSON values first (orjson reads them)."""
    if _orjson is not None:
        hook: Any = _tree_hooks.get(type(obj), _tree_hook)
        if hook is _tree_hook:  # not generated yet
            hook = _tree_hook(type(obj))
        if hook is not None:
            try:
                encoded: bytes = _orjson.dumps(hook(obj), default=_encode_default, option=_TREE_OPTIONS)
                return encoded
            except TypeError:  # not JSON as orjson has it (big integers, non-str keys, ...): the exact path
                pass
    return dumps(converter.unstructure(obj))


def loads(data: bytes | str) -> Any:
    """Parse JSON; raises ValueError (or RecursionError for absurd nesting) on bad input, whichever parser runs."""
    if _orjson is not None:
        return _orjson.loads(data)  # orjson.JSONDecodeError is a ValueError
    return json.loads(data)
