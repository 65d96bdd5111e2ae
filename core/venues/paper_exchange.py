"""A deterministic, synchronous, Bybit-like simulated exchange (the paper venue's engine).

Why it exists: the same rebalancer runs live, on paper and in replay; this is the exchange for
the last two. It holds spot balances, our spot orders and a linear futures position, matches
our orders against a market tape, and emits the same events a real venue would.

Design rules:
- pure and deterministic: no wall clock, no sleeps, no randomness. Time is the timestamp of
  the market event being processed (or the ``ts_ms`` handed to ``submit``); ids come from
  counters, so the same inputs always give the same event sequence;
- exact ``Decimal`` for everything about orders, balances and fills; market data stays float;
- the market-data path is O(1) and allocation-free while nothing fills: each trade/quote is
  compared with the best resting buy/sell price (kept as floats) and a shared empty tuple is
  returned. Only a possible fill, a due delayed command or an attached grid takes the slow path.

Fill model (documented assumptions, conservative on purpose):
- a resting limit order fills only when the market trades *through* its price (buy: a trade
  below it, sell: a trade above it; whoever the aggressor was), at the order price, as maker,
  up to the trade's qty per trade (shared by our orders in price-time priority). A trade *at*
  our price never fills us: we assume we are last in the queue;
- a quote whose ask is below our resting buy (or bid above our resting sell) fills the whole
  remainder at our price as maker: a real book cannot stay crossed with our order in it;
- a taker (IOC, or a GTC that crosses) fills at the touch. With BBO data it takes the top
  level's size at the touch, then the same size again at each successive tick beyond it,
  never past its limit; the book is not depleted by our fills (the next quote replaces it).
  Without BBO data the touch is synthesised from the last trade +/- ``synthetic_spread_ticks``
  ticks and the taker fills entirely at it. IOC remainders are cancelled;
- PostOnly that would cross ends ``Rejected`` with ``EC_PostOnlyWillTakeLiquidity`` (Bybit
  answers retCode 0 and then rejects the order). An amend that would make a PostOnly cross
  cancels the order with the same reason (assumption; the amended values are not applied).

Linear futures: one-way position (signed size, average entry, realised P&L, fees). Fills come
from outside (the simulated grid, ``apply_grid_fill``); fees are charged at this exchange's
linear rates and, as in a Bybit unified account, realised P&L and linear fees settle in the
quote coin balance (``settle_linear_in_quote``).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from core.events import (
    AmendOrder,
    BalanceUpdate,
    CancelAllOurs,
    CancelOrder,
    FillEvent,
    OrderUpdate,
    PlaceOrder,
    PositionUpdate,
)
from core.events import VenueProblem
from core.model import (
    BTCUSDT_LINEAR,
    BTCUSDT_SPOT,
    Balance,
    Fill,
    Instrument,
    Leg,
    Order,
    OrderRequest,
    OrderStatus,
    PerpTicker,
    Position,
    Quote,
    Side,
    TimeInForce,
    Trade,
)
from core.values import value_type
from core.venues import bybit_codes as codes

ZERO = Decimal(0)
_EMPTY: tuple = ()
_INF = float("inf")
_NINF = float("-inf")

STATE_VERSION = 1

@value_type
class FeeSchedule:
    """Fee rates as fractions (0.001 = 0.10 %). Defaults: Bybit non-VIP base rates."""

    spot_maker: Decimal = Decimal("0.001")
    spot_taker: Decimal = Decimal("0.001")
    linear_maker: Decimal = Decimal("0.0002")
    linear_taker: Decimal = Decimal("0.00055")


def _quiet_test(grid) -> Callable[[float], bool] | None:
    """The grid's cheap 'would this print fill nothing?' test, or one that always says no."""
    if grid is None:
        return None
    test = getattr(grid, "quiet_between", None)
    return test if test is not None else (lambda price: False)


class GridLike(Protocol):
    """Anything that turns a price into futures-leg fills (the simulated grid bot)."""

    def on_price(self, ts_ms: int, price: float) -> tuple[Fill, ...]: ...


