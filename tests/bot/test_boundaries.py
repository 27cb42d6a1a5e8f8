"""The core stays Discord-free: only the Discord side of bot/ may import discord."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "bot"
DISCORD_SIDE = {"app.py", "runner.py", "__main__.py"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize(
    "path",
    sorted(p for p in CORE.rglob("*.py") if p.name not in DISCORD_SIDE),
    ids=lambda p: p.name,
)
def test_core_modules_do_not_import_discord_or_cogs(path):
    assert not imported_modules(path) & {"discord", "cogs"}
