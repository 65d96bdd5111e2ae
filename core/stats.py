"""The run's statistics: counters the replay report and the cockpit read, and the
time-weighted gap (mean |gap|, time over hard, max |gap|).

The gap only moves when the account does (a fill, a balance or position push), so it is
integrated between account changes: trades cost nothing here.
"""

from __future__ import annotations

from dataclasses import dataclass

# the tracking figures every report carries, replay and journal alike
TRACKING_KEYS = ("band_base", "mean_abs_gap_base", "max_abs_gap_base", "pct_time_over_band")


@dataclass(slots=True)
class Stats:
    """Every event processed is counted."""

    events: int = 0
    decisions: int = 0  # trading decisions acted on or proposed
    would_trade: int = 0  # watch mode: trading decisions shown only (a new side or action each)
    orders: int = 0
    fills: int = 0
    maker_fills: int = 0
    taker_fills: int = 0
    grid_fills: int = 0
    volume_base: float = 0.0
    volume_quote: float = 0.0
    fees_quote: float = 0.0
    wrong_direction_orders: int = 0
    flip_flops: int = 0
    rebalances: int = 0
    refused: int = 0
    gap_time_integral: float = 0.0  # ∫|gap| dt (base·ms)
    time_over_band_ms: int = 0
    time_total_ms: int = 0
    max_abs_gap: float = 0.0


class GapStats:
    """Integrates |gap| over time into ``stats``: call ``settle(now)`` just before the account
    changes and ``refresh(gap)`` right after; a |gap| at or over ``band`` counts as over."""

    __slots__ = ("stats", "band", "_abs", "_since")

    def __init__(self, stats: Stats, band: float = float("inf")) -> None:
        self.stats = stats
        self.band = band
        self._abs = 0.0  # |gap| as of the last account change
        self._since: int | None = None

    def settle(self, now: int) -> None:
        """Add the gap that held since the last account change (a gap that lasted no time,
        e.g. between a balance and a position update of the same instant, does not count)."""
        since = self._since
        if since is None:
            self._since = now
            return
        if now > since:
            st = self.stats
            dt = now - since
            ag = self._abs
            st.gap_time_integral += ag * dt
            st.time_total_ms += dt
            if ag >= self.band:
                st.time_over_band_ms += dt
            if ag > st.max_abs_gap:
                st.max_abs_gap = ag
            self._since = now

    def refresh(self, gap: float) -> None:
        self._abs = gap if gap >= 0 else -gap

    def finish(self, now: int) -> None:
        """Close the statistics at the end of a run."""
        self.settle(now)
