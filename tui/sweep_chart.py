"""``sweep``'s frontier in the terminal: cost (USDT) against mean |gap| for every config, the
Pareto frontier marked, the lazy-hedge bound as a line and today's config marked -- braille
dots (``tui.braille``) in 80 columns -- then the frontier's configs as a table.
"""

from __future__ import annotations

import math

from rich.style import Style
from rich.text import Text

from core.sweep.frontier import metric
from tui.braille import cell_of, scatter_cells

CONFIGS, FRONT, LAZY, TODAY = "grey62", "bright_green", "cyan", "bright_yellow"
X_KEY, Y_KEY = "mean_abs_gap_base", "cost_quote"


def _short(key: str) -> str:
    return key.rsplit(".", 1)[-1]


def _num(v, fmt: str) -> str:
    return "-" if v is None else format(v, fmt)


def frontier_table(summary: dict, width: int = 80, limit: int = 12) -> list[str]:
    """The frontier's configs (cheapest tracking first): swept values and the four figures."""
    rows = {r["id"]: r for r in summary["rows"]}
    ids = summary["frontier"]["usdt_vs_mean_gap"]
    keys = summary["param_keys"]
    fig_head = f"{'mean|gap|':>10} {'over%':>6} {'cost bps':>8} {'cost USDT':>10}"
    room = max(0, width - len(fig_head) - 4)
    col = max(6, min(12, room // max(1, len(keys)))) if keys else 0
    shown_keys = keys[: room // col] if col else []
    head = "  " + "".join(f"{_short(k)[:col - 1]:>{col}}" for k in shown_keys) + " " + fig_head
    out = [head[:width]]
    for pid in ids[:limit]:
        r = rows[pid]
        mark = "T " if pid == summary["today_id"] else "  "
        vals = "".join(f"{str(r['params'].get(k, '·'))[:col - 1]:>{col}}" for k in shown_keys)
        line = (f"{mark}{vals} {_num(r.get('mean_abs_gap_base'), '10.5f')} {_num(r.get('pct_time_over_band'), '6.2f')}"
                f" {_num(r.get('cost_bps'), '8.2f')} {_num(metric(r, 'cost_quote'), '10.2f')}")
        out.append(line[:width])
    if len(ids) > limit:
        out.append(f"  … {len(ids) - limit} more on the frontier (results.csv has them all)"[:width])
    if len(shown_keys) < len(keys):
        out.append(f"  (swept keys not shown: {', '.join(_short(k) for k in keys[len(shown_keys):])})"[:width])
    return out


def render_frontier(summary: dict, width: int = 80, height: int = 12) -> Text:
    """The chart and the frontier table, every line at most ``width`` cells."""
    rows = summary["rows"]
    pts = [(metric(r, X_KEY), metric(r, Y_KEY)) for r in rows]
    good = [(x, y) for x, y in pts if x is not None and y is not None]
    out = Text(no_wrap=True, overflow="crop")
    title = (f"frontier: cost (USDT) vs mean |gap| (base), band {summary['band_base']:g}, "
             f"{summary['done']}/{summary['points']} configs")
    out.append(title[:width] + "\n", style="bold")
    if not good:
        out.append("no finished config to draw yet\n", style="dim")
        return out
    xs, ys = [p[0] for p in good], [p[1] for p in good]
    x_lo, x_hi = min(xs), max(xs)
    if x_hi == x_lo:
        x_lo, x_hi = x_lo * 0.9, x_hi * 1.1 + 1e-9
    pad = (x_hi - x_lo) * 0.05
    x_lo, x_hi = max(0.0, x_lo - pad), x_hi + pad
    lazy = [(p["mean_abs_gap_base"], p["cost_quote"]) for p in sorted(summary["lazy"], key=lambda p: p["band"])
            if x_lo <= p["mean_abs_gap_base"] <= x_hi]
    all_y = ys + [y for _, y in lazy]
    y_lo, y_hi = min(all_y), max(all_y)
    if y_hi == y_lo:
        y_lo, y_hi = y_lo - 1.0, y_hi + 1.0
    ypad = (y_hi - y_lo) * 0.05
    y_lo, y_hi = max(0.0, y_lo - ypad), y_hi + ypad
    span = y_hi - y_lo
    dec = 0 if span >= 100 else 1 if span >= 10 else 2
    labels = [f"{y_hi:,.{dec}f}", f"{(y_hi + y_lo) / 2:,.{dec}f}", f"{y_lo:,.{dec}f}"]
    lw = max(len(s) for s in labels) + 1
    plot_w = max(10, width - lw)
    by_id = {r["id"]: (metric(r, X_KEY), metric(r, Y_KEY)) for r in rows}
    front = [by_id[i] for i in summary["frontier"]["usdt_vs_mean_gap"]]
    scale = {"x_lo": x_lo, "x_hi": x_hi, "y_lo": y_lo, "y_hi": y_hi}
    bits, color = scatter_cells([(good, CONFIGS, False), (lazy, LAZY, True)], plot_w, height, **scale)
    glyph: dict[tuple[int, int], tuple[str, str]] = {}
    for x, y in front:
        glyph[cell_of(x, y, plot_w, height, **scale)] = ("●", FRONT)
    today = by_id.get(summary["today_id"])
    if today and today[0] is not None and today[1] is not None:
        glyph[cell_of(today[0], today[1], plot_w, height, **scale)] = ("T", TODAY)
    mid = height // 2
    for cy in range(height):
        lab = labels[0] if cy == 0 else labels[2] if cy == height - 1 else labels[1] if cy == mid else ""
        out.append(lab.rjust(lw - 1) + "┤" if lab else " " * (lw - 1) + "│", style="dim")
        for cx in range(plot_w):
            g = glyph.get((cx, cy))
            if g:
                out.append(g[0], style=Style(color=g[1], bold=True))
            elif bits[cy][cx]:
                out.append(chr(0x2800 + bits[cy][cx]), style=Style(color=color[cy][cx]))
            else:
                out.append(" ")
        out.append("\n")
    axis = " " * (lw - 1) + "└" + "─" * plot_w
    out.append(axis[:width] + "\n", style="dim")
    xl = [f"{x_lo:.4f}", f"{(x_lo + x_hi) / 2:.4f}", f"{x_hi:.4f}"]
    xline = [" "] * (lw + plot_w)
    for text, pos in ((xl[0], lw), (xl[1], lw + plot_w // 2 - len(xl[1]) // 2), (xl[2], lw + plot_w - len(xl[2]))):
        for i, ch in enumerate(text):
            if 0 <= pos + i < len(xline):
                xline[pos + i] = ch
    out.append("".join(xline)[:width].rstrip() + "\n", style="dim")
    legend = Text()
    legend.append("⠿ config ", style=CONFIGS)
    legend.append("● frontier ", style=FRONT)
    legend.append("⠤ lazy-hedge bound ", style=LAZY)
    legend.append("T today", style=TODAY)
    legend.append("   x: mean |gap| (base)", style="dim")
    legend.truncate(width)
    out.append_text(legend)
    out.append("\n")
    un = summary.get("unhedged") or {}
    if un.get("mean_abs_gap_base") is not None and math.isfinite(un["mean_abs_gap_base"]):
        out.append(f"no hedging: mean |gap| {un['mean_abs_gap_base']:.5f}, {un['pct_time_over_band']:.2f} % of the "
                   f"time over the band"[:width] + "\n", style="dim")
    for line in frontier_table(summary, width):
        out.append(line + "\n")
    return out
