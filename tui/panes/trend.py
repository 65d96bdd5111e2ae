"""Trend: price, EMA fast/slow, slope, trend state, the bias parts from ``decision.bias``,
and a small braille chart of price with both EMAs and the buy/sell anchor VWAPs."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from core.state import CockpitState
from tui import fmt, theme
from tui.panes.base import Pane, set_content
from tui.panes.chart import BrailleChart, HLine, Series

_TREND_STYLE = {"up": theme.OK, "down": theme.BAD}
_TREND_ARROW = {"up": "▲", "down": "▼"}


def trend_text(s: CockpitState) -> Text:
    t = Text(no_wrap=True, overflow="ellipsis")
    t.append("price ", style=theme.LABEL)
    t.append(fmt.num(s.price, 2), style=theme.STRONG)
    state = (s.trend_state or "flat").lower()
    t.append("  ")
    t.append(f"{_TREND_ARROW.get(state, '■')} {state.upper()}", style=_TREND_STYLE.get(state, theme.VALUE) + theme.BOLD)
    t.append("  slope ", style=theme.LABEL)
    t.append(fmt.pct(s.slope_pct, 3, sign=True), style=fmt.signed_style(s.slope_pct))
    t.append("\nEMA fast ", style=theme.LABEL)
    t.append(fmt.num(s.ema_fast, 2), style=theme.ACCENT)
    t.append("  slow ", style=theme.LABEL)
    t.append(fmt.num(s.ema_slow, 2), style=theme.MAG)
    t.append("  signal ", style=theme.LABEL)
    t.append(fmt.num(s.trend_signal, 2, sign=True), style=fmt.signed_style(s.trend_signal))
    d = s.decision
    t.append("\nbias ", style=theme.LABEL)
    if d is None:
        t.append(fmt.DASH, style=theme.LABEL)
    else:
        b = d.bias
        for label, value in (("ema", b.ema_bias), ("anchor", b.anchor_bias), ("comb", b.combined)):
            t.append(f"{label} ", style=theme.LABEL)
            t.append(fmt.num(value, 2, sign=True), style=fmt.signed_style(value))
            t.append("  ")
        t.append("scale ×", style=theme.LABEL)
        t.append(fmt.num(b.scale, 2), style=theme.ACCENT)
    return t


def legend_text() -> Text:
    t = Text(no_wrap=True, overflow="crop")
    for label, color, mark in (
        ("price", theme.CHART_PRICE, "━"),
        ("ema fast", theme.CHART_EMA_FAST, "━"),
        ("ema slow", theme.CHART_EMA_SLOW, "━"),
        ("buy vwap", theme.CHART_BUY_VWAP, "╍"),
        ("sell vwap", theme.CHART_SELL_VWAP, "╍"),
    ):
        t.append(mark + " ", style=color)
        t.append(label + "  ", style=theme.LABEL)
    return t


class TrendPane(Pane):
    TITLE = "Trend"

    def compose(self) -> ComposeResult:
        yield Static(id="trend-head")
        yield BrailleChart(id="trend-chart", label_style=theme.LABEL)
        yield Static(legend_text(), id="trend-legend")

    def key(self, s: CockpitState):
        d = s.decision
        return (
            s.price, s.ema_fast, s.ema_slow, s.slope_pct, s.trend_state, s.trend_signal,
            d.bias if d else None, s.price_history, s.ema_fast_history, s.ema_slow_history,
            s.buy_vwap, s.sell_vwap,
        )

    def render_state(self, s: CockpitState) -> None:
        set_content(self.query_one("#trend-head", Static), trend_text(s), fixed=True)  # height 3 in CSS
        self.query_one("#trend-chart", BrailleChart).set_data(
            (
                Series(s.ema_slow_history, theme.CHART_EMA_SLOW, "ema slow"),
                Series(s.ema_fast_history, theme.CHART_EMA_FAST, "ema fast"),
                Series(s.price_history, theme.CHART_PRICE, "price"),
            ),
            (
                HLine(s.buy_vwap, theme.CHART_BUY_VWAP, "buy vwap"),
                HLine(s.sell_vwap, theme.CHART_SELL_VWAP, "sell vwap"),
            ),
        )
