"""The pure side of tools: the ``MCP_CONFIG`` file, namespaced names, consent by annotations,
results cut to a budget."""

from __future__ import annotations

import json

import pytest

from bot.core.env_values import SettingsError
from bot.core.policy import Kind, Place
from bot.core.settings import load_settings
from bot.core.tools import (
    DEFAULT_TIMEOUT,
    FUNCTION_NAME,
    Confirm,
    McpServer,
    ToolResult,
    acts,
    bounded,
    function_names,
    parse_config,
)

SECRET = "sk-live-0123456789"


def config(**servers):
    return parse_config(json.dumps({"mcpServers": servers}), {"TOKEN": SECRET})


def test_a_file_other_clients_read_works_unchanged_with_our_defaults():
    parsed = config(
        fetch={"command": "uvx", "args": ["mcp-server-fetch"]},
        docs={"url": "https://docs.example/mcp", "headers": {"Authorization": "Bearer x"}},
    )
    fetch, docs = parsed.servers
    assert (fetch.transport, fetch.command, fetch.args) == ("stdio", "uvx", ("mcp-server-fetch",))
    assert (docs.transport, docs.url) == ("http", "https://docs.example/mcp")
    for server in parsed.servers:
        assert server.enabled and server.confirm is Confirm.ANNOTATIONS
        assert server.guilds is None and server.timeout == DEFAULT_TIMEOUT
    assert parsed.running == parsed.servers and parsed.server("docs") is docs


def test_the_bots_own_keys():
    parsed = config(
        a={"command": "x", "enabled": False},
        b={"command": "x", "disabled": True},  # Cline's and Roo's spelling, honoured
        c={"command": "x", "confirm": "always", "guilds": ["123", 456], "timeout": 5},
        d={"url": "http://h/mcp", "confirm": "never", "autoApprove": ["t"]},
    )
    a, b, c, d = parsed.servers
    assert not a.enabled and not a.disabled and b.disabled and parsed.running == (a, c, d)
    assert c.confirm is Confirm.ALWAYS and c.guilds == frozenset({123, 456}) and c.timeout == 5.0
    assert d.confirm is Confirm.NEVER
    inside = Place(channel_id=1, kind=Kind.THREAD, guild_id=123)
    outside = Place(channel_id=1, kind=Kind.THREAD, guild_id=999)
    dm = Place(channel_id=1, kind=Kind.DM)
    assert c.serves(inside) and not c.serves(outside) and not c.serves(dm)
    assert d.serves(dm) and d.serves(outside)
    assert a.serves(inside) and not b.serves(inside)  # a: off by default, still switchable


def test_the_builtin_tools_name_is_taken():
    with pytest.raises(SettingsError, match="the bot's own tools'"):
        config(discord={"command": "x"})


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{", "not valid JSON (line 1)"),
        ("[]", 'an "mcpServers" object'),
        ('{"servers": {}}', 'an "mcpServers" object'),
        ('{"mcpServers": {"a b": {"command": "x"}}}', "1-32 letters"),
        ('{"mcpServers": {"a": 1}}', "server 'a' must be an object"),
        ('{"mcpServers": {"a": {}}}', "either command (stdio) or url"),
        ('{"mcpServers": {"a": {"command": "x", "url": "http://h"}}}', "either command"),
        ('{"mcpServers": {"a": {"command": "x", "headers": {}}}}', "url and headers are for"),
        ('{"mcpServers": {"a": {"url": "ftp://h"}}}', "http(s) URL"),
        ('{"mcpServers": {"a": {"url": "http://h", "env": {}}}}', "args and env are for"),
        ('{"mcpServers": {"a": {"url": "http://h", "type": "sse"}}}', "SSE servers"),
        ('{"mcpServers": {"a": {"command": "x", "args": "-v"}}}', "args must be a list"),
        ('{"mcpServers": {"a": {"command": "x", "env": {"K": 1}}}}', "env must be an object"),
        ('{"mcpServers": {"a": {"command": "x", "enabled": "no"}}}', "true or false"),
        ('{"mcpServers": {"a": {"command": "x", "confirm": "maybe"}}}', "always, never or"),
        ('{"mcpServers": {"a": {"command": "x", "timeout": 0}}}', "more than 0"),
        ('{"mcpServers": {"a": {"command": "x", "timeout": "5"}}}', "number of seconds"),
        ('{"mcpServers": {"a": {"command": "x", "guilds": "1"}}}', "list of server ids"),
        ('{"mcpServers": {"a": {"command": "x", "guilds": [1.5]}}}', "list of server ids"),
        ('{"mcpServers": {"a": {"command": "x", "confrim": "never"}}}', "unknown keys: confrim"),
        ('{"mcpServers": {"a": {"command": "x", "env": {"K": "${NOPE}"}}}}', "${NOPE}"),
    ],
)
def test_a_bad_file_is_refused_with_a_clear_message(text, problem):
    with pytest.raises(SettingsError) as caught:
        parse_config(text, {})
    assert caught.value.variable == "MCP_CONFIG"
    assert problem in str(caught.value)


