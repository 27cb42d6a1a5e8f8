"""A Metrics that keeps every call, to check what the code under test reports."""

from __future__ import annotations

from bot.core.metrics import Metrics, Outcome
from bot.core.ratelimit import Limit


class Recorder(Metrics):
    enabled = True

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[object, ...]]] = []

    def named(self, name: str) -> list[tuple[object, ...]]:
        return [args for call, args in self.calls if call == name]

    def reply_finished(self, outcome: Outcome, cause: str = "", *, seconds: float) -> None:
        self.calls.append(("reply_finished", (outcome, cause, seconds)))

    def first_token(self, seconds: float) -> None:
        self.calls.append(("first_token", (seconds,)))

    def model_tokens(self, prompt: int, completion: int) -> None:
        self.calls.append(("model_tokens", (prompt, completion)))

    def refused(self, limit: Limit | None) -> None:
        self.calls.append(("refused", (limit,)))

    def discord_429(self, scope: str) -> None:
        self.calls.append(("discord_429", (scope,)))

    def loop_lag(self, seconds: float) -> None:
        self.calls.append(("loop_lag", (seconds,)))
