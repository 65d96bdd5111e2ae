"""PaperExchange and PaperVenue: hand-computed fills, fees, balances, positions and timing.

Every expected number below is worked out by hand in a comment next to it; BTCUSDT spot has
tick 0.01 and qty step 0.000001, fees are Bybit non-VIP (spot 0.1 %/0.1 %, linear 0.02 %/0.055 %).
"""

from __future__ import annotations

import asyncio
import json
import random
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.events import (
    AmendOrder,
    CancelAllOurs,
    CancelOrder,
    ConnectionChanged,
    FillEvent,
    OrderUpdate,
    PlaceOrder,
    Tick,
)
from core.events import VenueProblem
from core.model import (
    Balance,
    Candle,
    Fill,
    Leg,
    OrderRequest,
    OrderStatus,
    PerpTicker,
    Quote,
    Side,
    TimeInForce,
    Trade,
)
from core.venues.base import OrderRejected, TradingDisabled
from core.venues.paper import PaperVenue
from core.venues.bybit_codes import POST_ONLY_WOULD_TAKE
from core.venues.paper_exchange import OPTIMISTIC, PaperExchange
from tests.builders import examples

D = Decimal
BUY, SELL = Side.BUY, Side.SELL
PO, IOC, GTC = TimeInForce.POST_ONLY, TimeInForce.IOC, TimeInForce.GTC


def req(cid: str, side: Side, qty: str, price: str, tif: TimeInForce = PO, symbol: str = "BTCUSDT",
        leg: Leg = Leg.SPOT) -> OrderRequest:
    return OrderRequest(cid, symbol, side, D(qty), D(price), tif, leg)


def place(ex: PaperExchange, cid: str, side: Side, qty: str, price: str, tif: TimeInForce = PO,
          ts: int | None = None) -> tuple:
    return ex.submit(PlaceOrder(req(cid, side, qty, price, tif)), ts)


def bal(ex: PaperExchange, coin: str) -> tuple[Decimal, Decimal]:
    b = ex.balance(coin)
    return b.free, b.locked


def kinds(events) -> list[str]:
    return [type(e).__name__ for e in events]


def fills_of(events) -> list[Fill]:
    return [e.fill for e in events if isinstance(e, FillEvent)]


def make(usdt: str = "10000", btc: str = "0", **kw) -> PaperExchange:
    return PaperExchange(balances={"USDT": D(usdt), "BTC": D(btc)}, **kw)


# ---------------------------------------------------------------------- maker fills


def test_maker_buy_fill_pays_fee_in_base() -> None:
    ex = make("10000", "0")
    ex.on_quote(1000, 59999.99, 1.0, 60000.01, 1.0)
    ev = place(ex, "b1", BUY, "0.1", "59990.00", ts=1000)
    assert kinds(ev) == ["OrderUpdate", "BalanceUpdate"]
    assert ev[0].order.status is OrderStatus.NEW
    assert bal(ex, "USDT") == (D("4001.00"), D("5999.00"))  # 0.1 x 59990 locked

    ev = ex.on_trade(2000, 59989.5, 0.25, False)
    assert kinds(ev) == ["OrderUpdate", "FillEvent", "BalanceUpdate"]
    (fill,) = fills_of(ev)
    assert (fill.ts_ms, fill.side, fill.price, fill.qty) == (2000, BUY, D("59990.00"), D("0.1"))
    assert (fill.fee, fill.fee_coin, fill.is_maker) == (D("0.0001"), "BTC", True)  # 0.1 x 0.001
    assert (fill.client_id, fill.order_id, fill.leg) == ("b1", ev[0].order.order_id, Leg.SPOT)
    assert fill.base_delta == D("0.0999")
    order = ev[0].order
    assert (order.status, order.filled_qty, order.avg_fill_price) == (OrderStatus.FILLED, D("0.1"), D("59990"))
    assert bal(ex, "BTC") == (D("0.0999"), 0)
    assert bal(ex, "USDT") == (D("4001.00"), 0)
    assert ev[2].balances == (Balance("BTC", D("0.0999"), D(0)), Balance("USDT", D("4001"), D(0)))


def test_maker_sell_fill_pays_fee_in_quote() -> None:
    ex = make("10000", "1")
    ex.on_quote(1000, 60000.0, 1.0, 60000.01, 1.0)
    place(ex, "s1", SELL, "0.5", "60100.00", ts=1000)
    assert bal(ex, "BTC") == (D("0.5"), D("0.5"))
    ev = ex.on_trade(2000, 60100.01, 2.0, True)
    (fill,) = fills_of(ev)
    assert (fill.price, fill.qty, fill.fee_coin, fill.is_maker) == (D("60100.00"), D("0.5"), "USDT", True)
    assert fill.fee == D("30.05")  # 0.5 x 60100 = 30050; x 0.001
    assert bal(ex, "BTC") == (D("0.5"), 0)
    assert bal(ex, "USDT") == (D("40019.95"), 0)  # 10000 + 30050 - 30.05


def test_trade_at_our_price_does_not_fill_and_through_fills_up_to_print_size() -> None:
    ex = make("10000", "0")
    place(ex, "b1", BUY, "0.01", "59990.00", ts=1000)
    assert ex.on_trade(2000, 59990.0, 5.0, False) == ()  # at the price: behind the queue
    assert ex.on_trade(2001, 59990.5, 5.0, True) == ()
    ev = ex.on_trade(3000, 59989.99, 0.004, False)
    (fill,) = fills_of(ev)
    assert fill.qty == D("0.004") and fill.price == D("59990.00")
    assert ev[0].order.status is OrderStatus.PARTIALLY_FILLED
    assert bal(ex, "USDT") == (D("10000") - D("599.9"), D("359.94"))  # 0.006 x 59990 still locked
    ev = ex.on_trade(4000, 59980.0, 0.5, False)
    (fill,) = fills_of(ev)
    assert fill.qty == D("0.006")  # only the remainder, not the print's 0.5
    assert ev[0].order.status is OrderStatus.FILLED
    assert bal(ex, "BTC") == (D("0.00999"), 0)  # 0.01 - 0.01 x 0.001
    assert ex.on_trade(5000, 59000.0, 1.0, False) == ()  # nothing resting any more


