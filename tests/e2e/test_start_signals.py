"""End to end: SIGTERM (or SIGINT) at any moment of `python -m bot`'s start-up is a clean stop,
exit status 0, never death by the signal."""

from __future__ import annotations

import asyncio
import signal
import sys

import pytest

# `python -m bot` pointed at the fake Discord; with a point named, the process sends itself
# the signal there (the early points come before discord.py is even imported).
LAUNCH_AT = """
import os, signal, sys
api, gateway, point, signum = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
sys.argv[1:] = []
import bot.__main__ as entry


def then_signal(function):
    def wrapped(*args, **kwargs):
        result = function(*args, **kwargs)
        os.kill(os.getpid(), signum)
        return result
    return wrapped


if point == "immediately":  # the first thing main() does
    entry._early_signals = then_signal(entry._early_signals)
elif point == "settings":  # settings read, discord.py not imported yet
    entry.settings_from_environment = then_signal(entry.settings_from_environment)
else:
    import discord, yarl
    from discord.gateway import DiscordWebSocket
    discord.http.Route.BASE = api
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway)
sys.exit(entry.main())
"""


async def launch(fake_discord, tmp_path, point: str, signum: int):
    env = {
        "PATH": "/usr/bin:/bin", "DISCORD_TOKEN": fake_discord.token,
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "OPENAI_API_KEY": "sk-test",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.sqlite3'}",
        "TIKTOKEN_CACHE_DIR": str(tmp_path / "tiktoken"),
    }  # fmt: skip
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", LAUNCH_AT, fake_discord.api_base, fake_discord.gateway_url,
        point, str(int(signum)), env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
@pytest.mark.parametrize("point", ["immediately", "settings"])
async def test_a_signal_before_the_heavy_imports_exits_0(fake_discord, tmp_path, point, signum):
    process = await launch(fake_discord, tmp_path, point, signum)
    _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, stderr.decode()
    assert b"Traceback" not in stderr
    assert fake_discord.requests == []  # it stopped before talking to Discord


async def test_sigterm_during_setup_hook_exits_0(fake_discord, tmp_path, world):
    held = fake_discord.hold("PUT", r"/commands$")  # setup_hook waits on the command sync
    process = await launch(fake_discord, tmp_path, "setup_hook", signal.SIGTERM)
    try:
        await fake_discord.wait_for(
            lambda: any(r.method == "PUT" for r in fake_discord.requests), timeout=30
        )
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 30)
    finally:
        held.set()
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, stderr.decode()
    assert b"Traceback" not in stderr
    assert not fake_discord._sockets  # it never connected to the gateway


async def test_sigterm_after_ready_exits_0(fake_discord, tmp_path, world):
    process = await launch(fake_discord, tmp_path, "ready", signal.SIGTERM)
    try:
        await fake_discord.wait_for(lambda: fake_discord._sockets, timeout=30)
        await fake_discord.wait_for(
            lambda: any(r.path == "/users/@me" for r in fake_discord.requests), timeout=30
        )
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, stderr.decode()
    assert b"Shutting down" in stderr
