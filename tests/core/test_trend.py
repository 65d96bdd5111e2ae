"""Candles from trades, EMAs on candle close only, slope over the lookback, trend state and
signal."""

from __future__ import annotations

import csv
import gzip
from collections import OrderedDict

import pytest

from core.model import Candle
from core.trend import (
    MAX_FILLED_GAP_CANDLES,
    CandleBuilder,
    TrendTracker,
    clamp,
    trend_from_emas,
    trend_signal,
)
from tests.builders import examples

MIN = 60_000


@pytest.fixture
def tracker():
    """fast 2 (alpha 2/3), slow 4 (alpha 2/5), 1m candles, slope over 120 s, threshold 0.1 %."""

    def make(threshold_pct: float = 0.1, lookback_s: float = 120.0) -> TrendTracker:
        return TrendTracker(fast=2, slow=4, timeframe_ms=MIN, slope_lookback_s=lookback_s,
                            threshold_pct=threshold_pct)

    return make


def feed_closes(t: TrendTracker, closes: list[float]) -> None:
    """One trade per minute at the given price; the last candle is closed by the clock."""
    for k, px in enumerate(closes):
        t.on_trade(k * MIN + 10, px, 1.0)
    t.on_time(len(closes) * MIN)


# ---------------------------------------------------------------- candles


def test_candle_ohlcv_from_trades():
    b = CandleBuilder(MIN)
    assert b.on_trade(1_000, 100.0, 0.5) is None
    assert b.on_trade(2_000, 103.0, 0.25) is None
    assert b.on_trade(3_000, 99.0, 0.25) is None
    assert b.on_trade(59_999, 101.0, 1.0) is None  # still inside [0, 60000)
    closed = b.on_trade(60_000, 102.0, 2.0)  # first trade of the next minute closes it
    # open = first 100, high = 103, low = 99, close = last 101, volume 0.5+0.25+0.25+1 = 2
    assert closed == [Candle(0, MIN, 100.0, 103.0, 99.0, 101.0, 2.0)]


def test_empty_candles_carry_the_last_close():
    b = CandleBuilder(MIN)
    b.on_trade(60_000, 102.0, 1.0)
    closed = b.on_trade(4 * MIN + 5, 105.0, 1.0)  # minutes 2 and 3 had no trade
    assert closed == [
        Candle(1 * MIN, MIN, 102.0, 102.0, 102.0, 102.0, 1.0),
        Candle(2 * MIN, MIN, 102.0, 102.0, 102.0, 102.0, 0.0),
        Candle(3 * MIN, MIN, 102.0, 102.0, 102.0, 102.0, 0.0),
    ]
    # and the forming candle is the 4th minute, opened by the new trade
    assert b.roll(5 * MIN) == [Candle(4 * MIN, MIN, 105.0, 105.0, 105.0, 105.0, 1.0)]


def test_roll_by_clock_closes_quiet_minutes_and_not_before_the_end():
    b = CandleBuilder(MIN)
    assert b.roll(10 * MIN) is None  # nothing seen yet
    b.on_trade(5_000, 100.0, 1.0)
    assert b.roll(59_999) is None  # candle [0, 60000) not over
    closed = b.roll(3 * MIN + 1)
    # [0,60000) with the trade, then empty minutes 1 and 2; minute 3 is forming
    assert [c.start_ms for c in closed] == [0, MIN, 2 * MIN]
    assert [c.volume for c in closed] == [1.0, 0.0, 0.0]
    assert all(c.close == 100.0 for c in closed)


def test_long_outage_is_not_backfilled_candle_by_candle():
    b = CandleBuilder(MIN)
    b.on_trade(0, 100.0)
    closed = b.on_trade((MAX_FILLED_GAP_CANDLES + 10) * MIN, 101.0)
    # the real candle plus at most MAX_FILLED_GAP_CANDLES empty ones
    assert len(closed) == 1 + MAX_FILLED_GAP_CANDLES
    assert b.start == (MAX_FILLED_GAP_CANDLES + 10) * MIN


