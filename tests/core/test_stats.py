"""Time-weighted gap statistics (``GapStats``): |gap| integrated between account changes."""

from __future__ import annotations

import pytest

from core.stats import GapStats, Stats


def test_the_gap_counts_for_the_time_it_held():
    st = Stats()
    g = GapStats(st, band=0.01)
    g.settle(1_000)  # the first account change starts the clock
    g.refresh(0.004)
    g.settle(3_000)  # 0.004 held 2 s
    g.refresh(-0.02)  # a short drift past hard
    g.settle(3_500)  # 0.02 held 0.5 s
    g.refresh(0.0)
    g.finish(10_000)  # on target for 6.5 s
    assert st.time_total_ms == 9_000
    assert st.gap_time_integral == pytest.approx(0.004 * 2_000 + 0.02 * 500)
    assert st.time_over_band_ms == 500
    assert st.max_abs_gap == pytest.approx(0.02)


def test_a_gap_that_lasted_no_time_does_not_count():
    """A balance and a position update of the same instant: the gap between them is never seen."""
    st = Stats()
    g = GapStats(st, band=0.01)
    g.settle(1_000)
    g.refresh(0.001)
    g.settle(2_000)
    g.refresh(0.5)  # the balance moved first ...
    g.settle(2_000)
    g.refresh(0.002)  # ... and the position right after
    g.finish(3_000)
    assert st.max_abs_gap == pytest.approx(0.002)
    assert st.time_over_band_ms == 0
    assert st.gap_time_integral == pytest.approx(0.001 * 1_000 + 0.002 * 1_000)


def test_without_a_band_nothing_is_over_it():
    st = Stats()
    g = GapStats(st)
    g.settle(0)
    g.refresh(0.05)
    g.finish(3_000)
    assert st.time_over_band_ms == 0 and st.time_total_ms == 3_000


def test_nothing_before_the_first_account_change():
    st = Stats()
    GapStats(st, band=0.01).finish(5_000)
    assert (st.time_total_ms, st.gap_time_integral, st.max_abs_gap) == (0, 0.0, 0.0)
