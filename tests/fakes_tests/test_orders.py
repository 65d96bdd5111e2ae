"""Spot order entry and matching through pybit REST; the ledger is the ground truth."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from pybit.exceptions import InvalidRequestError

SPOT = dict(category="spot", symbol="BTCUSDT")


def limit(side, qty, price, link, tif="GTC"):
    return dict(SPOT, side=side, orderType="Limit", qty=qty, price=price, orderLinkId=link, timeInForce=tif)


def realtime(http, **kw):
    return http.get_open_orders(**SPOT, **kw)["result"]["list"]


def test_resting_buy_locks_quote_and_cancel_releases(bybit_fake, http):
    ack = http.place_order(**limit("Buy", "0.01", "49000", "rest-1"))["result"]
    assert set(ack) == {"orderId", "orderLinkId"} and ack["orderLinkId"] == "rest-1"
    [row] = realtime(http)
    assert (row["orderStatus"], row["leavesQty"], row["price"]) == ("New", "0.01", "49000")
    assert bybit_fake.ledger.balances["USDT"].locked == D("490")
    http.cancel_order(**SPOT, orderLinkId="rest-1")
    assert realtime(http) == []
    assert bybit_fake.ledger.balances["USDT"].locked == 0
    assert bybit_fake.ledger.order(order_link_id="rest-1").status == "Cancelled"
    # By id, realtime still finds the closed order (used to resolve an unknown outcome).
    assert realtime(http, orderLinkId="rest-1")[0]["orderStatus"] == "Cancelled"


@pytest.mark.parametrize("params, code", [
    (limit("Buy", "0.01", "49000.001", "x"), 170134),   # price decimals (tick 0.01)
    (limit("Buy", "0.0100001", "49000", "x"), 170137),  # qty decimals (basePrecision 0.000001)
    (limit("Buy", "0.000047", "49000", "x"), 170136),   # below minOrderQty 0.000048
    (limit("Buy", "0.0001", "49000", "x"), 170140),     # 4.9 USDT < minOrderAmt 5
    (limit("Buy", "1", "49000", "x"), 170131),          # 49 000 USDT > 10 000 free
    (limit("Sell", "0.2", "60000", "x"), 170131),       # 0.2 BTC > 0.1 free
    (dict(SPOT, side="Buy", orderType="Market", qty="4"), 170140),  # quote-sized market < 5 USDT
    (dict(SPOT, side="Buy", orderType="Market", qty="10.00000001"), 170148),
    (dict(category="spot", symbol="ETHUSDT", side="Buy", orderType="Limit", qty="1", price="1"), 170121),
])
def test_order_validation_codes(bybit_fake, http, params, code):
    with pytest.raises(InvalidRequestError) as err:
        http.place_order(**params)
    assert err.value.status_code == code
    assert bybit_fake.ledger.orders == []


def test_duplicate_order_link_id_is_170141(bybit_fake, http):
    http.place_order(**limit("Buy", "0.01", "49000", "dup"))
    with pytest.raises(InvalidRequestError) as err:
        http.place_order(**limit("Buy", "0.01", "48000", "dup"))
    assert err.value.status_code == 170141
    assert len(bybit_fake.ledger.orders) == 1


def test_cancel_or_amend_unknown_order_is_170213(http):
    for call in (http.cancel_order, http.amend_order):
        with pytest.raises(InvalidRequestError) as err:
            call(**SPOT, orderLinkId="ghost", price="1")
        assert err.value.status_code == 170213


def test_marketable_limit_buy_takes_the_ask_and_pays_fee_in_base(bybit_fake, http):
    http.place_order(**limit("Buy", "0.01", "50100", "take-1"))
    [fill] = bybit_fake.ledger.fills
    assert (fill.exec_price, fill.exec_qty, fill.is_maker) == (D("50000.10"), D("0.01"), False)
    assert (fill.exec_fee, fill.fee_currency) == (D("0.00001"), "BTC")
    bal = bybit_fake.ledger.balances
    assert bal["BTC"].wallet == D("0.1") + D("0.01") - D("0.00001")
    assert bal["USDT"].wallet == D("10000") - D("500.001")
    assert bal["USDT"].locked == 0  # lock taken at the limit price is fully released
    [ex] = http.get_executions(**SPOT)["result"]["list"]
    assert ex["isMaker"] is False and ex["feeCurrency"] == "BTC" and ex["execQty"] == "0.01"
    assert isinstance(ex["seq"], int) and ex["orderLinkId"] == "take-1"
    # The taken liquidity is gone from the book.
    assert http.get_orderbook(**SPOT)["result"]["a"] == [["50000.1", "0.99"]]


def test_market_sell_pays_fee_in_quote(bybit_fake, http):
    http.place_order(**SPOT, side="Sell", orderType="Market", qty="0.02", orderLinkId="ms")
    [fill] = bybit_fake.ledger.fills
    assert (fill.exec_price, fill.fee_currency) == (D("50000.00"), "USDT")
    assert fill.exec_fee == D("1000") * D("0.001")
    assert bybit_fake.ledger.balances["USDT"].wallet == D("10000") + D("1000") - D("1")
    assert bybit_fake.ledger.order(order_link_id="ms").status == "Filled"


def test_market_buy_is_quote_sized_by_default(bybit_fake, http):
    http.place_order(**SPOT, side="Buy", orderType="Market", qty="100", orderLinkId="mb")
    [fill] = bybit_fake.ledger.fills
    assert fill.exec_qty == D("0.001999")  # 100 / 50000.10 floored to basePrecision
    order = bybit_fake.ledger.order(order_link_id="mb")
    assert order.status == "Filled" and order.market_unit == "quoteCoin"


def test_post_only_that_would_cross_is_accepted_then_rejected(bybit_fake, http):
    reply = http.place_order(**limit("Buy", "0.01", "50000.10", "po", tif="PostOnly"))
    assert reply["retCode"] == 0
    [row] = realtime(http, orderLinkId="po")
    assert row["orderStatus"] == "Rejected"
    assert row["rejectReason"] == "EC_PostOnlyWillTakeLiquidity"
    assert row["cumExecQty"] == "0"
    assert bybit_fake.ledger.fills == [] and bybit_fake.ledger.balances["USDT"].locked == 0


def test_ioc_takes_what_is_there_and_cancels_the_rest(bybit_fake, http):
    bybit_fake.set_book("49999", "1", "50000", "0.004")
    http.place_order(**limit("Buy", "0.01", "50000", "ioc", tif="IOC"))
    order = bybit_fake.ledger.order(order_link_id="ioc")
    assert (order.status, order.cum_exec_qty) == ("PartiallyFilledCanceled", D("0.004"))
    assert bybit_fake.ledger.balances["USDT"].locked == 0


def test_trade_through_fills_resting_orders_as_maker(bybit_fake, http):
    http.place_order(**limit("Buy", "0.01", "49900", "maker-b"))
    bybit_fake.trade("49900", "1", "Sell")  # at our price: queue position unknown, no fill
    assert bybit_fake.ledger.fills == []
    fills = bybit_fake.trade("49899.99", "0.004", "Sell")  # through our price
    assert [(f.order_link_id, f.exec_qty, f.exec_price, f.is_maker) for f in fills] == [
        ("maker-b", D("0.004"), D("49900"), True)]
    assert realtime(http)[0]["orderStatus"] == "PartiallyFilled"
    assert realtime(http)[0]["leavesQty"] == "0.006"


def test_book_moving_across_a_resting_order_fills_it(bybit_fake, http):
    http.place_order(**limit("Sell", "0.01", "50000.05", "maker-s"))
    bybit_fake.set_book("50000.05", "2", "50000.20", "1")
    order = bybit_fake.ledger.order(order_link_id="maker-s")
    assert order.status == "Filled" and bybit_fake.ledger.fills[0].is_maker


def test_partial_fill_then_cancel_is_partially_filled_canceled(bybit_fake, http):
    http.place_order(**limit("Buy", "0.01", "49000", "pf"))
    fill = bybit_fake.partial_fill("pf", "0.003")
    assert fill.exec_price == D("49000")
    assert bybit_fake.ledger.balances["USDT"].locked == D("0.007") * D("49000")
    http.cancel_order(**SPOT, orderLinkId="pf")
    [row] = http.get_order_history(**SPOT, orderLinkId="pf")["result"]["list"]
    assert (row["orderStatus"], row["cumExecQty"], row["cancelType"]) == (
        "PartiallyFilledCanceled", "0.003", "CancelByUser")
    assert bybit_fake.ledger.balances["USDT"].locked == 0


def test_amend_moves_price_and_relocks(bybit_fake, http):
    http.place_order(**limit("Buy", "0.01", "49000", "am"))
    http.amend_order(**SPOT, orderLinkId="am", price="48000", qty="0.02")
    [row] = realtime(http)
    assert (row["price"], row["qty"]) == ("48000", "0.02")
    assert bybit_fake.ledger.balances["USDT"].locked == D("960")
    with pytest.raises(InvalidRequestError) as err:  # 0.3 BTC at 48000 > 10 000 USDT
        http.amend_order(**SPOT, orderLinkId="am", qty="0.3")
    assert err.value.status_code == 170131
    assert bybit_fake.ledger.balances["USDT"].locked == D("960")


def test_cancel_all_and_history_and_execution_window(bybit_fake, http):
    for i in range(3):
        http.place_order(**limit("Buy", "0.001", str(49000 - i), f"ca-{i}"))
    http.place_order(**limit("Buy", "0.001", "50100", "taken"))
    listed = http.cancel_all_orders(**SPOT)["result"]
    assert listed["success"] == "1" and {o["orderLinkId"] for o in listed["list"]} == {"ca-0", "ca-1", "ca-2"}
    history = http.get_order_history(**SPOT, limit=2)["result"]
    assert [o["orderLinkId"] for o in history["list"]] == ["taken", "ca-2"]  # newest first
    page2 = http.get_order_history(**SPOT, limit=2, cursor=history["nextPageCursor"])["result"]
    assert [o["orderLinkId"] for o in page2["list"]] == ["ca-1", "ca-0"] and page2["nextPageCursor"] == ""
    exec_time = bybit_fake.ledger.fills[0].exec_time
    assert len(http.get_executions(**SPOT, startTime=exec_time)["result"]["list"]) == 1
    assert http.get_executions(**SPOT, startTime=exec_time + 1)["result"]["list"] == []


def test_linear_orders_are_refused(http):
    with pytest.raises(InvalidRequestError) as err:
        http.place_order(category="linear", symbol="BTCUSDT", side="Buy", orderType="Market", qty="0.001")
    assert err.value.status_code == 10001
