"""Every user-facing text, in one place: short, specific, and free of secrets or raw API bodies."""

from __future__ import annotations

from .llm import Failure
from .store import UsageTotals

EMPTY_MENTION = "Hi! Mention me with a question, and I'll answer in a thread."
THREAD_NAME_FALLBACK = "Chat"
THREAD_FAILED = "I couldn't open a thread for this: Discord kept failing. Please try again."
DISCORD_FAILED = "I couldn't show the rest of my reply: Discord kept failing. Please try again."
STOP_REFUSED = "Only the person who asked (or a moderator) can stop this reply."
NOT_A_THREAD_CHANNEL = (
    "I answer in threads, which this channel doesn't support. Try a text channel."
)
STOPPED = "*(stopped)*"
STOPPED_FOR_SHUTDOWN = "*(stopped: the bot is restarting)*"
INTERRUPTED_BY_RESTART = "*(interrupted: the bot restarted)*"
CUT_OFF = "*(cut off: the model service stopped mid-reply)*"
RETRYING = "The model service is busy; retrying…"
EMPTY_REPLY = "*(the model returned an empty reply; try rephrasing)*"
LENGTH_LIMIT = "*(reply cut at the length limit; ask me to continue)*"
ALLOWANCE_SPENT = (
    "*(the model used its whole token allowance before writing an answer; "
    "try a narrower question, or ask the bot's admins to raise MAX_COMPLETION_TOKENS)*"
)
THINKING = "*Thinking…*"


def thinking(seconds: float) -> str:
    """Shown while a reasoning model thinks, before its answer starts."""
    return f"{THINKING} ({round(seconds)} s)" if seconds >= 1 else THINKING


def is_placeholder(text: str) -> bool:
    """Shown in place of a reply while there is no text yet; never part of a stored answer."""
    text = text.strip()
    return text == RETRYING or text.startswith(THINKING)


def _listed(names: list[str]) -> str:
    bold = [f"**{name}**" for name in names]
    return bold[0] if len(bold) == 1 else ", ".join(bold[:-1]) + " and " + bold[-1]


def cannot_open_thread(missing: list[str]) -> str:
    """The bot lacks permissions to open a conversation thread in a channel."""
    return f"I can't open a thread here: I need the {_listed(missing)} permission in this channel."


def cannot_post(permission: str) -> str:
    """Discord refused a reply for a missing permission."""
    return f"I can't post my reply here: I need the **{permission}** permission."


_FAILURES = {
    Failure.RATE_LIMITED: "The model service is busy right now. Please try again in a minute.",
    Failure.QUOTA: (
        "The bot's API account is out of credit, so I can't answer. "
        "Server admins: check the billing of the OpenAI account."
    ),
    Failure.CONTEXT_LENGTH: (
        "This conversation no longer fits the model's context window. Use `/reset` to start over."
    ),
    Failure.AUTH: (
        "The bot's API key was rejected, so I can't answer. Server admins: check OPENAI_API_KEY."
    ),
    Failure.MODEL_NOT_FOUND: (
        "The configured model isn't available on the model server. Server admins: check "
        "OPENAI_MODEL."
    ),
    Failure.UNAVAILABLE: "The model service is unavailable right now. Please try again shortly.",
    Failure.BAD_REQUEST: "The model service refused this request. Please try rephrasing.",
    Failure.ROLE_ORDER: (
        "The model server refused the conversation's format. Server admins: check the model's "
        "chat template, or set ALTERNATE_ROLES=on."
    ),
    Failure.CUT_OFF: CUT_OFF,
}


def failure_text(failure: Failure) -> str:
    return _FAILURES[failure]


def internal_error() -> str:
    return "Something went wrong on my side; the error was logged. Please try again."


_LIMITS = {
    "server requests": "This server has reached its limit of model requests per minute.",
    "server tokens": "This server has used its model token allowance for the minute.",
    "your requests": "You're sending messages faster than I'm allowed to answer.",
    "account": "The bot's API account is at its rate limit.",
}


def rate_limited(limit: str | None, wait: float) -> str:
    seconds = max(1, round(wait))
    when = f"about {seconds} seconds" if seconds < 90 else f"about {round(seconds / 60)} minutes"
    reason = _LIMITS.get(limit or "", "The bot is at its rate limit.")
    return f"{reason} Try again in {when}; your message is saved."


NOT_A_CONVERSATION = (
    "This isn't a conversation with me. Mention me or use `/chat` in a channel to start one."
)
SERVER_ONLY = "Server defaults can only be set inside a server."
PERSONA_EMPTY = "The persona can't be empty. Use `/persona clear` to remove one."
_SCOPES = {
    "conversation": "this conversation",
    "channel": "new conversations in this channel",
    "server": "new conversations in this server",
}
_SOURCES = {
    "conversation": "set for this conversation",
    "channel": "this channel's default",
    "server": "this server's default",
    "default": "the bot's built-in default",
}


def needs_permission(permission: str, *, owner: bool = False) -> str:
    who = "the person who started this conversation, or " if owner else ""
    return f"Only {who}members with the **{permission}** permission can do that."


def reset_done(name: str) -> str:
    return f"Conversation reset by {name}: I've forgotten everything said before this message."


def persona_too_long(length: int, limit: int) -> str:
    return f"That persona is {length:,} characters; the limit is {limit:,}."


def persona_set(kind: str) -> str:
    return f"Persona set for {_SCOPES[kind]}. It applies from the next reply."


def persona_cleared(kind: str) -> str:
    return f"Persona cleared for {_SCOPES[kind]}."


def persona_shown(text: str, source: str) -> str:
    quoted = text if len(text) <= 1800 else text[:1800] + "…"
    quoted = quoted.replace("```", "`\u200b``")  # keep the code block intact
    return f"Persona in effect here ({_SOURCES[source]}):\n```\n{quoted}\n```"


def usage_table(rows: list[tuple[str, UsageTotals]]) -> str:
    lines = ["Model usage (UTC days):"]
    for label, totals in rows:
        cached = (
            f", {totals.cached_tokens / totals.prompt_tokens:.0%} of prompt tokens cached"
            if totals.prompt_tokens and totals.cached_tokens
            else ""
        )
        lines.append(
            f"**{label}:** {totals.total_tokens:,} tokens ({totals.prompt_tokens:,} prompt + "
            f"{totals.completion_tokens:,} completion{cached}), {totals.requests:,} "
            + ("request" if totals.requests == 1 else "requests")
        )
    return "\n".join(lines)
