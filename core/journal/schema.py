"""The journal's tables, its schema version, the migrations that bring an older file up to date,
and opening a file: a reader never creates or changes one, a writer creates or migrates it.

Durability: WAL mode with ``synchronous=NORMAL``: a commit is an append to the WAL without an
fsync, so committed rows survive the process being killed (not a power cut) and writes stay
cheap. Exact numbers (``Decimal``) are stored as TEXT and read back unchanged; the policy's
float analytics (decision gap, price...) as REAL. Timestamps are integer ms.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from core.errors import RebalancerError
from core.journal.paths import MEMORY

SCHEMA_VERSION = 3
# The oldest version a reader opens as it is (its queries need nothing added since): ``report``
# reads a version-2 journal without migrating it.
READABLE_FROM = 2


class JournalError(RebalancerError):
    """The file is not a usable journal (missing, not SQLite, foreign, wrong schema version)."""


DDL = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS decisions (
    id          INTEGER PRIMARY KEY,
    ts_ms       INTEGER NOT NULL,
    mode        TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    policy      TEXT NOT NULL,
    action      TEXT NOT NULL,
    side        TEXT,
    qty_base    REAL NOT NULL,
    gap_base    REAL NOT NULL,
    net_base    REAL NOT NULL,
    target_base REAL NOT NULL,
    price       REAL NOT NULL,
    reason      TEXT NOT NULL,
    body        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_ts ON decisions(ts_ms);
CREATE TABLE IF NOT EXISTS proposals (
    id           INTEGER PRIMARY KEY,
    ts_ms        INTEGER NOT NULL,
    proposal_id  INTEGER NOT NULL,
    answer       TEXT NOT NULL,
    side         TEXT,
    qty          TEXT,
    price_limit  TEXT,
    decision_ts  INTEGER,
    decision     TEXT
);
CREATE TABLE IF NOT EXISTS order_events (
    id             INTEGER PRIMARY KEY,
    ts_ms          INTEGER NOT NULL,
    event          TEXT NOT NULL,
    client_id      TEXT NOT NULL,
    order_id       TEXT NOT NULL,
    symbol         TEXT NOT NULL,
    side           TEXT NOT NULL,
    qty            TEXT NOT NULL,
    price          TEXT NOT NULL,
    tif            TEXT NOT NULL,
    status         TEXT NOT NULL,
    filled_qty     TEXT NOT NULL,
    avg_fill_price TEXT NOT NULL,
    created_ms     INTEGER NOT NULL,
    updated_ms     INTEGER NOT NULL,
    reject_reason  TEXT NOT NULL,
    leg            TEXT NOT NULL,
    decision_id    INTEGER
);
CREATE INDEX IF NOT EXISTS order_events_client ON order_events(client_id);
CREATE TABLE IF NOT EXISTS orders (
    client_id      TEXT PRIMARY KEY,
    order_id       TEXT NOT NULL,
    symbol         TEXT NOT NULL,
    side           TEXT NOT NULL,
    qty            TEXT NOT NULL,
    price          TEXT NOT NULL,
    tif            TEXT NOT NULL,
    status         TEXT NOT NULL,
    filled_qty     TEXT NOT NULL,
    avg_fill_price TEXT NOT NULL,
    created_ms     INTEGER NOT NULL,
    updated_ms     INTEGER NOT NULL,
    reject_reason  TEXT NOT NULL,
    leg            TEXT NOT NULL,
    first_ts_ms    INTEGER NOT NULL,
    last_ts_ms     INTEGER NOT NULL,
    last_event     TEXT NOT NULL,
    decision_id    INTEGER
);
CREATE INDEX IF NOT EXISTS orders_status ON orders(status);
CREATE TABLE IF NOT EXISTS fills (
    id        INTEGER PRIMARY KEY,
    exec_id   TEXT NOT NULL UNIQUE,
    ts_ms     INTEGER NOT NULL,
    symbol    TEXT NOT NULL,
    side      TEXT NOT NULL,
    price     TEXT NOT NULL,
    qty       TEXT NOT NULL,
    fee       TEXT NOT NULL,
    fee_coin  TEXT NOT NULL,
    is_maker  INTEGER NOT NULL,
    leg       TEXT NOT NULL,
    client_id TEXT NOT NULL,
    order_id  TEXT NOT NULL,
    source    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS fills_ts ON fills(ts_ms);
CREATE INDEX IF NOT EXISTS fills_source_ts ON fills(source, ts_ms);
CREATE TABLE IF NOT EXISTS snapshots (
    id           INTEGER PRIMARY KEY,
    ts_ms        INTEGER NOT NULL,
    spot_base    TEXT NOT NULL,
    quote        TEXT NOT NULL,
    futures_size TEXT NOT NULL,
    price        TEXT NOT NULL,
    net_base     TEXT NOT NULL,
    equity_quote TEXT NOT NULL,
    target_base  TEXT
);
CREATE INDEX IF NOT EXISTS snapshots_ts ON snapshots(ts_ms);
CREATE TABLE IF NOT EXISTS states (
    id     INTEGER PRIMARY KEY,
    ts_ms  INTEGER NOT NULL,
    kind   TEXT NOT NULL,
    value  TEXT NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS states_kind ON states(kind, id);
CREATE TABLE IF NOT EXISTS errors (
    id      INTEGER PRIMARY KEY,
    ts_ms   INTEGER NOT NULL,
    message TEXT NOT NULL,
    code    INTEGER
);
CREATE TABLE IF NOT EXISTS reconciles (
    id     INTEGER PRIMARY KEY,
    ts_ms  INTEGER NOT NULL,
    what   TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rebalances (
    id       INTEGER PRIMARY KEY,
    ts_ms    INTEGER NOT NULL,
    side     TEXT NOT NULL,
    qty_base TEXT NOT NULL,
    path     TEXT NOT NULL
);
"""

