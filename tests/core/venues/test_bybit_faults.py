"""Faults, one at a time: each ends with no duplicate order in the fake's ledger, no lost or
doubled fill, and the adapter streaming again."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from decimal import Decimal

import pytest

from core.events import ConnectionChanged, FillEvent, OrderUpdate, PlaceOrder
from core.model import OrderRequest, OrderStatus, Quote, Side, TimeInForce, Trade
from core.venues.base import OrderRejected, OrderStateUnknown, VenueError
from core.venues.bybit_rest import TransportError
from tests.fakes.bybit import FakeBybit

D = Decimal
WALLET = "/v5/account/wallet-balance"
CREATE = "/v5/order/create"


def req(cid: str, side: Side = Side.BUY, qty: str = "0.01", price: str = "49000.00",
        tif: TimeInForce = TimeInForce.GTC) -> OrderRequest:
    return OrderRequest(client_id=cid, symbol="BTCUSDT", side=side, qty=D(qty), price=D(price), tif=tif)


def creates(fake) -> int:
    return fake.request_count(CREATE)


def assert_no_duplicates(fake, sink) -> None:
    links = Counter(o.order_link_id for o in fake.ledger.orders)
    assert all(n == 1 for n in links.values()), links
    delivered = Counter(e.fill.exec_id for e in sink.of(FillEvent))
    assert all(n == 1 for n in delivered.values()), delivered
    assert set(delivered) == {f.exec_id for f in fake.ledger.fills}, "a fill was lost"


async def assert_streaming(fake, venue, sink, tag: str) -> None:
    mark = sink.mark()
    price = 50000.0 + len(tag)
    fake.set_book(f"{price:.2f}", "1", f"{price + 0.1:.2f}", "1")
    await sink.wait_for(lambda e: isinstance(e, Quote) and e.bid == price, start=mark)
    fake.trade("50000.05", "0.01", "Buy")
    await sink.wait_for(lambda e: isinstance(e, Trade) and e.price == 50000.05, start=mark)
    await venue.place_order(req(f"rb{tag}", price="40000.00"))
    await sink.wait_for(lambda e: isinstance(e, OrderUpdate) and e.order.client_id == f"rb{tag}", start=mark)


# ---------------------------------------------------------------- WebSocket faults


@pytest.mark.parametrize("abrupt", [True, False], ids=["abrupt", "clean-close"])
async def test_disconnect_reconnects_and_reconciles_missed_fill(bybit_fake, make_venue, sink, until, abrupt):
    from core.events import Reconciled

    venue = make_venue()
    await venue.start(sink)
    await venue.place_order(req("rbr1"))
    await sink.wait_for(lambda e: isinstance(e, OrderUpdate) and e.order.client_id == "rbr1")
    mark = sink.mark()
    assert bybit_fake.drop_connections(abrupt=abrupt) == 3
    bybit_fake.partial_fill("rbr1", "0.004")  # while the private stream is away
    await sink.wait_for(lambda e: isinstance(e, ConnectionChanged) and not e.connected, start=mark)
    up = await sink.wait_for(lambda e: isinstance(e, ConnectionChanged) and e.connected, start=mark)
    fill = await sink.wait_for(lambda e: isinstance(e, FillEvent) and e.fill.client_id == "rbr1", start=mark)
    assert fill.fill.qty == D("0.004")
    part = await sink.wait_for(lambda e: isinstance(e, OrderUpdate) and e.order.client_id == "rbr1"
                               and e.order.filled_qty == D("0.004"), start=mark)
    assert part.order.status is OrderStatus.PARTIALLY_FILLED
    assert venue.reconciles >= 1 and "reconnected" in up.detail
    # what the repair found goes to the rebalancer as an event (its recorder journals it)
    rec = await sink.wait_for(lambda e: isinstance(e, Reconciled), start=mark)
    assert rec.what == "reconnect" and "1 missed fill" in rec.detail
    await assert_streaming(bybit_fake, venue, sink, "after1")
    bybit_fake.partial_fill("rbr1", "0.006")  # the live stream again: delivered once
    await sink.wait_for(lambda e: isinstance(e, OrderUpdate) and e.order.client_id == "rbr1"
                        and e.order.status is OrderStatus.FILLED, start=mark)
    await sink.wait_for(lambda e: isinstance(e, FillEvent) and e.fill.qty == D("0.006"), start=mark)
    assert_no_duplicates(bybit_fake, sink)
    # one socket per channel in the end (a cleanly closed one may linger server-side a moment)
    await until(lambda: all(bybit_fake.ws_connections(c, live=True) == 1 for c in ("spot", "linear", "private")),
                what="one live socket per channel")


async def test_stalled_pongs_reconnect(bybit_fake, make_venue, sink, until):
    # websocket-client checks the pong only when its select (every ping_timeout) wakes: with a
    # timeout close to the ping interval a check can keep missing the window (other frames,
    # e.g. Bybit's orderbook.1 repeats, shift the phase); 0.1 s checks cannot miss it
    v = make_venue(ping_interval_s=0.3, ping_timeout_s=0.1)
    await v.start(sink)
    opened = bybit_fake.ws_connections("spot", live=False)
    mark = sink.mark()
    bybit_fake.stall_pongs(0.7)
    await until(lambda: bybit_fake.ws_connections("spot", live=False) > opened, timeout=5, what="a reconnect")
    await sink.wait_for(lambda e: isinstance(e, ConnectionChanged) and not e.connected, start=mark)
    await until(lambda: not bybit_fake.hub.stalled, timeout=5, what="the stall to end")
    await sink.wait_for(lambda e: isinstance(e, ConnectionChanged) and e.connected, start=mark, timeout=8)
    await assert_streaming(bybit_fake, v, sink, "pong")
    assert_no_duplicates(bybit_fake, sink)


@pytest.mark.parametrize("channel", ["spot", "private"])
async def test_watchdog_rebuilds_a_socket_pybit_gave_up_on(bybit_fake, venue, sink, until, channel):
    link = venue._streams.links[channel]
    dead = link.ws
    mark = sink.mark()
    # what pybit does after an exception on its thread or failed reconnects: exit(), no reconnect
    await asyncio.to_thread(dead.exit)
    assert dead.exited
    await sink.wait_for(lambda e: isinstance(e, ConnectionChanged) and not e.connected, start=mark)
    await sink.wait_for(lambda e: isinstance(e, ConnectionChanged) and e.connected, start=mark)
    assert link.ws is not dead and venue._streams.rebuilds == 1
    if channel == "private":
        assert venue.reconciles == 1
    await assert_streaming(bybit_fake, venue, sink, f"wd{channel}")
    assert_no_duplicates(bybit_fake, sink)


async def test_rebuild_backs_off_while_the_venue_is_unreachable(bybit_fake, venue, sink, monkeypatch):
    streams = venue._streams
    real_build = streams._build
    attempts: list[float] = []

    def unreachable_twice(spec, token):
        if spec.name == "spot" and len(attempts) < 3:
            attempts.append(time.monotonic())
            if len(attempts) < 3:
                raise ConnectionRefusedError("venue unreachable")
        return real_build(spec, token)

    monkeypatch.setattr(streams, "_build", unreachable_twice)
    mark = sink.mark()
    await asyncio.to_thread(streams.links["spot"].ws.exit)
    await sink.wait_for(lambda e: isinstance(e, ConnectionChanged) and e.connected, start=mark)
    assert len(attempts) == 3
    gaps = [b - a for a, b in zip(attempts, attempts[1:])]
    assert gaps[0] >= 0.1 and gaps[1] >= 0.2  # 0.1 s, then doubled
    problems = [e for e in sink.events[mark:] if type(e).__name__ == "VenueProblem"]
    assert len(problems) == 2 and all("reconnect failed" in e.message for e in problems)
    await assert_streaming(bybit_fake, venue, sink, "backoff")


# ---------------------------------------------------------------- REST faults


async def test_rate_limit_10006_waits_for_the_reset_then_succeeds(bybit_fake, venue, sink):
    before = bybit_fake.request_count(WALLET)
    bybit_fake.next_rest_error(WALLET, 10006, reset_after_ms=300)
    t0 = time.monotonic()
    bals = await venue.balances()
    assert time.monotonic() - t0 >= 0.25
    assert {b.coin for b in bals} >= {"BTC", "USDT"}
    assert bybit_fake.request_count(WALLET) == before + 2
    # a reset time already in the past (pybit itself would crash with a negative sleep)
    bybit_fake.next_rest_error(WALLET, 10006, headers={"X-Bapi-Limit-Reset-Timestamp": "1"})
    assert await venue.balances()
    # on a place the refusal means "not executed": waiting and sending again is safe
    bybit_fake.next_rest_error(CREATE, 10006, reset_after_ms=100)
    order = await venue.place_order(req("rbrl1"))
    assert order.order_id and creates(bybit_fake) == 2
    assert [o.order_link_id for o in bybit_fake.ledger.orders] == ["rbrl1"]
    await assert_streaming(bybit_fake, venue, sink, "rl")
    assert_no_duplicates(bybit_fake, sink)


async def test_10002_resyncs_the_clock_and_retries_a_read_once(bybit_fake, venue, sink):
    times = bybit_fake.request_count("/v5/market/time")
    wallet = bybit_fake.request_count(WALLET)
    bybit_fake.next_rest_error(WALLET, 10002)
    assert await venue.balances()
    assert bybit_fake.request_count("/v5/market/time") == times + 1
    assert bybit_fake.request_count(WALLET) == wallet + 2
    # a write refused twice is sent twice at most (one retry after a lookup by client id), then
    # fails clearly (the engine then looks the order up); test_bybit_clock covers the retry
    bybit_fake.next_rest_error(CREATE, 10002, times=2)
    with pytest.raises(VenueError) as info:
        await venue.place_order(req("rbts1"))
    assert info.value.code == 10002 and not isinstance(info.value, OrderStateUnknown)
    assert creates(bybit_fake) == 2 and bybit_fake.ledger.orders == []
    await assert_streaming(bybit_fake, venue, sink, "ts")
    assert_no_duplicates(bybit_fake, sink)


async def test_5xx_and_10016_on_reads_are_retried(bybit_fake, venue):
    wallet = bybit_fake.request_count(WALLET)
    bybit_fake.next_http_status(WALLET, 502)
    bybit_fake.next_rest_error(WALLET, 10016)
    assert await venue.balances()
    assert bybit_fake.request_count(WALLET) == wallet + 3
    bybit_fake.next_http_status(WALLET, 503, times=10)
    with pytest.raises(TransportError):
        await venue.balances()  # bounded: read_retries (3) + 1 attempts
    assert bybit_fake.request_count(WALLET) == wallet + 3 + 4
    bybit_fake.faults.clear()


async def test_5xx_on_a_place_is_state_unknown_and_never_resent(bybit_fake, venue, sink):
    bybit_fake.next_http_status(CREATE, 502)
    with pytest.raises(OrderStateUnknown):
        await venue.place_order(req("rb5xx"))
    assert creates(bybit_fake) == 1  # exactly one create, no blind re-send
    assert await venue.order_by_client_id("rb5xx") is None  # the gateway never passed it on
    assert bybit_fake.ledger.orders == []
    await assert_streaming(bybit_fake, venue, sink, "5xx")
    assert_no_duplicates(bybit_fake, sink)


async def test_lost_reply_after_accept_is_found_by_client_id(bybit_fake, venue, sink):
    bybit_fake.lose_next_reply(CREATE)
    with pytest.raises(OrderStateUnknown):
        await venue.place_order(req("rblost"))
    assert creates(bybit_fake) == 1
    found = await venue.order_by_client_id("rblost")
    assert found is not None and found.status is OrderStatus.NEW and found.order_id
    assert found.order_id == bybit_fake.ledger.order(order_link_id="rblost").order_id
    # the stream's New push is delivered only when it beats the read: after it, it repeats the
    # state the read already gave (the engine feeds that), and is rightly dropped
    assert [o.order_link_id for o in bybit_fake.ledger.orders] == ["rblost"]
    # history fallback: a closed order that realtime no longer lists
    await venue.cancel_order("rblost")
    assert (await venue.order_by_client_id("rblost")).status is OrderStatus.CANCELLED
    await assert_streaming(bybit_fake, venue, sink, "afterlost")
    assert_no_duplicates(bybit_fake, sink)


async def test_engine_resolves_a_lost_reply_into_one_working_order(bybit_fake, fake_session_config, until):
    from tests.builders import session_engine

    cfg = fake_session_config("auto")
    engine = session_engine(cfg, watchdog_interval_s=0.05)
    task = asyncio.create_task(engine.run())
    try:
        await asyncio.wait_for(engine.started.wait(), 10)
        bybit_fake.lose_next_reply(CREATE)
        engine._dispatch([PlaceOrder(req("rbeng1"))])
        await until(lambda: "rbeng1" in engine.reb.orders.working, what="the engine to resolve the order")
        assert engine.reb.orders.working["rbeng1"].status is OrderStatus.NEW
        assert creates(bybit_fake) == 1
        assert [o.order_link_id for o in bybit_fake.ledger.orders] == ["rbeng1"]
    finally:
        await engine.shutdown(cancel_orders=True)
        await asyncio.wait_for(task, 5)
    assert bybit_fake.ledger.open_orders == []  # shutdown cancelled ours


async def test_partial_fills_each_delivered_once(bybit_fake, venue, sink):
    await venue.place_order(req("rbpf", side=Side.SELL, qty="0.03", price="51000.00"))
    await sink.wait_for(lambda e: isinstance(e, OrderUpdate) and e.order.client_id == "rbpf")
    mark = sink.mark()
    for qty in ("0.01", "0.005", "0.015"):
        bybit_fake.partial_fill("rbpf", qty)
    final = await sink.wait_for(lambda e: isinstance(e, OrderUpdate) and e.order.client_id == "rbpf"
                                and e.order.status is OrderStatus.FILLED, start=mark)
    assert final.order.filled_qty == D("0.03") and final.order.avg_fill_price == D("51000")
    await sink.wait_for(lambda e: isinstance(e, FillEvent) and e.fill.qty == D("0.015"), start=mark)
    fills = [e.fill for e in sink.of(FillEvent, mark)]
    assert [f.qty for f in fills] == [D("0.01"), D("0.005"), D("0.015")]
    assert all(f.fee_coin == "USDT" and f.is_maker for f in fills)  # a sell pays in quote
    statuses = [e.order.status for e in sink.of(OrderUpdate, mark) if e.order.client_id == "rbpf"]
    assert statuses == [OrderStatus.PARTIALLY_FILLED, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED]
    assert [f.exec_id for f in await venue.fills_since(0)] == [f.exec_id for f in fills]
    assert_no_duplicates(bybit_fake, sink)


async def test_insufficient_balance_is_rejected_with_the_reason(bybit_fake, venue):
    with pytest.raises(OrderRejected) as info:
        await venue.place_order(req("rbbig", side=Side.BUY, qty="1.0", price="49000.00"))
    assert info.value.code == 170131 and "insufficient balance" in str(info.value)
    with pytest.raises(OrderRejected, match="order value below the minimum") as small:
        await venue.place_order(req("rbsmall", qty="0.0001", price="40000.00"))
    assert small.value.code == 170140
    with pytest.raises(OrderRejected, match="too many decimals"):
        await venue.place_order(req("rbdec", qty="0.0100001"))
    assert bybit_fake.ledger.orders == []


async def test_amend_and_cancel_of_a_closed_order(bybit_fake, venue, sink):
    await venue.place_order(req("rbam"))
    await venue.amend_order("rbam", D("49100.00"))
    o = await venue.order_by_client_id("rbam")
    assert o.price == D("49100.00") and o.qty == D("0.01")
    bybit_fake.fill_order("rbam")
    mark = sink.mark()
    await venue.cancel_order("rbam")  # already filled: quiet, no duplicate update
    with pytest.raises(OrderRejected) as info:
        await venue.amend_order("rbam", D("49200.00"))
    assert info.value.code == 170213
    await sink.wait_for(lambda e: isinstance(e, OrderUpdate) and e.order.client_id == "rbam"
                        and e.order.status is OrderStatus.FILLED)
    assert len([e for e in sink.of(OrderUpdate, mark) if e.order.status is OrderStatus.FILLED]) <= 1


async def test_rate_budget_keeps_a_burst_inside_bybit_limits(make_venue, sink):
    with FakeBybit(enforce_rate_limits=True, balances={"USDT": "100000", "BTC": "1"}) as fake:
        v = make_venue(rest_url=fake.rest_url, ws_public_url=fake.ws_base_url, ws_private_url=fake.ws_base_url)
        await v.start(sink)
        try:
            left = v.rate_budget_left()
            for i in range(22):  # the create limit is 20/s; the budget allows 18/s
                await v.place_order(req(f"rbburst{i}", price="40000.00"))
            assert v.rate_budget_left() < left
            assert len(fake.ledger.orders) == 22 and fake.request_count(CREATE) == 22  # none refused (10006)
            assert v.rest.budget.waited_s > 0
        finally:
            await v.stop()


async def test_after_a_403_nothing_is_sent_until_the_ban_is_over(bybit_fake, venue):
    """Bybit bans the IP for at least 10 minutes after a 403, and each request inside the ban
    lengthens it: the adapter refuses every call at once, reads and orders alike, then
    sends again once the 10 minutes are over."""
    from core.venues import bybit_codes as codes
    from core.venues.bybit_rest import IP_BAN_S

    rest = venue.rest
    wallet, made = bybit_fake.request_count(WALLET), creates(bybit_fake)
    bybit_fake.next_http_status(WALLET, 403)
    with pytest.raises(VenueError, match="no request is sent for 10 minutes") as err:
        await venue.balances()
    assert err.value.code == codes.HTTP_FORBIDDEN
    with pytest.raises(VenueError, match="not sent: Bybit refused this IP"):
        await venue.balances()
    with pytest.raises(VenueError, match="not sent"):
        await venue.place_order(req("rb403", price="40000.00"))
    assert bybit_fake.request_count(WALLET) == wallet + 1 and creates(bybit_fake) == made
    rest.refused_until = rest.budget.now() - 1.0  # the ban's 10 minutes are over
    assert await venue.balances()
    assert bybit_fake.request_count(WALLET) == wallet + 2 and rest.refused_until is None
    assert IP_BAN_S >= 600
