"""After a crash: what to make of a reply that a previous process left half-shown.

Pure: given the reply's messages as the crash left them, it says what to store and what each
message should show. The chat cog fetches and edits the messages.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core import texts
from bot.core.discord_limits import MESSAGE_LIMIT
from bot.core.render import CURSOR, close_open_fence
from bot.core.texts import EN


@dataclass(frozen=True, slots=True)
class Mend:
    stored: str  # the assistant turn's text: what was shown of the answer
    contents: list[str]  # each message's new content, in order
    note_apart: bool  # the note did not fit under the last message: post it on its own


def unfinished(content: str, has_components: bool) -> bool:
    """A message still streaming when the process died: a cursor, or a live Stop button."""
    return content.endswith(CURSOR) or has_components


def mend(shown: list[str], note: str = EN.interrupted_by_restart) -> Mend:
    """``shown``: the reply's messages as left behind, first to last; ``note``: what to say
    under them, in the conversation's language."""
    parts = [content.removesuffix(CURSOR) for content in shown]
    answer = "".join(parts)
    if texts.is_placeholder(answer):  # "retrying…", "thinking…": never part of the answer
        answer, parts = "", [answer.strip()]
    last = f"{close_open_fence(parts[-1])}\n\n{note}"
    if len(last) <= MESSAGE_LIMIT:
        return Mend(answer, [*parts[:-1], last], note_apart=False)
    return Mend(answer, parts, note_apart=True)
