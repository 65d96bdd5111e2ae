"""Several symbols in one process (``symbols:``): one session per symbol, one host for the cockpit.

Each symbol runs exactly today's single-symbol engine with its own journal (named for the
symbol) and its own single-instance lock; nothing about one symbol's trading depends on
another's. What is shared is the trader's view and the account: one queue of proposals (the
oldest is answered first, whichever symbol it is of), one kill for everything, and the
**account kill switch** — ``rebalancer.risk.max_drawdown_pct`` / ``max_drawdown_quote`` of
the shared (top-level) block, applied to the equity summed over the symbols; a symbol's own
values (its entry may override them) keep guarding that symbol alone.

``Portfolio`` implements ``core.state.EngineHost`` and ``core.state.PortfolioControl``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace

from core.alerts.setup import account_sender
from core.config import AppConfig, RiskConfig
from core.engine import Engine
from core.model import Mode, TradingState
from core.outcome import Outcome
from core.record_lines import labelled
from core.risk import RiskManager
from core.session import Environment, Session, build_bybit_sessions, build_session
from core.state import CockpitState, Proposal, SymbolRow


class AccountKill:
    """The kill switch on the account's summed equity: the drawdown rule of ``core.risk`` on
    the sum (peak to trough), so one symbol's loss hidden by another's gain does not trip it
    and a loss spread thin over all of them does."""

    def __init__(self, risk: RiskConfig) -> None:
        from core.config import ExecutionConfig

        self.risk = RiskManager(risk, ExecutionConfig())
        self.equity: float | None = None

    def on_equities(self, equities: Sequence[float | None]) -> str | None:
        """The halt reason when the summed equity's drawdown reaches the limit (None: keep
        trading, or not every symbol has an equity yet)."""
        if not equities or any(e is None for e in equities):
            return None
        self.equity = total = float(sum(equities))  # type: ignore[arg-type]
        why = self.risk.on_equity(total)
        if why is None:
            return None
        why = f"account {why} over {len(equities)} symbols"
        self.risk.halt(why)
        return why

    @property
    def tripped(self) -> bool:
        return self.risk.state is TradingState.HALTED

    def rearm(self) -> None:
        """The peak restarts from now (as a symbol's re-arm does)."""
        self.risk.rearm()


class Portfolio:
    """One host for several symbols' engines (``core.state.EngineHost`` + ``PortfolioControl``)."""

    def __init__(self, sessions: Sequence[Session], account_risk: RiskConfig, *, watch_every_s: float = 0.25) -> None:
        if not sessions:
            raise ValueError("a portfolio needs at least one session")
        self.sessions: dict[str, Session] = {s.config.symbol: s for s in sessions}
        self.symbols: tuple[str, ...] = tuple(self.sessions)
        self.selected: str = self.symbols[0]
        self.control = self
        self.account = AccountKill(account_risk)
        self.watch_every_s = watch_every_s
        self.error: str | None = None
        self._seen: dict[tuple[str, int], int] = {}  # (symbol, proposal number) -> when first queued
        self._seq = 0
        self._stop = asyncio.Event()
        self._failed: str | None = None  # the symbol whose engine raised
        self._cache: tuple[tuple, CockpitState] | None = None
        self._watch: asyncio.Future | None = None  # the account kill switch's watch
        self._equity: dict[str, float] = {}  # each symbol's last known equity (quote)

    # ------------------------------------------------------------------ parts

    def engine(self, symbol: str) -> Engine:
        return self.sessions[symbol].engine

    @property
    def engines(self) -> tuple[Engine, ...]:
        return tuple(s.engine for s in self.sessions.values())

    @property
    def on_alarm(self):
        return self.engine(self.symbols[0]).on_alarm

    @on_alarm.setter
    def on_alarm(self, said) -> None:
        """Loud messages (headless: stderr) from every symbol, each naming its symbol."""
        for sym, e in zip(self.symbols, self.engines):
            e.on_alarm = None if said is None else (lambda text, sym=sym: said(f"{sym}: {text}"))

    def select(self, symbol: str) -> None:
        if symbol not in self.sessions:
            raise ValueError(f"{symbol} is not one of {', '.join(self.symbols)}")
        self.selected = symbol

    # ------------------------------------------------------------------ the proposal queue

    def queue(self) -> list[tuple[str, Proposal]]:
        """Every waiting proposal, oldest first (the order they were first seen; market time
        breaks a tie), each with its symbol set."""
        live: list[tuple[int, int, str, Proposal]] = []
        keys = set()
        for sym, s in self.sessions.items():
            p = s.engine.reb.operator.proposal
            if p is None:
                continue
            key = (sym, p.proposal_id)
            keys.add(key)
            if key not in self._seen:
                self._seq += 1
                self._seen[key] = self._seq
            live.append((self._seen[key], p.created_ms, sym, p))
        for key in [k for k in self._seen if k not in keys]:
            del self._seen[key]
        live.sort(key=lambda t: (t[0], t[1]))
        return [(sym, replace(p, symbol=sym)) for _, _, sym, p in live]

    # ------------------------------------------------------------------ EngineHost

    def latest(self) -> CockpitState:
        snaps = tuple(e.latest() for e in self.engines)
        waiting = self.queue()
        key = (self.selected, tuple((s, p.proposal_id) for s, p in waiting), self.error)
        cached = self._cache
        if cached is not None and cached[0][1:] == key and all(a is b for a, b in zip(cached[0][0], snaps)):
            return cached[1]  # nothing moved: the very same snapshot (the cockpit skips its redraw)
        rows = tuple(SymbolRow.of(s, selected=sym == self.selected) for sym, s in zip(self.symbols, snaps))
        shown = snaps[self.symbols.index(self.selected)]
        owner = snaps[self.symbols.index(waiting[0][0])] if waiting else shown
        state = replace(shown, overview=rows, proposal=waiting[0][1] if waiting else None,
                        proposals_queued=len(waiting), proposal_clock_ms=owner.ts_ms)
        if self.error is not None and state.engine_error is None:
            state = replace(state, engine_error=self.error)
        self._cache = ((snaps, *key), state)
        return state

    async def run(self) -> None:
        """Every engine at once, and the account kill switch watched; raises the first engine
        error (the others keep trading, still under the account kill switch, until shutdown)."""
        tasks = {asyncio.ensure_future(e.run()): sym for sym, e in zip(self.symbols, self.engines)}
        if self._watch is None:
            self._watch = asyncio.ensure_future(self._watch_account())
        pending = set(tasks)
        try:
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for t in done:
                    if not t.cancelled() and t.exception() is not None:
                        self._failed = tasks[t]
                        raise t.exception()  # type: ignore[misc]
        finally:
            if not pending:
                self._stop_watch()

    def _stop_watch(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None

    async def _watch_account(self) -> None:
        while not self._stop.is_set():
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=self.watch_every_s)
            except TimeoutError:
                pass
            if not self._stop.is_set():
                self.check_account()

    def check_account(self) -> str | None:
        """Sum the symbols' equity; past the account drawdown limit, halt every symbol (the
        reason names the account). Returns the reason when it tripped now. A symbol whose
        equity is unknown for a moment (its feed, or its engine, is down) counts at its last
        known equity; before every symbol has had one, the sum waits."""
        for sym, e in zip(self.symbols, self.engines):
            r = e.reb
            if r.price is not None and r.book.balances_ok:
                self._equity[sym] = r.book.equity_quote(r.price)
        why = self.account.on_equities([self._equity.get(sym) for sym in self.symbols])
        if why is not None:
            for e in self.engines:
                e.kill(why)
        return why

    async def shutdown(self, cancel_orders: bool, reason: str = "clean quit", *, crashed: bool = False) -> None:
        self._stop.set()
        self._stop_watch()
        await asyncio.gather(*(e.shutdown(cancel_orders, reason, crashed=crashed) for e in self.engines),
                             return_exceptions=True)

    def on_engine_error(self, message: str) -> None:
        """The engine that raised drops to watch (all of them when it is not known which)."""
        self.error = message
        failed = [self.engine(self._failed)] if self._failed else list(self.engines)
        for e in failed:
            e.on_engine_error(message)

    # ------------------------------------------------------------------ PortfolioControl

    def _said(self, symbol: str, outcome: Outcome) -> Outcome:
        return replace(outcome, text=f"{symbol}: {outcome.text}")

    def _answer_oldest(self, command: str, proposal_id: int | None = None) -> Outcome:
        waiting = self.queue()
        sym = waiting[0][0] if waiting else self.selected
        e = self.engine(sym)
        return self._said(sym, e.approve(proposal_id) if command == "approve" else e.skip(proposal_id))

    def approve(self, proposal_id: int | None = None) -> Outcome:
        """The oldest proposal of any symbol (no proposal anywhere: the selected symbol answers
        why); ``proposal_id``, when given, must be that one's. Ids count per symbol: the cockpit
        checks the card's symbol against the queue's head first (``CockpitScreen._still_shown``)."""
        return self._answer_oldest("approve", proposal_id)

    def skip(self, proposal_id: int | None = None) -> Outcome:
        return self._answer_oldest("skip", proposal_id)

    def preview_force(self) -> Proposal | Outcome:
        sym = self.selected
        got = self.engine(sym).preview_force()
        return replace(got, symbol=sym) if isinstance(got, Proposal) else self._said(sym, got)

    def force(self, confirmed: Proposal | None = None) -> Outcome:
        """On the symbol of the preview confirmed (the selection may have moved since)."""
        sym = confirmed.symbol if confirmed is not None and confirmed.symbol in self.sessions else self.selected
        return self._said(sym, self.engine(sym).force(confirmed))

    def toggle_pause(self) -> Outcome:
        return self.pause_symbol(self.selected)

    def set_mode(self, mode: Mode) -> Outcome:
        return self._said(self.selected, self.engine(self.selected).set_mode(mode))

    def kill(self) -> Outcome:
        """Every symbol: cancel our orders and HALT."""
        outcomes = [e.kill() for e in self.engines]
        return Outcome("kill", f"HALTED every symbol ({', '.join(self.symbols)}): kill switch pressed by the user; "
                               "cancelling our orders", any(o.acted for o in outcomes), "warning",
                       tuple(c for o in outcomes for c in o.commands))

    def rearm(self) -> Outcome:
        """The selected symbol; a tripped account kill switch restarts its peak from now."""
        out = self.engine(self.selected).rearm()
        if out.acted and self.account.tripped:
            self.account.rearm()
        return self._said(self.selected, out)

    def cancel_pending(self) -> Outcome:
        return self._said(self.selected, self.engine(self.selected).cancel_pending())

    def kill_symbol(self, symbol: str) -> Outcome:
        return self._said(symbol, self.engine(symbol).kill())

    def pause_symbol(self, symbol: str) -> Outcome:
        """Pause (or resume) one symbol; the others trade on."""
        return self._said(symbol, self.engine(symbol).toggle_pause())


def build_portfolio(cfg: AppConfig, env: Environment) -> Portfolio:
    """A session per symbol of ``cfg`` (``symbols:``, or its one symbol), in one ``Portfolio``.
    Each session's log lines name its symbol when there are several."""
    configs = cfg.per_symbol()
    several = len(configs) > 1
    if several and env.journal is not None:
        raise ValueError("one open journal cannot take several symbols: give a data_dir instead")
    if several and cfg.venue != "paper":
        return Portfolio(bybit_sessions(cfg, configs, env), cfg.rebalancer.risk)
    sessions: list[Session] = []
    sender = account_sender(cfg) if several else None  # one rate limit per service for the account
    try:
        for one in configs:
            tap = labelled(env.record_tap, one.symbol) if several else env.record_tap
            sessions.append(build_session(one, replace(env, record_tap=tap, alert_sender=sender)))
    except BaseException:
        for s in sessions:
            s.release()
            if s.journal is not None:
                s.journal.close()
            if s.engine.alerts is not None:
                s.engine.alerts.close()
        raise
    finally:
        if sender is not None:
            sender.close()  # each symbol's alerts hold it now
    return Portfolio(sessions, cfg.rebalancer.risk)


def bybit_sessions(cfg: AppConfig, configs: Sequence[AppConfig], env: Environment) -> list[Session]:
    """THE place several symbols on a Bybit venue are wired: one shared connection hub
    (``core.session.build_bybit_sessions``: one socket per category with every symbol's
    topics, one private socket, one rate budget fair between the symbols) handing out a
    session per symbol."""
    return build_bybit_sessions(configs, env)


__all__ = ["AccountKill", "Portfolio", "build_portfolio", "bybit_sessions"]
