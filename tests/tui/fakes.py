"""A scripted engine for the cockpit tests: implements ``EngineHost`` and ``EngineControl``.

It holds a ``CockpitState``, records every control call by name (``calls``), lets a test push a
new state, make ``run()`` raise, and make ``shutdown`` record its flag. It contains no trading
logic at all: pressing a key can only ever show up here as a recorded call.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import replace
from typing import Any

from textual.worker import WorkerCancelled, WorkerFailed

from core.model import Action, BiasParts, Decision, GateResult, Mode, Side, TradingState
from core.outcome import Outcome
from core.state import CockpitState, FeedHealth, FillView, LogLine, OrderView, Proposal, SymbolRow

T0 = 1_717_243_200_000  # 2024-06-01 12:00:00 UTC
NOW = T0 + 3_723_000  # 13:02:03 UTC


def _history(n: int, base: float, amp: float, drift: float, phase: float = 0.0) -> tuple[float, ...]:
    return tuple(
        round(base + drift * i + amp * math.sin(i / 9.0 + phase) + 0.35 * amp * math.sin(i / 2.3 + phase), 2)
        for i in range(n)
    )


def _ema(values: tuple[float, ...], span: int) -> tuple[float, ...]:
    k = 2 / (span + 1)
    out, e = [], values[0]
    for v in values:
        e = e + k * (v - e)
        out.append(round(e, 2))
    return tuple(out)


def make_decision(*, action: Action = Action.PARTIAL, side: Side | None = Side.SELL, gate_passed: bool = True) -> Decision:
    return Decision(
        ts_ms=NOW,
        policy="anchor",
        action=action,
        side=side,
        qty_base=0.012 if action is not Action.HOLD else 0.0,
        gap_base=0.0153,
        net_base=0.1233,
        target_base=0.108,
        price=60_010.5,
        unit="base",
        gap=0.0153,
        base_soft=0.01,
        base_hard=0.025,
        effective_soft=0.0105,
        effective_hard=0.02625,
        bias=BiasParts(trend_signal=0.6, ema_bias=0.3, anchor_bias=-0.2, combined=0.05, scale=1.05),
        gate=GateResult(
            applies=True,
            passed=gate_passed,
            reference_vwap=59_940.0,
            required_edge_bps=8.0,
            actual_edge_bps=11.8 if gate_passed else 3.1,
            limit_price=59_987.95,
            waited_s=12.0,
            max_wait_s=60.0,
            reason="sell above buy VWAP by the soft edge" if gate_passed else "waiting for edge",
        ),
        trend_state="up",
        maker_first=True,
        taker_allowed=True,
        take_now=False,
        reason="gap +0.0153 past soft 0.0105; anchor gate passed",
    )


def make_state(**overrides: Any) -> CockpitState:
    """A realistic snapshot: BTCUSDT near 60,000, long drift past soft, a SELL decision."""
    prices = _history(240, 59_700.0, 90.0, 1.3)
    gaps = tuple(round(0.004 + 0.0115 * (i / 59) + 0.002 * math.sin(i / 4), 5) for i in range(60))
    decision = make_decision()
    state = CockpitState(
        ts_ms=NOW,
        symbol="BTCUSDT",
        venue="paper",
        policy="anchor",
        mode=Mode.SEMI,
        trading_state=TradingState.ACTIVE,
        halt_reason="",
        connected=True,
        price=60_010.5,
        bid=60_010.4,
        ask=60_010.6,
        spot_free=0.150213,
        spot_locked=0.012,
        spot_reserve=0.05,
        quote_free=12_345.67,
        quote_locked=0.0,
        futures_size=-0.039,
        futures_entry=59_800.0,
        mark_price=60_012.1,
        unrealised_pnl=-8.27,
        liq_price=71_230.0,
        liq_distance_pct=18.69,
        funding_rate=0.0001,
        next_funding_ms=T0 + 4 * 3_600_000,
        net_base=0.1233,
        net_quote=7_399.3,
        target_base=0.108,
        gap_base=0.0153,
        effective_soft=0.0105,
        effective_hard=0.02625,
        threshold_unit="base",
        gap_in_unit=0.0153,
        gap_history=gaps,
        decision=decision,
        ema_fast=59_984.2,
        ema_slow=59_902.7,
        slope_pct=0.012,
        trend_state="up",
        trend_signal=0.6,
        price_history=prices,
        ema_fast_history=_ema(prices, 12),
        ema_slow_history=_ema(prices, 48),
        buy_vwap=59_940.0,
        sell_vwap=60_105.0,
        anchor_window_s=900.0,
        buy_fill_count=3,
        sell_fill_count=2,
        fill_imbalance_base=0.0042,
        orders=(
            OrderView("rb-0007", Side.SELL, "PostOnly", "60012.50", "0.012000", "0.004000", "PartiallyFilled", 4.2, 1),
            OrderView("rb-0008", Side.SELL, "PostOnly", "60015.00", "0.003000", "0", "New", 1.1, 0),
        ),
        escalation_progress=0.35,
        escalation_left_s=7.8,
        recent_fills=(
            FillView(NOW - 4_000, Side.SELL, "60012.50", "0.004000", "0.02400500", "USDT", True, "rebalancer"),
            FillView(NOW - 95_000, Side.BUY, "59931.20", "0.002000", "0.00000200", "BTC", True, "grid"),
            FillView(NOW - 310_000, Side.BUY, "59948.00", "0.001500", "0.09", "USDT", False, "grid"),
        ),
        proposal=None,
        cooldown_left_s=0.0,
        hysteresis_note="re-arms below 0.5×soft",
        equity_quote=25_010.42,
        peak_equity_quote=25_310.0,
        drawdown_pct=1.18,
        log=(
            LogLine(NOW - 60_000, "info", "engine started on paper venue"),
            LogLine(NOW - 30_000, "info", "decision: hold, gap +0.0081 under soft 0.0105"),
            LogLine(NOW - 9_000, "trade", "SELL 0.012000 @ 60012.50 PostOnly rb-0007"),
            LogLine(NOW - 4_000, "trade", "fill SELL 0.004000 @ 60012.50 maker fee 0.024 USDT"),
            LogLine(NOW - 2_000, "warning", "[/] weird exchange text [bold"),
            LogLine(NOW - 1_000, "error", "retCode=10006 msg=[rate limit] too many visits [/red]"),
        ),
        feed=FeedHealth(
            data_age_ms=180, rtt_p50_ms=42.0, rtt_p99_ms=188.0, rate_budget_left=117, events_total=48_213, bad_messages=2
        ),
    )
    return replace(state, **overrides) if overrides else state


def make_proposal(pid: int = 42, *, forced: bool = False, expires_in_s: float | None = 23.0) -> Proposal:
    return Proposal(
        proposal_id=pid,
        decision=make_decision(),
        side=Side.SELL,
        qty="0.015000",
        price_limit="59987.95",
        created_ms=NOW - 7_000,
        expires_ms=None if expires_in_s is None else NOW + int(expires_in_s * 1000),
        expected_fee_quote=0.9,
        net_after_base=0.1083,
        forced=forced,
    )


class FakeControl:
    """Records every call; does nothing else (the engine is the one that would refuse). Each
    command answers ``outcomes[name]`` if the test scripted one, else "<name>: fake outcome"."""

    def __init__(self, host: "FakeEngine") -> None:
        self._host = host
        self.calls: list[str] = host.calls
        self.args: list[tuple[str, tuple[Any, ...]]] = []
        self.preview: Proposal | Outcome = make_proposal(99, forced=True, expires_in_s=None)
        self.raise_on: set[str] = set()
        self.outcomes: dict[str, Outcome] = {}

    def _record(self, name: str, *args: Any) -> Outcome:
        self.calls.append(name)
        self.args.append((name, args))
        if name in self.raise_on:
            raise RuntimeError(f"{name} exploded: [/] bad [bold")
        return self.outcomes.get(name) or Outcome(name, f"{name}: fake outcome", True)

    def approve(self, proposal_id: int | None = None) -> Outcome:
        return self._record("approve", proposal_id)

    def skip(self, proposal_id: int | None = None) -> Outcome:
        return self._record("skip", proposal_id)

    def preview_force(self) -> Proposal | Outcome:
        self._record("preview_force")
        return self.preview

    def force(self, confirmed: Proposal | None = None) -> Outcome:
        return self._record("force", confirmed)

    def toggle_pause(self) -> Outcome:
        return self._record("toggle_pause")

    def set_mode(self, mode: Mode) -> Outcome:
        return self._record("set_mode", mode)

    def kill(self) -> Outcome:
        return self._record("kill")

    def rearm(self) -> Outcome:
        return self._record("rearm")

    def cancel_pending(self) -> Outcome:
        return self._record("cancel_pending")


class FakeEngine:
    """``EngineHost`` for tests. ``push(state)`` replaces the snapshot the UI polls."""

    def __init__(self, state: CockpitState | None = None, *, run_error: BaseException | None = None, run_delay: float = 0.0) -> None:
        self.calls: list[str] = []
        self.control = FakeControl(self)
        self.state = state if state is not None else make_state()
        self.run_error = run_error
        self.run_delay = run_delay
        self.latest_calls = 0
        self.shutdown_calls: list[bool] = []
        self.shutdown_reasons: list[tuple[str, bool]] = []
        self.engine_errors: list[str] = []
        self.started = False
        self._stop = asyncio.Event()
        self._poll_waiters: list[tuple[int, asyncio.Future[None]]] = []

    # EngineHost
    def latest(self) -> CockpitState:
        self._polled()
        return self.state

    def _polled(self) -> None:
        """Count one UI poll and wake the ``polls()`` waiters it completes."""
        self.latest_calls += 1
        if self._poll_waiters:
            due = [w for w in self._poll_waiters if w[0] <= self.latest_calls]
            self._poll_waiters = [w for w in self._poll_waiters if w[0] > self.latest_calls]
            for _, fut in due:
                if not fut.done():
                    fut.set_result(None)

    async def polls(self, n: int = 1, timeout: float = 15.0) -> None:
        """Wait for the UI's next ``n`` polls, however slowly its timer runs on a loaded machine.

        ``poll`` renders what ``latest`` returned before this waiter resumes, so the screen
        already shows the polled snapshot when it returns.
        """
        fut = asyncio.get_running_loop().create_future()
        self._poll_waiters.append((self.latest_calls + n, fut))
        await asyncio.wait_for(fut, timeout)

    async def run(self) -> None:
        self.started = True
        if self.run_delay:
            await asyncio.sleep(self.run_delay)
        if self.run_error is not None:
            raise self.run_error
        await self._stop.wait()

    async def shutdown(self, cancel_orders: bool, reason: str = "clean quit", *, crashed: bool = False) -> None:
        self.shutdown_calls.append(cancel_orders)
        self.shutdown_reasons.append((reason, crashed))
        self._stop.set()

    def on_engine_error(self, message: str) -> None:
        self.engine_errors.append(message)
        self.state = replace(self.state, mode=Mode.WATCH, ts_ms=self.state.ts_ms + 1)

    # test helpers
    def push(self, state: CockpitState | None = None, **changes: Any) -> CockpitState:
        base = state if state is not None else self.state
        if changes:
            changes.setdefault("ts_ms", base.ts_ms + 200)
            base = replace(base, **changes)
        self.state = base
        return base

    @property
    def control_calls(self) -> list[str]:
        """Control calls other than the read-only preview."""
        return [c for c in self.calls if c != "preview_force"]


async def until(pilot, predicate, seconds: float = 15.0) -> None:
    """Let the app run until ``predicate()`` holds: for state that has no event to await
    (a worker's outcome shown on screen, a fake exchange's ledger). Bounded, so it fails."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while not predicate():
        if loop.time() > end:
            raise AssertionError(f"condition not met within {seconds:.0f}s")
        await pilot.pause(0.02)


