"""Bybit streams -> events on the loop thread; bad frames are counted, never fatal."""

from __future__ import annotations

import threading
from decimal import Decimal

from core.events import BalanceUpdate, FillEvent, OrderUpdate, PositionUpdate
from core.model import Balance, OrderRequest, OrderStatus, PerpTicker, Quote, Side, TimeInForce, Trade
from tests.fakes.bybit import DEFAULT_KEY, DEFAULT_SECRET, loopback_http

D = Decimal


def req(cid: str, side: Side = Side.BUY, qty: str = "0.01", price: str = "49000.00",
        tif: TimeInForce = TimeInForce.GTC) -> OrderRequest:
    return OrderRequest(client_id=cid, symbol="BTCUSDT", side=side, qty=D(qty), price=D(price), tif=tif)


async def test_every_stream_event_reaches_the_sink_on_the_loop_thread(bybit_fake, venue, sink):
    loop_thread = threading.get_ident()
    mark = sink.mark()

    bybit_fake.set_book("50000.00", "2", "50000.20", "3")
    q = await sink.wait_for(lambda e: isinstance(e, Quote) and e.ask == 50000.2, start=mark)
    assert (q.bid, q.bid_qty, q.ask, q.ask_qty) == (50000.0, 2.0, 50000.2, 3.0) and q.ts_ms > 0

    bybit_fake.trade("50000.10", "0.25", "Sell")
    t = await sink.wait_for(lambda e: isinstance(e, Trade), start=mark)
    assert (t.price, t.qty, t.taker_side) == (50000.1, 0.25, Side.SELL)

    bybit_fake.set_linear_ticker(mark_price="51234.5", funding_rate="0.0002", next_funding_time=1_800_000_000_000)
    pt = await sink.wait_for(lambda e: isinstance(e, PerpTicker) and e.mark_price == 51234.5, start=mark)
    assert (pt.funding_rate, pt.next_funding_ms) == (0.0002, 1_800_000_000_000)
    bybit_fake.set_linear_ticker(funding_rate="-0.0001")  # a delta without markPrice: merged state
    pt2 = await sink.wait_for(lambda e: isinstance(e, PerpTicker) and e.funding_rate == -0.0001, start=mark)
    assert pt2.mark_price == 51234.5

    order = await venue.place_order(req("rbs1"))
    assert order.status is OrderStatus.NEW
    ou = await sink.wait_for(lambda e: isinstance(e, OrderUpdate) and e.order.client_id == "rbs1", start=mark)
    assert ou.order.order_id == order.order_id and ou.order.status is OrderStatus.NEW
    bybit_fake.partial_fill("rbs1", "0.004")
    fe = await sink.wait_for(lambda e: isinstance(e, FillEvent) and e.fill.client_id == "rbs1", start=mark)
    f = fe.fill
    assert (f.side, f.price, f.qty, f.is_maker, f.fee_coin) == (Side.BUY, D("49000"), D("0.004"), True, "BTC")
    assert f.fee == D("0.004") * D("0.001") and f.source == "rebalancer" and f.order_id == order.order_id
    part = await sink.wait_for(lambda e: isinstance(e, OrderUpdate) and e.order.status is OrderStatus.PARTIALLY_FILLED,
                               start=mark)
    assert part.order.filled_qty == D("0.004")
    bal = await sink.wait_for(lambda e: isinstance(e, BalanceUpdate)
                              and any(b.coin == "BTC" and b.total == D("0.1039960") for b in e.balances), start=mark)
    usdt = next(b for b in bal.balances if b.coin == "USDT")
    assert usdt.locked == D("0.006") * D("49000")

    bybit_fake.set_position("-0.3", entry_price="50500", mark_price="51000", liq_price="70000")
    pu = await sink.wait_for(lambda e: isinstance(e, PositionUpdate) and e.position.size != 0, start=mark)
    assert pu.position.size == D("-0.3") and pu.position.liq_price == D("70000")
    assert pu.position.entry_price == D("50500")

    assert sink.threads == {loop_thread}  # pybit threads only hand over


