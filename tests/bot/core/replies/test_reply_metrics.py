"""What the reply lifecycle reports to metrics: each reply's outcome once, its latency on the
reply's clock, its tokens, refusals by limit, and the replies waiting to start."""

from __future__ import annotations

import asyncio
import dataclasses

from bot.core.llm import Failure, LLMError
from bot.core.metrics import Outcome
from bot.core.ratelimit import Limit
from tests.fakes.recording import Recorder

from .fakes import Answer, Clock, World, make_world


async def with_recorder(reply_world: World) -> Recorder:
    recorder = Recorder()
    reply_world.replies.deps = dataclasses.replace(reply_world.replies.deps, metrics=recorder)
    return recorder


async def test_a_complete_reply_reports_latency_tokens_and_its_outcome(reply_world, clock):
    recorder = await with_recorder(reply_world)
    gate = asyncio.Event()
    reply_world.model.respond(Answer("Paris, of course.", gate=gate))
    clock.now = 10.0
    await reply_world.say(101, "capital of France?")
    await reply_world.model.wait_for_requests(1)
    clock.now = 11.5  # the model takes 1.5 s to its first token, then streams at once
    gate.set()
    await reply_world.idle()

    assert recorder.named("first_token") == [(1.5,)]
    assert recorder.named("reply_finished") == [(Outcome.COMPLETE, "", 1.5)]
    [(prompt, completion)] = recorder.named("model_tokens")
    assert prompt > 0 and completion == 5  # counted locally: the fake reports no usage


async def test_a_failed_reply_reports_its_cause_and_no_first_token(reply_world):
    recorder = await with_recorder(reply_world)
    reply_world.model.respond(Answer(error=LLMError(Failure.QUOTA, "HTTP 429 insufficient_quota")))
    await reply_world.say(101, "question")
    await reply_world.idle()
    assert recorder.named("reply_finished") == [(Outcome.FAILED, "quota", 0.0)]
    assert recorder.named("first_token") == recorder.named("model_tokens") == []


async def test_a_stopped_reply_is_stopped(reply_world):
    recorder = await with_recorder(reply_world)
    gate = asyncio.Event()
    reply_world.model.respond(Answer("Half of it", pause=gate))
    await reply_world.say(101, "question")
    await reply_world.shown()
    await reply_world.replies.forget(101, channel_id=1)  # the question was deleted
    await reply_world.idle()
    assert [outcome for outcome, *_ in recorder.named("reply_finished")] == [Outcome.STOPPED]
    assert len(recorder.named("first_token")) == 1


async def test_a_refusal_is_reported_by_limit_and_is_no_reply():
    clock = Clock()
    reply_world = await make_world(guild_rpm=1, clock=clock)
    recorder = await with_recorder(reply_world)
    await reply_world.say(101, "one")
    await reply_world.idle()
    await reply_world.say(102, "two")
    await reply_world.idle()
    assert recorder.named("refused") == [(Limit.SERVER_REQUESTS,)]
    assert len(recorder.named("reply_finished")) == 1
    await reply_world.store.close()


async def test_replies_waiting_to_start_are_counted(reply_world):
    gate = asyncio.Event()
    reply_world.model.respond(Answer("First.", gate=gate))
    await reply_world.say(101, "one")
    await reply_world.model.wait_for_requests(1)
    assert reply_world.replies.waiting_replies() == 0  # the running reply is not waiting
    await reply_world.say(102, "two")
    await reply_world.say(103, "three")  # the same conversation: one reply will answer both
    assert reply_world.replies.waiting_replies() == 1
    gate.set()
    await reply_world.idle()
    assert reply_world.replies.waiting_replies() == 0
