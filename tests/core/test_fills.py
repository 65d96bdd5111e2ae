"""Rolling per-side VWAP of our fills and the fill imbalance, with window eviction."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.fills import RecentFills
from core.model import Fill, Side
from tests.builders import examples

WINDOW_MS = 600_000


@pytest.fixture
def fills() -> RecentFills:
    return RecentFills(WINDOW_MS)


def test_empty_window_has_no_anchor(fills):
    assert fills.buy_vwap is None and fills.sell_vwap is None
    assert fills.imbalance_base == 0.0
    assert fills.buy_count == fills.sell_count == 0


def test_vwap_per_side_and_imbalance(fills):
    fills.add(0, Side.BUY, 1.0, 100.0)
    fills.add(1_000, Side.BUY, 3.0, 104.0)
    fills.add(2_000, Side.SELL, 0.5, 110.0)
    fills.add(3_000, Side.SELL, 1.5, 106.0)
    # buy VWAP = (1·100 + 3·104) / 4 = 412 / 4 = 103
    assert fills.buy_vwap == pytest.approx(103.0)
    # sell VWAP = (0.5·110 + 1.5·106) / 2 = (55 + 159) / 2 = 107
    assert fills.sell_vwap == pytest.approx(107.0)
    # imbalance = bought 4 − sold 2 = +2
    assert fills.imbalance_base == pytest.approx(2.0)
    assert (fills.buy_count, fills.sell_count) == (2, 2)


def test_eviction_at_the_window_edge(fills):
    fills.add(0, Side.BUY, 1.0, 100.0)
    fills.add(1_000, Side.BUY, 3.0, 104.0)
    fills.advance(WINDOW_MS)  # cutoff = 0: a fill exactly window old is still inside
    assert fills.buy_count == 2 and fills.buy_vwap == pytest.approx(103.0)
    fills.advance(WINDOW_MS + 1)  # cutoff = 1: the ts 0 fill leaves -> VWAP = 104
    assert fills.buy_count == 1
    assert fills.buy_vwap == pytest.approx(104.0)
    assert fills.buy_qty == pytest.approx(3.0)
    fills.advance(WINDOW_MS + 1_001)  # everything gone
    assert fills.buy_vwap is None and fills.buy_qty == 0.0 and fills.imbalance_base == 0.0


def test_time_never_runs_backwards(fills):
    fills.add(0, Side.SELL, 1.0, 100.0)
    fills.advance(WINDOW_MS + 1)
    assert fills.sell_count == 0
    fills.advance(5)  # an older clock reading does not resurrect anything or move the cutoff back
    fills.add(WINDOW_MS + 2, Side.SELL, 2.0, 101.0)
    assert fills.sell_vwap == pytest.approx(101.0)


def test_late_fill_outside_the_window_is_not_counted():
    """Regression: a fill reported after it already left the window is not counted."""
    f = RecentFills(600)
    f.add(2_000, Side.BUY, 1.0, 100.0)
    f.add(1_000, Side.BUY, 1.0, 200.0)  # reported late; 1000 < 2000 − 600: outside the window
    assert f.buy_vwap == pytest.approx(100.0)
    assert f.buy_count == 1


def test_late_fill_inside_the_window_is_evicted_in_time_order():
    f = RecentFills(600)
    f.add(2_000, Side.BUY, 1.0, 100.0)
    f.add(1_500, Side.BUY, 1.0, 200.0)  # late, but inside: cutoff 2000 − 600 = 1400
    f.add(1_800, Side.BUY, 2.0, 110.0)
    # (100 + 200 + 220) / 4 = 130
    assert f.buy_vwap == pytest.approx(130.0) and f.buy_count == 3
    f.advance(2_200)  # cutoff 1600: the 1500 fill leaves even though it arrived second
    # (100 + 220) / 3 = 106.67
    assert f.buy_count == 2
    assert f.buy_vwap == pytest.approx(320.0 / 3.0)
    assert f.buy_qty == pytest.approx(3.0)


def test_zero_and_negative_qty_ignored(fills):
    fills.add(0, Side.BUY, 0.0, 100.0)
    fills.add(0, Side.BUY, -1.0, 100.0)
    assert fills.buy_count == 0 and fills.buy_vwap is None


def test_add_fill_uses_price_and_qty():
    f = RecentFills(WINDOW_MS)
    fill = Fill(ts_ms=10, exec_id="e1", symbol="BTCUSDT", side=Side.SELL, price=Decimal("60000.5"),
                qty=Decimal("0.002"), fee=Decimal("0.1"), fee_coin="USDT", is_maker=True)
    f.add_fill(fill)
    assert f.sell_vwap == pytest.approx(60000.5)
    assert f.sell_qty == pytest.approx(0.002)
    assert f.imbalance_base == pytest.approx(-0.002)


def test_window_must_be_positive():
    with pytest.raises(ValueError):
        RecentFills(0)


def test_100k_adds_keep_only_the_window():
    """Amortised O(1): every fill enters once and leaves once, so the deques never hold
    more than the window's worth (counted, not timed)."""
    f = RecentFills(1_000)
    n = 100_000
    peak = 0
    for i in range(n):
        ts = i * 10  # one fill every 10 ms, alternating sides
        f.add(ts, Side.BUY if i % 2 == 0 else Side.SELL, 1.0, 100.0 + (i % 7))
        peak = max(peak, f.buy_count + f.sell_count)
    # last ts = 999_990; cutoff = 998_990; fills with ts ≥ cutoff: i = 99_899 … 99_999 -> 101
    assert f.buy_count + f.sell_count == 101
    # i even are buys: 99_900 … 99_998 -> 50; odd sells 99_899 … 99_999 -> 51
    assert (f.buy_count, f.sell_count) == (50, 51)
    assert peak <= 101
    # running sums stay exact for unit sizes: 50 bought − 51 sold
    assert f.buy_qty == 50.0 and f.sell_qty == 51.0
    assert f.imbalance_base == -1.0
    # buy VWAP of the 50 surviving buys: prices 100 + (i % 7) for even i in 99_900..99_998
    expected = sum(100.0 + (i % 7) for i in range(99_900, 100_000, 2)) / 50
    assert f.buy_vwap == pytest.approx(expected, rel=1e-9)


