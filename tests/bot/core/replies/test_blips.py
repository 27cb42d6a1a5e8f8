"""Nothing lost on a blip: a message that arrives while the database is unreachable is answered
once it is back (or the person is told to send it again), and a follow-up queued behind a reply
is answered whatever happens to that reply."""

from __future__ import annotations

import asyncio

from bot.core.replies import Submitted
from bot.core.store import StoreError, TurnStatus
from bot.core.texts import EN as texts

from .fakes import Answer


def roles_and_text(messages):
    return [(m["role"], m["content"]) for m in messages[1:]]  # without the persona


class Outage:
    """The store's ``add_turn`` fails ``times`` times (before or after it commits)."""

    def __init__(self, reply_world, times: int, *, after_commit: bool = False, role: str = "user"):
        self.times, self.after_commit, self.role = times, after_commit, role
        self.calls = 0
        self._add_turn = reply_world.store.add_turn
        reply_world.store.add_turn = self.add_turn

    async def add_turn(self, conversation_id, **kwargs):
        if kwargs.get("role") != self.role or self.times <= 0:
            return await self._add_turn(conversation_id, **kwargs)
        self.calls += 1
        self.times -= 1
        if self.after_commit:
            await self._add_turn(conversation_id, **kwargs)  # committed; the answer was lost
        raise StoreError("lost the connection to database test (the change may be lost)")


def waits(reply_world) -> list[float]:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    reply_world.replies.retry_delays = (1, 2, 4, 8)
    reply_world.replies.sleep = sleep
    return slept


async def test_a_follow_up_queued_behind_a_reply_whose_display_was_cancelled_is_answered(
    reply_world,
):
    # The soak's lost follow-up: a CancelledError leaking out of a reply (its display task, or
    # the thread it waited for, was cancelled) ended the queue's worker, silently.
    slow = asyncio.Event()
    reply_world.model.respond(Answer("First.", gate=slow), Answer("For the follow-up."))
    await reply_world.say(101, "one")
    await reply_world.model.wait_for_requests(1)
    reply_world.surface.fail_with.append(asyncio.CancelledError())  # the first post is cancelled
    assert await reply_world.say(102, "a follow-up") is Submitted.QUEUED
    slow.set()
    await reply_world.idle()

    assert len(reply_world.model.requests) == 2
    assert roles_and_text(reply_world.model.requests[1])[-1] == ("user", "a follow-up")
    assert "For the follow-up." in reply_world.surface.texts
    assert (await reply_world.history())[-1] == ("assistant", "For the follow-up.")
    assert reply_world.replies.queued(1) == 0


async def test_a_message_that_arrives_during_an_outage_is_answered_once_the_database_is_back(
    reply_world,
):
    slept = waits(reply_world)
    outage = Outage(reply_world, times=3)
    reply_world.model.respond(Answer("Back again."))
    assert await reply_world.say(101, "hello?") is Submitted.QUEUED
    await reply_world.idle()

    assert outage.calls == 3 and slept == [1, 2, 4]
    assert reply_world.surface.typing_count >= 1  # the wait was shown
    assert reply_world.surface.texts == ["Back again."]
    assert reply_world.surface.notices == []
    assert await reply_world.history() == [("user", "hello?"), ("assistant", "Back again.")]


async def test_a_retry_after_a_write_that_committed_continues_with_that_turn(reply_world):
    waits(reply_world)
    Outage(reply_world, times=1, after_commit=True)
    reply_world.model.respond(Answer("Answered once."))
    assert await reply_world.say(101, "hello?") is Submitted.QUEUED
    await reply_world.idle()

    assert len(reply_world.model.requests) == 1
    assert reply_world.surface.texts == ["Answered once."]
    assert await reply_world.history() == [("user", "hello?"), ("assistant", "Answered once.")]
    # The gateway delivering it again is still a duplicate.
    assert await reply_world.say(101, "hello?") is Submitted.DUPLICATE


async def test_an_outage_longer_than_the_retries_tells_the_person_to_send_it_again(reply_world):
    slept = waits(reply_world)
    Outage(reply_world, times=100)
    assert await reply_world.say(101, "hello?") is Submitted.NOT_SAVED
    await reply_world.idle()

    assert slept == [1, 2, 4, 8]
    assert reply_world.surface.notices == [texts.not_saved]
    assert reply_world.model.requests == []
    assert await reply_world.history() == []


async def test_order_holds_while_the_first_message_waits_for_the_database(reply_world):
    gate, asleep = asyncio.Event(), asyncio.Event()

    async def sleep(seconds: float) -> None:
        asleep.set()
        await gate.wait()

    reply_world.replies.retry_delays, reply_world.replies.sleep = (1,), sleep
    Outage(reply_world, times=1)
    reply_world.model.respond(Answer("Both."))
    first = asyncio.create_task(reply_world.say(101, "first"))
    await asleep.wait()
    second = asyncio.create_task(reply_world.say(102, "second"))
    await asyncio.sleep(0)
    gate.set()
    assert await first is Submitted.QUEUED and await second is Submitted.QUEUED
    await reply_world.idle()

    assert (await reply_world.history())[:2] == [("user", "first"), ("user", "second")]


