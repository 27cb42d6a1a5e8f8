"""Every text in every language: each English text has a translation in each catalog, with the
same placeholders, and nothing in a catalog is left over from texts that no longer exist."""

from __future__ import annotations

import inspect
import re
import string

import pytest
from babel.messages.pofile import read_po
from discord import app_commands

from bot.core import i18n, policy, texts
from bot.core.llm import Failure
from bot.core.ratelimit import Limit
from bot.core.refusal import Refusal
from bot.core.store import Scope, UsageTotals
from bot.core.toolbox import Offered, Switch
from bot.core.tools import Tool
from cogs.commands import ChatCommands
from cogs.models import ModelCommands
from cogs.personas import PersonaCommands
from cogs.tools import ToolCommands
from cogs.voice import VoiceCommands

SAMPLE_ROWS = [("You, today", UsageTotals(1, 2, 3, 1, 0.5)), ("You, this month", UsageTotals(2, 1, 0)),
               ("Server, today", UsageTotals()), ("Server, this month", UsageTotals())]  # fmt: skip


def used_texts() -> list[str]:
    """Every English text the bot can show: each Texts member is called, with sample values
    that reach every branch, plus permission names and slash command descriptions."""
    seen: list[str] = []

    def record(text: str) -> str:
        seen.append(text)
        return text

    said = texts.Texts("record", record)
    for name, member in inspect.getmembers(texts.Texts):
        if isinstance(member, property):
            getattr(said, name)
    for seconds in (0, 5):
        said.thinking(seconds)
    said.cannot_open_thread(["a", "b"])
    said.cannot_post("a")
    for failure in Failure:
        said.failure(failure)
    said.internal_error()
    for state in ("running", "asking", "done", "failed", "refused"):
        said.tool_line("fetch", "example.com", state, 1.25)
    said.tool_lines_left_out(3)
    said.tools_footer(["fetch", "now"])
    said.consent_question(7, "delete", "files", "`{}`")
    for answer in ("allowed", "denied", "timeout"):
        said.consent_answered("delete", answer)
    for limit in (*Limit, None):  # every limit, and none named
        said.rate_limited(limit, 10)
        said.rate_limited(limit, 200)
    said.needs_permission("a")
    said.needs_permission("a", owner=True)
    said.reset_done("n")
    said.persona_too_long(1, 2)
    for scope in Scope:
        said.persona_set(scope)
        said.persona_cleared(scope)
    for source in (*Scope, None):
        said.persona_shown("x", source)
    said.usage_table(SAMPLE_ROWS)
    for source in (*Scope, None):
        said.model_shown("m", source, 1000, True)
    said.model_shown("m", None, 1000, False)
    said.model_set(Scope.GUILD, "m")
    said.model_cleared(Scope.GUILD)
    said.model_not_allowed("m", ("a", "b"))
    for reason in (
        Refusal.MODEL_UNLISTED,
        Refusal.MODEL_NOT_OPEN,
        Refusal.MODEL_NEEDS_MANAGE_SERVER,
    ):
        said.model_refused("m", reason, ("a",))
    said.model_ignored("m")
    said.model_unpriced("m")
    for limit, seconds in ((Limit.USER_BUDGET, 11_520), (Limit.SERVER_BUDGET, 30)):
        said.over_budget(limit, seconds)
    said.spend_today(0.5, 1.0, 2.0, None)
    said.spend_today(0.5, None, None, None)
    said.forgotten(3)
    tool = Tool("s", "t", "s__t", "", {}, acts=False)
    asks = Tool("s", "u", "s__u", "", {}, acts=True)
    said.tools_shown([Offered("s", (tool, asks), Switch(on, source))
                      for source in (Scope.CHANNEL, Scope.GUILD, None)
                      for on in (True, False)])  # fmt: skip
    for scope in (Scope.CHANNEL, Scope.GUILD):
        for on in (True, False):
            said.tools_switched("s", on, scope)
            said.tools_cleared("s", scope, on)
    said.tools_unknown("s")
    said.asked_about("u", "https://discord.com/channels/1/2/3", "why?")
    for scope in Scope:
        for on in (True, False):
            said.voice_set(scope, on)
    for source in (*Scope, None):
        said.voice_shown(True, source)
    said.voice_shown(False, None)
    for reason in (Refusal.NO_SPEECH, Refusal.TOO_LONG, Refusal.BROKEN, Refusal.BUSY,
                   Refusal.SPEECH_REFUSED, Refusal.SPEECH_FAILED, Refusal.SILENT,
                   Refusal.LIMITED, Refusal.OVER_BUDGET, Refusal.UNPRICED):  # fmt: skip
        said.audio_refused(reason, 300)
        said.speak_failed(reason)
    for reason in (Refusal.BUSY, Refusal.SPEECH_REFUSED, Refusal.SPEECH_FAILED):
        said.speak_failed(reason)
    for reason in (Refusal.BLOCKED, Refusal.DMS, Refusal.GUILD, Refusal.CHANNEL, Refusal.ROLE,
                   Refusal.MEMBERS, Refusal.UNCHECKED):  # fmt: skip
        said.refused(reason)  # (an image's refusal is never said)
    seen += policy.LABELS.values()
    cogs = (ChatCommands, PersonaCommands, ModelCommands, ToolCommands, VoiceCommands)
    for command in (c for cog in cogs for c in cog.__cog_app_commands__):
        seen.append(command.description)
        children = command.commands if isinstance(command, app_commands.Group) else [command]
        for child in children:
            seen.append(child.description)
            for parameter in child.parameters:
                seen += [parameter.description, *(choice.name for choice in parameter.choices)]
    return list(dict.fromkeys(text for text in seen if text not in ("a", "b")))


def test_the_time_until_a_budget_resets_reads_in_hours_and_minutes():
    english, chinese = texts.for_locale(None), texts.for_locale("zh-CN")
    assert english.duration(3 * 3600 + 12 * 60) == "3 h 12 min"
    assert english.duration(11 * 60 + 1) == "12 min"  # rounded up: never "0 min"
    assert english.duration(0.2) == "1 min"
    assert chinese.duration(3 * 3600 + 12 * 60) == "3 小时 12 分钟"
    assert english.over_budget(Limit.USER_BUDGET, 11_520).endswith("in 3 h 12 min.")


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def catalog(language: str):
    with i18n.catalog_path(language).open("rb") as po:
        return {m.id: m.string for m in read_po(po) if m.id}


TRANSLATED = [language for language in i18n.LANGUAGES if language != i18n.DEFAULT]


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_text_is_translated_with_the_same_placeholders(language):
    translations = catalog(language)
    for text in used_texts():
        assert translations.get(text), f"{language} lacks: {text!r}"
        assert fields(translations[text]) == fields(text), text


@pytest.mark.parametrize("language", TRANSLATED)
def test_no_catalog_entry_is_left_over(language):
    assert set(catalog(language)) - set(used_texts()) == set()


def test_unsupported_locales_get_english_and_chinese_gets_chinese():
    assert texts.for_locale("fr").stopped == texts.for_locale(None).stopped == "*(stopped)*"
    chinese = texts.for_locale("zh-CN")
    assert chinese.stopped == "*（已停止）*"
    assert re.search(r"[\u4e00-\u9fff]", chinese.rate_limited(Limit.SERVER_REQUESTS, 30))
    assert texts.is_placeholder(chinese.thinking(4)) and texts.is_placeholder(chinese.retrying)
