"""Typed settings, read once from the environment and `.env` and passed down.

No other module reads ``os.environ``: everything configurable lives on :class:`Settings`.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from dotenv import dotenv_values

from bot.core import env_values as read
from bot.core.audio import DEFAULT_MAX_SECONDS as DEFAULT_AUDIO_SECONDS
from bot.core.audio import DEFAULT_SPEAK_CHARS
from bot.core.catalog import REASONING_EFFORTS, TokenParameter, default_completion_tokens
from bot.core.discord_limits import GLOBAL_RATE, MIN_GLOBAL_RATE
from bot.core.env_values import SettingsError
from bot.core.policy import Access
from bot.core.shards import parse_shard_ids
from bot.core.tools import McpConfig, read_config

DEFAULT_MODEL = "gpt-4o-mini"
DEFAULT_DATABASE_URL = "sqlite:///bot.sqlite3"
DEFAULT_POOL_SIZE = 5
POSTGRES_SCHEMES = ("postgresql://", "postgres://")
DEFAULT_REDIS_PREFIX = "threadbot:"
# A person's own budget outside servers (their DMs, a user-installed app's places): one
# request every 10 s at most, and room for two full-history requests a minute (12,000 tokens
# of history plus the allowance; a reasoning model's 16,384 allowance still fits one bucket).
DEFAULT_DM_RPM = 6
DEFAULT_DM_TPM = 30_000
DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful assistant chatting in a Discord thread. Answer clearly and concisely, "
    "using Markdown that Discord renders. Several people may take part; each user message "
    "carries its author's name. Answer in the language of the message you are answering."
)
LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")


@dataclass(frozen=True, slots=True)
class Settings:
    discord_token: str = field(repr=False)
    openai_api_key: str | None = field(repr=False, default=None)
    openai_base_url: str | None = None
    openai_model: str = DEFAULT_MODEL
    database_url: str = DEFAULT_DATABASE_URL
    database_pool_size: int = DEFAULT_POOL_SIZE  # PostgreSQL connections per process
    redis_url: str | None = field(repr=False, default=None)  # None: limits kept in process
    redis_prefix: str = DEFAULT_REDIS_PREFIX
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    context_tokens: int | None = None
    completion_tokens: int | None = None  # MAX_COMPLETION_TOKENS; None: by model
    guild_rpm: int = 30
    guild_tpm: int = 60_000
    user_rpm: int = 8
    dm_rpm: int = DEFAULT_DM_RPM  # DM_RPM: per person outside servers (0: off)
    dm_tpm: int = DEFAULT_DM_TPM  # DM_TPM
    log_level: str = "INFO"
    dev_guild_id: int | None = None
    history_tokens: int = 12_000
    summaries: bool = True
    channel_history_tool: bool = True  # CHANNEL_HISTORY_TOOL: the built-in discord__read_channel
    summary_tokens: int = 400
    summary_model: str | None = None
    prompt_cache_key: bool | None = None  # None: send it only to OpenAI itself
    alternate_roles: bool | None = None  # None: merge same-role turns once a server asks
    # MODELS: what /model may choose besides OPENAI_MODEL (empty: nothing else); a name
    # written with a trailing * is open to everyone (open_models), the others need Manage Server
    models: tuple[str, ...] = ()
    open_models: tuple[str, ...] = ()
    # USER_DAILY_BUDGET, GUILD_DAILY_BUDGET: US dollars per UTC day (None: no budget)
    user_daily_budget: float | None = None
    guild_daily_budget: float | None = None
    vision_models: tuple[str, ...] = ()  # VISION_MODELS: more models that take images
    # MODEL_PRICES: US dollars per million prompt and completion tokens, by model
    model_prices: tuple[tuple[str, float, float], ...] = ()
    speech_prices: Mapping[str, float] = field(default_factory=dict)  # per minute / Mchars
    image_max_side: int = 1024  # IMAGE_MAX_SIDE: images are downscaled to fit this
    # Speech: TRANSCRIBE_MODEL (None: recordings are not transcribed, and people are told so),
    # on AUDIO_BASE_URL (None: the chat API's) with AUDIO_API_KEY (None: OPENAI_API_KEY's).
    transcribe_model: str | None = None
    audio_base_url: str | None = None
    audio_api_key: str | None = field(repr=False, default=None)
    audio_max_seconds: int = DEFAULT_AUDIO_SECONDS  # AUDIO_MAX_SECONDS: longer ones refused
    # Speaking replies (the Speak button): TTS_MODEL (None: no button) with TTS_VOICE, at most
    # SPEAK_MAX_CHARS of a reply.
    tts_model: str | None = None
    tts_voice: str = "alloy"
    speak_max_chars: int = DEFAULT_SPEAK_CHARS
    retention_days: int = 0  # RETENTION_DAYS: delete conversations idle this long (0: keep)
    access: Access = field(default_factory=Access)  # ALLOWED_* / BLOCKED_* / ALLOW_DMS
    shard_count: int | None = None  # SHARD_COUNT: gateway shards in all (None: not sharded)
    shard_ids: tuple[int, ...] | None = None  # SHARD_IDS: this process's share (None: all)
    identify_concurrency: int = 1  # IDENTIFY_CONCURRENCY: Discord's max_concurrency
    guild_data_days: int = 0  # GUILD_DATA_DAYS: keep a server's data after removal (0: none)
    token_parameter: TokenParameter | None = None  # None: by model family and host
    reasoning_effort: str | None = None  # None: not sent
    metrics_port: int | None = None  # METRICS_PORT: /metrics, /healthz, /readyz; None: off
    metrics_host: str = "127.0.0.1"  # METRICS_HOST: the address it listens on (0.0.0.0: all)
    discord_rest_rate: int = GLOBAL_RATE  # REST requests in any second; Discord allows 50
    mcp_config: str | None = None  # MCP_CONFIG: a JSON file of MCP servers (None: no tools)
    mcp: McpConfig | None = None  # that file, read and checked with the settings

    @property
    def max_completion_tokens(self) -> int:
        """The completion allowance of one reply: MAX_COMPLETION_TOKENS, else by model (larger
        for reasoning models). The one place it is resolved."""
        if self.completion_tokens is not None:
            return self.completion_tokens
        return default_completion_tokens(self.openai_model, self.context_tokens)

    @property
    def sends_prompt_cache_key(self) -> bool:
        return self.is_openai if self.prompt_cache_key is None else self.prompt_cache_key

    @property
    def is_openai(self) -> bool:
        """True when talking to OpenAI itself (enables OpenAI-only request fields)."""
        if self.openai_base_url is None:
            return True
        return (urlsplit(self.openai_base_url).hostname or "").endswith("api.openai.com")

    @property
    def log_level_number(self) -> int:
        return logging.getLevelName(self.log_level)


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    """What `python -m bot migrate` needs: a release step has no Discord token or API key."""

    url: str = DEFAULT_DATABASE_URL
    pool_size: int = DEFAULT_POOL_SIZE


def _is_local_host(host: str) -> bool:
    """Local servers (Ollama, vLLM, LM Studio) usually need no API key."""
    host = host.strip("[]").lower()
    if host in ("localhost",) or host.endswith((".local", ".internal", ".localhost")):
        return True
    if "." not in host and ":" not in host:
        return True  # a bare service name, e.g. `ollama` in docker compose
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_link_local


def _shard_ids(env: Mapping[str, str], count: int | None) -> tuple[int, ...] | None:
    text = read.text(env, "SHARD_IDS")
    if text is None:
        return None if count is None else tuple(range(count))
    if count is None:
        raise SettingsError("SHARD_IDS", "needs SHARD_COUNT, the number of shards in all")
    try:
        return parse_shard_ids(text, count)
    except ValueError:
        raise SettingsError("SHARD_IDS", "must be ids below SHARD_COUNT, like 0-3 or 0,2") from None


def _dollars(env: Mapping[str, str], name: str) -> float | None:
    """A daily budget in US dollars (``2.50``), or None when unset."""
    value = read.text(env, name)
    if value is None:
        return None
    try:
        dollars = float(value.removeprefix("$"))
    except ValueError:
        raise SettingsError(name, "must be US dollars, like 2.50") from None
    if not dollars >= 0 or dollars == float("inf"):
        raise SettingsError(name, "must be US dollars, like 2.50") from None
    return dollars


def _prices(env: Mapping[str, str]) -> tuple[tuple[str, float, float], ...]:
    """``MODEL_PRICES=gpt-4o-mini=0.15/0.60, gpt-4o=2.50/10``: dollars per million prompt /
    completion tokens (speech models' entries, ``/min`` and ``/Mchars``, are
    :func:`_speech_prices`')."""
    prices = []
    for entry in read.names(env, "MODEL_PRICES"):
        model, _, pair = entry.rpartition("=")
        if pair.strip().lower().endswith(SPEECH_UNITS):
            continue
        prompt, _, completion = pair.partition("/")
        try:
            prices.append((model.strip(), float(prompt), float(completion)))
        except ValueError:
            raise SettingsError(
                "MODEL_PRICES", "must look like gpt-4o-mini=0.15/0.60, other-model=1/2"
            ) from None
        if not model.strip():
            raise SettingsError("MODEL_PRICES", "names no model in one of its entries")
    return tuple(prices)


SPEECH_UNITS = ("/min", "/mchars")  # a minute heard; a million characters spoken


def _speech_prices(env: Mapping[str, str]) -> dict[str, float]:
    """``MODEL_PRICES=whisper-1=0.006/min, tts-1=15/Mchars``: dollars per minute transcribed,
    per million characters spoken."""
    prices = {}
    for entry in read.names(env, "MODEL_PRICES"):
        model, _, value = entry.rpartition("=")
        amount, _, unit = value.strip().partition("/")
        if "/" + unit.lower() not in SPEECH_UNITS:
            continue
        try:
            prices[model.strip()] = float(amount)
        except ValueError:
            raise SettingsError(
                "MODEL_PRICES", "must look like whisper-1=0.006/min, tts-1=15/Mchars"
            ) from None
    return prices


def _metrics_port(env: Mapping[str, str]) -> int | None:
    """A TCP port, and prometheus-client installed to serve it: better refused at start-up
    than a scrape target that never answers."""
    port = read.optional_int(env, "METRICS_PORT", minimum=1)
    if port is None:
        return None
    if port > 65535:
        raise SettingsError("METRICS_PORT", "must be a port number (1-65535), or empty for off")
    if importlib.util.find_spec("prometheus_client") is None:
        raise SettingsError("METRICS_PORT", "needs prometheus-client: pip install -e '.[metrics]'")
    return port


def _base_url(env: Mapping[str, str], name: str = "OPENAI_BASE_URL") -> str | None:
    url = read.text(env, name)
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(name, "must be an http(s) URL such as http://localhost:11434/v1")
    return url.rstrip("/")


def _database_url(env: Mapping[str, str]) -> str:
    url = read.text(env, "DATABASE_URL") or DEFAULT_DATABASE_URL
    if url.startswith(POSTGRES_SCHEMES):
        try:
            urlsplit(url).port  # noqa: B018 (raises on a malformed port)
        except ValueError:
            raise SettingsError("DATABASE_URL", "has a malformed port") from None
        try:
            postgres_dsn(url)
        except ValueError as exc:
            raise SettingsError("DATABASE_URL", str(exc)) from None
        return url
    if not url.startswith("sqlite:///") or url == "sqlite:///":
        raise SettingsError(
            "DATABASE_URL",
            "must look like sqlite:///bot.sqlite3 (or sqlite:////abs/path) or "
            "postgresql://user:password@host/database",
        )
    return url


def _redis_url(env: Mapping[str, str]) -> str | None:
    url = read.text(env, "REDIS_URL")
    if url is None:
        return None
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 (raises on a malformed port)
    except ValueError:
        raise SettingsError("REDIS_URL", "has a malformed port") from None
    database = parts.path.strip("/")  # the database number, if any
    if parts.scheme == "unix":
        valid = bool(parts.path)
    else:
        valid = parts.scheme in ("redis", "rediss") and bool(parts.hostname)
        valid = valid and (not database or database.isdigit())
    if not valid:
        raise SettingsError("REDIS_URL", "must look like redis://host:6379/0 (rediss:// for TLS)")
    return url


def _redis_prefix(env: Mapping[str, str]) -> str:
    prefix = read.text(env, "REDIS_PREFIX") or DEFAULT_REDIS_PREFIX
    if any(ch.isspace() for ch in prefix):
        raise SettingsError("REDIS_PREFIX", "must not contain spaces")
    return prefix


def load_database_settings(env: Mapping[str, str]) -> DatabaseSettings:
    """Only the database settings; raises :class:`SettingsError` on the first problem."""
    return DatabaseSettings(
        url=_database_url(env),
        pool_size=read.whole(env, "DATABASE_POOL_SIZE", DEFAULT_POOL_SIZE, minimum=1),
    )


def load_settings(env: Mapping[str, str]) -> Settings:
    """Build settings from a mapping of variables; raises :class:`SettingsError` on the first problem."""
    token = read.secret(env, "DISCORD_TOKEN")
    if token is None:
        raise SettingsError(
            "DISCORD_TOKEN", "is required (the bot token from the Developer Portal)"
        )
    base_url = _base_url(env)
    api_key = read.secret(env, "OPENAI_API_KEY")
    if api_key is None and (
        base_url is None or not _is_local_host(urlsplit(base_url).hostname or "")
    ):
        raise SettingsError(
            "OPENAI_API_KEY", "is required unless OPENAI_BASE_URL points at a local server"
        )
    log_level = (read.text(env, "LOG_LEVEL") or "INFO").upper()
    if log_level not in LOG_LEVELS:
        raise SettingsError("LOG_LEVEL", f"must be one of {', '.join(LOG_LEVELS)}")
    max_completion = read.optional_int(env, "MAX_COMPLETION_TOKENS", minimum=16)
    context_tokens = read.optional_int(env, "CONTEXT_TOKENS", minimum=256)
    token_parameter = read.choice(env, "TOKEN_PARAMETER", tuple(TokenParameter))
    if (
        context_tokens is not None
        and max_completion is not None
        and context_tokens <= max_completion
    ):
        raise SettingsError("CONTEXT_TOKENS", "must be larger than MAX_COMPLETION_TOKENS")
    database = load_database_settings(env)
    mcp_config = read.text(env, "MCP_CONFIG")
    return Settings(
        discord_token=token,
        openai_api_key=api_key,
        openai_base_url=base_url,
        openai_model=read.text(env, "OPENAI_MODEL") or DEFAULT_MODEL,
        database_url=database.url,
        database_pool_size=database.pool_size,
        redis_url=_redis_url(env),
        redis_prefix=_redis_prefix(env),
        system_prompt=(env.get("SYSTEM_PROMPT") or "").strip() or DEFAULT_SYSTEM_PROMPT,
        context_tokens=context_tokens,
        completion_tokens=max_completion,
        guild_rpm=read.whole(env, "GUILD_RPM", 30, minimum=0),
        guild_tpm=read.whole(env, "GUILD_TPM", 60_000, minimum=0),
        user_rpm=read.whole(env, "USER_RPM", 8, minimum=0),
        dm_rpm=read.whole(env, "DM_RPM", DEFAULT_DM_RPM, minimum=0),
        dm_tpm=read.whole(env, "DM_TPM", DEFAULT_DM_TPM, minimum=0),
        log_level=log_level,
        dev_guild_id=read.optional_int(env, "DEV_GUILD_ID", minimum=1),
        history_tokens=read.whole(env, "HISTORY_TOKENS", 12_000, minimum=256),
        summaries=read.optional_bool(env, "SUMMARIES") is not False,
        channel_history_tool=read.optional_bool(env, "CHANNEL_HISTORY_TOOL") is not False,
        summary_tokens=read.whole(env, "SUMMARY_TOKENS", 400, minimum=50),
        summary_model=read.text(env, "SUMMARY_MODEL"),
        prompt_cache_key=read.optional_bool(env, "PROMPT_CACHE_KEY"),
        alternate_roles=read.auto_bool(env, "ALTERNATE_ROLES"),
        models=tuple(name.rstrip("*").strip() for name in read.names(env, "MODELS")),
        open_models=tuple(
            name.rstrip("*").strip() for name in read.names(env, "MODELS") if name.endswith("*")
        ),
        user_daily_budget=_dollars(env, "USER_DAILY_BUDGET"),
        guild_daily_budget=_dollars(env, "GUILD_DAILY_BUDGET"),
        vision_models=read.names(env, "VISION_MODELS"),
        model_prices=_prices(env),
        speech_prices=_speech_prices(env),
        image_max_side=read.whole(env, "IMAGE_MAX_SIDE", 1024, minimum=64),
        transcribe_model=read.text(env, "TRANSCRIBE_MODEL"),
        audio_base_url=_base_url(env, "AUDIO_BASE_URL"),
        audio_api_key=read.secret(env, "AUDIO_API_KEY"),
        audio_max_seconds=read.whole(env, "AUDIO_MAX_SECONDS", DEFAULT_AUDIO_SECONDS, minimum=1),
        tts_model=read.text(env, "TTS_MODEL"),
        tts_voice=read.text(env, "TTS_VOICE") or "alloy",
        speak_max_chars=read.whole(env, "SPEAK_MAX_CHARS", DEFAULT_SPEAK_CHARS, minimum=50),
        retention_days=read.whole(env, "RETENTION_DAYS", 0, minimum=0),
        shard_count=(shards := read.optional_int(env, "SHARD_COUNT", minimum=1)),
        shard_ids=_shard_ids(env, shards),
        identify_concurrency=read.whole(env, "IDENTIFY_CONCURRENCY", 1, minimum=1),
        access=Access(
            guilds=read.ids(env, "ALLOWED_GUILDS"),
            channels=read.ids(env, "ALLOWED_CHANNELS"),
            roles=read.ids(env, "ALLOWED_ROLES"),
            blocked_users=read.ids(env, "BLOCKED_USERS"),
            blocked_roles=read.ids(env, "BLOCKED_ROLES"),
            dms=read.optional_bool(env, "ALLOW_DMS") is not False,
        ),
        guild_data_days=read.whole(env, "GUILD_DATA_DAYS", 0, minimum=0),
        token_parameter=None if token_parameter is None else TokenParameter(token_parameter),
        reasoning_effort=read.choice(env, "REASONING_EFFORT", REASONING_EFFORTS),
        discord_rest_rate=read.whole(
            env, "DISCORD_REST_RATE", GLOBAL_RATE, minimum=MIN_GLOBAL_RATE
        ),
        metrics_port=_metrics_port(env),
        metrics_host=read.text(env, "METRICS_HOST") or "127.0.0.1",
        mcp_config=mcp_config,
        mcp=read_config(mcp_config, env) if mcp_config else None,
    )


def read_environment(dotenv_path: str | os.PathLike[str] | None = ".env") -> dict[str, str]:
    """`.env` (if present) under the real environment, which wins."""
    file_values: dict[str, str] = {}
    if dotenv_path is not None and Path(dotenv_path).is_file():
        file_values = {k: v for k, v in dotenv_values(dotenv_path).items() if v is not None}
    return {**file_values, **os.environ}


def settings_from_environment(dotenv_path: str | os.PathLike[str] | None = ".env") -> Settings:
    """Read `.env` (if present) under the real environment, which wins."""
    return load_settings(read_environment(dotenv_path))


def sqlite_path(database_url: str) -> str:
    """`sqlite:///rel.db` → `rel.db`; `sqlite:////abs.db` → `/abs.db`; `sqlite:///:memory:` stays."""
    return database_url.removeprefix("sqlite:///")


_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def postgres_dsn(database_url: str) -> tuple[str, str | None]:
    """Split our own ``?schema=name`` option off a PostgreSQL URL: (the URL for asyncpg, the
    schema or None). Raises ValueError for a name that is not a plain lower-case identifier."""
    parts = urlsplit(database_url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((value for key, value in query if key == "schema"), None)
    if schema is not None and not _SCHEMA_NAME.fullmatch(schema):
        raise ValueError("has a schema that is not a lower-case name such as threadbot")
    rest = urlencode([(key, value) for key, value in query if key != "schema"])
    return urlunsplit(parts._replace(query=rest)), schema


def redacted_url(database_url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(database_url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if parts.password is None and all(key != "password" for key, _ in query):
        return database_url
    user, host = parts.netloc.rsplit("@", 1) if "@" in parts.netloc else ("", parts.netloc)
    netloc = f"{user.split(':', 1)[0]}@{host}" if user else host
    rest = urlencode([(key, value) for key, value in query if key != "password"])
    return urlunsplit(parts._replace(netloc=netloc, query=rest))
