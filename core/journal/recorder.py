"""The rebalancer's record, written to the journal: ``JournalRecorder`` is its ``Recorder``."""

from __future__ import annotations

from decimal import Decimal

from core.costs import Arrival, rebalance_of
from core.journal import Journal
from core.model import Decision, Fill, Order, Side
from core.rebalancer import Recorder
from core.state import Proposal


class JournalRecorder(Recorder):
    """Hands each record to the journal's writer, in order; the engine's ``hold()`` /
    ``release()`` are the writer's write-behind (see ``core.journal.writer``).

    Every order is linked to the decision that started its rebalance through the rebalance
    its client id names (``core.costs.rebalance_of``): the arrivals row written when the
    rebalance started holds that decision's id and the market then, so no de-duplication of
    decision rows can link an order to an older decision.
    """

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self._later = journal.later  # on the decision path: one lookup fewer per record
        self._decision_of: dict[str, int] = {}  # rebalance -> its decision's row id (this session)

    # -- write-behind (the engine holds while it drains its events)
    def hold(self) -> None:
        self.journal.hold()

    def release(self) -> None:
        self.journal.release()

    # -- Recorder
    def decision(self, decision: Decision, mode: str, outcome: str) -> None:
        self._later(self._write_decision, decision, mode, outcome)

    def rebalance_started(self, decision: Decision, mode: str, outcome: str, *, rebalance: str, arrival: Arrival,
                          qty: Decimal, path: str) -> None:
        self._later(self._write_start, decision, mode, outcome, rebalance, arrival, qty, path)

    def markout(self, ts_ms: int, exec_id: str, mid_after: float) -> None:
        self._later(self.journal.record_markout, ts_ms, exec_id, mid_after)

    def proposal(self, ts_ms: int, proposal: Proposal, answer: str) -> None:
        self._later(self.journal.record_proposal, ts_ms, proposal.proposal_id, proposal.decision, answer,
                    qty=proposal.qty, price_limit=proposal.price_limit)

    def order(self, ts_ms: int, order: Order, event: str) -> None:
        self._later(self._write_order, ts_ms, order, event)

    def fill(self, fill: Fill) -> None:
        self._later(self.journal.record_fill, fill)

    def state(self, ts_ms: int, kind: str, value: str, reason: str) -> None:
        self._later(self.journal.record_state, ts_ms, kind, value, reason)

    def error(self, ts_ms: int, message: str, code: int | None = None) -> None:
        self._later(self.journal.record_error, ts_ms, message, code)

    def reconcile(self, ts_ms: int, what: str, detail: str) -> None:
        self._later(self.journal.record_reconcile, ts_ms, what, detail)

    def rebalance_done(self, ts_ms: int, side: Side, qty_base: float, path: str) -> None:
        self._later(self.journal.record_rebalance_done, ts_ms, side, qty_base, path)

    def tick(self, ts_ms: int) -> None:
        self._later(self.journal.maybe_commit, ts_ms)

    def snapshot(self, ts_ms: int, *, spot_base: float, quote: float, futures_size: float, price: float,
                 net_base: float, equity_quote: float, target_base: float) -> None:
        self._later(self.journal.record_snapshot, ts_ms, spot_base=spot_base, quote=quote,
                    futures_size=futures_size, price=price, net_base=net_base, equity_quote=equity_quote,
                    target_base=target_base)

    # -- the writes (run now, or at the release, in the order recorded)
    def _write_decision(self, decision: Decision, mode: str, outcome: str) -> None:
        self.journal.record_decision(decision, mode, outcome)

    def _write_start(self, decision: Decision, mode: str, outcome: str, rebalance: str, arrival: Arrival,
                     qty: Decimal, path: str) -> None:
        did = self.journal.record_decision(decision, mode, outcome)
        self._decision_of[rebalance] = did
        if len(self._decision_of) > 1024:
            del self._decision_of[next(iter(self._decision_of))]
        self.journal.record_arrival(rebalance, did, arrival, decision.side, qty, path)

    def _write_order(self, ts_ms: int, order: Order, event: str) -> None:
        did = self._decision_of.get(rebalance_of(order.client_id))  # None for an order of an earlier session
        self.journal.record_order(ts_ms, order, event, decision_id=did)


__all__ = ["JournalRecorder"]