async def test_a_reply_that_cannot_start_during_an_outage_starts_once_it_is_back(reply_world):
    waits(reply_world)
    outage = Outage(reply_world, times=2, role="assistant")
    reply_world.model.respond(Answer("Late but here."))
    assert await reply_world.say(101, "hello?") is Submitted.QUEUED
    await reply_world.idle()

    assert outage.calls == 2
    assert reply_world.surface.texts == ["Late but here."]
    turns = await reply_world.store.newest_turns(1, limit=10)
    assert [t.status for t in turns] == [TurnStatus.COMPLETE, TurnStatus.COMPLETE]


async def test_a_reply_that_never_starts_tells_the_person(reply_world):
    waits(reply_world)
    Outage(reply_world, times=100, role="assistant")
    assert await reply_world.say(101, "hello?") is Submitted.QUEUED
    await reply_world.idle()

    assert reply_world.surface.notices == [texts.not_answered]
    assert reply_world.model.requests == []
    assert await reply_world.history() == [("user", "hello?")]  # kept: a later reply answers it


class Proxy:
    """A TCP proxy on 127.0.0.1 to the PostgreSQL server that can be cut (connections dropped,
    new ones refused) and restored on the same port."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self.server: asyncio.Server | None = None
        self.pipes: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in list(self.pipes):
            writer.transport.abort()
        await self.server.wait_closed()

    async def _serve(self, reader, writer) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self.pipes.update((writer, up_writer))

        async def pipe(source, sink) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except OSError:
                pass
            finally:
                sink.transport.abort()
                self.pipes.discard(sink)

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


async def test_a_postgresql_outage_mid_conversation_is_waited_out(pg_database):
    from urllib.parse import urlsplit, urlunsplit

    from bot.services.store import PostgresStore

    from .fakes import make_world

    url = urlsplit(pg_database.url)
    proxy = Proxy(url.hostname or "127.0.0.1", url.port or 5432)
    await proxy.start()
    netloc = f"{url.username}@127.0.0.1:{proxy.port}" if url.username else f"127.0.0.1:{proxy.port}"
    store = PostgresStore(
        urlunsplit(url._replace(netloc=netloc)), pool_size=2, schema=pg_database.schema,
        application_name=pg_database.application_name,
    )  # fmt: skip
    reply_world = await make_world(store=store)
    try:
        reply_world.model.respond(Answer("Before."), Answer("After the outage."))
        await reply_world.say(101, "before")
        await reply_world.idle()
        await proxy.cut()  # PostgreSQL refuses connections now

        async def sleep(seconds: float) -> None:
            sleeps.append(seconds)
            if len(sleeps) == 2:
                await proxy.start()  # back on the same port

        sleeps: list[float] = []
        reply_world.replies.retry_delays, reply_world.replies.sleep = (1, 2, 4, 8), sleep
        assert await reply_world.say(102, "during the outage") is Submitted.QUEUED
        await reply_world.idle()

        assert len(sleeps) == 2 and reply_world.surface.typing_count >= 1
        assert reply_world.surface.texts == ["Before.", "After the outage."]
        assert reply_world.surface.notices == []
        assert await reply_world.history() == [
            ("user", "before"), ("assistant", "Before."),
            ("user", "during the outage"), ("assistant", "After the outage."),
        ]  # fmt: skip
    finally:
        await reply_world.replies.drain(1)
        await store.close()
        await proxy.cut()


async def test_a_sqlite_database_locked_longer_than_its_busy_timeout_is_waited_out(tmp_path):
    import sqlite3

    from bot.services.store import SQLiteStore

    from .fakes import make_world

    path = tmp_path / "bot.sqlite3"
    store = SQLiteStore(str(path))
    reply_world = await make_world(store=store)
    await store.db.execute("PRAGMA busy_timeout = 50")  # the test's stand-in for 10 s
    locker = sqlite3.connect(path, isolation_level=None)
    try:
        locker.execute("BEGIN EXCLUSIVE")  # a backup or VACUUM holding the database

        async def sleep(seconds: float) -> None:
            sleeps.append(seconds)
            if len(sleeps) == 3:
                locker.execute("COMMIT")

        sleeps: list[float] = []
        reply_world.replies.retry_delays, reply_world.replies.sleep = (1, 2, 4, 8), sleep
        reply_world.model.respond(Answer("Unlocked."))
        assert await reply_world.say(101, "while locked") is Submitted.QUEUED
        await reply_world.idle()

        assert len(sleeps) == 3 and reply_world.surface.typing_count >= 1
        assert reply_world.surface.texts == ["Unlocked."]
        assert await reply_world.history() == [("user", "while locked"), ("assistant", "Unlocked.")]
    finally:
        locker.close()
        await reply_world.replies.drain(1)
        await store.close()
