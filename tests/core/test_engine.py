"""The async Engine on a PaperVenue: start-up, event flow, AUTO orders, watch mode enforced in
the venue layer, shutdown, engine errors and venue rejections.

No sleeps: the tests await ``engine.started``, ``venue.join()`` (a finite market at speed 0),
asyncio Events set from the venue's sink or the recorder, and ``until(...)`` (yields to the
loop until a condition holds), each under ``asyncio.wait_for``.

Account: futures -0.5 BTC; the spot balance sets the gap (target 0). Anchor soft 0.004 /
hard 0.012, no bias, no anchor edges (see helpers_engine.QUIET_ANCHOR).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from decimal import Decimal

import pytest

from core.engine import Engine
from core.events import OrderUpdate, PlaceOrder, Tick
from core.journal import Journal
from core.journal.recorder import JournalRecorder
from core.model import BTCUSDT_SPOT, Mode, OrderRequest, OrderStatus, Quote, Side, TimeInForce, Trade, TradingState
from core.rebalancer import Rebalancer
from core.venues.base import TradingDisabled
from core.venues.paper import PaperVenue
from core.venues.paper_exchange import PaperExchange
from tests.core.helpers_engine import T0, SpyRecorder, initial_position_fill, rcfg

D = Decimal
BUY, SELL = Side.BUY, Side.SELL
BID, ASK = 59_999.99, 60_000.01
S = 1_000
TIMEOUT = 5.0


class CountingExchange(PaperExchange):
    """A PaperExchange that remembers every order placement that reached it."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.placed: list[OrderRequest] = []

    def submit(self, command, ts_ms=None):
        if type(command) is PlaceOrder:
            self.placed.append(command.request)
        return super().submit(command, ts_ms)


class ObservedVenue(PaperVenue):
    """A PaperVenue whose deliveries to the engine's sink can be awaited."""

    def __init__(self, *a, **kw) -> None:
        super().__init__(*a, **kw)
        self.delivered: list[object] = []
        self._waiters: list[tuple[Callable[[object], bool], asyncio.Event]] = []

    def _deliver_one(self, ev: object) -> None:
        self.delivered.append(ev)
        super()._deliver_one(ev)
        for pred, flag in self._waiters:
            if pred(ev):
                flag.set()

    async def wait_for_event(self, pred: Callable[[object], bool], timeout: float = TIMEOUT) -> None:
        if any(pred(e) for e in self.delivered):
            return
        flag = asyncio.Event()
        self._waiters.append((pred, flag))
        await asyncio.wait_for(flag.wait(), timeout)


class MarketClock:
    """The engine's clock follows market time (the exchange's last event), so its own stamps
    agree with the data's."""

    def __init__(self, ex: PaperExchange) -> None:
        self.ex = ex

    def now_ms(self) -> int:
        return self.ex.now_ms


