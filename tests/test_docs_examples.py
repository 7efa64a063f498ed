"""Find the Python code blocks of README.md and docs/**/*.md, and say how each is checked.

A block is run (a script that exits 0, offline, against the emulator) unless the HTML comment right before it says
otherwise::

    <!-- example: fragment -->              type-checked only (it needs a web request, a real service...)
    <!-- example: fragment, async           type-checked inside ``async def`` (for top-level ``await``)
    from botconnect.models import Activity  lines after the first are a hidden preamble: imports and
    incoming: Activity                      declarations the fragment assumes
    -->

Every block is type-checked with ``mypy --strict``. A block that only includes a file (``--8<-- "path"``, the
snippets syntax of the docs site) stands for that file: it is type-checked, and run when it lives in
``docs/examples/`` (``samples/`` are run by tests/test_samples.py). Every ``docs/examples/*.py`` runs offline and is
shown in the docs, except ``_name.py`` modules, which the examples import (and so run through them).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[\w+-]*)\s*$")
_MARKER = re.compile(r"<!--\s*example:\s*(?P<options>[^\n]*?)\s*(?:\n(?P<preamble>.*?))?-->\s*\Z", re.S)
_INCLUDE = re.compile(r'^--8<--\s+"(?P<path>[^"]+)"\s*$')


@dataclass
class Block:
    """One ```python block: where it is, its code, and how it is checked."""

    source: Path
    line: int  # 1-based line of the opening fence
    code: str
    run: bool = True
    wrap_async: bool = False
    preamble: str = ""
    included: list[Path] = field(default_factory=list)

    @property
    def relative_source(self) -> Path:
        return self.source.relative_to(ROOT) if self.source.is_relative_to(ROOT) else Path(self.source.name)

    @property
    def label(self) -> str:
        return f"{self.relative_source}:{self.line}"

    @property
    def module_name(self) -> str:
        stem = re.sub(r"\W", "_", str(self.relative_source.with_suffix("")))
        return f"example_{stem}_L{self.line}"

    def module_text(self) -> str:
        """The code as a module: preamble first, the block inside ``async def`` when marked async."""
        body = self.code
        if self.wrap_async:
            body = "async def _example() -> None:\n" + textwrap.indent(body, "    ")
        preamble = self.preamble + "\n" if self.preamble else ""
        return "from __future__ import annotations\n\n" + preamble + body


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted(p for p in (ROOT / "docs").rglob("*.md") if "_hooks" not in p.parts)]


def blocks_of(path: Path) -> list[Block]:
    """The python blocks of one Markdown file, with the marker before each applied."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if not opening or not opening["lang"]:
            index += 1
            continue
        end = index + 1
        while end < len(lines) and not re.match(rf"^{opening['indent']}```\s*$", lines[end]):
            end += 1
        if opening["lang"] == "python":
            code = textwrap.dedent("\n".join(lines[index + 1 : end])) + "\n"
            block = Block(path, index + 1, code)
            _apply_marker(block, "\n".join(lines[:index]).rstrip())
            _apply_include(block)
            found.append(block)
        index = end + 1
    return found


def _apply_marker(block: Block, before: str) -> None:
    marker = _MARKER.search(before[before.rfind("<!--") :]) if "<!--" in before else None
    if marker is None:
        return
    options = {option.strip() for option in marker["options"].split(",") if option.strip()}
    unknown = options - {"run", "fragment", "async"}
    if unknown:
        raise ValueError(f"{block.label}: unknown example options {sorted(unknown)}")
    block.run = "fragment" not in options
    block.wrap_async = "async" in options
    block.preamble = textwrap.dedent(marker["preamble"] or "").strip()


def _apply_include(block: Block) -> None:
    lines = [line for line in block.code.splitlines() if line.strip()]
    includes = [_INCLUDE.match(line) for line in lines]
    if not lines or not all(includes):
        return
    block.included = [ROOT / match["path"].split(":")[0] for match in includes if match]
    block.run = False  # the included file is what runs (see included_files)


def all_blocks() -> list[Block]:
    return [block for path in documents() for block in blocks_of(path)]


def included_files(blocks: list[Block]) -> list[Path]:
    return sorted({path for block in blocks for path in block.included})


# -- the tests ------------------------------------------------------------------------------------------------------

BLOCKS = all_blocks()
RUNNABLE = [block for block in BLOCKS if block.run]
INCLUDED = included_files(BLOCKS)
EXAMPLE_FILES = sorted((ROOT / "docs" / "examples").glob("*.py"))  # _name.py: modules the examples import
RUNNABLE_EXAMPLES = [path for path in EXAMPLE_FILES if not path.name.startswith("_")]


