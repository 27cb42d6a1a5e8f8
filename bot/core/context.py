"""Build a chat request within the token budget: persona first, then the newest turns that fit.

Pure and Discord-free. Turns arrive newest first (as the store pages them) with their token counts
cached at insert, so building costs O(turns kept), however long the conversation is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bot.core.store import Turn
from bot.core.tokens import REPLY_PRIMING, TokenCounter

TRUNCATION_MARKER = "\n\n[… middle of this message cut to fit the model's context window …]\n\n"
_NAME_DISALLOWED = re.compile(r"[^A-Za-z0-9_-]+")


def api_name(display_name: str) -> str:
    """A Discord name in the form the API accepts for ``name`` (``^[A-Za-z0-9_-]{1,64}$``)."""
    cleaned = _NAME_DISALLOWED.sub("_", display_name).strip("_")[:64]
    return cleaned or "user"


def turn_message(turn: Turn) -> dict[str, str]:
    message = {"role": turn.role, "content": turn.content}
    if turn.role == "user" and turn.author_name:
        message["name"] = turn.author_name
    return message


@dataclass(frozen=True, slots=True)
class Budget:
    window: int
    completion: int  # the allowance sent as max_(completion_)tokens

    @property
    def prompt(self) -> int:
        return self.window - self.completion


@dataclass(slots=True)
class ChatRequest:
    messages: list[dict[str, str]]
    prompt_tokens: int  # exact, reply priming included
    turns: int = 0  # history turns included
    dropped: bool = False  # older turns were left out
    truncated: bool = False  # the newest turn was cut in the middle
    summarise_through: int | None = None  # turns up to this seq should go into the summary
    images: int = 0  # images sent with the turns
    tool_turns: int = 0  # replies sent with their tool calls and results
    unseen_images: int = 0  # images of the turns answered that this model cannot see

    @property
    def ends_with_user(self) -> bool:
        """A request answers user messages: it must end with one, never with an answer."""
        return self.messages[-1]["role"] == "user"


def summary_message(summary: str) -> str:
    return f"Summary of the earlier conversation (older messages are not shown):\n{summary}"


@dataclass(slots=True)
class ContextPacker:
    """Accepts turns newest first until the budget is full.

    Feed it with :meth:`offer` (False means "full, stop reading") and finish with :meth:`build`.
    """

    counter: TokenCounter
    budget: Budget
    system_prompt: str
    summary: str | None = None  # a rolling summary, sent as a second system message
    # HISTORY_TOKENS: the most turn tokens sent (None: no cap), unless the newest turn alone is
    # longer, which is then sent alone.
    history_cap: int | None = None
    _kept: list[Turn] = field(default_factory=list)
    _used: int = 0
    _history: int = 0  # tokens of the turns kept
    _full: bool = False
    _truncated_first: Turn | None = None

    def __post_init__(self) -> None:
        self._used = REPLY_PRIMING + sum(
            self.counter.message(m["role"], m["content"]) for m in self._system_messages()
        )

    def _system_messages(self) -> list[dict[str, str]]:
        """The stable prefix: persona, then the summary (unchanged between summary updates),
        in one system message: many open-weight chat templates accept only one, first."""
        content = self.system_prompt
        if self.summary:
            content += "\n\n" + summary_message(self.summary)
        return [{"role": "system", "content": content}]

    @property
    def kept(self) -> list[Turn]:
        """The turns accepted so far, newest first."""
        return self._kept

    @property
    def room(self) -> int:
        """Tokens still free for turns: within the window, and within the history cap."""
        room = self.budget.prompt - self._used
        if self.history_cap is not None:
            room = min(room, self.history_cap - self._history)
        return room

    def offer(self, turn: Turn) -> bool:
        if self._full:
            return False
        # The newest turn (the question) needs only the window: a message longer than the cap
        # is sent whole, alone; the cap bounds what comes with it.
        room = self.room if self._kept else self.budget.prompt - self._used
        if turn.tokens <= room:
            self._kept.append(turn)
            self._used += turn.tokens
            self._history += turn.tokens
            return True
        self._full = True
        if not self._kept:  # the newest turn alone is too big: keep its start and end
            self._truncated_first = self._truncate(turn)
        return False

    def _truncate(self, turn: Turn) -> Turn:
        framing = self.counter.message(turn.role, "", turn_message(turn).get("name"))
        room = max(0, self.budget.prompt - self._used - framing)
        content = self.counter.truncate_middle(turn.content, room, TRUNCATION_MARKER)
        tokens = framing + self.counter.count(content)
        self._used += tokens
        self._history += tokens
        return Turn(
            turn.seq, turn.conversation_id, turn.message_id, turn.role, content,
            turn.author_name, tokens, turn.status,
        )  # fmt: skip

    def build(self) -> ChatRequest:
        while self._full and len(self._kept) > 1 and self._kept[-1].role == "assistant":
            # Older turns were left out: start at a question, not at the answer to one.
            dropped = self._kept.pop()
            self._used -= dropped.tokens
            self._history -= dropped.tokens
        kept = [self._truncated_first] if self._truncated_first else self._kept
        messages = self._system_messages()
        messages.extend(turn_message(turn) for turn in reversed(kept))
        return ChatRequest(
            messages=messages,
            prompt_tokens=self._used,
            turns=len(kept),
            dropped=self._full,
            truncated=self._truncated_first is not None,
        )


def build_request(
    counter: TokenCounter, budget: Budget, system_prompt: str, newest_first: Iterable[Turn]
) -> ChatRequest:
    """One-shot form of :class:`ContextPacker` for turns already in memory."""
    packer = ContextPacker(counter, budget, system_prompt)
    for turn in newest_first:
        if not packer.offer(turn):
            break
    return packer.build()


def alternate(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """The same conversation with strictly alternating user/assistant turns after the system
    message, for servers whose chat templates demand it: consecutive turns of one role are
    merged (each user's words under their name when several people speak), and the history
    starts with a user turn. Tool calls and their results are never merged: templates that
    want alternation take them as the API orders them (user, the assistant asking, the
    results, the assistant answering)."""
    head = [m for m in messages if m["role"] == "system"]
    merged: list[list[dict[str, Any]]] = []
    for message in messages[len(head) :]:
        same = merged and merged[-1][-1]["role"] == message["role"]
        if same and _is_turn(message) and _is_turn(merged[-1][-1]):
            merged[-1].append(message)
        else:
            merged.append([message])
    while merged and merged[0][0]["role"] != "user":
        merged.pop(0)
    return head + [_merge(run) for run in merged]


def _merge(run: list[dict[str, Any]]) -> dict[str, Any]:
    if len(run) == 1:
        return run[0]
    names = {m.get("name") for m in run}
    one_author = len(names) == 1  # (or the assistant): the texts, one after the other
    texts = [
        _text(m["content"]) if one_author else f"{m.get('name') or 'user'}: {_text(m['content'])}"
        for m in run
    ]
    images = [p for m in run if not isinstance(m["content"], str) for p in m["content"][1:]]
    content: Any = "\n\n".join(texts)
    if images:
        content = [{"type": "text", "text": content}, *images]
    merged = {"role": run[0]["role"], "content": content}
    if one_author and run[0].get("name"):
        merged["name"] = run[0]["name"]
    return merged


def _text(content: str | list[dict[str, Any]]) -> str:
    return content if isinstance(content, str) else content[0]["text"]


def fit_exactly(request: ChatRequest, counter: TokenCounter, budget: Budget) -> None:
    """Drop the oldest turns until ``request``, counted with ``counter``, fits ``budget`` (when
    the turns were chosen with another tokenizer's counts); the newest turn always stays."""
    start = next((i for i, m in enumerate(request.messages) if m["role"] != "system"), None)
    while start is not None and request.prompt_tokens > budget.prompt:
        if start >= len(request.messages) - 1:
            return
        dropped = [request.messages.pop(start)]
        while start < len(request.messages) - 1 and request.messages[start]["role"] == "tool":
            dropped.append(request.messages.pop(start))  # results whose call was dropped
        request.prompt_tokens -= sum(counter.chat_message(m) for m in dropped)
        request.turns -= sum(1 for m in dropped if _is_turn(m))
        request.dropped = True


def _is_turn(message: dict[str, Any]) -> bool:
    """A history turn, not a tool call's request or result (bot.core.tool_loop)."""
    return message["role"] != "tool" and not message.get("tool_calls")
