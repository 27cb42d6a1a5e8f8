"""Memory is bounded by what is live, not by what happened: every structure that grows with
people, channels, conversations or model names, fed ten times its bound, stays at its bound."""

from __future__ import annotations

import pytest

from bot.core import i18n, texts
from bot.core.bounded import LRU
from bot.core.conversation_index import ConversationIndex
from bot.core.i18n import KnownLocales
from bot.core.models import MODELS_KEPT, Models
from bot.core.notices import NOTICE_PEOPLE, NoticeThrottle
from bot.core.pacing import IDLE_SWEEP, SWEEP_EVERY, Pacer
from bot.core.ratelimit.local import MAX_BUCKETS, LocalLimiter
from bot.core.summaries import FAILURES_KEPT, Summarizer
from bot.core.tokens import TokenCounter
from bot.services.metrics import PrometheusMetrics
from tests.bot.services.test_metrics import scraped
from tests.fakes.clock import Clock

COUNTER = TokenCounter.for_model("gpt-4o-mini")


def test_an_lru_keeps_the_most_recently_used():
    lru: LRU[int, int] = LRU(100)
    for key in range(1_000):
        lru[key] = key
        lru.touch(0)  # read all along: kept
    assert len(lru) == 100
    assert 0 in lru and 999 in lru and 1 not in lru and 899 not in lru
    with pytest.raises(ValueError):
        LRU(0)


def test_known_locales_keep_the_people_seen_last():
    locales = KnownLocales(capacity=1_000)
    for user_id in range(10_000):
        locales.remember(user_id, "zh-CN")
    assert len(locales) == 1_000
    assert locales.get(9_999) == "zh-CN" and locales.get(0) is None
    assert KnownLocales().capacity == i18n.LOCALES_KEPT


def test_translations_are_one_per_language_whatever_the_locales_seen():
    for n in range(100):
        texts.for_locale(f"xx-{n}")
        texts.for_locale("zh-CN")
    assert i18n.translations.cache_info().currsize <= len(i18n.LANGUAGES)
    assert texts.for_language.cache_info().currsize <= len(i18n.LANGUAGES)


def test_the_notice_throttle_forgets_past_its_bound_and_after_its_window():
    clock = Clock()
    throttle = NoticeThrottle(every=300, clock=clock)
    for user_id in range(10 * NOTICE_PEOPLE):  # a flood of refused people, all at once
        assert throttle.should_tell(user_id)
    assert len(throttle) == NOTICE_PEOPLE
    assert not throttle.should_tell(10 * NOTICE_PEOPLE - 1)  # the newest are still throttled
    clock.now = 301
    assert throttle.should_tell(1)
    assert len(throttle) == 1  # the rest were told long ago: forgotten


async def test_model_profiles_for_names_anyone_typed_are_bounded():
    models = Models(default="gpt-4o-mini", context_tokens=8192)
    models.add("gpt-4o-mini", COUNTER)
    for n in range(10 * MODELS_KEPT):
        await models.get(f"made-up-model-{n}")
        await models.get("gpt-4o-mini")  # in use all along: kept
    assert len(models._models) == MODELS_KEPT
    assert "gpt-4o-mini" in models._models
    models.shrink("made-up-model-0", 100_000)  # forgotten meanwhile: nothing to shrink, no error
    assert (await models.get("made-up-model-0")).name == "made-up-model-0"


def test_rate_limit_buckets_are_bounded_by_who_is_active():
    clock = Clock()
    limiter = LocalLimiter(guild_rpm=0, guild_tpm=0, user_rpm=60, clock=clock)
    for user_id in range(10 * MAX_BUCKETS):  # a new person every second
        assert limiter.decide(5, user_id, 10).ticket is not None
        clock.now += 1.0
    assert len(limiter._users) <= MAX_BUCKETS


def test_the_conversation_index_stays_within_its_capacity():
    index = ConversationIndex(capacity=100)
    for channel_id in range(1_000):
        index.remember(channel_id, channel_id % 2 == 0)
    assert len(index) == 100


def test_the_pacer_forgets_idle_channels_but_not_a_full_edit_window():
    clock = Clock()
    pacer = Pacer(clock=clock)
    busy = -1
    for _ in range(5):  # Discord's window for this channel is full for the next 6 s
        assert pacer.edit_slot(busy, final=True) == (True, 0.0)
    clock.now = 3.0  # no edit ahead in it any more, but its window is still full
    for channel_id in range(2 * IDLE_SWEEP):  # a sweep
        assert pacer.edit_slot(channel_id, final=True)[0]
    assert pacer.edit_slot(busy, final=True) == (True, 3.0)  # not forgotten: it waits
    for channel_id in range(10 * IDLE_SWEEP):
        pacer.posted(channel_id)
        assert pacer.edit_slot(channel_id, final=True)[0]
        clock.now += 1.0
    recent = SWEEP_EVERY + pacer.edit_window  # channels edited since the last sweep, or before
    assert len(pacer._channel_next) <= IDLE_SWEEP + recent
    assert len(pacer._edit_log) <= IDLE_SWEEP + recent


async def test_failed_summaries_are_remembered_within_a_bound():
    class Failing:
        async def get_conversation(self, conversation_id):
            raise AssertionError("not called")

    summarizer = Summarizer(Failing(), COUNTER, None, max_tokens=100)  # type: ignore[arg-type]
    for conversation_id in range(10 * FAILURES_KEPT):
        summarizer._failed_at[conversation_id] = float(conversation_id)
    assert len(summarizer._failed_at) == FAILURES_KEPT


def test_metric_labels_come_from_fixed_sets():
    metrics = PrometheusMetrics()
    for n in range(100):
        metrics.discord_429(f"scope-{n}")  # Discord's header is outside input
    metrics.discord_429("user")
    scopes = {
        dict(labels)["scope"]
        for (name, labels), _ in scraped(metrics).items()
        if name == "threadbot_discord_http_429_total"
    }
    assert scopes == {"other", "user"}
