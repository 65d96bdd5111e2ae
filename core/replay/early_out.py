"""Replay's bulk path, asked first whether it can take anything at all: a cheap refusal.

``FastForward.fast_forward`` (``core.replay.fastpath``) sets up some forty locals, the
trend-free hold band (``HoldBands.trend_free_band``, the costly part) and the kline-run state
before it looks at the first event. On a busy grid (``examples/replay.yaml``) more than half of
its calls then take nothing: the very next print fills the grid, leaves the hold band, or comes
at or after the moment the rebalancer must look again. ``cannot_take`` answers that from the
quiet bands alone, with exactly the tests ``fast_forward`` would apply to its first event, so a
refused call leaves the same state (none touched) and the one-by-one loop carries on.

Why it is exact: for the first event ``i`` of a run ``fast_forward`` returns ``i`` untouched when

* the print is outside the exchange's quiet band (it would fill the grid or a resting order):
  both of its branches require ``xlo < price < xhi``, and that band lies inside this one;
* it comes before the run's end (``until``) but outside the rebalancer's hold band: the run's
  band lies inside the hold band, so ``first_outside`` stops at ``i``;
* it comes at or after ``until`` and at or after the next evaluation, a venue command due or
  an anchor change: the in-place branch breaks on each of those.

Measured (Bybit linear month, ``examples/replay.yaml``, 38.6 k calls): 16.4 k of the 20.6 k
calls that take nothing are refused here; the replay's CPU 2.28 -> 2.19 s (-4 %), same process,
alternating; all three of issue 17's speed-ups together: ``docs/performance.md``.

Exit path: ``ENABLED = False`` calls ``fast_forward`` every time, as before (``run_replay``
wraps its bulk step with ``guarded``). ``tests/core/test_replay_speedups.py`` checks both give
the same replay on every data file.
"""

from __future__ import annotations

from core.replay.fastpath import FastForward, next_change_ms, quiet_band

ENABLED = True


def guarded(step):
    """``step`` (from ``bulk_step``) behind the refusal when it is a ``FastForward``'s (a
    trades-only tape); a trades + quotes step is returned as it is. The bands the refusal read
    are handed to ``FastForward.take``, which would read them again otherwise."""
    ff = getattr(step, "__self__", None)
    if not ENABLED or type(ff) is not FastForward:
        return step
    reb, ex, ts_arr, px_arr, n = ff.reb, ff.ex, ff.ts, ff.px, ff.nt
    take, absorb_quiet = ff.take, ex.absorb_quiet

    def step_or_refuse(ti: int, qi: int, next_tick: int) -> tuple[int, int, int, int | None]:
        if ti >= n:
            return ti, qi, next_tick, None
        bands = bands_unless_refused(reb, ex, ts_arr, px_arr, ti)
        if bands is None:
            return ti, qi, next_tick, None
        i, next_tick = take(ti, next_tick, *bands)  # FastForward.step, with the bands read here
        if i == ti:
            return ti, qi, next_tick, None
        last = ts_arr[i - 1]
        absorb_quiet(last, px_arr[i - 1], None)
        return i, qi, next_tick, last

    return step_or_refuse


def cannot_take(reb, ex, ts_arr, px_arr, i: int) -> bool:
    """True when ``fast_forward`` would surely take nothing from event ``i`` (and change nothing);
    False when it may take something (then ask it)."""
    return bands_unless_refused(reb, ex, ts_arr, px_arr, i) is None


def bands_unless_refused(reb, ex, ts_arr, px_arr, i: int):
    """None when ``fast_forward`` would surely take nothing from event ``i`` (``cannot_take``);
    else the rebalancer's and the exchange's quiet bands it read, for ``FastForward.take``."""
    band = quiet_band(reb)
    if band is None:
        return None
    lo, hi, until = band
    ex_band = ex.quiet_band()
    elo, ehi, due = ex_band
    price = px_arr[i]
    if not elo < price < ehi:  # NaN too: fast_forward stops at it
        return None
    ts = ts_arr[i]
    if due < until:
        until = due
    if ts < until:
        return (band, ex_band) if lo < price < hi else None
    if ts >= reb.next_eval_ms or ts >= due or ts >= next_change_ms(reb):
        return None
    return band, ex_band
