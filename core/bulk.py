"""Runs of columnar market data tested at C speed (min/max over array slices).

Replay's bulk path asks one question of a run of prices: do they all stay strictly inside a
band? ``min``/``max`` over a slice answer it without a Python-level loop per event.
"""

from __future__ import annotations

from bisect import bisect_right
from itertools import islice
from operator import gt, sub


def all_inside(seg, lo: float, hi: float) -> bool:
    """Every value of ``seg`` strictly inside ``(lo, hi)``. min/max can step over a NaN (every
    comparison with it is false), so a NaN-poisoned sum rules the run out too."""
    if not (lo < min(seg) and max(seg) < hi):
        return False
    total = sum(seg)
    return total == total  # False only for NaN (the bounds already rule out inf)


def first_outside(arr, i: int, j: int, lo: float, hi: float) -> int:
    """The first index in ``[i, j)`` whose value is not strictly inside ``(lo, hi)`` (NaN is
    not inside; ``j`` if none): halving with C-level passes over slices, a few over the run."""
    while j - i > 16:
        mid = (i + j) // 2
        if all_inside(arr[i:mid], lo, hi):
            i = mid
        else:
            j = mid
    for k in range(i, j):
        if not lo < arr[k] < hi:
            return k
    return j


def first_bad_qty(qty, i: int, j: int, limit: float) -> int:
    """The first trade size in ``[i, j)`` that ``Rebalancer.on_trade`` would refuse (not
    ``0 <= q < limit``, NaN included; ``j`` if none). One C-level pass when all are good."""
    if j <= i:
        return j
    seg = qty[i:j]
    total = sum(seg)
    if total == total and min(seg) >= 0.0 and max(seg) < limit:
        return j
    for k in range(i, j):
        if not 0.0 <= qty[k] < limit:
            return k
    return j


def first_bad_quote(bids, asks, i: int, j: int, limit: float) -> int:
    """The first quote in ``[i, j)`` that ``Rebalancer.on_quote`` would refuse (not
    ``0 < bid <= ask < limit``, NaN included; ``j`` if none)."""
    if j <= i:
        return j
    b, a = bids[i:j], asks[i:j]
    total = sum(b) + sum(a)
    if total == total and min(b) > 0.0 and max(a) < limit and not any(map(gt, b, a)):
        return j
    for k in range(i, j):
        if not 0.0 < bids[k] <= asks[k] < limit:
            return k
    return j


BAR_MS = 60_000


class KlineBars:
    """A trades tape that is 1-minute bars expanded to ``per_bar`` prints each, seen per bar:
    the first and last print times, the opening prints, and the bars where a run of
    contiguous, minute-aligned bars breaks. Built once at C speed; ``build`` returns None when
    the columns do not have that shape. Highs and lows are read from the prints themselves
    (min/max over slices), so nothing here can disagree with the tape."""

    __slots__ = ("per_bar", "first_ts", "last_ts", "opens", "breaks", "n")

    @classmethod
    def build(cls, tape) -> "KlineBars | None":
        per = getattr(tape, "points_per_bar", None)
        n_points = len(tape)
        if not per or per < 2 or n_points < 2 * per or n_points % per:
            return None
        ts = tape.ts_ms
        self = cls()
        self.per_bar = per
        self.first_ts, self.last_ts = ts[0::per], ts[per - 1::per]
        self.n = len(self.first_ts)
        self.opens = tape.price[0::per]
        # bar k starts a new run when it does not follow bar k-1 by exactly a minute (or the
        # first bar is not on the minute): inside a run every bar's prints are in its minute,
        # since the tape is sorted; the last bar of a run is checked where it is used
        steps = bytes(map(BAR_MS.__ne__, map(sub, islice(self.first_ts, 1, None), self.first_ts)))
        breaks = [0]
        at = steps.find(1)
        while at >= 0:
            breaks.append(at + 1)
            at = steps.find(1, at + 1)
        self.breaks = breaks
        return self

    def run_end(self, k: int) -> int:
        """The first bar after ``k`` that does not continue ``k``'s run of whole minutes."""
        j = bisect_right(self.breaks, k)
        return self.breaks[j] if j < len(self.breaks) else self.n
