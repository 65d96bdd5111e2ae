"""Start-up recovery (``core.recovery``): the journal's memory and the venue's state become events
through the rebalancer, so the journal's rows come from its recorder only, once each, however
often the program restarts.

The venue is a ``PaperVenue`` over a ``PaperExchange`` that holds what happened while the
program was down (an order placed by the last session, filled or cancelled since); the
journal is what the last session left.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.events import BalanceUpdate, FillEvent, OrderUpdate, PlaceOrder, PositionUpdate
from core.journal import Journal
from core.journal.recorder import JournalRecorder
from core.model import BTCUSDT_SPOT, Mode, OrderRequest, OrderStatus, Side, TimeInForce, TradingState
from core.rebalancer import Rebalancer
from core.recovery import recover, restore_from_journal
from core.venues.paper import PaperVenue
from core.venues.paper_exchange import PaperExchange
from tests.core.helpers_engine import T0, SpyRecorder, initial_position_fill, rcfg

D = Decimal
ORDER = "rb1-1"


def account(spot: str = "0.5") -> PaperExchange:
    ex = PaperExchange(balances={"BTC": D(spot), "USDT": D("50000")})
    ex.apply_grid_fill(initial_position_fill(T0, D("-0.5"), D("60000")))
    ex.on_quote(T0, 59_999.99, 1.0, 60_000.01, 1.0)
    return ex


def place(ex: PaperExchange, cid: str = ORDER, side: Side = Side.BUY, qty: str = "0.004",
          price: str = "59990.00"):
    """The last session's resting maker order; returns it as the journal recorded it (New)."""
    ex.submit(PlaceOrder(OrderRequest(cid, "BTCUSDT", side, D(qty), D(price), TimeInForce.POST_ONLY)), T0)
    order = ex.order(cid)
    assert order is not None and order.status is OrderStatus.NEW
    return order


def last_session(journal: Journal, ex: PaperExchange, **kw):
    """Session 1 placed an order and journaled it open; then it died."""
    order = place(ex, **kw)
    journal.record_order(T0, order, "New")
    journal.commit(T0)
    return order


class Session:
    """A restarted program's rebalancer, recording to ``recorder``, and what recovery fed it."""

    def __init__(self, recorder, mode: Mode = Mode.AUTO) -> None:
        self.reb = Rebalancer(rcfg(), BTCUSDT_SPOT, mode=mode, recorder=recorder)
        self.fed: list[object] = []

    def feed(self, ev: object) -> None:
        self.fed.append(ev)
        self.reb.on_event(ev)

    async def recover(self, ex: PaperExchange, journal: Journal | None, on_open_orders: str = "cancel",
                      can_trade: bool = True):
        """As the engine does: the venue's own events (a cancel's update) reach the same feed."""
        venue = PaperVenue(ex, market=None, can_trade=can_trade)
        await venue.start(self.feed)
        return await recover(self.reb, venue, journal, self.feed, now_ms=lambda: ex.now_ms,
                             on_open_orders=on_open_orders)

    def of(self, *kinds: type) -> list:
        return [e for e in self.fed if type(e) in kinds]


def reconciles(j: Journal) -> list[tuple[str, str]]:
    return [(r["what"], r["detail"]) for r in j.reconciles(None)]


async def test_a_fill_made_while_down_is_journaled_once_and_moves_the_rebalancer():
    ex = account()
    j = Journal()
    last_session(j, ex)
    ex.on_trade(T0 + 5_000, 59_989.0, 0.01, False)  # while down: a sell trades through our buy
    (fill,) = ex.fills(0)
    assert ex.order(ORDER).status is OrderStatus.FILLED and fill.fee_coin == "BTC"

    s = Session(JournalRecorder(j))
    got = await s.recover(ex, j)

    assert got.backfilled == (fill.exec_id,) and got.closed == ((ORDER, "Filled"),)
    assert j.fills() == [fill]  # exactly the venue's fill, once
    assert j.order(ORDER).status is OrderStatus.FILLED and j.order(ORDER).filled_qty == D("0.004")
    assert reconciles(j) == [("journal_open_order", f"{ORDER} -> Filled"),
                             ("backfill_fills", "1 fill(s) recorded after restart")]
    st = s.reb.stats
    assert (st.fills, st.volume_base) == (1, pytest.approx(0.004))
    assert st.fees_quote == pytest.approx(float(fill.fee * fill.price))
    assert s.reb.recent.buy_count == 1 and s.reb.recent.buy_vwap == pytest.approx(float(fill.price))
    # the wallet already holds the fill (and its fee in BTC): counted once, not on top of it
    btc = ex.balance("BTC")
    assert s.reb.book.spot_total == float(btc.free + btc.locked)
    assert s.reb.bad_messages == 0  # an order of ours from before the restart is not a stranger