def test_candle_from_trades_does_not_depend_on_a_clock_tick():
    """Regression: a clock tick that opens an empty candle must not leave the previous close
    as that candle's open/low once trades arrive (candles depend on trades, not on timers)."""
    ticked, plain = CandleBuilder(MIN), CandleBuilder(MIN)
    for b in (ticked, plain):
        b.on_trade(0, 100.0, 1.0)
    ticked.roll(MIN)  # a timer tick exactly at the minute boundary (no trade yet)
    for b in (ticked, plain):
        b.on_trade(MIN + 1, 110.0, 1.0)
        b.on_trade(MIN + 2, 111.0, 1.0)
    expected = Candle(MIN, MIN, 110.0, 111.0, 110.0, 111.0, 2.0)  # only the two trades count
    assert plain.roll(2 * MIN) == [expected]
    assert ticked.roll(2 * MIN) == [expected]


def test_candles_match_an_independent_aggregation_of_real_trades(shared_data):
    """Binance spot trades (real recording): CandleBuilder vs a plain group-by-minute."""
    path = shared_data("binance_spot_BTCUSDT_trades_2024-08-08T235415Z_235959Z.csv.gz")
    expected: OrderedDict[int, list[float]] = OrderedDict()
    b = CandleBuilder(MIN)
    got: list[Candle] = []
    with gzip.open(path, "rt") as fh:
        for row in csv.DictReader(fh):
            ts, px, q = int(row["ts_ms"]), float(row["price"]), float(row["qty"])
            start = ts - ts % MIN
            o = expected.get(start)
            if o is None:
                expected[start] = [px, px, px, px, q]
            else:
                o[1] = max(o[1], px)
                o[2] = min(o[2], px)
                o[3] = px
                o[4] += q
            got.extend(b.on_trade(ts, px, q) or [])
    last_start = next(reversed(expected))
    got.extend(b.roll(last_start + MIN) or [])
    # minutes with trades must match exactly (open first, close last, high max, low min)
    by_start = {c.start_ms: c for c in got}
    assert len(expected) > 5
    for start, (o, h, lo, c, v) in expected.items():
        cd = by_start[start]
        assert (cd.open, cd.high, cd.low, cd.close) == (o, h, lo, c)
        assert cd.volume == pytest.approx(v, rel=1e-9)
    # and no minute is missing between the first and the last
    starts = sorted(by_start)
    assert starts == list(range(starts[0], starts[-1] + MIN, MIN))


# ---------------------------------------------------------------- EMAs


def test_ema_updates_on_candle_close_only(tracker):
    t = tracker()
    t.on_trade(0, 100.0)
    t.on_trade(10_000, 200.0)
    t.on_trade(50_000, 150.0)
    assert t.ema_fast is None and t.ema_slow is None and t.version == 0
    assert t.on_time(MIN) is True
    # the first close seeds both EMAs: the close is the last trade, 150
    assert t.ema_fast == 150.0 and t.ema_slow == 150.0 and t.version == 1
    t.on_trade(MIN + 1, 300.0)  # a forming candle never moves the EMAs
    assert t.ema_fast == 150.0 and t.version == 1
    assert t.on_time(MIN + 30_000) is False


def test_ema_hand_computed(tracker):
    t = tracker()
    feed_closes(t, [100.0, 106.0, 100.0])
    # close 100: fast = slow = 100
    # close 106: fast = 100 + 2/3·6 = 104;          slow = 100 + 2/5·6 = 102.4
    # close 100: fast = 104 + 2/3·(100−104) = 101.333…; slow = 102.4 + 2/5·(100−102.4) = 101.44
    assert t.ema_fast == pytest.approx(304.0 / 3.0)
    assert t.ema_slow == pytest.approx(101.44)
    assert [round(x[2], 6) for x in t.chart] == [100.0, 104.0, round(304.0 / 3.0, 6)]
    assert t.candles_seen == 3


def test_empty_candles_move_the_ema_toward_the_carried_close(tracker):
    t = tracker()
    t.on_trade(0, 100.0)
    t.on_trade(MIN, 106.0)
    t.on_time(3 * MIN)  # closes minute 1 (106) and the empty minute 2 (carries 106)
    # 100 -> 104 -> 104 + 2/3·(106−104) = 105.333…
    assert t.candles_seen == 3
    assert t.ema_fast == pytest.approx(316.0 / 3.0)
    # slow: 100 -> 102.4 -> 102.4 + 2/5·(106 − 102.4) = 103.84
    assert t.ema_slow == pytest.approx(103.84)


