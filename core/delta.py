"""Net exposure of the account: spot + signed futures, in base and in quote units.

Sign convention (DESIGN.md): futures long is ``+size``, short is ``-size``;
``net_base = spot_base + futures_signed_base``; ``gap = net_base - target``; a positive gap is
a long drift and is corrected by SELLING spot.
"""

from __future__ import annotations

from core.model import Side
from core.values import value_type


def spot_exposure(wallet_base_total: float, reserve_base: float = 0.0) -> float:
    """Spot base that is part of the hedge: wallet (free + locked in our orders) minus the
    configured reserve that the trader keeps outside the hedge."""
    return wallet_base_total - reserve_base


@value_type
class DeltaSnapshot:
    spot_base: float
    futures_base: float
    target_base: float
    price: float

    @property
    def net_base(self) -> float:
        return self.spot_base + self.futures_base

    @property
    def gap_base(self) -> float:
        return self.net_base - self.target_base

    @property
    def spot_usdt(self) -> float:
        return self.spot_base * self.price

    @property
    def futures_usdt(self) -> float:
        return self.futures_base * self.price

    @property
    def total_usdt(self) -> float:
        return self.spot_usdt + self.futures_usdt

    def divergence_usdt(self, target_usdt: float) -> float:
        return self.total_usdt - target_usdt

    @property
    def correcting_side(self) -> Side | None:
        """The only side that shrinks |gap|: SELL for a long drift, BUY for a short one."""
        g = self.gap_base
        if g > 0:
            return Side.SELL
        if g < 0:
            return Side.BUY
        return None


def gap_after(gap_base: float, side: Side, qty_base: float) -> float:
    """The gap once ``qty_base`` is traded on ``side`` (a buy adds base, a sell removes it)."""
    return gap_base + side.sign * qty_base


def grows_gap(gap_base: float, side: Side, qty_base: float) -> bool:
    """True when trading would leave |gap| larger than now: such an order is never sent."""
    return abs(gap_after(gap_base, side, qty_base)) > abs(gap_base) + 1e-12
