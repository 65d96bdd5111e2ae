"""The operator's commands (approve, skip, force, pause, mode, kill, re-arm, cancel) and the
proposals semi mode puts to the trader.

Every command goes through the same gates as an automatic decision (mode, trading state,
risk, the direction of the gap) and ends in one ``Outcome`` (``core.outcome``): what it did,
or why it did nothing, in the sentence the cockpit toasts, the Log shows and the journal keeps
(a ``states`` row of kind ``operator``). The operator acts on the rebalancer it belongs to:
the state it changes (mode, trading state, the working rebalance) is the rebalancer's, the
pending proposal is its own.

What you see is what you approve: a proposal never changes once shown. While the engine's view
stays within ``rebalancer.proposals`` (size, price limit) of it, the card stands as shown; past
that, it is withdrawn (journaled) and a new one with a new number replaces it. Approval sends
exactly the shown size at no worse than the shown limit, or nothing, and says why.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING

from core.account import closing_room, side_to_close
from core.events import CancelAllOurs, CancelOrder, Command, PlaceOrder
from core.model import Action, Decision, Mode, Side, TradingState
from core.outcome import OPERATOR_ROW, Outcome
from core.state import NOTHING_SHOWN, Proposal

if TYPE_CHECKING:
    from core.rebalancer import Rebalancer

EMPTY: tuple = ()


def _shown(value: str | Decimal) -> str:
    """An exact number as the card shows it: digits unchanged, thousands grouped."""
    return format(Decimal(value), ",")


def _limit_word(side: Side) -> str:
    return "≤" if side is Side.BUY else "≥"


def moved_past_tolerance(shown: Proposal, fresh: Proposal, size_tolerance: float,
                         price_tolerance_bps: float) -> str | None:
    """Why ``fresh`` (the engine's view now) is no longer the trade ``shown``, or None while it
    stays within the tolerances (same side and action, size and price limit close enough)."""
    if fresh.side is not shown.side:
        return f"the side changed ({shown.side.lower()} → {fresh.side.lower()})"
    if fresh.decision.action is not shown.decision.action:
        return f"the decision changed ({shown.decision.action.value} → {fresh.decision.action.value})"
    q0, q1 = Decimal(shown.qty), Decimal(fresh.qty)
    if q0 != q1 and (q0 <= 0 or abs(q1 - q0) / q0 > Decimal(repr(size_tolerance))):
        change = f" ({float((q1 - q0) / q0):+.0%})" if q0 > 0 else ""
        return f"the size moved {_shown(q0)} → {_shown(q1)}{change}, past ±{size_tolerance:.0%}"
    p0, p1 = Decimal(shown.price_limit), Decimal(fresh.price_limit)
    if p0 > 0 and p0 != p1:
        bps = float(abs(p1 - p0) / p0) * 1e4
        if bps > price_tolerance_bps:
            return f"the price limit moved {_shown(p0)} → {_shown(p1)} ({bps:.1f} bps, past {price_tolerance_bps:g})"
    return None


class Operator:
    def __init__(self, reb: Rebalancer) -> None:
        self.reb = reb
        self.proposal: Proposal | None = None  # semi: the decision waiting for the trader
        self.skip_next = False  # auto: the trader asked to skip the next decision
        self._proposal_seq = 0
        self._last_closed: tuple[int, str] | None = None  # (number, answer) of the last proposal taken down

    # ------------------------------------------------------------------ outcomes

    def _answer(self, command: str, text: str, *, acted: bool, level: str = "info",
                commands=EMPTY) -> Outcome:
        """The command's outcome, said once: the Log line and the journal row carry this text."""
        r = self.reb
        r.note(level, text)
        r.rec.state(r.now_ms, OPERATOR_ROW, command, text)
        return Outcome(command, text, acted, level, tuple(commands))

    def _sent(self, cmds) -> str:
        """``→ order <id>`` for what a command places ('' when it places nothing)."""
        ids = [c.request.client_id for c in cmds if type(c) is PlaceOrder]
        return f" → order {', '.join(ids)}" if ids else ""

    # ------------------------------------------------------------------ proposals (semi)

    def propose(self, d: Decision, *, forced: bool = False) -> None:
        """Show ``d`` as a proposal. One already shown stands as it is while ``d`` stays within
        the tolerances of it; past them it is withdrawn and ``d`` is shown under a new number."""
        r, p = self.reb, self.proposal
        fresh = self._draft(d, forced=forced)
        if fresh is None:
            return
        if Decimal(fresh.qty) <= 0:  # the risk caps allow no size: nothing a trader could approve
            why = r.desk.size(d.side, d.qty_base, d.price).refused or "no size left"
            if p is not None and not p.forced:
                self._close(p, f"withdrawn: {why}")
                r.note("info", f"proposal #{p.proposal_id} withdrawn: {why}")
            r.stats.refused += 1
            r.record_decision(d, f"refused: {why}")
            return
        if p is not None:
            tol = r.cfg.proposals
            why = moved_past_tolerance(p, fresh, tol.size_tolerance, tol.price_tolerance_bps)
            if why is None:
                return  # the card stands exactly as shown
            self._close(p, f"withdrawn: {why}")
            r.note("info", f"proposal #{p.proposal_id} withdrawn: {why}")
        self._show(fresh)

    def _show(self, draft: Proposal) -> None:
        r = self.reb
        self._proposal_seq += 1
        p = self.proposal = replace(draft, proposal_id=self._proposal_seq)
        r.stats.decisions += 1
        r.record_decision(p.decision, "proposed", again=True)  # each number has its decision row
        r.rec.proposal(r.now_ms, p, "shown")
        base, quote = r.instrument.base, r.instrument.quote
        r.note("trade", f"PROPOSAL #{p.proposal_id}: {p.side.lower()} {_shown(p.qty)} {base}, limit "
                        f"{_limit_word(p.side)} {_shown(p.price_limit)}, fee ≈ {p.expected_fee_quote:,.2f} {quote}"
                        f" — press a to approve, s to skip")

    def _draft(self, d: Decision, *, forced: bool) -> Proposal | None:
        """The proposal ``d`` makes now, not numbered yet (number 0)."""
        if d.side is None:
            return None
        r = self.reb
        now = r.now_ms
        sized = r.desk.size(d.side, d.qty_base, d.price)
        qty = r.instrument.round_qty(sized.qty) if not sized.refused else Decimal(0)
        maker_first, _taker_allowed, cost = r.desk.style_for(d, forced=forced)
        fee_rate = r.maker_fee_rate if maker_first else r.taker_fee_rate
        expires = None
        if d.action is Action.PARTIAL and not forced:
            expires = now + int(r.cfg.proposal_ttl_s * 1000 * r.market_speed)
        return Proposal(proposal_id=0, decision=d, side=d.side, qty=str(qty),
                        price_limit=str(self.price_limit(d.side)), created_ms=now, expires_ms=expires,
                        expected_fee_quote=float(qty) * d.price * fee_rate,
                        net_after_base=r.book.net_after(d.side, float(qty)), forced=forced, cost=cost)

    def _close(self, p: Proposal, answer: str) -> None:
        """Take ``p`` down with the trader's (or the engine's) answer, journaled."""
        if self.proposal is p:
            self.proposal = None
        self.reb.rec.proposal(self.reb.now_ms, p, answer)
        self._last_closed = (p.proposal_id, answer)

    def act_on(self, d: Decision) -> list[Command]:
        """A trading decision, as the mode says: watch shows it, semi proposes it, auto sends it
        (unless the trader asked to skip it). Refused while the risk gate is closed."""
        r = self.reb
        if r.mode is Mode.WATCH:
            if r.record_decision(d, "watch: shown only"):
                r.stats.would_trade += 1  # what it would have done: each new want counted once
            return EMPTY
        refusal = r.desk.gate(r.now_ms)
        if refusal:
            r.stats.refused += 1
            r.record_decision(d, f"refused: {refusal}")
            return EMPTY
        if r.mode is Mode.SEMI:
            self.propose(d)
            return EMPTY
        if self.skip_next:
            self.skip_next = False
            r.note("info", f"skipped as asked: {d.action.value} {d.side.value if d.side else ''}")
            r.record_decision(d, "skipped by the user")
            r.desk.suppress(r.now_ms)
            return EMPTY
        return r.desk.start(d, price_limit=None, path=r.policy.execution_path(d), gate_passed=True)

    def price_limit(self, side: Side) -> Decimal:
        """The worst price a taker order may reach: the touch ± the slippage cap."""
        r = self.reb
        bid, ask = r.touch()
        cap = r.cfg.execution.slippage_cap_bps / 1e4
        raw = ask * (1 + cap) if side is Side.BUY else bid * (1 - cap)
        return r.instrument.round_price(raw, side, passive=True)

    def withdraw(self, why: str) -> None:
        """The need is gone: a pending (not forced) proposal is withdrawn."""
        p = self.proposal
        if p is not None and not p.forced:
            self._close(p, "withdrawn: no longer needed")
            self.reb.note("info", f"proposal #{p.proposal_id} withdrawn: {why}")

    def expire(self, ts_ms: int) -> None:
        """A soft proposal left unanswered past its time counts as skipped."""
        p = self.proposal
        if p is not None and p.expires_ms is not None and ts_ms >= p.expires_ms:
            self.reb.note("info", f"proposal #{p.proposal_id} expired (skipped)")
            self._close(p, "expired")
            self.reb.desk.suppress(ts_ms)

    def _drop(self, answer: str) -> None:
        if self.proposal is not None:
            self._close(self.proposal, answer)

    # ------------------------------------------------------------------ the trader's commands

    def approve(self, shown: int | None = None) -> Outcome:
        """Send exactly the proposal shown — its size, no worse than its limit — or nothing, saying why.
        ``shown``: the id the trader's card showed (``NOTHING_SHOWN``: none); another pending
        proposal is not sent. None: the pending one, whichever it is (scripts, replays)."""
        r, p = self.reb, self.proposal
        if r.mode is Mode.WATCH:
            return self._answer("approve", "approve refused: watch mode never trades", acted=False, level="warning")
        if p is None:
            return self._answer("approve", self._nothing_to_approve(), acted=False)
        n = p.proposal_id
        if shown is not None and shown != n:
            return self._not_the_card("approve", "sent", n, shown)
        refusal = r.desk.gate(r.now_ms)
        if refusal:
            return self._answer("approve", f"approve #{n} refused: {refusal}", acted=False, level="warning")
        if r.exec is not None:
            return self._answer("approve", f"approve #{n} refused: a rebalance is already working", acted=False,
                                level="warning")
        if r.orders.working:
            return self._answer("approve", f"approve #{n} refused: an earlier order of ours is still working "
                                           "(c cancels it)", acted=False, level="warning")
        limit = Decimal(p.price_limit)
        if p.forced:
            self._close(p, "approved")
            cmds = r.desk.start(p.decision, price_limit=limit, path="forced", forced=True)
            return self._approved(p, cmds)
        fresh = r.decide_now()
        why = self._why_not_as_shown(p, fresh)
        if why is not None:
            self._close(p, f"stale: {why}")
            then = "nothing to trade now"
            if fresh.trades:
                self.propose(fresh)
                q = self.proposal
                if q is not None:
                    then = (f"new proposal #{q.proposal_id}: {q.side.lower()} {_shown(q.qty)} {r.instrument.base} "
                            "(a approves it)")
            return self._answer("approve", f"proposal #{n} not sent: {why}; {then}", acted=False, level="warning")
        self._close(p, "approved")
        # exactly the shown size, bounded by the shown limit through its chase and escalation
        d = replace(fresh, qty_base=float(p.qty))
        # ... and executed the way it showed (rest or take, under execution.style auto)
        return self._approved(p, r.desk.start(d, price_limit=limit, path=r.policy.execution_path(d), shown=p.cost))

    def _not_the_card(self, command: str, done: str, pending: int, shown: int) -> Outcome:
        """The trader's key named another proposal than the pending one: nothing is done."""
        was = f"proposal #{shown}" if shown != NOTHING_SHOWN else "no proposal"
        return self._answer(command, f"proposal #{pending} not {done}: the card showed {was}; look again",
                            acted=False, level="warning")

    def _nothing_to_approve(self) -> str:
        r = self.reb
        text = "nothing to approve"
        if self._last_closed is not None:
            n, answer = self._last_closed
            text += f" (proposal #{n} {answer})"
        if r.mode is Mode.AUTO:
            text += ": auto mode sends its decisions itself"
        return text

    def _why_not_as_shown(self, p: Proposal, fresh: Decision) -> str | None:
        """Why the shown trade cannot be sent exactly as shown now, or None."""
        r = self.reb
        if not fresh.trades:
            return "no longer needed"
        bid, ask = r.touch()
        limit = float(p.price_limit)
        if (p.side is Side.BUY and ask > limit) or (p.side is Side.SELL and bid < limit):
            return "price moved past its limit"
        now_view = self._draft(fresh, forced=False)
        tol = r.cfg.proposals
        moved = moved_past_tolerance(p, now_view, tol.size_tolerance, tol.price_tolerance_bps) if now_view else None
        if moved:
            return moved
        qty = Decimal(p.qty)
        room = r.instrument.round_qty(max(0.0, closing_room(r.gap_base(), p.side)))
        if room < qty:
            return f"the gap ({_shown(room)}) is now smaller than the {_shown(qty)} shown"
        sized = r.desk.size(p.side, float(qty), r.price or fresh.price)
        if sized.refused:
            return sized.refused
        if r.instrument.round_qty(sized.qty) < qty:
            return f"the risk caps and the wallet allow only {_shown(r.instrument.round_qty(sized.qty))} now ({sized.note})"
        return None

    def _approved(self, p: Proposal, cmds) -> Outcome:
        r = self.reb
        places = [c.request for c in cmds if type(c) is PlaceOrder]
        if not places:
            return self._answer("approve", f"approved #{p.proposal_id}, but nothing was sent (see the Log)",
                                acted=False, level="warning", commands=cmds)
        size = _shown(sum((q.qty for q in places), Decimal(0)))
        return self._answer("approve", f"approved #{p.proposal_id}: {p.side.lower()} {size} {r.instrument.base}, "
                                       f"limit {_limit_word(p.side)} {_shown(p.price_limit)}{self._sent(cmds)}",
                            acted=True, level="trade", commands=cmds)

    def skip(self, shown: int | None = None) -> Outcome:
        """Semi: drop the pending proposal (``shown``: only the one the card showed, as approve);
        auto: skip the next decision."""
        r = self.reb
        if r.mode is Mode.SEMI and self.proposal is not None:
            p = self.proposal
            if shown is not None and shown != p.proposal_id:
                return self._not_the_card("skip", "skipped", p.proposal_id, shown)
            self._close(p, "skipped")
            r.desk.suppress(r.now_ms)
            return self._answer("skip", f"skipped proposal #{p.proposal_id}; no new one for "
                                        f"{r.cfg.risk.cooldown_s:g} s (cooldown)", acted=True)
        if r.mode is Mode.AUTO:
            self.skip_next = True
            return self._answer("skip", "the next decision will be skipped", acted=True)
        why = "watch mode never trades" if r.mode is Mode.WATCH else "no proposal is pending"
        return self._answer("skip", f"nothing to skip: {why}", acted=False)

    def preview_force(self) -> Proposal | None:
        """What ``force`` would send now: the full gap, taker, within the slippage cap."""
        r = self.reb
        if r.price is None:
            return None
        g = r.gap_base()
        qty = r.instrument.round_qty(abs(g))
        if qty <= 0:
            return None
        side = side_to_close(g)
        d = Decision(ts_ms=r.now_ms, policy=r.policy_name, action=Action.FULL, side=side, qty_base=abs(g),
                     gap_base=g, net_base=r.book.net_base, target_base=r.target_base(), price=r.price,
                     maker_first=False, taker_allowed=True, take_now=True,
                     reason=f"forced by the user: {side.value.lower()} the full gap {abs(g):.6f} now (taker, capped)")
        return self._draft(d, forced=True)

    def offer_force(self) -> Proposal | Outcome:
        """What the force dialog shows for confirmation, or the outcome saying why there is none."""
        return self._forceable()

    def _forceable(self) -> Proposal | Outcome:
        """The force preview, or the outcome saying why nothing can be forced now."""
        refused = self._force_refusal()
        if refused is not None:
            return refused
        p = self.preview_force()
        if p is None:
            return self._answer("force", "nothing to force: already at target", acted=False)
        return self._unsized_force(p) or p

    def _unsized_force(self, p: Proposal) -> Outcome | None:
        """A force the risk caps allow no size for is refused, saying which cap (no 0 BTC dialog)."""
        if Decimal(p.qty) > 0:
            return None
        r = self.reb
        why = r.desk.size(p.side, p.decision.qty_base, p.decision.price).refused or "no size left"
        return self._answer("force", f"force refused: {why}", acted=False, level="warning")

    def _force_refusal(self) -> Outcome | None:
        r = self.reb
        if r.mode is Mode.WATCH:
            return self._answer("force", "force refused: watch mode never trades", acted=False, level="warning")
        if r.exec is not None:
            return self._answer("force", "force refused: a rebalance is already working", acted=False,
                                level="warning")
        refusal = r.desk.gate(r.now_ms)
        if refusal:
            return self._answer("force", f"force refused: {refusal}", acted=False, level="warning")
        return None

    def force(self, confirmed: Proposal | None = None) -> Outcome:
        """Trade the full gap now, taker. ``confirmed``: the preview the trader confirmed — the
        order then never exceeds the size or the price limit it showed, and nothing is sent
        when the gap has changed side since."""
        r = self.reb
        p = self._forceable()
        if isinstance(p, Outcome):
            return p
        d, limit = p.decision, Decimal(p.price_limit)
        if confirmed is not None:
            if confirmed.side is not p.side:
                return self._answer("force", f"force not sent: the gap changed side since you confirmed "
                                             f"({confirmed.side.lower()} → {p.side.lower()}); press f again",
                                    acted=False, level="warning")
            shown = Decimal(confirmed.price_limit)
            limit = min(limit, shown) if p.side is Side.BUY else max(limit, shown)
            d = replace(d, qty_base=min(d.qty_base, float(confirmed.qty)))
        cmds = r.desk.start(d, price_limit=limit, path="forced", forced=True)
        places = [c.request for c in cmds if type(c) is PlaceOrder]
        if not places:
            return self._answer("force", "force: nothing was sent (see the Log)", acted=False, level="warning",
                                commands=cmds)
        self._drop("dropped: forced instead")  # a proposal waiting meanwhile is taken down, journaled
        size = sum((q.qty for q in places), Decimal(0))
        less = ""
        if confirmed is not None and size < Decimal(confirmed.qty):
            less = f" (less than the {_shown(confirmed.qty)} shown: the gap shrank)"
        return self._answer("force", f"force sent: {p.side.lower()} {_shown(size)} {r.instrument.base}{less}, "
                                     f"limit {_limit_word(p.side)} {_shown(limit)}{self._sent(cmds)}",
                            acted=True, level="trade", commands=cmds)

    def toggle_pause(self) -> Outcome:
        r = self.reb
        if r.risk.state is TradingState.PAUSED:
            r.risk.resume()
            self.state_changed("resumed by the user", say=False)
            return self._answer("resume", "resumed: trading ACTIVE", acted=True)
        if r.risk.state is TradingState.ACTIVE:
            r.risk.pause()
            self.state_changed("paused by the user", say=False)
            cmds = r.desk.abort("paused")
            cancelled = "; cancelling the working order" if cmds else ""
            return self._answer("pause", f"paused: no new orders{cancelled}", acted=True, level="warning",
                                commands=cmds)
        return self._answer("pause", "pause refused: HALTED — re-arm first (r)", acted=False, level="warning")

    def set_mode(self, mode: Mode) -> Outcome:
        r = self.reb
        if mode is r.mode:
            return self._answer("mode", f"already in {mode.value.upper()} mode", acted=False)
        old = r.mode
        r.mode = mode
        r.risk.stops += 1  # an order made under the old mode is not sent under the new one
        r.rec.state(r.now_ms, "mode", mode.value, f"from {old.value}")
        text = f"mode {old.value.upper()} → {mode.value.upper()}"
        out: list[Command] = []
        if mode is not Mode.SEMI and self.proposal is not None:
            text += f"; proposal #{self.proposal.proposal_id} dropped"
            self._drop(f"dropped: mode {mode.value}")
        if mode is Mode.WATCH:
            out.extend(r.desk.abort("watch mode"))
            if out:
                text += "; cancelling the working order"
        r.dirty = True
        return self._answer("mode", text, acted=True, commands=out)

    def halt(self, reason: str, *, say: bool = True) -> list[Command]:
        """Cancel our orders and HALT (the kill switch, a breached limit, an unwritable journal)."""
        r = self.reb
        r.risk.halt(reason)
        self.state_changed(reason, say=say)
        self._drop("dropped: halted")
        r.desk.drop("halted")
        return [CancelAllOurs(reason=reason)]

    def kill(self, reason: str = "kill switch pressed by the user") -> Outcome:
        cmds = self.halt(reason, say=False)
        return self._answer("kill", f"HALTED: {reason}; cancelling our orders", acted=True, level="warning",
                            commands=cmds)

    def rearm(self) -> Outcome:
        r = self.reb
        if r.risk.state is not TradingState.HALTED:
            return self._answer("rearm", f"nothing to re-arm: trading is {r.risk.state.value}", acted=False)
        r.risk.rearm()
        self.state_changed("re-armed by the user", say=False)
        r.dirty = True
        return self._answer("rearm", "re-armed: trading ACTIVE", acted=True)

    def cancel_pending(self) -> Outcome:
        r = self.reb
        if r.exec is None:
            if r.orders.working:
                ids = list(r.orders.working)
                cmds = [CancelOrder(cid, reason="cancelled by the user") for cid in ids]
                return self._answer("cancel", f"cancelling our order {', '.join(ids)}", acted=True, commands=cmds)
            return self._answer("cancel", "no pending order", acted=False)
        n = r.exec.plan.rebalance_id
        cmds = r.desk.abort("cancelled by the user")
        ids = [c.client_id for c in cmds if type(c) is CancelOrder]
        what = f" (order {', '.join(ids)})" if ids else ""
        return self._answer("cancel", f"cancelling rebalance #{n}{what}", acted=True, commands=cmds)

    def state_changed(self, reason: str, *, say: bool = True) -> None:
        """The trading state's row in the journal (and, unless an outcome says it, a Log line)."""
        r = self.reb
        st = r.risk.state
        r.rec.state(r.now_ms, "trading_state", st.value, reason)
        if say:
            r.note("warning" if st is not TradingState.ACTIVE else "info", f"{st.value}: {reason}")
