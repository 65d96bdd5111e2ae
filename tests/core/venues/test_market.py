"""Market data sources: every schema, the bad-row report, merging, real files, synthetic market.

Expectations are computed by hand from the tiny fixtures in tests/data/ (each value is
written out below), and from the documented row counts of the recorded data set.
"""

from __future__ import annotations

import bisect
import gzip
import math
from array import array
from itertools import islice
from pathlib import Path

import pytest

from core.model import Quote, Side, Trade
from core.venues.market import (
    MAX_BAD_SAMPLES,
    MarketData,
    MarketDataError,
    QuoteTape,
    SyntheticMarket,
    TradeTape,
    detect_schema,
    load_file,
    load_market,
    merge_order,
    no_trades_reason,
    tick_rule_sides,
)
from core.venues.market.bars import spread_with_offsets
from core.venues.market.tapes import is_sorted

HERE = Path(__file__).resolve()
FIXTURES = HERE.parents[2] / "data"

B, S = Side.BUY, Side.SELL


@pytest.fixture(autouse=True)
def small_hand_made_timestamps(request, monkeypatch):
    """The hand-made files count milliseconds from 0 (1970) to stay readable; the loader
    accepts only 2009..2100. Tests of the real range (``real_range`` in their name) and of the
    recorded data keep it."""
    if "real_range" not in request.node.name:
        monkeypatch.setattr("core.venues.market.parse.MIN_TS_MS", 0)


def fx(name: str) -> Path:
    return FIXTURES / name


def trades_of(md: MarketData) -> list[tuple]:
    return [(t.ts_ms, t.price, t.qty, t.taker_side) for t in md.trades]


# ------------------------------------------------------------------ schemas from fixtures


def test_trades_schema():
    md = load_file(fx("market_trades.csv"))
    assert md.sources[0].schema == "trades"
    assert md.bad_rows == 0 and md.quotes is None
    assert trades_of(md) == [
        (1000, 100.5, 0.25, B),
        (1000, 100.4, 0.5, S),
        (2500, 100.6, 1.0, B),   # "BUY" in capitals is a buy too
    ]
    assert isinstance(md.trades.ts_ms, array) and md.trades.ts_ms.typecode == "q"
    assert md.trades.price.typecode == "d" and md.trades.qty.typecode == "d"
    assert isinstance(md.trades.side, bytearray) and list(md.trades.side) == [1, 0, 1]


def test_klines_expand_to_four_trade_intrabar_path():
    md = load_file(fx("market_klines.csv"))
    assert md.sources[0].schema == "klines_1m"
    assert md.sources[0].rows == 3 and md.sources[0].events == 12
    assert trades_of(md) == [
        # bar 1: 100 -> 103 closes up, so low first: open, low, high, close; qty = 4/4
        (60000, 100.0, 1.0, B),     # first trade of the file: buy
        (80000, 98.0, 1.0, S),      # down into the low
        (100000, 105.0, 1.0, B),    # up into the high
        (119999, 103.0, 1.0, S),    # down into the close, at +59.999 s
        # bar 2: 103 -> 100 closes down, so high first; qty = 8/4
        (120000, 103.0, 2.0, S),    # open == previous close: unchanged keeps the last side
        (140000, 104.0, 2.0, B),
        (160000, 99.0, 2.0, S),
        (179999, 100.0, 2.0, B),
        # bar 3: flat zero-volume (maintenance): a path of qty 0, all unchanged -> last side
        (180000, 100.0, 0.0, B),
        (200000, 100.0, 0.0, B),
        (220000, 100.0, 0.0, B),
        (239999, 100.0, 0.0, B),
    ]


def test_klines_with_extra_binance_columns():
    md = load_file(fx("market_klines_binance.csv"))
    assert trades_of(md) == [
        (0, 50.0, 0.5, B), (20000, 49.0, 0.5, S), (40000, 52.0, 0.5, B), (59999, 51.0, 0.5, S),
        (60000, 51.0, 0.25, S), (80000, 51.5, 0.25, B), (100000, 50.0, 0.25, S), (119999, 50.5, 0.25, B),
    ]


def test_bbo_schema():
    md = load_file(fx("market_bbo.csv"))
    assert md.sources[0].schema == "bbo"
    assert len(md.trades) == 0
    assert list(md.quotes) == [
        Quote(1000, 100.0, 1.5, 100.1, 2.0),
        Quote(1500, 100.1, 0.5, 100.2, 1.0),
    ]


def test_quote_bars_become_one_quote_at_bar_end_with_close_prices():
    md = load_file(fx("market_quote_bars.csv"))
    assert md.sources[0].schema == "quote_bars_1m"
    assert list(md.quotes) == [
        Quote(119999, 100.0, 1.5, 100.5, 2.5),
        Quote(239999, 100.25, 0.75, 100.75, 0.125),
    ]


def test_bybit_dump_seconds_to_ms_and_side_words():
    md = load_file(fx("market_bybit_dump.csv"))
    assert md.sources[0].schema == "bybit_dump"
    assert trades_of(md) == [
        (1670889600123, 17194.5, 0.01, B),    # 1670889600.1234 s
        (1670889600124, 17194.0, 0.5, S),     # .1236 s rounds to the nearest ms
        (1670889601000, 17193.5, 0.002, S),   # whole seconds without a fraction
    ]


