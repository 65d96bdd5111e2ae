"""End to end, several symbols (issue 18): the real ``rebalancer`` program in an 80x24
pseudo-terminal with ``examples/three-symbols.yaml`` (BTCUSDT, ETHUSDT, SOLUSDT on paper, auto).

All three trade in one cockpit (each overview row gets a hedge cost, which only a fill gives);
``]`` moves the panes to ETHUSDT; ``x`` halts ETHUSDT alone while the other two stay active
(the header says ``HALTED 1/3``); quitting from the keyboard exits 0 and leaves a journal per
symbol. Skipped where the several-symbols host (``core.portfolio``) or its example is missing.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

pexpect = pytest.importorskip("pexpect")
pyte = pytest.importorskip("pyte")
from tests.tui.pty_screen import Terminal  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "three-symbols.yaml"
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")


def row(text: str, symbol: str) -> str:
    """The overview's line for ``symbol`` ("" while it is not on screen)."""
    return next((line for line in text.splitlines() if line.startswith("│") and f" {symbol} " in line), "")


def traded(line: str) -> bool:
    """A hedge cost in bps on the row: the symbol has had a fill of its own."""
    return bool(re.search(r"(ACTIVE|PAUSED|HALTED) +\S+ +(▶#\d+)? *-?\d+\.\d ", line))


def test_three_symbols_trade_in_one_cockpit_at_80x24(tmp_path):
    env = {**os.environ, "TERM": "xterm-256color", "REBALANCER_DATA_DIR": str(tmp_path / "data"),
           "COLUMNS": "80", "LINES": "24"}
    env.pop("NO_COLOR", None)
    # the example as a user runs it, its market ten times faster: every symbol trades well inside
    # the deadline even on a loaded machine (the market, not the cockpit, sets the pace)
    config = tmp_path / "three-symbols.yaml"
    config.write_text(EXAMPLE.read_text(encoding="utf-8").replace("  speed: 1.0", "  speed: 10.0", 1), encoding="utf-8")
    assert "speed: 10.0" in config.read_text(encoding="utf-8")
    child = pexpect.spawn(sys.executable, [str(REPO / "rebalancer_main.py"), "--config", str(config),
                                           "--mode", "auto"],
                          cwd=str(tmp_path), env=env, dimensions=(24, 80), encoding="utf-8",
                          codec_errors="replace", timeout=30)
    term = Terminal(child, 80, 24)
    try:
        # the overview is the first page at 80x24: one row per symbol
        assert term.wait_for(lambda t: all(row(t, s) for s in SYMBOLS) and "0 Symbols" in t), term.text()
        assert term.wait_for(lambda t: all(traded(row(t, s)) for s in SYMBOLS), 90), term.text()

        child.send("]")  # the panes show ETHUSDT
        assert term.wait_for(lambda t: t.splitlines()[0].startswith(" ETHUSDT ") and "GAP ETH" in t), term.text()
        child.send("x")  # ETHUSDT alone halts
        assert term.wait_for(lambda t: "HALTED" in row(t, "ETHUSDT") and "HALTED 1/3" in t.splitlines()[0]), \
            term.text()
        text = term.text()
        assert "ACTIVE" in row(text, "BTCUSDT") and "ACTIVE" in row(text, "SOLUSDT"), text

        child.send("q")
        assert term.wait_for(lambda t: "Quit the rebalancer?" in t), term.text()
        child.send("\x1b[C\x1b[C\r")  # Cancel & quit
        child.expect(pexpect.EOF, timeout=30)
        child.close()
        assert child.exitstatus == 0
    finally:
        if child.isalive():
            child.terminate(force=True)
    journals = sorted(p.name for p in (tmp_path / "data" / "journals").glob("*.sqlite"))
    assert all(any(s in name for name in journals) for s in SYMBOLS), journals
