"""Rebalancing policies: a market/account view in, a ``Decision`` (with its reasons) out.

Policies are pure: ``decide(view, memory)`` returns the decision and the policy's updated
memory (gate wait start, last check), and never reads a clock. The same call answers the
what-if CLI, the replay and the live cockpit.

``Policy`` is what the rebalancer may ask of one (its target, the smallest gap it could act
on, its trend's settings, its hold bands ...): each policy answers from its own config block,
so no code outside this module branches on a policy's class or reads a policy's settings.

- ``AnchorPolicy`` — seed 000: soft/hard thresholds (given in base, quote, % of the spot notional
  or % of equity; turned into base at each decision's price and equity), scaled by an EMA trend
  bias and a recent-fills anchor bias; a price gate on the soft path that may wait (with a
  decaying edge).
- ``SimplePolicy`` — seed 001: USDT divergence against one threshold, widened by
  ``trend_multiplier`` when the trend supports the current exposure.
- ``BaselinePolicy`` — what hedging tools commonly do: every ``check_interval_s``, trade the
  whole gap at market. Kept for comparison in replays.
"""

from __future__ import annotations

from dataclasses import replace
from typing import NamedTuple, Protocol

from core.account import side_to_close
from core.fills import NEVER_MS
from core.config import (
    AnchorConfig,
    AnchorPolicyConfig,
    BaselinePolicyConfig,
    EmaConfig,
    ExecutionConfig,
    RebalancerConfig,
    RiskConfig,
    SimplePolicyConfig,
    parse_timeframe_ms,
)
from core.model import Action, BiasParts, Decision, GateResult, Side
from core.trend import FLAT, TrendView, clamp
from core.values import value_type

EPS = 1e-12
INF = float("inf")
BAND_MARGIN = 1e-9  # hold bands are drawn this much (relative) inside the exact boundary
# A hold band of thresholds in quote units reaches at most this far (relative) either side of the
# price: over it the soft threshold in base is bounded below by its value at the top end.
QUOTE_BAND_REACH = 0.002


class HoldBand(NamedTuple):
    """Prices strictly between ``lo`` and ``hi`` keep a HOLD a HOLD until ``until_ms``, as long
    as nothing else the policy reads changes (account, trend, anchors)."""

    lo: float
    hi: float
    until_ms: int


WHOLE_BAND = HoldBand(0.0, INF, NEVER_MS)


@value_type
class TrendSettings:
    """The candles and EMAs a policy's trend reads."""

    fast: int
    slow: int
    timeframe_ms: int
    slope_lookback_s: float
    threshold_pct: float


def _ema_settings(e: EmaConfig) -> TrendSettings:
    return TrendSettings(e.fast, e.slow, parse_timeframe_ms(e.timeframe), e.slope_lookback_s, e.trend_threshold_pct)


@value_type
class PolicyView:
    """Everything a policy reads, at one instant."""

    ts_ms: int
    price: float
    spot_base: float  # hedge part of the spot wallet (reserve already removed)
    futures_base: float  # signed
    trend: TrendView = FLAT
    buy_vwap: float | None = None
    sell_vwap: float | None = None
    equity: float | None = None  # account equity (quote) at ``price``; None: not known yet

    @property
    def net_base(self) -> float:
        return self.spot_base + self.futures_base


@value_type
class PolicyMemory:
    """What a policy remembers between calls (restored from the journal after a restart)."""

    last_trade_ms: int | None = None
    last_trade_side: Side | None = None
    gate_wait_since_ms: int | None = None
    gate_wait_side: Side | None = None
    last_check_ms: int | None = None

    def after_trade(self, ts_ms: int, side: Side) -> "PolicyMemory":
        return PolicyMemory(ts_ms, side, None, None, self.last_check_ms)

    def without_gate_wait(self) -> "PolicyMemory":
        """The same memory with no anchor-gate wait running (itself when none is: this runs on
        every decision, and ``dataclasses.replace`` is slow)."""
        if self.gate_wait_since_ms is None and self.gate_wait_side is None:
            return self
        return PolicyMemory(self.last_trade_ms, self.last_trade_side, None, None, self.last_check_ms)


def _cooldown_left_s(memory: PolicyMemory, now_ms: int, cooldown_s: float) -> float:
    if memory.last_trade_ms is None or cooldown_s <= 0:
        return 0.0
    left = cooldown_s - (now_ms - memory.last_trade_ms) / 1000.0
    return left if left > 0 else 0.0


