"""Tools from MCP servers (``MCP_CONFIG``), on the official ``mcp`` SDK: :class:`McpHost` is
the core's :class:`~bot.core.tools.ToolHost`."""

from bot.services.mcp.host import McpHost

__all__ = ["McpHost"]
