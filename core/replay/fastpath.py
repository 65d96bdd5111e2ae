"""Replay's bulk path: runs of market data that provably change nothing but the tape, at once.

While the rebalancer sits idle in a sure HOLD and no print can reach the grid or a resting
order, a run of trades (and quotes) only moves the price, the clock and the forming candle.
``bulk_step`` takes such runs with C-level passes over array slices (``core.bulk``) and leaves
exactly the state the one-by-one loop (``on_trade`` / ``on_quote``, then ``on_tick`` on each
new second) would, built from the parts' own bulk steps: the candle builder absorbs a run,
the trend closes many candles, the account book bounds the equity of a run of samples, the
kill switch says whether any of them could trip it, the exchange absorbs the run.

On a trades-only tape it goes further: a candle close or a sample inside the trend-free hold
band is taken in place, and on a 1-minute kline tape whole runs of minutes at once.

``tests/core/test_replay_bulk.py`` checks that orders, fills, records, trend and statistics
equal the one-by-one replay on every data file and on tapes built to break it.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from itertools import repeat

from core.bulk import BAR_MS, KlineBars, all_inside, first_bad_qty, first_bad_quote, first_outside
from core.rebalancer import MAX_PRICE, Rebalancer
from core.venues.market import QuoteTape, TradeTape
from core.venues.paper_exchange import PaperExchange

INF = float("inf")
MAX_BAR_RUN = 4096  # bars per bulk step: long enough to amortise, short enough for a local equity bound


def quiet_band(reb: Rebalancer) -> tuple[float, float, int] | None:
    """``(lo, hi, until_ms)`` while the rebalancer idles in a sure HOLD: trades strictly inside
    ``(lo, hi)`` and quotes, all before ``until_ms``, would only move the price, the clock and
    the forming candle (no evaluation, no candle close, no sample, no anchor expiry). None
    otherwise."""
    if reb.dirty or reb.exec is not None or reb.operator.proposal is not None or reb.price is None:
        return None
    b = reb.candles
    if b.empty:
        return None  # the next trade opens the candle: let it through one by one
    until = reb.next_eval_ms
    if b.end < until:
        until = b.end
    if reb.next_sample_ms < until:
        until = reb.next_sample_ms
    t = reb.recent.next_change_ms()  # next_change_ms(reb), inline: asked before every print one by one
    if t < until:
        until = t
    due = reb.costs.markouts.due_ms
    if due < until:
        until = due
    return reb.hold_lo, reb.hold_hi, until


def next_change_ms(reb: Rebalancer) -> float:
    """When something changes on time alone: an anchor expires or a maker fill's markout is due."""
    t = reb.recent.next_change_ms()
    due = reb.costs.markouts.due_ms
    return due if due < t else t


def market_seen(reb: Rebalancer, ts_ms: int, price: float) -> None:
    """What ``on_trade`` leaves on the market side after valid trades ending at ``ts_ms``."""
    if ts_ms > reb.now_ms:
        reb.now_ms = ts_ms
    reb.price = price
    reb.last_market_ms = ts_ms
    reb.awaiting_fresh_market = False
    if not reb.has_quotes:
        reb.bid = reb.ask = price


def absorb_quotes(reb: Rebalancer, ts_ms: int, bid: float, ask: float, count: int) -> None:
    """``count`` valid quotes, the last ``bid`` / ``ask`` at ``ts_ms``, while a price is known
    and quotes were seen before: what ``on_quote`` would have left."""
    reb.stats.events += count
    if ts_ms > reb.now_ms:
        reb.now_ms = ts_ms
    reb.bid, reb.ask = bid, ask
    reb.quote_ms = ts_ms
    reb.awaiting_fresh_market = False
    if ts_ms > (reb.last_market_ms or 0):
        reb.last_market_ms = ts_ms


