"""End to end: the real ``rebalancer`` program in a pseudo-terminal, on the paper venue.

Starts ``rebalancer_main.py`` exactly as a user does (no keys, no network), reads the screen
through pyte until the panes show real numbers, presses keys (mode chooser, pause, help),
and quits from the keyboard; the program must exit 0 and leave a journal that records the
session and the pause.
"""

from __future__ import annotations

import os
import re
import sqlite3
import sys
from pathlib import Path

import pytest

pexpect = pytest.importorskip("pexpect")
pyte = pytest.importorskip("pyte")
from tests.tui.pty_screen import Terminal  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
PRICE = re.compile(r"\d{2},\d{3}\.\d{2}")


@pytest.fixture
def program(tmp_path):
    cfg = (REPO / "config.yaml").read_text()
    cfg_path = tmp_path / "config.yaml"
    cfg_path.write_text(cfg.replace("speed: 1.0 ", "speed: 5.0 "))
    env = {**os.environ, "TERM": "xterm-256color", "REBALANCER_DATA_DIR": str(tmp_path / "data"),
           "COLUMNS": "160", "LINES": "48"}
    env.pop("NO_COLOR", None)
    child = pexpect.spawn(sys.executable, [str(REPO / "rebalancer_main.py"), "--config", str(cfg_path),
                                           "--symbol", "BTCUSDT", "--mode", "semi"],
                          cwd=str(tmp_path), env=env, dimensions=(48, 160), encoding="utf-8",
                          codec_errors="replace", timeout=30)
    term = Terminal(child, 160, 48)
    try:
        yield term, tmp_path
    finally:
        if child.isalive():
            child.terminate(force=True)


def test_real_program_shows_live_numbers_takes_keys_and_quits_cleanly(program):
    term, tmp = program
    # the panes fill with real numbers from the paper engine
    assert term.wait_for(lambda t: "PAPER" in t and "SEMI" in t and PRICE.search(t) and "EMA fast" in t
                         and "0.500000" in t), term.text()  # price, EMAs and the paper wallet's 0.5 BTC
    first = term.text()
    assert "BTCUSDT" in first.splitlines()[0]
    # the market moves: the price line changes while we watch
    price_line = next(line for line in first.splitlines() if "price" in line and PRICE.search(line))
    assert term.wait_for(lambda t: price_line not in t, 30), "the price never moved"

    term.child.send("p")  # pause
    assert term.wait_for(lambda t: "PAUSED" in t.splitlines()[0]), term.text()
    term.child.send("p")  # resume
    assert term.wait_for(lambda t: "ACTIVE" in t.splitlines()[0]), term.text()

    term.child.send("?")  # help screen, then back
    assert term.wait_for(lambda t: "approve the proposal" in t and "Keys" in t), term.text()
    term.child.send("\x1b")
    assert term.wait_for(lambda t: "Net delta" in t and "approve the proposal" not in t), term.text()

    term.child.send("q")
    assert term.wait_for(lambda t: "Quit the rebalancer?" in t), term.text()
    term.child.send("\x1b[C\x1b[C\r")  # Stay → Keep & quit → Cancel & quit, enter
    term.child.expect(pexpect.EOF, timeout=30)
    term.child.close()
    assert term.child.exitstatus == 0

    journal = tmp / "data" / "journals" / "Wood-paper-BTCUSDT.sqlite"
    assert journal.exists()
    con = sqlite3.connect(journal)
    states = con.execute("select kind, value, reason from states order by rowid").fetchall()
    con.close()
    assert ("trading_state", "PAUSED", "paused by the user") in states
    assert any(k == "session" and v == "stopped" and "orders cancelled" in r for k, v, r in states), states