class Policy(Protocol):
    """What the rebalancer may ask of a policy; each answers from its own config block. The
    policies below subclass it for the defaults."""

    name: str
    trend_settings: TrendSettings  # the candles and EMAs its trend reads
    fills_window_s: float  # the recent-fills window its anchors read (the cockpit shows it)
    fixed_target: float | None  # its target net in base, when that does not move with price
    fixed_min_gap: float | None = None  # ``min_actionable_gap`` when neither account nor price moves it

    def target_base(self, price: float | None) -> float:
        """The net position (base) it steers to at ``price``."""
        return self.fixed_target

    def min_actionable_gap(self, spot_base: float, price: float | None, equity: float | None = None) -> float:
        """The smallest |gap| it could ever act on, under any bias or trend: below it, HOLD is
        sure and the rebalancer need not ask."""

    def band_base(self, price: float, spot_base: float, equity: float | None = None) -> float:
        """Its hard threshold in base at ``price``, ``spot_base`` and ``equity``: the default
        common band the statistics measure time over (``--band``), so policies can be compared
        on one scale."""

    threshold_units: str = "base"  # the unit its thresholds are configured in

    def thresholds_base(self, spot_base: float, price: float, equity: float | None) -> tuple[float, float]:
        """Its (soft, hard) thresholds in base at ``price`` and ``equity``, before any bias
        (``check-config`` shows them in every unit)."""
        hard = self.band_base(price, spot_base, equity)
        return hard, hard

    def decide(self, view: PolicyView, memory: PolicyMemory) -> tuple[Decision, PolicyMemory]: ...

    def hold_band(self, ts_ms: int, price: float, spot_base: float, futures_base: float, trend: TrendView,
                  buy_vwap: float | None, sell_vwap: float | None, memory: PolicyMemory) -> HoldBand | None: ...

    def robust_hold_band(self, ts_ms: int, spot_base: float, futures_base: float, buy_vwap: float | None,
                         sell_vwap: float | None, memory: PolicyMemory) -> HoldBand | None: ...

    def after_sure_hold(self, memory: PolicyMemory) -> PolicyMemory:
        """Its memory after a HOLD the rebalancer was sure of without asking."""
        return memory

    def execution_path(self, decision: Decision) -> str:
        """How a trading decision is worked: ``soft`` / ``hard`` (maker wait lengths) or the
        policy's own name."""
        return self.name

    def gate_order(self, decision: Decision, memory: PolicyMemory) -> tuple[float, float] | None:
        """(qty in base, price) of the trade ``decision`` waits to make at a price gate, while
        it waits (``execution.rest_at_gate`` rests it there as maker); None: no such wait."""
        return None