def test_one_print_is_shared_by_price_then_time_priority() -> None:
    ex = make("10000", "0", fill_model=OPTIMISTIC)  # the old rule: a print at our price never fills
    place(ex, "a", BUY, "0.01", "59990.00", ts=1000)
    place(ex, "b", BUY, "0.01", "59991.00", ts=1001)
    place(ex, "c", BUY, "0.01", "59990.00", ts=1002)
    ev = ex.on_trade(2000, 59989.0, 0.015, False)
    assert [(f.client_id, f.qty) for f in fills_of(ev)] == [("b", D("0.01")), ("a", D("0.005"))]
    assert ex.order("c").filled_qty == 0
    # a print at 59990 goes through nobody at 59990, even when it is on the slow path
    ex.on_quote(2400, 59989.0, 1.0, 59991.0, 1.0)
    assert place(ex, "d", BUY, "0.01", "59990.50", ts=2500)[0].order.status is OrderStatus.NEW
    ev = ex.on_trade(3000, 59990.0, 1.0, False)
    assert [(f.client_id, f.qty) for f in fills_of(ev)] == [("d", D("0.01"))]


def test_trade_qty_below_qty_step_fills_nothing() -> None:
    ex = make("10000", "0")
    place(ex, "a", BUY, "0.01", "59990.00", ts=1000)
    assert ex.on_trade(2000, 59980.0, 0.0000009, False) == ()
    assert ex.order("a").filled_qty == 0


def test_crossing_quote_fills_the_whole_remainder_and_equal_quote_does_not() -> None:
    ex = make("10000", "1")
    place(ex, "b", BUY, "0.02", "59990.00", ts=1000)
    place(ex, "s", SELL, "0.03", "60010.00", ts=1000)
    assert ex.on_quote(2000, 59989.0, 1.0, 59990.0, 1.0) == ()  # ask at our bid: no fill
    ev = ex.on_quote(3000, 59988.0, 1.0, 59989.99, 0.001)
    assert [(f.client_id, f.qty, f.price, f.is_maker) for f in fills_of(ev)] == [
        ("b", D("0.02"), D("59990.00"), True)]
    ev = ex.on_quote(4000, 60010.01, 0.001, 60011.0, 1.0)
    assert [(f.client_id, f.qty, f.price) for f in fills_of(ev)] == [("s", D("0.03"), D("60010.00"))]


# ---------------------------------------------------------------------- takers


def test_ioc_buy_walks_bbo_levels_up_to_its_limit() -> None:
    ex = make("200000", "0")
    ex.on_quote(1000, 59999.0, 0.3, 60000.0, 0.5)
    ev = place(ex, "t", BUY, "2", "60000.02", IOC, ts=1000)
    assert kinds(ev) == ["OrderUpdate", "FillEvent", "FillEvent", "FillEvent", "BalanceUpdate"]
    # 0.5 at the ask, 0.5 one tick up, 0.5 two ticks up; the limit stops the rest (0.5 cancelled)
    assert [(f.price, f.qty, f.fee, f.is_maker) for f in fills_of(ev)] == [
        (D("60000.00"), D("0.5"), D("0.0005"), False),
        (D("60000.01"), D("0.5"), D("0.0005"), False),
        (D("60000.02"), D("0.5"), D("0.0005"), False),
    ]
    order = ev[0].order
    assert (order.status, order.filled_qty) == (OrderStatus.CANCELLED, D("1.5"))
    assert order.avg_fill_price == D("60000.01")  # (30000 + 30000.005 + 30000.01) / 1.5
    assert bal(ex, "USDT") == (D("109999.985"), 0)  # 200000 - 90000.015
    assert bal(ex, "BTC") == (D("1.4985"), 0)  # 1.5 - 3 x 0.0005


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf"), 0.0, -60000.0])
def test_a_print_or_quote_no_market_makes_is_ignored_and_a_taker_fills_at_the_good_touch(bad) -> None:
    """Bad data never becomes the paper exchange's price: the next taker fills where the last
    good print and quote left the touch (a NaN print used to become its last price, and a taker
    after it failed in ``Decimal``)."""
    ex = make("200000", "0")
    ex.on_trade(900, 60000.0, 0.1, True)
    ex.on_quote(1000, 59999.0, 1.0, 60000.0, 1.0)
    assert ex.on_trade(1100, bad, 0.1, True) == ()
    assert ex.on_quote(1200, bad, 1.0, bad, 1.0) == ()
    assert ex.on_quote(1300, 59999.0, 1.0, bad, 1.0) == ()
    ev = place(ex, "t", BUY, "0.5", "60000.00", IOC, ts=1400)
    assert [(f.price, f.qty) for f in fills_of(ev)] == [(D("60000.00"), D("0.5"))]


def test_without_quotes_a_bad_print_leaves_the_touch_at_the_last_good_one() -> None:
    ex = make("200000", "0")
    ex.on_trade(900, 60000.0, 0.1, True)
    for bad in (float("nan"), float("inf"), 0.0, -1.0):
        assert ex.on_trade(1000, bad, 0.1, True) == ()
    ev = place(ex, "t", BUY, "0.5", "61000.00", IOC, ts=1100)
    (fill,) = fills_of(ev)
    assert D("60000") <= fill.price < D("60100")  # the last good print and its half spread, not NaN / inf


