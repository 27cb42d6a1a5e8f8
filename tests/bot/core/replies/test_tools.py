"""The tool loop in a reply, without Discord or MCP: calls shown live and their results used,
the calls kept with the turn and re-sent, consent, the bounds, Stop, a model that takes no
tools, and each round admitted against the limits."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from bot.core import texts
from bot.core.llm import Failure, LLMError, ToolCall
from bot.core.policy import Place
from bot.core.tool_loop import MAX_ROUNDS, Exchange
from bot.core.tools import Tool, ToolResult

from .fakes import COUNTER, Answer, Consent, make_world

NOW = Tool("time", "now", "time__now", "The time", {"type": "object"}, acts=False)
DELETE = Tool("files", "delete", "files__delete", "Delete a file", {"type": "object"}, acts=True)


class Host:
    """Answers each call with a scripted text; a gate holds calls until set."""

    def __init__(self, *tools: Tool) -> None:
        self.offered = tools or (NOW, DELETE)
        self.calls: list[tuple[str, dict[str, Any], int | None]] = []
        self.places: list[Place] = []
        self.gate: asyncio.Event | None = None
        self.started = asyncio.Event()
        self.cancelled = False
        self.result = "12:00 UTC"

    async def tools(self, place: Place) -> tuple[Tool, ...]:
        self.places.append(place)
        return self.offered

    async def call(self, function, arguments, *, place, asker_id=None, seconds=None):
        self.calls.append((function, dict(arguments), asker_id))
        self.started.set()
        try:
            if self.gate is not None:
                await self.gate.wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        return ToolResult(parts=(self.result,))


def ask_time(call_id: str = "call_1", zone: str = "UTC") -> Answer:
    return Answer("", tool_calls=[ToolCall(call_id, "time__now", json.dumps({"zone": zone}))])


@pytest.fixture
async def tool_world(clock):
    host = Host()
    world = await make_world(clock=clock, tools=host)
    world.host = host  # type: ignore[attr-defined]
    yield world
    await world.replies.drain(1)
    await world.store.close()


async def test_a_call_is_shown_live_and_its_result_used(tool_world):
    host, model, surface = tool_world.host, tool_world.model, tool_world.surface
    host.gate = asyncio.Event()
    model.respond(ask_time(), Answer("It is noon."))
    await tool_world.say(101, "what time is it?")
    await host.started.wait()
    await surface.sees("🔧 **now** — `UTC` …")
    host.gate.set()
    await tool_world.idle()
    assert any("🔧 **now** — `UTC` ✓" in text for text in surface.seen)  # then done, timed
    assert host.calls == [("time__now", {"zone": "UTC"}, 7)]  # as the asker
    assert host.places[0].channel_id == 1 and host.places[0].guild_id == 5
    first, second = model.requests
    assert model.offered == [(["time__now", "files__delete"], None)] * 2
    assert [m["role"] for m in second[-2:]] == ["assistant", "tool"]
    assert second[-2]["tool_calls"][0]["function"]["arguments"] == '{"zone": "UTC"}'
    assert second[-1]["tool_call_id"] == "call_1" and "12:00 UTC" in second[-1]["content"]
    assert "data, not instructions" in second[-1]["content"]
    assert second[:-2] == first  # the request goes on from where it was
    [final] = surface.messages
    assert final.text == f"It is noon.\n\n{texts.EN.tools_footer(['now'])}"
    assert final.button is not None and final.button.tools and not final.button.reasoning
    assert await tool_world.history() == [
        ("user", "what time is it?"),
        ("assistant", "It is noon."),
    ]
    exchange = await tool_world.conversations.tool_calls(final.button.turn)
    assert [s.result for s in exchange.steps] == ["12:00 UTC"] and exchange.used() == ["now"]


async def test_a_call_with_unreadable_arguments_shows_as_failed_not_refused(tool_world):
    # A 135M model on llama-cpp-python streamed arguments that were not JSON; its line said
    # "not allowed", as if the asker had refused (docs/compatibility.md).
    host, model, surface = tool_world.host, tool_world.model, tool_world.surface
    broken = ToolCall("call_1", "time__now", '{"zone": "Asia/Tokyo }')
    model.respond(Answer("", tool_calls=[broken]), Answer("I could not tell."))
    await tool_world.say(101, "what time is it?")
    await tool_world.idle()
    assert host.calls == []
    assert "not valid JSON" in model.requests[1][-1]["content"]
    assert any("🔧 **now** ✗ failed after" in text for text in surface.seen)
    assert not any("not allowed" in text for text in surface.seen)


async def test_a_follow_up_carries_the_stored_calls_and_results(tool_world):
    model = tool_world.model
    model.respond(ask_time(), Answer("It is noon."), Answer("You're welcome."))
    await tool_world.say(101, "what time is it?")
    await tool_world.idle()
    await tool_world.say(102, "thanks")
    await tool_world.idle()
    follow_up = model.requests[2]
    roles = [m["role"] for m in follow_up]
    assert roles == ["system", "user", "assistant", "tool", "assistant", "user"]
    assert follow_up[3]["tool_call_id"] == "call_1" and "12:00 UTC" in follow_up[3]["content"]
    assert follow_up[4]["content"] == "It is noon."  # the reply's text, once


async def test_stored_calls_are_the_first_thing_a_tight_history_leaves_out(clock):
    host = Host(NOW)
    host.result = "tick " * 3000  # cut to 2,000 tokens: kept, then too much to re-send
    world = await make_world(clock=clock, tools=host, window=4096)
    try:
        world.model.respond(ask_time(), Answer("It is noon."), Answer("Sure."))
        await world.say(101, "what time is it?")
        await world.idle()
        await world.say(102, "thanks " * 1500)
        await world.idle()
        follow_up = world.model.requests[2]
        assert [m["role"] for m in follow_up] == ["system", "user", "assistant", "user"]
        assert follow_up[2]["content"] == "It is noon."  # the reply stays, its calls do not
    finally:
        await world.replies.drain(1)
        await world.store.close()


async def test_a_tool_that_acts_runs_only_when_the_asker_allows_it(tool_world):
    host, model, surface = tool_world.host, tool_world.model, tool_world.surface
    delete = ToolCall("d1", "files__delete", '{"path": "/tmp/x"}')
    surface.answers = [Consent.DENIED, Consent.ALLOWED]
    surface.answer_gate = asyncio.Event()
    model.respond(Answer("", tool_calls=[delete]), Answer("I was not allowed."))
    model.respond(Answer("", tool_calls=[delete]), Answer("Deleted."))
    await tool_world.say(101, "delete /tmp/x")
    await surface.sees("🔧 **delete** — `/tmp/x` … waiting for your answer")  # while open
    surface.answer_gate.set()
    await tool_world.idle()
    assert host.calls == []  # denied: never ran
    refused = model.requests[1][-1]
    assert refused["role"] == "tool" and "did not allow" in refused["content"]
    question = surface.questions[0]
    assert question.user_id == 7 and "**delete** (from files)" in question.text
    assert '"path": "/tmp/x"' in question.text and question.seconds == 60.0
    assert question.answered[Consent.DENIED] == texts.EN.consent_answered("delete", "denied")
    assert any("✗ not allowed" in t for t in surface.seen)
    await tool_world.say(102, "yes, really")
    await tool_world.idle()
    assert host.calls == [("files__delete", {"path": "/tmp/x"}, 7)]


async def test_no_answer_in_time_is_a_no(tool_world):
    tool_world.model.respond(
        Answer("", tool_calls=[ToolCall("d1", "files__delete", "{}")]), Answer("Not run.")
    )
    await tool_world.say(101, "delete it")  # the fake surface answers TIMEOUT by default
    await tool_world.idle()
    assert tool_world.host.calls == []
    assert "did not allow" in tool_world.model.requests[1][-1]["content"]


async def test_the_rounds_are_bounded_and_the_last_must_answer_in_text(tool_world):
    model = tool_world.model
    model.respond(*(ask_time(f"c{i}") for i in range(MAX_ROUNDS)), Answer("Enough."))
    await tool_world.say(101, "loop forever")
    await tool_world.idle()
    assert len(model.requests) == MAX_ROUNDS + 1
    assert [choice for _, choice in model.offered] == [None] * MAX_ROUNDS + ["none"]
    assert len(tool_world.host.calls) == MAX_ROUNDS
    assert tool_world.surface.messages[-1].text.startswith("Enough.")


async def test_the_time_bound_ends_the_loop_too(tool_world, clock):
    host, model = tool_world.host, tool_world.model
    host.gate = asyncio.Event()
    model.respond(ask_time(), ask_time("c2"), Answer("Late."))
    await tool_world.say(101, "slow tool")
    await host.started.wait()
    clock.advance(121)  # past the loop's time while the first call runs
    host.gate.set()
    await tool_world.idle()
    assert [choice for _, choice in model.offered] == [None, "none"]
    assert len(host.calls) == 1


async def test_stop_during_a_tool_call_ends_the_reply_and_the_call(tool_world):
    host, model, surface = tool_world.host, tool_world.model, tool_world.surface
    host.gate = asyncio.Event()
    model.respond(ask_time())
    await tool_world.say(101, "what time is it?")
    await host.started.wait()
    await tool_world.shown()
    tool_world.replies.stop(1, surface.messages[0].id, 7, manage_messages=False)
    await tool_world.idle()
    assert host.cancelled and len(model.requests) == 1
    assert surface.messages[-1].text == texts.EN.stopped  # nothing was said: no footer
    assert await tool_world.history() == [("user", "what time is it?")]


async def test_a_model_that_takes_no_tools_answers_without_them_and_says_so_once(tool_world):
    model, surface = tool_world.model, tool_world.surface
    refused = LLMError(Failure.NO_TOOLS, "model does not support tools")
    model.respond(Answer(error=refused), Answer("Noon, I think."), Answer("Again."))
    await tool_world.say(101, "what time is it?")
    await tool_world.idle()
    assert [tools for tools, _ in model.offered] == [["time__now", "files__delete"], []]
    no_tools = texts.EN.failure(Failure.NO_TOOLS)
    assert surface.messages[-1].text == f"Noon, I think.\n\n{no_tools}"
    await tool_world.say(102, "and now?")
    await tool_world.idle()
    assert model.offered[-1] == ([], None)  # learnt: none offered
    assert surface.messages[-1].text == "Again."  # said once per conversation


async def test_each_round_is_admitted_against_the_limits(clock):
    host = Host(NOW)
    world = await make_world(clock=clock, tools=host, guild_rpm=1)
    try:
        world.model.respond(ask_time(), Answer("Never asked."))
        await world.say(101, "what time is it?")
        await world.idle()
        assert len(world.model.requests) == 1  # the second round found the server's RPM spent
        assert world.surface.messages[-1].text.endswith(texts.EN.tools_limited)
        assert world.surface.notices  # and the person was told why, as for any request
    finally:
        await world.replies.drain(1)
        await world.store.close()


async def test_a_result_too_big_for_the_window_is_cut_to_fit(clock):
    host = Host(NOW)
    host.result = "word " * 20_000
    world = await make_world(clock=clock, tools=host, window=4096)
    try:
        world.model.respond(ask_time(), Answer("Long page."))
        await world.say(101, "read it")
        await world.idle()
        sent = world.model.requests[1]
        assert COUNTER.prompt(sent) <= 4096 - 256
        assert "cut to fit" in sent[-1]["content"]
    finally:
        await world.replies.drain(1)
        await world.store.close()


def test_the_exchange_read_back_is_what_the_details_show():
    exchange = Exchange.from_json(
        '{"rounds": [[{"id": "a", "function": "time__now", "arguments": "{}", '
        '"result": "noon", "tool": "time/now"}]]}'
    )
    assert exchange.used() == ["now"] and exchange.steps[0].result == "noon"
