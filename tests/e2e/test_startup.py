"""Start-up and shutdown through the fakes: bad token, missing intent, broken database, SIGTERM,
and the whole bot on PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sqlite3

import discord
import pytest
import yarl
from discord.gateway import DiscordWebSocket

from bot.app.runner import run
from bot.core.settings import load_settings
from tests.e2e.test_chat import ask, reply_done
from tests.fakes.openai_server import Script


@pytest.fixture
def settings_for(fake_discord, fake_openai, tmp_path, monkeypatch):
    monkeypatch.setattr(discord.http.Route, "BASE", fake_discord.api_base)
    monkeypatch.setattr(DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(fake_discord.gateway_url))

    def make(**env):
        return load_settings(
            {
                "DISCORD_TOKEN": fake_discord.token,
                "OPENAI_BASE_URL": fake_openai.base_url,
                "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.sqlite3'}",
                **env,
            }
        )

    return make


def errors(caplog):
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


async def test_rejected_token_is_one_line_and_exit_1(settings_for, caplog, world):
    status = await asyncio.wait_for(run(settings_for(DISCORD_TOKEN="wrong-token")), 10)
    assert status == 1
    assert errors(caplog) == [
        "Discord rejected DISCORD_TOKEN (401 Unauthorized): reset the token in the Developer "
        "Portal (Bot → Reset Token) and update .env"
    ]
    assert "wrong-token" not in caplog.text


async def test_missing_message_content_intent_names_the_switch(
    settings_for, fake_discord, caplog, world
):
    fake_discord.reject_intents = True
    status = await asyncio.wait_for(run(settings_for()), 10)
    assert status == 1
    assert any("turn on 'Message Content Intent'" in line for line in errors(caplog))


async def test_corrupt_database_names_the_path(settings_for, tmp_path, caplog, world):
    (tmp_path / "bot.sqlite3").write_bytes(b"garbage" * 1000)
    status = await asyncio.wait_for(run(settings_for()), 10)
    assert status == 1
    (line,) = errors(caplog)
    assert line.startswith(f"cannot open database {tmp_path / 'bot.sqlite3'}")


async def test_a_taken_metrics_port_is_one_line_and_exit_1(settings_for, caplog, world):
    with socket.socket() as taken:
        taken.bind(("", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status = await asyncio.wait_for(run(settings_for(METRICS_PORT=str(port))), 10)
    assert status == 1
    (line,) = errors(caplog)
    assert line.startswith(f"METRICS_PORT {port} cannot be served: ")


async def test_sigterm_shuts_down_cleanly(settings_for, fake_discord, caplog, world):
    caplog.set_level(logging.INFO)
    runner = asyncio.create_task(run(settings_for(), guild_ready_timeout=0.05))
    await fake_discord.wait_for(lambda: "Ready as threadbot" in caplog.text)
    os.kill(os.getpid(), signal.SIGTERM)
    assert await asyncio.wait_for(runner, 10) == 0
    assert "Shutting down" in caplog.text
    assert errors(caplog) == []


def stored_turns(path):
    """The turns in the bot's database, read beside the running bot (WAL allows it)."""
    with sqlite3.connect(path) as db:
        return db.execute(
            "SELECT role, content, status, message_id FROM turns ORDER BY seq"
        ).fetchall()


async def test_sigterm_with_a_reply_running_and_one_queued(
    settings_for, fake_discord, fake_openai, caplog, world, tmp_path
):
    caplog.set_level(logging.INFO)
    held = asyncio.Event()
    fake_openai.respond(Script(text="Half of the answer and then", chunk_size=12, gate=held))
    runner = asyncio.create_task(run(settings_for(), guild_ready_timeout=0.05))
    await fake_discord.wait_for(lambda: "Ready as threadbot" in caplog.text)
    thread_id = await ask(fake_discord, world, "long question")
    await fake_discord.wait_for(lambda: fake_discord.bot_messages(thread_id))
    queued = await fake_discord.user_says(thread_id, world.bob, "and mine?")
    database = tmp_path / "bot.sqlite3"
    await fake_discord.wait_for(
        lambda: any(t[3] == int(queued["id"]) for t in stored_turns(database))
    )
    os.kill(os.getpid(), signal.SIGTERM)
    assert await asyncio.wait_for(runner, 10) == 0

    assert len(fake_openai.requests) == 1  # the queued message started no model request
    (reply,) = fake_discord.bot_messages(thread_id)
    assert reply["content"] == "Half of the \n\n*(stopped: the bot is restarting)*"
    assert not reply["components"]
    assert [t[:3] for t in stored_turns(database)] == [
        ("user", "long question", "complete"),
        ("assistant", "Half of the ", "interrupted"),
        ("user", "and mine?", "complete"),
    ]
    assert errors(caplog) == []


async def test_sigterm_during_start_up_exits_cleanly(settings_for, fake_discord, caplog, world):
    held = fake_discord.hold("PUT", r"/commands$")  # setup_hook waits on the command sync
    runner = asyncio.create_task(run(settings_for(), guild_ready_timeout=0.05))
    await fake_discord.wait_for(lambda: any(r.method == "PUT" for r in fake_discord.requests))
    os.kill(os.getpid(), signal.SIGTERM)
    assert await asyncio.wait_for(runner, 10) == 0
    held.set()
    assert errors(caplog) == []


async def test_the_bot_runs_on_postgresql(fake_discord, fake_openai, world, start_bot, pg_database):
    """DATABASE_URL=postgresql://…: migrated at start-up, the conversation kept over a restart."""
    bot = await start_bot(DATABASE_URL=pg_database.url_with_schema)
    fake_openai.respond(Script(text="Remembered."), Script(text="Still here."))
    thread_id = await ask(fake_discord, world, "remember the number 42")
    await reply_done(fake_discord, thread_id, "Remembered.")
    await bot.close()

    await start_bot(DATABASE_URL=pg_database.url_with_schema)  # same schema
    await ask(fake_discord, world, "what number?", channel=thread_id, mention=False)
    await reply_done(fake_discord, thread_id, "Still here.", count=2)
    contents = [m["content"] for m in fake_openai.requests[1]["messages"]]
    assert contents[1:] == ["remember the number 42", "Remembered.", "what number?"]


async def test_discord_unreachable_at_start_up_is_one_line_and_a_retry(
    settings_for, fake_discord, caplog, world, monkeypatch
):
    import bot.app.runner

    monkeypatch.setattr(bot.app.runner, "FIRST_RETRY", 0.05)
    with socket.socket() as closed:  # a port nobody listens on: connection refused
        closed.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{closed.getsockname()[1]}/api/v10"
    monkeypatch.setattr(discord.http.Route, "BASE", refused)
    caplog.set_level(logging.INFO)
    runner = asyncio.create_task(run(settings_for(), guild_ready_timeout=0.05))
    await fake_discord.wait_for(lambda: caplog.text.count("Cannot reach Discord") >= 2)
    discord.http.Route.BASE = fake_discord.api_base  # Discord is back
    await fake_discord.wait_for(lambda: "Ready as threadbot" in caplog.text)
    os.kill(os.getpid(), signal.SIGTERM)
    assert await asyncio.wait_for(runner, 10) == 0

    lines = [r for r in caplog.records if "Cannot reach Discord" in r.getMessage()]
    assert lines and all(r.exc_info is None and r.levelno == logging.WARNING for r in lines)
    assert "trying again in 0 s" in lines[0].getMessage()
    assert errors(caplog) == []
    assert "Traceback" not in caplog.text
