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
from tui.panes.fit import Rows
from tui.panes.fit import item as _item


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


def gate_text(s: CockpitState) -> Rows:
    """The gate, one row per line of labelled items (fitted to the pane's width when drawn)."""
    d = s.proposal.decision if s.proposal is not None else s.decision
    L = theme.LABEL
    if d is None:
        return Rows(((_item(("gate ", L), (fmt.DASH, L)),),))
    g = d.gate
    if not g.applies:
        return Rows(((_item(("gate ", L), ("n/a", L)), _item((g.reason or "no gate", theme.VALUE))),))
    first = [_item(("gate ", L), (" PASS " if g.passed else " FAIL ",
                                  theme.BADGE_STATE["ACTIVE"] if g.passed else theme.BADGE_STATE["PAUSED"]))]
    if d.side is not None:
        limit = fmt.side_text(d.side)
        limit.append(" ≥ " if d.side is Side.SELL else " ≤ ", style=L)
        limit.append(fmt.num(g.limit_price, 2), style=theme.STRONG)
        limit.no_wrap = True
        first.append(limit)
    if g.reference_vwap is not None:  # the limit is the opposite side's VWAP ± the edge: say which
        which = ("buy " if d.side is Side.SELL else "sell ") if d.side is not None else ""
        first.append(_item((f"({which}VWAP ", L), (fmt.num(g.reference_vwap, 2), theme.VALUE), (")", L)))
    rows: list[tuple[Text, ...]] = [tuple(first)]
    rows.append((_item(("edge ", L), (fmt.bps(g.actual_edge_bps), theme.OK if g.passed else theme.WARN)),
                 _item(("need ", L), (fmt.bps(g.required_edge_bps, sign=False), theme.VALUE))))
    if g.max_wait_s > 0:
        wait = _item(("wait ", L))
        wait.append_text(wait_bar(g.waited_s, g.max_wait_s))
        wait.append(f" {fmt.duration(g.waited_s)}/{fmt.duration(g.max_wait_s)}", style=theme.VALUE)
        row = [wait]
        if not g.passed:
            row.append(_item(("left ", L), (fmt.countdown(g.max_wait_s - g.waited_s, s.feed.speed),
                                            theme.WARN + theme.BOLD)))
        rows.append(tuple(row))
    if g.reason:
        rows.append((_item((g.reason, L)),))
    return Rows(tuple(rows))


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
        gate = gate_text(s)
        set_content(self.query_one("#anchor-gate", Static), gate, size=len(gate.rows))
