"""The paper venue: the async ``Venue`` protocol over a ``PaperExchange``.

Why a separate layer: the exchange is a pure synchronous engine (replay drives it at full
speed); this adapter gives the engine the same async interface as Bybit. It streams a market
source into the exchange, paces it in (optionally accelerated) real time, emits timer ticks,
delivers every event to the sink in order, enforces watch mode (``can_trade=False`` refuses
every order call before the exchange sees it) and can persist the paper account.

Time here is injected: ``sleep`` (default ``asyncio.sleep``) and a monotonic ``now`` (default
``time.monotonic``) are only used for pacing; orders are stamped with market time.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable
from decimal import Decimal
from pathlib import Path

from core.events import (
    AmendOrder,
    CancelAllOurs,
    CancelOrder,
    ConnectionChanged,
    FillEvent,
    PlaceOrder,
    Tick,
)
from core.events import VenueProblem
from core.model import Balance, Candle, Fill, Instrument, Order, OrderRequest, Position
from core.venues.base import EventSink, OrderRejected, ensure_can_trade
from core.venues.paper_exchange import PaperExchange

MarketSource = Iterable[object] | AsyncIterable[object]
log = logging.getLogger("rebalancer.paper")
TICKS_PER_YIELD = 64  # a gap in the data is crossed tick by tick, handing the loop back this often


class PaperVenue:
    """A ``Venue`` backed by the built-in simulated exchange (no keys, no network).

    ``market``: an iterable or async iterable of ``Trade``/``Quote``/``PerpTicker`` (other
    objects are passed to the sink untouched); None means the market is moved by hand with
    ``feed``. ``speed``: 1.0 = real time, 10 = ten times faster, 0/None = as fast as possible.
    ``tick_ms``: a ``Tick`` every that many ms of market time (0/None: no ticks).
    ``state_path``: the account is loaded from it when no exchange is given and the file
    exists, and saved after every fill and on ``stop``.
    """

    def __init__(
        self,
        exchange: PaperExchange | None = None,
        *,
        market: MarketSource | None = None,
        can_trade: bool = True,
        speed: float | None = 0.0,
        tick_ms: int | None = 250,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        now: Callable[[], float] = time.monotonic,
        state_path: str | os.PathLike | None = None,
        candles: Iterable[Candle] = (),
        yield_every: int = 1,
        name: str = "paper",
    ) -> None:
        self.state_path = Path(state_path) if state_path is not None else None
        if exchange is None:
            if self.state_path is not None and self.state_path.exists():
                exchange = PaperExchange.load(self.state_path)
            else:
                exchange = PaperExchange()
        self.exchange = exchange
        self.name = name
        self.can_trade = can_trade
        self.speed = speed or 0.0
        self.tick_ms = tick_ms or 0
        self._market = market
        self._sleep = sleep
        self._now = now
        self._candles = tuple(candles)
        self._yield_every = max(1, int(yield_every))
        self._sink: EventSink | None = None
        self._backlog: list[object] = []  # events produced before start(): delivered, never dropped
        self._task: asyncio.Task | None = None
        self._next_tick: int | None = None
        self._origin: tuple[int, float] | None = None  # (market ms, now()) the pacing is anchored to
        self._count = 0
        self.save_failing: str | None = None  # why the account file could not be written (None: it can)

    # ------------------------------------------------------------------ streaming

    async def start(self, sink: EventSink) -> None:
        self._sink = sink
        sink(ConnectionChanged(self.exchange.now_ms, True, "paper"))
        backlog, self._backlog = self._backlog, []
        for ev in backlog:
            sink(ev)
        if self._market is not None and self._task is None:
            self._task = asyncio.create_task(self._run(), name="paper-venue-feed")

    async def stop(self) -> None:
        """Cancel the feed task cleanly and save the account (if a state path is set)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        self._save()

    async def join(self) -> None:
        """Wait until a finite market source is exhausted (replays, tests)."""
        if self._task is not None:
            await asyncio.shield(self._task)

    def feed(self, event: object) -> tuple:
        """Push one market event through the exchange and deliver it, then what it caused."""
        out = self.exchange.on_event(event)
        self._deliver_one(event)
        if out:
            self._deliver(out)
        return out

    async def _run(self) -> None:
        src = self._market
        if hasattr(src, "__aiter__"):
            async for ev in src:  # type: ignore[union-attr]
                await self._step(ev)
        else:
            for ev in src:  # type: ignore[union-attr]
                await self._step(ev)

    async def _step(self, ev: object) -> None:
        ts = getattr(ev, "ts_ms", None)
        if ts is not None:
            tick = self.tick_ms
            if tick:
                if self._next_tick is None:
                    self._next_tick = (ts // tick + 1) * tick
                crossed = 0
                while self._next_tick <= ts:
                    t = self._next_tick
                    await self._pace(t)
                    self._deliver((Tick(t),) + self.exchange.advance_to(t))
                    self._next_tick = t + tick
                    crossed += 1
                    if crossed % TICKS_PER_YIELD == 0:
                        # a long gap (days of ticks at speed 0) in bounded steps: a kill, a quit
                        # or a SIGTERM acts in between, never after the whole gap
                        await asyncio.sleep(0)
            await self._pace(ts)
        self.feed(ev)
        self._count += 1
        if self._count % self._yield_every == 0:
            # a real yield (not the injected sleep, which may be a fake that never suspends):
            # lets the engine's other tasks run even at full speed
            await asyncio.sleep(0)

    async def _pace(self, ts: int) -> None:
        """Sleep (injected) until market time ``ts`` is due at ``speed``."""
        if not self.speed:
            return
        if self._origin is None:
            self._origin = (ts, self._now())
        t0, w0 = self._origin
        delay = w0 + (ts - t0) / 1000.0 / self.speed - self._now()
        if delay > 0:
            await self._sleep(delay)

    def _deliver_one(self, ev: object) -> None:
        if self._sink is None:
            self._backlog.append(ev)
        else:
            self._sink(ev)

    def _deliver(self, events: Iterable[object], *, save: bool = False) -> None:
        events = tuple(events)
        if save or any(type(ev) is FillEvent for ev in events):
            # the account file is written before anyone hears of the fill: after a crash the
            # venue is never behind the journal (and its id counters never repeat)
            self._save()
        for ev in events:
            self._deliver_one(ev)

    def _save(self) -> None:
        """A disk that refuses the account file (full, read-only) is said once and tried again at
        every change; the market feed and the order calls go on (they used to die silently)."""
        if self.state_path is None:
            return
        try:
            self.exchange.save(self.state_path)
        except OSError as e:
            if self.save_failing is None:
                why = f"paper account NOT saved to {self.state_path}: {e.strerror or e}; a restart now would " \
                      "lose what happened since (tried again at every change)"
                log.error("%s", why)
                self._deliver_one(VenueProblem(self.exchange.now_ms, why))
            self.save_failing = str(e)
            return
        if self.save_failing is not None:
            log.warning("paper account saved again to %s (was: %s)", self.state_path, self.save_failing)
            self.save_failing = None

    # ------------------------------------------------------------------ reads

    async def instrument(self) -> Instrument:
        return self.exchange.spot

    async def balances(self) -> tuple[Balance, ...]:
        return self.exchange.balances()

    async def position(self) -> Position:
        return self.exchange.position()

    async def open_orders(self) -> tuple[Order, ...]:
        return self.exchange.open_orders()

    async def order_by_client_id(self, client_id: str) -> Order | None:
        return self.exchange.order(client_id)

    async def fills_since(self, ts_ms: int) -> tuple[Fill, ...]:
        return self.exchange.fills(ts_ms)

    async def candles(self, interval_ms: int, limit: int) -> tuple[Candle, ...]:
        """The candle history given at construction (oldest first); () when there is none."""
        rows = [c for c in self._candles if c.interval_ms == interval_ms]
        return tuple(rows[-limit:]) if limit > 0 else ()

    # ------------------------------------------------------------------ orders

    def _command(self, command: object) -> tuple:
        """Run one command on the exchange at market time; a refusal raises ``OrderRejected``."""
        ensure_can_trade(self)
        events = self.exchange.submit(command, self.exchange.now_ms)
        if len(events) == 1 and type(events[0]) is VenueProblem:
            err = events[0]
            raise OrderRejected(f"{err.code}: {err.message}", code=err.code)
        self._deliver(events, save=True)  # orders placed or cancelled survive a crash too
        return events

    async def place_order(self, request: OrderRequest) -> Order:
        """Returns the order as it stands (a crossing PostOnly comes back ``Rejected``)."""
        ensure_can_trade(self)
        self._command(PlaceOrder(request))
        order = self.exchange.order(request.client_id)
        assert order is not None
        return order

    async def cancel_order(self, client_id: str) -> None:
        """Unknown or already closed client id: ``OrderRejected`` with code 170213."""
        ensure_can_trade(self)
        self._command(CancelOrder(client_id))

    async def amend_order(self, client_id: str, price: Decimal, qty: Decimal | None = None) -> None:
        ensure_can_trade(self)
        self._command(AmendOrder(client_id, price, qty))

    async def cancel_all_ours(self) -> int:
        """Cancels every open order of ours; returns how many."""
        ensure_can_trade(self)
        count = len(self.exchange.open_orders())
        self._command(CancelAllOurs())
        return count
