"""The replay report: what the rebalancer did and what it cost, as one flat dict.

Cost keys come from ``core.costs`` (the one definition ``report`` uses too); tracking is
measured against one ``band_base`` for every policy (``--band``, by default the policy's
hard threshold at the start), so two runs can be compared. Numbers a person reads are on
the instrument's grid: quantities on the qty step, prices on the tick, times in ISO UTC.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.figures import iso_utc, places
from core.stats import TRACKING_KEYS
from core.venues.grid import GridBot
from core.venues.market import MarketData
from core.venues.paper_exchange import PaperExchange

if TYPE_CHECKING:
    from core.rebalancer import Rebalancer

WALL_FIELDS = ("wall_s", "events_per_s")  # measured on the wall clock: differ run to run

def tracking(reb: Rebalancer) -> dict:
    """Time-weighted |gap| against the run's band (mean, max, % of the time at or over it)."""
    st = reb.stats
    qp = places(reb.instrument.qty_step) + 2  # a mean is finer than a single order
    band = reb.gap_stats.band
    total = st.time_total_ms
    return {
        "band_base": round(band, qp) if band != float("inf") else None,
        "mean_abs_gap_base": round(st.gap_time_integral / total, qp) if total else None,
        "max_abs_gap_base": round(st.max_abs_gap, qp),
        "pct_time_over_band": round(st.time_over_band_ms / total * 100.0, 3) if total else None,
    }


def build_report(reb: Rebalancer, ex: PaperExchange, grid: GridBot | None, market: MarketData, *, wall_s: float,
                 equity_start: float, equity_end: float, last_price: float, mode: str) -> dict:
    st = reb.stats
    ins = reb.instrument
    qp, pp = places(ins.qty_step), places(ins.tick_size)
    grid_pnl = 0.0
    if grid is not None:
        grid_pnl = float(grid.realised_pnl - grid.fees + grid.unrealised_pnl(last_price))
    total = equity_end - equity_start
    fees = st.fees_quote
    return {
        "symbol": reb.symbol,
        "instrument": {
            "tick_size": str(ins.tick_size),
            "qty_step": str(ins.qty_step),
            "min_qty": str(ins.min_qty),
            "min_notional": str(ins.min_notional),
            "maker_fee_rate": reb.maker_fee_rate,
            "taker_fee_rate": reb.taker_fee_rate,
        },
        "start": iso_utc(market.start_ms),
        "end": iso_utc(market.end_ms),
        "events_in": len(market),
        "events_processed": st.events,
        "bad_rows": market.bad_rows,
        "wall_s": round(wall_s, 4),
        "events_per_s": round(st.events / wall_s, 1) if wall_s > 0 else None,
        "policy": reb.policy_name,
        "mode": mode,
        "decisions": st.decisions,
        "would_trade": st.would_trade,
        "orders": st.orders,
        "fills": st.fills,
        "maker_fills": st.maker_fills,
        "taker_fills": st.taker_fills,
        "rebalances": st.rebalances,
        "rebalance_volume_base": round(st.volume_base, qp),
        "rebalance_volume_quote": round(st.volume_quote, 2),
        "fees_quote": round(fees, 4),
        **reb.costs.figures(),
        **tracking(reb),
        "wrong_direction_orders": st.wrong_direction_orders,
        "flip_flops": st.flip_flops,
        "grid_fills": st.grid_fills,
        "refused": st.refused,
        "final_net_delta_base": round(reb.book.net_base, 8),  # base fees move it off the qty step
        "final_gap_base": round(reb.gap_base(), 8),
        "last_price": round(last_price, pp),
        "pnl_quote": {
            "grid": round(grid_pnl, 4),
            "hedge": round(total - grid_pnl + fees, 4),
            "fees": round(-fees, 4),
            "total": round(total, 4),
        },
    }


def unhedged_block(r: dict) -> dict:
    """What the same run left open with no rebalancing (a watch-mode replay's report)."""
    return {**{k: r[k] for k in TRACKING_KEYS}, "final_gap_base": r["final_gap_base"],
            "pnl_quote": r["pnl_quote"]["total"]}


# ---------------------------------------------------------------- text

_LABELS = {
    "band_base": "band (base)",
    "mean_abs_gap_base": "mean |gap| (base)",
    "max_abs_gap_base": "max |gap| (base)",
    "pct_time_over_band": "time over band (%)",
    "cost_bps": "cost (bps, all-in)",
    "cost_fee_bps": "  fee (bps)",
    "cost_spread_bps": "  spread (bps)",
    "cost_drift_bps": "  drift (bps)",
    "cost_quote": "cost (quote)",
    "maker_markout_60s_bps": "maker markout 60 s (bps, + = adverse)",
    "start": "start (UTC)",
    "end": "end (UTC)",
}
_HIDDEN = {"pnl_quote", "instrument", "unhedged"}


def _v(v) -> str:
    return "-" if v is None else str(v)


def format_report(r: dict) -> str:
    """Aligned text: labelled units, ISO times, ``-`` for a figure that does not exist."""
    rows = [(_LABELS.get(k, k), _v(v)) for k, v in r.items() if k not in _HIDDEN]
    ins = r.get("instrument")
    if ins:
        rows.insert(1, ("instrument", f"tick {ins['tick_size']}, qty step {ins['qty_step']}, fees maker "
                                      f"{ins['maker_fee_rate']:.4%} / taker {ins['taker_fee_rate']:.4%}"))
    p = r["pnl_quote"]
    rows.append(("pnl (quote)", f"total {p['total']}  (grid {p['grid']}, hedge {p['hedge']}, fees {p['fees']})"))
    u = r.get("unhedged")
    if u:
        rows.append(("unhedged (no rebalancing)", f"mean |gap| {_v(u['mean_abs_gap_base'])}, max |gap| "
                                                  f"{_v(u['max_abs_gap_base'])}, time over band "
                                                  f"{_v(u['pct_time_over_band'])} %, pnl {u['pnl_quote']}"))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)
