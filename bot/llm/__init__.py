"""The chat model client, by concern: values, errors by cause, and the client itself."""

from .client import MAX_ATTEMPTS, MAX_RETRY_WAIT, LLMClient, RetryHook
from .errors import RETRYABLE, Failure, LLMError, classify, refuses_stream_options
from .values import Delta, Reply, Usage

__all__ = [
    "MAX_ATTEMPTS",
    "MAX_RETRY_WAIT",
    "RETRYABLE",
    "Delta",
    "Failure",
    "LLMClient",
    "LLMError",
    "Reply",
    "RetryHook",
    "Usage",
    "classify",
    "refuses_stream_options",
]
