"""The mode chooser: watch / semi / auto. Entering AUTO asks again (the caller does that)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from core.model import Mode
from tui import theme
from tui.screens.modal import OnceModal

MODES = (
    (Mode.WATCH, "w", "watch", "show decisions, never trade"),
    (Mode.SEMI, "s", "semi", "propose; you approve each trade"),
    (Mode.AUTO, "a", "auto", "trade at once (supervised)"),
)


def mode_prompt(mode: Mode, key: str, name: str, text: str, current: Mode) -> Text:
    t = Text(no_wrap=True, overflow="ellipsis")
    t.append(f" {key} ", style=theme.BADGE_MODE[mode.value])
    t.append(f" {name.upper():<6}", style=theme.STRONG)
    t.append(text, style=theme.LABEL)
    if mode is current:
        t.append("  ● now", style=theme.ACCENT)
    return t


class ModeScreen(OnceModal[Mode | None]):
    BINDINGS = [
        Binding("escape", "choose(None)", "Cancel"),
        Binding("w", "choose('watch')", "Watch"),
        Binding("s", "choose('semi')", "Semi"),
        Binding("a", "choose('auto')", "Auto"),
    ]

    def __init__(self, current: Mode) -> None:
        super().__init__(classes="dialog -info")
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(Text("Trading mode", style=theme.STRONG), id="dialog-title")
            options = [Option(mode_prompt(m, k, n, t, self.current), id=m.value) for m, k, n, t in MODES]
            yield OptionList(*options, id="mode-list")

    def on_mount(self) -> None:
        ol = self.query_one(OptionList)
        ol.highlighted = [m for m, *_ in MODES].index(self.current)
        ol.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(Mode(event.option.id))

    def action_choose(self, mode: str | None) -> None:
        self.dismiss(None if mode is None else Mode(mode))
