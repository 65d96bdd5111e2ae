"""The decision / proposal card: what the engine wants now, and why.

With a proposal waiting (semi mode) the card turns into a loud PROPOSAL card: side, size,
price limit, expected fee, net delta after the trade, the expiry countdown, and the keys.
Under ``execution.style: auto`` it shows both cost estimates (take / rest, bps) and the choice.
Every number comes from the snapshot (``Decision`` / ``Proposal``); nothing is computed here.

Several symbols share one queue of proposals: the card shows the oldest, named by its symbol
("▶ PROPOSAL ETHUSDT #3", in that symbol's units) whichever symbol the other panes show, and
says how many wait behind it; ``a`` / ``s`` answer that one.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from core.model import Action, Decision, Mode, Side, TradingState
from core.state import CockpitState, CostEstimate, Proposal
from tui import fmt, theme
from tui.panes.base import Pane, set_content, set_title
from tui.panes.fit import Clamp, Rows
from tui.panes.fit import item as _item


def _limit_sign(side: Side | None) -> str:
    return "≤" if side is Side.BUY else "≥"


def card_symbol(s: CockpitState) -> str:
    """Whose decision the card shows: the proposal's symbol (several symbols share one queue),
    else the selected symbol's."""
    p = s.proposal
    return p.symbol if p is not None and p.symbol else s.symbol


def headline(s: CockpitState) -> Rows:
    """One row: side and size, then the price limit, then the kind (dropped first when narrow)."""
    base, _quote = fmt.split_symbol(card_symbol(s))
    p = s.proposal
    L = theme.LABEL
    if p is not None:
        badge = theme.BADGE_STATE["HALTED"] if p.side is Side.SELL else theme.BADGE_STATE["ACTIVE"]
        return Rows(((
            _item((f" {p.side.value.upper()} ", badge), (" ", L), (fmt.dec_str(p.qty), theme.STRONG), (f" {base}", L)),
            _item((f"limit {_limit_sign(p.side)} ", L), (fmt.dec_str(p.price_limit), theme.STRONG)),
        ),))
    d = s.decision
    if d is None:
        return Rows(((_item(("no decision yet", L)),),))
    if not d.trades:
        return Rows(((_item((" HOLD ", theme.BADGE_MODE["watch"])), _item((d.policy, L))),))
    items = [_item((" ", L), (d.side.value.upper() if d.side else fmt.DASH, fmt.side_style(d.side)), (" ", L),
                   (fmt.num(d.qty_base, 6), theme.STRONG), (f" {base}", L))]
    if d.gate.limit_price is not None:
        items.append(_item((f"limit {_limit_sign(d.side)} ", L), (fmt.num(d.gate.limit_price, 2), theme.VALUE)))
    kind = theme.BADGE_MODE["semi"] if d.action is Action.PARTIAL else theme.BADGE_MODE["auto"]
    items.append(_item((f" {d.action.value.upper()} ", kind)))
    return Rows((tuple(items),))


def exec_text(d: Decision, cost: CostEstimate | None = None) -> str:
    """How the decision executes; with an ``auto`` estimate, the way it chose."""
    if cost is not None:
        return "maker → taker (cheaper)" if cost.rests else "taker now (cheaper)"
    if d.take_now:
        return "taker now (IOC)"
    if d.maker_first and d.taker_allowed:
        return "maker → taker"
    if d.maker_first:
        return "maker only (post-only)"
    return "taker" if d.taker_allowed else "—"


