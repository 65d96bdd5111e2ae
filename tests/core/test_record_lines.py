"""``core.record_lines``: the journal's records as log lines, fed from the same calls (issue 16)."""

from __future__ import annotations

from core.events import ConnectionChanged
from core.model import BTCUSDT_SPOT, Mode
from core.rebalancer import Rebalancer
from core.record_lines import RecordLines, Tee, tee
from core.recorder import Recorder
from tests.core.helpers_engine import T0, SpyRecorder, rcfg


def test_a_reconnect_is_a_record_for_the_journal_and_a_line_for_the_log():
    spy, lines = SpyRecorder(), []
    reb = Rebalancer(rcfg(), BTCUSDT_SPOT, mode=Mode.AUTO,
                     recorder=tee(spy, RecordLines(lambda level, text, f: lines.append((level, text, f)))))
    reb.on_event(ConnectionChanged(T0, True, "paper"))
    reb.on_event(ConnectionChanged(T0 + 1_000, False, "public stream lost (silent 20 s)"))
    reb.on_event(ConnectionChanged(T0 + 1_500, False, "still down"))  # no change: no record
    reb.on_event(ConnectionChanged(T0 + 9_000, True, "streams up"))
    assert spy.connections == [(T0, "up", "paper"), (T0 + 1_000, "down", "public stream lost (silent 20 s)"),
                               (T0 + 9_000, "up", "streams up")]
    assert [(level, text) for level, text, _ in lines] == [
        ("info", "connection up: paper"), ("warning", "connection down: public stream lost (silent 20 s)"),
        ("info", "connection up: streams up")]
    assert lines[1][2] == {"kind": "connection", "ts_ms": T0 + 1_000, "value": "down",
                           "reason": "public stream lost (silent 20 s)"}


def test_the_tee_forwards_every_kind_of_record_to_both_even_one_added_later():
    """A record kind the tee did not forward would reach neither the journal nor the log."""
    kinds = [n for n, v in vars(Recorder).items() if callable(v) and not n.startswith("_")]
    for name in kinds:
        assert getattr(Tee, name) is not getattr(Recorder, name), name


def test_every_kind_of_record_is_a_log_line():
    kinds = [n for n, v in vars(Recorder).items()
             if callable(v) and not n.startswith("_") and n not in ("tick", "snapshot", "hold", "release")]
    for name in kinds:
        assert getattr(RecordLines, name) is not getattr(Recorder, name), name


def test_a_failing_log_never_stops_the_journal_row():
    class Broken(Recorder):
        def error(self, ts_ms, message, code=None):
            raise OSError("disk full")

    spy = SpyRecorder()
    tee(spy, Broken()).error(T0, "venue said no", 10001)
    assert [m for _, m, _ in spy.errors] == ["venue said no"]

