"""Fault injection, and what the real pybit client does with each fault."""

from __future__ import annotations

import json
import time

import pytest
import requests
import websocket
from pybit.exceptions import FailedRequestError, InvalidRequestError

from tests.fakes.bybit import DEFAULT_KEY, DEFAULT_SECRET, loopback_http
from tests.fakes.inbox import Inbox

SPOT = dict(category="spot", symbol="BTCUSDT")
ORDER = dict(SPOT, side="Buy", orderType="Limit", qty="0.01", price="49000")
TRADES = "publicTrade.BTCUSDT"
WALLET = "/v5/account/wallet-balance"


# ---- WebSocket ------------------------------------------------------------------------

@pytest.mark.parametrize("abrupt", [True, False])
def test_public_socket_reconnects_and_resubscribes(bybit_fake, open_ws, abrupt):
    inbox = Inbox()
    open_ws("spot").trade_stream(symbol="BTCUSDT", callback=inbox.put)
    assert bybit_fake.wait_until(lambda: bybit_fake.subscribers(TRADES) == 1)
    assert bybit_fake.drop_connections(abrupt=abrupt) == 1
    assert bybit_fake.wait_until(lambda: bybit_fake.subscribe_count(TRADES) == 2
                                 and bybit_fake.subscribers(TRADES) == 1, timeout=3)
    assert bybit_fake.ws_connections("spot", live=False) == 2
    bybit_fake.trade("50001", "0.1", "Buy")
    assert inbox.wait_for(lambda m: m["data"][0]["p"] == "50001")


def test_private_socket_reauths_and_resubscribes(bybit_fake, open_ws, http):
    inbox = Inbox()
    open_ws("private").order_stream(inbox.put)
    assert bybit_fake.wait_until(lambda: bybit_fake.subscribers("order", "private") == 1)
    bybit_fake.drop_connections(channels=["private"])
    assert bybit_fake.wait_until(lambda: bybit_fake.subscribe_count("order") == 2
                                 and bybit_fake.subscribers("order") == 1, timeout=3)
    assert bybit_fake.observer.auth_count("private") == 2
    http.place_order(**ORDER, orderLinkId="after-reconnect")
    assert inbox.wait_for(lambda m: m["data"][0]["orderLinkId"] == "after-reconnect")


def test_stalled_pongs_make_pybit_reconnect(bybit_fake, open_ws):
    inbox = Inbox()
    open_ws("spot", ping_interval=0.3, ping_timeout=0.15).trade_stream(symbol="BTCUSDT", callback=inbox.put)
    assert bybit_fake.wait_until(lambda: bybit_fake.subscribers(TRADES) == 1)
    bybit_fake.stall_pongs(0.5)
    assert bybit_fake.wait_until(lambda: bybit_fake.ws_connections("spot", live=False) >= 2, timeout=3)
    # Once the stall is over the link stays up and data flows again.
    assert bybit_fake.wait_until(lambda: not bybit_fake.hub.stalled and bybit_fake.subscribers(TRADES) == 1,
                                 timeout=3)
    bybit_fake.trade("50002", "0.1", "Buy")
    assert inbox.wait_for(lambda m: m["data"][0]["p"] == "50002", timeout=3)


def test_stalled_json_pings_get_no_reply(bybit_fake):
    conn = websocket.create_connection(bybit_fake.ws_base_url + "/v5/public/spot", timeout=2)
    try:
        bybit_fake.stall_pongs(0.3)
        conn.send(json.dumps({"op": "ping", "req_id": "stalled"}))
        conn.settimeout(0.2)
        with pytest.raises(websocket.WebSocketTimeoutException):
            conn.recv()
    finally:
        conn.close()


def test_push_unexpected_sends_verbatim_and_kills_pybit(bybit_fake, open_ws):
    conn = websocket.create_connection(bybit_fake.ws_base_url + "/v5/public/spot", timeout=2)
    try:
        assert bybit_fake.wait_until(lambda: bybit_fake.ws_connections("spot") == 1)
        assert bybit_fake.push_unexpected(None, "{not json") == 1
        assert conn.recv() == "{not json"
    finally:
        conn.close()
    # The reference's trap: an unregistered topic reaches pybit's dispatcher -> KeyError -> exit.
    ws = open_ws("spot")
    ws.trade_stream(symbol="BTCUSDT", callback=lambda m: None)
    assert bybit_fake.wait_until(lambda: bybit_fake.subscribers(TRADES) == 1)
    bybit_fake.push_unexpected("mystery.BTCUSDT", {"type": "snapshot", "data": []})
    assert bybit_fake.wait_until(lambda: ws.exited)


