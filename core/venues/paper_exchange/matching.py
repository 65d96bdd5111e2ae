"""How our resting and incoming orders fill against the market (the paper exchange's book).

The rules depend on the fill model (``fill_model.py`` says why; ``honest`` is the default):
- a resting limit order fills when the market trades *through* its price (buy: a print at
  least one tick below it, sell: above it; whoever the aggressor was), at the order price, as
  maker, up to the print's qty (shared by our orders in price-time priority); on bars the print
  must also pass it by ``bar_through_bps``, and fills only ``bar_volume_share`` of its qty;
- honest, on trades data with BBO: a print *at* its price whose aggressor hit our side first
  uses up the queue ahead of us (``BookOrder.ahead``), then fills us with what is left;
  optimistic: a print at our price never fills us (we are last in the queue);
- a quote whose ask is below our resting buy (or bid above our resting sell) fills the whole
  remainder at our price as maker: a real book cannot stay crossed with our order in it;
- a taker (IOC, or a GTC that crosses) fills at the touch. With BBO data it takes the top
  level's size at the touch, then the same size again at each successive tick beyond it,
  never past its limit; the book is not depleted by our fills (the next quote replaces it).
  Without BBO data the touch is the last trade ± the half-spread (honest: ``half_spread_bps``,
  at least a tick; optimistic: ``synthetic_spread_ticks`` ticks) and the taker fills entirely
  at it. Honest: a quote that a print over ``core.model.STALE_QUOTE_MS`` later has left counts
  as no BBO, so quotes that stop (quote bars for half the day) do not sell at a stale ask.
"""

from __future__ import annotations

from decimal import Decimal

from core.events import BalanceUpdate, FillEvent, OrderUpdate
from core.model import Balance, Fill, Leg, Order, OrderStatus, Side, quote_left_behind
from core.venues.paper_exchange.orders import EMPTY, INF, LEAST_PRICE, MOST_PRICE, NINF, ZERO, Batch, BookOrder, dec


