"""The replay loop: every trade and quote, in time order, through the paper exchange and the
real Rebalancer, with the one-second timer tick; runs that provably change nothing but the
tape go through the bulk path (``core.replay.fastpath``) at once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.config import AppConfig
from core.events import BalanceUpdate, ConnectionChanged, PositionUpdate
from core.rebalancer import Rebalancer, Recorder
from core.replay import early_out
from core.replay.fastpath import bulk_step
from core.replay.grid_path import GridPath, replayed_grid
from core.replay.report import build_report, unhedged_block
from core.session import build_rebalancer
from core.venues.market import MarketData, no_trades_reason
from core.venues.paper_setup import build_paper
from core.venues.paper_exchange import PaperExchange

TICK_MS = 1_000


@dataclass
class ReplayResult:
    report: dict
    rebalancer: Rebalancer
    exchange: PaperExchange


def run_replay(cfg: AppConfig, market: MarketData, *, policy: str | None = None, mode: str = "auto",
               recorder: Recorder | None = None, timer: Callable[[], float] | None = None,
               bulk: bool = True, band: float | None = None, unhedged: bool = False,
               grid_path: GridPath | None = None) -> ReplayResult:
    """Replay ``market`` through the real Rebalancer and a paper exchange, as fast as possible.

    Each event goes exchange first, then rebalancer, then commands back to the exchange, then
    the one-second timer tick (on the clock's whole seconds); at equal times a quote before a
    trade (``MarketData.merge_order``'s rule). ``bulk`` (the default) lets runs of events that
    provably change nothing but the tape -- the rebalancer idle in a sure HOLD, no print
    reaching the grid or a resting order, no candle close, sample or anchor expiry before the
    run ends -- pass in one C-level step (``core.replay.fastpath``). Orders, fills and
    decisions are the same with ``bulk=False`` (tested); only ``events_processed`` is smaller,
    because the timer ticks inside such a run did nothing and are not taken.

    ``band`` (base) is the |gap| the tracking figures measure time over, by default the
    policy's hard threshold at the first price. ``unhedged`` adds the same run with no
    rebalancing (a watch-mode replay, same band) as the report's ``unhedged`` block.
    ``grid_path`` (``core.replay.grid_path.record_grid``, a sweep records it once): the grid
    replays that recording instead of running, when it was recorded for this tape and grid.
    """
    trades = market.trades
    if len(trades) == 0:
        raise ValueError(no_trades_reason(market))
    ts_arr, px_arr, qty_arr, side_arr = trades.ts_ms, trades.price, trades.qty, trades.side
    first_ts, first_px = ts_arr[0], px_arr[0]
    ex, grid = build_paper(cfg, first_px, first_ts, bars=trades.from_bars)
    replayed = replayed_grid(grid_path, cfg, market) if grid is not None else None
    if replayed is not None:
        ex.grid = grid = replayed
    reb = build_rebalancer(cfg, venue_name="replay", instrument=ex.spot, recorder=recorder, mode=mode,
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

    def after(cmds, ts: int) -> None:
        for c in cmds:
            pump(submit(c, ts), ts)

    pump((BalanceUpdate(first_ts, ex.balances()), PositionUpdate(first_ts, ex.position()),
          ConnectionChanged(first_ts, True, "replay")), first_ts)
    if band is None:
        band = reb.policy.band_base(first_px, reb.book.spot_total, reb.book.equity_quote(first_px))
    reb.gap_stats.band = band
    if recorder is not None:  # so ``report`` on this run's journal measures against the same band
        recorder.state(first_ts, "band_base", repr(band), "the |gap| the tracking figures measure time over")

    quotes = market.quotes
    if quotes is not None and len(quotes):
        q_ts, q_bid, q_bq, q_ask, q_aq = quotes.ts_ms, quotes.bid, quotes.bid_qty, quotes.ask, quotes.ask_qty
        nq = len(quotes)
    else:  # trades only (klines expand to trades): the quote branch is never taken
        q_ts = q_bid = q_bq = q_ask = q_aq = ()
        nq = 0
    step = early_out.guarded(bulk_step(reb, ex, trades, quotes, TICK_MS)) if bulk else None
    on_trade_ex, on_quote_ex = ex.on_trade, ex.on_quote
    on_trade_reb, on_quote_reb, on_tick = reb.on_trade, reb.on_quote, reb.on_tick
    next_tick = ts = first_ts
    nt = len(trades)
    qi = ti = 0
    while ti < nt or qi < nq:
        if step is not None and reb.exec is None and equity_start is not None:
            ti, qi, next_tick, last = step(ti, qi, next_tick)
            if last is not None:
                ts = last
                if ti >= nt and qi >= nq:
                    break
        # the next event in time; at equal times the quote first
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
    reb.gap_stats.finish(ts)
    if reb.writes_snapshots:
        reb.bookkeeper.write_snapshot(ts)  # the record ends where the statistics do
    wall = (timer() - t0) if timer else 0.0
    last_px = reb.price or first_px
    equity_end = float(ex.equity_quote(last_px))
    report = build_report(reb, ex, grid, market, wall_s=wall, equity_start=equity_start or equity_end,
                          equity_end=equity_end, last_price=last_px, mode=mode)
    if unhedged:
        still = run_replay(cfg, market, policy=policy, mode="watch", bulk=bulk, band=band, grid_path=grid_path)
        report["unhedged"] = unhedged_block(still.report)
    return ReplayResult(report=report, rebalancer=reb, exchange=ex)