class AnchorPolicy(Policy):
    name = "anchor"

    def __init__(self, cfg: AnchorPolicyConfig, execution: ExecutionConfig, risk: RiskConfig) -> None:
        self.cfg = cfg
        self.execution = execution
        self.risk = risk
        self.trend_settings = _ema_settings(cfg.ema)
        self.fills_window_s = cfg.anchor.window_s
        self.fixed_target = cfg.desired_net_delta_base
        self.threshold_units = cfg.thresholds.units
        self.fixed_min_gap = (self.base_thresholds(0.0)[0] * cfg.bias.min_scale
                              if self.threshold_units == "base" else None)

    # -- what the rebalancer asks

    def min_actionable_gap(self, spot_base: float, price: float | None, equity: float | None = None) -> float:
        """The soft threshold at the smallest bias scale (hysteresis only widens it)."""
        floor = self.fixed_min_gap
        if floor is not None:
            return floor
        return self.base_thresholds(spot_base, price, equity)[0] * self.cfg.bias.min_scale

    def band_base(self, price: float, spot_base: float, equity: float | None = None) -> float:
        return self.base_thresholds(spot_base, price, equity)[1]

    def thresholds_base(self, spot_base: float, price: float, equity: float | None) -> tuple[float, float]:
        return self.base_thresholds(spot_base, price, equity)

    def after_sure_hold(self, memory: PolicyMemory) -> PolicyMemory:
        return memory.without_gate_wait()  # a HOLD under the soft threshold ends a gate wait

    def execution_path(self, decision: Decision) -> str:
        return "hard" if decision.action is Action.FULL else "soft"

    def gate_order(self, decision: Decision, memory: PolicyMemory) -> tuple[float, float] | None:
        """While the soft path's gate waits (a HOLD past soft, the wait running, no cooldown):
        the partial it will trade when price reaches the gate, at the gate's limit price."""
        g = decision.gate
        side = decision.side
        if (decision.action is not Action.HOLD or side is None or g is None or not g.applies or g.passed
                or g.limit_price is None or g.max_wait_s <= 0 or g.waited_s >= g.max_wait_s
                or memory.gate_wait_side is not side or memory.gate_wait_since_ms is None
                or _cooldown_left_s(memory, decision.ts_ms, self.risk.cooldown_s) > 0):
            return None
        return self.cfg.partial_rebalance_ratio * abs(decision.gap_base), g.limit_price

    # -- pieces (public so the UI, tests and the CLI can show them)

    def base_thresholds(self, spot_base: float, price: float | None = None,
                        equity: float | None = None) -> tuple[float, float]:
        """(soft, hard) in base, before bias: ``quote`` divided by ``price``, ``pct_of_equity``
        the share of ``equity`` divided by ``price``; infinite (nothing trades) while the price
        or the equity they need is not known."""
        t = self.cfg.thresholds
        units = t.units
        if units == "base":
            soft, hard = t.soft, t.hard
        elif units == "pct_of_spot_notional":  # expressed in base: pct × |spot_base|
            soft, hard = t.soft / 100.0 * abs(spot_base), t.hard / 100.0 * abs(spot_base)
        elif not price or price <= 0.0 or (units == "pct_of_equity" and equity is None):
            return INF, INF
        elif units == "quote":
            soft, hard = t.soft / price, t.hard / price
        else:  # pct_of_equity
            worth = (equity if equity > 0.0 else 0.0) / 100.0 / price  # type: ignore[operator]
            soft, hard = t.soft * worth, t.hard * worth
        floor = self.execution.min_trade_base
        return max(soft, floor), max(hard, floor * 2 if floor > 0 else hard)

    def trend_signal(self, trend: TrendView) -> float:
        b = self.cfg.bias
        if b.mode == "manual":
            return b.manual_override
        if b.mode == "off":
            return 0.0
        return trend.signal if trend.ready else 0.0

    def gate(self, side: Side, view: PolicyView, edge_bps: float, *, waited_s: float = 0.0,
             max_wait_s: float = 0.0) -> GateResult:
        """The anchor gate for ``side`` at ``edge_bps``: SELL needs price ≥ buy_vwap·(1+edge),
        BUY needs price ≤ sell_vwap·(1−edge). No recent fill on that side → no gate."""
        if side is Side.SELL:
            ref = view.buy_vwap
            if ref is None:
                return GateResult(applies=False, passed=True, waited_s=waited_s, max_wait_s=max_wait_s,
                                  reason="no recent buy fills: no gate")
            actual = (view.price / ref - 1.0) * 1e4
            limit = ref * (1.0 + edge_bps / 1e4)
            ok = view.price >= limit * (1.0 - 1e-12)  # relative: prices are ~1e4, floats ~1e-16
            word = "≥" if ok else "<"
            why = f"price {view.price:.2f} {word} buy VWAP {ref:.2f} +{edge_bps:.1f}bps = {limit:.2f}"
        else:
            ref = view.sell_vwap
            if ref is None:
                return GateResult(applies=False, passed=True, waited_s=waited_s, max_wait_s=max_wait_s,
                                  reason="no recent sell fills: no gate")
            actual = (1.0 - view.price / ref) * 1e4
            limit = ref * (1.0 - edge_bps / 1e4)
            ok = view.price <= limit * (1.0 + 1e-12)
            word = "≤" if ok else ">"
            why = f"price {view.price:.2f} {word} sell VWAP {ref:.2f} −{edge_bps:.1f}bps = {limit:.2f}"
        return GateResult(applies=True, passed=ok, reference_vwap=ref, required_edge_bps=edge_bps,
                          actual_edge_bps=actual, limit_price=limit, waited_s=waited_s, max_wait_s=max_wait_s,
                          reason=why)

    def bias(self, gap: float, view: PolicyView) -> BiasParts:
        signal, ema_bias, anchor_bias, combined, scale = self._bias_numbers(
            gap, view.price, view.trend, view.buy_vwap, view.sell_vwap)
        return BiasParts(trend_signal=signal, ema_bias=ema_bias, anchor_bias=anchor_bias, combined=combined, scale=scale)

    def _bias_numbers(self, gap: float, price: float, trend: TrendView, buy_vwap: float | None,
                      sell_vwap: float | None) -> tuple[float, float, float, float, float]:
        b = self.cfg.bias
        signal = self.trend_signal(trend)
        ema_bias = clamp(signal * (1.0 if gap > 0 else -1.0))
        anchor_bias = 0.0
        ref = buy_vwap if gap > 0 else sell_vwap  # the side we need: SELL for a long drift
        if ref:
            edge = (price / ref - 1.0) * 1e4 if gap > 0 else (1.0 - price / ref) * 1e4
            # favourable edge (selling above our buys / buying below our sells) → negative → tighten
            anchor_bias = -clamp(edge / self.cfg.anchor.full_bias_edge_bps)
        combined = b.w_ema * ema_bias + b.w_anchor * anchor_bias
        scale = clamp(1.0 + b.strength * combined, b.min_scale, b.max_scale)
        return signal, ema_bias, anchor_bias, combined, scale

    def quick_hold(self, ts_ms: int, price: float, spot_base: float, futures_base: float, trend: TrendView,
                   buy_vwap: float | None, sell_vwap: float | None, memory: PolicyMemory,
                   equity: float | None = None) -> bool:
        """True when ``decide`` would surely answer HOLD because |gap| is under the effective soft
        threshold: the same arithmetic without building the decision and its reasons (replay's
        hot path). Hysteresis only widens the threshold, so ignoring it here is safe."""
        gap = spot_base + futures_base - self.cfg.desired_net_delta_base
        if gap == 0.0:
            return True
        if equity is None and self.threshold_units == "pct_of_equity":
            return False  # not sure of anything without the equity
        soft, _ = self.base_thresholds(spot_base, price, equity)
        scale = self._bias_numbers(gap, price, trend, buy_vwap, sell_vwap)[4]
        return (gap if gap > 0 else -gap) < soft * scale - EPS

    def hold_band(self, ts_ms: int, price: float, spot_base: float, futures_base: float, trend: TrendView,
                  buy_vwap: float | None, sell_vwap: float | None, memory: PolicyMemory) -> HoldBand | None:
        """The prices around ``price`` at which ``quick_hold`` stays true while the account, the
        trend and the anchors stay as given (None when it is false now). Replay re-evaluates
        only when price leaves it.

        In ``quote`` units the soft threshold in base falls as price rises, so the band is drawn
        within ``QUOTE_BAND_REACH`` of ``price`` with the soft threshold at its top end (the
        least over it). In ``pct_of_equity`` units it also moves with the equity, which moves
        with more than price: no band, the policy is asked."""
        units = self.threshold_units
        if units == "pct_of_equity":
            return None
        if not self.quick_hold(ts_ms, price, spot_base, futures_base, trend, buy_vwap, sell_vwap, memory):
            return None
        if units != "quote":
            band = self._price_band(spot_base, futures_base, trend, buy_vwap, sell_vwap)
            return band if band is not None and band.lo < price < band.hi else None
        lo, hi = price / (1.0 + QUOTE_BAND_REACH), price * (1.0 + QUOTE_BAND_REACH)
        band = self._price_band(spot_base, futures_base, trend, buy_vwap, sell_vwap,
                                soft=self.base_thresholds(spot_base, hi)[0])
        if band is None:
            return None
        band = HoldBand(band.lo if band.lo > lo else lo, band.hi if band.hi < hi else hi, band.until_ms)
        return band if band.lo < price < band.hi else None

    def robust_hold_band(self, ts_ms: int, spot_base: float, futures_base: float, buy_vwap: float | None,
                         sell_vwap: float | None, memory: PolicyMemory) -> HoldBand | None:
        """Every price at which the hold test passes under the least favourable trend (EMA bias
        −1: the smallest scale), so it stays true across candle closes while the account and
        the anchors do not move. None: at no price, or with thresholds that move with price or
        equity (``quote``, ``pct_of_equity``: ``hold_band`` draws theirs around a price)."""
        if self.threshold_units in ("quote", "pct_of_equity"):
            return None
        gap = spot_base + futures_base - self.cfg.desired_net_delta_base
        worst = TrendView(True, None, None, 0.0, 0.0, "flat", -1.0 if gap > 0 else 1.0)
        return self._price_band(spot_base, futures_base, worst, buy_vwap, sell_vwap)

    def _price_band(self, spot_base: float, futures_base: float, trend: TrendView, buy_vwap: float | None,
                    sell_vwap: float | None, *, soft: float | None = None) -> HoldBand | None:
        """All prices at which ``quick_hold`` is true (None: none). Only the anchor part of the
        bias moves with price, and monotonically, so the band is one-sided: selling (gap > 0)
        holds below a ceiling, buying above a floor. Drawn ``BAND_MARGIN`` inside the exact
        boundary so that float rounding can never put a failing price inside. ``soft``: the
        soft threshold in base to draw it with (default: the price-free one)."""
        gap = spot_base + futures_base - self.cfg.desired_net_delta_base
        if gap == 0.0:
            return WHOLE_BAND
        if soft is None:
            soft = self.base_thresholds(spot_base)[0]
        if soft <= 0.0:
            return None  # a zero threshold (no spot, no floor): any gap is past it, at any price
        mag = gap if gap > 0 else -gap
        ref = buy_vwap if gap > 0 else sell_vwap
        b = self.cfg.bias
        k = b.strength * b.w_anchor
        if not ref or k <= 0.0:  # nothing in the hold test depends on price: the exact test once
            scale = self._bias_numbers(gap, ref or 1.0, trend, buy_vwap, sell_vwap)[4]
            return WHOLE_BAND if mag < soft * scale - EPS else None
        r = (mag + EPS) / soft  # hold ⇔ scale > r
        if r < b.min_scale * (1.0 - BAND_MARGIN):
            return WHOLE_BAND  # the scale never falls that low, whatever the anchor part
        if r >= b.max_scale:
            return None
        ema_bias = clamp(self.trend_signal(trend) * (1.0 if gap > 0 else -1.0))
        u = (1.0 + b.strength * b.w_ema * ema_bias - r) / k  # hold ⇔ clamp(edge / full) < u
        if u > 1.0 + BAND_MARGIN:
            return WHOLE_BAND
        if u <= -1.0:
            return None
        edge_limit_bps = u * self.cfg.anchor.full_bias_edge_bps
        if gap > 0:  # edge = (price / ref − 1)·1e4 < limit
            return HoldBand(0.0, ref * (1.0 + edge_limit_bps / 1e4) * (1.0 - BAND_MARGIN), NEVER_MS)
        return HoldBand(ref * (1.0 - edge_limit_bps / 1e4) * (1.0 + BAND_MARGIN), INF, NEVER_MS)

    # -- the decision flow (seed 000, steps 1–8)

    def decide(self, view: PolicyView, memory: PolicyMemory) -> tuple[Decision, PolicyMemory]:
        cfg, risk, ex = self.cfg, self.risk, self.execution
        net = view.net_base
        target = cfg.desired_net_delta_base
        gap = net - target
        soft, hard = self.base_thresholds(view.spot_base, view.price, view.equity)
        trend_state = view.trend.state if view.trend.ready else "flat"
        common = dict(ts_ms=view.ts_ms, policy=self.name, gap_base=gap, net_base=net, target_base=target,
                      price=view.price, unit="base", gap=gap, base_soft=soft, base_hard=hard,
                      trend_state=trend_state)
        if abs(gap) <= EPS:
            d = Decision(action=Action.HOLD, side=None, qty_base=0.0, effective_soft=soft, effective_hard=hard,
                         reason="on target", **common)
            return d, memory.without_gate_wait()
        side = side_to_close(gap)
        parts = self.bias(gap, view)
        eff_soft, eff_hard = soft * parts.scale, hard * parts.scale
        # hysteresis: trading back the other way soon after a trade needs a wider gap
        hyst_note = ""
        if (memory.last_trade_side is not None and memory.last_trade_side is not side
                and memory.last_trade_ms is not None
                and view.ts_ms - memory.last_trade_ms < risk.hysteresis_window_s * 1000):
            widened = min(eff_soft * (1.0 + risk.hysteresis_pct), eff_hard)
            if widened > eff_soft:
                hyst_note = f"; hysteresis: opposite side needs {widened:.6f}"
            eff_soft = widened
        common.update(effective_soft=eff_soft, effective_hard=eff_hard, bias=parts)
        mag = abs(gap)

        if mag >= eff_hard - EPS:
            left = _cooldown_left_s(memory, view.ts_ms, risk.hard_cooldown_s)
            gate = self.gate(side, view, cfg.anchor.edge_bps_hard)
            if left > 0:
                d = Decision(action=Action.HOLD, side=side, qty_base=0.0, gate=gate,
                             reason=f"|gap| {mag:.6f} ≥ hard {eff_hard:.6f} but cooling down {left:.1f}s", **common)
                return d, memory
            take_now = gate.passed
            how = "take now (gate passes)" if take_now else f"rest maker up to {ex.hard_maker_wait_s:.0f}s, then take"
            d = Decision(action=Action.FULL, side=side, qty_base=mag, gate=gate, maker_first=not take_now,
                         taker_allowed=True, take_now=take_now,
                         reason=f"|gap| {mag:.6f} ≥ hard {eff_hard:.6f}: {side.lower()} the full gap, {how}; {_bias_text(parts)}{hyst_note}",
                         **common)
            return d, memory.without_gate_wait()

        if mag >= eff_soft - EPS:
            left = _cooldown_left_s(memory, view.ts_ms, risk.cooldown_s)
            a = cfg.anchor
            since = memory.gate_wait_since_ms if memory.gate_wait_side is side else None
            waited_s = (view.ts_ms - since) / 1000.0 if since is not None else 0.0
            edge = a.edge_bps_soft
            if a.degrade_edge_with_time and a.max_wait_s_on_soft > 0 and waited_s > 0:
                edge = a.edge_bps_soft * max(0.0, 1.0 - waited_s / a.max_wait_s_on_soft)
            gate = self.gate(side, view, edge, waited_s=waited_s, max_wait_s=a.max_wait_s_on_soft)
            qty = cfg.partial_rebalance_ratio * mag
            if left > 0:
                d = Decision(action=Action.HOLD, side=side, qty_base=0.0, gate=gate,
                             reason=f"|gap| {mag:.6f} ≥ soft {eff_soft:.6f} but cooling down {left:.1f}s{hyst_note}", **common)
                return d, memory
            if gate.applies and not gate.passed:
                if waited_s < a.max_wait_s_on_soft:
                    new_mem = memory if since is not None else replace(memory, gate_wait_since_ms=view.ts_ms, gate_wait_side=side)
                    d = Decision(action=Action.HOLD, side=side, qty_base=0.0, gate=gate,
                                 reason=f"|gap| {mag:.6f} ≥ soft {eff_soft:.6f}, gate waits ({waited_s:.0f}/{a.max_wait_s_on_soft:.0f}s): {gate.reason}",
                                 **common)
                    return d, new_mem
                d = Decision(action=Action.PARTIAL, side=side, qty_base=qty, gate=gate, maker_first=ex.maker_first,
                             taker_allowed=ex.soft_taker_after_wait,
                             reason=f"|gap| {mag:.6f} ≥ soft {eff_soft:.6f}: gate wait over ({a.max_wait_s_on_soft:.0f}s), "
                                    f"{side.lower()} {cfg.partial_rebalance_ratio:.0%} of the gap; {_bias_text(parts)}{hyst_note}",
                             **common)
                return d, memory
            d = Decision(action=Action.PARTIAL, side=side, qty_base=qty, gate=gate, maker_first=ex.maker_first,
                         taker_allowed=ex.soft_taker_after_wait,
                         reason=f"|gap| {mag:.6f} ≥ soft {eff_soft:.6f}: {side.lower()} "
                                f"{cfg.partial_rebalance_ratio:.0%} of the gap, maker first; {gate.reason}; {_bias_text(parts)}{hyst_note}",
                         **common)
            return d, memory

        d = Decision(action=Action.HOLD, side=side, qty_base=0.0,
                     reason=f"|gap| {mag:.6f} < soft {eff_soft:.6f}; {_bias_text(parts)}{hyst_note}", **common)
        return d, memory.without_gate_wait()


