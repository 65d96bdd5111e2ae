"""The log is a record (issue 16): what the journal gets, ``rebalancer.log`` says, one line each.

A paper session on the simulated clock (as fast as it runs) with the shell's own logging
(``tui.logfile``, as ``rebalancer --headless`` sets it up): orders, fills, a mode change, a
halt and the session's start and stop are lines in the file and on "stdout", the JSON form
parses line by line, the lines agree with the journal row for row, and a secret from the
environment never appears, not even inside a venue error or a traceback that carries it.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from core.config import load_config
from core.events import VenueProblem
from core.model import Mode
from core.session import Environment, build_session
from tui import logfile

REPO = Path(__file__).resolve().parents[2]
T0 = 1_765_000_000_000
SECRET = "sEcReT-9f8e7d6c5b4a"
DEADLINE_S = 30.0


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level, factory = list(root.handlers), root.level, logging.getLogRecordFactory()
    yield
    for h in list(root.handlers):
        root.removeHandler(h)
        h.close()
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)
    logging.setLogRecordFactory(factory)
    logfile.mask_secrets([])


async def _until(pred, what: str) -> None:
    """Poll ``pred`` between loop turns under a wall deadline (the session runs meanwhile)."""
    end = time.monotonic() + DEADLINE_S
    while not pred():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def _run_session(tmp_path: Path, fmt: str, monkeypatch) -> tuple[str, str, Path]:
    monkeypatch.setenv("BYBIT_API_SECRET_Wood", SECRET)
    cfg = load_config(str(REPO / "config.yaml"), need_secrets=False)
    cfg = replace(cfg, mode="auto")
    out = io.StringIO()
    log_path = logfile.setup(tmp_path / "logs" / "rebalancer.log", fmt=fmt, stdout=out)
    env = Environment(data_dir=tmp_path, now_ms=lambda: T0, paper_speed=0, record_tap=logfile.record_tap())
    session = build_session(cfg, env)
    engine, reb = session.engine, session.rebalancer
    journal_path = Path(session.journal.path)

    async def main() -> None:
        task = asyncio.create_task(engine.run())
        await _until(lambda: bool(reb.recent_fills), "our first fill")
        engine.set_mode(Mode.SEMI)
        engine._accept(VenueProblem(reb.now_ms, f"signature mismatch for key {SECRET}", code=10004))
        try:
            raise RuntimeError(f"boom with {SECRET}")
        except RuntimeError:
            logging.getLogger("rebalancer.test").exception("an error carrying the secret")
        engine.kill()
        await engine.shutdown(cancel_orders=True, reason="test stop")
        await task

    asyncio.run(main())
    session.release()
    return out.getvalue(), log_path.read_text(encoding="utf-8"), journal_path


def _rows(path: Path, table: str) -> list[sqlite3.Row]:
    con = sqlite3.connect(path)
    con.row_factory = sqlite3.Row
    try:
        return con.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
    finally:
        con.close()


def test_json_lines_record_orders_fills_mode_halt_and_agree_with_the_journal(tmp_path, monkeypatch, restore_logging):
    stdout, file_text, journal = _run_session(tmp_path, "json", monkeypatch)
    assert stdout == file_text  # headless: the same lines on stdout as in the file
    lines = [json.loads(line) for line in stdout.splitlines()]  # every line is one JSON object
    records = [r for r in lines if r["logger"] == logfile.RECORD_LOGGER]
    kinds = {r["kind"] for r in records}
    assert {"order", "fill", "mode", "trading_state", "session", "connection", "error", "decision"} <= kinds
    mode = next(r for r in records if r["kind"] == "mode")
    assert mode["value"] == "semi" and "from auto" in mode["reason"]
    halt = next(r for r in records if r["kind"] == "trading_state" and r["value"] == "HALTED")
    assert halt["level"] == "warning" and "kill switch" in halt["reason"]
    assert any(r["kind"] == "session" and r["value"] == "stopped" and "test stop" in r["reason"] for r in records)
    # the log and the journal say the same: every fill, every order state, every state row
    fills = _rows(journal, "fills")
    assert sorted(r["exec_id"] for r in records if r["kind"] == "fill") == sorted(f["exec_id"] for f in fills)
    sent = [(o["client_id"], o["event"]) for o in _rows(journal, "order_events") if o["event"] != "sending"]
    assert sent and [(r["client_id"], r["event"]) for r in records if r["kind"] == "order"] == sent
    states = [(s["kind"], s["value"]) for s in _rows(journal, "states")]
    assert [(r["kind"], r["value"]) for r in records if "value" in r] == states


def test_text_lines_are_one_per_record_and_never_carry_a_secret(tmp_path, monkeypatch, restore_logging):
    stdout, file_text, _journal = _run_session(tmp_path, "text", monkeypatch)
    assert SECRET not in stdout and SECRET not in file_text
    assert logfile.MASK in file_text  # the venue error and the traceback were said, masked
    record_lines = [line for line in file_text.splitlines() if f" {logfile.RECORD_LOGGER}: " in line]
    said = " ".join(line.split(": ", 1)[1].split(" ", 1)[0] for line in record_lines)
    for word in ("order", "fill", "mode", "trading", "session", "connection", "error"):
        assert word in said.split(), word
    assert any("trading state HALTED: kill switch" in line for line in record_lines)
    assert any("mode semi: from auto" in line for line in record_lines)


def test_headless_program_streams_the_same_json_lines_to_stdout_and_the_file(tmp_path):
    """The real program: ``rebalancer --headless --log-format json`` (today: one line on stderr,
    then nothing) prints a JSON line per record while it runs, the same as the log file."""
    cfg = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    cfg["paper"]["speed"] = 50.0  # fifty market seconds per wall second
    cfg_path = tmp_path / "config.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    data = tmp_path / "data"
    env = {**os.environ, "REBALANCER_DATA_DIR": str(data), "PYTHONPATH": str(REPO), "BYBIT_API_SECRET_Wood": SECRET}
    out_path = tmp_path / "stdout.txt"
    with open(out_path, "wb") as out:
        proc = subprocess.Popen([sys.executable, str(REPO / "rebalancer_main.py"), "--config", str(cfg_path),
                                 "--headless", "--mode", "auto", "--log-format", "json"],
                                cwd=tmp_path, env=env, stdout=out, stderr=subprocess.PIPE)
    try:
        end = time.monotonic() + DEADLINE_S
        while '"leg": "spot"' not in out_path.read_text(encoding="utf-8"):  # our first fill, said
            try:
                rc = proc.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                pass
            else:
                pytest.fail(f"the program exited (rc {rc}): {proc.stderr.read().decode()[-2000:]}")
            assert time.monotonic() < end, "no fill of ours on stdout in time"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    stdout = out_path.read_text(encoding="utf-8")
    lines = [json.loads(line) for line in stdout.splitlines()]
    assert {"order", "fill", "session"} <= {r.get("kind") for r in lines}
    assert lines[-1]["kind"] == "session" and lines[-1]["value"] == "stopped"
    in_file = (data / "logs" / "rebalancer.log").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in in_file if f'"{logfile.RECORD_LOGGER}"' in line] == \
        [r for r in lines if r["logger"] == logfile.RECORD_LOGGER]
    assert SECRET not in stdout and SECRET not in "\n".join(in_file)
