"""One account's request budget shared fairly by several symbols (issue 18).

Bybit counts its order limits per account (UID) and endpoint, not per symbol: 20 creates a
second for spot (reference 4.2), whichever symbol they are for. With one ``RateBudget``
and first-come-first-served waiting, a symbol that floods orders (a runaway loop, a grid
re-quoting) would queue ahead of every other symbol's hedge and delay it by the whole
flood. ``FairShare`` puts the waiters of each endpoint class in one queue per *lane* (a
symbol) and hands each free slot to the next lane in turn (round-robin): a lane with one
order waiting gets the next slot but at most one per other busy lane, however long the
flooding lane's queue is. Within a lane the order is FIFO.

The budget itself is unchanged (its sliding windows, the per-IP window and the server's
``X-Bapi-Limit-*`` word still decide *when* a slot is free); this only decides *who*
gets it. An uncontended request goes straight through (no task, no queue). Runs on the
event-loop thread only.
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import Awaitable, Callable

from core.venues.bybit_rate import RateBudget


class FairShare:
    """Round-robin between lanes over one ``RateBudget``; ``acquire(cls, lane)`` waits its turn."""

    def __init__(self, budget: RateBudget, *, sleep: Callable[[float], Awaitable[object]] | None = None) -> None:
        self.budget = budget
        self._sleep = sleep or budget._sleep
        self._waiting: dict[str, dict[str, deque[asyncio.Future]]] = {}  # class -> lane -> waiters
        self._turns: dict[str, deque[str]] = {}  # class -> lanes with waiters, next to serve first
        self._pumps: dict[str, asyncio.Task] = {}
        self.granted: Counter[tuple[str, str]] = Counter()  # (class, lane) -> slots handed out

    async def acquire(self, cls: str | None, lane: str = "") -> None:
        """Wait until a request of class ``cls`` for ``lane`` may go out, then count it."""
        if cls is None:  # public data: only the per-IP window, no per-account class to share
            await self.budget.acquire(None)
            return
        turns = self._turns.setdefault(cls, deque())
        if not turns and self.budget.delay(cls) <= 0:
            self.budget.take(cls)  # nobody waiting and room now
            self.granted[(cls, lane)] += 1
            return
        queue = self._waiting.setdefault(cls, {}).setdefault(lane, deque())
        if not queue:
            turns.append(lane)
        fut = asyncio.get_running_loop().create_future()
        queue.append(fut)
        if cls not in self._pumps:
            self._pumps[cls] = asyncio.ensure_future(self._pump(cls))
        await fut  # a cancelled waiter stays queued as a done future; the pump skips it

    def waiting(self, lane: str | None = None) -> int:
        """Requests waiting for a slot (of ``lane``, or of every lane)."""
        return sum(sum(1 for f in q if not f.done())
                   for lanes in self._waiting.values() for name, q in lanes.items() if lane in (None, name))

    async def _pump(self, cls: str) -> None:
        turns, lanes = self._turns[cls], self._waiting[cls]
        try:
            while turns:
                d = self.budget.delay(cls)
                if d > 0:
                    self.budget.waited_s += d
                    await self._sleep(d)
                    continue
                lane = turns[0]
                queue = lanes[lane]
                fut = queue.popleft()
                if queue:
                    turns.rotate(-1)  # this lane goes to the back of the line
                else:
                    turns.popleft()
                if fut.done():
                    continue  # its caller gave up (cancelled): the slot goes to the next
                self.budget.take(cls)
                self.granted[(cls, lane)] += 1
                fut.set_result(None)
        finally:
            del self._pumps[cls]

    def close(self) -> None:
        """Stop handing out slots: every waiter gets ``CancelledError``."""
        for task in list(self._pumps.values()):
            task.cancel()
        for lanes in self._waiting.values():
            for queue in lanes.values():
                for fut in queue:
                    if not fut.done():
                        fut.cancel()
                queue.clear()
        for turns in self._turns.values():
            turns.clear()


__all__ = ["FairShare"]