def test_not_ready_before_slow_candles(tracker):
    t = tracker()
    feed_closes(t, [100.0, 110.0, 120.0])  # 3 candles < slow period 4
    v = t.view()
    assert v.ready is False and v.state == "flat" and v.signal == 0.0
    t.on_trade(3 * MIN + 10, 130.0)
    t.on_time(4 * MIN)
    v = t.view()
    assert v.ready is True and v.state == "up" and v.signal == 1.0


def test_slope_over_lookback_and_signal(tracker):
    # threshold 10 % so the signal is not saturated
    t = tracker(threshold_pct=10.0, lookback_s=120.0)
    feed_closes(t, [100.0, 100.0, 100.0, 106.0, 106.0, 106.0])
    # fast (α 2/3): 100, 100, 100, 104, 104 + 2/3·2 = 105.333…, 105.333… + 2/3·0.666… = 105.777… (= 952/9)
    # slow (α 2/5): 100, 100, 100, 102.4, 102.4 + 0.4·3.6 = 103.84, 103.84 + 0.4·2.16 = 104.704
    # the last candle ends at 6 min; lookback 2 min -> the fast EMA at the end of minute 4
    # (candle index 3) = 104, not the one a candle earlier (100) nor the previous candle (105.33)
    fast, slow = 952.0 / 9.0, 104.704
    slope = (fast / 104.0 - 1.0) * 100.0  # 1.7094 %
    spread = (fast / slow - 1.0) * 100.0  # 1.0254 %
    v = t.view()
    assert v.slope_pct == pytest.approx(slope)
    assert v.slope_pct == pytest.approx(1.7094, abs=1e-4)
    assert v.spread_pct == pytest.approx(spread)
    assert v.spread_pct == pytest.approx(1.0255, abs=1e-4)
    # spread 1.0255 % < 10 % -> flat
    assert v.state == "flat"
    # signal = 0.5·clamp(1.0255/10) + 0.5·clamp(1.7094/10)
    assert v.signal == pytest.approx(0.5 * spread / 10.0 + 0.5 * slope / 10.0)


def test_down_state_and_negative_signal(tracker):
    t = tracker()
    feed_closes(t, [100.0, 100.0, 100.0, 100.0, 94.0])
    # fast: 100 + 2/3·(−6) = 96; slow: 100 + 0.4·(−6) = 97.6 -> spread = −1.639 % ≤ −0.1
    v = t.view()
    assert v.spread_pct == pytest.approx((96.0 / 97.6 - 1.0) * 100.0)
    assert v.state == "down"
    assert v.signal == -1.0


def test_fast_must_be_below_slow():
    with pytest.raises(ValueError):
        TrendTracker(fast=21, slow=9, timeframe_ms=MIN, slope_lookback_s=300, threshold_pct=0.1)
    with pytest.raises(ValueError):
        TrendTracker(fast=0, slow=9, timeframe_ms=MIN, slope_lookback_s=300, threshold_pct=0.1)


def test_warm_up_matches_an_independent_ema_on_real_closes(excerpt):
    path = excerpt("bybit_spot_BTCUSDT_1m_2022-12-13_0000-0600.csv.gz")  # the day's first 360 bars
    with gzip.open(path, "rt") as fh:
        rows = [(int(r["ts_ms"]), float(r["close"])) for r in csv.DictReader(fh)][:300]
    candles = [Candle(ts, MIN, c, c, c, c) for ts, c in rows]
    t = TrendTracker(fast=9, slow=21, timeframe_ms=MIN, slope_lookback_s=300, threshold_pct=0.1)
    t.warm_up(candles)
    a_f, a_s = 2 / 10, 2 / 22
    ef = es = rows[0][1]
    for _, c in rows[1:]:
        ef = ef + a_f * (c - ef)
        es = es + a_s * (c - es)
    assert t.ema_fast == pytest.approx(ef, rel=1e-12)
    assert t.ema_slow == pytest.approx(es, rel=1e-12)
    assert t.ready


