"""Time sources. The core never reads the wall clock itself: it is handed a clock.

``SimulatedClock`` is advanced by the replay driver (from event timestamps), so a replay is
deterministic and runs as fast as the CPU allows. ``WallClock`` is for live runs.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now_ms(self) -> int: ...


class WallClock:
    """Real time in epoch milliseconds (only the live shell uses this)."""

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


class SimulatedClock:
    """A clock that moves only when told to, and never backwards."""

    __slots__ = ("_now",)

    def __init__(self, start_ms: int = 0) -> None:
        self._now = int(start_ms)

    def now_ms(self) -> int:
        return self._now

    def advance_to(self, ts_ms: int) -> None:
        if ts_ms > self._now:
            self._now = int(ts_ms)

    def advance_by(self, ms: int) -> None:
        if ms < 0:
            raise ValueError("a clock does not go backwards")
        self._now += int(ms)
