"""`python -m bot migrate`: a release step that needs only DATABASE_URL."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import asyncpg

from bot.services.store.postgres.schema import SCHEMA_VERSION as PG_SCHEMA_VERSION
from bot.services.store.sqlite.schema import SCHEMA_VERSION

# Calls main() the way `python -m bot migrate` does, then reports whether discord was imported.
MIGRATE = (
    "import sys; from bot.__main__ import main; status = main(['migrate']); "
    "print('discord imported' if 'discord' in sys.modules else 'no discord'); sys.exit(status)"
)


def migrate(cwd, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", MIGRATE],
        cwd=cwd,  # no .env here
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_migrate_needs_neither_a_discord_token_nor_discord_py(tmp_path):
    for _ in range(2):  # the second run finds nothing to do
        result = migrate(tmp_path, DATABASE_URL="sqlite:///bot.sqlite3")
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "no discord"
        assert (
            result.stderr.strip()
            .splitlines()[-1]
            .endswith("Database sqlite:///bot.sqlite3 is up to date")
        )
    with sqlite3.connect(tmp_path / "bot.sqlite3") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_migrate_with_a_bad_url_is_a_configuration_error(tmp_path):
    result = migrate(tmp_path, DATABASE_URL="mysql://bot:s3cret@db/bot")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "threadbot: configuration error: DATABASE_URL must look like sqlite:///bot.sqlite3 "
        "(or sqlite:////abs/path) or postgresql://user:password@host/database"
    ]


def test_migrate_against_an_unreachable_server_exits_1_in_one_line(tmp_path):
    result = migrate(tmp_path, DATABASE_URL="postgresql://bot:s3cret@127.0.0.1:1/bot")
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert "ERROR" in line and "cannot open database postgresql://bot@127.0.0.1:1/bot" in line
    assert "s3cret" not in result.stderr + result.stdout


async def test_migrate_a_postgresql_schema(tmp_path, pg_database):
    result = migrate(tmp_path, DATABASE_URL=pg_database.url_with_schema)
    assert result.returncode == 0, result.stderr
    assert "is up to date" in result.stderr
    conn: asyncpg.Connection = await pg_database.connect()
    try:
        versions = [r[0] for r in await conn.fetch("SELECT version FROM threadbot_migrations")]
    finally:
        await conn.close()
    assert versions == list(range(1, PG_SCHEMA_VERSION + 1))
