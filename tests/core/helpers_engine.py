"""Shared builders for the risk / execution / rebalancer / engine / replay tests.

- ``rcfg(**overrides)``: a validated ``RebalancerConfig`` built through ``tests.conftest.build_config``
  (the same factory the ``make_config`` fixture returns), with the test-friendly defaults
  below (bias off, no anchor edges) unless overridden.
- ``Harness``: a ``Rebalancer`` wired to a ``PaperExchange`` and pumped exactly like
  ``core/replay/run.py`` does (exchange events first, then the rebalancer's commands back to the
  exchange until quiet). It records every command sent and the most orders ever open at once.
- ``SpyRecorder``: a ``Recorder`` subclass that keeps every call (and can fire callbacks).
- ``replay_config_dict()``: a complete config (anchor policy, paper block with a grid) for
  replay runs and CLI config files, independent of the repository's ``config.yaml``.

Numbers used by the hand-computed tests (BTCUSDT spot): tick 0.01, qty step 0.000001,
min qty 0.000048, min order value 5 USDT.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from core.config import AppConfig, RebalancerConfig
from core.events import (
    BalanceUpdate, CancelAllOurs, CancelOrder, Command, ConnectionChanged, PlaceOrder, PositionUpdate,
)
from core.model import BTCUSDT_SPOT, Decision, Fill, Leg, Mode, Order, OrderRequest, Side
from core.rebalancer import Rebalancer, Recorder
from core.state import Proposal
from core.venues.paper_exchange import PaperExchange
from tests.conftest import ANCHOR_BLOCK, BASE_CONFIG, apply_overrides, build_config

D = Decimal
T0 = 1_700_000_000_000  # an arbitrary epoch-ms start, on a whole minute

# Test-friendly anchor settings: no bias scaling (strength 0) and no anchor edges, so the
# effective thresholds are exactly soft 0.004 / hard 0.012 and the gate never waits.
QUIET_ANCHOR = {
    "rebalancer__bias__strength": 0.0,
    "rebalancer__anchor__edge_bps_soft": 0,
    "rebalancer__anchor__edge_bps_hard": 0,
}


def app_config(**overrides: Any) -> AppConfig:
    """``build_config`` (what the ``make_config`` fixture returns) with ``QUIET_ANCHOR`` first."""
    merged = {**QUIET_ANCHOR, **overrides}
    return build_config(**merged)


def rcfg(**overrides: Any) -> RebalancerConfig:
    """The rebalancer block of ``app_config(...)``; keys without ``rebalancer__`` are prefixed."""
    fixed = {(k if k.startswith("rebalancer__") or k == "rebalancer" else f"rebalancer__{k}"): v
             for k, v in overrides.items()}
    return app_config(**fixed).rebalancer


def replay_config_dict(**overrides: Any) -> dict:
    """A full config for replays / CLI runs: anchor policy, auto mode, a paper account with a
    neutral grid (the thing that makes delta drift). Explicit values, no repository file."""
    data = copy.deepcopy(BASE_CONFIG)
    data["mode"] = "auto"
    data["rebalancer"] = copy.deepcopy(ANCHOR_BLOCK)
    data["rebalancer"]["execution"].update({"max_chase_s": 30, "chase_ticks": 2, "chase_interval_s": 2,
                                            "slippage_cap_bps": 10})
    data["rebalancer"]["risk"].update({"max_notional_per_trade": 30000, "max_notional_per_hour": 250000,
                                       "max_notional_per_day": 1000000, "max_orders_per_minute": 30,
                                       "stale_after_s": 120, "max_drawdown_pct": 50})
    data["paper"] = {"base_balance": 0.5, "quote_balance": 50000, "futures_size": -0.5,
                     "latency_ms": 0, "synthetic_spread_ticks": 1,
                     "grid": {"span_pct": 0.5, "levels": 60, "qty_per_level": 0.002, "mode": "neutral"}}
    data["journal"] = {"enabled": False}
    return apply_overrides(data, overrides)


# ---------------------------------------------------------------------------- recorder spy


class SpyRecorder(Recorder):
    """Keeps every call; ``on_order`` / ``on_fill`` / ``on_decision`` callbacks fire after."""

    def __init__(self) -> None:
        self.decisions: list[tuple[Decision, str, str]] = []
        self.proposals: list[tuple[int, Proposal, str]] = []
        self.orders: list[tuple[int, Order, str]] = []
        self.fills: list[Fill] = []
        self.states: list[tuple[int, str, str, str]] = []
        self.connections: list[tuple[int, str, str]] = []
        self.errors: list[tuple[int, str, int | None]] = []
        self.done: list[tuple[int, Side, float, str]] = []
        self.snapshots: list[int] = []
        self.on_order: Callable[[Order, str], None] | None = None
        self.on_fill: Callable[[Fill], None] | None = None

    def decision(self, decision, mode, outcome):
        self.decisions.append((decision, mode, outcome))

    def proposal(self, ts_ms, proposal, answer):
        self.proposals.append((ts_ms, proposal, answer))

    def order(self, ts_ms, order, event):
        self.orders.append((ts_ms, order, event))
        if self.on_order is not None:
            self.on_order(order, event)

    def fill(self, fill):
        self.fills.append(fill)
        if self.on_fill is not None:
            self.on_fill(fill)

    def state(self, ts_ms, kind, value, reason):
        if kind == "connection":  # the venue up / down (kept apart: the tests here count the others)
            self.connections.append((ts_ms, value, reason))
            return
        self.states.append((ts_ms, kind, value, reason))

    def error(self, ts_ms, message, code=None):
        self.errors.append((ts_ms, message, code))

    def rebalance_done(self, ts_ms, side, qty_base, path):
        self.done.append((ts_ms, side, qty_base, path))

    def snapshot(self, ts_ms, **kw):
        self.snapshots.append(ts_ms)

    def proposal_answers(self, *, shown: bool = False) -> list[str]:
        """The answers to proposals; ``shown``: with the rows written as each was shown."""
        return [a for _, _, a in self.proposals if shown or a != "shown"]

    def operator_rows(self) -> list[tuple[str, str]]:
        """(command, outcome text) of each operator command, in order."""
        return [(value, reason) for _, kind, value, reason in self.states if kind == "operator"]


# ---------------------------------------------------------------------------- harness


def initial_position_fill(ts: int, size: Decimal, price: Decimal) -> Fill:
    return Fill(ts_ms=ts, exec_id="initial-position", symbol="BTCUSDT",
                side=Side.BUY if size > 0 else Side.SELL, price=price, qty=abs(size), fee=D(0),
                fee_coin="USDT", is_maker=True, leg=Leg.LINEAR, source="initial")


class Harness:
    """A Rebalancer + PaperExchange pumped like ``core.replay.run_replay``.

    ``spot``/``usdt`` are the spot wallet, ``futures`` the signed linear position (opened at
    ``price``). Nothing happens until the first market event: call ``quote``/``trade``.
    """

    def __init__(self, cfg: RebalancerConfig, *, mode: Mode = Mode.AUTO, spot: str = "0.5",
                 usdt: str = "50000", futures: str = "-0.5", price: str = "60000", ts: int = T0,
                 recorder: Recorder | None = None, policy: str | None = None, lazy: bool = False,
                 latency_ms: int = 0) -> None:
        self.ex = PaperExchange(balances={"BTC": D(spot), "USDT": D(usdt)}, latency_ms=latency_ms)
        if D(futures) != 0:
            self.ex.apply_grid_fill(initial_position_fill(ts, D(futures), D(price)))
        self.reb = Rebalancer(cfg, BTCUSDT_SPOT, mode=mode, recorder=recorder, policy_name=policy)
        self.reb.lazy_holds = lazy
        self.sent: list[Command] = []
        self.max_open = 0
        self._grid_seq = 0
        self.pump([BalanceUpdate(ts, self.ex.balances()), PositionUpdate(ts, self.ex.position()),
                   ConnectionChanged(ts, True, "test")], ts)

    # -- plumbing (the replay's pump)

    def pump(self, events: Iterable[object], ts: int) -> None:
        pending = list(events)
        i = 0
        while i < len(pending):
            cmds = self.reb.on_event(pending[i])
            i += 1
            for c in cmds:
                pending.extend(self._submit_one(c, ts))

    def _submit_one(self, c: Command, ts: int) -> tuple:
        self.sent.append(c)
        out = self.ex.submit(c, ts)
        self.max_open = max(self.max_open, len(self.ex.open_orders()))
        return out

    def submit(self, cmds: Iterable[Command], ts: int | None = None) -> None:
        ts = self.reb.now_ms if ts is None else ts
        for c in cmds:
            self.pump(self._submit_one(c, ts), ts)

    # -- market and time

    def quote(self, ts: int, bid: float, ask: float, bid_qty: float = 1.0, ask_qty: float = 1.0) -> None:
        evs = self.ex.on_quote(ts, bid, bid_qty, ask, ask_qty)
        if evs:
            self.pump(evs, ts)
        self.submit(self.reb.on_quote(ts, bid, ask), ts)

    def trade(self, ts: int, price: float, qty: float = 0.001, buy: bool = True) -> None:
        evs = self.ex.on_trade(ts, price, qty, buy)
        if evs:
            self.pump(evs, ts)
        self.submit(self.reb.on_trade(ts, price, qty, buy), ts)

    def market(self, ts: int, bid: float, ask: float, qty: float = 0.001) -> None:
        """A quote, then a small trade at the mid (so the price moves and the policy runs)."""
        self.quote(ts, bid, ask)
        self.trade(ts, round((bid + ask) / 2, 2), qty)

    def tick(self, ts: int) -> None:
        evs = self.ex.advance_to(ts)
        if evs:
            self.pump(evs, ts)
        self.submit(self.reb.on_tick(ts), ts)

    def grid_fill(self, ts: int, side: Side, qty: str, price: str) -> None:
        """A futures fill (as the grid bot makes): changes net delta, goes through the exchange."""
        self._grid_seq += 1
        f = Fill(ts_ms=ts, exec_id=f"tgrid-{self._grid_seq}", symbol="BTCUSDT", side=side, price=D(price),
                 qty=D(qty), fee=D(0), fee_coin="USDT", is_maker=True, leg=Leg.LINEAR, source="grid")
        self.pump(self.ex.apply_grid_fill(f), ts)

    # -- user commands (go through the same submit path)

    def do(self, cmds: Iterable[Command]) -> list[Command]:
        cmds = list(cmds)
        self.submit(cmds)
        return cmds

    # -- what was sent

    @property
    def places(self) -> list[OrderRequest]:
        return [c.request for c in self.sent if type(c) is PlaceOrder]

    @property
    def cancels(self) -> list[Command]:
        return [c for c in self.sent if type(c) in (CancelOrder, CancelAllOurs)]

    def net_from_exchange(self) -> float:
        """Net delta from the exchange's exact state (wallet base incl. locked + signed position)."""
        b = self.ex.balance("BTC")
        return float(b.free + b.locked + self.ex.position().size)