def test_bybit_dump_newest_first_is_replayed_oldest_first():
    md = load_file(fx("market_bybit_dump_desc.csv"))
    assert md.bad_rows == 0
    assert trades_of(md) == [
        (1585180799000, 6700.0, 5.0, B),
        (1585180800250, 6701.0, 20.0, B),
        (1585180800500, 6700.5, 100.0, S),
    ]


def test_gzip_is_detected_by_magic_bytes_not_extension(tmp_path):
    text = fx("market_klines.csv").read_bytes()
    disguised = tmp_path / "klines.csv"            # gzip content, plain name
    disguised.write_bytes(gzip.compress(text))
    plain_gz_name = tmp_path / "klines.csv.gz"     # plain content, gzip name
    plain_gz_name.write_bytes(text)
    real_gz = tmp_path / "k.csv.gz"
    real_gz.write_bytes(gzip.compress(text))
    expected = trades_of(load_file(fx("market_klines.csv")))
    assert len(expected) == 12
    for p in (disguised, plain_gz_name, real_gz):
        assert trades_of(load_file(p)) == expected


def test_crlf_and_bom_are_tolerated(tmp_path):
    p = tmp_path / "t.csv"
    p.write_bytes(b"\xef\xbb\xbfts_ms,price,qty,side\r\n5,1.5,2,sell\r\n6,1.25,0,buy\r\n")
    md = load_file(p)
    assert md.bad_rows == 0
    assert trades_of(md) == [(5, 1.5, 2.0, S), (6, 1.25, 0.0, B)]


def test_unknown_header_is_one_clear_error(tmp_path):
    p = tmp_path / "weird.csv"
    p.write_text("time,px,size\n1,2,3\n")
    with pytest.raises(MarketDataError) as e:
        load_file(p)
    msg = str(e.value)
    assert str(p) in msg and "'time,px,size'" in msg and "ts_ms,price,qty,side" in msg


def test_detect_schema_names():
    assert detect_schema("ts_ms,price,qty,side").name == "trades"
    assert detect_schema("ts_ms,open,high,low,close,volume,quote_volume").name == "klines_1m"
    assert detect_schema("id,timestamp,price,volume,side,rpi").name == "bybit_spot_dump"
    with pytest.raises(MarketDataError):
        detect_schema("ts_ms,price")


# ------------------------------------------------------------------ bad rows


def test_bad_rows_are_counted_with_reasons():
    md = load_file(fx("market_trades_bad.csv"))
    assert trades_of(md) == [(1000, 100.0, 1.0, B), (1006, 100.5, 2.0, S)]
    assert md.bad_rows == 7
    assert md.sources[0].bad_rows == 7 and md.sources[0].rows == 2
    got = [(b.line_no, b.reason.split(":")[0]) for b in md.bad_samples]
    assert got == [
        (3, "wrong column count"),
        (4, "non-numeric"),
        (5, "non-positive price"),
        (6, "negative qty"),
        (7, "unknown side"),
        (8, "timestamp going backwards"),
        (10, "non-numeric"),   # nan is not a price
    ]
    first = md.bad_samples[0]
    assert first.file == str(fx("market_trades_bad.csv"))
    assert first.text == "1001,100.1,1.0,sell"
    assert "expected 5 columns" in first.reason and "got 4" in first.reason
    assert "column 2 (price)" in md.bad_samples[1].reason and "'abc'" in md.bad_samples[1].reason


def test_strict_mode_raises_on_first_bad_row_with_file_line_column_expectation(tmp_path):
    with pytest.raises(MarketDataError) as e:
        load_file(fx("market_trades_bad.csv"), strict=True)
    msg = str(e.value)
    assert str(fx("market_trades_bad.csv")) in msg
    assert "line 3" in msg and "expected 5 columns" in msg and "got 4" in msg

    p = tmp_path / "k.csv"
    p.write_text("ts_ms,open,high,low,close,volume\n0,1,2,0.5,1.5,3\n60000,1.5,2,1,x1.2,3\n")
    with pytest.raises(MarketDataError) as e:
        load_file(p, strict=True)
    msg = str(e.value)
    assert str(p) in msg and "line 3" in msg and "column 5 (close)" in msg
    assert "expected a number from 1e-08 to 1e+09" in msg and "'x1.2'" in msg


def test_only_the_first_samples_are_kept_but_all_are_counted(tmp_path):
    rows = ["ts_ms,price,qty,side"] + [f"{i},{i + 1}.0,1,maybe" for i in range(25)] + ["99,1,1,buy"]
    p = tmp_path / "many.csv"
    p.write_text("\n".join(rows) + "\n")
    md = load_file(p)
    assert md.bad_rows == 25
    assert len(md.bad_samples) == MAX_BAD_SAMPLES == 20
    assert [b.line_no for b in md.bad_samples] == list(range(2, 22))
    assert trades_of(md) == [(99, 1.0, 1.0, B)]


