"""Source generation for serde's per-model functions: the structure and serializer functions, compiled.

serde decides what each field needs (it knows the converter and its hooks); this module turns those decisions
into one flat Python function per model, so that parsing or serializing an Activity is a run of dict lookups
or attribute reads rather than one converter hook call per field. It also holds the type and attrs
introspection those decisions rest on.
"""

from __future__ import annotations

import datetime
import enum
import linecache
import types
import typing
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, cast

import attrs

__all__ = [
    "StructureField",
    "UnstructureField",
    "compile_function",
    "forget_shapes",
    "open_enum_of",
    "plain_optional_of",
    "stores_plainly",
    "structure_function",
    "unstructure_function",
]

#: fields per group in a structure function: a group is skipped (its fields set to None) once every key is read
CHUNK = 6
#: key sequences ("shapes") remembered per structure function; past that, new shapes take the general path
MAX_SHAPES = 32
_FACTORY: Any = attrs.Factory  # a class at run time (the stubs type it as an overloaded function)


# -- types ------------------------------------------------------------------------------------------------


def union_args(tp: Any) -> tuple[Any, ...]:
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        return typing.get_args(tp)
    return ()


def open_enum_of(tp: Any) -> type[enum.Enum] | None:
    """``E`` for an open enum ``E | str`` (``| None``), ``E`` a str enum; else None."""
    args = [a for a in union_args(tp) if a is not type(None)]
    if len(args) != 2 or str not in args:
        return None
    other = args[0] if args[1] is str else args[1]
    if isinstance(other, type) and issubclass(other, enum.Enum) and issubclass(other, str):
        return other
    return None


def plain_optional_of(tp: Any) -> Any:
    """``X`` for a ``X | None`` that is not an open enum, else None."""
    args = union_args(tp)
    if len(args) != 2 or type(None) not in args or open_enum_of(tp) is not None:
        return None
    return args[0] if args[1] is type(None) else args[1]


def plain_new(cls: Any) -> bool:
    return cls.__new__ is object.__new__


def stores_plainly(cls: Any) -> bool:
    """Whether attrs' __init__ of ``cls`` does nothing but store its arguments and defaults."""
    init_code = getattr(cls.__init__, "__code__", None)
    return (
        plain_new(cls)
        and cls.__setattr__ is object.__setattr__  # not frozen, no on_setattr hooks
        and init_code is not None
        and init_code.co_filename.startswith("<attrs generated")  # not a hand-written __init__
        and not hasattr(cls, "__attrs_pre_init__")
        and not hasattr(cls, "__attrs_post_init__")
        and all(
            f.validator is None
            and f.converter is None
            and f.default is not attrs.NOTHING
            and not getattr(f.default, "takes_self", False)
            for f in attrs.fields(cls)
        )
    )


# -- compiling ----------------------------------------------------------------------------------------------


def compile_function(name: str, tag: str, lines: Sequence[str], ns: dict[str, Any]) -> Callable[..., Any]:
    """Compile ``lines`` (a ``def name(...)``) in ``ns``; tracebacks show the source (``tag`` names the file)."""
    source = "\n".join(lines) + "\n"
    filename = f"<botconnect {name} {tag}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    exec(compile(source, filename, "exec"), ns)  # noqa: S102 (source built from field names and types only)
    function: Callable[..., Any] = ns[name]
    return function


# -- structure functions --------------------------------------------------------------------------------------


class StructureField(NamedTuple):  # not a dataclass: building one costs ~1 ms of import time
    """One wire field: its key, attribute, ``__init__`` keyword, and the lines that structure ``v<i>`` (its
    value, the key being present) using the names serde put in the namespace."""

    key: str
    attribute: str
    alias: str
    value_lines: tuple[str, ...]
    #: (the model class, its fields) to structure a dict value in place, as that class's own function would
    inline: tuple[type[Any], Sequence[StructureField]] | None = None


