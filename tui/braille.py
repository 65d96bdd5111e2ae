"""A small braille line chart as text: a few series and a few horizontal reference lines.

Pure (rich text, no widget): the cockpit's chart pane and ``report``'s terminal charts draw with it.

Each terminal cell holds a 2x4 braille dot matrix, so a 40x8 cell chart has 80x32 dots.
Rendering 3 series of 500 points into 60x10 cells takes well under a millisecond-scale
budget compared with textual-plotext (~38 ms); it is still throttled to about 1 Hz and
only drawn while visible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from rich.style import Style
from rich.text import Text

# dot bit for (dx, dy) inside a cell, dx in 0..1, dy in 0..3 (top to bottom)
_BITS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))


@dataclass(frozen=True)
class Series:
    values: Sequence[float]
    color: str
    label: str = ""


@dataclass(frozen=True)
class HLine:
    value: float | None
    color: str
    label: str = ""


def _finite(values: Sequence[float]) -> list[float]:
    return [v for v in values if v is not None and math.isfinite(v)]


def y_range(series: Sequence[Series], hlines: Sequence[HLine]) -> tuple[float, float] | None:
    pts = [v for s in series for v in _finite(s.values)]
    if not pts:
        return None
    lo, hi = min(pts), max(pts)
    span = hi - lo
    # reference lines widen the range only when near the data (a far VWAP would flatten it)
    for h in hlines:
        if h.value is not None and math.isfinite(h.value):
            if lo - span <= h.value <= hi + span or span == 0:
                lo, hi = min(lo, h.value), max(hi, h.value)
    if hi == lo:
        pad = abs(hi) * 1e-4 or 1.0
        lo, hi = lo - pad, hi + pad
    pad = (hi - lo) * 0.04
    return lo - pad, hi + pad


def braille_lines(
    series: Sequence[Series],
    hlines: Sequence[HLine],
    width: int,
    height: int,
    *,
    y_lo: float,
    y_hi: float,
) -> list[Text]:
    """Render into ``width`` x ``height`` cells. Later series draw over earlier ones."""
    if width <= 0 or height <= 0:
        return []
    dots_w, dots_h = width * 2, height * 4
    bits = [[0] * width for _ in range(height)]
    color: list[list[str | None]] = [[None] * width for _ in range(height)]
    scale = (dots_h - 1) / (y_hi - y_lo)

    def to_row(v: float) -> int:
        r = round((y_hi - v) * scale)
        return min(dots_h - 1, max(0, r))

    def plot(x: int, y: int, c: str) -> None:
        cx, dx = divmod(x, 2)
        cy, dy = divmod(y, 4)
        bits[cy][cx] |= _BITS[dx][dy]
        color[cy][cx] = c

    for h in hlines:
        if h.value is None or not math.isfinite(h.value) or not (y_lo <= h.value <= y_hi):
            continue
        y = to_row(h.value)
        for x in range(dots_w):
            if x % 4 < 2:  # dashed
                plot(x, y, h.color)

    for s in series:
        vals = [v for v in s.values if v is not None and math.isfinite(v)]
        n = len(vals)
        if n == 0:
            continue
        # the newest point sits at the right edge; fewer points than dots are not stretched
        cols = min(dots_w, n)
        x0 = dots_w - cols
        prev: int | None = None
        for i in range(cols):
            if n > cols:  # bucket: mean of the slice (steady under small shifts)
                a = i * n // cols
                b = max(a + 1, (i + 1) * n // cols)
                v = sum(vals[a:b]) / (b - a)
            else:
                v = vals[n - cols + i]
            y = to_row(v)
            x = x0 + i
            if prev is None:
                plot(x, y, s.color)
            else:
                step = 1 if y >= prev else -1
                for yy in range(prev + step, y + step, step) if y != prev else (y,):
                    plot(x, yy, s.color)
            prev = y

    lines: list[Text] = []
    for cy in range(height):
        t = Text(no_wrap=True)
        for cx in range(width):
            b = bits[cy][cx]
            if b:
                t.append(chr(0x2800 + b), style=Style(color=color[cy][cx]))
            else:
                t.append(" ")
        lines.append(t)
    return lines


def chart_text(
    series: Sequence[Series],
    hlines: Sequence[HLine],
    width: int,
    height: int,
    *,
    label_style: Style | None = None,
    decimals: int = 2,
) -> Text:
    """The chart with a y axis on the left (top, middle and bottom values)."""
    rng = y_range(series, hlines)
    if rng is None or width < 12 or height < 2:
        return Text("no price history yet", style=label_style or "")
    lo, hi = rng
    labels = [f"{hi:,.{decimals}f}", f"{(hi + lo) / 2:,.{decimals}f}", f"{lo:,.{decimals}f}"]
    lw = max(len(x) for x in labels) + 1
    plot_w = max(1, width - lw)
    lines = braille_lines(series, hlines, plot_w, height, y_lo=lo, y_hi=hi)
    out = Text(no_wrap=True, overflow="crop")
    mid = height // 2
    for i, line in enumerate(lines):
        if i == 0:
            lab = labels[0]
        elif i == height - 1:
            lab = labels[2]
        elif i == mid and height >= 5:
            lab = labels[1]
        else:
            lab = ""
        out.append(lab.rjust(lw - 1) + "┤" if lab else " " * (lw - 1) + "│", style=label_style or "")
        out.append_text(line)
        if i < height - 1:
            out.append("\n")
    return out




def scatter_cells(
    layers: Sequence[tuple[Sequence[tuple[float, float]], str, bool]],
    width: int,
    height: int,
    *,
    x_lo: float,
    x_hi: float,
    y_lo: float,
    y_hi: float,
) -> tuple[list[list[int]], list[list[str | None]]]:
    """Points (x, y) as braille dots in ``width`` x ``height`` cells: each layer is (points, colour,
    joined); a joined layer is drawn as a line through its points in order. Later layers draw over
    earlier ones. Returns the cells' dot bits and colours (the caller may overlay glyphs)."""
    dots_w, dots_h = width * 2, height * 4
    bits = [[0] * width for _ in range(height)]
    color: list[list[str | None]] = [[None] * width for _ in range(height)]
    sx = (dots_w - 1) / (x_hi - x_lo) if x_hi > x_lo else 0.0
    sy = (dots_h - 1) / (y_hi - y_lo) if y_hi > y_lo else 0.0

    def to_dot(x: float, y: float) -> tuple[int, int]:
        dx = min(dots_w - 1, max(0, round((x - x_lo) * sx)))
        dy = min(dots_h - 1, max(0, round((y_hi - y) * sy)))
        return dx, dy

    def plot(x: int, y: int, c: str) -> None:
        cx, dx = divmod(x, 2)
        cy, dy = divmod(y, 4)
        bits[cy][cx] |= _BITS[dx][dy]
        color[cy][cx] = c

    for points, c, joined in layers:
        prev: tuple[int, int] | None = None
        for x, y in points:
            if not (math.isfinite(x) and math.isfinite(y)):
                prev = None
                continue
            d = to_dot(x, y)
            if joined and prev is not None:
                n = max(abs(d[0] - prev[0]), abs(d[1] - prev[1]), 1)
                for k in range(1, n + 1):
                    plot(prev[0] + round((d[0] - prev[0]) * k / n), prev[1] + round((d[1] - prev[1]) * k / n), c)
            else:
                plot(*d, c)
            prev = d
    return bits, color


def cell_of(x: float, y: float, width: int, height: int, *, x_lo: float, x_hi: float, y_lo: float,
            y_hi: float) -> tuple[int, int]:
    """The (column, row) cell a point falls in, on the same scale as ``scatter_cells``."""
    dots_w, dots_h = width * 2, height * 4
    dx = min(dots_w - 1, max(0, round((x - x_lo) * (dots_w - 1) / (x_hi - x_lo)))) if x_hi > x_lo else 0
    dy = min(dots_h - 1, max(0, round((y_hi - y) * (dots_h - 1) / (y_hi - y_lo)))) if y_hi > y_lo else 0
    return dx // 2, dy // 4
