"""Sure holds: when the policy's answer is surely HOLD, so asking it can wait.

Live, the rebalancer skips the policy while |gap| is under the smallest gap it could ever act
on (and still asks on every timer tick, so the cockpit always shows a fresh why). Replay goes
further: it keeps the policy's exact hold band, the prices at which a HOLD stays a HOLD until
something the policy reads changes, and asks again only when price leaves it.
"""

from __future__ import annotations

from core.account import AccountBook
from core.fills import RecentFills
from core.policy import WHOLE_BAND, HoldBand, Policy, PolicyMemory
from core.trend import TrendTracker


class SureHold:
    """Hold bands of one policy over one account, trend and set of anchors."""

    __slots__ = ("policy", "book", "trend", "recent", "_floor", "_robust")

    def __init__(self, policy: Policy, book: AccountBook, trend: TrendTracker, recent: RecentFills) -> None:
        self.policy = policy
        self.book = book
        self.trend = trend
        self.recent = recent
        self._floor = policy.fixed_min_gap
        self._robust: tuple | None = None  # (what the band was drawn for, the band)

    def under_floor(self, gap: float, price: float | None) -> bool:
        """|gap| is under the smallest gap the policy could act on, whatever the bias and trend."""
        floor = self._floor
        if floor is None:
            book = self.book
            floor = self.policy.min_actionable_gap(book.spot_base, price,
                                                   book.equity_quote(price) if book.balances_ok else None)
        return (gap if gap >= 0 else -gap) < floor

    def band(self, now: int, price: float, gap: float, memory: PolicyMemory) -> HoldBand | None:
        """The band around ``price`` where HOLD is sure (None: ask the policy now): the
        trend-free band when it covers ``price``, else the policy's band under today's trend."""
        band = self.trend_free_band(now, gap, memory)
        if band is not None and band.lo < price < band.hi and now < band.until_ms:
            return band
        book, recent = self.book, self.recent
        return self.policy.hold_band(now, price, book.spot_base, book.futures_size, self.trend.view(),
                                     recent.buy_vwap, recent.sell_vwap, memory)

    def trend_free_band(self, now: int, gap: float, memory: PolicyMemory) -> HoldBand | None:
        """Where HOLD is sure whatever the trend: everywhere when the gap is under the policy's
        fixed floor, else the robust band (None: nowhere)."""
        floor = self._floor
        if floor is not None and (gap if gap >= 0 else -gap) < floor:
            return WHOLE_BAND
        return self._robust_band(now, memory)

    def _robust_band(self, now: int, memory: PolicyMemory) -> HoldBand | None:
        """The policy's hold band under any trend, kept while the account and anchors stand
        still: a candle close then needs no trend read at all (replay's per-minute cost)."""
        book, recent = self.book, self.recent
        spot, futures = book.spot_base, book.futures_size
        key = (spot, futures, recent.buy_vwap, recent.sell_vwap, memory.last_check_ms)
        cached = self._robust
        if cached is not None and cached[0] == key:
            return cached[1]
        band = self.policy.robust_hold_band(now, spot, futures, recent.buy_vwap, recent.sell_vwap, memory)
        self._robust = (key, band)
        return band
