"""What a journal says: the queries a restart recovers from, the report summarises and the cockpit shows.

A ``JournalReader`` never writes. ``open_reader(path)`` is how the report opens a file:
a missing file, a non-SQLite file, a foreign database or an older schema is a ``JournalError``
naming the file, and the file is left as it was.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from decimal import Decimal
from pathlib import Path

from core.journal import schema
from core.journal.rows import (
    FILL_COLS, OPEN_STATUSES, ORDER_COLS, Snapshot, fill_from_row, order_from_row,
)
from core.journal.schema import TABLES, TIMED_TABLES, JournalError
from core.costs import Arrival
from core.model import Fill, Leg, Order, Side

GROUPABLE = frozenset(
    {
        ("decisions", "action"), ("decisions", "outcome"), ("decisions", "mode"),
        ("orders", "status"), ("proposals", "answer"), ("fills", "source"),
    }
)


BAD_VALUE = (ArithmeticError, ValueError, TypeError, IndexError, KeyError)  # Decimal('abc'), Side('x'), None...


def open_reader(path: str | Path) -> "JournalReader":
    """An existing journal, read only (see the module docstring)."""
    conn, _mode = schema.connect(str(path), create=False)
    return JournalReader(conn, str(path))


class JournalReader:
    """Queries over one journal connection."""

    def __init__(self, conn: sqlite3.Connection, path: str) -> None:
        self._conn = conn
        self.path = path

    def close(self) -> None:
        self._conn.close()

    def _each(self, table: str, rows, convert) -> list:
        """``convert`` each row; a row no journal writes (edited by hand, a damaged file) is a
        ``JournalError`` naming the file, the table and the row, never a traceback."""
        out = []
        for r in rows:
            try:
                out.append(convert(r))
            except BAD_VALUE as e:
                shown = ", ".join(repr(v)[:40] for v in tuple(r)[:6])
                raise JournalError(f"{self.path}: table {table}: a row no journal writes ({shown}, ...): "
                                   f"{type(e).__name__} {str(e)[:80]}; the file was edited or is damaged: "
                                   "restore a backup or move it aside") from None
        return out

    def __enter__(self) -> "JournalReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return schema.schema_version(self._conn)

    def meta(self) -> dict[str, str]:
        return dict(self._conn.execute("SELECT key, value FROM meta ORDER BY key").fetchall())

    def fills_symbol(self) -> str | None:
        """The symbol most fills name (a journal from before its meta named one)."""
        row = self._conn.execute("SELECT symbol FROM fills GROUP BY symbol ORDER BY COUNT(*) DESC LIMIT 1").fetchone()
        return str(row[0]) if row and row[0] else None

    def fills(self, since_ms: int | None = None, *, source: str | None = None) -> list[Fill]:
        """Fills at or after ``since_ms`` (all when None), oldest first, rebuilt exactly."""
        sql = f"SELECT {FILL_COLS} FROM fills"
        where, args = [], []
        if since_ms is not None:
            where.append("ts_ms >= ?")
            args.append(int(since_ms))
        if source is not None:
            where.append("source = ?")
            args.append(source)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY ts_ms, id"
        return self._each("fills", self._conn.execute(sql, args), fill_from_row)

    def exec_ids(self, since_ms: int | None = None) -> set[str]:
        """Exec ids of the fills at or after ``since_ms`` (all when None): what a back-fill skips."""
        if since_ms is None:
            return {r[0] for r in self._conn.execute("SELECT exec_id FROM fills")}
        return {r[0] for r in self._conn.execute("SELECT exec_id FROM fills WHERE ts_ms >= ?", (int(since_ms),))}

    def fills_fingerprint(self) -> str | None:
        """A digest of every fill (id, time, side, price, size), None without fills: two journals
        with the same one are copies of one."""
        h = hashlib.sha256()
        n = 0
        for row in self._conn.execute("SELECT exec_id, ts_ms, side, price, qty FROM fills ORDER BY ts_ms, exec_id"):
            h.update(repr(tuple(row)).encode())
            n += 1
        return h.hexdigest() if n else None

    def fill_count(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM fills").fetchone()[0])

    def last_fill_ts(self, source: str | None = None) -> int | None:
        """Newest fill time (of one source when given): where a backfill resumes."""
        if source is None:
            row = self._conn.execute("SELECT MAX(ts_ms) FROM fills").fetchone()
        else:
            row = self._conn.execute("SELECT MAX(ts_ms) FROM fills WHERE source = ?", (source,)).fetchone()
        return None if row[0] is None else int(row[0])

    def backfill_since(self) -> int | None:
        """Where a back-fill of fills missed while down must start: the newest journaled fill,
        or earlier when an order the journal still holds open began before it (its first
        fills may be the missing ones) or a journal outage not back-filled yet began before it.
        None when the journal has none of them."""
        last = self.last_fill_ts()
        row = self._conn.execute(f"SELECT MIN(first_ts_ms) FROM orders WHERE status IN {OPEN_STATUSES!r}").fetchone()
        first_open = None if row[0] is None else int(row[0])
        if last is None or (first_open is not None and first_open < last):
            since = first_open
        else:
            since = last
        gap = self.open_journal_gap()
        return gap if gap is not None and (since is None or gap < since) else since

    def open_journal_gap(self) -> int | None:
        """Where an outage of the journal began that no back-fill has closed yet (the engine's
        ``journal_gap`` rows): fills after it may lack their rows though newer ones are here."""
        row = self._conn.execute(
            "SELECT value FROM states WHERE kind = 'journal_gap' ORDER BY id DESC LIMIT 1").fetchone()
        return int(row[0]) if row is not None and str(row[0]).lstrip("-").isdigit() else None

    def open_orders(self) -> list[Order]:
        """Orders whose last known state is New or PartiallyFilled, oldest first."""
        rows = self._conn.execute(
            f"SELECT {ORDER_COLS} FROM orders WHERE status IN {OPEN_STATUSES!r}"
            " ORDER BY first_ts_ms, rowid"
        )
        return self._each("orders", rows, order_from_row)

    def order(self, client_id: str) -> Order | None:
        row = self._conn.execute(
            f"SELECT {ORDER_COLS} FROM orders WHERE client_id = ?", (client_id,)
        ).fetchone()
        return None if row is None else self._each("orders", [row], order_from_row)[0]

    def orders(self) -> list[dict]:
        """Current state of every order with its journal bookkeeping (report input)."""
        rows = self._conn.execute(
            f"SELECT {ORDER_COLS}, first_ts_ms, last_ts_ms, last_event, decision_id FROM orders"
            " ORDER BY first_ts_ms, rowid"
        )
        return self._each("orders", rows, lambda r: {
            "order": order_from_row(r),
            "first_ts_ms": r[14],
            "last_ts_ms": r[15],
            "last_event": r[16],
            "decision_id": r[17],
        })

    def arrivals(self) -> dict[str, tuple[int | None, Arrival]]:
        """``{rebalance: (decision id, the market at its decision)}`` (``core.costs``)."""
        rows = self._conn.execute("SELECT rebalance, decision_id, ts_ms, mid, bid, ask FROM arrivals")
        return dict(self._each("arrivals", rows, lambda r: (r[0], (r[1], Arrival(r[2], r[3], r[4], r[5])))))

    def markouts(self) -> dict[str, float]:
        """``{exec_id: mid a markout horizon after that maker fill}``."""
        return dict(self._conn.execute("SELECT exec_id, mid_after FROM markouts").fetchall())

    def order_events(self, client_id: str | None = None) -> list[tuple[int, str, Order]]:
        """The append-only history: (ts_ms, event, order), in write order."""
        sql = f"SELECT ts_ms, event, {ORDER_COLS} FROM order_events"
        args: tuple = ()
        if client_id is not None:
            sql += " WHERE client_id = ?"
            args = (client_id,)
        sql += " ORDER BY id"
        return self._each("order_events", self._conn.execute(sql, args), lambda r: (r[0], r[1], order_from_row(r[2:])))

    def last_state(self, kind: str) -> tuple[str, str, int] | None:
        """The latest ``record_state`` of this kind as (value, reason, ts_ms), or None."""
        row = self._conn.execute(
            "SELECT value, reason, ts_ms FROM states WHERE kind = ? ORDER BY id DESC LIMIT 1",
            (kind,),
        ).fetchone()
        return None if row is None else (row[0], row[1], int(row[2]))

    def drawdown_peak(self) -> float | None:
        """The highest equity the snapshots saw since the kill switch was last re-armed (a re-arm
        restarts the peak from there), or since the journal began: what a restart measures its
        drawdown from. None without snapshots."""
        row = self._conn.execute(
            "SELECT ts_ms FROM states WHERE kind = 'trading_state' AND reason LIKE 're-armed%' "
            "ORDER BY id DESC LIMIT 1").fetchone()
        since = int(row[0]) if row is not None else None
        sql = "SELECT MAX(CAST(equity_quote AS REAL)) FROM snapshots"
        peak = self._conn.execute(sql + " WHERE ts_ms >= ?", (since,)).fetchone() if since is not None \
            else self._conn.execute(sql).fetchone()
        value = peak[0] if peak is not None else None
        return float(value) if isinstance(value, (int, float)) and value == value and value > 0 else None

    def last_rebalance(self) -> tuple[int, Side] | None:
        """(ts_ms, side) of the last rebalance, for cooldown/hysteresis after a restart.

        The newer of the last ``record_rebalance_done`` and the last spot fill of source
        "rebalancer": a fill commits at once, so a crash between a fill and its
        rebalance-done row still restores the cooldown. A tie goes to the explicit row.
        """
        done = self._conn.execute(
            "SELECT ts_ms, side FROM rebalances ORDER BY ts_ms DESC, id DESC LIMIT 1"
        ).fetchone()
        fill = self._conn.execute(
            "SELECT ts_ms, side FROM fills WHERE source = 'rebalancer' AND leg = ?"
            " ORDER BY ts_ms DESC, id DESC LIMIT 1",
            (Leg.SPOT.value,),
        ).fetchone()
        best = done
        if fill is not None and (best is None or fill[0] > best[0]):
            best = fill
        return None if best is None else self._each("rebalances", [best], lambda r: (int(r[0]), Side(r[1])))[0]

    def decisions(self, limit: int | None = 100) -> list[dict]:
        """The newest ``limit`` decisions (all when None), oldest first.

        Each dict: id, ts_ms, mode, outcome, action, side, price, reason and ``decision``
        (the stored ``Decision.to_dict()``).
        """
        sql = (
            "SELECT id, ts_ms, mode, outcome, action, side, price, reason, body FROM decisions"
            " ORDER BY id DESC"
        )
        args: tuple = ()
        if limit is not None:
            sql += " LIMIT ?"
            args = (int(limit),)
        rows = self._conn.execute(sql, args).fetchall()
        rows.reverse()
        return self._each("decisions", rows, lambda r: {
            "id": r[0], "ts_ms": r[1], "mode": r[2], "outcome": r[3], "action": r[4],
            "side": r[5], "price": r[6], "reason": r[7], "decision": json.loads(r[8]),
        })

    def trade_decisions(self) -> list[tuple[int, int, str, float]]:
        """(id, ts_ms, side, price) of every decision that wanted to trade, by time (report)."""
        rows = self._conn.execute("SELECT id, ts_ms, side, price FROM decisions"
                                  " WHERE action != 'hold' AND side IS NOT NULL ORDER BY ts_ms, id")
        return self._each("decisions", rows, lambda r: (int(r[0]), int(r[1]), r[2], float(r[3])))

    def proposals(self, limit: int | None = 100) -> list[dict]:
        sql = (
            "SELECT ts_ms, proposal_id, answer, side, qty, price_limit, decision_ts FROM proposals"
            " ORDER BY id DESC"
        )
        args: tuple = () if limit is None else (int(limit),)
        if limit is not None:
            sql += " LIMIT ?"
        rows = self._conn.execute(sql, args).fetchall()
        rows.reverse()
        keys = ("ts_ms", "proposal_id", "answer", "side", "qty", "price_limit", "decision_ts")
        return [dict(zip(keys, r)) for r in rows]

    def snapshots(self, since_ms: int | None = None) -> list[Snapshot]:
        sql = (
            "SELECT ts_ms, spot_base, quote, futures_size, price, net_base, equity_quote,"
            " target_base FROM snapshots"
        )
        args: tuple = ()
        if since_ms is not None:
            sql += " WHERE ts_ms >= ?"
            args = (int(since_ms),)
        sql += " ORDER BY ts_ms, id"
        return self._each("snapshots", self._conn.execute(sql, args), lambda r: Snapshot(
            ts_ms=int(r[0]), spot_base=Decimal(r[1]), quote=Decimal(r[2]),
            futures_size=Decimal(r[3]), price=Decimal(r[4]), net_base=Decimal(r[5]),
            equity_quote=Decimal(r[6]), target_base=None if r[7] is None else Decimal(r[7]),
        ))

    def states(self, kind: str | None = None) -> list[tuple[int, str, str, str]]:
        """(ts_ms, kind, value, reason) in write order."""
        if kind is None:
            rows = self._conn.execute("SELECT ts_ms, kind, value, reason FROM states ORDER BY id")
        else:
            rows = self._conn.execute(
                "SELECT ts_ms, kind, value, reason FROM states WHERE kind = ? ORDER BY id", (kind,)
            )
        return [tuple(r) for r in rows]

    def errors(self, limit: int | None = 100) -> list[dict]:
        """The newest ``limit`` errors, oldest first: {ts_ms, message, code}."""
        sql = "SELECT ts_ms, message, code FROM errors ORDER BY id DESC"
        args: tuple = ()
        if limit is not None:
            sql += " LIMIT ?"
            args = (int(limit),)
        rows = self._conn.execute(sql, args).fetchall()
        rows.reverse()
        return [{"ts_ms": r[0], "message": r[1], "code": r[2]} for r in rows]

    def reconciles(self, limit: int | None = 100) -> list[dict]:
        sql = "SELECT ts_ms, what, detail FROM reconciles ORDER BY id DESC"
        args: tuple = ()
        if limit is not None:
            sql += " LIMIT ?"
            args = (int(limit),)
        rows = self._conn.execute(sql, args).fetchall()
        rows.reverse()
        return [{"ts_ms": r[0], "what": r[1], "detail": r[2]} for r in rows]

    def count(self, table: str) -> int:
        """Row count of one journal table (report, tests)."""
        if table not in TABLES:
            raise ValueError(f"not a journal table: {table!r}")
        return int(self._conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])

    def counts_by(self, table: str, column: str) -> dict[str, int]:
        """``{value: rows}`` of one column (decisions by action, orders by status...)."""
        if (table, column) not in GROUPABLE:
            raise ValueError(f"cannot group {table} by {column}")
        rows = self._conn.execute(
            f"SELECT {column}, COUNT(*) FROM {table} GROUP BY {column} ORDER BY {column}"
        )
        return {str(r[0]): int(r[1]) for r in rows}

    def time_span(self) -> tuple[int, int] | None:
        """(first, last) ts_ms over everything recorded, or None for an empty journal."""
        parts = " UNION ALL ".join(
            f"SELECT MIN(ts_ms) AS lo, MAX(ts_ms) AS hi FROM {t}" for t in TIMED_TABLES
        )
        row = self._conn.execute(f"SELECT MIN(lo), MAX(hi) FROM ({parts})").fetchone()
        return None if row[0] is None else (int(row[0]), int(row[1]))