def test_crossed_quote_is_a_bad_row(tmp_path):
    p = tmp_path / "bbo.csv"
    p.write_text("ts_ms,recv_ts_ms,bid,bid_qty,ask,ask_qty,update_id\n1,0,10,1,11,1,1\n2,0,12,1,11,1,2\n")
    md = load_file(p)
    assert md.bad_rows == 1 and md.bad_samples[0].line_no == 3
    assert md.bad_samples[0].reason.startswith("crossed quote")
    assert list(md.quotes) == [Quote(1, 10.0, 1.0, 11.0, 1.0)]


def test_fast_path_hazards_fall_back_to_row_checks(tmp_path):
    # a quoted field, an inf and a digit separator must not slip through the bulk parser
    p = tmp_path / "t.csv"
    p.write_text('ts_ms,price,qty,side\n1,"2.5",1,buy\n2,inf,1,buy\n3,1_000,1,sell\n4,3,1,sell\n')
    md = load_file(p)
    assert trades_of(md) == [(1, 2.5, 1.0, B), (4, 3.0, 1.0, S)]
    assert [b.line_no for b in md.bad_samples] == [3, 4]


@pytest.mark.parametrize("header, rows", [
    ("ts_ms,open,high,low,close,volume", ["60000,1,2,0.5,1.5,1", "60000,3,4,2.5,3.5,1", "120000,2,3,1,2,1"]),
    ("ts_ms,bid_open,bid_high,bid_low,bid_close,last_bid_size,ask_open,ask_high,ask_low,ask_close,last_ask_size",
     ["60000,1,1,1,1,1,2,2,2,2,1", "60000,1,1,1,1,1,2,2,2,2,1", "120000,1,1,1,1,1,2,2,2,2,1"]),
])
def test_a_minute_twice_in_a_bar_file_is_a_bad_row(tmp_path, header, rows):
    """A bar file with a minute twice (a recorder that re-wrote its last bar, two exports
    pasted together) replayed it twice, with twice the grid's fills, and said nothing."""
    p = tmp_path / "bars.csv"
    p.write_text("\n".join([header, *rows]) + "\n")
    md = load_file(p)
    assert md.bad_rows == 1 and md.bad_samples[0].line_no == 3
    assert md.bad_samples[0].reason.startswith("duplicate bar")
    with pytest.raises(MarketDataError, match="line 3"):
        load_file(p, strict=True)


def test_the_same_file_twice_is_refused(tmp_path):
    p = fx("market_trades.csv")
    with pytest.raises(MarketDataError, match="given twice"):
        load_market([p, p])
    (tmp_path / "link.csv").symlink_to(p)
    with pytest.raises(MarketDataError, match="the same file as"):
        load_market([p, tmp_path / "link.csv"])


def test_quotes_of_another_period_than_the_trades_are_refused(tmp_path):
    """Trades of one day with quotes of another merged into one tape: every trade then met a
    quote from another year (the replay said 0 % over the band)."""
    later = tmp_path / "bbo.csv"
    later.write_text("ts_ms,recv_ts_ms,bid,bid_qty,ask,ask_qty,update_id\n"
                     "9000000,0,10,1,11,1,1\n9001000,0,10,1,11,1,2\n")
    with pytest.raises(MarketDataError, match="cover different periods"):
        load_market([fx("market_trades.csv"), later])


# ------------------------------------------------------------------ merging


def test_merge_trades_and_quotes_quotes_first_at_equal_ts():
    md = load_market([fx("market_trades.csv"), fx("market_bbo.csv")])
    events = list(md.iter_events())
    assert events == [
        Quote(1000, 100.0, 1.5, 100.1, 2.0),
        Trade(1000, 100.5, 0.25, B),
        Trade(1000, 100.4, 0.5, S),
        Quote(1500, 100.1, 0.5, 100.2, 1.0),
        Trade(2500, 100.6, 1.0, B),
    ]
    assert md.merge_order() == bytes([0, 1, 1, 0, 1])
    assert len(md) == 5 and md.start_ms == 1000 and md.end_ms == 2500
    assert [s.schema for s in md.sources] == ["trades", "bbo"]


def test_merge_kline_close_and_quote_bar_share_the_bar_end():
    md = load_market([fx("market_klines.csv"), fx("market_quote_bars.csv")])
    kinds = [(type(e).__name__, e.ts_ms) for e in md.iter_events()]
    assert kinds[:6] == [
        ("Trade", 60000), ("Trade", 80000), ("Trade", 100000),
        ("Quote", 119999), ("Trade", 119999), ("Trade", 120000),
    ]


def test_merge_two_trade_files_is_stable_by_timestamp(tmp_path):
    a = tmp_path / "a.csv"
    a.write_text("ts_ms,price,qty,side\n1000,1,1,buy\n3000,3,1,buy\n")
    b = tmp_path / "b.csv"
    b.write_text("ts_ms,price,qty,side\n1000,2,1,sell\n2000,4,1,sell\n")
    md = load_market([a, b])
    assert trades_of(md) == [(1000, 1.0, 1.0, B), (1000, 2.0, 1.0, S), (2000, 4.0, 1.0, S), (3000, 3.0, 1.0, B)]


