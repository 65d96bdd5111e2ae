"""The header: what, where, how and whether it is safe -- at a glance, in two rows.

symbol | venue badge (MAINNET loud: the whole bar turns red) | mode badge | trading state
badge (+ halt reason) | connection | data age | proposal countdown | clock (snapshot ts, UTC);
then the numbers a trader looks for first, each with its unit: price, net gap (and how far
past the thresholds), equity, drawdown -- items dropped whole from the end when narrow.

Several symbols (``overview``): the state badge is the worst across them (HALTED over PAUSED
over ACTIVE) with how many are in it ("HALTED 1/5"), and the proposal badge names whose
proposal waits and how many more queue behind it ("▶ ETH #3 +1").
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from core.model import Mode, TradingState
from core.state import CockpitState
from tui import fmt, theme
from tui.panes.fit import fit_row


_RANK = {TradingState.ACTIVE: 0, TradingState.PAUSED: 1, TradingState.HALTED: 2}


def worst_state(state: CockpitState) -> tuple[TradingState, int, int]:
    """(the worst trading state across the symbols, how many are in it, how many symbols);
    one symbol: its own state, 1, 1."""
    rows = state.overview
    if not rows:
        return state.trading_state, 1, 1
    worst = max((r.trading_state for r in rows), key=lambda t: _RANK.get(t, 0))
    return worst, sum(r.trading_state is worst for r in rows), len(rows)


def status_key(state: CockpitState, width: int, ui_errors: int = 0) -> tuple:
    """Everything ``status_text`` shows, at the resolution it shows it (the clock in seconds)."""
    p = state.proposal
    age = state.feed.data_age_ms
    return (
        width, ui_errors, state.symbol, state.venue, state.mode, state.trading_state, state.halt_reason,
        state.connected, None if age is None else (fmt.age_ms(age), age < 2_000, age < 10_000),
        None if p is None or p.forced else (p.proposal_id, p.expires_ms is not None and fmt.duration(
            state.proposal_left_s)),
        state.ts_ms // 1000,
        market_key(state),
        worst_state(state) if state.overview else None, p.symbol if p is not None else "", state.proposals_queued,
    )


def market_key(state: CockpitState) -> tuple:
    return (state.price, state.gap_base, state.effective_soft, state.effective_hard, state.threshold_unit,
            round(state.equity_quote, 2), round(state.drawdown_pct, 2))


def market_text(state: CockpitState | None, width: int) -> Text:
    """The header's second row: price, net gap, equity, drawdown, with their units."""
    if state is None:
        return Text()
    base, quote = fmt.split_symbol(state.symbol)
    L = theme.LABEL

    def item(label: str, value: str, style, unit: str = "") -> Text:
        t = Text(no_wrap=True)
        t.append(f"{label} ", style=L)
        t.append(value, style=style)
        if unit:
            t.append(f" {unit}", style=L)
        return t

    level = "ok"
    if state.threshold_unit == "base":
        level = fmt.gap_level(state.gap_base, state.effective_soft, state.effective_hard)
    where = {"ok": "", "soft": " past soft", "hard": " past HARD"}[level]
    items = (
        item("price", fmt.num(state.price, 2), theme.STRONG, quote),
        item("net gap", fmt.num(state.gap_base, 6, sign=True), fmt.LEVEL_STYLE[level] + theme.BOLD, base + where),
        item("equity", fmt.num(state.equity_quote, 2), theme.VALUE, quote),
        item("drawdown", fmt.pct(state.drawdown_pct, 2), theme.WARN if state.drawdown_pct >= 1 else theme.VALUE),
    )
    t = Text(" ", no_wrap=True)
    t.append_text(fit_row(items, max(0, width - 1)))
    t.pad_right(max(0, width - t.cell_len))
    return t