def body(s: CockpitState) -> Rows:
    """Everything below the reason, most important first (a short pane shows the top lines);
    each row is items that are kept whole or dropped whole at a narrow width (see ``fit``)."""
    base, quote = fmt.split_symbol(card_symbol(s))
    p: Proposal | None = s.proposal
    d = p.decision if p is not None else s.decision
    if d is None:
        return Rows(())
    unit = base if d.unit == "base" else d.unit.upper()
    dp = fmt.qty_dp(d.unit)
    level = fmt.gap_level(d.gap, d.effective_soft, d.effective_hard)
    L = theme.LABEL
    rows: list[tuple[Text, ...]] = []

    rows.append((
        _item(("gap  ", L), (fmt.num(d.gap, dp, sign=True), fmt.LEVEL_STYLE[level] + theme.BOLD), (f" {unit}", L)),
        _item(("soft ", L), (fmt.num(d.effective_soft, dp, group=False), theme.WARN)),
        _item(("hard ", L), (fmt.num(d.effective_hard, dp, group=False), theme.BAD)),
    ))

    g = d.gate
    if not g.applies:
        rows.append((_item(("gate ", L), (g.reason or "no gate", L)),))
    else:
        gate = [
            _item(("gate ", L), ("PASS" if g.passed else "FAIL", (theme.OK if g.passed else theme.WARN) + theme.BOLD)),
            _item(("edge ", L), (fmt.num(g.actual_edge_bps, 1, sign=True), theme.OK if g.passed else theme.WARN),
                  (f" / {fmt.num(g.required_edge_bps, 1)} bps", L)),
        ]
        if g.max_wait_s > 0:
            gate.append(_item(("waited ", L), (f"{fmt.duration(g.waited_s)}/{fmt.duration(g.max_wait_s)}", theme.VALUE)))
        rows.append(tuple(gate))

    cost = s.decision_cost if p is None else p.cost  # a proposal shows the estimate it was drafted with
    ex = [_item(("exec ", L), (exec_text(d, cost), theme.VALUE))]
    fee, after = ((p.expected_fee_quote, p.net_after_base) if p is not None
                  else (s.decision_fee_quote, s.decision_net_after_base))
    if fee is not None and after is not None:
        ex.append(_item(("fee≈ ", L), (fmt.num(fee, 2), theme.VALUE), (f" {quote}", L)))
        ex.append(_item(("after ", L), (fmt.num(after, 6, sign=True), theme.STRONG), (f" {base}", L)))
    rows.append(tuple(ex))
    if cost is not None:
        rows.append((
            _item(("cost ", L), ("take ", L), (fmt.num(cost.take_bps, 1), theme.STRONG if not cost.rests else theme.VALUE),
                  (" · rest ", L), (fmt.num(cost.rest_bps, 1), theme.STRONG if cost.rests else theme.VALUE),
                  (" bps", L)),
            _item(("→ ", L), (cost.choice, theme.ACCENT + theme.BOLD)),
        ))

    b = d.bias
    rows.append((
        _item(("bias ", L), ("ema ", L), (fmt.num(b.ema_bias, 2, sign=True), fmt.signed_style(b.ema_bias))),
        _item(("anchor ", L), (fmt.num(b.anchor_bias, 2, sign=True), fmt.signed_style(b.anchor_bias))),
        _item(("comb ", L), (fmt.num(b.combined, 2, sign=True), fmt.signed_style(b.combined))),
        _item(("×", L), (fmt.num(b.scale, 2), theme.ACCENT)),
    ))

    if card_symbol(s) != s.symbol:
        return Rows(tuple(rows))  # the cooldown and hysteresis below are the selected symbol's
    cooling = s.cooldown_left_s > 0
    rows.append((
        _item(("cool ", L), (fmt.countdown(s.cooldown_left_s, s.feed.speed) if cooling else "ready",
                             theme.WARN if cooling else theme.OK)),
        _item(("hyst ", L), (s.hysteresis_note or "—", theme.VALUE)),
    ))
    return Rows(tuple(rows))


def why(s: CockpitState) -> Text:
    d = s.proposal.decision if s.proposal is not None else s.decision
    t = Text()
    t.append("why  ", style=theme.LABEL)
    t.append((d.reason if d is not None else "") or "—", style=theme.VALUE)
    return t


def why_lines(screen_is_wide: bool) -> int:
    """How many lines the reason gets: 2 in the 80x24 layout, 3 when every pane shows."""
    return 3 if screen_is_wide else 2


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
        # the time left is part of the key only while a proposal counts down to its expiry
        p = s.proposal
        return (s.symbol, s.decision, p, s.proposals_queued, s.proposal_left_s if p is not None and p.expires_ms else None,
                s.decision_cost,
                s.cooldown_left_s, s.hysteresis_note, s.trading_state, s.mode,
                getattr(self.screen, "is_wide", False),  # the reason's lines follow the layout
                bool(s.overview) and self.size.width >= 50)  # several symbols: the title's long form fits

    def on_resize(self) -> None:
        if self._state is not None and self.display:
            self._render_if_changed(self._state)

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
            left = s.proposal_left_s
            if left is not None:
                subtitle = f"expires in {fmt.duration(left)}"
            label = f"{kind} #{p.proposal_id}"
            if s.overview and p.symbol:  # one queue for every symbol: whose proposal, and what waits behind
                # 80 columns: the symbol in the place of the word (the heavy yellow card says proposal)
                label = f"{kind} {p.symbol} #{p.proposal_id}" if self.size.width >= 50 else f"{p.symbol} #{p.proposal_id}"
                if s.proposals_queued > 1:
                    subtitle = f"+{s.proposals_queued - 1} waiting" + (f" · {subtitle}" if subtitle else "")
            set_title(self, f"▶ {label}  a approve · s skip", subtitle)
        set_content(self.query_one("#dec-head", Static), headline(s), fixed=True)
        # wrapped at words, ending in "…" at a word when the reason is longer than its lines
        reason = Clamp(why(s), why_lines(getattr(self.screen, "is_wide", False)))
        set_content(self.query_one("#dec-why", Static), reason, size=reason)  # wraps: any change
        rows = body(s)
        set_content(self.query_one("#dec-body", Static), rows, size=len(rows.rows))
