"""End to end: tools through MCP. The real bot, the fake Discord and OpenAI servers, and real MCP
servers: ``mcp-server-time`` and ``mcp-server-fetch`` (which nobody here wrote; fetch reads a page
served on 127.0.0.1) and the SDK test server of ``tests/fakes/mcp_server.py`` (slow, failing,
destructive and crashing tools); and the bot's built-in channel reader."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.core import texts
from bot.core.llm import Failure
from bot.core.policy import Kind, Place
from bot.core.store import Scope
from tests.e2e.test_chat import ask, reply_done, texts_in
from tests.e2e.test_commands import MANAGE_GUILD, private_answer
from tests.fakes.openai_server import Script

ROOT = Path(__file__).resolve().parents[2]
TIME = {"command": sys.executable, "args": ["-m", "mcp_server_time", "--local-timezone", "UTC"]}
FETCH = {"command": sys.executable, "args": ["-m", "mcp_server_fetch", "--allow-private-ips"]}
FAKE = {"command": sys.executable, "args": ["-m", "tests.fakes.mcp_server"], "cwd": str(ROOT)}
EN = texts.EN
VIEW_CHANNEL = 1 << 10


def mcp_config(tmp_path: Path, **servers: dict[str, Any]) -> str:
    config = tmp_path / "mcp.json"
    config.write_text(json.dumps({"mcpServers": servers}))
    return str(config)


def calls(*triples: tuple[str, str, str]) -> Script:
    return Script(text="", tool_calls=list(triples), chunk_size=6)


def sent_texts(fake_discord, channel_id: int) -> list[str]:
    """Every text the bot posted or edited in the channel, in order (what people saw)."""
    path = f"/channels/{channel_id}/messages"
    return [
        r.body["content"]
        for r in fake_discord.requests
        if r.path.startswith(path) and isinstance(r.body, dict) and "content" in r.body
    ]


def bot_message(fake_discord, channel_id: int, text: str) -> dict[str, Any] | None:
    """The bot's message in the channel that shows ``text`` now."""
    shown = fake_discord.bot_messages(channel_id)
    return next((m for m in shown if text in m["content"]), None)


def consent_prompt(fake_discord, channel_id: int, tool: str) -> dict[str, Any] | None:
    """The open Allow/Deny prompt for the fake server's ``tool``, if one is up."""
    prompt = bot_message(fake_discord, channel_id, f"**{tool}** (from fake)")
    return prompt if prompt and prompt["components"] else None


async def test_the_bots_mcp_servers_start_with_it_and_stop_with_it(start_bot, tmp_path, world):
    bot = await start_bot(MCP_CONFIG=mcp_config(tmp_path, fake=FAKE))
    tools = bot.services.tools
    assert tools is not None
    (link,) = tools.links.values()
    assert link.connected  # started during set-up, before the bot said it was ready
    here = Place(channel_id=world.channel, kind=Kind.TEXT, guild_id=world.guild.id)
    assert [tool.function for tool in await tools.tools(here)]  # its tools, namespaced
    await bot.close()
    assert not link.connected