async def until(pred: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    """Yield to the loop until ``pred()`` holds (each turn lets the engine's tasks run)."""

    async def spin():
        while not pred():
            await asyncio.sleep(0)

    await asyncio.wait_for(spin(), timeout)


def order_update(status: OrderStatus, cid: str | None = None):
    def pred(ev):
        return type(ev) is OrderUpdate and ev.order.status is status and (cid is None or ev.order.client_id == cid)
    return pred


def market(t0: int, seconds: int, bid: float = BID, ask: float = ASK) -> list:
    """A quote and a mid trade every 500 ms (the trade makes the policy run)."""
    out = []
    for i in range(seconds * 2):
        ts = t0 + i * 500
        out.append(Quote(ts, bid, 1.0, ask, 1.0))
        out.append(Trade(ts, round((bid + ask) / 2, 2), 0.001, BUY))
    return out


class Rig:
    def __init__(self, *, spot: str = "0.5", usdt: str = "50000", mode: Mode = Mode.AUTO, events=None,
                 tick_ms: int = 1000, journal: Journal | None = None, **cfg) -> None:
        self.ex = CountingExchange(balances={"BTC": D(spot), "USDT": D(usdt)})
        self.ex.apply_grid_fill(initial_position_fill(T0, D("-0.5"), D("60000")))
        self.spy = SpyRecorder()
        recorder = JournalRecorder(journal) if journal is not None else self.spy
        self.reb = Rebalancer(rcfg(**cfg), BTCUSDT_SPOT, mode=mode, recorder=recorder)
        self.venue = ObservedVenue(self.ex, market=events, speed=0, tick_ms=tick_ms)
        # tick_s is long: the only timer ticks are the venue's market-time ticks
        self.engine = Engine(self.reb, self.venue, clock=MarketClock(self.ex), tick_s=3600, journal=journal)
        self.task: asyncio.Task | None = None

    async def start(self) -> "Rig":
        self.task = asyncio.create_task(self.engine.run())
        await asyncio.wait_for(self.engine.started.wait(), TIMEOUT)
        return self

    async def drain(self) -> None:
        """Until every queued command was executed (the paper venue answers without suspending,
        so idle means every command has run)."""
        await until(lambda: self.engine.commands_idle())
        await asyncio.sleep(0)

    async def stop(self, cancel_orders: bool = True) -> None:
        await self.engine.shutdown(cancel_orders=cancel_orders)
        await asyncio.wait_for(self.task, TIMEOUT)

    def feed(self, events) -> None:
        for ev in events:
            self.venue.feed(ev)


@pytest.fixture
async def rigs():
    """Build rigs with ``make(...)``; every rig still running is shut down at the end."""
    made: list[Rig] = []

    def make(**kw) -> Rig:
        r = Rig(**kw)
        made.append(r)
        return r

    yield make
    for r in made:
        if r.task is not None and not r.task.done():
            await r.stop(cancel_orders=False)


# ------------------------------------------------------------------------------- start-up and flow


async def test_startup_reads_balances_and_position_and_events_flow(rigs):
    evs = market(T0, 5)  # 10 quotes + 10 trades, gap 0: nothing to do
    rig = await rigs(spot="0.5", events=evs).start()
    # read at start-up, before any market event
    assert rig.reb.book.balances_ok and rig.reb.connected
    assert rig.reb.book.spot_total == 0.5 and rig.reb.book.futures_size == -0.5
    await asyncio.wait_for(rig.venue.join(), TIMEOUT)
    assert rig.reb.price == 60_000.00 and (rig.reb.bid, rig.reb.ask) == (BID, ASK)
    assert rig.reb.last_market_ms == T0 + 4_500
    # 20 market events + 4 market-time ticks (T0+1s..T0+4s) + balance, position, 2 connection events
    assert rig.reb.stats.events == 20 + 4 + 4
    assert rig.engine.order_calls == 0 and rig.ex.placed == []
    snap = rig.engine.latest()
    assert snap.connected and snap.gap_base == pytest.approx(0.0)
    await rig.stop()


async def test_auto_places_an_order_through_the_venue(rigs):
    rig = await rigs(spot="0.52", events=market(T0, 2)).start()  # gap +0.02 >= hard: taker sell 0.02
    await rig.venue.wait_for_event(order_update(OrderStatus.FILLED, "rb1-1"))
    assert [(r.side, r.qty, r.tif) for r in rig.ex.placed] == [(SELL, D("0.020000"), TimeInForce.IOC)]
    assert rig.engine.order_calls == 1
    fills = rig.ex.fills()
    assert [(f.side, f.qty, f.price) for f in fills] == [(SELL, D("0.020000"), D("59999.99"))]
    assert rig.ex.balance("BTC").free == D("0.500000")
    await asyncio.wait_for(rig.venue.join(), TIMEOUT)
    await rig.stop()


async def test_the_order_call_is_issued_in_the_callback_of_the_event_that_caused_it(rigs):
    rig = await rigs(spot="0.52").start()  # gap +0.02 >= hard: the first trade starts a taker sell
    assert rig.engine.order_calls == 0 and rig.engine.commands_idle()
    rig.feed([Quote(T0, BID, 1.0, ASK, 1.0), Trade(T0, 60_000.00, 0.001, BUY)])
    # no await in between: the venue call went out inside the trade's delivery, not a loop turn later
    assert rig.engine.order_calls == 1
    assert [(r.side, r.tif) for r in rig.ex.placed] == [(SELL, TimeInForce.IOC)]
    assert rig.engine.commands_idle()  # the paper venue answered without waiting: nothing left to run
    assert len(rig.engine.decision_latencies) == 1
    await rig.stop()


def _committed(path, table: str) -> int:
    """Rows of ``table`` another process would see now (WAL readers see committed rows only)."""
    with sqlite3.connect(path) as db:
        return db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


async def test_with_a_journal_the_order_call_goes_out_before_the_commit_and_all_is_committed_after(rigs, tmp_path):
    path = tmp_path / "journal.sqlite"
    # max_pending_rows=1: every row asks for a commit as it is written, the decision row included
    rig = await rigs(spot="0.52", journal=Journal(path, max_pending_rows=1)).start()  # gap +0.02 >= hard: a taker sell
    committed_at_call: list[tuple[int, int]] = []
    submit = rig.ex.submit

    def observed_submit(command, ts_ms=None):
        if type(command) is PlaceOrder:
            committed_at_call.append((_committed(path, "decisions"), _committed(path, "fills")))
        return submit(command, ts_ms)

    rig.ex.submit = observed_submit
    rig.feed([Quote(T0, BID, 1.0, ASK, 1.0), Trade(T0, 60_000.00, 0.001, BUY)])
    # no await in between: the order went out inside the trade's delivery, before its decision
    # row was committed; the taker fill it caused was delivered and committed before feed returned
    assert rig.engine.order_calls == 1
    assert committed_at_call == [(0, 0)]
    assert _committed(path, "decisions") == 1
    assert _committed(path, "fills") == 1 and _committed(path, "order_events") >= 1
    await rig.stop()


async def test_a_failing_journal_write_halts_trading_and_the_rows_after_it_are_still_written(rigs, tmp_path):
    path = tmp_path / "journal.sqlite"
    journal = Journal(path)
    rig = await rigs(spot="0.52", journal=journal).start()
    record_decision = journal.record_decision

    def broken(*args, **kwargs):
        raise sqlite3.OperationalError("disk I/O error")

    journal.record_decision = broken
    rig.feed([Quote(T0, BID, 1.0, ASK, 1.0), Trade(T0, 60_000.00, 0.001, BUY)])
    journal.record_decision = record_decision
    rig.feed(market(T0 + 500, 1))
    assert rig.engine.order_calls == 1  # the sell went out; the events after the failure were taken
    assert rig.reb.last_market_ms == T0 + 1_000
    assert rig.reb.risk.state is TradingState.HALTED  # no journal, no trading (issue 13)
    assert any(line.level == "error" and "journal unwritable: disk I/O error" in line.text for line in rig.reb.log)
    # the rows recorded after the failed one were written: the order, and its fill (committed)
    assert _committed(path, "order_events") >= 1 and _committed(path, "fills") == 1
    assert _committed(path, "decisions") == 0
    await rig.stop()


async def test_a_taker_fill_through_the_engine_is_counted_once(rigs):
    rig = await rigs(spot="0.52").start()
    rig.feed(market(T0, 1))  # the first trade starts a taker sell of 0.02
    await rig.venue.wait_for_event(order_update(OrderStatus.FILLED, "rb1-1"))
    await rig.drain()
    # the exchange holds 0.5 BTC after selling 0.02: net 0, nothing more to do
    assert rig.ex.balance("BTC").free + rig.ex.balance("BTC").locked == D("0.500000")
    assert rig.reb.book.spot_total == pytest.approx(0.5)  # actual 0.48: the sell was applied twice
    rig.feed(market(T0 + 1_000, 10))
    await rig.drain()
    assert [r.side for r in rig.ex.placed] == [SELL]  # actual [Sell, Buy]: it buys into a flat book
    await rig.stop()


async def test_startup_cancels_our_open_orders_left_at_the_venue(rigs):
    rig = rigs(spot="0.5")
    left = OrderRequest("rb9-1", "BTCUSDT", BUY, D("0.001000"), D("50000.00"), TimeInForce.POST_ONLY)
    rig.ex.submit(PlaceOrder(left), T0)
    assert len(rig.ex.open_orders()) == 1
    await rig.start()
    assert rig.ex.open_orders() == ()
    assert any("start-up: cancelled our open order rb9-1" in line.text for line in rig.reb.log)
    await rig.stop()


# ------------------------------------------------------------------------------- watch mode


async def test_watch_mode_locks_the_venue_and_force_sends_nothing(rigs):
    rig = await rigs(spot="0.52").start()  # hard gap, but no market yet
    rig.engine.set_mode(Mode.WATCH)
    assert rig.reb.mode is Mode.WATCH
    assert rig.venue.can_trade is False
    rig.feed(market(T0, 5))
    assert rig.engine.force().text == "force refused: watch mode never trades"
    assert rig.engine.approve().text == "approve refused: watch mode never trades"
    assert rig.engine.preview_force().text == "force refused: watch mode never trades"
    await rig.drain()
    assert rig.ex.placed == []
    assert rig.engine.order_calls == 0
    assert "watch: shown only" in [o for _, _, o in rig.spy.decisions]
    # the venue itself refuses any order call
    with pytest.raises(TradingDisabled):
        await rig.venue.place_order(OrderRequest("rbX-1", "BTCUSDT", SELL, D("0.001"), D("60000.00"),
                                                 TimeInForce.POST_ONLY))
    assert rig.ex.placed == []
    await rig.stop()


async def test_switching_to_watch_cancels_the_working_order_then_locks_the_venue(rigs):
    rig = await rigs(spot="0.51").start()  # soft: a maker sell rests
    rig.feed(market(T0, 1))
    await rig.venue.wait_for_event(order_update(OrderStatus.NEW, "rb1-1"))
    assert len(rig.ex.open_orders()) == 1
    rig.engine.set_mode(Mode.WATCH)
    await rig.venue.wait_for_event(order_update(OrderStatus.CANCELLED, "rb1-1"))
    await until(lambda: rig.venue.can_trade is False)
    assert rig.ex.open_orders() == ()
    rig.feed(market(T0 + 1_000, 20))
    await rig.drain()
    assert len(rig.ex.placed) == 1
    await rig.stop()


# ------------------------------------------------------------------------------- shutdown


async def test_shutdown_with_cancel_leaves_no_open_order(rigs):
    rig = await rigs(spot="0.51").start()
    rig.feed(market(T0, 1))
    await rig.venue.wait_for_event(order_update(OrderStatus.NEW, "rb1-1"))
    assert len(rig.ex.open_orders()) == 1
    await rig.stop(cancel_orders=True)
    assert rig.ex.open_orders() == ()
    assert rig.task.done() and rig.task.exception() is None


async def test_shutdown_without_cancel_leaves_the_order_working(rigs):
    rig = await rigs(spot="0.51").start()
    rig.feed(market(T0, 1))
    await rig.venue.wait_for_event(order_update(OrderStatus.NEW, "rb1-1"))
    await rig.stop(cancel_orders=False)
    assert [o.client_id for o in rig.ex.open_orders()] == ["rb1-1"]


# ------------------------------------------------------------------------------- errors


async def test_engine_error_drops_to_watch(rigs):
    rig = await rigs(spot="0.5").start()
    rig.engine.on_engine_error("worker crashed: boom")
    assert rig.reb.mode is Mode.WATCH
    assert rig.venue.can_trade is False
    assert rig.engine.error == "worker crashed: boom"
    assert any("engine error, dropped to WATCH: worker crashed: boom" in line.text for line in rig.reb.log)
    assert rig.engine.latest().mode is Mode.WATCH
    # a gap appears: still nothing is sent
    rig.feed(market(T0, 3, bid=BID, ask=ASK))
    rig.venue.feed(Tick(T0 + 3_000))
    rig.engine.force()
    await rig.drain()
    assert rig.ex.placed == []
    await rig.stop()


async def test_engine_error_cancels_the_working_order(rigs):
    rig = await rigs(spot="0.51").start()
    rig.feed(market(T0, 1))  # a maker sell of 0.005 rests at 60000.01
    await rig.venue.wait_for_event(order_update(OrderStatus.NEW, "rb1-1"))
    rig.engine.on_engine_error("worker crashed")
    await rig.drain()
    # what Engine.set_mode(WATCH) does: cancel first, then lock the venue
    assert rig.ex.open_orders() == ()  # actual: rb1-1 still New at the venue
    assert rig.reb.exec is None  # actual: waiting forever for a cancel that was never sent
    # back to AUTO with the market 2 minutes further on (it fell 10 USDT): trading resumes
    rig.engine.set_mode(Mode.AUTO)
    rig.feed(market(T0 + 1_000, 120, bid=59_990.00, ask=59_990.02))
    await rig.drain()
    assert len(rig.ex.placed) >= 2
    await rig.stop()


async def test_a_venue_rejection_becomes_a_rejected_order_update(rigs):
    # gap -0.02 (hard): a taker buy of 0.02 needs ~1,200 USDT; the engine saw 50,000 at start, the
    # venue holds 10 by the time it is sent (a withdrawal whose wallet push has not come yet)
    rig = await rigs(spot="0.48", usdt="50000").start()
    rig.ex._bal["USDT"] = (Decimal("10"), Decimal("0"))
    rejected = asyncio.Event()
    rig.spy.on_order = lambda o, e: rejected.set() if e == "Rejected" else None
    rig.feed(market(T0, 1))
    await asyncio.wait_for(rejected.wait(), TIMEOUT)
    (ts, order, event), = [x for x in rig.spy.orders if x[2] == "Rejected"]
    assert order.client_id == "rb1-1" and order.side is BUY
    assert "170131" in order.reject_reason and "Insufficient balance" in order.reject_reason
    assert rig.ex.placed and rig.ex.open_orders() == ()
    # no crash: the engine keeps running and the rebalance is over
    assert not rig.task.done()
    assert rig.reb.exec is None
    assert any("rejected" in line.text for line in rig.reb.log)
    rig.feed(market(T0 + 1_000, 2))
    await rig.drain()
    assert not rig.task.done()
    await rig.stop()


class SlowCancelVenue(PaperVenue):
    """Bybit's order: the stream says Cancelled at once, the cancel call's reply comes later.
    The rebalancer's next order (the taker after the maker wait) then waits in the queue."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.reply = asyncio.Event()
        self.in_cancel = False

    async def cancel_order(self, client_id):
        from core.events import CancelOrder
        from core.venues.base import ensure_can_trade

        ensure_can_trade(self)
        self._command(CancelOrder(client_id))  # the push, delivered now
        self.in_cancel = True
        await self.reply.wait()  # the reply, later
        self.in_cancel = False


@pytest.mark.parametrize("stop", ["kill", "watch", "pause", "kill, re-arm", "pause, resume", "watch, auto"])
async def test_an_order_queued_behind_a_slow_call_is_not_sent_after_a_stop(stop):
    """A kill (or watch, or a pause) pressed while the taker order waited behind a slow cancel
    call: it went out after the kill and filled. Checked as it leaves the queue, it is not sent."""
    ex = CountingExchange(balances={"BTC": Decimal("0.506"), "USDT": Decimal("50000")})
    ex.apply_grid_fill(initial_position_fill(T0, Decimal("-0.5"), Decimal("60000")))
    reb = Rebalancer(rcfg(execution__max_chase_s=2), BTCUSDT_SPOT, mode=Mode.AUTO)
    venue = SlowCancelVenue(ex, market=None, speed=0, tick_ms=1000)
    eng = Engine(reb, venue, clock=MarketClock(ex), tick_s=3600)
    task = asyncio.create_task(eng.run())
    await asyncio.wait_for(eng.started.wait(), TIMEOUT)
    for i in range(8):  # gap +0.006: a post-only sell rests, the maker wait ends at +2 s
        ts = T0 + i * 500
        venue.feed(Quote(ts, 59999.99, 1.0, 60000.01, 1.0))
        venue.feed(Trade(ts, 60000.0, 0.001, Side.BUY))
        await until(lambda: venue.in_cancel or eng.commands_idle())
        if venue.in_cancel:
            break
    await until(lambda: any(type(c) is PlaceOrder for c, *_ in eng._commands))
    placed = len(ex.placed)
    acts = {"kill": eng.kill, "watch": lambda: eng.set_mode(Mode.WATCH), "pause": eng.toggle_pause,
            "re-arm": eng.rearm, "resume": eng.toggle_pause, "auto": lambda: eng.set_mode(Mode.AUTO)}
    for act in stop.split(", "):  # a stop, then undone: the order made before it is stale all the same
        acts[act]()
    venue.reply.set()
    await until(eng.commands_idle)
    assert len(ex.placed) == placed and not ex.fills(), [r.tif for r in ex.placed]
    await eng.shutdown(cancel_orders=False)
    await asyncio.wait_for(task, TIMEOUT)
