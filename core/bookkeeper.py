"""The bookkeeper: what the venue reports about the account, booked once.

Balance and position pushes overwrite the account book; between them, our orders' filled
quantities, base-coin fees, the grid's futures fills and someone else's spot fills move its
running estimate. Every change closes the time-weighted gap statistics first and asks for a
fresh decision after. Bad reports are refused (counted and said), repeats applied once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.account import AccountBook, finite
from core.events import BalanceUpdate, Command, PositionUpdate, Reconciled, VenueProblem
from core.model import Fill, Leg, Order, OrderStatus
from core.state import FillView

if TYPE_CHECKING:
    from core.rebalancer import Rebalancer

EMPTY: tuple = ()


class Bookkeeper:
    def __init__(self, reb: Rebalancer) -> None:
        self.reb = reb
        self.last_wallet_ms: int | None = None  # the venue's time of the last balance push

    def _clock(self, ts_ms: int) -> None:
        if ts_ms > self.reb.now_ms:
            self.reb.now_ms = ts_ms

    def _changes(self) -> AccountBook:
        """Before the account moves: close the gap statistics up to now, and re-decide after."""
        r = self.reb
        r.gap_stats.settle(r.now_ms)
        r.dirty = True
        return r.book

    def _changed(self) -> list[Command]:
        r = self.reb
        r.gap_stats.refresh(r.book.gap_base(r.price))
        if r.writes_snapshots:  # the record's gap moves when the account does, as the statistics' does
            self.write_snapshot(r.now_ms)
        return EMPTY

    def on_balances(self, ev: BalanceUpdate) -> list[Command]:
        r = self.reb
        r.stats.events += 1
        for b in ev.balances:
            if not finite(b.free, b.locked) or b.free < 0 or b.locked < 0:
                return r.bad(f"balance update with {b.coin} {b.free}/{b.locked} skipped")
        self._clock(ev.ts_ms)
        book, ins = self._changes(), r.instrument
        first = not book.balances_ok
        book.apply_balances(ev.balances, ins.base, ins.quote, own_locked=r.orders.locked())
        if ev.made_ms is not None and (self.last_wallet_ms is None or ev.made_ms > self.last_wallet_ms):
            self.last_wallet_ms = ev.made_ms  # a REST read says nothing of when it was made: kept
        if first:
            r.note("info", f"balances confirmed: {book.spot_total:.6f} {ins.base}, "
                           f"{book.quote_free + book.quote_locked:,.2f} {ins.quote}")
        return self._changed()

    def _in_the_last_wallet(self, ts_ms: int | None) -> bool:
        """A wallet push already holds what happened at ``ts_ms``: one made strictly after it
        (both the venue's times; a REST read is not stamped with when it was made, and the
        paper exchange's topics come in order). Bybit's order and wallet topics come in either
        order; a fill the wallet already holds, booked again, showed a gap the size of the
        rebalance the other way, and the next decision traded it back."""
        wallet_ms = self.last_wallet_ms
        return wallet_ms is not None and ts_ms is not None and wallet_ms > ts_ms

    def on_position(self, ev: PositionUpdate) -> list[Command]:
        r = self.reb
        r.stats.events += 1
        p = ev.position
        if not finite(p.size, p.entry_price, p.mark_price, p.unrealised_pnl) or p.entry_price < 0:
            return r.bad(f"position update size {p.size} entry {p.entry_price} skipped")
        self._clock(ev.ts_ms)
        self._changes().apply_position(p, r.price)
        return self._changed()

    def on_order(self, ts_ms: int, order: Order) -> list[Command]:
        r = self.reb
        r.stats.events += 1
        if order.leg is not Leg.SPOT or not r.orders.is_ours(order.client_id):
            return EMPTY
        self._clock(ts_ms)
        booked = r.orders.on_update(order)
        if booked is None:
            return EMPTY  # a repeated or late update of an order that already finished
        adopted, changed, filled = booked
        if adopted:  # ours by prefix, not sent by this session (adopted at start-up, another session's)
            r.bad(f"update for order {order.client_id} not sent by this session ({order.status.value}, "
                  f"filled {order.filled_qty}): tracked, its past fills left to the balance push")
        if changed:
            r.rec.order(ts_ms, order, order.status.value)
        if filled is not None and not self._in_the_last_wallet(order.updated_ms):
            # applied to our spot estimate now; the balance push confirms it
            self._changes().spot_traded(order.side, filled)
            self._changed()
        if order.status is OrderStatus.REJECTED:
            r.note("warning", f"order {order.client_id} rejected: {order.reject_reason}")
        return r.desk.on_order(order, ts_ms)

    def on_venue_error(self, ev: VenueProblem) -> list[Command]:
        r = self.reb
        r.stats.events += 1
        r.note("error", f"venue error{f' {ev.code}' if ev.code else ''}: {ev.message}")
        r.rec.error(ev.ts_ms, ev.message, ev.code)
        if ev.client_id:  # the venue refused the call itself: no such order exists
            r.orders.forget(ev.client_id)
            return r.desk.rejected(ev.client_id, ev.message)
        return EMPTY

    def on_reconciled(self, ev: Reconciled) -> list[Command]:
        r = self.reb
        r.stats.events += 1
        r.note("info", f"reconciled ({ev.what}): {ev.detail}")
        r.rec.reconcile(ev.ts_ms, ev.what, ev.detail)
        return EMPTY

    def on_fill(self, fill: Fill) -> list[Command]:
        r = self.reb
        r.stats.events += 1
        self._clock(fill.ts_ms)
        # a negative fee is a maker rebate (Bybit sends it as a negative execFee): booked, not refused
        if not finite(fill.price, fill.qty, fill.fee) or fill.price <= 0 or fill.qty <= 0:
            return r.bad(f"fill {fill.exec_id} with price {fill.price} qty {fill.qty} fee {fill.fee} skipped")
        if not r.orders.first_time(fill.exec_id):
            r.duplicate_fills += 1  # a reconnect replay or REST backfill: counted, applied once
            return r.bad(f"duplicate fill {fill.exec_id} ignored (already applied)")
        r.rec.fill(fill)
        price, qty = float(fill.price), float(fill.qty)
        book = self._changes()
        r.recent.add(fill.ts_ms, fill.side, qty, price)  # the anchors see every fill
        if fill.leg is Leg.LINEAR:  # the grid's (or anyone's) futures fill
            r.stats.grid_fills += 1
            book.futures_traded(fill.side, qty)
            r.desk.other_fill(fill.ts_ms, fill.side, qty)
            return self._changed()
        if not self._in_the_last_wallet(fill.ts_ms):  # a base-coin fee the wallet already holds: not again
            book.fee_paid(fill.fee_coin, float(fill.fee), r.instrument.base)
        if not r.orders.is_ours(fill.client_id):  # someone else's (manual) spot fill moves the wallet too
            book.spot_traded(fill.side, qty)
            r.desk.other_fill(fill.ts_ms, fill.side, qty)
            return self._changed()
        self._changed()  # ours: the spot moved with the order's filled quantity
        r.recent_fills.appendleft(FillView(fill.ts_ms, fill.side, str(fill.price), str(fill.qty), str(fill.fee),
                                           fill.fee_coin, fill.is_maker, fill.source))
        r.note("trade", f"fill {fill.side.value} {fill.qty} @ {fill.price} "
                        f"({'maker' if fill.is_maker else 'taker'}, fee {fill.fee} {fill.fee_coin})")
        return r.desk.on_fill(fill, price, qty)

    def take_markouts(self, ts_ms: int) -> None:
        """Maker fills whose markout horizon has passed: measured at the mid now, and recorded."""
        r = self.reb
        bid, ask = r.touch()
        mid = (bid + ask) * 0.5 if r.has_quotes else (r.price or 0.0)
        for exec_id, mid_after in r.costs.markouts.take(ts_ms, mid):
            r.rec.markout(ts_ms, exec_id, mid_after)

    def snapshot_row(self, ts_ms: int) -> None:
        """An account snapshot row for the journal, every 10 s of market time."""
        r = self.reb
        r.next_snapshot_ms = ts_ms - ts_ms % 10_000 + 10_000
        if r.writes_snapshots:
            self.write_snapshot(ts_ms)

    def write_snapshot(self, ts_ms: int) -> None:
        """The account now, as a snapshot row (once a price, the balances and the position are
        known: a row written between the balances and the position at a start valued the
        account without its futures, and a restart took that row's equity as its peak)."""
        r = self.reb
        b, price = r.book, r.price
        if price is None or not b.balances_ok or not b.position_ok:
            return
        r.rec.snapshot(ts_ms, spot_base=b.spot_total, quote=b.quote_free + b.quote_locked,
                       futures_size=b.futures_size, price=price, net_base=b.net_base,
                       equity_quote=b.equity_quote(price), target_base=b.target_base(price))