def _bias_text(parts: BiasParts) -> str:
    """The bias part of a reason, written only by the branches that show it (a gate wait, the
    commonest answer on a busy grid, does not)."""
    return f"bias {parts.combined:+.2f} (ema {parts.ema_bias:+.2f}, anchor {parts.anchor_bias:+.2f}) → ×{parts.scale:.2f}"


class SimplePolicy(Policy):
    name = "simple"
    threshold_units = "quote"

    def __init__(self, cfg: SimplePolicyConfig, execution: ExecutionConfig, risk: RiskConfig, *,
                 slope_lookback_s: float = EmaConfig.slope_lookback_s,
                 fills_window_s: float = AnchorConfig.window_s) -> None:
        self.cfg = cfg
        self.execution = execution
        self.risk = risk
        self.trend_settings = TrendSettings(cfg.ema_fast_period, cfg.ema_slow_period,
                                            parse_timeframe_ms(cfg.ema_timeframe), slope_lookback_s,
                                            cfg.trend_threshold_pct)
        self.fills_window_s = fills_window_s
        self.fixed_target = None  # in USDT: the base target moves with price

    # -- what the rebalancer asks

    def target_base(self, price: float | None) -> float:
        return self.cfg.target_delta_usdt / price if price else 0.0

    def min_actionable_gap(self, spot_base: float, price: float | None, equity: float | None = None) -> float:
        """The threshold without the trend multiplier (it only widens), in base at ``price``."""
        return self.cfg.rebalance_threshold_usdt / price if price else 0.0

    def band_base(self, price: float, spot_base: float, equity: float | None = None) -> float:
        return self.cfg.rebalance_threshold_usdt / price if price > 0 else INF

    def threshold_usdt(self, divergence: float, trend: TrendView) -> tuple[float, bool]:
        """Base threshold, × trend_multiplier when the trend supports the exposure (long in an
        uptrend, short in a downtrend)."""
        c = self.cfg
        supports = c.use_trend and trend.ready and (
            (divergence > 0 and trend.state == "up") or (divergence < 0 and trend.state == "down"))
        return (c.rebalance_threshold_usdt * c.trend_multiplier if supports else c.rebalance_threshold_usdt), supports

    def quick_hold(self, ts_ms: int, price: float, spot_base: float, futures_base: float, trend: TrendView,
                   buy_vwap: float | None, sell_vwap: float | None, memory: PolicyMemory) -> bool:
        """True when ``decide`` would surely answer HOLD (divergence within the threshold)."""
        divergence = (spot_base + futures_base) * price - self.cfg.target_delta_usdt
        threshold, _ = self.threshold_usdt(divergence, trend)
        return abs(divergence) <= threshold

    def hold_band(self, ts_ms: int, price: float, spot_base: float, futures_base: float, trend: TrendView,
                  buy_vwap: float | None, sell_vwap: float | None, memory: PolicyMemory) -> HoldBand | None:
        """The prices around ``price`` at which the divergence stays within its threshold (None
        when it is not now)."""
        if not self.quick_hold(ts_ms, price, spot_base, futures_base, trend, buy_vwap, sell_vwap, memory):
            return None
        band = self._price_band(spot_base, futures_base, trend)
        return band if band is not None and band.lo < price < band.hi else None

    def robust_hold_band(self, ts_ms: int, spot_base: float, futures_base: float, buy_vwap: float | None,
                         sell_vwap: float | None, memory: PolicyMemory) -> HoldBand | None:
        """The band whatever the trend: the multiplier only widens (when ≥ 1), so the band
        without it holds in every trend."""
        if self.cfg.trend_multiplier < 1.0:
            return None
        return self._price_band(spot_base, futures_base, FLAT)

    def _price_band(self, spot_base: float, futures_base: float, trend: TrendView) -> HoldBand | None:
        """target − threshold(short) ≤ net·price ≤ target + threshold(long), drawn
        ``BAND_MARGIN`` inside (None: at no price)."""
        net = spot_base + futures_base
        target = self.cfg.target_delta_usdt
        if net == 0.0:  # the divergence does not move with price
            return WHOLE_BAND if abs(target) <= self.threshold_usdt(-target, trend)[0] else None
        upper = target + self.threshold_usdt(1.0, trend)[0]  # net·price may rise to this ...
        lower = target - self.threshold_usdt(-1.0, trend)[0]  # ... and fall to this
        a, b = (lower / net, upper / net) if net > 0 else (upper / net, lower / net)
        a = a * (1.0 + BAND_MARGIN) if a > 0 else a * (1.0 - BAND_MARGIN)
        b = b * (1.0 - BAND_MARGIN) if b > 0 else b * (1.0 + BAND_MARGIN)
        return HoldBand(a, b, NEVER_MS) if a < b else None

    def decide(self, view: PolicyView, memory: PolicyMemory) -> tuple[Decision, PolicyMemory]:
        c = self.cfg
        price = view.price
        total_usdt = view.net_base * price
        divergence = total_usdt - c.target_delta_usdt
        target_base = c.target_delta_usdt / price if price else 0.0
        net = view.net_base
        gap_base = net - target_base
        threshold, supports = self.threshold_usdt(divergence, view.trend)
        trend_state = view.trend.state if view.trend.ready else "flat"
        common = dict(ts_ms=view.ts_ms, policy=self.name, gap_base=gap_base, net_base=net, target_base=target_base,
                      price=price, unit="usdt", gap=divergence, base_soft=c.rebalance_threshold_usdt,
                      base_hard=c.rebalance_threshold_usdt, effective_soft=threshold, effective_hard=threshold,
                      trend_state=trend_state,
                      bias=BiasParts(trend_signal=view.trend.signal if view.trend.ready else 0.0,
                                     scale=c.trend_multiplier if supports else 1.0))
        trend_txt = (f"trend {trend_state} supports the exposure → threshold ×{c.trend_multiplier}" if supports
                     else f"trend {trend_state}" + (" (not used)" if not c.use_trend else ""))
        if abs(divergence) <= threshold or abs(divergence) <= EPS:  # trade only when it *exceeds*
            return Decision(action=Action.HOLD, side=side_to_close(divergence) if divergence else None, qty_base=0.0,
                            reason=f"divergence {divergence:+.2f} USDT within ±{threshold:.2f}; {trend_txt}",
                            **common), memory
        side = side_to_close(divergence)
        left = _cooldown_left_s(memory, view.ts_ms, self.risk.cooldown_s)
        if left > 0:
            return Decision(action=Action.HOLD, side=side, qty_base=0.0,
                            reason=f"divergence {divergence:+.2f} USDT beyond ±{threshold:.2f} but cooling down {left:.1f}s",
                            **common), memory
        qty = abs(gap_base)
        how = "limit first, market after {:.0f}s".format(c.max_wait_seconds) if c.use_limit_orders else "market (IOC)"
        return Decision(action=Action.FULL, side=side, qty_base=qty, maker_first=c.use_limit_orders, taker_allowed=True,
                        take_now=not c.use_limit_orders,
                        reason=f"divergence {divergence:+.2f} USDT beyond ±{threshold:.2f}: {side.lower()} "
                               f"{qty:.6f} to target, {how}; {trend_txt}",
                        **common), memory