# Version 2: the market at each rebalance's decision (what its cost is measured from) and the
# markouts of our maker fills -- ``core.costs``, so ``report`` costs a run as the session did.
V2_DDL = """
CREATE TABLE IF NOT EXISTS arrivals (
    rebalance   TEXT PRIMARY KEY,
    decision_id INTEGER,
    ts_ms       INTEGER NOT NULL,
    side        TEXT NOT NULL,
    qty_base    TEXT NOT NULL,
    path        TEXT NOT NULL,
    mid         REAL NOT NULL,
    bid         REAL NOT NULL,
    ask         REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS markouts (
    exec_id   TEXT PRIMARY KEY,
    ts_ms     INTEGER NOT NULL,
    mid_after REAL NOT NULL
);
"""
DDL += V2_DDL

# Version 3: the rows that did not name their symbol do (one process writes one journal per
# symbol, and ``report`` sums or filters them by symbol). Old rows take the journal's symbol:
# its meta, else the symbol most of its fills name, else '' (unknown).
SYMBOL_TABLES = ("decisions", "snapshots", "rebalances", "arrivals")
V3_DDL = "".join(f"ALTER TABLE {t} ADD COLUMN symbol TEXT NOT NULL DEFAULT '';\n" for t in SYMBOL_TABLES)
V3_FILL = "".join(
    f"UPDATE {t} SET symbol = COALESCE((SELECT value FROM meta WHERE key = 'symbol'),"
    " (SELECT symbol FROM fills GROUP BY symbol ORDER BY COUNT(*) DESC LIMIT 1), '');\n" for t in SYMBOL_TABLES)
DDL += V3_DDL


def _run(c: sqlite3.Connection, ddl: str) -> None:
    for stmt in ddl.split(";"):
        if stmt.strip():
            c.execute(stmt)

# Upgrades from an older schema: ``MIGRATIONS[v]`` turns version v into v + 1.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    1: lambda c: _run(c, V2_DDL),
    2: lambda c: _run(c, V3_DDL + V3_FILL),
}

TIMED_TABLES = (
    "decisions", "proposals", "order_events", "fills", "snapshots", "states", "errors",
    "reconciles", "rebalances", "arrivals", "markouts",
)
TABLES = frozenset(TIMED_TABLES) | {"orders", "meta"}