# ---------------------------------------------------------------- state and signal


@pytest.mark.parametrize(
    "fast, slow, thr, state, signal",
    [
        (100.2, 100.0, 0.1, "up", 1.0),  # spread +0.2 % ≥ 0.1 -> up; clamp(2) = 1
        (99.8, 100.0, 0.1, "down", -1.0),  # −0.2 %
        (100.05, 100.0, 0.1, "flat", 0.5),  # +0.05 %: flat; clamp(0.5) = 0.5
        (99.97, 100.0, 0.1, "flat", -0.3),  # −0.03 % -> −0.3
        (100.3, 100.0, 0.5, "flat", 0.6),  # 0.3 % of a 0.5 % threshold
    ],
)
def test_trend_from_emas_state_by_threshold(fast, slow, thr, state, signal):
    v = trend_from_emas(fast, slow, thr)
    assert v.ready is True
    assert v.state == state
    assert v.signal == pytest.approx(signal, abs=1e-9)


@pytest.mark.parametrize(
    "spread, slope, thr, expected",
    [
        (0.05, 0.1, 0.1, 0.75),  # 0.5·0.5 + 0.5·1
        (0.3, -0.3, 0.1, 0.0),  # 0.5·1 + 0.5·(−1)
        (-0.02, -0.04, 0.1, -0.3),  # 0.5·(−0.2) + 0.5·(−0.4)
        (2.0, 2.0, 0.1, 1.0),  # both saturate
        (-5.0, -5.0, 0.1, -1.0),
        (0.0, 0.0, 0.1, 0.0),
    ],
)
def test_trend_signal(spread, slope, thr, expected):
    assert trend_signal(spread, slope, thr) == pytest.approx(expected)


def test_trend_from_emas_with_slope_uses_trend_signal():
    # spread (100.05/100 − 1)·100 = 0.05 -> 0.5; slope 0.02 -> 0.2; signal = 0.25 + 0.1 = 0.35
    v = trend_from_emas(100.05, 100.0, 0.1, slope_pct=0.02)
    assert v.signal == pytest.approx(0.35)
    assert v.slope_pct == 0.02


@pytest.mark.parametrize("x, out", [(-2.0, -1.0), (-1.0, -1.0), (0.3, 0.3), (1.5, 1.0)])
def test_clamp(x, out):
    assert clamp(x) == out


# ---------------------------------------------------------------- bulk closes (replay's bulk path)

from array import array  # noqa: E402

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

BULK_SETTINGS = settings(max_examples=examples(150), deadline=None, database=None)
closes_st = st.lists(st.floats(1_000.0, 120_000.0, allow_nan=False, allow_infinity=False), max_size=90)


def tracker_state(t: TrendTracker) -> tuple:
    """Everything a close moves, bit for bit (floats compared with ==)."""
    return (t.ema_fast, t.ema_slow, t.candles_seen, t.version, list(t.chart), list(t._fast_hist),
            t._fast_hist.maxlen, t.view())


def make_tracker(history: int, lookback_s: float) -> TrendTracker:
    return TrendTracker(fast=3, slow=7, timeframe_ms=MIN, slope_lookback_s=lookback_s, threshold_pct=0.05,
                        history=history)


@BULK_SETTINGS
@given(before=closes_st, run=closes_st, history=st.integers(1, 40), lookback_s=st.sampled_from([60, 300, 1_800]),
       as_array=st.booleans())
def test_close_many_equals_closing_one_by_one(before, run, history, lookback_s, as_array):
    """From any state (no close yet: the first close seeds the EMAs), with runs shorter and
    longer than the chart and the slope history."""
    one, bulk = make_tracker(history, lookback_s), make_tracker(history, lookback_s)
    for k, px in enumerate(before):
        one.close_value((k + 1) * MIN, px)
        bulk.close_value((k + 1) * MIN, px)
    first_end = (len(before) + 1) * MIN
    for k, px in enumerate(run):
        one.close_value(first_end + k * MIN, px)
    bulk.close_many(first_end, array("d", run) if as_array else run)
    assert tracker_state(bulk) == tracker_state(one)


