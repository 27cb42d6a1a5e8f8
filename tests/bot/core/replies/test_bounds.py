"""The reply service keeps one line per live conversation: none once the replies are done."""

from __future__ import annotations

import asyncio

from .fakes import Answer, FakeSurface


async def test_a_line_lives_only_while_its_conversation_has_work(reply_world):
    gate = asyncio.Event()
    conversations = range(100, 130)
    reply_world.model.respond(*[Answer(f"For {c}.", gate=gate) for c in conversations])
    surfaces = {}
    for conversation_id in conversations:
        await reply_world.store.create_conversation(
            conversation_id, guild_id=5, parent_id=6, owner_id=7
        )
        surfaces[conversation_id] = FakeSurface(channel_id=conversation_id)

        async def read() -> str:
            return "hello"

        await reply_world.replies.submit(
            conversation_id, message_id=10**9 + conversation_id, author_id=7, author_name="alice",
            read_text=read, surface=surfaces[conversation_id],
        )  # fmt: skip
    await reply_world.model.wait_for_requests(len(conversations))
    assert len(reply_world.replies._lines) == len(conversations)  # one per reply in progress
    gate.set()
    await reply_world.idle()

    assert reply_world.replies._lines == {}
    assert all(s.texts == [f"For {c}."] for c, s in surfaces.items())
