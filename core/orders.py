"""Our orders at the venue, and what of them is already counted.

Updates come twice (a push and the reply to our own call), late (after the order finished)
or for orders this session did not send (adopted after a restart); fills come again after a
reconnect or a REST backfill. Here each filled quantity and each fill counts once.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal

from core.model import Order, Side

ZERO = Decimal(0)
KEEP_FINISHED = 10_000  # finished client ids remembered (late updates ignored)
KEEP_FILLS = 50_000  # fill ids remembered (repeats ignored)


class OurOrders:
    """``working``: our orders still open (or in flight), by client id."""

    __slots__ = ("prefix", "working", "_filled", "_finished", "_finished_order", "_fills", "_fills_order")

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.working: dict[str, Order] = {}
        self._filled: dict[str, Decimal] = {}  # filled quantity already applied, per client id
        self._finished: set[str] = set()
        self._finished_order: deque[str] = deque()
        self._fills: set[str] = set()
        self._fills_order: deque[str] = deque()

    def is_ours(self, client_id: str) -> bool:
        return bool(client_id) and client_id.startswith(self.prefix)

    def on_update(self, order: Order) -> tuple[bool, bool, float | None] | None:
        """Book an update of one of our orders. None: a repeated or late update of an order
        that already finished (ignore it). Else ``(adopted, changed, filled)``: ``adopted`` when
        this session did not send it (what it filled before is already in the balances),
        ``changed`` when status, fill or venue id moved, ``filled`` the quantity newly filled."""
        cid = order.client_id
        if cid in self._finished:
            return None
        prev = self.working.get(cid)
        adopted = prev is None and cid not in self._filled
        if adopted:
            self._filled[cid] = order.filled_qty
        changed = (prev is None or prev.status != order.status or prev.filled_qty != order.filled_qty
                   or prev.order_id != order.order_id)
        before = self._filled.get(cid, ZERO)
        filled = None
        if order.filled_qty > before:
            filled = float(order.filled_qty - before)
            self._filled[cid] = order.filled_qty
        if order.status.is_open:
            self.working[cid] = order
        else:
            self.forget(cid)
            self._finished.add(cid)
            self._finished_order.append(cid)
            if len(self._finished_order) > KEEP_FINISHED:
                self._finished.discard(self._finished_order.popleft())
        return adopted, changed, filled

    def locked(self) -> tuple[float, float]:
        """(base, quote) our working spot orders hold locked: a sell its unfilled size, a buy
        its unfilled size at its price."""
        base = quote = 0.0
        for o in self.working.values():
            left = float(o.qty - o.filled_qty)
            if o.side is Side.SELL:
                base += left
            else:
                quote += left * float(o.price)
        return base, quote

    def known(self, order: Order) -> None:
        """An order of ours from before a restart (``core.recovery``): its updates are ours, and
        what it filled before is already in the balances."""
        self._filled.setdefault(order.client_id, order.filled_qty)

    def forget(self, client_id: str) -> None:
        """No such order (any more): the venue refused the call, or it finished."""
        self.working.pop(client_id, None)
        self._filled.pop(client_id, None)

    def first_time(self, exec_id: str) -> bool:
        """True the first time a fill id is seen (then it is remembered)."""
        if exec_id in self._fills:
            return False
        self._fills.add(exec_id)
        self._fills_order.append(exec_id)
        if len(self._fills_order) > KEEP_FILLS:
            self._fills.discard(self._fills_order.popleft())
        return True
