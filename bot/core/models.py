"""The models replies may use, and what each one is: context window, tokenizer, completion
allowance and whether it sees images (as bot.core.catalog says, with the operator's settings on
top), and its price. The budget, the counts and the limiter all use the model actually called.
Discord-free."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace

from bot.core.bounded import LRU
from bot.core.catalog import base_model, context_window, default_completion_tokens, family
from bot.core.choices import Chosen
from bot.core.context import Budget
from bot.core.store import Scope, ScopedChoices
from bot.core.tokens import TokenCounter

log = logging.getLogger(__name__)

LIST_TTL = 300.0  # seconds a server's model list is reused for autocomplete
MODELS_KEPT = 64  # model profiles kept (names may be anything typed): least recently used go


@dataclass(frozen=True, slots=True)
class Price:
    """US dollars per million tokens."""

    prompt: float
    completion: float

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.prompt + completion_tokens * self.completion) / 1e6


@dataclass(frozen=True, slots=True)
class Model:
    name: str
    budget: Budget  # its window, and the allowance sent as max_(completion_)tokens
    counter: TokenCounter
    vision: bool
    price: Price | None = None
    tools: bool = True  # takes tools; False once its server refused them (learnt, not listed)


class Models:
    """One :class:`Model` per name, made once (a new tokenizer loads off the event loop)."""

    def __init__(
        self,
        *,
        default: str,
        context_tokens: int | None = None,
        completion_tokens: int | None = None,
        choices: tuple[str, ...] = (),
        open_to_all: tuple[str, ...] = (),
        vision: tuple[str, ...] = (),
        prices: Mapping[str, Price] | None = None,
        list_names: Callable[[], Awaitable[list[str]]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.default = default
        self.context_tokens = context_tokens  # CONTEXT_TOKENS: the default and unknown models
        self.completion_tokens = completion_tokens  # MAX_COMPLETION_TOKENS, if set
        self.choices = choices  # MODELS: what may be chosen besides the default
        self.open_to_all = open_to_all  # MODELS entries marked with *: anyone may choose them
        self.vision = tuple(base_model(v) for v in vision)
        self.prices = dict(prices or {})
        self.list_names = list_names  # the server's GET /models
        self.clock = clock
        self._models: LRU[str, Model] = LRU(MODELS_KEPT)  # re-made when needed again
        self._counters: dict[str, TokenCounter] = {}
        self._listed: tuple[float, list[str]] | None = None

    def add(self, name: str, counter: TokenCounter) -> Model:
        """Make ``name``'s profile with a counter already loaded (the default, at start-up)."""
        self._counters.setdefault(counter.encoding.name, counter)
        return self._make(name, counter)

    async def get(self, name: str) -> Model:
        model = self._models.touch(name)
        if model is not None:
            return model
        encoding = family(name).encoding
        counter = self._counters.get(encoding)
        if counter is None:  # loading a vocabulary takes about a second
            counter = await asyncio.to_thread(TokenCounter.for_model, name)
            self._counters[encoding] = counter
        return self._make(name, counter)

    def _make(self, name: str, counter: TokenCounter) -> Model:
        row = family(name)
        override = self.context_tokens if name == self.default or row.window is None else None
        window = context_window(name, override)
        completion = self.completion_tokens or default_completion_tokens(name, window)
        model = Model(
            name, Budget(window, completion), counter, self._sees_images(name),
            self.prices.get(name),
        )  # fmt: skip
        self._models[name] = model
        return model

    def _sees_images(self, name: str) -> bool:
        """As the catalog says; where it doesn't know, as VISION_MODELS says (by prefix)."""
        vision = family(name).vision
        if vision is None:
            return any(base_model(name).startswith(prefix) for prefix in self.vision)
        return vision

    def may_choose(self, name: str) -> bool:
        """Whether ``name`` may answer at all: the default, or a model the operator listed."""
        return name == self.default or name in self.choices

    @property
    def allowed(self) -> tuple[str, ...]:
        """Every model that may answer, the default first."""
        return (self.default, *(name for name in self.choices if name != self.default))

    def effective(self, scoped: ScopedChoices) -> Chosen:
        """The one answer to "which model answers here": the most specific stored choice
        (conversation, channel, server) that may still answer, else the default. A more
        specific choice that may no longer answer (removed from MODELS) is skipped and named
        in ``ignored``. The replies and ``/model show`` both ask this."""
        ignored: str | None = None
        for name, source in (
            (scoped.conversation_model, Scope.CONVERSATION),
            (scoped.channel_model, Scope.CHANNEL),
            (scoped.guild_model, Scope.GUILD),
        ):
            if not name:
                continue
            if self.may_choose(name):
                return Chosen(name, source, ignored)
            ignored = ignored or name
        return Chosen(self.default, None, ignored)

    def shrink(self, name: str, rejected_prompt_tokens: int) -> None:
        """The server said a request did not fit: remember a smaller window for this model."""
        model = self._models.get(name)
        if model is None:  # forgotten since (MODELS_KEPT): it is re-made from its defaults
            return
        used = rejected_prompt_tokens + model.budget.completion
        window = max(model.budget.completion + 256, int(min(model.budget.window, used) * 0.75))
        log.warning(
            "%s rejected %d prompt tokens as too long; using a %d-token context window from now "
            "on (set CONTEXT_TOKENS to the model's real window)",
            name, rejected_prompt_tokens, window,
        )  # fmt: skip
        self._models[name] = replace(model, budget=Budget(window, model.budget.completion))

    def cannot_see(self, name: str) -> bool:
        """The server refused images for ``name``: send it none from now on. True the first
        time (so the user is told once)."""
        model = self._models.get(name)
        if model is None or not model.vision:
            return False
        self._models[name] = replace(model, vision=False)
        log.warning("%s refused images; sending it none from now on", name)
        return True

    def cannot_use_tools(self, name: str) -> bool:
        """The server refused tools for ``name``: offer it none from now on. True the first
        time."""
        model = self._models.get(name)
        if model is None or not model.tools:
            return False
        self._models[name] = replace(model, tools=False)
        log.warning("%s refused tools; offering it none from now on", name)
        return True

    async def available(self) -> list[str]:
        """Names to offer when choosing: the server's list (cached), else the default and
        ``MODELS``; only those that may answer."""
        now = self.clock()
        if self._listed is None or now - self._listed[0] > LIST_TTL:
            names: list[str] = []
            if self.list_names is not None:
                try:
                    names = sorted(await self.list_names())
                except Exception as exc:  # no /models route, or the server is down
                    log.info("Could not list the server's models (%s); using MODELS", exc)
            self._listed = (now, names or list(self.allowed))
        return [name for name in self._listed[1] if self.may_choose(name)]