class _Reject(Exception):
    """Internal: a command refused with a Bybit code (turned into an event, never escapes)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _d(x: Any) -> Decimal:
    """float/int/str/Decimal -> Decimal via the shortest text (floats: 61837.63 stays exact)."""
    return x if isinstance(x, Decimal) else Decimal(str(x))


class _Order:
    """Mutable book entry for one of our orders; ``snapshot`` gives the frozen ``Order``."""

    __slots__ = (
        "client_id", "order_id", "symbol", "side", "qty", "price", "price_f", "tif", "status",
        "filled", "value", "created_ms", "updated_ms", "reject_reason", "seq", "locked",
    )

    def __init__(self, req: OrderRequest, order_id: str, seq: int, created_ms: int, updated_ms: int) -> None:
        self.client_id = req.client_id
        self.order_id = order_id
        self.symbol = req.symbol
        self.side = req.side
        self.qty = req.qty
        self.price = req.price
        self.price_f = float(req.price)
        self.tif = req.tif
        self.status = OrderStatus.NEW
        self.filled = ZERO
        self.value = ZERO  # sum of fill price x qty, for the average fill price
        self.created_ms = created_ms
        self.updated_ms = updated_ms
        self.reject_reason = ""
        self.seq = seq
        self.locked = ZERO  # what this order holds: quote for a buy, base for a sell

    @property
    def remaining(self) -> Decimal:
        return self.qty - self.filled

    def snapshot(self) -> Order:
        avg = self.value / self.filled if self.filled else ZERO
        return Order(
            client_id=self.client_id, order_id=self.order_id, symbol=self.symbol, side=self.side,
            qty=self.qty, price=self.price, tif=self.tif, status=self.status,
            filled_qty=self.filled, avg_fill_price=avg, created_ms=self.created_ms,
            updated_ms=self.updated_ms, reject_reason=self.reject_reason, leg=Leg.SPOT,
        )

    def to_dict(self) -> dict:
        return {
            "client_id": self.client_id, "order_id": self.order_id, "symbol": self.symbol,
            "side": self.side.value, "qty": str(self.qty), "price": str(self.price),
            "tif": self.tif.value, "status": self.status.value, "filled": str(self.filled),
            "value": str(self.value), "created_ms": self.created_ms, "updated_ms": self.updated_ms,
            "reject_reason": self.reject_reason, "seq": self.seq, "locked": str(self.locked),
        }

    @classmethod
    def from_dict(cls, d: dict) -> "_Order":
        req = OrderRequest(d["client_id"], d["symbol"], Side(d["side"]), Decimal(d["qty"]),
                           Decimal(d["price"]), TimeInForce(d["tif"]))
        o = cls(req, d["order_id"], d["seq"], d["created_ms"], d["updated_ms"])
        o.status = OrderStatus(d["status"])
        o.filled = Decimal(d["filled"])
        o.value = Decimal(d["value"])
        o.reject_reason = d["reject_reason"]
        o.locked = Decimal(d["locked"])
        return o


class _Batch:
    """Collects what one atomic action changed, so events go out in Bybit's order."""

    __slots__ = ("orders", "fills")

    def __init__(self) -> None:
        self.orders: dict[str, _Order] = {}
        self.fills: list[Fill] = []

    def touch(self, o: _Order) -> None:
        self.orders.setdefault(o.client_id, o)


