"""Positions: the spot leg (base free / locked / reserve, quote), the futures leg (size and
side, entry, mark, unrealised P&L, liquidation price and distance, funding), and on its bottom
border the spot fee rates in use."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from core.state import CockpitState
from tui import fmt, theme
from tui.panes.base import Pane, set_content, set_title


def positions_table(s: CockpitState) -> Group:
    base, quote = fmt.split_symbol(s.symbol)

    def v(text: str, style=theme.VALUE) -> Text:
        return Text(text, style=style)

    spot = Table.grid(padding=(0, 1), expand=True)
    spot.add_column(style=theme.LABEL, no_wrap=True, min_width=10)
    for _ in range(3):
        spot.add_column(justify="right", no_wrap=True)
    spot.add_row("", v("free", theme.LABEL), v("locked", theme.LABEL), v("reserve", theme.LABEL))
    spot.add_row(
        f"spot {base}", v(fmt.num(s.spot_free, 6), theme.STRONG), v(fmt.num(s.spot_locked, 6)), v(fmt.num(s.spot_reserve, 6))
    )
    spot.add_row(quote, v(fmt.num(s.quote_free, 2), theme.STRONG), v(fmt.num(s.quote_locked, 2)), "")

    perp = Table.grid(padding=(0, 1), expand=True)
    perp.add_column(no_wrap=True, style=theme.LABEL, min_width=10)
    perp.add_column(justify="right", no_wrap=True)
    perp.add_column(style=theme.LABEL, no_wrap=True)
    perp.add_column(justify="right", no_wrap=True)
    size = s.futures_size
    side = Text("perp ", style=theme.LABEL)
    if size > 0:
        side.append("LONG", style=theme.BUY)
    elif size < 0:
        side.append("SHORT", style=theme.SELL)
    else:
        side.append("flat", style=theme.LABEL)
    perp.add_row(side, v(fmt.num(abs(size), 6), theme.STRONG), "entry", v(fmt.num(s.futures_entry, 2) if size else fmt.DASH))
    perp.add_row("mark", v(fmt.num(s.mark_price, 2)), "uPnL", v(fmt.num(s.unrealised_pnl, 2, sign=True), fmt.signed_style(s.unrealised_pnl)))
    dist = s.liq_distance_pct
    dist_style = theme.VALUE if dist is None else (theme.BAD if abs(dist) < 5 else theme.WARN if abs(dist) < 15 else theme.OK)
    perp.add_row("liq", v(fmt.num(s.liq_price, 2)), "distance", v(fmt.pct(dist, 1), dist_style))
    if s.next_funding_ms:
        nxt = f"{fmt.utc_time(s.next_funding_ms)[:5]} · {fmt.duration(max(0, (s.next_funding_ms - s.ts_ms) / 1000))}"
    else:
        nxt = fmt.DASH
    rate = None if s.funding_rate is None else s.funding_rate * 100
    perp.add_row("funding", v(fmt.pct(rate, 4, sign=True), fmt.signed_style(rate)), "next", v(nxt))
    perp.add_row(
        "equity", v(fmt.num(s.equity_quote, 2)), "drawdown",
        v(fmt.pct(s.drawdown_pct, 2), theme.WARN if s.drawdown_pct > 0 else theme.VALUE),
    )
    return Group(spot, perp)


def fee_pct(rate: float | None) -> str:
    """A fee rate as a percentage with the digits it has: 0.1%, 0.055%, 0.02%."""
    if rate is None:
        return fmt.DASH
    return format(rate * 100, ".4f").rstrip("0").rstrip(".") + "%"


def fees_line(s: CockpitState) -> Text:
    """The spot fee rates every cost figure uses (the venue's, read at start; paper: the config's)."""
    t = Text(no_wrap=True, overflow="ellipsis")
    if s.maker_fee_rate is None and s.taker_fee_rate is None:
        return t  # no venue rules yet: nothing to say
    t.append("fees ", style=theme.LABEL)
    t.append("maker ", style=theme.LABEL)
    t.append(fee_pct(s.maker_fee_rate), style=theme.VALUE)
    t.append(" · taker ", style=theme.LABEL)
    t.append(fee_pct(s.taker_fee_rate), style=theme.VALUE)
    return t


class PositionsPane(Pane):
    TITLE = "Positions"

    def compose(self) -> ComposeResult:
        yield Static(id="positions-body")

    def key(self, s: CockpitState):
        return (
            s.symbol, s.spot_free, s.spot_locked, s.spot_reserve, s.quote_free, s.quote_locked,
            s.futures_size, s.futures_entry, s.mark_price, s.unrealised_pnl, s.liq_price,
            s.liq_distance_pct, s.funding_rate, s.next_funding_ms,
            (s.next_funding_ms - s.ts_ms) // 1000 if s.next_funding_ms else None,
            s.equity_quote, s.drawdown_pct, s.maker_fee_rate, s.taker_fee_rate,
        )

    def render_state(self, s: CockpitState) -> None:
        # spot: 3 rows, perp: 5 rows, always; the fee rates on the bottom border (fits 80x24)
        set_content(self.query_one("#positions-body", Static), positions_table(s), size=8)
        set_title(self, subtitle=fees_line(s).plain)
