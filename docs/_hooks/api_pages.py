"""MkDocs hook: fills the reference pages from both façades' ``__all__`` and fails a strict build on public names
without docstrings.

A reference page holds a marker ``<!-- api: GROUP -->``; the hook replaces it with one mkdocstrings block per name of
that group (see ``GROUPS`` in api_inventory.py), so a name another change adds to ``__all__`` appears on its page
(or on "Other" when its module is new) with no edit to the docs. A name that lives in the sync package and is
re-exported unchanged by ``botconnect_aio`` (models, errors, settings) is rendered once.
"""

from __future__ import annotations

import logging
import re
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import api_inventory

log = logging.getLogger("mkdocs.plugins.botconnect_api")
_MARKER = re.compile(r"<!--\s*api:\s*([\w-]+)\s*-->")
_pages: dict[str, str] = {}


def on_config(config: Any) -> Any:
    _pages.clear()
    for path in api_inventory.missing_docstrings():
        log.warning("public name without a docstring: %s", path)  # --strict turns this into a failed build
    return config


def _blocks(group: str) -> str:
    by_target: dict[str, list[api_inventory.Export]] = defaultdict(list)
    for facade in api_inventory.FACADES:
        for export in api_inventory.exports(api_inventory.load(facade)):
            if api_inventory.group_of(export) == group:
                by_target[export.target].append(export)
    if not by_target:
        return "_Nothing here yet._\n"
    shared, twins = [], defaultdict(list)
    for names in sorted(by_target.values(), key=lambda names: names[0].name.lower()):
        if len(names) > 1:  # both façades export the very same object
            shared.append(names[0])
        elif names[0].facade == "botconnect_aio":
            twins[names[0].name].append(names[0])
        else:
            twins[names[0].name].insert(0, names[0])
    lines: list[str] = []
    # the clients first (what a reader starts from), then everything else alphabetically
    for name, exports in sorted(twins.items(), key=lambda item: (not item[0].endswith("Client"), item[0].lower())):
        lines.append(f"## `{name}`\n")
        if len(exports) > 1:
            lines.append('=== "sync (botconnect)"\n')
            lines.append(_directive(exports[0], indent="    "))
            lines.append('=== "async (botconnect_aio)"\n')
            lines.append(_directive(exports[1], indent="    "))
        else:
            lines.append(_directive(exports[0]))
    if shared:
        if twins:
            lines.append("## Shared by both packages\n")
            lines.append("The same objects are importable from `botconnect` and `botconnect_aio`.\n")
        for export in shared:
            lines.append(_directive(export, heading_level=3 if twins else 2))
    return "\n".join(lines)


def _directive(export: api_inventory.Export, *, indent: str = "", heading_level: int = 3) -> str:
    return (
        f"{indent}::: {export.identifier}\n"
        f"{indent}    options:\n"
        f"{indent}      heading_level: {heading_level}\n"
        f"{indent}      show_root_heading: true\n"
        f"{indent}      show_root_full_path: true\n"
    )


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    return _MARKER.sub(lambda match: _blocks(match.group(1)), markdown)
