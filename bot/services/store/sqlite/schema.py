"""The SQLite schema, as numbered migrations recorded in ``PRAGMA user_version``.

Each migration runs in one transaction, so a failure leaves the file as it was. Never edit a
released migration: add a new one.
"""

from __future__ import annotations

import logging

import aiosqlite

from bot.core.store import StoreError

log = logging.getLogger(__name__)

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE conversations (
            id INTEGER PRIMARY KEY,
            guild_id INTEGER,
            parent_id INTEGER,
            owner_id INTEGER NOT NULL,
            persona TEXT,
            reset_after INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
        )""",
        """CREATE TABLE turns (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            message_id INTEGER UNIQUE,
            role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
            content TEXT NOT NULL,
            author_name TEXT,
            tokens INTEGER NOT NULL,
            status TEXT NOT NULL DEFAULT 'complete',
            created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
        )""",
        # Covers the running token sums of the newest turns (see newest_turns_within).
        "CREATE INDEX turns_by_conversation ON turns (conversation_id, seq DESC, tokens)",
        "CREATE INDEX turns_streaming ON turns (status) WHERE status = 'streaming'",
        """CREATE TABLE personas (
            scope TEXT NOT NULL,
            scope_id INTEGER NOT NULL,
            persona TEXT NOT NULL,
            PRIMARY KEY (scope, scope_id)
        )""",
        """CREATE TABLE usage (
            guild_id INTEGER NOT NULL,  -- 0 for direct messages
            user_id INTEGER NOT NULL,
            day TEXT NOT NULL,
            requests INTEGER NOT NULL DEFAULT 0,
            prompt_tokens INTEGER NOT NULL DEFAULT 0,
            completion_tokens INTEGER NOT NULL DEFAULT 0,
            cached_tokens INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (guild_id, day, user_id)
        )""",
    ),
    ("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",),
    (
        # Turns up to history_start are no longer re-sent verbatim (reset, or folded into the
        # summary); turns up to summary_through are covered by the summary.
        "ALTER TABLE conversations RENAME COLUMN reset_after TO history_start",
        "ALTER TABLE conversations ADD COLUMN summary TEXT",
        "ALTER TABLE conversations ADD COLUMN summary_through INTEGER NOT NULL DEFAULT 0",
    ),
    (
        # A reasoning model's thinking, kept apart from the answer (shown only on request).
        "ALTER TABLE turns ADD COLUMN reasoning TEXT",
        # The process writing a streaming reply: only a dead one's are mended by others.
        "ALTER TABLE turns ADD COLUMN worker TEXT",
        # Who said a user turn, so that /forget can find it.
        "ALTER TABLE turns ADD COLUMN author_id INTEGER",
        "CREATE INDEX turns_by_author ON turns (author_id) WHERE author_id IS NOT NULL",
        # The estimated cost in US dollars, where prices are configured (MODEL_PRICES).
        "ALTER TABLE usage ADD COLUMN cost REAL NOT NULL DEFAULT 0",
        # Images of a user's turn, downscaled, as sent to vision models.
        """CREATE TABLE images (
            seq INTEGER NOT NULL REFERENCES turns(seq) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            mime TEXT NOT NULL,
            data BLOB NOT NULL,
            width INTEGER NOT NULL,
            height INTEGER NOT NULL,
            PRIMARY KEY (seq, position)
        )""",
        # The model chosen for a conversation, a channel's new conversations, or a server.
        """CREATE TABLE models (
            scope TEXT NOT NULL,
            scope_id INTEGER NOT NULL,
            model TEXT NOT NULL,
            PRIMARY KEY (scope, scope_id)
        )""",
    ),
    (
        # A place reached only through a user-installed app's /chat: never listened to by
        # messages. Older such places were stored like DMs (no server, no parent), which
        # can't be told apart from the bot's own DMs: mark them all; a DM with the bot
        # turns back into an ordinary conversation at its next message.
        "ALTER TABLE conversations ADD COLUMN via_interaction INTEGER NOT NULL DEFAULT 0",
        "UPDATE conversations SET via_interaction = 1 WHERE guild_id IS NULL AND parent_id IS NULL",
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
            scope_id INTEGER NOT NULL,
            server TEXT NOT NULL,
            enabled INTEGER NOT NULL,
            PRIMARY KEY (scope, scope_id, server)
        )""",
    ),
    (
        # Replies read out as voice messages, on or off for a conversation, a channel's new
        # conversations, or a server (/voice).
        """CREATE TABLE voices (
            scope TEXT NOT NULL,
            scope_id INTEGER NOT NULL,
            enabled INTEGER NOT NULL,
            PRIMARY KEY (scope, scope_id)
        )""",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


async def migrate(db: aiosqlite.Connection, describe: str) -> None:
    """Bring the database at ``describe`` (a path, for messages) up to :data:`SCHEMA_VERSION`."""
    async with db.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    version = row[0] if row else 0
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"database {describe} has schema version {version}, newer than this bot's "
            f"{SCHEMA_VERSION}; upgrade the bot"
        )
    for number in range(version, SCHEMA_VERSION):
        await db.execute("BEGIN IMMEDIATE")
        try:
            for statement in MIGRATIONS[number]:
                await db.execute(statement)
            await db.execute(f"PRAGMA user_version = {number + 1}")
            await db.execute("COMMIT")
        except BaseException:
            await db.execute("ROLLBACK")
            raise
        log.info("Database %s migrated to schema version %d", describe, number + 1)
