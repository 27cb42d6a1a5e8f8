"""Tools from MCP servers, as the core sees them: the operator's server list (``MCP_CONFIG``,
parsed here from its text), one tool as offered to a model, one result, and the
:class:`ToolHost` protocol that :mod:`bot.services.mcp` implements.

The file is the ``mcpServers`` form other MCP clients read: ``command``/``args``/``env`` for a
server run as a process (stdio), ``url``/``headers`` for one reached over Streamable HTTP. Each
server may add keys of the bot's own: ``enabled`` (default true; false: started, but off until
``/tools`` switches it on somewhere), ``confirm`` (``always``,
``never`` or ``annotations``, the default: ask before a tool that is not read-only or is
destructive), ``guilds`` (the server ids that may use it; absent: everywhere the bot answers)
and ``timeout`` (seconds one call may take). Other clients' ``disabled: true`` is honoured as
they mean it: the server is not started at all. ``${NAME}`` in ``args``, ``env``, ``url`` or
``headers`` is replaced by that environment variable, so secrets can stay out of the file.

Values of ``env`` and ``headers`` (and ``args`` and ``url``, which may hold a token too) are
kept out of every ``repr`` and every message; errors name the server and the key, never a value.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from bot.core.env_values import SettingsError
from bot.core.policy import Place

VARIABLE = "MCP_CONFIG"
DEFAULT_TIMEOUT = 30.0  # seconds one tool call may take, unless the server's entry says
MAX_TIMEOUT = 600.0
RESULT_CHARS = 16_000  # a result's text is cut to this many characters before anyone sees it
FUNCTION_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")  # what OpenAI accepts as a function name
_SERVER_NAME = re.compile(r"[a-zA-Z0-9_-]{1,32}")
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SEPARATOR = "__"
BUILTIN_SERVER = "discord"  # the bot's own tools' server name, which the file may not use


class Confirm(StrEnum):
    """When a person must allow a tool call first."""

    ANNOTATIONS = "annotations"  # when the tool says it may act (not read-only, or destructive)
    ALWAYS = "always"
    NEVER = "never"


@dataclass(frozen=True, slots=True)
class McpServer:
    """One server of the file. ``command`` for a process spoken to over stdio, else ``url``."""

    name: str
    command: str | None = None
    # args and the URL may carry a token as well: only describe() shows them, cleaned
    args: tuple[str, ...] = field(default=(), repr=False)
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    cwd: str | None = None
    url: str | None = field(default=None, repr=False)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    enabled: bool = True  # on by default where it serves (False: until /tools turns it on)
    disabled: bool = False  # not started at all (other clients' "disabled")
    confirm: Confirm = Confirm.ANNOTATIONS
    guilds: frozenset[int] | None = None  # None: wherever the bot answers, DMs included
    timeout: float = DEFAULT_TIMEOUT

    @property
    def transport(self) -> str:
        return "stdio" if self.command is not None else "http"

    def serves(self, place: Place) -> bool:
        """Whether the operator lets this server's tools be used here at all (``/tools`` may
        still switch it off, or on where it is off by default)."""
        if self.disabled:
            return False
        return self.guilds is None or place.guild_id in self.guilds

    def describe(self) -> str:
        """For logs: what runs, without the environment, headers or a URL's query."""
        if self.command is not None:
            return f"{self.name} (stdio: {self.command})"
        return f"{self.name} (http: {_without_secrets(self.url or '')})"


@dataclass(frozen=True, slots=True)
class McpConfig:
    servers: tuple[McpServer, ...] = ()

    def server(self, name: str) -> McpServer | None:
        return next((s for s in self.servers if s.name == name), None)

    @property
    def running(self) -> tuple[McpServer, ...]:
        """The servers to start: all but those marked ``disabled``."""
        return tuple(s for s in self.servers if not s.disabled)


def _without_secrets(url: str) -> str:
    """The URL without user info or query: either may carry a token."""
    scheme, _, rest = url.partition("://")
    host_path = rest.rpartition("@")[2].split("?", 1)[0].split("#", 1)[0]
    return f"{scheme}://{host_path}" if rest else url


def _problem(problem: str) -> SettingsError:
    return SettingsError(VARIABLE, problem)


def _expand(value: str, env: Mapping[str, str], where: str) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            raise _problem(f"{where} uses ${{{name}}}, which is not set in the environment")
        return env[name]

    return _PLACEHOLDER.sub(replace, value)


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _problem(f"{where} must be a list of strings")
    return tuple(value)