def test_no_trades_reason_names_each_file_and_why(tmp_path):
    header_only = tmp_path / "empty.csv"
    header_only.write_text("ts_ms,price,qty,side\n")
    all_bad = tmp_path / "bad.csv"
    all_bad.write_text("ts_ms,price,qty,side\n1000,-1,1,buy\n")
    md = load_market([fx("market_bbo.csv"), header_only, all_bad])
    assert len(md.trades) == 0
    assert no_trades_reason(md) == (
        f"no trades to replay: {fx('market_bbo.csv')} holds quotes only (bbo): give a trades or klines file too; "
        f"{header_only} has no data rows; {all_bad} has no good rows (1 bad)")


def test_merge_order_helper_and_window():
    assert merge_order(array("q", [1, 2, 2]), array("q", [2, 3])) == bytes([1, 0, 1, 1, 0])
    assert merge_order(array("q", [5]), None) == b"\x01"
    md = load_market([fx("market_trades.csv"), fx("market_bbo.csv")])
    w = md.window(1000, 2500)
    assert [e.ts_ms for e in w.iter_events()] == [1000, 1000, 1000, 1500]


# ------------------------------------------------------------------ vectorised helpers


def _tick_rule_reference(prices):
    out, last, prev = [], 1, None
    for p in prices:
        if prev is not None:
            if p > prev:
                last = 1
            elif p < prev:
                last = 0
        out.append(last)
        prev = p
    return out


def test_tick_rule_sides_matches_a_plain_loop():
    prices = [5.0, 5.0, 4.0, 4.0, 4.0, 4.0, 4.0, 6.0, 6.0, 5.5, 5.5, 7.0, 7.0, 7.0]
    assert list(tick_rule_sides(array("d", prices))) == [1, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1, 1]
    assert list(tick_rule_sides(array("d", prices))) == _tick_rule_reference(prices)
    assert tick_rule_sides(array("d")) == bytearray()


def test_big_integer_column_tricks_match_plain_arithmetic():
    ts = array("q", [1_670_889_600_000 + 60_000 * i for i in range(5000)])
    spread = spread_with_offsets(ts, (0, 20_000, 40_000, 59_999))
    assert len(spread) == 20_000 and spread[-1] == ts[-1] + 59_999
    assert spread[:8].tolist() == [
        1_670_889_600_000, 1_670_889_620_000, 1_670_889_640_000, 1_670_889_659_999,
        1_670_889_660_000, 1_670_889_680_000, 1_670_889_700_000, 1_670_889_719_999,
    ]
    assert is_sorted(ts)
    unsorted = array("q", ts)
    unsorted[2500], unsorted[2501] = unsorted[2501], unsorted[2500]
    assert not is_sorted(unsorted)
    equal_run = array("q", [7] * 5000)
    assert is_sorted(equal_run)
    negative = array("q", [-5] + [7] * 5000)          # out of the fast path's range: plain check
    assert is_sorted(negative) and not is_sorted(array("q", [7] * 5000 + [-5]))
    tail_drop = array("q", ts)
    tail_drop[-1] = tail_drop[-2] - 1
    assert not is_sorted(tail_drop)


# ------------------------------------------------------------------ real recorded files


def test_real_bybit_spot_day_1440_bars_5760_trades(shared_data):
    md = load_file(shared_data("bybit_spot_BTCUSDT_1m_2022-12-13.csv.gz"))
    assert md.bad_rows == 0
    assert md.sources[0].rows == 1440 and len(md.trades) == 5760
    t = md.trades
    # README: open 17,208.86 at 00:00 UTC; first bar 17208.86,17212.99,17205,17205 closes down
    assert t[0] == Trade(1670889600000, 17208.86, 1.549151 / 4, B)
    assert (t.price[1], t.price[2], t.price[3]) == (17212.99, 17205.0, 17205.0)
    assert t.ts_ms[-1] == 1670889600000 + 1439 * 60000 + 59999
    assert max(t.price) == 17977.0 and min(t.price) == 17079.31
    assert list(t.side) == _tick_rule_reference(t.price)


def test_row_checks_and_bulk_parser_agree_on_real_data(tmp_path, shared_data):
    # one injected bad row sends the whole file down the row-by-row path: the good rows
    # must come out exactly as the bulk parser makes them
    for name in ("bybit_spot_BTCUSDT_1m_2022-12-13.csv.gz",
                 "binance_spot_BTCUSDT_trades_2024-08-08T235415Z_235959Z.csv.gz",
                 "bybit_spot_BTCUSDT_1m_quotes_2022-12-13_0000-1200.csv.gz"):
        src = shared_data(name)
        lines = gzip.decompress(src.read_bytes()).decode().split("\n")
        lines.insert(500, "1,2,3")
        damaged = tmp_path / name
        damaged.write_bytes(gzip.compress("\n".join(lines).encode()))
        fast, slow = load_file(src), load_file(damaged)
        assert fast.bad_rows == 0 and slow.bad_rows == 1 and slow.bad_samples[0].line_no == 501
        assert slow.trades == fast.trades and slow.quotes == fast.quotes
        assert len(fast) > 700


