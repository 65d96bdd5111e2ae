"""Start-up recovery: what the journal remembers and what the venue says now, fed through the rebalancer.

One path for every venue (paper and Bybit). The rebalancer learns what happened while the
program was down the way it learns everything else, as events; so the journal's rows come
only from the rebalancer's recorder, and its account and statistics move with them.

Before any event (``restore_from_journal``, when the rebalancer is built): the last
rebalance (cooldown / hysteresis memory) and the trading state (a HALT or a PAUSE survives a
restart; a restart never re-arms by itself).

At start-up (``recover``, after the venue has started), in the order a live stream would
deliver them:

1. orders the journal holds open that the venue no longer lists: their final state from the
   venue (cancelled when it has none, or still calls them open) as ``OrderUpdate``;
2. fills made while we were down (from ``JournalReader.backfill_since``) that the journal
   lacks, as ``FillEvent``: once each, whatever the number of restarts;
3. balances and the position (``BalanceUpdate`` / ``PositionUpdate``): last, so the wallet,
   which already holds every fill, has the final word on the account;
4. our orders the venue still has open: cancelled (``on_start_open_orders: cancel``, and
   always when HALTED) or adopted (left working, tracked) as ``OrderUpdate``.

Each difference found is a ``reconciles`` row through the recorder: ``journal_open_order``,
``backfill_fills``, ``cancel_open_order``, ``adopt_open_order``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace

from core.events import BalanceUpdate, FillEvent, OrderUpdate, PositionUpdate
from core.journal import STATE_TRADING
from core.journal.reader import JournalReader
from core.model import Fill, Order, OrderStatus, TradingState
from core.rebalancer import Rebalancer
from core.venues.base import Venue, VenueError

log = logging.getLogger("rebalancer.recovery")


@dataclass(frozen=True)
class Recovered:
    """What one start-up recovery found (also written as ``reconciles`` rows)."""

    closed: tuple[tuple[str, str], ...] = ()  # (client id, final status) of journal-open orders gone from the venue
    backfilled: tuple[str, ...] = ()  # exec ids of the missed fills fed through the rebalancer
    cancelled: tuple[str, ...] = ()  # our open orders cancelled at start-up
    adopted: tuple[str, ...] = ()  # our open orders left working


def restore_from_journal(reb: Rebalancer, journal: JournalReader, *, same_account: bool = True) -> None:
    """Cooldown / hysteresis memory, a HALT or PAUSE, and (``same_account``: the account the
    journal saw carries on, not a fresh paper one) the drawdown's peak, before the first event."""
    state = journal.last_state(STATE_TRADING)
    reb.restore(last_rebalance=journal.last_rebalance(), trading_state=(state[0], state[1]) if state else None,
                drawdown_peak=journal.drawdown_peak() if same_account else None)


async def recover(reb: Rebalancer, venue: Venue, journal: JournalReader | None, feed: Callable[[object], None], *,
                  now_ms: Callable[[], int], on_open_orders: str = "cancel") -> Recovered:
    """Feed what the module docstring lists into ``feed`` (the engine's event sink: every event
    goes through ``reb.on_event``). Without a journal only steps 3 and 4 apply."""
    since = journal.backfill_since() if journal is not None else None  # before step 1 closes its orders
    remembered = journal.open_orders() if journal is not None else []
    opened = await venue.open_orders()
    live = {o.client_id for o in opened}
    gone = [o for o in remembered if o.client_id not in live]  # the ones still live: step 4
    closed = await _close_gone_orders(reb, venue, gone, feed, now_ms)
    backfilled = await _backfill(reb, venue, journal, since, feed, now_ms) if journal is not None else ()
    balances = await venue.balances()
    position = await venue.position()
    now = now_ms()
    feed(BalanceUpdate(now, balances))
    feed(PositionUpdate(now, position))
    cancelled, adopted = await _open_orders(reb, venue, opened, feed, now_ms, on_open_orders)
    return Recovered(closed, backfilled, cancelled, adopted)