async def test_others_orders_are_neither_listed_nor_cancelled(bybit_fake, venue, sink):
    http = loopback_http(bybit_fake, DEFAULT_KEY, DEFAULT_SECRET, retry_codes={-1})
    http.place_order(category="spot", symbol="BTCUSDT", side="Buy", orderType="Limit", qty="0.01",
                     price="48000", orderLinkId="grid-7")
    await venue.place_order(req("rbmine"))
    assert [o.client_id for o in await venue.open_orders()] == ["rbmine"]
    assert await venue.cancel_all_ours() == 1
    assert [o.order_link_id for o in bybit_fake.ledger.open_orders] == ["grid-7"]
    mark = sink.mark()
    bybit_fake.partial_fill("grid-7", "0.002")
    fe = await sink.wait_for(lambda e: isinstance(e, FillEvent), start=mark)
    assert fe.fill.client_id == "grid-7" and fe.fill.source == "external"  # a spot fill changes the wallet
    assert not [e for e in sink.of(OrderUpdate, mark) if e.order.client_id == "grid-7"]


async def test_malformed_and_unexpected_frames_are_counted_not_fatal(bybit_fake, venue, sink, until):
    before = venue.bad_messages
    sent = 0
    sent += bybit_fake.push_unexpected(None, "this is { not json")
    sent += bybit_fake.push_unexpected(None, b"\x00\x01binary")
    sent += bybit_fake.push_unexpected(None, "[1, 2, 3]")
    sent += bybit_fake.push_unexpected(None, {"hello": "no topic"})
    sent += bybit_fake.push_unexpected("kline.1.ETHUSDT", {"type": "snapshot", "data": []})
    assert sent == 5 * 3  # spot, linear, private
    await until(lambda: venue.bad_messages - before >= sent, what="bad frames counted")
    # every stream is alive
    mark = sink.mark()
    bybit_fake.set_book("50010.00", "1", "50010.10", "1")
    await sink.wait_for(lambda e: isinstance(e, Quote) and e.bid == 50010.0, start=mark)
    bybit_fake.set_linear_ticker(mark_price="50555")
    await sink.wait_for(lambda e: isinstance(e, PerpTicker) and e.mark_price == 50555.0, start=mark)
    await venue.place_order(req("rbalive"))
    await sink.wait_for(lambda e: isinstance(e, OrderUpdate) and e.order.client_id == "rbalive", start=mark)
    assert all(link.ws.opens == 1 for link in venue._streams.links.values())  # no reconnect was needed


async def test_an_exception_in_our_parsing_does_not_kill_the_stream(bybit_fake, venue, sink, until):
    before = venue.bad_messages
    bybit_fake.push_unexpected("orderbook.1.BTCUSDT", {"type": "snapshot", "ts": "later",
                                                       "data": {"b": [["x", "y"]], "a": [["1", "1"]]}},
                               channels=["spot"])
    bybit_fake.push_unexpected("publicTrade.BTCUSDT", {"type": "snapshot", "data": {"not": "a list"}},
                               channels=["spot"])
    bybit_fake.push_unexpected("tickers.BTCUSDT", {"type": "snapshot", "ts": 1, "data": [1]}, channels=["linear"])
    bybit_fake.push_unexpected("execution", {"data": "nope"}, channels=["private"])
    bybit_fake.push_unexpected("order", {"data": [
        {"category": "spot", "symbol": "BTCUSDT", "orderLinkId": "rbweird", "orderStatus": "Exploded"},
        {"category": "spot", "symbol": "BTCUSDT", "orderLinkId": "rbhalf", "side": "Buy"},
    ]}, channels=["private"])
    await until(lambda: venue.bad_messages - before >= 6, what="parse failures counted")
    mark = sink.mark()
    bybit_fake.trade("50000.05", "0.5", "Buy")
    await sink.wait_for(lambda e: isinstance(e, Trade) and e.price == 50000.05, start=mark)
    await venue.place_order(req("rbafter"))
    await sink.wait_for(lambda e: isinstance(e, OrderUpdate) and e.order.client_id == "rbafter", start=mark)
    assert not [e for e in sink.events if isinstance(e, OrderUpdate) and e.order.client_id in ("rbweird", "rbhalf")]
    assert all(link.ws.opens == 1 for link in venue._streams.links.values())


