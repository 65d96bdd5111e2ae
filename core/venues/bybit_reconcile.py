"""What the adapter remembers of the account, and the REST pass that repairs it after a gap.

- ``KnownOrders``: the latest state of each of our orders that the adapter has delivered or
  returned. It decides whether a REST snapshot is *newer* than what the engine already saw,
  so a reconcile (or a late reply) never moves an order backwards (Filled -> New would
  leave a phantom open order in the engine).
- ``SeenFills``: exec ids already delivered (bounded), so a fill that comes both from the
  stream and from a REST backfill reaches the engine once; and the newest fill time, where
  the next backfill starts.
- ``reconcile``: after the private stream was down, re-read our orders, the executions
  since the last fill seen (or since the outage began), balances and the position, and
  deliver what changed, in the order a live stream would (orders, fills, then balances).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from core.events import BalanceUpdate, FillEvent, OrderUpdate, PositionUpdate
from core.model import Balance, Fill, Order, Position

OVERLAP_MS = 30_000  # re-read this much before the last fill seen: de-duplicated anyway


def order_rank(o: Order) -> tuple[int, Decimal, int]:
    """Orders only move forward: open < closed, then more filled, then later updated."""
    return (0 if o.status.is_open else 1, o.filled_qty, o.updated_ms)


def is_newer(candidate: Order, known: Order | None) -> bool:
    return known is None or order_rank(candidate) > order_rank(known)


class KnownOrders:
    def __init__(self, max_closed: int = 2000) -> None:
        self._orders: dict[str, Order] = {}
        self._provisional: set[str] = set()
        self._closed: deque[str] = deque()
        self._max_closed = max_closed

    def get(self, client_id: str) -> Order | None:
        return self._orders.get(client_id)

    def is_newer(self, order: Order) -> bool:
        """Would ``order`` tell the engine something it has not seen?"""
        prev = self._orders.get(order.client_id)
        if prev is None:
            return True
        if order.client_id in self._provisional:
            # built from an ack with our own clock: any venue state at least as far along wins
            return order_rank(order)[:2] >= order_rank(prev)[:2]
        return order_rank(order) > order_rank(prev)

    def remember(self, order: Order, *, provisional: bool = False) -> bool:
        """Keep ``order`` if it is newer than what we had; True when it was.

        ``provisional``: a state the adapter made up from an ack (order id, our timestamp);
        the venue's own record of the same state replaces it.
        """
        cid = order.client_id
        if not cid:
            return False
        if not self.is_newer(order):
            return False
        self._orders[cid] = order
        if provisional:
            self._provisional.add(cid)
        else:
            self._provisional.discard(cid)
        if not order.status.is_open:
            self._closed.append(cid)
            while len(self._closed) > self._max_closed:
                old = self._closed.popleft()
                o = self._orders.get(old)
                if o is not None and not o.status.is_open:
                    del self._orders[old]
                    self._provisional.discard(old)
        return True

    def open_ids(self) -> list[str]:
        return [cid for cid, o in self._orders.items() if o.status.is_open]


class SeenFills:
    def __init__(self, max_ids: int = 50_000) -> None:
        self._ids: set[str] = set()
        self._order: deque[str] = deque()
        self._max = max_ids
        self.last_ts: int | None = None

    def __contains__(self, exec_id: str) -> bool:
        return exec_id in self._ids

    def add(self, fill: Fill) -> bool:
        """Record ``fill``; False when its exec id was already seen."""
        if fill.exec_id in self._ids:
            return False
        self._ids.add(fill.exec_id)
        self._order.append(fill.exec_id)
        if len(self._order) > self._max:
            self._ids.discard(self._order.popleft())
        if self.last_ts is None or fill.ts_ms > self.last_ts:
            self.last_ts = fill.ts_ms
        return True


@dataclass(frozen=True)
class ReconcileReport:
    orders: int
    fills: int
    since_ms: int

    @property
    def detail(self) -> str:
        return f"{self.orders} order update(s), {self.fills} missed fill(s) recovered"


@dataclass
class AccountReads:
    """The REST reads a reconcile needs (the venue's methods)."""

    open_orders: Callable[[], Awaitable[tuple[Order, ...]]]
    order_by_client_id: Callable[[str], Awaitable[Order | None]]
    executions: Callable[[int], Awaitable[tuple[Fill, ...]]]
    balances: Callable[[], Awaitable[tuple[Balance, ...]]]
    position: Callable[[], Awaitable[Position]]


async def reconcile(reads: AccountReads, known: KnownOrders, seen: SeenFills, since_ms: int, now_ms: Callable[[], int],
                    deliver: Callable[[Iterable[object]], None], *, with_position: bool = True) -> ReconcileReport:
    """Re-read the account over REST and deliver what the engine has not seen.

    Raises whatever a read raises (the caller retries later); what was delivered before the
    failure stays delivered (every step is idempotent).
    """
    n_orders = 0
    listed = await reads.open_orders()
    listed_ids = {o.client_id for o in listed}
    updates: list[object] = []
    for o in listed:
        if known.is_newer(o):
            updates.append(OrderUpdate(o.updated_ms or now_ms(), o))
    # orders we believed open that are not open any more: fetch their final state
    for cid in known.open_ids():
        if cid in listed_ids:
            continue
        o = await reads.order_by_client_id(cid)
        if o is not None and known.is_newer(o):
            updates.append(OrderUpdate(o.updated_ms or now_ms(), o))
    n_orders = len(updates)
    deliver(updates)

    fills = [f for f in await reads.executions(since_ms) if f.exec_id not in seen]
    deliver([FillEvent(f) for f in fills])

    balances = await reads.balances()
    tail: list[object] = [BalanceUpdate(now_ms(), balances)]
    if with_position:
        tail.append(PositionUpdate(now_ms(), await reads.position()))
    deliver(tail)
    return ReconcileReport(orders=n_orders, fills=len(fills), since_ms=since_ms)


__all__ = ["AccountReads", "KnownOrders", "OVERLAP_MS", "ReconcileReport", "SeenFills", "is_newer", "order_rank",
           "reconcile"]
