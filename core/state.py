"""What the cockpit shows: one immutable snapshot of the engine, published at a bounded rate.

The UI renders these and nothing else; it never computes trading logic. Everything a pane
needs is precomputed here (ages, distances, progress), so rendering is a pure function of
the snapshot.
"""

from __future__ import annotations

from dataclasses import field
from typing import Protocol

from core.execution_choice import CostEstimate
from core.model import Decision, Mode, Side, TradingState
from core.outcome import Outcome
from core.values import value_type


@value_type
class OrderView:
    client_id: str
    side: Side
    tif: str
    price: str
    qty: str
    filled: str
    status: str
    age_s: float
    chase_count: int = 0
    at_gate: bool = False  # rests at the anchor gate's price (``execution.rest_at_gate``): it does not chase


@value_type
class FillView:
    ts_ms: int
    side: Side
    price: str
    qty: str
    fee: str
    fee_coin: str
    is_maker: bool
    source: str


@value_type
class LogLine:
    ts_ms: int
    level: str  # "info" | "trade" | "warning" | "error"
    text: str  # raw text: the UI must escape it (exchange messages may hold "[/]")


NOTHING_SHOWN = 0  # ``approve(NOTHING_SHOWN)``: the card showed no proposal (ids start at 1)


@value_type
class Proposal:
    """A decision waiting for the trader's approval (semi mode) or a forced rebalance preview.
    Never changed once shown: when the engine's view moves past ``rebalancer.proposals`` a new
    one with a new ``proposal_id`` replaces it (``qty`` 0 is never shown)."""

    proposal_id: int
    decision: Decision
    side: Side
    qty: str
    price_limit: str
    created_ms: int
    expires_ms: int | None
    expected_fee_quote: float
    net_after_base: float
    forced: bool = False
    cost: CostEstimate | None = None  # execution.style auto: take vs rest as estimated when drafted; approval follows it
    symbol: str = ""  # several symbols in one cockpit: whose proposal this is (one queue for all)


@value_type
class CostView:
    """This session's hedge cost so far (``core.costs``): bps of the arrival notional, None
    before the first fill; the maker markout 60 s after (+ = the mid moved against us)."""

    fills: int = 0
    cost_bps: float | None = None
    fee_bps: float | None = None
    spread_bps: float | None = None
    drift_bps: float | None = None
    markout_bps: float | None = None


@value_type
class FeedHealth:
    data_age_ms: int | None = None
    rtt_p50_ms: float | None = None
    rtt_p99_ms: float | None = None
    rate_budget_left: int | None = None
    events_total: int = 0
    bad_messages: int = 0
    stale_after_ms: int | None = None
    stalls: int | None = None  # streams replaced because they went silent (None: no streams)
    reconnects: int | None = None
    alerts_dropped: int | None = None  # alerts a service could not take (None: no alerts configured)
    speed: float = 1.0  # market seconds per wall second (paper speed; 1 live): countdowns show wall time


@value_type
class SymbolRow:
    """One symbol's line on the overview when one cockpit runs several symbols (issue 18):
    enough to see which symbol needs the trader without switching to it."""

    symbol: str
    base_coin: str
    price: float | None
    net_base: float
    gap_base: float
    effective_soft: float
    effective_hard: float
    trading_state: TradingState
    mode: Mode
    working_order: str = ""  # "buy 0.0100 @ 60,000.0", empty when none works
    last_action: str = ""  # the latest trade-level log line, as the Log page says it
    cost_bps: float | None = None  # this session's hedge cost (``CostView``), None before a fill
    fills: int = 0
    proposal_id: int | None = None  # a proposal waits for the trader on this symbol
    selected: bool = False  # the symbol the other panes show

    @classmethod
    def of(cls, state: "CockpitState", *, selected: bool = False) -> "SymbolRow":
        working = next((o for o in state.orders if o.status in ("New", "PartiallyFilled", "sending")), None)
        order = f"{working.side.value.lower()} {working.qty} @ {working.price}" if working else ""
        last = next((line.text for line in reversed(state.log) if line.level == "trade"), "")
        return cls(symbol=state.symbol, base_coin=state.base_coin, price=state.price, net_base=state.net_base,
                   gap_base=state.gap_base, effective_soft=state.effective_soft, effective_hard=state.effective_hard,
                   trading_state=state.trading_state, mode=state.mode, working_order=order, last_action=last,
                   cost_bps=state.cost.cost_bps, fills=state.cost.fills,
                   proposal_id=state.proposal.proposal_id if state.proposal else None, selected=selected)


