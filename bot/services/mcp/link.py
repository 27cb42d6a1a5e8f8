"""One configured MCP server, kept connected for the process's life.

A supervisor task owns the SDK's :class:`mcp.Client` (its task groups must be entered and left
in one task): it connects (a process over stdio, or Streamable HTTP), lists the tools, listens
for ``notifications/tools/list_changed`` and lists them again, and when the connection ends
(the process died, the stream was lost) connects again after a backoff that doubles up to a
cap and resets once a connection has lasted. Calls come from any task; each has a timeout
and ends in a :class:`~bot.core.tools.ToolResult`, never an exception of the tool's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, TextIO

import anyio
import httpx2
from mcp import Client, StdioServerParameters, types
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.client.subscriptions import ListenNotSupportedError
from mcp.shared.exceptions import MCPError

from bot.core.tools import RESULT_CHARS, McpServer, ToolResult, bounded

log = logging.getLogger(__name__)

CLIENT_INFO = types.Implementation(name="threadbot", version="0.1.0")
MAX_TOOLS = 128  # per server: OpenAI takes at most 128 tools in one request
MAX_PAGES = 20  # of a tools/list walk, so a paginator that never ends cannot hang a refresh
LIST_TIMEOUT = 30.0  # seconds for connecting, and for one tools/list walk
CLOSE_TIMEOUT = 10.0  # seconds; the SDK gives a process 2 s after stdin closes, then 2 more
CONCURRENT_CALLS = 8  # per server; more wait their turn (within their own timeout)


class _Watched:
    """A transport's read stream that sets ``ended`` when the stream does: how a server's
    exit (its stdout closing) becomes known at once. Follows ``mcp.shared``'s ReadStream."""

    def __init__(self, stream: Any, lost: Callable[[], None]) -> None:
        self._stream, self._lost = stream, lost

    @property
    def last_context(self) -> Any:
        return getattr(self._stream, "last_context", None)

    async def receive(self) -> Any:
        try:
            return await self._stream.receive()
        except Exception:
            self._lost()
            raise

    async def aclose(self) -> None:
        self._lost()
        await self._stream.aclose()

    def __aiter__(self) -> _Watched:
        return self

    async def __anext__(self) -> Any:
        try:
            return await self._stream.__anext__()
        except BaseException as exc:
            if not isinstance(exc, asyncio.CancelledError):
                self._lost()
            raise

    async def __aenter__(self) -> _Watched:
        await self._stream.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> bool | None:
        self._lost()
        return await self._stream.__aexit__(*exc_info)


def _content(result: types.CallToolResult, limit: int) -> ToolResult:
    """The SDK's result as the core's: text parts kept (cut to ``limit``), other content named."""
    parts: list[str] = []
    other: list[str] = []
    for block in result.content:
        if isinstance(block, types.TextContent):
            parts.append(block.text)
        elif isinstance(block, types.ImageContent | types.AudioContent):
            other.append(f"{block.type} ({block.mime_type})")
        elif isinstance(block, types.EmbeddedResource):
            if isinstance(block.resource, types.TextResourceContents):
                parts.append(block.resource.text)
            else:
                other.append(f"resource {block.resource.uri}")
        elif isinstance(block, types.ResourceLink):
            other.append(f"link {block.uri}")
        else:
            other.append(str(getattr(block, "type", "content")))
    if not parts and result.structured_content is not None:
        parts.append(json.dumps(result.structured_content, ensure_ascii=False))
    return bounded(parts, error=bool(result.is_error), other=other, limit=limit)


