"""The display's typing indicator: only for a model slow to answer."""

from __future__ import annotations

import asyncio

from bot.pacing import Pacer
from bot.replies import Display

from .fakes import FakeSurface


async def test_a_quick_answer_spends_no_typing_request():
    surface = FakeSurface()
    display = Display(surface, Pacer(), typing_after=0.2)
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
