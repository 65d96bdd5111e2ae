"""The operator's commands (approve, skip, force, pause, mode, kill, re-arm, cancel) and the
proposals semi mode puts to the trader.

Every command goes through the same gates as an automatic decision (mode, trading state,
risk, the direction of the gap); a refusal is said in the log, never silent. The operator
acts on the rebalancer it belongs to: the state it changes (mode, trading state, the working
rebalance) is the rebalancer's, the pending proposal is its own.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING

from core.account import side_to_close
from core.events import CancelAllOurs, CancelOrder, Command
from core.model import Action, Decision, Mode, Side, TradingState
from core.state import Proposal

if TYPE_CHECKING:
    from core.rebalancer import Rebalancer

EMPTY: tuple = ()


class Operator:
    def __init__(self, reb: Rebalancer) -> None:
        self.reb = reb
        self.proposal: Proposal | None = None  # semi: the decision waiting for the trader
        self.skip_next = False  # auto: the trader asked to skip the next decision
        self._proposal_seq = 0

    # ------------------------------------------------------------------ proposals (semi)

    def propose(self, d: Decision, *, forced: bool = False) -> None:
        r, p = self.reb, self.proposal
        if p is not None and not forced and p.side is d.side and p.decision.action is d.action:
            # same idea still pending: keep its id (the trader may be about to press a), refresh numbers
            sized = r.risk.size(r.now_ms, d.qty_base, d.price)
            self.proposal = replace(p, decision=d, qty=str(r.instrument.round_qty(sized.qty)))
            return
        self.proposal = self._make_proposal(d, forced=forced)
        if self.proposal is not None:
            r.stats.decisions += 1
            r.record_decision(d, "proposed")
            r.note("trade", f"PROPOSAL #{self.proposal.proposal_id}: {d.side.value} {self.proposal.qty} "
                            f"(limit {self.proposal.price_limit}) — press a to approve, s to skip")

    def _make_proposal(self, d: Decision, *, forced: bool) -> Proposal | None:
        if d.side is None:
            return None
        r = self.reb
        now = r.now_ms
        sized = r.risk.size(now, d.qty_base, d.price)
        qty = r.instrument.round_qty(sized.qty) if not sized.refused else Decimal(0)
        self._proposal_seq += 1
        taker = d.take_now or not d.maker_first or forced
        fee_rate = r.taker_fee_rate if taker else r.maker_fee_rate
        expires = None
        if d.action is Action.PARTIAL and not forced:
            expires = now + int(r.cfg.proposal_ttl_s * 1000)
        return Proposal(proposal_id=self._proposal_seq, decision=d, side=d.side, qty=str(qty),
                        price_limit=str(self.price_limit(d.side)), created_ms=now, expires_ms=expires,
                        expected_fee_quote=float(qty) * d.price * fee_rate,
                        net_after_base=r.book.net_after(d.side, float(qty)), forced=forced)

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
            self.reb.rec.proposal(self.reb.now_ms, p, "withdrawn: no longer needed")
            self.reb.note("info", f"proposal #{p.proposal_id} withdrawn: {why}")
            self.proposal = None

    def expire(self, ts_ms: int) -> None:
        """A soft proposal left unanswered past its time counts as skipped."""
        p = self.proposal
        if p is not None and p.expires_ms is not None and ts_ms >= p.expires_ms:
            self.reb.note("info", f"proposal #{p.proposal_id} expired (skipped)")
            self.reb.rec.proposal(ts_ms, p, "expired")
            self.proposal = None
            self.reb.desk.suppress(ts_ms)

    def _drop(self, answer: str) -> None:
        if self.proposal is not None:
            self.reb.rec.proposal(self.reb.now_ms, self.proposal, answer)
            self.proposal = None

    # ------------------------------------------------------------------ the trader's commands

    def approve(self) -> list[Command]:
        r, p = self.reb, self.proposal
        if r.mode is not Mode.SEMI or p is None:
            r.note("info", "nothing to approve" if p is None else f"approve refused in {r.mode.value} mode")
            return EMPTY
        refusal = r.desk.gate(r.now_ms)
        if refusal:
            r.note("warning", f"approve refused: {refusal}")
            return EMPTY
        if r.exec is not None:
            r.note("info", "a rebalance is already working")
            return EMPTY
        if p.forced:
            self.proposal = None
            r.rec.proposal(r.now_ms, p, "approved")
            return r.desk.start(p.decision, price_limit=Decimal(p.price_limit), path="forced", forced=True)
        fresh = r.decide_now()
        limit = Decimal(p.price_limit)
        bid, ask = r.touch()
        beyond = (p.side is Side.BUY and ask > float(limit)) or (p.side is Side.SELL and bid < float(limit))
        if not fresh.trades or fresh.side is not p.side or beyond:
            why = "price moved past its limit" if beyond else (
                "no longer needed" if not fresh.trades else "side changed")
            r.rec.proposal(r.now_ms, p, f"stale: {why}")
            r.note("warning", f"proposal #{p.proposal_id} is stale ({why}): re-computed, nothing sent")
            self.proposal = None
            if fresh.trades:
                self.propose(fresh)
            return EMPTY
        self.proposal = None
        r.rec.proposal(r.now_ms, p, "approved")
        # the approval covers this trade's chase and escalation up to the limit it showed,
        # and never more than the size it showed
        d = replace(fresh, qty_base=min(fresh.qty_base, float(p.qty)))
        return r.desk.start(d, price_limit=limit, path=r.policy.execution_path(d))

    def skip(self) -> list[Command]:
        r = self.reb
        if r.mode is Mode.SEMI and self.proposal is not None:
            p = self.proposal
            self.proposal = None
            r.rec.proposal(r.now_ms, p, "skipped")
            r.note("info", f"proposal #{p.proposal_id} skipped")
            r.desk.suppress(r.now_ms)
        elif r.mode is Mode.AUTO:
            self.skip_next = True
            r.note("info", "the next decision will be skipped")
        else:
            r.note("info", "nothing to skip")
        return EMPTY

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
        return self._make_proposal(d, forced=True)

    def force(self, confirmed: Proposal | None = None) -> list[Command]:
        """Trade the full gap now, taker. ``confirmed``: the preview the trader confirmed — the
        order then never exceeds the size or the price limit it showed, and nothing is sent
        when the gap has changed side since."""
        r = self.reb
        if r.mode is Mode.WATCH:
            r.note("warning", "force refused: watch mode never trades")
            return EMPTY
        if r.exec is not None:
            r.note("info", "a rebalance is already working")
            return EMPTY
        refusal = r.desk.gate(r.now_ms)
        if refusal:
            r.note("warning", f"force refused: {refusal}")
            return EMPTY
        p = self.preview_force()
        if p is None:
            r.note("info", "force: already at target")
            return EMPTY
        self.proposal = None
        d, limit = p.decision, Decimal(p.price_limit)
        if confirmed is not None:
            if confirmed.side is not p.side:
                r.note("warning", f"force not sent: the gap changed side since you confirmed "
                                  f"({confirmed.side.lower()} → {p.side.lower()}); press f again")
                return EMPTY
            shown = Decimal(confirmed.price_limit)
            limit = min(limit, shown) if p.side is Side.BUY else max(limit, shown)
            d = replace(d, qty_base=min(d.qty_base, float(confirmed.qty)))
        return r.desk.start(d, price_limit=limit, path="forced", forced=True)

    def toggle_pause(self) -> list[Command]:
        r = self.reb
        if r.risk.state is TradingState.PAUSED:
            r.risk.resume()
            self.state_changed("resumed by the user")
            return EMPTY
        if r.risk.state is TradingState.ACTIVE:
            r.risk.pause()
            self.state_changed("paused by the user")
            return r.desk.abort("paused")
        r.note("warning", "HALTED: re-arm first (r)")
        return EMPTY

    def set_mode(self, mode: Mode) -> list[Command]:
        r = self.reb
        if mode is r.mode:
            return EMPTY
        old = r.mode
        r.mode = mode
        r.rec.state(r.now_ms, "mode", mode.value, f"from {old.value}")
        r.note("info", f"mode {old.value.upper()} → {mode.value.upper()}")
        out: list[Command] = []
        if mode is not Mode.SEMI:
            self._drop(f"dropped: mode {mode.value}")
        if mode is Mode.WATCH:
            out.extend(r.desk.abort("watch mode"))
        r.dirty = True
        return out

    def kill(self, reason: str = "kill switch pressed by the user") -> list[Command]:
        r = self.reb
        r.risk.halt(reason)
        self.state_changed(reason)
        self._drop("dropped: halted")
        r.desk.drop("halted")
        return [CancelAllOurs(reason=reason)]

    def rearm(self) -> list[Command]:
        r = self.reb
        if r.risk.state is not TradingState.HALTED:
            return EMPTY
        r.risk.rearm()
        self.state_changed("re-armed by the user")
        r.dirty = True
        return EMPTY

    def cancel_pending(self) -> list[Command]:
        r = self.reb
        if r.exec is None:
            if r.orders.working:
                return [CancelOrder(cid, reason="cancelled by the user") for cid in list(r.orders.working)]
            r.note("info", "no pending order")
            return EMPTY
        return r.desk.abort("cancelled by the user")

    def state_changed(self, reason: str) -> None:
        r = self.reb
        st = r.risk.state
        r.rec.state(r.now_ms, "trading_state", st.value, reason)
        r.note("warning" if st is not TradingState.ACTIVE else "info", f"{st.value}: {reason}")
