"""How a reply ended: the status it is stored with and the note shown under it. One table of
rules, apart from the job that streams it."""

from __future__ import annotations

import asyncio
import logging

from bot.core.llm import Failure, LLMError, Reply
from bot.core.store import TurnStatus
from bot.core.texts import Texts

log = logging.getLogger(__name__)

ADMINS_FAILURES = (Failure.AUTH, Failure.QUOTA, Failure.MODEL_NOT_FOUND)  # logged once


def outcome(
    producer: asyncio.Task[None],
    reply: Reply,
    texts: Texts,
    *,
    stop_note: str | None,
    overflowing: bool,
    unseen_images: int,
    logged_once: set[Failure],
) -> tuple[TurnStatus, str]:
    if producer.cancelled():
        return TurnStatus.INTERRUPTED, stop_note or texts.stopped
    if overflowing:  # ended before the display saw it needs too many messages
        return TurnStatus.INTERRUPTED, stop_note or texts.cut_at_message_limit
    error = producer.exception()
    if error is None:
        if not reply.text.strip():
            if reply.finish_reason == "length":  # e.g. all spent on reasoning
                return TurnStatus.COMPLETE, texts.allowance_spent
            return TurnStatus.COMPLETE, texts.empty_reply
        if reply.finish_reason == "length":
            return TurnStatus.COMPLETE, texts.length_limit
        # Said plainly, once per reply.
        return TurnStatus.COMPLETE, texts.cannot_see_images if unseen_images else ""
    if isinstance(error, LLMError):
        if error.failure in ADMINS_FAILURES:
            if error.failure not in logged_once:
                logged_once.add(error.failure)
                log.error("The model service refused the bot's account: %s", error.detail)
        else:
            log.warning("Model call failed: %s", error.detail)
        status = TurnStatus.INTERRUPTED if error.failure is Failure.CUT_OFF else TurnStatus.COMPLETE
        return status, texts.failure(error.failure)
    log.error("Reply generation failed", exc_info=error)
    return TurnStatus.INTERRUPTED, texts.internal_error()