class BaselinePolicy(Policy):
    name = "baseline"

    def __init__(self, cfg: BaselinePolicyConfig, execution: ExecutionConfig, risk: RiskConfig, *,
                 trend: TrendSettings | None = None, fills_window_s: float = AnchorConfig.window_s) -> None:
        self.cfg = cfg
        self.execution = execution
        self.risk = risk
        self.trend_settings = trend or _ema_settings(EmaConfig())  # its decisions only report the trend state
        self.fills_window_s = fills_window_s
        self.fixed_target, self.fixed_min_gap = cfg.desired_net_delta_base, cfg.min_trade_base

    # -- what the rebalancer asks

    def min_actionable_gap(self, spot_base: float, price: float | None, equity: float | None = None) -> float:
        return self.cfg.min_trade_base

    def band_base(self, price: float, spot_base: float, equity: float | None = None) -> float:
        return self.cfg.min_trade_base

    def quick_hold(self, ts_ms: int, price: float, spot_base: float, futures_base: float, trend: TrendView,
                   buy_vwap: float | None, sell_vwap: float | None, memory: PolicyMemory) -> bool:
        """True when ``decide`` would surely answer HOLD: between checks (the check itself must
        run, it moves the check clock)."""
        return (memory.last_check_ms is not None
                and ts_ms - memory.last_check_ms < int(self.cfg.check_interval_s * 1000))

    def hold_band(self, ts_ms: int, price: float, spot_base: float, futures_base: float, trend: TrendView,
                  buy_vwap: float | None, sell_vwap: float | None, memory: PolicyMemory) -> HoldBand | None:
        """Any price, until the next check is due (None when it is due now)."""
        return self.robust_hold_band(ts_ms, spot_base, futures_base, buy_vwap, sell_vwap, memory)

    def robust_hold_band(self, ts_ms: int, spot_base: float, futures_base: float, buy_vwap: float | None,
                         sell_vwap: float | None, memory: PolicyMemory) -> HoldBand | None:
        """The trend plays no part here."""
        if not self.quick_hold(ts_ms, 0.0, spot_base, futures_base, FLAT, buy_vwap, sell_vwap, memory):
            return None
        assert memory.last_check_ms is not None
        return HoldBand(0.0, INF, memory.last_check_ms + int(self.cfg.check_interval_s * 1000))

    def decide(self, view: PolicyView, memory: PolicyMemory) -> tuple[Decision, PolicyMemory]:
        c = self.cfg
        net = view.net_base
        gap = net - c.desired_net_delta_base
        common = dict(ts_ms=view.ts_ms, policy=self.name, gap_base=gap, net_base=net,
                      target_base=c.desired_net_delta_base, price=view.price, unit="base", gap=gap,
                      base_soft=c.min_trade_base, base_hard=c.min_trade_base, effective_soft=c.min_trade_base,
                      effective_hard=c.min_trade_base, trend_state=view.trend.state if view.trend.ready else "flat")
        interval_ms = int(c.check_interval_s * 1000)
        if memory.last_check_ms is not None and view.ts_ms - memory.last_check_ms < interval_ms:
            nxt = (memory.last_check_ms + interval_ms - view.ts_ms) / 1000.0
            return Decision(action=Action.HOLD, side=None, qty_base=0.0,
                            reason=f"next check in {nxt:.0f}s", **common), memory
        memory = replace(memory, last_check_ms=view.ts_ms)
        if abs(gap) < c.min_trade_base:
            return Decision(action=Action.HOLD, side=None, qty_base=0.0,
                            reason=f"|gap| {abs(gap):.6f} < min trade {c.min_trade_base}", **common), memory
        side = side_to_close(gap)
        return Decision(action=Action.FULL, side=side, qty_base=abs(gap), maker_first=False, taker_allowed=True,
                        take_now=True, reason=f"check: |gap| {abs(gap):.6f} ≥ {c.min_trade_base}: "
                                              f"{side.lower()} the full gap at market", **common), memory


def make_policy(cfg: RebalancerConfig, name: str | None = None) -> Policy:
    """The policy ``name`` (default: the config's) with its own settings. The simple and baseline
    blocks have no trend lookback or fills window of their own: they take the anchor settings'
    (the file's ``other_policies: anchor`` block, else its defaults) — here and nowhere else."""
    settings = cfg.settings_for(name or cfg.policy)
    anchor = cfg.settings_for("anchor")
    if isinstance(settings, AnchorPolicyConfig):
        return AnchorPolicy(settings, cfg.execution, cfg.risk)
    if isinstance(settings, SimplePolicyConfig):
        return SimplePolicy(settings, cfg.execution, cfg.risk, slope_lookback_s=anchor.ema.slope_lookback_s,
                            fills_window_s=anchor.anchor.window_s)
    return BaselinePolicy(settings, cfg.execution, cfg.risk, trend=_ema_settings(anchor.ema),
                          fills_window_s=anchor.anchor.window_s)
