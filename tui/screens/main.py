"""The cockpit screen: layout, keys, and the mapping from keys to ``EngineControl`` calls.

Layout (one DOM, reflowed by CSS through breakpoints, see app.tcss):

* wide and tall (>= 120 x 42): every pane at once on a 6-column grid
  (delta | decision | positions / orders | trend / log | anchor | feed);
* otherwise (80 x 24 over SSH): the net delta and the decision card stay on top and the
  other panes become pages under a tab strip (keys 1-6 or left/right).

Several symbols (``overview`` in the snapshot): the overview sits above everything when the
terminal has the lines for it, else it is page 0 ("Symbols", the first page) of the narrow
layout; ``[`` / ``]`` move between symbols (the engine's ``select``: the panes show that symbol
from the next poll, which runs at once), ``x`` kills the selected symbol only. With one symbol
none of this shows: the screen is the single-symbol cockpit.

The screen owns the trading keys; their availability follows the snapshot's mode and
state through ``check_action`` (None greys a key in the footer, False hides it).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container
from textual.markup import escape
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Static, Tab, Tabs

from core.model import Mode, TradingState
from core.outcome import Outcome
from core.state import NOTHING_SHOWN, CockpitState, Proposal
from tui import theme
from tui.panes.anchor import AnchorPane
from tui.panes.base import Pane
from tui.panes.decision import DecisionPane
from tui.panes.delta import DeltaPane
from tui.panes.feed import FeedPane
from tui.panes.log import LogPane
from tui.panes.orders import OrdersPane
from tui.panes.overview import OverviewPane
from tui.panes.positions import PositionsPane
from tui.panes.status import StatusBar
from tui.panes.trend import TrendPane
from tui.screens.confirm import ConfirmScreen, ForceScreen
from tui.screens.help import HelpScreen
from tui.screens.mode import ModeScreen

if TYPE_CHECKING:
    from tui.app import CockpitApp

log = logging.getLogger("tui")

WIDE_MIN_WIDTH = 120
WIDE_MIN_HEIGHT = 42
CHROME_LINES = 3  # the header's two lines and the footer
NARROW_BODY_MIN = 21  # delta / decision (10), the tab strip (1) and a page (10): the 80x24 body
WIDE_BODY_MIN = 31  # the wide grid's rows with the overview on top: 15, at least 6, 10

# keys whose binding may be greyed out, yet pressed still ask the engine (which says why not);
# never the re-arm: it asks for confirmation first
GREYED_KEYS = {"a": "approve", "s": "skip", "f": "force", "c": "cancel_order"}

# narrow-layout pages, in tab order: (pane id, tab label)
PAGES = (
    ("orders", "Orders"),
    ("positions", "Positions"),
    ("trend", "Trend"),
    ("anchor", "Anchor"),
    ("log", "Log"),
    ("feed", "Feed"),
)


class CockpitScreen(Screen):
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (WIDE_MIN_WIDTH, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (WIDE_MIN_HEIGHT, "-tall")]
    AUTO_FOCUS = None

    BINDINGS = [
        # shown first in the footer; the App's priority "k" binding is the one that fires
        Binding("k", "app.kill", "KILL", id="kill_footer"),
        Binding("a", "approve", "Approve", id="approve"),
        Binding("s", "skip", "Skip", id="skip"),
        Binding("f", "force", "Force", id="force"),
        Binding("p", "pause", "Pause", id="pause"),
        Binding("m", "mode", "Mode", id="mode"),
        Binding("c", "cancel_order", "Cancel", id="cancel_order"),
        Binding("r", "rearm", "Re-arm", id="rearm"),
        Binding("question_mark", "help", "Help", key_display="?", id="help"),
        Binding("q", "request_quit", "Quit", id="quit"),
        *(
            Binding(str(i), f"page('{pid}')", label, show=False, id=f"page_{pid}")
            for i, (pid, label) in enumerate(PAGES, start=1)
        ),
        Binding("left", "page_step(-1)", "Prev page", show=False),
        Binding("right", "page_step(1)", "Next page", show=False),
        # several symbols only (hidden, and inert, with one)
        Binding("0", "page('overview')", "Symbols", show=False, id="page_overview"),
        Binding("right_square_bracket", "symbol_step(1)", "Symbol", key_display="]", id="next_symbol"),
        Binding("left_square_bracket", "symbol_step(-1)", "Prev symbol", key_display="[", show=False,
                id="prev_symbol"),
        Binding("x", "kill_symbol", "Kill symbol", show=False, id="kill_symbol"),
    ]

    mode: reactive[Mode] = reactive(Mode.WATCH, bindings=True)
    trading_state: reactive[TradingState] = reactive(TradingState.ACTIVE, bindings=True)
    has_orders: reactive[bool] = reactive(False, bindings=True)
    page: reactive[str] = reactive("orders")
    multi: reactive[bool] = reactive(False, bindings=True)  # several symbols: the overview and its keys

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.state: CockpitState | None = None
        self._panes: list[Pane] | None = None
        self._status: StatusBar | None = None
        self._placed: tuple | None = None  # where the overview is: (symbols, on top, rows on top)
        self.overview_paged = False  # the overview is page 0 (several symbols, no room on top)
        self._overview_paged_once = False  # the overview has been page 0 once (it was then shown first)

    @property
    def cockpit(self) -> "CockpitApp":
        return self.app  # type: ignore[return-value]

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        yield Static(id="engine-error")
        yield OverviewPane(id="overview-top")
        with Container(id="body"):
            yield DeltaPane(id="delta")
            yield DecisionPane(id="decision")
            yield Tabs(Tab("0 Symbols", id="tab-overview"),
                       *(Tab(f"{i} {label}", id=f"tab-{pid}") for i, (pid, label) in enumerate(PAGES, 1)), id="pages")
            yield OverviewPane(id="overview", classes="page")
            yield PositionsPane(id="positions", classes="page")
            yield OrdersPane(id="orders", classes="page")
            yield TrendPane(id="trend", classes="page")
            yield LogPane(id="log", classes="page")
            yield AnchorPane(id="anchor", classes="page")
            yield FeedPane(id="feed", classes="page")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one("#pages", Tabs).hide("tab-overview")
        self._apply_page(self.page)
        error = getattr(self.app, "engine_error", None)
        if error:  # the engine failed before this screen was up
            self.show_engine_error(error)

    def on_resize(self) -> None:
        # the palette hint fits only on a wide footer; ctrl+p works everywhere
        self.call_after_refresh(self._layout_changed)

    def _layout_changed(self) -> None:
        try:
            self.query_one(Footer).show_command_palette = self.is_wide
        except Exception:
            pass
        self._place_overview()
        self.refresh_bindings()

    @property
    def panes(self) -> list[Pane]:
        # the panes never change after compose: query the DOM once, not on every poll
        if self._panes is None:
            self._panes = list(self.query(Pane))
        return self._panes

    @property
    def is_wide(self) -> bool:
        return self.has_class("-wide") and self.has_class("-tall")

    # ------------------------------------------------------------------ snapshot in
    def apply_state(self, state: CockpitState, *, ui_errors: int = 0) -> int:
        """Render one snapshot. Returns how many panes failed (each failure is logged)."""
        self.state = state
        self.mode = state.mode
        self.trading_state = state.trading_state
        self.has_orders = bool(state.orders)
        failures = 0
        if len(state.overview) != (self._placed[0] if self._placed else 0):
            try:
                self._place_overview()
            except Exception:
                failures += 1
                log.exception("overview placement failed")
        try:
            if self._status is None:
                self._status = self.query_one(StatusBar)
            self._status.show_state(state, ui_errors=ui_errors)
        except Exception:
            failures += 1
            log.exception("status bar failed to render")
        for pane in self.panes:
            try:
                pane.show_state(state)
            except Exception:
                failures += 1
                log.exception("pane %s failed to render", pane.id)
        return failures

    def show_engine_error(self, message: str | None, *, fatal: bool = True) -> None:
        banner = self.query_one("#engine-error", Static)
        if not message:
            banner.remove_class("-shown")
            return
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(" ENGINE STOPPED " if fatal else " ENGINE ", style=theme.BADGE_STATE["HALTED"])
        t.append(" ")
        t.append(message, style=theme.BAD)  # plain text: exchange errors may contain "[/]"
        t.append("  — trading is off; see the log file", style=theme.LABEL)
        banner.update(t)
        banner.add_class("-shown")
        if self._placed is not None:
            self.call_after_refresh(self._place_overview)  # a line fewer for the overview on top

    # ------------------------------------------------------------------ several symbols
    def _place_overview(self) -> None:
        """Overview on top when the terminal has the lines for it (wide: always, as many rows as
        fit), else page 0 of the narrow layout; nothing with one symbol."""
        n = len(self.state.overview) if self.state is not None else 0
        lines = self.size.height - CHROME_LINES - (1 if self.query_one("#engine-error").has_class("-shown") else 0)
        if not n:
            top, rows = False, 0
        elif self.is_wide:
            top, rows = True, min(n, max(1, lines - WIDE_BODY_MIN - 3))
        else:
            top, rows = n + 3 + NARROW_BODY_MIN <= lines, n
        placed = (n, top, rows)
        if placed == self._placed:
            return
        self._placed = placed
        self.multi = n > 0
        self.set_class(n > 0, "-multi")
        self.set_class(top, "-overview-top")
        self.query_one("#overview-top", OverviewPane).max_rows = rows if top else None
        paged = n > 0 and not top
        self.overview_paged = paged
        tabs = self.query_one("#pages", Tabs)
        if paged:
            tabs.show("tab-overview")
            if not self._overview_paged_once:
                # several symbols on 80x24: the first page is the overview, also when the first
                # placement came before the screen had its size (then it was not paged yet)
                self._overview_paged_once = True
                self.page = "overview"
        else:
            tabs.hide("tab-overview")
            if self.page == "overview":
                self.page = "orders"
        for pane in (self.query_one("#overview-top", OverviewPane), self.query_one("#overview", OverviewPane)):
            if self.state is not None and pane.display:
                pane.show_state(self.state)

    def _symbols(self) -> tuple[tuple[str, ...], str]:
        """Every symbol and the selected one, as the engine has them now (a key pressed twice
        before the next poll moves two symbols), else as the last snapshot had them."""
        control = self.cockpit.engine.control
        rows = self.state.overview if self.state is not None else ()
        symbols = tuple(getattr(control, "symbols", ()) or (r.symbol for r in rows))
        selected = getattr(control, "selected", None) or next((r.symbol for r in rows if r.selected), "")
        return symbols, selected

    def on_overview_pane_picked(self, message: OverviewPane.Picked) -> None:
        message.stop()
        if self.multi and message.symbol != self._symbols()[1]:
            self.action_select_symbol(message.symbol)

    def action_symbol_step(self, step: int) -> None:
        symbols, selected = self._symbols()
        if symbols:
            i = symbols.index(selected) if selected in symbols else 0
            self.action_select_symbol(symbols[(i + step) % len(symbols)])

    def action_select_symbol(self, symbol: str) -> None:
        """The panes show ``symbol`` from the next poll, which runs now."""
        ok, _ = self.cockpit.call("select", symbol)
        if ok:
            self.cockpit.poll()

    def action_kill_symbol(self, symbol: str | None = None) -> None:
        """Cancel this symbol's orders and halt it (the selected one by default); the others trade on."""
        symbol = symbol or self._symbols()[1]
        if symbol and self.cockpit.send("kill_symbol", symbol) and self.cockpit.bell_enabled:
            self.cockpit.bell()
        self.cockpit.poll()

    def action_pause_symbol(self, symbol: str | None = None) -> None:
        symbol = symbol or self._symbols()[1]
        if symbol:
            self.cockpit.send("pause_symbol", symbol)
            self.cockpit.poll()

    def _still_shown(self, command: str) -> bool:
        """Several symbols share one queue of proposals: ``a`` / ``s`` must answer the one on the
        card. If the engine's oldest proposal is another one now (the shown one expired or was
        answered, another symbol's took its place), nothing is sent: the card is redrawn and the
        trader looks again."""
        if not self.multi:
            return True
        try:
            now = self.cockpit.engine.latest().proposal
        except Exception:
            log.exception("latest() failed before %s", command)
            return False
        if now is None or now.forced:
            return True  # nothing waits: the engine itself says so
        shown = self.state.proposal if self.state is not None else None
        if shown is not None and (shown.symbol, shown.proposal_id) == (now.symbol, now.proposal_id):
            return True
        self.cockpit.poll()
        was = f"{shown.symbol} #{shown.proposal_id}" if shown is not None and not shown.forced else "no proposal"
        self.cockpit.notify(escape(f"{command}: not sent — the card showed {was}, the queue now has "
                                   f"{now.symbol} #{now.proposal_id}; look again"),
                            title=command.capitalize(), severity="warning", timeout=6)
        return False

    # ------------------------------------------------------------------ pages (narrow layout)
    def watch_page(self, page: str) -> None:
        self._apply_page(page)

    def _apply_page(self, page: str) -> None:
        for pid in ("overview", *(pid for pid, _label in PAGES)):
            try:
                self.query_one(f"#{pid}").set_class(pid == page, "-current")
            except Exception:
                return  # not composed yet
        tabs = self.query_one("#pages", Tabs)
        if tabs.active != f"tab-{page}":
            # no echo: a "tab activated" for our own change would arrive after a quicker page key
            # and set the page back, and the two would ping-pong for ever
            with tabs.prevent(Tabs.TabActivated):
                tabs.active = f"tab-{page}"

    def on_tabs_tab_activated(self, event: Tabs.TabActivated) -> None:
        event.stop()
        if event.tab is not None and event.tab.id:
            self.page = event.tab.id.removeprefix("tab-")

    def action_page(self, page: str) -> None:
        self.page = page

    def action_page_step(self, step: int) -> None:
        ids = (["overview"] if self.overview_paged else []) + [pid for pid, _ in PAGES]
        i = ids.index(self.page) if self.page in ids else 0
        self.page = ids[(i + step) % len(ids)]

    # ------------------------------------------------------------------ key availability
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        halted = self.trading_state is TradingState.HALTED
        if action in ("symbol_step", "select_symbol", "kill_symbol", "pause_symbol"):
            return self.multi
        if action == "approve" and self.multi:  # the queue's proposal may be another symbol's
            p = self.state.proposal if self.state is not None else None
            return True if p is not None and not p.forced else None
        if action == "approve":
            return True if self.mode is Mode.SEMI and not halted else None
        if action == "force":
            return None if self.mode is Mode.WATCH or halted else True
        if action == "skip":
            return None if self.mode is Mode.WATCH else True
        if action == "rearm":
            return True if halted else False
        if action == "cancel_order":
            return True if self.has_orders else None
        if action == "page" and parameters == ("overview",):
            return self.overview_paged and not self.is_wide
        if action in ("page", "page_step"):
            return not self.is_wide
        return True

    def on_key(self, event: events.Key) -> None:
        """A trading key greyed out in the footer (watch mode, halted, no order shown) still gets
        an answer: the engine says why it does nothing — in the toast, the Log and the journal."""
        action = GREYED_KEYS.get(event.key)
        if action is None or self.check_action(action, ()) is True:
            return
        event.stop()
        getattr(self, f"action_{action}")()

    # ------------------------------------------------------------------ dialogs
    def open_dialog(self, dialog: Screen, callback=None) -> bool:
        """Open ``dialog`` over the cockpit, only while the cockpit itself is on top: a key
        queued before a dialog opened (``m m``, ``f f``, a palette command picked over a dialog)
        must not stack a second dialog on the first. Returns whether it opened."""
        if not self.is_active:
            log.info("%s not opened: another dialog is open", type(dialog).__name__)
            return False
        self.app.push_screen(dialog, callback)
        return True

    # ------------------------------------------------------------------ actions -> EngineControl
    # Every toast is the engine's outcome of the command, never "sent".
    def _card_id(self) -> int:
        shown = self.state.proposal if self.state is not None else None
        return shown.proposal_id if shown is not None else NOTHING_SHOWN

    def action_approve(self) -> None:
        """Approves the proposal on the card, by its id: one the engine drew after this frame,
        or that replaced the card's, is not sent (the engine says so). ``s`` names it too."""
        if self._still_shown("approve"):
            self.cockpit.send("approve", self._card_id())

    def action_skip(self) -> None:
        if self._still_shown("skip"):
            self.cockpit.send("skip", self._card_id())

    def action_pause(self) -> None:
        self.cockpit.send("toggle_pause")

    def action_cancel_order(self) -> None:
        self.cockpit.send("cancel_pending")

    def action_force(self) -> None:
        if not self.is_active:
            return  # a dialog is open: this f was queued before it opened
        ok, preview = self.cockpit.call("preview_force")
        if not ok:
            return
        if not isinstance(preview, Proposal):  # refused, or already at target: the engine says which
            self.cockpit.say(preview, "force")
            return
        self.open_dialog(ForceScreen(preview, self.state), lambda ok: self._force_confirmed(ok, preview))

    def _force_confirmed(self, confirmed: bool | None, preview: Proposal) -> None:
        if confirmed:  # the order never exceeds what the dialog showed (size, price limit)
            self.cockpit.send("force", preview)

    def action_mode(self) -> None:
        self.open_dialog(ModeScreen(self.mode), self._mode_chosen)

    def action_set_mode(self, mode: str) -> None:
        self._mode_chosen(Mode(mode))

    def _mode_chosen(self, mode: Mode | None) -> None:
        if mode is None or mode is self.mode:
            return
        if mode is Mode.AUTO:
            venue = self.state.venue.upper() if self.state is not None else "?"
            body = Text()
            body.append("AUTO executes every decision at once, without asking.\n", style=theme.WARN)
            body.append("Venue: ", style=theme.LABEL)
            body.append(venue, style=theme.BAD + theme.BOLD if venue == "MAINNET" else theme.STRONG)
            body.append("\nYou can still pause (p), skip (s) or kill (k).", style=theme.LABEL)
            self.open_dialog(
                ConfirmScreen("Switch to AUTO?", body, "Enter AUTO", tone="danger"),
                lambda ok: self.cockpit.send("set_mode", Mode.AUTO) if ok else None,
            )
            return
        self.cockpit.send("set_mode", mode)

    def action_rearm(self) -> None:
        reason = self.state.halt_reason if self.state is not None else ""
        body = Text()
        body.append("Re-arm trading after the halt?\n", style=theme.VALUE)
        if reason:
            body.append("Halted because: ", style=theme.LABEL)
            body.append(reason, style=theme.BAD)
        self.open_dialog(
            ConfirmScreen("Re-arm", body, "Re-arm", tone="warning"),
            lambda ok: self.cockpit.send("rearm") if ok else None,
        )

    def action_help(self) -> None:
        self.open_dialog(HelpScreen(several_symbols=self.multi))

    def action_request_quit(self) -> None:
        self.cockpit.action_request_quit()

