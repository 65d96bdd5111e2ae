"""Policies against hand-computed numbers.

Anchor base config (tests/conftest.py): soft 0.004, hard 0.012 (base), ratio 0.5,
bias strength 0.5, w_ema 0.6, w_anchor 0.4, scale in [0.25, 2], anchor edge soft 5 bps,
hard 0 bps, max wait 120 s (degrading), full anchor bias at 50 bps, cooldown 10 s,
hard cooldown 2 s, hysteresis +20 % for 300 s. Views use futures −0.5, so gap = spot − 0.5.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from core.model import Action, Side
from core.policy import AnchorPolicy, PolicyMemory, make_policy

T0 = 1_000_000
MEM = PolicyMemory()


@pytest.fixture(scope="module")
def anchor(make_policy_for) -> AnchorPolicy:
    return make_policy_for("anchor")


def spot_for_gap(gap: float) -> float:
    return 0.5 + gap  # futures −0.5


# ================================================================ base thresholds


def test_base_thresholds_in_base(anchor):
    assert anchor.base_thresholds(0.5) == (0.004, 0.012)
    assert anchor.base_thresholds(100.0) == (0.004, 0.012)  # independent of spot size


def test_base_thresholds_pct_of_spot_notional(make_policy_for):
    p = make_policy_for("anchor", thresholds={"soft": 0.5, "hard": 1.5, "units": "pct_of_spot_notional"})
    # 0.5 % of 2 BTC = 0.01 BTC; 1.5 % of 2 BTC = 0.03 BTC
    soft, hard = p.base_thresholds(2.0)
    assert soft == pytest.approx(0.01) and hard == pytest.approx(0.03)
    # no spot: the floors are min_trade_base 0.0001 and twice that for hard
    assert p.base_thresholds(0.0) == (0.0001, 0.0002)


def test_pct_thresholds_drive_the_decision(make_policy_for, policy_view):
    p = make_policy_for("anchor", thresholds={"soft": 0.5, "hard": 1.5, "units": "pct_of_spot_notional"})
    # spot 2.02, futures −2: gap 0.02; soft = 0.5 % × 2.02 = 0.0101, hard = 1.5 % × 2.02 = 0.0303
    d, _ = p.decide(policy_view(spot_base=2.02, futures_base=-2.0), MEM)
    assert d.base_soft == pytest.approx(0.0101) and d.base_hard == pytest.approx(0.0303)
    assert d.action is Action.PARTIAL and d.side is Side.SELL
    assert d.qty_base == pytest.approx(0.01)  # 0.5 × 0.02


def test_thresholds_never_below_min_trade(make_policy_for):
    p = make_policy_for("anchor", thresholds={"soft": 0.00005, "hard": 0.00008, "units": "base"})
    assert p.base_thresholds(1.0) == (0.0001, 0.0002)


# ================================================================ bias parts


@pytest.mark.parametrize(
    "gap, signal, ema_bias, scale",
    [
        # long drift in an uptrend: ema_bias = +0.5; combined 0.6·0.5 = 0.3; 1 + 0.5·0.3 = 1.15
        (0.008, 0.5, 0.5, 1.15),
        # short drift in the same uptrend: −0.5 -> combined −0.3 -> 0.85
        (-0.008, 0.5, -0.5, 0.85),
        # short drift in a downtrend favours it: (−1)·(−1) = +1 -> 0.6 -> 1.3
        (-0.008, -1.0, 1.0, 1.3),
        (0.008, 0.0, 0.0, 1.0),
    ],
)
def test_ema_bias_is_signal_times_sign_of_gap(anchor, policy_view, trend_view, gap, signal, ema_bias, scale):
    parts = anchor.bias(gap, policy_view(trend=trend_view(signal)))
    assert parts.trend_signal == signal
    assert parts.ema_bias == pytest.approx(ema_bias)
    assert parts.anchor_bias == 0.0  # no fills -> no anchor part
    assert parts.combined == pytest.approx(0.6 * ema_bias)
    assert parts.scale == pytest.approx(scale)


def test_trend_not_ready_contributes_nothing(anchor, policy_view, trend_view):
    parts = anchor.bias(0.008, policy_view(trend=trend_view(1.0, "up", ready=False)))
    assert parts.trend_signal == 0.0 and parts.scale == 1.0


@pytest.mark.parametrize(
    "gap, price, buy_vwap, sell_vwap, anchor_bias, scale",
    [
        # SELL: price 60150 vs buy VWAP 60000 = +25 bps favourable -> −25/50 = −0.5
        #   combined 0.4·(−0.5) = −0.2 -> 1 + 0.5·(−0.2) = 0.9  (tighter)
        (0.008, 60_150.0, 60_000.0, None, -0.5, 0.9),
        # SELL below our buys: −25 bps -> +0.5 -> 1.1 (wider)
        (0.008, 59_850.0, 60_000.0, None, 0.5, 1.1),
        # BUY: price 59850 vs sell VWAP 60000: (1 − 59850/60000)·1e4 = 25 bps -> −0.5
        (-0.008, 59_850.0, None, 60_000.0, -0.5, 0.9),
        # BUY above our sells: −25 bps -> +0.5
        (-0.008, 60_150.0, None, 60_000.0, 0.5, 1.1),
        # 100 bps saturates at −1: combined −0.4 -> 0.8
        (0.008, 60_600.0, 60_000.0, None, -1.0, 0.8),
        # BUY reads only the sell VWAP: a buy VWAP alone gives no anchor part
        (-0.008, 59_850.0, 60_000.0, None, 0.0, 1.0),
        # SELL reads only the buy VWAP
        (0.008, 60_150.0, None, 60_000.0, 0.0, 1.0),
    ],
)
def test_anchor_bias_by_side(anchor, policy_view, gap, price, buy_vwap, sell_vwap, anchor_bias, scale):
    parts = anchor.bias(gap, policy_view(price=price, buy_vwap=buy_vwap, sell_vwap=sell_vwap))
    assert parts.anchor_bias == pytest.approx(anchor_bias)
    assert parts.combined == pytest.approx(0.4 * anchor_bias)
    assert parts.scale == pytest.approx(scale)


def test_combined_bias_both_parts(anchor, policy_view, trend_view):
    # ema +1 (uptrend, long drift), anchor −0.5 (25 bps favourable):
    # combined = 0.6·1 + 0.4·(−0.5) = 0.4 -> scale 1 + 0.5·0.4 = 1.2
    parts = anchor.bias(0.008, policy_view(price=60_150.0, buy_vwap=60_000.0, trend=trend_view(1.0, "up")))
    assert parts.combined == pytest.approx(0.4)
    assert parts.scale == pytest.approx(1.2)


@pytest.mark.parametrize(
    "signal, price, expected_scale",
    [
        # strength 1, weights 1 and 1: ema −1 + anchor −1 = −2 -> 1 − 2 = −1 -> floor 0.25
        (-1.0, 60_600.0, 0.25),
        # ema +1 + anchor +1 = +2 -> 3 -> cap 2.0
        (1.0, 59_400.0, 2.0),
    ],
)
def test_scale_is_clamped(make_policy_for, policy_view, trend_view, signal, price, expected_scale):
    p = make_policy_for("anchor", bias={"mode": "ema", "strength": 1.0, "w_ema": 1.0, "w_anchor": 1.0,
                                        "manual_override": 0.0, "min_scale": 0.25, "max_scale": 2.0})
    d, _ = p.decide(policy_view(spot_base=spot_for_gap(0.008), price=price, buy_vwap=60_000.0,
                                trend=trend_view(signal)), MEM)
    assert d.bias.scale == expected_scale
    # effective = base × scale: 0.004 × 0.25 = 0.001 / 0.004 × 2 = 0.008
    assert d.effective_soft == pytest.approx(0.004 * expected_scale)
    assert d.effective_hard == pytest.approx(0.012 * expected_scale)


@pytest.mark.parametrize("gap, ema_bias", [(0.008, 0.8), (-0.008, -0.8)])
def test_manual_mode_uses_override(make_policy_for, policy_view, trend_view, gap, ema_bias):
    p = make_policy_for("anchor", bias={**_bias(), "mode": "manual", "manual_override": 0.8})
    # the live trend (−1) is ignored; override 0.8 × sign(gap)
    parts = p.bias(gap, policy_view(trend=trend_view(-1.0, "down")))
    assert parts.trend_signal == 0.8
    assert parts.ema_bias == pytest.approx(ema_bias)
    # 1 + 0.5·0.6·(±0.8) = 1.24 / 0.76
    assert parts.scale == pytest.approx(1.0 + 0.5 * 0.6 * ema_bias)


def test_off_mode_zero_trend_but_anchor_still_counts(make_policy_for, policy_view, trend_view):
    p = make_policy_for("anchor", bias={**_bias(), "mode": "off"})
    parts = p.bias(0.008, policy_view(price=60_150.0, buy_vwap=60_000.0, trend=trend_view(1.0, "up")))
    assert parts.trend_signal == 0.0 and parts.ema_bias == 0.0
    assert parts.anchor_bias == pytest.approx(-0.5)
    assert parts.scale == pytest.approx(0.9)


def _bias() -> dict:
    return {"mode": "ema", "strength": 0.5, "w_ema": 0.6, "w_anchor": 0.4, "manual_override": 0.0,
            "min_scale": 0.25, "max_scale": 2.0}


def test_effective_thresholds_in_the_decision(anchor, policy_view, trend_view):
    # uptrend +0.5 on a long drift: scale 1.15 -> soft 0.0046, hard 0.0138; gap 0.0045 < 0.0046
    d, _ = anchor.decide(policy_view(spot_base=spot_for_gap(0.0045), trend=trend_view(0.5, "up")), MEM)
    assert d.effective_soft == pytest.approx(0.0046)
    assert d.effective_hard == pytest.approx(0.0138)
    assert d.action is Action.HOLD and d.side is Side.SELL
    # without the trend the same gap is past soft 0.004
    d, _ = anchor.decide(policy_view(spot_base=spot_for_gap(0.0045)), MEM)
    assert d.action is Action.PARTIAL
    # a favourable anchor (scale 0.9 -> soft 0.0036) trades a 0.0038 gap
    d, _ = anchor.decide(policy_view(spot_base=spot_for_gap(0.0038), price=60_150.0, buy_vwap=60_000.0), MEM)
    assert d.effective_soft == pytest.approx(0.0036)
    assert d.action is Action.PARTIAL and d.qty_base == pytest.approx(0.0019)


# ================================================================ decision paths


def test_on_target_holds(anchor, policy_view):
    d, m = anchor.decide(policy_view(spot_base=0.5), replace(MEM, gate_wait_since_ms=1, gate_wait_side=Side.SELL))
    assert d.action is Action.HOLD and d.side is None and d.reason == "on target"
    assert m.gate_wait_since_ms is None


def test_below_soft_holds(anchor, policy_view):
    d, _ = anchor.decide(policy_view(spot_base=spot_for_gap(0.003)), MEM)  # 0.003 < 0.004
    assert d.action is Action.HOLD and d.side is Side.SELL and d.qty_base == 0.0
    assert "< soft" in d.reason


@pytest.mark.parametrize("gap, side", [(0.008, Side.SELL), (-0.008, Side.BUY)])
def test_soft_path_partial(anchor, policy_view, gap, side):
    d, m = anchor.decide(policy_view(spot_base=spot_for_gap(gap)), MEM)
    assert d.action is Action.PARTIAL and d.side is side
    assert d.qty_base == pytest.approx(0.004)  # ratio 0.5 × |0.008|
    assert d.maker_first is True and d.taker_allowed is True and d.take_now is False
    assert d.gate.applies is False  # no fills -> no gate
    assert m == MEM


def test_partial_ratio(make_policy_for, policy_view):
    p = make_policy_for("anchor", partial_rebalance_ratio=0.25)
    d, _ = p.decide(policy_view(spot_base=spot_for_gap(-0.01)), MEM)
    assert d.action is Action.PARTIAL and d.side is Side.BUY
    assert d.qty_base == pytest.approx(0.0025)  # 0.25 × 0.01


@pytest.mark.parametrize("gap, side", [(0.05, Side.SELL), (-0.02, Side.BUY)])
def test_hard_path_full_gap_takes_without_gate(anchor, policy_view, gap, side):
    d, m = anchor.decide(policy_view(spot_base=spot_for_gap(gap)), replace(MEM, gate_wait_since_ms=5,
                                                                            gate_wait_side=side))
    assert d.action is Action.FULL and d.side is side
    assert d.qty_base == pytest.approx(abs(gap))
    assert d.take_now is True and d.maker_first is False and d.taker_allowed is True
    assert m.gate_wait_since_ms is None and m.gate_wait_side is None


@pytest.mark.parametrize(
    "edge_bps_hard, buy_vwap, take_now",
    [
        # edge 0: SELL takes at once when price ≥ buy VWAP
        (0, 59_900.0, True),
        (0, 60_100.0, False),  # 60000 < 60100: rest a maker order first
        # edge 10 bps: limit = VWAP × 1.001
        (10, 59_900.0, True),  # 59959.9 ≤ 60000
        (10, 59_950.0, False),  # 60009.95 > 60000
    ],
)
def test_hard_path_take_now_iff_gate_passes(make_policy_for, policy_view, edge_bps_hard, buy_vwap, take_now):
    p = make_policy_for("anchor", anchor={**_anchor(), "edge_bps_hard": edge_bps_hard})
    d, _ = p.decide(policy_view(spot_base=spot_for_gap(0.05), buy_vwap=buy_vwap), MEM)
    assert d.action is Action.FULL and d.qty_base == pytest.approx(0.05)  # always trades
    assert d.gate.applies is True and d.gate.passed is take_now
    assert d.gate.limit_price == pytest.approx(buy_vwap * (1 + edge_bps_hard / 1e4))
    assert d.take_now is take_now and d.maker_first is (not take_now)


def _anchor(**kw) -> dict:
    base = {"window_s": 600, "edge_bps_soft": 5, "edge_bps_hard": 0, "max_wait_s_on_soft": 120,
            "degrade_edge_with_time": True, "full_bias_edge_bps": 50}
    return {**base, **kw}


@pytest.mark.parametrize(
    "gap, price, buy_vwap, sell_vwap, passed, limit",
    [
        # SELL needs price ≥ buy VWAP × 1.0005: 60000 × 1.0005 = 60030
        (0.008, 60_030.0, 60_000.0, None, True, 60_030.0),
        (0.008, 60_029.0, 60_000.0, None, False, 60_030.0),
        # BUY needs price ≤ sell VWAP × 0.9995: 60000 × 0.9995 = 59970
        (-0.008, 59_970.0, None, 60_000.0, True, 59_970.0),
        (-0.008, 59_971.0, None, 60_000.0, False, 59_970.0),
    ],
)
def test_soft_gate(anchor, policy_view, gap, price, buy_vwap, sell_vwap, passed, limit):
    d, m = anchor.decide(policy_view(spot_base=spot_for_gap(gap), price=price, buy_vwap=buy_vwap,
                                     sell_vwap=sell_vwap), MEM)
    assert d.gate.applies is True and d.gate.passed is passed
    assert d.gate.limit_price == pytest.approx(limit)
    assert d.gate.required_edge_bps == 5
    if passed:
        assert d.action is Action.PARTIAL and d.qty_base == pytest.approx(0.004)
    else:
        assert d.action is Action.HOLD and d.qty_base == 0.0 and "gate waits" in d.reason
        assert m.gate_wait_since_ms == T0 and m.gate_wait_side is d.side


def _gate_view(policy_view, ts_ms, price, gap=0.008):
    return policy_view(spot_base=spot_for_gap(gap), price=price, buy_vwap=60_000.0, ts_ms=ts_ms)


def test_edge_decays_linearly_with_wait(anchor, policy_view):
    # price 60020 vs buy VWAP 60000 = 3.33 bps of edge; demanded: 5 × (1 − waited/120)
    d0, m = anchor.decide(_gate_view(policy_view, T0, 60_020.0), MEM)
    assert d0.action is Action.HOLD and m.gate_wait_since_ms == T0
    # 30 s: 5 × 0.75 = 3.75 bps -> limit 60000 × 1.000375 = 60022.5 > 60020: still waiting
    d30, m30 = anchor.decide(_gate_view(policy_view, T0 + 30_000, 60_020.0), m)
    assert d30.action is Action.HOLD
    assert d30.gate.required_edge_bps == pytest.approx(3.75)
    assert d30.gate.limit_price == pytest.approx(60_022.5)
    assert d30.gate.waited_s == pytest.approx(30.0) and d30.gate.max_wait_s == 120
    assert m30.gate_wait_since_ms == T0  # set once, not moved
    # 60 s: 5 × 0.5 = 2.5 bps -> 60015 ≤ 60020: passes -> partial
    d60, _ = anchor.decide(_gate_view(policy_view, T0 + 60_000, 60_020.0), m30)
    assert d60.gate.required_edge_bps == pytest.approx(2.5)
    assert d60.action is Action.PARTIAL and d60.qty_base == pytest.approx(0.004)


def test_no_decay_without_degrade(make_policy_for, policy_view):
    p = make_policy_for("anchor", anchor=_anchor(degrade_edge_with_time=False))
    _, m = p.decide(_gate_view(policy_view, T0, 60_020.0), MEM)
    d60, _ = p.decide(_gate_view(policy_view, T0 + 60_000, 60_020.0), m)
    assert d60.gate.required_edge_bps == 5 and d60.action is Action.HOLD


def test_wait_expiry_gives_partial(anchor, policy_view):
    # 59990 is below the buy VWAP: fails even at 0 bps
    _, m = anchor.decide(_gate_view(policy_view, T0, 59_990.0), MEM)
    d, m2 = anchor.decide(_gate_view(policy_view, T0 + 119_900, 59_990.0), m)
    assert d.action is Action.HOLD
    d, _ = anchor.decide(_gate_view(policy_view, T0 + 120_000, 59_990.0), m2)
    assert d.action is Action.PARTIAL and d.side is Side.SELL
    assert d.qty_base == pytest.approx(0.004)
    assert d.gate.passed is False and "wait over" in d.reason
    assert d.taker_allowed is True  # soft_taker_after_wait


def test_gate_wait_memory_resets_under_soft_and_on_side_change(anchor, policy_view):
    _, m = anchor.decide(_gate_view(policy_view, T0, 59_990.0), MEM)
    assert (m.gate_wait_since_ms, m.gate_wait_side) == (T0, Side.SELL)
    # the gap shrinks under soft: the wait is forgotten
    _, m_under = anchor.decide(_gate_view(policy_view, T0 + 5_000, 59_990.0, gap=0.001), m)
    assert m_under.gate_wait_since_ms is None and m_under.gate_wait_side is None
    # the other side needs a trade now: its wait starts fresh
    v = policy_view(spot_base=spot_for_gap(-0.008), price=60_010.0, sell_vwap=60_000.0, ts_ms=T0 + 7_000)
    d, m_buy = anchor.decide(v, m)
    assert d.action is Action.HOLD and d.gate.waited_s == 0.0
    assert (m_buy.gate_wait_since_ms, m_buy.gate_wait_side) == (T0 + 7_000, Side.BUY)
    # a trade clears it
    cleared = m.after_trade(T0 + 9_000, Side.SELL)
    assert cleared.gate_wait_since_ms is None and cleared.last_trade_side is Side.SELL


# ================================================================ hysteresis and cooldown


@pytest.mark.parametrize(
    "last_side, ago_s, action",
    [
        # last trade BUY 100 s ago (inside 300 s): a SELL needs 0.004 × 1.2 = 0.0048 > 0.0045
        (Side.BUY, 100, Action.HOLD),
        (Side.SELL, 100, Action.PARTIAL),  # same side: plain soft 0.004
        (Side.BUY, 301, Action.PARTIAL),  # window over
    ],
)
def test_hysteresis(anchor, policy_view, last_side, ago_s, action):
    mem = PolicyMemory(last_trade_ms=T0 - ago_s * 1000, last_trade_side=last_side)
    d, _ = anchor.decide(policy_view(spot_base=spot_for_gap(0.0045), ts_ms=T0), mem)
    assert d.action is action
    if last_side is Side.BUY and ago_s < 300:
        assert d.effective_soft == pytest.approx(0.0048)
        assert "hysteresis" in d.reason
    else:
        assert d.effective_soft == pytest.approx(0.004)


def test_hysteresis_is_capped_at_hard(make_policy_for, policy_view):
    p = make_policy_for("anchor", risk={"cooldown_s": 10, "hard_cooldown_s": 2, "hysteresis_pct": 5.0,
                                        "hysteresis_window_s": 300})
    mem = PolicyMemory(last_trade_ms=T0 - 100_000, last_trade_side=Side.BUY)
    # 0.004 × (1 + 5) = 0.024 -> capped at hard 0.012
    d, _ = p.decide(policy_view(spot_base=spot_for_gap(0.011), ts_ms=T0), mem)
    assert d.effective_soft == pytest.approx(0.012) and d.effective_hard == pytest.approx(0.012)
    assert d.action is Action.HOLD
    d, _ = p.decide(policy_view(spot_base=spot_for_gap(0.0125), ts_ms=T0), mem)
    assert d.action is Action.FULL


@pytest.mark.parametrize(
    "gap, ago_ms, action, note",
    [
        (0.008, 5_000, Action.HOLD, "cooling down 5.0s"),  # soft: cooldown 10 s
        (0.008, 10_000, Action.PARTIAL, ""),  # exactly over
        (0.05, 5_000, Action.FULL, ""),  # hard: its own 2 s cooldown is over
        (0.05, 1_000, Action.HOLD, "cooling down 1.0s"),
        (0.05, 2_000, Action.FULL, ""),
    ],
)
def test_cooldowns(anchor, policy_view, gap, ago_ms, action, note):
    mem = PolicyMemory(last_trade_ms=T0 - ago_ms, last_trade_side=Side.SELL)
    d, m = anchor.decide(policy_view(spot_base=spot_for_gap(gap), ts_ms=T0), mem)
    assert d.action is action
    assert note in d.reason
    if action is Action.HOLD:
        assert d.qty_base == 0.0 and m == mem


# ================================================================ simple policy (seed 001)


@pytest.fixture(scope="module")
def simple(make_policy_for):
    return make_policy_for("simple")


PX = 50_000.0


@pytest.mark.parametrize(
    "spot, fut, state, action, side, threshold, qty",
    [
        # Scenario 1: spot +$500 (0.01 × 50000), uptrend: threshold 100 × 1.5 = 150.
        # The seed's text says "Wait", but its own rule gives 500 > 150 -> rebalance (sell).
        (0.01, 0.0, "up", Action.FULL, Side.SELL, 150.0, 0.01),
        # Scenario 2: same exposure, downtrend opposes it: threshold 100 -> sell
        (0.01, 0.0, "down", Action.FULL, Side.SELL, 100.0, 0.01),
        # Divergence 120 (0.0024 × 50000): uptrend -> 120 < 150 -> hold
        (0.0024, 0.0, "up", Action.HOLD, Side.SELL, 150.0, 0.0),
        # … downtrend -> 120 ≥ 100 -> sell 0.0024
        (0.0024, 0.0, "down", Action.FULL, Side.SELL, 100.0, 0.0024),
        (0.0024, 0.0, "flat", Action.FULL, Side.SELL, 100.0, 0.0024),
        # short exposure −120 in a downtrend: widened to 150 -> hold
        (0.0, -0.0024, "down", Action.HOLD, Side.BUY, 150.0, 0.0),
        # … in an uptrend it is not supported: buy 0.0024
        (0.0, -0.0024, "up", Action.FULL, Side.BUY, 100.0, 0.0024),
        # within the base threshold: 0.0016 × 50000 = 80 < 100
        (0.0016, 0.0, "flat", Action.HOLD, Side.SELL, 100.0, 0.0),
    ],
)
def test_simple_seed_scenarios(simple, policy_view, trend_view, spot, fut, state, action, side, threshold, qty):
    signal = {"up": 1.0, "down": -1.0, "flat": 0.0}[state]
    d, _ = simple.decide(policy_view(spot_base=spot, futures_base=fut, price=PX, trend=trend_view(signal, state)), MEM)
    assert d.unit == "usdt"
    assert d.gap == pytest.approx((spot + fut) * PX)
    assert d.effective_soft == pytest.approx(threshold)
    assert d.action is action and d.side is side
    assert d.qty_base == pytest.approx(qty)
    if action is Action.FULL:
        assert d.maker_first is True and d.taker_allowed is True and d.take_now is False


@pytest.mark.parametrize(
    "spot, state",
    [
        (0.002, "flat"),  # 0.002 × 50000 = 100.0 exactly (binary float) == threshold 100
        (0.003, "up"),  # 0.003 × 50000 = 150.0 == 100 × 1.5
    ],
)
def test_simple_divergence_equal_to_threshold_does_not_exceed_it(simple, policy_view, trend_view, spot, state):
    signal = 1.0 if state == "up" else 0.0
    v = policy_view(spot_base=spot, futures_base=0.0, price=PX, trend=trend_view(signal, state))
    d, _ = simple.decide(v, MEM)
    assert d.gap == d.effective_soft  # exactly at the threshold
    assert d.action is Action.HOLD


def test_simple_trend_not_ready_no_multiplier(simple, policy_view, trend_view):
    # an "up" state from an unready tracker must not widen: 120 ≥ 100 -> sell
    d, _ = simple.decide(policy_view(spot_base=0.0024, futures_base=0.0, price=PX,
                                     trend=trend_view(1.0, "up", ready=False)), MEM)
    assert d.effective_soft == 100.0 and d.bias.scale == 1.0
    assert d.action is Action.FULL and d.trend_state == "flat"


def test_simple_use_trend_false(make_policy_for, policy_view, trend_view):
    p = make_policy_for("simple", use_trend=False)
    d, _ = p.decide(policy_view(spot_base=0.0024, futures_base=0.0, price=PX, trend=trend_view(1.0, "up")), MEM)
    assert d.effective_soft == 100.0 and d.action is Action.FULL


def test_simple_cooldown(simple, policy_view):
    v = policy_view(spot_base=0.01, futures_base=0.0, price=PX, ts_ms=T0)
    d, _ = simple.decide(v, PolicyMemory(last_trade_ms=T0 - 5_000, last_trade_side=Side.SELL))
    assert d.action is Action.HOLD and "cooling down 5.0s" in d.reason  # cooldown_seconds 10
    d, _ = simple.decide(v, PolicyMemory(last_trade_ms=T0 - 10_000, last_trade_side=Side.SELL))
    assert d.action is Action.FULL


def test_simple_target_and_market_mode(make_policy_for, policy_view):
    p = make_policy_for("simple", target_delta_usdt=200, use_limit_orders=False)
    # 0.01 × 50000 = 500; divergence 500 − 200 = 300; target base 200/50000 = 0.004
    # -> sell 0.01 − 0.004 = 0.006, at market
    d, _ = p.decide(policy_view(spot_base=0.01, futures_base=0.0, price=PX), MEM)
    assert d.gap == pytest.approx(300.0)
    assert d.target_base == pytest.approx(0.004) and d.gap_base == pytest.approx(0.006)
    assert d.action is Action.FULL and d.qty_base == pytest.approx(0.006)
    assert d.take_now is True and d.maker_first is False


# ================================================================ baseline


@pytest.fixture(scope="module")
def baseline(make_policy_for):
    return make_policy_for("baseline")


def test_baseline_full_gap_at_market_on_the_interval(baseline, policy_view):
    d, m = baseline.decide(policy_view(spot_base=spot_for_gap(0.05), ts_ms=T0), MEM)
    assert d.action is Action.FULL and d.side is Side.SELL and d.qty_base == pytest.approx(0.05)
    assert d.take_now is True and d.maker_first is False
    assert m.last_check_ms == T0
    # 30 s later: interval 60 s not over -> hold, next check in 30 s
    d, m2 = baseline.decide(policy_view(spot_base=spot_for_gap(0.05), ts_ms=T0 + 30_000), m)
    assert d.action is Action.HOLD and "next check in 30s" in d.reason and m2 == m
    d, m3 = baseline.decide(policy_view(spot_base=spot_for_gap(-0.02), ts_ms=T0 + 60_000), m)
    assert d.action is Action.FULL and d.side is Side.BUY and d.qty_base == pytest.approx(0.02)
    assert m3.last_check_ms == T0 + 60_000


def test_baseline_min_trade(baseline, policy_view):
    # |gap| 0.0004 < min trade 0.0005 -> hold, but the check still counts
    d, m = baseline.decide(policy_view(spot_base=spot_for_gap(0.0004), ts_ms=T0), MEM)
    assert d.action is Action.HOLD and "min trade" in d.reason
    assert m.last_check_ms == T0


def test_make_policy_unknown_name(make_config):
    with pytest.raises(ValueError, match="unknown policy"):
        make_policy(make_config().rebalancer, "fancy")
