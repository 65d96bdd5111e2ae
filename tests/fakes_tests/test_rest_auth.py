"""The fake checks Bybit's REST auth the way Bybit does, seen through the real pybit client."""

from __future__ import annotations

import json
import time

import pytest
import requests
from pybit.exceptions import InvalidRequestError

from tests.fakes.bybit import (DEFAULT_KEY, DEFAULT_SECRET, READONLY_KEY, READONLY_SECRET,
                               loopback_http)
from tests.fakes.bybit.auth import sign

ORDER = dict(category="spot", symbol="BTCUSDT", side="Buy", orderType="Limit", qty="0.001",
             price="49000", orderLinkId="auth-1")


def test_signed_call_succeeds_with_rate_limit_headers(bybit_fake):
    http = loopback_http(bybit_fake, DEFAULT_KEY, DEFAULT_SECRET, return_response_headers=True)
    body, _elapsed, headers = http.get_wallet_balance(accountType="UNIFIED", coin="BTC,USDT")
    assert body["retCode"] == 0
    coins = {c["coin"]: c for c in body["result"]["list"][0]["coin"]}
    assert coins["USDT"]["walletBalance"] == "10000" and coins["BTC"]["walletBalance"] == "0.1"
    assert headers["X-Bapi-Limit"] == "50"
    assert int(headers["X-Bapi-Limit-Status"]) == 49
    assert abs(int(headers["X-Bapi-Limit-Reset-Timestamp"]) - time.time() * 1000) < 5000


def test_public_call_needs_no_key_and_gets_no_limit_headers(bybit_fake):
    http = loopback_http(bybit_fake, return_response_headers=True)
    body, _elapsed, headers = http.get_server_time()
    assert abs(int(body["result"]["timeSecond"]) - time.time()) < 5
    assert "X-Bapi-Limit" not in headers


def test_wrong_secret_is_10004(bybit_fake):
    http = loopback_http(bybit_fake, DEFAULT_KEY, "not-the-secret", retry_codes={-1})
    with pytest.raises(InvalidRequestError) as err:
        http.get_wallet_balance(accountType="UNIFIED")
    assert err.value.status_code == 10004


def test_unknown_key_is_10003(bybit_fake):
    http = loopback_http(bybit_fake, "nobody", "whatever", retry_codes={-1})
    with pytest.raises(InvalidRequestError) as err:
        http.get_wallet_balance(accountType="UNIFIED")
    assert err.value.status_code == 10003


@pytest.mark.parametrize("skew_ms", [10_000, -2_000])
def test_client_outside_recv_window_is_10002(bybit_fake, skew_ms):
    # +10 s: the client looks 10 s late (past recv_window=5000); -2 s: 2 s early (limit +1 s).
    bybit_fake.clock_skew_ms = skew_ms
    http = loopback_http(bybit_fake, DEFAULT_KEY, DEFAULT_SECRET, retry_codes={-1})
    with pytest.raises(InvalidRequestError) as err:
        http.get_wallet_balance(accountType="UNIFIED")
    assert err.value.status_code == 10002
    assert bybit_fake.request_count("/v5/account/wallet-balance") == 1  # no retry happened


def test_small_skew_inside_window_is_accepted(bybit_fake, http):
    bybit_fake.clock_skew_ms = 3_000
    assert http.get_wallet_balance(accountType="UNIFIED")["retCode"] == 0


def test_read_only_key_reads_but_cannot_trade(bybit_fake):
    http = loopback_http(bybit_fake, READONLY_KEY, READONLY_SECRET, retry_codes={-1})
    assert http.get_open_orders(category="spot")["retCode"] == 0
    with pytest.raises(InvalidRequestError) as err:
        http.place_order(**ORDER)
    assert err.value.status_code == 10005
    assert bybit_fake.ledger.orders == []


def test_signature_covers_raw_body_bytes(bybit_fake):
    """Signing one serialisation and sending another must fail: the fake never re-serialises."""
    ts = str(int(time.time() * 1000))
    signed_body = json.dumps(ORDER)  # pybit's ", " / ": " separators
    sent_body = json.dumps(ORDER, separators=(",", ":"))  # same dict, other bytes
    headers = {"X-BAPI-API-KEY": DEFAULT_KEY, "X-BAPI-TIMESTAMP": ts, "X-BAPI-RECV-WINDOW": "5000",
               "X-BAPI-SIGN": sign(DEFAULT_SECRET, (ts + DEFAULT_KEY + "5000" + signed_body).encode()),
               "Content-Type": "application/json"}
    bad = requests.post(bybit_fake.rest_url + "/v5/order/create", data=sent_body, headers=headers, timeout=5)
    assert bad.status_code == 200 and bad.json()["retCode"] == 10004
    good = requests.post(bybit_fake.rest_url + "/v5/order/create", data=signed_body, headers=headers,
                         timeout=5)
    assert good.json()["retCode"] == 0


def test_requests_are_counted_per_path(bybit_fake, http):
    http.get_open_orders(category="spot")
    http.get_open_orders(category="spot")
    http.get_wallet_balance(accountType="UNIFIED")
    assert bybit_fake.request_count("/v5/order/realtime") == 2
    assert bybit_fake.request_count("/v5/account/wallet-balance") == 1
    assert bybit_fake.order_request_count() == 0
    http.place_order(**ORDER)
    assert bybit_fake.order_request_count() == 1
    assert bybit_fake.requests[-1].api_key == DEFAULT_KEY


def test_unknown_route_is_404(bybit_fake):
    reply = requests.get(bybit_fake.rest_url + "/v5/nope", timeout=5)
    assert reply.status_code == 404 and reply.json()["retCode"] == 10017