def test_gtc_sell_crossing_takes_then_rests_the_remainder() -> None:
    ex = make("0", "1")
    ex.on_quote(1000, 59999.0, 0.3, 60000.0, 0.5)
    ev = place(ex, "g", SELL, "1", "59998.99", GTC, ts=1000)
    assert [(f.price, f.qty, f.fee) for f in fills_of(ev)] == [
        (D("59999.00"), D("0.3"), D("17.9997")),  # 17999.7 x 0.001
        (D("59998.99"), D("0.3"), D("17.999697")),  # 17999.697 x 0.001
    ]
    order = ev[0].order
    assert (order.status, order.filled_qty) == (OrderStatus.PARTIALLY_FILLED, D("0.6"))
    assert [o.client_id for o in ex.open_orders()] == ["g"]
    assert bal(ex, "BTC") == (0, D("0.4"))
    assert bal(ex, "USDT") == (D("35963.397603"), 0)  # 35999.397 - 35.999397
    # the rest is now a maker order: a print above it fills it at 59998.99
    (fill,) = fills_of(ex.on_trade(2000, 59999.5, 1.0, True))
    assert (fill.qty, fill.price, fill.is_maker) == (D("0.4"), D("59998.99"), True)


def test_ioc_that_cannot_fill_is_cancelled_without_touching_balances() -> None:
    ex = make("10000", "0")
    ex.on_quote(1000, 59999.0, 0.3, 60000.0, 0.5)
    ev = place(ex, "t", BUY, "0.01", "59999.99", IOC, ts=1000)
    assert kinds(ev) == ["OrderUpdate"]
    assert ev[0].order.status is OrderStatus.CANCELLED
    assert ev[0].order.reject_reason == "EC_NoImmediateQtyToFill"
    assert bal(ex, "USDT") == (D("10000"), 0)


def test_synthetic_touch_from_last_trade_without_quotes() -> None:
    """The optimistic model's touch: ``synthetic_spread_ticks`` from the last price (the honest
    one's is the half-spread: tests/core/venues/test_fill_model.py)."""
    ex = make("10000", "0", synthetic_spread_ticks=1, fill_model=OPTIMISTIC)
    ex.on_trade(1000, 60000.0, 0.1, True)
    assert ex.touch() == (D("59999.99"), D("60000.01"))
    ev = place(ex, "p1", BUY, "0.01", "60000.01", ts=1000)
    assert ev[0].order.status is OrderStatus.REJECTED
    assert place(ex, "p2", BUY, "0.01", "60000.00", ts=1000)[0].order.status is OrderStatus.NEW
    ev = place(ex, "t1", BUY, "0.05", "60100.00", IOC, ts=1000)
    # no depth data: the whole size fills at the synthetic ask
    assert [(f.price, f.qty) for f in fills_of(ev)] == [(D("60000.01"), D("0.05"))]
    wide = make("10000", "0", synthetic_spread_ticks=3, fill_model=OPTIMISTIC)
    wide.on_trade(1000, 60000.004, 0.1, True)  # off-grid print: rounded outwards first
    assert wide.touch() == (D("59999.97"), D("60000.04"))


def test_post_only_crossing_is_rejected_like_bybit() -> None:
    ex = make("10000", "1")
    ex.on_quote(1000, 60000.0, 1.0, 60000.01, 1.0)
    ev = place(ex, "x", BUY, "0.01", "60000.01", ts=1000)
    assert kinds(ev) == ["OrderUpdate"]  # no balance change, no fill
    assert (ev[0].order.status, ev[0].order.reject_reason) == (OrderStatus.REJECTED, POST_ONLY_WOULD_TAKE)
    assert ex.order("x").status is OrderStatus.REJECTED
    ev = place(ex, "y", SELL, "0.01", "60000.00", ts=1000)
    assert ev[0].order.status is OrderStatus.REJECTED
    assert ex.open_orders() == ()
    # the client id stays used, as on Bybit
    assert place(ex, "x", BUY, "0.01", "59000.00")[0].code == 170141


# ---------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("request_", "code", "words"),
    [
        (req("r", BUY, "0.01", "59990.005"), 170134, "tick"),
        (req("r", BUY, "0.0100005", "59990.00"), 170137, "step"),
        (req("r", BUY, "0.00001", "59990.00"), 170136, "min qty"),
        (req("r", BUY, "0.00005", "59990.00"), 170140, "min order value"),  # 2.9995 USDT < 5
        (req("r", BUY, "72", "1.00"), 170124, "max qty"),
        (req("r", BUY, "0.2", "60000.00"), 170131, "insufficient"),  # 12000 > 10000 USDT
        (req("r", SELL, "0.01", "60000.00"), 170131, "insufficient"),  # no BTC
        (req("r", BUY, "0.01", "60000.00", symbol="ETHUSDT"), 170121, "symbol"),
        (req("r", BUY, "0.01", "60000.00", leg=Leg.LINEAR), 170121, "spot only"),
        (req("r", BUY, "0.01", "0"), 170130, "positive"),
    ],
)
def test_place_rejections_carry_bybit_codes(request_: OrderRequest, code: int, words: str) -> None:
    ex = make("10000", "0")
    before = ex.to_state()
    ev = ex.submit(PlaceOrder(request_), 5000)
    assert len(ev) == 1 and isinstance(ev[0], VenueProblem)
    assert (ev[0].code, ev[0].client_id, ev[0].ts_ms) == (code, "r", 5000)
    assert words in ev[0].message.lower()
    assert ex.order("r") is None
    after = ex.to_state()
    after["market"]["ts_ms"] = before["market"]["ts_ms"]
    assert after == before  # nothing created, nothing locked


