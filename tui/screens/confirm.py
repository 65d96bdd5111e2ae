"""Confirmation dialogs. The safe choice (Cancel / Stay) has the focus when a dialog opens, so
an absent-minded Enter never sends an order or quits."""

from __future__ import annotations

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from core.model import Side
from core.state import CockpitState, Proposal
from tui import fmt, theme
from tui.screens.modal import OnceModal


class _Dialog(OnceModal):
    """Shared frame: title, body, a row of buttons; Esc cancels; ←/→ move between buttons."""

    BINDINGS = [
        Binding("escape", "dismiss_none", "Cancel", show=True),
        Binding("left", "app.focus_previous", "", show=False),
        Binding("right", "app.focus_next", "", show=False),
    ]

    def __init__(self, title: str, body: RenderableType, *, tone: str = "warning") -> None:
        super().__init__(classes=f"dialog -{tone}")
        self._title = title
        self._body = body

    def buttons(self) -> list[Button]:
        raise NotImplementedError

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(Text(self._title, style=theme.STRONG), id="dialog-title")
            yield Static(self._body, id="dialog-body")
            with Horizontal(id="dialog-buttons"):
                yield from self.buttons()

    def action_dismiss_none(self) -> None:
        self.dismiss(self.cancel_value())

    def cancel_value(self):
        return None

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(self.value_for(event.button.id or ""))

    def value_for(self, button_id: str):
        raise NotImplementedError


class ConfirmScreen(_Dialog):
    """Yes / no. Returns True only when the confirm button is pressed."""

    AUTO_FOCUS = "#cancel"

    def __init__(self, title: str, body: RenderableType, confirm_label: str = "Confirm", *, tone: str = "warning") -> None:
        super().__init__(title, body, tone=tone)
        self._confirm_label = confirm_label
        self._tone = tone

    def buttons(self) -> list[Button]:
        return [
            Button(Text("Cancel"), id="cancel", variant="default"),
            Button(Text(self._confirm_label), id="confirm", variant="error" if self._tone == "danger" else "warning"),
        ]

    def cancel_value(self):
        return False

    def value_for(self, button_id: str) -> bool:
        return button_id == "confirm"


def force_body(p: Proposal, s: CockpitState | None) -> Table:
    """Side, size, price limit (from ``preview_force``), with its fee and net-after."""
    symbol = p.symbol or (s.symbol if s is not None else "BTCUSDT")
    base, quote = fmt.split_symbol(symbol)
    t = Table.grid(padding=(0, 2))
    # the labels keep their width (a long "why" wraps in its own column instead of squeezing
    # them to "pric…"); the values wrap at words
    t.add_column(style=theme.LABEL, no_wrap=True, min_width=len("price limit"))
    t.add_column(ratio=1, overflow="fold")
    side = Text()  # appended, so the badge colour does not fill the whole column
    side.append(f" {p.side.value.upper()} ", style=theme.BADGE_STATE["HALTED"] if p.side is Side.SELL else theme.BADGE_STATE["ACTIVE"])
    if s is not None and s.overview:  # several symbols: say which one this sends on
        t.add_row("symbol", Text(symbol, style=theme.STRONG))
    t.add_row("side", side)
    t.add_row("size", Text(f"{fmt.dec_str(p.qty)} {base}", style=theme.STRONG))
    limit_sign = "≤" if p.side is Side.BUY else "≥"
    t.add_row("price limit", Text(f"{limit_sign} {fmt.dec_str(p.price_limit)} {quote}", style=theme.STRONG))
    if s is not None and s.price is not None:
        t.add_row("price now", Text(f"{fmt.num(s.price, 2)} {quote}", style=theme.VALUE))
    t.add_row("fee ≈", Text(f"{fmt.num(p.expected_fee_quote, 2)} {quote}", style=theme.VALUE))
    t.add_row("net after", Text(f"{fmt.num(p.net_after_base, 6, sign=True)} {base}", style=theme.VALUE))
    if s is not None:
        venue = s.venue.upper()
        t.add_row("venue", Text(venue, style=theme.BAD + theme.BOLD if s.venue.lower() == "mainnet" else theme.VALUE))
    if p.decision.reason:
        t.add_row("why", Text(p.decision.reason, style=theme.VALUE))
    return t


class ForceScreen(ConfirmScreen):
    """Force a rebalance to target now: shows exactly what would be sent."""

    def __init__(self, preview: Proposal, state: CockpitState | None) -> None:
        tone = "danger" if state is not None and state.venue.lower() == "mainnet" else "warning"
        super().__init__(
            "Force a rebalance to target now?",
            force_body(preview, state),
            confirm_label=f"Send {preview.side.value.upper()}",
            tone=tone,
        )
        self.preview = preview


class QuitScreen(_Dialog):
    """Quit: keep our open orders resting, or cancel them first. Returns "keep", "cancel" or None."""

    AUTO_FOCUS = "#stay"

    def __init__(self, open_orders: int) -> None:
        body = Text()
        if open_orders:
            body.append(f"{open_orders} open order(s) of ours are resting on the venue.\n", style=theme.WARN)
        else:
            body.append("No open orders of ours are known.\n", style=theme.VALUE)
        body.append("Keep our orders resting, or cancel them before quitting?\n", style=theme.VALUE)
        body.append("Either way the engine stops trading and flushes its journal first.", style=theme.LABEL)
        super().__init__("Quit the rebalancer?", body, tone="warning")

    def buttons(self) -> list[Button]:
        return [
            Button(Text("Stay"), id="stay", variant="default"),
            Button(Text("Keep & quit"), id="keep", variant="warning"),
            Button(Text("Cancel & quit"), id="cancel", variant="error"),
        ]

    def value_for(self, button_id: str) -> str | None:
        return button_id if button_id in ("keep", "cancel") else None
