"""Execution of one rebalance: maker (post-only at our side of the touch) → chase → taker.

Whether to rest at all is the desk's choice (``execution.style``); in ``auto`` the execution
asks again once a second while it rests, and takes when resting stopped being cheaper.

A small state machine that emits venue commands and consumes order updates. It never has
more than one order alive, never sends a size larger than what is left of the plan or of the
current gap, and never sends a taker order without a price bound (IOC limit at the touch ±
the slippage cap, tightened by a trader-approved price limit when there is one).

Every size and price it sends is an exact Decimal on the instrument's grid; when rounding
leaves an order under the venue minimums it sends nothing and says why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from enum import Enum

from core.account import closing_room
from core.config import ExecutionConfig
from core.events import CancelOrder, Command, PlaceOrder
from core.execution_choice import CostEstimate
from core.model import Decision, Instrument, Order, OrderRequest, OrderStatus, Side, TimeInForce
from core.values import value_type
from core.venues import bybit_codes as codes

ZERO = Decimal(0)
MAX_POST_ONLY_RETRIES = 20
RECHOOSE_MS = 1_000  # execution.style auto: how often a resting order's estimate is redone


class Phase(str, Enum):
    MAKER = "maker"
    TAKER = "taker"
    DONE = "done"


@value_type
class ExecutionPlan:
    rebalance_id: int
    side: Side
    qty: Decimal
    decision: Decision
    maker_first: bool
    taker_allowed: bool
    maker_wait_s: float
    price_limit: Decimal | None = None  # from a trader's approval: never trade beyond it
    path: str = "soft"  # soft | hard | simple | baseline | forced | gate
    rest_price: Decimal | None = None  # gate: rest here (or further from the touch), never chase


class RebalanceExecution:
    """Drives one rebalance from first order to done. ``gap_fn`` returns the current gap in
    base, so every (re)placement re-plans from the fresh gap and never overshoots."""

    # counters and state every execution starts with (class defaults: starting one is on the
    # live decision path, so it sets only what differs per execution)
    completed_filled: Decimal = ZERO  # filled qty of our finished orders (from order updates)
    fill_notional: Decimal = ZERO
    fees_quote = 0.0
    maker_fills = 0
    taker_fills = 0
    maker_done: Decimal = ZERO  # filled qty of our finished post-only orders (from order updates)
    taker_touch = 0.0  # the touch our taker order was priced from (its slippage is measured from it)
    attempt = 0
    chase_count = 0
    post_only_rejects = 0
    live: Order | None = None  # the one order we have at the venue (or in flight)
    live_request: OrderRequest | None = None
    cancelling = False
    after_cancel: str | None = None  # "chase" | "taker" | "done"
    outcome = ""
    orders_sent = 0

    def __init__(self, plan: ExecutionPlan, instrument: Instrument, cfg: ExecutionConfig, client_prefix: str,
                 now_ms: int, gap_fn: Callable[[], float],
                 size_cap: Callable[[int, float], float] | None = None,
                 rechoose: Callable[[float, float], CostEstimate] | None = None,
                 estimate: CostEstimate | None = None) -> None:
        self.plan = plan
        # execution.style auto: (wait left s, qty left) -> a fresh estimate, asked once a second
        # while resting; when it says take, the maker order is cancelled and the rest taken
        self.rechoose = rechoose
        self.estimate = estimate  # the estimate behind the current way of executing (auto only)
        self.last_choice_ms = now_ms
        self.size_cap = size_cap  # (now, price) -> largest size the risk caps allow at that price
        self.instrument = instrument
        self.cfg = cfg
        self.prefix = client_prefix
        self.gap_fn = gap_fn
        self.started_ms = now_ms
        self.maker_deadline_ms = now_ms + int(plan.maker_wait_s * 1000)
        self.phase = Phase.MAKER if plan.maker_first else Phase.TAKER
        self.rest_price = plan.rest_price  # the anchor gate's price (execution.rest_at_gate), moved by reprice
        self.last_chase_ms = now_ms
        self._tick = float(instrument.tick_size)

    # -- queries

    @property
    def done(self) -> bool:
        return self.phase is Phase.DONE

    @property
    def filled(self) -> Decimal:
        """Filled so far, from the venue's order updates (fills may be pushed after them)."""
        live = self.live
        return self.completed_filled + (live.filled_qty if live is not None else ZERO)

    @property
    def maker_filled(self) -> Decimal:
        """Of ``filled``, what our resting (post-only) orders filled: from order updates, which
        may come before the fills themselves."""
        live = self.live
        working = live.filled_qty if live is not None and live.tif is TimeInForce.POST_ONLY else ZERO
        return self.maker_done + working

    @property
    def remaining(self) -> Decimal:
        return self.plan.qty - self.filled

    def escalation_progress(self, now_ms: int) -> tuple[float, float] | None:
        """(fraction of the maker wait used, seconds left) while a maker order is working."""
        if self.phase is not Phase.MAKER or not self.plan.taker_allowed:
            return None
        total = self.maker_deadline_ms - self.started_ms
        if total <= 0:
            return (1.0, 0.0)
        used = min(1.0, max(0.0, (now_ms - self.started_ms) / total))
        return used, max(0.0, (self.maker_deadline_ms - now_ms) / 1000.0)

    # -- driving

    def start(self, now_ms: int, bid: float, ask: float) -> list[Command]:
        return self._place(now_ms, bid, ask)

    def on_time(self, now_ms: int, bid: float, ask: float) -> list[Command]:
        if self.done or self.cancelling or self.phase is not Phase.MAKER:
            return []
        if self._would_pass_the_target():
            return self._cancel_then("chase", "the gap shrank under the resting order: re-sized to it")
        if now_ms >= self.maker_deadline_ms:
            if self.plan.taker_allowed:
                return self.escalate(now_ms, bid, ask, f"maker wait over ({self.plan.maker_wait_s:.0f}s)")
            if self.rest_price is not None:
                return self.abort(now_ms, "gate wait over")
            return self.abort(now_ms, f"maker chase timed out after {self.plan.maker_wait_s:.0f}s, taker not allowed")
        if self.rechoose is not None and now_ms - self.last_choice_ms >= RECHOOSE_MS and self.plan.taker_allowed:
            self.last_choice_ms = now_ms
            est = self.estimate = self.rechoose((self.maker_deadline_ms - now_ms) / 1000.0, float(self.remaining))
            if not est.rests:
                return self.escalate(now_ms, bid, ask, f"estimate flipped: {est.summary()}")
        return self.on_touch(now_ms, bid, ask)

    def on_touch(self, now_ms: int, bid: float, ask: float) -> list[Command]:
        """Chase: re-quote when the touch moved away from our price by ≥ chase_ticks."""
        live = self.live
        if self.done or self.cancelling or live is None or self.phase is not Phase.MAKER:
            return []
        if not live.order_id:  # not acknowledged yet
            return []
        if self.rechoose is not None or self.rest_price is not None:
            # auto rests where it was placed: chasing buys the running extreme, and a filled
            # order costs the same however far the market left it (the estimate says why);
            # a gate order rests at the gate's price, moved only by ``reprice``
            return []
        if now_ms - self.last_chase_ms < self.cfg.chase_interval_s * 1000:
            return []
        our = float(live.price)
        away = (bid - our) if self.plan.side is Side.BUY else (our - ask)
        if away >= self.cfg.chase_ticks * self._tick - 1e-9:
            self.last_chase_ms = now_ms
            self.chase_count += 1
            return self._cancel_then("chase", f"chase: touch moved {away / self._tick:.0f} ticks away")
        return []

    def reprice(self, now_ms: int, price: Decimal, qty: Decimal | None, why: str) -> list[Command]:
        """A gate order follows the gate: cancel it and rest again at ``price`` (and ``qty``,
        the plan's new size, taken only while nothing has filled). Nothing while an order is
        in flight (not acknowledged yet, or a cancel pending): the next look does it."""
        live = self.live
        if (self.done or self.cancelling or self.phase is not Phase.MAKER or self.rest_price is None
                or live is None or not live.order_id):
            return []
        self.rest_price = price
        if qty is not None and self.filled == 0:
            self.plan = replace(self.plan, qty=qty)
        self.last_chase_ms = now_ms
        return self._cancel_then("chase", why)

    def escalate(self, now_ms: int, bid: float, ask: float, why: str) -> list[Command]:
        if self.done or self.phase is Phase.TAKER:
            return []
        self.phase = Phase.TAKER
        self.outcome = f"escalated to taker: {why}"
        if self.live is not None:
            return self._cancel_then("taker", why)
        return self._place(now_ms, bid, ask)

    def abort(self, now_ms: int, why: str) -> list[Command]:
        if self.done:
            return []
        if self.live is not None:
            self.outcome = why
            return self._cancel_then("done", why)
        self._finish(why)
        return []

    def on_order(self, order: Order, now_ms: int, bid: float, ask: float) -> list[Command]:
        live = self.live
        if live is None or order.client_id != live.client_id:
            return []
        self.live = order
        if order.status.is_open:
            return []
        # terminal: the order is gone at the venue
        self.completed_filled += order.filled_qty
        if order.tif is TimeInForce.POST_ONLY:
            self.maker_done += order.filled_qty
        self.live = None
        self.live_request = None
        was_cancelling, then = self.cancelling, self.after_cancel
        self.cancelling, self.after_cancel = False, None
        if order.status is OrderStatus.REJECTED:
            if order.reject_reason == codes.POST_ONLY_WOULD_TAKE and self.phase is Phase.MAKER:
                self.post_only_rejects += 1
                if self.post_only_rejects > MAX_POST_ONLY_RETRIES:
                    if self.plan.taker_allowed:
                        return self.escalate(now_ms, bid, ask, "post-only kept crossing")
                    self._finish("post-only kept crossing; taker not allowed")
                    return []
                return self._place(now_ms, bid, ask)  # re-quote at the fresh touch
            self._finish(f"rejected: {order.reject_reason or 'no reason given'}")
            return []
        if self._left_to_do() <= 0:
            if self.filled > 0:
                self._finish("filled" if not self.outcome else f"{self.outcome}; filled")
            else:
                self._finish("nothing left to trade (gap closed)")
            return []
        if was_cancelling:
            if then == "done":
                self._finish(self.outcome or "cancelled")
                return []
            return self._place(now_ms, bid, ask)  # "chase" or "taker"
        if order.tif is TimeInForce.IOC:
            # an IOC leaves only what could not fill within the price bound: re-plan later
            self._finish(f"taker IOC filled {self.filled} of {self.plan.qty}; rest left to the next decision")
            return []
        if order.status is OrderStatus.CANCELLED:
            self._finish(f"cancelled by the venue or the user ({order.reject_reason or 'no reason'})")
            return []
        self._finish("filled")
        return []

    def on_fill(self, qty: Decimal, price: Decimal, fee_quote: float, is_maker: bool) -> None:
        """Fees and liquidity of an execution (sizes are tracked from order updates)."""
        self.fill_notional += qty * price
        self.fees_quote += fee_quote
        if is_maker:
            self.maker_fills += 1
        else:
            self.taker_fills += 1

    def on_rejected_send(self, client_id: str, reason: str) -> None:
        """The venue refused the place call itself (no order exists)."""
        if self.live is not None and self.live.client_id == client_id:
            self.live = None
            self.live_request = None
            self._finish(f"rejected: {reason}")

    # -- internals

    def _left_to_do(self) -> Decimal:
        """What may still be traded: the plan's remainder, bounded by the current gap."""
        side_gap = closing_room(self.gap_fn(), self.plan.side)  # positive while this side still helps
        if side_gap <= 0:
            return ZERO
        round_qty = self.instrument.round_qty
        bound = round_qty(side_gap)
        live = self.live
        if self.completed_filled or (live is not None and live.filled_qty):
            rem = round_qty(self.remaining)
        else:
            rem = self.plan.qty  # nothing filled yet: the plan's size, already on the qty grid
        left = bound if bound < rem else rem
        return left if left > 0 else ZERO

    def _would_pass_the_target(self) -> bool:
        """A resting order whose unfilled part, filled now, would take the gap past the target
        by more than a step: the gap shrank under it (the grid traded our way, the target
        moved). Filled as it rests, the part past the target is a trade the wrong way; it is
        cancelled and placed again at the gap's size (``_left_to_do``), or not at all when the
        gap has closed. The new order is no larger than the gap, so only a further shrink
        moves it again."""
        live = self.live
        if live is None or not live.order_id:  # in flight: looked at once acknowledged
            return False
        unfilled = float(live.qty - live.filled_qty)
        room = closing_room(self.gap_fn(), self.plan.side)
        return unfilled > room + float(self.instrument.qty_step)

    def _cancel_then(self, then: str, why: str) -> list[Command]:
        assert self.live is not None
        self.cancelling = True
        self.after_cancel = then
        return [CancelOrder(self.live.client_id, reason=why)]

    def _finish(self, why: str) -> None:
        self.phase = Phase.DONE
        self.outcome = why

    def _place(self, now_ms: int, bid: float, ask: float) -> list[Command]:
        qty = self._left_to_do()
        if qty <= 0:
            self._finish(self.outcome or "nothing left to trade (gap closed)")
            return []
        side = self.plan.side
        ins = self.instrument
        if self.phase is Phase.MAKER:
            price = ins.round_price(bid if side is Side.BUY else ask, side, passive=True)
            rest = self.rest_price
            if rest is not None:  # at the gate's price, or further out when the touch is past it
                price = (rest if rest < price else price) if side is Side.BUY else (rest if rest > price else price)
            tif = TimeInForce.POST_ONLY
        else:
            cap = self.cfg.slippage_cap_bps / 1e4
            self.taker_touch = ask if side is Side.BUY else bid
            raw = ask * (1.0 + cap) if side is Side.BUY else bid * (1.0 - cap)
            price = ins.round_price(raw, side, passive=True)
            tif = TimeInForce.IOC
        limit = self.plan.price_limit
        if limit is not None:
            if side is Side.BUY and price > limit:
                price = limit
            elif side is Side.SELL and price < limit:
                price = limit
        if price <= 0:
            self._finish("no valid price")
            return []
        if self.size_cap is not None:
            # size against the worst price for notional: a buy never fills above its limit, a
            # maker sell at its own price, but a taker sell at whatever bid it meets on arrival:
            # the bid seen now plus the slippage cap (a move up while the order travels)
            cap_price = float(price)
            if side is Side.SELL and self.phase is Phase.TAKER:
                cap_price = max(cap_price, bid) * (1.0 + self.cfg.slippage_cap_bps / 1e4)
            room = self.size_cap(now_ms, cap_price)
            if not room >= float(qty):  # else room rounds down to qty or more (qty is on the grid)
                capped = ins.round_qty(room)
                if capped < qty:
                    qty = capped
                    self.outcome = self.outcome or "size capped by the notional limits at the order price"
        problem = ins.order_problem(qty, price)
        if problem:
            self._finish(f"no order: {problem}")
            return []
        self.attempt += 1
        client_id = f"{self.prefix}{self.plan.rebalance_id}-{self.attempt}"
        req = OrderRequest(client_id=client_id, symbol=ins.symbol, side=side, qty=qty, price=price, tif=tif,
                           reason="gate maker: rests at the anchor gate's price" if self.rest_price is not None
                           and tif is TimeInForce.POST_ONLY
                           else f"{self.plan.path} {'maker' if tif is TimeInForce.POST_ONLY else 'taker'}")
        self.live_request = req
        self.live = Order(client_id=client_id, order_id="", symbol=ins.symbol, side=side, qty=qty, price=price,
                          tif=tif, status=OrderStatus.NEW, created_ms=now_ms, updated_ms=now_ms)
        self.orders_sent += 1
        return [PlaceOrder(req)]
