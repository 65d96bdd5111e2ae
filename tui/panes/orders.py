"""Orders: our pending orders (a DataTable with stable row keys, diffed in place), the
countdown to taker escalation, and our recent fills.

Cells are always ``rich.text.Text``: a DataTable parses plain ``str`` cells as markup, and an
order status or a fill source comes from the exchange.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import DataTable, ProgressBar, Static

from core.state import CockpitState, FillView, OrderView
from tui import fmt, theme
from tui.panes.base import Pane, set_content, set_title

COLUMNS = (
    ("side", "Side", "left"),
    ("tif", "TIF", "left"),
    ("price", "Price", "right"),
    ("qty", "Qty", "right"),
    ("filled", "Filled", "right"),
    ("status", "Status", "left"),
    ("age", "Age", "right"),
    ("chase", "Chase", "right"),
)

_STATUS_STYLE = {
    "new": theme.VALUE,
    "partiallyfilled": theme.ACCENT,
    "filled": theme.OK,
    "cancelled": theme.LABEL,
    "rejected": theme.BAD,
}


_STATUS_SHORT = {"PartiallyFilled": "Partial", "PartiallyFilledCanceled": "PartCxl"}


def order_row(o: OrderView) -> tuple[tuple[str, object], ...]:
    """Raw (plain text, style) per column -- the unit the diff compares."""
    return (
        (o.side.value.upper(), fmt.side_style(o.side)),
        (o.tif, theme.VALUE),
        (fmt.dec_str(o.price), theme.STRONG),
        (fmt.dec_str(o.qty), theme.VALUE),
        (fmt.dec_str(o.filled), theme.ACCENT if o.filled not in ("0", "0.0", "") else theme.LABEL),
        (_STATUS_SHORT.get(o.status, o.status), _STATUS_STYLE.get(o.status.lower(), theme.VALUE)),
        (fmt.duration(o.age_s), theme.VALUE),
        ("gate", theme.ACCENT) if o.at_gate else (str(o.chase_count), theme.WARN if o.chase_count else theme.LABEL),
    )


def _cell(raw: tuple[str, object], justify: str) -> Text:
    text, style = raw
    return Text(text, style=style, justify=justify)  # type: ignore[arg-type]


class OrdersTable(DataTable):
    """A ``DataTable`` that redraws its lines once it has re-measured its columns.

    Textual 8.2.8 keys the DataTable's line caches by ``_update_count``. Adding rows or
    changing cells bumps it, but the re-measuring of the column widths that follows (on idle,
    ``_update_dimensions``) does not: a line drawn in between (the header, often) keeps its old
    column widths until something else bumps the count. A cockpit that repaints only what
    changed would show that stale header indefinitely, so bump it here.
    """

    def _update_dimensions(self, new_rows) -> None:  # type: ignore[override]
        super()._update_dimensions(new_rows)
        self._update_count += 1
        self.refresh()


def sync_table(table: DataTable, orders: tuple[OrderView, ...], cache: dict[str, tuple]) -> tuple[int, int, int]:
    """Make ``table`` show ``orders``: remove stale keys, update changed cells, add new rows.

    Returns (removed, updated cells, added) -- the tests use it to prove the diff is minimal.
    """
    wanted = {o.client_id: order_row(o) for o in orders}
    removed = updated = added = 0
    for key in [k for k in cache if k not in wanted]:
        table.remove_row(key)
        del cache[key]
        removed += 1
    for key, row in wanted.items():
        old = cache.get(key)
        if old is None:
            table.add_row(*(_cell(c, j) for c, (_k, _l, j) in zip(row, COLUMNS)), key=key)
            added += 1
        elif old != row:
            for (col_key, _label, justify), a, b in zip(COLUMNS, old, row):
                if a != b:
                    table.update_cell(key, col_key, _cell(b, justify))
                    updated += 1
        cache[key] = row
    return removed, updated, added


def fills_table(fills: tuple[FillView, ...], limit: int = 8, base: str = "") -> Table | Text:
    if not fills:
        return Text("no fills yet", style=theme.LABEL)
    t = Table.grid(padding=(0, 1))
    t.add_column(style=theme.LABEL, no_wrap=True)
    t.add_column(no_wrap=True)
    t.add_column(justify="right", no_wrap=True)
    t.add_column(justify="right", no_wrap=True)
    t.add_column(justify="right", no_wrap=True)
    t.add_column(no_wrap=True)
    t.add_column(style=theme.LABEL, no_wrap=True, overflow="ellipsis")
    for f in sorted(fills, key=lambda f: f.ts_ms, reverse=True)[:limit]:
        t.add_row(
            Text(fmt.utc_time(f.ts_ms)),
            Text(f.side.value.upper(), style=fmt.side_style(f.side)),
            Text(fmt.dec_str(f.qty) + (f" {base}" if base else ""), style=theme.VALUE),
            Text("@ " + fmt.dec_str(f.price), style=theme.STRONG),
            Text("fee " + fmt.fee(f.fee, f.fee_coin), style=theme.LABEL),
            Text("maker" if f.is_maker else "taker", style=theme.OK if f.is_maker else theme.WARN),
            Text(f.source),
        )
    return t


def cost_subtitle(s: CockpitState) -> str:
    """The session's hedge cost under the fills: all-in bps, then its parts (``core.costs``)."""
    c = s.cost
    if not c.fills or c.cost_bps is None:
        return ""
    def bp(x: float, sign: str = "") -> str:
        return format(round(x, 1) or 0.0, f"{sign}.1f")  # no "-0.0"
    mark = "" if c.markout_bps is None else f" · markout {bp(c.markout_bps, '+')}"
    return f"cost {bp(c.cost_bps)} bps (fee {bp(c.fee_bps)} spread {bp(c.spread_bps)} drift {bp(c.drift_bps, '+')}){mark}"


