"""The one hedge-cost definition (``core.costs``): hand-computed cases, and the rebalancer
costing every fill against the decision that started its rebalance -- also when the fill
arrives after its order's final status, as the paper venue sends them."""

from __future__ import annotations

import pytest

from core.costs import Arrival, CostBook, CostParts, Markouts, rebalance_of
from core.model import Mode, Side
from tests.core.helpers_engine import T0, Harness, rcfg

S = 1_000
ARRIVAL = Arrival(T0, 100.0, 99.9, 100.1)  # mid 100, touch 99.9 / 100.1


def test_a_taker_buy_through_the_spread_pays_the_half_spread_and_the_fee():
    c = CostParts()
    c.add(Side.BUY, 100.1, 1.0, 0.1001, ARRIVAL)  # at the ask, fee 10 bps of 100.1
    f = c.figures()
    assert f["cost_spread_bps"] == pytest.approx(10.0)  # (100.1 - 100) / 100
    assert f["cost_drift_bps"] == pytest.approx(0.0)
    assert f["cost_fee_bps"] == pytest.approx(10.01)
    assert f["cost_bps"] == pytest.approx(20.01)
    assert f["cost_quote"] == pytest.approx(0.2001)


def test_a_taker_sell_is_signed_the_other_way():
    c = CostParts()
    c.add(Side.SELL, 99.9, 2.0, 0.0, ARRIVAL)  # at the bid: 0.1 below the mid on 2 units
    assert (c.spread, c.drift, c.notional) == pytest.approx((0.2, 0.0, 200.0))
    assert c.figures()["cost_bps"] == pytest.approx(10.0)


def test_a_maker_buy_after_an_adverse_move_shows_it_as_drift():
    """The price ran away while we rested; the order chased and filled at 100.5."""
    c = CostParts()
    c.add(Side.BUY, 100.5, 1.0, 0.0, ARRIVAL)
    f = c.figures()
    assert f["cost_spread_bps"] == pytest.approx(10.0)
    assert f["cost_drift_bps"] == pytest.approx(40.0)  # 100.5 - 100.1
    assert f["cost_bps"] == pytest.approx(50.0)


def test_a_partial_that_chases_adds_up_per_fill():
    """0.4 rested at the bid and filled, the rest chased one step up and filled at 100.0."""
    c = CostParts()
    c.add(Side.BUY, 99.9, 0.4, 0.00999, ARRIVAL)  # maker fee 2.5 bps of 39.96
    c.add(Side.BUY, 100.0, 0.6, 0.015, ARRIVAL)
    # spread: 0.1 x 1.0; drift: 0.4 x (99.9 - 100.1) + 0.6 x (100.0 - 100.1) = -0.14; fees 0.02499
    assert c.spread == pytest.approx(0.1)
    assert c.drift == pytest.approx(-0.14)
    assert c.total == pytest.approx(0.1 - 0.14 + 0.02499)
    f = c.figures()
    assert f["cost_bps"] == pytest.approx((0.1 - 0.14 + 0.02499) / 100.0 * 1e4)
    assert f["cost_fee_bps"] + f["cost_spread_bps"] + f["cost_drift_bps"] == pytest.approx(f["cost_bps"], abs=0.002)


def test_nothing_filled_is_no_figure_not_zero():
    f = CostParts().figures()
    assert (f["cost_bps"], f["cost_fee_bps"], f["cost_spread_bps"], f["cost_drift_bps"], f["cost_quote"]) == (
        None, None, None, None, None)
    assert Markouts().figures()["maker_markout_60s_bps"] is None


def test_a_fill_without_a_known_rebalance_costs_its_fee_only():
    c = CostParts()
    c.add(Side.BUY, 101.0, 1.0, 0.101, None)
    assert (c.spread, c.drift, c.unreferenced_fills) == (0.0, 0.0, 1)
    assert c.figures()["cost_bps"] == pytest.approx(0.101 / 101.0 * 1e4)


def test_the_markout_of_a_maker_fill_is_positive_when_the_mid_moves_against_us():
    m = Markouts()
    m.add(T0, "e1", Side.BUY, 100.0, 1.0)
    m.add(T0 + 5 * S, "e2", Side.SELL, 100.0, 1.0)
    assert m.due_ms == T0 + 60 * S
    assert m.take(T0 + 59 * S, 99.0) == []
    assert m.take(T0 + 60 * S, 99.0) == [("e1", 99.0)]  # bought at 100, mid fell to 99: adverse
    assert m.due_ms == T0 + 65 * S
    assert m.take(T0 + 70 * S, 99.5) == [("e2", 99.5)]  # sold at 100, mid fell: in our favour
    assert m.due_ms == float("inf")
    assert m.figures() == {"maker_markout_60s_bps": pytest.approx((1.0 - 0.5) / 200.0 * 1e4), "markouts": 2}


def test_an_order_belongs_to_the_rebalance_its_client_id_names():
    assert rebalance_of("rbS3F2-17-0") == "rbS3F2-17"
    assert rebalance_of("rb1-12") == "rb1"
    assert rebalance_of("manual") == "manual"
    book = CostBook()
    book.started("rb1", ARRIVAL)
    assert book.arrival_of("rb1-3") is ARRIVAL and book.arrival_of("rb2-0") is None and book.arrival_of("") is None