async def test_reply_comes_before_the_stream_for_the_same_order(bybit_fake, venue, sink):
    """An IOC that fills at once: the engine must see the reply (New) before the stream's Filled."""
    returned = {"done": False}
    seen_after_reply: list[bool] = []

    def watch(event):
        sink(event)
        if isinstance(event, OrderUpdate) and event.order.client_id == "rbioc":
            seen_after_reply.append(returned["done"])

    venue._sink = watch
    bybit_fake.set_book("50000.00", "5", "50000.10", "5")
    order = await venue.place_order(req("rbioc", price="50001.00", tif=TimeInForce.IOC))
    returned["done"] = True
    assert order.status is OrderStatus.NEW
    mark = 0
    await sink.wait_for(lambda e: isinstance(e, OrderUpdate) and e.order.client_id == "rbioc"
                        and e.order.status is OrderStatus.FILLED, start=mark)
    await sink.wait_for(lambda e: isinstance(e, BalanceUpdate), start=mark)
    assert seen_after_reply and all(seen_after_reply)


async def test_post_only_cross_is_returned_as_rejected_and_not_repeated(bybit_fake, venue, sink):
    bybit_fake.set_book("50000.00", "1", "50000.10", "1")
    mark = sink.mark()
    order = await venue.place_order(req("rbpo", price="50000.10", tif=TimeInForce.POST_ONLY))
    assert order.status is OrderStatus.REJECTED and order.reject_reason == "EC_PostOnlyWillTakeLiquidity"
    await venue.place_order(req("rbnext"))  # the stream's copy of the rejection has arrived by now
    await sink.wait_for(lambda e: isinstance(e, OrderUpdate) and e.order.client_id == "rbnext", start=mark)
    assert not [e for e in sink.of(OrderUpdate, mark) if e.order.client_id == "rbpo"]  # the engine had it
    assert [o.order_link_id for o in bybit_fake.ledger.open_orders] == ["rbnext"]


async def test_post_only_cross_is_delivered_as_rejected_by_the_stream(bybit_fake, make_venue, sink):
    v = make_venue(confirm_post_only=False)  # as on the real venue when the matcher is slower than the reply
    await v.start(sink)
    bybit_fake.set_book("50000.00", "1", "50000.10", "1")
    mark = sink.mark()
    order = await v.place_order(req("rbpo2", side=Side.SELL, price="50000.00", tif=TimeInForce.POST_ONLY))
    assert order.status is OrderStatus.NEW
    ev = await sink.wait_for(lambda e: isinstance(e, OrderUpdate) and e.order.client_id == "rbpo2", start=mark)
    assert ev.order.status is OrderStatus.REJECTED and ev.order.filled_qty == 0
    assert ev.order.reject_reason == "EC_PostOnlyWillTakeLiquidity"
    assert bybit_fake.ledger.open_orders == []


async def test_a_private_event_landing_between_a_release_and_its_flush_waits_behind_the_held_ones(venue, sink):
    """A stream batch handed over before the flush of a released hold runs must not overtake the
    older, held events: a stale wallet would be the engine's last word."""
    older = BalanceUpdate(1, (Balance("BTC", D("1")), Balance("USDT", D("100"))))
    newer = BalanceUpdate(2, (Balance("BTC", D("1")), Balance("USDT", D("90"))))
    mark = sink.mark()
    venue._hold += 1  # a REST reply in flight
    venue._deliver([older])
    venue._release_hold()  # the reply was taken; the flush is scheduled, not run yet
    venue._deliver([newer])  # a stream callback that was queued before the flush
    await sink.wait_for(lambda e: e is newer, start=mark)
    assert [e for e in sink.of(BalanceUpdate, mark) if e is older or e is newer] == [older, newer]


async def test_stale_order_updates_never_follow_newer_ones(bybit_fake, venue, sink):
    """A REST read (the engine resolving an order) that is ahead of the stream: the stream's
    older states are not delivered after it."""
    await venue.place_order(req("rbst"))
    await sink.wait_for(lambda e: isinstance(e, OrderUpdate) and e.order.client_id == "rbst")
    venue._hold += 1  # freeze the private stream as if a reply were in flight
    bybit_fake.partial_fill("rbst", "0.004")
    bybit_fake.partial_fill("rbst", "0.006")
    await venue.order_by_client_id("rbst")  # Filled, ahead of the held stream updates
    mark = sink.mark()
    venue._release_hold()
    await sink.wait_for(lambda e: isinstance(e, FillEvent) and e.fill.qty == D("0.006"), start=mark)
    assert [e for e in sink.of(OrderUpdate, mark) if e.order.client_id == "rbst"] == []
    assert [e.fill.qty for e in sink.of(FillEvent, mark)] == [D("0.004"), D("0.006")]
