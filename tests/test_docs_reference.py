"""The API reference's machinery (docs/_hooks): the docstring check that fails the strict docs build, the grouping of
both façades' exports into pages, and the reST-to-Markdown rewrite of docstrings. ``nox -s docs`` builds the site
itself; these tests pin what the build relies on."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs" / "_hooks"))

import api_inventory  # noqa: E402
import rst_docstrings  # noqa: E402


def _package(root: Path, name: str, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / name / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


def test_the_check_names_each_public_name_method_and_property_without_a_docstring(tmp_path: Path) -> None:
    _package(
        tmp_path,
        "fake_sync",
        {
            "__init__.py": '''
                """A façade."""
                from ._impl import Client, helper, undocumented_function, CONSTANT
                __all__ = ["Client", "helper", "undocumented_function", "CONSTANT"]
            ''',
            "_impl.py": '''
                """Implementation."""
                CONSTANT = 3

                def helper() -> None:
                    """Documented."""

                def undocumented_function() -> None:
                    pass

                class Client:
                    """Documented class."""

                    data_field: int = 0

                    def documented(self) -> None:
                        """Yes."""

                    def undocumented_method(self) -> None:
                        pass

                    @property
                    def undocumented_property(self) -> int:
                        return 1

                    def _private(self) -> None:
                        pass
            ''',
        },
    )
    _package(
        tmp_path,
        "fake_aio",
        {
            "__init__.py": '''
                """The async façade: re-exports the sync helper, has its own client."""
                from fake_sync import helper
                from ._client import Client
                __all__ = ["Client", "helper"]
            ''',
            "_client.py": '''
                class Client:
                    async def close(self) -> None:
                        """Documented."""
            ''',
        },
    )
    missing = api_inventory.missing_docstrings(root=tmp_path, facades=("fake_sync", "fake_aio"), extra_modules=())
    assert missing == [
        "fake_sync.Client.undocumented_method",
        "fake_sync.Client.undocumented_property",
        "fake_sync.undocumented_function",
        "fake_aio.Client",
    ]


def test_both_packages_document_every_public_name() -> None:
    assert api_inventory.missing_docstrings() == []


def _nav_pages() -> set[str]:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    pages: set[str] = set()
    pending = list(config["nav"])
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        else:
            pages.add(str(item))
    return pages


def test_every_export_lands_on_a_reference_page_in_the_nav() -> None:
    nav = _nav_pages()
    groups = {*api_inventory.GROUPS, api_inventory.OTHER}
    for group in groups:
        page = ROOT / "docs" / "reference" / f"{group}.md"
        assert f"reference/{group}.md" in nav, group
        assert f"<!-- api: {group} -->" in page.read_text(encoding="utf-8"), page
    counted = 0
    for facade in api_inventory.FACADES:
        for export in api_inventory.exports(api_inventory.load(facade)):
            assert api_inventory.group_of(export) in groups
            counted += 1
    assert counted > 300  # both façades' __all__, every name


def test_an_export_from_a_new_module_goes_to_other() -> None:
    new = api_inventory.Export("botconnect", "Brand", "botconnect.brand_new.Brand", "botconnect.brand_new")
    known = api_inventory.Export("botconnect_aio", "ChatClient", "x", "botconnect_aio.chat")
    assert api_inventory.group_of(new) == api_inventory.OTHER
    assert api_inventory.group_of(known) == "chat"


@pytest.mark.parametrize(
    ("docstring", "markdown"),
    [
        ("A :class:`MicrosoftAppCredentials` or :meth:`Foo.bar`.", "A `MicrosoftAppCredentials` or `Foo.bar`."),
        (
            "See :func:`~botconnect.x.parse` and :data:`EMULATOR_APP_ID`.",
            "See `botconnect.x.parse` and `EMULATOR_APP_ID`.",
        ),
        ("Example::\n\n    code()\n", "Example:\n\n    code()\n"),
        ("::\n\n    code()", ":\n\n    code()"),
        ("Ratios (10:1) and a: b stay.", "Ratios (10:1) and a: b stay."),
    ],
)
def test_rest_habits_become_markdown(docstring: str, markdown: str) -> None:
    assert rst_docstrings.markdown_of(docstring) == markdown