def test_the_arrival_is_the_market_at_the_decision_not_at_the_order():
    book = CostBook()
    book.decided(T0, 100.0, 99.9, 100.1)
    assert book.arrival_for(T0, 100.0) == ARRIVAL
    # a decision whose market was not seen: its own price on both sides (no spread part)
    assert book.arrival_for(T0 + S, 101.0) == Arrival(T0 + S, 101.0, 101.0, 101.0)
    assert Arrival.at(T0, 100.0, None, None) == Arrival(T0, 100.0, 100.0, 100.0)
    assert Arrival.at(T0, 100.0, 100.2, 100.1).mid == 100.0  # a crossed book is not a mid


# ---------------------------------------------------------------- through the rebalancer

BID, ASK = 59_999.99, 60_000.01


@pytest.fixture
def h() -> Harness:
    h = Harness(rcfg(), spot="0.5", mode=Mode.AUTO)
    h.market(T0, BID, ASK)
    return h


def _run_a_maker_sell(h: Harness, *, fill_at: float) -> None:
    """A grid fill pushes net past soft (not hard); the rebalancer rests a maker sell; the market
    comes to it."""
    h.grid_fill(T0 + S, Side.BUY, "0.006", "60000")
    h.market(T0 + 2 * S, BID, ASK)
    assert h.places and h.places[0].side is Side.SELL
    if fill_at < BID:  # the market falls first: the order chases down
        for k in range(1, 30):
            px = BID - (BID - fill_at) * min(1.0, k / 5)
            h.quote(T0 + (2 + k) * S, round(px, 2), round(px + 0.02, 2))
            h.tick(T0 + (2 + k) * S)
    last = h.ex.open_orders()
    assert last, "the maker order should still rest"
    price = float(last[0].price)
    h.trade(T0 + 40 * S, price + 0.5, 1.0, buy=True)  # a buyer lifts it


def _hand_cost(h: Harness, arrival_mid: float, arrival_bid: float) -> tuple[float, float, float]:
    """From the exchange's own fills: (cost bps, spread bps, drift bps) for sells."""
    fills = [f for f in h.ex.fills() if f.leg.value == "spot"]
    assert fills
    fee = sum(float(f.fee) for f in fills)  # USDT fees on a sell
    qty = sum(float(f.qty) for f in fills)
    spread = sum(-(arrival_bid - arrival_mid) * float(f.qty) for f in fills)
    drift = sum(-(float(f.price) - arrival_bid) * float(f.qty) for f in fills)
    notional = qty * arrival_mid
    return (fee + spread + drift) / notional * 1e4, spread / notional * 1e4, drift / notional * 1e4


def test_every_fill_is_costed_against_its_rebalance_s_decision(h):
    _run_a_maker_sell(h, fill_at=BID)
    st, costs = h.reb.stats, h.reb.costs
    assert st.fills >= 1 and h.reb.exec is None  # done: the fill came after the order's final status
    assert costs.parts.fills == st.fills and costs.parts.unreferenced_fills == 0
    want, spread, drift = _hand_cost(h, (BID + ASK) / 2, BID)
    f = costs.figures()
    assert f["cost_bps"] == pytest.approx(want, abs=1e-3)
    assert f["cost_spread_bps"] == pytest.approx(spread, abs=1e-3)
    assert f["cost_drift_bps"] == pytest.approx(drift, abs=1e-3)
    assert f["cost_fee_bps"] != pytest.approx(f["cost_bps"])  # not the fee alone (the old answer)


def test_a_taker_sell_through_a_wide_spread_pays_half_of_it():
    h = Harness(rcfg(), spot="0.5", mode=Mode.AUTO)
    h.market(T0, 59_990.0, 60_010.0)
    h.grid_fill(T0 + S, Side.BUY, "0.02", "60000")  # past hard: take now
    h.market(T0 + 2 * S, 59_990.0, 60_010.0)
    fill = [f for f in h.ex.fills() if f.leg.value == "spot"][0]
    assert not fill.is_maker and float(fill.price) == 59_990.0
    f = h.reb.costs.figures()
    assert f["cost_spread_bps"] == pytest.approx(10.0 / 60_000.0 * 1e4, abs=1e-3)  # 10 under the mid
    assert f["cost_drift_bps"] == pytest.approx(0.0, abs=1e-3)
    assert f["cost_fee_bps"] == pytest.approx(float(fill.fee) / (0.02 * 60_000.0) * 1e4, abs=1e-3)


def test_a_maker_sell_chased_down_by_a_falling_market_shows_drift(h):
    _run_a_maker_sell(h, fill_at=BID - 30.0)
    f = h.reb.costs.figures()
    want, _, drift = _hand_cost(h, (BID + ASK) / 2, BID)
    assert drift > 0 and f["cost_drift_bps"] == pytest.approx(drift, abs=1e-3)
    assert f["cost_bps"] == pytest.approx(want, abs=1e-3)


def test_the_markout_is_taken_on_the_tick_60_s_after_the_maker_fill(h):
    _run_a_maker_sell(h, fill_at=BID)
    fill = [f for f in h.ex.fills() if f.leg.value == "spot"][0]
    assert fill.is_maker
    h.quote(T0 + 70 * S, 60_100.00, 60_100.02)  # the mid rose 100 after we sold: adverse
    h.tick(fill.ts_ms + 59 * S)
    assert h.reb.costs.markouts.count == 0
    h.tick(fill.ts_ms + 60 * S)
    m = h.reb.costs.markouts
    assert m.count == 1
    want = -(float(fill.price) - 60_100.01) / float(fill.price) * 1e4
    assert m.figures()["maker_markout_60s_bps"] == pytest.approx(want, abs=1e-3) and want > 0