def test_secrets_come_from_the_environment_and_are_never_shown():
    parsed = config(
        gh={"command": "x", "args": ["--token=${TOKEN}"], "env": {"GITHUB_TOKEN": "${TOKEN}"}},
        web={"url": "https://u:pw@h/mcp?key=${TOKEN}", "headers": {"X-Key": "${TOKEN}"}},
    )
    gh, web = parsed.servers
    assert gh.env == {"GITHUB_TOKEN": SECRET} and web.headers == {"X-Key": SECRET}
    assert web.url == f"https://u:pw@h/mcp?key={SECRET}"
    for shown in (repr(parsed), str(gh), str(web), gh.describe(), web.describe()):
        assert SECRET not in shown and "pw" not in shown
    assert web.describe() == "web (http: https://h/mcp)"
    # a malformed secret is named by its key, never quoted
    with pytest.raises(SettingsError) as caught:
        parse_config(json.dumps({"mcpServers": {"a": {"command": "x", "env": {"K": 7}}}}))
    assert "7" not in str(caught.value).replace("MCP_CONFIG", "")


@pytest.mark.parametrize(
    ("confirm", "read_only", "destructive", "needs_consent"),
    [
        (Confirm.ANNOTATIONS, True, None, False),  # read-only
        (Confirm.ANNOTATIONS, True, False, False),
        (Confirm.ANNOTATIONS, None, None, True),  # no hints: MCP's default is not read-only
        (Confirm.ANNOTATIONS, False, False, True),  # acts, though not destructively
        (Confirm.ANNOTATIONS, False, True, True),
        (Confirm.ANNOTATIONS, True, True, True),  # contradictory: the careful answer
        (Confirm.ALWAYS, True, None, True),  # the operator's word wins
        (Confirm.NEVER, False, True, False),
    ],
)
def test_consent_follows_the_annotations_unless_the_operator_says(
    confirm, read_only, destructive, needs_consent
):
    assert acts(confirm, read_only, destructive) is needs_consent


def test_function_names_are_namespaced_valid_and_distinct():
    pairs = [
        ("time", "get_current_time"),
        ("git.hub", "create issue"),
        ("git_hub", "create_issue"),  # the same once made safe
        ("a" * 32, "b" * 60),  # too long
        ("a" * 32, "b" * 61),  # the same prefix once cut
        ("fs", "read"),
    ]
    names = function_names(pairs)
    assert names[("time", "get_current_time")] == "time__get_current_time"
    assert names[("git.hub", "create issue")] == "git_hub__create_issue"  # first keeps it
    assert names[("git_hub", "create_issue")] != "git_hub__create_issue"
    assert len(set(names.values())) == len(pairs)
    assert all(FUNCTION_NAME.fullmatch(name) for name in names.values())
    assert function_names(pairs) == names  # stable: the same tools keep their names


def test_results_are_cut_to_the_budget_and_say_so():
    whole = bounded(["abc", "def"], limit=6)
    assert whole == ToolResult(parts=("abc", "def")) and whole.text == "abc\ndef"
    cut = bounded(["abc", "defgh", "ij"], other=["image (image/png)"], limit=5)
    assert cut.parts == ("abc", "de") and cut.truncated
    assert cut.text == "abc\nde\n[not shown: image (image/png)]\n[cut: the result was longer]"
    assert bounded(["abc", "d"], limit=3).parts == ("abc",)
    failed = ToolResult.failure("boom")
    assert failed.error and failed.text == "boom"


def test_a_tool_server_value_is_frozen():
    server = McpServer(name="x", command="y")
    with pytest.raises(AttributeError):
        server.name = "z"  # type: ignore[misc]


def test_mcp_config_is_one_optional_setting_read_with_the_others(tmp_path):
    base = {"DISCORD_TOKEN": "t", "OPENAI_API_KEY": "k", "TOKEN": "from-env"}
    assert load_settings(base).mcp is None
    assert load_settings({**base, "MCP_CONFIG": "  "}).mcp_config is None
    path = tmp_path / "mcp.json"
    path.write_text(json.dumps({"mcpServers": {"t": {"command": "x", "env": {"K": "${TOKEN}"}}}}))
    settings = load_settings({**base, "MCP_CONFIG": f" {path} "})
    assert settings.mcp_config == str(path)
    assert settings.mcp is not None and [s.name for s in settings.mcp.servers] == ["t"]
    # A bad file stops the bot at start-up, like any other setting, naming the variable.
    with pytest.raises(SettingsError, match="MCP_CONFIG"):
        load_settings({**base, "MCP_CONFIG": str(tmp_path / "missing.json")})
    path.write_text("{not json")
    with pytest.raises(SettingsError, match="MCP_CONFIG"):
        load_settings({**base, "MCP_CONFIG": str(path)})
