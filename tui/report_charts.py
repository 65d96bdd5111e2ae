"""``report``'s charts in the terminal: price with our fills, the gap against soft / hard, the
cumulative volume and hedge cost, and the P&L split -- drawn with the cockpit's braille chart
(``tui.braille``), sized to the terminal (80 columns is enough)."""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from rich.text import Text

from core.figures import iso_utc
from core.report_series import ReportSeries
from tui.braille import HLine, Series, chart_text, y_range

HEIGHT = 6  # rows per chart
PRICE, BUY, SELL = "bright_white", "green", "red"


def resample(ts: Sequence[int], vals: Sequence[float], t0: int, t1: int, n: int,
             before: float | None = None) -> list[float]:
    """``n`` values evenly over [t0, t1]: at each point the latest value at or before it (a
    step function, as the account is); ``before`` where nothing came yet (skipped if None)."""
    out: list[float] = []
    span = max(1, t1 - t0)
    for k in range(n):
        t = t0 + span * k / max(1, n - 1)
        i = bisect.bisect_right(ts, t)
        if i:
            out.append(vals[i - 1])
        elif before is not None:
            out.append(before)
        else:
            out.append(float("nan"))
    return out


def _markers(fills: Sequence[tuple[int, float, float]], t0: int, t1: int, width: int, offset: int,
             char: str, style: str, row: list[tuple[str, str]]) -> None:
    span = max(1, t1 - t0)
    for ts, _p, _q in fills:
        x = offset + min(width - 1, max(0, int((ts - t0) / span * (width - 1))))
        held = row[x][0]
        row[x] = ("◆", "yellow") if held not in (" ", char) else (char, style)  # both sides in one column


def _axis_width(series: list[Series], decimals: int) -> int:
    """The y axis width ``chart_text`` draws for these series (so the markers line up)."""
    rng = y_range(series, [])
    if rng is None:
        return 0
    lo, hi = rng
    return max(len(f"{v:,.{decimals}f}") for v in (hi, (hi + lo) / 2, lo)) + 1


def render_charts(s: ReportSeries, width: int, *, height: int = HEIGHT) -> Text:
    """Every chart one under the other, ``width`` columns wide."""
    out = Text()
    span = s.span
    if span is None or s.empty:
        out.append("no snapshots in this journal: nothing to draw\n", style="dim")
        return out
    t0, t1 = span
    # more points than the plot has dots: each chart spreads over its whole width, so the
    # charts share one time axis whatever their y labels' width
    dots = max(8, width * 2)

    def section(title: str, series: list[Series], hlines: list[HLine], decimals: int) -> None:
        out.append(title + "\n", style="bold")
        out.append_text(chart_text(series, hlines, width, height, decimals=decimals))
        out.append("\n")

    price = [Series(resample(*s.price, t0, t1, dots), PRICE, "price")]
    section(f"Price ({s.symbol or 'quote'}) with our fills: ▲ buy  ▼ sell  ◆ both", price, [], 2)
    lw = _axis_width(price, 2)
    if lw:  # the fills under the price, on the same time axis
        plot_w = max(1, width - lw)
        row: list[tuple[str, str]] = [(" ", "")] * width
        _markers(s.buys, t0, t1, plot_w, lw, "▲", BUY, row)
        _markers(s.sells, t0, t1, plot_w, lw, "▼", SELL, row)
        for ch, style in row:
            out.append(ch, style=style)
        out.append("\n")

    gap = resample(*s.gap, t0, t1, dots)
    bands: list[Series] = []
    if s.hard[0]:
        hard = resample(*s.hard, t0, t1, dots)
        soft = resample(*s.soft, t0, t1, dots)
        bands = [Series(hard, "red", "hard"), Series([-v for v in hard], "red"),
                 Series(soft, "yellow", "soft"), Series([-v for v in soft], "yellow")]
    section("Gap (base) against soft (yellow) and hard (red)", [*bands, Series(gap, "cyan", "gap")],
            [HLine(0.0, "bright_black")], 4)

    if s.volume[0]:
        section(f"Cumulative volume (quote): {s.volume[1][-1]:,.2f}",
                [Series(resample(*s.volume, t0, t1, dots, before=0.0), "blue", "volume")], [], 0)
        section(f"Cumulative hedge cost (quote, fees + price vs arrival): {s.cost[1][-1]:,.2f}",
                [Series(resample(*s.cost, t0, t1, dots, before=0.0), "magenta", "cost")], [HLine(0.0, "bright_black")],
                2)
    else:
        out.append("no fills of ours: no volume or cost to draw\n", style="dim")

    pnl = [Series(resample(*s.pnl_total, t0, t1, dots), "bright_white", "total")]
    if s.pnl_fees[0]:
        pnl += [Series(resample(*s.pnl_fees, t0, t1, dots, before=0.0), "yellow", "fees"),
                Series(resample(*s.pnl_cost, t0, t1, dots, before=0.0), "magenta", "hedge cost")]
    section("P&L (quote): equity change (white), fees (yellow), hedge cost (magenta)", pnl,
            [HLine(0.0, "bright_black")], 2)
    out.append(f"{iso_utc(t0)} -> {iso_utc(t1)}\n", style="dim")
    return out
