"""JournalRecorder: the rebalancer's record, written through or held (write-behind) by the engine."""

from __future__ import annotations

import pytest

from decimal import Decimal

from core.costs import Arrival
from core.journal import Journal
from core.journal.recorder import JournalRecorder
from core.journal.writer import JournalWriteError
from core.model import OrderStatus
from tests.core.test_journal import count_from_outside, make_decision, make_fill, make_order


def _start(rec: JournalRecorder, ts: int, rebalance: str) -> None:
    rec.rebalance_started(make_decision(ts), "auto", "executed", rebalance=rebalance,
                          arrival=Arrival(ts, 100.0, 99.9, 100.1), qty=Decimal("0.01"), path="soft")


def _session(rec: JournalRecorder) -> None:
    """Two rebalances, each a decision then its order, with a fill and a state row between."""
    _start(rec, 5_000, "rbA1")
    rec.order(5_001, make_order("rbA1-0", OrderStatus.NEW), "placed")
    rec.fill(make_fill(0, ts_ms=5_002))
    rec.state(5_003, "mode", "auto", "from semi")
    _start(rec, 6_000, "rbA2")
    rec.order(6_001, make_order("rbA2-0", OrderStatus.NEW), "placed")


def _rows(j: Journal) -> tuple:
    return ([(o["order"].client_id, o["decision_id"]) for o in j.orders()],
            [d["ts_ms"] for d in j.decisions()], len(j.fills()))


def test_held_rows_are_written_at_the_release_as_written_through(tmp_path):
    path = tmp_path / "held.sqlite"
    with Journal() as direct, Journal(path) as held:
        _session(JournalRecorder(direct))
        rec = JournalRecorder(held)
        rec.hold()
        _session(rec)
        assert held.pending_rows == 0 and count_from_outside(path, "decisions") == 0  # nothing written yet
        rec.release()
        # the same rows, each order linked to the decision that started its rebalance
        assert _rows(held) == _rows(direct)
        assert [o["decision_id"] for o in held.orders()] == [1, 2]
        assert count_from_outside(path, "fills") == 1  # the fill asked for a commit: made at the release
        rec.release()  # nothing held: nothing written twice
        assert _rows(held) == _rows(direct)


def test_each_order_links_to_its_own_rebalance_s_decision_whatever_came_between():
    """The bug: orders took "the last decision written", and decision rows are de-duplicated,
    so a chase of rebalance 1 after rebalance 2 started, or a later order of rebalance 1,
    linked to the wrong decision."""
    with Journal() as j:
        rec = JournalRecorder(j)
        _start(rec, 5_000, "rbA1")
        rec.order(5_001, make_order("rbA1-0", OrderStatus.NEW), "placed")
        rec.decision(make_decision(5_500), "auto", "held")  # a later decision row
        _start(rec, 6_000, "rbA2")
        rec.order(6_001, make_order("rbA1-1", OrderStatus.NEW), "placed")  # rebalance 1's chase, after 2 began
        rec.order(6_002, make_order("rbA2-0", OrderStatus.NEW), "placed")
        rec.order(6_003, make_order("rbOLD7-0", OrderStatus.NEW), "adopted")  # an earlier session's order
        by_id = {d["id"]: d["ts_ms"] for d in j.decisions()}
        links = {o["order"].client_id: o["decision_id"] for o in j.orders()}
        assert by_id[links["rbA1-0"]] == by_id[links["rbA1-1"]] == 5_000
        assert by_id[links["rbA2-0"]] == 6_000
        assert links["rbOLD7-0"] is None  # not guessed
        arrivals = j.arrivals()
        assert set(arrivals) == {"rbA1", "rbA2"}
        assert arrivals["rbA1"] == (links["rbA1-0"], Arrival(5_000, 100.0, 99.9, 100.1))


def test_a_markout_is_written_per_maker_fill():
    with Journal() as j:
        JournalRecorder(j).markout(70_000, "E1", 99.5)
        assert j.markouts() == {"E1": 99.5}


def test_a_row_that_fails_at_the_release_does_not_stop_the_rows_after_it():
    with Journal() as j:
        rec = JournalRecorder(j)
        rec.hold()
        rec.fill(make_fill(0, ts_ms=5_000))
        rec.decision("not a decision", "auto", "executed")  # type: ignore[arg-type]
        rec.order(5_001, make_order("a", OrderStatus.NEW), "placed")
        with pytest.raises(JournalWriteError, match="1 journal row"):
            rec.release()
        assert len(j.fills()) == 1 and [o["order"].client_id for o in j.orders()] == ["a"]
        rec.error(5_002, "written through again after the release")
        assert j.pending_rows == 1
