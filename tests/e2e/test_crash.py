"""End to end: a bot process killed mid-reply (SIGKILL, no clean-up at all), then restarted."""

from __future__ import annotations

import asyncio
import sys

from bot.core.render import CURSOR
from tests.e2e.test_chat import reply_done
from tests.e2e.test_startup import stored_turns
from tests.fakes.openai_server import Script

# `python -m bot`, pointed at the fake Discord (its addresses are not settings).
LAUNCH = """
import sys
import discord, yarl
from discord.gateway import DiscordWebSocket
discord.http.Route.BASE = sys.argv[1]
DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(sys.argv[2])
sys.argv[1:] = []
from bot.__main__ import main
sys.exit(main())
"""


def streaming_turns(path):
    return [(content, message) for _, content, status, message in stored_turns(path)
            if status == "streaming"]  # fmt: skip


async def test_a_crash_after_a_retrying_placeholder_leaves_no_cursor_after_restart(
    fake_discord, fake_openai, world, start_bot, tmp_path
):
    database = tmp_path / "bot.sqlite3"
    env = {
        "DISCORD_TOKEN": fake_discord.token, "OPENAI_BASE_URL": fake_openai.base_url,
        "OPENAI_API_KEY": "sk-test", "DATABASE_URL": f"sqlite:///{database}",
        "PATH": "/usr/bin:/bin", "TIKTOKEN_CACHE_DIR": str(tmp_path / "tiktoken"),
    }  # fmt: skip
    # The model service is busy for a while: the reply shows "retrying…" and waits.
    fake_openai.respond(
        Script(status=429, error_code="rate_limit_exceeded", headers={"retry-after": "15"})
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", LAUNCH, fake_discord.api_base, fake_discord.gateway_url,
        env=env, cwd=tmp_path,
    )  # fmt: skip
    try:
        await fake_discord.wait_for(lambda: fake_discord._sockets, timeout=20)
        question = await fake_discord.user_says(world.channel, world.alice, "hi", mention_bot=True)
        thread_id = int(question["id"])
        placeholder = await fake_discord.wait_for(
            lambda: next(iter(fake_discord.bot_messages(thread_id)), None), timeout=20
        )
        assert "retrying" in placeholder["content"] and placeholder["components"]
        # The reply's turn and its message are on disk before anything was shown.
        shown = [("", int(placeholder["id"]))]
        await fake_discord.wait_for(lambda: streaming_turns(database) == shown)
    finally:
        process.kill()  # a crash: no shutdown, no final edit
        await process.wait()

    fake_openai.respond(Script(text="Back."))
    await start_bot()
    await fake_discord.wait_for(lambda: not placeholder["components"])
    assert CURSOR not in placeholder["content"]
    assert placeholder["content"] == (
        "The model service is busy; retrying…\n\n*(interrupted: the bot restarted)*"
    )
    assert streaming_turns(database) == []
    await fake_discord.user_says(thread_id, world.alice, "still there?")
    await reply_done(fake_discord, thread_id, "Back.", count=2)
    # The placeholder was never an answer: the next request has no empty assistant turn.
    assert [m["content"] for m in fake_openai.requests[-1]["messages"][1:]] == [
        "hi",
        "still there?",
    ]
