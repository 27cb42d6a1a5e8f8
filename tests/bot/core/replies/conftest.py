"""The reply service over an in-memory world, drained and closed after each test."""

from __future__ import annotations

import pytest

from .fakes import make_world


@pytest.fixture
async def world():
    world = await make_world()
    yield world
    await world.replies.drain(1)
    await world.store.close()