def structure_function(
    cls: type[Any],
    name: str,
    fields: Sequence[StructureField],
    ns: dict[str, Any],
    *,
    extras_attribute: str,
    discriminator: str | None,
    subtypes: Mapping[str, type[Any]],
    consume: bool = False,
) -> Callable[[Any, Any], Any]:
    """The structure function of ``cls``: ``slow`` (in ``ns``) for anything but a dict, a registered subtype's
    function (``sub_hooks``, else ``structure``) for its tag, else each field's key looked for with ``in`` and
    read only when present.

    An Activity has 43 fields and a message sets a dozen: most fields cost one lookup and one store of None, and
    once every key of the dict has been read the remaining groups of fields are set to None without lookups. A
    count of the keys read tells whether there are unknown ones to keep (in their order).

    For a class whose ``__init__`` only stores and that has more fields than one group, a dict's key sequence (a
    channel sends the same keys in the same order, message after message) finds, or on first sight compiles, a
    function made for exactly those keys (see :func:`_shape_function`), which unpacks the values in one step;
    past ``MAX_SHAPES`` sequences, and for non-str keys, the general path above is taken.

    ``consume`` (a tree fresh from ``loads`` that nothing else holds): the general path pops the keys it reads
    and keeps what is left as the extras, in their order, instead of building a second dict.
    """
    ns.update(cls=cls, known=frozenset(f.key for f in fields), new=object.__new__, init=cls.__init__)
    lines = [f"def {name}(data, _=None):", "    if type(data) is not dict:", "        return slow(data, cls)"]
    if discriminator is not None:
        ns["subtypes"] = subtypes
        lines += [
            f"    tag = data.get({discriminator!r})",
            "    sub = subtypes.get(tag) if isinstance(tag, str) else None",
            "    if sub is not None and sub is not cls:",
            "        hook = sub_hooks.get(sub)  # the subtype's function, when made: one call less than structure's",
            "        return structure(data, sub) if hook is None else hook(data, sub)",
        ]
    # what __init__ would do, without matching a dozen keywords (~10% of a parse): store straight into the slots
    plain = stores_plainly(cls)
    shapes: dict[tuple[Any, ...], Callable[[Any], Any]] = {}
    # a shape saves a lookup per field: worth its extra call only for models with more fields than one group
    if plain and len(fields) > CHUNK:
        ns["shapes"], ns["learn"], ns["last"] = (
            shapes,
            _shape_learner(cls, name, fields, ns, shapes, extras_attribute),
            _NO_SHAPE,
        )
        # the shape of the previous dict first: a list of the keys compared with its list costs ~40% of
        # building their tuple and looking it up (orjson hands out the same key objects, so == finds them
        # identical); (keys, function) is one tuple, so that another thread reads a matching pair
        lines += [
            "    global last",
            "    listed = [*data]",
            "    seen = last",
            "    if listed == seen[0]:",
            "        return seen[1](data)",
            "    keys = tuple(listed)",
            "    shaped = shapes.get(keys)",
            f"    if shaped is None and len(shapes) < {MAX_SHAPES}:",
            "        shaped = learn(data, keys)",  # before anything is read: the general path may consume data
            "    if shaped is not None:",
            "        last = (listed, shaped)",
            "        return shaped(data)",
        ]
    lines.append("    try:")
    lines += _body_source(cls, "data", "obj", "", fields, ns, extras_attribute, plain, "        ", consume)
    if plain:
        lines.append("        return obj")
    else:
        extras = attrs.fields_dict(cast(Any, cls))[extras_attribute]
        args = "".join(f"{f.alias}=v{i}, " for i, f in enumerate(fields)) + f"{extras.alias}=extras"
        if plain_new(cls):  # calling the class would pack the keywords into a dict for __init__
            lines += ["        obj = new(cls)", f"        init(obj, {args})", "        return obj"]
        else:
            lines.append(f"        return cls({args})")
    lines += _wrong_shape(cls, "    ")
    function = compile_function(name, f"{cls.__module__}.{cls.__qualname__}", lines, ns)
    if plain:
        function.shapes = shapes  # type: ignore[attr-defined]  # read by a parent's shape functions and the tests
        _SHAPED.add(function)
    return function


