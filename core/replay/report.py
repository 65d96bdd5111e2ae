"""The replay report: what the rebalancer did and what it cost, as one flat dict."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.venues.grid import GridBot
from core.venues.market import MarketData
from core.venues.paper_exchange import PaperExchange

if TYPE_CHECKING:
    from core.rebalancer import Rebalancer

WALL_FIELDS = ("wall_s", "events_per_s")  # measured on the wall clock: differ run to run


def build_report(reb: Rebalancer, ex: PaperExchange, grid: GridBot | None, market: MarketData, *, wall_s: float,
                 equity_start: float, equity_end: float, last_price: float, mode: str) -> dict:
    st = reb.stats
    hedged = st.volume_quote
    cost_quote = st.fees_quote + st.slippage_quote
    grid_pnl = 0.0
    if grid is not None:
        grid_pnl = float(grid.realised_pnl - grid.fees + grid.unrealised_pnl(last_price))
    total = equity_end - equity_start
    fees = st.fees_quote
    return {
        "events_in": len(market),
        "events_processed": st.events,
        "bad_rows": market.bad_rows,
        "wall_s": round(wall_s, 4),
        "events_per_s": round(st.events / wall_s, 1) if wall_s > 0 else None,
        "policy": reb.policy_name,
        "mode": mode,
        "decisions": st.decisions,
        "orders": st.orders,
        "fills": st.fills,
        "maker_fills": st.maker_fills,
        "taker_fills": st.taker_fills,
        "rebalances": st.rebalances,
        "rebalance_volume_base": round(st.volume_base, 8),
        "rebalance_volume_quote": round(st.volume_quote, 4),
        "fees_quote": round(fees, 4),
        "cost_bps": round(cost_quote / hedged * 1e4, 3) if hedged else 0.0,
        "mean_abs_gap_base": round(st.gap_time_integral / st.time_total_ms, 8) if st.time_total_ms else 0.0,
        "max_abs_gap_base": round(st.max_abs_gap, 8),
        "pct_time_over_hard": round(st.time_over_hard_ms / st.time_total_ms * 100.0, 4) if st.time_total_ms else 0.0,
        "wrong_direction_orders": st.wrong_direction_orders,
        "flip_flops": st.flip_flops,
        "grid_fills": st.grid_fills,
        "refused": st.refused,
        "final_net_delta_base": round(reb.book.net_base, 8),
        "final_gap_base": round(reb.gap_base(), 8),
        "pnl_quote": {
            "grid": round(grid_pnl, 4),
            "hedge": round(total - grid_pnl + fees, 4),
            "fees": round(-fees, 4),
            "total": round(total, 4),
        },
        "start_ms": market.start_ms,
        "end_ms": market.end_ms,
    }


def format_report(r: dict) -> str:
    lines = [f"{k:<24} {v}" for k, v in r.items() if k != "pnl_quote"]
    p = r["pnl_quote"]
    lines.append(f"{'pnl_quote':<24} total {p['total']}  (grid {p['grid']}, hedge {p['hedge']}, fees {p['fees']})")
    return "\n".join(lines)
