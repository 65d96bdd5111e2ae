"""Thread -> event loop hand-off with conflation and at most one pending loop callback.

Venue socket threads (pybit) produce far more market data than anyone on the loop can use:
a 5,000 msgs/s feed handed over with one ``loop.call_soon_threadsafe`` per message wakes the
loop 5,000 times a second (a self-pipe write on the thread, a selector wake-up, a handle and a
pipe read on the loop) only for most values to be overwritten before anyone looks at them.

``LoopHandoff`` keeps what the threads produce in one list under a lock and schedules **one**
loop callback when none is pending; that callback takes the whole list and delivers it in
arrival order. Three kinds of item:

* ``put_latest(key, value)`` -- market data (top of book, tickers): a newer value of the same
  ``key`` replaces the older one while it is still waiting, in place. The last value always
  wins and is always delivered. A value is never moved across a FIFO item or a call (those
  are barriers), so the loop sees market data in the same order relative to trades, orders
  and fills as it arrived.
* ``put(value, urgent=True)`` -- a FIFO item (order / fill / position events; trades with
  ``urgent=False``): never dropped, never conflated, delivered in order.
* ``call(fn, *args)`` -- an ordered stand-in for ``call_soon_threadsafe(fn, *args)`` (link up
  / down, problems) that shares the same wake-up and keeps its place among the data.

Consecutive data items are delivered to ``deliver(list)`` in one call.

``min_interval_s`` (default 0: deliver as soon as the loop runs the callback) bounds the
wake-up rate under load. After a delivery the hand-off "cools down": the loop itself looks
again ``min_interval_s`` later (``call_later``, no thread wake-up), and market data put
meanwhile waits for that look. When a look finds nothing the hand-off goes idle, so the first
value after a quiet spell is never delayed, and a busy feed wakes the loop about
``1 / min_interval_s`` times a second however fast it is. An *urgent* item (``put(...,
urgent=True)``, the default, and every ``call``) does not wait for the cool-down: it schedules
a callback at once (if none is pending) and takes everything waiting with it.

Thread safety: ``put*`` / ``call`` may be called from any thread (also the loop's). ``deliver``
and the calls run on the loop thread only. After ``close()`` (or once the loop is closed)
items are ignored.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Hashable
from typing import Any

log = logging.getLogger("rebalancer.handoff")

# Market data from the venue threads reaches the loop at most this often while the feed is busy
# (the first value after a quiet spell goes at once). Used by the Bybit streams and, with the same
# value, by the cockpit benchmark's feed (bench/_cockpit_host.py).
MARKET_DATA_MIN_INTERVAL_S = 0.02


class _Call(tuple):
    """A queued ``fn(*args)`` (a barrier: data never moves across it)."""

    __slots__ = ()


class LoopHandoff:
    def __init__(self, loop: asyncio.AbstractEventLoop, deliver: Callable[[list], Any], *,
                 min_interval_s: float = 0.0, name: str = "handoff") -> None:
        self.loop = loop
        self.deliver = deliver
        self.min_interval_s = max(0.0, float(min_interval_s))
        self.name = name
        self.closed = False
        self._lock = threading.Lock()
        self._items: list = []
        self._slots: dict[Hashable, int] = {}  # key -> index in _items, since the last barrier
        self._soon = False  # a call_soon_threadsafe(_drain) is outstanding
        self._cooling = False  # a call_later(_drain_later) is outstanding (min_interval_s > 0)
        # counters (read them on the loop; they are approximate while threads are putting)
        self.received = 0  # items and calls put
        self.conflated = 0  # values replaced by a newer one of the same key before delivery
        self.delivered = 0  # data items handed to ``deliver``
        self.wakeups = 0  # loop callbacks scheduled from put / call
        self.drains = 0  # callbacks run on the loop

    # ------------------------------------------------------------------ any thread
    def put_latest(self, key: Hashable, value: Any) -> None:
        """Market data: keep only the newest undelivered value per ``key``."""
        with self._lock:
            if self.closed:
                return
            self.received += 1
            i = self._slots.get(key)
            if i is not None:
                self._items[i] = value
                self.conflated += 1
                return
            self._slots[key] = len(self._items)
            self._items.append(value)
            if self._soon or self._cooling:
                return
            self._soon = True
        self._wake()

    def put(self, value: Any, *, urgent: bool = True) -> None:
        """A FIFO item: never dropped, never conflated; ``urgent`` ones skip the cool-down."""
        with self._lock:
            if self.closed:
                return
            self.received += 1
            self._items.append(value)
            if self._slots:
                self._slots.clear()
            if self._soon or (self._cooling and not urgent):
                return
            self._soon = True
        self._wake()

    def call(self, fn: Callable, *args: Any) -> None:
        """Run ``fn(*args)`` on the loop, in order with the data put before and after it (urgent)."""
        with self._lock:
            if self.closed:
                return
            self.received += 1
            self._items.append(_Call((fn, args)))
            if self._slots:
                self._slots.clear()
            if self._soon:
                return
            self._soon = True
        self._wake()

    def close(self) -> None:
        """Drop what is waiting and ignore everything put from now on."""
        with self._lock:
            self.closed = True
            self._items = []
            self._slots.clear()

    def _wake(self) -> None:
        self.wakeups += 1
        try:
            self.loop.call_soon_threadsafe(self._drain)
        except RuntimeError:  # the loop is closed: we are shutting down
            with self._lock:
                self.closed = True
                self._items = []
                self._slots.clear()
                self._soon = False

    # ------------------------------------------------------------------ loop thread
    def _drain(self) -> None:
        """The callback scheduled by put / call: deliver everything waiting."""
        cool = False
        with self._lock:
            self._soon = False
            items, self._items = self._items, []
            self._slots.clear()
            if items and self.min_interval_s > 0.0 and not self._cooling and not self.closed:
                self._cooling = cool = True
        if cool:
            self.loop.call_later(self.min_interval_s, self._drain_later)
        if items and not self.closed:
            self.drains += 1
            self._run(items)

    def _drain_later(self) -> None:
        """The cool-down look: deliver what arrived meanwhile and look again, or go idle."""
        with self._lock:
            items, self._items = self._items, []
            self._slots.clear()
            if not items or self.closed:
                self._cooling = False
                return
        self.loop.call_later(self.min_interval_s, self._drain_later)
        self.drains += 1
        self._run(items)

    def flush(self) -> None:
        """Deliver what is waiting now (loop thread; tests and shutdown)."""
        with self._lock:
            items, self._items = self._items, []
            self._slots.clear()
        if items:
            self._run(items)

    def _run(self, items: list) -> None:
        run: list = []
        for it in items:
            if type(it) is _Call:
                if run:
                    self._deliver(run)
                    run = []
                fn, args = it
                try:
                    fn(*args)
                except Exception:  # noqa: BLE001 - one failing call must not lose the rest
                    log.exception("%s: call %r failed", self.name, fn)
            else:
                run.append(it)
        if run:
            self._deliver(run)

    def _deliver(self, run: list) -> None:
        self.delivered += len(run)
        try:
            self.deliver(run)
        except Exception:  # noqa: BLE001 - as the loop would: log it, keep delivering
            log.exception("%s: deliver failed", self.name)

    @property
    def pending(self) -> bool:
        """A loop callback is scheduled (at once, or the cool-down look)."""
        return self._soon or self._cooling


__all__ = ["LoopHandoff"]