#: every structure function with shape functions (so that the tests can forget them)
_SHAPED: weakref.WeakSet[Callable[..., Any]] = weakref.WeakSet()


#: what a structure function's ``last`` shape is before it has seen one (no list of keys equals a tuple)
_NO_SHAPE: tuple[Any, Any] = ((), None)


def forget_shapes() -> None:
    """Drop every remembered shape function: the next dict of each shape compiles its function anew."""
    for function in list(_SHAPED):
        function.shapes.clear()  # type: ignore[attr-defined]
        function.__globals__["last"] = _NO_SHAPE


def _shape_learner(
    cls: type[Any],
    name: str,
    fields: Sequence[StructureField],
    ns: dict[str, Any],
    shapes: dict[tuple[Any, ...], Callable[[Any], Any]],
    extras_attribute: str,
) -> Callable[[dict[Any, Any], tuple[Any, ...]], Callable[[Any], Any] | None]:
    def learn(data: dict[Any, Any], keys: tuple[Any, ...]) -> Callable[[Any], Any] | None:
        # str keys only: a shape is matched by ==, and a learned one must mean what the general path reads
        if not all(type(key) is str for key in keys):
            return None
        shape = shapes[keys] = _shape_function(cls, f"{name}_shape{len(shapes)}", data, fields, ns, extras_attribute)
        return shape

    return learn


def _shape_function(
    cls: type[Any],
    name: str,
    sample: dict[str, Any],
    fields: Sequence[StructureField],
    ns: dict[str, Any],
    extras_attribute: str,
) -> Callable[[Any], Any]:
    """The structure function of ``cls`` for a dict with the keys of ``sample``, in that order.

    The values are unpacked in one step (``data.values()``, in key order), then converted and stored in field
    order, as the general path does: the same hooks, so the same values, and for a bad document the same error
    (the first bad field in field order). Nothing is looked up, and a shape without unknown keys builds no
    comprehension for the extras. A field the general path structures in place (an account) is built in place
    too when its dict has exactly the known keys ``sample``'s had (any order: without extras, order is moot).
    """
    keys = tuple(sample)
    position = {key: index for index, key in enumerate(keys)}
    targets = []
    for index, key in enumerate(keys):
        slot = next((i for i, f in enumerate(fields) if f.key == key), None)
        targets.append(f"v{slot}" if slot is not None else f"_unknown{index}")
    lines = [f"def {name}(data):", "    try:"]
    if keys:
        lines.append(f"        {', '.join(targets)}, = data.values()")
    lines.append("        obj = new(cls)")
    for i, field in enumerate(fields):
        if field.key in position:
            lines += _shaped_value(i, field, sample[field.key], ns, extras_attribute, "        ")
            lines.append(f"        obj.{field.attribute} = v{i}")
        else:
            lines.append(f"        obj.{field.attribute} = None")
    # the unknown keys are known here, and their values already unpacked: a dict display, in their order
    pairs = zip(keys, targets, strict=True)
    unknown = ", ".join(f"{key!r}: {target}" for key, target in pairs if target.startswith("_unknown"))
    lines.append(f"        obj.{extras_attribute} = {{{unknown}}}")
    lines += _local_defaults(cls, "obj", "", fields, ns, extras_attribute, "        ")
    lines.append("        return obj")
    lines += _wrong_shape(cls, "    ")
    shape: Callable[[Any], Any] = compile_function(name, f"{cls.__module__}.{cls.__qualname__}", lines, ns)
    return shape


