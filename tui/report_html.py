"""``report --html FILE``: one self-contained page with the report's text and its charts.

Plotly draws them (zoom, pan, hover, one shared time axis); its JavaScript is written into the
page, so the file opens offline and needs nothing else. Plotly rather than an SVG of our own:
zooming into a month of minutes is what a trader does with these charts, and it is a
well-kept library that does exactly that.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from core.report_series import ReportSeries, Series
from tui.html_page import write_page


def _x(ts: list[int]) -> list[datetime]:
    return [datetime.fromtimestamp(t / 1000, tz=timezone.utc) for t in ts]


def build_figure(s: ReportSeries):
    """The charts as one plotly figure: rows share the time axis."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    titles = (f"Price ({s.symbol or 'quote'}) with our fills", "Gap (base) against soft / hard",
              "Cumulative volume (quote)", "Cumulative hedge cost (quote: fees + price vs arrival)",
              "P&L (quote): equity change, fees, hedge cost")
    fig = make_subplots(rows=5, cols=1, shared_xaxes=True, vertical_spacing=0.04, subplot_titles=titles)

    def line(series: Series, name: str, row: int, color: str, *, dash: str | None = None, sign: float = 1.0,
             shape: str = "hv", legend: bool = True) -> None:
        ts, vals = series
        if ts:
            fig.add_trace(go.Scatter(x=_x(ts), y=[sign * v for v in vals], name=name, mode="lines",
                                     line={"color": color, "dash": dash, "shape": shape, "width": 1.2},
                                     showlegend=legend, legendgroup=name), row=row, col=1)

    line(s.price, "price", 1, "#444", shape="linear")
    for fills, name, color, symbol in ((s.buys, "our buys", "#1a9850", "triangle-up"),
                                       (s.sells, "our sells", "#d73027", "triangle-down")):
        if fills:
            fig.add_trace(go.Scatter(x=_x([f[0] for f in fills]), y=[f[1] for f in fills], name=name, mode="markers",
                                     marker={"color": color, "symbol": symbol, "size": 8},
                                     text=[f"qty {f[2]:g}" for f in fills]), row=1, col=1)
    line(s.gap, "gap", 2, "#2c7fb8")
    for series, name, color in ((s.hard, "hard", "#d73027"), (s.soft, "soft", "#fdae61")):
        line(series, name, 2, color, dash="dot")
        line(series, name, 2, color, dash="dot", sign=-1.0, legend=False)
    line(s.volume, "volume", 3, "#3182bd")
    line(s.cost, "hedge cost", 4, "#756bb1")
    line(s.pnl_total, "equity change", 5, "#222", shape="linear")
    line(s.pnl_fees, "fees", 5, "#fdae61")
    line(s.pnl_cost, "hedge cost (in P&L)", 5, "#756bb1")
    fig.update_layout(height=1400, hovermode="x unified", template="plotly_white",
                      margin={"l": 60, "r": 20, "t": 60, "b": 40})
    fig.update_xaxes(rangeslider={"visible": False})
    return fig


def write_html(path: str | Path, s: ReportSeries, text: str, title: str) -> Path:
    """Write the page (the report's text above its charts); returns the path written."""
    return write_page(path, build_figure(s), text, title)
