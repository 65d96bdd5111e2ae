"""What a hedge costs: the one definition, used by the live session, replay and ``report``.

For each rebalance the *arrival* is the market when the decision that started it was made:
the mid (the last price where there is no book) and the touch. A fill's cost against it is

    fee + side x (fill price - arrival mid) x qty          (side +1 buy, -1 sell)

and a run's cost in bps is the sum over fills divided by the sum of qty x arrival mid. It is
split so the parts add up to the whole:

- ``fee``: what the venue charged, in the quote coin;
- ``spread``: side x (touch - mid) x qty, the half spread crossing at arrival would pay;
- ``drift``: side x (fill price - touch) x qty, the rest: waiting, chasing, adverse moves
  (negative when a maker order earned part of the spread).

A fill whose rebalance is not known (an order adopted after a restart, an old journal) is
costed against its own price: only its fee counts, and ``unreferenced_fills`` says how many.

The *markout* of a maker fill is how far the mid moved against us ``MARKOUT_MS`` after it:
side x (fill price - mid then) x qty, in bps of the fill's notional; positive is adverse
(we bought and the mid fell, or sold and it rose). It is taken at the first one-second tick
at or after the horizon, so a replay and a live session measure it the same way.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from core.model import Side
from core.values import value_type

MARKOUT_MS = 60_000
MAX_REMEMBERED = 256  # rebalances whose arrival is kept for late fills (fills follow within seconds)
INF = float("inf")


@value_type
class Arrival:
    """The market when a rebalance's decision was made."""

    ts_ms: int
    mid: float
    bid: float
    ask: float

    @classmethod
    def at(cls, ts_ms: int, price: float, bid: float | None, ask: float | None) -> Arrival:
        """From the touch when there is a sane one, else the last price on both sides."""
        if bid is not None and ask is not None and 0.0 < bid <= ask:
            return cls(ts_ms, (bid + ask) * 0.5, bid, ask)
        return cls(ts_ms, price, price, price)

    def touch(self, side: Side) -> float:
        """The price crossing the spread would pay: the ask for a buy, the bid for a sell."""
        return self.ask if side is Side.BUY else self.bid


def bps(part: float, notional: float) -> float | None:
    """``part`` in basis points of ``notional``; None (not 0) when nothing was traded."""
    return part / notional * 1e4 if notional else None


@dataclass(slots=True)
class CostParts:
    """Sums in the quote coin over fills; ``notional`` is Σ qty x arrival mid."""

    fee: float = 0.0
    spread: float = 0.0
    drift: float = 0.0
    notional: float = 0.0
    fills: int = 0
    unreferenced_fills: int = 0

    def add(self, side: Side, price: float, qty: float, fee_quote: float, arrival: Arrival | None) -> None:
        if arrival is None:  # no decision known: only the fee counts
            self.unreferenced_fills += 1
            arrival = Arrival(0, price, price, price)
        sign = side.sign
        touch = arrival.touch(side)
        self.fee += fee_quote
        self.spread += sign * (touch - arrival.mid) * qty
        self.drift += sign * (price - touch) * qty
        self.notional += qty * arrival.mid
        self.fills += 1

    @property
    def total(self) -> float:
        return self.fee + self.spread + self.drift

    def figures(self) -> dict:
        """The report's cost keys (bps rounded to 0.001, None when nothing filled)."""
        n = self.notional

        def r(x: float | None) -> float | None:
            return None if x is None else round(x, 3)
        return {
            "cost_bps": r(bps(self.total, n)),
            "cost_fee_bps": r(bps(self.fee, n)),
            "cost_spread_bps": r(bps(self.spread, n)),
            "cost_drift_bps": r(bps(self.drift, n)),
            "cost_quote": round(self.total, 4) if self.fills else None,
            "unreferenced_fills": self.unreferenced_fills,
        }


@dataclass(slots=True)
class Markouts:
    """Maker fills waiting for their markout, and the markouts taken."""

    pending: deque = field(default_factory=deque)  # (due_ms, exec_id, side sign, price, qty)
    adverse: float = 0.0  # Σ side x (price - mid after) x qty
    notional: float = 0.0  # Σ price x qty of the fills measured
    count: int = 0
    due_ms: float = INF  # the earliest pending markout (INF when none): replay's bulk path stops there

    def add(self, ts_ms: int, exec_id: str, side: Side, price: float, qty: float) -> None:
        due = ts_ms + MARKOUT_MS
        self.pending.append((due, exec_id, side.sign, price, qty))
        if due < self.due_ms:
            self.due_ms = due

    def take(self, now_ms: int, mid: float) -> list[tuple[str, float]]:
        """Markouts due at ``now_ms``, measured at ``mid``: ``[(exec_id, mid)]`` to record."""
        out = []
        pending = self.pending
        while pending and pending[0][0] <= now_ms:
            _due, exec_id, sign, price, qty = pending.popleft()
            self.measure(sign, price, qty, mid)
            out.append((exec_id, mid))
        self.due_ms = pending[0][0] if pending else INF
        return out

    def measure(self, sign: int, price: float, qty: float, mid_after: float) -> None:
        self.adverse += sign * (price - mid_after) * qty
        self.notional += price * qty
        self.count += 1

    def figures(self) -> dict:
        b = bps(self.adverse, self.notional)
        return {"maker_markout_60s_bps": None if b is None else round(b, 3), "markouts": self.count}


