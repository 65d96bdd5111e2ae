"""``OurOrders``: what of our orders and fills is already counted (each filled quantity and
each fill once, late or repeated reports ignored)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core import orders as orders_mod
from core.model import Order, OrderStatus, Side, TimeInForce
from core.orders import OurOrders

D = Decimal


def order(cid: str = "rb1-1", status: OrderStatus = OrderStatus.NEW, filled: str = "0", order_id: str = "v1") -> Order:
    return Order(client_id=cid, order_id=order_id, symbol="BTCUSDT", side=Side.SELL, qty=D("0.01"),
                 price=D("60000"), tif=TimeInForce.POST_ONLY, status=status, filled_qty=D(filled))


def test_ours_by_prefix():
    o = OurOrders("rb")
    assert o.is_ours("rb1-1") and not o.is_ours("manual-7") and not o.is_ours("")


def test_an_order_we_sent_is_booked_filled_once_and_forgotten_when_done():
    o = OurOrders("rb")
    o.working["rb1-1"] = order(order_id="")  # sent: in flight, no venue id yet
    assert o.on_update(order()) == (False, True, None)  # the venue id arrived
    assert o.on_update(order()) == (False, False, None)  # the same again: nothing new
    assert o.on_update(order(status=OrderStatus.PARTIALLY_FILLED, filled="0.004")) == (False, True, 0.004)
    done = order(status=OrderStatus.FILLED, filled="0.01")
    adopted, changed, filled = o.on_update(done)
    assert (adopted, changed) == (False, True) and filled == pytest.approx(0.006)
    assert o.working == {}
    assert o.on_update(done) is None  # a late repeat of a finished order is ignored


def test_an_order_this_session_did_not_send_is_adopted_without_its_past_fills():
    o = OurOrders("rb")
    adopted, changed, filled = o.on_update(order("rbold3-1", OrderStatus.PARTIALLY_FILLED, "0.003"))
    assert (adopted, changed, filled) == (True, True, None)  # what it filled is in the balances already
    assert "rbold3-1" in o.working
    assert o.on_update(order("rbold3-1", OrderStatus.PARTIALLY_FILLED, "0.005"))[2] == pytest.approx(0.002)


def test_forget_drops_a_working_order_and_its_count():
    o = OurOrders("rb")
    o.on_update(order(status=OrderStatus.PARTIALLY_FILLED, filled="0.004"))
    o.forget("rb1-1")
    assert o.working == {}
    assert o.on_update(order(status=OrderStatus.PARTIALLY_FILLED, filled="0.004"))[0]  # adopted again


def test_each_fill_counts_once():
    o = OurOrders("rb")
    assert o.first_time("e1") and o.first_time("e2")
    assert not o.first_time("e1")


def test_memory_of_finished_orders_and_fills_is_bounded(monkeypatch):
    monkeypatch.setattr(orders_mod, "KEEP_FINISHED", 3)
    monkeypatch.setattr(orders_mod, "KEEP_FILLS", 3)
    o = OurOrders("rb")
    for k in range(5):
        o.on_update(order(f"rb{k}-1", OrderStatus.CANCELLED))
        o.first_time(f"e{k}")
    assert o.on_update(order("rb4-1", OrderStatus.CANCELLED)) is None  # recent: still known
    assert o.on_update(order("rb0-1", OrderStatus.CANCELLED)) is not None  # the oldest was let go
    assert not o.first_time("e4") and o.first_time("e0")
