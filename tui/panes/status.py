"""The status line: what, where, how and whether it is safe -- at a glance, in one row.

symbol | venue badge (MAINNET loud: the whole bar turns red) | mode badge | trading state
badge (+ halt reason) | connection | data age | proposal countdown | clock (snapshot ts, UTC).
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from core.model import Mode, TradingState
from core.state import CockpitState
from tui import fmt, theme


def status_key(state: CockpitState, width: int, ui_errors: int = 0) -> tuple:
    """Everything ``status_text`` shows, at the resolution it shows it (the clock in seconds)."""
    p = state.proposal
    age = state.feed.data_age_ms
    return (
        width, ui_errors, state.symbol, state.venue, state.mode, state.trading_state, state.halt_reason,
        state.connected, None if age is None else (fmt.age_ms(age), age < 2_000, age < 10_000),
        None if p is None or p.forced else (p.proposal_id, p.expires_ms is not None and fmt.countdown(
            (p.expires_ms - state.ts_ms) / 1000, state.feed.speed)),
        state.ts_ms // 1000,
    )


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
        left.append(f"▶ PROPOSAL #{p.proposal_id}" if wide else f"▶ #{p.proposal_id}", style=theme.WARN + theme.BOLD)
        if p.expires_ms is not None:
            left.append(" " + fmt.countdown((p.expires_ms - state.ts_ms) / 1000, state.feed.speed), style=theme.WARN)
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
    """One row at the top of the cockpit.

    Repainted only when the line it shows changes: a new snapshot that differs only in its
    milliseconds (the clock shows seconds) costs a string comparison, not a frame.
    """

    DEFAULT_CSS = """
    StatusBar { height: 1; }
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
        self._text = status_text(state, width, ui_errors=ui_errors)
        self._text_width = width
        self.repaints += 1
        self.refresh()

    def render(self) -> Text:
        width = self.size.width
        if self._text is None or width != self._text_width:
            self._text = status_text(self._state, width, ui_errors=self._ui_errors)
            self._text_width = width
        return self._text