def _offline_environment() -> dict[str, str]:
    """The environment without what would point an example at a real service; the checkout importable."""
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("BOTCONNECT_", "MICROSOFT_APP", "ACS_", "DIRECTLINE_"))
    }
    environment["PYTHONPATH"] = str(ROOT)
    return environment


def _run(path: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(path)],
        capture_output=True,
        text=True,
        timeout=90,
        env=_offline_environment(),
        cwd=cwd,
        check=False,
    )


@pytest.mark.parametrize("block", RUNNABLE, ids=[block.label for block in RUNNABLE])
def test_runnable_block_runs_offline(block: Block, tmp_path: Path) -> None:
    script = tmp_path / f"{block.module_name}.py"
    script.write_text(block.module_text(), encoding="utf-8")
    result = _run(script, tmp_path)
    assert result.returncode == 0, f"{block.label} failed:\n{result.stderr}"


@pytest.mark.parametrize("example", RUNNABLE_EXAMPLES, ids=[p.name for p in RUNNABLE_EXAMPLES])
def test_docs_example_file_runs_offline(example: Path, tmp_path: Path) -> None:
    result = _run(example, tmp_path)
    assert result.returncode == 0, f"{example.name} failed:\n{result.stderr}"
    assert result.stdout.strip(), "an example should show what it did"


def test_every_docs_example_file_is_shown_in_the_docs() -> None:
    assert sorted(set(RUNNABLE_EXAMPLES) - set(INCLUDED)) == []


def test_every_included_file_exists_and_is_tested() -> None:
    for path in INCLUDED:
        assert path.is_file(), path
        assert path.parent in (ROOT / "samples", ROOT / "docs" / "examples"), f"{path} is included but run nowhere"


def _mypy(files: list[Path], cache: Path) -> dict[str, list[str]]:
    """``mypy --strict`` over the files in one run: the error lines per file name."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--cache-dir",
            str(cache),
            "--no-error-summary",
            "--hide-error-context",
            "--show-error-codes",
            *map(str, files),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        env=_offline_environment(),
        check=False,
    )
    assert result.returncode in (0, 1), result.stderr or result.stdout
    errors: dict[str, list[str]] = {}
    for line in result.stdout.splitlines():
        name = Path(line.split(":", 1)[0]).name
        errors.setdefault(name, []).append(line)
    return errors


@pytest.fixture(scope="module")
def mypy_errors(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    folder = tmp_path_factory.mktemp("examples")
    files = []
    for block in BLOCKS:
        if not block.included:
            path = folder / f"{block.module_name}.py"
            path.write_text(block.module_text(), encoding="utf-8")
            files.append(path)
    files.extend(set(INCLUDED) | set(EXAMPLE_FILES))
    return _mypy(files, ROOT / ".mypy_cache" / "docs-examples")


TYPED = [block for block in BLOCKS if not block.included]


@pytest.mark.parametrize("block", TYPED, ids=[block.label for block in TYPED])
def test_block_passes_mypy_strict(block: Block, mypy_errors: dict[str, list[str]]) -> None:
    assert mypy_errors.get(f"{block.module_name}.py", []) == []


@pytest.mark.parametrize("path", sorted(set(INCLUDED) | set(EXAMPLE_FILES)), ids=lambda p: p.name)
def test_included_file_passes_mypy_strict(path: Path, mypy_errors: dict[str, list[str]]) -> None:
    assert mypy_errors.get(path.name, []) == []


def test_the_extractor_sees_markers_and_mypy_catches_a_wrong_block(tmp_path: Path) -> None:
    """The check can fail: a fragment with a type error is reported, the preamble and async wrapping apply."""
    page = tmp_path / "page.md"
    page.write_text(
        "Text.\n\n<!-- example: fragment, async\nfrom botconnect.models import Activity\nincoming: Activity\n-->\n"
        "```python\nawait something(incoming.text)\n```\n\n```python\nx: int = 'no'\n```\n",
        encoding="utf-8",
    )
    fragment, plain = blocks_of(page)
    assert (fragment.run, fragment.wrap_async, plain.run) == (False, True, True)
    assert "incoming: Activity" in fragment.module_text()
    assert "async def _example() -> None:\n    await something(incoming.text)" in fragment.module_text()
    (tmp_path / "wrong.py").write_text(plain.module_text(), encoding="utf-8")
    errors = _mypy([tmp_path / "wrong.py"], tmp_path / "cache")
    assert any("[assignment]" in line for line in errors.get("wrong.py", [])), errors


def test_readme_has_blocks_of_both_kinds() -> None:
    readme = [block for block in BLOCKS if block.source.name == "README.md"]
    assert any(block.run for block in readme)
    assert any(not block.run for block in readme)