@value_type
class CockpitState:
    ts_ms: int = 0
    symbol: str = "BTCUSDT"
    venue: str = "paper"
    policy: str = "anchor"
    base_coin: str = "BTC"
    quote_coin: str = "USDT"
    engine_error: str | None = None
    mode: Mode = Mode.WATCH
    trading_state: TradingState = TradingState.ACTIVE
    halt_reason: str = ""
    connected: bool = False
    # market
    price: float | None = None
    bid: float | None = None
    ask: float | None = None
    # spot leg
    spot_free: float = 0.0
    spot_locked: float = 0.0
    spot_reserve: float = 0.0
    quote_free: float = 0.0
    quote_locked: float = 0.0
    # futures leg
    futures_size: float = 0.0
    futures_entry: float = 0.0
    mark_price: float | None = None
    unrealised_pnl: float = 0.0
    liq_price: float | None = None
    liq_distance_pct: float | None = None
    funding_rate: float | None = None
    next_funding_ms: int | None = None
    # net delta
    net_base: float = 0.0
    net_quote: float = 0.0
    target_base: float = 0.0
    gap_base: float = 0.0
    effective_soft: float = 0.0
    effective_hard: float = 0.0
    threshold_unit: str = "base"
    gap_in_unit: float = 0.0
    gap_history: tuple[float, ...] = ()
    decision: Decision | None = None
    decision_fee_quote: float | None = None  # expected fee if the current decision trades
    decision_net_after_base: float | None = None  # net delta once it has traded
    decision_cost: CostEstimate | None = None  # execution.style auto: take vs rest estimate and the choice
    maker_fee_rate: float | None = None  # the rates applied (the venue's, or the paper config's)
    taker_fee_rate: float | None = None
    # trend
    ema_fast: float | None = None
    ema_slow: float | None = None
    slope_pct: float | None = None
    trend_state: str = "flat"
    trend_signal: float = 0.0
    price_history: tuple[float, ...] = ()
    ema_fast_history: tuple[float, ...] = ()
    ema_slow_history: tuple[float, ...] = ()
    # anchor
    buy_vwap: float | None = None
    sell_vwap: float | None = None
    anchor_window_s: float = 0.0
    buy_fill_count: int = 0
    sell_fill_count: int = 0
    fill_imbalance_base: float = 0.0
    # orders and fills
    orders: tuple[OrderView, ...] = ()
    escalation_progress: float | None = None  # 0..1 toward taker escalation, None if no chase
    escalation_left_s: float | None = None
    recent_fills: tuple[FillView, ...] = ()
    cost: CostView = field(default_factory=CostView)
    proposal: Proposal | None = None
    cooldown_left_s: float = 0.0
    hysteresis_note: str = ""
    # risk
    equity_quote: float = 0.0
    peak_equity_quote: float = 0.0
    drawdown_pct: float = 0.0
    # log and feed
    log: tuple[LogLine, ...] = field(default_factory=tuple)
    feed: FeedHealth = field(default_factory=FeedHealth)
    # several symbols (issue 18): every symbol's row, the selected one's snapshot above; () for one symbol
    overview: tuple[SymbolRow, ...] = ()
    proposals_queued: int = 0  # proposals waiting on all symbols, ``proposal`` the oldest (its ``symbol`` says whose)
    proposal_clock_ms: int | None = None  # the market clock of the proposal's own symbol (None: this snapshot's)

    @property
    def proposal_left_s(self) -> float | None:
        """Wall-clock seconds the trader has left to answer the proposal (None: it never expires).
        Its expiry is in market time, which paper at ``feed.speed`` 10 runs ten times faster, and
        on its own symbol's clock: with several symbols the shown one's may be behind or ahead."""
        p = self.proposal
        if p is None or p.expires_ms is None:
            return None
        now = self.ts_ms if self.proposal_clock_ms is None else self.proposal_clock_ms
        return max(0.0, (p.expires_ms - now) / 1000 / (self.feed.speed or 1.0))


class EngineControl(Protocol):
    """What the cockpit may ask of the engine. Every method is safe in every mode: the engine
    refuses what the mode does not allow. Each returns the command's ``Outcome``: what it did
    or why it did nothing, in the words the Log and the journal also keep."""

    def approve(self, proposal_id: int | None = None) -> Outcome:
        """Send exactly the proposal shown, or nothing (the outcome says why). The cockpit names
        the one its card showed (``NOTHING_SHOWN`` for none): a proposal drawn after the card,
        or one that replaced it, is never sent on that key. None: whichever is pending."""

    def skip(self, proposal_id: int | None = None) -> Outcome:
        """Semi: drop the proposal shown (named as for ``approve``); auto: skip the next decision."""

    def preview_force(self) -> Proposal | Outcome:
        """What ``force`` would send now (side, size, price limit) for the trader to confirm, or
        the outcome saying why there is nothing to confirm (watch mode, halted, at target)."""

    def force(self, confirmed: Proposal | None = None) -> Outcome:
        """Send the full-gap taker trade; bounded by ``confirmed`` (the preview the trader saw)."""

    def toggle_pause(self) -> Outcome: ...

    def set_mode(self, mode: Mode) -> Outcome: ...

    def kill(self) -> Outcome:
        """Cancel our orders and halt; only the user re-arms."""

    def rearm(self) -> Outcome: ...

    def cancel_pending(self) -> Outcome: ...


class PortfolioControl(EngineControl, Protocol):
    """Several symbols in one cockpit (``core.portfolio``): ``approve`` / ``skip`` answer the
    oldest proposal of any symbol (one queue; the id they name is that symbol's), ``kill`` halts
    every symbol (the shared kill switch); the other commands act on the selected symbol."""

    symbols: tuple[str, ...]
    selected: str

    def select(self, symbol: str) -> None:
        """The symbol the panes show (``latest()`` is its snapshot with every symbol's row)."""

    def kill_symbol(self, symbol: str) -> Outcome:
        """Cancel this symbol's orders and halt it; the others keep trading."""

    def pause_symbol(self, symbol: str) -> Outcome: ...


class EngineHost(Protocol):
    """How the cockpit hosts an engine: run it as a worker, poll its latest snapshot (conflated:
    the UI redraws at its own bounded rate), send commands through ``control``."""

    control: EngineControl

    def latest(self) -> CockpitState: ...

    async def run(self) -> None:
        """Run until ``shutdown``; raises on an engine error (the UI shows it and stays up)."""

    async def shutdown(self, cancel_orders: bool, reason: str = "clean quit", *, crashed: bool = False) -> None:
        """Stop trading, optionally cancel our open orders, record why (``reason``; a crash as
        such), flush the journal."""

    def on_engine_error(self, message: str) -> None:
        """The host's worker died: drop to watch and record why (the UI calls this)."""
