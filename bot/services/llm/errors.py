"""Failed model calls, by cause: the one place that reads openai's exceptions."""

from __future__ import annotations

import openai

from bot.core.llm import Failure, LLMError


def _retry_after(error: openai.APIStatusError) -> float | None:
    headers = error.response.headers
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value:
            try:
                return max(0.0, float(value) * scale)
            except ValueError:
                continue
    return None


def _by_code(code: str, message: str) -> Failure | None:
    """Causes named in the error body, whatever the status (or none: an error mid-stream)."""
    if code == "insufficient_quota":
        return Failure.QUOTA
    if code == "rate_limit_exceeded":
        return Failure.RATE_LIMITED
    if code == "context_length_exceeded" or "maximum context length" in message:
        return Failure.CONTEXT_LENGTH
    lowered = message.lower()
    if "roles must alternate" in lowered:  # Hugging Face chat templates (vLLM, llama.cpp)
        return Failure.ROLE_ORDER
    if any(sign in lowered for sign in _NO_TOOLS_SIGNS):
        return Failure.NO_TOOLS
    if any(sign in lowered for sign in _NO_VISION_SIGNS):
        return Failure.NO_VISION
    return None


# How servers refuse images: OpenAI ("image_url is only supported by certain models"), vLLM
# ("not a multimodal model", "At most 0 image(s)"), llama.cpp ("image input is not supported").
# How servers refuse tools: Ollama ("<model> does not support tools"), vLLM started without a
# tool parser ('"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser').
_NO_TOOLS_SIGNS = ("does not support tools", "tool choice requires --enable-auto-tool-choice")
_NO_VISION_SIGNS = ("image_url is only supported", "multimodal", "image(s) may be provided",
                    "image input is not supported", "does not support image")  # fmt: skip


def classify(error: Exception) -> LLMError:
    """Map an openai/httpx exception to a :class:`LLMError`."""
    if isinstance(error, LLMError):
        return error
    if isinstance(error, openai.APIStatusError):
        code = getattr(error, "code", None) or ""
        detail = f"HTTP {error.status_code} {code}".strip()
        named = _by_code(code, str(error.message))
        if named is Failure.RATE_LIMITED or (error.status_code == 429 and named is None):
            return LLMError(Failure.RATE_LIMITED, detail, _retry_after(error))
        if named is not None:
            return LLMError(named, detail)
        if error.status_code in (401, 403):
            return LLMError(Failure.AUTH, detail)
        if error.status_code == 404:
            return LLMError(Failure.MODEL_NOT_FOUND, detail)
        if error.status_code >= 500 or error.status_code == 408:
            return LLMError(Failure.UNAVAILABLE, detail, _retry_after(error))
        return LLMError(Failure.BAD_REQUEST, detail)
    if isinstance(error, openai.APIConnectionError):
        return LLMError(Failure.UNAVAILABLE, type(error).__name__)
    if isinstance(error, openai.APIError):  # an error event inside a stream
        code = error.code or ""
        failure = _by_code(code, str(error.message)) or Failure.UNAVAILABLE
        return LLMError(failure, f"error event {code}".strip())
    return LLMError(Failure.UNAVAILABLE, f"{type(error).__name__}: {error}")


def refuses_stream_options(error: Exception) -> bool:
    """An older OpenAI-compatible server rejecting the field: 400 with a message naming it, or
    422 from a FastAPI server whose validation detail names it (the message alone does not)."""
    if not isinstance(error, openai.BadRequestError | openai.UnprocessableEntityError):
        return False
    return "stream_options" in f"{error.message} {error.body}"
