"""The operator (``core.operator``): what each mode does with a trading decision, semi mode's
proposals (refreshed, withdrawn, expired), and the trader's commands that the rebalancer
delegates. Same account as ``test_rebalancer``: futures -0.5, spot sets the gap, anchor soft
0.004 / hard 0.012, cooldown 10 s, slippage cap 10 bps, touch 59,999.99 / 60,000.01."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.events import CancelOrder, OrderUpdate, PlaceOrder
from core.model import Mode, Order, OrderStatus, Side, TimeInForce, TradingState
from core.state import NOTHING_SHOWN
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


def test_a_shown_proposal_stands_exactly_as_shown_while_within_the_size_tolerance(spy):
    h = harness(spy, mode=Mode.SEMI)
    h.market(T0, BID, ASK)
    first = h.reb.operator.proposal
    h.grid_fill(T0 + S, Side.BUY, "0.001", "60000")  # gap 0.011: the engine now wants 0.0055 (+10 %)
    h.market(T0 + 2 * S, BID, ASK)
    assert h.reb.operator.proposal is first  # number, size, limit, fee and reasons unchanged
    assert (first.proposal_id, first.qty) == (1, "0.005000")
    assert outcomes(spy) == ["proposed"]


def test_past_the_size_tolerance_the_proposal_is_withdrawn_and_a_new_number_shown(spy):
    h = harness(spy, mode=Mode.SEMI)
    h.market(T0, BID, ASK)
    h.grid_fill(T0 + S, Side.BUY, "0.0015", "60000")  # gap 0.0115: 0.00575 wanted, +15 % > 10 %
    h.market(T0 + 2 * S, BID, ASK)
    p = h.reb.operator.proposal
    assert (p.proposal_id, p.qty) == (2, "0.005750")
    assert spy.proposal_answers() == ["withdrawn: the size moved 0.005000 → 0.005750 (+15%), past ±10%"]
    assert [(q.proposal_id, q.qty, a) for _, q, a in spy.proposals if a == "shown"] == [
        (1, "0.005000", "shown"), (2, "0.005750", "shown")]
    assert outcomes(spy) == ["proposed", "proposed"]  # each number has its decision row
    assert "PROPOSAL #2: sell 0.005750 BTC, limit ≥ 59,940.00" in h.reb.log[-1].text


def test_past_the_price_tolerance_the_proposal_is_withdrawn_and_a_new_number_shown(spy):
    h = harness(spy, mode=Mode.SEMI, risk__stale_after_s=120)
    h.market(T0, BID, ASK)
    h.market(T0 + S, BID + 24, ASK + 24)  # 4 bps: the card stands
    assert h.reb.operator.proposal.proposal_id == 1
    h.market(T0 + 2 * S, BID + 36, ASK + 36)  # 6 bps > 5
    p = h.reb.operator.proposal
    assert (p.proposal_id, p.price_limit) == (2, "59975.96")
    assert spy.proposal_answers() == [
        "withdrawn: the price limit moved 59,940.00 → 59,975.96 (6.0 bps, past 5)"]


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
    assert spy.proposal_answers() == ["dropped: mode watch"]
    assert h.reb.set_mode(Mode.WATCH) == []  # already there: no mode row, only the answer
    assert [s[1:3] for s in spy.states if s[1] == "mode"] == [("mode", "watch")]
    assert spy.operator_rows() == [("mode", "mode SEMI → WATCH; proposal #1 dropped"),
                                   ("mode", "already in WATCH mode")]


def test_pause_resume_and_a_halt_are_recorded_as_trading_states(spy):
    h = harness(spy, spot="0.5")
    h.do(h.reb.toggle_pause())
    h.do(h.reb.toggle_pause())
    h.do(h.reb.kill("test halt"))
    assert h.do(h.reb.toggle_pause()) == []  # a halt is not a pause
    h.do(h.reb.rearm())
    assert [(k, v, why) for _, k, v, why in spy.states if k == "trading_state"] == [
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


def test_approving_after_the_size_moved_past_the_tolerance_sends_nothing_and_shows_a_new_number(spy):
    h = harness(spy, mode=Mode.SEMI)
    h.market(T0, BID, ASK)
    h.grid_fill(T0 + 100, Side.BUY, "0.002", "60000")  # gap 0.012: hard now, a full sell of 0.012
    out = h.reb.operator.approve()
    assert out.commands == () and h.places == [] and not out.acted
    shown = h.reb.operator.proposal
    assert (shown.proposal_id, shown.qty) == (2, "0.012000")
    assert out.text == ("proposal #1 not sent: the decision changed (partial → full); "
                        "new proposal #2: sell 0.012000 BTC (a approves it)")
    assert spy.proposal_answers() == ["stale: the decision changed (partial → full)"]
    h.do(h.reb.approve())  # the new card, approved: exactly its size
    assert [p.qty for p in h.places] == [D("0.012000")]


def test_approve_names_the_card_and_a_proposal_that_replaced_it_is_not_sent(spy):
    """The key answers the card the trader saw: #1 was withdrawn for #2 between the frame and
    the key, so ``approve(1)`` sends nothing and says so; #2, named, is sent."""
    h = harness(spy, mode=Mode.SEMI)
    h.market(T0, BID, ASK)
    h.grid_fill(T0 + S, Side.BUY, "0.0015", "60000")
    h.market(T0 + 2 * S, BID, ASK)  # #1 withdrawn, #2 shown (as in the size-tolerance test)
    out = h.reb.operator.approve(1)
    assert out.commands == () and not out.acted and h.reb.operator.proposal.proposal_id == 2
    assert out.text == "proposal #2 not sent: the card showed proposal #1; look again"
    assert spy.operator_rows()[-1] == ("approve", out.text)
    out = h.reb.operator.approve(NOTHING_SHOWN)  # a card with nothing on it approves nothing either
    assert out.commands == () and out.text == "proposal #2 not sent: the card showed no proposal; look again"
    h.do(h.reb.approve(2))
    assert [p.qty for p in h.places] == [D("0.005750")]


