"""The chat model client on ``openai``: the client itself and the mapping of its errors."""

from bot.services.llm.client import MAX_ATTEMPTS, MAX_RETRY_WAIT, LLMClient, RetryHook
from bot.services.llm.errors import classify, refuses_stream_options

__all__ = [
    "MAX_ATTEMPTS",
    "MAX_RETRY_WAIT",
    "LLMClient",
    "RetryHook",
    "classify",
    "refuses_stream_options",
]