@pytest.mark.parametrize("n", [1, 2, 239, 240, 241, 1_000])
@pytest.mark.parametrize("seeded", [False, True], ids=["first close", "after closes"])
def test_close_many_around_the_chart_length(n, seeded):
    """The default chart keeps 240 closes: runs of exactly that, one less, one more, and far
    more, from a fresh tracker (the run's first close seeds the EMAs) or a running one."""
    one = TrendTracker(fast=9, slow=21, timeframe_ms=MIN, slope_lookback_s=300, threshold_pct=0.1)
    bulk = TrendTracker(fast=9, slow=21, timeframe_ms=MIN, slope_lookback_s=300, threshold_pct=0.1)
    closes = [60_000.0 + 37.5 * ((k * 7919) % 101 - 50) for k in range(n)]
    if seeded:
        for t in (one, bulk):
            t.close_value(MIN, 59_000.0)
            t.close_value(2 * MIN, 59_500.0)
    for k, px in enumerate(closes):
        one.close_value(3 * MIN + k * MIN, px)
    bulk.close_many(3 * MIN, closes)
    assert tracker_state(bulk) == tracker_state(one)
    assert len(bulk.chart) == min(240, n + 2 * seeded)


def test_close_many_of_nothing_changes_nothing(tracker):
    t = tracker()
    t.close_value(MIN, 100.0)
    before = tracker_state(t)
    t.close_many(2 * MIN, [])
    assert tracker_state(t) == before


def test_view_is_computed_lazily_from_the_last_close(tracker):
    t = tracker()
    for k, px in enumerate([100.0, 101.0, 103.0, 102.0, 104.0, 106.0]):
        t.close_value((k + 1) * MIN, px)
    lazy = t.view()
    assert t.view() is lazy  # cached until the next close
    fresh = t._compute(6 * MIN)
    assert lazy == fresh
    t.close_value(7 * MIN, 90.0)
    assert t.view() is not lazy and t.view() == t._compute(7 * MIN)


# events for the tracker: ("trade", dt, price, qty) advance the clock by dt and trade;
# ("time", dt) advance the clock only (the timer's roll)
events_st = st.lists(
    st.one_of(
        st.tuples(st.just("trade"),
                  st.one_of(st.integers(0, 2_000), st.integers(0, 3 * MIN), st.sampled_from([MIN, 59_999, 60_001])),
                  st.floats(90.0, 110.0, allow_nan=False), st.floats(0.0, 5.0, allow_nan=False)),
        st.tuples(st.just("time"), st.integers(0, 4 * MIN)),
    ),
    max_size=120,
)


def builder_state(b: CandleBuilder) -> tuple:
    out = (b.start, b.end, b.empty)
    if b.start >= 0:
        out += (b.open, b.high, b.low, b.close, b.volume)
    return out


@BULK_SETTINGS
@given(start=st.integers(0, 3 * MIN), events=events_st)
def test_on_trade_fast_close_equals_candle_builder_and_on_close(start, events):
    """``TrendTracker.on_trade`` closes a candle in place when a trade opens the very next
    one; the reference runs every trade and tick through ``CandleBuilder`` and ``_on_close``."""
    fast = TrendTracker(fast=2, slow=4, timeframe_ms=MIN, slope_lookback_s=120, threshold_pct=0.1, history=20)
    ref = TrendTracker(fast=2, slow=4, timeframe_ms=MIN, slope_lookback_s=120, threshold_pct=0.1, history=20)
    now = start
    for ev in events:
        now += ev[1]
        if ev[0] == "trade":
            moved = fast.on_trade(now, ev[2], ev[3])
            closed = ref.builder.on_trade(now, ev[2], ev[3])
        else:
            moved = fast.on_time(now)
            closed = ref.builder.roll(now)
        for c in closed or ():
            ref._on_close(c)
        assert moved == bool(closed)
        assert builder_state(fast.builder) == builder_state(ref.builder)
        assert tracker_state(fast) == tracker_state(ref)
