"""The one writer of journal rows, and its one commit policy.

Rows are written into an open transaction and committed:

- at once for the rows a restart must not lose: fills (money moved), states (mode, trading
  state: a HALT that a crash forgot would let a restart trade again) and rebalance
  completions (the cooldown and hysteresis restored after a restart start from them);
- otherwise when the *caller's* timestamps have moved ``commit_interval_ms`` (default 1000)
  past the last commit, or when ``max_pending_rows`` wait. The writer never reads the wall
  clock, so a replay is deterministic and commits on simulated time; a timer tick
  (``maybe_commit``) flushes a quiet market.

Write-behind: between ``hold()`` and ``release()`` the writes handed to ``later()`` wait in
memory, in order, and ``release()`` writes them and makes at most one commit (one if any of
them asked for one). The engine holds while it drains its event FIFO, so an order call goes
out before the SQLite writes its decision caused, and every row is written and committed as
the policy says before the engine hands the loop back. What is recorded is immutable (value
types, numbers, strings), so a row written late is the row recorded.

Not thread-safe: use it from one thread (the engine's loop) at a time.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from core.errors import RebalancerError
from core.journal.rows import ORDER_COLS, TERMINAL_STATUSES, fill_row, num, order_values, text
from core.model import Decision, Fill, Order, OrderRequest, OrderStatus, Side

# Statements are constant strings, so sqlite3's statement cache prepares each once.
_INS_DECISION = (
    "INSERT INTO decisions (ts_ms, mode, outcome, policy, action, side, qty_base, gap_base,"
    " net_base, target_base, price, reason, body, symbol) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
_INS_PROPOSAL = (
    "INSERT INTO proposals (ts_ms, proposal_id, answer, side, qty, price_limit, decision_ts,"
    " decision) VALUES (?,?,?,?,?,?,?,?)"
)
_INS_ORDER_EVENT = (
    f"INSERT INTO order_events (ts_ms, event, {ORDER_COLS}, decision_id)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
# A terminal row is never overwritten by a late "still open" update (venue messages can
# arrive out of order); otherwise the latest update wins. The decision link is kept once set.
_UPSERT_ORDER = (
    f"INSERT INTO orders ({ORDER_COLS}, first_ts_ms, last_ts_ms, last_event, decision_id)"
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
    f" WHERE orders.status NOT IN {TERMINAL_STATUSES!r}"
    f"   OR excluded.status IN {TERMINAL_STATUSES!r}"
)
_INS_FILL = (
    "INSERT OR IGNORE INTO fills (exec_id, ts_ms, symbol, side, price, qty, fee, fee_coin,"
    " is_maker, leg, client_id, order_id, source) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
_INS_SNAPSHOT = (
    "INSERT INTO snapshots (ts_ms, spot_base, quote, futures_size, price, net_base,"
    " equity_quote, target_base, symbol) VALUES (?,?,?,?,?,?,?,?,?)"
)
_INS_STATE = "INSERT INTO states (ts_ms, kind, value, reason) VALUES (?,?,?,?)"
_INS_ERROR = "INSERT INTO errors (ts_ms, message, code) VALUES (?,?,?)"
_INS_RECONCILE = "INSERT INTO reconciles (ts_ms, what, detail) VALUES (?,?,?)"
_INS_REBALANCE = "INSERT INTO rebalances (ts_ms, side, qty_base, path, symbol) VALUES (?,?,?,?,?)"
_INS_ARRIVAL = (
    "INSERT OR REPLACE INTO arrivals (rebalance, decision_id, ts_ms, side, qty_base, path, mid, bid, ask, symbol)"
    " VALUES (?,?,?,?,?,?,?,?,?,?)"
)
_INS_MARKOUT = "INSERT OR REPLACE INTO markouts (exec_id, ts_ms, mid_after) VALUES (?,?,?)"


class JournalWriteError(RebalancerError):
    """Rows that could not be written at a ``release()`` (the others were written), or a
    journal file that is no longer there. ``causes``: the underlying errors, first first."""

    def __init__(self, message: str, causes: tuple[BaseException, ...] = ()) -> None:
        super().__init__(message)
        self.causes = causes


class JournalWriter:
    """Rows in, commits out, by the policy in the module docstring."""

    def __init__(self, conn: sqlite3.Connection, *, commit_interval_ms: int = 1000,
                 max_pending_rows: int = 5000) -> None:
        self._conn = conn
        self.symbol = ""  # what the rows that carry a symbol name (the journal's: ``Journal`` sets it)
        self.commit_interval_ms = int(commit_interval_ms)
        self.max_pending_rows = max(1, int(max_pending_rows))
        self._pending = 0
        self._last_commit_ms: int | None = None
        self._later: list[tuple[Callable[..., Any], tuple, dict]] | None = None  # held writes
        self._releasing = False  # release() is writing: commits wait for its end
        self._commit_due = False
        self._due_ts_ms: int | None = None

    # -- write-behind

    def hold(self) -> None:
        """Keep what ``later()`` is given in memory until ``release()``."""
        if self._later is None:
            self._later = []

    def later(self, write: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Run ``write(*args, **kwargs)`` now, or at the ``release()`` when held."""
        if self._later is not None:
            self._later.append((write, args, kwargs))
        else:
            write(*args, **kwargs)

    def release(self) -> None:
        """Write what waits, in order, then commit once if any of it asked for a commit. A row
        that fails does not stop the rows after it; the failures are raised together at the end."""
        queued, self._later = self._later, None
        if not queued:
            return
        failures: list[tuple[str, Exception]] = []
        self._releasing = True
        try:
            for write, args, kwargs in queued:
                try:
                    write(*args, **kwargs)
                except Exception as exc:  # noqa: BLE001 - keep writing the rest, report below
                    failures.append((write.__name__, exc))
        finally:
            self._releasing = False
            if self._commit_due:
                self._commit_due = False
                ts, self._due_ts_ms = self._due_ts_ms, None
                self.commit(ts)
        if failures:
            said = "; ".join(f"{name}: {type(exc).__name__}: {exc}" for name, exc in failures[:3])
            raise JournalWriteError(f"{len(failures)} journal row(s) not written: {said}",
                                    tuple(exc for _, exc in failures))

    # -- commit policy

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
        if ts_ms - self._last_commit_ms >= self.commit_interval_ms or self._pending >= self.max_pending_rows:
            self.commit(ts_ms)
            return True
        return False

    def commit(self, ts_ms: int | None = None) -> None:
        """Make everything written so far durable (survives a kill of the process); during a
        ``release()``, once at its end."""
        if self._releasing:
            self._commit_due = True
            if ts_ms is not None:
                self._due_ts_ms = int(ts_ms) if self._due_ts_ms is None else max(self._due_ts_ms, int(ts_ms))
            return
        if self._conn.in_transaction:
            self._conn.execute("COMMIT")
        self._pending = 0
        if ts_ms is not None:
            self._last_commit_ms = int(ts_ms)

    def flush(self) -> None:
        """Write what is held and commit everything (closing)."""
        try:
            self.release()
        finally:
            self._releasing = False
            self.commit()

    # -- rows

    def record_decision(self, decision: Decision, mode: str, outcome: str, *, ts_ms: int | None = None) -> int:
        """Store a decision with every reason; returns its id (link orders to it with it).

        ``outcome``: executed / proposed / skipped / held / refused:<why>...
        ``ts_ms`` defaults to the decision's own time.
        """
        ts = int(decision.ts_ms if ts_ms is None else ts_ms)
        self._begin()
        cur = self._conn.execute(
            _INS_DECISION,
            (
                ts, text(mode), str(outcome), decision.policy, text(decision.action),
                text(decision.side) if decision.side is not None else None,
                float(decision.qty_base), float(decision.gap_base), float(decision.net_base),
                float(decision.target_base), float(decision.price), decision.reason,
                json.dumps(decision.to_dict(), separators=(",", ":")), self.symbol,
            ),
        )
        rowid = int(cur.lastrowid)
        self._wrote(ts)
        return rowid

    def record_proposal(self, ts_ms: int, proposal_id: int, decision: Decision | None, answer: str, *,
                        qty: Decimal | str | None = None, price_limit: Decimal | str | None = None) -> None:
        """A semi-mode proposal and the trader's answer (approved/skipped/expired/stale)."""
        self._begin()
        self._conn.execute(
            _INS_PROPOSAL,
            (
                int(ts_ms), int(proposal_id), str(answer),
                text(decision.side) if decision is not None and decision.side is not None else None,
                num(qty) if qty is not None else (
                    repr(float(decision.qty_base)) if decision is not None else None
                ),
                num(price_limit),
                int(decision.ts_ms) if decision is not None else None,
                json.dumps(decision.to_dict(), separators=(",", ":")) if decision is not None else None,
            ),
        )
        self._wrote(ts_ms)

    def record_order(self, ts_ms: int, order: Order, event: str, *, decision_id: int | None = None) -> None:
        """Append the order's new state and update its current-state row.

        ``decision_id`` (from ``record_decision``) ties the order to the rebalance that made
        it; the report uses that decision's price as the cost reference.
        """
        ts = int(ts_ms)
        values = order_values(order)
        self._begin()
        self._conn.execute(_INS_ORDER_EVENT, (ts, str(event), *values, decision_id))
        self._conn.execute(_UPSERT_ORDER, (*values, ts, ts, str(event), decision_id))
        self._wrote(ts)

    def record_order_sent(self, ts_ms: int, request: OrderRequest) -> None:
        """Write-ahead: the order as it is about to be sent (``New``, no venue id yet; event
        ``sending``), committed at once, before the create call goes out. A kill at any moment
        after it leaves a row that a restart reconciles with the venue by client id (the venue
        has it: its state and fills; it has not: closed). The decision link and the venue's
        answer follow in the rows written after the call."""
        ts = int(ts_ms)
        order = Order(client_id=request.client_id, order_id="", symbol=request.symbol, side=request.side,
                      qty=request.qty, price=request.price, tif=request.tif, status=OrderStatus.NEW,
                      created_ms=ts, updated_ms=ts, leg=request.leg)
        values = order_values(order)
        self._begin()
        self._conn.execute(_INS_ORDER_EVENT, (ts, "sending", *values, None))
        self._conn.execute(_UPSERT_ORDER, (*values, ts, ts, "sending", None))
        self.commit(ts)

    def record_fill(self, fill: Fill) -> bool:
        """Store a fill once (by ``exec_id``) and commit at once: a fill must survive a kill.

        Returns False for a duplicate (the venue re-sent it, or a backfill overlapped).
        """
        self._begin()
        cur = self._conn.execute(_INS_FILL, fill_row(fill))
        self.commit(int(fill.ts_ms))
        return cur.rowcount == 1

    def record_fills(self, fills: Iterable[Fill]) -> int:
        """Bulk form of ``record_fill`` (replay import): one commit; returns how many were new."""
        rows = [fill_row(f) for f in fills]
        if not rows:
            return 0
        self._begin()
        before = self._conn.total_changes
        self._conn.executemany(_INS_FILL, rows)
        added = self._conn.total_changes - before
        self.commit(max(r[1] for r in rows))
        return added

    def record_snapshot(self, ts_ms: int, *, spot_base: Decimal | float, quote: Decimal | float,
                        futures_size: Decimal | float, price: Decimal | float, net_base: Decimal | float,
                        equity_quote: Decimal | float, target_base: Decimal | float | None = None) -> None:
        """Periodic balances/position; ``target_base`` lets the report measure tracking."""
        self._begin()
        self._conn.execute(
            _INS_SNAPSHOT,
            (
                int(ts_ms), num(spot_base), num(quote), num(futures_size), num(price),
                num(net_base), num(equity_quote), num(target_base), self.symbol,
            ),
        )
        self._wrote(ts_ms)

    def record_state(self, ts_ms: int, kind: str, value: object, reason: str = "") -> None:
        """Mode / trading state (ACTIVE, PAUSED, HALTED + why) / kill switch / session changes.

        Committed at once: a HALT that a crash forgot would let a restart trade again.
        """
        self._begin()
        self._conn.execute(_INS_STATE, (int(ts_ms), str(kind), text(value), str(reason)))
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

    def record_arrival(self, rebalance: str, decision_id: int | None, arrival, side: Side, qty_base: Decimal | float,
                       path: str) -> None:
        """Rebalance ``rebalance`` started from decision ``decision_id``; ``arrival`` (a
        ``core.costs.Arrival``) is the market at that decision: every fill of its orders is
        costed from it."""
        self._begin()
        self._conn.execute(_INS_ARRIVAL, (str(rebalance), decision_id, int(arrival.ts_ms), text(side), num(qty_base),
                                          str(path), float(arrival.mid), float(arrival.bid), float(arrival.ask),
                                          self.symbol))
        self._wrote(int(arrival.ts_ms))

    def record_markout(self, ts_ms: int, exec_id: str, mid_after: float) -> None:
        """The mid a markout horizon after our maker fill ``exec_id``."""
        self._begin()
        self._conn.execute(_INS_MARKOUT, (str(exec_id), int(ts_ms), float(mid_after)))
        self._wrote(int(ts_ms))

    def record_rebalance_done(self, ts_ms: int, side: Side, qty_base: Decimal | float, path: str) -> None:
        """A rebalance finished (``path``: maker / chase / taker...). Committed at once: the
        cooldown and hysteresis restored after a restart start from it."""
        self._begin()
        self._conn.execute(
            _INS_REBALANCE, (int(ts_ms), text(Side.parse(text(side))), num(qty_base), str(path), self.symbol)
        )
        self.commit(int(ts_ms))
