"""JournalRecorder: the rebalancer's record, written through or held (write-behind) by the engine."""

from __future__ import annotations

import pytest

from core.journal import Journal
from core.journal.recorder import JournalRecorder
from core.journal.writer import JournalWriteError
from core.model import OrderStatus
from tests.core.test_journal import count_from_outside, make_decision, make_fill, make_order


def _session(rec: JournalRecorder) -> None:
    """Two rebalances, each a decision then its order, with a fill and a state row between."""
    rec.decision(make_decision(5_000), "auto", "executed")
    rec.order(5_001, make_order("a", OrderStatus.NEW), "placed")
    rec.fill(make_fill(0, ts_ms=5_002))
    rec.state(5_003, "mode", "auto", "from semi")
    rec.decision(make_decision(6_000), "auto", "executed")
    rec.order(6_001, make_order("b", OrderStatus.NEW), "placed")


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
        # the same rows, each order linked to the decision written just before it
        assert _rows(held) == _rows(direct)
        assert [o["decision_id"] for o in held.orders()] == [1, 2]
        assert count_from_outside(path, "fills") == 1  # the fill asked for a commit: made at the release
        rec.release()  # nothing held: nothing written twice
        assert _rows(held) == _rows(direct)


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
