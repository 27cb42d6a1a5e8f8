"""In-memory stand-ins for the reply service's edges: a surface, a model, a clock."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from bot.core.choices import Choices
from bot.core.context import Budget
from bot.core.conversations import Conversations
from bot.core.llm import Delta, LLMError, Reply, ToolCall
from bot.core.models import Models
from bot.core.pacing import Pacer
from bot.core.ratelimit import LocalLimiter
from bot.core.replies import (
    UNLIMITED,
    Button,
    Deps,
    Failed,
    Gone,
    Limits,
    Question,
    Refused,
    Replies,
)
from bot.core.replies import Answer as Consent
from bot.core.store import Store
from bot.core.tokens import TokenCounter
from bot.core.tools import ToolHost
from bot.services.store import SQLiteStore
from tests.fakes.clock import Clock

COUNTER = TokenCounter.for_model("gpt-4o-mini")
_ids = itertools.count(1_000)


@dataclass
class Shown:
    id: int
    text: str
    button: Button | None
    reply_to: int | None


@dataclass
class FakeSurface:
    channel_id: int = 1
    messages: list[Shown] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    fail_with: list[Exception] = field(default_factory=list)  # raised by the next posts/edits
    typing_count: int = 0
    edit_count: int = 0
    posted: asyncio.Event = field(default_factory=asyncio.Event)
    limits: Limits = UNLIMITED
    questions: list[Question] = field(default_factory=list)
    answers: list[Consent] = field(default_factory=list)  # the next questions' answers
    answer_gate: asyncio.Event | None = None  # answers wait for it, when set
    seen: list[str] = field(default_factory=list)  # every text posted or edited, in order
    changed: asyncio.Event = field(default_factory=asyncio.Event)  # at each post or edit
    spoken: list[tuple[str, int | None, int]] = field(default_factory=list)  # read out

    def _maybe_fail(self) -> None:
        if self.fail_with:
            raise self.fail_with.pop(0)

    async def ready(self) -> None:
        return None

    async def post(self, text: str, *, button: Button | None, reply_to: int | None = None) -> int:
        self._maybe_fail()
        shown = Shown(next(_ids), text, button, reply_to)
        self.messages.append(shown)
        self.seen.append(text)
        self.changed.set()
        self.posted.set()
        return shown.id

    async def edit(self, message_id: int, text: str, *, button: Button | None) -> None:
        self._maybe_fail()
        self.edit_count += 1
        shown = next(m for m in self.messages if m.id == message_id)
        shown.text, shown.button = text, button
        self.seen.append(text)
        self.changed.set()

    @contextlib.asynccontextmanager
    async def typing(self) -> AsyncIterator[None]:
        self.typing_count += 1
        yield

    async def tell(self, text: str) -> None:
        self.notices.append(text)

    async def speak(self, text: str, reply_to: int | None, asker_id: int) -> None:
        self.spoken.append((text, reply_to, asker_id))

    async def sees(self, text: str) -> None:
        """Wait until a post or an edit has shown ``text``."""
        async with asyncio.timeout(5):
            while not any(text in shown for shown in self.seen):
                self.changed.clear()
                await self.changed.wait()

    async def ask(self, question: Question) -> Consent:
        self.questions.append(question)
        if self.answer_gate is not None:
            await self.answer_gate.wait()
        return self.answers.pop(0) if self.answers else Consent.TIMEOUT

    @property
    def texts(self) -> list[str]:
        return [m.text for m in self.messages]


@dataclass
class Answer:
    text: str = "An answer."
    gate: asyncio.Event | None = None  # hold before the first token
    pause: asyncio.Event | None = None  # hold after the first word
    reasoning: list[str] = field(default_factory=list)  # reasoning deltas before the answer
    thinking: asyncio.Event | None = None  # hold after each reasoning delta
    error: LLMError | None = None
    finish_reason: str = "stop"
    slow: bool = False  # let the loop run after each word, as a stream from the network does
    tool_calls: list[ToolCall] = field(default_factory=list)  # asked for after the text


class FakeModel:
    """Streams scripted answers; records each request's messages."""

    def __init__(self) -> None:
        self.requests: list[list[dict[str, Any]]] = []
        self.answers: list[Answer] = []
        self.changed = asyncio.Event()
        self.closed_in: list[str] = []  # the task each finished or closed stream ended in
        self.offered: list[tuple[list[str], str | None]] = []  # each request's tools, choice

    def respond(self, *answers: Answer) -> None:
        self.answers.extend(answers)

    async def stream(
        self, messages, *, max_tokens, reply: Reply, on_retry=None, cache_key=None, model=None,
        tools=None, tool_choice=None,
    ):  # fmt: skip
        self.requests.append(list(messages))  # as sent: the tool loop adds to the list
        self.offered.append(([t["function"]["name"] for t in tools or ()], tool_choice))
        self.changed.set()
        answer = self.answers.pop(0) if self.answers else Answer()
        try:
            if answer.gate is not None:
                await answer.gate.wait()
            if answer.error is not None:
                raise answer.error
            for thought in answer.reasoning:
                reply.reasoning += thought
                yield Delta(reasoning=thought)
                if answer.thinking is not None:
                    await answer.thinking.wait()
            for number, word in enumerate(answer.text.split(" ") if answer.text else []):
                piece = word if not reply.text else " " + word
                reply.text += piece
                yield Delta(piece)
                if number == 0 and answer.pause is not None:
                    await answer.pause.wait()
                if answer.slow:
                    await asyncio.sleep(0)
            reply.tool_calls = list(answer.tool_calls)
            reply.finish_reason = "tool_calls" if answer.tool_calls else answer.finish_reason
        finally:
            self.closed_in.append(asyncio.current_task().get_name())  # type: ignore[union-attr]

    async def wait_for_requests(self, count: int) -> None:
        async with asyncio.timeout(5):
            while len(self.requests) < count:
                self.changed.clear()
                await self.changed.wait()


