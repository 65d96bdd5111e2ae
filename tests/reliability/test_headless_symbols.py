"""The real program, headless, with ``symbols:`` (issue 18): one process trades BTCUSDT, ETHUSDT
and SOLUSDT, each log line names its symbol, each symbol has its own journal, and a stop
stops all three cleanly."""

from __future__ import annotations

import re
import sqlite3

import pytest
import yaml

from tests.reliability.program import REPO, Program

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
OUR_FILL = re.compile(r"rebalancer\.record: (BTCUSDT|ETHUSDT|SOLUSDT) fill spot (Buy|Sell) \S+ \1 @")


def three_symbols() -> dict:
    cfg = yaml.safe_load((REPO / "examples" / "three-symbols.yaml").read_text(encoding="utf-8"))
    cfg.update(mode="auto")
    cfg["paper"]["speed"] = 50
    return cfg


@pytest.fixture
def program(tmp_path):
    p = Program(tmp_path, three_symbols(), journal_name="Wood-paper-BTCUSDT.sqlite")
    yield p
    p.cleanup()


def test_headless_runs_every_symbol_and_each_line_names_its_symbol(program):
    program.start()
    stdout = program.tmp / "stdout-1.txt"

    def traded() -> set[str]:
        return {m.group(1) for m in OUR_FILL.finditer(stdout.read_text(errors="replace"))}

    program.wait_for("our fills on all three symbols", lambda: traded() == set(SYMBOLS), deadline_s=60)
    assert program.stop() == 0
    lines = [ln for ln in stdout.read_text().splitlines() if "rebalancer.record: " in ln]
    assert lines and all(ln.split("rebalancer.record: ", 1)[1].split(" ", 1)[0] in SYMBOLS for ln in lines)
    for symbol in SYMBOLS:
        con = sqlite3.connect(program.data_dir / "journals" / f"Wood-paper-{symbol}.sqlite")
        try:
            said = [r[0] for r in con.execute("SELECT value FROM states WHERE kind = 'session' ORDER BY id")]
            symbols = {r[0] for r in con.execute("SELECT DISTINCT symbol FROM fills")}
        finally:
            con.close()
        assert said == ["started", "stopped"], symbol
        assert symbols == {symbol}  # its journal holds its own fills only
