"""Order entry over ``/v5/trade`` with pybit's WebSocketTrading (acks delayed a few ms)."""

from __future__ import annotations

import pytest

from tests.fakes.bybit import (DEFAULT_KEY, DEFAULT_SECRET, READONLY_KEY, READONLY_SECRET,
                               LoopbackWebSocketTrading)
from tests.fakes.inbox import Inbox

ORDER = dict(category="spot", symbol="BTCUSDT", side="Buy", orderType="Limit", qty="0.01", price="49000")


@pytest.fixture
def trading(bybit_fake):
    made = []

    def make(key=DEFAULT_KEY, secret=DEFAULT_SECRET):
        ws = LoopbackWebSocketTrading(bybit_fake.ws_base_url, api_key=key, api_secret=secret)
        made.append(ws)
        return ws

    yield make
    for ws in made:
        ws.exit()


def test_place_and_cancel_over_trade_socket(bybit_fake, trading):
    ws = trading()
    acks, errors = Inbox(), Inbox()
    ws.place_order(acks.put, errors.put, **ORDER, orderLinkId="wst-1")
    ack = acks.wait_for(lambda m: True)
    assert (ack["op"], ack["retCode"], ack["data"]["orderLinkId"]) == ("order.create", 0, "wst-1")
    assert ack["header"]["X-Bapi-Limit"] == "20"
    assert bybit_fake.ledger.order(order_link_id="wst-1").status == "New"
    ws.place_order(acks.put, errors.put, **ORDER, orderLinkId="wst-1")
    assert errors.wait_for(lambda m: True)["retCode"] == 170141
    ws.cancel_order(acks.put, errors.put, category="spot", symbol="BTCUSDT", orderLinkId="wst-1")
    assert acks.wait_for(lambda m: m["op"] == "order.cancel")["data"]["orderLinkId"] == "wst-1"
    assert bybit_fake.ledger.order(order_link_id="wst-1").status == "Cancelled"
    assert bybit_fake.order_request_count() == 3


def test_read_only_key_is_refused_on_trade_socket(bybit_fake, trading):
    ws = trading(READONLY_KEY, READONLY_SECRET)
    errors = Inbox()
    ws.place_order(lambda m: None, errors.put, **ORDER, orderLinkId="ro")
    assert errors.wait_for(lambda m: True)["retCode"] == 10005
    assert bybit_fake.ledger.orders == []
