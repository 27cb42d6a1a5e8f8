"""End to end: Chinese for people and servers that use it, English otherwise."""

from __future__ import annotations

from tests.e2e.test_commands import private_answer


async def test_synced_commands_carry_chinese_descriptions(fake_discord, start_bot):
    await start_bot()
    (put,) = [r for r in fake_discord.requests if r.method == "PUT"]
    chat = next(c for c in put.body if c["name"] == "chat")
    assert chat["description_localizations"]["zh-CN"] == "以第一条消息开始一个新的对话子区。"
    assert chat["options"][0]["description_localizations"]["zh-CN"] == "你发给机器人的第一条消息"
    assert "name_localizations" not in chat or not chat["name_localizations"]  # names stay


async def test_a_chinese_client_gets_chinese_answers(fake_discord, world, start_bot):
    await start_bot()
    token = await fake_discord.invoke(world.channel, world.alice, "reset", locale="zh-CN")
    assert await private_answer(fake_discord, token) == (
        "这里不是与我的对话。请在频道中@我或使用 `/chat` 开始对话。"
    )
    token = await fake_discord.invoke(world.channel, world.bob, "reset")
    assert "isn't a conversation" in await private_answer(fake_discord, token)
    # Alice's client is Chinese: her messages are answered in Chinese, in an English server.
    await fake_discord.user_says(world.channel, world.alice, "", mention_bot=True)
    (notice,) = await fake_discord.wait_for(lambda: fake_discord.bot_messages(world.channel))
    assert notice["content"] == "你好！@我并附上你的问题，我会在子区里回答。"


async def test_a_chinese_server_gets_chinese_notices(fake_discord, world, start_bot):
    world.guild.locale = "zh-CN"
    await start_bot()
    await fake_discord.user_says(world.channel, world.bob, "", mention_bot=True)
    (notice,) = await fake_discord.wait_for(lambda: fake_discord.bot_messages(world.channel))
    assert notice["content"].startswith("你好！")
