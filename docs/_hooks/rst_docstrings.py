"""A griffe extension: our docstrings are prose written for ``help()`` with a few reST habits (``:class:`X```
roles, ``::`` before a literal block). Markdown shows those literally, so this rewrites them as the rendered site
needs: roles become inline code, ``::`` a colon (the indented block after it is already a Markdown code block).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|meth|func|attr|exc|data|mod|obj|const):`~?([^`]+)`")
_LITERAL_MARKER = re.compile(r"(\S)::$|^::$", re.MULTILINE)


def markdown_of(text: str) -> str:
    """The docstring text with reST roles and literal-block markers turned into Markdown."""
    text = _ROLE.sub(lambda match: f"`{match.group(1)}`", text)
    return _LITERAL_MARKER.sub(lambda match: f"{match.group(1) or ''}:", text)


class RestRoles(griffe.Extension):
    """Rewrite every loaded docstring with :func:`markdown_of`."""

    def on_object(self, *, obj: griffe.Object, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = markdown_of(obj.docstring.value)
