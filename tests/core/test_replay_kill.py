"""A replay writing a journal is killed with SIGKILL mid-run: the journal must open, hold every
fill it acknowledged (the exact prefix of the fills a complete run records, in order) and no
exec id twice.

The input is the 44,820-bar Bybit month: with a journal it runs ~25 s, so the kill at a few
hundred fills lands early in the run. The wait is on conditions (the subprocess's exit,
checked at most every 50 ms, and the journal's fill count), under an overall deadline.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.journal import Journal, JournalError
from core.replay import run_replay
from core.venues.market import load_market
from tests.conftest import build_config
from tests.core.helpers_engine import SpyRecorder, replay_config_dict

MONTH = "bybit_linear_BTCUSDT_1m_2024-12-31T21Z_2025-01-31.csv.gz"
KILL_AFTER_FILLS = 300
POLL_S = 0.05
DEADLINE_S = 60.0


def journal_fill_count(path: Path) -> int:
    """Fills in the journal as a reader sees them now; 0 while it is not yet a journal."""
    if not path.exists():
        return 0
    try:
        j = Journal(path, create=False)
    except (JournalError, sqlite3.Error):
        return 0  # created but the schema is not committed yet
    try:
        return j.fill_count()
    except sqlite3.Error:
        return 0
    finally:
        j.close()


def test_sigkill_mid_replay_leaves_every_acknowledged_fill(tmp_path, write_config, repo_root, shared_data):
    cfg_data = replay_config_dict()
    cfg_path = write_config(cfg_data)
    jpath = tmp_path / "journal.sqlite"
    data = shared_data(MONTH)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "replay", "--config", str(cfg_path), "--market", str(data),
         "--journal", str(jpath)],
        cwd=repo_root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(repo_root)},
    )
    seen = 0
    deadline = time.monotonic() + DEADLINE_S
    try:
        while True:
            try:
                rc = proc.wait(timeout=POLL_S)  # waits on the process, at most 50 ms per round
            except subprocess.TimeoutExpired:
                pass
            else:
                err = proc.stderr.read().decode(errors="replace")
                pytest.fail(f"replay ended (rc {rc}) after {seen} fills, before {KILL_AFTER_FILLS}: "
                            f"too fast to kill mid-run; stderr: {err[-2000:]}")
            seen = journal_fill_count(jpath)
            if seen >= KILL_AFTER_FILLS:
                break
            if time.monotonic() > deadline:
                pytest.fail(f"only {seen} fills after {DEADLINE_S:.0f}s")
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        proc.stderr.close()

    # re-open as a reader: readable, and at least what we saw before the kill
    j = Journal(jpath, create=False)
    try:
        fills = j.fills()
        assert j.fill_count() == len(fills) >= seen >= KILL_AFTER_FILLS
        rows = j._conn.execute("SELECT exec_id FROM fills ORDER BY id").fetchall()
        dupes = j._conn.execute("SELECT exec_id, COUNT(*) FROM fills GROUP BY exec_id HAVING COUNT(*) > 1").fetchall()
    finally:
        j.close()
    journal_ids = [r[0] for r in rows]
    assert dupes == []
    assert len(set(journal_ids)) == len(journal_ids)
    assert {f.exec_id for f in fills} == set(journal_ids)
    assert any(f.source == "rebalancer" for f in fills) and any(f.source == "grid" for f in fills)

    # "every fill present": replay the same input in-process up to the last journaled fill and
    # record every fill; the journal must hold exactly the first len(journal) of them, in order
    last_ts = max(f.ts_ms for f in fills)
    market = load_market(data).window(end_ms=last_ts + 1)
    spy = SpyRecorder()
    run_replay(build_config(_base=cfg_data), market, mode="auto", recorder=spy)
    reference = [f.exec_id for f in spy.fills]
    assert len(reference) >= len(journal_ids)
    assert journal_ids == reference[: len(journal_ids)]
    # the fills themselves (price, qty, fee, side...) round-trip exactly
    ref_by_id = {f.exec_id: f for f in spy.fills}
    assert all(f == ref_by_id[f.exec_id] for f in fills)
