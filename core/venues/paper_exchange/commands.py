"""Commands sent to the paper exchange: gateway checks, latency, and their effect on the book.

PostOnly that would cross ends ``Rejected`` with ``POST_ONLY_WOULD_TAKE`` (Bybit answers
retCode 0 and then rejects the order). An amend that would make a PostOnly cross cancels the
order with the same reason (assumption; the amended values are not applied). IOC remainders
are cancelled.
"""

from __future__ import annotations

from decimal import Decimal

from core.events import AmendOrder, CancelAllOurs, CancelOrder, OrderUpdate, PlaceOrder, VenueProblem
from core.model import Leg, OrderRequest, OrderStatus, Side, TimeInForce
from core.venues import bybit_codes as codes
from core.venues.paper_exchange.orders import EMPTY, INF, ZERO, Batch, BookOrder


class _Reject(Exception):
    """Internal: a command refused with a Bybit code (turned into an event, never escapes)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class CommandDesk:
    """Part of ``PaperExchange``: ``submit`` and what follows: validation, the latency queue
    (``_queue``, ``_due_ms``, ``_pending``), and placing, amending and cancelling orders."""

    __slots__ = ()

    def submit(self, command: object, ts_ms: int | None = None) -> tuple:
        """Apply (or, with latency, queue) a command sent at ``ts_ms`` (default: market time).

        A refusal returns ``(core.events.VenueProblem(code=...),)`` and changes nothing. With
        ``latency_ms > 0`` the command is checked now (like a gateway), queued, and takes
        effect at the first market event with ``ts >= ts_ms + latency_ms``; its events come out
        of that ``on_trade``/``on_quote``/``advance_to`` call, and ``()`` is returned here.
        """
        ts = self._ts if ts_ms is None else int(ts_ms)
        if ts > self._ts:
            self._ts = ts
        cid = getattr(command, "client_id", None) or (
            command.request.client_id if isinstance(command, PlaceOrder) else "")
        try:
            if self.latency_ms <= 0:
                return self._apply(command, ts, ts, "")
            order_id = self._precheck(command)
        except _Reject as r:
            return (VenueProblem(ts, r.message, r.code, cid),)
        if isinstance(command, PlaceOrder):
            # visible at once as New (the REST ack); balances are locked when it takes effect
            o = BookOrder(command.request, order_id, 0, ts, ts)
            self._pending[o.client_id] = o
        due = ts + self.latency_ms
        self._queue.append((due, command, ts, order_id))
        if due < self._due_ms:
            self._due_ms = due
        return EMPTY

    def _precheck(self, command: object) -> str:
        """Gateway checks for a delayed command; returns the order id reserved for a placement."""
        if isinstance(command, PlaceOrder):
            self._validate_place(command.request)
            return self._new_order_id()
        if isinstance(command, CancelOrder):
            if not self._is_open_or_pending(command.client_id):
                raise _Reject(codes.ORDER_NOT_FOUND_SPOT, f"Order does not exist: {command.client_id!r}")
            return ""
        if isinstance(command, AmendOrder):
            if not self._is_open_or_pending(command.client_id):
                raise _Reject(codes.ORDER_NOT_FOUND_SPOT, f"Order does not exist: {command.client_id!r}")
            self._check_price(command.price)
            if command.qty is not None:
                self._check_qty_step(command.qty)
            return ""
        if isinstance(command, CancelAllOurs):
            return ""
        raise _Reject(codes.PARAM_ERROR, f"unknown command {type(command).__name__}")

    def _process_due(self, ts: int, out: list) -> None:
        q = self._queue
        while q and q[0][0] <= ts:
            _, command, submit_ts, order_id = q.popleft()
            try:
                out.extend(self._apply(command, ts, submit_ts, order_id))
            except _Reject as r:
                out.extend(self._late_reject(command, ts, submit_ts, order_id, r))
        self._due_ms = q[0][0] if q else INF

    def _late_reject(self, command: object, ts: int, submit_ts: int, order_id: str, r: _Reject) -> tuple:
        """A delayed command failed when it took effect: the engine already holds an ack."""
        if isinstance(command, PlaceOrder):
            self._pending.pop(command.request.client_id, None)
            o = BookOrder(command.request, order_id, self._next_seq(), submit_ts, ts)
            o.status = OrderStatus.REJECTED
            o.reject_reason = f"{r.code}: {r.message}"
            self._store(o)
            return (OrderUpdate(ts, o.snapshot()),)
        cid = getattr(command, "client_id", "")
        return (VenueProblem(ts, r.message, r.code, cid),)

    def _apply(self, command: object, ts: int, submit_ts: int, order_id: str) -> tuple:
        if isinstance(command, PlaceOrder):
            return self._apply_place(command.request, ts, submit_ts, order_id)
        if isinstance(command, CancelOrder):
            return self._apply_cancel(command.client_id, ts)
        if isinstance(command, AmendOrder):
            return self._apply_amend(command, ts)
        if isinstance(command, CancelAllOurs):
            return self._apply_cancel_all(ts)
        raise _Reject(codes.PARAM_ERROR, f"unknown command {type(command).__name__}")

    # validation ---------------------------------------------------------------------------

    def _check_price(self, price: Decimal) -> None:
        if price <= 0:
            raise _Reject(codes.INVALID_PARAMETER, f"Order price must be positive, got {price}")
        if price % self.spot.tick_size != 0:
            raise _Reject(codes.PRICE_OFF_TICK, f"Order price has too many decimals: {price} is not a "
                                        f"multiple of tick size {self.spot.tick_size}")

    def _check_qty_step(self, qty: Decimal) -> None:
        if qty <= 0:
            raise _Reject(codes.INVALID_PARAMETER, f"Order quantity must be positive, got {qty}")
        if qty % self.spot.qty_step != 0:
            raise _Reject(codes.QTY_OFF_STEP, f"Order quantity has too many decimals: {qty} is not a "
                                      f"multiple of qty step {self.spot.qty_step}")

    def _check_size(self, qty: Decimal, price: Decimal) -> None:
        inst = self.spot
        self._check_qty_step(qty)
        if qty < inst.min_qty:
            raise _Reject(codes.QTY_TOO_SMALL, f"Order quantity below the minimum: {qty} < min qty {inst.min_qty}")
        if qty > inst.max_qty:
            raise _Reject(codes.QTY_TOO_LARGE, f"Order quantity above the maximum: {qty} > max qty {inst.max_qty}")
        if qty * price < inst.min_notional:
            raise _Reject(codes.VALUE_TOO_SMALL, f"Order value below the minimum: {qty * price} < "
                                       f"min order value {inst.min_notional}")

    def _validate_place(self, req: OrderRequest) -> None:
        if not req.client_id:
            raise _Reject(codes.PARAM_ERROR, "orderLinkId (client id) is required")
        if req.leg is not Leg.SPOT or req.symbol != self.spot.symbol:
            raise _Reject(codes.INVALID_SYMBOL, f"Invalid symbol: paper trades {self.spot.symbol} spot only, "
                                    f"got {req.symbol} {req.leg.value}")
        if req.client_id in self._orders or req.client_id in self._pending:
            raise _Reject(codes.DUPLICATE_CLIENT_ID, f"Duplicate clientOrderId {req.client_id!r}")
        self._check_price(req.price)
        self._check_size(req.qty, req.price)
        coin, need = self._lock_need(req.side, req.qty, req.price)
        free = self._bal[coin][0]
        if free < need:
            raise _Reject(codes.INSUFFICIENT_BALANCE_SPOT, f"Insufficient balance: need {need} {coin}, free {free}")

    def _lock_need(self, side: Side, qty: Decimal, price: Decimal) -> tuple[str, Decimal]:
        """A buy locks qty x price quote (its fee is taken in base); a sell locks qty base."""
        if side is Side.BUY:
            return self.spot.quote, qty * price
        return self.spot.base, qty

    def _is_open_or_pending(self, cid: str) -> bool:
        o = self._orders.get(cid)
        return (o is not None and o.status.is_open) or cid in self._pending

    # actions ------------------------------------------------------------------------------

    def _apply_place(self, req: OrderRequest, ts: int, submit_ts: int, order_id: str) -> tuple:
        self._pending.pop(req.client_id, None)
        self._validate_place(req)
        o = BookOrder(req, order_id or self._new_order_id(), self._next_seq(), submit_ts, ts)
        self._store(o)
        batch = Batch()
        before = self._balance_tuple()
        bid, ask = self.touch()
        crosses = self._crosses(o.side, o.price, bid, ask)
        if o.tif is TimeInForce.POST_ONLY and crosses:
            o.status = OrderStatus.REJECTED
            o.reject_reason = codes.POST_ONLY_WOULD_TAKE
        else:
            coin, need = self._lock_need(o.side, o.qty, o.price)
            bal = self._bal[coin]
            bal[0] -= need
            bal[1] += need
            o.locked = need
            if crosses:
                self._take(o, ts, bid, ask, batch)
            if o.remaining > 0:
                if o.tif is TimeInForce.IOC:
                    self._unlock(o)
                    o.status = OrderStatus.CANCELLED
                    o.reject_reason = codes.IOC_NO_FILL if o.filled == 0 else ""
                else:
                    o.ahead = self._queue_ahead(o.side, o.price)  # it joins the back of its level
                    (self._buys if o.side is Side.BUY else self._sells).append(o)
                    self._rebuild_book()
        batch.touch(o)
        return self._emit(batch, ts, before)

    def _apply_cancel(self, cid: str, ts: int) -> tuple:
        o = self._orders.get(cid)
        if o is None or not o.status.is_open:
            raise _Reject(codes.ORDER_NOT_FOUND_SPOT, f"Order does not exist: {cid!r}")
        before = self._balance_tuple()
        self._cancel(o, ts)
        self._rebuild_book()
        batch = Batch()
        batch.touch(o)
        return self._emit(batch, ts, before)

    def _apply_cancel_all(self, ts: int) -> tuple:
        before = self._balance_tuple()
        batch = Batch()
        for o in list(self._orders.values()):
            if o.status.is_open:
                self._cancel(o, ts)
                batch.touch(o)
        self._rebuild_book()
        return self._emit(batch, ts, before)

    def _apply_amend(self, cmd: AmendOrder, ts: int) -> tuple:
        o = self._orders.get(cmd.client_id)
        if o is None or not o.status.is_open:
            raise _Reject(codes.ORDER_NOT_FOUND_SPOT, f"Order does not exist: {cmd.client_id!r}")
        price = cmd.price
        qty = o.qty if cmd.qty is None else cmd.qty
        self._check_price(price)
        self._check_size(qty, price)
        if qty <= o.filled:
            raise _Reject(codes.INVALID_PARAMETER, f"Amended quantity {qty} must exceed the filled quantity {o.filled}")
        coin, need = self._lock_need(o.side, qty - o.filled, price)
        bal = self._bal[coin]
        extra = need - o.locked
        if extra > bal[0]:
            raise _Reject(codes.INSUFFICIENT_BALANCE_SPOT, f"Insufficient balance: need {extra} more {coin}, free {bal[0]}")
        before = self._balance_tuple()
        batch = Batch()
        bid, ask = self.touch()
        crosses = self._crosses(o.side, price, bid, ask)
        if o.tif is TimeInForce.POST_ONLY and crosses:
            self._cancel(o, ts)
            o.reject_reason = codes.POST_ONLY_WOULD_TAKE
        else:
            requeue = price != o.price or qty > o.qty
            if requeue:
                o.seq = self._next_seq()  # Bybit: a new price or a larger size loses queue priority
                o.ahead = self._queue_ahead(o.side, price)
            bal[0] -= extra
            bal[1] += extra
            o.locked = need
            o.price = price
            o.price_f = float(price)
            o.qty = qty
            o.updated_ms = ts
            if crosses:
                self._take(o, ts, bid, ask, batch)
        self._rebuild_book()
        batch.touch(o)
        return self._emit(batch, ts, before)

    def _cancel(self, o: BookOrder, ts: int) -> None:
        self._unlock(o)
        o.status = OrderStatus.CANCELLED
        o.updated_ms = ts

    def _unlock(self, o: BookOrder) -> None:
        coin = self.spot.quote if o.side is Side.BUY else self.spot.base
        bal = self._bal[coin]
        bal[0] += o.locked
        bal[1] -= o.locked
        o.locked = ZERO
