"""The reply service over an in-memory world (tests/bot/core/replies/fakes.py), drained and
closed after each test, on a clock the test moves."""

from __future__ import annotations

import pytest

from tests.fakes.clock import Clock

from .fakes import make_world


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def reply_world(clock):
    reply_world = await make_world(clock=clock)
    yield reply_world
    await reply_world.replies.drain(1)
    await reply_world.store.close()
