"""RiskManager: size limits, notional caps (rolling windows), order-rate cap, the gate's
refusal sentences, and the drawdown kill switch.

Every expectation is worked out by hand next to it. Times are epoch ms from ``T0``.
"""

from __future__ import annotations

import pytest

from core.model import TradingState
from core.risk import RiskManager
from tests.builders import examples
from tests.core.helpers_engine import T0, rcfg

MIN = 60_000
HOUR = 3_600_000
DAY = 86_400_000
PX = 60_000.0


@pytest.fixture
def make_risk():
    """``make_risk(execution__max_trade_base=0.2, risk__stale_after_s=5)`` -> a fresh RiskManager
    built from a validated config (overrides inside the rebalancer block)."""

    def make(**overrides) -> RiskManager:
        cfg = rcfg(**overrides)
        return RiskManager(cfg.risk, cfg.execution)

    return make


def open_gate(r: RiskManager, now: int = T0, **kw):
    """The gate with everything healthy unless a keyword says otherwise."""
    args = {"last_market_ms": now, "connected": True, "balances_ok": True}
    args.update(kw)
    return r.gate(now, **args)


# ------------------------------------------------------------------------------- sizes


def test_size_passes_through_when_no_limit_binds(make_risk):
    # 0.1 BTC @ 60,000 = 6,000 USDT: under max_trade_base 0.5, per-trade 50,000, hour 250,000
    r = make_risk()
    s = r.size(T0, 0.1, PX)
    assert (s.qty, s.refused, s.note) == (0.1, None, "")


def test_size_clipped_to_max_trade_base(make_risk):
    # max_trade_base 0.5 (conftest ANCHOR_BLOCK); per-trade 50,000 / 60,000 = 0.8333 does not bind
    r = make_risk()
    s = r.size(T0, 0.8, PX)
    assert s.qty == 0.5
    assert s.refused is None
    assert s.note == "clipped to max trade 0.5"


def test_size_clipped_to_notional_per_trade(make_risk):
    # 12,000 USDT per trade at 60,000 -> 0.2 BTC; wanted 0.4 (under max_trade_base 0.5)
    r = make_risk(risk__max_notional_per_trade=12_000)
    s = r.size(T0, 0.4, PX)
    assert s.qty == pytest.approx(0.2, abs=1e-12)
    assert s.note == "clipped to 12,000 per trade"


def test_both_clips_apply_in_order(make_risk):
    # 0.9 -> max trade 0.5 -> per trade 12,000/60,000 = 0.2
    r = make_risk(risk__max_notional_per_trade=12_000)
    s = r.size(T0, 0.9, PX)
    assert s.qty == pytest.approx(0.2, abs=1e-12)
    assert s.note == "clipped to max trade 0.5; clipped to 12,000 per trade"


def test_size_below_min_trade_is_refused(make_risk):
    # min_trade_base 0.0001; 0.00005 < it
    r = make_risk()
    s = r.size(T0, 0.00005, PX)
    assert s.qty == 0.0
    assert s.refused == "size 0.00005000 below min trade 0.0001"


def test_size_refused_when_a_cap_clip_leaves_less_than_min_trade(make_risk):
    # hour cap 250,000; 249,997 used -> room 3 USDT -> 3/60,000 = 0.00005 BTC < min 0.0001
    r = make_risk()
    r.on_fill(T0, 249_997.0)
    s = r.size(T0 + 1, 0.1, PX)
    assert s.qty == 0.0
    assert s.refused == "size 0.00005000 below min trade 0.0001"


def test_size_without_a_price_is_refused(make_risk):
    assert make_risk().size(T0, 0.1, 0.0).refused == "no valid price"


# ------------------------------------------------------------------------------- notional caps


def test_hourly_cap_clips_to_the_room_left(make_risk):
    # 240,000 filled at T0; cap 250,000 -> room 10,000 -> 10,000 / 60,000 = 0.1666... BTC
    r = make_risk()
    r.on_fill(T0, 240_000.0)
    s = r.size(T0 + 1_000, 0.5, PX)
    assert s.qty == pytest.approx(10_000 / 60_000, rel=1e-12)
    assert s.note == "clipped to the hourly cap left (10,000)"
    assert r.notional_used(T0 + 1_000) == (240_000.0, 240_000.0)


def test_hourly_cap_reached_refuses(make_risk):
    r = make_risk()
    r.on_fill(T0, 150_000.0)
    r.on_fill(T0 + MIN, 100_000.0)  # 250,000 in the hour = the cap
    s = r.size(T0 + 2 * MIN, 0.01, PX)
    assert s.qty == 0.0
    assert s.refused == "hourly notional cap reached"


