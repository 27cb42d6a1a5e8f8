"""Daily spending budgets in money (bot.core.ratelimit.spending), with a wall clock the tests move."""

from __future__ import annotations

import pytest

from bot.core.choices import Chosen
from bot.core.models import Models, Price
from bot.core.notices import NoticeThrottle
from bot.core.policy import model_choice_refusal
from bot.core.ratelimit import Limit
from bot.core.ratelimit.spending import DAY, LocalSpending, day_of, until_midnight
from bot.core.refusal import Refusal
from bot.core.store import Scope, ScopedChoices
from tests.fakes.clock import Clock

NOON = 20_000 * DAY + 12 * 3600  # a UTC noon, in seconds since the epoch


def test_the_day_and_its_end_are_utc():
    assert day_of(NOON) == 20_000 and until_midnight(NOON) == 12 * 3600
    assert day_of(20_001 * DAY - 0.001) == 20_000 and day_of(20_001 * DAY) == 20_001
    assert until_midnight(20_001 * DAY) == DAY


async def test_reserve_the_worst_case_then_settle_what_it_cost():
    spending = LocalSpending(1.00, None, clock=Clock(NOON))
    first = await spending.reserve(7, None, 0.60)  # the worst case: prompt + whole allowance
    assert first.hold is not None and first.hold.amount == 0.60
    assert await spending.spent(7, None) == (0.60, 0.0)
    # A second worst case does not fit beside the first while it is reserved...
    refused = await spending.reserve(7, None, 0.60)
    assert (
        refused.hold is None
        and refused.over == Limit.USER_BUDGET
        and refused.resets_in == 12 * 3600
    )
    await spending.settle(first.hold, 0.10)  # ...and does once the first cost only 0.10
    assert await spending.spent(7, None) == pytest.approx((0.10, 0.0))
    assert (await spending.reserve(7, None, 0.60)).hold is not None
    assert (await spending.reserve(8, None, 0.60)).hold is not None  # another person: their own


async def test_a_server_budget_counts_everyone_in_it_and_summaries():
    spending = LocalSpending(None, 1.00, clock=Clock(NOON))
    assert (await spending.reserve(7, 5, 0.50)).hold is not None
    await spending.charge(0, 5, 0.30)  # a summary: charged to the server
    refused = await spending.reserve(8, 5, 0.30)
    assert refused.hold is None and refused.over == Limit.SERVER_BUDGET
    assert (await spending.reserve(8, 6, 0.30)).hold is not None  # another server
    assert (await spending.reserve(8, None, 5.00)).hold is not None  # no personal budget
    assert await spending.spent(7, 5) == pytest.approx((0.50, 0.80))


async def test_both_budgets_apply_in_a_server_and_the_persons_follows_them_everywhere():
    spending = LocalSpending(1.00, 10.00, clock=Clock(NOON))
    assert (await spending.reserve(7, 5, 0.70)).hold is not None
    assert (
        await spending.reserve(7, None, 0.70)
    ).over == Limit.USER_BUDGET  # in a DM: the same person
    assert (await spending.reserve(7, 6, 0.70)).over == Limit.USER_BUDGET  # in another server too
    assert await spending.spent(7, 5) == pytest.approx((0.70, 0.70))


async def test_a_new_utc_day_starts_from_nothing_and_a_late_settlement_counts_today():
    wall = Clock(20_001 * DAY - 60)  # one minute to midnight
    spending = LocalSpending(1.00, None, clock=wall)
    hold = (await spending.reserve(7, None, 0.90)).hold
    assert hold is not None
    refused = await spending.reserve(7, None, 0.20)
    assert refused.over == Limit.USER_BUDGET and refused.resets_in == 60
    wall.now += 61  # past midnight
    assert await spending.spent(7, None) == (0.0, 0.0)
    await spending.settle(hold, 0.25)  # the reply began yesterday, ended today: counted today
    assert await spending.spent(7, None) == (0.25, 0.0)
    assert (await spending.reserve(7, None, 0.70)).hold is not None


async def test_a_restart_starts_from_the_stored_spend_once_per_day():
    asked: list[tuple[str, int, int]] = []

    async def seed(kind, number, day):
        asked.append((kind, number, day))
        return 3.00 if kind == "server" else 0.80 if number == 7 else 0.0

    wall = Clock(NOON)
    spending = LocalSpending(1.00, 4.00, seed=seed, clock=wall)
    assert (
        await spending.reserve(7, 5, 0.30)
    ).over == Limit.USER_BUDGET  # 0.80 already spent today
    assert (await spending.reserve(8, 5, 0.30)).hold is not None
    assert (
        await spending.reserve(9, 5, 0.80)
    ).over == Limit.SERVER_BUDGET  # 3.00 + 0.30 + 0.80 > 4
    assert asked == [("user", 7, 20_000), ("server", 5, 20_000), ("user", 8, 20_000),
                     ("user", 9, 20_000)]  # fmt: skip
    wall.now += DAY
    await spending.spent(7, None)
    assert asked[-1] == ("user", 7, 20_001)


async def test_a_store_that_cannot_say_counts_from_zero_rather_than_stop():
    async def seed(kind, number, day):
        raise OSError("database down")

    spending = LocalSpending(1.00, None, seed=seed, clock=Clock(NOON))
    assert (await spending.reserve(7, None, 0.50)).hold is not None
    assert (await spending.reserve(7, None, 0.60)).over == Limit.USER_BUDGET


def test_one_notice_an_hour_per_person_and_the_throttle_is_bounded():
    wall = Clock(NOON)
    throttle = NoticeThrottle(every=3600, clock=wall, maxsize=2)
    assert throttle.should_tell(7) and not throttle.should_tell(7)
    wall.now += 3599
    assert not throttle.should_tell(7)
    wall.now += 1
    assert throttle.should_tell(7)
    assert throttle.should_tell(8) and throttle.should_tell(9)
    assert len(throttle) == 2  # the oldest person was forgotten


def test_a_price_is_dollars_per_million_tokens():
    assert Price(0.15, 0.60).cost(1_000_000, 500_000) == pytest.approx(0.45)


# -- which models may answer, and who may choose them -------------------------------------------


def test_with_models_unset_only_the_default_may_answer():
    models = Models(default="gpt-4o-mini")
    assert models.may_choose("gpt-4o-mini") and not models.may_choose("gpt-4o")
    assert models.allowed == ("gpt-4o-mini",)
    assert model_choice_refusal(
        "gpt-4o", default="gpt-4o-mini", listed=(), open_to_all=(), in_server=True,
        manage_guild=True,
    ) == Refusal.MODEL_UNLISTED  # fmt: skip


@pytest.mark.parametrize(
    ("scoped", "expected"),
    [
        (ScopedChoices(), Chosen("m", None)),
        (ScopedChoices(guild_model="a"), Chosen("a", Scope.GUILD)),
        (ScopedChoices(channel_model="b", guild_model="a"), Chosen("b", Scope.CHANNEL)),
        (ScopedChoices(conversation_model="a", channel_model="b"), Chosen("a", Scope.CONVERSATION)),
        # a choice no longer listed is skipped, and said: the next one up applies
        (
            ScopedChoices(conversation_model="gone", channel_model="b"),
            Chosen("b", Scope.CHANNEL, "gone"),
        ),
        (ScopedChoices(guild_model="gone"), Chosen("m", None, "gone")),
    ],
)
def test_the_model_in_effect(scoped, expected):
    assert Models(default="m", choices=("a", "b")).effective(scoped) == expected