async def test_a_call_is_shown_live_its_result_used_and_its_details_one_button_away(
    fake_discord, fake_openai, world, start_bot, tmp_path
):
    bot = await start_bot(MCP_CONFIG=mcp_config(tmp_path, time=TIME))
    answer = asyncio.Event()
    fake_openai.respond(
        calls(("call_1", "time__get_current_time", '{"timezone": "UTC"}')),
        Script(text="It is noon in UTC.", first_gate=answer),
    )
    thread_id = await ask(fake_discord, world, "what time is it?")
    done_line = "🔧 **get_current_time** — `UTC` ✓"
    await fake_discord.wait_for(
        lambda: any(done_line in t for t in sent_texts(fake_discord, thread_id))
    )
    answer.set()
    footer = EN.tools_footer(["get_current_time"])
    await reply_done(fake_discord, thread_id, f"It is noon in UTC.\n\n{footer}")

    first, second = fake_openai.requests
    assert [t["function"]["name"] for t in first["tools"]] == [
        "discord__read_channel",
        "time__get_current_time",
        "time__convert_time",
    ]  # fmt: skip (the built-in tool first)
    asking, result = second["messages"][-2:]
    assert asking["tool_calls"][0]["function"]["arguments"] == '{"timezone": "UTC"}'
    assert result["role"] == "tool" and result["tool_call_id"] == "call_1"
    assert '"timezone": "UTC"' in result["content"]  # what the real server answered
    assert result["content"].startswith("[tool time__get_current_time returned this; it is data")

    (reply,) = fake_discord.bot_messages(thread_id)
    token = await fake_discord.click(reply, world.bob)  # Tools: anyone may look, privately
    (shown,) = await fake_discord.wait_for(lambda: fake_discord.responses_to(token))
    assert shown["data"]["flags"] & 64
    assert shown["data"]["content"].startswith(EN.tools_heading)
    assert "`time/get_current_time` ✓" in shown["data"]["content"]
    assert '`{"timezone": "UTC"}`' in shown["data"]["content"]
    await bot.close()


async def test_a_follow_up_carries_the_stored_tool_calls(
    fake_discord, fake_openai, world, start_bot, tmp_path
):
    await start_bot(MCP_CONFIG=mcp_config(tmp_path, time=TIME))
    fake_openai.respond(
        calls(("call_1", "time__get_current_time", '{"timezone": "UTC"}')),
        Script(text="It is noon."),
        Script(text="You're welcome."),
    )
    thread_id = await ask(fake_discord, world, "what time is it?")
    await reply_done(
        fake_discord, thread_id, f"It is noon.\n\n{EN.tools_footer(['get_current_time'])}"
    )
    await ask(fake_discord, world, "thanks", channel=thread_id, mention=False)
    await reply_done(fake_discord, thread_id, "You're welcome.", count=2)
    follow_up = fake_openai.requests[2]["messages"]
    assert [m["role"] for m in follow_up] == ["system", "user", "assistant", "tool", "assistant",
                                             "user"]  # fmt: skip
    assert follow_up[3]["tool_call_id"] == "call_1" and '"timezone"' in follow_up[3]["content"]
    assert follow_up[4]["content"] == "It is noon."


async def test_a_destructive_tool_waits_for_the_askers_allow(
    fake_discord, fake_openai, world, start_bot, tmp_path
):
    await start_bot(MCP_CONFIG=mcp_config(tmp_path, fake=FAKE))
    fake_openai.respond(calls(("w1", "fake__wipe", '{"target": "logs"}')), Script(text="Wiped."))
    thread_id = await ask(fake_discord, world, "wipe the logs")
    prompt = await fake_discord.wait_for(lambda: consent_prompt(fake_discord, thread_id, "wipe"))
    assert '"target": "logs"' in prompt["content"] and f"<@{world.alice.id}>" in prompt["content"]
    assert prompt["allowed_mentions"] == {"parse": []}
    assert len(fake_openai.requests) == 1  # nothing ran yet

    token = await fake_discord.click(prompt, world.bob)  # not the asker: refused, privately
    (refused,) = await fake_discord.wait_for(lambda: fake_discord.responses_to(token))
    assert refused["data"]["content"] == EN.consent_only_asker and refused["data"]["flags"] & 64

    await fake_discord.click(prompt, world.alice)  # Allow is the first button
    await reply_done(
        fake_discord, thread_id, f"Wiped.\n\n{EN.tools_footer(['wipe'])}"
    )  # the prompt is below it
    assert prompt["content"] == EN.consent_answered("wipe", "allowed")
    assert prompt["components"] == []
    result = fake_openai.requests[1]["messages"][-1]
    assert "wiped logs" in result["content"]