def test_duplicate_unknown_cancel_and_unknown_amend_codes() -> None:
    ex = make("10000", "0")
    place(ex, "a", BUY, "0.01", "59990.00", ts=1)
    assert place(ex, "a", BUY, "0.01", "59980.00", ts=2)[0].code == 170141
    assert ex.submit(CancelOrder("zz"), 3)[0].code == 170213
    assert ex.submit(AmendOrder("zz", D("59000")), 3)[0].code == 170213
    ex.submit(CancelOrder("a"), 4)
    assert ex.submit(CancelOrder("a"), 5)[0].code == 170213  # already cancelled


# ---------------------------------------------------------------------- amend / cancel


def test_amend_relocks_and_loses_priority() -> None:
    ex = make("10000", "0")
    ex.on_quote(1000, 60000.0, 1.0, 60000.01, 1.0)
    place(ex, "a", BUY, "0.01", "59990.00", ts=1000)
    place(ex, "b", BUY, "0.01", "59990.00", ts=1000)
    ev = ex.submit(AmendOrder("a", D("59990.00"), D("0.02")), 1500)  # larger: back of the queue
    assert kinds(ev) == ["OrderUpdate", "BalanceUpdate"]
    assert (ev[0].order.qty, ev[0].order.updated_ms) == (D("0.02"), 1500)
    assert bal(ex, "USDT") == (D("10000") - D("1799.7"), D("1799.7"))  # 0.03 x 59990
    ev = ex.on_trade(2000, 59989.0, 0.01, False)
    assert [f.client_id for f in fills_of(ev)] == ["b"]
    ex.submit(AmendOrder("a", D("59980.00")), 2100)  # new price, same qty
    assert bal(ex, "USDT") == (D("10000") - D("599.9") - D("1199.6"), D("1199.6"))  # 0.02 x 59980
    assert ex.submit(AmendOrder("a", D("59980.005")), 2100)[0].code == 170134
    assert ex.submit(AmendOrder("a", D("59980.00"), D("0.5")), 2100)[0].code == 170131


def test_amend_below_filled_qty_is_refused() -> None:
    ex = make("10000", "0")
    place(ex, "a", BUY, "0.01", "59990.00", ts=1000)
    ex.on_trade(2000, 59989.0, 0.006, False)
    ev = ex.submit(AmendOrder("a", D("59990.00"), D("0.005")), 2100)
    assert ev[0].code == 170130
    assert ex.order("a").qty == D("0.01")


def test_amend_rechecks_post_only_and_gtc_amend_can_take() -> None:
    ex = make("10000", "1")
    ex.on_quote(1000, 60000.0, 1.0, 60000.01, 1.0)
    place(ex, "p", BUY, "0.01", "59990.00", ts=1000)
    ev = ex.submit(AmendOrder("p", D("60000.01")), 1100)
    assert ev[0].order.status is OrderStatus.CANCELLED
    assert ev[0].order.reject_reason == POST_ONLY_WOULD_TAKE
    assert ev[0].order.price == D("59990.00")  # the amend itself was not applied
    assert bal(ex, "USDT") == (D("10000"), 0)
    place(ex, "g", SELL, "0.01", "60100.00", GTC, ts=1200)
    ev = ex.submit(AmendOrder("g", D("59999.00")), 1300)  # now crosses the 60000 bid: takes it
    assert [(f.price, f.qty, f.is_maker) for f in fills_of(ev)] == [(D("60000.00"), D("0.01"), False)]
    assert ev[0].order.status is OrderStatus.FILLED


def test_cancel_all_releases_everything_in_one_balance_update() -> None:
    ex = make("10000", "1")
    place(ex, "a", BUY, "0.01", "59990.00", ts=1)
    place(ex, "b", SELL, "0.02", "60100.00", ts=1)
    ev = ex.submit(CancelAllOurs(), 2)
    assert kinds(ev) == ["OrderUpdate", "OrderUpdate", "BalanceUpdate"]
    assert [e.order.status for e in ev[:2]] == [OrderStatus.CANCELLED] * 2
    assert bal(ex, "USDT") == (D("10000"), 0) and bal(ex, "BTC") == (D("1"), 0)
    assert ex.on_trade(3, 1.0, 100.0, False) == ()  # book is empty again


# ---------------------------------------------------------------------- latency


def test_latency_queues_commands_until_a_market_event_is_due() -> None:
    ex = make("10000", "0", latency_ms=100)
    ex.on_quote(900, 60000.0, 1.0, 60000.01, 1.0)
    assert place(ex, "a", BUY, "0.01", "59990.00", ts=1000) == ()
    pending = ex.order("a")
    assert pending is not None and pending.status is OrderStatus.NEW and pending.order_id
    assert [o.client_id for o in ex.open_orders()] == ["a"]
    assert bal(ex, "USDT") == (D("10000"), 0)  # not in the book yet
    assert ex.on_trade(1099, 59980.0, 1.0, False) == ()  # before t + latency: not live, no fill
    ev = ex.on_quote(1100, 60000.0, 1.0, 60000.01, 1.0)
    assert kinds(ev) == ["OrderUpdate", "BalanceUpdate"]
    assert (ev[0].ts_ms, ev[0].order.order_id, ev[0].order.created_ms) == (1100, pending.order_id, 1000)
    assert bal(ex, "USDT") == (D("9400.1"), D("599.9"))
    assert ex.submit(CancelOrder("a"), 1150) == ()
    assert ex.on_trade(1200, 60000.0, 1.0, False) == ()  # due at 1250
    ev = ex.advance_to(1250)  # a timer tick is enough
    assert ev[0].order.status is OrderStatus.CANCELLED and ev[0].ts_ms == 1250


