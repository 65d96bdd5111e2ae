"""The decision / proposal card: what the engine wants now, and why.

With a proposal waiting (semi mode) the card turns into a loud PROPOSAL card: side, size,
price limit, expected fee, net delta after the trade, the expiry countdown, and the keys.
Every number comes from the snapshot (``Decision`` / ``Proposal``); nothing is computed here.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from core.model import Action, Decision, Mode, Side, TradingState
from core.state import CockpitState, Proposal
from tui import fmt, theme
from tui.panes.base import Pane, set_content, set_title


def _limit_sign(side: Side | None) -> str:
    return "≤" if side is Side.BUY else "≥"


def headline(s: CockpitState) -> Text:
    base, _quote = fmt.split_symbol(s.symbol)
    p = s.proposal
    t = Text(no_wrap=True, overflow="ellipsis")
    if p is not None:
        t.append(f" {p.side.value.upper()} ", style=theme.BADGE_STATE["HALTED"] if p.side is Side.SELL else theme.BADGE_STATE["ACTIVE"])
        t.append(" ")
        t.append(fmt.dec_str(p.qty), style=theme.STRONG)
        t.append(f" {base}", style=theme.LABEL)
        t.append(f"  limit {_limit_sign(p.side)} ", style=theme.LABEL)
        t.append(fmt.dec_str(p.price_limit), style=theme.STRONG)
        return t
    d = s.decision
    if d is None:
        t.append("no decision yet", style=theme.LABEL)
        return t
    if not d.trades:
        t.append(" HOLD ", style=theme.BADGE_MODE["watch"])
        t.append(f"  {d.policy}", style=theme.LABEL)
        return t
    t.append(f" {d.action.value.upper()} ", style=theme.BADGE_MODE["semi"] if d.action is Action.PARTIAL else theme.BADGE_MODE["auto"])
    t.append(" ")
    t.append_text(fmt.side_text(d.side))
    t.append(" ")
    t.append(fmt.num(d.qty_base, 6), style=theme.STRONG)
    t.append(f" {base}", style=theme.LABEL)
    if d.gate.limit_price is not None:
        t.append(f"  limit {_limit_sign(d.side)} ", style=theme.LABEL)
        t.append(fmt.num(d.gate.limit_price, 2), style=theme.VALUE)
    return t


def exec_text(d: Decision) -> str:
    if d.take_now:
        return "taker now (IOC)"
    if d.maker_first and d.taker_allowed:
        return "maker → taker"
    if d.maker_first:
        return "maker only (post-only)"
    return "taker" if d.taker_allowed else "—"


def body(s: CockpitState) -> Text:
    """Everything below the reason, most important first (a short pane shows the top lines)."""
    base, quote = fmt.split_symbol(s.symbol)
    p: Proposal | None = s.proposal
    d = p.decision if p is not None else s.decision
    if d is None:
        return Text()
    unit = base if d.unit == "base" else d.unit.upper()
    dp = fmt.qty_dp(d.unit)
    level = fmt.gap_level(d.gap, d.effective_soft, d.effective_hard)
    lines: list[Text] = []

    t = Text()
    t.append("gap  ", style=theme.LABEL)
    t.append(fmt.num(d.gap, dp, sign=True), style=fmt.LEVEL_STYLE[level] + theme.BOLD)
    t.append(f" {unit}", style=theme.LABEL)
    t.append("  soft ", style=theme.LABEL)
    t.append(fmt.num(d.effective_soft, dp, group=False), style=theme.WARN)
    t.append("  hard ", style=theme.LABEL)
    t.append(fmt.num(d.effective_hard, dp, group=False), style=theme.BAD)
    lines.append(t)

    g = d.gate
    t = Text()
    t.append("gate ", style=theme.LABEL)
    if not g.applies:
        t.append(g.reason or "no gate", style=theme.LABEL)
    else:
        t.append("PASS" if g.passed else "FAIL", style=(theme.OK if g.passed else theme.WARN) + theme.BOLD)
        t.append("  edge ", style=theme.LABEL)
        t.append(fmt.num(g.actual_edge_bps, 1, sign=True), style=theme.OK if g.passed else theme.WARN)
        t.append(f" / {fmt.num(g.required_edge_bps, 1)} bps", style=theme.LABEL)
        if g.max_wait_s > 0:
            t.append("  waited ", style=theme.LABEL)
            t.append(f"{fmt.duration(g.waited_s)}/{fmt.duration(g.max_wait_s)}", style=theme.VALUE)
    lines.append(t)

    t = Text()
    t.append("exec ", style=theme.LABEL)
    t.append(exec_text(d), style=theme.VALUE)
    fee, after = ((p.expected_fee_quote, p.net_after_base) if p is not None
                  else (s.decision_fee_quote, s.decision_net_after_base))
    if fee is not None and after is not None:
        t.append("  fee≈ ", style=theme.LABEL)
        t.append(fmt.num(fee, 2), style=theme.VALUE)
        t.append(f" {quote}", style=theme.LABEL)
        t.append("  after ", style=theme.LABEL)
        t.append(fmt.num(after, 6, sign=True), style=theme.STRONG)
        t.append(f" {base}", style=theme.LABEL)
    lines.append(t)

    b = d.bias
    t = Text()
    t.append("bias ", style=theme.LABEL)
    for label, value in (("ema", b.ema_bias), ("anchor", b.anchor_bias), ("comb", b.combined)):
        t.append(f"{label} ", style=theme.LABEL)
        t.append(fmt.num(value, 2, sign=True), style=fmt.signed_style(value))
        t.append("  ")
    t.append("×", style=theme.LABEL)
    t.append(fmt.num(b.scale, 2), style=theme.ACCENT)
    lines.append(t)

    t = Text()
    t.append("cool ", style=theme.LABEL)
    t.append(
        fmt.countdown(s.cooldown_left_s, s.feed.speed) if s.cooldown_left_s > 0 else "ready",
        style=theme.WARN if s.cooldown_left_s > 0 else theme.OK,
    )
    t.append("  hyst ", style=theme.LABEL)
    t.append(s.hysteresis_note or "—", style=theme.VALUE)
    lines.append(t)
    return Text("\n").join(lines)


def why(s: CockpitState) -> Text:
    d = s.proposal.decision if s.proposal is not None else s.decision
    t = Text()
    t.append("why  ", style=theme.LABEL)
    t.append((d.reason if d is not None else "") or "—", style=theme.VALUE)
    return t


def _context(s: CockpitState) -> str:
    """What happens to this decision: nothing is executed while halted, paused or watching."""
    if s.trading_state is TradingState.HALTED:
        return " · HALTED, not executing"
    if s.trading_state is TradingState.PAUSED:
        return " · PAUSED, not executing"
    if s.mode is Mode.WATCH:
        return " · watch only"
    return ""


class DecisionPane(Pane):
    TITLE = "Decision"

    def compose(self) -> ComposeResult:
        yield Static(id="dec-head")
        yield Static(id="dec-why")
        yield Static(id="dec-body")

    def key(self, s: CockpitState):
        # ts_ms is part of the key only while a proposal counts down to its expiry
        p = s.proposal
        return (s.symbol, s.decision, p, s.ts_ms if p is not None and p.expires_ms else None,
                s.cooldown_left_s, s.hysteresis_note, s.trading_state, s.mode)

    def render_state(self, s: CockpitState) -> None:
        p = s.proposal
        self.set_class(p is not None and not p.forced, "-proposal")
        self.set_class(p is not None and p.forced, "-forced")
        self.set_class(s.trading_state is not TradingState.ACTIVE, "-inactive")
        if p is None:
            set_title(self, "Decision" + _context(s), "")
        else:
            kind = "FORCED" if p.forced else "PROPOSAL"
            subtitle = ""
            if p.expires_ms is not None:
                subtitle = f"expires in {fmt.countdown((p.expires_ms - s.ts_ms) / 1000, s.feed.speed)}"
            set_title(self, f"▶ {kind} #{p.proposal_id}  a approve · s skip", subtitle)
        set_content(self.query_one("#dec-head", Static), headline(s), fixed=True)
        reason = why(s)
        set_content(self.query_one("#dec-why", Static), reason, size=reason.plain)  # wraps: any change
        set_content(self.query_one("#dec-body", Static), body(s))
