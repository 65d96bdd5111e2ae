"""The orchestrator: venue events in, decisions and venue commands out, in one of three modes.

The same ``Rebalancer`` runs live, on paper and in replay: it is synchronous and pure (time
comes from event timestamps; I/O is the caller's), so a replay is deterministic and the live
shell only moves events and commands between it and a venue.

Safety is layered: the policy picks the side from the gap's sign; execution bounds every
size by the fresh gap; the risk manager gates and clips; and here every outgoing order is
checked once more against the mode, the trading state and the direction of the gap.
"""

from __future__ import annotations

from bisect import bisect_left
from array import array
from collections import deque
from dataclasses import dataclass, replace
from decimal import Decimal
from itertools import repeat

from core.bulk import BAR_MS, KlineBars, all_inside, first_bad_qty, first_outside
from core.config import RebalancerConfig, parse_timeframe_ms
from core.delta import grows_gap
from core.events import (
    BalanceUpdate, CancelAllOurs, CancelOrder, Command, ConnectionChanged, FillEvent, OrderUpdate,
    PlaceOrder, PositionUpdate, Tick, VenueError,
)
from core.execution import ExecutionPlan, Phase, RebalanceExecution
from core.fills import RecentFills
from core.model import (
    Action, Decision, Fill, Instrument, Leg, Mode, Order, OrderStatus, PerpTicker, Quote, Side, Trade, TradingState,
)
from core.policy import WHOLE_BAND, AnchorPolicy, HoldBand, BaselinePolicy, PolicyMemory, PolicyView, SimplePolicy, make_policy
from core.risk import RiskManager
from core.state import CockpitState, FeedHealth, FillView, LogLine, OrderView, Proposal
from core.trend import TrendTracker

EMPTY: tuple = ()
QUOTE_COINS = ("USDT", "USDC")
MAX_PRICE = 1e12  # anything above is a broken number, not a price


def _finite_dec(*values) -> bool:
    return all(v is not None and v.is_finite() for v in values)


class Recorder:
    """Where the rebalancer writes its record (the journal implements this). No-op default."""

    def decision(self, decision: Decision, mode: str, outcome: str) -> None: ...
    def proposal(self, ts_ms: int, proposal: Proposal, answer: str) -> None: ...
    def order(self, ts_ms: int, order: Order, event: str) -> None: ...
    def fill(self, fill: Fill) -> None: ...
    def state(self, ts_ms: int, kind: str, value: str, reason: str) -> None: ...
    def error(self, ts_ms: int, message: str, code: int | None = None) -> None: ...
    def reconcile(self, ts_ms: int, what: str, detail: str) -> None: ...
    def rebalance_done(self, ts_ms: int, side: Side, qty_base: float, path: str) -> None: ...
    def tick(self, ts_ms: int) -> None: ...
    def snapshot(self, ts_ms: int, *, spot_base: float, quote: float, futures_size: float, price: float,
                 net_base: float, equity_quote: float, target_base: float) -> None: ...

    def hold(self) -> None:
        """Keep what is recorded from now on in memory until ``release()`` (write-behind)."""

    def release(self) -> None:
        """Write what was held, in order."""


@dataclass(slots=True)
class Stats:
    """Counters the replay report and the cockpit read. Every event processed is counted."""

    events: int = 0
    decisions: int = 0  # trading decisions acted on or proposed
    orders: int = 0
    fills: int = 0
    maker_fills: int = 0
    taker_fills: int = 0
    grid_fills: int = 0
    volume_base: float = 0.0
    volume_quote: float = 0.0
    fees_quote: float = 0.0
    slippage_quote: float = 0.0  # execution price vs mid at decision, signed cost
    wrong_direction_orders: int = 0
    flip_flops: int = 0
    rebalances: int = 0
    refused: int = 0
    gap_time_integral: float = 0.0  # ∫|gap| dt (base·ms)
    time_over_hard_ms: int = 0
    time_total_ms: int = 0
    max_abs_gap: float = 0.0


MAX_BAR_RUN = 4096  # bars per bulk step: long enough to amortise, short enough for a local equity bound


