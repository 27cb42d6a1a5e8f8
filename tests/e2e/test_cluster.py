"""End to end: two bot processes as two shards of one bot, on one PostgreSQL and one Redis."""

from __future__ import annotations

import asyncio
import os
import sys

from tests.e2e.test_chat import reply_done, texts_in
from tests.e2e.test_crash import LAUNCH
from tests.fakes.openai_server import Script


async def launch(fake_discord, fake_openai, env, shard: int, tmp_path):
    """`python -m bot` as shard ``shard`` of 2, in a process of its own."""
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "SHARD_COUNT": "2",
        "SHARD_IDS": str(shard), "TIKTOKEN_CACHE_DIR": str(tmp_path / "tiktoken"), **env,
    }  # fmt: skip
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", LAUNCH, fake_discord.api_base, fake_discord.gateway_url,
        env=environment, cwd=tmp_path,
    )  # fmt: skip


async def test_two_processes_share_one_bot(
    fake_discord, fake_openai, world, tmp_path, pg_database, redis_space
):
    guilds = [world.guild]
    while len({(g.id >> 22) % 2 for g in guilds}) < 2:  # a server on each shard
        await asyncio.sleep(0.001)
        guilds.append(fake_discord.add_guild(f"g{len(guilds)}"))
    by_shard = {(g.id >> 22) % 2: g for g in guilds}
    channels = {s: fake_discord.add_channel(g, "general") for s, g in by_shard.items()}
    alice = world.alice
    for guild in by_shard.values():
        guild.members[alice.id] = alice
    env = {
        "DISCORD_TOKEN": fake_discord.token, "OPENAI_BASE_URL": fake_openai.base_url,
        "OPENAI_API_KEY": "sk-test", "DATABASE_URL": pg_database.url_with_schema,
        "REDIS_URL": redis_space.url, "REDIS_PREFIX": redis_space.prefix,
        "USER_RPM": "2", "GUILD_RPM": "0", "GUILD_TPM": "0",
    }  # fmt: skip
    processes = [await launch(fake_discord, fake_openai, env, shard, tmp_path) for shard in (0, 1)]
    try:
        await fake_discord.wait_for(lambda: len(fake_discord._shards) == 2, timeout=40)
        await fake_discord.wait_for(  # both have their servers
            lambda: sum(1 for r in fake_discord.requests if r.path == "/users/@me") >= 2,
            timeout=20,
        )
        # One mention on each shard: each answered once, by the process that owns it.
        threads = {}
        for shard, channel in channels.items():
            message = await fake_discord.user_says(
                channel, alice, f"on shard {shard}", mention_bot=True
            )
            threads[shard] = int(message["id"])
            await reply_done(fake_discord, threads[shard], fake_openai.default.text, count=1)
        # USER_RPM is 2 for alice across both processes: a third request is refused, before
        # any thread is opened for it.
        await fake_discord.user_says(channels[0], alice, "one more", mention_bot=True)
        await fake_discord.wait_for(lambda: texts_in(fake_discord, channels[0]), timeout=20)
        assert "faster than I'm allowed" in texts_in(fake_discord, channels[0])[0]
        assert len(fake_openai.requests) == 2 and len(fake_discord.threads()) == 2

        # Shard 1's process dies and comes back: its conversation goes on.
        processes[1].kill()
        await processes[1].wait()
        processes[1] = await launch(fake_discord, fake_openai, env, 1, tmp_path)
        await fake_discord.wait_for(lambda: len(fake_discord._shards) == 2, timeout=40)
        fake_openai.respond(Script(text="Still here after the restart."))
        await fake_discord.user_says(threads[1], world.bob, "are you there?")
        await reply_done(
            fake_discord, threads[1], "Still here after the restart.", count=2, timeout=30
        )
        history = [m["content"] for m in fake_openai.requests[-1]["messages"][1:]]
        assert history == ["on shard 1", fake_openai.default.text, "are you there?"]
        assert fake_discord.global_429s == 0
    finally:
        for process in processes:
            if process.returncode is None:
                process.terminate()
                await process.wait()
