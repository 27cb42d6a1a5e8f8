"""What a reply shows of its tool calls while they run: one line a call ("🔧 **fetch** —
`example.com/page` …", then "✓ 1.2 s"), above the answer, and the one-line footer it keeps
once done. The lines are never stored or re-sent: the calls themselves are, apart."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum

from bot.core.texts import Texts
from bot.core.tool_loop import Exchange

ABOUT_CHARS = 60  # of a call's arguments shown on its line
MAX_LINES = 8  # shown at once: the newest, with a count of those left out


class State(StrEnum):
    RUNNING = "running"
    ASKING = "asking"  # waiting for the asker's Allow or Deny
    DONE = "done"
    FAILED = "failed"
    REFUSED = "refused"  # not allowed (denied, no answer, or never offered)


def about(arguments: str) -> str:
    """A short, safe glimpse of a call's arguments: its plain values, a URL without its
    scheme, at most :data:`ABOUT_CHARS`; no backticks or line breaks (it is shown as code)."""
    try:
        data = json.loads(arguments or "{}")
    except ValueError:
        return ""
    values = data.values() if isinstance(data, dict) else ()
    plain = [str(v) for v in values if isinstance(v, str | int | float) and not isinstance(v, bool)]
    text = ", ".join(v.removeprefix("https://").removeprefix("http://") for v in plain)
    text = " ".join(text.replace("`", "'").split())
    return text if len(text) <= ABOUT_CHARS else text[: ABOUT_CHARS - 1] + "…"


@dataclass(slots=True)
class Line:
    label: str
    about: str
    state: State = State.RUNNING
    seconds: float = 0.0


class Activity:
    """The lines of a reply's tool calls, in the order the model asked for them."""

    def __init__(self, texts: Texts) -> None:
        self.texts = texts
        self.lines: list[Line] = []

    def start(self, label: str, arguments: str) -> int:
        self.lines.append(Line(label, about(arguments)))
        return len(self.lines) - 1

    def set(self, index: int, state: State, seconds: float = 0.0) -> None:
        self.lines[index].state = state
        self.lines[index].seconds = seconds

    def render(self) -> str:
        shown = self.lines[-MAX_LINES:]
        rendered = [self.texts.tool_line(line.label, line.about, line.state, line.seconds)
                    for line in shown]  # fmt: skip
        if len(self.lines) > len(shown):
            rendered.insert(0, self.texts.tool_lines_left_out(len(self.lines) - len(shown)))
        return "\n".join(rendered)


EXCERPT_CHARS = 300  # of each result, in a reply's tool details


def details(exchange: Exchange, heading: str, *, excerpt: int | None = EXCERPT_CHARS) -> str:
    """A reply's tool calls for the person who asks: each call, its arguments, how long it
    took and the start of its result (all of it with ``excerpt`` None), quoted as data."""
    blocks = [heading]
    for number, step in enumerate(exchange.steps, 1):
        mark = "✗" if step.error else "✓"
        name = f"`{step.tool}`" if step.tool else f"`{step.function}`"
        arguments = step.arguments.replace("`", "'") or "{}"
        result = step.result if excerpt is None or len(step.result) <= excerpt else (
            step.result[:excerpt] + "…"
        )  # fmt: skip
        quoted = "\n".join(f"> {line}" for line in result.splitlines() or [""])
        blocks.append(
            f"**{number}. {step.label}** {name} {mark} {step.seconds:.1f} s\n`{arguments}`\n{quoted}"
        )
    return "\n\n".join(blocks)