class Rebalancer:
    def __init__(self, cfg: RebalancerConfig, instrument: Instrument, *, symbol: str | None = None,
                 venue_name: str = "paper", mode: Mode = Mode.SEMI, policy_name: str | None = None,
                 client_prefix: str = "rb", maker_fee_rate: float = 0.001, taker_fee_rate: float = 0.001,
                 recorder: Recorder | None = None, log_size: int = 300) -> None:
        self.cfg = cfg
        self.instrument = instrument
        self.symbol = symbol or instrument.symbol
        self.venue_name = venue_name
        self.mode = mode
        self.policy = make_policy(cfg, policy_name)
        self.policy_name = self.policy.name
        self.memory = PolicyMemory()
        self.client_prefix = client_prefix
        self.maker_fee_rate = maker_fee_rate
        self.taker_fee_rate = taker_fee_rate
        self.rec = recorder or Recorder()
        self._writes_snapshots = type(self.rec).snapshot is not Recorder.snapshot
        self._writes_ticks = type(self.rec).tick is not Recorder.tick
        self._reserve = cfg.spot_reserve_base
        self._target_usdt = cfg.simple.target_delta_usdt if isinstance(self.policy, SimplePolicy) else None
        self._target_fixed = (cfg.baseline.desired_net_delta_base if isinstance(self.policy, BaselinePolicy)
                              else cfg.anchor.desired_net_delta_base)
        self._fixed_floor: float | None = None
        if isinstance(self.policy, AnchorPolicy) and cfg.anchor.thresholds.units == "base":
            self._fixed_floor = self.policy.base_thresholds(0.0)[0] * cfg.anchor.bias.min_scale
        elif isinstance(self.policy, BaselinePolicy):
            self._fixed_floor = cfg.baseline.min_trade_base
        if isinstance(self.policy, SimplePolicy):
            s = cfg.simple
            self.trend = TrendTracker(s.ema_fast_period, s.ema_slow_period, parse_timeframe_ms(s.ema_timeframe),
                                      cfg.anchor.ema.slope_lookback_s, s.trend_threshold_pct)
        else:
            e = cfg.anchor.ema
            self.trend = TrendTracker(e.fast, e.slow, parse_timeframe_ms(e.timeframe), e.slope_lookback_s,
                                      e.trend_threshold_pct)
        self.recent = RecentFills(int(cfg.anchor.anchor.window_s * 1000))
        self.risk = RiskManager(cfg.risk, cfg.execution)
        self.exec: RebalanceExecution | None = None
        # account (floats for analytics; the venue holds the exact truth)
        self.spot_total = 0.0
        self.spot_free = 0.0
        self.spot_locked = 0.0
        self.quote_free = 0.0
        self.quote_locked = 0.0
        self.futures_size = 0.0
        self.futures_entry = 0.0
        self.mark_price: float | None = None
        self.liq_price: float | None = None
        self.funding_rate: float | None = None
        self.next_funding_ms: int | None = None
        self.upnl = 0.0
        self.balances_ok = False
        self.connected = False
        # market
        self.price: float | None = None
        self.bid: float | None = None
        self.ask: float | None = None
        self.has_quotes = False
        self.last_market_ms: int | None = None
        self._awaiting_fresh_market = False  # set on a disconnect, cleared by the next trade/quote
        self.now_ms = 0
        # decisions and proposals
        self.decision: Decision | None = None
        self.proposal: Proposal | None = None
        self._proposal_seq = 0
        self._rebalance_seq = 0
        self.skip_next = False
        self._suppress_until_ms = 0
        self._last_recorded: tuple | None = None
        # bookkeeping
        self.our_orders: dict[str, Order] = {}
        self._order_filled: dict[str, Decimal] = {}
        self._terminal: set[str] = set()  # client ids of our finished orders
        self._terminal_order: deque[str] = deque()
        self._seen_exec_ids: set[str] = set()
        self._seen_exec_order: deque[str] = deque()
        self.recent_fills: deque[FillView] = deque(maxlen=30)
        self.log: deque[LogLine] = deque(maxlen=log_size)
        self.gap_history: deque[float] = deque(maxlen=120)
        self.stats = Stats()
        self._last_side_trade: tuple[int, Side] | None = None
        self._dirty = True
        self._eval_every_ms = int(cfg.evaluate_every_s * 1000)
        self._next_eval_ms = 0
        self._next_sample_ms = 0
        self._next_snapshot_ms = 0
        # re-evaluate when price leaves (_hold_lo, _hold_hi): 1 bp around the last evaluation, or
        # in replay the policy's exact hold band (see _evaluate_or_skip)
        self._hold_lo = 0.0
        self._hold_hi = 0.0
        self._robust: tuple | None = None
        self._gap_abs = 0.0  # |gap| as of the last account change (time-weighted statistics)
        self._gap_since: int | None = None
        self._candles = self.trend.builder
        self.sample_every_ms = 1000  # gap history and kill-switch check cadence (market time)
        self._hard_for_stats = self._base_hard()
        self.bad_messages = 0
        self.duplicate_fills = 0
        self.lazy_holds = False  # replay: skip policy calls that can only answer HOLD
        self.session_tag = ""  # a live session sets a short unique tag (see _order_prefix)
        self._quiet_ticks = 0
        self._user_actions = 0
        self.feed_rtt_p50: float | None = None
        self.feed_rtt_p99: float | None = None
        self.rate_budget_left: int | None = None

    # ------------------------------------------------------------------ derived numbers

    @property
    def spot_base(self) -> float:
        return self.spot_total - self._reserve

    @property
    def net_base(self) -> float:
        return self.spot_total - self._reserve + self.futures_size

    def target_base(self) -> float:
        if self._target_usdt is not None:  # the simple policy targets USDT: base depends on price
            return self._target_usdt / self.price if self.price else 0.0
        return self._target_fixed

    def gap_base(self) -> float:
        return self.spot_total - self._reserve + self.futures_size - (
            self._target_fixed if self._target_usdt is None else self.target_base())

    def equity_quote(self) -> float:
        px = self.price or 0.0
        return self.spot_total * px + self.quote_free + self.quote_locked + self.upnl

    def _base_hard(self) -> float:
        if isinstance(self.policy, AnchorPolicy):
            return self.cfg.anchor.thresholds.hard if self.cfg.anchor.thresholds.units == "base" else float("inf")
        if isinstance(self.policy, BaselinePolicy):
            return self.cfg.baseline.min_trade_base
        return float("inf")  # simple: in USDT, computed per price below

    def _soft_floor_base(self) -> float:
        """The smallest |gap| at which the policy could possibly act: below it, skip the policy."""
        if self._fixed_floor is not None:
            return self._fixed_floor
        p = self.policy
        if isinstance(p, AnchorPolicy):
            soft, _ = p.base_thresholds(self.spot_base)
            return soft * self.cfg.anchor.bias.min_scale
        if isinstance(p, SimplePolicy):
            return self.cfg.simple.rebalance_threshold_usdt / self.price if self.price else 0.0
        return self.cfg.baseline.min_trade_base

    def set_rules(self, instrument: Instrument, maker_fee_rate: float, taker_fee_rate: float) -> None:
        """The venue's real trading rules and fee rates, read at start-up (before any order)."""
        self.instrument = instrument
        self.maker_fee_rate = maker_fee_rate
        self.taker_fee_rate = taker_fee_rate
        self._log("info", f"{self.venue_name} rules: tick {instrument.tick_size}, step {instrument.qty_step}, "
                          f"min {instrument.min_qty} / {instrument.min_notional} {instrument.quote}; "
                          f"fees maker {maker_fee_rate} taker {taker_fee_rate}")

    # ------------------------------------------------------------------ logging

    def _log(self, level: str, text: str) -> None:
        self.log.append(LogLine(self.now_ms, level, text))

    # ------------------------------------------------------------------ restart

    def restore(self, *, last_rebalance: tuple[int, Side] | None = None,
                trading_state: tuple[str, str] | None = None, orders: tuple[Order, ...] = ()) -> None:
        """Bring back cooldown/hysteresis memory and a kill-switch halt from the journal.

        ``orders``: ours from before the restart, as the venue has them now (``core.recovery``):
        their updates are tracked, not flagged as strangers, and what they filled before is
        already in the balances."""
        for o in orders:
            self._order_filled.setdefault(o.client_id, o.filled_qty)
        if last_rebalance is not None:
            ts, side = last_rebalance
            self.memory = self.memory.after_trade(ts, side)
            self._last_side_trade = (ts, side)
        if trading_state is not None:
            value, reason = trading_state
            if value == TradingState.HALTED.value:
                self.risk.halt(reason or "halted before the restart")
                self._log("warning", f"restored HALTED state: {reason}")
            elif value == TradingState.PAUSED.value:
                self.risk.pause()

    def warm_up(self, candles) -> None:
        self.trend.warm_up(candles)
        self._dirty = True

    # ------------------------------------------------------------------ events

    @property
    def changes(self) -> int:
        """Grows whenever something the cockpit shows may have changed (not on a quiet tick)."""
        return self.stats.events - self._quiet_ticks + self._user_actions

    def on_event(self, ev) -> list[Command]:
        t = type(ev)
        if t is Trade:
            return self.on_trade(ev.ts_ms, ev.price, ev.qty, ev.taker_side is Side.BUY)
        if t is Quote:
            return self.on_quote(ev.ts_ms, ev.bid, ev.ask)
        if t is Tick:
            return self.on_tick(ev.ts_ms)
        if t is OrderUpdate:
            return self._on_order(ev.ts_ms, ev.order)
        if t is FillEvent:
            return self._on_fill(ev.fill)
        if t is BalanceUpdate:
            return self._on_balances(ev)
        if t is PositionUpdate:
            return self._on_position(ev)
        if t is PerpTicker:
            self.mark_price = ev.mark_price
            self.funding_rate = ev.funding_rate
            self.next_funding_ms = ev.next_funding_ms or None
            self._recompute_upnl()
            return EMPTY
        if t is ConnectionChanged:
            self.stats.events += 1
            if ev.connected != self.connected:
                self._log("info" if ev.connected else "warning",
                          f"venue {'connected' if ev.connected else 'DISCONNECTED'} {ev.detail}".strip())
            if self.connected and not ev.connected:
                # the touch seen before the outage may be old news once it ends: no order until a
                # trade or quote arrives after it (a reconnect's snapshot counts)
                self._awaiting_fresh_market = True
            self.connected = ev.connected
            return EMPTY
        if t is VenueError:
            self.stats.events += 1
            self._log("error", f"venue error{f' {ev.code}' if ev.code else ''}: {ev.message}")
            self.rec.error(ev.ts_ms, ev.message, ev.code)
            if ev.client_id:
                # the venue refused the call itself: no such order exists
                self.our_orders.pop(ev.client_id, None)
                self._order_filled.pop(ev.client_id, None)
                if self.exec is not None:
                    self.exec.on_rejected_send(ev.client_id, ev.message)
                    return self._after_exec_step([])
            return EMPTY
        return self._bad(f"unexpected event {type(ev).__name__} skipped")

    def _bad(self, why: str) -> list[Command]:
        """Bad input is skipped, counted and said — never acted on."""
        self.bad_messages += 1
        if self.bad_messages <= 100 or self.bad_messages % 1000 == 0:
            self._log("warning", f"bad data #{self.bad_messages}: {why}")
        return EMPTY

    def on_trade(self, ts_ms: int, price: float, qty: float, taker_is_buy: bool) -> list[Command]:
        """The hot path: O(1) and allocation-free while nothing needs deciding."""
        self.stats.events += 1
        if not (0.0 < price < MAX_PRICE and 0.0 <= qty < MAX_PRICE):  # also false for NaN
            return self._bad(f"trade with price {price!r} qty {qty!r} skipped")
        if ts_ms > self.now_ms:
            self.now_ms = ts_ms
        self.price = price
        self.last_market_ms = ts_ms
        self._awaiting_fresh_market = False
        if not self.has_quotes:
            self.bid = self.ask = price
        b = self._candles
        if ts_ms < b.end and not b.empty:  # inside the forming candle: the common case, inlined
            if price > b.high:
                b.high = price
            elif price < b.low:
                b.low = price
            b.close = price
            b.volume += qty
        elif self.trend.on_trade(ts_ms, price, qty):
            self._dirty = True
        if self.exec is not None:
            return self._drive_exec(ts_ms)
        if self._dirty or ts_ms >= self._next_eval_ms or not self._hold_lo < price < self._hold_hi:
            return self._evaluate_or_skip(ts_ms)
        return EMPTY

    def _robust_band(self, now: int) -> HoldBand | None:
        """The policy's hold band under any trend, kept while the account and anchors stand
        still: a candle close then needs no trend read at all (replay's per-minute cost)."""
        recent = self.recent
        key = (self.spot_base, self.futures_size, recent.buy_vwap, recent.sell_vwap, self.memory.last_check_ms)
        cached = self._robust
        if cached is not None and cached[0] == key:
            return cached[1]
        band = self.policy.robust_hold_band(now, self.spot_base, self.futures_size, recent.buy_vwap,
                                            recent.sell_vwap, self.memory)
        self._robust = (key, band)
        return band

    def _sure_band(self, now: int, price: float, gap: float) -> HoldBand | None:
        """A hold band at ``price`` that needs no trend (see ``_trend_free_band``), or None when
        only the exact (trend-aware) band can say."""
        band = self._trend_free_band(now, gap)
        if band is None or not band.lo < price < band.hi or now >= band.until_ms:
            return None
        return band

    def _trend_free_band(self, now: int, gap: float) -> HoldBand | None:
        """Where HOLD is sure whatever the trend: everywhere when the gap is under the policy's
        smallest threshold, else the robust band (None: nowhere)."""
        floor = self._fixed_floor
        if floor is not None and (gap if gap >= 0 else -gap) < floor:
            return WHOLE_BAND
        return self._robust_band(now)

    def _evaluate_or_skip(self, now: int) -> list[Command]:
        """Run the policy unless the answer is surely HOLD, then skip computing it. Live: when
        the gap is below the smallest threshold the policy could ever act on (live runs still
        evaluate fully on every timer tick, so the cockpit always shows a fresh why). Replay
        (``lazy_holds``): while price stays inside the policy's hold band, until something the
        policy reads changes (account and candle close set ``_dirty``; anchors expire on time)."""
        price = self.price
        if self.proposal is None and price is not None:
            g = self.gap_base()
            if self.lazy_holds:
                self.recent.advance(now)
                band = self._sure_band(now, price, g)
                if band is None:
                    band = self.policy.hold_band(now, price, self.spot_base, self.futures_size, self.trend.view(),
                                                 self.recent.buy_vwap, self.recent.sell_vwap, self.memory)
                    if band is None:
                        return self.evaluate()
                self._hold_lo, self._hold_hi, until = band
                anchors_move = self.recent.next_change_ms()
                self._next_eval_ms = until if until < anchors_move else anchors_move
            elif (g if g >= 0 else -g) < self._soft_floor_base():
                self._next_eval_ms = now + self._eval_every_ms
                self._hold_lo = price - price * 1e-4
                self._hold_hi = price + price * 1e-4
            else:
                return self.evaluate()
            self._dirty = False
            m = self.memory
            if m.gate_wait_since_ms is not None and not isinstance(self.policy, BaselinePolicy):
                self.memory = m.without_gate_wait()
            return EMPTY
        return self.evaluate()

    # -- replay's bulk path: runs of market data that provably change nothing but the tape

    def quiet_band(self) -> tuple[float, float, int] | None:
        """``(lo, hi, until_ms)`` while idle in a sure HOLD: trades strictly inside ``(lo, hi)``
        and quotes, all before ``until_ms``, would only move the price, the clock and the forming
        candle (no evaluation, no candle close, no sample, no anchor expiry), so a replay may
        take them in one ``absorb_trades`` / ``absorb_quotes`` step. None otherwise."""
        if self._dirty or self.exec is not None or self.proposal is not None or self.price is None:
            return None
        b = self._candles
        if b.empty:
            return None  # the next trade opens the candle: let it through one by one
        until = self._next_eval_ms
        if b.end < until:
            until = b.end
        if self._next_sample_ms < until:
            until = self._next_sample_ms
        anchors_move = self.recent.next_change_ms()
        if anchors_move < until:
            until = anchors_move
        return self._hold_lo, self._hold_hi, until

    def absorb_trades(self, ts_ms: int, last_price: float, low: float, high: float, qtys, count: int) -> None:
        """``count`` valid trades inside the quiet band, ending at ``ts_ms`` / ``last_price``,
        with this ``low`` / ``high`` and quantities: what ``on_trade`` would have left, at once."""
        self.stats.events += count
        if ts_ms > self.now_ms:
            self.now_ms = ts_ms
        self.price = last_price
        self.last_market_ms = ts_ms
        self._awaiting_fresh_market = False
        if not self.has_quotes:
            self.bid = self.ask = last_price
        b = self._candles
        if high > b.high:
            b.high = high
        if low < b.low:
            b.low = low
        b.close = last_price
        b.volume = sum(qtys, b.volume)  # left to right from the running total, as one by one

    def absorb_quotes(self, ts_ms: int, bid: float, ask: float, count: int) -> None:
        """``count`` valid quotes, the last one ``bid`` / ``ask`` at ``ts_ms``, while a price is
        known and quotes were seen before: what ``on_quote`` would have left, at once."""
        self.stats.events += count
        if ts_ms > self.now_ms:
            self.now_ms = ts_ms
        self.bid, self.ask = bid, ask
        self._awaiting_fresh_market = False
        if ts_ms > (self.last_market_ms or 0):
            self.last_market_ms = ts_ms

    def fast_forward(self, ts_arr, px_arr, qty_arr, side_arr, i: int, n: int, exchange_band, next_tick: int,
                     tick_ms: int, bars: KlineBars | None = None) -> tuple[int, int]:
        """Replay's bulk path over a trades-only tape (1-minute klines: the long replays).

        Takes events from ``i`` while they provably produce no command, and leaves exactly the
        state the one-by-one path (``on_trade``, then ``on_tick`` on each new second) would:

        * a run inside the quiet band (``quiet_band``, narrowed by the venue's
          ``exchange_band()`` = ``(lo, hi, until_ms)`` for prints that fill nothing) in one
          ``absorb_trades`` step; its ticks do nothing and are not taken;
        * the event that ends a run (a candle close, a sample) in place, when its price is inside
          the trend-free hold band (so no close can turn the HOLD into a trade), before any
          anchor expiry or due check, and its sample's equity cannot trip the kill switch;
        * with ``bars`` (a 1-minute kline tape), whole runs of such minutes at once: one
          min/max over their prints for the bands, one bound on their samples' equity for the
          kill switch, and the EMAs over their closes in ``TrendTracker.close_many``.

        Anything else stops it. Returns the first index not taken and the timer's next tick;
        the caller replays that event one by one. ``tests/core/test_replay_bulk.py`` checks
        that orders, fills, decisions, trend and statistics equal the one-by-one replay."""
        band = self.quiet_band()
        if band is None or i >= n:
            return i, next_tick
        lo, hi, _ = band
        elo, ehi, due = exchange_band()
        gap = self.gap_base()  # no fill can happen in here: constant
        sure = self._trend_free_band(ts_arr[i], gap)
        slo, shi, s_until = sure if sure is not None else (0.0, 0.0, 0)
        recent = self.recent
        anchors_move = recent.next_change_ms()  # constant too
        if s_until > anchors_move:
            s_until = anchors_move
        xlo = elo if elo > 0.0 else 0.0  # the venue's band, within valid prices
        xhi = ehi if ehi < MAX_PRICE else MAX_PRICE
        if due < s_until:
            s_until = due
        b = self._candles
        trend = self.trend
        risk = self.risk
        interval = b.interval_ms
        ticks_recorded = self._writes_ticks
        base_gate = self.memory.gate_wait_since_ms is not None and not isinstance(self.policy, BaselinePolicy)
        fixed_until = due if due < anchors_move else anchors_move
        per = bars.per_bar if bars is not None else 0
        if (per and (interval != BAR_MS or self.sample_every_ms != BAR_MS or trend.timeframe_ms != BAR_MS
                     or ticks_recorded or self._writes_snapshots or sure is None)):
            per = 0  # whole-minute runs need minute candles, minute samples and no journal rows
        rlo_sure = slo if slo > xlo else xlo
        rhi_sure = shi if shi < xhi else xhi
        spot, quote_free, quote_locked, upnl = self.spot_total, self.quote_free, self.quote_locked, self.upnl
        # the hot state in locals, written back once at the end
        events = quiet = 0
        next_eval = self._next_eval_ms
        next_sample = self._next_sample_ms
        hold_lo, hold_hi = self._hold_lo, self._hold_hi
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
                i_stop = False
                if not all_inside(seg, rlo, rhi):
                    j = first_outside(px_arr, i, j, rlo, rhi)
                    i_stop = True
                jq = first_bad_qty(qty_arr, i, j, MAX_PRICE)  # on_trade would refuse it: one by one
                if jq < j:
                    j = jq
                    i_stop = True
                if j == i:
                    break
                if i_stop:
                    seg = px_arr[i:j]
                low, high = min(seg), max(seg)
                # absorb_trades(), in locals
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
            if sample and self.balances_ok:
                equity = self.spot_total * price + self.quote_free + self.quote_locked + self.upnl  # equity_quote()
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
                    k_end = first_bad_qty(qty_arr, i, k_end * per, MAX_PRICE) // per
                while k_end - k >= 2 and self.balances_ok:
                    opens = bars.opens[k:k_end]
                    # equity_quote(), term by term in its order: monotone in price
                    eq_low = spot * min(opens) + quote_free + quote_locked + upnl
                    eq_high = spot * max(opens) + quote_free + quote_locked + upnl
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
                    self.gap_history.extend(repeat(gap, m))
                    if self.balances_ok:
                        risk.on_equity(eq_high)  # the run's peak ...
                        risk.on_equity(spot * prints[0] + quote_free + quote_locked + upnl)  # ... its last sample
                        self._next_snapshot_ms = first_last - first_last % 10_000 + 10_000
                    next_sample = first_last + BAR_MS
                    next_tick = first_last - first_last % tick_ms + tick_ms
                    last_ts, last_px = last_ts_bars[k_end - 1], c_close
                    if last_ts >= next_tick:
                        next_tick = last_ts - last_ts % tick_ms + tick_ms
                    hold_lo, hold_hi = slo, shi
                    lo, hi = slo, shi
                    next_eval = s_until
                    evaluated = True
                    if base_gate:
                        self.memory = self.memory.without_gate_wait()
                        base_gate = False
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
                trend._close_value(c_end, c_close)
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
                if base_gate:
                    self.memory = self.memory.without_gate_wait()
                    base_gate = False
            i += 1
            # -- on_tick, on a new second while idle
            if tick:
                next_tick = ts - ts % tick_ms + tick_ms
                events += 1
                if not sample and ts < next_eval:
                    quiet += 1
                if ticks_recorded:
                    self.rec.tick(ts)
                if sample:  # _sample(), knowing the kill switch stays quiet (checked above)
                    next_sample = ts - ts % self.sample_every_ms + self.sample_every_ms
                    self.gap_history.append(gap)
                    if self.balances_ok:
                        risk.on_equity(equity)
                        if ts >= self._next_snapshot_ms:
                            if self._writes_snapshots:
                                self.price = price
                                self._snapshot(ts)
                            else:
                                self._next_snapshot_ms = ts - ts % 10_000 + 10_000
            if i >= n:
                break
        if last_ts is not None:
            self.stats.events += events
            self._quiet_ticks += quiet
            if last_ts > self.now_ms:
                self.now_ms = last_ts
            self.price = last_px
            self.last_market_ms = last_ts
            self._awaiting_fresh_market = False
            if not self.has_quotes:
                self.bid = self.ask = last_px
            b.start = c_end - interval
            b.end = c_end
            b.open, b.high, b.low, b.close, b.volume = c_open, c_high, c_low, c_close, c_volume
            self._next_sample_ms = next_sample
            recent.advance(last_ts)
            if evaluated:
                self._hold_lo, self._hold_hi = hold_lo, hold_hi
                self._next_eval_ms = next_eval
                self._dirty = False
        return i, next_tick

    def on_quote(self, ts_ms: int, bid: float, ask: float) -> list[Command]:
        self.stats.events += 1
        if not (0.0 < bid <= ask < MAX_PRICE):  # NaN, inf, non-positive or crossed
            return self._bad(f"quote bid {bid!r} ask {ask!r} skipped")
        if ts_ms > self.now_ms:
            self.now_ms = ts_ms
        self.has_quotes = True
        self.bid, self.ask = bid, ask
        self.last_market_ms = ts_ms
        self._awaiting_fresh_market = False
        if self.price is None:
            self.price = (bid + ask) * 0.5
        if self.exec is not None:
            return self._drive_exec(ts_ms)
        return EMPTY

    def on_tick(self, ts_ms: int) -> list[Command]:
        self.stats.events += 1
        if self.exec is None and self.proposal is None and not self._dirty and ts_ms < self._next_eval_ms \
                and ts_ms < self._next_sample_ms:
            self._quiet_ticks += 1
        if ts_ms > self.now_ms:
            self.now_ms = ts_ms
        if self.trend.on_time(ts_ms):
            self._dirty = True
        self.recent.advance(ts_ms)
        self.rec.tick(ts_ms)
        out: list[Command] = []
        if ts_ms >= self._next_sample_ms:
            out.extend(self._sample(ts_ms))
        if self.proposal is not None and self.proposal.expires_ms is not None and ts_ms >= self.proposal.expires_ms:
            self._log("info", f"proposal #{self.proposal.proposal_id} expired (skipped)")
            self.rec.proposal(ts_ms, self.proposal, "expired")
            self.proposal = None
            self._suppress_until_ms = ts_ms + int(self.cfg.risk.cooldown_s * 1000)
        if self.exec is not None:
            out.extend(self._drive_exec(ts_ms))
            return out
        if self.price is not None and (self._dirty or ts_ms >= self._next_eval_ms):
            out.extend(self._evaluate_or_skip(ts_ms) if self.lazy_holds else self.evaluate())
        return out

    def _sample(self, ts_ms: int) -> list[Command]:
        """The sampled checks: gap history, the kill switch, a journal snapshot every 10 s."""
        every = self.sample_every_ms  # on the clock's grid, so a replay can find the samples
        self._next_sample_ms = ts_ms - ts_ms % every + every
        self.gap_history.append(self.gap_base())
        out = self._check_kill_switch()
        if ts_ms >= self._next_snapshot_ms and self.price is not None and self.balances_ok:
            self._snapshot(ts_ms)
        return out

    def _snapshot(self, ts_ms: int) -> None:
        """An account snapshot row for the journal, every 10 s of market time."""
        self._next_snapshot_ms = ts_ms - ts_ms % 10_000 + 10_000
        if self._writes_snapshots:
            self.rec.snapshot(ts_ms, spot_base=self.spot_total, quote=self.quote_free + self.quote_locked,
                              futures_size=self.futures_size, price=self.price, net_base=self.net_base,
                              equity_quote=self.equity_quote(), target_base=self.target_base())

    # -- gap statistics: integrated between account changes, so trades cost nothing here

    def _settle_gap(self, now: int) -> None:
        """Add the gap that held since the last account change (a gap that lasted no time,
        e.g. between a balance and a position update of the same instant, does not count)."""
        since = self._gap_since
        if since is None:
            self._gap_since = now
            return
        if now > since:
            st = self.stats
            dt = now - since
            ag = self._gap_abs
            st.gap_time_integral += ag * dt
            st.time_total_ms += dt
            if ag >= self._hard_for_stats:
                st.time_over_hard_ms += dt
            if ag > st.max_abs_gap:
                st.max_abs_gap = ag
            self._gap_since = now

    def _refresh_gap(self) -> None:
        g = self.gap_base()
        self._gap_abs = g if g >= 0 else -g

    def finish_stats(self, now_ms: int) -> None:
        """Close the time-weighted statistics at the end of a run."""
        self._settle_gap(now_ms)

    # -- account events

    def _on_balances(self, ev: BalanceUpdate) -> list[Command]:
        self.stats.events += 1
        for b in ev.balances:
            if not _finite_dec(b.free, b.locked) or b.free < 0 or b.locked < 0:
                return self._bad(f"balance update with {b.coin} {b.free}/{b.locked} skipped")
        if ev.ts_ms > self.now_ms:
            self.now_ms = ev.ts_ms
        self._settle_gap(self.now_ms)
        ins = self.instrument
        for b in ev.balances:
            if b.coin == ins.base:
                self.spot_free, self.spot_locked = float(b.free), float(b.locked)
                self.spot_total = self.spot_free + self.spot_locked
            elif b.coin == ins.quote:
                self.quote_free, self.quote_locked = float(b.free), float(b.locked)
        if not self.balances_ok:
            self._log("info", f"balances confirmed: {self.spot_total:.6f} {ins.base}, {self.quote_free + self.quote_locked:,.2f} {ins.quote}")
        self.balances_ok = True
        self._dirty = True
        self._refresh_gap()
        return EMPTY

    def _on_position(self, ev: PositionUpdate) -> list[Command]:
        self.stats.events += 1
        pp = ev.position
        if not _finite_dec(pp.size, pp.entry_price, pp.mark_price, pp.unrealised_pnl) or pp.entry_price < 0:
            return self._bad(f"position update size {pp.size} entry {pp.entry_price} skipped")
        p = ev.position
        if ev.ts_ms > self.now_ms:
            self.now_ms = ev.ts_ms
        self._settle_gap(self.now_ms)
        self.futures_size = float(p.size)
        self.futures_entry = float(p.entry_price)
        if p.mark_price:
            self.mark_price = float(p.mark_price)
        self.liq_price = float(p.liq_price) if p.liq_price else None
        self._recompute_upnl(float(p.unrealised_pnl) if p.unrealised_pnl else None)
        self._dirty = True
        self._refresh_gap()
        return EMPTY

    def _recompute_upnl(self, given: float | None = None) -> None:
        if given is not None:
            self.upnl = given
            return
        mark = self.mark_price or self.price
        if mark and self.futures_entry:
            self.upnl = self.futures_size * (mark - self.futures_entry)

    def _on_order(self, ts_ms: int, order: Order) -> list[Command]:
        self.stats.events += 1
        if order.leg is not Leg.SPOT or not order.client_id.startswith(self.client_prefix):
            return EMPTY
        if ts_ms > self.now_ms:
            self.now_ms = ts_ms
        if order.client_id in self._terminal:
            return EMPTY  # a repeated or late update of an order that already finished
        prev = self.our_orders.get(order.client_id)
        if prev is None and order.client_id not in self._order_filled:
            # ours by prefix but not sent by this session (adopted at start-up, another
            # session's): what it filled before we saw it is already in the balances
            self._order_filled[order.client_id] = order.filled_qty
            self._bad(f"update for order {order.client_id} not sent by this session ({order.status.value}, "
                      f"filled {order.filled_qty}): tracked, its past fills left to the balance push")
        event = order.status.value
        if (prev is None or prev.status != order.status or prev.filled_qty != order.filled_qty
                or prev.order_id != order.order_id):
            self.rec.order(ts_ms, order, event)
        # apply the filled increment to our spot estimate now; the balance push confirms it
        before = self._order_filled.get(order.client_id, Decimal(0))
        if order.filled_qty > before:
            inc = float(order.filled_qty - before)
            self._settle_gap(self.now_ms)
            self.spot_total += inc if order.side is Side.BUY else -inc
            self._order_filled[order.client_id] = order.filled_qty
            self._dirty = True
            self._refresh_gap()
        if order.status.is_open:
            self.our_orders[order.client_id] = order
        else:
            self.our_orders.pop(order.client_id, None)
            self._order_filled.pop(order.client_id, None)
            self._terminal.add(order.client_id)
            self._terminal_order.append(order.client_id)
            if len(self._terminal_order) > 10_000:
                self._terminal.discard(self._terminal_order.popleft())
            if order.status is OrderStatus.REJECTED:
                self._log("warning", f"order {order.client_id} rejected: {order.reject_reason}")
        if self.exec is not None:
            cmds = self.exec.on_order(order, ts_ms, *self._touch())
            return self._after_exec_step(cmds)
        return EMPTY

    def _on_fill(self, fill: Fill) -> list[Command]:
        self.stats.events += 1
        if fill.ts_ms > self.now_ms:
            self.now_ms = fill.ts_ms
        if not _finite_dec(fill.price, fill.qty, fill.fee) or fill.price <= 0 or fill.qty <= 0 or fill.fee < 0:
            return self._bad(f"fill {fill.exec_id} with price {fill.price} qty {fill.qty} fee {fill.fee} skipped")
        if fill.exec_id in self._seen_exec_ids:
            self.duplicate_fills += 1  # a reconnect replay or REST backfill: counted, applied once
            return self._bad(f"duplicate fill {fill.exec_id} ignored (already applied)")
        self._seen_exec_ids.add(fill.exec_id)
        self._seen_exec_order.append(fill.exec_id)
        if len(self._seen_exec_order) > 50_000:
            self._seen_exec_ids.discard(self._seen_exec_order.popleft())
        self.rec.fill(fill)
        st = self.stats
        price = float(fill.price)
        qty = float(fill.qty)
        self._settle_gap(self.now_ms)
        if fill.leg is Leg.LINEAR:
            # grid / other futures fills: move the futures estimate and feed the anchors
            st.grid_fills += 1
            self.futures_size += qty if fill.side is Side.BUY else -qty
            self.recent.add(fill.ts_ms, fill.side, qty, price)
            self._dirty = True
            self._refresh_gap()
            return EMPTY
        ours = fill.client_id.startswith(self.client_prefix) if fill.client_id else False
        fee_quote = float(fill.fee) * (price if fill.fee_coin not in QUOTE_COINS else 1.0)
        if fill.fee_coin and fill.fee_coin not in QUOTE_COINS and fill.fee_coin == self.instrument.base:
            self.spot_total -= float(fill.fee)  # buy fee paid in base
        if not ours:
            # a spot fill of someone else's order (manual trading) changes the wallet too
            if fill.client_id == "" or not fill.client_id.startswith(self.client_prefix):
                self.spot_total += qty if fill.side is Side.BUY else -qty
            self.recent.add(fill.ts_ms, fill.side, qty, price)
            self._dirty = True
            self._refresh_gap()
            return EMPTY
        self._refresh_gap()
        st.fills += 1
        if fill.is_maker:
            st.maker_fills += 1
        else:
            st.taker_fills += 1
        st.volume_base += qty
        st.volume_quote += qty * price
        st.fees_quote += fee_quote
        self.risk.on_fill(fill.ts_ms, qty * price)
        self.recent.add(fill.ts_ms, fill.side, qty, price)
        self.recent_fills.appendleft(FillView(fill.ts_ms, fill.side, str(fill.price), str(fill.qty), str(fill.fee),
                                              fill.fee_coin, fill.is_maker, fill.source))
        self._log("trade", f"fill {fill.side.value} {fill.qty} @ {fill.price} ({'maker' if fill.is_maker else 'taker'}, fee {fill.fee} {fill.fee_coin})")
        if self.exec is not None:
            ref = self.exec.plan.decision.price
            if ref:
                # cost vs the price at decision: positive = paid up (buy above / sell below)
                st.slippage_quote += (price - ref) * qty if fill.side is Side.BUY else (ref - price) * qty
            self.exec.on_fill(fill.qty, fill.price, fee_quote, fill.is_maker)
        self._dirty = True
        return EMPTY

    # ------------------------------------------------------------------ deciding

    def _view(self) -> PolicyView:
        return PolicyView(ts_ms=self.now_ms, price=self.price or 0.0, spot_base=self.spot_base,
                          futures_base=self.futures_size, trend=self.trend.view(),
                          buy_vwap=self.recent.buy_vwap, sell_vwap=self.recent.sell_vwap)

    def evaluate(self) -> list[Command]:
        """Run the policy now and act on its decision according to the mode."""
        now = self.now_ms
        self._dirty = False
        self._next_eval_ms = now + self._eval_every_ms
        if self.price is None:
            return EMPTY
        price = self.price
        self._hold_lo = price - price * 1e-4
        self._hold_hi = price + price * 1e-4
        self.recent.advance(now)
        decision, self.memory = self.policy.decide(self._view(), self.memory)
        self.decision = decision
        if decision.unit == "usdt":
            self._hard_for_stats = decision.base_hard / decision.price if decision.price else float("inf")
        else:
            self._hard_for_stats = decision.base_hard
        if not decision.trades:
            if self.proposal is not None and not self.proposal.forced:
                self.rec.proposal(now, self.proposal, "withdrawn: no longer needed")
                self._log("info", f"proposal #{self.proposal.proposal_id} withdrawn: {decision.reason}")
                self.proposal = None
            self._record_decision(decision, "held")
            return EMPTY
        if now < self._suppress_until_ms:
            return EMPTY
        if self.mode is Mode.WATCH:
            self._record_decision(decision, "watch: shown only")
            return EMPTY
        refusal = self._gate(now)
        if refusal:
            self.stats.refused += 1
            self._record_decision(decision, f"refused: {refusal}")
            return EMPTY
        if self.mode is Mode.SEMI:
            self._propose(decision)
            return EMPTY
        if self.skip_next:
            self.skip_next = False
            self._log("info", f"skipped as asked: {decision.action.value} {decision.side.value if decision.side else ''}")
            self._record_decision(decision, "skipped by the user")
            self._suppress_until_ms = now + int(self.cfg.risk.cooldown_s * 1000)
            return EMPTY
        return self._start(decision, price_limit=None, path=self._path_of(decision), gate_passed=True)

    def _gate(self, now: int) -> str | None:
        why = self.risk.gate(now, last_market_ms=self.last_market_ms, connected=self.connected,
                             balances_ok=self.balances_ok)
        if why is None and self._awaiting_fresh_market:
            why = "waiting for fresh market data after the disconnect"
        return why

    def _path_of(self, d: Decision) -> str:
        if d.policy == "anchor":
            return "hard" if d.action is Action.FULL else "soft"
        return d.policy

    def _record_decision(self, d: Decision, outcome: str) -> None:
        key = (d.action, d.side, outcome.split(":")[0])
        if key != self._last_recorded:
            self._last_recorded = key
            self.rec.decision(d, self.mode.value, outcome)

    def _touch(self) -> tuple[float, float]:
        p = self.price or 0.0
        return (self.bid if self.bid is not None else p), (self.ask if self.ask is not None else p)

    def _price_limit(self, side: Side) -> Decimal:
        bid, ask = self._touch()
        cap = self.cfg.execution.slippage_cap_bps / 1e4
        raw = ask * (1 + cap) if side is Side.BUY else bid * (1 - cap)
        return self.instrument.round_price(raw, side, passive=True)

    def _maker_wait_s(self, d: Decision, path: str) -> float:
        ex = self.cfg.execution
        if path == "hard":
            return ex.hard_maker_wait_s
        return ex.max_chase_s

    # -- starting a rebalance

    def _start(self, d: Decision, *, price_limit: Decimal | None, path: str, forced: bool = False,
               gate_passed: bool = False) -> list[Command]:
        now = self.now_ms
        assert d.side is not None
        if self.our_orders:
            # an order of ours is still working (adopted after a restart, or a cancel in flight):
            # one live rebalance order at a time, so wait for it to finish or be cancelled (c)
            self._record_decision(d, "refused: an earlier order of ours is still working")
            return EMPTY
        sized = self.risk.size(now, d.qty_base, self.price or d.price)
        if sized.refused:
            self.stats.refused += 1
            self._log("warning", f"not sent: {sized.refused}")
            self._record_decision(d, f"refused: {sized.refused}")
            return EMPTY
        qty = self.instrument.round_qty(sized.qty)
        if sized.note:
            self._log("info", f"size {sized.note}")
        self._rebalance_seq += 1
        maker_first = d.maker_first and not d.take_now and not forced
        plan = ExecutionPlan(rebalance_id=self._rebalance_seq, side=d.side, qty=qty, decision=d,
                             maker_first=maker_first, taker_allowed=d.taker_allowed or forced,
                             maker_wait_s=self._maker_wait_s(d, path), price_limit=price_limit,
                             path="forced" if forced else path)
        self.exec = RebalanceExecution(plan, self.instrument, self.cfg.execution, self._order_prefix(),
                                       now, self.gap_base, size_cap=self.risk.max_qty_at)
        self.stats.decisions += 1
        self._record_decision(d, "executed" if not forced else "forced")
        self._log("trade", f"rebalance #{plan.rebalance_id}: {d.side.lower()} {qty} ({plan.path}, "
                           f"{'maker first' if maker_first else 'taker'}) — {d.reason}")
        cmds = self.exec.start(now, *self._touch())
        return self._after_exec_step(cmds, gate_passed=gate_passed)

    def _order_prefix(self) -> str:
        """Client ids are ``{prefix}{session}{rebalance}-{attempt}``: unique across restarts,
        stable across retries of one placement, and recognisable as ours by ``prefix``."""
        return f"{self.client_prefix}{self.session_tag}"

    def _drive_exec(self, now: int) -> list[Command]:
        ex = self.exec
        assert ex is not None
        cmds: list[Command] = []
        if ex.phase is Phase.MAKER and ex.plan.path == "soft" and ex.plan.taker_allowed:
            # the gap worsened past hard while we were resting a soft maker order: take now
            if self.decision is not None and self._dirty:
                d, self.memory = self.policy.decide(self._view(), self.memory)
                self.decision = d
                self._dirty = False
                if d.action is Action.FULL and d.side is ex.plan.side:
                    cmds = ex.escalate(now, *self._touch(), "gap worsened past hard")
                    return self._after_exec_step(cmds)
        cmds = ex.on_time(now, *self._touch())
        return self._after_exec_step(cmds) if cmds or ex.done else EMPTY

    def _after_exec_step(self, cmds: list[Command], *, gate_passed: bool = False) -> list[Command]:
        ex = self.exec
        out = self._screen(cmds, gate_passed=gate_passed)
        if ex is not None and ex.done:
            self._finish_exec(ex)
        return out

    def _finish_exec(self, ex: RebalanceExecution) -> None:
        now = self.now_ms
        self.exec = None
        filled = float(ex.filled)
        side = ex.plan.side
        self._log("trade" if filled else "info",
                  f"rebalance #{ex.plan.rebalance_id} done: {ex.outcome} (filled {ex.filled} of {ex.plan.qty}, "
                  f"{ex.chase_count} chases)")
        if filled > 0:
            self.stats.rebalances += 1
            if self._last_side_trade is not None:
                last_ts, last_side = self._last_side_trade
                if last_side is not side and now - last_ts < self.cfg.risk.hysteresis_window_s * 1000:
                    self.stats.flip_flops += 1
            self._last_side_trade = (now, side)
            self.memory = self.memory.after_trade(now, side)
            self.rec.rebalance_done(now, side, filled, ex.plan.path)
        else:
            # nothing filled: don't hammer — wait a cooldown before trying again
            self._suppress_until_ms = now + int(self.cfg.risk.cooldown_s * 1000)
        self._dirty = True

    def _screen(self, cmds: list[Command], *, gate_passed: bool = False) -> list[Command]:
        """The last check before anything leaves: mode, state, direction, one order at a time.
        ``gate_passed``: the caller ran the risk gate earlier in this same call, with nothing
        in between that could change its answer (it is not run twice on the live path)."""
        if not cmds:
            return EMPTY
        out: list[Command] = []
        now = self.now_ms
        for c in cmds:
            if type(c) is PlaceOrder:
                req = c.request
                refusal = None
                if self.mode is Mode.WATCH:
                    refusal = "watch mode"
                elif self.risk.state is not TradingState.ACTIVE:
                    refusal = f"trading {self.risk.state.value}"
                elif grows_gap(self.gap_base(), req.side, float(req.qty)):
                    self.stats.wrong_direction_orders += 1
                    refusal = "would grow the gap"
                elif not gate_passed:
                    refusal = self._gate(now)
                if refusal:
                    self._log("warning", f"order {req.client_id} not sent: {refusal}")
                    if self.exec is not None:
                        self.exec.on_rejected_send(req.client_id, refusal)
                    continue
                self.risk.on_order_sent(now)
                self.stats.orders += 1
                ex = self.exec
                live = ex.live if ex is not None and ex.live_request is req else None
                if live is None:
                    live = Order(client_id=req.client_id, order_id="", symbol=req.symbol, side=req.side, qty=req.qty,
                                 price=req.price, tif=req.tif, status=OrderStatus.NEW, created_ms=now, updated_ms=now)
                self.our_orders[req.client_id] = live  # immutable: the execution's own copy of this order
            out.append(c)
        return out

    # -- proposals (semi)

    def _propose(self, d: Decision, *, forced: bool = False) -> None:
        p = self.proposal
        if p is not None and not forced and p.side is d.side and p.decision.action is d.action:
            # same idea still pending: keep its id (the trader may be about to press a), refresh numbers
            self.proposal = replace(p, decision=d, qty=str(self.instrument.round_qty(self.risk.size(self.now_ms, d.qty_base, d.price).qty)))
            return
        self.proposal = self._make_proposal(d, forced=forced)
        if self.proposal is not None:
            self.stats.decisions += 1
            self._record_decision(d, "proposed")
            self._log("trade", f"PROPOSAL #{self.proposal.proposal_id}: {d.side.value} {self.proposal.qty} "
                               f"(limit {self.proposal.price_limit}) — press a to approve, s to skip")

    def _make_proposal(self, d: Decision, *, forced: bool) -> Proposal | None:
        if d.side is None:
            return None
        now = self.now_ms
        sized = self.risk.size(now, d.qty_base, d.price)
        qty = self.instrument.round_qty(sized.qty) if not sized.refused else Decimal(0)
        self._proposal_seq += 1
        taker = d.take_now or not d.maker_first or forced
        fee_rate = self.taker_fee_rate if taker else self.maker_fee_rate
        expires = None
        if d.action is Action.PARTIAL and not forced:
            expires = now + int(self.cfg.proposal_ttl_s * 1000)
        return Proposal(proposal_id=self._proposal_seq, decision=d, side=d.side, qty=str(qty),
                        price_limit=str(self._price_limit(d.side)), created_ms=now, expires_ms=expires,
                        expected_fee_quote=float(qty) * d.price * fee_rate,
                        net_after_base=self.net_base + d.side.sign * float(qty), forced=forced)

    # ------------------------------------------------------------------ the trader's commands

    def approve(self) -> list[Command]:
        p = self.proposal
        if self.mode is not Mode.SEMI or p is None:
            self._log("info", "nothing to approve" if p is None else f"approve refused in {self.mode.value} mode")
            return EMPTY
        refusal = self._gate(self.now_ms)
        if refusal:
            self._log("warning", f"approve refused: {refusal}")
            return EMPTY
        if self.exec is not None:
            self._log("info", "a rebalance is already working")
            return EMPTY
        if p.forced:
            self.proposal = None
            self.rec.proposal(self.now_ms, p, "approved")
            return self._start(p.decision, price_limit=Decimal(p.price_limit), path="forced", forced=True)
        fresh, self.memory = self.policy.decide(self._view(), self.memory)
        self.decision = fresh
        limit = Decimal(p.price_limit)
        bid, ask = self._touch()
        beyond = (p.side is Side.BUY and ask > float(limit)) or (p.side is Side.SELL and bid < float(limit))
        if not fresh.trades or fresh.side is not p.side or beyond:
            why = "price moved past its limit" if beyond else (
                "no longer needed" if not fresh.trades else "side changed")
            self.rec.proposal(self.now_ms, p, f"stale: {why}")
            self._log("warning", f"proposal #{p.proposal_id} is stale ({why}): re-computed, nothing sent")
            self.proposal = None
            if fresh.trades:
                self._propose(fresh)
            return EMPTY
        self.proposal = None
        self.rec.proposal(self.now_ms, p, "approved")
        # the approval covers this trade's chase and escalation up to the limit it showed,
        # and never more than the size it showed
        d = replace(fresh, qty_base=min(fresh.qty_base, float(p.qty)))
        return self._start(d, price_limit=limit, path=self._path_of(d))

    def skip(self) -> list[Command]:
        if self.mode is Mode.SEMI and self.proposal is not None:
            p = self.proposal
            self.proposal = None
            self.rec.proposal(self.now_ms, p, "skipped")
            self._log("info", f"proposal #{p.proposal_id} skipped")
            self._suppress_until_ms = self.now_ms + int(self.cfg.risk.cooldown_s * 1000)
        elif self.mode is Mode.AUTO:
            self.skip_next = True
            self._log("info", "the next decision will be skipped")
        else:
            self._log("info", "nothing to skip")
        return EMPTY

    def preview_force(self) -> Proposal | None:
        """What ``force`` would send now: the full gap, taker, within the slippage cap."""
        if self.price is None:
            return None
        g = self.gap_base()
        qty = self.instrument.round_qty(abs(g))
        if qty <= 0:
            return None
        side = Side.SELL if g > 0 else Side.BUY
        d = Decision(ts_ms=self.now_ms, policy=self.policy_name, action=Action.FULL, side=side, qty_base=abs(g),
                     gap_base=g, net_base=self.net_base, target_base=self.target_base(), price=self.price,
                     maker_first=False, taker_allowed=True, take_now=True,
                     reason=f"forced by the user: {side.value.lower()} the full gap {abs(g):.6f} now (taker, capped)")
        return self._make_proposal(d, forced=True)

    def force(self, confirmed: Proposal | None = None) -> list[Command]:
        """Trade the full gap now, taker. ``confirmed``: the preview the trader confirmed — the
        order then never exceeds the size or the price limit it showed, and nothing is sent
        when the gap has changed side since."""
        if self.mode is Mode.WATCH:
            self._log("warning", "force refused: watch mode never trades")
            return EMPTY
        if self.exec is not None:
            self._log("info", "a rebalance is already working")
            return EMPTY
        refusal = self._gate(self.now_ms)
        if refusal:
            self._log("warning", f"force refused: {refusal}")
            return EMPTY
        p = self.preview_force()
        if p is None:
            self._log("info", "force: already at target")
            return EMPTY
        self.proposal = None
        d, limit = p.decision, Decimal(p.price_limit)
        if confirmed is not None:
            if confirmed.side is not p.side:
                self._log("warning", f"force not sent: the gap changed side since you confirmed "
                                     f"({confirmed.side.lower()} → {p.side.lower()}); press f again")
                return EMPTY
            shown = Decimal(confirmed.price_limit)
            limit = min(limit, shown) if p.side is Side.BUY else max(limit, shown)
            d = replace(d, qty_base=min(d.qty_base, float(confirmed.qty)))
        return self._start(d, price_limit=limit, path="forced", forced=True)

    def toggle_pause(self) -> list[Command]:
        if self.risk.state is TradingState.PAUSED:
            self.risk.resume()
            self._state_changed("resumed by the user")
            return EMPTY
        if self.risk.state is TradingState.ACTIVE:
            self.risk.pause()
            self._state_changed("paused by the user")
            return self._abort_exec("paused")
        self._log("warning", "HALTED: re-arm first (r)")
        return EMPTY

    def set_mode(self, mode: Mode) -> list[Command]:
        if mode is self.mode:
            return EMPTY
        old = self.mode
        self.mode = mode
        self.rec.state(self.now_ms, "mode", mode.value, f"from {old.value}")
        self._log("info", f"mode {old.value.upper()} → {mode.value.upper()}")
        out: list[Command] = []
        if mode is not Mode.SEMI and self.proposal is not None:
            self.rec.proposal(self.now_ms, self.proposal, f"dropped: mode {mode.value}")
            self.proposal = None
        if mode is Mode.WATCH:
            out.extend(self._abort_exec("watch mode"))
        self._dirty = True
        return out

    def kill(self, reason: str = "kill switch pressed by the user") -> list[Command]:
        self.risk.halt(reason)
        self._state_changed(reason)
        if self.proposal is not None:
            self.rec.proposal(self.now_ms, self.proposal, "dropped: halted")
            self.proposal = None
        if self.exec is not None:
            ex = self.exec
            ex.abort(self.now_ms, "halted")
            self.exec = None
            self._log("warning", f"rebalance #{ex.plan.rebalance_id} aborted: halted")
        return [CancelAllOurs(reason=reason)]

    def rearm(self) -> list[Command]:
        if self.risk.state is not TradingState.HALTED:
            return EMPTY
        self.risk.rearm()
        self._state_changed("re-armed by the user")
        self._dirty = True
        return EMPTY

    def cancel_pending(self) -> list[Command]:
        if self.exec is None:
            if self.our_orders:
                return [CancelOrder(cid, reason="cancelled by the user") for cid in list(self.our_orders)]
            self._log("info", "no pending order")
            return EMPTY
        return self._abort_exec("cancelled by the user")

    def _abort_exec(self, why: str) -> list[Command]:
        if self.exec is None:
            return EMPTY
        cmds = self.exec.abort(self.now_ms, why)
        return self._after_exec_step(cmds)

    def _state_changed(self, reason: str) -> None:
        st = self.risk.state
        self.rec.state(self.now_ms, "trading_state", st.value, reason)
        self._log("warning" if st is not TradingState.ACTIVE else "info", f"{st.value}: {reason}")

    def _check_kill_switch(self) -> list[Command]:
        if self.price is None or not self.balances_ok:
            return EMPTY
        why = self.risk.on_equity(self.equity_quote())
        if why:
            return self.kill(why)
        return EMPTY

    # ------------------------------------------------------------------ the cockpit's view

    def snapshot(self, now_ms: int | None = None, *, connected: bool | None = None) -> CockpitState:
        now = self.now_ms if now_ms is None else now_ms
        d = self.decision
        ex = self.exec
        orders = tuple(
            OrderView(client_id=o.client_id, side=o.side, tif=o.tif.value, price=str(o.price), qty=str(o.qty),
                      filled=str(o.filled_qty), status=o.status.value,
                      age_s=max(0.0, (now - o.created_ms) / 1000.0) if o.created_ms else 0.0,
                      chase_count=ex.chase_count if ex is not None else 0)
            for o in self.our_orders.values())
        prog = ex.escalation_progress(now) if ex is not None else None
        mark = self.mark_price or self.price
        liq_dist = None
        if self.liq_price and mark:
            liq_dist = abs(self.liq_price - mark) / mark * 100.0
        chart = list(self.trend.chart)[-120:]
        cooldown_left = 0.0
        if self.memory.last_trade_ms is not None:
            cooldown_left = max(0.0, self.cfg.risk.cooldown_s - (now - self.memory.last_trade_ms) / 1000.0)
        hyst = ""
        if self._last_side_trade is not None:
            ts, side = self._last_side_trade
            left = self.cfg.risk.hysteresis_window_s - (now - ts) / 1000.0
            if left > 0:
                hyst = f"{side.opposite.value} needs soft×{1 + self.cfg.risk.hysteresis_pct:.2f} for {left:.0f}s"
        tv = self.trend.view()
        fee_q = net_after = None
        if d is not None and d.trades and d.side is not None:
            taker = d.take_now or not d.maker_first
            fee_q = d.qty_base * d.price * (self.taker_fee_rate if taker else self.maker_fee_rate)
            net_after = self.net_base + d.side.sign * d.qty_base
        age = (now - self.last_market_ms) if self.last_market_ms is not None else None
        eq = self.equity_quote()
        return CockpitState(
            ts_ms=now, symbol=self.symbol, venue=self.venue_name, policy=self.policy_name, mode=self.mode,
            base_coin=self.instrument.base, quote_coin=self.instrument.quote,
            decision_fee_quote=fee_q, decision_net_after_base=net_after,
            trading_state=self.risk.state, halt_reason=self.risk.halt_reason,
            connected=self.connected if connected is None else connected,
            price=self.price, bid=self.bid if self.has_quotes else None, ask=self.ask if self.has_quotes else None,
            spot_free=self.spot_free, spot_locked=self.spot_locked, spot_reserve=self.cfg.spot_reserve_base,
            quote_free=self.quote_free, quote_locked=self.quote_locked,
            futures_size=self.futures_size, futures_entry=self.futures_entry, mark_price=mark,
            unrealised_pnl=self.upnl, liq_price=self.liq_price, liq_distance_pct=liq_dist,
            funding_rate=self.funding_rate, next_funding_ms=self.next_funding_ms,
            net_base=self.net_base, net_quote=self.net_base * (self.price or 0.0), target_base=self.target_base(),
            gap_base=self.gap_base(),
            effective_soft=d.effective_soft if d else 0.0, effective_hard=d.effective_hard if d else 0.0,
            threshold_unit=d.unit if d else "base", gap_in_unit=d.gap if d else 0.0,
            gap_history=tuple(self.gap_history), decision=d,
            ema_fast=tv.ema_fast, ema_slow=tv.ema_slow, slope_pct=tv.slope_pct, trend_state=tv.state if tv.ready else "warming up",
            trend_signal=tv.signal,
            price_history=tuple(c[1] for c in chart), ema_fast_history=tuple(c[2] for c in chart),
            ema_slow_history=tuple(c[3] for c in chart),
            buy_vwap=self.recent.buy_vwap, sell_vwap=self.recent.sell_vwap,
            anchor_window_s=self.cfg.anchor.anchor.window_s, buy_fill_count=self.recent.buy_count,
            sell_fill_count=self.recent.sell_count, fill_imbalance_base=self.recent.imbalance_base,
            orders=orders, escalation_progress=prog[0] if prog else None,
            escalation_left_s=prog[1] if prog else None,
            recent_fills=tuple(self.recent_fills), proposal=self.proposal, cooldown_left_s=cooldown_left,
            hysteresis_note=hyst, equity_quote=eq, peak_equity_quote=self.risk.peak_equity or eq,
            drawdown_pct=self.risk.drawdown_pct, log=tuple(self.log),
            feed=FeedHealth(data_age_ms=age, rtt_p50_ms=self.feed_rtt_p50, rtt_p99_ms=self.feed_rtt_p99,
                            rate_budget_left=self.rate_budget_left, events_total=self.stats.events,
                            bad_messages=self.bad_messages,
                            stale_after_ms=int(self.cfg.risk.stale_after_s * 1000)),
        )
