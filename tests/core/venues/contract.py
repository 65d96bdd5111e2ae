"""A venue contract: the behaviour every ``Venue`` must show, whatever is behind it.

Why: the engine is written once against ``core.venues.base.Venue``; the paper venue and the
Bybit adapter (against a loopback fake of Bybit) must both honour the same promises. Each
check is an ``async def check_*(h: VenueHarness)``; a test module supplies a harness and runs
every entry of ``CONTRACT_CHECKS`` (see ``test_contract_paper.py``).

The market the checks assume: BTCUSDT spot with Bybit's filters (tick 0.01, qty step
0.000001, min qty 0.000048, min order value 5 USDT), a touch the harness can set, and the
harness's fee rates. Expected balances are computed by hand from those numbers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Protocol

from core.events import BalanceUpdate, FillEvent, OrderUpdate
from core.model import Balance, Fill, Order, OrderRequest, OrderStatus, Side, TimeInForce
from core.venues.base import OrderRejected, TradingDisabled, Venue, VenueError

D = Decimal

# The touch most checks trade around.
BID = D("60000.00")
ASK = D("60000.01")
TOUCH_SIZE = D("5")


class EventLog:
    """Collects what the venue delivers to its sink and lets a check await an event.

    Waiting is event-driven (an ``asyncio.Event`` set by the sink), never a sleep loop, so it
    works for a venue that delivers synchronously (paper) and for one fed by sockets.
    """

    def __init__(self) -> None:
        self.events: list[object] = []
        self._changed = asyncio.Event()

    def __call__(self, event: object) -> None:
        self.events.append(event)
        self._changed.set()

    def mark(self) -> int:
        """Index to search from: only events delivered after this call."""
        return len(self.events)

    def find(self, predicate: Callable[[object], bool], start: int = 0) -> int | None:
        for i in range(start, len(self.events)):
            if predicate(self.events[i]):
                return i
        return None

    async def wait_for(self, predicate: Callable[[object], bool], *, start: int = 0,
                       timeout: float = 5.0) -> object:
        async def _wait() -> object:
            pos = start
            while True:
                i = self.find(predicate, pos)
                if i is not None:
                    return self.events[i]
                pos = len(self.events)
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(_wait(), timeout)


class VenueHarness(Protocol):
    """What a test supplies so the contract can drive one kind of venue.

    ``open`` builds and starts a fresh venue (its events go to ``log``) with the account
    ``initial_balances``; ``set_touch``/``trade`` move the public market and return once the
    venue has processed the move (its own state reflects it); ``order_calls`` counts order
    commands that reached the exchange (REST order endpoints for Bybit, ``submit`` for paper).
    """

    symbol: str
    base: str
    quote: str
    client_prefix: str
    initial_balances: Mapping[str, Decimal]
    spot_maker_fee: Decimal
    spot_taker_fee: Decimal
    log: EventLog

    async def open(self, *, can_trade: bool = True) -> Venue: ...

    async def set_touch(self, bid: Decimal, ask: Decimal, *, size: Decimal = TOUCH_SIZE) -> None: ...

    async def trade(self, price: Decimal, qty: Decimal, taker_side: Side) -> None: ...

    def order_calls(self) -> int: ...

    async def close(self) -> None: ...


# ---------------------------------------------------------------------- helpers


def _req(h: VenueHarness, tag: str, side: Side, qty: str, price: str | Decimal,
         tif: TimeInForce = TimeInForce.POST_ONLY) -> OrderRequest:
    return OrderRequest(client_id=f"{h.client_prefix}{tag}", symbol=h.symbol, side=side,
                        qty=D(qty), price=D(price), tif=tif)


def _bal(balances: tuple[Balance, ...], coin: str) -> Balance:
    for b in balances:
        if b.coin == coin:
            return b
    return Balance(coin, D(0), D(0))


async def _ready(h: VenueHarness, *, can_trade: bool = True) -> Venue:
    venue = await h.open(can_trade=can_trade)
    await h.set_touch(BID, ASK)
    return venue


async def _await_fill(h: VenueHarness, client_id: str, start: int) -> Fill:
    ev = await h.log.wait_for(lambda e: isinstance(e, FillEvent) and e.fill.client_id == client_id,
                              start=start)
    assert isinstance(ev, FillEvent)
    return ev.fill


def _ids(orders: tuple[Order, ...]) -> set[str]:
    return {o.client_id for o in orders}


# ---------------------------------------------------------------------- checks


async def check_instrument_rules(h: VenueHarness) -> None:
    venue = await h.open()
    inst = await venue.instrument()
    assert (inst.symbol, inst.base, inst.quote) == (h.symbol, h.base, h.quote)
    assert inst.tick_size == D("0.01")
    assert inst.qty_step == D("0.000001")
    assert inst.min_qty == D("0.000048")
    assert inst.min_notional == D("5")
    assert inst.round_price(D("60000.019"), Side.BUY) == D("60000.01")
    assert inst.round_qty(D("0.0123456789")) == D("0.012345")


async def check_balances(h: VenueHarness) -> None:
    venue = await h.open()
    balances = await venue.balances()
    for coin, amount in h.initial_balances.items():
        b = _bal(balances, coin)
        assert b.free == amount, (coin, b)
        assert b.locked == 0, (coin, b)


async def check_post_only_rests_then_cancel(h: VenueHarness) -> None:
    venue = await _ready(h)
    req = _req(h, "rest1", Side.BUY, "0.01", "59990.00")
    order = await venue.place_order(req)
    assert order.status is OrderStatus.NEW
    assert order.client_id == req.client_id and order.order_id
    assert (order.qty, order.price, order.filled_qty) == (D("0.01"), D("59990.00"), 0)
    assert req.client_id in _ids(await venue.open_orders())
    quote = _bal(await venue.balances(), h.quote)
    assert quote.locked == D("599.9")  # 0.01 x 59990
    assert quote.free == h.initial_balances[h.quote] - D("599.9")

    await venue.cancel_order(req.client_id)
    assert req.client_id not in _ids(await venue.open_orders())
    after = await venue.order_by_client_id(req.client_id)
    assert after is not None and after.status is OrderStatus.CANCELLED
    quote = _bal(await venue.balances(), h.quote)
    assert (quote.free, quote.locked) == (h.initial_balances[h.quote], 0)


async def check_post_only_crossing_is_rejected(h: VenueHarness) -> None:
    venue = await _ready(h)
    before = await venue.balances()
    order = await venue.place_order(_req(h, "cross1", Side.BUY, "0.01", ASK))
    assert order.status is OrderStatus.REJECTED
    assert "PostOnly" in order.reject_reason  # EC_PostOnlyWillTakeLiquidity
    assert order.filled_qty == 0
    sell = await venue.place_order(_req(h, "cross2", Side.SELL, "0.01", BID))
    assert sell.status is OrderStatus.REJECTED
    assert not (_ids(await venue.open_orders()) & {order.client_id, sell.client_id})
    assert await venue.balances() == before


async def check_ioc_taker_fills_at_touch(h: VenueHarness) -> None:
    venue = await _ready(h)
    start = h.log.mark()
    buy = _req(h, "ioc1", Side.BUY, "0.01", "60010.00", TimeInForce.IOC)
    order = await venue.place_order(buy)
    fill = await _await_fill(h, buy.client_id, start)
    assert (fill.side, fill.price, fill.qty, fill.is_maker) == (Side.BUY, ASK, D("0.01"), False)
    assert fill.fee_coin == h.base and fill.fee == D("0.01") * h.spot_taker_fee  # buy fee in base
    final = await venue.order_by_client_id(buy.client_id)
    assert final is not None and final.status is OrderStatus.FILLED
    assert final.avg_fill_price == ASK
    assert order.order_id == final.order_id

    start = h.log.mark()
    sell = _req(h, "ioc2", Side.SELL, "0.01", "59990.00", TimeInForce.IOC)
    await venue.place_order(sell)
    fill2 = await _await_fill(h, sell.client_id, start)
    assert (fill2.price, fill2.qty, fill2.is_maker) == (BID, D("0.01"), False)
    assert fill2.fee_coin == h.quote and fill2.fee == D("600") * h.spot_taker_fee  # sell fee in quote

    balances = await venue.balances()
    base, quote = _bal(balances, h.base), _bal(balances, h.quote)
    # bought 0.01 - fee, sold 0.01; paid 600.0001, received 600 - fee
    assert base.total == h.initial_balances[h.base] - D("0.01") * h.spot_taker_fee
    assert quote.total == (h.initial_balances[h.quote] - D("600.0001") + D("600")
                           - D("600") * h.spot_taker_fee)
    assert base.locked == 0 and quote.locked == 0


async def check_resting_order_fills_only_when_traded_through(h: VenueHarness) -> None:
    venue = await _ready(h)
    req = _req(h, "thru1", Side.BUY, "0.01", "59990.00")
    await venue.place_order(req)
    await h.trade(D("59990.00"), D("1"), Side.SELL)  # at our price: we are behind the queue
    o = await venue.order_by_client_id(req.client_id)
    assert o is not None and o.status is OrderStatus.NEW and o.filled_qty == 0
    assert await venue.fills_since(0) == ()

    start = h.log.mark()
    await h.trade(D("59989.99"), D("1"), Side.SELL)  # through: fills at our price, as maker
    fill = await _await_fill(h, req.client_id, start)
    assert (fill.price, fill.qty, fill.is_maker) == (D("59990.00"), D("0.01"), True)
    assert fill.fee_coin == h.base and fill.fee == D("0.01") * h.spot_maker_fee
    o = await venue.order_by_client_id(req.client_id)
    assert o is not None and o.status is OrderStatus.FILLED
    base = _bal(await venue.balances(), h.base)
    assert base.total == h.initial_balances[h.base] + D("0.01") - D("0.01") * h.spot_maker_fee


async def check_partial_fill_then_cancel(h: VenueHarness) -> None:
    venue = await _ready(h)
    req = _req(h, "part1", Side.SELL, "0.01", "60010.00")
    await venue.place_order(req)
    start = h.log.mark()
    await h.trade(D("60010.01"), D("0.003"), Side.BUY)  # through, but only 0.003 printed
    fill = await _await_fill(h, req.client_id, start)
    assert (fill.price, fill.qty, fill.is_maker) == (D("60010.00"), D("0.003"), True)
    o = await venue.order_by_client_id(req.client_id)
    assert o is not None and o.status is OrderStatus.PARTIALLY_FILLED and o.filled_qty == D("0.003")
    assert _bal(await venue.balances(), h.base).locked == D("0.007")

    await venue.cancel_order(req.client_id)
    o = await venue.order_by_client_id(req.client_id)
    assert o is not None and o.status is OrderStatus.CANCELLED and o.filled_qty == D("0.003")
    balances = await venue.balances()
    base, quote = _bal(balances, h.base), _bal(balances, h.quote)
    assert (base.locked, quote.locked) == (0, 0)
    assert base.free == h.initial_balances[h.base] - D("0.003")
    proceeds = D("0.003") * D("60010.00")  # 180.03
    assert quote.free == h.initial_balances[h.quote] + proceeds - proceeds * h.spot_maker_fee


async def check_below_minimum_is_rejected(h: VenueHarness) -> None:
    venue = await _ready(h)
    try:
        await venue.place_order(_req(h, "tiny1", Side.BUY, "0.00001", "59990.00"))
    except OrderRejected as exc:
        assert exc.code == 170136 and "min" in str(exc).lower()
    else:
        raise AssertionError("an order below min qty was accepted")
    try:  # 0.00005 x 59990 = 2.9995 USDT < 5
        await venue.place_order(_req(h, "tiny2", Side.BUY, "0.00005", "59990.00"))
    except OrderRejected as exc:
        assert exc.code == 170140 and "min" in str(exc).lower()
    else:
        raise AssertionError("an order below min order value was accepted")
    assert await venue.open_orders() == ()
    assert await venue.order_by_client_id(f"{h.client_prefix}tiny1") is None


async def check_insufficient_balance_is_rejected(h: VenueHarness) -> None:
    venue = await _ready(h)
    too_much = (h.initial_balances[h.base] + 1).quantize(D("0.000001"))
    try:
        await venue.place_order(_req(h, "big1", Side.SELL, str(too_much), "60100.00"))
    except OrderRejected as exc:
        assert exc.code == 170131
    else:
        raise AssertionError("a sell larger than the base balance was accepted")
    assert await venue.open_orders() == ()


async def check_duplicate_client_id_is_rejected(h: VenueHarness) -> None:
    venue = await _ready(h)
    req = _req(h, "dup1", Side.BUY, "0.01", "59990.00")
    first = await venue.place_order(req)
    try:
        await venue.place_order(req)
    except OrderRejected as exc:
        assert exc.code in (170141, 110072)
    else:
        raise AssertionError("a duplicate client id was accepted")
    assert [o.order_id for o in await venue.open_orders()] == [first.order_id]


async def check_amend_moves_the_order(h: VenueHarness) -> None:
    venue = await _ready(h)
    req = _req(h, "amd1", Side.BUY, "0.01", "59990.00")
    await venue.place_order(req)
    await venue.amend_order(req.client_id, D("59995.00"), D("0.02"))
    o = await venue.order_by_client_id(req.client_id)
    assert o is not None and o.status is OrderStatus.NEW
    assert (o.price, o.qty) == (D("59995.00"), D("0.02"))
    assert _bal(await venue.balances(), h.quote).locked == D("1199.9")  # 0.02 x 59995


async def check_watch_venue_refuses_every_order_call(h: VenueHarness) -> None:
    venue = await _ready(h, can_trade=False)
    assert venue.can_trade is False
    calls = h.order_calls()
    calls_to_make = [
        lambda: venue.place_order(_req(h, "w1", Side.BUY, "0.01", "59990.00")),
        lambda: venue.cancel_order(f"{h.client_prefix}w1"),
        lambda: venue.amend_order(f"{h.client_prefix}w1", D("59991.00")),
        lambda: venue.cancel_all_ours(),
    ]
    for call in calls_to_make:
        try:
            await call()
        except TradingDisabled:
            pass
        else:
            raise AssertionError("a watch venue accepted an order call")
    assert h.order_calls() == calls  # nothing reached the exchange
    assert await venue.open_orders() == ()
    assert _bal(await venue.balances(), h.quote).free == h.initial_balances[h.quote]  # reads work


async def check_order_by_client_id(h: VenueHarness) -> None:
    venue = await _ready(h)
    req = _req(h, "find1", Side.SELL, "0.01", "60100.00")
    placed = await venue.place_order(req)
    found = await venue.order_by_client_id(req.client_id)
    assert found is not None
    assert (found.order_id, found.side, found.qty, found.price) == (placed.order_id, Side.SELL,
                                                                    D("0.01"), D("60100.00"))
    assert await venue.order_by_client_id(f"{h.client_prefix}nosuch") is None


async def check_fills_since(h: VenueHarness) -> None:
    venue = await _ready(h)
    start = h.log.mark()
    a = _req(h, "fs1", Side.BUY, "0.01", "60010.00", TimeInForce.IOC)
    await venue.place_order(a)
    fill_a = await _await_fill(h, a.client_id, start)
    await h.set_touch(BID, ASK)  # market time moves on
    start = h.log.mark()
    b = _req(h, "fs2", Side.SELL, "0.01", "59990.00", TimeInForce.IOC)
    await venue.place_order(b)
    fill_b = await _await_fill(h, b.client_id, start)
    assert fill_b.ts_ms > fill_a.ts_ms

    everything = await venue.fills_since(0)
    assert [f.exec_id for f in everything] == [fill_a.exec_id, fill_b.exec_id]
    assert [f.client_id for f in everything] == [a.client_id, b.client_id]
    later = await venue.fills_since(fill_b.ts_ms)
    assert [f.exec_id for f in later] == [fill_b.exec_id]
    assert await venue.fills_since(fill_b.ts_ms + 1) == ()


async def check_cancel_unknown_client_id(h: VenueHarness) -> None:
    """The protocol allows either a quiet no-op or a VenueError with 'order does not exist'."""
    venue = await _ready(h)
    keep = _req(h, "keep1", Side.BUY, "0.01", "59990.00")
    await venue.place_order(keep)
    try:
        await venue.cancel_order(f"{h.client_prefix}ghost")
    except VenueError as exc:
        assert exc.code in (170213, 110001)
    assert _ids(await venue.open_orders()) == {keep.client_id}


async def check_cancel_all_ours(h: VenueHarness) -> None:
    venue = await _ready(h)
    await venue.place_order(_req(h, "ca1", Side.BUY, "0.01", "59990.00"))
    await venue.place_order(_req(h, "ca2", Side.SELL, "0.01", "60100.00"))
    assert await venue.cancel_all_ours() == 2
    assert await venue.open_orders() == ()
    balances = await venue.balances()
    assert all(b.locked == 0 for b in balances)
    assert await venue.cancel_all_ours() == 0


async def check_events_in_order_for_a_fill(h: VenueHarness) -> None:
    venue = await _ready(h)
    start = h.log.mark()
    req = _req(h, "ord1", Side.BUY, "0.01", "60010.00", TimeInForce.IOC)
    await venue.place_order(req)
    await _await_fill(h, req.client_id, start)
    i_fill = h.log.find(lambda e: isinstance(e, FillEvent) and e.fill.client_id == req.client_id, start)
    assert i_fill is not None
    await h.log.wait_for(lambda e: isinstance(e, BalanceUpdate), start=i_fill)
    i_order = h.log.find(lambda e: isinstance(e, OrderUpdate) and e.order.client_id == req.client_id
                         and e.order.filled_qty > 0, start)
    assert i_order is not None
    i_bal = h.log.find(lambda e: isinstance(e, BalanceUpdate), i_fill)
    assert i_bal is not None
    assert i_order < i_fill < i_bal, (i_order, i_fill, i_bal)
    bal = h.log.events[i_bal]
    assert isinstance(bal, BalanceUpdate)
    assert _bal(bal.balances, h.base).total == (h.initial_balances[h.base] + D("0.01")
                                                - D("0.01") * h.spot_taker_fee)


CONTRACT_CHECKS: tuple[Callable[[VenueHarness], object], ...] = (
    check_instrument_rules,
    check_balances,
    check_post_only_rests_then_cancel,
    check_post_only_crossing_is_rejected,
    check_ioc_taker_fills_at_touch,
    check_resting_order_fills_only_when_traded_through,
    check_partial_fill_then_cancel,
    check_below_minimum_is_rejected,
    check_insufficient_balance_is_rejected,
    check_duplicate_client_id_is_rejected,
    check_amend_moves_the_order,
    check_watch_venue_refuses_every_order_call,
    check_order_by_client_id,
    check_fills_since,
    check_cancel_unknown_client_id,
    check_cancel_all_ours,
    check_events_in_order_for_a_fill,
)
