"""A small MCP server written with the official SDK, for the tool host's tests.

Run over stdio (``python -m tests.fakes.mcp_server``) or serve it over Streamable HTTP in
process (:func:`streamable_http_app`). Its tools: ``echo`` (read-only), ``slow`` (sleeps),
``fail`` (a tool error), ``wipe`` (destructive), ``big`` (a long text), ``picture`` (an image),
``learn`` (adds a tool and announces the changed list), ``crash`` (the process dies),
``secret`` (tells whether the environment and headers carried what the config gave) and
``stamp`` (its process's ``time.monotonic()``, for ``bench/tool_loop.py``).

``python -m tests.fakes.mcp_server --http PORT`` serves it over Streamable HTTP instead, at
``http://127.0.0.1:PORT/mcp``.
"""

from __future__ import annotations

import os
import sys
import time

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ImageContent, TextContent, ToolAnnotations

READ_ONLY = ToolAnnotations(readOnlyHint=True)
DESTRUCTIVE = ToolAnnotations(readOnlyHint=False, destructiveHint=True)


def build() -> MCPServer:
    server = MCPServer("fake-tools")

    @server.tool(annotations=READ_ONLY)
    def echo(text: str) -> str:
        """Say the text back."""
        return text

    @server.tool(annotations=READ_ONLY)
    async def slow(seconds: float) -> str:
        """Wait, then answer."""
        await anyio.sleep(seconds)
        return f"waited {seconds}"

    @server.tool(annotations=READ_ONLY)
    def fail(reason: str) -> str:
        """Always fails."""
        raise ToolError(f"it failed: {reason}")

    @server.tool(annotations=DESTRUCTIVE)
    def wipe(target: str) -> str:
        """Deletes the target."""
        return f"wiped {target}"

    @server.tool(annotations=READ_ONLY)
    def big(size: int) -> str:
        """A long text."""
        return "é" * size

    @server.tool(annotations=READ_ONLY)
    def picture() -> list[TextContent | ImageContent]:
        """A caption and a 1x1 PNG."""
        return [
            TextContent(type="text", text="a red dot"),
            ImageContent(type="image", data="iVBORw0KGgo=", mimeType="image/png"),
        ]

    @server.tool()
    async def learn(name: str, ctx: Context) -> str:
        """Adds a tool called ``name`` and tells the client the list changed."""
        server.add_tool(lambda: f"I am {name}", name=name, description=f"learned {name}")
        await ctx.notify_tools_changed()  # 2026-07-28 clients: their subscriptions/listen stream
        if ctx.session is not None:  # earlier clients: the notification itself
            await ctx.session.send_tool_list_changed()
        return f"learned {name}"

    @server.tool()
    def crash() -> str:
        """The server process dies."""
        os._exit(3)

    @server.tool(annotations=READ_ONLY)
    def secret(ctx: Context) -> str:
        """Whether the configured secret reached the server (environment or header)."""
        in_env = os.environ.get("FAKE_TOKEN") == "s3cret-env"
        headers = ctx.headers or {}
        in_header = headers.get("authorization") == "Bearer s3cret-header"
        inherited = "DISCORD_TOKEN" in os.environ  # the bot's own secrets must not reach it
        return f"env={in_env} header={in_header} bot_token={inherited}"

    @server.tool(annotations=READ_ONLY)
    def stamp() -> str:
        """The server's clock when the call ran (CLOCK_MONOTONIC: the same for every process)."""
        return f"stamp={time.monotonic():.6f}"

    return server


def streamable_http_app():
    return build().streamable_http_app()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--http"]:
        import uvicorn

        uvicorn.run(
            streamable_http_app(), host="127.0.0.1", port=int(sys.argv[2]), log_level="error"
        )
    else:
        build().run("stdio")
    sys.exit(0)
