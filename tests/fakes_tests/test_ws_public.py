"""Public streams reach pybit's WebSocket callbacks in Bybit's frame shapes."""

from __future__ import annotations

import json

import pytest
import websocket

from tests.fakes.inbox import Inbox

TOPIC_TRADES = "publicTrade.BTCUSDT"


def wait_subscribed(fake, topic, channel, n=1):
    assert fake.wait_until(lambda: fake.subscribers(topic, channel) >= n), f"{topic} never subscribed"


def test_orderbook_snapshot_on_subscribe_and_on_change(bybit_fake, open_ws):
    inbox = Inbox()
    open_ws("spot").orderbook_stream(depth=1, symbol="BTCUSDT", callback=inbox.put)
    first = inbox.wait_for(lambda m: True)
    assert first["topic"] == "orderbook.1.BTCUSDT" and first["data"]["b"] == [["50000", "1"]]
    bybit_fake.set_book("51000", "0.5", "51000.01", "0.7")
    book = inbox.wait_for(lambda m: m["data"]["b"] == [["51000", "0.5"]])
    assert book["data"]["a"] == [["51000.01", "0.7"]] and book["data"]["u"] > first["data"]["u"]


def test_public_trades_and_kline(bybit_fake, open_ws):
    trades, klines = Inbox(), Inbox()
    ws = open_ws("spot")
    ws.trade_stream(symbol="BTCUSDT", callback=trades.put)
    ws.kline_stream(interval=1, symbol="BTCUSDT", callback=klines.put)
    wait_subscribed(bybit_fake, TOPIC_TRADES, "spot")
    wait_subscribed(bybit_fake, "kline.1.BTCUSDT", "spot")
    bybit_fake.trade("50005.5", "0.25", "Sell")
    msg = trades.wait_for(lambda m: True)
    [t] = msg["data"]
    assert (t["p"], t["v"], t["S"], t["s"]) == ("50005.5", "0.25", "Sell", "BTCUSDT")
    assert isinstance(t["T"], int) and isinstance(msg["ts"], int)
    open_candle = klines.wait_for(lambda m: True)["data"][0]
    assert (open_candle["close"], open_candle["confirm"]) == ("50005.5", False)
    bybit_fake.close_candle()
    closed = klines.wait_for(lambda m: m["data"][0]["confirm"])["data"][0]
    assert closed["start"] == open_candle["start"] and closed["end"] == closed["start"] + 59_999


def test_linear_ticker_snapshot_then_deltas(bybit_fake, open_ws):
    inbox = Inbox()
    open_ws("linear").ticker_stream(symbol="BTCUSDT", callback=inbox.put)
    snap = inbox.wait_for(lambda m: True)["data"]
    assert (snap["markPrice"], snap["bid1Price"], snap["fundingRate"]) == ("50010", "50010", "0.0001")
    assert int(snap["nextFundingTime"]) > 0
    bybit_fake.set_linear_ticker(mark_price="50123.4")
    merged = inbox.wait_for(lambda m: m["data"]["markPrice"] == "50123.4")["data"]
    assert merged["fundingRate"] == "0.0001"  # pybit merged a delta into the snapshot
    bybit_fake.set_book("50100", "1", "50100.1", "2", category="linear")
    assert inbox.wait_for(lambda m: m["data"]["bid1Price"] == "50100")["data"]["ask1Size"] == "2"


def raw(fake, path):
    return websocket.create_connection(fake.ws_base_url + path, timeout=2)


def test_only_subscribed_topics_are_pushed_and_acks_echo_req_id(bybit_fake):
    conn = raw(bybit_fake, "/v5/public/spot")
    try:
        conn.send(json.dumps({"op": "subscribe", "req_id": "r-42", "args": [TOPIC_TRADES]}))
        ack = json.loads(conn.recv())
        assert ack == {"success": True, "ret_msg": "subscribe", "conn_id": ack["conn_id"],
                       "req_id": "r-42", "op": "subscribe"}
        bybit_fake.set_book("49000", "1", "49000.5", "1")  # orderbook: not subscribed
        bybit_fake.trade("49000.5", "0.1", "Buy")
        assert json.loads(conn.recv())["topic"] == TOPIC_TRADES
    finally:
        conn.close()


@pytest.mark.parametrize("path, expected", [
    ("/v5/public/spot", {"success": True, "ret_msg": "pong", "op": "ping"}),
    ("/v5/public/linear", {"success": True, "ret_msg": "pong", "op": "ping", "req_id": ""}),
])
def test_json_ping_gets_the_channel_pong(bybit_fake, path, expected):
    conn = raw(bybit_fake, path)
    try:
        conn.send(json.dumps({"op": "ping"}))
        pong = json.loads(conn.recv())
        assert pong.pop("conn_id") and pong == expected
    finally:
        conn.close()


def test_bad_topic_is_refused(bybit_fake):
    conn = raw(bybit_fake, "/v5/public/spot")
    try:
        conn.send(json.dumps({"op": "subscribe", "req_id": "x", "args": ["orderbook.1.ETHUSDT"]}))
        ack = json.loads(conn.recv())
        assert ack["success"] is False and "orderbook.1.ETHUSDT" in ack["ret_msg"]
    finally:
        conn.close()
