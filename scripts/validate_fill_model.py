#!/usr/bin/env python3
"""Validate the bar fill model against the tick fill model: the same orders, two kinds of data.

    python scripts/validate_fill_model.py                  # the trades + BBO files in ../shared/data
    python scripts/validate_fill_model.py --out docs/fill-model.md

Why: long replays run on 1-minute bars, where the order of events inside a minute is unknown;
the fill model must not make maker orders look cheaper there than they are. The recorded
trades + BBO files are the truth we have: each is replayed as it is (the *tick* model: BBO
spread, queue ahead at our price) and as the 1-minute bars built from its trades (the *bar*
model: no BBO, a half-spread, fills only when a bar trades through, a share of the volume).

The orders are the rebalancer's maker-first path, the same in both runs: every ``every_s``
seconds a post-only buy at the best bid (and a sell at the best ask) of the tick data, minus
(plus) ``offset`` bps; it rests ``wait_s`` seconds, is cancelled, and what did not fill is
taken with an IOC at the touch ± 10 bps. Each order runs on its own fresh exchange, so orders
never share a print. Measured per model:

- **maker fill rate**: maker-filled qty / ordered qty;
- **cost** (bps): ``core.costs``'s definition, against the tick data's mid when the order was
  placed (the same arrival for both): (fees + side × (fill − arrival) × qty) / (Σ qty × arrival).

The target: the bar model's fill rate and cost within ``TOLERANCE`` (20 %) of the tick model's,
and never more optimistic (fill rate not higher, cost not lower). ``docs/fill-model.md`` holds
the table this prints, and what it says.
"""

from __future__ import annotations

import argparse
import sys
from array import array
from bisect import bisect_left
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.events import CancelOrder, FillEvent, PlaceOrder  # noqa: E402
from core.model import BTCUSDT_SPOT, Instrument, OrderRequest, Side, TimeInForce  # noqa: E402
from core.venues.market import TradeTape, default_data_dir, load_market  # noqa: E402
from core.venues.market.bars import expand_klines  # noqa: E402
from core.venues.paper_exchange import OPTIMISTIC, FillModel, PaperExchange  # noqa: E402

TOLERANCE = 0.20
WAITS_S = (5.0, 20.0, 30.0, 60.0, 120.0)  # the hard path's maker wait, a bar's print spacing, the soft chase, longer
MIN_MS = 60_000
SETS = {
    "Binance spot BTCUSDT": ("binance_spot_BTCUSDT_trades_2024-08-08T235415Z_235959Z.csv.gz",
                             "binance_spot_BTCUSDT_bbo_2024-08-08T235415Z_235959Z.csv.gz", "0.01"),
    "Binance USD-M BTCUSDT": ("binance_usdm_BTCUSDT_trades_2024-08-08T235416Z_235959Z.csv.gz",
                              "binance_usdm_BTCUSDT_bbo_2024-08-08T235416Z_235959Z.csv.gz", "0.1"),
}
SLIPPAGE_CAP_BPS = 10.0
BIG = Decimal(1_000_000_000)


@dataclass
class Stats:
    """What one model did with the orders."""

    orders: int = 0
    rejected: int = 0  # post-only orders that would have crossed the model's touch at once
    ordered: float = 0.0
    maker_qty: float = 0.0
    cost_quote: float = 0.0
    notional: float = 0.0

    @property
    def fill_rate(self) -> float:
        return self.maker_qty / self.ordered if self.ordered else 0.0

    @property
    def cost_bps(self) -> float:
        return self.cost_quote / self.notional * 1e4 if self.notional else 0.0


def minute_bars(trades: TradeTape) -> TradeTape:
    """1-minute bars (OHLCV) built from the trades, expanded to prints as a kline file would be."""
    ts, o, h, lo, c, v = array("q"), array("d"), array("d"), array("d"), array("d"), array("d")
    for t, p, q in zip(trades.ts_ms, trades.price, trades.qty):
        m = t - t % MIN_MS
        if ts and ts[-1] == m:
            h[-1] = max(h[-1], p)
            lo[-1] = min(lo[-1], p)
            c[-1] = p
            v[-1] += q
        else:
            ts.append(m)
            o.append(p)
            h.append(p)
            lo.append(p)
            c.append(p)
            v.append(q)
    return expand_klines(ts, o, h, lo, c, v)