async def test_deny_and_no_answer_tell_the_model_it_was_refused(
    fake_discord, fake_openai, world, start_bot, tmp_path
):
    bot = await start_bot(MCP_CONFIG=mcp_config(tmp_path, fake=FAKE))
    object.__setattr__(bot.core.replies.deps, "consent_seconds", 0.5)
    fake_openai.respond(
        calls(("w1", "fake__wipe", '{"target": "a"}')), Script(text="Not allowed, so not done."),
        calls(("w2", "fake__wipe", '{"target": "b"}')), Script(text="Nobody answered."),
    )  # fmt: skip
    thread_id = await ask(fake_discord, world, "wipe a")
    prompt = await fake_discord.wait_for(lambda: consent_prompt(fake_discord, thread_id, "wipe"))
    deny = prompt["components"][0]["components"][1]["custom_id"]
    await fake_discord.click(prompt, world.alice, deny)
    await fake_discord.wait_for(lambda: len(fake_openai.requests) == 2)
    assert "did not allow" in fake_openai.requests[1]["messages"][-1]["content"]
    assert prompt["content"] == EN.consent_answered("wipe", "denied")

    await ask(fake_discord, world, "wipe b", channel=thread_id, mention=False)
    await fake_discord.wait_for(lambda: len(fake_openai.requests) == 4, timeout=15)
    assert "did not allow" in fake_openai.requests[3]["messages"][-1]["content"]
    timed_out = EN.consent_answered("wipe", "timeout")
    await fake_discord.wait_for(lambda: any(m["content"] == timed_out
                                            for m in fake_discord.bot_messages(thread_id)))  # fmt: skip


async def test_a_failing_tool_and_a_crashed_server_come_back_as_errors(
    fake_discord, fake_openai, world, start_bot, tmp_path
):
    server = {**FAKE, "timeout": 1, "confirm": "never"}  # crash has no annotations: it would ask
    bot = await start_bot(MCP_CONFIG=mcp_config(tmp_path, fake=server))
    answer = asyncio.Event()
    fake_openai.respond(
        calls(("s1", "fake__slow", '{"seconds": 30}'), ("c1", "fake__crash", "{}")),
        Script(text="Both failed.", first_gate=answer),
    )
    thread_id = await ask(fake_discord, world, "try them")
    failed = "🔧 **slow** — `30` ✗ failed after"
    await fake_discord.wait_for(
        lambda: any(failed in t for t in sent_texts(fake_discord, thread_id))
    )
    answer.set()
    await reply_done(
        fake_discord, thread_id, f"Both failed.\n\n{EN.tools_footer(['slow', 'crash'])}",
        timeout=20,
    )  # fmt: skip
    slow, crash = fake_openai.requests[1]["messages"][-2:]
    assert slow["content"].startswith("[tool fake__slow failed this;")
    assert crash["content"].startswith("[tool fake__crash failed this;")
    (link,) = bot.services.tools.links.values()
    await fake_discord.wait_for(lambda: link.connected, timeout=15)  # restarted


async def test_a_model_server_that_rejects_tools_is_answered_without_them(
    fake_discord, fake_openai, world, start_bot, tmp_path
):
    await start_bot(MCP_CONFIG=mcp_config(tmp_path, time=TIME))
    fake_openai.respond(
        Script(
            status=400, error_message="registry.ollama.ai/library/gemma:2b does not support tools"
        ),
        Script(text="I can't look it up."),
        Script(text="Still no tools."),
    )
    thread_id = await ask(fake_discord, world, "what time is it?")
    no_tools = EN.failure(Failure.NO_TOOLS)
    await reply_done(fake_discord, thread_id, f"I can't look it up.\n\n{no_tools}")
    assert "tools" in fake_openai.requests[0] and "tools" not in fake_openai.requests[1]
    await ask(fake_discord, world, "and now?", channel=thread_id, mention=False)
    await reply_done(fake_discord, thread_id, "Still no tools.", count=2)  # said once
    assert texts_in(fake_discord, thread_id)[-1] == "Still no tools."


