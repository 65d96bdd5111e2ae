"""Headless replay: the real Rebalancer + execution + risk + paper exchange + simulated grid,
driven at full speed over recorded (or synthetic) market data, then a report.

Everything is synchronous and deterministic: time is the data's timestamps, so the same input
gives the same report (apart from the wall-time fields, which the caller measures with a
timer it passes in).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass

from core.config import AppConfig
from core.events import BalanceUpdate, ConnectionChanged, PositionUpdate
from core.model import BTCUSDT_SPOT
from core.bulk import KlineBars, all_inside, first_bad_qty, first_bad_quote, first_outside
from core.rebalancer import MAX_PRICE, Rebalancer, Recorder
from core.session import build_rebalancer
from core.venues.grid import GridBot
from core.venues.paper_setup import build_grid, build_paper  # noqa: F401  (build_grid re-exported)
from core.venues.market import MarketData
from core.venues.paper_exchange import PaperExchange

TICK_MS = 1_000
INF = float("inf")


@dataclass
class ReplayResult:
    report: dict
    rebalancer: Rebalancer
    exchange: PaperExchange


def run_replay(cfg: AppConfig, market: MarketData, *, policy: str | None = None, mode: str = "auto",
               recorder: Recorder | None = None, timer: Callable[[], float] | None = None,
               bulk: bool = True) -> ReplayResult:
    """Replay ``market`` through the real Rebalancer and a paper exchange, as fast as possible.

    Each event goes exchange first, then rebalancer, then commands back to the exchange, then
    the one-second timer tick (on the clock's whole seconds). ``bulk`` (the default) lets runs
    of events that provably change nothing but the tape -- the rebalancer idle in a sure HOLD
    (``Rebalancer.quiet_band``), no print reaching the grid or a resting order
    (``PaperExchange.quiet_band``), no candle close, sample or anchor expiry before the run ends
    -- pass in one C-level step (min/max over array slices). Orders, fills and decisions are
    the same with ``bulk=False`` (tested); only ``events_processed`` is smaller, because the
    timer ticks inside such a run did nothing and are not taken.
    """
    trades = market.trades
    if len(trades) == 0:
        raise ValueError("no trades to replay")
    ts_arr, px_arr, qty_arr, side_arr = trades.ts_ms, trades.price, trades.qty, trades.side
    first_ts, first_px = ts_arr[0], px_arr[0]
    ex, grid = build_paper(cfg, first_px, first_ts, exchange_cls=PaperExchange)  # tests swap PaperExchange here
    reb = build_rebalancer(cfg, venue_name="replay", instrument=BTCUSDT_SPOT, recorder=recorder, mode=mode,
                           policy=policy, maker_fee_rate=float(ex.fees.spot_maker),
                           taker_fee_rate=float(ex.fees.spot_taker))
    reb.lazy_holds = True
    reb.sample_every_ms = 60_000  # kill-switch and gap-history cadence in market time (1-minute data)
    t0 = timer() if timer else 0.0
    equity_start = None

    on_event = reb.on_event
    submit = ex.submit

    def pump(events, cmds_ts: int) -> None:
        """Feed venue events to the rebalancer and its commands back to the venue until quiet."""
        pending = list(events)
        i = 0
        while i < len(pending):
            cmds = on_event(pending[i])
            i += 1
            for c in cmds:
                pending.extend(submit(c, cmds_ts))

    pump((BalanceUpdate(first_ts, ex.balances()), PositionUpdate(first_ts, ex.position()),
          ConnectionChanged(first_ts, True, "replay")), first_ts)

    quotes = market.quotes
    on_trade_ex = ex.on_trade
    on_trade_reb = reb.on_trade
    on_tick = reb.on_tick
    reb_band = reb.quiet_band
    ex_band = ex.quiet_band
    absorb_ex = ex.absorb_quiet
    next_tick = first_ts
    ts = first_ts
    nt = len(trades)

    def after(cmds, ts: int) -> None:
        for c in cmds:
            pump(submit(c, ts), ts)

    if quotes is None or not len(quotes):
        # trades only: the tightest loop (klines expand to trades)
        fast_forward = reb.fast_forward
        bars = KlineBars.build(trades) if bulk else None
        ti = 0
        while ti < nt:
            if bulk and reb.exec is None and equity_start is not None:
                tj, next_tick = fast_forward(ts_arr, px_arr, qty_arr, side_arr, ti, nt, ex_band, next_tick, TICK_MS,
                                             bars)
                if tj > ti:
                    ts = ts_arr[tj - 1]
                    absorb_ex(ts, px_arr[tj - 1], None)
                    ti = tj
                    if ti >= nt:
                        break
            ts = ts_arr[ti]
            price = px_arr[ti]
            qty = qty_arr[ti]
            is_buy = side_arr[ti] == 1
            ti += 1
            evs = on_trade_ex(ts, price, qty, is_buy)
            if evs:
                pump(evs, ts)
            cmds = on_trade_reb(ts, price, qty, is_buy)
            if cmds:
                after(cmds, ts)
            if ts >= next_tick:
                next_tick = ts - ts % TICK_MS + TICK_MS
                if equity_start is None:
                    equity_start = float(ex.equity_quote(price))
                cmds = on_tick(ts)
                if cmds:
                    after(cmds, ts)
    else:
        q_ts, q_bid, q_bq, q_ask, q_aq = quotes.ts_ms, quotes.bid, quotes.bid_qty, quotes.ask, quotes.ask_qty
        on_quote_ex = ex.on_quote
        on_quote_reb = reb.on_quote
        absorb_t = reb.absorb_trades
        absorb_q = reb.absorb_quotes
        ex_qband = ex.quiet_quote_band
        nq = len(quotes)
        qi = ti = 0
        while ti < nt or qi < nq:
            if bulk and reb.exec is None and reb.has_quotes and equity_start is not None:
                band = reb_band()
                if band is not None:
                    lo, hi, until = band
                    elo, ehi, due = ex_band()
                    if elo > lo:
                        lo = elo
                    if ehi < hi:
                        hi = ehi
                    if hi > MAX_PRICE:
                        hi = MAX_PRICE
                    if lo < 0.0:
                        lo = 0.0
                    if due < until:
                        until = due
                    tj = bisect_left(ts_arr, until, ti, nt)
                    qj = bisect_left(q_ts, until, qi, nq)
                    if tj > ti:
                        stop = tj
                        if not all_inside(px_arr[ti:tj], lo, hi):
                            stop = first_outside(px_arr, ti, tj, lo, hi)
                        stop = first_bad_qty(qty_arr, ti, stop, MAX_PRICE)  # refused one by one
                        if stop < tj:
                            tj = stop
                            # quotes at the stopping trade's instant replay before it
                            qj = bisect_right(q_ts, ts_arr[tj], qi, qj)
                    if qj > qi:
                        qb = first_bad_quote(q_bid, q_ask, qi, qj, MAX_PRICE)  # refused one by one
                        buy_at, sell_at = ex_qband()
                        if qb > qi and (buy_at > -INF or sell_at < INF):
                            # fast path needs ask >= buy_at and bid <= sell_at; strict here (conservative)
                            qb = min(first_outside(q_ask, qi, qb, buy_at, INF) if buy_at > -INF else qb,
                                     first_outside(q_bid, qi, qb, -INF, sell_at) if sell_at < INF else qb)
                        if qb < qj:
                            # stop before that quote: trades at its instant replay after it
                            qj = qb
                            tj = bisect_left(ts_arr, q_ts[qb], ti, tj)
                    if tj > ti or qj > qi:
                        last = 0
                        price = None
                        if tj > ti:
                            last = ts_arr[tj - 1]
                            price = px_arr[tj - 1]
                            seg = px_arr[ti:tj]  # the run as finally cut
                            absorb_t(last, price, min(seg), max(seg), qty_arr[ti:tj], tj - ti)
                        quote = None
                        if qj > qi:
                            q = qj - 1
                            if q_ts[q] > last:
                                last = q_ts[q]
                            quote = (q_bid[q], q_bq[q], q_ask[q], q_aq[q])
                            absorb_q(q_ts[q], q_bid[q], q_ask[q], qj - qi)
                        absorb_ex(last, price, quote)
                        ts = last
                        if last >= next_tick:
                            next_tick = last - last % TICK_MS + TICK_MS
                        ti, qi = tj, qj
                        if ti >= nt and qi >= nq:
                            break
            # the next event in time; at equal times the quote first (market.merge_order's rule)
            if qi >= nq or (ti < nt and ts_arr[ti] < q_ts[qi]):
                ts = ts_arr[ti]
                price = px_arr[ti]
                qty = qty_arr[ti]
                is_buy = side_arr[ti] == 1
                ti += 1
                evs = on_trade_ex(ts, price, qty, is_buy)
                if evs:
                    pump(evs, ts)
                cmds = on_trade_reb(ts, price, qty, is_buy)
            else:
                ts = q_ts[qi]
                bid = q_bid[qi]
                ask = q_ask[qi]
                evs = on_quote_ex(ts, bid, q_bq[qi], ask, q_aq[qi])
                qi += 1
                if evs:
                    pump(evs, ts)
                cmds = on_quote_reb(ts, bid, ask)
            if cmds:
                after(cmds, ts)
            if ts >= next_tick:
                next_tick = ts - ts % TICK_MS + TICK_MS
                if equity_start is None and reb.price is not None:
                    equity_start = float(ex.equity_quote(reb.price))
                cmds = on_tick(ts)
                if cmds:
                    after(cmds, ts)
    reb.finish_stats(ts)
    wall = (timer() - t0) if timer else 0.0
    last_px = reb.price or first_px
    equity_end = float(ex.equity_quote(last_px))
    report = build_report(reb, ex, grid, market, wall_s=wall, equity_start=equity_start or equity_end,
                          equity_end=equity_end, last_price=last_px, mode=mode)
    return ReplayResult(report=report, rebalancer=reb, exchange=ex)


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
        "final_net_delta_base": round(reb.net_base, 8),
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


WALL_FIELDS = ("wall_s", "events_per_s")


def format_report(r: dict) -> str:
    lines = [f"{k:<24} {v}" for k, v in r.items() if k != "pnl_quote"]
    p = r["pnl_quote"]
    lines.append(f"{'pnl_quote':<24} total {p['total']}  (grid {p['grid']}, hedge {p['hedge']}, fees {p['fees']})")
    return "\n".join(lines)
