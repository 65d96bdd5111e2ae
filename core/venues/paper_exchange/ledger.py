"""The account side of the paper exchange: spot balances, the linear position, fees, equity.

Linear futures: one-way position (signed size, average entry, realised P&L, fees). Fills come
from outside (the simulated grid, ``apply_grid_fill``); fees are charged at this exchange's
linear rates and, as in a Bybit unified account, realised P&L and linear fees settle in the
quote coin balance (``settle_linear_in_quote``).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from core.events import BalanceUpdate, FillEvent, PositionUpdate
from core.model import Balance, Fill, Leg, Position
from core.values import value_type
from core.venues.paper_exchange import grid_ledger
from core.venues.paper_exchange.orders import ZERO, dec

@value_type
class FeeSchedule:
    """Fee rates as fractions (0.001 = 0.10 %). Defaults: Bybit non-VIP base rates."""

    spot_maker: Decimal = Decimal("0.001")
    spot_taker: Decimal = Decimal("0.001")
    linear_maker: Decimal = Decimal("0.0002")
    linear_taker: Decimal = Decimal("0.00055")


class Ledger:
    """Part of ``PaperExchange``: balances (``_bal``: coin -> [free, locked]) and the linear
    position (``_pos_size``, ``_pos_entry``, ``_realised``, ``_linear_fees``, ``_mark``)."""

    __slots__ = ()

    # ------------------------------------------------------------------ linear leg (grid)

    def apply_grid_fill(self, fill: Fill) -> tuple:
        """Apply an external linear fill (the simulated grid) to the futures position.

        The fee is charged at this exchange's linear maker/taker rate in the quote coin (the
        passed-through ``FillEvent`` carries it) so every fill on the account uses one schedule.
        """
        if grid_ledger.ENABLED:
            return grid_ledger.apply_grid_fill_lean(self, fill)
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

    @property
    def realised_pnl(self) -> Decimal:
        return self._realised

    @property
    def linear_fees(self) -> Decimal:
        return self._linear_fees


    def balances(self) -> tuple[Balance, ...]:
        return self._balance_tuple()

    def balance(self, coin: str) -> Balance:
        free, locked = self._bal.get(coin, (ZERO, ZERO))
        return Balance(coin, free, locked)

    def mark_price(self) -> Decimal:
        """Futures mark: the last PerpTicker, else the last spot trade, else the entry price."""
        if self._mark is not None:
            return dec(self._mark)
        if self._last is not None:
            return dec(self._last)
        return self._pos_entry

    def position(self) -> Position:
        mark = self.mark_price()
        return Position(
            symbol=self.linear.symbol, size=self._pos_size, entry_price=self._pos_entry,
            mark_price=mark, unrealised_pnl=(mark - self._pos_entry) * self._pos_size,
        )

    def equity_quote(self, price: Decimal | float | None = None) -> Decimal:
        """Account value in quote: spot base x price + quote + futures unrealised P&L at price.

        ``price`` defaults to the last trade. Realised linear P&L and fees are already in the
        quote balance when they settle there; otherwise they are added here.
        """
        if price is None:
            if self._last is None:
                raise ValueError("no price yet: pass one")
            price = self._last
        p = dec(price)
        base = self._bal.get(self.spot.base, (ZERO, ZERO))
        quote = self._bal.get(self.spot.quote, (ZERO, ZERO))
        eq = (base[0] + base[1]) * p + quote[0] + quote[1] + (p - self._pos_entry) * self._pos_size
        if not self.settle_linear_in_quote:
            eq += self._realised - self._linear_fees
        return eq

    def _balance_tuple(self) -> tuple[Balance, ...]:
        return tuple([Balance(c, v[0], v[1]) for c, v in sorted(self._bal.items())])  # a list: no generator frame