class ServerLink:
    """The supervisor and the calls of one server."""

    def __init__(
        self,
        server: McpServer,
        *,
        backoff: tuple[float, float] = (0.5, 60.0),
        stable_after: float = 60.0,
        result_chars: int = RESULT_CHARS,
        errlog: TextIO | None = None,
    ) -> None:
        self.server = server
        self._first_delay, self._max_delay = backoff
        self._stable_after = stable_after
        self._result_chars = result_chars
        self._errlog = errlog
        self._client: Client | None = None
        self._ready = asyncio.Event()  # connected and listed
        self._stale = asyncio.Event()  # the server said its tools changed
        self._ended = asyncio.Event()  # the current connection is over
        self._tried = asyncio.Event()  # the first attempt finished, one way or the other
        self._calls = asyncio.Semaphore(CONCURRENT_CALLS)
        self._task: asyncio.Task[None] | None = None
        self._scope = anyio.CancelScope()
        self.tools: tuple[types.Tool, ...] = ()
        self.changes = 0  # how many listings were taken, so the host knows when to rename
        self.connections = 0  # how many times it connected (a restart adds one)
        self.on_change: Any = None  # called after each new listing

    # -- Lifetime -------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._supervise(), name=f"mcp:{self.server.name}")

    async def started(self, wait: float) -> bool:
        """Wait up to ``wait`` seconds for the first connection attempt (not for success);
        True when connected."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._tried.wait(), wait)
        return self._ready.is_set()

    async def close(self) -> None:
        """Stop the server: the SDK closes its stdin, waits, then ends its process group."""
        task, self._task = self._task, None
        if task is None:
            return
        # Cancelled through anyio, which the SDK's task groups are written for: a bare
        # task.cancel() reaching them mid-connection can leave the task waiting for ever.
        self._scope.cancel()
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await task
        except TimeoutError:
            log.warning("MCP server %s did not stop in time", self.server.name)
            task.cancel()

    @property
    def connected(self) -> bool:
        return self._ready.is_set()

    async def _supervise(self) -> None:
        with self._scope:
            delay = self._first_delay
            while True:
                began = time.monotonic()
                try:
                    await self._connect_once()
                    log.warning("MCP server %s: the connection ended", self.server.describe())
                except Exception as exc:  # the server's failure, not ours: log, wait, try again
                    log.warning("MCP server %s failed: %s", self.server.describe(), _reason(exc))
                finally:
                    self._client = None
                    self._ready.clear()
                    self._tried.set()
                if time.monotonic() - began >= self._stable_after:
                    delay = self._first_delay
                log.info("MCP server %s: connecting again in %.1f s", self.server.name, delay)
                await anyio.sleep(delay)
                delay = min(delay * 2, self._max_delay)

    def _lost(self) -> None:
        """The connection is over: no call may use it, the supervisor connects again."""
        self._ready.clear()
        self._ended.set()

    @asynccontextmanager
    async def _transport(self, stack: AsyncExitStack) -> AsyncIterator[Any]:
        if self.server.command is not None:
            params = StdioServerParameters(
                command=self.server.command,
                args=list(self.server.args),
                env=dict(self.server.env) or None,
                cwd=self.server.cwd,
            )
            opened = stdio_client(params, errlog=self._errlog or sys.stderr)
        else:
            http = await stack.enter_async_context(
                httpx2.AsyncClient(
                    headers=dict(self.server.headers),
                    timeout=httpx2.Timeout(LIST_TIMEOUT, read=300.0),
                )
            )
            opened = streamable_http_client(self.server.url or "", http_client=http)
        async with opened as (read_stream, write_stream):
            yield _Watched(read_stream, self._lost), write_stream

    async def _connect_once(self) -> None:
        self._ended.clear()
        async with AsyncExitStack() as stack:
            client = Client(
                self._transport(stack),
                message_handler=self._on_message,
                client_info=CLIENT_INFO,
                cache=None,  # the tool list is cached here, and refreshed on list_changed
            )
            async with asyncio.timeout(LIST_TIMEOUT):
                await stack.enter_async_context(client)
                await self._list(client)
            self.connections += 1
            self._client = client
            self._ready.set()
            self._tried.set()
            log.info(
                "MCP server %s connected (protocol %s, %d tools)",
                self.server.describe(),
                client.protocol_version,
                len(self.tools),
            )
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(self._refresh_when_stale, client)
                if _announces_changes(client):
                    tasks.start_soon(self._listen, client)
                await self._ended.wait()
                tasks.cancel_scope.cancel()

    async def _list(self, client: Client) -> None:
        tools: list[types.Tool] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            page = await client.list_tools(cursor=cursor)
            tools.extend(page.tools)
            cursor = page.next_cursor
            if cursor is None:
                break
        if len(tools) > MAX_TOOLS:
            log.warning(
                "MCP server %s lists %d tools; the first %d are used",
                self.server.name,
                len(tools),
                MAX_TOOLS,
            )
        self.tools = tuple(tools[:MAX_TOOLS])
        self.changes += 1
        if self.on_change is not None:
            self.on_change()

    async def _refresh_when_stale(self, client: Client) -> None:
        while True:
            await self._stale.wait()
            self._stale.clear()
            try:
                async with asyncio.timeout(LIST_TIMEOUT):
                    await self._list(client)
            except (MCPError, TimeoutError) as exc:
                log.warning(
                    "MCP server %s: listing tools failed: %s", self.server.name, _reason(exc)
                )
            else:
                log.info("MCP server %s: tools changed (%d now)", self.server.name, len(self.tools))

    async def _listen(self, client: Client) -> None:
        """2026-07-28 servers send change notifications only on a ``subscriptions/listen``
        stream (earlier ones send them unasked, to :meth:`_on_message`); the SDK passes each
        to the message handler too. A lost stream ends the connection, which is then made
        anew and listed again, so no change is missed."""
        try:
            async with client.listen(tools_list_changed=True) as subscription:
                async for _event in subscription:
                    self._stale.set()
        except ListenNotSupportedError:
            return  # an earlier protocol: the notifications come unasked
        except Exception as exc:
            log.warning("MCP server %s: change stream lost: %s", self.server.name, _reason(exc))
        self._lost()

    async def _on_message(self, message: Any) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            self._stale.set()
        elif isinstance(message, Exception):
            log.warning("MCP server %s: transport error: %s", self.server.name, _reason(message))

    # -- Calls ----------------------------------------------------------------------------

    async def call(self, name: str, arguments: Mapping[str, Any], seconds: float) -> ToolResult:
        """Run one tool, within ``seconds`` all told (waiting for a restarting server
        and for a free slot included). Every failure is an error result."""
        started = time.monotonic()
        try:
            async with asyncio.timeout(seconds):
                await self._ready.wait()
                async with self._calls:
                    client = self._client
                    if client is None:
                        return ToolResult.failure(f"The tool server {self.server.name} is down.")
                    left = max(seconds - (time.monotonic() - started), 0.001)
                    result = await client.call_tool(
                        name, dict(arguments), read_timeout_seconds=left
                    )
        except TimeoutError:
            return self._timed_out(name, seconds)
        except MCPError as exc:
            if exc.code == types.REQUEST_TIMEOUT:
                return self._timed_out(name, seconds)
            if exc.code == types.CONNECTION_CLOSED:
                self._lost()
                return ToolResult.failure(
                    f"The tool server {self.server.name} stopped during the call; it is restarting."
                )
            return ToolResult.failure(f"The tool {name} failed: {exc.error.message}")
        except Exception as exc:  # a broken transport or a malformed answer
            log.warning(
                "MCP server %s: call to %s failed: %s", self.server.name, name, _reason(exc)
            )
            self._lost()
            return ToolResult.failure(f"The tool {name} failed ({type(exc).__name__}).")
        return _content(result, self._result_chars)

    def _timed_out(self, name: str, timeout: float) -> ToolResult:
        log.info("MCP server %s: %s timed out after %.1f s", self.server.name, name, timeout)
        return ToolResult.failure(
            f"The tool {name} took longer than {timeout:g} s and was stopped."
        )


def _announces_changes(client: Client) -> bool:
    tools = client.server_capabilities.tools
    return bool(tools and tools.list_changed)


def _reason(exc: BaseException) -> str:
    """A one-line cause for logs: the exception's type and message, the message cut short
    (a server's own error text, never the config's env or headers, which are not in it)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__