async def _close_gone_orders(reb: Rebalancer, venue: Venue, gone: list[Order], feed: Callable[[object], None],
                             now_ms: Callable[[], int]) -> tuple[tuple[str, str], ...]:
    """Step 1: the venue's final state of each (cancelled when it has none or calls it open)."""
    closed = []
    for o in gone:
        final = None
        try:
            final = await venue.order_by_client_id(o.client_id)
        except VenueError as e:
            log.warning("reconcile %s: %s", o.client_id, e)
        now = now_ms()
        if final is None or final.status.is_open:
            final = replace(o, status=OrderStatus.CANCELLED, updated_ms=now,
                            reject_reason="not at the venue after restart")
        reb.restore(orders=(final,))
        feed(OrderUpdate(now, final))
        reb.rec.reconcile(now, "journal_open_order", f"{o.client_id} -> {final.status.value}")
        closed.append((o.client_id, final.status.value))
    return tuple(closed)


async def _backfill(reb: Rebalancer, venue: Venue, journal: JournalReader, since: int | None,
                    feed: Callable[[object], None], now_ms: Callable[[], int]) -> tuple[str, ...]:
    """Step 2: the fills since ``since`` that the journal lacks, each fed once."""
    if since is None:
        return ()
    try:
        missed = await _missed_fills(venue, since)
    except (VenueError, NotImplementedError) as e:
        log.warning("fill backfill failed: %s", e)
        return ()
    known = journal.exec_ids(since)  # read after the venue's answer: a fill streamed meanwhile is known
    fed = []
    for f in missed:
        if f.exec_id not in known:
            known.add(f.exec_id)
            feed(FillEvent(f))
            fed.append(f.exec_id)
    if fed:
        log.info("backfilled %d fill(s) since %d", len(fed), since)
        reb.rec.reconcile(now_ms(), "backfill_fills", f"{len(fed)} fill(s) recorded after restart")
    return tuple(fed)


async def _open_orders(reb: Rebalancer, venue: Venue, opened: tuple[Order, ...], feed: Callable[[object], None],
                       now_ms: Callable[[], int], policy: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Step 4: cancel (the policy, or HALTED: a halted account keeps nothing working) or adopt;
    returns (cancelled, adopted). In watch mode nothing can be cancelled: they are adopted."""
    if not opened:
        return (), ()
    reb.restore(orders=tuple(opened))
    halted = reb.risk.state is TradingState.HALTED
    cancelled, adopted = [], []
    if (policy == "cancel" or halted) and venue.can_trade:
        why = " (HALTED: nothing of ours may stay working)" if halted and policy != "cancel" else ""
        for o in opened:
            try:
                await venue.cancel_order(o.client_id)
                reb.note("info", f"start-up: cancelled our open order {o.client_id}{why}")
                cancelled.append(o.client_id)
            except VenueError as e:
                reb.note("warning", f"start-up: cancel {o.client_id} failed: {e}")
            reb.rec.reconcile(now_ms(), "cancel_open_order", o.client_id)
    else:
        for o in opened:
            feed(OrderUpdate(now_ms(), o))
            reb.note("info", f"start-up: found our open order {o.client_id} (left working)")
            reb.rec.reconcile(now_ms(), "adopt_open_order", o.client_id)
            adopted.append(o.client_id)
    return tuple(cancelled), tuple(adopted)


async def backfill_journal(venue: Venue, journal, since_ms: int, now_ms: int) -> int:
    """Write into the journal the venue's fills since ``since_ms`` that it lacks, directly (the
    rebalancer applied them live; only their rows were lost while the journal could not be
    written). Returns how many; a ``backfill_fills`` reconcile row says so."""
    missed = await _missed_fills(venue, since_ms)
    known = journal.exec_ids(since_ms)
    new = [f for f in missed if f.exec_id not in known]
    if new:
        journal.record_fills(new)
        journal.record_reconcile(now_ms, "backfill_fills",
                                 f"{len(new)} fill(s) missed while the journal was unwritable")
        journal.commit(now_ms)
    return len(new)


async def _missed_fills(venue: Venue, since_ms: int) -> tuple[Fill, ...]:
    """Every execution on the symbol when the venue offers it (Bybit's ``executions_since``:
    spot and linear, the trader's too; they move the net and the anchors), else ours on spot
    (the protocol's ``fills_since``)."""
    read = getattr(venue, "executions_since", None) or venue.fills_since
    return tuple(await read(since_ms))


__all__ = ["Recovered", "backfill_journal", "recover", "restore_from_journal"]