def connect(path: str, *, create: bool, meta: dict[str, str] | None = None) -> tuple[sqlite3.Connection, str]:
    """Open (and with ``create``, make or migrate) a journal; returns the connection and its
    journal mode (``wal``, or ``memory`` for ``":memory:"``).

    ``create=False`` is for readers (the report): a missing file, a non-SQLite file or a
    foreign database is a ``JournalError`` and nothing is written to it. ``meta`` (e.g.
    account/venue/symbol) is stored in the ``meta`` table when creating.
    """
    memory = path == MEMORY
    if not memory:
        p = Path(path)
        if not create and not p.exists():
            raise JournalError(f"{path}: no such journal file")
        if create:
            p.parent.mkdir(parents=True, exist_ok=True)
    try:
        # isolation_level=None: transactions are ours (the writer BEGINs on its first row).
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise JournalError(f"{path}: cannot open journal: {exc}") from exc
    try:
        mode = _open_schema(conn, path, create=create, memory=memory)
        if meta and create:
            conn.execute("BEGIN")
            conn.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                [(str(k), str(v)) for k, v in meta.items() if k != "schema_version"],
            )
            conn.execute("COMMIT")
    except sqlite3.Error as exc:  # e.g. its -wal / -journal file cannot be made: a JournalError, as callers catch
        conn.close()
        raise JournalError(f"{path}: cannot open journal: {exc}") from exc
    except BaseException:
        conn.close()
        raise
    return conn, mode


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0])


def _open_schema(c: sqlite3.Connection, path: str, *, create: bool, memory: bool) -> str:
    try:
        tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError as exc:
        raise JournalError(f"{path}: not a journal (not an SQLite database: {exc})") from exc
    if not tables:
        if not create:
            raise JournalError(f"{path}: not a journal (empty database)")
        mode = _set_pragmas(c, memory)
        c.execute("BEGIN")
        _run(c, DDL)
        c.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        c.execute("COMMIT")
        return mode
    if "meta" not in tables:
        raise JournalError(f"{path}: not a journal (no meta table; tables: {sorted(tables)})")
    row = c.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    if row is None:
        raise JournalError(f"{path}: not a journal (meta has no schema_version)")
    try:
        version = int(row[0])
    except ValueError as exc:
        raise JournalError(f"{path}: bad schema_version {row[0]!r}") from exc
    if version > SCHEMA_VERSION:
        raise JournalError(
            f"{path}: journal schema version {version} is newer than this program's "
            f"version {SCHEMA_VERSION}; use a newer rebalancer to open it"
        )
    missing = TABLES - tables
    if version == SCHEMA_VERSION and missing:  # a table dropped by hand: every query on it would crash
        raise JournalError(f"{path}: not a whole journal (no table {', '.join(sorted(missing))}): "
                           "restore a backup or move it aside")
    if version < SCHEMA_VERSION and not (not create and version >= READABLE_FROM):  # a reader takes it as is
        if not create:
            raise JournalError(
                f"{path}: journal schema version {version} is older than this program's "
                f"version {SCHEMA_VERSION}; open it once for writing to migrate it"
            )
        _migrate(c, path, version)
    return _set_pragmas(c, memory)


def _set_pragmas(c: sqlite3.Connection, memory: bool) -> str:
    mode = "memory" if memory else str(c.execute("PRAGMA journal_mode=WAL").fetchone()[0])
    c.execute("PRAGMA synchronous=NORMAL")
    return mode


def _migrate(c: sqlite3.Connection, path: str, version: int) -> None:
    """Every step from ``version`` up in one transaction: a failed step leaves the file as it was."""
    start = version
    c.execute("BEGIN IMMEDIATE")
    try:
        while version < SCHEMA_VERSION:
            step = MIGRATIONS.get(version)
            if step is None:
                raise JournalError(
                    f"{path}: journal schema version {start} is older than this "
                    f"program's version {SCHEMA_VERSION} and no migration from version "
                    f"{version} exists"
                )
            step(c)
            version += 1
        c.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION),))
    except BaseException:
        c.execute("ROLLBACK")
        raise
    c.execute("COMMIT")
