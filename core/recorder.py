"""Where the rebalancer writes its record: the interface the journal implements.

Every method is a no-op here, so a run without a journal (a replay, a test) records nothing,
and a recorder overrides only what it keeps. The rebalancer checks whether ``tick`` and
``snapshot`` are overridden: replay's whole-minute bulk path is only taken when they are not.
"""

from __future__ import annotations

from decimal import Decimal

from core.costs import Arrival
from core.model import Decision, Fill, Order, Side
from core.state import Proposal


class Recorder:
    """No-op default; the journal's recorder writes rows."""

    def decision(self, decision: Decision, mode: str, outcome: str) -> None: ...

    def rebalance_started(self, decision: Decision, mode: str, outcome: str, *, rebalance: str, arrival: Arrival,
                          qty: Decimal, path: str) -> None:
        """The decision that started rebalance ``rebalance`` (every order's client id begins
        with it), and the market at that decision: the reference every cost is measured from."""
        self.decision(decision, mode, outcome)

    def markout(self, ts_ms: int, exec_id: str, mid_after: float) -> None:
        """The mid ``core.costs.MARKOUT_MS`` after our maker fill ``exec_id``."""
    def proposal(self, ts_ms: int, proposal: Proposal, answer: str) -> None: ...
    def order(self, ts_ms: int, order: Order, event: str) -> None: ...
    def fill(self, fill: Fill) -> None: ...
    def state(self, ts_ms: int, kind: str, value: str, reason: str) -> None: ...
    def error(self, ts_ms: int, message: str, code: int | None = None) -> None: ...
    def reconcile(self, ts_ms: int, what: str, detail: str) -> None: ...
    def rebalance_done(self, ts_ms: int, side: Side, qty_base: float, path: str) -> None: ...
    def tick(self, ts_ms: int) -> None: ...
    def snapshot(self, ts_ms: int, *, spot_base: float, quote: float, futures_size: float, price: float,
                 net_base: float, equity_quote: float, target_base: float) -> None: ...

    def hold(self) -> None:
        """Keep what is recorded from now on in memory until ``release()`` (write-behind)."""

    def release(self) -> None:
        """Write what was held, in order."""


def writes_ticks(rec: Recorder) -> bool:
    return type(rec).tick is not Recorder.tick


def writes_snapshots(rec: Recorder) -> bool:
    return type(rec).snapshot is not Recorder.snapshot
