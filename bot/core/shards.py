"""Several processes, each running some of the bot's gateway shards: which shards are this
process's, and which one syncs the slash commands. (IDENTIFY spacing across processes, through
Redis: :mod:`bot.services.identify_gate`.)
"""

from __future__ import annotations


def parse_shard_ids(text: str, count: int) -> tuple[int, ...]:
    """``0-3`` or ``0,2,5`` (or a mix), each below ``count``. Raises ValueError."""
    ids: set[int] = set()
    for part in (p.strip() for p in text.split(",") if p.strip()):
        low, _, high = part.partition("-")
        first, last = int(low), int(high or low)
        if first > last:
            raise ValueError(part)
        ids.update(range(first, last + 1))
    if not ids or min(ids) < 0 or max(ids) >= count:
        raise ValueError(text)
    return tuple(sorted(ids))


def syncs_commands(shard_ids: tuple[int, ...] | None) -> bool:
    """One process syncs slash commands: the one with shard 0 (DMs' shard), or the only one."""
    return shard_ids is None or 0 in shard_ids
