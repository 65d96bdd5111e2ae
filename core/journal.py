"""SQLite journal: the trading record, and what a restart recovers from.

One file per account, venue and symbol (``default_journal_path``) under the data directory:
``$REBALANCER_DATA_DIR`` when set, else ``~/.local/share/spot-rebalancer``
(``default_data_dir``). ``":memory:"`` gives a throw-away journal for replays and tests.

Durability and speed:

- WAL mode with ``synchronous=NORMAL``: a commit is an append to the WAL without an fsync, so
  committed rows survive the process being killed (not a power cut) and writes stay cheap.
- Rows are batched into one transaction and committed when the *caller's* timestamps have
  moved ``commit_interval_ms`` (default 1000) past the last commit, or when
  ``max_pending_rows`` are waiting. The journal never reads the wall clock, so a replay is
  deterministic and commits on simulated time.
- Rows a restart must not lose commit at once: fills (money moved), trading-state and mode
  changes (a HALT must survive a crash), and rebalance completions (cooldown restore).

Exact numbers (``Decimal``) are stored as TEXT and read back unchanged; the policy's float
analytics (decision gap, price...) are stored as REAL. Timestamps are integer ms.

A ``Journal`` is not thread-safe: use it from one thread (the engine's loop) at a time.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections.abc import Callable, Iterable

from decimal import Decimal
from enum import Enum
from pathlib import Path

from core.model import Decision, Fill, Leg, Order, OrderStatus, Side, TimeInForce
from core.values import value_type

SCHEMA_VERSION = 1
MEMORY = ":memory:"
DATA_DIR_ENV = "REBALANCER_DATA_DIR"

# Suggested ``record_state`` kinds (free text is allowed; these are what the engine uses).
STATE_MODE = "mode"
STATE_TRADING = "trading_state"
STATE_KILL_SWITCH = "kill_switch"

_OPEN_STATUSES = (OrderStatus.NEW.value, OrderStatus.PARTIALLY_FILLED.value)
_TERMINAL_STATUSES = (
    OrderStatus.FILLED.value,
    OrderStatus.CANCELLED.value,
    OrderStatus.REJECTED.value,
)


class JournalError(Exception):
    """The file is not a usable journal (missing, not SQLite, foreign, wrong schema version)."""


# ---------------------------------------------------------------- paths


def default_data_dir() -> Path:
    """Where journals live: ``$REBALANCER_DATA_DIR`` or ``~/.local/share/spot-rebalancer``."""
    env = os.environ.get(DATA_DIR_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    return Path.home() / ".local" / "share" / "spot-rebalancer"


_UNSAFE = re.compile(r"[^A-Za-z0-9_.]+")


def _safe_part(label: str, value: str) -> str:
    # Names come from config; never let one escape the data dir or collide on a separator.
    cleaned = _UNSAFE.sub("_", str(value).strip()).strip("._")
    if not cleaned:
        raise ValueError(f"journal {label} is empty or unusable: {value!r}")
    return cleaned


def default_journal_path(data_dir: str | Path, account: str, venue: str, symbol: str) -> Path:
    """``{data_dir}/{account}-{venue}-{symbol}.sqlite``: one record per account/venue/symbol."""
    name = "-".join(
        (_safe_part("account", account), _safe_part("venue", venue), _safe_part("symbol", symbol))
    )
    return Path(data_dir) / f"{name}.sqlite"


# ---------------------------------------------------------------- schema

_SCHEMA = """
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

# Upgrades from an older schema: ``_MIGRATIONS[v]`` turns version v into v + 1.
_MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {}

