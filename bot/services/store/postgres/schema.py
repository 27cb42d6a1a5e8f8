"""The PostgreSQL schema, as numbered migrations recorded in ``threadbot_migrations``.

Several processes may start at once (a release step and the bot, or many shards), so each
migration runs in its own transaction holding a transaction-level advisory lock: the first
process applies it, the others wait, then find it recorded and move on. A failure rolls back that
migration alone. Never edit a released migration: add a new one.
"""

from __future__ import annotations

import logging

import asyncpg

from bot.core.store import StoreError

log = logging.getLogger(__name__)

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE conversations (
            id BIGINT PRIMARY KEY,  -- the thread (or DM channel) id
            guild_id BIGINT,
            parent_id BIGINT,
            owner_id BIGINT NOT NULL,
            persona TEXT,
            -- Turns up to history_start are no longer re-sent verbatim (reset, or folded into the
            -- summary); turns up to summary_through are covered by the summary.
            history_start BIGINT NOT NULL DEFAULT 0,
            summary TEXT,
            summary_through BIGINT NOT NULL DEFAULT 0,
            created_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )""",
        # ALWAYS: seq orders turns, so only the sequence may hand it out (an import can still
        # say OVERRIDING SYSTEM VALUE).
        """CREATE TABLE turns (
            seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            conversation_id BIGINT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
            message_id BIGINT UNIQUE,
            role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
            content TEXT NOT NULL,
            author_name TEXT,
            tokens INTEGER NOT NULL,
            status TEXT NOT NULL DEFAULT 'complete',
            created_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )""",
        # Covers the running token sums of the newest turns (see newest_turns_within) with an
        # index-only scan: the sums never read the turns' text.
        "CREATE INDEX turns_by_conversation ON turns (conversation_id, seq DESC) INCLUDE (tokens)",
        # Index-only scans need the visibility map, which VACUUM sets. turns only grows, so let
        # autovacuum visit it after 1% new rows rather than 20%: otherwise the planner may walk
        # the primary key of every newer turn to find an older conversation's newest ones.
        "ALTER TABLE turns SET (autovacuum_vacuum_insert_scale_factor = 0.01)",
        "CREATE INDEX turns_streaming ON turns (seq) WHERE status = 'streaming'",
        """CREATE TABLE personas (
            scope TEXT NOT NULL,
            scope_id BIGINT NOT NULL,
            persona TEXT NOT NULL,
            PRIMARY KEY (scope, scope_id)
        )""",
        """CREATE TABLE usage (
            guild_id BIGINT NOT NULL,  -- 0 for direct messages
            user_id BIGINT NOT NULL,
            day DATE NOT NULL,
            requests BIGINT NOT NULL DEFAULT 0,
            prompt_tokens BIGINT NOT NULL DEFAULT 0,
            completion_tokens BIGINT NOT NULL DEFAULT 0,
            cached_tokens BIGINT NOT NULL DEFAULT 0,
            PRIMARY KEY (guild_id, day, user_id)
        )""",
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ),
    (
        # A reasoning model's thinking, kept apart from the answer (shown only on request).
        "ALTER TABLE turns ADD COLUMN reasoning TEXT",
        # The process writing a streaming reply: only a dead one's are mended by others.
        "ALTER TABLE turns ADD COLUMN worker TEXT",
        # Who said a user turn, so that /forget can find it.
        "ALTER TABLE turns ADD COLUMN author_id BIGINT",
        "CREATE INDEX turns_by_author ON turns (author_id) WHERE author_id IS NOT NULL",
        # The estimated cost in US dollars, where prices are configured (MODEL_PRICES).
        "ALTER TABLE usage ADD COLUMN cost DOUBLE PRECISION NOT NULL DEFAULT 0",
        # Images of a user's turn, downscaled, as sent to vision models.
        """CREATE TABLE images (
            seq BIGINT NOT NULL REFERENCES turns (seq) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            mime TEXT NOT NULL,
            data BYTEA NOT NULL,
            width INTEGER NOT NULL,
            height INTEGER NOT NULL,
            PRIMARY KEY (seq, position)
        )""",
        # The model chosen for a conversation, a channel's new conversations, or a server.
        """CREATE TABLE models (
            scope TEXT NOT NULL,
            scope_id BIGINT NOT NULL,
            model TEXT NOT NULL,
            PRIMARY KEY (scope, scope_id)
        )""",
    ),
    (
        # A place reached only through a user-installed app's /chat: never listened to by
        # messages. Older such places were stored like DMs (no server, no parent), which
        # can't be told apart from the bot's own DMs: mark them all; a DM with the bot
        # turns back into an ordinary conversation at its next message.
        "ALTER TABLE conversations ADD COLUMN via_interaction BOOLEAN NOT NULL DEFAULT FALSE",
        "UPDATE conversations SET via_interaction = TRUE "
        "WHERE guild_id IS NULL AND parent_id IS NULL",
    ),
    (
        # The tool calls a reply made and their results (JSON, bot.core.tool_loop.Exchange),
        # re-sent with it while there is room, and their tokens.
        "ALTER TABLE turns ADD COLUMN tools TEXT",
        "ALTER TABLE turns ADD COLUMN tools_tokens INTEGER NOT NULL DEFAULT 0",
    ),
    (
        # A tool server switched on or off for a channel or a server (/tools).
        """CREATE TABLE tool_switches (
            scope TEXT NOT NULL,
            scope_id BIGINT NOT NULL,
            server TEXT NOT NULL,
            enabled BOOLEAN NOT NULL,
            PRIMARY KEY (scope, scope_id, server)
        )""",
    ),
    (
        # Replies read out as voice messages, on or off for a conversation, a channel's new
        # conversations, or a server (/voice).
        """CREATE TABLE voices (
            scope TEXT NOT NULL,
            scope_id BIGINT NOT NULL,
            enabled BOOLEAN NOT NULL,
            PRIMARY KEY (scope, scope_id)
        )""",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

# pg_advisory_xact_lock(class, key): the class marks the lock as ours, the key is the schema's
# name, so bots in different schemas of one database do not wait for each other.
_LOCK_CLASS = 0x74627400  # "tbt\0"


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def migrate(conn: asyncpg.Connection, *, schema: str | None, describe: str) -> int:
    """Bring the database at ``describe`` (for messages) up to :data:`SCHEMA_VERSION`, creating
    ``schema`` first if given; returns the version."""
    while True:
        async with conn.transaction():
            await conn.execute(
                "SELECT pg_advisory_xact_lock($1, hashtext($2))", _LOCK_CLASS, schema or ""
            )
            version = await _current_version(conn, schema)
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"database {describe} has schema version {version}, newer than this bot's "
                    f"{SCHEMA_VERSION}; upgrade the bot"
                )
            if version == SCHEMA_VERSION:
                return version
            for statement in MIGRATIONS[version]:
                await conn.execute(statement)
            await conn.execute(
                "INSERT INTO threadbot_migrations (version) VALUES ($1)", version + 1
            )
        log.info("Database %s migrated to schema version %d", describe, version + 1)


async def _current_version(conn: asyncpg.Connection, schema: str | None) -> int:
    """The newest migration applied; creates the schema and the bookkeeping table if missing
    (under the caller's lock, so two processes do not race to create them)."""
    if schema is not None and not await conn.fetchval(
        "SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = $1)", schema
    ):
        await conn.execute(f"CREATE SCHEMA {quote_identifier(schema)}")
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS threadbot_migrations ("
        "version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
    )
    return await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM threadbot_migrations")
