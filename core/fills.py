"""Rolling VWAP of our recent fills, per side: the anchor the policy compares price against.

A fill enters once and leaves once, so keeping running sums makes every update and query
amortised O(1) regardless of the window length.
"""

from __future__ import annotations

from collections import deque

from core.model import Fill, Side

NEVER_MS = 1 << 62  # a time no market data reaches: 'no scheduled change'


class _SideWindow:
    __slots__ = ("items", "qty", "notional", "avg")

    def __init__(self) -> None:
        self.items: deque[tuple[int, float, float]] = deque()
        self.qty = 0.0
        self.notional = 0.0
        self.avg: float | None = None  # the window's VWAP (``_vwap()``), kept as the window changes: the
        # anchors are read far more often than they move

    def add(self, ts_ms: int, qty: float, price: float) -> None:
        items = self.items
        if items and ts_ms < items[-1][0]:
            # a late report (REST backfill, reordered push): keep the deque in time order
            i = len(items)
            while i > 0 and items[i - 1][0] > ts_ms:
                i -= 1
            items.insert(i, (ts_ms, qty, qty * price))
        else:
            items.append((ts_ms, qty, qty * price))
        self.qty += qty
        self.notional += qty * price
        self.avg = self._vwap()

    def evict(self, cutoff_ms: int) -> None:
        items = self.items
        if not items or items[0][0] >= cutoff_ms:
            return  # nothing leaves: the sums (and a non-empty window's) stand
        while items and items[0][0] < cutoff_ms:
            _, q, n = items.popleft()
            self.qty -= q
            self.notional -= n
        if not items:  # reset float drift whenever the window empties
            self.qty = 0.0
            self.notional = 0.0
        self.avg = self._vwap()

    def _vwap(self) -> float | None:
        if not self.items or self.qty <= 0:
            return None
        return self.notional / self.qty


class RecentFills:
    """Buy and sell VWAP of fills inside the last ``window_ms``, and the net fill imbalance."""

    def __init__(self, window_ms: int) -> None:
        if window_ms <= 0:
            raise ValueError("window must be positive")
        self.window_ms = int(window_ms)
        self._buy = _SideWindow()
        self._sell = _SideWindow()
        self._now = 0
        self._next_change = NEVER_MS  # advance() before this time evicts nothing
        # each side's VWAP (None: no fill in the window), plain attributes the hot paths read;
        # set where the windows change (every add ends in the eviction below)
        self.buy_vwap: float | None = None
        self.sell_vwap: float | None = None

    def add(self, ts_ms: int, side: Side, qty: float, price: float) -> None:
        if qty <= 0:
            return
        if ts_ms < max(self._now, ts_ms) - self.window_ms:
            return  # reported after it already left the window
        (self._buy if side is Side.BUY else self._sell).add(ts_ms, qty, price)
        self._next_change = -1  # recomputed by the eviction below
        self.advance(ts_ms)

    def add_fill(self, fill: Fill) -> None:
        self.add(fill.ts_ms, fill.side, float(fill.qty), float(fill.price))

    def advance(self, now_ms: int) -> None:
        if now_ms > self._now:
            self._now = now_ms
        if self._now < self._next_change:
            return  # nothing is old enough to leave yet (the per-tick common case)
        cutoff = self._now - self.window_ms
        self._buy.evict(cutoff)
        self._sell.evict(cutoff)
        self._next_change = self._first_exit()
        self.buy_vwap, self.sell_vwap = self._buy.avg, self._sell.avg

    @property
    def buy_count(self) -> int:
        return len(self._buy.items)

    @property
    def sell_count(self) -> int:
        return len(self._sell.items)

    @property
    def buy_qty(self) -> float:
        return self._buy.qty

    @property
    def sell_qty(self) -> float:
        return self._sell.qty

    @property
    def imbalance_base(self) -> float:
        """Bought minus sold inside the window (positive: fills added long exposure)."""
        return self._buy.qty - self._sell.qty

    def next_change_ms(self) -> int:
        """The first time at which ``advance`` would evict a fill (and so move a VWAP):
        until then the anchors are constant. ``NEVER_MS`` when the window is empty."""
        return self._next_change

    def _first_exit(self) -> int:
        first = NEVER_MS
        for side in (self._buy, self._sell):
            if side.items:
                t = side.items[0][0] + self.window_ms + 1
                if t < first:
                    first = t
        return first
