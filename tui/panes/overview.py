"""The overview: one line per symbol when one cockpit runs several (issue 18).

Enough to see which symbol needs the trader without switching to it: price, net, the gap as a
bar against its soft / hard marks, trading state, mode, a waiting proposal, cost so far, the
working order and the last trade-level log line. The selected symbol (the one the other panes
show) is marked; a waiting proposal and a halt or pause wear badges, so they stand out; a calm
symbol stays plain.

Columns are laid out at the width the pane is drawn at: the ones that do not fit are dropped,
least important first (last action, gap value, working order, cost, mode, net), so 80 columns
still show symbol, price, bar, state and proposal. More symbols than lines show a window that
keeps the selected one in view, the border saying how many are above and below.

The pane re-renders only when what it shows changed (``row_key``: each row at the precision it
is printed), not on every snapshot: with ten symbols most polls move a price by less than it shows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.style import Style
from rich.text import Span, Text
from textual import events
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import Static

from core.model import Mode, TradingState
from core.state import CockpitState, SymbolRow
from tui import fmt, theme
from tui.panes.base import Pane, set_content, set_title
from tui.panes.delta import gauge_text

SEP = " "
UNDERLINE = Style(underline=True)
BAR_WIDTH = 8


def price_text(price: float | None) -> str:
    """A price to about six significant digits, whatever its size (60,010.5 or 0.123456)."""
    if price is None:
        return fmt.DASH
    a = abs(price)
    dp = 1 if a >= 10_000 else 2 if a >= 100 else 4 if a >= 1 else 6
    return f"{price:,.{dp}f}"


def qty_text(qty: float, *, sign: bool = True) -> str:
    """A base amount to about four significant digits (0.1233 BTC, 2.513 ETH, 51,200 DOGE)."""
    a = abs(qty)
    dp = 0 if a >= 1_000 else 1 if a >= 100 else 3 if a >= 1 else 4
    return fmt.num(qty, dp, sign=sign)


def state_cell(state: TradingState) -> tuple[str, object]:
    """ACTIVE plain green; PAUSED and HALTED as badges: a symbol that is not trading stands out."""
    if state is TradingState.ACTIVE:
        return "ACTIVE", theme.OK
    return state.value, theme.BADGE_STATE.get(state.value, theme.STRONG)


def cells(row: SymbolRow) -> dict[str, tuple[str, object]]:
    """Every column's (text, style) for one row; the bar is a ``Text`` of its own."""
    level = fmt.gap_level(row.gap_base, row.effective_soft, row.effective_hard)
    ask = ("▶#" + str(row.proposal_id), theme.BADGE_MODE["semi"]) if row.proposal_id is not None else ("", theme.LABEL)
    sym_style = (theme.BAD + theme.BOLD if row.trading_state is TradingState.HALTED
                 else theme.WARN + theme.BOLD if row.proposal_id is not None
                 else theme.STRONG if row.selected else theme.VALUE)
    mode = row.mode.value if isinstance(row.mode, Mode) else str(row.mode)
    return {
        "sel": ("▸" if row.selected else " ", theme.ACCENT + theme.BOLD),
        "symbol": (row.symbol, sym_style + UNDERLINE if row.selected else sym_style),
        "price": (price_text(row.price), theme.VALUE),
        "net": (qty_text(row.net_base), theme.VALUE),
        "gap": (qty_text(row.gap_base), fmt.LEVEL_STYLE[level]),
        "state": state_cell(row.trading_state),
        "mode": (mode, theme.BADGE_MODE.get(mode, theme.STRONG) if mode == "auto" else theme.VALUE),
        "ask": ask,
        "cost": (fmt.num(row.cost_bps, 1) if row.cost_bps is not None else fmt.DASH, theme.VALUE),
        "order": (row.working_order or fmt.DASH, theme.ACCENT if row.working_order else theme.LABEL),
        "last": (row.last_action or fmt.DASH, theme.LABEL),
    }


# (column, header, width (0: the longest symbol's; -1: shares what is left, at least ``MIN_FLEX``), right-aligned,
#  drop order when narrow: lower goes first, 99 never)
COLUMNS: tuple[tuple[str, str, int, bool, int], ...] = (
    ("sel", "", 1, False, 99),
    ("symbol", "symbol", 0, False, 99),  # width: the longest symbol
    ("price", "price", 10, True, 99),
    ("net", "net", 8, True, 6),
    ("bar", "gap", BAR_WIDTH, False, 99),
    ("gap", "", 8, True, 2),
    ("state", "state", 6, False, 99),
    ("mode", "mode", 5, False, 5),
    ("ask", "ask", 5, False, 99),
    ("cost", "bps", 5, True, 4),
    ("order", "order", -1, False, 3),
    ("last", "last action", -1, False, 1),
)
MIN_FLEX = {"order": 10, "last": 14}


