"""The grid's futures fill booked without the generic steps: ``Ledger.apply_grid_fill``, lean.

On a busy grid (``examples/replay.yaml``: ~16 k fills over the Bybit month, ~27 k over the
8-month file) booking the grid's fill was about a tenth of a replay, and two of its steps do
generic work for a case that is always the same:

* ``dataclasses.replace`` to stamp this exchange's fee, fee coin, exec id and symbol on the
  fill, when the grid's own fill already carries exactly those (the grid charges the linear
  maker rate this exchange charges; same operands, same ``Decimal``, same exponent): the fill
  is then kept as it is (``replace`` would build an equal copy);
* the whole balance tuple built twice, before and after, to see whether it changed, when only
  the quote coin's free balance can change (realised P&L less the fee settle there): the tuple
  is built once, when that one value changed (``!=`` on Decimal values, as the tuples compare).

What it returns is what ``apply_grid_fill`` returns (equal events, in the same order), and the
ledger is left the same. Measured (Bybit linear month, ``examples/replay.yaml``, 16 k grid
fills): the replay's CPU 2.49 -> 2.44 s (-2 %), same process, alternating; all three of issue
17's speed-ups together: ``docs/performance.md`` ("Replay speed under work").

Exit path: ``ENABLED = False`` books every grid fill with the generic steps, as before.
``tests/core/test_replay_speedups.py`` checks both give the same replay on every data file and
the same events fill by fill (``test_a_lean_booking_returns_the_events_of_the_generic_one``).
"""

from __future__ import annotations

from dataclasses import replace

from core.events import BalanceUpdate, FillEvent, PositionUpdate
from core.model import Fill, Leg
from core.venues.paper_exchange.orders import ZERO

ENABLED = True


def _same_decimal(a, b) -> bool:
    """Equal value and the same exponent: the same text (``repr``) too. (``same_quantum``: the
    exponents compared in C, without building two ``as_tuple()`` digit tuples.)"""
    return a == b and a.same_quantum(b)


def apply_grid_fill_lean(ex, fill: Fill) -> tuple:
    """``Ledger.apply_grid_fill`` without the generic steps (see the module)."""
    if fill.leg is not Leg.LINEAR:
        raise ValueError(f"apply_grid_fill takes linear fills, got {fill.leg.value}")
    ts = fill.ts_ms
    rate = ex.fees.linear_maker if fill.is_maker else ex.fees.linear_taker
    fee = fill.qty * fill.price * rate
    quote = ex.linear.quote
    if not (fill.exec_id and fill.symbol and fill.fee_coin == quote and _same_decimal(fill.fee, fee)):
        fill = replace(fill, fee=fee, fee_coin=quote, exec_id=fill.exec_id or ex._new_exec_id(),
                       symbol=fill.symbol or ex.linear.symbol)
    realised = ex._apply_position(fill.side.sign, fill.qty, fill.price)
    ex._realised += realised
    ex._linear_fees += fee
    changed = False
    if ex.settle_linear_in_quote:
        bal = ex._bal
        entry = bal.get(quote)
        if entry is None:
            entry = bal[quote] = [ZERO, ZERO]
            changed = True  # a coin more in the tuple
        old = entry[0]
        entry[0] = old + (realised - fee)
        changed = changed or entry[0] != old
    if ts > ex._ts:
        ex._ts = ts
    if changed:
        return FillEvent(fill), BalanceUpdate(ts, ex._balance_tuple()), PositionUpdate(ts, ex.position())
    return FillEvent(fill), PositionUpdate(ts, ex.position())