# Statements are constant strings, so sqlite3's statement cache prepares each once.
_INS_DECISION = (
    "INSERT INTO decisions (ts_ms, mode, outcome, policy, action, side, qty_base, gap_base,"
    " net_base, target_base, price, reason, body) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
_INS_PROPOSAL = (
    "INSERT INTO proposals (ts_ms, proposal_id, answer, side, qty, price_limit, decision_ts,"
    " decision) VALUES (?,?,?,?,?,?,?,?)"
)
_ORDER_COLS = (
    "client_id, order_id, symbol, side, qty, price, tif, status, filled_qty, avg_fill_price,"
    " created_ms, updated_ms, reject_reason, leg"
)
_INS_ORDER_EVENT = (
    f"INSERT INTO order_events (ts_ms, event, {_ORDER_COLS}, decision_id)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
# A terminal row is never overwritten by a late "still open" update (venue messages can
# arrive out of order); otherwise the latest update wins. The decision link is kept once set.
_UPSERT_ORDER = (
    f"INSERT INTO orders ({_ORDER_COLS}, first_ts_ms, last_ts_ms, last_event, decision_id)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
    " ON CONFLICT(client_id) DO UPDATE SET"
    " order_id = CASE WHEN excluded.order_id != '' THEN excluded.order_id ELSE orders.order_id END,"
    " symbol = excluded.symbol, side = excluded.side, qty = excluded.qty,"
    " price = excluded.price, tif = excluded.tif, status = excluded.status,"
    " filled_qty = excluded.filled_qty, avg_fill_price = excluded.avg_fill_price,"
    " created_ms = CASE WHEN orders.created_ms != 0 THEN orders.created_ms"
    "   ELSE excluded.created_ms END,"
    " updated_ms = excluded.updated_ms, reject_reason = excluded.reject_reason,"
    " leg = excluded.leg, last_ts_ms = excluded.last_ts_ms, last_event = excluded.last_event,"
    " decision_id = COALESCE(orders.decision_id, excluded.decision_id)"
    f" WHERE orders.status NOT IN {_TERMINAL_STATUSES!r}"
    f"   OR excluded.status IN {_TERMINAL_STATUSES!r}"
)
_INS_FILL = (
    "INSERT OR IGNORE INTO fills (exec_id, ts_ms, symbol, side, price, qty, fee, fee_coin,"
    " is_maker, leg, client_id, order_id, source) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
_INS_SNAPSHOT = (
    "INSERT INTO snapshots (ts_ms, spot_base, quote, futures_size, price, net_base,"
    " equity_quote, target_base) VALUES (?,?,?,?,?,?,?,?)"
)
_INS_STATE = "INSERT INTO states (ts_ms, kind, value, reason) VALUES (?,?,?,?)"
_INS_ERROR = "INSERT INTO errors (ts_ms, message, code) VALUES (?,?,?)"
_INS_RECONCILE = "INSERT INTO reconciles (ts_ms, what, detail) VALUES (?,?,?)"
_INS_REBALANCE = "INSERT INTO rebalances (ts_ms, side, qty_base, path) VALUES (?,?,?,?)"

_FILL_COLS = (
    "exec_id, ts_ms, symbol, side, price, qty, fee, fee_coin, is_maker, leg, client_id,"
    " order_id, source"
)


# ---------------------------------------------------------------- value conversion


def _text(x: object) -> str:
    """Enum members by value (``str()`` of a str-Enum is ``Mode.AUTO`` in 3.11)."""
    return x.value if isinstance(x, Enum) else str(x)


def _num(x: Decimal | int | float | str | None) -> str | None:
    """Exact text for a number: Decimal keeps its digits, a float its shortest repr."""
    if x is None:
        return None
    if isinstance(x, bool):
        raise TypeError("a bool is not a number here")
    if isinstance(x, Decimal):
        return str(x)
    if isinstance(x, (int, float)):
        return repr(x)
    return str(Decimal(str(x)))  # validates text input


def _fill_row(f: Fill) -> tuple:
    return (
        f.exec_id, int(f.ts_ms), f.symbol, _text(f.side), str(f.price), str(f.qty), str(f.fee),
        f.fee_coin, 1 if f.is_maker else 0, _text(f.leg), f.client_id, f.order_id, f.source,
    )


def _fill_from_row(r: sqlite3.Row | tuple) -> Fill:
    return Fill(
        ts_ms=r[1], exec_id=r[0], symbol=r[2], side=Side(r[3]), price=Decimal(r[4]),
        qty=Decimal(r[5]), fee=Decimal(r[6]), fee_coin=r[7], is_maker=bool(r[8]), leg=Leg(r[9]),
        client_id=r[10], order_id=r[11], source=r[12],
    )


def _order_values(o: Order) -> tuple:
    return (
        o.client_id, o.order_id, o.symbol, _text(o.side), str(o.qty), str(o.price), _text(o.tif),
        _text(o.status), str(o.filled_qty), str(o.avg_fill_price), int(o.created_ms),
        int(o.updated_ms), o.reject_reason, _text(o.leg),
    )


def _order_from_row(r: tuple) -> Order:
    return Order(
        client_id=r[0], order_id=r[1], symbol=r[2], side=Side(r[3]), qty=Decimal(r[4]),
        price=Decimal(r[5]), tif=TimeInForce(r[6]), status=OrderStatus(r[7]),
        filled_qty=Decimal(r[8]), avg_fill_price=Decimal(r[9]), created_ms=r[10],
        updated_ms=r[11], reject_reason=r[12], leg=Leg(r[13]),
    )


@value_type
class Snapshot:
    """One stored balance/position snapshot, numbers exact as written."""

    ts_ms: int
    spot_base: Decimal
    quote: Decimal
    futures_size: Decimal
    price: Decimal
    net_base: Decimal
    equity_quote: Decimal
    target_base: Decimal | None = None

    @property
    def gap_base(self) -> Decimal | None:
        return None if self.target_base is None else self.net_base - self.target_base


# ---------------------------------------------------------------- the journal


class Journal:
    """Append-mostly record of one account/venue/symbol; see the module docstring."""

    def __init__(
        self,
        path: str | Path = MEMORY,
        *,
        create: bool = True,
        commit_interval_ms: int = 1000,
        max_pending_rows: int = 5000,
        meta: dict[str, str] | None = None,
    ) -> None:
        """Open (and with ``create``, make) a journal.

        ``create=False`` is for readers (the report): a missing file, a non-SQLite file or a
        foreign database is a ``JournalError`` and nothing is written to it.
        ``meta`` (e.g. account/venue/symbol) is stored in the ``meta`` table.
        """
        self.path = str(path)
        self.commit_interval_ms = int(commit_interval_ms)
        self.max_pending_rows = max(1, int(max_pending_rows))
        self._pending = 0
        self._last_commit_ms: int | None = None
        self._closed = False
        self._held = 0  # hold_commits() depth
        self._commit_due = False  # a commit was asked for while held
        self._due_ts_ms: int | None = None
        memory = self.path == MEMORY
        if not memory:
            p = Path(self.path)
            if not create and not p.exists():
                raise JournalError(f"{self.path}: no such journal file")
            if create:
                p.parent.mkdir(parents=True, exist_ok=True)
        try:
            # isolation_level=None: transactions are ours (BEGIN on first pending row).
            self._conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise JournalError(f"{self.path}: cannot open journal: {exc}") from exc
        try:
            self._open_schema(create=create, memory=memory)
            if meta and create:
                self._conn.execute("BEGIN")
                self._conn.executemany(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                    [(str(k), str(v)) for k, v in meta.items() if k != "schema_version"],
                )
                self._conn.execute("COMMIT")
        except BaseException:
            self._conn.close()
            self._closed = True
            raise

    # -- opening

    def _open_schema(self, *, create: bool, memory: bool) -> None:
        c = self._conn
        try:
            tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"{self.path}: not a journal (not an SQLite database: {exc})") from exc
        if not tables:
            if not create:
                raise JournalError(f"{self.path}: not a journal (empty database)")
            self._set_pragmas(memory)
            c.execute("BEGIN")
            for stmt in _SCHEMA.split(";"):
                if stmt.strip():
                    c.execute(stmt)
            c.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
            c.execute("COMMIT")
            return
        if "meta" not in tables:
            raise JournalError(f"{self.path}: not a journal (no meta table; tables: {sorted(tables)})")
        row = c.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is None:
            raise JournalError(f"{self.path}: not a journal (meta has no schema_version)")
        try:
            version = int(row[0])
        except ValueError as exc:
            raise JournalError(f"{self.path}: bad schema_version {row[0]!r}") from exc
        if version > SCHEMA_VERSION:
            raise JournalError(
                f"{self.path}: journal schema version {version} is newer than this program's "
                f"version {SCHEMA_VERSION}; use a newer rebalancer to open it"
            )
        if version < SCHEMA_VERSION:
            if not create:
                raise JournalError(
                    f"{self.path}: journal schema version {version} is older than this program's "
                    f"version {SCHEMA_VERSION}; open it once for writing to migrate it"
                )
            self._migrate(version)
        self._set_pragmas(memory)

    def _set_pragmas(self, memory: bool) -> None:
        if not memory:
            self.journal_mode = str(self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0])
        else:
            self.journal_mode = "memory"
        self._conn.execute("PRAGMA synchronous=NORMAL")

    def _migrate(self, version: int) -> None:
        c = self._conn
        start = version
        c.execute("BEGIN IMMEDIATE")
        try:
            while version < SCHEMA_VERSION:
                step = _MIGRATIONS.get(version)
                if step is None:
                    raise JournalError(
                        f"{self.path}: journal schema version {start} is older than this "
                        f"program's version {SCHEMA_VERSION} and no migration from version "
                        f"{version} exists"
                    )
                step(c)
                version += 1
            c.execute(
                "UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION),)
            )
        except BaseException:
            c.execute("ROLLBACK")
            raise
        c.execute("COMMIT")

    # -- lifecycle and commit policy

    @property
    def schema_version(self) -> int:
        return int(self._conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0])

    def meta(self) -> dict[str, str]:
        return dict(self._conn.execute("SELECT key, value FROM meta ORDER BY key").fetchall())

    @property
    def pending_rows(self) -> int:
        """Rows written since the last commit (lost if the process dies now)."""
        return self._pending

    def _begin(self) -> None:
        if not self._conn.in_transaction:
            self._conn.execute("BEGIN")

    def _wrote(self, ts_ms: int, rows: int = 1) -> None:
        self._pending += rows
        self.maybe_commit(ts_ms)

    def maybe_commit(self, ts_ms: int) -> bool:
        """Commit when ``commit_interval_ms`` of caller time passed since the last commit, or
        too many rows wait. Call it on timer ticks too, so a quiet market still flushes."""
        ts_ms = int(ts_ms)
        if self._last_commit_ms is None or ts_ms < self._last_commit_ms:
            # The interval is measured in the caller's time; start (or restart after a
            # backwards jump, e.g. a new replay) the clock at the first ts we see.
            self._last_commit_ms = ts_ms
        if self._pending == 0:
            return False
        if (
            ts_ms - self._last_commit_ms >= self.commit_interval_ms
            or self._pending >= self.max_pending_rows
        ):
            self.commit(ts_ms)
            return True
        return False

    def hold_commits(self) -> None:
        """Hold the commits asked for from now on until ``release_commits()``, which makes one.

        ``JournalRecorder.release`` holds them while it writes the rows an engine pass held
        back, so those rows, a fill among them, go out in one commit.
        """
        self._held += 1

    def release_commits(self) -> None:
        """End a ``hold_commits()``; the outermost one makes the commit that was asked for."""
        self._held = max(0, self._held - 1)
        if self._held == 0 and self._commit_due:
            self._commit_due = False
            ts, self._due_ts_ms = self._due_ts_ms, None
            self.commit(ts)

    def commit(self, ts_ms: int | None = None) -> None:
        """Make everything written so far durable (survives a kill of the process); while
        commits are held, at the outermost ``release_commits()``."""
        if self._held:
            self._commit_due = True
            if ts_ms is not None:
                self._due_ts_ms = int(ts_ms) if self._due_ts_ms is None else max(self._due_ts_ms, int(ts_ms))
            return
        if self._conn.in_transaction:
            self._conn.execute("COMMIT")
        self._pending = 0
        if ts_ms is not None:
            self._last_commit_ms = int(ts_ms)

    def close(self) -> None:
        """Commit and close; safe to call twice."""
        if self._closed:
            return
        self._held = 0  # closing commits whatever is held
        try:
            self.commit()
        finally:
            self._conn.close()
            self._closed = True

    def __enter__(self) -> "Journal":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writers

    def record_decision(
        self, decision: Decision, mode: str, outcome: str, *, ts_ms: int | None = None
    ) -> int:
        """Store a decision with every reason; returns its id (link orders to it with it).

        ``outcome``: executed / proposed / skipped / held / refused:<why>...
        ``ts_ms`` defaults to the decision's own time.
        """
        ts = int(decision.ts_ms if ts_ms is None else ts_ms)
        self._begin()
        cur = self._conn.execute(
            _INS_DECISION,
            (
                ts, _text(mode), str(outcome), decision.policy, _text(decision.action),
                _text(decision.side) if decision.side is not None else None,
                float(decision.qty_base), float(decision.gap_base), float(decision.net_base),
                float(decision.target_base), float(decision.price), decision.reason,
                json.dumps(decision.to_dict(), separators=(",", ":")),
            ),
        )
        rowid = int(cur.lastrowid)
        self._wrote(ts)
        return rowid

    def record_proposal(
        self,
        ts_ms: int,
        proposal_id: int,
        decision: Decision | None,
        answer: str,
        *,
        qty: Decimal | str | None = None,
        price_limit: Decimal | str | None = None,
    ) -> None:
        """A semi-mode proposal and the trader's answer (approved/skipped/expired/stale)."""
        self._begin()
        self._conn.execute(
            _INS_PROPOSAL,
            (
                int(ts_ms), int(proposal_id), str(answer),
                _text(decision.side) if decision is not None and decision.side is not None else None,
                _num(qty) if qty is not None else (
                    repr(float(decision.qty_base)) if decision is not None else None
                ),
                _num(price_limit),
                int(decision.ts_ms) if decision is not None else None,
                json.dumps(decision.to_dict(), separators=(",", ":")) if decision is not None else None,
            ),
        )
        self._wrote(ts_ms)

    def record_order(
        self, ts_ms: int, order: Order, event: str, *, decision_id: int | None = None
    ) -> None:
        """Append the order's new state and update its current-state row.

        ``decision_id`` (from ``record_decision``) ties the order to the rebalance that made
        it; the report uses that decision's price as the cost reference.
        """
        ts = int(ts_ms)
        values = _order_values(order)
        self._begin()
        self._conn.execute(_INS_ORDER_EVENT, (ts, str(event), *values, decision_id))
        self._conn.execute(_UPSERT_ORDER, (*values, ts, ts, str(event), decision_id))
        self._wrote(ts)

    def record_fill(self, fill: Fill) -> bool:
        """Store a fill once (by ``exec_id``) and commit at once: a fill must survive a kill.

        Returns False for a duplicate (the venue re-sent it, or a backfill overlapped).
        """
        self._begin()
        cur = self._conn.execute(_INS_FILL, _fill_row(fill))
        self.commit(int(fill.ts_ms))
        return cur.rowcount == 1

    def record_fills(self, fills: Iterable[Fill]) -> int:
        """Bulk form of ``record_fill`` (backfill, replay import): one commit; returns how
        many were new."""
        rows = [_fill_row(f) for f in fills]
        if not rows:
            return 0
        self._begin()
        before = self._conn.total_changes
        self._conn.executemany(_INS_FILL, rows)
        added = self._conn.total_changes - before
        self.commit(max(r[1] for r in rows))
        return added

    def record_snapshot(
        self,
        ts_ms: int,
        *,
        spot_base: Decimal | float,
        quote: Decimal | float,
        futures_size: Decimal | float,
        price: Decimal | float,
        net_base: Decimal | float,
        equity_quote: Decimal | float,
        target_base: Decimal | float | None = None,
    ) -> None:
        """Periodic balances/position; ``target_base`` lets the report measure tracking."""
        self._begin()
        self._conn.execute(
            _INS_SNAPSHOT,
            (
                int(ts_ms), _num(spot_base), _num(quote), _num(futures_size), _num(price),
                _num(net_base), _num(equity_quote), _num(target_base),
            ),
        )
        self._wrote(ts_ms)

    def record_state(self, ts_ms: int, kind: str, value: object, reason: str = "") -> None:
        """Mode / trading state (ACTIVE, PAUSED, HALTED + why) / kill switch changes.

        Committed at once: a HALT that a crash forgot would let a restart trade again.
        """
        self._begin()
        self._conn.execute(_INS_STATE, (int(ts_ms), str(kind), _text(value), str(reason)))
        self.commit(int(ts_ms))

    def record_error(self, ts_ms: int, message: str, code: int | None = None) -> None:
        self._begin()
        self._conn.execute(_INS_ERROR, (int(ts_ms), str(message), None if code is None else int(code)))
        self._wrote(ts_ms)

    def record_reconcile(self, ts_ms: int, what: str, detail: str = "") -> None:
        """A difference found between the journal and the venue at start-up or reconnect."""
        self._begin()
        self._conn.execute(_INS_RECONCILE, (int(ts_ms), str(what), str(detail)))
        self._wrote(ts_ms)

    def record_rebalance_done(
        self, ts_ms: int, side: Side, qty_base: Decimal | float, path: str
    ) -> None:
        """A rebalance finished (``path``: maker / chase / taker...). Committed at once: the
        cooldown and hysteresis restored after a restart start from it."""
        self._begin()
        self._conn.execute(
            _INS_REBALANCE, (int(ts_ms), _text(Side.parse(_text(side))), _num(qty_base), str(path))
        )
        self.commit(int(ts_ms))

    # -- readers (restart recovery, report, cockpit history)

    def fills(self, since_ms: int | None = None, *, source: str | None = None) -> list[Fill]:
        """Fills at or after ``since_ms`` (all when None), oldest first, rebuilt exactly."""
        sql = f"SELECT {_FILL_COLS} FROM fills"
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
        return [_fill_from_row(r) for r in self._conn.execute(sql, args)]

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
        fills may be the missing ones). None when the journal has neither."""
        last = self.last_fill_ts()
        row = self._conn.execute(f"SELECT MIN(first_ts_ms) FROM orders WHERE status IN {_OPEN_STATUSES!r}").fetchone()
        first_open = None if row[0] is None else int(row[0])
        if last is None or (first_open is not None and first_open < last):
            return first_open
        return last

    def open_orders(self) -> list[Order]:
        """Orders whose last known state is New or PartiallyFilled, oldest first."""
        rows = self._conn.execute(
            f"SELECT {_ORDER_COLS} FROM orders WHERE status IN {_OPEN_STATUSES!r}"
            " ORDER BY first_ts_ms, rowid"
        )
        return [_order_from_row(r) for r in rows]

    def order(self, client_id: str) -> Order | None:
        row = self._conn.execute(
            f"SELECT {_ORDER_COLS} FROM orders WHERE client_id = ?", (client_id,)
        ).fetchone()
        return None if row is None else _order_from_row(row)

    def orders(self) -> list[dict]:
        """Current state of every order with its journal bookkeeping (report input)."""
        rows = self._conn.execute(
            f"SELECT {_ORDER_COLS}, first_ts_ms, last_ts_ms, last_event, decision_id FROM orders"
            " ORDER BY first_ts_ms, rowid"
        )
        return [
            {
                "order": _order_from_row(r),
                "first_ts_ms": r[14],
                "last_ts_ms": r[15],
                "last_event": r[16],
                "decision_id": r[17],
            }
            for r in rows
        ]

    def order_events(self, client_id: str | None = None) -> list[tuple[int, str, Order]]:
        """The append-only history: (ts_ms, event, order), in write order."""
        sql = f"SELECT ts_ms, event, {_ORDER_COLS} FROM order_events"
        args: tuple = ()
        if client_id is not None:
            sql += " WHERE client_id = ?"
            args = (client_id,)
        sql += " ORDER BY id"
        return [(r[0], r[1], _order_from_row(r[2:])) for r in self._conn.execute(sql, args)]

    def last_state(self, kind: str) -> tuple[str, str, int] | None:
        """The latest ``record_state`` of this kind as (value, reason, ts_ms), or None."""
        row = self._conn.execute(
            "SELECT value, reason, ts_ms FROM states WHERE kind = ? ORDER BY id DESC LIMIT 1",
            (kind,),
        ).fetchone()
        return None if row is None else (row[0], row[1], int(row[2]))

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
        return None if best is None else (int(best[0]), Side(best[1]))

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
        return [
            {
                "id": r[0], "ts_ms": r[1], "mode": r[2], "outcome": r[3], "action": r[4],
                "side": r[5], "price": r[6], "reason": r[7], "decision": json.loads(r[8]),
            }
            for r in rows
        ]

    def trade_decisions(self) -> list[tuple[int, int, str, float]]:
        """(id, ts_ms, side, price) of every decision that wanted to trade, by time (report)."""
        return [
            (int(r[0]), int(r[1]), r[2], float(r[3]))
            for r in self._conn.execute(
                "SELECT id, ts_ms, side, price FROM decisions"
                " WHERE action != 'hold' AND side IS NOT NULL ORDER BY ts_ms, id"
            )
        ]

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
        return [
            Snapshot(
                ts_ms=int(r[0]), spot_base=Decimal(r[1]), quote=Decimal(r[2]),
                futures_size=Decimal(r[3]), price=Decimal(r[4]), net_base=Decimal(r[5]),
                equity_quote=Decimal(r[6]), target_base=None if r[7] is None else Decimal(r[7]),
            )
            for r in self._conn.execute(sql, args)
        ]

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
        if table not in _TABLES:
            raise ValueError(f"not a journal table: {table!r}")
        return int(self._conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])

    def counts_by(self, table: str, column: str) -> dict[str, int]:
        """``{value: rows}`` of one column (decisions by action, orders by status...)."""
        if (table, column) not in _GROUPABLE:
            raise ValueError(f"cannot group {table} by {column}")
        rows = self._conn.execute(
            f"SELECT {column}, COUNT(*) FROM {table} GROUP BY {column} ORDER BY {column}"
        )
        return {str(r[0]): int(r[1]) for r in rows}

    def time_span(self) -> tuple[int, int] | None:
        """(first, last) ts_ms over everything recorded, or None for an empty journal."""
        parts = " UNION ALL ".join(
            f"SELECT MIN(ts_ms) AS lo, MAX(ts_ms) AS hi FROM {t}" for t in _TIMED_TABLES
        )
        row = self._conn.execute(f"SELECT MIN(lo), MAX(hi) FROM ({parts})").fetchone()
        return None if row[0] is None else (int(row[0]), int(row[1]))


_TIMED_TABLES = (
    "decisions", "proposals", "order_events", "fills", "snapshots", "states", "errors",
    "reconciles", "rebalances",
)
_TABLES = frozenset(_TIMED_TABLES) | {"orders", "meta"}
_GROUPABLE = frozenset(
    {
        ("decisions", "action"), ("decisions", "outcome"), ("decisions", "mode"),
        ("orders", "status"), ("proposals", "answer"), ("fills", "source"),
    }
)
