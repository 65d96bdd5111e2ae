"""Public market data and account reads: Bybit's shapes (strings inside result, kline newest first)."""

from __future__ import annotations

MINUTE = 60_000


def test_instruments_carry_real_btcusdt_filters(http):
    [spot] = http.get_instruments_info(category="spot", symbol="BTCUSDT")["result"]["list"]
    assert spot["priceFilter"]["tickSize"] == "0.01"
    lot = spot["lotSizeFilter"]
    assert (lot["basePrecision"], lot["minOrderQty"], lot["minOrderAmt"]) == ("0.000001", "0.000048", "5")
    assert "qtyStep" not in lot  # spot has none: basePrecision is the step
    [linear] = http.get_instruments_info(category="linear", symbol="BTCUSDT")["result"]["list"]
    assert float(linear["priceFilter"]["tickSize"]) == 0.1
    lot = linear["lotSizeFilter"]
    assert (lot["qtyStep"], lot["minOrderQty"], lot["minNotionalValue"]) == ("0.001", "0.001", "5")


def test_tickers_follow_the_book_and_last_trade(bybit_fake, http):
    bybit_fake.set_book("60000", "2", "60000.5", "3")
    bybit_fake.trade("60000.5", "0.1", "Buy")
    [t] = http.get_tickers(category="spot", symbol="BTCUSDT")["result"]["list"]
    assert (t["bid1Price"], t["bid1Size"], t["ask1Price"], t["lastPrice"]) == ("60000", "2", "60000.5", "60000.5")
    bybit_fake.set_linear_ticker(mark_price="60100", funding_rate="0.0002")
    [lt] = http.get_tickers(category="linear", symbol="BTCUSDT")["result"]["list"]
    assert (lt["markPrice"], lt["fundingRate"]) == ("60100", "0.0002")
    assert int(lt["nextFundingTime"]) > bybit_fake.now_ms()


def test_kline_is_newest_first_and_aggregates(bybit_fake, http):
    t0 = 1_700_000_000_000 - 1_700_000_000_000 % (5 * MINUTE)
    bybit_fake.add_candles([(t0 + i * MINUTE, 100 + i, 101 + i, 99 + i, 100.5 + i, 1) for i in range(10)])
    rows = http.get_kline(category="spot", symbol="BTCUSDT", interval="1", limit=3)["result"]["list"]
    assert [int(r[0]) for r in rows] == [t0 + 9 * MINUTE, t0 + 8 * MINUTE, t0 + 7 * MINUTE]
    assert all(isinstance(v, str) for r in rows for v in r)
    five = http.get_kline(category="spot", symbol="BTCUSDT", interval="5")["result"]["list"]
    assert [r[0] for r in five] == [str(t0 + 5 * MINUTE), str(t0)]
    assert five[1][1:5] == ["100", "105", "99", "104.5"]  # open, high, low, close of the first 5
    # Without category Bybit defaults to linear, which has no candles here.
    assert http.get_kline(symbol="BTCUSDT", interval="1")["result"]["category"] == "linear"


def test_trades_build_the_current_candle(bybit_fake, http):
    now = bybit_fake.now_ms()
    bybit_fake.trade("50000", "0.1", "Buy", ts_ms=now)
    bybit_fake.trade("50010", "0.2", "Sell", ts_ms=now)
    [row] = http.get_kline(category="spot", symbol="BTCUSDT", interval="1")["result"]["list"]
    assert row[1:6] == ["50000", "50010", "50000", "50010", "0.3"]


def test_orderbook_and_fee_rate(http):
    book = http.get_orderbook(category="spot", symbol="BTCUSDT")["result"]
    assert book["b"] == [["50000", "1"]] and book["a"] == [["50000.1", "1"]]
    assert isinstance(book["u"], int) and isinstance(book["ts"], int)
    [fee] = http.get_fee_rates(category="spot", symbol="BTCUSDT")["result"]["list"]
    assert (fee["makerFeeRate"], fee["takerFeeRate"]) == ("0.001", "0.001")


def test_position_flat_then_short(bybit_fake, http):
    [flat] = http.get_positions(category="linear", symbol="BTCUSDT")["result"]["list"]
    assert (flat["side"], flat["size"]) == ("", "0")
    assert http.get_positions(category="linear", settleCoin="USDT")["result"]["list"] == []
    bybit_fake.set_position("-0.5", entry_price="50000", mark_price="49000", liq_price="80000")
    [pos] = http.get_positions(category="linear", settleCoin="USDT")["result"]["list"]
    assert (pos["side"], pos["size"], pos["avgPrice"], pos["markPrice"], pos["liqPrice"]) == (
        "Sell", "0.5", "50000", "49000", "80000")
    assert pos["unrealisedPnl"] == "500" and pos["positionIdx"] == 0