def test_hourly_window_rolls_a_fill_61_minutes_old_no_longer_counts(make_risk):
    r = make_risk()
    r.on_fill(T0, 250_000.0)
    # 59 min later it still counts: refused
    assert r.size(T0 + 59 * MIN, 0.01, PX).refused == "hourly notional cap reached"
    # 61 min later it has left the hour (but not the day: 1,000,000 - 250,000 = 750,000 left)
    s = r.size(T0 + 61 * MIN, 0.5, PX)
    assert s.refused is None
    assert s.qty == 0.5  # 30,000 USDT, within every cap
    assert r.notional_used(T0 + 61 * MIN) == (0.0, 250_000.0)


def test_hourly_window_boundary_exactly_one_hour(make_risk):
    # _Window drops items with ts <= now - span: a fill exactly 60 min old is out
    r = make_risk()
    r.on_fill(T0, 250_000.0)
    assert r.size(T0 + HOUR - 1, 0.01, PX).refused == "hourly notional cap reached"
    assert r.size(T0 + HOUR, 0.01, PX).refused is None


def test_daily_cap_reached_refuses_and_names_the_daily_cap(make_risk):
    # day cap 100,000: 60,000 at T0 and 40,000 two hours later = 100,000 in the day,
    # only 40,000 in the last hour -> hour_left 210,000 > day_left 0 -> "daily"
    r = make_risk(risk__max_notional_per_day=100_000)
    r.on_fill(T0, 60_000.0)
    r.on_fill(T0 + 2 * HOUR, 40_000.0)
    s = r.size(T0 + 2 * HOUR + MIN, 0.01, PX)
    assert s.refused == "daily notional cap reached"


def test_daily_cap_clips_and_rolls_after_24_hours(make_risk):
    r = make_risk(risk__max_notional_per_day=100_000)
    r.on_fill(T0, 60_000.0)
    r.on_fill(T0 + 2 * HOUR, 30_000.0)
    # day room 10,000 (< hour room 220,000) -> 10,000 / 60,000 BTC, "daily"
    s = r.size(T0 + 3 * HOUR, 0.5, PX)
    assert s.qty == pytest.approx(10_000 / 60_000, rel=1e-12)
    assert s.note == "clipped to the daily cap left (10,000)"
    # 24 h + 1 min after T0 the first fill is gone: day used 30,000 -> room 70,000 -> 0.5 BTC fits
    later = T0 + DAY + MIN
    assert r.notional_used(later) == (0.0, 30_000.0)
    assert r.size(later, 0.5, PX).qty == 0.5


# ------------------------------------------------------------------------------- gate


def test_gate_open_when_everything_is_healthy(make_risk):
    assert open_gate(make_risk()) is None


def test_gate_disconnected(make_risk):
    assert open_gate(make_risk(), connected=False) == "venue disconnected"


def test_gate_balances_not_confirmed(make_risk):
    assert open_gate(make_risk(), balances_ok=False) == "balances not confirmed by the venue yet"


def test_gate_no_market_data(make_risk):
    assert open_gate(make_risk(), last_market_ms=None) == "no market data yet"


def test_gate_staleness(make_risk):
    r = make_risk()  # stale_after_s 10
    # age exactly 10.000 s is not "> 10": allowed
    assert open_gate(r, now=T0 + 10_000, last_market_ms=T0) is None
    # age 10.001 s -> refused; "10.001" prints with one decimal as 10.0
    assert open_gate(r, now=T0 + 10_001, last_market_ms=T0) == "market data stale (10.0s > 10s)"
    # age 12.5 s
    assert open_gate(r, now=T0 + 12_500, last_market_ms=T0) == "market data stale (12.5s > 10s)"


def test_gate_staleness_uses_the_configured_limit(make_risk):
    r = make_risk(risk__stale_after_s=3)
    assert open_gate(r, now=T0 + 3_400, last_market_ms=T0) == "market data stale (3.4s > 3s)"


def test_gate_order_rate_cap_per_rolling_minute(make_risk):
    r = make_risk(risk__max_orders_per_minute=3)
    for dt in (0, 1_000, 2_000):
        assert open_gate(r, now=T0 + dt) is None
        r.on_order_sent(T0 + dt)
    assert r.orders_last_minute(T0 + 3_000) == 3
    assert open_gate(r, now=T0 + 3_000) == "order rate cap: 3 orders per minute"
    # the first order (T0) leaves the window at T0 + 60,000 (ts <= now - 60,000) -> 2 left
    assert open_gate(r, now=T0 + MIN - 1) == "order rate cap: 3 orders per minute"
    assert open_gate(r, now=T0 + MIN) is None
    assert r.orders_last_minute(T0 + MIN) == 2