class PaperExchange:
    """The simulated exchange. Feed it market data, submit commands, read the events back.

    Every mutating method returns the events it caused, in order: ``OrderUpdate`` (final
    state of each order touched), ``FillEvent`` per fill, one ``BalanceUpdate`` if balances
    changed, ``PositionUpdate`` if the linear position changed. A command refused up front
    returns a single ``core.events.VenueProblem`` carrying Bybit's code (nothing is created).
    """

    __slots__ = (
        "spot", "linear", "fees", "latency_ms", "synthetic_spread_ticks", "settle_linear_in_quote",
        "history_limit", "_grid", "_grid_quiet", "_bal", "_orders", "_pending", "_buys", "_sells", "_best_buy",
        "_best_sell", "_fills", "_pos_size", "_pos_entry", "_realised", "_linear_fees", "_mark",
        "_ts", "_last", "_has_bbo", "_bid", "_bid_qty", "_ask", "_ask_qty", "_queue", "_due_ms",
        "_order_seq", "_exec_seq", "_seq", "id_prefix",
    )

    def __init__(
        self,
        *,
        spot: Instrument = BTCUSDT_SPOT,
        linear: Instrument = BTCUSDT_LINEAR,
        balances: dict[str, Decimal | str | int] | None = None,
        fees: FeeSchedule = FeeSchedule(),
        latency_ms: int = 0,
        synthetic_spread_ticks: int = 1,
        grid: GridLike | None = None,
        settle_linear_in_quote: bool = True,
        history_limit: int = 10_000,
    ) -> None:
        if latency_ms < 0 or synthetic_spread_ticks < 0:
            raise ValueError("latency_ms and synthetic_spread_ticks must be >= 0")
        self.spot = spot
        self.linear = linear
        self.fees = fees
        self.latency_ms = int(latency_ms)
        self.synthetic_spread_ticks = int(synthetic_spread_ticks)
        self.settle_linear_in_quote = settle_linear_in_quote
        self.history_limit = int(history_limit)
        self._grid = grid
        self._grid_quiet = _quiet_test(grid)
        start = {spot.quote: Decimal(10_000), spot.base: ZERO} if balances is None else balances
        self._bal: dict[str, list[Decimal]] = {}
        for coin in (spot.base, spot.quote):
            self._bal[coin] = [ZERO, ZERO]
        for coin, amount in start.items():
            self._bal[coin] = [_d(amount), ZERO]
        self._orders: dict[str, _Order] = {}
        self._pending: dict[str, _Order] = {}  # placements accepted but not yet in effect (latency)
        self._buys: list[_Order] = []  # resting, best first
        self._sells: list[_Order] = []
        self._best_buy = _NINF
        self._best_sell = _INF
        self._fills: list[Fill] = []
        self._pos_size = ZERO
        self._pos_entry = ZERO
        self._realised = ZERO
        self._linear_fees = ZERO
        self._mark: float | None = None
        self._ts = 0
        self._last: float | None = None
        self._has_bbo = False
        self._bid = 0.0
        self._bid_qty = 0.0
        self._ask = 0.0
        self._ask_qty = 0.0
        self._queue: deque[tuple[int, object, int, str]] = deque()
        self._due_ms: float = _INF
        self._order_seq = 0
        self._exec_seq = 0
        self._seq = 0
        self.id_prefix = ""  # a live session sets a tag here, so ids never repeat across restarts

    # ------------------------------------------------------------------ market data (hot path)

    def on_trade(self, ts_ms: int, price: float, qty: float, taker_side_is_buy: bool) -> tuple:
        """A public trade. O(1) and allocation-free unless it can fill us.

        ``taker_side_is_buy`` is accepted for symmetry with the tape; the fill model ignores
        it (a print through our price means the book moved through it, whoever hit).
        """
        g = self._grid_quiet
        if (price < self._best_buy or price > self._best_sell or ts_ms >= self._due_ms
                or (g is not None and not g(price))):
            return self._trade_slow(ts_ms, price, qty)
        self._ts = ts_ms
        self._last = price
        return _EMPTY

    def on_quote(self, ts_ms: int, bid: float, bid_qty: float, ask: float, ask_qty: float) -> tuple:
        """Best bid/offer. O(1) unless the book crosses one of our resting orders."""
        if ask < self._best_buy or bid > self._best_sell or ts_ms >= self._due_ms:
            return self._quote_slow(ts_ms, bid, bid_qty, ask, ask_qty)
        self._ts = ts_ms
        self._bid = bid
        self._bid_qty = bid_qty
        self._ask = ask
        self._ask_qty = ask_qty
        self._has_bbo = True
        return _EMPTY

    # -- replay's bulk path: stretches of market data that provably change nothing but the tape

    def quiet_band(self) -> tuple[float, float, float]:
        """``(lo, hi, until_ms)``: trades strictly inside ``(lo, hi)`` before ``until_ms`` take the
        fast path of ``on_trade`` (they fill neither us nor the grid)."""
        lo, hi = self._best_buy, self._best_sell
        g = self._grid
        if g is not None:
            band = getattr(g, "quiet_band", None)
            if band is None:
                return _INF, _NINF, self._due_ms  # a grid that cannot say: never quiet
            glo, ghi = band()
            if glo > lo:
                lo = glo
            if ghi < hi:
                hi = ghi
        return lo, hi, self._due_ms

    def quiet_quote_band(self) -> tuple[float, float]:
        """Quotes take the fast path of ``on_quote`` while ask ≥ the first value and bid ≤ the
        second (they cross none of our resting orders)."""
        return self._best_buy, self._best_sell

    def absorb_quiet(self, ts_ms: int, last_price: float | None, quote: tuple | None) -> None:
        """What a stretch of fast-path trades (``last_price``: the last one) and quotes
        (``quote``: the last ``(bid, bid_qty, ask, ask_qty)``) leaves behind, in one step."""
        if ts_ms > self._ts:
            self._ts = ts_ms
        if last_price is not None:
            self._last = last_price
        if quote is not None:
            self._bid, self._bid_qty, self._ask, self._ask_qty = quote
            self._has_bbo = True

    def on_ticker(self, ts_ms: int, mark_price: float) -> tuple:
        """Futures mark price: values the position (no event: the position did not change)."""
        out: list = []
        if ts_ms >= self._due_ms:
            self._process_due(ts_ms, out)
        self._ts = ts_ms
        self._mark = mark_price
        return tuple(out) if out else _EMPTY

    def on_event(self, event: object) -> tuple:
        """Convenience dispatch for ``Trade``/``Quote``/``PerpTicker``; anything else is ignored."""
        t = type(event)
        if t is Trade:
            return self.on_trade(event.ts_ms, event.price, event.qty, event.taker_side is Side.BUY)
        if t is Quote:
            return self.on_quote(event.ts_ms, event.bid, event.bid_qty, event.ask, event.ask_qty)
        if t is PerpTicker:
            return self.on_ticker(event.ts_ms, event.mark_price)
        return _EMPTY

    def advance_to(self, ts_ms: int) -> tuple:
        """Let time pass without market data (a timer tick): applies delayed commands now due."""
        out: list = []
        if ts_ms >= self._due_ms:
            self._process_due(ts_ms, out)
        if ts_ms > self._ts:
            self._ts = ts_ms
        return tuple(out) if out else _EMPTY

    def _trade_slow(self, ts: int, price: float, qty: float) -> tuple:
        out: list = []
        if ts >= self._due_ms:
            self._process_due(ts, out)  # commands take effect before the print they precede
        self._ts = ts
        self._last = price
        if price < self._best_buy or price > self._best_sell:
            out.extend(self._match_trade(ts, price, qty))
        if self._grid is not None:
            for fill in self._grid.on_price(ts, price):
                out.extend(self.apply_grid_fill(fill))
        return tuple(out) if out else _EMPTY

    def _quote_slow(self, ts: int, bid: float, bid_qty: float, ask: float, ask_qty: float) -> tuple:
        out: list = []
        if ts >= self._due_ms:
            self._process_due(ts, out)
        self._ts = ts
        self._bid = bid
        self._bid_qty = bid_qty
        self._ask = ask
        self._ask_qty = ask_qty
        self._has_bbo = True
        crossed_buy = 0 < ask < self._best_buy
        crossed_sell = bid > self._best_sell
        if crossed_buy or crossed_sell:
            batch = _Batch()
            before = self._balance_tuple()
            if crossed_buy:
                for o in self._buys:
                    if not ask < o.price_f:
                        break
                    self._fill(o, ts, o.price, o.remaining, True, batch)
            if crossed_sell:
                for o in self._sells:
                    if not bid > o.price_f:
                        break
                    self._fill(o, ts, o.price, o.remaining, True, batch)
            self._rebuild_book()
            out.extend(self._emit(batch, ts, before))
        return tuple(out) if out else _EMPTY

    def _match_trade(self, ts: int, price: float, qty: float) -> tuple:
        """Resting orders traded through: fill at our price, up to the print's size."""
        step = self.spot.qty_step
        batch = _Batch()
        before = self._balance_tuple()
        size = _d(qty)
        for book, through in ((self._buys, lambda p: price < p), (self._sells, lambda p: price > p)):
            budget = size
            for o in book:
                if not through(o.price_f):
                    break
                take = min(o.remaining, (budget // step) * step)
                if take <= 0:
                    break
                self._fill(o, ts, o.price, take, True, batch)
                budget -= take
        self._rebuild_book()
        return self._emit(batch, ts, before)

    # ------------------------------------------------------------------ commands

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
            o = _Order(command.request, order_id, 0, ts, ts)
            self._pending[o.client_id] = o
        due = ts + self.latency_ms
        self._queue.append((due, command, ts, order_id))
        if due < self._due_ms:
            self._due_ms = due
        return _EMPTY

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
        self._due_ms = q[0][0] if q else _INF

    def _late_reject(self, command: object, ts: int, submit_ts: int, order_id: str, r: _Reject) -> tuple:
        """A delayed command failed when it took effect: the engine already holds an ack."""
        if isinstance(command, PlaceOrder):
            self._pending.pop(command.request.client_id, None)
            o = _Order(command.request, order_id, self._next_seq(), submit_ts, ts)
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
        o = _Order(req, order_id or self._new_order_id(), self._next_seq(), submit_ts, ts)
        self._store(o)
        batch = _Batch()
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
        batch = _Batch()
        batch.touch(o)
        return self._emit(batch, ts, before)

    def _apply_cancel_all(self, ts: int) -> tuple:
        before = self._balance_tuple()
        batch = _Batch()
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
        batch = _Batch()
        bid, ask = self.touch()
        crosses = self._crosses(o.side, price, bid, ask)
        if o.tif is TimeInForce.POST_ONLY and crosses:
            self._cancel(o, ts)
            o.reject_reason = codes.POST_ONLY_WOULD_TAKE
        else:
            if price != o.price or qty > o.qty:
                o.seq = self._next_seq()  # Bybit: a new price or a larger size loses queue priority
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

    def _cancel(self, o: _Order, ts: int) -> None:
        self._unlock(o)
        o.status = OrderStatus.CANCELLED
        o.updated_ms = ts

    def _unlock(self, o: _Order) -> None:
        coin = self.spot.quote if o.side is Side.BUY else self.spot.base
        bal = self._bal[coin]
        bal[0] += o.locked
        bal[1] -= o.locked
        o.locked = ZERO

    # matching -----------------------------------------------------------------------------

    def touch(self) -> tuple[Decimal | None, Decimal | None]:
        """Current (bid, ask) on the tick grid: the last quote, else last trade +/- spread."""
        inst = self.spot
        if self._has_bbo:
            bid = inst.round_price(_d(self._bid), Side.BUY) if self._bid > 0 else None
            ask = inst.round_price(_d(self._ask), Side.SELL) if self._ask > 0 else None
            return bid, ask
        if self._last is None:
            return None, None
        last = _d(self._last)
        spread = inst.tick_size * self.synthetic_spread_ticks
        bid = inst.round_price(last, Side.BUY) - spread
        ask = inst.round_price(last, Side.SELL) + spread
        return (bid if bid > 0 else None), ask

    @staticmethod
    def _crosses(side: Side, price: Decimal, bid: Decimal | None, ask: Decimal | None) -> bool:
        if side is Side.BUY:
            return ask is not None and price >= ask
        return bid is not None and price <= bid

    def _level_size(self, size: float) -> Decimal | None:
        """Depth per tick when walking the book; None means unlimited (no usable size)."""
        if not self._has_bbo:
            return None
        step = self.spot.qty_step
        lvl = (_d(size) // step) * step
        return lvl if lvl > 0 else None

    def _take(self, o: _Order, ts: int, bid: Decimal | None, ask: Decimal | None, batch: _Batch) -> None:
        """Taker fills: the touch's size, then the same size per tick beyond, up to the limit."""
        tick = self.spot.tick_size
        if o.side is Side.BUY:
            price, level, step = ask, self._level_size(self._ask_qty), tick
        else:
            price, level, step = bid, self._level_size(self._bid_qty), -tick
        while price is not None and price > 0 and o.remaining > 0:
            if (o.side is Side.BUY and price > o.price) or (o.side is Side.SELL and price < o.price):
                break
            q = o.remaining if level is None else min(o.remaining, level)
            self._fill(o, ts, price, q, False, batch)
            if level is None:
                break
            price += step

    def _fill(self, o: _Order, ts: int, price: Decimal, qty: Decimal, is_maker: bool, batch: _Batch) -> None:
        inst = self.spot
        rate = self.fees.spot_maker if is_maker else self.fees.spot_taker
        base = self._bal[inst.base]
        quote = self._bal[inst.quote]
        notional = price * qty
        if o.side is Side.BUY:
            fee, fee_coin = qty * rate, inst.base
            release = qty * o.price  # locked at the order price; any price improvement is refunded
            quote[1] -= release
            o.locked -= release
            quote[0] += release - notional
            base[0] += qty - fee
        else:
            fee, fee_coin = notional * rate, inst.quote
            base[1] -= qty
            o.locked -= qty
            quote[0] += notional - fee
        o.filled += qty
        o.value += notional
        o.updated_ms = ts
        o.status = OrderStatus.FILLED if o.filled == o.qty else OrderStatus.PARTIALLY_FILLED
        fill = Fill(
            ts_ms=ts, exec_id=self._new_exec_id(), symbol=inst.symbol, side=o.side, price=price,
            qty=qty, fee=fee, fee_coin=fee_coin, is_maker=is_maker, leg=Leg.SPOT,
            client_id=o.client_id, order_id=o.order_id,
        )
        self._fills.append(fill)
        if len(self._fills) > self.history_limit + self.history_limit // 8:
            del self._fills[: len(self._fills) - self.history_limit]  # trimmed in chunks: O(1) amortised
        batch.fills.append(fill)
        batch.touch(o)

    def _rebuild_book(self) -> None:
        """Keep resting orders in priority order and the float thresholds of the hot path."""
        self._buys = sorted((o for o in self._buys if o.status.is_open), key=lambda o: (-o.price, o.seq))
        self._sells = sorted((o for o in self._sells if o.status.is_open), key=lambda o: (o.price, o.seq))
        self._best_buy = self._buys[0].price_f if self._buys else _NINF
        self._best_sell = self._sells[0].price_f if self._sells else _INF

    # ------------------------------------------------------------------ linear leg (grid)

    def apply_grid_fill(self, fill: Fill) -> tuple:
        """Apply an external linear fill (the simulated grid) to the futures position.

        The fee is charged at this exchange's linear maker/taker rate in the quote coin (the
        passed-through ``FillEvent`` carries it) so every fill on the account uses one schedule.
        """
        if fill.leg is not Leg.LINEAR:
            raise ValueError(f"apply_grid_fill takes linear fills, got {fill.leg.value}")
        ts = fill.ts_ms
        rate = self.fees.linear_maker if fill.is_maker else self.fees.linear_taker
        fee = fill.qty * fill.price * rate
        fill = replace(fill, fee=fee, fee_coin=self.linear.quote,
                       exec_id=fill.exec_id or self._new_exec_id(),
                       symbol=fill.symbol or self.linear.symbol)
        before = self._balance_tuple()
        realised = self._apply_position(fill.side.sign, fill.qty, fill.price)
        self._realised += realised
        self._linear_fees += fee
        if self.settle_linear_in_quote:
            self._bal.setdefault(self.linear.quote, [ZERO, ZERO])[0] += realised - fee
        if ts > self._ts:
            self._ts = ts
        out: list = [FillEvent(fill)]
        after = self._balance_tuple()
        if after != before:
            out.append(BalanceUpdate(ts, after))
        out.append(PositionUpdate(ts, self.position()))
        return tuple(out)

    def _apply_position(self, direction: int, qty: Decimal, price: Decimal) -> Decimal:
        """One-way position: adds average the entry; reductions realise (price-entry)*closed."""
        size, entry = self._pos_size, self._pos_entry
        signed = qty if direction > 0 else -qty
        if size == 0 or (size > 0) == (direction > 0):
            new = size + signed
            self._pos_entry = (abs(size) * entry + qty * price) / abs(new)
            self._pos_size = new
            return ZERO
        closed = min(qty, abs(size))
        realised = (price - entry) * closed * (1 if size > 0 else -1)
        new = size + signed
        if new == 0:
            self._pos_entry = ZERO
        elif (new > 0) != (size > 0):
            self._pos_entry = price  # flipped: the rest opens at this fill's price
        self._pos_size = new
        return realised

    # ------------------------------------------------------------------ queries

    @property
    def now_ms(self) -> int:
        """Market time: the timestamp of the last event processed."""
        return self._ts

    @property
    def last_price(self) -> float | None:
        return self._last

    @property
    def realised_pnl(self) -> Decimal:
        return self._realised

    @property
    def linear_fees(self) -> Decimal:
        return self._linear_fees

    @property
    def grid(self) -> GridLike | None:
        return self._grid

    @grid.setter
    def grid(self, grid: GridLike | None) -> None:
        self._grid = grid
        self._grid_quiet = _quiet_test(grid)

    def balances(self) -> tuple[Balance, ...]:
        return self._balance_tuple()

    def balance(self, coin: str) -> Balance:
        free, locked = self._bal.get(coin, (ZERO, ZERO))
        return Balance(coin, free, locked)

    def mark_price(self) -> Decimal:
        """Futures mark: the last PerpTicker, else the last spot trade, else the entry price."""
        if self._mark is not None:
            return _d(self._mark)
        if self._last is not None:
            return _d(self._last)
        return self._pos_entry

    def position(self) -> Position:
        mark = self.mark_price()
        return Position(
            symbol=self.linear.symbol, size=self._pos_size, entry_price=self._pos_entry,
            mark_price=mark, unrealised_pnl=(mark - self._pos_entry) * self._pos_size,
        )

    def order(self, client_id: str) -> Order | None:
        o = self._orders.get(client_id) or self._pending.get(client_id)
        return o.snapshot() if o is not None else None

    def open_orders(self) -> tuple[Order, ...]:
        """Open orders (and accepted-but-delayed placements), oldest first."""
        out = [o.snapshot() for o in self._orders.values() if o.status.is_open]
        out.extend(o.snapshot() for o in self._pending.values())
        return tuple(out)

    def fills(self, since_ms: int = 0) -> tuple[Fill, ...]:
        """Our spot fills at or after ``since_ms``, oldest first (bounded by ``history_limit``)."""
        return tuple(f for f in self._fills if f.ts_ms >= since_ms)

    def equity_quote(self, price: Decimal | float | None = None) -> Decimal:
        """Account value in quote: spot base x price + quote + futures unrealised P&L at price.

        ``price`` defaults to the last trade. Realised linear P&L and fees are already in the
        quote balance when they settle there; otherwise they are added here.
        """
        if price is None:
            if self._last is None:
                raise ValueError("no price yet: pass one")
            price = self._last
        p = _d(price)
        base = self._bal.get(self.spot.base, (ZERO, ZERO))
        quote = self._bal.get(self.spot.quote, (ZERO, ZERO))
        eq = (base[0] + base[1]) * p + quote[0] + quote[1] + (p - self._pos_entry) * self._pos_size
        if not self.settle_linear_in_quote:
            eq += self._realised - self._linear_fees
        return eq

    # ------------------------------------------------------------------ internals

    def _balance_tuple(self) -> tuple[Balance, ...]:
        return tuple(Balance(c, v[0], v[1]) for c, v in sorted(self._bal.items()))

    def _emit(self, batch: _Batch, ts: int, before: tuple[Balance, ...]) -> tuple:
        out: list = [OrderUpdate(o.updated_ms, o.snapshot()) for o in batch.orders.values()]
        out.extend(FillEvent(f) for f in batch.fills)
        after = self._balance_tuple()
        if after != before:
            out.append(BalanceUpdate(ts, after))
        return tuple(out)

    def _store(self, o: _Order) -> None:
        self._orders[o.client_id] = o
        if len(self._orders) > self.history_limit + self.history_limit // 8:
            # forget the oldest closed orders, in chunks (open ones are always kept)
            excess = len(self._orders) - self.history_limit
            for cid in [c for c, x in self._orders.items() if not x.status.is_open][:excess]:
                del self._orders[cid]

    def _new_order_id(self) -> str:
        self._order_seq += 1
        return f"P{self.id_prefix}{self._order_seq:010d}"

    def _new_exec_id(self) -> str:
        self._exec_seq += 1
        return f"PX{self.id_prefix}{self._exec_seq:010d}"

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    # ------------------------------------------------------------------ persistence

    def to_state(self) -> dict:
        """Everything needed to resume: JSON-safe, Decimals as strings (the grid too, if it saves)."""
        return {
            "version": STATE_VERSION,
            "spot": _instrument_to_dict(self.spot),
            "linear": _instrument_to_dict(self.linear),
            "fees": {k: str(getattr(self.fees, k)) for k in FeeSchedule.__slots__},
            "latency_ms": self.latency_ms,
            "synthetic_spread_ticks": self.synthetic_spread_ticks,
            "settle_linear_in_quote": self.settle_linear_in_quote,
            "history_limit": self.history_limit,
            "balances": {c: {"free": str(v[0]), "locked": str(v[1])} for c, v in self._bal.items()},
            "position": {
                "size": str(self._pos_size), "entry_price": str(self._pos_entry),
                "realised_pnl": str(self._realised), "fees": str(self._linear_fees),
                "mark": self._mark,
            },
            "orders": [o.to_dict() for o in self._orders.values()],
            "pending": [o.to_dict() for o in self._pending.values()],
            "fills": [_fill_to_dict(f) for f in self._fills],
            "market": {
                "ts_ms": self._ts, "last": self._last, "has_bbo": self._has_bbo,
                "bbo": [self._bid, self._bid_qty, self._ask, self._ask_qty],
            },
            "queue": [[due, _command_to_dict(c), sts, oid] for due, c, sts, oid in self._queue],
            "counters": {"order": self._order_seq, "exec": self._exec_seq, "seq": self._seq},
            # the simulated grid, when it can save itself (GridBot.to_state), resumes with the account
            "grid": self._grid.to_state() if hasattr(self._grid, "to_state") else None,
        }

    @classmethod
    def from_state(cls, state: dict, *, grid: GridLike | None = None) -> "PaperExchange":
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported paper state version {state.get('version')!r}")
        ex = cls(
            spot=_instrument_from_dict(state["spot"]),
            linear=_instrument_from_dict(state["linear"]),
            balances={},
            fees=FeeSchedule(**{k: Decimal(v) for k, v in state["fees"].items()}),
            latency_ms=state["latency_ms"],
            synthetic_spread_ticks=state["synthetic_spread_ticks"],
            grid=grid,
            settle_linear_in_quote=state["settle_linear_in_quote"],
            history_limit=state["history_limit"],
        )
        ex._bal = {c: [Decimal(v["free"]), Decimal(v["locked"])] for c, v in state["balances"].items()}
        pos = state["position"]
        ex._pos_size = Decimal(pos["size"])
        ex._pos_entry = Decimal(pos["entry_price"])
        ex._realised = Decimal(pos["realised_pnl"])
        ex._linear_fees = Decimal(pos["fees"])
        ex._mark = pos["mark"]
        ex._orders = {d["client_id"]: _Order.from_dict(d) for d in state["orders"]}
        ex._pending = {d["client_id"]: _Order.from_dict(d) for d in state["pending"]}
        ex._buys = [o for o in ex._orders.values() if o.status.is_open and o.side is Side.BUY]
        ex._sells = [o for o in ex._orders.values() if o.status.is_open and o.side is Side.SELL]
        ex._rebuild_book()
        ex._fills = [_fill_from_dict(d) for d in state["fills"]]
        m = state["market"]
        ex._ts = m["ts_ms"]
        ex._last = m["last"]
        ex._has_bbo = m["has_bbo"]
        ex._bid, ex._bid_qty, ex._ask, ex._ask_qty = m["bbo"]
        ex._queue = deque((due, _command_from_dict(c), sts, oid) for due, c, sts, oid in state["queue"])
        ex._due_ms = ex._queue[0][0] if ex._queue else _INF
        c = state["counters"]
        ex._order_seq, ex._exec_seq, ex._seq = c["order"], c["exec"], c["seq"]
        return ex

    def save(self, path: str | os.PathLike) -> None:
        """Atomic write (temp file in the same folder, fsync, os.replace): never a torn file."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps(self.to_state(), indent=1, sort_keys=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise

    @classmethod
    def load(cls, path: str | os.PathLike, *, grid: GridLike | None = None) -> "PaperExchange":
        with open(path, encoding="utf-8") as fh:
            return cls.from_state(json.load(fh), grid=grid)


# ---------------------------------------------------------------------- (de)serialisation helpers


def _instrument_to_dict(i: Instrument) -> dict:
    return {
        "symbol": i.symbol, "base": i.base, "quote": i.quote, "tick_size": str(i.tick_size),
        "qty_step": str(i.qty_step), "min_qty": str(i.min_qty), "min_notional": str(i.min_notional),
        "max_qty": str(i.max_qty), "leg": i.leg.value,
    }


def _instrument_from_dict(d: dict) -> Instrument:
    return Instrument(
        symbol=d["symbol"], base=d["base"], quote=d["quote"], tick_size=Decimal(d["tick_size"]),
        qty_step=Decimal(d["qty_step"]), min_qty=Decimal(d["min_qty"]),
        min_notional=Decimal(d["min_notional"]), max_qty=Decimal(d["max_qty"]), leg=Leg(d["leg"]),
    )


def _fill_to_dict(f: Fill) -> dict:
    return {
        "ts_ms": f.ts_ms, "exec_id": f.exec_id, "symbol": f.symbol, "side": f.side.value,
        "price": str(f.price), "qty": str(f.qty), "fee": str(f.fee), "fee_coin": f.fee_coin,
        "is_maker": f.is_maker, "leg": f.leg.value, "client_id": f.client_id,
        "order_id": f.order_id, "source": f.source,
    }


def _fill_from_dict(d: dict) -> Fill:
    return Fill(
        ts_ms=d["ts_ms"], exec_id=d["exec_id"], symbol=d["symbol"], side=Side(d["side"]),
        price=Decimal(d["price"]), qty=Decimal(d["qty"]), fee=Decimal(d["fee"]),
        fee_coin=d["fee_coin"], is_maker=d["is_maker"], leg=Leg(d["leg"]),
        client_id=d["client_id"], order_id=d["order_id"], source=d["source"],
    )


def _command_to_dict(c: object) -> dict:
    if isinstance(c, PlaceOrder):
        r = c.request
        return {"type": "place", "client_id": r.client_id, "symbol": r.symbol, "side": r.side.value,
                "qty": str(r.qty), "price": str(r.price), "tif": r.tif.value, "leg": r.leg.value,
                "reason": r.reason}
    if isinstance(c, CancelOrder):
        return {"type": "cancel", "client_id": c.client_id, "reason": c.reason}
    if isinstance(c, AmendOrder):
        return {"type": "amend", "client_id": c.client_id, "price": str(c.price),
                "qty": None if c.qty is None else str(c.qty)}
    if isinstance(c, CancelAllOurs):
        return {"type": "cancel_all", "reason": c.reason}
    raise TypeError(f"not a command: {c!r}")


def _command_from_dict(d: dict) -> object:
    t = d["type"]
    if t == "place":
        return PlaceOrder(OrderRequest(d["client_id"], d["symbol"], Side(d["side"]), Decimal(d["qty"]),
                                       Decimal(d["price"]), TimeInForce(d["tif"]), Leg(d["leg"]), d["reason"]))
    if t == "cancel":
        return CancelOrder(d["client_id"], d["reason"])
    if t == "amend":
        return AmendOrder(d["client_id"], Decimal(d["price"]), None if d["qty"] is None else Decimal(d["qty"]))
    if t == "cancel_all":
        return CancelAllOurs(d["reason"])
    raise ValueError(f"unknown command type {t!r}")
