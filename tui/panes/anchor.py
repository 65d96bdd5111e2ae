"""Anchor: the rolling buy / sell VWAPs of our recent fills, the fill counts and imbalance,
and the anchor gate on the side the engine needs (``decision.gate``): the edge of the current
price in bps against the edge it demands, pass / fail, and the wait countdown."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from core.model import Side
from core.state import CockpitState
from tui import fmt, theme
from tui.panes.base import Pane, set_content


def wait_bar(waited: float, max_wait: float, width: int = 12) -> Text:
    frac = 0.0 if max_wait <= 0 else min(1.0, max(0.0, waited / max_wait))
    n = round(frac * width)
    t = Text(no_wrap=True)
    t.append("█" * n, style=theme.WARN)
    t.append("·" * (width - n), style=theme.LABEL)
    return t


def anchor_table(s: CockpitState) -> Table:
    base, _quote = fmt.split_symbol(s.symbol)
    t = Table.grid(padding=(0, 1), expand=True)
    t.add_column(style=theme.LABEL, no_wrap=True)
    t.add_column(justify="right", no_wrap=True)
    t.add_column(style=theme.LABEL, no_wrap=True)
    t.add_column(justify="right", no_wrap=True)
    t.add_row(
        "buy VWAP", Text(fmt.num(s.buy_vwap, 2), style=theme.OK), "fills", Text(str(s.buy_fill_count), style=theme.VALUE)
    )
    t.add_row(
        "sell VWAP", Text(fmt.num(s.sell_vwap, 2), style=theme.BAD), "fills", Text(str(s.sell_fill_count), style=theme.VALUE)
    )
    t.add_row(
        "window",
        Text(fmt.duration(s.anchor_window_s) if s.anchor_window_s else fmt.DASH, style=theme.VALUE),
        "imbalance",
        Text(fmt.num(s.fill_imbalance_base, 6, sign=True) + f" {base}", style=fmt.signed_style(s.fill_imbalance_base)),
    )
    return t


def gate_text(s: CockpitState) -> Text:
    d = s.proposal.decision if s.proposal is not None else s.decision
    t = Text(no_wrap=True, overflow="ellipsis")
    if d is None:
        t.append("gate ", style=theme.LABEL)
        t.append(fmt.DASH, style=theme.LABEL)
        return t
    g = d.gate
    t.append("gate ", style=theme.LABEL)
    if not g.applies:
        t.append("n/a  ", style=theme.LABEL)
        t.append(g.reason or "no gate", style=theme.VALUE)
        return t
    t.append(" PASS " if g.passed else " FAIL ", style=theme.BADGE_STATE["ACTIVE"] if g.passed else theme.BADGE_STATE["PAUSED"])
    if d.side is not None:
        t.append("  ")
        t.append_text(fmt.side_text(d.side))
        t.append(" ≥ " if d.side is Side.SELL else " ≤ ", style=theme.LABEL)
        t.append(fmt.num(g.limit_price, 2), style=theme.STRONG)
    if g.reference_vwap is not None:  # the limit is the opposite side's VWAP ± the edge: say which
        t.append(f"  ({'buy' if d.side is Side.SELL else 'sell'} VWAP " if d.side is not None else "  (VWAP ",
                 style=theme.LABEL)
        t.append(fmt.num(g.reference_vwap, 2), style=theme.VALUE)
        t.append(")", style=theme.LABEL)
    t.append("\nedge ", style=theme.LABEL)
    t.append(fmt.bps(g.actual_edge_bps), style=theme.OK if g.passed else theme.WARN)
    t.append("  need ", style=theme.LABEL)
    t.append(fmt.bps(g.required_edge_bps, sign=False), style=theme.VALUE)
    if g.max_wait_s > 0:
        left = g.max_wait_s - g.waited_s
        t.append("\nwait ", style=theme.LABEL)
        t.append_text(wait_bar(g.waited_s, g.max_wait_s))
        t.append(f" {fmt.duration(g.waited_s)}/{fmt.duration(g.max_wait_s)}", style=theme.VALUE)
        if not g.passed:
            t.append("  left ", style=theme.LABEL)
            t.append(fmt.countdown(left, s.feed.speed), style=theme.WARN + theme.BOLD)
    if g.reason:
        t.append("\n")
        t.append(g.reason, style=theme.LABEL)
    return t


class AnchorPane(Pane):
    TITLE = "Anchor"

    def compose(self) -> ComposeResult:
        yield Static(id="anchor-body")
        yield Static(id="anchor-gate")

    def key(self, s: CockpitState):
        d = s.proposal.decision if s.proposal is not None else s.decision
        return (
            s.symbol, s.buy_vwap, s.sell_vwap, s.anchor_window_s, s.buy_fill_count, s.sell_fill_count,
            s.fill_imbalance_base, d.gate if d else None, d.side if d else None,
        )

    def render_state(self, s: CockpitState) -> None:
        set_content(self.query_one("#anchor-body", Static), anchor_table(s), size=3)  # three rows
        set_content(self.query_one("#anchor-gate", Static), gate_text(s))