def test_latency_order_filled_by_the_print_that_makes_it_live() -> None:
    ex = make("10000", "0", latency_ms=50)
    place(ex, "a", BUY, "0.01", "59990.00", ts=1000)
    ev = ex.on_trade(1050, 59980.0, 1.0, False)
    assert kinds(ev) == ["OrderUpdate", "BalanceUpdate", "OrderUpdate", "FillEvent", "BalanceUpdate"]
    assert ev[2].order.status is OrderStatus.FILLED


def test_latency_late_rejection_when_balance_is_gone_at_effect_time() -> None:
    ex = make("0", "1", latency_ms=10)
    assert place(ex, "s1", SELL, "1", "60100.00", ts=1000) == ()
    assert place(ex, "s2", SELL, "1", "60200.00", ts=1001) == ()  # gateway saw 1 BTC free
    ev = ex.advance_to(1011)
    assert [(e.order.client_id, e.order.status) for e in ev if isinstance(e, OrderUpdate)] == [
        ("s1", OrderStatus.NEW), ("s2", OrderStatus.REJECTED)]
    assert ex.order("s2").reject_reason.startswith("170131")
    assert bal(ex, "BTC") == (0, D("1"))


def test_latency_post_only_judged_against_the_touch_at_effect_time() -> None:
    ex = make("10000", "0", latency_ms=100)
    ex.on_quote(900, 60000.0, 1.0, 60000.01, 1.0)
    place(ex, "p", BUY, "0.01", "59999.00", ts=1000)
    ex.on_quote(1050, 59998.0, 1.0, 59998.99, 1.0)  # market dropped before we arrived
    ev = ex.on_quote(1100, 59998.0, 1.0, 59998.99, 1.0)
    assert ev[0].order.status is OrderStatus.REJECTED


# ---------------------------------------------------------------------- linear leg


class ScriptedGrid:
    """A grid stand-in: returns the fills scripted for a timestamp, records what it saw."""

    def __init__(self, script: dict[int, tuple[Fill, ...]]) -> None:
        self.script = script
        self.seen: list[tuple[int, float]] = []

    def on_price(self, ts_ms: int, price: float) -> tuple[Fill, ...]:
        self.seen.append((ts_ms, price))
        return self.script.get(ts_ms, ())


def lin(ts: int, side: Side, qty: str, price: str, maker: bool = True, exec_id: str = "") -> Fill:
    return Fill(ts_ms=ts, exec_id=exec_id, symbol="BTCUSDT", side=side, price=D(price), qty=D(qty),
                fee=D("999"), fee_coin="", is_maker=maker, leg=Leg.LINEAR, source="grid")


def test_grid_fill_from_attached_grid_moves_the_position() -> None:
    grid = ScriptedGrid({2000: (lin(2000, SELL, "0.01", "60000.0", exec_id="g1"),)})
    ex = make("10000", "0", grid=grid)
    assert ex.on_trade(1000, 60100.0, 0.1, True) == ()
    ev = ex.on_trade(2000, 60000.0, 0.1, False)
    assert kinds(ev) == ["FillEvent", "BalanceUpdate", "PositionUpdate"]
    assert grid.seen == [(1000, 60100.0), (2000, 60000.0)]
    fill = ev[0].fill
    assert (fill.exec_id, fill.source, fill.leg) == ("g1", "grid", Leg.LINEAR)
    assert (fill.fee, fill.fee_coin) == (D("0.12"), "USDT")  # 600 x 0.0002, charged by the exchange
    pos = ev[2].position
    assert (pos.size, pos.entry_price, pos.unrealised_pnl) == (D("-0.01"), D("60000"), 0)
    assert bal(ex, "USDT") == (D("9999.88"), 0)


def test_futures_entry_realised_unrealised_and_equity() -> None:
    ex = make("10000", "0")
    ex.on_trade(500, 60500.0, 0.1, True)
    ex.apply_grid_fill(lin(1000, SELL, "0.01", "60000"))  # fee 0.12
    ev = ex.apply_grid_fill(lin(2000, SELL, "0.01", "62000"))  # fee 0.124
    pos = ev[-1].position
    assert (pos.size, pos.entry_price) == (D("-0.02"), D("61000"))
    assert pos.mark_price == D("60500") and pos.unrealised_pnl == D("10")  # (60500-61000) x -0.02
    ex.apply_grid_fill(lin(3000, BUY, "0.015", "59000", maker=False))  # realise (61000-59000)x0.015
    assert ex.realised_pnl == D("30")
    assert ex.position().size == D("-0.005") and ex.position().entry_price == D("61000")
    ex.apply_grid_fill(lin(4000, BUY, "0.01", "58000", maker=False))  # close 0.005 (+15), flip long
    pos = ex.position()
    assert (pos.size, pos.entry_price) == (D("0.005"), D("58000"))
    assert ex.realised_pnl == D("45")
    # fees: 0.12 + 0.124 + 0.015x59000x0.00055 (0.48675) + 0.01x58000x0.00055 (0.319)
    assert ex.linear_fees == D("1.04975")
    assert bal(ex, "USDT") == (D("10043.95025"), 0)  # 10000 + 45 - 1.04975
    assert ex.on_event(PerpTicker(5000, 58100.0)) == ()  # a mark move is not a position change
    assert ex.position().unrealised_pnl == D("0.5")  # (58100 - 58000) x 0.005
    assert ex.equity_quote(D("58500")) == D("10046.45025")  # + (58500-58000) x 0.005