def _mapping(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise _problem(f"{where} must be an object of string values")
    return dict(value)


def _guilds(value: Any, where: str) -> frozenset[int] | None:
    if value is None:
        return None
    ids = value if isinstance(value, list) else None
    try:
        if ids is None or any(isinstance(i, bool | float) for i in ids):
            raise ValueError
        return frozenset(int(i) for i in ids)
    except (TypeError, ValueError):
        raise _problem(f'{where} must be a list of server ids, like ["123"]') from None


_KNOWN_KEYS = {"command", "args", "env", "cwd", "url", "headers", "type"}
_KNOWN_KEYS |= {"enabled", "confirm", "guilds", "timeout"}  # the bot's own
# Other clients' keys, accepted so their files work unchanged: "disabled" is honoured, the rest
# are theirs (this bot asks by annotations and the confirm key instead of auto-approve lists).
_KNOWN_KEYS |= {"disabled", "autoApprove", "alwaysAllow", "description"}


def _server(name: str, entry: Any, env: Mapping[str, str]) -> McpServer:
    where = f"server {name!r}"
    if not _SERVER_NAME.fullmatch(name):
        raise _problem(f"{where}: a name must be 1-32 letters, digits, _ or -")
    if name == BUILTIN_SERVER:
        raise _problem(f"{where}: the name is the bot's own tools'; choose another")
    if not isinstance(entry, dict):
        raise _problem(f"{where} must be an object")
    unknown = sorted(set(entry) - _KNOWN_KEYS)
    if unknown:
        raise _problem(f"{where} has unknown keys: {', '.join(unknown)}")
    command, url = entry.get("command"), entry.get("url")
    if (command is None) == (url is None):
        raise _problem(f"{where} needs either command (stdio) or url (Streamable HTTP)")
    kind = entry.get("type")
    if kind is not None and kind not in ("stdio", "http", "streamable-http", "streamableHttp"):
        raise _problem(f"{where}: type must be stdio or http (SSE servers are not supported)")
    if command is not None:
        if not isinstance(command, str) or not command.strip():
            raise _problem(f"{where}: command must be a program name")
        if "url" in entry or "headers" in entry or kind not in (None, "stdio"):
            raise _problem(f"{where}: url and headers are for http servers, not command")
    if url is not None:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise _problem(f"{where}: url must be an http(s) URL")
        if "args" in entry or "env" in entry or kind == "stdio":
            raise _problem(f"{where}: args and env are for command servers, not url")
    enabled, disabled = entry.get("enabled", True), entry.get("disabled", False)
    if not isinstance(enabled, bool) or not isinstance(disabled, bool):
        raise _problem(f"{where}: enabled must be true or false")
    cwd = entry.get("cwd")
    if cwd is not None and (not isinstance(cwd, str) or command is None):
        raise _problem(f"{where}: cwd must be a folder, for a command server")
    try:
        confirm = Confirm(entry.get("confirm", Confirm.ANNOTATIONS))
    except ValueError:
        raise _problem(f"{where}: confirm must be always, never or annotations") from None
    timeout = entry.get("timeout", DEFAULT_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise _problem(f"{where}: timeout must be a number of seconds")
    if not 0 < timeout <= MAX_TIMEOUT:
        raise _problem(f"{where}: timeout must be more than 0 and at most {MAX_TIMEOUT:g} seconds")
    args = _strings(entry.get("args", []), f"{where}: args")
    server_env = _mapping(entry.get("env", {}), f"{where}: env")
    headers = _mapping(entry.get("headers", {}), f"{where}: headers")
    return McpServer(
        name=name,
        command=command,
        args=tuple(_expand(a, env, f"{where}: args") for a in args),
        env={k: _expand(v, env, f"{where}: env {k}") for k, v in server_env.items()},
        url=None if url is None else _expand(url, env, f"{where}: url"),
        headers={k: _expand(v, env, f"{where}: headers {k}") for k, v in headers.items()},
        cwd=cwd,
        enabled=enabled,
        disabled=disabled,
        confirm=confirm,
        guilds=_guilds(entry.get("guilds"), f"{where}: guilds"),
        timeout=float(timeout),
    )


def parse_config(text: str, env: Mapping[str, str] | None = None) -> McpConfig:
    """The servers of an ``mcpServers`` file; :class:`SettingsError` names what is wrong
    (the server and the key, never a value). ``env`` fills ``${NAME}`` placeholders."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        line = getattr(exc, "lineno", None)
        at = f" (line {line})" if line else ""
        raise _problem(f"is not valid JSON{at}") from None
    if not isinstance(data, dict) or not isinstance(data.get("mcpServers"), dict):
        raise _problem('must be a JSON object with an "mcpServers" object')
    servers = tuple(_server(n, e, env or {}) for n, e in data["mcpServers"].items())
    return McpConfig(servers)


# -- One tool, as offered to a model ------------------------------------------------------------


def acts(confirm: Confirm, read_only: bool | None, destructive: bool | None) -> bool:
    """Whether calling the tool needs the asker's consent. By MCP's annotations, a tool acts
    unless it says it is read-only (``readOnlyHint`` defaults to false), and a destructive one
    acts whatever else it says; the operator's ``confirm`` overrides both."""
    if confirm is Confirm.ALWAYS:
        return True
    if confirm is Confirm.NEVER:
        return False
    return read_only is not True or destructive is True


def _safe(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_-]", "_", text)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:6]


def function_names(pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """A function name for each (server, tool), valid for OpenAI (``^[a-zA-Z0-9_-]{1,64}$``),
    ``server__tool`` when that is free; otherwise a short digest of the true names keeps them
    apart (``a.b`` and ``a_b``, or a name cut to length). Earlier pairs keep the plain name."""
    names: dict[tuple[str, str], str] = {}
    taken: set[str] = set()
    for server, tool in pairs:
        plain = f"{_safe(server)}{_SEPARATOR}{_safe(tool)}"
        name = plain
        if len(name) > 64 or name in taken:
            name = f"{plain[:57]}_{_digest(f'{server}/{tool}')}"
        while name in taken:  # a digest that collides too: vanishingly rare, still handled
            name = f"{name[:57]}_{_digest(name)}"
        names[(server, tool)] = name
        taken.add(name)
    return names


@dataclass(frozen=True, slots=True)
class Tool:
    """A tool one server offers, under the name the model sees."""

    server: str
    name: str  # the server's own name for it
    function: str  # the namespaced name offered to the model
    description: str
    schema: Mapping[str, Any]  # the JSON schema of its arguments
    acts: bool  # needs the asker's consent before it runs
    default_on: bool = True  # on where /tools has not switched its server (the operator's say)

    def as_openai(self) -> dict[str, Any]:
        """The entry of a Chat Completions request's ``tools`` list."""
        return {
            "type": "function",
            "function": {
                "name": self.function,
                "description": self.description,
                "parameters": dict(self.schema),
            },
        }


# -- One result ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What a call gave back: its text parts (already cut to the budget), whether the tool
    reported an error, and the content that is not text, named (``image (image/png)``)."""

    parts: tuple[str, ...] = ()
    error: bool = False
    other: tuple[str, ...] = ()
    truncated: bool = False

    @property
    def text(self) -> str:
        """One text for the model: the parts, then a line naming what was left out."""
        lines = list(self.parts)
        if self.other:
            lines.append(f"[not shown: {', '.join(self.other)}]")
        if self.truncated:
            lines.append("[cut: the result was longer]")
        return "\n".join(lines)

    @classmethod
    def failure(cls, message: str) -> ToolResult:
        return cls(parts=(message,), error=True)


def bounded(
    parts: Sequence[str],
    *,
    error: bool = False,
    other: Sequence[str] = (),
    limit: int = RESULT_CHARS,
) -> ToolResult:
    """A result whose parts together hold at most ``limit`` characters: later parts are cut
    first, and what is cut is said."""
    kept: list[str] = []
    room = limit
    truncated = False
    for part in parts:
        if len(part) > room:
            truncated = True
            if room:
                kept.append(part[:room])
            break
        kept.append(part)
        room -= len(part)
    return ToolResult(parts=tuple(kept), error=error, other=tuple(other), truncated=truncated)


class ToolHost(Protocol):
    """The tools the core may offer and call (:class:`bot.services.mcp.McpHost`)."""

    async def tools(self, place: Place) -> tuple[Tool, ...]:
        """The tools usable here now, in a stable order."""
        ...

    async def call(
        self,
        function: str,
        arguments: Mapping[str, Any],
        *,
        place: Place,
        asker_id: int | None = None,
        seconds: float | None = None,
    ) -> ToolResult:
        """Run one tool by its function name for ``asker_id`` (built-in tools act with that
        person's permissions), within ``seconds`` (and the server's own ``timeout``, whichever
        is shorter); never raises for the tool's own failures (an unknown name, a tool error, a
        timeout, a server down): those are error results."""
        ...


MAX_CONFIG_BYTES = 1_000_000


def read_config(path: str | Path, env: Mapping[str, str] | None = None) -> McpConfig:
    """The file ``MCP_CONFIG`` names, parsed; :class:`SettingsError` when it can't be read or
    is malformed. Read once, with the settings, so a bad file stops the bot at start-up."""
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise SettingsError(VARIABLE, f"names a file that can't be read ({exc.strerror})") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise SettingsError(VARIABLE, "names a file larger than 1 MB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SettingsError(VARIABLE, "names a file that is not UTF-8 text") from None
    return parse_config(text, env)
