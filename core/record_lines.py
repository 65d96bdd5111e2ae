"""The record as log lines: each row the journal gets, also said as one line of text.

Why here and not in the log calls sprinkled through the engine: the log file and the journal
must never disagree, so both are fed by the same ``Recorder`` calls. ``RecordLines`` turns a
record into ``(level, text, fields)`` and hands it to ``emit`` (the shell's logging, which
adds the wall time and picks text or JSON); ``Tee`` gives every record to the journal's
recorder and to this one. Pure: no I/O, no clock — the record's own market time is a field.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from decimal import Decimal

from core.costs import Arrival
from core.model import Decision, Fill, Leg, Order, Side
from core.recorder import Recorder
from core.state import Proposal

Emit = Callable[[str, str, dict[str, Any]], None]  # (level: info | warning | error, text, fields)

_HOLD_BACK = frozenset({"tick", "snapshot", "hold", "release"})  # the journal's business only


class RecordLines(Recorder):
    """One line per order state, fill, proposal answer, trading decision (executed, proposed,
    refused, skipped, shown), mode / trading-state / session / connection change, venue error,
    reconciliation and finished rebalance. A decision to hold is the journal's only: it flips
    with every grid fill and would bury the rest."""

    def __init__(self, emit: Emit) -> None:
        self.emit = emit

    def _say(self, level: str, kind: str, ts_ms: int, text: str, **fields: Any) -> None:
        self.emit(level, text, {"kind": kind, "ts_ms": ts_ms, **fields})

    def decision(self, decision: Decision, mode: str, outcome: str) -> None:
        d = decision
        if outcome == "held":
            return
        side = f" {d.side.value}" if d.side is not None else ""
        size = f" {d.qty_base:.6f}" if d.trades else ""
        self._say("info", "decision", d.ts_ms,
                  f"decision {d.action.value.upper()}{side}{size} (gap {d.gap_base:+.6f}, {mode}): {outcome} — {d.reason}",
                  action=d.action.value, side=d.side.value if d.side else None, qty_base=d.qty_base,
                  gap_base=d.gap_base, price=d.price, mode=mode, outcome=outcome, reason=d.reason)

    def rebalance_started(self, decision: Decision, mode: str, outcome: str, *, rebalance: str, arrival: Arrival,
                          qty: Decimal, path: str) -> None:
        """The decision line, plus the rebalance it starts and the market its cost is measured from."""
        d = decision
        side = d.side.value if d.side is not None else ""
        self._say("info", "decision", d.ts_ms,
                  f"decision {d.action.value.upper()} {side} {qty} (gap {d.gap_base:+.6f}, {mode}): {outcome} — "
                  f"rebalance {rebalance} ({path}), arrival mid {arrival.mid:.2f} (bid {arrival.bid:.2f} / ask "
                  f"{arrival.ask:.2f}) — {d.reason}",
                  action=d.action.value, side=side or None, qty_base=d.qty_base, qty=str(qty), gap_base=d.gap_base,
                  price=d.price, mode=mode, outcome=outcome, reason=d.reason, rebalance=rebalance, path=path,
                  arrival_mid=arrival.mid, arrival_bid=arrival.bid, arrival_ask=arrival.ask)

    def markout(self, ts_ms: int, exec_id: str, mid_after: float) -> None:
        self._say("info", "markout", ts_ms, f"markout of maker fill {exec_id}: mid {mid_after:.2f} 60 s after",
                  exec_id=exec_id, mid_after=mid_after)

    def proposal(self, ts_ms: int, proposal: Proposal, answer: str) -> None:
        p = proposal
        self._say("info", "proposal", ts_ms,
                  f"proposal #{p.proposal_id} {p.side.value} {p.qty} limit {p.price_limit}"
                  f"{' (forced)' if p.forced else ''}: {answer}",
                  proposal_id=p.proposal_id, side=p.side.value, qty=p.qty, price_limit=p.price_limit,
                  forced=p.forced, answer=answer)

    def order(self, ts_ms: int, order: Order, event: str) -> None:
        o = order
        filled = f", filled {o.filled_qty} @ {o.avg_fill_price}" if o.filled_qty else ""
        why = f" ({o.reject_reason})" if o.reject_reason else ""
        self._say("warning" if event == "Rejected" else "info", "order", ts_ms,
                  f"order {o.client_id} {o.side.value} {o.qty} {o.symbol} @ {o.price} {o.tif.value}: "
                  f"{event}{filled}{why}",
                  client_id=o.client_id, order_id=o.order_id, symbol=o.symbol, side=o.side.value, qty=str(o.qty),
                  price=str(o.price), tif=o.tif.value, event=event, filled_qty=str(o.filled_qty),
                  avg_fill_price=str(o.avg_fill_price), reject_reason=o.reject_reason)

    def fill(self, fill: Fill) -> None:
        f = fill
        whose = f"order {f.client_id}" if f.client_id else f.source
        self._say("info", "fill", f.ts_ms,
                  f"fill {f.leg.value} {f.side.value} {f.qty} {f.symbol} @ {f.price} "
                  f"{'maker' if f.is_maker else 'taker'}, fee {f.fee} {f.fee_coin} ({whose})",
                  exec_id=f.exec_id, leg=f.leg.value, symbol=f.symbol, side=f.side.value, qty=str(f.qty),
                  price=str(f.price), fee=str(f.fee), fee_coin=f.fee_coin, maker=f.is_maker,
                  client_id=f.client_id, order_id=f.order_id, source=f.source, ours=f.leg is Leg.SPOT
                  and bool(f.client_id))

    def state(self, ts_ms: int, kind: str, value: str, reason: str) -> None:
        level = "warning" if value in ("HALTED", "PAUSED", "down", "crashed") else "info"
        if value == "crashed":
            level = "error"
        self._say(level, kind, ts_ms, f"{kind.replace('_', ' ')} {value}" + (f": {reason}" if reason else ""),
                  value=value, reason=reason)

    def error(self, ts_ms: int, message: str, code: int | None = None) -> None:
        self._say("error", "error", ts_ms, f"error{f' {code}' if code is not None else ''}: {message}",
                  message=message, code=code)

    def reconcile(self, ts_ms: int, what: str, detail: str) -> None:
        self._say("info", "reconcile", ts_ms, f"reconciled {what}: {detail}", what=what, detail=detail)

    def rebalance_done(self, ts_ms: int, side: Side, qty_base: float, path: str) -> None:
        self._say("info", "rebalance", ts_ms, f"rebalance done: {side.value} {qty_base:.6f} ({path})",
                  side=side.value, qty_base=qty_base, path=path)


def _said_as_is(name: str):
    """A record kind added to ``Recorder`` without a line of its own here is still said: its name
    and its arguments, never silently dropped from the log while the journal keeps it."""
    def say(self: RecordLines, *args: Any, **kw: Any) -> None:
        ts = next((a for a in args if isinstance(a, int) and not isinstance(a, bool)), 0)
        parts = [str(a) for a in args] + [f"{k}={v}" for k, v in kw.items()]
        self._say("info", name, ts, f"{name.replace('_', ' ')}: {', '.join(parts)}",
                  args=[str(a) for a in args], kwargs={k: str(v) for k, v in kw.items()})

    say.__name__ = name
    return say


for _name, _value in vars(Recorder).items():
    if callable(_value) and not _name.startswith("_") and _name not in _HOLD_BACK and _name not in vars(RecordLines):
        setattr(RecordLines, _name, _said_as_is(_name))


class Tee(Recorder):
    """Every record to ``main`` (the journal's recorder) and to ``tap`` (the lines), the tap
    first: a journal that fails still leaves its line in the log. A tap that fails is ignored
    (a log line never stops trading). Ticks, snapshots and write-behind are ``main``'s only.

    Every public ``Recorder`` method is forwarded, including ones added later (see the loop
    below the class): a new kind of record can never reach the tap and miss the journal."""

    def __init__(self, main: Recorder, tap: Recorder) -> None:
        self.main = main
        self.tap = tap

    def tick(self, ts_ms: int) -> None:
        self.main.tick(ts_ms)

    def snapshot(self, ts_ms: int, **numbers: Any) -> None:
        self.main.snapshot(ts_ms, **numbers)

    def hold(self) -> None:
        self.main.hold()

    def release(self) -> None:
        self.main.release()


def _forward(name: str):
    def both(self: Tee, *args: Any, **kw: Any) -> None:
        try:
            getattr(self.tap, name)(*args, **kw)
        except Exception:  # noqa: BLE001 - the log is a witness, never a gate
            pass
        getattr(self.main, name)(*args, **kw)

    both.__name__ = name
    return both


for _name, _value in vars(Recorder).items():
    if callable(_value) and not _name.startswith("_") and _name not in _HOLD_BACK:
        setattr(Tee, _name, _forward(_name))


def labelled(tap: Recorder | None, symbol: str) -> Recorder | None:
    """``tap``'s lines, each naming ``symbol`` (several symbols share one log): the text starts
    with it and the fields carry it. A tap that is not lines is handed back as it is."""
    if not isinstance(tap, RecordLines):
        return tap
    emit = tap.emit

    def said_for(level: str, text: str, fields: dict[str, Any]) -> None:
        emit(level, f"{symbol} {text}", {**fields, "symbol": symbol})

    return RecordLines(said_for)


def tee(main: Recorder | None, tap: Recorder | None) -> Recorder | None:
    """``main`` and ``tap`` together (either may be missing)."""
    if tap is None:
        return main
    if main is None:
        return tap
    return Tee(main, tap)


__all__ = ["Emit", "RecordLines", "Tee", "labelled", "tee"]
