"""Settings: defaults, each error case, and that secrets never appear in errors or reprs."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.core.catalog import TokenParameter
from bot.core.settings import (
    SettingsError,
    load_database_settings,
    load_settings,
    postgres_dsn,
    redacted_url,
    settings_from_environment,
    sqlite_path,
)

BASE = {"DISCORD_TOKEN": "discord-secret-token", "OPENAI_API_KEY": "sk-secret"}


def test_defaults():
    settings = load_settings(BASE)
    assert settings.openai_model == "gpt-4o-mini"
    assert settings.database_url == "sqlite:///bot.sqlite3"
    assert settings.max_completion_tokens == 1024
    assert settings.context_tokens is None
    assert settings.discord_rest_rate == 45  # under Discord's 50, for what the pacer cannot see
    assert settings.is_openai
    assert "secret" not in repr(settings)


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({}, "DISCORD_TOKEN"),
        ({"DISCORD_TOKEN": "  "}, "DISCORD_TOKEN"),
        ({"DISCORD_TOKEN": "two words"}, "DISCORD_TOKEN"),
        ({"DISCORD_TOKEN": "t"}, "OPENAI_API_KEY"),
        ({**BASE, "OPENAI_API_KEY": ""}, "OPENAI_API_KEY"),
        ({**BASE, "OPENAI_BASE_URL": "localhost:11434"}, "OPENAI_BASE_URL"),
        ({**BASE, "MAX_COMPLETION_TOKENS": "lots"}, "MAX_COMPLETION_TOKENS"),
        ({**BASE, "MAX_COMPLETION_TOKENS": "0"}, "MAX_COMPLETION_TOKENS"),
        ({**BASE, "CONTEXT_TOKENS": "1.5"}, "CONTEXT_TOKENS"),
        ({**BASE, "CONTEXT_TOKENS": "1000", "MAX_COMPLETION_TOKENS": "1000"}, "CONTEXT_TOKENS"),
        ({**BASE, "GUILD_RPM": "-1"}, "GUILD_RPM"),
        ({**BASE, "GUILD_TPM": "x"}, "GUILD_TPM"),
        ({**BASE, "USER_RPM": "1e3"}, "USER_RPM"),
        ({**BASE, "LOG_LEVEL": "chatty"}, "LOG_LEVEL"),
        ({**BASE, "DATABASE_URL": "bot.sqlite3"}, "DATABASE_URL"),
        ({**BASE, "DATABASE_URL": "mysql://u:p@h/db"}, "DATABASE_URL"),
        ({**BASE, "DATABASE_URL": "postgresql://u:p@h:port/db"}, "DATABASE_URL"),
        ({**BASE, "DATABASE_URL": "postgresql://u:p@h/db?schema=Bot-1"}, "DATABASE_URL"),
        ({**BASE, "DATABASE_POOL_SIZE": "0"}, "DATABASE_POOL_SIZE"),
        ({**BASE, "DATABASE_POOL_SIZE": "many"}, "DATABASE_POOL_SIZE"),
        ({**BASE, "DEV_GUILD_ID": "abc"}, "DEV_GUILD_ID"),
        ({**BASE, "REDIS_URL": "localhost:6379"}, "REDIS_URL"),
        ({**BASE, "REDIS_URL": "http://u:p@cache:6379/0"}, "REDIS_URL"),
        ({**BASE, "REDIS_URL": "redis://u:p@cache:port/0"}, "REDIS_URL"),
        ({**BASE, "REDIS_URL": "redis://u:p@cache:6379/zero"}, "REDIS_URL"),
        ({**BASE, "REDIS_PREFIX": "thread bot:"}, "REDIS_PREFIX"),
        ({**BASE, "TOKEN_PARAMETER": "max_output_tokens"}, "TOKEN_PARAMETER"),
        ({**BASE, "REASONING_EFFORT": "extreme"}, "REASONING_EFFORT"),
        ({**BASE, "DISCORD_REST_RATE": "12.5"}, "DISCORD_REST_RATE"),
        ({**BASE, "DISCORD_REST_RATE": "10"}, "DISCORD_REST_RATE"),
        ({**BASE, "METRICS_PORT": "0"}, "METRICS_PORT"),
        ({**BASE, "METRICS_PORT": "70000"}, "METRICS_PORT"),
        ({**BASE, "METRICS_PORT": ":9100"}, "METRICS_PORT"),
    ],
)
def test_errors_name_the_variable(env, variable):
    with pytest.raises(SettingsError) as caught:
        load_settings(env)
    assert caught.value.variable == variable
    assert str(caught.value).startswith(variable)
    for secret in ("discord-secret-token", "sk-secret", "u:p"):
        assert secret not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    ["http://localhost:11434/v1", "http://127.0.0.1:8000/v1", "http://ollama:11434/v1",
     "http://192.168.1.20:1234/v1", "http://[::1]:8080/v1", "http://gpu.local/v1"],
)  # fmt: skip
def test_local_servers_need_no_api_key(url):
    settings = load_settings({"DISCORD_TOKEN": "t", "OPENAI_BASE_URL": url})
    assert settings.openai_api_key is None
    assert not settings.is_openai


def test_remote_server_needs_a_key():
    with pytest.raises(SettingsError, match="OPENAI_API_KEY"):
        load_settings({"DISCORD_TOKEN": "t", "OPENAI_BASE_URL": "https://api.groq.com/openai/v1"})


def test_numbers_accept_underscores_and_zero_disables_limits():
    settings = load_settings({**BASE, "GUILD_TPM": "100_000", "USER_RPM": "0"})
    assert settings.guild_tpm == 100_000
    assert settings.user_rpm == 0


def test_dms_have_a_smaller_budget_than_a_server_unless_set():
    defaults = load_settings(BASE)
    assert (defaults.dm_rpm, defaults.dm_tpm) == (6, 30_000)
    assert defaults.dm_rpm < defaults.guild_rpm and defaults.dm_tpm < defaults.guild_tpm
    settings = load_settings({**BASE, "DM_RPM": "0", "DM_TPM": "5_000"})
    assert (settings.dm_rpm, settings.dm_tpm) == (0, 5000)


def test_a_bot_granted_a_higher_global_limit_may_use_it():
    assert load_settings({**BASE, "DISCORD_REST_RATE": "1_000"}).discord_rest_rate == 1000


@pytest.mark.parametrize(
    ("url", "path"),
    [("sqlite:///bot.sqlite3", "bot.sqlite3"), ("sqlite:////var/lib/bot.db", "/var/lib/bot.db"),
     ("sqlite:///:memory:", ":memory:")],
)  # fmt: skip
def test_sqlite_paths(url, path):
    assert sqlite_path(url) == path


@pytest.mark.parametrize(
    "url",
    ["postgresql://bot:secret@db.example.com:5432/threadbot", "postgres://bot@localhost/threadbot",
     "postgresql://bot@db/threadbot?sslmode=require&schema=threadbot"],
)  # fmt: skip
def test_postgresql_urls_are_accepted(url):
    settings = load_settings({**BASE, "DATABASE_URL": url, "DATABASE_POOL_SIZE": "12"})
    assert (settings.database_url, settings.database_pool_size) == (url, 12)


@pytest.mark.parametrize(
    "url",
    ["redis://cache:6379/0", "redis://:s3cret@10.0.0.5", "rediss://bot:s3cret@cache.example.com:6380/2",
     "unix:///run/redis/redis.sock"],
)  # fmt: skip
def test_redis_urls_are_accepted_and_never_shown(url):
    settings = load_settings({**BASE, "REDIS_URL": url, "REDIS_PREFIX": "bot-a:"})
    assert (settings.redis_url, settings.redis_prefix) == (url, "bot-a:")
    assert "s3cret" not in repr(settings)


def test_without_redis_the_limits_stay_in_process():
    settings = load_settings({**BASE, "REDIS_URL": " "})
    assert (settings.redis_url, settings.redis_prefix) == (None, "threadbot:")


def test_database_settings_need_no_discord_token():
    database = load_database_settings({"DATABASE_URL": "postgres://bot@db/threadbot"})
    assert (database.url, database.pool_size) == ("postgres://bot@db/threadbot", 5)
    assert load_database_settings({}).url == "sqlite:///bot.sqlite3"


@pytest.mark.parametrize(
    ("url", "dsn", "schema"),
    [("postgresql://u@h/db", "postgresql://u@h/db", None),
     ("postgresql://u@h/db?schema=bot", "postgresql://u@h/db", "bot"),
     ("postgresql://u@h/db?sslmode=require&schema=bot", "postgresql://u@h/db?sslmode=require", "bot")],
)  # fmt: skip
def test_our_schema_option_is_taken_off_the_url(url, dsn, schema):
    assert postgres_dsn(url) == (dsn, schema)


@pytest.mark.parametrize(
    ("url", "shown"),
    [("postgresql://bot:s3cret@db:5432/x", "postgresql://bot@db:5432/x"),
     ("postgresql://bot@db/x?password=s3cret&sslmode=require", "postgresql://bot@db/x?sslmode=require"),
     ("sqlite:///bot.sqlite3", "sqlite:///bot.sqlite3")],
)  # fmt: skip
def test_redacted_urls_hide_the_password(url, shown):
    assert redacted_url(url) == shown


def test_python_m_bot_with_missing_settings_exits_2_quickly(tmp_path):
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,  # no .env here
        env={"PATH": "/usr/bin:/bin", "OPENAI_API_KEY": "sk-never-printed"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert (
        time.monotonic() - started < 5
    )  # the interpreter start dominates; well under a second here
    assert result.stderr.strip().splitlines() == [
        "threadbot: configuration error: DISCORD_TOKEN is required (the bot token from the "
        "Developer Portal)"
    ]
    assert "sk-never-printed" not in result.stderr + result.stdout


def test_dotenv_file_is_read_and_environment_wins(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text(
        "DISCORD_TOKEN=from-file\nOPENAI_API_KEY=sk-file\nOPENAI_MODEL=gpt-4o\n"
    )
    monkeypatch.setenv("OPENAI_MODEL", "gpt-4.1-mini")
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    settings = settings_from_environment(tmp_path / ".env")
    assert settings.discord_token == "from-file"
    assert settings.openai_model == "gpt-4.1-mini"


def test_token_growth_settings():
    settings = load_settings(BASE)
    assert (settings.history_tokens, settings.summaries, settings.summary_tokens) == (
        12_000,
        True,
        400,
    )
    assert settings.sends_prompt_cache_key  # OpenAI itself
    local = load_settings({"DISCORD_TOKEN": "t", "OPENAI_BASE_URL": "http://localhost:11434/v1"})
    assert not local.sends_prompt_cache_key
    forced = load_settings(
        {**BASE, "PROMPT_CACHE_KEY": "on", "SUMMARIES": "off", "SUMMARY_MODEL": "gpt-4.1-nano"}
    )
    assert (
        forced.sends_prompt_cache_key
        and not forced.summaries
        and forced.summary_model == "gpt-4.1-nano"
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SUMMARIES", "maybe"),
        ("PROMPT_CACHE_KEY", "2"),
        ("HISTORY_TOKENS", "10"),
        ("SUMMARY_TOKENS", "x"),
    ],
)
def test_token_growth_setting_errors(name, value):
    with pytest.raises(SettingsError) as caught:
        load_settings({**BASE, name: value})
    assert caught.value.variable == name


def test_env_example_is_valid_once_the_secrets_are_filled_in(tmp_path, monkeypatch):
    example = (Path(__file__).resolve().parents[3] / ".env.example").read_text()
    example = example.replace("DISCORD_TOKEN=\n", "DISCORD_TOKEN=abc\n").replace(
        "OPENAI_API_KEY=\n", "OPENAI_API_KEY=sk-abc\n"
    )
    (tmp_path / ".env").write_text(example)
    for line in example.splitlines():  # the real environment would win over the file
        if "=" in line and not line.startswith("#"):
            monkeypatch.delenv(line.split("=")[0], raising=False)
    settings = settings_from_environment(tmp_path / ".env")
    assert settings == load_settings({"DISCORD_TOKEN": "abc", "OPENAI_API_KEY": "sk-abc"})


@pytest.mark.parametrize(
    ("env", "allowance"),
    [
        ({}, 1024),
        ({"OPENAI_MODEL": "gpt-5-mini"}, 16_384),  # reasoning models think within the allowance
        ({"OPENAI_MODEL": "openai/o4-mini", "OPENAI_BASE_URL": "https://openrouter.ai/api/v1"},
         16_384),
        ({"OPENAI_MODEL": "gpt-5-mini", "MAX_COMPLETION_TOKENS": "2000"}, 2000),
        ({"OPENAI_MODEL": "gpt-5-mini", "CONTEXT_TOKENS": "20000"}, 10_000),  # half the window
        ({"CONTEXT_TOKENS": "1000"}, 500),
        ({"MAX_COMPLETION_TOKENS": "300"}, 300),
    ],
)  # fmt: skip
def test_the_completion_allowance_follows_the_model_unless_set(env, allowance):
    settings = load_settings({**BASE, **env})
    assert settings.max_completion_tokens == allowance
    assert settings.context_tokens is None or settings.context_tokens > allowance


@pytest.mark.parametrize(
    ("env", "parameter", "effort"),
    [
        ({}, None, None),
        ({"TOKEN_PARAMETER": "max_tokens"}, TokenParameter.MAX_TOKENS, None),
        ({"TOKEN_PARAMETER": " Max_Completion_Tokens "}, TokenParameter.MAX_COMPLETION_TOKENS, None),
        ({"REASONING_EFFORT": "minimal"}, None, "minimal"),
        ({"REASONING_EFFORT": "HIGH", "TOKEN_PARAMETER": ""}, None, "high"),
    ],
)  # fmt: skip
def test_token_parameter_and_reasoning_effort(env, parameter, effort):
    settings = load_settings({**BASE, **env})
    assert (settings.token_parameter, settings.reasoning_effort) == (parameter, effort)


@pytest.mark.parametrize(
    ("value", "expected"), [("", None), ("auto", None), ("on", True), ("off", False)]
)
def test_alternate_roles(value, expected):
    assert load_settings({**BASE, "ALTERNATE_ROLES": value}).alternate_roles is expected


@pytest.mark.parametrize(("value", "port"), [("", None), (" ", None), ("9100", 9100)])
def test_metrics_port(value, port):
    assert load_settings({**BASE, "METRICS_PORT": value}).metrics_port == port
    assert load_settings(BASE).metrics_port is None  # off unless asked for


def test_metrics_port_without_prometheus_client_says_what_to_install(monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *args: None if name == "prometheus_client" else real_find_spec(name, *args),
    )
    with pytest.raises(SettingsError, match=r"METRICS_PORT needs prometheus-client: pip install"):
        load_settings({**BASE, "METRICS_PORT": "9100"})
    assert load_settings(BASE).metrics_port is None  # not needed when metrics are off


@pytest.mark.parametrize(
    ("value", "host"),
    [(None, "127.0.0.1"), ("", "127.0.0.1"), ("0.0.0.0", "0.0.0.0"), ("::1", "::1")],
)
def test_metrics_host_is_this_host_only_unless_said_otherwise(value, host):
    env = {**BASE, "METRICS_PORT": "9100"} | ({} if value is None else {"METRICS_HOST": value})
    assert load_settings(env).metrics_host == host