class Tape:
    """Market events in replay order (at equal times the quote first), with their times."""

    def __init__(self, trades: TradeTape, quotes=None) -> None:
        ev = [(t, 1, i) for i, t in enumerate(trades.ts_ms)]
        if quotes is not None:
            ev.extend((t, 0, i) for i, t in enumerate(quotes.ts_ms))
        ev.sort()
        self.events = ev
        self.times = [e[0] for e in ev]
        self.trades, self.quotes = trades, quotes

    def feed(self, ex: PaperExchange, k: int) -> tuple:
        _, kind, i = self.events[k]
        if kind:
            t = self.trades
            return ex.on_trade(t.ts_ms[i], t.price[i], t.qty[i], t.side[i] == 1)
        q = self.quotes
        return ex.on_quote(q.ts_ms[i], q.bid[i], q.bid_qty[i], q.ask[i], q.ask_qty[i])

    def prime(self, ex: PaperExchange, before_ms: int) -> None:
        """The last quote and the last print before ``before_ms``: the market the order meets."""
        k = bisect_left(self.times, before_ms) - 1
        seen: set[int] = set()
        need = 2 if self.quotes is not None else 1
        while k >= 0 and len(seen) < need:
            seen.add(self.events[k][1])
            k -= 1
        for j in range(k + 1, bisect_left(self.times, before_ms)):
            self.feed(ex, j)  # from the earlier of the two on: the state they leave


def touch_at(quotes, ts_ms: int) -> tuple[float, float]:
    i = bisect_left(quotes.ts_ms, ts_ms) - 1
    return quotes.bid[i], quotes.ask[i]


def run_order(tape: Tape, model: FillModel, inst: Instrument, side: Side, price: Decimal, qty: Decimal,
              t0: int, t1: int, mid: float, last: float, stats: Stats, n: int) -> None:
    """One maker-first order on a fresh exchange: rest from t0 to t1, cancel, take the rest.
    ``last``: the true last price at t0, which the bar model is told too (a bar replay's engine
    quotes around its own last price; without this, a bar print from later in the minute would
    make the tick data's touch cross and the order be refused, which measures nothing)."""
    ex = PaperExchange(spot=inst, balances={inst.base: BIG, inst.quote: BIG}, fill_model=model)
    tape.prime(ex, t0)
    ex.absorb_quiet(t0, last, None)
    fills = []
    cid = f"v{n}"
    evs = ex.submit(PlaceOrder(OrderRequest(cid, inst.symbol, side, qty, price, TimeInForce.POST_ONLY)), t0)
    if ex.order(cid).reject_reason:
        stats.rejected += 1
    fills.extend(e.fill for e in evs if isinstance(e, FillEvent))
    # the wait ends at the first market event at or after t1, whose fills come first: a replay's
    # timer ticks on market events only (on bars, the next of the 4 prints of a minute)
    k, end = bisect_left(tape.times, t0), bisect_left(tape.times, t1)
    for k in range(k, min(end + 1, len(tape.times))):
        fills.extend(e.fill for e in tape.feed(ex, k) if isinstance(e, FillEvent))
    t1 = max(t1, ex.now_ms)
    if ex.order(cid).status.is_open:
        ex.submit(CancelOrder(cid, "wait over"), t1)
    left = qty - sum((f.qty for f in fills), Decimal(0))
    if left > 0:
        bid, ask = ex.touch()
        cap = SLIPPAGE_CAP_BPS / 1e4
        limit = inst.round_price(float(ask) * (1 + cap) if side is Side.BUY else float(bid) * (1 - cap), side)
        evs = ex.submit(PlaceOrder(OrderRequest(cid + "t", inst.symbol, side, left, limit, TimeInForce.IOC)), t1)
        fills.extend(e.fill for e in evs if isinstance(e, FillEvent))
    sign = 1.0 if side is Side.BUY else -1.0
    stats.orders += 1
    stats.ordered += float(qty)
    for f in fills:
        q, p = float(f.qty), float(f.price)
        fee = float(f.fee) * (p if f.fee_coin == inst.base else 1.0)
        stats.cost_quote += fee + sign * (p - mid) * q
        stats.notional += q * mid
        if f.is_maker:
            stats.maker_qty += q