async def test_events_come_in_stream_order_and_the_wallet_has_the_last_word():
    ex = account()
    j = Journal()
    last_session(j, ex)
    ex.on_trade(T0 + 5_000, 59_989.0, 0.01, False)
    s = Session(JournalRecorder(j))
    await s.recover(ex, j)
    assert [type(e) for e in s.of(OrderUpdate, FillEvent, BalanceUpdate, PositionUpdate)] == [
        OrderUpdate, FillEvent, BalanceUpdate, PositionUpdate]


async def test_an_order_the_venue_no_longer_knows_is_closed_cancelled():
    ex = account()
    j = Journal()
    ghost = last_session(j, PaperExchange(balances={"BTC": D("0.5"), "USDT": D("50000")}))
    s = Session(JournalRecorder(j))
    got = await s.recover(ex, j)  # a fresh paper account: it never heard of the order
    assert got.closed == ((ghost.client_id, "Cancelled"),) and got.backfilled == ()
    final = j.order(ghost.client_id)
    assert final.status is OrderStatus.CANCELLED and final.reject_reason == "not at the venue after restart"
    assert j.open_orders() == []
    assert [ev for _, ev, _ in j.order_events(ghost.client_id)] == ["New", "Cancelled"]


async def test_a_second_restart_counts_nothing_twice():
    ex = account()
    j = Journal()
    last_session(j, ex)
    ex.on_trade(T0 + 5_000, 59_989.0, 0.01, False)
    await Session(JournalRecorder(j)).recover(ex, j)
    rows = {t: j.count(t) for t in ("fills", "order_events", "reconciles")}

    again = Session(JournalRecorder(j))
    got = await again.recover(ex, j)
    assert got.closed == () and got.backfilled == ()
    assert again.of(FillEvent) == [] and again.of(OrderUpdate) == []
    assert again.reb.stats.fills == 0
    assert {t: j.count(t) for t in rows} == rows


async def test_journal_rows_come_only_from_the_rebalancers_recorder():
    ex = account()
    j = Journal()
    last_session(j, ex)
    ex.on_trade(T0 + 5_000, 59_989.0, 0.01, False)
    before = {t: j.count(t) for t in ("fills", "order_events", "reconciles", "orders")}
    spy = SpyRecorder()
    reconciled: list[tuple[str, str]] = []
    spy.reconcile = lambda ts, what, detail: reconciled.append((what, detail))  # type: ignore[method-assign]
    await Session(spy).recover(ex, j)
    # recovery itself wrote nothing: the journal is as the last session left it ...
    assert {t: j.count(t) for t in before} == before and j.open_orders() != []
    # ... and everything went to the recorder instead
    assert [(o.client_id, o.status) for _, o, _ in spy.orders] == [(ORDER, OrderStatus.FILLED)]
    assert [f.exec_id for f in spy.fills] == [f.exec_id for f in ex.fills(0)]
    assert reconciled == [("journal_open_order", f"{ORDER} -> Filled"),
                          ("backfill_fills", "1 fill(s) recorded after restart")]


async def test_an_order_still_open_is_cancelled_through_the_rebalancer():
    ex = account()
    j = Journal()
    last_session(j, ex)
    s = Session(JournalRecorder(j))
    got = await s.recover(ex, j, on_open_orders="cancel")
    assert got.cancelled == (ORDER,) and got.closed == ()
    assert ex.order(ORDER).status is OrderStatus.CANCELLED
    assert j.order(ORDER).status is OrderStatus.CANCELLED  # the venue's update, through the recorder
    assert reconciles(j) == [("cancel_open_order", ORDER)]
    assert s.reb.bad_messages == 0 and ORDER not in s.reb.orders.working


