"""The orchestrator: venue events in, decisions and venue commands out, in one of three modes.

The same ``Rebalancer`` runs live, on paper and in replay: it is synchronous and pure (time
comes from event timestamps; I/O is the caller's), so a replay is deterministic and the live
shell only moves events and commands between it and a venue. It keeps the market (touch and
clock) and when to decide; its parts keep the rest: the ``AccountBook`` and the
``Bookkeeper`` who books into it, ``OurOrders``, the policy and ``SureHold`` (when it need
not be asked), the ``Desk`` (one rebalance at a time, every order screened), the
``Operator`` (the trader's commands, semi-mode proposals), risk, trend, anchors, ``Stats``.

Safety is layered: the policy picks the side from the gap's sign; execution bounds every
size by the fresh gap; the risk manager gates and clips; and the desk checks every outgoing
order once more against the mode, the trading state and the direction of the gap.
"""

from __future__ import annotations

from collections import deque

from core.account import AccountBook
from core.bookkeeper import Bookkeeper
from core.costs import CostBook
from core.config import RebalancerConfig
from core.desk import Desk
from core.events import (
    BalanceUpdate, Command, ConnectionChanged, FillEvent, OrderUpdate, PositionUpdate, Reconciled, Tick, VenueProblem,
)
from core.fills import RecentFills
from core.holds import SureHold
from core.model import (Decision, Instrument, Mode, Order, PerpTicker, Quote, Side, Trade, TradingState,
                        quote_left_behind)
from core.operator import Operator
from core.orders import OurOrders
from core.policy import PolicyMemory, PolicyView, make_policy
from core.recorder import Recorder, writes_snapshots, writes_ticks
from core.risk import RiskManager
from core.state import CockpitState, FillView, LogLine, Proposal
from core.stats import GapStats, Stats
from core.trader_commands import TraderCommands
from core.trend import TrendTracker
from core.view import NO_FEED, FeedInputs, cockpit_state

__all__ = ["MAX_PRICE", "Rebalancer", "Recorder"]

EMPTY: tuple = ()
MAX_PRICE = 1e12  # anything above is a broken number, not a price