def _shaped_value(
    i: int, field: StructureField, sample: Any, ns: dict[str, Any], extras_attribute: str, indent: str
) -> list[str]:
    """Lines that structure ``v<i>`` in a shape function: in place for an inline field whose sample was a dict of
    known str keys only, when the value has exactly those keys; otherwise (and for any other field) its lines."""
    general = [f"{indent}{line}" for line in field.value_lines]
    if field.inline is None or type(sample) is not dict or not sample:
        return general
    nested, nested_fields = field.inline
    by_key = {f.key: f for f in nested_fields}
    if not all(type(key) is str and key in by_key for key in sample):
        return general
    v, o, inside = f"v{i}", f"o{i}", indent + "        "
    test = " and ".join([f"len({v}) == {len(sample)}", *(f"{key!r} in {v}" for key in sample)])
    lines = [f"{indent}if type({v}) is dict and {test}:", f"{indent}    try:", f"{inside}{o} = new(cls{i}_)"]
    for n, f in enumerate(nested_fields):
        if f.key in sample:
            lines += [f"{inside}v{i}_{n} = {v}[{f.key!r}]", *(f"{inside}{line}" for line in f.value_lines)]
            lines.append(f"{inside}{o}.{f.attribute} = v{i}_{n}")
        else:
            lines.append(f"{inside}{o}.{f.attribute} = None")
    lines.append(f"{inside}{o}.{extras_attribute} = {{}}")
    lines += _local_defaults(nested, o, f"{i}_", nested_fields, ns, extras_attribute, inside)
    lines += [f"{inside}{v} = {o}", *_wrong_shape(nested, indent + "    ")]
    return [*lines, f"{indent}else:", *(f"    {line}" for line in general)]


def _wrong_shape(cls: type[Any], indent: str) -> list[str]:
    return [
        f"{indent}except AttributeError as exc:  # e.g. a list where the spec has an object (``metadata: []``)",
        f"{indent}    raise TypeError(f'{cls.__name__}: a field has the wrong JSON shape ({{exc}})') from exc",
    ]


def _body_source(
    cls: type[Any],
    data: str,
    obj: str,
    prefix: str,
    fields: Sequence[StructureField],
    ns: dict[str, Any],
    extras_attribute: str,
    plain: bool,
    indent: str,
    consume: bool = False,
) -> list[str]:
    """Lines that read ``fields`` from dict ``data`` into ``obj`` (made here when ``plain``) or ``v<i>`` locals,
    with the unknown keys in ``extras`` (``plain``: stored too). Names get ``prefix`` (a nested model's)."""
    n, size, extras_name = f"n{prefix}", f"size{prefix}", f"extras{prefix}"
    ns[f"cls{prefix}"], ns[f"known{prefix}"] = cls, frozenset(f.key for f in fields)
    lines = [f"{indent}{n} = 0", f"{indent}{size} = len({data})"]
    if plain:
        lines.append(f"{indent}{obj} = new(cls{prefix})")

    def target(i: int, field: StructureField) -> str:
        return f"{obj}.{field.attribute}" if plain else f"v{prefix}{i}"

    for start in range(0, len(fields), CHUNK):
        group = list(enumerate(fields[start : start + CHUNK], start))
        inside = indent + "    " if start else indent
        if start:
            lines.append(f"{indent}if {n} < {size}:")
        for i, f in group:
            v = f"v{prefix}{i}"
            lines += [
                f"{inside}if {f.key!r} in {data}:",
                f"{inside}    {v} = {data}.pop({f.key!r})" if consume else f"{inside}    {v} = {data}[{f.key!r}]",
                f"{inside}    {n} += 1",
            ]
            if f.inline is not None:  # a dict becomes the nested model right here; anything else: its hook
                nested, nested_fields = f.inline
                lines += [f"{inside}    if type({v}) is dict:", f"{inside}        try:"]
                lines += _body_source(
                    nested,
                    v,
                    f"o{prefix}{i}",
                    f"{prefix}{i}_",
                    nested_fields,
                    ns,
                    extras_attribute,
                    True,
                    inside + "            ",
                    consume,
                )
                lines += [f"{inside}            {v} = o{prefix}{i}", *_wrong_shape(nested, inside + "        ")]
                lines += [f"{inside}    else:", *(f"{inside}        {line}" for line in f.value_lines)]
            else:
                lines += [f"{inside}    {line}" for line in f.value_lines]
            if plain:
                lines.append(f"{inside}    {target(i, f)} = {v}")
            lines += [f"{inside}else:", f"{inside}    {target(i, f)} = None"]
        if start:
            lines += [f"{indent}else:", *(f"{indent}    {target(i, f)} = None" for i, f in group)]
    if consume:  # what is left of a dict nothing else holds is its unknown keys, in their order
        lines.append(f"{indent}{extras_name} = {data}")
    else:
        lines += [
            f"{indent}if {n} == {size}:",
            f"{indent}    {extras_name} = {{}}",
            f"{indent}else:",
            f"{indent}    {extras_name} = {{k: x for k, x in {data}.items() if k not in known{prefix}}}",
        ]
    if plain:
        lines.append(f"{indent}{obj}.{extras_attribute} = {extras_name}")
        lines += _local_defaults(cls, obj, prefix, fields, ns, extras_attribute, indent)
    return lines