# ---- REST -----------------------------------------------------------------------------

def test_10006_with_future_reset_is_retried_by_pybit(bybit_fake):
    http = loopback_http(bybit_fake, DEFAULT_KEY, DEFAULT_SECRET)  # default retry codes
    # reset 1 s ahead: far enough that a loaded machine still sees it in the future
    bybit_fake.next_rest_error(WALLET, 10006, reset_after_ms=1000)
    started = time.monotonic()
    assert http.get_wallet_balance(accountType="UNIFIED")["retCode"] == 0
    assert time.monotonic() - started >= 0.1  # pybit slept until the reset timestamp
    assert bybit_fake.request_count(WALLET) == 2


def test_10006_reply_shape(bybit_fake):
    bybit_fake.next_rest_error("/v5/market/time", 10006, reset_after_ms=1000)
    reply = requests.get(bybit_fake.rest_url + "/v5/market/time", timeout=5)
    assert reply.status_code == 200 and reply.json()["retCode"] == 10006
    reset = int(reply.headers["X-Bapi-Limit-Reset-Timestamp"])
    assert bybit_fake.now_ms() + 500 < reset <= bybit_fake.now_ms() + 1000
    assert reply.headers["X-Bapi-Limit-Status"] == "0"


def test_10006_with_past_reset_is_pybits_negative_sleep_trap(bybit_fake):
    http = loopback_http(bybit_fake, DEFAULT_KEY, DEFAULT_SECRET)
    past = str(bybit_fake.now_ms() - 5000)
    bybit_fake.next_rest_error(WALLET, 10006, headers={"X-Bapi-Limit-Reset-Timestamp": past})
    with pytest.raises(ValueError, match="non-negative"):
        http.get_wallet_balance(accountType="UNIFIED")


@pytest.mark.parametrize("code", [10002, 10016])
def test_injected_error_codes_reach_the_caller(bybit_fake, http, code):
    bybit_fake.next_rest_error("/v5/order/create", code)
    with pytest.raises(InvalidRequestError) as err:
        http.place_order(**ORDER, orderLinkId=f"e-{code}")
    assert err.value.status_code == code
    assert bybit_fake.ledger.orders == []  # not executed
    http.place_order(**ORDER, orderLinkId=f"ok-{code}")  # only the next one was hit
    assert len(bybit_fake.ledger.orders) == 1


def test_http_502_is_failed_request_and_not_executed(bybit_fake, http):
    bybit_fake.next_http_status("/v5/order/create", 502)
    with pytest.raises(FailedRequestError) as err:
        http.place_order(**ORDER, orderLinkId="gw")
    assert err.value.status_code == 502
    assert bybit_fake.ledger.orders == []


def test_lost_reply_leaves_the_order_in_the_ledger(bybit_fake, http):
    bybit_fake.lose_next_reply("/v5/order/create")
    with pytest.raises(requests.exceptions.ConnectionError):
        http.place_order(**ORDER, orderLinkId="lost-1")
    assert bybit_fake.ledger.order(order_link_id="lost-1").status == "New"
    [row] = http.get_open_orders(**SPOT, orderLinkId="lost-1")["result"]["list"]
    assert (row["orderLinkId"], row["orderStatus"]) == ("lost-1", "New")
    # Retrying with the same client id is an idempotency hit, not a second order.
    with pytest.raises(InvalidRequestError) as err:
        http.place_order(**ORDER, orderLinkId="lost-1")
    assert err.value.status_code == 170141
    assert len(bybit_fake.ledger.orders) == 1


def test_enforced_rate_limit_refuses_with_future_reset():
    from tests.fakes.bybit import FakeBybit

    with FakeBybit(enforce_rate_limits=True) as fake:
        http = loopback_http(fake, DEFAULT_KEY, DEFAULT_SECRET, retry_codes={-1}, return_response_headers=True)
        statuses = [int(http.get_fee_rates(category="spot")[2]["X-Bapi-Limit-Status"]) for _ in range(5)]
        assert statuses == [4, 3, 2, 1, 0]  # fee-rate: 5 per second
        with pytest.raises(InvalidRequestError) as err:
            http.get_fee_rates(category="spot")
        assert err.value.status_code == 10006
        assert int(err.value.resp_headers["X-Bapi-Limit-Reset-Timestamp"]) > fake.now_ms()