def test_skip_names_the_card_too(spy):
    h = harness(spy, mode=Mode.SEMI)
    h.market(T0, BID, ASK)
    h.grid_fill(T0 + S, Side.BUY, "0.0015", "60000")
    h.market(T0 + 2 * S, BID, ASK)  # #1 withdrawn, #2 shown
    out = h.reb.operator.skip(1)
    assert not out.acted and h.reb.operator.proposal.proposal_id == 2
    assert out.text == "proposal #2 not skipped: the card showed proposal #1; look again"
    assert h.reb.operator.skip(2).text == "skipped proposal #2; no new one for 10 s (cooldown)"
    assert h.reb.operator.proposal is None


def test_approving_within_the_tolerance_sends_exactly_the_size_and_limit_shown(spy):
    h = harness(spy, mode=Mode.SEMI)
    h.market(T0, BID, ASK)
    shown = h.reb.operator.proposal
    h.grid_fill(T0 + 100, Side.BUY, "0.0008", "60000")  # gap 0.0108: the engine now wants 0.0054 (+8 %)
    out = h.reb.operator.approve()
    h.do(out.commands)
    assert [p.qty for p in h.places] == [D(shown.qty)] == [D("0.005000")]
    assert h.reb.exec.plan.price_limit == D(shown.price_limit)  # never worse than the card's limit
    assert out.text == f"approved #1: sell 0.005000 BTC, limit ≥ 59,940.00 → order {h.places[0].client_id}"
    assert spy.operator_rows()[-1] == ("approve", out.text)
    assert h.reb.log[-1].text == out.text


def test_at_paper_speed_10_a_proposal_still_gives_the_trader_30_wall_seconds(spy):
    h = harness(spy, mode=Mode.SEMI, risk__stale_after_s=600)
    h.reb.market_speed = 10.0  # market time runs ten times faster than the wall
    h.market(T0, BID, ASK)
    p = h.reb.operator.proposal
    assert p.expires_ms == T0 + 300 * S  # 30 s of the trader's time = 300 s of market time
    assert h.reb.snapshot().proposal_left_s == 30.0
    h.tick(T0 + 150 * S)  # 15 wall seconds later
    assert h.reb.snapshot().proposal_left_s == 15.0
    h.tick(T0 + 300 * S)
    assert h.reb.operator.proposal is None and spy.proposal_answers() == ["expired"]


def test_no_proposal_is_shown_for_a_size_the_risk_caps_refuse(spy):
    h = harness(spy, mode=Mode.SEMI, risk__max_notional_per_hour=5)  # 5 USDT: below one min trade
    h.market(T0, BID, ASK)
    assert h.reb.operator.proposal is None  # never a card for 0 BTC
    assert outcomes(spy) == ["refused: size 0.00008333 below min trade 0.0001"]


def test_a_force_taken_while_a_proposal_waits_takes_the_proposal_down_on_the_record(spy):
    h = harness(spy, mode=Mode.SEMI)
    h.market(T0, BID, ASK)
    out = h.reb.operator.force()
    assert out.acted and h.reb.operator.proposal is None
    assert spy.proposal_answers() == ["dropped: forced instead"]
