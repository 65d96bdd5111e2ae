"""Private streams: auth, and order -> execution -> wallet pushes into pybit callbacks."""

from __future__ import annotations

import json
import time

import websocket

from tests.fakes.bybit import DEFAULT_KEY, DEFAULT_SECRET
from tests.fakes.bybit.auth import sign
from tests.fakes.inbox import Inbox

SPOT = dict(category="spot", symbol="BTCUSDT")


def private_inbox(fake, open_ws, topics=("order", "execution", "wallet")) -> Inbox:
    inbox = Inbox()
    ws = open_ws("private")
    for topic in topics:
        getattr(ws, f"{topic}_stream")(inbox.put)
    for topic in topics:
        assert fake.wait_until(lambda t=topic: fake.subscribers(t, "private") == 1)
    return inbox


def summary(msg):
    item = msg["data"][0]
    if msg["topic"] == "order":
        return ("order", item["orderStatus"])
    if msg["topic"] == "execution":
        return ("execution", item["execQty"])
    return (msg["topic"],)


def test_order_lifecycle_pushes_in_order(bybit_fake, open_ws, http):
    inbox = private_inbox(bybit_fake, open_ws)
    http.place_order(**SPOT, side="Buy", orderType="Limit", qty="0.01", price="49000", orderLinkId="p-1")
    bybit_fake.partial_fill("p-1", "0.004")
    http.cancel_order(**SPOT, orderLinkId="p-1")
    inbox.wait_for(lambda m: m["topic"] == "order" and m["data"][0]["orderStatus"] == "PartiallyFilledCanceled")
    inbox.wait_count(lambda m: m["topic"] == "wallet", 3)
    assert [summary(m) for m in inbox.items] == [
        ("order", "New"), ("wallet",),
        ("order", "PartiallyFilled"), ("execution", "0.004"), ("wallet",),
        ("order", "PartiallyFilledCanceled"), ("wallet",),
    ]
    order_msg = inbox.items[0]
    assert isinstance(order_msg["creationTime"], int) and order_msg["id"]
    order = order_msg["data"][0]
    assert (order["category"], order["orderLinkId"], order["leavesQty"]) == ("spot", "p-1", "0.01")
    execution = inbox.items[3]["data"][0]
    assert (execution["isMaker"], execution["feeCurrency"], execution["execPrice"]) == (True, "BTC", "49000")
    assert execution["execId"] == bybit_fake.ledger.fills[0].exec_id
    wallet = inbox.items[-1]["data"][0]
    btc = next(c for c in wallet["coin"] if c["coin"] == "BTC")
    assert btc["walletBalance"] == str(bybit_fake.ledger.balances["BTC"].wallet)


def test_position_push_uses_entry_price(bybit_fake, open_ws):
    inbox = private_inbox(bybit_fake, open_ws, topics=("position",))
    bybit_fake.set_position("0.3", entry_price="50000", mark_price="50500")
    item = inbox.wait_for(lambda m: True)["data"][0]
    assert (item["category"], item["side"], item["size"], item["entryPrice"]) == ("linear", "Buy", "0.3", "50000")
    assert item["unrealisedPnl"] == "150" and "avgPrice" not in item


def auth_frame(secret: str, expires: int) -> str:
    return json.dumps({"op": "auth", "args": [DEFAULT_KEY, expires, sign(secret, f"GET/realtime{expires}".encode())]})


def test_private_auth_checks_signature_and_expiry(bybit_fake):
    future = int(time.time() * 1000) + 5000
    for frame, ok in ((auth_frame("wrong", future), False),
                      (auth_frame(DEFAULT_SECRET, future - 10_000), False),
                      (auth_frame(DEFAULT_SECRET, future), True)):
        conn = websocket.create_connection(bybit_fake.ws_base_url + "/v5/private", timeout=2)
        try:
            conn.send(frame)
            reply = json.loads(conn.recv())
            assert (reply["op"], reply["success"]) == ("auth", ok), reply
        finally:
            conn.close()


def test_private_subscribe_needs_auth_and_private_pong_shape(bybit_fake):
    conn = websocket.create_connection(bybit_fake.ws_base_url + "/v5/private", timeout=2)
    try:
        conn.send(json.dumps({"op": "subscribe", "req_id": "s1", "args": ["order"]}))
        assert json.loads(conn.recv())["success"] is False
        conn.send(json.dumps({"op": "ping", "req_id": "p1"}))
        pong = json.loads(conn.recv())
        assert (pong["op"], pong["req_id"]) == ("pong", "p1") and pong["args"][0].isdigit()
    finally:
        conn.close()


def test_set_balance_pushes_wallet(bybit_fake, open_ws):
    inbox = private_inbox(bybit_fake, open_ws, topics=("wallet",))
    bybit_fake.set_balance("USDT", "12345.5")
    wallet = inbox.wait_for(lambda m: True)["data"][0]
    usdt = next(c for c in wallet["coin"] if c["coin"] == "USDT")
    assert (wallet["accountType"], usdt["walletBalance"], usdt["locked"]) == ("UNIFIED", "12345.5", "0")