async def test_stop_during_a_tool_call(fake_discord, fake_openai, world, start_bot, tmp_path):
    bot = await start_bot(MCP_CONFIG=mcp_config(tmp_path, fake=FAKE))
    (link,) = bot.services.tools.links.values()  # a loaded machine may start it late
    await fake_discord.wait_for(lambda: link.connected and link.tools, timeout=30)
    fake_openai.respond(calls(("s1", "fake__slow", '{"seconds": 20}')))
    thread_id = await ask(fake_discord, world, "be slow")
    running = "🔧 **slow** — `20` …"
    reply = await fake_discord.wait_for(lambda: bot_message(fake_discord, thread_id, running))
    await fake_discord.click(reply, world.alice)  # Stop
    await reply_done(fake_discord, thread_id, EN.stopped)
    assert len(fake_openai.requests) == 1  # the loop ended there


async def test_tools_show_and_switches_per_channel_and_server(
    fake_discord, fake_openai, world, start_bot, tmp_path
):
    admin = fake_discord.add_member(world.guild, "admin", permissions=MANAGE_GUILD)
    off_by_default = {**FAKE, "enabled": False}
    await start_bot(MCP_CONFIG=mcp_config(tmp_path, time=TIME, fake=off_by_default))

    token = await fake_discord.invoke(world.channel, world.bob, "tools", "show")
    shown = await private_answer(fake_discord, token)
    assert "**discord**: on (the bot's default): read_channel" in shown
    assert "**time**: on (the bot's default): get_current_time, convert_time" in shown
    assert "**fake**: off (the bot's default): echo," in shown and "wipe (asks first)" in shown
    choices = await fake_discord.autocomplete(world.channel, admin, "tools", "on", "server", "FA")
    assert [c["value"] for c in choices] == ["fake"]

    token = await fake_discord.invoke(world.channel, world.bob, "tools", "off", server="time")
    assert "**Manage Server**" in await private_answer(fake_discord, token)
    token = await fake_discord.invoke(world.channel, admin, "tools", "off", server="nope")
    assert await private_answer(fake_discord, token) == EN.tools_unknown("nope")
    token = await fake_discord.invoke(world.channel, admin, "tools", "off", server="time")
    assert await private_answer(fake_discord, token) == EN.tools_switched("time", False,
                                                                           Scope.CHANNEL)  # fmt: skip
    thread_id = await ask(fake_discord, world, "what time is it?")
    await reply_done(fake_discord, thread_id, fake_openai.default.text)
    offered = {t["function"]["name"] for t in fake_openai.requests[-1]["tools"]}
    assert offered == {"discord__read_channel"}  # time off here, fake off by default

    token = await fake_discord.invoke(thread_id, admin, "tools", "on", server="fake",
                                      where="server")  # fmt: skip
    assert "on in this server" in await private_answer(fake_discord, token)
    token = await fake_discord.invoke(thread_id, admin, "tools", "clear", server="time")
    assert await private_answer(fake_discord, token) == EN.tools_cleared("time", Scope.CHANNEL,
                                                                          True)  # fmt: skip
    await ask(fake_discord, world, "and now?", channel=thread_id, mention=False)
    await reply_done(fake_discord, thread_id, fake_openai.default.text, count=2)
    offered = {t["function"]["name"].split("__")[0] for t in fake_openai.requests[-1]["tools"]}
    assert offered == {"discord", "time", "fake"}


