"""SQLite journal: the trading record, and what a restart recovers from.

- ``paths``: where journals live (``default_journal_path``: one file per account, venue and
  symbol under ``default_data_dir``); ``":memory:"`` is a throw-away journal;
- ``schema``: the tables, ``SCHEMA_VERSION``, the migrations, opening a file;
- ``rows``: values <-> columns (exact decimal text, enums by value);
- ``writer``: the one writer and its one commit policy (write-behind while the engine drains);
- ``reader``: the queries (restart recovery, ``rebalancer report``, the cockpit);
- ``recorder``: the rebalancer's ``Recorder`` onto the writer (``JournalRecorder``).

``Journal`` is one file opened to be written and read: what a session records into and a
restart recovers from. Use it from one thread (the engine's loop) at a time.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from core.journal import schema
from core.journal.paths import DATA_DIR_ENV, MEMORY, default_data_dir, default_journal_path
from core.journal.reader import JournalReader, open_reader
from core.journal.rows import Snapshot
from core.journal.schema import SCHEMA_VERSION, JournalError
from core.journal.writer import JournalWriteError, JournalWriter

# Suggested ``record_state`` kinds (free text is allowed; these are what the engine uses).
STATE_MODE = "mode"
STATE_TRADING = "trading_state"
STATE_KILL_SWITCH = "kill_switch"


class Journal(JournalWriter, JournalReader):
    """Append-mostly record of one account/venue/symbol, written and read on one connection."""

    def __init__(self, path: str | Path = MEMORY, *, create: bool = True, commit_interval_ms: int = 1000,
                 max_pending_rows: int = 5000, meta: dict[str, str] | None = None) -> None:
        """Open (and with ``create``, make or migrate) a journal.

        ``create=False`` opens an existing file without changing it (a missing, non-SQLite or
        foreign file is a ``JournalError``). ``meta`` (e.g. account/venue/symbol) is stored in
        the ``meta`` table.
        """
        path = str(path)
        conn, self.journal_mode = schema.connect(path, create=create, meta=meta)
        JournalReader.__init__(self, conn, path)
        JournalWriter.__init__(self, conn, commit_interval_ms=commit_interval_ms,
                               max_pending_rows=max_pending_rows)
        self.symbol = self.meta().get("symbol", "") if create else ""  # the symbol its rows name
        self._closed = False
        try:
            self._identity = None if path == MEMORY else _identity(path)
        except OSError:
            self._identity = None

    def file_gone(self) -> str | None:
        """Why the file at our path is no longer the one we write (deleted, moved, its directory
        removed), or None. SQLite goes on writing an unlinked file without a word: nothing of it
        would survive the process."""
        if self._identity is None:
            return None
        try:
            now = _identity(self.path)
        except OSError as e:
            return f"journal file gone: {self.path} ({e.strerror or e})"
        return None if now == self._identity else f"journal file replaced: {self.path}"

    def checkpoint_elsewhere(self) -> Callable[[], None] | None:
        """For a live session, whose commits sit on the order path (the write-ahead order row):
        SQLite's automatic checkpoint (the WAL copied into the database, with an fsync) runs
        inside a commit now and then and costs milliseconds. This turns it off on this
        connection and returns what checkpoints from a connection of its own, to be run off
        the loop (a thread) every few seconds. None for an in-memory journal."""
        if self.path == MEMORY or self.journal_mode != "wal":
            return None
        self._conn.execute("PRAGMA wal_autocheckpoint=0")
        path = self.path

        def checkpoint() -> None:
            con = sqlite3.connect(path, timeout=1.0)
            try:
                con.execute("PRAGMA wal_checkpoint(PASSIVE)")
            finally:
                con.close()

        return checkpoint

    def close(self) -> None:
        """Write what is held, commit and close; safe to call twice."""
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._conn.close()
            self._closed = True

    def __enter__(self) -> "Journal":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _identity(path: str) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_dev, st.st_ino


__all__ = [
    "DATA_DIR_ENV", "MEMORY", "SCHEMA_VERSION", "STATE_KILL_SWITCH", "STATE_MODE", "STATE_TRADING", "Journal",
    "JournalError", "JournalReader", "JournalWriteError", "JournalWriter", "Snapshot", "default_data_dir",
    "default_journal_path", "open_reader",
]
