"""The request budget: never more than the limit in any rolling window; waits instead."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from core.venues.bybit_rate import RateBudget, SlidingWindow


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0
        self.slept: list[float] = []

    def now(self) -> float:
        return self.t

    async def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.t += s


@given(st.lists(st.floats(min_value=0, max_value=0.3), min_size=1, max_size=80))
def test_sliding_window_never_exceeds_its_limit(gaps):
    w = SlidingWindow(5, 1.0)
    t, sent = 0.0, []
    for gap in gaps:
        t += gap
        while (d := w.delay(t)) > 0:  # wait as told, then ask again (as RateBudget.acquire does)
            t += d
        w.take(t)
        sent.append(t)
    for i, start in enumerate(sent):
        assert sum(1 for s in sent[i:] if s - start < 1.0) <= 5


async def test_budget_waits_instead_of_exceeding():
    clock = FakeClock()
    budget = RateBudget({"create": 10}, ip_limit=(1000, 5.0), margin=1.0, now=clock.now, sleep=clock.sleep)
    for _ in range(10):
        await budget.acquire("create")
    assert clock.slept == [] and budget.left("create") == 0
    await budget.acquire("create")  # the 11th waits for the first to leave the window
    assert abs(sum(clock.slept) - 1.0) < 1e-9
    assert budget.left("amend") > 0  # another class is not affected


async def test_ip_budget_spans_all_classes():
    clock = FakeClock()
    budget = RateBudget(ip_limit=(10, 5.0), margin=1.0, now=clock.now, sleep=clock.sleep)
    for cls in ["wallet", "position", None] * 3 + ["create"]:
        await budget.acquire(cls)
    assert clock.slept == []
    await budget.acquire("realtime")
    assert abs(sum(clock.slept) - 5.0) < 1e-9


async def test_server_headers_block_until_reset_within_bounds():
    clock = FakeClock()
    budget = RateBudget(now=clock.now, sleep=clock.sleep)
    budget.observe("create", {"X-Bapi-Limit-Status": "0", "X-Bapi-Limit-Reset-Timestamp": "1300"}, 1000)
    assert budget.left("create") == 0
    await budget.acquire("create")
    assert abs(sum(clock.slept) - 0.3) < 1e-9
    # a reset in the past, or absurdly far away, or garbage: a short, bounded wait
    assert budget.block_until_reset("amend", {"X-Bapi-Limit-Reset-Timestamp": "1"}, 10_000) == 0.05
    assert budget.block_until_reset("amend", {"X-Bapi-Limit-Reset-Timestamp": "99999999"}, 0) == 2.0
    assert budget.block_until_reset("amend", {"X-Bapi-Limit-Reset-Timestamp": "soon"}, 0) == 1.0
    budget.observe("cancel", {"X-Bapi-Limit-Status": "7"}, 0)
    assert budget.left("cancel") <= 7


def test_defaults_stay_under_the_published_limits():
    b = RateBudget()
    assert b.classes["create"].limit == 18 and b.classes["amend"].limit == 9 and b.classes["fee"].limit == 4
    assert (b.ip.limit, b.ip.window_s) == (540, 5.0)


async def test_a_rate_limit_on_market_data_makes_its_retry_wait_too():
    """A 10006 on a public read (no endpoint class) blocks the public lane until the reset: the
    retry waits, as the log says it does (it was re-sent at once, three times)."""
    clock = FakeClock()
    budget = RateBudget(now=clock.now, sleep=clock.sleep)
    assert budget.block_until_reset(None, {"X-Bapi-Limit-Reset-Timestamp": "2500"}, 1000) == 1.5
    assert budget.delay("create") == 0.0  # the account's classes go on
    await budget.acquire(None)
    assert abs(sum(clock.slept) - 1.5) < 1e-9