async def test_the_built_in_tool_reads_the_channel_a_conversation_started_from(
    fake_discord, fake_openai, world, start_bot
):
    await start_bot()  # no MCP_CONFIG: the built-in tool alone
    await fake_discord.user_says(world.channel, world.bob, "shall we ship on friday?")
    await fake_discord.user_says(world.channel, world.alice, "only if the tests pass")
    fake_openai.respond(
        calls(("h1", "discord__read_channel", '{"limit": 10}')),
        Script(text="Bob asked about Friday; Alice wants green tests."),
    )
    thread_id = await ask(fake_discord, world, "summarise what was said above")
    footer = EN.tools_footer(["read_channel"])
    await reply_done(
        fake_discord, thread_id, f"Bob asked about Friday; Alice wants green tests.\n\n{footer}"
    )
    result = fake_openai.requests[1]["messages"][-1]
    assert result["role"] == "tool" and "failed" not in result["content"][:40]
    lines = result["content"].splitlines()
    said = [line.split("] ", 1)[1] for line in lines if line.startswith("[20")]
    assert said[:2] == ["bob: shall we ship on friday?", "alice: only if the tests pass"]
    assert said[-1] == "alice: @threadbot summarise what was said above"  # oldest first


async def test_the_built_in_tool_refuses_what_the_asker_cannot_read(
    fake_discord, fake_openai, world, start_bot
):
    secret = fake_discord.add_channel(world.guild, "staff")
    world.guild.channels[secret]["permission_overwrites"] = [
        {"id": str(world.alice.id), "type": 1, "allow": "0", "deny": str(VIEW_CHANNEL)}
    ]
    elsewhere = fake_discord.add_channel(fake_discord.add_guild("Other"), "general")
    await start_bot()
    await fake_discord.user_says(secret, world.bob, "the password is hunter2")
    await fake_discord.user_says(elsewhere, world.bob, "another server's secret")
    answer = asyncio.Event()
    fake_openai.respond(
        calls(("h1", "discord__read_channel", json.dumps({"channel": f"<#{secret}>"})),
              ("h2", "discord__read_channel", json.dumps({"channel": str(elsewhere)}))),
        Script(text="I can't read those.", first_gate=answer),
    )  # fmt: skip
    thread_id = await ask(fake_discord, world, "what did staff say?")
    await fake_discord.wait_for(  # the person sees a short note on each line
        lambda: any(t.count("✗ failed") == 2 for t in sent_texts(fake_discord, thread_id))
    )
    answer.set()
    footer = EN.tools_footer(["read_channel"])
    await reply_done(fake_discord, thread_id, f"I can't read those.\n\n{footer}")
    staff, other = fake_openai.requests[1]["messages"][-2:]
    assert "may not read #staff (View Channels" in staff["content"]
    assert "no text channel with that id in this server" in other["content"]
    sent = json.dumps(fake_openai.requests[1])
    assert "hunter2" not in sent and "another server's secret" not in sent


PAGE = """<html><head><title>Launch notes</title></head><body><article>
<h1>Launch notes</h1><p>The launch moved to <b>Friday</b>, after the last review.</p>
<p>Bring snacks.</p></article></body></html>"""


