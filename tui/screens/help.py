"""The help screen (``?``): keys, modes, and what every colour means."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from tui import theme
from tui.screens.modal import OnceModal

KEYS = (
    ("a", "approve the proposal (semi)"),
    ("s", "skip the proposal / the next decision"),
    ("f", "force a rebalance to target now (asks first)"),
    ("p", "pause / resume trading"),
    ("m", "change mode (entering AUTO asks first)"),
    ("c", "cancel our pending order"),
    ("k", "KILL: cancel our orders and halt (works in dialogs)"),
    ("r", "re-arm after a halt (asks first)"),
    ("1-6 ←/→", "switch page on a narrow terminal"),
    ("ctrl+p", "command palette"),
    ("q", "quit (asks whether to cancel our open orders)"),
)

SYMBOL_KEYS = (  # shown only when the cockpit runs several symbols
    ("[ ]", "previous / next symbol: the panes show it"),
    ("x", "kill the selected symbol only (k kills every symbol)"),
    ("0", "the symbols overview page on a narrow terminal"),
    ("f p m c r", "act on the selected symbol; a / s answer the proposal on the card, whichever symbol's"),
)

MODES = (
    ("auto", "decisions execute at once; you can pause, skip the next, force or kill"),
    ("semi", "each decision becomes a proposal; nothing is sent until you approve"),
    ("watch", "decisions are shown, never executed; approve and force are off"),
)


def help_table(several_symbols: bool = False) -> Table:
    t = Table.grid(padding=(0, 2))
    t.add_column(style=theme.INFO + theme.BOLD, no_wrap=True)
    t.add_column(style=theme.VALUE)
    t.add_row(Text("Keys", style=theme.STRONG), "")
    for k, v in KEYS + (SYMBOL_KEYS if several_symbols else ()):
        t.add_row(Text(k), Text(v))
    t.add_row("", "")
    t.add_row(Text("Modes", style=theme.STRONG), "")
    for k, v in MODES:
        t.add_row(Text(f" {k.upper()} ", style=theme.BADGE_MODE[k]), Text(v))
    t.add_row("", "")
    t.add_row(Text("Gap", style=theme.STRONG), "")
    t.add_row(Text("green", style=theme.OK), Text("|gap| under the soft threshold"))
    t.add_row(Text("yellow", style=theme.WARN), Text("past soft: the engine rebalances when the anchor gate allows"))
    t.add_row(Text("red", style=theme.BAD), Text("past hard: the engine always trades"))
    return t


class HelpScreen(OnceModal[None]):
    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("question_mark", "close", "Close", key_display="?"),
        Binding("q", "close", "Close", show=False),
    ]

    def __init__(self, *, several_symbols: bool = False) -> None:
        super().__init__(classes="dialog -info")
        self.several_symbols = several_symbols

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="dialog"):
            yield Static(Text("Spot rebalancer cockpit", style=theme.STRONG), id="dialog-title")
            yield Static(help_table(self.several_symbols), id="dialog-body")

    def action_close(self) -> None:
        self.dismiss(None)