class OrdersPane(Pane):
    TITLE = "Orders"

    def compose(self) -> ComposeResult:
        table: DataTable = OrdersTable(
            id="orders-table", show_cursor=False, zebra_stripes=False, cursor_type="none"
        )
        table.can_focus = False
        for key, label, justify in COLUMNS:
            table.add_column(Text(label, style=theme.LABEL, justify=justify), key=key)  # type: ignore[arg-type]
        yield table
        yield Static(Text("no open orders", style=theme.LABEL), id="orders-empty")
        with Horizontal(id="escalation"):
            yield Static(id="escalation-label")
            yield ProgressBar(total=1.0, show_eta=False, show_percentage=False, id="escalation-bar")
        yield Static(Text("recent fills", style=theme.LABEL), id="fills-title")
        yield Static(id="fills")

    def on_mount(self) -> None:
        self._rows: dict[str, tuple] = {}
        self._fills: tuple[FillView, ...] | None = None
        self.last_diff: tuple[int, int, int] = (0, 0, 0)

    def key(self, s: CockpitState):
        return (s.orders, s.escalation_progress, s.escalation_left_s, s.recent_fills, s.symbol, s.cost)

    def render_state(self, s: CockpitState) -> None:
        table = self.query_one("#orders-table", DataTable)
        with self.app.batch_update():
            self.last_diff = sync_table(table, s.orders, self._rows)
        has_orders = bool(s.orders)
        table.display = has_orders
        self.query_one("#orders-empty").display = not has_orders
        set_title(self, f"Orders · {len(s.orders)} open" if has_orders else "Orders", cost_subtitle(s))

        esc = self.query_one("#escalation")
        if s.escalation_progress is None:
            esc.display = False
        else:
            esc.display = True
            label = Text("taker in ", style=theme.LABEL)
            label.append(fmt.countdown(s.escalation_left_s, s.feed.speed), style=theme.WARN + theme.BOLD)
            # width: auto -- a layout pass only when the label's width changes
            set_content(self.query_one("#escalation-label", Static), label, size=label.cell_len)
            self.query_one("#escalation-bar", ProgressBar).update(progress=max(0.0, min(1.0, s.escalation_progress)))
        if s.recent_fills != self._fills:  # rebuilt only when the fills changed (not on every order age tick)
            self._fills = s.recent_fills
            fills = fills_table(s.recent_fills, base=fmt.split_symbol(s.symbol)[0])
            set_content(self.query_one("#fills", Static), fills, size=min(len(s.recent_fills), 8) or 1)
