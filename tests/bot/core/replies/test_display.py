"""The display: a typing indicator only for a model slow to answer, posts composed late."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from bot.core.pacing import Pacer
from bot.core.replies import Display

from .fakes import FakeSurface


async def test_a_quick_answer_spends_no_typing_request():
    surface = FakeSurface()
    display = Display(surface, Pacer(), typing_after=10)  # far off: a loaded machine can't reach it
    display.start()
    await asyncio.sleep(0.05)
    display.feed("Hello.")
    await display.finish()
    assert surface.typing_count == 0
    assert surface.texts == ["Hello."]


async def test_a_slow_answer_shows_typing_until_its_text():
    surface = FakeSurface()
    display = Display(surface, Pacer(), typing_after=0.05)
    display.start()
    await asyncio.sleep(0.2)
    assert surface.typing_count == 1 and not surface.messages
    display.feed("Hello.")
    await display.finish()
    assert surface.texts == ["Hello."]


async def test_a_post_that_waited_for_its_slot_shows_the_text_of_then():
    """Under load a first post may wait for a REST slot until the reply has ended: it then
    shows the final text (no Stop button), and no edit follows."""
    surface = FakeSurface()
    slot_free = asyncio.Event()

    @contextlib.asynccontextmanager
    async def post_slot() -> AsyncIterator[None]:
        await slot_free.wait()
        yield

    display = Display(surface, Pacer(), typing_after=10, post_slot=post_slot)
    display.start()
    display.feed("Hello")
    await asyncio.sleep(0.05)
    assert not surface.messages  # waiting for its slot
    display.feed(", reply_world.")
    finishing = asyncio.create_task(display.finish())
    await asyncio.sleep(0)
    slot_free.set()
    await finishing
    assert [(m.text, m.button) for m in surface.messages] == [("Hello, reply_world.", None)]
    assert surface.edit_count == 0
