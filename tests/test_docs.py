"""The docs stay true to the tree: docs/architecture.md's module map names every module of the
package and the cogs, and nothing that isn't there; paths and links in the docs resolve."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARCHITECTURE = ROOT / "docs" / "architecture.md"
FOLDERS = ("bot/core", "bot/services", "bot/app", "cogs")


def module_map() -> dict[str, set[str]]:
    """Each folder's section of the map: the names in its table's first column."""
    sections: dict[str, set[str]] = {}
    current = None
    for line in ARCHITECTURE.read_text().splitlines():
        if line.startswith("### "):
            current = line[4:].strip()
            sections[current] = set()
        elif current and (cell := re.match(r"\| `([^`]+)` \|", line)):
            sections[current].add(cell.group(1))
    return sections


def entries_of(folder: Path) -> set[str]:
    """What a map must name in ``folder``: its modules, a subpackage as ``name/`` (cogs name
    their subpackage's modules one by one)."""
    names = {p.name for p in folder.glob("*.py") if p.name != "__init__.py"}
    for sub in folder.iterdir():
        if sub.is_dir() and (sub / "__init__.py").exists():
            if folder.name == "cogs":
                names |= {
                    f"{sub.name}/{p.name}" for p in sub.glob("*.py") if p.name != "__init__.py"
                }
            else:
                names.add(f"{sub.name}/")
    return names


@pytest.mark.parametrize("folder", FOLDERS)
def test_the_module_map_names_every_module_and_no_other(folder):
    assert module_map()[folder] == entries_of(ROOT / folder)


def test_paths_named_in_the_docs_exist():
    pages = [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]
    paths = {
        (page.name, path)
        for page in pages
        for path in re.findall(r"`((?:bot|cogs|tests|bench)/[\w/.*-]+?)`", page.read_text())
        if "*" not in path
    }
    assert paths  # the pattern finds the paths the pages do name
    missing = sorted((page, path) for page, path in paths if not (ROOT / path.rstrip("/")).exists())
    assert missing == []


def test_links_between_pages_resolve():
    pages = [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]
    broken = []
    for page in pages:
        for target in re.findall(r"\]\(([^)#:]+\.md)(?:#[^)]*)?\)", page.read_text()):
            if not (page.parent / target).exists():
                broken.append((page.name, target))
    assert broken == []