def _local_defaults(
    cls: type[Any],
    obj: str,
    prefix: str,
    fields: Sequence[StructureField],
    ns: dict[str, Any],
    extras_attribute: str,
    indent: str,
) -> list[str]:
    """Lines that give ``obj``'s fields that are not on the wire their defaults."""
    lines = []
    wire = {f.attribute for f in fields} | {extras_attribute}
    for f in attrs.fields(cast(Any, cls)):
        if f.name not in wire:
            factory = isinstance(f.default, _FACTORY)
            ns[f"d{prefix}_{f.name}"] = f.default.factory if factory else f.default
            lines.append(f"{indent}{obj}.{f.name} = d{prefix}_{f.name}{'()' if factory else ''}")
    return lines


# -- serializers ------------------------------------------------------------------------------------------------


class UnstructureField(NamedTuple):
    """How one wire field is written, when its value is not None.

    ``kind`` is one of:
      - ``"identity"``: the value as it is (the converter's hook for str/int/float/bool is the identity);
      - ``"open_enum"``: a plain str as it is, anything else through ``hook`` (an enum member gives its value);
        into a JSON tree as it is (orjson writes an enum member as its value, as the hook does);
      - ``"model"``: ``hook`` is the nested model's generated function;
      - ``"model_list"``: a list through ``item_hook`` item by item (a model's generated function), anything
        else through ``hook`` (the converter's, which gives the same for a list);
      - ``"any"``: an ``Any`` value: a str as it is, anything else copied by ``hook``; into a JSON tree as it is
        (the encoder walks it and hands what it cannot encode back to serde: see serde.model_to_json);
      - ``"list_copy"`` / ``"dict_copy"``: ``hook`` is ``list`` / ``dict`` (``list[str]``, ``dict[str, str]``);
        into a JSON tree, a list / dict as it is;
      - ``"call"``: ``hook(value)``;
      - ``"datetime"`` (trees only): a datetime in UTC as a fragment of the encoder's own text of it (see
        ``datetime_json``), anything else through ``hook``: no Python call for the common case.
    """

    attribute: str
    key: str
    kind: str
    hook: Callable[[Any], Any] | None = None
    item_hook: Callable[[Any], Any] | None = None
    #: for a ``"model"`` field: (the model class, its fields) to write an instance of exactly that class in place
    inline: tuple[type[Any], Sequence[UnstructureField]] | None = None


def unstructure_function(
    cls: type[Any],
    fields: Sequence[UnstructureField],
    extras_attribute: str,
    *,
    tree: bool,
    other_class: Callable[[Any], Any],
    extra_value: Callable[[Any], Any],
    datetime_json: tuple[Callable[[bytes], Any], Callable[..., bytes], int] | None = None,
) -> Callable[[Any], dict[str, Any]]:
    """The serializer of ``cls``: a dict of its non-None wire fields, then its extras (keys not already written).

    ``tree`` builds the input of a JSON encoder rather than a dict the caller owns: JSON-like values and extras
    are not copied. An instance of another class (a subclass in a base-typed field) goes to ``other_class``;
    extras values (in a dict, not a tree) through ``extra_value``. A field with ``inline`` fields writes an
    instance of exactly its class in place (no call: an Activity's accounts), anything else through its hook.
    ``datetime_json`` is ``(fragment, dumps, option)``: a ``"datetime"`` field in UTC writes
    ``fragment(dumps(value, option=option))``.
    """
    name = f"{'tree' if tree else 'unstructure'}_{cls.__name__}"
    ns: dict[str, Any] = {"cls": cls, "other_class": other_class, "extra_value": extra_value, "Enum": enum.Enum}
    if datetime_json is not None:
        ns.update(datetime=datetime.datetime, UTC=datetime.UTC)
        ns["dt_fragment"], ns["dt_dumps"], ns["dt_option"] = datetime_json
    lines = [f"def {name}(obj):", "    if type(obj) is not cls:", "        return other_class(obj)", "    out = {}"]
    lines += _fields_source("obj", "out", "", fields, extras_attribute, tree, ns, "    ")
    lines.append("    return out")
    function: Callable[[Any], dict[str, Any]] = compile_function(
        name, f"{cls.__module__}.{cls.__qualname__}", lines, ns
    )
    return function