async def workers_done(app, *, group: str | None = None, node: Any = None) -> None:
    """Await the app's workers of ``group`` / on ``node`` (an event, not a sleep); a worker's
    own failure or cancellation is the test's to check, not this helper's."""
    for worker in [w for w in app.workers if (group is None or w.group == group) and (node is None or w.node is node)]:
        try:
            await worker.wait()
        except (WorkerCancelled, WorkerFailed):
            pass


def screen_text(app) -> str:
    """The plain text of what the app shows now (the active screen over the ones below)."""
    import io

    from rich.console import Console

    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True, color_system="truecolor",
                      record=True, legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()


async def shown_text(size: tuple[int, int], state: CockpitState, keys=()) -> str:
    """The screen's text for ``state`` at ``size`` (a fake engine; ``keys`` pressed first)."""
    from tui.app import CockpitApp

    engine = FakeEngine(state)
    app = CockpitApp(engine, bell=False)
    async with app.run_test(size=size) as pilot:
        await engine.polls(2)
        for key in keys:
            await pilot.press(key)
        await pilot.pause()
        await engine.polls(1)
        return screen_text(app)


# ---------------------------------------------------------------- several symbols (issue 18)
SYMBOLS5 = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT")
_SCALE = {"BTCUSDT": 1.0, "ETHUSDT": 1 / 20, "SOLUSDT": 1 / 400, "XRPUSDT": 1 / 100_000, "DOGEUSDT": 1 / 400_000}


