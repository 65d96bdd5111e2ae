"""The report's numbers on a small hand-built journal, each one computed by hand below."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from core.journal import Journal, JournalError
from core.journal.reader import open_reader
from core.model import Action, Decision, Fill, Order, OrderStatus, Side, TimeInForce
from core.report import fee_in_quote, format_report, report, summarize

T0 = 1_700_000_000_000  # 2023-11-14 22:13:20 UTC


def decision(ts, action, side, price):
    return Decision(ts_ms=ts, policy="anchor", action=action, side=side,
                    qty_base=0.0 if side is None else 1.0, gap_base=0.5, net_base=0.5,
                    target_base=0.0, price=price)


def order(cid, side, qty, price, tif, status, filled="0", created=0):
    return Order(client_id=cid, order_id="o" + cid, symbol="BTCUSDT", side=side,
                 qty=Decimal(qty), price=Decimal(price), tif=tif, status=status,
                 filled_qty=Decimal(filled), created_ms=created)


def fill(ts, eid, cid, side, price, qty, fee, coin, maker, source="rebalancer"):
    return Fill(ts_ms=ts, exec_id=eid, symbol="BTCUSDT", side=side, price=Decimal(price),
                qty=Decimal(qty), fee=Decimal(fee), fee_coin=coin, is_maker=maker,
                client_id=cid, source=source)


def build(j: Journal) -> None:
    j.record_decision(decision(T0 + 1_000, Action.HOLD, None, 99.0), "auto", "held")
    d2 = j.record_decision(decision(T0 + 2_000, Action.PARTIAL, Side.SELL, 100.0), "auto", "executed")
    # a later SELL decision at another price: c1 is linked to d2, so this must not be used
    j.record_decision(decision(T0 + 2_500, Action.PARTIAL, Side.SELL, 150.0), "auto", "refused:cooldown")
    j.record_decision(decision(T0 + 5_000, Action.FULL, Side.BUY, 200.0), "auto", "executed")

    # c1: SELL 0.5 post-only, linked to decision d2 (ref 100), two maker fills
    j.record_order(T0 + 2_001, order("c1", Side.SELL, "0.5", "100.10", TimeInForce.POST_ONLY,
                                     OrderStatus.NEW), "placed", decision_id=d2)
    j.record_fill(fill(T0 + 2_100, "e1", "c1", Side.SELL, "100.10", "0.2", "0.01", "USDT", True))
    j.record_order(T0 + 2_100, order("c1", Side.SELL, "0.5", "100.10", TimeInForce.POST_ONLY,
                                     OrderStatus.PARTIALLY_FILLED, "0.2"), "fill")
    j.record_fill(fill(T0 + 2_200, "e2", "c1", Side.SELL, "100.00", "0.3", "0.03", "USDT", True))
    j.record_order(T0 + 2_200, order("c1", Side.SELL, "0.5", "100.10", TimeInForce.POST_ONLY,
                                     OrderStatus.FILLED, "0.5"), "fill")
    # c2: BUY 1.0 IOC, not linked: the latest BUY decision at/before creation (ref 200)
    j.record_order(T0 + 5_002, order("c2", Side.BUY, "1.0", "200.60", TimeInForce.IOC,
                                     OrderStatus.NEW, created=T0 + 5_001), "placed")
    j.record_fill(fill(T0 + 5_003, "e3", "c2", Side.BUY, "200.50", "1.0", "0.001", "BTC", False))
    j.record_fill(fill(T0 + 5_003, "e3", "c2", Side.BUY, "200.50", "1.0", "0.001", "BTC", False))
    j.record_order(T0 + 5_003, order("c2", Side.BUY, "1.0", "200.60", TimeInForce.IOC,
                                     OrderStatus.FILLED, "1.0"), "fill")
    # c3: cancelled without a fill
    j.record_order(T0 + 5_500, order("c3", Side.BUY, "0.1", "199.00", TimeInForce.POST_ONLY,
                                     OrderStatus.NEW), "placed")
    j.record_order(T0 + 5_600, order("c3", Side.BUY, "0.1", "199.00", TimeInForce.POST_ONLY,
                                     OrderStatus.CANCELLED), "cancelled")
    # the grid bot's fill is not ours
    j.record_fill(fill(T0 + 3_000, "g1", "", Side.BUY, "100", "5", "0.5", "USDT", True, "grid"))

    for ts, net, target in ((0, "0.5", "0"), (1_000, "-0.2", "0"), (4_000, "0.1", "0.1"),
                            (5_000, "1.0", "0")):
        j.record_snapshot(T0 + ts, spot_base=net, quote="1000", futures_size="0", price="100",
                          net_base=net, equity_quote="1050", target_base=target)
    # a snapshot without a target is not part of tracking
    j.record_snapshot(T0 + 5_900, spot_base="9", quote="0", futures_size="0", price="100",
                      net_base="9", equity_quote="900")
    j.record_error(T0 + 6_000, "rate limited", 10006)
    j.record_error(T0 + 6_000, "timeout")


@pytest.fixture
def summary(tmp_path):
    path = tmp_path / "acct-paper-BTCUSDT.sqlite"
    with Journal(path, meta={"account": "acct", "venue": "paper", "symbol": "BTCUSDT"}) as j:
        build(j)
    return summarize(path)


def test_volume_fees_and_maker_share(summary):
    f = summary["detail"]
    assert summary["fills"] == 3  # e1, e2, e3 (e3 once: de-duplicated; g1 is the grid's)
    assert Decimal(f["volume_base"]) == Decimal("1.5")  # 0.2 + 0.3 + 1.0
    assert summary["rebalance_volume_base"] == 1.5
    assert f["volume_quote"] == "250.52"  # 20.02 + 30.00 + 200.50, exact
    assert summary["rebalance_volume_quote"] == 250.52
    assert (Decimal(f["buy_base"]), Decimal(f["sell_base"])) == (Decimal("1.0"), Decimal("0.5"))
    assert (summary["maker_fills"], summary["taker_fills"]) == (2, 1)
    assert f["maker_share_count"] == pytest.approx(2 / 3)
    assert f["maker_share_volume"] == pytest.approx(0.5 / 1.5)
    # 0.01 + 0.03 USDT, plus 0.001 BTC at 200.50 = 0.2005
    assert f["fees_quote"] == "0.2405" and summary["fees_quote"] == 0.2405
    assert f["fee_bps"] == pytest.approx(0.2405 / 250.52 * 1e4)
    assert f["other_sources"] == {"grid": 1}


def test_cost_against_the_decision_price_in_a_journal_without_arrivals(summary):
    f = summary
    # e1 SELL 0.2 @100.10 vs 100: -(0.10 x 0.2) + 0.01 fee = -0.01
    # e2 SELL 0.3 @100.00 vs 100:  0            + 0.03     =  0.03
    # e3 BUY  1.0 @200.50 vs 200: +(0.50 x 1.0) + 0.2005   =  0.7005
    # total 0.7205 over reference notional 0.2x100 + 0.3x100 + 1.0x200 = 250
    assert f["cost_quote"] == pytest.approx(0.7205)
    assert f["cost_bps"] == pytest.approx(28.82)
    assert f["unreferenced_fills"] == 0
    assert f["cost_spread_bps"] == 0.0  # no touch known: the price part is all drift
    assert f["cost_drift_bps"] == pytest.approx((0.7205 - 0.2405) / 250 * 1e4, abs=1e-3)


def test_cost_against_the_arrival_with_its_split_and_markouts():
    """A journal as a session writes it: the arrival row of each rebalance, the markout rows."""
    from core.costs import Arrival

    with Journal() as j:
        d = j.record_decision(decision(T0, Action.PARTIAL, Side.SELL, 100.0), "auto", "executed")
        j.record_arrival("rbX1", d, Arrival(T0, 100.0, 99.9, 100.1), Side.SELL, "0.5", "soft")
        j.record_order(T0 + 1, order("rbX1-0", Side.SELL, "0.5", "100.10", TimeInForce.POST_ONLY,
                                     OrderStatus.NEW), "placed", decision_id=d)
        j.record_fill(fill(T0 + 100, "e1", "rbX1-0", Side.SELL, "100.10", "0.2", "0.01", "USDT", True))
        j.record_fill(fill(T0 + 200, "e2", "rbX1-1", Side.SELL, "99.80", "0.3", "0.03", "USDT", False))
        j.record_markout(T0 + 60_100, "e1", 100.30)
        s = summarize(j)
    # notional 0.5 x 100 = 50; spread: -(99.9 - 100) x 0.5 = 0.05
    # drift: -(100.10 - 99.9) x 0.2 - (99.80 - 99.9) x 0.3 = -0.04 + 0.03 = -0.01; fees 0.04
    assert s["cost_spread_bps"] == pytest.approx(0.05 / 50 * 1e4)
    assert s["cost_drift_bps"] == pytest.approx(-0.01 / 50 * 1e4)
    assert s["cost_fee_bps"] == pytest.approx(0.04 / 50 * 1e4)
    assert s["cost_bps"] == pytest.approx(0.08 / 50 * 1e4)
    # e1 sold at 100.10, the mid rose to 100.30: 0.2 x 0.2 against us over 20.02
    assert s["maker_markout_60s_bps"] == pytest.approx(0.04 / 20.02 * 1e4, abs=1e-3) and s["markouts"] == 1


def test_tracking_is_time_weighted(summary):
    t = summary
    assert t["detail"]["snapshots"] == 4
    # |gap| 0.5 for 1 s, 0.2 for 3 s, 0 for 1 s; the last snapshot has no duration: 1.1/5
    assert t["mean_abs_gap_base"] == pytest.approx(0.22)
    assert t["max_abs_gap_base"] == pytest.approx(0.5)  # 1.0 at the last snapshot held no time
    assert t["band_base"] is None and t["pct_time_over_band"] is None  # no hard threshold recorded


def test_time_over_a_band_given_or_recorded(tmp_path):
    path = tmp_path / "j.sqlite"
    with Journal(path) as j:
        build(j)
    assert summarize(path, band=0.2)["pct_time_over_band"] == pytest.approx(80.0)  # 0.5 for 1 s + 0.2 for 3 s of 5
    assert summarize(path, band=0.3)["pct_time_over_band"] == pytest.approx(20.0)
    with Journal(path) as j:
        j.record_state(T0, "band_base", "0.3", "a replay's band")
    assert summarize(path)["band_base"] == 0.3 and summarize(path)["pct_time_over_band"] == pytest.approx(20.0)


def test_counts_and_span(summary):
    assert summary["decision_rows"] == 4
    assert summary["decisions_by_action"] == {"full": 1, "hold": 1, "partial": 2}
    assert summary["orders"] == 3 and summary["orders_by_status"] == {"Cancelled": 1, "Filled": 2}
    assert (summary["start"], summary["end"]) == ("2023-11-14T22:13:20Z", "2023-11-14T22:13:26Z")
    assert summary["errors"] == 2
    assert summary["span"] == {"start_ms": T0, "end_ms": T0 + 6_000, "seconds": 6.0}
    assert summary["meta"] == {"account": "acct", "symbol": "BTCUSDT", "venue": "paper"}


def test_summary_is_json_serialisable(summary):
    assert json.loads(json.dumps(summary)) == summary


def test_text_report_is_aligned(summary):
    text = format_report(summary)
    lines = [ln for ln in text.splitlines() if ln]
    # the widest label is "  maker markout 60 s" (20 chars): every value starts at column 22
    for ln in lines:
        assert ln[20:22] == "  " and ln[22] != " ", ln
        assert ln[:20].strip(), ln  # a label on every line
    assert lines[0].startswith("Journal") and lines[0][22:].startswith(summary["journal"])
    assert "  Cancelled           1" in lines
    assert "  mean |gap| (base)   0.22" in lines
    assert "Journal" in text and "acct / paper / BTCUSDT" in text
    assert "2023-11-14 22:13:20 UTC -> 2023-11-14 22:13:26 UTC  (0h 00m 06s)" in text
    assert "28.82 bps  all-in" in text and "66.7% by count, 33.3% by volume" in text
    assert "0.2405  (9.60 bps of volume)" in text



def test_report_helper_text_and_json(tmp_path):
    path = tmp_path / "j.sqlite"
    with Journal(path) as j:
        build(j)
    assert json.loads(report(path, as_json=True))["fills"] == 3
    assert "Rebalancer fills" in report(path)


def test_empty_journal_reports_without_dividing_by_zero():
    with Journal() as j:
        s = summarize(j)
    assert s["fills"] == 0 and s["detail"]["maker_share_count"] is None and s["cost_bps"] is None
    assert s["mean_abs_gap_base"] is None and s["maker_markout_60s_bps"] is None
    assert s["span"] == {"start_ms": None, "end_ms": None, "seconds": 0.0}
    assert "Rebalancer fills" in format_report(s)


def test_not_a_journal_is_a_clear_error(tmp_path):
    junk = tmp_path / "notes.txt"
    junk.write_text("hello\n" * 300)
    with pytest.raises(JournalError, match="not a journal") as err:
        summarize(junk)
    assert str(junk) in str(err.value)
    missing = tmp_path / "nope.sqlite"
    with pytest.raises(JournalError) as err:
        summarize(missing)
    assert str(missing) in str(err.value) and not missing.exists()


def test_fill_without_an_order_uses_the_latest_decision_on_its_side():
    with Journal() as j:
        j.record_decision(decision(T0, Action.FULL, Side.BUY, 50.0), "auto", "executed")
        j.record_decision(decision(T0 + 10, Action.FULL, Side.SELL, 70.0), "auto", "executed")
        j.record_decision(decision(T0 + 30, Action.FULL, Side.BUY, 60.0), "auto", "executed")
        j.record_fill(fill(T0 + 20, "x", "", Side.BUY, "51", "2", "0", "USDT", False))
        j.record_fill(fill(T0 + 20, "y", "", Side.SELL, "1", "1", "1", "XYZ", True))
        f = summarize(j)
    # x: BUY 2 @51 vs 50 (the BUY at T0+30 is later): cost 2, ref notional 100
    # y: SELL 1 @1 vs 70: cost 69, fee in XYZ not converted; ref notional 70
    assert f["cost_quote"] == pytest.approx(71)
    assert f["cost_bps"] == pytest.approx(71 / 170 * 1e4)
    assert f["detail"]["fees_other"] == {"XYZ": "1"} and f["fees_quote"] == 0


def test_fee_in_quote():
    f = fill(0, "e", "", Side.BUY, "65000", "0.01", "0.00001", "BTC", True)
    assert fee_in_quote(f) == Decimal("0.65000")
    assert fee_in_quote(fill(0, "e", "", Side.BUY, "1", "1", "0.2", "USDT", True)) == Decimal("0.2")
    assert fee_in_quote(fill(0, "e", "", Side.BUY, "1", "1", "0.2", "MNT", True)) is None
    fd = Fill(ts_ms=0, exec_id="e", symbol="BTCFDUSD", side=Side.SELL, price=Decimal("10"),
              qty=Decimal("1"), fee=Decimal("0.5"), fee_coin="BTC", is_maker=True)
    assert fee_in_quote(fd) == Decimal("5.0")  # base is BTC, not BTCFD


def test_the_report_reads_through_a_reader_and_changes_nothing(tmp_path):
    path = tmp_path / "j.sqlite"
    with Journal(path) as j:
        build(j)
    before = path.read_bytes()
    with open_reader(path) as r:
        assert not hasattr(r, "record_fill")  # a reader has no way to write
        assert summarize(r) == summarize(path)
    assert path.read_bytes() == before


def test_an_older_journal_is_refused_by_the_report_not_migrated(tmp_path, monkeypatch):
    from core.journal import schema

    path = tmp_path / "j.sqlite"
    Journal(path).close()
    ran: list[int] = []
    monkeypatch.setattr(schema, "SCHEMA_VERSION", 4)
    monkeypatch.setattr(schema, "READABLE_FROM", 4)  # a version-3 file the report cannot read as is
    monkeypatch.setattr(schema, "MIGRATIONS", {3: lambda con: ran.append(3)})
    with pytest.raises(JournalError, match="open it once for writing to migrate it"):
        summarize(path)
    assert ran == []
    with Journal(path) as j:  # a writer migrates it
        assert j.schema_version == 4
    assert ran == [3]


@pytest.mark.parametrize("edit, where", [
    ("UPDATE fills SET price = 'abc' WHERE exec_id = 'e1'", "table fills"),
    ("UPDATE fills SET side = 'sideways' WHERE exec_id = 'e2'", "table fills"),
    ("UPDATE fills SET fee = '' WHERE exec_id = 'e1'", "table fills"),
    ("UPDATE orders SET qty = 'lots'", "table orders"),
    ("UPDATE decisions SET body = '{not json' WHERE action != 'hold'", "table decisions"),
    ("UPDATE fills SET ts_ms = 99000000000000000", "a value no journal writes"),
    ("DROP TABLE fills", "no table fills"),
])
def test_a_row_edited_by_hand_is_a_clear_error_naming_the_file(tmp_path, edit, where):
    """A journal edited by hand, or damaged: the report says which file and which table, as a
    ``JournalError`` (exit 2), instead of a Decimal / enum / datetime traceback."""
    import sqlite3

    path = tmp_path / "j.sqlite"
    with Journal(path) as j:
        build(j)
    with sqlite3.connect(path) as c:
        c.execute(edit)
    with pytest.raises(JournalError) as err:
        summarize(path)
    assert str(path) in str(err.value) and where in str(err.value)