def _fields_source(
    obj: str,
    out: str,
    prefix: str,
    fields: Sequence[UnstructureField],
    extras_attribute: str,
    tree: bool,
    ns: dict[str, Any],
    indent: str,
    depth: int = 0,
) -> list[str]:
    """Lines that write the wire fields and extras of ``obj`` into ``out`` (names in ``ns`` get ``prefix``).

    Most fields are None: each is tested by reading its attribute (3 instructions) and read again only when set,
    rather than kept in a local. Locals are named by depth, not by field (one ``v<depth>`` for every value): a
    frame clears each of its locals on return, ~1% of serializing a small activity with one local per field.
    """
    lines: list[str] = []
    v, o = f"v{depth}", f"o{depth}"
    for i, field in enumerate(fields):
        h, e, key, attribute = f"h{prefix}{i}", f"e{prefix}{i}", repr(field.key), f"{obj}.{field.attribute}"
        ns[h], ns[e] = field.hook, field.item_hook
        lines.append(f"{indent}if {attribute} is not None:")
        if field.kind == "identity" or (tree and field.kind in ("any", "open_enum")):
            lines.append(f"{indent}    {out}[{key}] = {attribute}")
            continue
        lines.append(f"{indent}    {v} = {attribute}")
        if field.inline is not None:
            nested, nested_fields = field.inline
            ns[f"c{prefix}{i}"] = nested
            lines += [f"{indent}    if type({v}) is c{prefix}{i}:", f"{indent}        {o} = {{}}"]
            lines += _fields_source(
                v, o, f"{prefix}{i}_", nested_fields, extras_attribute, tree, ns, indent + "        ", depth + 1
            )
            lines += [
                f"{indent}        {out}[{key}] = {o}",
                f"{indent}    else:",
                f"{indent}        {out}[{key}] = {h}({v})",
            ]
            continue
        if field.kind in ("open_enum", "any"):  # most values are plain strings: no call for them
            value = f"{v} if type({v}) is str else {h}({v})"
        elif field.kind in ("list_copy", "dict_copy"):
            value = f"{v} if type({v}) is {field.kind[:4]} else {h}({v})" if tree else f"{h}({v})"
        elif field.kind == "model_list":
            value = f"[{e}(x) for x in {v}] if type({v}) is list else {h}({v})"
        elif field.kind in ("model", "call"):
            value = f"{h}({v})"
        elif field.kind == "datetime":  # a timestamp is nearly always UTC: its text without a call of ours
            fast = f"dt_fragment(dt_dumps({v}, option=dt_option))"
            value = f"{fast} if type({v}) is datetime and {v}.tzinfo is UTC else {h}({v})"
        else:  # pragma: no cover - serde passes only the kinds above
            raise ValueError(f"unknown field kind {field.kind!r}")
        lines.append(f"{indent}    {out}[{key}] = {value}")
    extras = f"{obj}.{extras_attribute}"
    lines += [f"{indent}if {extras}:", f"{indent}    for key, x in {extras}.items():"]
    lines += [
        f"{indent}        if key not in {out}:",
        f"{indent}            {out}[key] = {'x' if tree else 'extra_value(x)'}",
    ]
    return lines
