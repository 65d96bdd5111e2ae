"""How our resting and incoming orders fill against the market (the paper exchange's book).

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
  ticks and the taker fills entirely at it.
"""

from __future__ import annotations

from decimal import Decimal

from core.events import BalanceUpdate, FillEvent, OrderUpdate
from core.model import Balance, Fill, Leg, Order, OrderStatus, Side
from core.venues.paper_exchange.orders import EMPTY, INF, NINF, Batch, BookOrder, dec


class Matching:
    """Part of ``PaperExchange``: the slow path of market data (a print or quote that may fill
    us), taker fills, the resting book (``_buys`` / ``_sells`` and the float thresholds
    ``_best_buy`` / ``_best_sell`` the hot path compares with), our order and fill history,
    and the id counters."""

    __slots__ = ()

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
        return tuple(out) if out else EMPTY

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
            batch = Batch()
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
        return tuple(out) if out else EMPTY

    def _match_trade(self, ts: int, price: float, qty: float) -> tuple:
        """Resting orders traded through: fill at our price, up to the print's size."""
        step = self.spot.qty_step
        batch = Batch()
        before = self._balance_tuple()
        size = dec(qty)
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

    # matching -----------------------------------------------------------------------------

    def touch(self) -> tuple[Decimal | None, Decimal | None]:
        """Current (bid, ask) on the tick grid: the last quote, else last trade +/- spread."""
        inst = self.spot
        if self._has_bbo:
            bid = inst.round_price(dec(self._bid), Side.BUY) if self._bid > 0 else None
            ask = inst.round_price(dec(self._ask), Side.SELL) if self._ask > 0 else None
            return bid, ask
        if self._last is None:
            return None, None
        last = dec(self._last)
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
        lvl = (dec(size) // step) * step
        return lvl if lvl > 0 else None

    def _take(self, o: BookOrder, ts: int, bid: Decimal | None, ask: Decimal | None, batch: Batch) -> None:
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

    def _fill(self, o: BookOrder, ts: int, price: Decimal, qty: Decimal, is_maker: bool, batch: Batch) -> None:
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
        self._best_buy = self._buys[0].price_f if self._buys else NINF
        self._best_sell = self._sells[0].price_f if self._sells else INF

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

    def _emit(self, batch: Batch, ts: int, before: tuple[Balance, ...]) -> tuple:
        out: list = [OrderUpdate(o.updated_ms, o.snapshot()) for o in batch.orders.values()]
        out.extend(FillEvent(f) for f in batch.fills)
        after = self._balance_tuple()
        if after != before:
            out.append(BalanceUpdate(ts, after))
        return tuple(out)

    def _store(self, o: BookOrder) -> None:
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