def layout(symbol_width: int, width: int) -> list[tuple[str, str, int, bool]]:
    """The columns that fit ``width`` and their widths; flexible ones share what is left."""
    cols = [(name, head, symbol_width if w == 0 else w, right, drop) for name, head, w, right, drop in COLUMNS]

    def need(cs) -> int:
        return sum(MIN_FLEX[n] if w < 0 else w for n, _, w, _, _ in cs) + len(SEP) * (len(cs) - 1)

    for drop in sorted({c[4] for c in cols if c[4] < 99}):
        if need(cols) <= width:
            break
        cols = [c for c in cols if c[4] != drop]
    flex = [c[0] for c in cols if c[2] < 0]
    spare = max(0, width - need(cols))
    out = []
    for name, head, w, right, _drop in cols:
        if w < 0:
            w = MIN_FLEX[name] + spare // len(flex) + (spare % len(flex) if name == flex[-1] else 0)
        out.append((name, head, w, right))
    return out


class _Line:
    """Plain text and spans built by hand (a ``Text.append`` per cell: 1.6 ms for ten rows, this: ~1 ms)."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.spans: list[Span] = []
        self.pos = 0

    def add(self, text: str, style=None) -> None:
        if style is not None and text:
            self.spans.append(Span(self.pos, self.pos + len(text), style))
        self.parts.append(text)
        self.pos += len(text)

    def cell(self, text: str, style, width: int, right: bool) -> None:
        """``text`` padded (or cut with "…") to ``width`` cells."""
        if len(text) > width:
            text = text[: max(0, width - 1)] + "…"
        pad = " " * (width - len(text))
        if right:
            self.add(pad)
        self.add(text, style)
        if not right:
            self.add(pad)

    def add_text(self, text: Text) -> None:
        self.spans.extend(Span(self.pos + sp.start, self.pos + sp.end, sp.style) for sp in text.spans)
        self.add(text.plain)

    def text(self) -> Text:
        return Text("".join(self.parts), spans=self.spans, no_wrap=True, overflow="crop")


def overview_text(rows: tuple[SymbolRow, ...], width: int, first: int = 0, count: int | None = None) -> Text:
    """The header line and rows ``first .. first+count`` at ``width`` columns (pure; tested directly)."""
    shown = rows[first: len(rows) if count is None else first + count]
    cols = layout(max([len(r.symbol) for r in rows] + [6]), width)
    out = _Line()
    for i, (name, title, w, right) in enumerate(cols):
        if i:
            out.add(SEP)
        out.cell(title, theme.LABEL, w, right)
    for row in shown:
        out.add("\n")
        c = cells(row)
        for i, (name, _title, w, right) in enumerate(cols):
            if i:
                out.add(SEP)
            if name == "bar":
                out.add_text(gauge_text(row.gap_base, row.effective_soft, row.effective_hard, w))
            else:
                text, style = c[name]
                out.cell(text, style, w, right)
    return out.text()


def window(n: int, selected: int, room: int | None) -> tuple[int, int]:
    """(first, count): all ``n`` rows if they fit in ``room`` lines, else a window that keeps the
    selected row in view (centred where it can be)."""
    if room is None or n <= room:
        return 0, n
    room = max(1, room)
    return max(0, min(selected - room // 2, n - room)), room


@dataclass(frozen=True)
class OverviewTable:
    """``overview_text`` laid out at the width it is drawn at."""

    rows: tuple[SymbolRow, ...]
    first: int = 0
    count: int | None = None

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield overview_text(self.rows, options.max_width, self.first, self.count)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(1, options.max_width)


def row_key(row: SymbolRow) -> tuple:
    """One row as it is printed: a move below the shown precision renders nothing."""
    level = fmt.gap_level(row.gap_base, row.effective_soft, row.effective_hard)
    top = row.effective_hard * 1.3 if row.effective_hard > 0 else row.effective_soft * 2
    bar = round(min(abs(row.gap_base), top) / top * BAR_WIDTH * 8) if top > 0 else abs(row.gap_base)
    return (row.symbol, price_text(row.price), qty_text(row.net_base), qty_text(row.gap_base), level, bar,
            row.effective_soft, row.effective_hard, row.trading_state, row.mode, row.working_order,
            row.last_action, None if row.cost_bps is None else round(row.cost_bps, 1), row.proposal_id,
            row.selected)


def major_key(row: SymbolRow) -> tuple:
    """What on a row the trader must see at once: state, mode, the working order, the last
    action, a waiting proposal, the selection. Price, net, gap (and its level) and cost may
    wait for the next half second: whatever a gap past a threshold leads to (a proposal, an
    order) is itself in this key."""
    return (row.symbol, row.trading_state, row.mode, row.working_order, row.last_action, row.proposal_id,
            row.selected)


# Measured (bench/cockpit_feed.py feed10: 5,000 msgs/s over ten symbols, every row's numbers
# moving at every poll): the overview drawn at the poll rate took the cockpit from 10.8 % of a
# core (no overview) to 15.5 %. Numbers alone are drawn at most twice a second; anything in
# ``major_key`` still at once. Exit path: ``numbers_every_s = 0`` draws every change.
NUMBERS_EVERY_S = 0.5


class OverviewPane(Pane):
    """Every symbol's row. ``max_rows`` (set by the screen) bounds the rows shown on top of the
    panes; as a page the pane shows as many as its height holds."""

    TITLE = "Symbols"

    class Picked(Message):
        """A row was clicked: the screen selects its symbol (as ``[`` / ``]`` would)."""

        def __init__(self, symbol: str) -> None:
            super().__init__()
            self.symbol = symbol

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.max_rows: int | None = None
        self._shown: tuple[str, ...] = ()  # the symbols on the lines under the header, top down
        self.renders = 0  # tests / diagnostics: how often the rows were rebuilt
        self.numbers_every_s = NUMBERS_EVERY_S
        self.clock = time.monotonic
        self._drawn_at = float("-inf")
        self._major: object = None
        self._flush = None  # the timer that draws numbers held back

    def compose(self) -> ComposeResult:
        yield Static(id=f"{self.id}-rows", classes="overview-rows")

    def _room(self) -> int | None:
        if self.max_rows is not None:
            return self.max_rows
        height = self.content_size.height
        return height - 1 if height > 1 else None  # the header takes a line; unknown before layout

    def key(self, s: CockpitState):
        return tuple(row_key(r) for r in s.overview), self._room()

    def show_state(self, state: CockpitState) -> bool:
        """As every pane, except that a change of numbers alone within ``numbers_every_s`` of
        the last draw is held back and drawn when that time is up (the newest snapshot)."""
        self._state = state
        if not self.display:
            self._stale = True
            return False
        if self.key(state) == self._key:
            return False
        wait = self.numbers_every_s - (self.clock() - self._drawn_at)
        if wait > 0 and self._major_of(state) == self._major:
            if self._flush is None:
                self._flush = self.set_timer(wait, self.draw_held_back, name="overview-numbers")
            return False
        return self._render_if_changed(state)

    def draw_held_back(self) -> None:
        """The hold-back's timer: draw the newest snapshot kept meanwhile."""
        self._flush = None
        if self._state is not None and self.display:
            self._render_if_changed(self._state)

    def _major_of(self, s: CockpitState) -> tuple:
        return tuple(major_key(r) for r in s.overview), self._room()

    def on_resize(self) -> None:
        if self._state is not None and self.display:
            self._render_if_changed(self._state)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self.query_one(".overview-rows", Static))
        if offset is not None and 1 <= offset.y <= len(self._shown):
            self.post_message(self.Picked(self._shown[offset.y - 1]))

    def render_state(self, s: CockpitState) -> None:
        rows = s.overview
        selected = next((i for i, r in enumerate(rows) if r.selected), 0)
        first, count = window(len(rows), selected, self._room())
        above, below = first, len(rows) - first - count
        halted = sum(r.trading_state is TradingState.HALTED for r in rows)
        asks = sum(r.proposal_id is not None for r in rows)
        title = f"Symbols · {len(rows)}"
        if halted:
            title += f" · {halted} halted"
        if asks:
            title += f" · {asks} waiting"
        more = " · ".join(x for x in (f"↑{above} more" if above else "", f"↓{below} more" if below else "") if x)
        set_title(self, title, more)
        self.renders += 1
        self._drawn_at = self.clock()
        self._major = self._major_of(s)
        self._shown = tuple(r.symbol for r in rows[first:first + count])
        set_content(self.query_one(".overview-rows", Static), OverviewTable(rows, first, count), size=count + 1)
