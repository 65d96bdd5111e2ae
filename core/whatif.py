"""The what-if answer: which decision the configured policy makes for a hand-given snapshot.

This is how a trader tunes thresholds before risking money: no venue, no clock, no state.
"""

from __future__ import annotations

import math

from core.config import AppConfig
from core.account import spot_exposure
from core.model import Decision
from core.policy import PolicyMemory, PolicyView, make_policy
from core.trend import FLAT, trend_from_emas


def what_if(cfg: AppConfig, *, spot_base: float, futures_base: float, price: float,
            ema_fast: float | None = None, ema_slow: float | None = None, slope_pct: float | None = None,
            buy_vwap: float | None = None, sell_vwap: float | None = None, policy: str | None = None,
            ts_ms: int = 0, equity: float | None = None) -> Decision:
    """``equity`` (quote): what thresholds in ``pct_of_equity`` are a share of. A bad number
    raises ``ValueError`` naming its ``decide`` option."""
    _check_inputs(spot_base=spot_base, futures_base=futures_base, price=price, ema_fast=ema_fast,
                  ema_slow=ema_slow, slope_pct=slope_pct, buy_vwap=buy_vwap, sell_vwap=sell_vwap, equity=equity)
    if (ema_fast is None) != (ema_slow is None):
        raise ValueError("give both --ema-fast and --ema-slow, or neither")
    r = cfg.rebalancer
    chosen = make_policy(r, policy)
    if equity is None and chosen.threshold_units == "pct_of_equity":
        raise ValueError("thresholds in pct_of_equity need the account equity: give --equity")
    trend = FLAT
    if ema_fast is not None and ema_slow is not None:
        trend = trend_from_emas(ema_fast, ema_slow, chosen.trend_settings.threshold_pct, slope_pct)
    view = PolicyView(ts_ms=ts_ms, price=price, spot_base=spot_exposure(spot_base, r.spot_reserve_base),
                      futures_base=futures_base, trend=trend, buy_vwap=buy_vwap, sell_vwap=sell_vwap, equity=equity)
    decision, _ = chosen.decide(view, PolicyMemory())
    return decision


def _check_inputs(**given: float | None) -> None:
    """NaN or infinity would still decide (a NaN threshold compares False: HOLD; an infinite size
    trades): refuse them, and the values no account can hold. Each error names the option."""
    for name, value in given.items():
        if value is None:
            continue
        flag = "--" + name.replace("_", "-")
        if not math.isfinite(value):
            raise ValueError(f"{flag} must be a finite number, got {value}")
        if name in _SIGNED:
            continue
        if name == "spot_base":
            if value < 0:
                raise ValueError(f"{flag} must be ≥ 0 (the spot wallet's coins), got {value}")
        elif value <= 0:
            raise ValueError(f"{flag} must be > 0, got {value}")


_SIGNED = frozenset({"futures_base", "slope_pct"})  # a short futures size and a falling slope are negative


def format_decision(d: Decision) -> str:
    """A short human report of a decision and why."""
    u = "USDT" if d.unit == "usdt" else "base"
    lines = [
        f"policy          {d.policy}",
        f"action          {d.action.value.upper()}" + (f"  {d.side.value.upper()} {d.qty_base:.8f} base" if d.trades else ""),
        f"net delta       {d.net_base:+.8f} base   target {d.target_base:+.8f}",
        f"gap             {d.gap_base:+.8f} base" + (f"   ({d.gap:+.2f} USDT)" if d.unit == "usdt" else ""),
        f"thresholds      soft {d.base_soft:.6f} → {d.effective_soft:.6f} {u}   hard {d.base_hard:.6f} → {d.effective_hard:.6f} {u}",
        f"bias            trend {d.bias.trend_signal:+.3f}  ema {d.bias.ema_bias:+.3f}  anchor {d.bias.anchor_bias:+.3f}"
        f"  combined {d.bias.combined:+.3f}  scale ×{d.bias.scale:.3f}",
        f"trend           {d.trend_state}",
        f"gate            {'n/a' if not d.gate.applies else ('PASS' if d.gate.passed else 'FAIL')}  {d.gate.reason}",
        f"execution       {'take now (taker)' if d.take_now else 'maker first' if d.maker_first else 'taker'}"
        f"{', taker allowed' if d.taker_allowed and not d.take_now else ''}",
        f"reason          {d.reason}",
    ]
    return "\n".join(lines)


def decision_json(d: Decision) -> dict:
    """The decision for machines and people alike: floats at 10 significant digits, so binary
    noise (0.008299999999999974) reads as the number it is (0.0083). No time: a what-if has none."""
    out = d.to_dict()
    out.pop("ts_ms", None)
    out["effective_soft"] = d.effective_soft
    out["effective_hard"] = d.effective_hard
    return _clean(out)


def _clean(x):
    if isinstance(x, float):
        return float(f"{x:.10g}")
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    return x
