"""Properties every policy decision must hold, over generated configs, views and memories."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from core.account import grows_gap
from core.model import BTCUSDT_SPOT, Action, Side
from core.policy import PolicyMemory, PolicyView

from tests.builders import ANCHOR_BLOCK, SIMPLE_BLOCK, apply_overrides, build_config, examples, make_trend

SETTINGS = settings(max_examples=examples(100), deadline=None)
STEP = BTCUSDT_SPOT.qty_step

finite = dict(allow_nan=False, allow_infinity=False)


@st.composite
def anchor_policies(draw):
    from core.policy import make_policy

    soft = draw(st.floats(0.0002, 0.05, **finite))
    hard = soft * draw(st.floats(1.05, 6.0, **finite))
    w_ema = draw(st.floats(0.0, 1.0, **finite))
    w_anchor = draw(st.floats(0.0, 1.0, **finite))
    mode = draw(st.sampled_from(["ema", "manual", "off"]))
    assume(mode == "off" or w_ema + w_anchor > 0)
    block = apply_overrides(ANCHOR_BLOCK, {
        "thresholds": {"soft": soft, "hard": hard, "units": draw(st.sampled_from(["base", "pct_of_spot_notional"]))},
        "partial_rebalance_ratio": draw(st.floats(0.01, 1.0, **finite)),
        "bias": {
            "mode": mode,
            "strength": draw(st.floats(0.0, 1.0, **finite)),
            "w_ema": w_ema,
            "w_anchor": w_anchor,
            "manual_override": draw(st.floats(-1.0, 1.0, **finite)),
            "min_scale": draw(st.floats(0.05, 1.0, **finite)),
            "max_scale": draw(st.floats(1.0, 3.0, **finite)),
        },
        "anchor__edge_bps_soft": draw(st.floats(0.0, 50.0, **finite)),
        "anchor__edge_bps_hard": draw(st.floats(0.0, 50.0, **finite)),
        "anchor__degrade_edge_with_time": draw(st.booleans()),
        "risk__hysteresis_pct": draw(st.floats(0.0, 3.0, **finite)),
    })
    return make_policy(build_config(rebalancer=block).rebalancer)


@st.composite
def simple_policies(draw):
    from core.policy import make_policy

    block = apply_overrides(SIMPLE_BLOCK, {
        "target_delta_usdt": draw(st.floats(-2_000.0, 2_000.0, **finite)),
        "rebalance_threshold_usdt": draw(st.floats(1.0, 2_000.0, **finite)),
        "use_trend": draw(st.booleans()),
        "trend_multiplier": draw(st.floats(1.0, 3.0, **finite)),
        "use_limit_orders": draw(st.booleans()),
    })
    return make_policy(build_config(rebalancer=block).rebalancer)


@st.composite
def baseline_policies(draw):
    from core.policy import make_policy

    block = {"policy": "baseline", "desired_net_delta_base": draw(st.floats(-0.5, 0.5, **finite)),
             "check_interval_s": 60, "min_trade_base": draw(st.floats(0.0001, 0.01, **finite))}
    return make_policy(build_config(rebalancer=block).rebalancer)


prices = st.floats(1_000.0, 150_000.0, **finite)
T = 10_000_000


@st.composite
def views(draw, max_gap: float = 0.3):
    """A view whose gap (spot + futures) stays within ±max_gap, so every path is reached."""
    price = draw(prices)
    spot = draw(st.floats(0.0, 3.0, **finite))
    on_target = draw(st.integers(0, 19)) == 0  # 5 % exactly on target
    gap = 0.0 if on_target else draw(st.floats(-max_gap, max_gap, **finite))
    state = draw(st.sampled_from(["up", "down", "flat"]))
    signal = draw(st.floats(-1.0, 1.0, **finite))
    vwap = st.one_of(st.none(), st.floats(0.97, 1.03, **finite).map(lambda r: price * r))
    return PolicyView(
        ts_ms=T,
        price=price,
        spot_base=spot,
        futures_base=gap - spot,
        trend=make_trend(signal, state, ready=draw(st.booleans())),
        buy_vwap=draw(vwap),
        sell_vwap=draw(vwap),
    )


@st.composite
def memories(draw):
    side = draw(st.sampled_from([None, Side.BUY, Side.SELL]))
    last = None if side is None else T - draw(st.integers(0, 600_000))
    wait_side = draw(st.sampled_from([None, Side.BUY, Side.SELL]))
    since = None if wait_side is None else T - draw(st.integers(0, 300_000))
    check = draw(st.one_of(st.none(), st.integers(T - 120_000, T)))
    return PolicyMemory(last_trade_ms=last, last_trade_side=side, gate_wait_since_ms=since,
                        gate_wait_side=wait_side, last_check_ms=check)


any_policy = st.one_of(anchor_policies(), simple_policies(), baseline_policies())


@SETTINGS
@given(policy=any_policy, view=views(), memory=memories())
def test_never_a_side_that_grows_the_gap(policy, view, memory):
    d, _ = policy.decide(view, memory)
    if d.trades:
        assert d.side is not None
        assert not grows_gap(d.gap_base, d.side, d.qty_base)
        # and the side is the correcting one
        assert d.side is (Side.SELL if d.gap_base > 0 else Side.BUY)


@SETTINGS
@given(policy=any_policy, view=views(), memory=memories())
def test_full_qty_lands_within_one_step_and_never_overshoots(policy, view, memory):
    d, _ = policy.decide(view, memory)
    assume(d.action is Action.FULL)
    gap = Decimal(str(d.gap_base))
    q = BTCUSDT_SPOT.round_qty(d.qty_base)
    # the rounded trade never exceeds |gap| (no overshoot) …
    assert q <= abs(gap)
    # … and leaves less than one qty step of the gap
    assert abs(gap) - q < STEP


@SETTINGS
@given(policy=anchor_policies(), price=prices, spot=st.floats(0.0, 3.0, **finite),
       sign=st.sampled_from([1.0, -1.0]), u=st.floats(0.0, 0.99, **finite), signal=st.floats(-1.0, 1.0, **finite))
def test_between_soft_and_hard_is_a_partial_of_ratio_times_gap(policy, price, spot, sign, u, signal):
    """No gate, no memory: a gap between the effective soft and hard thresholds is a PARTIAL
    of exactly ratio × |gap| (before rounding), and rounding never makes it exceed |gap|."""
    trend = make_trend(signal, "flat", True)
    probe = PolicyView(ts_ms=T, price=price, spot_base=spot, futures_base=-spot, trend=trend)
    soft, hard = policy.base_thresholds(spot)
    scale = policy.bias(sign, probe).scale  # the scale depends on the gap only through its sign
    mag = soft * scale + u * (hard - soft) * scale
    view = PolicyView(ts_ms=T, price=price, spot_base=spot, futures_base=sign * mag - spot, trend=trend)
    d, _ = policy.decide(view, PolicyMemory())
    gap = view.spot_base + view.futures_base
    assume(abs(abs(gap) - mag) < 1e-12)  # float reconstruction of the gap
    assert d.action is Action.PARTIAL, d.reason
    assert d.side is (Side.SELL if sign > 0 else Side.BUY)
    assert d.qty_base == pytest.approx(policy.cfg.partial_rebalance_ratio * abs(d.gap_base), rel=1e-12)
    assert BTCUSDT_SPOT.round_qty(d.qty_base) <= Decimal(str(abs(d.gap_base)))


@SETTINGS
@given(policy=any_policy, view=views(), memory=memories())
def test_effective_soft_never_above_hard(policy, view, memory):
    d, _ = policy.decide(view, memory)
    assert d.effective_soft <= d.effective_hard + 1e-15
    assert d.effective_soft > 0


@SETTINGS
@given(policy=anchor_policies(), view=views(), memory=memories())
def test_anchor_effective_is_base_times_clamped_scale(policy, view, memory):
    d, _ = policy.decide(view, memory)
    assume(d.side is not None)
    b = policy.cfg.bias
    assert b.min_scale - 1e-12 <= d.bias.scale <= b.max_scale + 1e-12
    assert d.effective_hard == pytest.approx(d.base_hard * d.bias.scale, rel=1e-12)
    # hard action iff |gap| reached the effective hard threshold
    if abs(d.gap_base) >= d.effective_hard * (1 + 1e-9):
        assert d.action is Action.FULL or "cooling down" in d.reason


@SETTINGS
@given(policy=any_policy, view=views(), memory=memories())
def test_same_inputs_same_decision(policy, view, memory):
    d1, m1 = policy.decide(view, memory)
    d2, m2 = policy.decide(view, memory)
    assert d1.to_dict() == d2.to_dict()
    assert m1 == m2


@SETTINGS
@given(policy=anchor_policies(), view=views(),
       s1=st.floats(-1.0, 1.0, **finite), s2=st.floats(-1.0, 1.0, **finite),
       gap=st.one_of(st.floats(0.0001, 0.2, **finite), st.floats(-0.2, -0.0001, **finite)))
def test_more_trend_in_favour_of_the_drift_widens(policy, view, s1, s2, gap):
    lo, hi = sorted((s1, s2))
    # "in favour of the drift" = signal × sign(gap): larger is more favourable
    favour_lo, favour_hi = (lo, hi) if gap > 0 else (hi, lo)
    v_lo = PolicyView(**{**_fields(view), "trend": make_trend(favour_lo, "flat", True)})
    v_hi = PolicyView(**{**_fields(view), "trend": make_trend(favour_hi, "flat", True)})
    assert policy.bias(gap, v_lo).scale <= policy.bias(gap, v_hi).scale + 1e-12


@SETTINGS
@given(policy=anchor_policies(), price=prices,
       r1=st.floats(0.95, 1.05, **finite), r2=st.floats(0.95, 1.05, **finite),
       gap=st.one_of(st.floats(0.0001, 0.2, **finite), st.floats(-0.2, -0.0001, **finite)))
def test_more_favourable_anchor_narrows(policy, price, r1, r2, gap):
    lo, hi = sorted((r1, r2))
    if gap > 0:
        # SELL: a lower buy VWAP makes the price more favourable
        better = PolicyView(ts_ms=T, price=price, spot_base=1.0, futures_base=-1.0, buy_vwap=price * lo)
        worse = PolicyView(ts_ms=T, price=price, spot_base=1.0, futures_base=-1.0, buy_vwap=price * hi)
    else:
        # BUY: a higher sell VWAP makes the price more favourable
        better = PolicyView(ts_ms=T, price=price, spot_base=1.0, futures_base=-1.0, sell_vwap=price * hi)
        worse = PolicyView(ts_ms=T, price=price, spot_base=1.0, futures_base=-1.0, sell_vwap=price * lo)
    b, w = policy.bias(gap, better), policy.bias(gap, worse)
    assert b.anchor_bias <= w.anchor_bias + 1e-12
    assert b.scale <= w.scale + 1e-12


@SETTINGS
@given(policy=simple_policies(), view=views(), memory=memories())
def test_simple_threshold_only_widens(policy, view, memory):
    d, _ = policy.decide(view, memory)
    c = policy.cfg
    assert d.effective_soft in (c.rebalance_threshold_usdt, c.rebalance_threshold_usdt * c.trend_multiplier)
    if d.trades:
        assert abs(d.gap) >= d.effective_soft
        assert d.qty_base == pytest.approx(abs(d.gap_base))


def _fields(view: PolicyView) -> dict:
    return {k: getattr(view, k) for k in PolicyView.__slots__}