def test_real_binance_spot_trades_and_bbo(shared_data):
    trades = load_file(shared_data("binance_spot_BTCUSDT_trades_2024-08-08T235415Z_235959Z.csv.gz"))
    assert trades.bad_rows == 0 and len(trades.trades) == 9738
    assert trades.trades[0] == Trade(1723161255342, 61837.63, 0.02, S)
    vwap = sum(p * q for p, q in zip(trades.trades.price, trades.trades.qty)) / sum(trades.trades.qty)
    assert round(vwap, 2) == 61707.70          # README: VWAP 61,707.70
    assert round(sum(trades.trades.qty), 1) == 211.9
    both = load_market([
        shared_data("binance_spot_BTCUSDT_trades_2024-08-08T235415Z_235959Z.csv.gz"),
        shared_data("binance_spot_BTCUSDT_bbo_2024-08-08T235415Z_235959Z.csv.gz"),
    ])
    assert both.bad_rows == 0 and len(both.quotes) == 27975 and len(both) == 9738 + 27975
    ts = [e.ts_ms for e in both.iter_events()]
    assert ts == sorted(ts)


def test_real_binance_usdm_trades_and_bbo(shared_data):
    md = load_market([
        shared_data("binance_usdm_BTCUSDT_trades_2024-08-08T235416Z_235959Z.csv.gz"),
        shared_data("binance_usdm_BTCUSDT_bbo_2024-08-08T235416Z_235959Z.csv.gz"),
    ])
    assert md.bad_rows == 0 and len(md.trades) == 21313 and len(md.quotes) == 66088
    assert round(sum(md.trades.qty), 1) == 2429.4