class Rebalancer(TraderCommands):
    def __init__(self, cfg: RebalancerConfig, instrument: Instrument, *, symbol: str | None = None,
                 venue_name: str = "paper", mode: Mode = Mode.SEMI, policy_name: str | None = None,
                 client_prefix: str = "rb", maker_fee_rate: float = 0.001, taker_fee_rate: float = 0.001,
                 recorder: Recorder | None = None, log_size: int = 300) -> None:
        self.cfg = cfg
        self.instrument = instrument
        self.symbol = symbol or instrument.symbol
        self.venue_name = venue_name
        self.mode = mode
        self.policy = policy = make_policy(cfg, policy_name)
        self.policy_name = policy.name
        self.memory = PolicyMemory()
        self.client_prefix = client_prefix
        self.maker_fee_rate = maker_fee_rate
        self.taker_fee_rate = taker_fee_rate
        self.rec = recorder or Recorder()
        self.writes_ticks = writes_ticks(self.rec)
        self.writes_snapshots = writes_snapshots(self.rec)
        self.book = AccountBook(reserve_base=cfg.spot_reserve_base, fixed_target=policy.fixed_target,
                                target_at=policy.target_base)
        t = policy.trend_settings
        self.trend = TrendTracker(t.fast, t.slow, t.timeframe_ms, t.slope_lookback_s, t.threshold_pct)
        self.candles = self.trend.builder  # the forming candle: on_trade's common case, one hop nearer
        self.recent = RecentFills(int(policy.fills_window_s * 1000))
        self.holds = SureHold(policy, self.book, self.trend, self.recent)
        self.risk = RiskManager(cfg.risk, cfg.execution)
        self.orders = OurOrders(client_prefix)
        self.stats = Stats()
        self.costs = CostBook()  # the one hedge-cost definition (core.costs)
        self.gap_stats = GapStats(self.stats)  # its band is set by whoever reads it (replay)
        self.bookkeeper = Bookkeeper(self)
        self.operator = Operator(self)
        self.desk = Desk(self)
        self.exec = None  # the rebalance working now (the desk's RebalanceExecution), if any
        self.unpriced_fills: list[tuple] = []  # gate fills waiting for the market to cost them (Desk.price_gate_fills)
        self.connected = False
        self.venue_refusal: str | None = None  # the venue refuses order calls now (handed in by the engine)
        # market (the touch, and the clock: market time)
        self.price: float | None = None
        self.bid: float | None = None
        self.ask: float | None = None
        self.has_quotes = False
        self.quote_ms = 0  # when the last quote came (``touch`` stops trusting one the prints left long ago)
        self.last_market_ms: int | None = None
        self.awaiting_fresh_market = False  # set on a disconnect, cleared by the next trade/quote
        self.now_ms = 0
        self.decision: Decision | None = None
        self._last_recorded: tuple | None = None
        self.recent_fills: deque[FillView] = deque(maxlen=30)
        self.log: deque[LogLine] = deque(maxlen=log_size)
        self.gap_history: deque[float] = deque(maxlen=120)
        # the evaluation schedule (replay's bulk path reads and advances it): evaluate when
        # dirty, when due, or when price leaves (hold_lo, hold_hi): 1 bp around the last
        # evaluation, or with lazy_holds the policy's exact hold band (see _evaluate_or_skip)
        self.dirty = True
        self.eval_every_ms = int(cfg.evaluate_every_s * 1000)
        self.rest_at_gate = cfg.execution.rest_at_gate  # rest a maker order while the anchor gate waits (auto)
        self.next_eval_ms = 0
        self.hold_lo = 0.0
        self.hold_hi = 0.0
        self.next_sample_ms = 0
        self.next_snapshot_ms = 0
        self.sample_every_ms = 1000  # gap history and kill-switch check cadence (market time)
        self.lazy_holds = False  # replay: skip policy calls that can only answer HOLD
        self.quiet_ticks = 0
        self.bad_messages = 0
        self.duplicate_fills = 0
        self.session_tag = ""  # a live session sets a short unique tag (see Desk.order_prefix)
        self.market_speed = 1.0  # market seconds per wall second (paper may run faster): TTLs the trader waits out

    # ------------------------------------------------------------------ numbers at the last price

    def target_base(self) -> float:
        return self.book.target_base(self.price)

    def gap_base(self) -> float:
        return self.book.gap_base(self.price)

    @property
    def proposal(self) -> Proposal | None:
        return self.operator.proposal

    def set_rules(self, instrument: Instrument, maker_fee_rate: float, taker_fee_rate: float) -> None:
        """The venue's real trading rules and fee rates, read at start-up (before any order)."""
        self.instrument = instrument
        self.maker_fee_rate = maker_fee_rate
        self.taker_fee_rate = taker_fee_rate
        self.note("info", f"{self.venue_name} rules: tick {instrument.tick_size}, step {instrument.qty_step}, "
                          f"min {instrument.min_qty} / {instrument.min_notional} {instrument.quote}; "
                          f"fees maker {maker_fee_rate} taker {taker_fee_rate}")

    def note(self, level: str, text: str) -> None:
        """A line in the cockpit's log, stamped with market time: info, trade, warning, error."""
        self.log.append(LogLine(self.now_ms, level, text))

    def restore(self, *, last_rebalance: tuple[int, Side] | None = None,
                trading_state: tuple[str, str] | None = None, orders: tuple[Order, ...] = (),
                drawdown_peak: float | None = None) -> None:
        """Bring back cooldown/hysteresis memory, a kill-switch halt and the drawdown's peak
        from the journal (a restart must not grant a fresh drawdown allowance), and ``orders``
        of ours from before the restart (tracked as ours; see ``OurOrders.known``)."""
        for o in orders:
            self.orders.known(o)
        if drawdown_peak is not None:
            self.risk.peak_equity = drawdown_peak
            self.note("info", f"drawdown measured from the peak the journal saw: {drawdown_peak:,.2f}")
        if last_rebalance is not None:
            ts, side = last_rebalance
            self.memory = self.memory.after_trade(ts, side)
            self.desk.last_side_trade = (ts, side)
        if trading_state is not None:
            value, reason = trading_state
            if value == TradingState.HALTED.value:
                self.risk.halt(reason or "halted before the restart")
                self.note("warning", f"restored HALTED state: {reason}")
            elif value == TradingState.PAUSED.value:
                self.risk.pause()

    def warm_up(self, candles) -> None:
        self.trend.warm_up(candles)
        self.dirty = True

    # ------------------------------------------------------------------ events

    @property
    def changes(self) -> int:
        """Grows whenever something the cockpit shows may have changed (not on a quiet tick)."""
        return self.stats.events - self.quiet_ticks

    def on_event(self, ev) -> list[Command]:
        t = type(ev)
        if t is Trade:
            return self.on_trade(ev.ts_ms, ev.price, ev.qty, ev.taker_side is Side.BUY)
        if t is Quote:
            return self.on_quote(ev.ts_ms, ev.bid, ev.ask)
        if t is Tick:
            return self.on_tick(ev.ts_ms)
        if t is OrderUpdate:
            return self.bookkeeper.on_order(ev.ts_ms, ev.order)
        if t is FillEvent:
            return self.bookkeeper.on_fill(ev.fill)
        if t is BalanceUpdate:
            return self.bookkeeper.on_balances(ev)
        if t is PositionUpdate:
            return self.bookkeeper.on_position(ev)
        if t is PerpTicker:
            self.book.apply_ticker(ev.mark_price, ev.funding_rate, ev.next_funding_ms, self.price)
            return EMPTY
        if t is ConnectionChanged:
            self.stats.events += 1
            if ev.connected != self.connected:
                self.note("info" if ev.connected else "warning",
                          f"venue {'connected' if ev.connected else 'DISCONNECTED'} {ev.detail}".strip())
                self.rec.state(ev.ts_ms, "connection", "up" if ev.connected else "down", ev.detail)
            if self.connected and not ev.connected:
                # the touch seen before the outage may be old news once it ends: no order until a
                # trade or quote arrives after it (a reconnect's snapshot counts)
                self.awaiting_fresh_market = True
            self.connected = ev.connected
            return EMPTY
        if t is VenueProblem or t is Reconciled:
            return self.bookkeeper.on_venue_error(ev) if t is VenueProblem else self.bookkeeper.on_reconciled(ev)
        return self.bad(f"unexpected event {type(ev).__name__} skipped")

    def bad(self, why: str) -> list[Command]:
        """Bad input is skipped, counted and said — never acted on."""
        self.bad_messages += 1
        if self.bad_messages <= 100 or self.bad_messages % 1000 == 0:
            self.note("warning", f"bad data #{self.bad_messages}: {why}")
        return EMPTY

    def on_trade(self, ts_ms: int, price: float, qty: float, taker_is_buy: bool) -> list[Command]:
        """The hot path: O(1) and allocation-free while nothing needs deciding."""
        self.stats.events += 1
        if not (0.0 < price < MAX_PRICE and 0.0 <= qty < MAX_PRICE):  # also false for NaN
            return self.bad(f"trade with price {price!r} qty {qty!r} skipped")
        if ts_ms > self.now_ms:
            self.now_ms = ts_ms
        self.price = price
        self.last_market_ms = ts_ms
        self.awaiting_fresh_market = False
        if not self.has_quotes:
            self.bid = self.ask = price
        if self.unpriced_fills:
            self.desk.price_gate_fills()
        b = self.candles
        if ts_ms < b.end and not b.empty:  # inside the forming candle: the common case, inlined
            if price > b.high:
                b.high = price
            elif price < b.low:
                b.low = price
            b.close = price
            b.volume += qty
        elif self.trend.on_trade(ts_ms, price, qty):
            self.dirty = True
        if self.exec is not None:
            return self.desk.drive(ts_ms)
        if self.dirty or ts_ms >= self.next_eval_ms or not self.hold_lo < price < self.hold_hi:
            return self._evaluate_or_skip(ts_ms)
        return EMPTY

    def on_quote(self, ts_ms: int, bid: float, ask: float) -> list[Command]:
        self.stats.events += 1
        if not (0.0 < bid <= ask < MAX_PRICE):  # NaN, inf, non-positive or crossed
            return self.bad(f"quote bid {bid!r} ask {ask!r} skipped")
        if ts_ms > self.now_ms:
            self.now_ms = ts_ms
        self.has_quotes = True
        self.bid, self.ask = bid, ask
        self.quote_ms = ts_ms
        self.last_market_ms = ts_ms
        self.awaiting_fresh_market = False
        if self.price is None:
            self.price = (bid + ask) * 0.5
        if self.unpriced_fills:
            self.desk.price_gate_fills()
        if self.exec is not None:
            return self.desk.drive(ts_ms)
        return EMPTY

    def on_tick(self, ts_ms: int) -> list[Command]:
        self.stats.events += 1
        op = self.operator
        if self.exec is None and op.proposal is None and not self.dirty and ts_ms < self.next_eval_ms \
                and ts_ms < self.next_sample_ms:
            self.quiet_ticks += 1
        if ts_ms > self.now_ms:
            self.now_ms = ts_ms
        if self.trend.on_time(ts_ms):
            self.dirty = True
        self.recent.advance(ts_ms)
        self.rec.tick(ts_ms)
        if ts_ms >= self.costs.markouts.due_ms:
            self.bookkeeper.take_markouts(ts_ms)
        out: list[Command] = []
        if ts_ms >= self.next_sample_ms:
            out.extend(self._sample(ts_ms))
        op.expire(ts_ms)
        if self.exec is not None:
            out.extend(self.desk.drive(ts_ms))
            return out
        if self.price is not None and (self.dirty or ts_ms >= self.next_eval_ms):
            out.extend(self._evaluate_or_skip(ts_ms) if self.lazy_holds else self.evaluate())
        return out

    def _sample(self, ts_ms: int) -> list[Command]:
        """The sampled checks: gap history, the kill switch, a journal snapshot every 10 s."""
        every = self.sample_every_ms  # on the clock's grid, so a replay can find the samples
        self.next_sample_ms = ts_ms - ts_ms % every + every
        self.gap_history.append(self.gap_base())
        out = EMPTY
        if self.price is not None and self.book.balances_ok:
            why = self.risk.on_equity(self.book.equity_quote(self.price))
            if why:
                out = self.operator.halt(why)
            if ts_ms >= self.next_snapshot_ms:
                self.bookkeeper.snapshot_row(ts_ms)
        return out

    # ------------------------------------------------------------------ deciding

    def _evaluate_or_skip(self, now: int) -> list[Command]:
        """Run the policy unless its answer is surely HOLD (``SureHold``): live, while |gap| is
        under the smallest gap it could act on; replay (``lazy_holds``), while price stays in
        its hold band, until something it reads changes (account and candle close set
        ``dirty``; anchors expire on time)."""
        price = self.price
        if self.operator.proposal is not None or price is None:
            return self.evaluate()
        g = self.book.gap_base(price)
        if self.lazy_holds:
            self.recent.advance(now)
            band = self.holds.band(now, price, g, self.memory)
            if band is None:
                return self.evaluate()
            lo, hi, until = band
            anchors_move = self.recent.next_change_ms()
            self.sure_hold(lo, hi, until if until < anchors_move else anchors_move)
        elif self.holds.under_floor(g, price):
            self.sure_hold(price - price * 1e-4, price + price * 1e-4, now + self.eval_every_ms)
        else:
            return self.evaluate()
        return EMPTY

    def sure_hold(self, lo: float, hi: float, next_eval_ms: int) -> None:
        """HOLD without asking the policy, until price leaves (lo, hi) or ``next_eval_ms``."""
        self.hold_lo, self.hold_hi = lo, hi
        self.next_eval_ms = next_eval_ms
        self.dirty = False
        self.memory = self.policy.after_sure_hold(self.memory)

    def _view(self) -> PolicyView:
        book, recent = self.book, self.recent
        price = self.price or 0.0
        return PolicyView(ts_ms=self.now_ms, price=price, spot_base=book.spot_base,
                          futures_base=book.futures_size, trend=self.trend.view(),
                          buy_vwap=recent.buy_vwap, sell_vwap=recent.sell_vwap,
                          equity=book.equity_quote(price) if book.balances_ok else None)

    def decide_now(self) -> Decision:
        """Ask the policy now (its memory moves on)."""
        self.decision, self.memory = self.policy.decide(self._view(), self.memory)
        if self.decision.trades:
            self.costs.decided(self.now_ms, self.decision.price, *self.touch())
        return self.decision

    def evaluate(self) -> list[Command]:
        """Run the policy now and act on its decision according to the mode."""
        now = self.now_ms
        self.dirty = False
        self.next_eval_ms = now + self.eval_every_ms
        price = self.price
        if price is None:
            return EMPTY
        self.hold_lo = price - price * 1e-4
        self.hold_hi = price + price * 1e-4
        self.recent.advance(now)
        decision, self.memory = self.policy.decide(self._view(), self.memory)
        self.decision = decision
        if not decision.trades:
            self.operator.withdraw(decision.reason)
            self.record_decision(decision, "held")
            if self.rest_at_gate and decision.gate is not None:
                return self.desk.rest_at_gate(decision)
            return EMPTY
        self.costs.decided(now, decision.price, *self.touch())
        if now < self.desk.suppress_until_ms:
            return EMPTY
        return self.operator.act_on(decision)

    def record_decision(self, d: Decision, outcome: str, *, again: bool = False) -> bool:
        """A decision row, once per change of (action, side, outcome) — or ``again`` (a new
        proposal); says whether it was recorded."""
        key = (d.action, d.side, outcome.split(":")[0])
        if not again and key == self._last_recorded:
            return False
        self._last_recorded = key
        self.rec.decision(d, self.mode.value, outcome)
        return True

    def record_start(self, d: Decision, outcome: str, rebalance: str, arrival, qty, path: str) -> None:
        """The decision that starts a rebalance is always recorded (its orders link to it)."""
        self._last_recorded = (d.action, d.side, outcome)
        self.rec.rebalance_started(d, self.mode.value, outcome, rebalance=rebalance, arrival=arrival, qty=qty,
                                   path=path)

    def touch(self) -> tuple[float, float]:
        """The bid and ask to trade against: the last price on both sides before any quote, and
        after the quotes ended (a print over ``STALE_QUOTE_MS`` after the last quote, outside it)."""
        p = self.price or 0.0
        bid, ask = self.bid, self.ask
        if bid is None or ask is None:
            return (bid if bid is not None else p), (ask if ask is not None else p)
        if (self.has_quotes and self.price is not None and self.last_market_ms is not None
                and quote_left_behind(self.quote_ms, self.last_market_ms, bid, ask, p)):
            return p, p
        return bid, ask

    def snapshot(self, now_ms: int | None = None, *, connected: bool | None = None,
                 feed: FeedInputs = NO_FEED) -> CockpitState:
        """The cockpit's view now; ``feed``: what the host measured about the feed."""
        return cockpit_state(self, self.now_ms if now_ms is None else now_ms,
                             connected=self.connected if connected is None else connected, feed=feed)
