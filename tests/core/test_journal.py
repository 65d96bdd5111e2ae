"""The journal is the trading record and what a restart recovers from: exact numbers in and
out, fills never lost or doubled, a commit policy driven by the caller's time."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

from core.journal import schema as schema_mod
from core.journal import (
    SCHEMA_VERSION,
    Journal,
    JournalError,
    JournalWriteError,
    default_data_dir,
    default_journal_path,
)
from core.model import (
    Action,
    BiasParts,
    Decision,
    Fill,
    GateResult,
    Leg,
    Mode,
    Order,
    OrderStatus,
    Side,
    TimeInForce,
    TradingState,
)

ROOT = Path(__file__).resolve().parents[2]


def make_fill(i: int, **kw) -> Fill:
    base = dict(
        ts_ms=1_000 + i,
        exec_id=f"e{i}",
        symbol="BTCUSDT",
        side=Side.BUY if i % 2 == 0 else Side.SELL,
        price=Decimal("65000.10") + i,
        qty=Decimal("0.000100"),
        fee=Decimal("0.0000001"),
        fee_coin="BTC",
        is_maker=i % 3 != 0,
        client_id=f"c{i}",
        order_id=f"o{i}",
    )
    base.update(kw)
    return Fill(**base)


def make_order(cid: str, status: OrderStatus, filled: str = "0", **kw) -> Order:
    base = dict(
        client_id=cid,
        order_id=f"o-{cid}",
        symbol="BTCUSDT",
        side=Side.SELL,
        qty=Decimal("0.010000"),
        price=Decimal("65000.50"),
        tif=TimeInForce.POST_ONLY,
        status=status,
        filled_qty=Decimal(filled),
        avg_fill_price=Decimal("65000.50") if Decimal(filled) else Decimal(0),
        created_ms=100,
        updated_ms=100,
    )
    base.update(kw)
    return Order(**base)


def make_decision(ts_ms: int = 5_000, **kw) -> Decision:
    base = dict(
        ts_ms=ts_ms,
        policy="anchor",
        action=Action.PARTIAL,
        side=Side.SELL,
        qty_base=0.0125,
        gap_base=0.025,
        net_base=0.025,
        target_base=0.0,
        price=65000.5,
        gap=0.025,
        base_soft=0.01,
        base_hard=0.05,
        effective_soft=0.012,
        effective_hard=0.06,
        bias=BiasParts(trend_signal=0.5, ema_bias=0.5, anchor_bias=-0.2, combined=0.2, scale=1.2),
        gate=GateResult(applies=True, passed=False, reference_vwap=64990.0, reason="edge short"),
        reason="gap 0.025 over soft 0.012",
    )
    base.update(kw)
    return Decision(**base)


def count_from_outside(path: Path, table: str) -> int:
    """Rows another process would see: only what is committed."""
    con = sqlite3.connect(path)
    try:
        return con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    finally:
        con.close()


# ---------------------------------------------------------------- paths


def test_default_paths(monkeypatch, tmp_path):
    monkeypatch.setenv("REBALANCER_DATA_DIR", str(tmp_path / "jr"))
    assert default_data_dir() == tmp_path / "jr"
    monkeypatch.delenv("REBALANCER_DATA_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_data_dir() == tmp_path / "home" / ".local" / "share" / "spot-rebalancer"
    assert default_journal_path(tmp_path, "main", "testnet", "BTCUSDT") == (
        tmp_path / "main-testnet-BTCUSDT.sqlite"
    )
    # a name from config can never climb out of the data dir
    escaped = default_journal_path(tmp_path, "../x", "paper", "BTC/USDT")
    assert escaped.parent == tmp_path and escaped.name.startswith("x~") and escaped.name.endswith("-paper-BTC_USDT.sqlite")


@pytest.mark.parametrize("names", [
    ("Tst", "_Tst_", "Tst_", "tst", "T-st", "T st"),
    ("Счёт", "Счет", "[/]", "[\\]", "", " ", "..", "/", "💰", "a" * 200),
])
def test_every_account_name_has_its_own_safe_journal(tmp_path, names):
    paths = [default_journal_path(tmp_path, n, "testnet", "BTCUSDT") for n in names]
    assert len(set(paths)) == len(names), "two accounts would share a journal (and a HALT)"
    for n, p in zip(names, paths):
        assert p.parent == tmp_path and "/" not in p.name and p.name.isascii() and len(p.name) < 100, (n, p)
        assert default_journal_path(tmp_path, n, "testnet", "BTCUSDT") == p  # stable across restarts


def test_an_unusual_account_name_starts_a_paper_session(tmp_path, make_config):
    from core.session import Environment, build_session

    for name in ("Счёт", "[/]"):
        s = build_session(make_config(api__account_name=name), Environment(data_dir=tmp_path))
        assert s.journal is not None and "~" in str(s.journal.path)
        s.journal.close()


# ---------------------------------------------------------------- schema


def test_new_file_is_wal_with_schema_version(tmp_path):
    path = tmp_path / "sub" / "j.sqlite"
    with Journal(path, meta={"account": "main", "venue": "paper", "symbol": "BTCUSDT"}) as j:
        assert j.journal_mode == "wal"
        assert j.schema_version == SCHEMA_VERSION == 3
        assert j.meta() == {
            "account": "main", "schema_version": "3", "symbol": "BTCUSDT", "venue": "paper",
        }
        assert j._conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    # reopening an existing journal keeps its data and version
    with Journal(path) as j:
        assert j.meta()["venue"] == "paper"


def _set_version(path: Path, version: int) -> None:
    con = sqlite3.connect(path)
    con.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(version),))
    con.commit()
    con.close()


def test_newer_schema_is_refused_naming_file_and_versions(tmp_path):
    path = tmp_path / "j.sqlite"
    Journal(path).close()
    _set_version(path, 7)
    with pytest.raises(JournalError) as err:
        Journal(path)
    msg = str(err.value)
    assert str(path) in msg and "7" in msg and f"version {SCHEMA_VERSION}" in msg


def test_older_schema_without_migration_is_refused(tmp_path):
    path = tmp_path / "j.sqlite"
    Journal(path).close()
    _set_version(path, 0)
    with pytest.raises(JournalError, match="no migration from version 0") as err:
        Journal(path)
    assert str(path) in str(err.value)
    # the failed attempt changed nothing
    con = sqlite3.connect(path)
    assert con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == "0"
    con.close()


def test_older_schema_is_migrated_step_by_step(tmp_path, monkeypatch):
    path = tmp_path / "j.sqlite"
    Journal(path).close()
    ran = []

    def v3_to_v4(con):
        ran.append(3)
        con.execute("ALTER TABLE errors ADD COLUMN extra TEXT")

    monkeypatch.setattr(schema_mod, "SCHEMA_VERSION", 4)
    monkeypatch.setattr(schema_mod, "MIGRATIONS", {**schema_mod.MIGRATIONS, 3: v3_to_v4})
    with Journal(path) as j:
        assert j.schema_version == 4
    assert ran == [3]
    con = sqlite3.connect(path)
    assert "extra" in [r[1] for r in con.execute("PRAGMA table_info(errors)")]
    con.close()


def test_a_version_1_journal_gains_the_cost_tables_and_keeps_its_rows(tmp_path):
    path = tmp_path / "j.sqlite"
    with Journal(path) as j:
        j.record_error(1_700_000_000_000, "kept")
    con = sqlite3.connect(path)
    con.execute("DROP TABLE arrivals")
    con.execute("DROP TABLE markouts")
    for t in ("decisions", "snapshots", "rebalances"):
        con.execute(f"ALTER TABLE {t} DROP COLUMN symbol")
    con.execute("UPDATE meta SET value='1' WHERE key='schema_version'")
    con.commit()
    con.close()
    with Journal(path) as j:
        assert j.schema_version == 3
        assert j.count("errors") == 1 and j.count("arrivals") == 0 and j.count("markouts") == 0


def test_not_a_journal(tmp_path):
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(JournalError, match="not a journal") as err:
        Journal(junk)
    assert str(junk) in str(err.value)

    foreign = tmp_path / "foreign.db"
    con = sqlite3.connect(foreign)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    with pytest.raises(JournalError, match="no meta table"):
        Journal(foreign)
    con = sqlite3.connect(foreign)  # left as it was: not switched to WAL, no tables added
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert [r[0] for r in con.execute("SELECT name FROM sqlite_master")] == ["t"]
    con.close()

    missing = tmp_path / "missing.sqlite"
    with pytest.raises(JournalError, match="no such journal"):
        Journal(missing, create=False)
    assert not missing.exists()  # a reader never creates a file


def test_an_sqlite_error_while_opening_is_a_journal_error(tmp_path):
    """The rollback journal's name taken by a folder: SQLite fails on the WAL switch. It was a
    bare sqlite3.OperationalError, which neither replay nor the cockpit catches."""
    (tmp_path / "run.sqlite-journal").mkdir()
    with pytest.raises(JournalError, match="cannot open journal") as err:
        Journal(tmp_path / "run.sqlite")
    assert str(tmp_path / "run.sqlite") in str(err.value)


# ---------------------------------------------------------------- round trips


def test_fill_round_trip_is_exact_and_deduplicated(tmp_path):
    path = tmp_path / "j.sqlite"
    f1 = make_fill(1, price=Decimal("65000.10"), qty=Decimal("0.000100"), fee=Decimal("1E-7"))
    f2 = make_fill(2, leg=Leg.LINEAR, source="grid", fee=Decimal("0.03250050"), fee_coin="USDT")
    with Journal(path) as j:
        assert j.record_fill(f1) is True
        assert j.record_fill(f2) is True
        assert j.record_fill(f1) is False  # same exec_id: ignored
        assert j.record_fill(make_fill(1, price=Decimal("1"))) is False  # id wins, not content
        assert j.fill_count() == 2
    with Journal(path, create=False) as j:
        got = j.fills()
        assert got == [f1, f2]
        # exact text, not only equal values: trailing zeros and exponents survive
        assert [str(g.qty) for g in got] == ["0.000100", "0.000100"]
        assert str(got[0].fee) == "1E-7" and str(got[1].fee) == "0.03250050"
        assert str(got[0].price) == "65000.10"
        assert got[0].is_maker is True and got[1].leg is Leg.LINEAR
        assert j.fills(since_ms=1_002) == [f2]
        assert j.fills(source="grid") == [f2]
        assert j.last_fill_ts() == 1_002
        assert j.last_fill_ts(source="rebalancer") == 1_001
        assert j.last_fill_ts(source="nobody") is None


def test_record_fills_bulk_counts_only_new(tmp_path):
    with Journal(tmp_path / "j.sqlite") as j:
        j.record_fill(make_fill(0))
        assert j.record_fills([make_fill(i) for i in range(5)]) == 4
        assert j.record_fills([]) == 0
        assert [f.exec_id for f in j.fills()] == ["e0", "e1", "e2", "e3", "e4"]


def test_decision_round_trip():
    d = make_decision()
    with Journal() as j:
        did = j.record_decision(d, "auto", "executed")
        j.record_decision(make_decision(6_000, action=Action.HOLD, side=None, qty_base=0.0),
                          Mode.SEMI, "held")
        rows = j.decisions(10)
    assert [r["id"] for r in rows] == [did, did + 1]
    first = rows[0]
    assert first["ts_ms"] == 5_000 and first["mode"] == "auto" and first["outcome"] == "executed"
    assert first["action"] == "partial" and first["side"] == "Sell" and first["price"] == 65000.5
    assert first["decision"] == json.loads(json.dumps(d.to_dict()))
    assert first["decision"]["gate"]["reference_vwap"] == 64990.0
    assert rows[1]["side"] is None and rows[1]["mode"] == "semi" and rows[1]["outcome"] == "held"


def test_decisions_limit_keeps_newest_in_time_order():
    with Journal() as j:
        for i in range(5):
            j.record_decision(make_decision(1_000 + i), "auto", f"n{i}")
        assert [r["outcome"] for r in j.decisions(2)] == ["n3", "n4"]
        assert len(j.decisions(None)) == 5


def test_proposal_snapshot_error_reconcile_round_trip():
    d = make_decision()
    with Journal() as j:
        j.record_proposal(5_100, 7, d, "approved", qty=Decimal("0.012500"), price_limit="65010.00")
        j.record_proposal(5_200, 8, d, "expired")
        j.record_snapshot(
            5_300, spot_base=Decimal("1.500000"), quote=Decimal("1000.25"),
            futures_size=Decimal("-1.475"), price=Decimal("65000.5"),
            net_base=Decimal("0.025000"), equity_quote=97501.0, target_base=Decimal("0"),
        )
        j.record_error(5_400, "rate limited", code=10006)
        j.record_error(5_401, "timeout")
        j.record_reconcile(5_500, "open_order_missing", "c9 not on venue")
        props = j.proposals()
        snaps = j.snapshots()
        errs = j.errors(10)
        recs = j.reconciles()
    assert props[0] == {
        "ts_ms": 5_100, "proposal_id": 7, "answer": "approved", "side": "Sell",
        "qty": "0.012500", "price_limit": "65010.00", "decision_ts": 5_000,
    }
    assert props[1]["qty"] == "0.0125" and props[1]["price_limit"] is None
    (s,) = snaps
    assert (str(s.spot_base), str(s.quote), str(s.futures_size)) == ("1.500000", "1000.25", "-1.475")
    assert s.equity_quote == Decimal("97501.0") and s.net_base == Decimal("0.025")
    assert s.gap_base == Decimal("0.025")
    assert errs == [
        {"ts_ms": 5_400, "message": "rate limited", "code": 10006},
        {"ts_ms": 5_401, "message": "timeout", "code": None},
    ]
    assert recs == [{"ts_ms": 5_500, "what": "open_order_missing", "detail": "c9 not on venue"}]


def test_open_orders_after_a_sequence_of_updates(tmp_path):
    path = tmp_path / "j.sqlite"
    with Journal(path) as j:
        j.record_order(100, make_order("a", OrderStatus.NEW), "placed")
        j.record_order(110, make_order("b", OrderStatus.NEW, side=Side.BUY), "placed")
        j.record_order(120, make_order("c", OrderStatus.NEW), "placed")
        j.record_order(130, make_order("a", OrderStatus.PARTIALLY_FILLED, "0.004000",
                                       updated_ms=130), "fill")
        j.record_order(140, make_order("b", OrderStatus.FILLED, "0.010000", updated_ms=140), "fill")
        j.record_order(150, make_order("c", OrderStatus.CANCELLED, updated_ms=150), "cancelled")
        # a late "New" for b arrives after its fill: the terminal state stands
        j.record_order(160, make_order("b", OrderStatus.NEW, updated_ms=105), "late")
        j.record_order(170, make_order("d", OrderStatus.NEW, price=Decimal("64990.00"),
                                       tif=TimeInForce.GTC, created_ms=170), "placed")
    with Journal(path, create=False) as j:
        opened = j.open_orders()
        assert opened == [
            make_order("a", OrderStatus.PARTIALLY_FILLED, "0.004000", updated_ms=130),
            make_order("d", OrderStatus.NEW, price=Decimal("64990.00"), tif=TimeInForce.GTC,
                       created_ms=170),
        ]
        assert str(opened[0].filled_qty) == "0.004000" and opened[0].remaining == Decimal("0.006")
        assert j.order("b").status is OrderStatus.FILLED
        assert j.order("c").status is OrderStatus.CANCELLED
        assert j.order("zz") is None
        # every state change is kept, the stale one included
        assert [(ts, ev, o.status.value) for ts, ev, o in j.order_events("b")] == [
            (110, "placed", "New"), (140, "fill", "Filled"), (160, "late", "New"),
        ]
        assert j.count("order_events") == 8 and j.count("orders") == 4
        assert j.counts_by("orders", "status") == {"Cancelled": 1, "Filled": 1, "New": 1,
                                                   "PartiallyFilled": 1}


def test_backfill_starts_at_the_newest_fill_or_an_older_open_order(tmp_path):
    with Journal(tmp_path / "j.sqlite") as j:
        assert j.backfill_since() is None  # nothing to resume from
        j.record_order(500, make_order("a", OrderStatus.NEW), "placed")
        assert j.backfill_since() == 500  # no fill yet: the open order's first fills may be missing
        j.record_fill(make_fill(0))  # ts 1_000
        assert j.backfill_since() == 500  # the open order began before the newest fill
        j.record_order(600, make_order("a", OrderStatus.CANCELLED, updated_ms=600), "cancelled")
        assert j.backfill_since() == 1_000  # nothing open any more: the newest fill
        j.record_order(2_000, make_order("b", OrderStatus.NEW), "placed")
        assert j.backfill_since() == 1_000  # an order newer than the newest fill changes nothing
        j.record_state(3_000, "journal_gap", "700", "journal unwritable")
        assert j.backfill_since() == 700  # an outage not back-filled yet began before the newest fill
        j.record_state(4_000, "journal_gap", "closed", "1 fill(s) back-filled")
        assert j.backfill_since() == 1_000 and j.open_journal_gap() is None


def test_order_keeps_its_decision_link():
    with Journal() as j:
        did = j.record_decision(make_decision(), "auto", "executed")
        j.record_order(5_001, make_order("a", OrderStatus.NEW), "placed", decision_id=did)
        j.record_order(5_002, make_order("a", OrderStatus.FILLED, "0.01"), "fill")
        (row,) = j.orders()
        assert row["decision_id"] == did
        assert (row["first_ts_ms"], row["last_ts_ms"], row["last_event"]) == (5_001, 5_002, "fill")


def test_last_state():
    with Journal() as j:
        assert j.last_state("mode") is None
        j.record_state(1_000, "mode", Mode.AUTO)
        j.record_state(1_100, "trading_state", "ACTIVE")
        j.record_state(1_200, "mode", "semi", "trader pressed m")
        j.record_state(1_300, "trading_state", "HALTED", "kill switch: drawdown 5.2%")
        assert j.last_state("mode") == ("semi", "trader pressed m", 1_200)
        assert j.last_state("trading_state") == ("HALTED", "kill switch: drawdown 5.2%", 1_300)
        assert j.states("mode")[0] == (1_000, "mode", "auto", "")


def test_state_enum_is_stored_by_value():
    with Journal() as j:
        j.record_state(1, "mode", Mode.WATCH)
        j.record_state(2, "trading_state", TradingState.PAUSED, "p")
        assert j.last_state("mode") == ("watch", "", 1)
        assert j.last_state("trading_state") == ("PAUSED", "p", 2)


def test_last_rebalance_from_rows_and_fills():
    with Journal() as j:
        assert j.last_rebalance() is None
        j.record_fill(make_fill(0, ts_ms=5_000, side=Side.SELL))
        assert j.last_rebalance() == (5_000, Side.SELL)  # derived from our fill
        j.record_rebalance_done(6_000, Side.BUY, Decimal("0.01"), "maker")
        assert j.last_rebalance() == (6_000, Side.BUY)
        j.record_fill(make_fill(1, ts_ms=7_000, side=Side.SELL, source="grid"))
        j.record_fill(make_fill(2, ts_ms=7_500, side=Side.SELL, leg=Leg.LINEAR))
        assert j.last_rebalance() == (6_000, Side.BUY)  # grid and futures fills are not ours
        j.record_fill(make_fill(3, ts_ms=8_000, side=Side.SELL))
        assert j.last_rebalance() == (8_000, Side.SELL)


# ---------------------------------------------------------------- commit policy


def test_rows_wait_for_one_second_of_caller_time(tmp_path):
    path = tmp_path / "j.sqlite"
    j = Journal(path)
    try:
        j.record_error(10_000, "a")
        j.record_decision(make_decision(10_500), "watch", "held")
        assert j.maybe_commit(10_999) is False
        assert count_from_outside(path, "errors") == 0
        assert count_from_outside(path, "decisions") == 0
        assert j.pending_rows == 2
        assert j.maybe_commit(11_000) is True  # 1000 ms after the clock started
        assert count_from_outside(path, "errors") == 1
        assert count_from_outside(path, "decisions") == 1
        assert j.pending_rows == 0

        j.record_error(11_500, "b")  # 500 ms after the last commit: waits
        assert count_from_outside(path, "errors") == 1
        j.record_error(12_000, "c")  # a write whose ts reaches the interval commits itself
        assert count_from_outside(path, "errors") == 3

        j.record_snapshot(12_100, spot_base=1, quote=2, futures_size=-1, price=3.5,
                          net_base=0, equity_quote=5)
        assert count_from_outside(path, "snapshots") == 0
        j.record_fill(make_fill(0, ts_ms=12_200))  # a fill commits at once, with what waits
        assert count_from_outside(path, "fills") == 1
        assert count_from_outside(path, "snapshots") == 1

        j.record_error(12_300, "d")
        j.record_state(12_300, "trading_state", "HALTED", "kill")  # safety state: at once
        assert count_from_outside(path, "states") == 1
        assert count_from_outside(path, "errors") == 4

        j.record_error(12_400, "e")
    finally:
        j.close()
    assert count_from_outside(path, "errors") == 5  # close commits


def test_held_writes_are_written_at_the_release_with_one_commit(tmp_path):
    """The engine holds while it drains its events: the order call goes out first, then the
    rows it caused are written and committed (once) before the loop is handed back."""
    path = tmp_path / "j.sqlite"
    j = Journal(path)
    commits: list[int | None] = []
    original = j.commit

    def counting(ts_ms=None):
        if not j._releasing:
            commits.append(ts_ms)
        original(ts_ms)

    j.commit = counting  # type: ignore[method-assign]
    try:
        j.hold()
        j.later(j.record_fill, make_fill(0, ts_ms=10_000))  # would commit at once
        j.hold()  # a nested hold (a re-entered drain) keeps the same queue
        j.later(j.record_state, 10_001, "trading_state", "HALTED", "kill")  # would commit at once
        j.later(j.record_error, 10_002, "rides along")
        assert j.pending_rows == 0  # nothing written yet, let alone committed
        assert count_from_outside(path, "fills") == 0 and count_from_outside(path, "states") == 0
        j.release()
        assert commits == [10_001]  # one commit, at the newest time asked for
        assert count_from_outside(path, "fills") == 1 and count_from_outside(path, "states") == 1
        assert count_from_outside(path, "errors") == 1 and j.pending_rows == 0
        j.release()  # nothing held: nothing written twice, no commit
        assert commits == [10_001] and count_from_outside(path, "fills") == 1

        j.hold()
        j.later(j.record_error, 10_100, "waits for the interval")  # no commit asked for: none made
        j.release()
        assert commits == [10_001] and count_from_outside(path, "errors") == 1 and j.pending_rows == 1
        j.record_error(11_001, "a commit at the interval, counted from the last one")
        assert commits == [10_001, 11_001] and count_from_outside(path, "errors") == 3

        j.record_error(11_002, "outside a hold: written at once")
        assert j.pending_rows == 1

        j.hold()
        j.later(j.record_fill, make_fill(1, ts_ms=11_500))
    finally:
        j.close()  # closing writes what is held and commits it
    assert count_from_outside(path, "fills") == 2 and count_from_outside(path, "errors") == 4


def test_a_write_that_fails_at_the_release_does_not_stop_the_others(tmp_path):
    path = tmp_path / "j.sqlite"
    with Journal(path) as j:
        j.hold()
        j.later(j.record_error, 5_000, "before")
        j.later(j.record_decision, "not a decision", "auto", "executed")
        j.later(j.record_fill, make_fill(0, ts_ms=5_001))
        with pytest.raises(JournalWriteError, match="1 journal row.*record_decision"):
            j.release()
        assert count_from_outside(path, "fills") == 1 and count_from_outside(path, "errors") == 1
        assert j.count("decisions") == 0


def test_pending_row_bound_commits_early(tmp_path):
    path = tmp_path / "j.sqlite"
    with Journal(path, max_pending_rows=3, commit_interval_ms=60_000) as j:
        j.record_error(1, "a")
        j.record_error(1, "b")
        assert count_from_outside(path, "errors") == 0
        j.record_error(1, "c")
        assert count_from_outside(path, "errors") == 3


def test_configurable_interval(tmp_path):
    path = tmp_path / "j.sqlite"
    with Journal(path, commit_interval_ms=50) as j:
        j.record_error(0, "a")
        j.record_error(49, "b")
        assert count_from_outside(path, "errors") == 0
        j.record_error(50, "c")
        assert count_from_outside(path, "errors") == 3


def test_a_quiet_period_is_flushed_by_a_tick(tmp_path):
    path = tmp_path / "j.sqlite"
    with Journal(path) as j:
        j.maybe_commit(0)  # nothing pending: only starts the clock
        j.record_error(200, "a")
        assert count_from_outside(path, "errors") == 0
        assert j.maybe_commit(1_000) is True
        assert count_from_outside(path, "errors") == 1


# ---------------------------------------------------------------- crash survival

_CHILD = textwrap.dedent(
    """
    import sys
    from decimal import Decimal
    from core.journal import Journal
    from core.model import Fill, Side

    path, n = sys.argv[1], int(sys.argv[2])
    j = Journal(path)

    def fill(i):
        return Fill(ts_ms=1_000 + i, exec_id=f"x{i}", symbol="BTCUSDT",
                    side=Side.BUY if i % 2 else Side.SELL, price=Decimal("65000.00") + i,
                    qty=Decimal("0.001000"), fee=Decimal("0.0650000"), fee_coin="USDT",
                    is_maker=bool(i % 2))

    for i in range(n - 1):
        j.record_fill(fill(i))
    j.record_error(1_000 + n, "waits for the interval, then rides on the next fill's commit")
    j.record_fill(fill(n - 1))
    print(f"recorded {n}", flush=True)
    i = n
    while True:  # keep writing: the kill lands in the middle of a write
        j.record_fill(fill(i))
        i += 1
    """
)


def test_fills_survive_sigkill(tmp_path):
    path = tmp_path / "kill.sqlite"
    n = 200
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(path), str(n)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.strip() == f"recorded {n}", proc.stderr.read() if not line else line
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()

    with Journal(path, create=False) as j:
        fills = j.fills()
        assert len(fills) >= n
        for i, f in enumerate(fills):  # every fill complete and exact, none missing
            assert f.exec_id == f"x{i}"
            assert f.price == Decimal("65000.00") + i and str(f.qty) == "0.001000"
            assert str(f.fee) == "0.0650000" and f.is_maker is bool(i % 2)
        # the error row was pending; the fill after it committed it too
        assert j.count("errors") == 1
        assert j._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# ---------------------------------------------------------------- throughput (not timed)


def test_many_rows_in_one_replay_second_stay_in_one_transaction(tmp_path):
    """A replay writing thousands of rows per simulated second commits once per second."""
    path = tmp_path / "j.sqlite"
    commits = []
    with Journal(path) as j:
        original = j.commit

        def counting(ts_ms=None):
            commits.append(ts_ms)
            original(ts_ms)

        j.commit = counting  # type: ignore[method-assign]
        d = make_decision()
        for i in range(3_000):
            ts = i  # 3000 rows over 3 simulated seconds
            j.record_decision(d, "auto", "held", ts_ms=ts)
        assert commits == [1_000, 2_000]
    assert count_from_outside(path, "decisions") == 3_000


def test_a_live_journal_checkpoints_off_the_commit_path(tmp_path):
    """The write-ahead order row puts a commit on the order path: SQLite's automatic checkpoint
    (an fsync, milliseconds) must not run inside it; the engine runs the returned one in a thread."""
    j = Journal(tmp_path / "j.sqlite")
    checkpoint = j.checkpoint_elsewhere()
    assert j._conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    for i in range(50):
        j.record_error(i, "x" * 100)
    j.commit(100)
    checkpoint()  # from its own connection, beside ours
    j.record_error(200, "after")
    j.close()
    with Journal(tmp_path / "j.sqlite", create=False) as again:
        assert again.count("errors") == 51
    assert Journal().checkpoint_elsewhere() is None  # in memory: nothing to checkpoint
