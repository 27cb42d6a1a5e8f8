"""The MCP tool host against real servers, offline: ``mcp-server-time`` (which nobody here wrote)
over stdio, and the SDK-built test server of :mod:`tests.fakes.mcp_server` over stdio and over
Streamable HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn

from bot.core.env_values import SettingsError
from bot.core.policy import Kind, Place
from bot.core.tools import parse_config, read_config
from bot.services.mcp import McpHost
from tests.fakes.mcp_server import streamable_http_app

ROOT = Path(__file__).resolve().parents[3]
HERE = Place(channel_id=1, kind=Kind.THREAD, guild_id=10)
ELSEWHERE = Place(channel_id=2, kind=Kind.THREAD, guild_id=20)
SECRET_ENV, SECRET_HEADER = "s3cret-env", "s3cret-header"
FAST = {"backoff": (0.05, 0.2), "stable_after": 0.5}


def stdio_entry(**extra) -> dict:
    return {
        "command": sys.executable,
        "args": ["-m", "tests.fakes.mcp_server"],
        "cwd": str(ROOT),
        "env": {"FAKE_TOKEN": SECRET_ENV},
        **extra,
    }


@contextlib.asynccontextmanager
async def host_of(servers: dict, **options) -> AsyncIterator[McpHost]:
    host = McpHost(parse_config(json.dumps({"mcpServers": servers})), **{**FAST, **options})
    try:
        await host.start(wait=15)
        yield host
    finally:
        await host.close()


@contextlib.asynccontextmanager
async def http_server(port: int = 0) -> AsyncIterator[str]:
    server = uvicorn.Server(
        uvicorn.Config(
            streamable_http_app(),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            timeout_graceful_shutdown=1,  # a server going away drops the open change stream
        )
    )
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(10):
            while not server.started:  # noqa: ASYNC110 (uvicorn has no event)
                await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        server.should_exit = True
        await task


async def eventually(condition, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110 (polling a counter)
            await asyncio.sleep(0.02)


async def test_a_server_nobody_here_wrote_lists_and_answers_over_stdio():
    servers = {"time": {"command": sys.executable, "args": ["-m", "mcp_server_time"]}}
    async with host_of(servers) as host:
        tools = {tool.function: tool for tool in await host.tools(HERE)}
        assert set(tools) == {"time__get_current_time", "time__convert_time"}
        assert not tools["time__get_current_time"].acts  # annotated read-only
        assert "timezone" in json.dumps(tools["time__get_current_time"].schema)

        result = await host.call("time__get_current_time", {"timezone": "Europe/Paris"}, place=HERE)
        assert not result.error
        assert json.loads(result.text)["timezone"] == "Europe/Paris"

        wrong = await host.call("time__get_current_time", {"timezone": "Nowhere/None"}, place=HERE)
        assert wrong.error and "Nowhere/None" in wrong.text


@pytest.fixture(autouse=True)
def bot_secrets(monkeypatch):
    """The bot's own environment holds its tokens: a stdio server must not inherit them (the
    SDK passes only HOME, PATH and a few more, plus the server's ``env``)."""
    monkeypatch.setenv("DISCORD_TOKEN", "bot-token-never-shared")


@pytest.fixture(params=["stdio", "http"])
async def fake(request) -> AsyncIterator[McpHost]:
    if request.param == "stdio":
        async with host_of({"fake": stdio_entry()}) as host:
            yield host
    else:
        async with http_server() as url:
            entry = {"url": url, "headers": {"Authorization": f"Bearer {SECRET_HEADER}"}}
            async with host_of({"fake": entry}) as host:
                yield host


async def test_tools_are_namespaced_and_those_that_act_are_marked(fake):
    tools = {tool.function: tool for tool in await fake.tools(HERE)}
    assert {"fake__echo", "fake__slow", "fake__wipe", "fake__learn"} <= set(tools)
    assert tools["fake__echo"].name == "echo" and tools["fake__echo"].server == "fake"
    assert not tools["fake__echo"].acts
    assert tools["fake__wipe"].acts  # destructiveHint
    assert tools["fake__learn"].acts  # no annotations: not read-only
    assert tools["fake__echo"].as_openai()["function"]["parameters"]["required"] == ["text"]


async def test_a_call_and_its_result_text_errors_and_other_content(fake):
    echoed = await fake.call("fake__echo", {"text": "hello"}, place=HERE)
    assert (echoed.text, echoed.error) == ("hello", False)

    failed = await fake.call("fake__fail", {"reason": "on purpose"}, place=HERE)
    assert failed.error and "on purpose" in failed.text

    picture = await fake.call("fake__picture", {}, place=HERE)
    assert picture.parts == ("a red dot",) and picture.other == ("image (image/png)",)
    assert "image (image/png)" in picture.text

    unknown = await fake.call("fake__nothing", {}, place=HERE)
    assert unknown.error and "no tool called fake__nothing" in unknown.text


async def test_calls_run_concurrently_and_each_has_its_own_timeout(fake):
    started = time.monotonic()
    slow, quick = await asyncio.gather(
        fake.call("fake__slow", {"seconds": 30}, place=HERE, seconds=0.5),
        fake.call("fake__slow", {"seconds": 0.2}, place=HERE, seconds=5),
    )
    assert slow.error and "longer than 0.5 s" in slow.text
    assert (quick.error, quick.text) == (False, "waited 0.2")
    assert time.monotonic() - started < 3
    assert not (await fake.call("fake__echo", {"text": "still here"}, place=HERE)).error