async def test_an_adopted_partly_filled_order_is_tracked_and_counted_once():
    ex = account(spot="0.53")
    j = Journal()
    last_session(j, ex, side=Side.SELL, price="60010.00")
    ex.on_trade(T0 + 10, 60_010.5, 0.002, True)  # half of it filled while down
    s = Session(JournalRecorder(j))
    got = await s.recover(ex, j, on_open_orders="adopt")
    assert got.adopted == (ORDER,) and len(got.backfilled) == 1
    assert ORDER in s.reb.orders.working and s.reb.bad_messages == 0
    btc = ex.balance("BTC")
    assert s.reb.book.spot_total == float(btc.free + btc.locked)
    assert j.order(ORDER).status is OrderStatus.PARTIALLY_FILLED and j.order(ORDER).filled_qty == D("0.002")
    assert reconciles(j) == [("backfill_fills", "1 fill(s) recorded after restart"), ("adopt_open_order", ORDER)]


async def test_halted_in_the_journal_cancels_even_when_configured_to_adopt():
    ex = account()
    j = Journal()
    last_session(j, ex)
    j.record_state(T0 + 1, "trading_state", "HALTED", "kill switch pressed (test)")
    s = Session(JournalRecorder(j))
    restore_from_journal(s.reb, j)
    assert s.reb.risk.state is TradingState.HALTED
    got = await s.recover(ex, j, on_open_orders="adopt")
    assert got.cancelled == (ORDER,) and got.adopted == ()
    assert ex.order(ORDER).status is OrderStatus.CANCELLED


async def test_in_watch_mode_nothing_is_cancelled_the_order_is_adopted():
    ex = account()
    j = Journal()
    last_session(j, ex)
    s = Session(JournalRecorder(j), mode=Mode.WATCH)
    got = await s.recover(ex, j, on_open_orders="cancel", can_trade=False)
    assert got.adopted == (ORDER,) and got.cancelled == ()
    assert ex.order(ORDER).status is OrderStatus.NEW


def test_restore_from_journal_brings_back_the_cooldown():
    j = Journal()
    j.record_rebalance_done(T0 + 60_000, Side.SELL, 0.004, "maker")
    reb = Rebalancer(rcfg(), BTCUSDT_SPOT, mode=Mode.AUTO)
    restore_from_journal(reb, j)
    assert (reb.memory.last_trade_ms, reb.memory.last_trade_side) == (T0 + 60_000, Side.SELL)
    assert reb.risk.state is TradingState.ACTIVE


async def test_without_a_journal_only_the_account_and_open_orders_are_recovered():
    ex = account()
    place(ex)
    s = Session(SpyRecorder())
    got = await s.recover(ex, None, on_open_orders="adopt")
    assert got.adopted == (ORDER,) and got.closed == () and got.backfilled == ()
    assert [type(e) for e in s.of(OrderUpdate, FillEvent, BalanceUpdate, PositionUpdate)] == [
        BalanceUpdate, PositionUpdate, OrderUpdate]


class _MarketClock:
    def __init__(self, ex: PaperExchange) -> None:
        self.ex = ex

    def now_ms(self) -> int:
        return self.ex.now_ms


async def test_the_engine_starts_through_recovery(tmp_path):
    """The live shell's start-up is this path: a fill made while down reaches the rebalancer
    (its statistics count it) and the journal once, through the engine's event FIFO."""
    import asyncio

    from core.engine import Engine

    ex = account()
    path = tmp_path / "journal.sqlite"
    j = Journal(path)
    last_session(j, ex)
    ex.on_trade(T0 + 5_000, 59_989.0, 0.01, False)
    reb = Rebalancer(rcfg(), BTCUSDT_SPOT, mode=Mode.AUTO, recorder=JournalRecorder(j))
    engine = Engine(reb, PaperVenue(ex, market=None), clock=_MarketClock(ex), journal=j, tick_s=3600)
    task = asyncio.create_task(engine.run())
    await asyncio.wait_for(engine.started.wait(), 5)
    assert reb.stats.fills == 1 and reb.bad_messages == 0
    await engine.shutdown(cancel_orders=True)
    await asyncio.wait_for(task, 5)
    with Journal(path, create=False) as after:
        assert [f.exec_id for f in after.fills()] == [f.exec_id for f in ex.fills(0)]
        assert after.order(ORDER).status is OrderStatus.FILLED
        assert reconciles(after) == [("journal_open_order", f"{ORDER} -> Filled"),
                                     ("backfill_fills", "1 fill(s) recorded after restart")]
        assert after.last_state("session")[:2] == ("stopped", "clean quit, orders cancelled (0)")