# ---------------------------------------------------------------- next_change_ms (replay's bulk path)

import copy  # noqa: E402

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from core.fills import NEVER_MS  # noqa: E402

SMALL_WINDOW = 1_000


def evicts_at(f: RecentFills, t: int) -> bool:
    """Brute force: would ``advance(t)`` drop a fill? (on a copy)"""
    g = copy.deepcopy(f)
    before = (g.buy_count, g.sell_count)
    g.advance(t)
    return (g.buy_count, g.sell_count) != before


class ReferenceWindow:
    """The timestamps a window should hold, kept the obvious way: a fill counts when it is
    inside the window at the time it is reported, and leaves once ``now - window`` passes it."""

    def __init__(self, window_ms: int) -> None:
        self.window_ms = window_ms
        self.now = 0
        self.ts: list[int] = []

    def advance(self, t: int) -> None:
        self.now = max(self.now, t)
        self.ts = [x for x in self.ts if x >= self.now - self.window_ms]

    def add(self, t: int, qty: float) -> None:
        if qty <= 0 or t < max(self.now, t) - self.window_ms:
            return
        self.ts.append(t)
        self.advance(t)

    def next_change(self) -> int:
        return min(self.ts) + self.window_ms + 1 if self.ts else NEVER_MS


# an operation moves the clock by a (possibly negative) step, then adds a fill or advances
ops_st = st.lists(
    st.tuples(st.sampled_from(["add", "add", "advance"]), st.integers(-1_500, 1_500),
              st.sampled_from([Side.BUY, Side.SELL]), st.sampled_from([1.0, 0.5, 0.0])),
    max_size=60,
)


@settings(max_examples=examples(300), deadline=None, database=None)
@given(ops=ops_st)
def test_next_change_is_the_first_time_advance_evicts(ops):
    """After any mix of fills (late ones included: reported after newer ones, or after their
    time already left the window) and clock advances (backwards ones included),
    ``next_change_ms`` is the first time at which ``advance`` drops a fill: none before, one at."""
    f = RecentFills(SMALL_WINDOW)
    ref = ReferenceWindow(SMALL_WINDOW)
    clock = 10_000
    for kind, step, side, qty in ops:
        clock += step
        if kind == "add":
            f.add(clock, side, qty, 100.0)
            ref.add(clock, qty)
        else:
            f.advance(clock)
            ref.advance(clock)
        nxt = f.next_change_ms()
        assert nxt == ref.next_change()
        assert f.buy_count + f.sell_count == len(ref.ts)
        if nxt == NEVER_MS:
            assert f.buy_count == f.sell_count == 0
            continue
        assert nxt > ref.now  # nothing is due already
        assert evicts_at(f, nxt)
        assert not evicts_at(f, nxt - 1)
        assert not evicts_at(f, ref.now + (nxt - 1 - ref.now) // 2)


def test_next_change_after_a_late_insert_moves_earlier():
    f = RecentFills(600)
    assert f.next_change_ms() == NEVER_MS
    f.add(2_000, Side.BUY, 1.0, 100.0)
    assert f.next_change_ms() == 2_601  # 2000 leaves once the cutoff passes it: now - 600 > 2000
    f.add(1_500, Side.SELL, 1.0, 100.0)  # late, inside the window, on the other side
    assert f.next_change_ms() == 2_101
    f.advance(2_100)
    assert f.next_change_ms() == 2_101 and f.sell_count == 1
    f.advance(2_101)
    assert f.sell_count == 0 and f.next_change_ms() == 2_601
    f.advance(2_601)
    assert f.buy_count == 0 and f.next_change_ms() == NEVER_MS


def test_next_change_ignores_a_fill_reported_after_it_left():
    f = RecentFills(600)
    f.add(2_000, Side.BUY, 1.0, 100.0)
    f.add(1_000, Side.BUY, 1.0, 100.0)  # 1000 < 2000 - 600: never counted
    assert f.buy_count == 1 and f.next_change_ms() == 2_601


def test_the_kept_vwap_is_the_windows_own_after_every_add_and_eviction():
    """Each side's VWAP is kept as the window changes (read far more often than it moves): after
    every add (late reports too) and every advance it equals the one worked out from the window's
    fills afresh, bit for bit."""
    import random

    rng = random.Random(7)
    f = RecentFills(WINDOW_MS)
    now = 1_000_000
    for _ in range(3_000):
        now += rng.choice((0, 1_000, 30_000, 200_000, 900_000))
        if rng.random() < 0.6:
            late = rng.choice((0, 0, 0, 50_000, 400_000))
            f.add(now - late, rng.choice((Side.BUY, Side.SELL)), rng.uniform(0.001, 0.5), rng.uniform(9e4, 1.1e5))
        else:
            f.advance(now)
        for side, got in ((f._buy, f.buy_vwap), (f._sell, f.sell_vwap)):
            assert got == side._vwap()
            if side.items:  # the running sums themselves, as the window's fills give them
                assert got == pytest.approx(sum(n for _, _, n in side.items) / sum(q for _, q, _ in side.items))
            else:
                assert got is None