def test_gate_paused_and_resume(make_risk):
    r = make_risk()
    r.pause()
    assert r.state is TradingState.PAUSED
    assert open_gate(r) == "PAUSED by the user"
    r.resume()
    assert r.state is TradingState.ACTIVE
    assert open_gate(r) is None


def test_gate_halted_wins_over_everything_else(make_risk):
    r = make_risk()
    r.halt("kill switch pressed")
    assert open_gate(r, connected=False, balances_ok=False, last_market_ms=None) == "HALTED: kill switch pressed"
    # pause/resume do not touch a halt
    r.pause()
    r.resume()
    assert r.state is TradingState.HALTED


def test_paused_is_reported_before_disconnected(make_risk):
    r = make_risk()
    r.pause()
    assert open_gate(r, connected=False) == "PAUSED by the user"


# ------------------------------------------------------------------------------- kill switch


def test_drawdown_kill_switch_by_pct(make_risk):
    r = make_risk()  # max_drawdown_pct 10
    assert r.on_equity(100_000.0) is None
    assert r.on_equity(95_000.0) is None  # 5 %
    assert r.drawdown_pct == pytest.approx(5.0)
    assert r.on_equity(90_000.01) is None  # 9.99999 %
    why = r.on_equity(90_000.0)  # (100,000 - 90,000) / 100,000 = 10 % >= 10 %
    assert why == "kill switch: drawdown 10.00% ≥ 10.0% (equity 90,000.00 from peak 100,000.00)"


def test_drawdown_measured_from_the_running_peak(make_risk):
    r = make_risk()
    r.on_equity(100_000.0)
    r.on_equity(120_000.0)  # new peak
    assert r.on_equity(109_000.0) is None  # 9.17 % from 120,000
    why = r.on_equity(108_000.0)  # 12,000 / 120,000 = 10 %
    assert why is not None and "from peak 120,000.00" in why


def test_drawdown_kill_switch_by_quote_amount(make_risk):
    r = make_risk(risk__max_drawdown_quote=500)
    assert r.on_equity(100_000.0) is None
    assert r.on_equity(99_500.01) is None  # 499.99 lost
    assert r.on_equity(99_500.0) == "kill switch: drawdown 500.00 ≥ 500.00 quote"  # 0.5 % only


def test_halt_persists_until_rearm_and_rearm_resets_the_peak(make_risk):
    r = make_risk()
    r.on_equity(100_000.0)
    why = r.on_equity(89_000.0)  # 11 %
    assert why is not None
    r.halt(why)
    # further losses do not re-fire, recoveries do not clear the halt
    assert r.on_equity(80_000.0) is None
    assert r.on_equity(85_000.0) is None
    assert r.state is TradingState.HALTED
    assert open_gate(r).startswith("HALTED: kill switch: drawdown")
    r.rearm()
    assert r.state is TradingState.ACTIVE
    assert r.halt_reason == ""
    assert open_gate(r) is None
    # the peak restarted at the last equity seen (85,000): 5 % down from there is fine,
    # where it would be 19.5 % from the old peak of 100,000
    assert r.peak_equity == 85_000.0
    assert r.drawdown_pct == 0.0
    assert r.on_equity(80_750.0) is None  # 4,250 / 85,000 = 5 %
    # 10 % from the new peak fires again: 85,000 x 0.9 = 76,500
    assert r.on_equity(76_500.0) is not None


# ------------------------------------------------------------------------------- kill switch, asked without recording

import copy  # noqa: E402
import math  # noqa: E402

from hypothesis import assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from core.config import ExecutionConfig, RiskConfig  # noqa: E402

RISK_SETTINGS = settings(max_examples=examples(300), deadline=None, database=None)
limits_st = st.tuples(st.floats(0.01, 60.0, allow_nan=False), st.one_of(st.none(), st.floats(1.0, 20_000.0)))
equity_st = st.floats(1.0, 200_000.0, allow_nan=False, allow_infinity=False)


def risk_with(max_pct: float, max_quote: float | None) -> RiskManager:
    return RiskManager(RiskConfig(max_drawdown_pct=max_pct, max_drawdown_quote=max_quote), ExecutionConfig())


