"""What the API reference documents: every name in both façades' ``__all__``, grouped into pages, and the
docstring check that fails the docs build when a public name or method has none.

Read statically with griffe (the same view mkdocstrings renders), so the check and the site cannot disagree.
Run it alone with ``python docs/_hooks/api_inventory.py``: it prints each undocumented name and exits 1.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import griffe

ROOT = Path(__file__).resolve().parents[2]
FACADES = ("botconnect", "botconnect_aio")
# modules documented in full besides the façades: the emulator and its pytest plugin
EXTRA_MODULES = ("botconnect.emulator", "botconnect.emulator.pytest_plugin")

# page -> the modules (after the façade prefix) whose exports it shows; the first match wins
GROUPS: dict[str, tuple[str, ...]] = {
    "connector": ("connector",),
    "directline": ("directline",),
    "chat": ("chat", "_core.chat_events", "identity"),
    "receiving": ("inbound", "_core.inbound_auth", "skills"),
    "user-tokens": ("user_token",),
    "streaming": ("streaming",),
    "auth": ("auth", "_core.auth"),
    "plumbing": ("_paging", "_core.paging", "_core.retry", "_transport", "_version"),
    "errors": ("errors",),
    "models": ("models",),
}
OTHER = "other"  # exports from a module no group names yet: shown on their own page, never lost


@dataclass(frozen=True)
class Export:
    """One public name of one façade."""

    facade: str
    name: str
    target: str  # the dotted path of the object it resolves to
    imported_from: str  # the module the façade imports it from

    @property
    def identifier(self) -> str:
        return f"{self.facade}.{self.name}"


_LOADED: dict[tuple[Path, tuple[str, ...]], dict[str, griffe.Module]] = {}


def load(package: str, *, root: Path = ROOT, facades: tuple[str, ...] = FACADES) -> griffe.Module:
    """Both façades, loaded once into one collection (the async one re-exports the sync one's names)."""
    loaded = _LOADED.get((root, facades))
    if loaded is None:
        loader = griffe.GriffeLoader(search_paths=[str(root)])
        loaded = _LOADED[root, facades] = {facade: loader.load(facade) for facade in facades}  # type: ignore[misc]
        loader.resolve_aliases(implicit=False, external=False)
    return loaded[package]


def exports(package: griffe.Module) -> Iterator[Export]:
    for name in sorted(package.exports or (), key=str):
        member = package[str(name)]
        imported_from = member.target_path.rsplit(".", 1)[0] if member.is_alias else package.path
        target = member.final_target.path if member.is_alias else member.path
        yield Export(package.path, str(name), target, imported_from)


def group_of(export: Export) -> str:
    relative = export.imported_from.removeprefix("botconnect_aio").removeprefix("botconnect").lstrip(".")
    for group, modules in GROUPS.items():
        if any(relative == module or relative.startswith(module + ".") for module in modules):
            return group
    return OTHER


def missing_docstrings(
    *, root: Path = ROOT, facades: tuple[str, ...] = FACADES, extra_modules: tuple[str, ...] = EXTRA_MODULES
) -> list[str]:
    """Public names (and the public methods and properties of public classes) without a docstring."""
    missing: list[str] = []
    seen: set[str] = set()
    for facade in facades:
        package = load(facade, root=root, facades=facades)
        for export in exports(package):
            obj = package[export.name].final_target if package[export.name].is_alias else package[export.name]
            if obj.path in seen:
                continue
            seen.add(obj.path)
            missing.extend(_undocumented(obj, export.identifier))
    for module_path in extra_modules:
        top, _, rest = module_path.partition(".")
        module = load(top, root=root, facades=facades)[rest]
        if not module.docstring:
            missing.append(module_path)
        for name in module.exports or [n for n in module.members if not n.startswith("_")]:
            member = module[str(name)]
            obj = member.final_target if member.is_alias else member
            if obj.path not in seen:
                seen.add(obj.path)
                missing.extend(_undocumented(obj, f"{module_path}.{name}"))
    return missing


def _undocumented(obj: griffe.Object, shown_as: str) -> Iterator[str]:
    if obj.is_attribute:  # constants: documented where they are grouped (a docstring is welcome, not required)
        return
    if not (obj.docstring and obj.docstring.value.strip()):
        yield shown_as
    if not obj.is_class:
        return
    for name, member in obj.members.items():
        if name.startswith("_") or member.is_alias:
            continue  # private or re-exported
        if member.is_attribute and "property" not in member.labels:
            continue  # a data field (attrs fields are described by the class); properties are API
        if not (member.docstring and member.docstring.value.strip()):
            yield f"{shown_as}.{name}"


if __name__ == "__main__":
    undocumented = missing_docstrings()
    for path in undocumented:
        print(f"no docstring: {path}")
    sys.exit(1 if undocumented else 0)
