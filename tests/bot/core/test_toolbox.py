"""The toolbox: every host's tools in one list, less the servers switched off where a reply
runs (/tools: a channel's switch, else the server's, else the operator's default), and each
call sent to the host whose tool it is."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.core.choices import Choices, switch_scopes
from bot.core.models import Models
from bot.core.policy import Kind, Place
from bot.core.store import Scope
from bot.core.toolbox import Switch, Toolbox
from bot.core.tools import Tool, ToolResult

GUILD, CHANNEL, THREAD, OTHER_CHANNEL = 10, 20, 30, 21
IN_THREAD = Place(THREAD, Kind.THREAD, guild_id=GUILD, parent_id=CHANNEL)
IN_CHANNEL = Place(CHANNEL, Kind.TEXT, guild_id=GUILD)
ELSEWHERE = Place(OTHER_CHANNEL, Kind.TEXT, guild_id=GUILD)
DM = Place(40, Kind.DM)
BY_APP = Place(50, Kind.TEXT, guild_id=GUILD, absent=True)  # /chat where the bot is no member

NOW = Tool("time", "now", "time__now", "The time", {"type": "object"}, acts=False)
FETCH = Tool("fetch", "fetch", "fetch__fetch", "A page", {"type": "object"}, acts=False)
WIPE = Tool("files", "wipe", "files__wipe", "Wipe", {"type": "object"}, acts=True,
            default_on=False)  # fmt: skip


class Host:
    def __init__(self, *tools: Tool) -> None:
        self.offered = tools
        self.calls: list[str] = []

    async def tools(self, place: Place) -> tuple[Tool, ...]:
        return self.offered

    async def call(self, function, arguments, *, place, asker_id=None, seconds=None):
        self.calls.append(function)
        return ToolResult(parts=(f"ran {function}",))


@pytest.fixture
async def choices(sqlite_store):
    return Choices(sqlite_store, default_persona="", models=Models(default="gpt-4o"))


def names(tools) -> list[str]:
    return [tool.function for tool in tools]


async def test_without_switches_the_operators_defaults_decide():
    first, second = Host(NOW), Host(FETCH, WIPE)
    box = Toolbox([first, second])
    assert names(await box.tools(IN_THREAD)) == ["time__now", "fetch__fetch"]  # wipe: off
    offered = await box.offered(IN_THREAD)
    assert [(o.server, o.switch) for o in offered] == [
        ("time", Switch(True)), ("fetch", Switch(True)), ("files", Switch(False)),
    ]  # fmt: skip
    assert (await box.call("fetch__fetch", {}, place=IN_THREAD)).text == "ran fetch__fetch"
    assert second.calls == ["fetch__fetch"] and first.calls == []
    refused = await box.call("nothing__here", {}, place=IN_THREAD)
    assert refused.error and second.calls == ["fetch__fetch"]
    assert not Toolbox([]) and box


async def test_a_channels_switch_beats_the_servers_which_beats_the_default(choices):
    box = Toolbox([Host(NOW, FETCH, WIPE)], switches=choices.tool_switches)
    await choices.set_tool_switch(Scope.GUILD, GUILD, "fetch", False)
    await choices.set_tool_switch(Scope.GUILD, GUILD, "files", True)
    await choices.set_tool_switch(Scope.CHANNEL, CHANNEL, "fetch", True)
    await choices.set_tool_switch(Scope.CHANNEL, CHANNEL, "time", False)
    # A conversation's thread follows its channel's switches.
    assert names(await box.tools(IN_THREAD)) == ["fetch__fetch", "files__wipe"]
    assert {o.server: o.switch for o in await box.offered(IN_THREAD)} == {
        "time": Switch(False, Scope.CHANNEL),
        "fetch": Switch(True, Scope.CHANNEL),
        "files": Switch(True, Scope.GUILD),
    }
    assert names(await box.tools(ELSEWHERE)) == ["time__now", "files__wipe"]  # the server's
    await choices.set_tool_switch(Scope.CHANNEL, CHANNEL, "fetch", None)  # cleared
    assert names(await box.tools(IN_CHANNEL)) == ["files__wipe"]
    # Outside servers the bot is in, no switch applies: the operator's defaults.
    for place in (DM, BY_APP):
        assert names(await box.tools(place)) == ["time__now", "fetch__fetch"]


def test_the_scopes_a_place_follows():
    assert switch_scopes(IN_THREAD) == (CHANNEL, GUILD)
    assert switch_scopes(IN_CHANNEL) == (CHANNEL, GUILD)
    assert switch_scopes(replace(IN_THREAD, parent_id=None)) == (THREAD, GUILD)
    assert switch_scopes(DM) == (None, None) and switch_scopes(BY_APP) == (None, None)