def test_equity_counts_spot_base_and_locked_funds() -> None:
    ex = make("10000", "0.5")
    place(ex, "a", BUY, "0.01", "59990.00", ts=1)
    assert ex.equity_quote(D("60000")) == D("40000")  # 0.5 x 60000 + 10000 (locked included)


def test_apply_grid_fill_refuses_spot_fills() -> None:
    with pytest.raises(ValueError):
        make().apply_grid_fill(replace_leg(lin(1, BUY, "0.01", "60000")))


def replace_leg(f: Fill) -> Fill:
    from dataclasses import replace

    return replace(f, leg=Leg.SPOT)


# ---------------------------------------------------------------------- persistence, determinism


def scripted_session(ex: PaperExchange) -> list:
    """A fixed mix of orders, quotes, prints and grid fills; returns every event produced."""
    out: list = []
    rng = random.Random(7)
    price = 60000.0
    for i in range(400):
        ts = 1000 + i * 100
        price = round(price + rng.choice((-1, 1)) * rng.randint(0, 300) / 100, 2)
        if i % 3 == 0:
            out += ex.on_quote(ts, round(price - 0.01, 2), rng.randint(1, 9) / 10, price, rng.randint(1, 9) / 10)
        else:
            out += ex.on_trade(ts, price, rng.randint(1, 500) / 10000, rng.random() < 0.5)
        if i % 25 == 5:
            side = BUY if (i // 25) % 2 == 0 else SELL
            px = D(str(price)) + (D("-1.5") if side is BUY else D("1.5"))
            out += ex.submit(PlaceOrder(req(f"o{i}", side, "0.02", str(px), GTC if i % 50 == 5 else PO)), ts)
        if i % 40 == 39:
            out += ex.submit(PlaceOrder(req(f"t{i}", BUY, "0.003", str(D(str(price)) + 5), IOC)), ts)
        if i % 60 == 59:
            out += ex.apply_grid_fill(lin(ts, SELL if i % 120 == 59 else BUY, "0.002", str(price)))
        if i % 90 == 89:
            out += ex.submit(CancelAllOurs(), ts)
    return out


def test_same_inputs_give_the_same_event_sequence() -> None:
    a = scripted_session(make("100000", "2", latency_ms=30))
    b = scripted_session(make("100000", "2", latency_ms=30))
    assert len(fills_of(a)) > 10  # the script really trades
    assert a == b


def test_save_load_round_trip_is_identical_and_resumes_identically(tmp_path) -> None:
    ex = make("100000", "2", latency_ms=30)
    scripted_session(ex)
    place(ex, "late", BUY, "0.01", "50000.00")  # leaves a queued command in the state
    path = tmp_path / "acct" / "paper.json"
    ex.save(path)
    assert [p.name for p in path.parent.iterdir()] == ["paper.json"]  # temp file replaced
    again = PaperExchange.load(path)
    assert again.to_state() == ex.to_state()
    assert json.loads(path.read_text()) == json.loads(json.dumps(ex.to_state()))
    tail = [Quote(99_000, 59000.0, 1.0, 59000.01, 1.0), Trade(99_100, 49000.0, 5.0, False)]
    assert [e for t in tail for e in ex.on_event(t)] == [e for t in tail for e in again.on_event(t)]
    assert again.to_state() == ex.to_state()


def test_hot_path_returns_the_shared_empty_tuple() -> None:
    ex = make("10000", "1")
    place(ex, "a", BUY, "0.01", "59990.00", ts=1)
    place(ex, "s", SELL, "0.01", "60100.00", ts=1)
    r1 = ex.on_trade(2, 60000.0, 1.0, True)
    r2 = ex.on_quote(3, 59999.0, 1.0, 60001.0, 1.0)
    assert r1 == () and r1 is r2


ops = st.lists(
    st.tuples(
        st.sampled_from(["place", "trade", "quote", "cancel", "amend"]),
        st.sampled_from([BUY, SELL]),
        st.integers(-300, 300),  # price offset in ticks from 60000
        st.integers(1, 4000),  # size in qty steps x 10
        st.sampled_from([PO, IOC, GTC]),
    ),
    max_size=60,
)


@settings(max_examples=examples(150), deadline=None)
@given(ops)
def test_balances_reconcile_with_fills_and_open_orders(script) -> None:
    start_usdt, start_btc = D("2000"), D("0.05")
    ex = make(str(start_usdt), str(start_btc))
    for n, (op, side, off, size, tif) in enumerate(script):
        ts = 1000 + n
        price = D("60000") + D("0.01") * off
        if op == "place":
            ex.submit(PlaceOrder(OrderRequest(f"c{n}", "BTCUSDT", side, D("0.00001") * size, price, tif)), ts)
        elif op == "trade":
            ex.on_trade(ts, float(price), size / 100000, side is BUY)
        elif op == "quote":
            ex.on_quote(ts, float(price), size / 100000, float(price + D("0.01") * (1 + size % 3)), size / 50000)
        elif op == "cancel" and ex.open_orders():
            ex.submit(CancelOrder(ex.open_orders()[size % len(ex.open_orders())].client_id), ts)
        elif op == "amend" and ex.open_orders():
            o = ex.open_orders()[size % len(ex.open_orders())]
            ex.submit(AmendOrder(o.client_id, price), ts)
        base, quote = ex.balance("BTC"), ex.balance("USDT")
        assert min(base.free, base.locked, quote.free, quote.locked) >= 0
        opens = ex.open_orders()
        assert quote.locked == sum((o.remaining * o.price for o in opens if o.side is BUY), D(0))
        assert base.locked == sum((o.remaining for o in opens if o.side is SELL), D(0))
        fills = ex.fills()
        assert base.total == start_btc + sum(
            (f.qty - f.fee if f.side is BUY else -f.qty for f in fills), D(0))
        assert quote.total == start_usdt + sum(
            (-f.price * f.qty if f.side is BUY else f.price * f.qty - f.fee for f in fills), D(0))
        assert all(f.is_maker or f.client_id and ex.order(f.client_id).tif is not PO for f in fills)


# ---------------------------------------------------------------------- the async venue


class FakeTime:
    """An injected clock + sleep: sleeping advances the clock and records the request."""

    def __init__(self) -> None:
        self.t = 100.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


async def test_pacing_speed_10_sleeps_a_tenth_of_market_time() -> None:
    clock = FakeTime()
    tape = [Trade(10_000, 60000.0, 0.1, True), Trade(11_000, 60001.0, 0.1, True),
            Quote(12_500, 60000.0, 1.0, 60000.5, 1.0), Trade(15_000, 60002.0, 0.1, False)]
    seen: list = []
    venue = PaperVenue(make(), market=tape, speed=10, tick_ms=1000, sleep=clock.sleep, now=clock.now)
    await venue.start(seen.append)
    await venue.join()
    assert sum(clock.sleeps) == pytest.approx(0.5)  # (15000 - 10000) ms / 1000 / 10
    assert clock.t == pytest.approx(100.5)
    assert isinstance(seen[0], ConnectionChanged) and seen[0].connected
    ticks = [e.ts_ms for e in seen if isinstance(e, Tick)]
    assert ticks == [11_000, 12_000, 13_000, 14_000, 15_000]
    market = [e for e in seen if isinstance(e, (Trade, Quote))]
    assert market == tape
    # a tick comes before the market event that shares its timestamp
    assert seen.index(Tick(11_000)) < seen.index(tape[1])
    await venue.stop()


async def test_full_speed_never_sleeps() -> None:
    clock = FakeTime()
    tape = [Trade(1000 * i, 60000.0, 0.1, True) for i in range(1, 6)]
    venue = PaperVenue(make(), market=tape, speed=0, tick_ms=None, sleep=clock.sleep, now=clock.now)
    seen: list = []
    await venue.start(seen.append)
    await venue.join()
    assert clock.sleeps == []
    assert [e for e in seen if isinstance(e, Trade)] == tape
    assert not any(isinstance(e, Tick) for e in seen)


async def test_market_event_first_then_what_it_caused_in_order() -> None:
    ex = make("10000", "0")
    place(ex, "a", BUY, "0.01", "59990.00", ts=1)

    async def tape():
        yield Quote(1000, 59995.0, 1.0, 59996.0, 1.0)
        yield Trade(2000, 59989.0, 1.0, False)

    seen: list = []
    venue = PaperVenue(ex, market=tape(), tick_ms=None)
    await venue.start(seen.append)
    await venue.join()
    assert kinds(seen) == ["ConnectionChanged", "Quote", "Trade", "OrderUpdate", "FillEvent", "BalanceUpdate"]


async def test_venue_orders_use_market_time_and_raise_with_codes() -> None:
    venue = PaperVenue(make("10000", "0"), tick_ms=None)
    seen: list = []
    await venue.start(seen.append)
    venue.feed(Quote(5000, 60000.0, 1.0, 60000.01, 1.0))
    order = await venue.place_order(req("a", BUY, "0.01", "59990.00"))
    assert (order.status, order.created_ms) == (OrderStatus.NEW, 5000)
    crossed = await venue.place_order(req("b", BUY, "0.01", "60000.01"))
    assert crossed.status is OrderStatus.REJECTED  # returned, not raised: Bybit says retCode 0
    n = len(seen)
    with pytest.raises(OrderRejected) as info:
        await venue.place_order(req("c", BUY, "0.01", "59990.001"))
    assert info.value.code == 170134 and "170134" in str(info.value)
    with pytest.raises(OrderRejected) as info:
        await venue.cancel_order("nope")
    assert info.value.code == 170213
    with pytest.raises(OrderRejected) as info:
        await venue.amend_order("a", D("59990.00"), D("0.0000001"))
    assert info.value.code == 170137
    assert len(seen) == n  # refusals are raised, not streamed
    await venue.amend_order("a", D("59991.00"))
    assert (await venue.order_by_client_id("a")).price == D("59991.00")
    assert await venue.cancel_all_ours() == 1
    assert kinds(seen[n:]) == ["OrderUpdate", "BalanceUpdate", "OrderUpdate", "BalanceUpdate"]


async def test_watch_venue_never_reaches_the_exchange() -> None:
    class Exploding(PaperExchange):
        def submit(self, command, ts_ms=None):  # pragma: no cover - must never run
            raise AssertionError("an order call reached the exchange")

    venue = PaperVenue(Exploding(), can_trade=False)
    for call in (venue.place_order(req("a", BUY, "0.01", "59990.00")), venue.cancel_order("a"),
                 venue.amend_order("a", D("1")), venue.cancel_all_ours()):
        with pytest.raises(TradingDisabled):
            await call
    assert await venue.balances() == (Balance("BTC", D(0)), Balance("USDT", D(10000)))


async def test_events_before_start_are_delivered_at_start() -> None:
    venue = PaperVenue(make("10000", "0"), tick_ms=None)
    await venue.place_order(req("a", BUY, "0.01", "59990.00"))
    seen: list = []
    await venue.start(seen.append)
    assert kinds(seen) == ["ConnectionChanged", "OrderUpdate", "BalanceUpdate"]


async def test_state_path_saved_after_fills_and_on_stop_and_reloaded(tmp_path) -> None:
    path = tmp_path / "paper.json"
    venue = PaperVenue(make("10000", "0"), state_path=path, tick_ms=None)
    await venue.start(lambda e: None)
    await venue.place_order(req("a", BUY, "0.01", "59990.00"))
    assert PaperExchange.load(path).order("a") is not None  # saved as soon as it was placed
    venue.feed(Trade(1000, 59980.0, 1.0, False))
    assert PaperExchange.load(path).balance("BTC").free == D("0.00999")  # saved on the fill
    await venue.place_order(req("b", BUY, "0.01", "59000.00"))
    await venue.stop()
    reborn = PaperVenue(state_path=path)  # a restart
    assert reborn.exchange.to_state() == venue.exchange.to_state()
    assert [o.client_id for o in await reborn.open_orders()] == ["b"]
    assert [f.client_id for f in await reborn.fills_since(0)] == ["a"]


async def test_position_and_fills_since_and_candles() -> None:
    candles = [Candle(i * 60_000, 60_000, 1, 2, 0.5, 1.5) for i in range(5)] + [Candle(0, 300_000, 1, 1, 1, 1)]
    venue = PaperVenue(make("10000", "0"), candles=candles, tick_ms=None)
    await venue.start(lambda e: None)
    assert await venue.candles(60_000, 3) == tuple(candles[2:5])
    assert await venue.candles(900_000, 3) == ()
    venue.exchange.apply_grid_fill(lin(10, BUY, "0.01", "60000"))
    assert (await venue.position()).size == D("0.01")
    assert await venue.fills_since(0) == ()  # grid fills are not our spot executions
    inst = await venue.instrument()
    assert inst.symbol == "BTCUSDT" and inst.tick_size == D("0.01")


async def test_stop_cancels_an_endless_feed() -> None:
    clock = FakeTime()

    def endless():
        i = 0
        while True:
            i += 1
            yield Trade(i * 100, 60000.0, 0.1, True)

    seen: list = []
    venue = PaperVenue(make(), market=endless(), speed=1.0, tick_ms=250, sleep=clock.sleep, now=clock.now)
    await venue.start(seen.append)
    for _ in range(20):
        await asyncio.sleep(0)
    await venue.stop()
    count = len(seen)
    for _ in range(5):
        await asyncio.sleep(0)
    assert len(seen) == count > 1
    assert any(isinstance(e, Tick) for e in seen)


async def test_paper_venue_satisfies_the_protocol_and_acks_delayed_orders() -> None:
    from core.venues.base import Venue

    venue = PaperVenue(make("10000", "0", latency_ms=200), tick_ms=100)
    assert isinstance(venue, Venue) and venue.name == "paper"
    seen: list = []
    await venue.start(seen.append)
    venue.feed(Quote(1000, 60000.0, 1.0, 60000.01, 1.0))
    ack = await venue.place_order(req("a", BUY, "0.01", "59990.00"))
    assert (ack.status, ack.created_ms, ack.order_id) == (OrderStatus.NEW, 1000, "P0000000001")
    assert kinds(seen) == ["ConnectionChanged", "Quote"]  # nothing is live yet
    venue.feed(Trade(1199, 59000.0, 1.0, False))  # before it is live: cannot fill it
    venue.feed(Quote(1200, 60000.0, 1.0, 60000.01, 1.0))
    assert kinds(seen[3:]) == ["Quote", "OrderUpdate", "BalanceUpdate"]
    assert (await venue.order_by_client_id("a")).filled_qty == 0


# ---------------------------------------------------------------------------- a disk that refuses the account file


class DiskFullExchange(PaperExchange):
    """Saving fails with ENOSPC while ``full``."""

    full = False

    def save(self, path):
        if type(self).full:
            raise OSError(28, "No space left on device")
        super().save(path)


T0 = 1_700_000_000_000


async def test_a_full_disk_neither_stops_the_paper_feed_nor_goes_unsaid_and_saving_resumes(tmp_path, caplog):
    """Issue 13 (11): a disk-full error killed the market feed task silently, and it did not
    recover when space returned. The grid fills on the way down each try to save the account."""
    from core.venues.grid import GridBot

    DiskFullExchange.full = True
    try:
        ex = DiskFullExchange(balances={"BTC": D("0.5"), "USDT": D("50000")})
        grid = GridBot(lower=59_000, upper=61_000, levels=21, qty_per_level="0.001")
        for f in grid.start(60_000.0, T0):
            ex.apply_grid_fill(f)
        ex.grid = grid
        trades = [Trade(T0 + i * 1_000, 60_000.0 - 50 * i, 0.01, Side.SELL) for i in range(1, 21)]
        path = tmp_path / "state.json"
        venue = PaperVenue(ex, market=trades, speed=0, tick_ms=None, state_path=path)
        got: list = []
        await venue.start(got.append)
        await asyncio.wait_for(venue.join(), 5)  # the feed ran to its end
        assert trades[-1] in got
        problems = [e for e in got if type(e) is VenueProblem]
        assert len(problems) == 1 and "NOT saved" in problems[0].message and "No space left" in problems[0].message
        assert sum(type(e) is FillEvent for e in got) >= 5 and not path.exists()
        DiskFullExchange.full = False
        venue.feed(Trade(T0 + 30_000, 59_250.0, 0.01, Side.BUY))  # back up: a grid sell fills, saved now
        assert venue.save_failing is None and path.exists()
        assert json.loads(path.read_text())["grid"]["fill_count"] == grid.fill_count
        assert any("saved again" in r.getMessage() for r in caplog.records)
    finally:
        DiskFullExchange.full = False