def _unhedged_session(path, *, peak_bid: float, then_bid: float, session: int = 0, rearm: bool = False):
    """0.5 BTC + 50,000 USDT held on purpose (target 0.5): equity follows the price alone."""
    from tests.core.helpers_engine import Harness

    cfg = rcfg(desired_net_delta_base=0.5, risk__max_drawdown_pct=10)
    with Journal(path) as j:
        h = Harness(cfg, spot="0.5", futures="0", mode=Mode.AUTO, recorder=JournalRecorder(j))
        if session:
            restore_from_journal(h.reb, j)
        t = T0 + session * 100_000
        h.market(t, peak_bid, peak_bid + 0.02)
        h.tick(t + 1_000)
        if rearm:
            h.reb.operator.rearm()
        h.market(t + 2_000, then_bid, then_bid + 0.02)
        h.tick(t + 12_000)
        return h.reb.risk


def test_a_restart_measures_the_drawdown_from_the_peak_before_it(tmp_path):
    """9 % down, a restart, 9 % more: the kill switch (10 %) must trip. The peak was not kept,
    so each restart granted a fresh 10 % (17 % lost, no halt)."""
    path = tmp_path / "j.sqlite"
    first = _unhedged_session(path, peak_bid=60_000.0, then_bid=45_600.0)  # 80,000 -> 72,800: 9 %
    assert first.state is TradingState.ACTIVE and first.peak_equity == pytest.approx(80_000.0, abs=0.1)
    second = _unhedged_session(path, peak_bid=45_600.0, then_bid=39_600.0, session=1)  # 69,800: 12.75 %
    assert second.peak_equity == pytest.approx(80_000.0, abs=0.1)
    assert second.state is TradingState.HALTED and "drawdown" in second.halt_reason


def test_after_a_rearm_the_restored_peak_starts_from_the_rearm(tmp_path):
    path = tmp_path / "j.sqlite"
    _unhedged_session(path, peak_bid=60_000.0, then_bid=45_600.0)
    halted = _unhedged_session(path, peak_bid=45_600.0, then_bid=39_600.0, session=1)
    assert halted.state is TradingState.HALTED
    with Journal(path) as j:
        assert j.drawdown_peak() == pytest.approx(80_000.0, abs=0.1)
    rearmed = _unhedged_session(path, peak_bid=39_600.0, then_bid=38_000.0, session=2, rearm=True)
    assert rearmed.state is TradingState.ACTIVE  # 69,800 -> 69,000: 1.1 % from the re-arm's equity
    with Journal(path) as j:
        assert j.drawdown_peak() == pytest.approx(69_800.0, abs=1.0)


def test_no_snapshot_values_the_account_without_its_position(tmp_path):
    """At a start the price is known (the streams warm up) before the balances, then the
    position, come in. A row written between them valued 1 BTC + 20,000 USDT at 66,000 without
    the short's -6,000 uPnL: 86,000 for a true 80,000, and the next restart took it as its peak
    and halted at once (drawdown 7 % under a 5 % limit)."""
    from core.events import ConnectionChanged, Tick
    from core.model import Balance, Position, Trade

    path = tmp_path / "j.sqlite"
    wallet = (Balance("BTC", Decimal("1")), Balance("USDT", Decimal("20000")))
    short = Position("BTCUSDT", Decimal("-1"), Decimal("60000"), Decimal("66000"), Decimal("-6000"))
    for restart in (False, True):
        with Journal(path) as j:
            reb = Rebalancer(rcfg(risk__max_drawdown_pct=5), BTCUSDT_SPOT, mode=Mode.AUTO, recorder=JournalRecorder(j))
            if restart:
                restore_from_journal(reb, j)
            t = T0 + (100_000 if restart else 0)
            for ev in (Trade(t, 66_000.0, 0.001, Side.BUY), BalanceUpdate(t + 1, wallet), PositionUpdate(t + 1, short),
                       ConnectionChanged(t + 2, True, "ready"), Trade(t + 1_000, 66_000.0, 0.001, Side.BUY),
                       Tick(t + 1_000)):
                reb.on_event(ev)
            assert j.drawdown_peak() == pytest.approx(80_000.0)
            assert reb.risk.state is TradingState.ACTIVE, reb.risk.halt_reason
