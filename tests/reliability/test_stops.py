"""Every stop is clean and true, and one account runs one session (issue 13): the real program,
headless, as a subprocess; SIGHUP handled like SIGTERM; a second instance refused; journal
faults at start named in one line."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from tests.builders import ANCHOR_BLOCK
from tests.reliability.program import REPO, Program

JOURNAL = "Stp-paper-BTCUSDT.sqlite"


def config(**extra) -> dict:
    cfg = {"symbol": "BTCUSDT", "venue": "paper", "mode": "auto", "api": {"account_name": "Stp"},
           "rebalancer": dict(ANCHOR_BLOCK), "paper": {"speed": 1.0}, "journal": {"enabled": True}}
    cfg.update(extra)
    return cfg


@pytest.fixture
def program(tmp_path):
    p = Program(tmp_path, config(), journal_name=JOURNAL)
    yield p
    p.cleanup()


def _started(p: Program) -> None:
    """This run's engine is up: one ``session started`` row per run so far."""
    p.wait_for("the engine to start",
               lambda: len(p.rows("SELECT 1 FROM states WHERE kind = 'session' AND value = 'started'")) >= p.runs)


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_headless_cleanly_and_the_record_says_why(program, sig):
    program.start()
    _started(program)
    t0 = time.monotonic()
    program.proc.send_signal(sig)
    rc = program.proc.wait(timeout=5)
    assert rc == 0 and time.monotonic() - t0 < 5.0
    (value, reason), = program.rows("SELECT value, reason FROM states WHERE kind = 'session' ORDER BY id DESC LIMIT 1")
    assert value == "stopped" and reason.startswith(f"{sig.name} received, orders cancelled (")
    assert f"session stopped: {reason}" in program.log_tail(20_000)  # the log says the same thing


def test_a_second_instance_on_the_same_account_is_refused(program, tmp_path, capsys):
    program.start()
    _started(program)
    # a second headless start with the same config
    second = subprocess.run([sys.executable, str(REPO / "rebalancer_main.py"), "--config", str(program.cfg_path),
                             "--headless"], cwd=tmp_path, capture_output=True, text=True, timeout=30,
                            env={**__import__("os").environ, "REBALANCER_DATA_DIR": str(program.data_dir),
                                 "PYTHONPATH": str(REPO)})
    assert second.returncode == 2, second.stderr
    line = second.stderr.strip().splitlines()[-1]
    assert "another rebalancer is running" in line and f"pid {program.proc.pid}" in line and "mode auto" in line
    # the cockpit path refuses the same way (in-process, same data dir), and with another state file too
    import os

    from tui.cli import main

    os.environ["REBALANCER_DATA_DIR"] = str(program.data_dir)
    try:
        other = tmp_path / "other.yaml"
        other.write_text(program.cfg_path.read_text().replace("speed: 1.0", f"speed: 1.0\n  state_file: {tmp_path}/s.json"))
        assert main(["--config", str(other)]) == 2
        assert "another rebalancer is running" in capsys.readouterr().err
    finally:
        del os.environ["REBALANCER_DATA_DIR"]
    # the first one never noticed: it still runs and stops cleanly; its journal has one session
    assert program.proc.poll() is None
    assert program.stop() == 0
    # and once it is gone the account is free again
    program.start()
    _started(program)
    assert program.stop() == 0


@pytest.mark.parametrize("fault", ["random-bytes", "truncated", "directory", "foreign-db"])
def test_a_journal_fault_at_start_is_one_line_and_exit_2(program, fault):
    import sqlite3

    program.journal_path.parent.mkdir(parents=True)
    if fault == "random-bytes":
        program.journal_path.write_bytes(bytes(range(256)) * 20)
    elif fault == "truncated":
        program.journal_path.write_bytes(b"SQLite format 3\x00" + b"\x00" * 50)
    elif fault == "directory":
        program.journal_path.mkdir()
    else:
        con = sqlite3.connect(program.journal_path)
        con.execute("CREATE TABLE accounts (id INTEGER)")
        con.commit()
        con.close()
    program.start()
    rc = program.proc.wait(timeout=30)
    err = program.stderr().strip()
    assert rc == 2 and "Traceback" not in err, err
    assert str(program.journal_path) in err.splitlines()[-1] and "move the file aside" in err


def test_an_unreachable_venue_at_start_is_said_and_a_sigterm_during_the_retries_is_clean(tmp_path):
    """Issue 13 (7): headless, the engine died on the first failed start, the process stayed up
    silent and printed a ``TransportError`` traceback on SIGTERM. Here every Bybit address is a
    loopback port nobody listens on."""
    import socket

    with socket.socket() as s:  # a free loopback port, closed again: connections are refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = config(venue="testnet", api={"account_name": "Stp", "rest_url": f"http://127.0.0.1:{port}",
                                       "ws_public_url": f"ws://127.0.0.1:{port}",
                                       "ws_private_url": f"ws://127.0.0.1:{port}"})
    keys = {"BYBIT_API_KEY_Stp": "k" * 18, "BYBIT_API_SECRET_Stp": "s" * 36}
    p = Program(tmp_path, cfg, journal_name="Stp-testnet-BTCUSDT.sqlite", env=keys)
    try:
        p.start()
        p.wait_for("the failed start on stderr", lambda: "cannot start" in p.stderr(), deadline_s=10)
        p.wait_for("a second failed start", lambda: p.stderr().count("cannot start") >= 2, deadline_s=10)
        assert "cannot start" in p.log_tail()
        t0 = time.monotonic()
        rc = p.stop()
        assert rc == 0 and time.monotonic() - t0 < 5.0
        err = p.stderr()
        assert "Traceback" not in err, err
        (value, reason), = p.rows("SELECT value, reason FROM states WHERE kind = 'session' ORDER BY id DESC LIMIT 1")
        assert (value, reason) == ("stopped", "SIGTERM received, orders NOT cancelled (the venue was never reached)")
    finally:
        p.cleanup()


def test_sigterm_in_a_ten_day_gap_at_full_speed_stops_at_once(tmp_path):
    """Issue 13 (11): a 10-day gap in a paper CSV at ``speed: 0`` held the loop while its timer
    ticks were delivered, and SIGTERM took 25-58 s."""
    t0, day = 1_700_000_000_000, 86_400_000
    rows = ["ts_ms,price,qty,side"]
    for start in (t0, t0 + 10 * day):
        rows += [f"{start + i * 250},60000.00,0.001,buy" for i in range(20)]
    market = tmp_path / "gap.csv"
    market.write_text("\n".join(rows) + "\n", encoding="utf-8")
    p = Program(tmp_path, config(paper={"speed": 0, "market": str(market)}), journal_name=JOURNAL)
    try:
        p.start()
        _started(p)
        t = time.monotonic()
        rc = p.stop()
        took = time.monotonic() - t
        assert rc == 0 and took < 5.0, f"rc {rc} after {took:.1f} s"
        (value, reason), = p.rows("SELECT value, reason FROM states WHERE kind = 'session' ORDER BY id DESC LIMIT 1")
        assert value == "stopped" and reason.startswith("SIGTERM received")
    finally:
        p.cleanup()