def compare(trades_path, bbo_path, *, tick: str = "0.01", qty: str = "0.01", every_s: float = 5.0,
            wait_s: float = 30.0, offset_bps: float = 0.0, model: FillModel = FillModel(),
            phase_s: float = 0.0) -> dict[str, Stats]:
    """The same orders against the tick data (``tick``), its 1-minute bars under the honest
    model (``bars``) and under the old optimistic one (``bars_optimistic``); ``model``: the
    honest model's settings (by default the config's defaults)."""
    data = load_market([trades_path, bbo_path])
    quotes = data.quotes
    inst = replace(BTCUSDT_SPOT, tick_size=Decimal(tick), qty_step=Decimal("0.00001"), min_qty=Decimal("0.00001"),
                   min_notional=Decimal(0))
    runs = {
        "tick": (Tape(data.trades, quotes), replace(model, bars=False)),
        "bars": (Tape(minute_bars(data.trades)), replace(model, bars=True)),
        "bars_optimistic": (Tape(minute_bars(data.trades)), replace(OPTIMISTIC, bars=True)),
    }
    out = {name: Stats() for name in runs}
    start = max(data.trades.ts_ms[0], quotes.ts_ms[0]) + 1 + int(phase_s * 1000)
    end = data.trades.ts_ms[-1] - int(wait_s * 1000)
    size = Decimal(qty)
    n = 0
    t0 = start
    while t0 <= end:
        bid, ask = touch_at(quotes, t0)
        mid = (bid + ask) / 2
        last = data.trades.price[bisect_left(data.trades.ts_ms, t0) - 1]
        t1 = t0 + int(wait_s * 1000)
        for side, touch in ((Side.BUY, bid), (Side.SELL, ask)):
            away = mid * offset_bps / 1e4 * (-1 if side is Side.BUY else 1)
            price = inst.round_price(touch + away, side)
            n += 1
            for name, (tape, model) in runs.items():
                run_order(tape, model, inst, side, price, size, t0, t1, mid, last, out[name], n)
        t0 += int(every_s * 1000)
    return out


def verdict(tick: Stats, bars: Stats) -> dict:
    """How far the bar model is from the tick model (relative), and in which direction."""
    rate_dev = (bars.fill_rate - tick.fill_rate) / tick.fill_rate if tick.fill_rate else 0.0
    cost_dev = (bars.cost_bps - tick.cost_bps) / abs(tick.cost_bps) if tick.cost_bps else 0.0
    fill_ok = bars.fill_rate <= tick.fill_rate + 1e-12
    cost_ok = bars.cost_bps >= tick.cost_bps - 1e-9
    within = abs(rate_dev) <= TOLERANCE and abs(cost_dev) <= TOLERANCE
    return {"fill_rate_dev": rate_dev, "cost_dev": cost_dev, "fill_not_higher": fill_ok,
            "cost_not_lower": cost_ok, "within": within, "ok": fill_ok and cost_ok and within}


def _yes(flag: bool) -> str:
    return "yes" if flag else "**no**"


def table(results: list[tuple[str, float, float, dict[str, Stats]]]) -> str:
    lines = ["| data | maker wait | quote | orders | maker fill rate: tick / bars (Δ) | cost bps: tick / bars (Δ) "
             "| old model on bars: fill rate / cost | bars fill rate not higher | bars cost not lower | within 20 % |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, wait, off, r in results:
        t, b, o = r["tick"], r["bars"], r["bars_optimistic"]
        v = verdict(t, b)
        where = "at the touch" if not off else f"{off:g} bp behind"
        lines.append(
            f"| {name} | {wait:.0f} s | {where} | {t.orders} | {t.fill_rate:.1%} / {b.fill_rate:.1%} "
            f"({v['fill_rate_dev']:+.0%}) | {t.cost_bps:.2f} / {b.cost_bps:.2f} ({v['cost_dev']:+.0%}) | "
            f"{o.fill_rate:.1%} / {o.cost_bps:.2f} | {_yes(v['fill_not_higher'])} | {_yes(v['cost_not_lower'])} | "
            f"{_yes(v['within'])} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=default_data_dir())
    ap.add_argument("--wait", type=float, action="append", help="seconds a maker order rests (repeatable)")
    ap.add_argument("--offset", type=float, action="append", help="bps behind the touch (repeatable)")
    ap.add_argument("--every", type=float, default=5.0)
    ap.add_argument("--out", type=Path, help="write the table here (markdown), else print it")
    args = ap.parse_args(argv)
    results = []
    for name, (trades, bbo, tick) in SETS.items():
        for wait in args.wait or WAITS_S:
            for off in args.offset or (0.0, 1.0):
                r = compare(args.data / trades, args.data / bbo, tick=tick, every_s=args.every, wait_s=wait,
                            offset_bps=off)
                results.append((name, wait, off, r))
    text = table(results)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
