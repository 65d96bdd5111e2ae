"""Command palette entries (ctrl+p). Each runs the same action as its key, through
``run_action``, so the same ``check_action`` gate applies: in watch mode approve and force are
not offered here either.

Several symbols add, per symbol, "Show ETHUSDT", "Kill ETHUSDT" (that symbol only; KILL stops
every one) and "Pause / resume ETHUSDT", from the symbols of the last snapshot."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Iterator

from rich.text import Text
from textual.command import CommandPalette, DiscoveryHit, Hit, Hits, Provider
from textual.screen import ModalScreen

from tui import theme

if TYPE_CHECKING:
    from tui.screens.main import CockpitScreen

# (palette text, help, action on the cockpit screen, key)
COMMANDS: tuple[tuple[str, str, str, str], ...] = (
    ("KILL: cancel our orders and halt", "kill switch: works even over a dialog, like k", "app.kill", "k"),
    ("Approve proposal", "send the trade the engine proposes (semi)", "approve", "a"),
    ("Skip proposal", "drop the proposal / skip the next decision", "skip", "s"),
    ("Force rebalance to target", "preview, confirm, then send", "force", "f"),
    ("Pause / resume trading", "toggle pause", "pause", "p"),
    ("Change mode…", "watch / semi / auto", "mode", "m"),
    ("Set mode: watch", "show decisions, never trade", "set_mode('watch')", ""),
    ("Set mode: semi", "propose, wait for approval", "set_mode('semi')", ""),
    ("Set mode: auto", "execute decisions (asks first)", "set_mode('auto')", ""),
    ("Cancel our pending order", "cancel the rebalancer's open order", "cancel_order", "c"),
    ("Re-arm after halt", "resume after a kill or a risk halt (asks first)", "rearm", "r"),
    ("Help", "keys and modes", "help", "?"),
    ("Quit", "stop the engine (asks about open orders)", "app.request_quit", "q"),
)


def symbol_commands(screen: "CockpitScreen") -> tuple[tuple[str, str, str, str], ...]:
    """Per-symbol entries when the cockpit runs several symbols (none with one)."""
    rows = screen.state.overview if screen.state is not None else ()
    out: list[tuple[str, str, str, str]] = []
    for row in rows:
        sym = row.symbol
        if not sym.isalnum():  # a symbol is letters and digits: nothing else goes into an action string
            continue
        out.append((f"Show {sym}", f"the panes show {sym}", f"select_symbol('{sym}')", ""))
        out.append((f"Kill {sym}", f"cancel {sym}'s orders and halt it; the other symbols keep trading",
                    f"kill_symbol('{sym}')", "x" if row.selected else ""))
        out.append((f"Pause / resume {sym}", f"toggle pause on {sym} only", f"pause_symbol('{sym}')", ""))
    return tuple(out)


class CockpitCommands(Provider):
    def _screen(self) -> "CockpitScreen | None":
        from tui.screens.main import CockpitScreen

        for screen in reversed(self.app.screen_stack):
            if isinstance(screen, CockpitScreen):
                return screen
        return None

    def _available(self) -> Iterator[tuple[str, str, str, str]]:
        screen = self._screen()
        if screen is None:
            return
        # a dialog under the palette: only what works over dialogs (KILL, Quit), as with the keys
        dialog_open = any(isinstance(s, ModalScreen) and not isinstance(s, CommandPalette)
                          for s in self.app.screen_stack)
        for name, help_text, action, key in COMMANDS + symbol_commands(screen):
            if action == "app.kill":
                enabled = True  # the same reach as k (whose key is only a letter while typing here)
            elif action.startswith("app."):
                enabled = self.app.check_action(action[4:], ())
            else:
                enabled = not dialog_open and screen.check_action(action.partition("(")[0], ())
            if enabled:
                yield name, help_text, action, key

    def _runner(self, action: str):
        screen = self._screen()
        return partial(self.app.run_action, action, screen)

    async def discover(self) -> Hits:
        for name, help_text, action, key in self._available():
            label = Text(name)
            if key:
                label.append(f"  {key}", style=theme.INFO + theme.BOLD)
            yield DiscoveryHit(label, self._runner(action), text=name, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, action, key in self._available():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), self._runner(action), text=name, help=help_text)
