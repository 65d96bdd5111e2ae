"""The operator (``core.operator``): what each mode does with a trading decision, semi mode's
proposals (refreshed, withdrawn, expired), and the trader's commands that the rebalancer
delegates. Same account as ``test_rebalancer``: futures -0.5, spot sets the gap, anchor soft
0.004 / hard 0.012, cooldown 10 s, slippage cap 10 bps, touch 59,999.99 / 60,000.01."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.events import CancelOrder, OrderUpdate, PlaceOrder
from core.model import Mode, Order, OrderStatus, Side, TimeInForce, TradingState
from tests.core.helpers_engine import T0, Harness, SpyRecorder, rcfg

D = Decimal
BID, ASK = 59_999.99, 60_000.01
S = 1_000


@pytest.fixture
def spy() -> SpyRecorder:
    return SpyRecorder()


def harness(spy, spot: str = "0.51", mode: Mode = Mode.AUTO, **cfg) -> Harness:
    return Harness(rcfg(**cfg), spot=spot, mode=mode, recorder=spy)


def outcomes(spy) -> list[str]:
    return [o for _, _, o in spy.decisions]


@pytest.mark.parametrize("mode, outcome, places, proposal", [
    (Mode.WATCH, "watch: shown only", 0, False),
    (Mode.SEMI, "proposed", 0, True),
    (Mode.AUTO, "executed", 1, False),
])
def test_each_mode_does_its_own_thing_with_a_trading_decision(spy, mode, outcome, places, proposal):
    h = harness(spy, mode=mode)
    h.market(T0, BID, ASK)
    assert outcomes(spy) == [outcome]
    assert len(h.places) == places
    assert (h.reb.operator.proposal is not None) is proposal


def test_a_closed_gate_refuses_in_every_mode_but_watch(spy):
    h = harness(spy, mode=Mode.SEMI)
    h.reb.risk.pause()
    h.market(T0, BID, ASK)
    assert outcomes(spy) == ["refused: PAUSED by the user"]
    assert h.reb.stats.refused == 1 and h.reb.operator.proposal is None


def test_auto_skips_the_next_decision_when_asked_then_waits_a_cooldown(spy):
    h = harness(spy)
    h.do(h.reb.skip())
    assert h.reb.operator.skip_next
    h.market(T0, BID, ASK)
    assert outcomes(spy) == ["skipped by the user"] and h.places == []
    assert h.reb.desk.suppress_until_ms == T0 + 10 * S
    assert not h.reb.operator.skip_next


def test_a_pending_proposal_keeps_its_id_while_the_same_idea_stands(spy):
    h = harness(spy, mode=Mode.SEMI)
    h.market(T0, BID, ASK)
    first = h.reb.operator.proposal
    h.grid_fill(T0 + S, Side.BUY, "0.001", "60000")  # gap 0.011: still a partial sell, a larger one
    h.market(T0 + 2 * S, BID, ASK)
    p = h.reb.operator.proposal
    assert p.proposal_id == first.proposal_id == 1
    assert (first.qty, p.qty) == ("0.005000", "0.005500")
    assert outcomes(spy) == ["proposed"]  # proposed once, refreshed after


def test_a_proposal_is_withdrawn_when_the_need_goes(spy):
    h = harness(spy, mode=Mode.SEMI)
    h.market(T0, BID, ASK)
    h.grid_fill(T0 + S, Side.SELL, "0.008", "60000")  # gap 0.002: under soft
    h.market(T0 + 2 * S, BID, ASK)
    assert h.reb.operator.proposal is None
    assert spy.proposal_answers() == ["withdrawn: no longer needed"]


def test_a_forced_proposal_is_not_withdrawn():
    h = Harness(rcfg(), spot="0.51", mode=Mode.SEMI)
    h.market(T0, BID, ASK)
    forced = h.reb.operator.preview_force()
    assert forced.forced
    h.reb.operator.proposal = forced
    h.reb.operator.withdraw("the gap closed")
    assert h.reb.operator.proposal is forced


def test_only_a_soft_proposal_expires_and_then_counts_as_skipped(spy):
    h = harness(spy, mode=Mode.SEMI, risk__stale_after_s=120)
    h.market(T0, BID, ASK)
    op = h.reb.operator
    assert op.proposal.expires_ms == T0 + 30 * S
    op.expire(T0 + 30 * S - 1)
    assert op.proposal is not None
    op.expire(T0 + 30 * S)
    assert op.proposal is None and spy.proposal_answers() == ["expired"]
    assert h.reb.desk.suppress_until_ms == T0 + 40 * S


@pytest.mark.parametrize("side, limit", [(Side.BUY, "60060.01"), (Side.SELL, "59940.00")])
def test_the_price_limit_is_the_touch_widened_by_the_slippage_cap(side, limit):
    h = Harness(rcfg(), spot="0.5")
    h.market(T0, BID, ASK)
    # buy: 60,000.01 x 1.001 = 60,060.01001 -> down to the tick; sell: 59,999.99 x 0.999 = 59,939.99001 -> up
    assert h.reb.operator.price_limit(side) == D(limit)


def test_leaving_semi_records_the_mode_change_and_drops_the_proposal(spy):
    h = harness(spy, mode=Mode.SEMI)
    h.market(T0, BID, ASK)
    assert h.do(h.reb.set_mode(Mode.WATCH)) == []
    assert spy.states[-1][1:3] == ("mode", "watch")
    assert spy.proposal_answers() == ["dropped: mode watch"]
    assert h.reb.set_mode(Mode.WATCH) == ()  # already there: nothing recorded
    assert len(spy.states) == 1


def test_pause_resume_and_a_halt_are_recorded_as_trading_states(spy):
    h = harness(spy, spot="0.5")
    h.do(h.reb.toggle_pause())
    h.do(h.reb.toggle_pause())
    h.do(h.reb.kill("test halt"))
    assert h.do(h.reb.toggle_pause()) == []  # a halt is not a pause
    h.do(h.reb.rearm())
    assert [(k, v, why) for _, k, v, why in spy.states] == [
        ("trading_state", "PAUSED", "paused by the user"), ("trading_state", "ACTIVE", "resumed by the user"),
        ("trading_state", "HALTED", "test halt"), ("trading_state", "ACTIVE", "re-armed by the user")]
    assert h.reb.risk.state is TradingState.ACTIVE


def test_cancel_pending_cancels_an_adopted_order_when_no_rebalance_works():
    h = Harness(rcfg(), spot="0.5")
    adopted = Order(client_id="rbold1-1", order_id="v9", symbol="BTCUSDT", side=Side.SELL, qty=D("0.01"),
                    price=D("61000"), tif=TimeInForce.POST_ONLY, status=OrderStatus.NEW)
    h.pump([OrderUpdate(T0, adopted)], T0)
    assert h.reb.exec is None
    assert h.reb.cancel_pending() == [CancelOrder("rbold1-1", reason="cancelled by the user")]


def test_approving_sends_the_size_shown_and_no_more(spy):
    h = harness(spy, mode=Mode.SEMI)
    h.market(T0, BID, ASK)
    shown = h.reb.operator.proposal
    h.grid_fill(T0 + 100, Side.BUY, "0.002", "60000")  # gap 0.012: hard now, a full sell of 0.012
    cmds = h.do(h.reb.approve())
    assert [type(c) for c in cmds] == [PlaceOrder]
    assert h.places[0].qty == D(shown.qty) == D("0.005000")