class Matching:
    """Part of ``PaperExchange``: the slow path of market data (a print or quote that may fill
    us), taker fills, the resting book (``_buys`` / ``_sells`` and the float thresholds
    ``_best_buy`` / ``_best_sell`` the hot path compares with), our order and fill history,
    and the id counters."""

    __slots__ = ()

    def _trade_slow(self, ts: int, price: float, qty: float, taker_buy: bool = False) -> tuple:
        if not (0.0 < price < INF and 0.0 <= qty < INF):
            return EMPTY  # a print no market makes (NaN, inf, non-positive): ignored, as the rebalancer does
        out: list = []
        if ts >= self._due_ms:
            self._process_due(ts, out)  # commands take effect before the print they precede
        self._ts = self._trade_ts = ts
        self._last = price
        if price < self._buy_gate or price > self._sell_gate:
            out.extend(self._match_trade(ts, price, qty, taker_buy))
        if self._grid is not None:
            for fill in self._grid.on_price(ts, price):
                out.extend(self.apply_grid_fill(fill))
        return tuple(out) if out else EMPTY

    def _quote_slow(self, ts: int, bid: float, bid_qty: float, ask: float, ask_qty: float) -> tuple:
        if not (0.0 < bid < INF and 0.0 < ask < INF):
            return EMPTY  # NaN, inf or non-positive: ignored, as the rebalancer does
        out: list = []
        if ts >= self._due_ms:
            self._process_due(ts, out)
        self._ts = self._quote_ts = ts
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

    def _match_trade(self, ts: int, price: float, qty: float, taker_buy: bool = False) -> tuple:
        """Resting orders the print reaches: through them, fill at our price up to its size (on
        bars a share of it); at their price (honest, trades data), the queue ahead goes first."""
        step = self.spot.qty_step
        fm = self._fill_model
        half = self._half_tick if fm.honest else 0.0
        queue = fm.queue
        batch = Batch()
        before = self._balance_tuple()
        size = dec(qty)
        margin = 0.0  # bars: how far past our price a print must go, as a fraction of it
        if fm.honest and fm.bars:
            size *= dec(fm.bar_volume_share)
            margin = fm.bar_through_bps / 1e4
        # a resting buy is reached by prints below it (at it: by sellers), a sell by prints above
        for book, sign, hits_us in ((self._buys, 1.0, not taker_buy), (self._sells, -1.0, taker_buy)):
            budget = size
            for o in book:
                into = (o.price_f - price) * sign  # how far the print went past our price
                through = max(2 * half, o.price_f * margin) - half if margin else half  # a tick (and margin) less
                if into > through:
                    o.ahead = ZERO  # traded through: the level was cleared
                elif queue and hits_us and into > -half and o.ahead is not None:
                    used = min(o.ahead, budget)  # a print at our price: the queue ahead first
                    o.ahead -= used
                    budget -= used
                    if budget <= 0:
                        break
                elif into > -half:
                    continue  # at our price, queue unknown or the wrong aggressor: no fill
                else:
                    break  # the book is best first: the rest is further away
                take = min(o.remaining, (budget // step) * step)
                if take <= 0:
                    break
                self._fill(o, ts, o.price, take, True, batch)
                budget -= take
        if not batch.fills:
            return EMPTY  # a print at our price that only used up queue ahead: the book is as it was
        self._rebuild_book()
        return self._emit(batch, ts, before)

    def _queue_ahead(self, side: Side, price: Decimal) -> Decimal | None:
        """What is ahead of a new resting order at ``price`` (honest, trades data with BBO):
        nothing when it improves the touch, else the touch's size; None (unknown) otherwise."""
        fm = self._fill_model
        if not fm.queue or not self._quoted():
            return None
        p = float(price)
        if side is Side.BUY:
            return ZERO if p > self._bid + self._half_tick else dec(self._bid_qty)
        return ZERO if p < self._ask - self._half_tick else dec(self._ask_qty)

    # matching -----------------------------------------------------------------------------

    def _quoted(self) -> bool:
        """The last quote still describes the market. Honest: not when the last print came over
        ``core.model.STALE_QUOTE_MS`` after it and is outside it (the quotes ended: quote bars
        covering half the day); a taker then meets last ± the half-spread, not a
        stale ask. The engine's ``Rebalancer.touch`` applies the same rule."""
        if not self._has_bbo:
            return False
        last = self._last
        if last is None or not self._fill_model.honest:
            return True
        return not quote_left_behind(self._quote_ts, self._trade_ts, self._bid, self._ask, last, self._half_tick)

    def touch(self) -> tuple[Decimal | None, Decimal | None]:
        """Current (bid, ask) on the tick grid: the last quote, else last trade +/- spread."""
        inst = self.spot
        if self._quoted():
            bid = inst.round_price(dec(self._bid), Side.BUY) if self._bid > 0 else None
            ask = inst.round_price(dec(self._ask), Side.SELL) if self._ask > 0 else None
            return bid, ask
        if self._last is None:
            return None, None
        last = dec(self._last)
        fm = self._fill_model
        if fm.honest:  # the half-spread, at least a tick, rounded away from the last price
            half = max(last * dec(fm.half_spread_bps) / 10_000, inst.tick_size)
            bid = inst.round_price(last - half, Side.BUY)
            ask = inst.round_price(last + half, Side.SELL)
            return (bid if bid > 0 else None), ask
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
        if not self._quoted():
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
        # the prints the hot path must hand over: optimistic, strictly through the best price;
        # honest on bars, through it by a tick and the margin; honest on trades, at it or through
        fm = self._fill_model
        half = self._half_tick
        if not fm.honest:
            self._buy_gate, self._sell_gate = self._best_buy, self._best_sell
        elif not fm.bars:
            self._buy_gate, self._sell_gate = self._best_buy + half, self._best_sell - half
        else:  # past the best price by a tick and by the margin (the best price needs the most)
            m = fm.bar_through_bps / 1e4
            self._buy_gate = self._best_buy - max(2 * half, self._best_buy * m) + half
            self._sell_gate = self._best_sell + max(2 * half, self._best_sell * m) - half
        if not self._buy_gate >= LEAST_PRICE:  # no buy resting: only a bad print is below it
            self._buy_gate = LEAST_PRICE
        if not self._sell_gate <= MOST_PRICE:
            self._sell_gate = MOST_PRICE

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