def test_real_bybit_linear_files_and_quote_bars(shared_data):
    month = load_file(shared_data("bybit_linear_BTCUSDT_1m_2024-12-31T21Z_2025-01-31.csv.gz"))
    assert month.bad_rows == 0 and month.sources[0].rows == 44820 and len(month.trades) == 4 * 44820
    assert max(month.trades.price) == 109951.7     # README: all-time high on 2025-01-20
    assert list(month.trades.side) == _tick_rule_reference(month.trades.price)
    half = load_file(shared_data("bybit_linear_BTCUSDT_1m_2022-12-13_0000-1200.csv.gz"))
    assert half.bad_rows == 0 and len(half.trades) == 4 * 721
    spot_q = load_file(shared_data("bybit_spot_BTCUSDT_1m_quotes_2022-12-13_0000-1200.csv.gz"))
    perp_q = load_file(shared_data("bybit_linear_BTCUSDT_1m_quotes_2022-12-13_0000-1200.csv.gz"))
    assert spot_q.bad_rows == 0 and len(spot_q.quotes) == 721
    assert perp_q.bad_rows == 0 and len(perp_q.quotes) == 460
    # first spot quote bar: bid_close 17205.01 / ask_close 17206.77, at the end of minute 0
    assert spot_q.quotes[0] == Quote(1670889659999, 17205.01, 0.00531, 17206.77, 0.00416)
    spreads = sorted(a - b for a, b in zip(spot_q.quotes.ask, spot_q.quotes.bid))
    assert round(spreads[len(spreads) // 2], 2) == 1.91  # README: median close spread 1.91


def test_real_binance_usdm_eight_months_352800_bars(shared_data):
    md = load_file(shared_data("binance_usdm_BTCUSDT_1m_2022-05-01_2022-12-31.csv.gz"))
    assert md.bad_rows == 0 and md.sources[0].rows == 352800
    t = md.trades
    assert len(t) == 1_411_200
    # first bar 37614.4,37655.9,37584.0,37635.2 vol 445.259 closes up: open, low, high, close
    assert [t[i] for i in range(4)] == [
        Trade(1651363200000, 37614.4, 445.259 / 4, B),
        Trade(1651363220000, 37584.0, 445.259 / 4, S),
        Trade(1651363240000, 37655.9, 445.259 / 4, B),
        Trade(1651363259999, 37635.2, 445.259 / 4, S),
    ]
    assert t.ts_ms[-1] == 1651363200000 + 352799 * 60000 + 59999
    assert t.qty.count(0.0) == 4 * 64          # README: 64 zero-volume maintenance bars
    # spot-check the vectorised sides against the plain tick rule on a slice
    assert list(t.side[:200_000]) == _tick_rule_reference(t.price[:200_000])


# ------------------------------------------------------------------ recorded excerpts (always present)

# excerpt -> (schema, rows, events per row): real rows cut from ../shared/data (tests/fixtures/README.md)
EXCERPTS = {
    "bybit_spot_BTCUSDT_1m_2022-12-13_0000-0600.csv.gz": ("klines_1m", 360, 4),
    "bybit_spot_BTCUSDT_1m_quotes_2022-12-13_0000-0600.csv.gz": ("quote_bars_1m", 360, 1),
    "bybit_linear_BTCUSDT_1m_2022-12-13_0000-0600.csv.gz": ("klines_1m", 360, 4),
    "bybit_linear_BTCUSDT_1m_quotes_2022-12-13_0000-0600.csv.gz": ("quote_bars_1m", 211, 1),
    "bybit_linear_BTCUSDT_1m_2025-01-20.csv.gz": ("klines_1m", 1440, 4),
    "binance_usdm_BTCUSDT_1m_2022-05-01_0000-0600.csv.gz": ("klines_1m", 360, 4),
    "binance_spot_BTCUSDT_trades_2024-08-08T235415Z_30s.csv.gz": ("trades", 546, 1),
    "binance_spot_BTCUSDT_bbo_2024-08-08T235415Z_30s.csv.gz": ("bbo", 2395, 1),
    "binance_usdm_BTCUSDT_trades_2024-08-08T235416Z_15s.csv.gz": ("trades", 540, 1),
    "binance_usdm_BTCUSDT_bbo_2024-08-08T235416Z_15s.csv.gz": ("bbo", 2942, 1),
}


def _cutter():
    """scripts/cut_test_excerpts.py, the script that cut the excerpts (not a package module)."""
    import importlib.util

    path = HERE.parents[3] / "scripts" / "cut_test_excerpts.py"
    spec = importlib.util.spec_from_file_location("cut_test_excerpts", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", sorted(EXCERPTS))
def test_excerpt_loads_clean_in_time_order(name, excerpt):
    schema, rows, per_row = EXCERPTS[name]
    md = load_file(excerpt(name))
    src = md.sources[0]
    assert (md.bad_rows, src.schema, src.rows, src.events, len(md)) == (0, schema, rows, rows * per_row, rows * per_row)
    tape = md.quotes if md.quotes is not None else md.trades
    assert is_sorted(tape.ts_ms)
    if md.quotes is not None:
        assert all(b <= a for b, a in zip(md.quotes.bid, md.quotes.ask))
    else:
        assert set(md.trades.side) == {0, 1} and min(md.trades.price) > 0


@pytest.mark.parametrize("name", sorted(EXCERPTS))
def test_row_checks_and_bulk_parser_agree_on_every_excerpt(name, excerpt, tmp_path):
    """One injected bad row sends the file down the row-by-row path: the good rows must come
    out exactly as the bulk parser makes them."""
    src = excerpt(name)
    lines = gzip.decompress(src.read_bytes()).decode().split("\n")
    lines.insert(100, "1,2,3")
    damaged = tmp_path / name
    damaged.write_bytes(gzip.compress("\n".join(lines).encode()))
    fast, slow = load_file(src), load_file(damaged)
    assert fast.bad_rows == 0 and slow.bad_rows == 1 and slow.bad_samples[0].line_no == 101
    assert slow.trades == fast.trades and slow.quotes == fast.quotes


def test_excerpt_bybit_spot_first_bars_and_tick_rule_sides(excerpt):
    t = load_file(excerpt("bybit_spot_BTCUSDT_1m_2022-12-13_0000-0600.csv.gz")).trades
    # README: open 17,208.86 at 00:00 UTC; the first bar 17208.86,17212.99,17205,17205 closes down
    assert t[0] == Trade(1670889600000, 17208.86, 1.549151 / 4, B)
    assert (t.price[1], t.price[2], t.price[3]) == (17212.99, 17205.0, 17205.0)
    assert t.ts_ms[-1] == 1670889600000 + 359 * 60000 + 59999
    assert list(t.side) == _tick_rule_reference(t.price)


def test_excerpt_bybit_linear_day_of_the_all_time_high(excerpt):
    t = load_file(excerpt("bybit_linear_BTCUSDT_1m_2025-01-20.csv.gz")).trades
    assert max(t.price) == 109951.7     # README: the month's all-time high, on 2025-01-20
    assert list(t.side) == _tick_rule_reference(t.price)


def test_excerpt_binance_klines_with_extra_columns(excerpt):
    md = load_file(excerpt("binance_usdm_BTCUSDT_1m_2022-05-01_0000-0600.csv.gz"))
    # first bar 37614.4,37655.9,37584.0,37635.2 vol 445.259 closes up: open, low, high, close
    assert [md.trades[i] for i in range(4)] == [
        Trade(1651363200000, 37614.4, 445.259 / 4, B),
        Trade(1651363220000, 37584.0, 445.259 / 4, S),
        Trade(1651363240000, 37655.9, 445.259 / 4, B),
        Trade(1651363259999, 37635.2, 445.259 / 4, S),
    ]


@pytest.mark.parametrize("trades, bbo", [
    ("binance_spot_BTCUSDT_trades_2024-08-08T235415Z_30s.csv.gz", "binance_spot_BTCUSDT_bbo_2024-08-08T235415Z_30s.csv.gz"),
    ("binance_usdm_BTCUSDT_trades_2024-08-08T235416Z_15s.csv.gz", "binance_usdm_BTCUSDT_bbo_2024-08-08T235416Z_15s.csv.gz"),
])
def test_excerpt_trades_and_bbo_replay_quotes_first_at_equal_times(trades, bbo, excerpt):
    md = load_market([excerpt(trades), excerpt(bbo)])
    assert md.bad_rows == 0 and len(md) == EXCERPTS[trades][1] + EXCERPTS[bbo][1]
    events = list(md.iter_events())
    keys = [(e.ts_ms, isinstance(e, Trade)) for e in events]
    assert keys == sorted(keys)  # time order; at one ts the quote (False) before the trade


@pytest.mark.parametrize("name", sorted(EXCERPTS))
def test_excerpt_is_the_recorded_rows_byte_for_byte(name, excerpt, shared_data):
    cutter = _cutter()
    source, start, end = cutter.EXCERPTS[name]
    full = gzip.decompress(shared_data(source).read_bytes()).decode()
    cut = gzip.decompress(excerpt(name).read_bytes()).decode()
    assert cut == cutter.cut_text(full, start, end)
    assert cut.count("\n") - 1 == EXCERPTS[name][1]


def test_excerpts_stay_small(repo_root):
    """The excerpts and the hand-made files together stay under 200 KB (issue 12)."""
    files = list((repo_root / "tests" / "fixtures").glob("*.csv.gz")) + list((repo_root / "tests" / "data").iterdir())
    assert sorted(p.name for p in (repo_root / "tests" / "fixtures").glob("*.csv.gz")) == sorted(EXCERPTS)
    assert sum(p.stat().st_size for p in files) <= 200 * 1024


# ------------------------------------------------------------------ tapes


def test_tape_concat_window_and_equality():
    a = TradeTape()
    a.append(1, 10.0, 1.0, 1)
    a.append(3, 11.0, 2.0, 0)
    b = TradeTape()
    b.append(2, 12.0, 3.0, 1)
    m = TradeTape.concat([a, b])
    assert list(m.ts_ms) == [1, 2, 3] and list(m.price) == [10.0, 12.0, 11.0]
    assert m.window(2, 3) == TradeTape(array("q", [2]), array("d", [12.0]), array("d", [3.0]), bytearray([1]))
    with pytest.raises(ValueError):
        TradeTape(array("q", [1]), array("d"), array("d"), bytearray())
    q = QuoteTape()
    q.append(5, 1.0, 2.0, 1.5, 3.0)
    assert q[0] == Quote(5, 1.0, 2.0, 1.5, 3.0) and q[0].mid == 1.25


# ------------------------------------------------------------------ synthetic market

T0 = 1_700_000_000_000


def test_synthetic_is_deterministic_per_seed():
    a = SyntheticMarket(7, T0).tape(600_000)
    b = SyntheticMarket(7, T0).tape(600_000)
    c = SyntheticMarket(8, T0).tape(600_000)
    assert len(a.trades) > 100
    assert a.trades == b.trades and a.quotes == b.quotes
    assert a.trades != c.trades


def test_synthetic_events_and_tape_are_the_same_stream():
    m = SyntheticMarket(3, T0, start_price=30000.0)
    until = T0 + 300_000
    assert list(m.events(until)) == list(m.tape(300_000).iter_events())
    # unbounded, lazy: the first events arrive without generating a whole day
    first = list(islice(m.events(), 50))
    assert first == list(islice(m.tape(300_000).iter_events(), 50))


def test_synthetic_microstructure():
    md = SyntheticMarket(11, T0).tape(3_600_000)
    tr, qt = md.trades, md.quotes
    secs = 3600
    assert 1.0 <= len(tr) / secs <= 10.0                     # a few trades per second
    ts = list(tr.ts_ms)
    assert ts == sorted(ts) and ts[0] >= T0 and ts[-1] < T0 + 3_600_000
    gaps = [b - a for a, b in zip(ts, ts[1:])]
    assert len(set(gaps)) > 100                              # random, not fixed-interval
    for p in list(tr.price) + list(qt.bid) + list(qt.ask):
        assert abs(p * 100 - round(p * 100)) < 1e-6          # on the 0.01 tick
    spreads = {round((a - b) * 100) for a, b in zip(qt.ask, qt.bid)}
    assert spreads <= {1, 2, 3} and 1 in spreads
    # trades print at the touch on their taker side: buys at the ask, sells at the bid
    # (the prevailing quote: the last one at or before the trade)
    for t in islice(tr, 2000):
        q = qt[bisect.bisect_right(qt.ts_ms, t.ts_ms) - 1]
        assert t.price == (q.ask if t.taker_side is B else q.bid)
    # heavy-tailed sizes: the largest trade dwarfs the median
    qs = sorted(tr.qty)
    assert qs[-1] > 50 * qs[len(qs) // 2] and qs[0] > 0


def _acf(x: list[float], lag: int = 1) -> float:
    m = sum(x) / len(x)
    den = sum((v - m) ** 2 for v in x)
    return sum((x[i] - m) * (x[i + lag] - m) for i in range(len(x) - lag)) / den


def test_synthetic_volatility_clusters_but_returns_do_not_trend():
    m = SyntheticMarket(2024, T0)
    tr = m.tape(24 * 3_600_000).trades
    closes = [tr.price[bisect.bisect_left(tr.ts_ms, T0 + k * 60_000) - 1] for k in range(1, 1441)]
    r = [math.log(b / a) for a, b in zip(closes, closes[1:])]
    assert _acf([abs(v) for v in r]) > 0.12     # clustering (real BTC 1-min: ~0.4)
    assert abs(_acf(r)) < 0.1                    # but no predictable direction
    # fat tails of 1-minute returns (a Gaussian walk has excess kurtosis ~0)
    sd = math.sqrt(sum(v * v for v in r) / len(r))
    assert sum(v ** 4 for v in r) / len(r) / sd ** 4 - 3 > 1.0


def test_synthetic_rejects_bad_parameters():
    with pytest.raises(ValueError):
        SyntheticMarket(1, T0, start_price=0)
    with pytest.raises(ValueError):
        SyntheticMarket(1, T0, garch_alpha=0.5, garch_beta=0.6)
    with pytest.raises(ValueError):
        list(islice(SyntheticMarket(1, T0, tick=0.03).events(), 1))


# ------------------------------------------------------------------ hostile files (issue 14): the real range

T = 1_700_000_000_000  # 2023-11-14, inside the accepted 2009..2100


def _trades_file(tmp_path, rows: list[str], name="t.csv") -> Path:
    p = tmp_path / name
    p.write_text("ts_ms,price,qty,side\n" + "\n".join(rows) + "\n")
    return p


GOOD = [f"{T + i * 1000},{60_000 + i},0.01,buy" for i in range(10)]


@pytest.mark.parametrize("bad_row, category", [
    (f"{T + 500},1e308,0.01,buy", "price out of range"),
    (f"{T + 500},1e-320,0.01,buy", "price out of range"),
    (f"{T + 500},60000,1e308,buy", "qty out of range"),
    ("12345678901234567890,60000,0.01,buy", "timestamp out of range"),
    ("9223372036854775807,60000,0.01,buy", "timestamp out of range"),
    ("-5,60000,0.01,buy", "timestamp out of range"),
    (f"{T + 500},60000,0.01,buy", None),  # the control: accepted
])
def test_real_range_a_number_out_of_range_is_a_counted_bad_row(tmp_path, bad_row, category):
    md = load_file(_trades_file(tmp_path, GOOD[:1] + [bad_row] + GOOD[1:]))
    if category is None:
        assert md.bad_rows == 0 and len(md.trades) == 11
        return
    assert md.bad_rows == 1 and len(md.trades) == 10, md.bad_samples
    assert md.bad_samples[0].line_no == 3 and md.bad_samples[0].reason.startswith(category)


def test_real_range_one_far_future_first_row_does_not_drop_the_rest(tmp_path):
    """A Bybit spot dump whose first row is in 2286: the row is bad, the other 2,399 stay."""
    rows = ["id,timestamp,price,volume,side", f"1,9999999999999,60000,0.01,buy"]
    rows += [f"{i},{T + i * 100},{60_000 + i % 7},0.01,{'buy' if i % 2 else 'sell'}" for i in range(2, 2401)]
    p = tmp_path / "dump.csv"
    p.write_text("\n".join(rows) + "\n")
    md = load_file(p)
    assert md.bad_rows == 1 and len(md.trades) == 2399
    assert md.bad_samples[0].reason.startswith("timestamp out of range")


@pytest.mark.parametrize("bar, ok", [
    ("100,105,98,103", True), ("100,98,105,103", False),  # high < low
    ("110,105,98,103", False), ("100,105,98,97", False),  # open above the high, close below the low
])
def test_real_range_bars_must_hold_open_and_close_between_low_and_high(tmp_path, bar, ok):
    p = tmp_path / "k.csv"
    p.write_text(f"ts_ms,open,high,low,close,volume\n{T},100,101,99,100,1\n{T + 60_000},{bar},2\n{T + 120_000},100,101,99,100,1\n")
    md = load_file(p)
    assert md.bad_rows == (0 if ok else 1)
    if not ok:
        assert md.bad_samples[0].reason.startswith("bar out of order") and md.bad_samples[0].line_no == 3


@pytest.mark.parametrize("scale, words", [(1e-3, "look like seconds"), (1e3, "look like microseconds")])
def test_real_range_timestamps_in_another_unit_are_refused(tmp_path, scale, words):
    rows = [f"{int((T + i * 1000) * scale)},60000,0.01,buy" for i in range(40)]
    with pytest.raises(MarketDataError, match=words) as e:
        load_file(_trades_file(tmp_path, rows))
    assert "convert the column to milliseconds" in str(e.value)


def test_real_range_a_bybit_dump_in_milliseconds_is_refused(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("timestamp,symbol,side,size,price,tickDirection,trdMatchID,grossValue,homeNotional,foreignNotional\n"
                 + "".join(f"{T + i},BTCUSDT,Buy,0.01,60000,PlusTick,x{i},1,1,1\n" for i in range(20)))
    with pytest.raises(MarketDataError, match="look like milliseconds"):
        load_file(p)


def test_real_range_a_shuffled_file_is_refused_not_silently_thinned(tmp_path):
    rows = [f"{T + ((i * 7919) % 400) * 1000},60000,0.01,buy" for i in range(400)]
    with pytest.raises(MarketDataError, match="not in time order"):
        load_file(_trades_file(tmp_path, rows))
    # one stray row is still just a bad row
    md = load_file(_trades_file(tmp_path, GOOD[:5] + [f"{T},1,1,buy"] + GOOD[5:], name="one.csv"))
    assert md.bad_rows == 1 and md.bad_samples[0].reason.startswith("timestamp going backwards")
