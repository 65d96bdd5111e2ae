"""Connects the rebalancer's record to the SQLite journal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.journal import Journal
from core.model import Decision, Fill, Order, Side
from core.rebalancer import Recorder
from core.state import Proposal


class JournalWriteError(Exception):
    """Rows that could not be written when a hold was released (the others were written)."""


class JournalRecorder(Recorder):
    """Writes through to a ``Journal``; orders are linked to the decision that started them so
    the report can measure cost against the price at decision time.

    Between ``hold()`` and ``release()`` the rows wait in memory, in order, and are written
    and committed at the release. The engine holds them while it drains its event FIFO, so an
    order call goes out before the SQLite writes its decision caused (on Bybit they overlap
    the request in flight), and every row is written before the engine hands the loop back.
    Everything recorded is immutable (value types, numbers, strings), so a row written late is
    the row recorded.
    """

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self._decision_id: int | None = None
        self._held: list[tuple[Callable[..., Any], tuple, dict]] | None = None

    # -- write-behind
    def hold(self) -> None:
        if self._held is None:
            self._held = []

    def release(self) -> None:
        """Write what waits, in order, then commit once. A row that fails does not stop the
        rows after it; the failures are raised together at the end."""
        queued, self._held = self._held, None
        if not queued:
            return
        failures: list[str] = []
        journal = self.journal
        journal.hold_commits()
        try:
            for write, args, kwargs in queued:
                try:
                    write(*args, **kwargs)
                except Exception as exc:  # noqa: BLE001 - keep writing the rest, report below
                    failures.append(f"{write.__name__}: {type(exc).__name__}: {exc}")
        finally:
            journal.release_commits()
        if failures:
            raise JournalWriteError(f"{len(failures)} journal row(s) not written: " + "; ".join(failures[:3]))

    def _do(self, write: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        if self._held is not None:
            self._held.append((write, args, kwargs))
        else:
            write(*args, **kwargs)

    # -- Recorder
    def decision(self, decision: Decision, mode: str, outcome: str) -> None:
        self._do(self._write_decision, decision, mode, outcome)

    def proposal(self, ts_ms: int, proposal: Proposal, answer: str) -> None:
        self._do(self.journal.record_proposal, ts_ms, proposal.proposal_id, proposal.decision, answer,
                 qty=proposal.qty, price_limit=proposal.price_limit)

    def order(self, ts_ms: int, order: Order, event: str) -> None:
        self._do(self._write_order, ts_ms, order, event)

    def fill(self, fill: Fill) -> None:
        self._do(self.journal.record_fill, fill)

    def state(self, ts_ms: int, kind: str, value: str, reason: str) -> None:
        self._do(self.journal.record_state, ts_ms, kind, value, reason)

    def error(self, ts_ms: int, message: str, code: int | None = None) -> None:
        self._do(self.journal.record_error, ts_ms, message, code)

    def rebalance_done(self, ts_ms: int, side: Side, qty_base: float, path: str) -> None:
        self._do(self.journal.record_rebalance_done, ts_ms, side, qty_base, path)

    def tick(self, ts_ms: int) -> None:
        self._do(self.journal.maybe_commit, ts_ms)

    def snapshot(self, ts_ms: int, *, spot_base: float, quote: float, futures_size: float, price: float,
                 net_base: float, equity_quote: float, target_base: float) -> None:
        self._do(self.journal.record_snapshot, ts_ms, spot_base=spot_base, quote=quote, futures_size=futures_size,
                 price=price, net_base=net_base, equity_quote=equity_quote, target_base=target_base)

    # -- the writes (run now, or at the release, in the order recorded)
    def _write_decision(self, decision: Decision, mode: str, outcome: str) -> None:
        did = self.journal.record_decision(decision, mode, outcome)
        if outcome in ("executed", "forced", "proposed"):
            self._decision_id = did

    def _write_order(self, ts_ms: int, order: Order, event: str) -> None:
        # the decision id as of this row's turn: the decision written just before it
        self.journal.record_order(ts_ms, order, event, decision_id=self._decision_id)
