"""Bybit JSON -> model values, the order/fill memory, and the error scrubbing (pure, no sockets)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.model import Leg, Order, OrderStatus, Side, TimeInForce
from core.venues import bybit_parse as P
from core.venues.bybit_reconcile import KnownOrders, SeenFills
from core.venues.bybit_rest import base_url, scrub
from core.venues.bybit_ws import rebase

D = Decimal


def row(**kw) -> dict:
    base = {"symbol": "BTCUSDT", "side": "Buy", "size": "0.5", "avgPrice": "50000", "markPrice": "50100",
            "liqPrice": "", "unrealisedPnl": "50", "leverage": "3", "positionIdx": 0}
    base.update(kw)
    return base


def test_position_sign_and_flat():
    assert P.position([row()], "BTCUSDT").size == D("0.5")
    short = P.position([row(side="Sell", liqPrice="80000")], "BTCUSDT")
    assert short.size == D("-0.5") and short.liq_price == D("80000") and short.leverage == D("3")
    for side in ("", "None"):
        assert P.position([row(side=side, size="0")], "BTCUSDT").size == 0
    assert P.position([], "BTCUSDT").size == 0
    assert P.position([row(symbol="ETHUSDT")], "BTCUSDT").size == 0
    # hedge mode: the two sides net out
    hedged = P.position([row(positionIdx=1, size="0.7"), row(positionIdx=2, side="Sell", size="0.2")], "BTCUSDT")
    assert hedged.size == D("0.5")
    # a push says entryPrice instead of avgPrice
    pushed = P.position([{**row(side="Sell"), "entryPrice": "49000", "avgPrice": None}], "BTCUSDT")
    assert pushed.entry_price == D("49000")


def order_item(**kw) -> dict:
    base = {"orderId": "1", "orderLinkId": "rb1", "symbol": "BTCUSDT", "side": "Sell", "price": "50000.5",
            "qty": "0.010", "timeInForce": "PostOnly", "orderStatus": "New", "cumExecQty": "0", "avgPrice": "",
            "rejectReason": "EC_NoError", "createdTime": "1700000000000", "updatedTime": "1700000000100"}
    base.update(kw)
    return base


def test_order_mapping():
    o = P.order(order_item())
    assert (o.client_id, o.order_id, o.side, o.qty, o.price, o.tif) == ("rb1", "1", Side.SELL, D("0.010"),
                                                                       D("50000.5"), TimeInForce.POST_ONLY)
    assert o.status is OrderStatus.NEW and o.reject_reason == "" and o.avg_fill_price == 0
    assert (o.created_ms, o.updated_ms, o.leg) == (1_700_000_000_000, 1_700_000_000_100, Leg.SPOT)
    assert P.order(order_item(orderStatus="PartiallyFilledCanceled", cumExecQty="0.003")).status is \
        OrderStatus.CANCELLED
    rej = P.order(order_item(orderStatus="Rejected", rejectReason="EC_PostOnlyWillTakeLiquidity"))
    assert rej.status is OrderStatus.REJECTED and rej.reject_reason == "EC_PostOnlyWillTakeLiquidity"
    # the linear-style label for the same outcome
    assert P.order(order_item(orderStatus="Cancelled", rejectReason="EC_PostOnlyWillTakeLiquidity")).status is \
        OrderStatus.REJECTED
    assert P.order(order_item(timeInForce="IOC")).tif is TimeInForce.IOC
    with pytest.raises(P.BadMessage):
        P.order(order_item(orderStatus="Exploded"))


def test_fill_mapping():
    item = {"symbol": "BTCUSDT", "orderId": "9", "orderLinkId": "rb7", "side": "Buy", "execId": "e1",
            "execPrice": "50000", "execQty": "0.01", "execFee": "0.00001", "feeCurrency": "BTC", "isMaker": True,
            "execTime": "1700000000123", "seq": 5}
    f = P.fill(item, prefix="rb")
    assert (f.exec_id, f.side, f.price, f.qty, f.fee, f.fee_coin, f.is_maker) == ("e1", Side.BUY, D("50000"),
                                                                                  D("0.01"), D("0.00001"), "BTC", True)
    assert (f.ts_ms, f.client_id, f.order_id, f.source, f.leg) == (1_700_000_000_123, "rb7", "9", "rebalancer",
                                                                   Leg.SPOT)
    assert f.base_delta == D("0.00999")
    rebate = P.fill({**item, "execFee": "-0.000002"}, prefix="rb")  # a maker rebate: a negative fee, kept as sent
    assert (rebate.fee, rebate.base_delta) == (D("-0.000002"), D("0.010002"))
    other = P.fill({**item, "orderLinkId": "", "isMaker": "false", "category": "linear"}, prefix="rb")
    assert other.source == "external" and other.is_maker is False and other.leg is Leg.LINEAR


def test_market_data_and_candles():
    q = P.quote({"ts": 5, "data": {"b": [["100.5", "2"]], "a": [["100.6", "3"]]}})
    assert (q.ts_ms, q.bid, q.bid_qty, q.ask, q.ask_qty) == (5, 100.5, 2.0, 100.6, 3.0)
    assert P.quote({"ts": 5, "data": {"b": [], "a": [["100.6", "3"]]}}) is None
    trades = P.trades({"data": [{"T": 7, "p": "100", "v": "0.5", "S": "Sell"}, {"T": 8, "p": "101", "v": "1",
                                                                                "S": "Buy"}]})
    assert [(t.ts_ms, t.price, t.taker_side) for t in trades] == [(7, 100.0, Side.SELL), (8, 101.0, Side.BUY)]
    assert P.perp_ticker({"fundingRate": "0.0001"}, 1) is None
    t = P.perp_ticker({"markPrice": "50010.5", "fundingRate": "0.0001", "nextFundingTime": "1800"}, 9)
    assert (t.mark_price, t.funding_rate, t.next_funding_ms) == (50010.5, 0.0001, 1800)
    rows = [["180000", "4", "5", "3", "4.5", "1"], ["120000", "3", "4", "2", "3.5", "1"],
            ["60000", "2", "3", "1", "2.5", "1"], ["0", "1", "2", "0.5", "1.5", "1"]]  # newest first
    got = P.candles(rows, 60_000, now_ms=200_000, limit=2)  # the 180000 candle is still open
    assert [c.start_ms for c in got] == [60_000, 120_000] and got[-1].close == 3.5


def test_balances_named_coins_always_present():
    item = {"accountType": "UNIFIED", "coin": [{"coin": "USDT", "walletBalance": "1000", "locked": "250"}]}
    bals = {b.coin: b for b in P.balances([item], coins=("BTC", "USDT"))}
    assert (bals["USDT"].free, bals["USDT"].locked, bals["USDT"].total) == (D("750"), D("250"), D("1000"))
    assert bals["BTC"].total == 0
    assert P.balances([{"accountType": "CONTRACT", "coin": item["coin"]}]) == ()


@given(st.decimals(min_value=D("0.00000001"), max_value=D("1000000"), places=8))
def test_fmt_decimal_is_exact_and_plain(d):
    text = P.fmt_decimal(d)
    assert "E" not in text.upper() and D(text) == d


def test_fmt_decimal_refuses_floats():
    assert P.fmt_decimal(D("1E-7")) == "0.0000001"
    with pytest.raises(TypeError):
        P.fmt_decimal(0.1)  # type: ignore[arg-type]


def _o(status: OrderStatus, filled: str = "0", updated: int = 1) -> Order:
    return Order(client_id="rb1", order_id="1", symbol="BTCUSDT", side=Side.BUY, qty=D("1"), price=D("1"),
                 tif=TimeInForce.GTC, status=status, filled_qty=D(filled), updated_ms=updated)


def test_known_orders_only_move_forward():
    k = KnownOrders()
    assert k.remember(_o(OrderStatus.NEW, updated=10), provisional=True)
    assert k.remember(_o(OrderStatus.NEW, updated=5))  # the venue's record replaces our ack-made one
    assert not k.remember(_o(OrderStatus.NEW, updated=5))  # a repeat
    assert k.remember(_o(OrderStatus.PARTIALLY_FILLED, "0.4", 6))
    assert k.remember(_o(OrderStatus.FILLED, "1", 7))
    assert not k.remember(_o(OrderStatus.PARTIALLY_FILLED, "0.4", 6))  # stale
    assert not k.remember(_o(OrderStatus.NEW, updated=99))  # a later timestamp cannot reopen it
    assert k.get("rb1").status is OrderStatus.FILLED and k.open_ids() == []


def test_seen_fills_dedupe_and_last_ts():
    s = SeenFills(max_ids=2)
    f = P.fill({"symbol": "BTCUSDT", "side": "Buy", "execId": "a", "execPrice": "1", "execQty": "1",
                "execTime": "5"}, prefix="rb")
    assert s.add(f) and not s.add(f) and "a" in s and s.last_ts == 5


def test_scrub_and_urls():
    msg = "error sign! origin_string[1700000000000my-key5000category=spot]"
    assert "my-key" not in scrub(msg, "my-key", "my-secret")
    assert scrub("key my-key secret my-secret", "my-key", "my-secret") == "key *** secret ***"
    assert base_url("http://127.0.0.1:8080/v5/") == "http://127.0.0.1:8080"
    assert rebase("ws://127.0.0.1:9", "wss://{SUBDOMAIN}.{DOMAIN}.com/v5/public/spot") == \
        "ws://127.0.0.1:9/v5/public/spot"
    assert rebase("ws://127.0.0.1:9", "wss://stream.bybit.com/v5/private") == "ws://127.0.0.1:9/v5/private"
