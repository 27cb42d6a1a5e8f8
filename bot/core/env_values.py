"""Reading one setting from the environment: text, numbers, switches, lists and ids, each
refused with a one-line :class:`SettingsError` that names the variable, never its value."""

from __future__ import annotations

from collections.abc import Mapping


class SettingsError(ValueError):
    """A setting is missing or malformed. The message names the variable, never its value."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable} {problem}")
        self.variable = variable


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def text(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def optional_int(env: Mapping[str, str], name: str, *, minimum: int) -> int | None:
    raw = text(env, name)
    if raw is None:
        return None
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        raise SettingsError(name, "must be a whole number") from None
    if value < minimum:
        raise SettingsError(name, f"must be at least {minimum}")
    return value


def whole(env: Mapping[str, str], name: str, default: int, *, minimum: int) -> int:
    value = optional_int(env, name, minimum=minimum)
    return default if value is None else value


def optional_bool(env: Mapping[str, str], name: str) -> bool | None:
    raw = text(env, name)
    if raw is None:
        return None
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise SettingsError(name, "must be on or off (true/false)")


def choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str | None:
    raw = text(env, name)
    if raw is None:
        return None
    if raw.lower() not in choices:
        raise SettingsError(name, f"must be one of {', '.join(choices)} (or empty)")
    return raw.lower()


def names(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """A comma-separated list."""
    return tuple(part.strip() for part in (text(env, name) or "").split(",") if part.strip())


def ids(env: Mapping[str, str], name: str) -> frozenset[int]:
    """A comma-separated list of Discord ids."""
    try:
        return frozenset(int(part) for part in names(env, name))
    except ValueError:
        raise SettingsError(name, "must be Discord ids separated by commas") from None


def auto_bool(env: Mapping[str, str], name: str) -> bool | None:
    """on, off, or auto (empty): the bot decides."""
    if (text(env, name) or "").lower() == "auto":
        return None
    return optional_bool(env, name)


def secret(env: Mapping[str, str], name: str) -> str | None:
    value = text(env, name)
    if value is not None and any(ch.isspace() for ch in value):
        raise SettingsError(name, "must not contain spaces (check for a stray quote or paste)")
    return value