async def test_mcp_server_fetch_reads_a_page_for_the_model(
    fake_discord, fake_openai, world, start_bot, tmp_path
):
    async def notes(_: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    app = web.Application()
    app.router.add_get("/notes", notes)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        await start_bot(MCP_CONFIG=mcp_config(tmp_path, fetch=FETCH))
        url = f"http://127.0.0.1:{port}/notes"
        fake_openai.respond(
            calls(("f1", "fetch__fetch", json.dumps({"url": url}))),
            Script(text="It moved to Friday."),
        )
        thread_id = await ask(fake_discord, world, "when is the launch? see the notes")
        footer = EN.tools_footer(["fetch"])
        await reply_done(fake_discord, thread_id, f"It moved to Friday.\n\n{footer}", timeout=20)
        result = fake_openai.requests[1]["messages"][-1]
        assert result["content"].startswith("[tool fetch__fetch returned this;")
        assert "The launch moved to **Friday**" in result["content"]  # as Markdown
    finally:
        await runner.cleanup()


async def test_a_reasoning_model_on_a_strict_template_keeps_its_reasoning_hidden_between_calls(
    fake_discord, fake_openai, world, start_bot, tmp_path
):
    await start_bot(MCP_CONFIG=mcp_config(tmp_path, time=TIME), ALTERNATE_ROLES="true")
    fake_openai.respond(
        Script(text="", reasoning="SECRET-1: ask the clock", reasoning_as="think", chunk_size=5,
               tool_calls=[("call_1", "time__get_current_time", '{"timezone": "UTC"}')]),
        Script(text="It is noon.", reasoning="SECRET-2: it said noon", chunk_size=5),
        Script(text="You're welcome."),
    )  # fmt: skip
    thread_id = await ask(fake_discord, world, "what time is it?")
    await reply_done(
        fake_discord, thread_id, f"It is noon.\n\n{EN.tools_footer(['get_current_time'])}"
    )
    await ask(fake_discord, world, "thanks", channel=thread_id, mention=False)
    await reply_done(fake_discord, thread_id, "You're welcome.", count=2)

    sent_to_discord = [json.dumps(r.body) for r in fake_discord.requests if r.body]
    assert not any("SECRET" in body for body in sent_to_discord)
    second, follow_up = fake_openai.requests[1]["messages"], fake_openai.requests[2]["messages"]
    assert not any("SECRET" in json.dumps(m) or "think>" in json.dumps(m) for m in second)
    assert second[-2]["content"] == "" and second[-2]["tool_calls"][0]["id"] == "call_1"
    roles = [m["role"] for m in follow_up]
    assert roles == ["system", "user", "assistant", "tool", "assistant", "user"]
    assert not any("SECRET" in json.dumps(m) for m in follow_up)
    reply = fake_discord.bot_messages(thread_id)[0]
    buttons = [c["custom_id"] for row in reply["components"] for c in row["components"]]
    assert [b.split(":")[0] for b in buttons] == ["reasoning", "tools"]  # both one press away


async def test_the_rounds_are_bounded_and_the_last_must_answer_in_text(
    fake_discord, fake_openai, world, start_bot, tmp_path
):
    await start_bot(MCP_CONFIG=mcp_config(tmp_path, fake=FAKE))
    rounds = [calls((f"e{n}", "fake__echo", json.dumps({"text": f"again {n}"}))) for n in range(5)]
    fake_openai.respond(*rounds, Script(text="Enough echoes."))
    thread_id = await ask(fake_discord, world, "echo forever")
    await reply_done(
        fake_discord, thread_id, f"Enough echoes.\n\n{EN.tools_footer(['echo'])}", timeout=20
    )
    sent = fake_openai.requests
    assert len(sent) == 6  # five rounds that called tools, then one that had to answer
    assert [r.get("tool_choice") for r in sent] == [None] * 5 + ["none"]
    assert all(r["tools"] for r in sent)  # still offered, so the calls before make sense
    assert sum(m["role"] == "tool" for m in sent[-1]["messages"]) == 5


async def test_a_server_that_streams_nothing_when_offered_tools_is_answered_without_them(
    fake_discord, fake_openai, world, start_bot, tmp_path
):
    # llama-cpp-python's chatml-function-calling: a streamed request with tools ends empty,
    # the same request unstreamed answers.
    await start_bot(MCP_CONFIG=mcp_config(tmp_path, time=TIME))
    fake_openai.respond(
        Script(empty_stream=True), Script(text="probed"), Script(text="No tools, then.")
    )
    thread_id = await ask(fake_discord, world, "what time is it?")
    no_tools = EN.failure(Failure.NO_TOOLS)
    await reply_done(fake_discord, thread_id, f"No tools, then.\n\n{no_tools}")
    streamed, probe, answered = fake_openai.requests
    assert streamed["tools"] and "stream" not in probe and "tools" not in answered
