"""The bookkeeper (``core.bookkeeper``): what the venue reports about the account, booked
once into the account book, with the gap statistics closed before every change."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.events import BalanceUpdate, FillEvent, OrderUpdate, PositionUpdate, VenueProblem
from core.model import Balance, Fill, Leg, Mode, Order, OrderStatus, Position, Side, TimeInForce
from tests.core.helpers_engine import T0, Harness, rcfg

D = Decimal
BID, ASK = 59_999.99, 60_000.01
S = 1_000


@pytest.fixture
def h() -> Harness:
    h = Harness(rcfg(), spot="0.5", mode=Mode.WATCH)  # on target; watch: nothing of ours trades
    h.market(T0, BID, ASK)
    return h


def fill(exec_id: str, side: Side, qty: str, *, leg: Leg = Leg.SPOT, client_id: str = "", fee: str = "0",
         fee_coin: str = "USDT", ts: int = T0 + S) -> Fill:
    return Fill(ts_ms=ts, exec_id=exec_id, symbol="BTCUSDT", side=side, price=D("60000"), qty=D(qty), fee=D(fee),
                fee_coin=fee_coin, is_maker=False, leg=leg, client_id=client_id, source="test")


def test_a_futures_fill_moves_the_futures_estimate_and_the_anchors(h):
    h.pump([FillEvent(fill("g1", Side.BUY, "0.004", leg=Leg.LINEAR))], T0 + S)
    assert h.reb.book.futures_size == pytest.approx(-0.496)
    assert h.reb.stats.grid_fills == 1 and h.reb.stats.fills == 0
    assert h.reb.recent.buy_count == 1 and h.reb.recent.buy_vwap == pytest.approx(60_000.0)
    assert h.reb.gap_base() == pytest.approx(0.004)


def test_someone_elses_spot_fill_moves_the_wallet_ours_moves_it_through_the_order(h):
    h.pump([FillEvent(fill("m1", Side.SELL, "0.003", client_id="manual-1"))], T0 + S)
    assert h.reb.book.spot_total == pytest.approx(0.497)
    # one of ours: the order update carries the quantity, only a base-coin fee moves the wallet here
    h.pump([FillEvent(fill("o1", Side.BUY, "0.002", client_id="rb9-1", fee="0.000002", fee_coin="BTC"))], T0 + S)
    assert h.reb.book.spot_total == pytest.approx(0.497 - 0.000002)
    assert (h.reb.stats.fills, h.reb.stats.taker_fills) == (1, 1)
    assert h.reb.stats.fees_quote == pytest.approx(0.000002 * 60_000.0)


def test_a_fill_reported_twice_is_booked_once(h):
    f = fill("m1", Side.SELL, "0.003", client_id="manual-1")
    h.pump([FillEvent(f), FillEvent(f)], T0 + S)
    assert h.reb.book.spot_total == pytest.approx(0.497)
    assert (h.reb.duplicate_fills, h.reb.bad_messages) == (1, 1)


@pytest.mark.parametrize("event", [
    BalanceUpdate(T0 + S, (Balance("BTC", D("-1"), D("0")),)),
    BalanceUpdate(T0 + S, (Balance("BTC", D("NaN"), D("0")),)),
    PositionUpdate(T0 + S, Position("BTCUSDT", D("Infinity"), D("60000"))),
    PositionUpdate(T0 + S, Position("BTCUSDT", D("-0.5"), D("-1"))),
    FillEvent(Fill(ts_ms=T0 + S, exec_id="x", symbol="BTCUSDT", side=Side.BUY, price=D("0"), qty=D("1"), fee=D(0),
                   fee_coin="USDT", is_maker=False)),
    FillEvent(fill("x", Side.BUY, "0.002", client_id="manual-1", fee="NaN")),
])
def test_a_bad_report_is_refused_and_changes_nothing(h, event):
    before = (h.reb.book.spot_total, h.reb.book.futures_size, h.reb.book.quote_free)
    h.pump([event], T0 + S)
    assert (h.reb.book.spot_total, h.reb.book.futures_size, h.reb.book.quote_free) == before
    assert h.reb.bad_messages == 1
    assert h.reb.log[-1].text.startswith("bad data #1: ")


def test_every_account_change_closes_the_gap_statistics_first(h):
    st = h.reb.stats
    h.reb.gap_stats.band = 0.012
    settled = st.time_total_ms
    h.pump([FillEvent(fill("g1", Side.BUY, "0.02", leg=Leg.LINEAR, ts=T0 + 10 * S))], T0 + 10 * S)  # gap 0.02 from here
    h.pump([PositionUpdate(T0 + 14 * S, Position("BTCUSDT", D("-0.5"), D("60000")))], T0 + 14 * S)  # and back to 0
    assert st.time_total_ms - settled == 14 * S
    assert st.max_abs_gap == pytest.approx(0.02)
    assert st.time_over_band_ms == 4 * S  # 0.02 >= the band 0.012 for 4 s


def test_a_venue_error_for_one_of_our_orders_forgets_it(h):
    h.reb.orders.on_update(Order(client_id="rb5-1", order_id="v5", symbol="BTCUSDT", side=Side.SELL, qty=D("0.01"),
                                 price=D("61000"), tif=TimeInForce.POST_ONLY, status=OrderStatus.NEW))
    assert "rb5-1" in h.reb.orders.working
    h.pump([VenueProblem(T0 + S, "order does not exist", 110001, "rb5-1")], T0 + S)
    assert "rb5-1" not in h.reb.orders.working
    assert h.reb.log[-1].text == "venue error 110001: order does not exist"


def test_a_venue_repair_is_recorded_by_the_rebalancer_and_changes_nothing_else():
    from core.events import Reconciled
    from core.journal import Journal
    from core.journal.recorder import JournalRecorder
    from core.model import BTCUSDT_SPOT
    from core.rebalancer import Rebalancer

    j = Journal()
    reb = Rebalancer(rcfg(), BTCUSDT_SPOT, recorder=JournalRecorder(j))
    before = (reb.book.spot_total, reb.bad_messages)
    assert reb.on_event(Reconciled(1_700_000_000_000, "reconnect", "1 missed fill")) == ()
    assert (reb.book.spot_total, reb.bad_messages) == before
    assert any(r["what"] == "reconnect" and r["detail"] == "1 missed fill" for r in j.reconciles())
    assert "reconciled (reconnect): 1 missed fill" in reb.log[-1].text


def test_a_maker_rebate_a_negative_fee_is_booked_not_refused(h):
    """Rebate accounts get a negative execFee on maker fills: the fill is real and must be booked
    (it was refused as bad data, so the order's fill, its cost and its journal row were lost)."""
    h.pump([FillEvent(fill("r1", Side.SELL, "0.003", client_id="manual-1", fee="-0.018"))], T0 + S)
    assert h.reb.bad_messages == 0
    assert h.reb.book.spot_total == pytest.approx(0.497)
    # one of ours, rebated in the base coin: the rebate lands in the spot wallet, the cost goes down
    h.pump([FillEvent(fill("r2", Side.BUY, "0.002", client_id="rb9-1", fee="-0.0000002", fee_coin="BTC"))], T0 + S)
    assert h.reb.bad_messages == 0
    assert h.reb.book.spot_total == pytest.approx(0.497 + 0.0000002)
    assert h.reb.stats.fills == 1
    assert h.reb.stats.fees_quote == pytest.approx(-0.0000002 * 60_000.0)


@pytest.mark.parametrize("wallet_first", [True, False])
def test_a_fill_the_wallet_push_already_holds_is_not_booked_twice(wallet_first):
    """Bybit's order and wallet topics arrive in either order. A sell of 0.02 filled at t: the
    wallet made at t + 5 ms already holds it. Booked again from the order update, the gap read
    -0.02 and the next decision bought it back."""
    from dataclasses import replace

    h = Harness(rcfg(), spot="0.52", mode=Mode.WATCH)  # gap +0.02
    h.market(T0, BID, ASK)
    reb = h.reb
    t = T0 + S
    o = Order("rb1-1", "X1", "BTCUSDT", Side.SELL, D("0.02"), D("59990"), TimeInForce.IOC, OrderStatus.NEW,
              created_ms=t, updated_ms=t)
    h.pump([OrderUpdate(t, o)], t)  # acknowledged, nothing filled yet
    filled = replace(o, status=OrderStatus.FILLED, filled_qty=D("0.02"), updated_ms=t)
    wallet = BalanceUpdate(t + 5, (Balance("BTC", D("0.50"), D("0")), Balance("USDT", D("51199"), D("0"))),
                           made_ms=t + 5)  # a push, stamped by the venue
    events = [wallet, OrderUpdate(t + 10, filled)] if wallet_first else [OrderUpdate(t, filled), wallet]
    h.pump(events, t + 10)
    assert reb.gap_base() == pytest.approx(0.0, abs=1e-12)


def test_a_rest_read_of_the_wallet_does_not_say_which_fills_it_holds():
    """A REST read after a reconnect is stamped when its reply came, not when the wallet was
    made: a fill inside that window would never be booked. Only a push (``made_ms``) moves
    the line; a REST read leaves it where the last push put it."""
    from dataclasses import replace

    h = Harness(rcfg(), spot="0.52", mode=Mode.WATCH)
    h.market(T0, BID, ASK)
    t = T0 + S
    o = Order("rb1-1", "X1", "BTCUSDT", Side.SELL, D("0.02"), D("59990"), TimeInForce.IOC, OrderStatus.NEW,
              created_ms=t, updated_ms=t)
    h.pump([OrderUpdate(t, o)], t)
    rest = BalanceUpdate(t + 500, (Balance("BTC", D("0.52"), D("0")), Balance("USDT", D("50000"), D("0"))))
    filled = replace(o, status=OrderStatus.FILLED, filled_qty=D("0.02"), updated_ms=t + 100)
    h.pump([rest, OrderUpdate(t + 600, filled)], t + 600)  # the read was made before the fill at t + 100
    assert h.reb.gap_base() == pytest.approx(0.0, abs=1e-12)