def quiet_runs(reb: Rebalancer, ex: PaperExchange, trades: TradeTape, quotes: QuoteTape, tick_ms: int):
    """The bulk step over trades and quotes: a run of trades inside the quiet band (and the
    exchange's) and of quotes that fill nothing, up to the first thing that could matter.
    A closure: it runs between every two events, and its columns are its own locals."""
    ts_arr, px_arr, qty_arr, nt = trades.ts_ms, trades.price, trades.qty, len(trades)
    q_ts, q_bid, q_bq, q_ask, q_aq, nq = quotes.ts_ms, quotes.bid, quotes.bid_qty, quotes.ask, quotes.ask_qty, len(quotes)
    candles, stats = reb.candles, reb.stats
    ex_band, ex_qband, absorb_ex = ex.quiet_band, ex.quiet_quote_band, ex.absorb_quiet

    def step(ti: int, qi: int, next_tick: int) -> tuple[int, int, int, int | None]:
        band = quiet_band(reb) if reb.has_quotes else None
        if band is None:
            return ti, qi, next_tick, None
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
        if tj == ti and qj == qi:
            return ti, qi, next_tick, None
        last = 0
        price = None
        if tj > ti:
            last = ts_arr[tj - 1]
            price = px_arr[tj - 1]
            seg = px_arr[ti:tj]  # the run as finally cut
            stats.events += tj - ti
            market_seen(reb, last, price)
            candles.absorb(min(seg), max(seg), price, qty_arr[ti:tj])
        quote = None
        if qj > qi:
            k = qj - 1
            if q_ts[k] > last:
                last = q_ts[k]
            quote = (q_bid[k], q_bq[k], q_ask[k], q_aq[k], q_ts[k])
            absorb_quotes(reb, q_ts[k], q_bid[k], q_ask[k], qj - qi)
        absorb_ex(last, price, quote)
        if last >= next_tick:
            next_tick = last - last % tick_ms + tick_ms
        return tj, qj, next_tick, last

    return step


def bulk_step(reb: Rebalancer, ex: PaperExchange, trades: TradeTape, quotes: QuoteTape | None, tick_ms: int):
    """The bulk step for these tapes: ``step(ti, qi, next_tick)`` takes what it can from trade
    ``ti`` / quote ``qi`` on and returns ``(ti, qi, next_tick, last_ts)`` (``last_ts`` None
    when it took nothing); the caller then replays the next event one by one."""
    if quotes is not None and len(quotes):
        return quiet_runs(reb, ex, trades, quotes, tick_ms)
    return FastForward(reb, ex, trades, tick_ms).step


