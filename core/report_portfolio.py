"""``report`` over several symbols' journals (one journal per symbol): a line each, and the sum.

Why only some keys are summed: fills, orders, volume in quote, fees and the cost in quote add
up across symbols; base-unit figures (volume base, gap, band) do not — a BTC and a SOL do not
add — so tracking stays per symbol. The summed cost in bps is each symbol's weighted by its
traded quote volume (the per-symbol figure is ``core.costs``' definition, unchanged).
"""

from __future__ import annotations

from collections.abc import Sequence

SUMMED = ("fills", "maker_fills", "taker_fills", "orders", "rebalances", "errors")


def filter_symbol(summaries: Sequence[dict], symbol: str | None) -> list[dict]:
    """The summaries of ``symbol``'s journals (all when None)."""
    if symbol is None:
        return list(summaries)
    return [s for s in summaries if (s.get("symbol") or "").upper() == symbol.upper()]


def combine(summaries: Sequence[dict]) -> dict:
    """Every symbol's headline figures, and the account's sums."""
    per: dict[str, dict] = {}
    for s in summaries:
        per[s.get("symbol") or s["journal"]] = {
            "journal": s["journal"], "fills": s["fills"], "rebalance_volume_base": s["rebalance_volume_base"],
            "rebalance_volume_quote": s["rebalance_volume_quote"], "fees_quote": s["fees_quote"],
            "cost_bps": s["cost_bps"], "cost_quote": s["cost_quote"], "mean_abs_gap_base": s["mean_abs_gap_base"],
            "pct_time_over_band": s["pct_time_over_band"], "errors": s["errors"],
        }
    volume = sum(s["rebalance_volume_quote"] for s in summaries)
    costed = [(s["cost_bps"], s["rebalance_volume_quote"]) for s in summaries if s["cost_bps"] is not None]
    weight = sum(v for _, v in costed)
    return {
        "symbols": list(per),
        "per_symbol": per,
        "total": {
            **{k: sum(s[k] for s in summaries) for k in SUMMED},
            "rebalance_volume_quote": round(volume, 2),
            "fees_quote": round(sum(s["fees_quote"] for s in summaries), 4),
            "cost_quote": round(sum(s["cost_quote"] or 0.0 for s in summaries), 4) if costed else None,
            "cost_bps": round(sum(b * v for b, v in costed) / weight, 3) if weight else None,
        },
    }


def format_combined(c: dict) -> str:
    """One aligned line per symbol, then the total (quote figures only)."""
    head = ("symbol", "fills", "volume (quote)", "fees (quote)", "cost", "mean |gap| (base)", "over band")

    def bps(x: float | None) -> str:
        return "-" if x is None else f"{x:.2f} bps"

    rows = [head]
    for sym, s in c["per_symbol"].items():
        rows.append((sym, str(s["fills"]), f"{s['rebalance_volume_quote']:,.2f}", f"{s['fees_quote']:,.4f}",
                     bps(s["cost_bps"]), "-" if s["mean_abs_gap_base"] is None else f"{s['mean_abs_gap_base']:.8g}",
                     "-" if s["pct_time_over_band"] is None else f"{s['pct_time_over_band']:.3f} %"))
    t = c["total"]
    rows.append(("total", str(t["fills"]), f"{t['rebalance_volume_quote']:,.2f}", f"{t['fees_quote']:,.4f}",
                 bps(t["cost_bps"]), "", ""))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(r, widths))).rstrip()
             for r in rows]
    lines.insert(len(lines) - 1, "-" * len(lines[0]))
    return "\n".join(lines) + "\n(base-unit figures do not add across symbols: tracking is per symbol)\n"


__all__ = ["combine", "filter_symbol", "format_combined"]
