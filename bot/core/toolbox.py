"""The tools a reply may offer in one place: every host's (the MCP servers of ``MCP_CONFIG``,
the bot's own built-in ones), less the servers switched off there, and each call routed back to
the host that offered it.

The switches (``/tools``: on or off for a server or a channel) are a callback, so that this
module needs no store: :class:`Switches` answers which of the servers offered are on here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from bot.core.policy import Place
from bot.core.tools import Tool, ToolHost, ToolResult

# The servers (by name) that are on in a place, out of those given.
Switches = Callable[[Place, frozenset[str]], Awaitable[frozenset[str]]]


class Toolbox:
    """One :class:`ToolHost` over several: the tools of all, in the hosts' order, and the
    calls sent to the host whose tool it is. Function names must not clash across hosts (the
    built-in tools' server name is not a name MCP_CONFIG may use)."""

    def __init__(self, hosts: Sequence[ToolHost], *, switches: Switches | None = None) -> None:
        self.hosts = tuple(hosts)
        self.switches = switches

    def __bool__(self) -> bool:
        return bool(self.hosts)

    async def _listed(self, place: Place) -> list[tuple[ToolHost, Tool]]:
        listed = [(host, tool) for host in self.hosts for tool in await host.tools(place)]
        if self.switches is not None and listed:
            on = await self.switches(place, frozenset(tool.server for _, tool in listed))
            listed = [(host, tool) for host, tool in listed if tool.server in on]
        return listed

    async def tools(self, place: Place) -> tuple[Tool, ...]:
        """The tools usable here now: each host's, then the switches'."""
        return tuple(tool for _, tool in await self._listed(place))

    async def call(
        self,
        function: str,
        arguments: Mapping[str, Any],
        *,
        place: Place,
        asker_id: int | None = None,
        seconds: float | None = None,
    ) -> ToolResult:
        for host, tool in await self._listed(place):
            if tool.function == function:
                return await host.call(
                    function, arguments, place=place, asker_id=asker_id, seconds=seconds
                )
        return ToolResult.failure(f"There is no tool called {function} here.")