def kill_switch_state(r: RiskManager) -> tuple:
    return r.state, r.halt_reason, r.peak_equity, r.last_equity


@RISK_SETTINGS
@given(limits=limits_st,
       steps=st.lists(st.tuples(st.sampled_from(["equity", "equity", "equity", "halt", "rearm"]), equity_st),
                      max_size=40))
def test_halt_reason_at_answers_what_on_equity_will_without_recording(limits, steps):
    r = risk_with(*limits)
    for kind, equity in steps:
        if kind == "halt":
            r.halt("test")
            continue
        if kind == "rearm":
            r.rearm()
            continue
        before = kill_switch_state(r)
        asked = r.halt_reason_at(equity)
        assert kill_switch_state(r) == before  # nothing recorded
        assert r.on_equity(equity) == asked


@pytest.mark.parametrize("equity, why", [
    (95_000.0, None),
    (90_000.0, "kill switch: drawdown 10.00% ≥ 10.0% (equity 90,000.00 from peak 100,000.00)"),
    (120_000.0, None),  # a new peak
])
def test_halt_reason_at_by_hand(make_risk, equity, why):
    r = make_risk()
    assert r.halt_reason_at(80_000.0) is None  # no peak yet: nothing to draw down from
    r.on_equity(100_000.0)
    assert r.halt_reason_at(equity) == why
    assert (r.peak_equity, r.last_equity) == (100_000.0, 100_000.0)


@RISK_SETTINGS
@given(limits=limits_st, peak=equity_st, drop=st.floats(0.0, 0.8), lower_peak=st.floats(0.0, 1.0),
       rise=st.floats(0.0, 0.5), edge=st.integers(-3, 3))
def test_surely_no_halt_covers_every_lower_peak_and_higher_equity(limits, peak, drop, lower_peak, rise, edge):
    """``surely_no_halt(peak, eq)``: no sample with equity ≥ ``eq`` under a peak ≤ ``peak``
    trips the kill switch. Equities are drawn near the limits too (``edge`` ulps around them)."""
    max_pct, max_quote = limits
    r = risk_with(max_pct, max_quote)
    eq = peak * (1.0 - drop)
    if edge:  # right at the percent limit, a few ulps either side
        eq = peak * (1.0 - max_pct / 100.0)
        for _ in range(abs(edge)):
            eq = math.nextafter(eq, math.inf if edge > 0 else -math.inf)
    assume(eq > 0.0)
    if not r.surely_no_halt(peak, eq):
        return
    peaks = [peak, peak * lower_peak, math.nextafter(peak, 0.0), eq]
    equities = [eq, eq * (1.0 + rise), math.nextafter(eq, math.inf), peak]
    for p in peaks:
        for e in equities:
            probe = risk_with(max_pct, max_quote)
            probe.peak_equity = p
            assert probe.halt_reason_at(e) is None, (p, e)


@RISK_SETTINGS
@given(limits=limits_st, peak=equity_st, drop=st.floats(0.0, 1.0))
def test_surely_no_halt_is_tight(limits, peak, drop):
    """Not vacuous: a drawdown clearly (a relative 1e-8) inside both limits is surely safe."""
    max_pct, max_quote = limits
    eq = peak * (1.0 - drop)
    dd = peak - eq
    assume(dd / peak * 100.0 < max_pct * (1.0 - 1e-8))
    assume(max_quote is None or dd < max_quote * (1.0 - 1e-8))
    assert risk_with(max_pct, max_quote).surely_no_halt(peak, eq)


def test_surely_no_halt_by_hand(make_risk):
    r = make_risk(risk__max_drawdown_quote=500)  # 10 % or 500 quote
    assert r.surely_no_halt(100_000.0, 100_000.0)
    assert r.surely_no_halt(100_000.0, 120_000.0)  # no drawdown at all
    assert r.surely_no_halt(100_000.0, 99_501.0)
    assert not r.surely_no_halt(100_000.0, 99_500.0)  # exactly the quote limit
    assert not r.surely_no_halt(1_000.0, 900.0)  # exactly 10 %
    assert r.surely_no_halt(1_000.0, 900.01)
    r.halt("test")
    assert r.surely_no_halt(100_000.0, 1.0)  # halted: nothing more can trip


def test_halt_reason_at_is_none_once_halted(make_risk):
    r = make_risk()
    r.on_equity(100_000.0)
    r.halt("test")
    snapshot = copy.copy(kill_switch_state(r))
    assert r.halt_reason_at(50_000.0) is None
    assert kill_switch_state(r) == snapshot
