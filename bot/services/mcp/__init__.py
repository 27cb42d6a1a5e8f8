"""Tools from MCP servers (``MCP_CONFIG``), on the official ``mcp`` SDK: :class:`McpHost` is
the core's :class:`~bot.core.tools.ToolHost`; :func:`read_config` reads the operator's file."""

from bot.services.mcp.host import McpHost, read_config

__all__ = ["McpHost", "read_config"]
