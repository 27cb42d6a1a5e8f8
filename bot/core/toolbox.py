"""The tools a reply may offer in one place: every host's (the MCP servers of ``MCP_CONFIG``,
the bot's own built-in ones), less the servers switched off there, and each call routed back to
the host that offered it.

The switches (``/tools``: on or off for a server or a channel) are a callback, so that this
module needs no store: :data:`Switches` says, for each server offered, whether it is on here
and who decided (the rule is :func:`bot.core.choices.switched`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.core.policy import Place
from bot.core.store import Scope
from bot.core.tools import Tool, ToolHost, ToolResult


@dataclass(frozen=True, slots=True)
class Switch:
    """Whether a tool server is on in one place, and who said so."""

    on: bool
    source: Scope | None = None  # a channel's or a server's /tools switch; None: the operator's


# The state here of each server offered (its name, and whether the operator has it on by default).
Switches = Callable[[Place, Mapping[str, bool]], Awaitable[Mapping[str, Switch]]]


@dataclass(frozen=True, slots=True)
class Offered:
    """One server's tools usable in a place, switched on or not."""

    server: str
    tools: tuple[Tool, ...]
    switch: Switch


class Toolbox:
    """One :class:`ToolHost` over several: the tools of all, in the hosts' order, and the
    calls sent to the host whose tool it is. Function names must not clash across hosts (the
    built-in tools' server name is not a name MCP_CONFIG may use)."""

    def __init__(self, hosts: Sequence[ToolHost], *, switches: Switches | None = None) -> None:
        self.hosts = tuple(hosts)
        self.switches = switches

    def __bool__(self) -> bool:
        return bool(self.hosts)

    async def _switched(
        self, place: Place
    ) -> tuple[list[tuple[ToolHost, Tool]], Mapping[str, Switch]]:
        """Every host's tools here, and each of their servers' switch (one store read)."""
        listed = [(host, tool) for host in self.hosts for tool in await host.tools(place)]
        defaults = {tool.server: tool.default_on for _, tool in listed}
        if self.switches is not None and defaults:
            return listed, await self.switches(place, defaults)
        return listed, {server: Switch(on) for server, on in defaults.items()}

    async def offered(self, place: Place) -> tuple[Offered, ...]:
        """Each server whose tools the operator lets be used here, in order, with its switch
        (what ``/tools show`` lists); without switches, the operator's defaults decide."""
        listed, states = await self._switched(place)
        servers = dict.fromkeys(tool.server for _, tool in listed)  # in the hosts' order
        return tuple(
            Offered(server, tuple(t for _, t in listed if t.server == server), states[server])
            for server in servers
        )

    async def tools(self, place: Place) -> tuple[Tool, ...]:
        """The tools usable here now: each host's, less the servers switched off."""
        listed, states = await self._switched(place)
        return tuple(tool for _, tool in listed if states[tool.server].on)

    async def call(
        self,
        function: str,
        arguments: Mapping[str, Any],
        *,
        place: Place,
        asker_id: int | None = None,
        seconds: float | None = None,
    ) -> ToolResult:
        """Send the call to the host whose tool it is. The switches are not read again: a
        reply calls only what :meth:`tools` offered it (``run_round`` refuses other names), and
        a switch changed meanwhile applies from the next reply; the hosts still check that
        the operator lets their tool be used here."""
        for host in self.hosts:
            if any(tool.function == function for tool in await host.tools(place)):
                return await host.call(
                    function, arguments, place=place, asker_id=asker_id, seconds=seconds
                )
        return ToolResult.failure(f"There is no tool called {function} here.")
