"""MCP_CONFIG at the bot's start-up: its servers start with the bot and stop with it. (Replies do
not offer the tools to the model yet: issue #22.)"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bot.core.policy import Kind, Place

ROOT = Path(__file__).resolve().parents[2]


async def test_the_bots_mcp_servers_start_with_it_and_stop_with_it(start_bot, tmp_path, world):
    config = tmp_path / "mcp.json"
    config.write_text(json.dumps({"mcpServers": {"fake": {
        "command": sys.executable, "args": ["-m", "tests.fakes.mcp_server"], "cwd": str(ROOT),
    }}}))  # fmt: skip
    bot = await start_bot(MCP_CONFIG=str(config))
    tools = bot.services.tools
    assert tools is not None
    (link,) = tools.links.values()
    assert link.connected  # started during set-up, before the bot said it was ready
    here = Place(channel_id=world.channel, kind=Kind.TEXT, guild_id=world.guild.id)
    assert [tool.function for tool in await tools.tools(here)]  # its tools, namespaced
    await bot.close()
    assert not link.connected
