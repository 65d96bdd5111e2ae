"""Several spot symbols on one fake account: own books and filters, shared balances."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from pybit.exceptions import InvalidRequestError

from tests.fakes.bybit import DEFAULT_KEY, DEFAULT_SECRET, FakeBybit, loopback_http

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")


@pytest.fixture
def fake3():
    with FakeBybit(symbols=SYMBOLS, balances={"USDT": "10000", "BTC": "0.1", "ETH": "2", "SOL": "50"}) as fake:
        yield fake


@pytest.fixture
def http3(fake3):
    return loopback_http(fake3, DEFAULT_KEY, DEFAULT_SECRET, retry_codes={-1})


def test_each_symbol_has_its_rules_book_and_orders_on_one_account(fake3, http3):
    listed = http3.get_instruments_info(category="spot")["result"]["list"]
    assert [i["symbol"] for i in listed] == list(SYMBOLS)
    eth = http3.get_instruments_info(category="spot", symbol="ETHUSDT")["result"]["list"]
    assert eth[0]["baseCoin"] == "ETH" and eth[0]["lotSizeFilter"]["basePrecision"] == "0.00001"
    assert http3.get_orderbook(category="spot", symbol="SOLUSDT")["result"]["b"][0][0] == "150"

    with pytest.raises(InvalidRequestError) as e:  # ETHUSDT's qty step, not BTCUSDT's
        http3.place_order(category="spot", symbol="ETHUSDT", side="Buy", orderType="Limit", qty="0.010001",
                          price="2000", orderLinkId="eth-bad")
    assert e.value.status_code == 170137
    http3.place_order(category="spot", symbol="ETHUSDT", side="Buy", orderType="Limit", qty="0.01",
                      price="2000", orderLinkId="eth-1")
    http3.place_order(category="spot", symbol="SOLUSDT", side="Sell", orderType="Limit", qty="1",
                      price="160", orderLinkId="sol-1")
    assert fake3.ledger.balances["USDT"].locked == D("20")  # one account: every symbol's ledger shows it
    assert fake3.ledgers["SOLUSDT"].balances["SOL"].locked == D("1")

    def links(**kw):
        return [o["orderLinkId"] for o in http3.get_open_orders(category="spot", **kw)["result"]["list"]]

    assert links(symbol="ETHUSDT") == ["eth-1"] and links(symbol="BTCUSDT") == []
    assert sorted(links()) == ["eth-1", "sol-1"]

    fills = fake3.trade("160.01", "0.4", "Buy", symbol="SOLUSDT")  # through SOLUSDT's resting sell
    assert [(f.symbol, f.exec_qty) for f in fills] == [("SOLUSDT", D("0.4"))]
    assert fake3.ledger.balances["SOL"].wallet == D("49.6")
    rows = http3.get_executions(category="spot", symbol="SOLUSDT")["result"]["list"]
    assert [r["symbol"] for r in rows] == ["SOLUSDT"]
    assert http3.get_executions(category="spot", symbol="ETHUSDT")["result"]["list"] == []

    done = http3.cancel_all_orders(category="spot", symbol="ETHUSDT")["result"]["list"]
    assert [o["orderLinkId"] for o in done] == ["eth-1"] and links() == ["sol-1"]
    with pytest.raises(InvalidRequestError) as e:
        http3.place_order(category="spot", symbol="XRPUSDT", side="Buy", orderType="Limit", qty="10",
                          price="1", orderLinkId="xrp-1")
    assert e.value.status_code == 170121


def test_an_unknown_symbol_cannot_be_asked_for():
    with pytest.raises(ValueError, match="XRPUSDT"):
        FakeBybit(symbols=("BTCUSDT", "XRPUSDT"))