async def test_a_changed_tool_list_is_listed_again(fake):
    assert "fake__fresh" not in {tool.function for tool in await fake.tools(HERE)}
    learned = await fake.call("fake__learn", {"name": "fresh"}, place=HERE)
    assert not learned.error

    async def names() -> set[str]:
        return {tool.function for tool in await fake.tools(HERE)}

    async with asyncio.timeout(5):
        while "fake__fresh" not in await names():  # noqa: ASYNC110 (polling)
            await asyncio.sleep(0.02)
    assert (await fake.call("fake__fresh", {}, place=HERE)).text == "I am fresh"


async def test_the_secrets_reach_the_server_and_never_the_logs(fake, caplog):
    caplog.set_level(logging.DEBUG)
    answer = await fake.call("fake__secret", {}, place=HERE)
    transport = next(iter(fake.links.values())).server.transport
    expected = "env=True header=False" if transport == "stdio" else "env=False header=True"
    inherited = transport == "http"  # served in this process: only stdio is a test of it
    assert answer.text == f"{expected} bot_token={inherited}"
    await fake.call("fake__fail", {"reason": "x"}, place=HERE)
    server = fake.config.servers[0]
    shown = f"{server!r} {fake.config!r} {server.describe()}"
    for secret in (SECRET_ENV, SECRET_HEADER):
        assert secret not in caplog.text
        assert secret not in shown


async def test_a_crashed_server_is_started_again_and_answers(caplog):
    caplog.set_level(logging.INFO)
    async with host_of({"fake": stdio_entry()}) as host:
        link = host.links["fake"]
        assert link.connections == 1
        crashed = await host.call("fake__crash", {}, place=HERE, seconds=5)
        assert crashed.error and "restarting" in crashed.text
        await eventually(lambda: link.connections == 2)
        assert (await host.call("fake__echo", {"text": "back"}, place=HERE)).text == "back"
    assert "connecting again" in caplog.text
    assert SECRET_ENV not in caplog.text


async def test_a_call_waits_for_a_restarting_server_within_its_timeout():
    async with host_of({"fake": stdio_entry()}, backoff=(0.3, 1.0)) as host:
        await host.call("fake__crash", {}, place=HERE, seconds=5)
        answer = await host.call("fake__echo", {"text": "patient"}, place=HERE, seconds=10)
        assert answer.text == "patient"
        gone = await host.call("fake__crash", {}, place=HERE, seconds=5)
        assert gone.error
        impatient = await host.call("fake__echo", {"text": "now"}, place=HERE, seconds=0.05)
        assert impatient.error and "longer than" in impatient.text


async def test_a_server_that_cannot_start_is_retried_and_lists_nothing(caplog):
    caplog.set_level(logging.INFO)
    servers = {"broken": {"command": sys.executable, "args": ["-c", "raise SystemExit(1)"]}}
    async with host_of(servers) as host:
        link = host.links["broken"]
        assert await host.tools(HERE) == ()
        await asyncio.sleep(0.3)
        assert link.connections == 0
        assert (await host.call("broken__x", {}, place=HERE)).error
    assert caplog.text.count("connecting again") >= 2


async def test_long_results_are_cut_to_the_budget():
    async with host_of({"fake": stdio_entry()}, result_chars=100) as host:
        result = await host.call("fake__big", {"size": 5_000}, place=HERE)
    assert result.parts == ("é" * 100,) and result.truncated
    assert result.text.endswith("[cut: the result was longer]")


async def test_servers_are_offered_only_where_the_operator_allows():
    servers = {
        "here": stdio_entry(guilds=["10"]),
        "off": stdio_entry(enabled=False),  # started: /tools may switch it on
        "gone": stdio_entry(disabled=True),
        "time": {"command": sys.executable, "args": ["-m", "mcp_server_time"], "confirm": "always"},
    }
    async with host_of(servers) as host:
        assert set(host.links) == {"here", "off", "time"}  # a disabled server is never started
        here = {tool.server for tool in await host.tools(HERE)}
        elsewhere = {tool.server for tool in await host.tools(ELSEWHERE)}
        assert here == {"here", "off", "time"} and elsewhere == {"off", "time"}
        defaults = {tool.server: tool.default_on for tool in await host.tools(HERE)}
        assert defaults == {"here": True, "off": False, "time": True}
        timed = [tool for tool in await host.tools(ELSEWHERE) if tool.server == "time"]
        assert timed and all(tool.acts for tool in timed)  # confirm: always
        refused = await host.call("here__echo", {"text": "x"}, place=ELSEWHERE)
        assert refused.error


def test_the_file_is_read_and_its_problems_named(tmp_path):
    path = tmp_path / "mcp.json"
    path.write_text(json.dumps({"mcpServers": {"t": {"command": "x", "env": {"K": "${TOKEN}"}}}}))
    config = read_config(path, {"TOKEN": "from-env"})
    assert config.servers[0].env == {"K": "from-env"}
    with pytest.raises(SettingsError, match="can't be read"):
        read_config(tmp_path / "missing.json")
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(SettingsError, match="not UTF-8"):
        read_config(path)


async def test_an_http_server_that_went_away_is_connected_again_when_it_is_back(caplog):
    caplog.set_level(logging.INFO)
    async with http_server() as url:
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        host = McpHost(parse_config(json.dumps({"mcpServers": {"web": {"url": url}}})), **FAST)
        await host.start(wait=10)
    try:
        link = host.links["web"]
        assert link.connections == 1
        gone = await host.call("web__echo", {"text": "anyone?"}, place=HERE, seconds=5)
        assert gone.error
        async with http_server(port):
            await eventually(lambda: link.connections == 2, timeout=10)
            back = await host.call("web__echo", {"text": "back"}, place=HERE, seconds=5)
            assert (back.error, back.text) == (False, "back")
    finally:
        await host.close()
