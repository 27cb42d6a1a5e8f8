"""The :class:`~bot.core.tools.ToolHost` on MCP servers: one :class:`ServerLink` a configured
server that is not ``disabled`` (those off by default too: ``/tools`` may switch them on),
their tools under namespaced function names."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any, TextIO

from bot.core.policy import Place
from bot.core.tools import (
    RESULT_CHARS,
    McpConfig,
    Tool,
    ToolResult,
    acts,
    function_names,
)
from bot.services.mcp.link import ServerLink

log = logging.getLogger(__name__)


class McpHost:
    """Starts every server once, keeps it, and answers for all of them."""

    def __init__(
        self,
        config: McpConfig,
        *,
        result_chars: int = RESULT_CHARS,
        backoff: tuple[float, float] = (0.5, 60.0),
        stable_after: float = 60.0,
        errlog: TextIO | None = None,
    ) -> None:
        self.config = config
        self.links = {
            server.name: ServerLink(
                server,
                backoff=backoff,
                stable_after=stable_after,
                result_chars=result_chars,
                errlog=errlog,
            )
            for server in config.running
        }
        self._tools: tuple[Tool, ...] = ()
        self._by_function: dict[str, Tool] = {}
        for link in self.links.values():
            link.on_change = self._rename

    async def start(self, wait: float = 10.0) -> None:
        """Start every server; wait up to ``wait`` seconds for their first connections (a
        server that is not up by then joins when it is)."""
        for link in self.links.values():
            link.start()
        if self.links:
            await asyncio.gather(*(link.started(wait) for link in self.links.values()))

    async def close(self) -> None:
        await asyncio.gather(*(link.close() for link in self.links.values()))

    async def __aenter__(self) -> McpHost:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

    def _rename(self) -> None:
        """Name every listed tool again (after any server's list changed): the function names
        stay the same for the same tools, as they depend on the config's order only."""
        listed = [(link, tool) for link in self.links.values() for tool in link.tools]
        names = function_names((link.server.name, tool.name) for link, tool in listed)
        tools = []
        for link, tool in listed:
            hints = tool.annotations
            tools.append(
                Tool(
                    server=link.server.name,
                    name=tool.name,
                    function=names[(link.server.name, tool.name)],
                    description=tool.description or tool.title or tool.name,
                    schema=tool.input_schema,
                    acts=acts(
                        link.server.confirm,
                        None if hints is None else hints.read_only_hint,
                        None if hints is None else hints.destructive_hint,
                    ),
                    default_on=link.server.enabled,
                )
            )
        self._tools = tuple(tools)
        self._by_function = {tool.function: tool for tool in tools}

    async def tools(self, place: Place) -> tuple[Tool, ...]:
        return tuple(
            tool
            for tool in self._tools
            if self.links[tool.server].connected and self.links[tool.server].server.serves(place)
        )

    async def call(
        self,
        function: str,
        arguments: Mapping[str, Any],
        *,
        place: Place,
        asker_id: int | None = None,
        seconds: float | None = None,
    ) -> ToolResult:
        tool = self._by_function.get(function)
        if tool is None or not self.links[tool.server].server.serves(place):
            return ToolResult.failure(f"There is no tool called {function} here.")
        link = self.links[tool.server]
        limit = link.server.timeout if seconds is None else min(seconds, link.server.timeout)
        return await link.call(tool.name, arguments, limit)