def make_symbol_state(symbol: str, **overrides: Any) -> CockpitState:
    """``make_state`` for another symbol: its base coin, a price of its size, amounts in its units."""
    k = _SCALE.get(symbol, 1 / 1000)
    base = symbol.removesuffix("USDT")
    price = round(60_010.5 * k, 6)
    state = make_state(
        symbol=symbol, base_coin=base, price=price, bid=price, ask=price,
        net_base=round(0.1233 / k, 4), target_base=round(0.108 / k, 4), gap_base=round(0.0153 / k, 4),
        effective_soft=round(0.0105 / k, 4), effective_hard=round(0.02625 / k, 4), gap_in_unit=round(0.0153 / k, 4),
        log=(LogLine(NOW - 60_000, "info", f"engine started on paper venue ({symbol})"),
             LogLine(NOW - 9_000, "trade", f"SELL {round(0.012 / k, 4)} @ {price} PostOnly {base.lower()}-0007")),
        orders=(OrderView(f"{base.lower()}-0007", Side.SELL, "PostOnly", str(price), str(round(0.012 / k, 4)), "0", "New",
                          4.2, 1),),
    )
    return replace(state, **overrides) if overrides else state


class FakePortfolio(FakeEngine):
    """``EngineHost`` and ``PortfolioControl`` over one ``FakeEngine`` per symbol, as the design
    says (core.portfolio): ``latest()`` is the selected symbol's snapshot with every symbol's
    ``SymbolRow``, the oldest waiting proposal (its ``symbol`` set) and how many wait; approve /
    skip answer that oldest proposal; kill halts every symbol; kill_symbol / pause_symbol one;
    the other commands act on the selected symbol. Calls are recorded as "ETHUSDT:approve"."""

    def __init__(self, states: dict[str, CockpitState] | None = None, **kw: Any) -> None:
        states = states if states is not None else {s: make_symbol_state(s) for s in SYMBOLS5}
        self.engines = {sym: FakeEngine(st) for sym, st in states.items()}
        self.symbols = tuple(states)
        self.selected = self.symbols[0]
        super().__init__(next(iter(states.values())), **kw)
        self.control = self  # type: ignore[assignment]
        self._composed: tuple[tuple, CockpitState] | None = None

    # EngineHost
    def latest(self) -> CockpitState:
        self._polled()
        states = tuple(e.state for e in self.engines.values())
        key = (self.selected, tuple(id(s) for s in states))
        if self._composed is None or self._composed[0] != key:  # same objects: the same snapshot object
            self._composed = (key, self._compose())
        return self._composed[1]

    def _compose(self) -> CockpitState:
        waiting = self.waiting()
        rows = tuple(SymbolRow.of(e.state, selected=(sym == self.selected)) for sym, e in self.engines.items())
        return replace(self.engines[self.selected].state, overview=rows, proposal=waiting[0] if waiting else None,
                       proposals_queued=len(waiting))

    def waiting(self) -> list[Proposal]:
        """Every symbol's non-forced proposal, oldest first, each labelled with its symbol."""
        out = [replace(e.state.proposal, symbol=sym) for sym, e in self.engines.items()
               if e.state.proposal is not None and not e.state.proposal.forced]
        return sorted(out, key=lambda p: p.created_ms)

    @property
    def state(self) -> CockpitState:  # FakeEngine's tests read and push ``state``: the selected symbol's
        return self.engines[self.selected].state

    @state.setter
    def state(self, value: CockpitState) -> None:
        if hasattr(self, "engines"):
            self.engines[self.selected].state = value

    def push_symbol(self, symbol: str, **changes: Any) -> CockpitState:
        return self.engines[symbol].push(**changes)

    # PortfolioControl
    def _on(self, symbol: str, name: str, *args: Any) -> Outcome:
        self.calls.append(f"{symbol}:{name}")
        out = getattr(self.engines[symbol].control, name)(*args)
        return Outcome(out.command, f"{symbol} {out.text}", out.acted, out.level)

    def select(self, symbol: str) -> None:
        if symbol not in self.engines:
            raise KeyError(symbol)
        self.calls.append(f"select:{symbol}")
        self.selected = symbol

    def approve(self, proposal_id: int | None = None) -> Outcome:
        waiting = self.waiting()
        if not waiting:
            self.calls.append("approve")
            return Outcome("approve", "nothing to approve", False)
        return self._on(waiting[0].symbol, "approve", proposal_id)

    def skip(self, proposal_id: int | None = None) -> Outcome:
        waiting = self.waiting()
        return self._on(waiting[0].symbol if waiting else self.selected, "skip", proposal_id)

    def kill(self) -> Outcome:
        self.calls.append("kill")
        for e in self.engines.values():
            e.control.kill()
        return Outcome("kill", "killed every symbol", True)

    def kill_symbol(self, symbol: str) -> Outcome:
        return self._on(symbol, "kill")

    def pause_symbol(self, symbol: str) -> Outcome:
        return self._on(symbol, "toggle_pause")

    def preview_force(self) -> Proposal | Outcome:
        self.calls.append(f"{self.selected}:preview_force")
        return self.engines[self.selected].control.preview_force()

    def force(self, confirmed: Proposal | None = None) -> Outcome:
        return self._on(self.selected, "force", confirmed)

    def toggle_pause(self) -> Outcome:
        return self._on(self.selected, "toggle_pause")

    def set_mode(self, mode: Mode) -> Outcome:
        return self._on(self.selected, "set_mode", mode)

    def rearm(self) -> Outcome:
        return self._on(self.selected, "rearm")

    def cancel_pending(self) -> Outcome:
        return self._on(self.selected, "cancel_pending")

    @property
    def control_calls(self) -> list[str]:
        return [c for c in self.calls if not c.endswith("preview_force")]
