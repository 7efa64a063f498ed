"""Source generation for serde's per-model functions: compiling them, and the serializers' source.

serde decides what each field needs (it knows the converter and its hooks); this module turns those decisions
into one flat Python function per model, so that serializing an Activity is a run of attribute reads and
``is not None`` tests rather than one converter hook call per field.
"""

from __future__ import annotations

import enum
import linecache
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["UnstructureField", "compile_function", "unstructure_function"]


def compile_function(name: str, tag: str, lines: Sequence[str], ns: dict[str, Any]) -> Callable[..., Any]:
    """Compile ``lines`` (a ``def name(...)``) in ``ns``; tracebacks show the source (``tag`` names the file)."""
    source = "\n".join(lines) + "\n"
    filename = f"<botconnect {name} {tag}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    exec(compile(source, filename, "exec"), ns)  # noqa: S102 (source built from field names and types only)
    function: Callable[..., Any] = ns[name]
    return function


@dataclass(frozen=True)
class UnstructureField:
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
      - ``"call"``: ``hook(value)``.
    """

    attribute: str
    key: str
    kind: str
    hook: Callable[[Any], Any] | None = None
    item_hook: Callable[[Any], Any] | None = None


def unstructure_function(
    cls: type[Any],
    fields: Sequence[UnstructureField],
    extras_attribute: str,
    *,
    tree: bool,
    other_class: Callable[[Any], Any],
    extra_value: Callable[[Any], Any],
) -> Callable[[Any], dict[str, Any]]:
    """The serializer of ``cls``: a dict of its non-None wire fields, then its extras (keys not already written).

    ``tree`` builds the input of a JSON encoder rather than a dict the caller owns: JSON-like values and extras
    are not copied. An instance of another class (a subclass in a base-typed field) goes to ``other_class``;
    extras values (in a dict, not a tree) through ``extra_value``.
    """
    name = f"{'tree' if tree else 'unstructure'}_{cls.__name__}"
    ns: dict[str, Any] = {"cls": cls, "other_class": other_class, "extra_value": extra_value, "Enum": enum.Enum}
    lines = [f"def {name}(obj):", "    if type(obj) is not cls:", "        return other_class(obj)", "    out = {}"]
    for i, field in enumerate(fields):
        v, h, key = f"v{i}", f"h{i}", repr(field.key)
        ns[h], ns[f"e{i}"] = field.hook, field.item_hook
        if field.kind == "identity" or (tree and field.kind in ("any", "open_enum")):
            # read twice rather than stored: an absent field (most of an Activity's) is then 3 instructions
            lines += [f"    if obj.{field.attribute} is not None:", f"        out[{key}] = obj.{field.attribute}"]
            continue
        lines += [f"    {v} = obj.{field.attribute}", f"    if {v} is not None:"]
        if field.kind in ("open_enum", "any"):  # most values are plain strings: no call for them
            value = f"{v} if type({v}) is str else {h}({v})"
        elif field.kind in ("list_copy", "dict_copy"):
            value = f"{v} if type({v}) is {field.kind[:4]} else {h}({v})" if tree else f"{h}({v})"
        elif field.kind == "model_list":
            value = f"[e{i}(x) for x in {v}] if type({v}) is list else {h}({v})"
        elif field.kind in ("model", "call"):
            value = f"{h}({v})"
        else:  # pragma: no cover - serde passes only the kinds above
            raise ValueError(f"unknown field kind {field.kind!r}")
        lines.append(f"        out[{key}] = {value}")
    lines += [f"    extras = obj.{extras_attribute}", "    if extras:", "        for key, x in extras.items():"]
    lines += ["            if key not in out:", f"                out[key] = {'x' if tree else 'extra_value(x)'}"]
    lines.append("    return out")
    function: Callable[[Any], dict[str, Any]] = compile_function(
        name, f"{cls.__module__}.{cls.__qualname__}", lines, ns
    )
    return function