class CostBook:
    """The run's hedge cost: the arrival of each recent rebalance, the cost of our fills
    against it, and the markouts of our maker fills. Fills are matched to their rebalance by
    the order's client id (``rebalance_of``), so a fill that arrives after its order's final
    status -- the usual order on the paper venue -- is costed like any other."""

    __slots__ = ("parts", "markouts", "_arrivals", "_decided", "gate_at_fill", "gate_at_placement")

    def __init__(self) -> None:
        self.parts = CostParts()
        self.markouts = Markouts()
        self.gate_at_fill: CostParts | None = None  # gate orders (execution.rest_at_gate), as counted in parts
        self.gate_at_placement: CostParts | None = None  # the same fills against the mid when placed: reference
        self._arrivals: dict[str, Arrival] = {}  # rebalance -> its arrival
        self._decided: dict[int, Arrival] = {}  # decision time -> the market then (trading decisions)

    def decided(self, ts_ms: int, price: float, bid: float | None, ask: float | None) -> None:
        """A trading decision was made now: remember the market, for the rebalance it may start
        (at once in auto mode; on approval in semi mode, a proposal later)."""
        _remember(self._decided, ts_ms, Arrival.at(ts_ms, price, bid, ask))

    def arrival_for(self, decision_ts_ms: int, decision_price: float) -> Arrival:
        """The market when that decision was made (its own price on both sides if not seen)."""
        a = self._decided.get(decision_ts_ms)
        return a if a is not None else Arrival(decision_ts_ms, decision_price, decision_price, decision_price)

    def started(self, rebalance: str, arrival: Arrival) -> None:
        _remember(self._arrivals, rebalance, arrival)

    def arrival_of(self, client_id: str) -> Arrival | None:
        return self._arrivals.get(rebalance_of(client_id)) if client_id else None

    def on_fill(self, ts_ms: int, exec_id: str, client_id: str, side: Side, price: float, qty: float,
                fee_quote: float, is_maker: bool) -> None:
        self.parts.add(side, price, qty, fee_quote, self.arrival_of(client_id))
        if is_maker:
            self.markouts.add(ts_ms, exec_id, side, price, qty)

    def on_gate_fill(self, ts_ms: int, exec_id: str, client_id: str, side: Side, price: float, qty: float,
                     fee_quote: float, is_maker: bool, at_fill: Arrival) -> None:
        """A fill of an order resting at the anchor gate, costed against ``at_fill``, the market
        when it filled: its rebalance's arrival (the mid when it was placed) would book the
        market's move to the gate, which the policy waited for anyway, as a saving. That
        figure is kept for reference (``gate_cost_bps_at_placement``)."""
        if self.gate_at_fill is None:
            self.gate_at_fill, self.gate_at_placement = CostParts(), CostParts()
        self.parts.add(side, price, qty, fee_quote, at_fill)
        self.gate_at_fill.add(side, price, qty, fee_quote, at_fill)
        self.gate_at_placement.add(side, price, qty, fee_quote, self.arrival_of(client_id) or at_fill)
        if is_maker:
            self.markouts.add(ts_ms, exec_id, side, price, qty)

    def figures(self) -> dict:
        out = {**self.parts.figures(), **self.markouts.figures()}
        if self.gate_at_fill is not None:  # only runs that rested at the gate carry these keys
            at_fill, placed = self.gate_at_fill, self.gate_at_placement
            out["gate_fills"] = at_fill.fills
            out["gate_cost_bps"] = at_fill.figures()["cost_bps"]
            out["gate_cost_bps_at_placement"] = placed.figures()["cost_bps"]
            whole = bps(self.parts.total - at_fill.total + placed.total,
                        self.parts.notional - at_fill.notional + placed.notional)
            out["cost_bps_gate_at_placement"] = None if whole is None else round(whole, 3)  # the whole run so
        return out


def _remember(d: dict, key, value) -> None:
    d[key] = value
    if len(d) > MAX_REMEMBERED:
        del d[next(iter(d))]


def rebalance_of(client_id: str) -> str:
    """The rebalance an order belongs to, carried in its client id: ``{prefix}{session}{n}-{attempt}``
    without ``-{attempt}``. Every order of one rebalance shares it; no two rebalances do."""
    stem, dash, _attempt = client_id.rpartition("-")
    return stem if dash else client_id
