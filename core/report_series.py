"""The report's pictures as numbers: time series read from a journal, for the terminal charts
(``tui.report_charts``) and the HTML page (``tui.report_html``) alike.

- ``price``: the price at each snapshot; ``buys`` / ``sells``: our fills (time, price, qty);
- ``gap``: net - target at each snapshot; ``soft`` / ``hard``: the effective thresholds of
  each decision row, in base (a USDT threshold over the decision's price);
- ``volume`` / ``cost``: cumulative quote volume and hedge cost (``core.costs``) at each fill;
- ``pnl``: equity change since the first snapshot, and the fees and hedge cost inside it.

Long runs are thinned to ``max_points`` per series, keeping each bucket's extremes so a spike
survives.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.costs import Arrival, CostParts, rebalance_of
from core.journal.reader import JournalReader
from core.report import OURS, fee_in_quote

MAX_POINTS = 4_000

Series = tuple[list[int], list[float]]  # (ts_ms, values)


@dataclass
class ReportSeries:
    price: Series = field(default_factory=lambda: ([], []))
    buys: list[tuple[int, float, float]] = field(default_factory=list)
    sells: list[tuple[int, float, float]] = field(default_factory=list)
    gap: Series = field(default_factory=lambda: ([], []))
    soft: Series = field(default_factory=lambda: ([], []))
    hard: Series = field(default_factory=lambda: ([], []))
    volume: Series = field(default_factory=lambda: ([], []))
    cost: Series = field(default_factory=lambda: ([], []))
    pnl_total: Series = field(default_factory=lambda: ([], []))
    pnl_fees: Series = field(default_factory=lambda: ([], []))
    pnl_cost: Series = field(default_factory=lambda: ([], []))
    symbol: str = ""

    @property
    def empty(self) -> bool:
        return not self.price[0]

    @property
    def span(self) -> tuple[int, int] | None:
        stamps = [s[0][i] for s in (self.price, self.gap) if s[0] for i in (0, -1)]
        return (min(stamps), max(stamps)) if stamps else None


def thin(ts: list[int], vals: list[float], max_points: int = MAX_POINTS) -> Series:
    """At most ~``max_points`` points: per bucket its first, lowest and highest point, in time order."""
    n = len(ts)
    if n <= max_points:
        return ts, vals
    per = -(-n * 3 // max_points)
    out_t: list[int] = []
    out_v: list[float] = []
    for a in range(0, n, per):
        b = min(n, a + per)
        idx = sorted({a, min(range(a, b), key=vals.__getitem__), max(range(a, b), key=vals.__getitem__)})
        for i in idx:
            out_t.append(ts[i])
            out_v.append(vals[i])
    return out_t, out_v


def read_series(j: JournalReader, *, max_points: int = MAX_POINTS) -> ReportSeries:
    s = ReportSeries(symbol=j.meta().get("symbol", ""))
    snaps = [x for x in j.snapshots() if x.target_base is not None]
    if snaps:
        ts = [x.ts_ms for x in snaps]
        s.price = thin(ts, [float(x.price) for x in snaps], max_points)
        s.gap = thin(ts, [float(x.gap_base) for x in snaps], max_points)  # type: ignore[arg-type]
        e0 = float(snaps[0].equity_quote)
        s.pnl_total = thin(ts, [float(x.equity_quote) - e0 for x in snaps], max_points)
    for d in j.decisions(limit=None):
        body = d["decision"]
        price = body.get("price") or 0.0
        per = (1.0 / price) if body.get("unit") == "usdt" and price else 1.0
        soft, hard = body.get("effective_soft"), body.get("effective_hard")
        if soft is None or hard is None:
            continue
        s.soft[0].append(d["ts_ms"])
        s.soft[1].append(soft * per)
        s.hard[0].append(d["ts_ms"])
        s.hard[1].append(hard * per)
    arrivals = {k: a for k, (_did, a) in j.arrivals().items()}
    parts = CostParts()
    vol = fees = 0.0
    vt: list[int] = []
    vv: list[float] = []
    cv: list[float] = []
    fv: list[float] = []
    for f in j.fills(source=OURS):
        price, qty = float(f.price), float(f.qty)
        (s.buys if f.side.sign > 0 else s.sells).append((f.ts_ms, price, qty))
        fee = fee_in_quote(f)
        fee_q = float(fee) if fee is not None else 0.0
        arrival: Arrival | None = arrivals.get(rebalance_of(f.client_id)) if f.client_id else None
        parts.add(f.side, price, qty, fee_q, arrival)
        vol += price * qty
        fees += fee_q
        vt.append(f.ts_ms)
        vv.append(vol)
        cv.append(parts.total)
        fv.append(fees)
    s.volume = thin(vt, vv, max_points)
    s.cost = thin(vt, cv, max_points)
    s.pnl_fees = thin(vt, [-x for x in fv], max_points)
    s.pnl_cost = thin(vt, [-x for x in cv], max_points)
    return s
