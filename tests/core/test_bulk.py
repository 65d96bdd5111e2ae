"""``core.bulk``: ``first_outside`` (the first value not strictly inside a band, by halving
with C-level min/max) against a brute-force scan, and ``KlineBars`` (a kline tape seen per
bar: first/last print times, opens, and where runs of contiguous whole minutes break)."""

from __future__ import annotations

import math
from array import array
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.bulk import BAR_MS, KlineBars, first_outside
from core.venues.market import TradeTape, load_market
from tests.builders import examples

MIN = BAR_MS
T0 = 1_700_000_040_000  # a whole minute


def brute_first_outside(arr, i: int, j: int, lo: float, hi: float) -> int:
    for k in range(i, j):
        if not lo < arr[k] < hi:
            return k
    return j


# values mostly inside a band around 100, with outliers, the band's edges themselves and infinities
values = st.one_of(st.floats(99.0, 101.0), st.sampled_from([98.0, 102.0, 99.5, 100.5, math.inf, -math.inf]),
                   st.floats(allow_nan=False))


@settings(max_examples=examples(500), deadline=None, database=None)
@given(data=st.data(), arr=st.lists(values, max_size=300), as_array=st.booleans(),
       band=st.tuples(st.sampled_from([99.5, 98.0, -math.inf, 0.0, 100.0]),
                      st.sampled_from([100.5, 102.0, math.inf, 1e12, 100.0])))
def test_first_outside_equals_a_scan(data, arr, as_array, band):
    i = data.draw(st.integers(0, len(arr)), label="i")
    j = data.draw(st.integers(i, len(arr)), label="j")
    lo, hi = band
    seq = array("d", arr) if as_array else arr
    assert first_outside(seq, i, j, lo, hi) == brute_first_outside(arr, i, j, lo, hi)


@pytest.mark.parametrize("n", [0, 1, 16, 17, 33, 1_000])
@pytest.mark.parametrize("where", ["none", "first", "middle", "last", "edge_lo", "edge_hi"])
def test_first_outside_on_long_runs(n, where):
    arr = array("d", [100.0 + (k % 5) * 0.1 for k in range(n)])
    expected = n
    if n and where != "none":
        k = {"first": 0, "middle": n // 2, "last": n - 1, "edge_lo": n // 3, "edge_hi": (2 * n) // 3}[where]
        arr[k] = {"edge_lo": 99.0, "edge_hi": 101.0}.get(where, 250.0)  # the band's edges are outside
        expected = k
    assert first_outside(arr, 0, n, 99.0, 101.0) == expected
    if n > 2:
        assert first_outside(arr, 1, n - 1, 99.0, 101.0) == (expected if 1 <= expected < n - 1 else n - 1)


def test_first_outside_stops_at_a_nan():
    arr = [100.0] * 40
    arr[5] = math.nan
    assert first_outside(arr, 0, 40, 99.0, 101.0) == 5


# ------------------------------------------------------------------------------- KlineBars


def write_klines(path: Path, starts: list[int]) -> Path:
    lines = ["ts_ms,open,high,low,close,volume"]
    for k, t in enumerate(starts):
        o = 100.0 + k
        lines.append(f"{t},{o},{o + 0.5},{o - 0.5},{o + 0.25},{4.0 + k}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def kline_tape(tmp_path):
    """``kline_tape(starts)`` -> the trades tape the loader expands those 1-minute bars to."""

    def make(starts: list[int]) -> TradeTape:
        tape = load_market(write_klines(tmp_path / "k.csv", starts)).trades
        assert tape.points_per_bar == 4
        return tape

    return make


def test_kline_bars_of_contiguous_minutes(kline_tape):
    starts = [T0 + k * MIN for k in range(10)]
    tape = kline_tape(starts)
    bars = KlineBars.build(tape)
    assert bars is not None
    assert bars.per_bar == 4 and bars.n == 10
    assert list(bars.first_ts) == starts
    assert list(bars.last_ts) == [t + 59_999 for t in starts]
    assert list(bars.opens) == [100.0 + k for k in range(10)]
    assert bars.breaks == [0]
    assert [bars.run_end(k) for k in (0, 5, 9)] == [10, 10, 10]


def test_kline_bars_break_at_gaps_and_unaligned_steps(kline_tape):
    # bars 0-2 contiguous; a 2-minute hole before bar 3; bars 3-4; a 30 s shift (unaligned) before
    # bar 5; bars 5-6 contiguous again (60 s apart, though not on the minute); a 61 s step before 7
    starts = [T0, T0 + MIN, T0 + 2 * MIN, T0 + 5 * MIN, T0 + 6 * MIN, T0 + 7 * MIN + 30_000, T0 + 8 * MIN + 30_000,
              T0 + 9 * MIN + 31_000, T0 + 10 * MIN + 31_000]
    bars = KlineBars.build(kline_tape(starts))
    assert bars is not None and bars.n == 9
    assert bars.breaks == [0, 3, 5, 7]
    assert [bars.run_end(k) for k in range(9)] == [3, 3, 3, 5, 5, 7, 7, 9, 9]


def check_kline_bars_of_recorded_minutes(tape: TradeTape, minutes: int) -> None:
    bars = KlineBars.build(tape)
    assert bars is not None and bars.n == minutes
    assert bars.breaks == [0]  # every minute present (README)
    assert all(t % MIN == 0 for t in bars.first_ts)
    assert list(bars.opens[:3]) == list(tape.price[0:12:4])


def test_kline_bars_of_the_recorded_month(shared_data):
    check_kline_bars_of_recorded_minutes(
        load_market(shared_data("bybit_linear_BTCUSDT_1m_2024-12-31T21Z_2025-01-31.csv.gz")).trades, 44_820)


def test_kline_bars_of_a_recorded_day(excerpt):
    check_kline_bars_of_recorded_minutes(load_market(excerpt("bybit_linear_BTCUSDT_1m_2025-01-20.csv.gz")).trades, 1440)


def hinted(ts: list[int], per: int | None = 4, qty: float = 1.0) -> TradeTape:
    n = len(ts)
    tape = TradeTape(array("q", ts), array("d", [100.0] * n), array("d", [qty] * n), bytearray(n))
    tape.points_per_bar = per
    return tape


@pytest.mark.parametrize("tape", [
    pytest.param(hinted([T0 + k * 1_000 for k in range(40)], per=None), id="trades tape: no hint"),
    pytest.param(hinted([T0 + k * 1_000 for k in range(40)], per=1), id="one print per bar"),
    pytest.param(hinted([T0 + k * 1_000 for k in range(7)]), id="fewer than two bars"),
    pytest.param(hinted([T0 + k * 1_000 for k in range(42)]), id="not a whole number of bars"),
    pytest.param(hinted([]), id="empty"),
])
def test_kline_bars_refuse_tapes_of_another_shape(tape):
    assert KlineBars.build(tape) is None


def test_kline_bars_of_real_trades_is_none(excerpt):
    tape = load_market(excerpt("binance_spot_BTCUSDT_trades_2024-08-08T235415Z_30s.csv.gz")).trades
    assert tape.points_per_bar is None and KlineBars.build(tape) is None


def test_a_window_of_a_kline_tape_drops_the_hint(kline_tape):
    """``TradeTape.window`` returns a plain trades tape: replay's whole-minute path is off there
    (tests/core/test_replay_bulk.py puts the hint back on whole-minute windows)."""
    tape = kline_tape([T0 + k * MIN for k in range(10)])
    assert KlineBars.build(tape.window(T0 + MIN, T0 + 5 * MIN)) is None
