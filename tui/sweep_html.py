"""``sweep``'s frontier as one self-contained page: four panels, cost (USDT, bps) against
tracking (mean |gap|, % of the time over the common band), every config with its values on
hover, the Pareto frontier joined, the lazy-hedge bound dashed and today's config starred.

Plotly, as ``report --html`` does (``tui.report_html``): its JavaScript is written into the
page, so the file opens offline.
"""

from __future__ import annotations

import html
from pathlib import Path

from core.sweep.frontier import AXES, LABELS, metric
from tui.html_page import write_page

PANELS = ("usdt_vs_mean_gap", "usdt_vs_over_band", "bps_vs_mean_gap", "bps_vs_over_band")


def _hover(r: dict) -> str:
    params = ", ".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in r["params"].items()) or "today's config"
    figs = (f"cost {r.get('cost_bps')} bps / {metric(r, 'cost_quote')} USDT<br>mean |gap| {r.get('mean_abs_gap_base')}"
            f", over band {r.get('pct_time_over_band')} %")
    return f"{html.escape(params)}<br>{figs}"


def _view(every: list, lazy: list) -> tuple[list[float] | None, list[float] | None]:
    """The panel's first view: the configs' extent (the lazy line runs on past it: zoom out to
    see it all), and the lazy bound's height inside that extent."""
    if not every:
        return None, None
    xs = [t[0] for t in every]
    lo, hi = min(xs), max(xs)
    pad = 0.15 * ((hi - lo) or abs(hi) or 1.0)
    xr = [lo - pad, hi + pad]
    ys = [t[1] for t in every] + [y for x, y in lazy if xr[0] <= x <= xr[1]]
    ylo, yhi = min(ys), max(ys)
    ypad = 0.1 * ((yhi - ylo) or abs(yhi) or 1.0)
    return xr, [ylo - ypad, yhi + ypad]


def build_figure(summary: dict):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    titles = [f"{LABELS[AXES[p][1]]} vs {LABELS[AXES[p][0]]}" for p in PANELS]
    fig = make_subplots(rows=2, cols=2, subplot_titles=titles, horizontal_spacing=0.08, vertical_spacing=0.12)
    rows = summary["rows"]
    by_id = {r["id"]: r for r in rows}
    for n, panel in enumerate(PANELS):
        xk, yk = AXES[panel]
        row, col = n // 2 + 1, n % 2 + 1
        first = n == 0

        def pts(rs):
            xy = [(metric(r, xk), metric(r, yk), r) for r in rs]
            return [t for t in xy if t[0] is not None and t[1] is not None]

        every = pts(rows)
        fig.add_trace(go.Scatter(x=[t[0] for t in every], y=[t[1] for t in every], mode="markers", name="config",
                                 marker={"color": "#999", "size": 6}, text=[_hover(t[2]) for t in every],
                                 hoverinfo="text", legendgroup="config", showlegend=first), row=row, col=col)
        front = pts([by_id[i] for i in summary["frontier"][panel]])
        fig.add_trace(go.Scatter(x=[t[0] for t in front], y=[t[1] for t in front], mode="lines+markers",
                                 name="frontier", line={"color": "#1a9850", "width": 1.5},
                                 marker={"color": "#1a9850", "size": 8}, text=[_hover(t[2]) for t in front],
                                 hoverinfo="text", legendgroup="frontier", showlegend=first), row=row, col=col)
        # joined in band order (narrow to wide), not by x: on the % over band axis every band
        # narrower than the common band sits at 0 %, and a line sorted by x would run across the view
        lazy = [(p[xk], p[yk]) for p in sorted(summary["lazy"], key=lambda p: p["band"])]
        fig.add_trace(go.Scatter(x=[p[0] for p in lazy], y=[p[1] for p in lazy], mode="lines",
                                 name="lazy-hedge bound (taker fee, no spread)",
                                 line={"color": "#2c7fb8", "dash": "dash", "width": 1.5},
                                 legendgroup="lazy", showlegend=first), row=row, col=col)
        today = pts([by_id[summary["today_id"]]] if summary["today_id"] in by_id else [])
        fig.add_trace(go.Scatter(x=[t[0] for t in today], y=[t[1] for t in today], mode="markers",
                                 name="today's config", marker={"color": "#d73027", "size": 16, "symbol": "star"},
                                 text=[_hover(t[2]) for t in today], hoverinfo="text", legendgroup="today",
                                 showlegend=first), row=row, col=col)
        xr, yr = _view(every, lazy)
        fig.update_xaxes(title_text=LABELS[xk], range=xr, row=row, col=col)
        fig.update_yaxes(title_text=LABELS[yk], range=yr, row=row, col=col)
    fig.update_layout(height=950, template="plotly_white", margin={"l": 60, "r": 20, "t": 60, "b": 40})
    return fig


def write_html(path: str | Path, summary: dict, text: str, title: str) -> Path:
    """Write the page (the summary text above the charts); returns the path written."""
    return write_page(path, build_figure(summary), text, title)
