"""End to end with REDIS_URL: the bot's limits are the ones every process shares."""

from __future__ import annotations

from bot.services.ratelimit.redis import RedisLimiter
from tests.e2e.test_chat import ask, texts_in
from tests.e2e.test_streaming import finished


async def test_a_servers_requests_are_shared_with_the_other_processes(
    fake_discord, fake_openai, world, start_bot, redis_space
):
    other_process = redis_space.limiter(guild_rpm=3, guild_tpm=0, user_rpm=0)
    for user in (1, 2):  # another process already answered two messages in this server
        assert (await other_process.acquire(world.guild.id, user, 1)).granted
    bot = await start_bot(
        GUILD_RPM="3", USER_RPM="0", REDIS_URL=redis_space.url, REDIS_PREFIX=redis_space.prefix
    )
    assert isinstance(bot.services.limiter, RedisLimiter)

    threads = [await ask(fake_discord, world, f"question {i}") for i in range(2)]
    for thread_id in threads:
        await fake_discord.wait_for(lambda t=thread_id: finished(fake_discord, t))
    refused = [
        t for t in threads if "limit of model requests per minute" in texts_in(fake_discord, t)[0]
    ]
    assert len(fake_openai.requests) == 1 and len(refused) == 1
    level, _ = (await redis_space.client.get(f"{redis_space.prefix}rpm:{world.guild.id}")).split()
    assert float(level) < 0.5  # all three requests spent, two there and one here
    assert bot.services.limiter.failures == 0
    await other_process.close()
