"""Feed health: market data age, order round-trip p50 / p99, rate budget left, events, bad
messages."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from core.state import CockpitState
from tui import fmt, theme
from tui.panes.base import Pane, set_content


def feed_table(s: CockpitState) -> Table:
    f = s.feed
    t = Table.grid(padding=(0, 1), expand=True)
    t.add_column(style=theme.LABEL, no_wrap=True)
    t.add_column(justify="right", no_wrap=True)
    age = f.data_age_ms
    age_style = theme.LABEL if age is None else theme.OK if age < 2_000 else theme.WARN if age < 10_000 else theme.BAD
    t.add_row("data age", Text(fmt.age_ms(age), style=age_style))
    rtt = f"{fmt.num(f.rtt_p50_ms, 0)} / {fmt.num(f.rtt_p99_ms, 0)} ms" if f.rtt_p50_ms is not None else fmt.DASH
    rtt_style = theme.VALUE if f.rtt_p99_ms is None or f.rtt_p99_ms < 500 else theme.WARN
    t.add_row("rtt p50/p99", Text(rtt, style=rtt_style))
    budget = f.rate_budget_left
    t.add_row(
        "rate left",
        Text(fmt.DASH if budget is None else str(budget), style=theme.VALUE if budget is None or budget > 10 else theme.WARN),
    )
    t.add_row("events", Text(f"{f.events_total:,}", style=theme.VALUE))
    t.add_row("bad msgs", Text(f"{f.bad_messages:,}", style=theme.BAD if f.bad_messages else theme.VALUE))
    if f.stalls is not None:  # a venue with streams (Bybit): silent streams replaced, gaps reconciled
        t.add_row("stalls / reconn", Text(f"{f.stalls:,} / {f.reconnects or 0:,}",
                                          style=theme.WARN if f.stalls else theme.VALUE))
    if f.alerts_dropped is not None:  # alerts configured: what no service took
        t.add_row("alerts dropped", Text(f"{f.alerts_dropped:,}", style=theme.WARN if f.alerts_dropped else theme.VALUE))
    return t


class FeedPane(Pane):
    TITLE = "Feed"

    def compose(self) -> ComposeResult:
        yield Static(id="feed-body")

    def key(self, s: CockpitState):
        return s.feed

    def render_state(self, s: CockpitState) -> None:
        set_content(self.query_one("#feed-body", Static), feed_table(s), size=5)  # five rows, always
