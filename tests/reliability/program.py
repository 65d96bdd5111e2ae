"""The real program as a subprocess, for the crash / restart tests (paper and Bybit venues).

``Program`` runs ``rebalancer_main.py --config … --headless`` with its data dir
(``REBALANCER_DATA_DIR``) and config file in the test's tmp dir. Nothing here sleeps to wait:
``wait_for`` polls a predicate between bounded waits on the process
(``proc.wait(timeout=POLL_S)`` rounds) under an overall deadline, and fails at once when the
program exits early. ``rows`` reads the journal from outside (committed rows only, as a
restarted program would see them).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
POLL_S = 0.05
DEADLINE_S = 40.0


def write_yaml(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


class Program:
    """``rebalancer --headless`` as a subprocess; config ``tmp/config.yaml``, data dir ``tmp/data``.

    ``journal_name``: the journal's file name (``{account}-{venue}-{symbol}.sqlite``);
    ``env``: extra environment (API keys). ``configure(cfg)`` rewrites the config file for
    the next ``start`` (a restart with another ``on_start_open_orders``).
    """

    def __init__(self, tmp: Path, cfg: dict, *, journal_name: str, env: dict[str, str] | None = None) -> None:
        self.tmp = tmp
        self.cfg_path = tmp / "config.yaml"
        self.configure(cfg)
        self.data_dir = tmp / "data"
        self.journal_path = self.data_dir / "journals" / journal_name
        self.env = dict(env or {})
        self.proc: subprocess.Popen | None = None
        self.runs = 0

    def configure(self, cfg: dict) -> None:
        self.cfg = cfg
        write_yaml(self.cfg_path, cfg)

    def start(self) -> None:
        self.runs += 1
        env = {**os.environ, "REBALANCER_DATA_DIR": str(self.data_dir), "PYTHONPATH": str(REPO), **self.env}
        out = open(self.tmp / f"stdout-{self.runs}.txt", "wb")
        err = open(self.tmp / f"stderr-{self.runs}.txt", "wb")
        self.proc = subprocess.Popen([sys.executable, str(REPO / "rebalancer_main.py"), "--config",
                                      str(self.cfg_path), "--headless"], cwd=self.tmp, env=env,
                                     stdout=out, stderr=err)
        out.close()
        err.close()

    def stderr(self) -> str:
        return (self.tmp / f"stderr-{self.runs}.txt").read_text(errors="replace")

    def log_tail(self, n: int = 3000) -> str:
        path = self.data_dir / "logs" / "rebalancer.log"
        return path.read_text(errors="replace")[-n:] if path.exists() else ""

    def wait_for(self, what: str, pred: Callable[[], Any], deadline_s: float = DEADLINE_S):
        """Poll ``pred()`` between bounded waits on the process; fail if it exits or time runs out."""
        assert self.proc is not None
        end = time.monotonic() + deadline_s
        while True:
            try:
                rc = self.proc.wait(timeout=POLL_S)
            except subprocess.TimeoutExpired:
                pass
            else:
                pytest.fail(f"the program exited (rc {rc}) while waiting for {what}; stderr: {self.stderr()[-3000:]}")
            got = pred()
            if got:
                return got
            if time.monotonic() > end:
                pytest.fail(f"timed out after {deadline_s:.0f}s waiting for {what}; stderr: {self.stderr()[-2000:]}"
                            f"\nlog: {self.log_tail()}")

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        assert self.proc.wait(timeout=10) == -signal.SIGKILL

    def stop(self) -> int:
        """SIGTERM: the headless program's clean stop (cancels our orders, closes the journal)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            pytest.fail("the program did not stop within 20 s of SIGTERM")

    def cleanup(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    # -- reading what it left

    def rows(self, sql: str, args: tuple = ()) -> list[tuple]:
        if not self.journal_path.exists():
            return []
        con = sqlite3.connect(self.journal_path, timeout=5)
        try:
            return con.execute(sql, args).fetchall()
        except sqlite3.OperationalError:
            return []  # the schema is not committed yet
        finally:
            con.close()