@dataclass
class World:
    store: Store
    conversations: Conversations
    model: FakeModel
    replies: Replies
    surface: FakeSurface
    limiter: LocalLimiter

    async def say(self, message_id: int, text: str, author_id: int = 7, name: str = "alice"):
        async def read() -> str:
            return text

        return await self.replies.submit(
            1, message_id=message_id, author_id=author_id, author_name=name,
            read_text=read, surface=self.surface,
        )  # fmt: skip

    async def idle(self) -> None:
        """Wait until every queue is answered."""
        async with asyncio.timeout(5):
            while workers := [ln.worker for ln in self.replies._lines.values() if ln.worker]:
                await asyncio.wait(workers)

    async def shown(self) -> None:
        """Wait until the reply shows something."""
        async with asyncio.timeout(5):
            await self.surface.posted.wait()

    async def history(self) -> list[tuple[str, str]]:
        turns = await self.store.newest_turns(1, limit=100)
        return [(t.role, t.content) for t in reversed(turns)]


async def make_world(
    *,
    guild_rpm: int = 0,
    clock: Clock | None = None,
    store: Store | None = None,
    tools: ToolHost | None = None,
    window: int = 8192,
) -> World:
    store = store or SQLiteStore(":memory:")
    await store.open()
    await store.create_conversation(1, guild_id=5, parent_id=6, owner_id=7)
    conversations = Conversations(store, COUNTER, budget=Budget(window, 256))
    models = Models(default="gpt-4o-mini", context_tokens=window, completion_tokens=256)
    models.add("gpt-4o-mini", COUNTER)
    choices = Choices(store, default_persona="Be brief.", models=models)
    model = FakeModel()
    clock = clock or Clock()
    limiter = LocalLimiter(guild_rpm=guild_rpm, guild_tpm=0, user_rpm=0, clock=clock)
    deps = Deps(
        conversations, choices, models, model, limiter,  # type: ignore[arg-type]
        Pacer(edit_interval=0.0, edit_window=0.0), None, cache_keys=False, clock=clock,
        tools=tools,
    )  # fmt: skip
    return World(store, conversations, model, Replies(deps), FakeSurface(), limiter)


__all__ = ["Answer", "Clock", "Consent", "Failed", "Gone", "Refused", "World", "make_world"]
