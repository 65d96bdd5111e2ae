"""The desk: works one rebalance at a time, from a decision to done.

It sizes the trade against the risk caps, chooses how to execute it (``execution.style``: in
``auto`` resting or taking, whichever ``core.execution_choice`` estimates cheaper), starts its
execution (maker → chase → taker),
drives it on market events and order updates, screens every order before it leaves (mode,
trading state, the direction of the gap, the risk gate) and books how it ended (statistics,
cooldown, the policy's memory of the last trade). The working execution is the rebalancer's
``exec`` (its hot path asks whether one is working); the desk is the only one to set it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING

from core.account import QUOTE_COINS, grows_gap
from core.costs import Arrival, rebalance_of
from core.events import Command, PlaceOrder
from core.execution import ExecutionPlan, Phase, RebalanceExecution
from core.execution_choice import (
    FLOW_WINDOW_MS, MIN_MARKOUTS, MIN_TAKER_FILLS, VOL_CANDLES, CostEstimate, RestingRecord, estimate, growth_ratio,
    volatility_bps,
)
from core.model import Action, Decision, Fill, Mode, Order, OrderStatus, Side, TimeInForce, TradingState
from core.risk import SizeCheck

if TYPE_CHECKING:
    from core.rebalancer import Rebalancer

EMPTY: tuple = ()
GATE_REPRICE_MS = 5_000  # a gate order follows its moving price at most this often (order-rate limits)
GATE_RETRY_MS = 5_000  # after a gate order ended unfilled, the next one waits this long
GATE_LEAVE_ON_OPEN = False  # the gate opened on a print that did not fill it: leave it resting (else take)
GATE_REMEMBERED = 256  # gate rebalances whose fills are costed at the fill (fills follow within seconds)


class Desk:
    def __init__(self, reb: Rebalancer) -> None:
        self.reb = reb
        self.last_side_trade: tuple[int, Side] | None = None  # (when, side) of the last rebalance that filled
        self.suppress_until_ms = 0  # no new rebalance before this (a skip, an expiry, nothing filled)
        self._rebalance_seq = 0
        self._closes: list[float] = []  # the last closed candles' closes, at trend version _vol_version
        self._vol_version = -1
        self.others_flow: deque[tuple[int, float]] = deque()  # (ts, signed base) of fills not ours, last window
        self._flow_sum = 0.0  # their sum
        self.resting = RestingRecord()  # how our recent resting orders went (fill rate, cost against estimate)
        self.taker_slip = [0.0, 0.0, 0]  # our taker fills beyond the touch: Σ bps x notional, Σ notional, count
        self.last_taker: tuple[str, float] = ("", 0.0)  # (client id, the touch it was priced from) of our last IOC
        self.gate_rebalances: deque[str] = deque(maxlen=GATE_REMEMBERED)  # recent rebalances resting at the gate
        self.gate_retry_ms = 0  # no new gate order before this
        self.gate_reprice = reb.cfg.execution.gate_reprice_bps * 1e-4  # the least move a gate order follows

    def gate(self, now: int) -> str | None:
        """Why no new order may be sent now (risk, connection, fresh data), or None."""
        r = self.reb
        why = r.risk.gate(now, last_market_ms=r.last_market_ms, connected=r.connected,
                          balances_ok=r.book.balances_ok)
        if why is None and r.awaiting_fresh_market:
            why = "waiting for fresh market data after the disconnect"
        if why is None and r.venue_refusal:
            why = f"the venue refuses order calls: {r.venue_refusal}"
        return why

    def suppress(self, now: int) -> None:
        """No new rebalance for a cooldown (after a skip, an expiry, or one that filled nothing)."""
        self.suppress_until_ms = now + int(self.reb.cfg.risk.cooldown_s * 1000)

    def order_prefix(self) -> str:
        """Client ids are ``{prefix}{session}{rebalance}-{attempt}``: unique across restarts,
        stable across retries of one placement, and recognisable as ours by ``prefix``."""
        return f"{self.reb.client_prefix}{self.reb.session_tag}"

    # ------------------------------------------------------------------ starting

    def start(self, d: Decision, *, price_limit: Decimal | None, path: str, forced: bool = False,
              gate_passed: bool = False, shown: CostEstimate | None = None) -> list[Command]:
        """Start a rebalance for ``d``; ``shown``: the estimate an approved proposal showed (its
        choice of resting or taking is followed)."""
        r = self.reb
        now = r.now_ms
        assert d.side is not None
        if r.orders.working:
            # an order of ours is still working (adopted after a restart, or a cancel in flight):
            # one live rebalance order at a time, so wait for it to finish or be cancelled (c)
            r.record_decision(d, "refused: an earlier order of ours is still working")
            return EMPTY
        sized = self.size(d.side, d.qty_base, r.price or d.price)
        if sized.refused:
            r.stats.refused += 1
            r.note("warning", f"not sent: {sized.refused}")
            r.record_decision(d, f"refused: {sized.refused}")
            self.suppress(now)  # asked again after a cooldown, not at every evaluation (a line a second)
            return EMPTY
        qty = r.instrument.round_qty(sized.qty)
        if sized.note:
            r.note("info", f"size {sized.note}")
        self._rebalance_seq += 1
        ex = r.cfg.execution
        wait_s = ex.hard_maker_wait_s if path == "hard" else ex.max_chase_s
        maker_first, taker_allowed, est = self.style_for(d, forced=forced, wait_s=wait_s, qty=float(qty), shown=shown,
                                                         path=path)
        plan = ExecutionPlan(rebalance_id=self._rebalance_seq, side=d.side, qty=qty, decision=d,
                             maker_first=maker_first, taker_allowed=taker_allowed, maker_wait_s=wait_s,
                             price_limit=price_limit, path="forced" if forced else path)
        r.exec = RebalanceExecution(plan, r.instrument, ex, self.order_prefix(), now, r.gap_base,
                                    size_cap=self._size_cap(d.side),
                                    rechoose=self._rechoose if est is not None else None, estimate=est)
        rebalance = f"{self.order_prefix()}{plan.rebalance_id}"  # every order's client id starts so
        if maker_first and est is not None:
            self.resting.rested(rebalance, est.rest_bps)
        arrival = r.costs.arrival_for(d.ts_ms, d.price)
        r.costs.started(rebalance, arrival)
        r.stats.decisions += 1
        r.record_start(d, "executed" if not forced else "forced", rebalance, arrival, qty, plan.path)
        how = "maker first" if maker_first else "taker"
        if est is not None:
            how = f"{how}: {est.summary()}"
        r.note("trade", f"rebalance #{plan.rebalance_id}: {d.side.lower()} {qty} ({plan.path}, {how}) — {d.reason}")
        cmds = r.exec.start(now, *r.touch())
        return self._after_step(cmds, gate_passed=gate_passed)

    # ------------------------------------------------------------------ what may be sent

    def _size_cap(self, side: Side):
        """``(now, price) -> the largest order``: the risk caps and the wallet (every order is
        re-checked at its own price as it is (re)placed)."""
        r = self.reb

        def cap(now_ms: int, price: float) -> float:
            risk = r.risk.max_qty_at(now_ms, price)
            wallet = r.book.wallet_room(side, price)
            return risk if risk < wallet else wallet
        return cap

    def size(self, side: Side, qty: float, price: float) -> SizeCheck:
        """What a rebalance of ``qty`` on ``side`` may be now: the risk caps, then the wallet
        (what it holds outside the reserve for a sell, what it can pay for a buy: the venue
        would refuse the rest, every cooldown, forever). A proposal's card, its approval and
        the rebalance it starts are all sized here, so the card shows what will be sent."""
        r = self.reb
        sized = r.risk.size(r.now_ms, qty, price)
        if sized.refused:
            return sized
        worst = price * (1.0 + r.cfg.execution.slippage_cap_bps / 1e4)  # a buy may be sent up to there
        room = r.book.wallet_room(side, worst)
        if sized.qty <= room:
            return sized
        what = (f"{room:.8f} {r.instrument.base} outside the reserve ({r.book.reserve:g})"
                if side is Side.SELL else f"{r.book.quote_free + r.book.own_quote_locked:,.2f} {r.instrument.quote}")
        if room < r.cfg.execution.min_trade_base or r.instrument.round_qty(room) <= 0:
            return SizeCheck(0.0, f"the wallet allows no {side.lower()}: {what}")
        note = f"clipped to the wallet: {what}"
        return SizeCheck(room, None, f"{sized.note}; {note}" if sized.note else note)

    # ------------------------------------------------------------------ rest or take

    def style_for(self, d: Decision, *, forced: bool = False, wait_s: float | None = None,
                  qty: float | None = None, shown: CostEstimate | None = None,
                  path: str | None = None) -> tuple[bool, bool, CostEstimate | None]:
        """(maker first, taker allowed, the cost estimate behind the choice) for executing ``d``
        under ``execution.style``. ``maker_first`` follows the decision (today's behaviour);
        ``taker`` never rests; ``auto`` rests only where the decision would and the estimate
        (``shown``, the one an approved proposal showed, else a fresh one) says resting is
        cheaper; a decision that takes now, or may not take, is followed. In ``auto`` a gap past
        hard is taken at once: it is past what the trader holds, and tracking comes first."""
        style = self.reb.cfg.execution.style
        rest_wanted = d.maker_first and not d.take_now and not forced
        taker_allowed = d.taker_allowed or forced
        if style == "taker":
            return False, True, None
        if style == "maker_first" or not rest_wanted or not taker_allowed:
            return rest_wanted, taker_allowed, None
        ex = self.reb.cfg.execution
        if path is None:
            path = self.reb.policy.execution_path(d)
        if path == "hard" and shown is None:
            return False, True, None
        if wait_s is None:
            wait_s = ex.hard_maker_wait_s if path == "hard" else ex.max_chase_s
        est = shown if shown is not None else self.estimate(wait_s, d.qty_base if qty is None else qty)
        return est.rests, True, est

    def estimate(self, wait_s: float, qty: float) -> CostEstimate:
        """Rest or take now, from the rebalancer's own data (``core.execution_choice``)."""
        r = self.reb
        bid, ask = r.touch()
        trend = r.trend
        if self._vol_version != trend.version:  # closed candles change only when a candle closes
            self._vol_version = trend.version
            self._closes = [c[1] for c in list(trend.chart)[-(VOL_CANDLES + 1):]]
        vol = volatility_bps(self._closes, trend.timeframe_ms, last=r.price)
        m = r.costs.markouts
        markout = m.adverse / m.notional * 1e4 if m.count >= MIN_MARKOUTS and m.notional > 0 else None
        self._forget_flow(r.now_ms)
        toward = self._flow_sum * (1.0 if r.gap_base() > 0 else -1.0)  # what grew the gap
        growth = growth_ratio(toward, FLOW_WINDOW_MS / 1000.0, wait_s, qty)
        slip_sum, slip_notional, slip_count = self.taker_slip
        slippage = (slip_sum / slip_notional if slip_count >= MIN_TAKER_FILLS and slip_notional > 0
                    else r.cfg.execution.taker_slippage_bps)
        return estimate(maker_fee=r.maker_fee_rate, taker_fee=r.taker_fee_rate, bid=bid, ask=ask, wait_s=wait_s,
                        sigma_bps=vol, markout_bps=markout, growth_ratio=growth, slippage_bps=slippage,
                        fill_rate=self.resting.fill_rate(), rest_bias_bps=self.resting.bias_bps())

    def other_fill(self, ts_ms: int, side: Side, qty: float) -> None:
        """A fill that is not ours (the grid's futures, a manual spot trade) moved net delta."""
        signed = qty if side is Side.BUY else -qty
        self.others_flow.append((ts_ms, signed))
        self._flow_sum += signed
        self._forget_flow(ts_ms)

    def _forget_flow(self, now_ms: int) -> None:
        """Drop other fills older than the window the gap's growth is measured over."""
        flow = self.others_flow
        cutoff = now_ms - FLOW_WINDOW_MS
        while flow and flow[0][0] < cutoff:
            self._flow_sum -= flow.popleft()[1]
        if not flow:
            self._flow_sum = 0.0  # no rounding left over

    def _rechoose(self, wait_left_s: float, qty: float) -> CostEstimate:
        return self.estimate(wait_left_s, qty)

    # ------------------------------------------------------------------ resting at the anchor gate

    def rest_at_gate(self, d: Decision) -> list[Command]:
        """``execution.rest_at_gate`` (auto mode): while ``d``, a HOLD, waits at the anchor gate,
        rest a post-only order for the partial it waits to trade at the gate's price, so that
        when the market comes to the gate we are filled there as maker. Its fills are costed
        against the mid at the fill (``price_gate_fills``), not the mid when it was placed."""
        r = self.reb
        now = r.now_ms
        if (r.mode is not Mode.AUTO or r.exec is not None or r.orders.working or now < self.suppress_until_ms
                or now < self.gate_retry_ms or r.operator.skip_next or d.side is None or d.gate is None):
            return EMPTY
        want = r.policy.gate_order(d, r.memory)
        if want is None or self.gate(now) is not None:
            return EMPTY
        side = d.side
        price = self._gate_price(want[1], side)
        qty = self._gate_qty(side, want[0], price)
        if qty is None:
            return EMPTY
        g = d.gate
        wait_s = g.max_wait_s - g.waited_s
        d = replace(d, action=Action.PARTIAL, qty_base=float(qty), maker_first=True, taker_allowed=False,
                    reason=f"rest at the gate: {side.lower()} {qty} at {price} while the gate waits "
                           f"({g.waited_s:.0f}/{g.max_wait_s:.0f}s); {d.reason}")
        self._rebalance_seq += 1
        plan = ExecutionPlan(rebalance_id=self._rebalance_seq, side=side, qty=qty, decision=d, maker_first=True,
                             taker_allowed=False, maker_wait_s=wait_s, path="gate", rest_price=price)
        r.exec = RebalanceExecution(plan, r.instrument, r.cfg.execution, self.order_prefix(), now, r.gap_base,
                                    size_cap=self._size_cap(side))
        rebalance = f"{self.order_prefix()}{plan.rebalance_id}"
        self.gate_rebalances.append(rebalance)
        bid, ask = r.touch()
        arrival = Arrival.at(now, r.price or d.price, bid, ask)  # at placement: the reference figure only
        r.costs.started(rebalance, arrival)
        r.stats.decisions += 1
        r.record_start(d, "executed", rebalance, arrival, qty, plan.path)
        r.note("trade", f"rebalance #{plan.rebalance_id}: {d.reason}")
        return self._after_step(r.exec.start(now, bid, ask), gate_passed=True)

    def _gate_price(self, limit: float, side: Side) -> Decimal:
        """The gate's price on the tick grid, on the side that keeps the gate true (a sell up, a
        buy down), within the gate's own float tolerance (60000 x 1.00025 is 60015.00000000001,
        not a reason to ask a tick more)."""
        fuzz = 1.0 - 1e-12 if side is Side.SELL else 1.0 + 1e-12
        return self.reb.instrument.round_price(limit * fuzz, side, passive=True)

    def _gate_qty(self, side: Side, want: float, price: Decimal) -> Decimal | None:
        """The gate order's size: the partial, within the size limits, notional caps and the
        wallet at its price, on the step; None when that leaves nothing the venue would take."""
        r = self.reb
        sized = self.size(side, want, float(price))
        if sized.refused:
            return None
        qty = r.instrument.round_qty(sized.qty)
        return None if r.instrument.order_problem(qty, price) else qty

    def _drive_gate(self, now: int, ex: RebalanceExecution) -> list[Command]:
        """A gate order working: on the rebalancer's evaluation schedule, ask the policy again.
        While the gate still waits, the order follows its price (≥ 1 tick and
        ``execution.gate_reprice_bps``, at most every ``GATE_REPRICE_MS``) and size (> 1 step,
        before anything filled); once it does not — the gate opened, the gap fell under soft,
        flipped or passed hard, a cooldown, out of auto mode — the order is cancelled and the
        next evaluation acts as without it."""
        r = self.reb
        price = r.price
        if ex.cancelling or ex.done or price is None:
            return EMPTY
        if not (r.dirty or now >= r.next_eval_ms or not r.hold_lo < price < r.hold_hi):
            if now >= ex.maker_deadline_ms:
                return self._after_step(ex.on_time(now, *r.touch()))
            return EMPTY
        r.dirty = False
        r.next_eval_ms = now + r.eval_every_ms
        r.hold_lo, r.hold_hi = price - price * 1e-4, price + price * 1e-4
        r.recent.advance(now)
        d = r.decide_now()
        side = ex.plan.side
        want = r.policy.gate_order(d, r.memory) if r.mode is Mode.AUTO and d.side is side else None
        if (want is None and GATE_LEAVE_ON_OPEN and r.mode is Mode.AUTO and d.action is Action.PARTIAL
                and d.side is side and d.gate is not None and d.gate.applies and d.gate.passed
                and d.gate.waited_s < d.gate.max_wait_s):
            return self._after_step(ex.on_time(now, *r.touch()))  # leave it: filled at the gate or the wait ends
        if want is None:
            if r.mode is not Mode.AUTO:
                why = f"{r.mode.value} mode"
            elif d.side is not side:
                why = "the gap changed side" if d.side is not None else "on target"
            elif d.action is Action.FULL:
                why = "the gap passed hard"
            elif d.action is Action.PARTIAL:
                why = "the gate opened" if d.gate is not None and d.gate.passed else "the gate wait is over"
            elif abs(d.gap_base) < d.effective_soft:
                why = "the gap fell under soft"
            else:
                why = "no longer waiting at the gate"
            return self._after_step(ex.abort(now, f"gate order cancelled: {why}"))
        new_price = self._gate_price(want[1], side)
        tick = r.instrument.tick_size
        qty = self._gate_qty(side, want[0], new_price)
        if qty is None:
            return self._after_step(ex.abort(now, "gate order cancelled: no size left"))
        resize = ex.filled == 0 and abs(qty - ex.plan.qty) > r.instrument.qty_step
        step = abs(new_price - ex.rest_price)
        moved = (step >= tick and float(step) >= float(ex.rest_price) * self.gate_reprice
                 and now - ex.last_chase_ms >= GATE_REPRICE_MS)
        if resize or moved:
            return self._after_step(ex.reprice(now, new_price, qty if resize else None,
                                               f"gate moved: {side.lower()} {qty if resize else ex.plan.qty} "
                                               f"at {new_price}"))
        return self._after_step(ex.on_time(now, *r.touch()))

    def price_gate_fills(self) -> None:
        """Gate fills, costed against the market now: the first trade or quote after the fill
        (the least flattering mid: a run through the order's price counts against it)."""
        r = self.reb
        bid, ask = r.touch()
        at = Arrival.at(r.now_ms, r.price or 0.0, bid, ask)
        for f in r.unpriced_fills:
            r.costs.on_gate_fill(*f, at)
        r.unpriced_fills.clear()

    # ------------------------------------------------------------------ driving

    def drive(self, now: int) -> list[Command]:
        """A market event or a tick while a rebalance works."""
        r = self.reb
        ex = r.exec
        assert ex is not None
        if ex.rest_price is not None:
            return self._drive_gate(now, ex)
        if ex.phase is Phase.MAKER and ex.plan.path == "soft" and ex.plan.taker_allowed:
            # the gap worsened past hard while we were resting a soft maker order: take now
            if r.decision is not None and r.dirty:
                d = r.decide_now()
                r.dirty = False
                if d.action is Action.FULL and d.side is ex.plan.side:
                    return self._after_step(ex.escalate(now, *r.touch(), "gap worsened past hard"))
        cmds = ex.on_time(now, *r.touch())
        return self._after_step(cmds) if cmds or ex.done else EMPTY

    def on_order(self, order: Order, ts_ms: int) -> list[Command]:
        ex = self.reb.exec
        if ex is None:
            return EMPTY
        return self._after_step(ex.on_order(order, ts_ms, *self.reb.touch()))

    def on_fill(self, fill: Fill, price: float, qty: float) -> list[Command]:
        """One of our spot fills (counted once): statistics, the risk caps, the execution."""
        r = self.reb
        st = r.stats
        fee_quote = float(fill.fee) * (price if fill.fee_coin not in QUOTE_COINS else 1.0)
        st.fills += 1
        if fill.is_maker:
            st.maker_fills += 1
        else:
            st.taker_fills += 1
        st.volume_base += qty
        st.volume_quote += qty * price
        st.fees_quote += fee_quote
        r.risk.on_fill(fill.ts_ms, qty * price)
        if self.gate_rebalances and rebalance_of(fill.client_id) in self.gate_rebalances:
            # costed against the market at the fill: the next trade or quote (``price_gate_fills``)
            r.unpriced_fills.append((fill.ts_ms, fill.exec_id, fill.client_id, fill.side, price, qty, fee_quote,
                                     fill.is_maker))
        else:
            r.costs.on_fill(fill.ts_ms, fill.exec_id, fill.client_id, fill.side, price, qty, fee_quote,
                            fill.is_maker)
        arrival = r.costs.arrival_of(fill.client_id)
        if arrival is not None and arrival.mid > 0:
            self.resting.on_fill(rebalance_of(fill.client_id),
                                 fee_quote + fill.side.sign * (price - arrival.mid) * qty, qty * arrival.mid)
        if not fill.is_maker and self.last_taker[0] == fill.client_id:  # how far past the touch our taker paid
            touch = self.last_taker[1]
            acc = self.taker_slip
            acc[0] += fill.side.sign * (price - touch) / touch * 1e4 * qty * price
            acc[1] += qty * price
            acc[2] += 1
        ex = r.exec
        if ex is not None:
            ex.on_fill(fill.qty, fill.price, fee_quote, fill.is_maker)
        return EMPTY

    def rejected(self, client_id: str, why: str) -> list[Command]:
        """The venue refused a call for ``client_id``: no such order exists."""
        ex = self.reb.exec
        if ex is None:
            return EMPTY
        ex.on_rejected_send(client_id, why)
        return self._after_step([])

    def abort(self, why: str) -> list[Command]:
        """Stop the working rebalance, cancelling its order (pause, watch, the trader)."""
        ex = self.reb.exec
        if ex is None:
            return EMPTY
        return self._after_step(ex.abort(self.reb.now_ms, why))

    def drop(self, why: str) -> None:
        """Stop the working rebalance at once (a halt: a cancel-all goes out instead)."""
        r = self.reb
        ex = r.exec
        if ex is not None:
            ex.abort(r.now_ms, why)
            r.exec = None
            r.note("warning", f"rebalance #{ex.plan.rebalance_id} aborted: {why}")

    # ------------------------------------------------------------------ after each step

    def _after_step(self, cmds: list[Command], *, gate_passed: bool = False) -> list[Command]:
        ex = self.reb.exec
        out = self._screen(cmds, gate_passed=gate_passed)
        if ex is not None and ex.done:
            self._finish(ex)
        return out

    def _finish(self, ex: RebalanceExecution) -> None:
        r = self.reb
        now = r.now_ms
        r.exec = None
        filled = float(ex.filled)
        side = ex.plan.side
        if ex.plan.maker_first and ex.plan.qty > 0:  # our record of resting: the share it filled
            self.resting.finished(f"{self.order_prefix()}{ex.plan.rebalance_id}", float(ex.maker_filled / ex.plan.qty))
        r.note("trade" if filled else "info",
               f"rebalance #{ex.plan.rebalance_id} done: {ex.outcome} (filled {ex.filled} of {ex.plan.qty}, "
               f"{ex.chase_count} chases)")
        if filled > 0:
            r.stats.rebalances += 1
            if self.last_side_trade is not None:
                last_ts, last_side = self.last_side_trade
                if last_side is not side and now - last_ts < r.cfg.risk.hysteresis_window_s * 1000:
                    r.stats.flip_flops += 1
            self.last_side_trade = (now, side)
            r.memory = r.memory.after_trade(now, side)
            r.rec.rebalance_done(now, side, filled, ex.plan.path)
        elif ex.rest_price is not None:
            self.gate_retry_ms = now + GATE_RETRY_MS  # not the cooldown: the gate opening trades as today
        elif not ex.outcome.startswith("rejected: not sent"):
            self.suppress(now)  # nothing filled: don't hammer — wait a cooldown before trying again
        # (an order the engine never sent — the venue refused order calls — needs no cooldown:
        # the gate holds every decision while the refusal lasts and lets the next one through)
        r.dirty = True

    def _screen(self, cmds: list[Command], *, gate_passed: bool = False) -> list[Command]:
        """The last check before anything leaves: mode, state, direction, one order at a time.
        ``gate_passed``: the caller ran the risk gate earlier in this same call, with nothing
        in between that could change its answer (it is not run twice on the live path)."""
        if not cmds:
            return EMPTY
        r = self.reb
        out: list[Command] = []
        now = r.now_ms
        for c in cmds:
            if type(c) is PlaceOrder:
                req = c.request
                refusal = None
                if r.mode is Mode.WATCH:
                    refusal = "watch mode"
                elif r.risk.state is not TradingState.ACTIVE:
                    refusal = f"trading {r.risk.state.value}"
                elif grows_gap(r.book.gap_base(r.price), req.side, float(req.qty)):
                    r.stats.wrong_direction_orders += 1
                    refusal = "would grow the gap"
                elif not gate_passed:
                    refusal = self.gate(now)
                if refusal:
                    r.note("warning", f"order {req.client_id} not sent: {refusal}")
                    if r.exec is not None:
                        r.exec.on_rejected_send(req.client_id, refusal)
                    continue
                r.risk.on_order_sent(now)
                r.stats.orders += 1
                ex = r.exec
                if ex is not None and req.tif is TimeInForce.IOC and ex.taker_touch > 0:
                    self.last_taker = (req.client_id, ex.taker_touch)  # its fills' slippage is measured from it
                live = ex.live if ex is not None and ex.live_request is req else None
                if live is None:
                    live = Order(client_id=req.client_id, order_id="", symbol=req.symbol, side=req.side, qty=req.qty,
                                 price=req.price, tif=req.tif, status=OrderStatus.NEW, created_ms=now, updated_ms=now)
                r.orders.working[req.client_id] = live  # immutable: the execution's own copy of this order
            out.append(c)
        return out
