"""Stalled streams (issue 13, found item 9): a socket that stays open and answers pings but
sends nothing went unnoticed (30 s on the spot stream, 20 s on the private one; a hedge went
out 15 s late). Now the spot stream is replaced after ``public_stall_s`` of silence (Bybit
re-sends ``orderbook.1`` at least every 3 s), and the private stream when it is silent *and* a
REST look shows a change it should have pushed; the gap is reconciled. The fake's
``mute_streams`` makes the stall: the connection stays open, pings are answered, nothing else
is sent. Timings are shortened; each stall must be healed within 5 s."""

from __future__ import annotations

import time
from decimal import Decimal

from core.events import ConnectionChanged, OrderUpdate, PositionUpdate
from core.model import Balance, OrderRequest, Position, Quote, Side, TimeInForce
from core.venues.bybit_stall import differences

D = Decimal


def lost(name: str):
    return lambda e: isinstance(e, ConnectionChanged) and not e.connected and name in e.detail and "stalled" in e.detail


def back(e) -> bool:
    return isinstance(e, ConnectionChanged) and e.connected


async def test_a_silent_spot_stream_is_replaced_and_data_flows_again(bybit_fake, make_venue, sink, until):
    bybit_fake.hub.book_repeat_s = 0.2  # Bybit: 3 s; the limit below keeps the same proportion
    v = make_venue(public_stall_s=1.0)
    await v.start(sink)
    mark = sink.mark()
    # the level-1 heartbeat alone keeps a quiet market's stream up: > 1.0 s of repeats, no stall
    await until(lambda: len(sink.of(Quote, mark)) >= 7, timeout=5, what="orderbook.1 repeats")
    assert v.stalls == 0 and not sink.of(ConnectionChanged, mark)
    opened = bybit_fake.ws_connections("spot", live=False)
    bybit_fake.mute_streams(["spot"])  # open, answering pings, silent
    t0 = time.monotonic()
    down = await sink.wait_for(lost("spot"), start=mark, timeout=5)
    await sink.wait_for(back, start=sink.events.index(down), timeout=5)
    assert time.monotonic() - t0 < 5.0
    assert v.stalls == 1 and bybit_fake.ws_connections("spot", live=False) == opened + 1
    mark = sink.mark()
    bybit_fake.set_book("50200.00", "1", "50200.10", "1")
    await sink.wait_for(lambda e: isinstance(e, Quote) and e.bid == 50200.0, start=mark)


async def test_a_silent_private_stream_that_missed_a_change_is_replaced_and_reconciled(bybit_fake, make_venue,
                                                                                      sink, until):
    v = make_venue(private_stall_s=0.3, private_look_s=0.2, private_confirm_s=0.2)
    await v.start(sink)
    assert (await v.position()).size == 0  # what the engine knows
    await v.balances()
    bybit_fake.mute_streams(["private"])
    mark = sink.mark()
    t0 = time.monotonic()
    bybit_fake.set_position("-0.05", entry_price="50000")  # the grid's futures leg moved: no push reaches us
    down = await sink.wait_for(lost("private"), start=mark, timeout=5)
    assert "position 0 -> -0.05" in down.detail
    await sink.wait_for(back, start=sink.events.index(down), timeout=5)
    assert time.monotonic() - t0 < 5.0
    # the gap is reconciled: the position the stream never pushed reaches the engine
    assert any(e.position.size == D("-0.05") for e in sink.of(PositionUpdate, mark))
    assert v.stalls == 1 and v.reconciles == 1
    # and the new socket streams: an order's push arrives
    mark = sink.mark()
    await v.place_order(OrderRequest(client_id="rbstall1", symbol="BTCUSDT", side=Side.BUY, qty=D("0.01"),
                                     price=D("40000"), tif=TimeInForce.GTC))
    bybit_fake.partial_fill("rbstall1", "0.004")
    await sink.wait_for(lambda e: isinstance(e, OrderUpdate) and e.order.filled_qty == D("0.004"), start=mark)


async def test_a_quiet_private_stream_is_left_alone(bybit_fake, make_venue, sink, until):
    v = make_venue(private_stall_s=0.2, private_look_s=0.1, private_confirm_s=0.1)
    await v.start(sink)
    mark = sink.mark()
    await until(lambda: v.stall_looks >= 4, timeout=5, what="several REST looks")
    assert v.stalls == 0 and not sink.of(ConnectionChanged, mark)
    # a change the stream does push is no stall either
    bybit_fake.set_position("0.02", entry_price="50000")
    await sink.wait_for(lambda e: isinstance(e, PositionUpdate) and e.position.size == D("0.02"), start=mark)
    looks = v.stall_looks
    await until(lambda: v.stall_looks >= looks + 3, timeout=5, what="more looks")
    assert v.stalls == 0 and not sink.of(ConnectionChanged, mark)


def test_differences_name_what_the_stream_missed():
    known = {"BTC": (D("0.1"), D(0)), "USDT": (D("10000"), D(0))}
    same = (Balance("BTC", D("0.1")), Balance("USDT", D("10000")))
    assert differences(known, same, D(0), Position("BTCUSDT", D(0))) == []
    moved = (Balance("BTC", D("0.1")), Balance("USDT", D("9600"), D("400")))
    assert differences(known, moved, D(0), Position("BTCUSDT", D("-0.05"))) == [
        "USDT free/locked 10000/0 -> 9600/400", "position 0 -> -0.05"]
    assert differences({}, moved, None, Position("BTCUSDT", D(1))) == []  # nothing known yet: no evidence