def status_text(state: CockpitState | None, width: int, *, ui_errors: int = 0) -> Text:
    """The status line for ``state`` at ``width`` columns (pure; tested directly)."""
    if state is None:
        t = Text(" waiting for the engine's first snapshot…", style=theme.LABEL)
        return t
    wide = width >= 110
    venue = state.venue.lower()
    left = Text(no_wrap=True, overflow="ellipsis")
    left.append(f" {state.symbol} ", style=theme.STRONG)
    left.append(" ")
    vlabel = f" ⚠ {venue.upper()} ⚠ " if venue == "mainnet" else f" {venue.upper()} "
    left.append(vlabel, style=theme.BADGE_VENUE.get(venue, theme.BADGE_VENUE["testnet"]))
    left.append(" ")
    mode = state.mode.value if isinstance(state.mode, Mode) else str(state.mode)
    left.append(f" {mode.upper()} ", style=theme.BADGE_MODE.get(mode.lower(), theme.STRONG))
    left.append(" ")
    ts = state.trading_state.value if isinstance(state.trading_state, TradingState) else str(state.trading_state)
    if state.overview:  # several symbols: the worst of them, and how many are in it
        worst, count, total = worst_state(state)
        left.append(f" {worst.value} {count}/{total} " if worst is not TradingState.ACTIVE else " ACTIVE ",
                    style=theme.BADGE_STATE.get(worst.value, theme.STRONG))
    else:
        left.append(f" {ts} ", style=theme.BADGE_STATE.get(ts, theme.STRONG))
    if ts == TradingState.HALTED.value and state.halt_reason:
        left.append(" " + state.halt_reason, style=theme.BAD)
    left.append("  ")
    if state.connected:
        left.append("● live" if not wide else "● connected", style=theme.OK)
    else:
        left.append("○ offline" if not wide else "○ disconnected", style=theme.BAD)
    age = state.feed.data_age_ms
    if age is not None:
        style = theme.OK if age < 2_000 else theme.WARN if age < 10_000 else theme.BAD
        left.append("  ")
        if wide:
            left.append("data ", style=theme.LABEL)
        left.append(fmt.age_ms(age), style=style)
    p = state.proposal
    if p is not None and not p.forced:
        left.append("  ")
        who = ""
        if state.overview and p.symbol:  # one queue for every symbol: whose, and how many wait behind it
            who = (p.symbol if wide else fmt.split_symbol(p.symbol)[0]) + " "
        left.append(f"▶ PROPOSAL {who}#{p.proposal_id}" if wide else f"▶ {who}#{p.proposal_id}",
                    style=theme.WARN + theme.BOLD)
        if state.overview and state.proposals_queued > 1:
            left.append(f" +{state.proposals_queued - 1}", style=theme.WARN + theme.BOLD)
        if p.expires_ms is not None:
            left.append(" " + fmt.duration(state.proposal_left_s), style=theme.WARN)
    if ui_errors:
        left.append(f"  ⚠ ui errors {ui_errors}", style=theme.WARN)

    clock = (fmt.utc_datetime(state.ts_ms) + " UTC ") if wide else (fmt.utc_time(state.ts_ms) + "Z ")
    right = Text(clock, style=theme.VALUE)
    room = width - right.cell_len
    if left.cell_len > room - 1:
        left.truncate(max(0, room - 1), overflow="ellipsis")
    left.pad_right(max(0, room - left.cell_len))
    left.append_text(right)
    return left


class StatusBar(Widget):
    """Two rows at the top of the cockpit (``status_text``, ``market_text``).

    Repainted only when the line it shows changes: a new snapshot that differs only in its
    milliseconds (the clock shows seconds) costs a string comparison, not a frame.
    """

    DEFAULT_CSS = """
    StatusBar { height: 2; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._state: CockpitState | None = None
        self._ui_errors = 0
        self._key: tuple | None = None
        self._text: Text | None = None
        self._text_width = -1
        self.repaints = 0  # tests / diagnostics

    def show_state(self, state: CockpitState, *, ui_errors: int = 0) -> None:
        if state is self._state and ui_errors == self._ui_errors:
            return
        self._state = state
        self._ui_errors = ui_errors
        width = self.size.width
        key = status_key(state, width, ui_errors)
        if key == self._key:
            return  # nothing visible changed (e.g. only the milliseconds of the clock)
        self._key = key
        self.set_class(state.venue.lower() == "mainnet", "-mainnet")
        self.set_class(state.trading_state is TradingState.HALTED, "-halted")
        self._text = self._both(state, width, ui_errors)
        self._text_width = width
        self.repaints += 1
        self.refresh()

    def render(self) -> Text:
        width = self.size.width
        if self._text is None or width != self._text_width:
            self._text = self._both(self._state, width, self._ui_errors)
            self._text_width = width
        return self._text

    @staticmethod
    def _both(state: CockpitState | None, width: int, ui_errors: int) -> Text:
        return Text("\n").join((status_text(state, width, ui_errors=ui_errors), market_text(state, width)))