class FastForward:
    """The bulk step over a trades-only tape (see ``fast_forward``)."""

    def __init__(self, reb: Rebalancer, ex: PaperExchange, trades: TradeTape, tick_ms: int) -> None:
        self.reb, self.ex, self.tick_ms = reb, ex, tick_ms
        self.ts, self.px, self.qty = trades.ts_ms, trades.price, trades.qty
        self.nt = len(trades)
        self.bars = KlineBars.build(trades)  # None unless the tape is 1-minute bars
        # whole-tape facts, one C-level pass each: with no NaN price a run needs no NaN test (its
        # min / max say it all), and with every size one on_trade accepts, no size test
        total = sum(self.px)
        self.no_nan = total == total  # a NaN anywhere makes the sum NaN
        self.sizes_ok = first_bad_qty(self.qty, 0, self.nt, MAX_PRICE) == self.nt

    def step(self, ti: int, qi: int, next_tick: int) -> tuple[int, int, int, int | None]:
        i, next_tick = self.fast_forward(ti, next_tick)
        if i == ti:
            return ti, qi, next_tick, None
        last = self.ts[i - 1]
        self.ex.absorb_quiet(last, self.px[i - 1], None)
        return i, qi, next_tick, last

    def fast_forward(self, i: int, next_tick: int) -> tuple[int, int]:
        """Over a trades-only tape (1-minute klines: the long replays), takes events from ``i``
        while they provably produce no command, and leaves exactly the state the one-by-one
        path would:

        * a run inside the quiet band (narrowed by the exchange's ``quiet_band()`` for prints
          that fill nothing) at once; its ticks do nothing and are not taken;
        * the event that ends a run (a candle close, a sample) in place, when its price is
          inside the trend-free hold band (so no close can turn the HOLD into a trade), before
          any anchor expiry or due venue command, and its sample's equity cannot trip the kill
          switch;
        * with 1-minute bars, whole runs of such minutes at once: one min/max over their prints
          for the bands, one bound on their samples' equity for the kill switch, and the EMAs
          over their closes in ``TrendTracker.close_many``.

        Returns the first index not taken and the timer's next tick."""
        band = quiet_band(self.reb)
        if band is None or i >= self.nt:
            return i, next_tick
        return self.take(i, next_tick, band, self.ex.quiet_band())

    def take(self, i: int, next_tick: int, band: tuple[float, float, int],
             ex_band: tuple[float, float, float]) -> tuple[int, int]:
        """``fast_forward`` from event ``i`` (``< len``) with the rebalancer's ``quiet_band`` and the
        exchange's, as they are now (``early_out`` has just read them: not read twice)."""
        reb = self.reb
        n = self.nt
        ts_arr, px_arr, qty_arr, tick_ms, bars = self.ts, self.px, self.qty, self.tick_ms, self.bars
        no_nan, sizes_ok = self.no_nan, self.sizes_ok
        lo, hi, _ = band
        elo, ehi, due = ex_band
        gap = reb.gap_base()  # no fill can happen in here: constant
        sure = reb.holds.trend_free_band(ts_arr[i], gap, reb.memory)
        slo, shi, s_until = sure if sure is not None else (0.0, 0.0, 0)
        recent = reb.recent
        anchors_move = next_change_ms(reb)  # constant too
        if s_until > anchors_move:
            s_until = anchors_move
        xlo = elo if elo > 0.0 else 0.0  # the venue's band, within valid prices
        xhi = ehi if ehi < MAX_PRICE else MAX_PRICE
        if due < s_until:
            s_until = due
        b = reb.candles
        trend, risk, book, gap_history = reb.trend, reb.risk, reb.book, reb.gap_history
        interval = b.interval_ms
        ticks_recorded = reb.writes_ticks
        sample_every = reb.sample_every_ms
        fixed_until = due if due < anchors_move else anchors_move
        per = bars.per_bar if bars is not None else 0
        if (per and (interval != BAR_MS or sample_every != BAR_MS or trend.timeframe_ms != BAR_MS
                     or ticks_recorded or reb.writes_snapshots or sure is None)):
            per = 0  # whole-minute runs need minute candles, minute samples and no journal rows
        rlo_sure = slo if slo > xlo else xlo
        rhi_sure = shi if shi < xhi else xhi
        # the hot state in locals, written back once at the end
        events = quiet = 0
        next_eval = reb.next_eval_ms
        next_sample = reb.next_sample_ms
        hold_lo, hold_hi = reb.hold_lo, reb.hold_hi
        evaluated = False
        c_end, c_open, c_high, c_low, c_close, c_volume = b.end, b.open, b.high, b.low, b.close, b.volume
        last_ts = None
        last_px = 0.0
        while True:
            rlo = lo if lo > xlo else xlo
            rhi = hi if hi < xhi else xhi
            until = next_eval if next_eval < c_end else c_end
            if next_sample < until:
                until = next_sample
            if fixed_until < until:
                until = fixed_until
            j = bisect_left(ts_arr, until, i, n)
            if j > i:
                seg = px_arr[i:j]
                low, high = min(seg), max(seg)
                i_stop = False
                if not (rlo < low and high < rhi and (no_nan or all_inside(seg, rlo, rhi))):  # all_inside
                    j = first_outside(px_arr, i, j, rlo, rhi)
                    i_stop = True
                if not sizes_ok:
                    jq = first_bad_qty(qty_arr, i, j, MAX_PRICE)  # on_trade would refuse it: one by one
                    if jq < j:
                        j = jq
                        i_stop = True
                if j == i:
                    break
                if i_stop:
                    seg = px_arr[i:j]
                    low, high = min(seg), max(seg)
                # the run inside the forming candle (CandleBuilder.absorb, in locals)
                last_ts = ts_arr[j - 1]
                last_px = px_arr[j - 1]
                events += j - i
                if high > c_high:
                    c_high = high
                if low < c_low:
                    c_low = low
                c_close = last_px
                c_volume = sum(qty_arr[i:j], c_volume)
                if last_ts >= next_tick:
                    next_tick = last_ts - last_ts % tick_ms + tick_ms
                i = j
                if i_stop or i >= n:
                    break
            # event i ends the run (candle close, sample, anchor expiry or a due venue command)
            ts = ts_arr[i]
            price = px_arr[i]
            qty = qty_arr[i]
            if (ts >= s_until or ts >= next_eval or not (slo < price < shi) or not (xlo < price < xhi)
                    or not 0.0 <= qty < MAX_PRICE or ts >= c_end + interval):
                break
            tick = ts >= next_tick
            sample = tick and ts >= next_sample
            if sample and book.balances_ok:
                equity = book.equity_quote(price)
                if risk.halt_reason_at(equity) is not None:
                    break
            if per and tick and i % per == 0 and ts == c_end == next_sample:
                # whole minutes from here: bar k's opening print closes candle k-1 and samples
                k = i // per
                k_end = bars.run_end(k)
                until = s_until if s_until < fixed_until else fixed_until
                last_ts_bars = bars.last_ts
                k_end = bisect_left(last_ts_bars, until, k, k_end)
                if k_end > k and last_ts_bars[k_end - 1] >= bars.first_ts[k_end - 1] + BAR_MS:
                    k_end -= 1  # the run's last bar must keep its prints inside its minute
                if k_end - k >= 2:  # galloping, in chunks: the cost stays in proportion to the run
                    limit, k_end, step = min(k_end, k + MAX_BAR_RUN), k, 64
                    while k_end < limit:
                        nxt = k_end + step if k_end + step < limit else limit
                        if not all_inside(px_arr[k_end * per:nxt * per], rlo_sure, rhi_sure):
                            k_end = first_outside(px_arr, k_end * per, nxt * per, rlo_sure, rhi_sure) // per
                            break
                        k_end = nxt
                        step += step
                    if not sizes_ok:
                        k_end = first_bad_qty(qty_arr, i, k_end * per, MAX_PRICE) // per
                while k_end - k >= 2 and book.balances_ok:
                    opens = bars.opens[k:k_end]  # the run's samples are at its bars' opening prints
                    eq_low, eq_high = book.equity_range(min(opens), max(opens))
                    peak = risk.peak_equity
                    if risk.surely_no_halt(eq_high if peak is None or eq_high > peak else peak, eq_low):
                        break
                    k_end = k + (k_end - k) // 2
                if k_end - k >= 2:
                    m = k_end - k
                    last = (k_end - 1) * per
                    closes = array("d", (c_close,))
                    closes.extend(px_arr[i + per - 1:last:per])  # bars k .. k_end-2
                    trend.close_many(c_end, closes)
                    first_last = bars.first_ts[k_end - 1]
                    c_end = first_last + BAR_MS
                    prints = px_arr[last:last + per]
                    c_open, c_high, c_low, c_close = prints[0], max(prints), min(prints), prints[-1]
                    c_volume = sum(qty_arr[last + 1:last + per], qty_arr[last])
                    events += (per + 1) * m  # each bar: its prints, and its opening tick
                    gap_history.extend(repeat(gap, m))
                    if book.balances_ok:
                        risk.on_equity(eq_high)  # the run's peak ...
                        risk.on_equity(book.equity_quote(prints[0]))  # ... its last sample
                        reb.next_snapshot_ms = first_last - first_last % 10_000 + 10_000
                    next_sample = first_last + BAR_MS
                    next_tick = first_last - first_last % tick_ms + tick_ms
                    last_ts, last_px = last_ts_bars[k_end - 1], c_close
                    if last_ts >= next_tick:
                        next_tick = last_ts - last_ts % tick_ms + tick_ms
                    hold_lo, hold_hi = slo, shi
                    lo, hi = slo, shi
                    next_eval = s_until
                    evaluated = True
                    i = k_end * per
                    if i >= n:
                        break
                    continue
            # -- on_trade, for a valid print while idle
            events += 1
            last_ts, last_px = ts, price
            if ts < c_end:
                if price > c_high:
                    c_high = price
                elif price < c_low:
                    c_low = price
                c_close = price
                c_volume += qty
                closed = False
            else:  # TrendTracker.on_trade's common close: the next candle opens with this print
                trend.close_value(c_end, c_close)
                c_end += interval
                c_open = c_high = c_low = c_close = price
                c_volume = qty
                closed = True
            if closed or not hold_lo < price < hold_hi:
                # _evaluate_or_skip: the sure band holds (checked above), so HOLD without asking
                hold_lo, hold_hi = slo, shi
                lo, hi = slo, shi
                next_eval = s_until if s_until < anchors_move else anchors_move
                evaluated = True
            i += 1
            # -- on_tick, on a new second while idle
            if tick:
                next_tick = ts - ts % tick_ms + tick_ms
                events += 1
                if not sample and ts < next_eval:
                    quiet += 1
                if ticks_recorded:
                    reb.rec.tick(ts)
                if sample:  # _sample(), knowing the kill switch stays quiet (checked above)
                    next_sample = ts - ts % sample_every + sample_every
                    gap_history.append(gap)
                    if book.balances_ok:
                        risk.on_equity(equity)
                        if ts >= reb.next_snapshot_ms:
                            if reb.writes_snapshots:
                                reb.price = price
                            reb.bookkeeper.snapshot_row(ts)
            if i >= n:
                break
        if last_ts is not None:
            reb.stats.events += events
            reb.quiet_ticks += quiet
            market_seen(reb, last_ts, last_px)
            b.set_forming(c_end, c_open, c_high, c_low, c_close, c_volume)
            reb.next_sample_ms = next_sample
            recent.advance(last_ts)
            if evaluated:
                reb.sure_hold(hold_lo, hold_hi, next_eval)
        return i, next_tick
