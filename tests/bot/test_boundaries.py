"""The layers, by folder: the core decides and does no I/O of its own, the services do I/O behind
the core's protocols, and only the Discord side (bot/app, cogs, the entry point) knows discord.py.

The core may import the standard library, pure libraries (tiktoken, Pillow, Babel) and itself;
services may also import their clients; nothing below the Discord side imports it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE, SERVICES, APP = ROOT / "bot" / "core", ROOT / "bot" / "services", ROOT / "bot" / "app"

CLIENTS = {
    "discord",
    "aiohttp",
    "aiosqlite",
    "asyncpg",
    "redis",
    "openai",
    "prometheus_client",
    "mcp",
}
DISCORD_SIDE = {"discord", "cogs", "bot.app"}


def imported_modules(path: Path) -> set[str]:
    """Every absolute module a file imports, with each of its parents (``a.b.c`` → a, a.b, a.b.c)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import; the layers are checked by name"
            modules = [node.module or ""]
        else:
            continue
        for module in modules:
            parts = module.split(".")
            names.update(".".join(parts[: i + 1]) for i in range(len(parts)))
    return names


def modules_in(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


@pytest.mark.parametrize("path", modules_in(CORE), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_core_imports_no_client_no_service_and_no_discord(path):
    forbidden = CLIENTS | {"bot.services"} | DISCORD_SIDE
    assert imported_modules(path) & forbidden == set()


@pytest.mark.parametrize("path", modules_in(SERVICES), ids=lambda p: str(p.relative_to(ROOT)))
def test_services_do_not_reach_up_into_the_discord_side(path):
    assert imported_modules(path) & DISCORD_SIDE == set()


def test_every_module_of_the_package_is_in_a_layer():
    """New modules go into a layer's folder, so the rules above cover them."""
    top = {p.name for p in (ROOT / "bot").glob("*.py")}
    assert top == {"__init__.py", "__main__.py"}
    assert {p.name for p in (ROOT / "bot").iterdir() if p.is_dir() and p.name != "__pycache__"} == {
        "core",
        "services",
        "app",
        "locales",
    }


def test_the_check_sees_a_forbidden_import(tmp_path):
    """The rule is not vacuous: a core module importing a client or the Discord side is caught."""
    module = tmp_path / "module.py"
    module.write_text("import redis.asyncio\nfrom bot.app.chatbot import ChatBot\n")
    assert {"redis", "bot.app"} <= imported_modules(module)
    assert APP.is_dir() and modules_in(CORE) and modules_in(SERVICES)
