"""Clock skew (issue 13, found item 10): a 10002 re-syncs at once, a refused create is retried
once after a lookup by client id (never twice, never a duplicate), and while a bad clock keeps
trading off the clock is checked every few seconds, so trading resumes within 5 s of the clock
being right (it used to wait for the 600 s periodic re-sync)."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import pytest

from core.model import OrderRequest, Side, TimeInForce
from core.venues.base import OrderStateUnknown, TradingDisabled, VenueError
from tests.builders import session_engine
from tests.fakes.bybit import DEFAULT_KEY, DEFAULT_SECRET, loopback_http

CREATE = "/v5/order/create"
LOOKUPS = ("/v5/order/realtime", "/v5/order/history")


def req(cid: str, price: str = "40000.00") -> OrderRequest:
    return OrderRequest(client_id=cid, symbol="BTCUSDT", side=Side.BUY, qty=Decimal("0.01"), price=Decimal(price),
                        tif=TimeInForce.GTC)


def links(fake) -> list[str]:
    return [o.order_link_id for o in fake.ledger.orders]


async def test_trading_resumes_within_5s_of_the_clock_being_right(bybit_fake, venue, until):
    await venue.place_order(req("rbck0"))
    bybit_fake.clock_skew_ms = 10_000  # the server jumps 10 s ahead: recv_window 5000 refuses us
    with pytest.raises(TradingDisabled, match="clock off by") as info:
        await venue.place_order(req("rbck1"))
    assert info.value.code == 10002
    assert venue.can_trade is False and abs(venue.clock_offset_ms - 10_000) < 500  # re-synced at once
    assert links(bybit_fake) == ["rbck0"]
    with pytest.raises(TradingDisabled):
        await venue.place_order(req("rbck2"))  # refused before any request while the clock is off
    bybit_fake.clock_skew_ms = 0  # the clock is right again
    fixed = time.monotonic()
    await until(lambda: venue.can_trade, timeout=5.0, what="trading allowed again")
    order = await venue.place_order(req("rbck3"))
    assert time.monotonic() - fixed < 5.0
    assert order.order_id and links(bybit_fake) == ["rbck0", "rbck3"]


async def test_a_create_refused_with_10002_is_looked_up_then_sent_once_more(bybit_fake, venue):
    before = bybit_fake.request_count(CREATE)
    bybit_fake.next_rest_error(CREATE, 10002)
    order = await venue.place_order(req("rbts1"))
    assert order.order_id and links(bybit_fake) == ["rbts1"]
    paths = [r.path for r in bybit_fake.requests if r.path == CREATE or r.path in LOOKUPS]
    first = paths.index(CREATE)
    assert paths.count(CREATE) == before + 2
    assert any(p in LOOKUPS for p in paths[first:paths.index(CREATE, first + 1)]), "no lookup before the retry"
    # refused twice: only one retry, then the refusal stands (the engine looks it up itself)
    bybit_fake.next_rest_error(CREATE, 10002, times=2)
    with pytest.raises(VenueError) as info:
        await venue.place_order(req("rbts2"))
    assert info.value.code == 10002 and not isinstance(info.value, OrderStateUnknown)
    assert bybit_fake.request_count(CREATE) == before + 4 and links(bybit_fake) == ["rbts1"]


async def test_a_10002_for_an_order_bybit_has_is_never_sent_twice(bybit_fake, venue):
    http = loopback_http(bybit_fake, DEFAULT_KEY, DEFAULT_SECRET, retry_codes={-1})
    http.place_order(category="spot", symbol="BTCUSDT", side="Buy", orderType="Limit", qty="0.01",
                     price="40000", orderLinkId="rbts3")  # it is already there (however it got there)
    before = bybit_fake.request_count(CREATE)
    bybit_fake.next_rest_error(CREATE, 10002)
    order = await venue.place_order(req("rbts3"))
    assert order.client_id == "rbts3" and order.order_id == bybit_fake.ledger.order(order_link_id="rbts3").order_id
    assert bybit_fake.request_count(CREATE) == before + 1  # found by client id: not resent
    assert links(bybit_fake) == ["rbts3"]


async def test_the_engine_trades_again_within_5s_of_the_clock_being_right(bybit_fake, make_config, until):
    """End to end: a decision made while the clock is off is "not sent"; once the clock is right
    an order goes out within 5 s (it used to take up to the 600 s periodic re-sync), with the
    default 10 s cooldown: an order the engine never sent starts no cooldown, and while the venue
    refuses order calls the gate holds every decision."""
    fake = bybit_fake
    fake.set_book("50000.00", "1", "50000.10", "1")
    fake.set_position("-0.1", entry_price="50000")  # 0.1 spot against a 0.1 short: balanced
    cfg = make_config(venue="testnet", mode="auto", rebalancer__risk__cooldown_s=10.0,
                      api__rest_url=fake.rest_url, api__ws_public_url=fake.ws_base_url,
                      api__ws_private_url=fake.ws_base_url,
                      _env={"BYBIT_API_KEY_Tst": DEFAULT_KEY, "BYBIT_API_SECRET_Tst": DEFAULT_SECRET},
                      _need_secrets=True)
    engine = session_engine(cfg, watchdog_interval_s=0.05)
    task = asyncio.create_task(engine.run())
    ours = lambda: [o for o in fake.ledger.orders if o.order_link_id.startswith("rb")]  # noqa: E731
    try:
        await asyncio.wait_for(engine.started.wait(), 10)
        # the server falls 10 s behind (as if our host clock had jumped ahead): our next create
        # is "in the future" (10002). Behind rather than ahead: the engine's clock is server time
        # and never runs backwards, so a server clock that jumped ahead and back would hold it
        # (and the desk's cooldown) still for 10 s, an artefact of moving the server's clock
        fake.clock_skew_ms = -10_000
        fake.set_balance("BTC", "0.12")  # the grid bought: gap +0.02 > hard -> sell
        fake.trade("50000.05", "0.01", "Buy")
        # the refusal shows either as an order "not sent" (the create met the bad clock) or as a
        # decision the gate held (a read met it first and the venue already refuses order calls)
        refused = lambda: any("not sent" in line.text for line in engine.reb.log) or bool(  # noqa: E731
            engine.reb.venue_refusal)
        await until(refused, timeout=15, what="a refused decision")
        assert not engine.venue.can_trade and not ours()
        fake.clock_skew_ms = 0
        fixed = asyncio.get_running_loop().time()
        await until(lambda: bool(ours()), timeout=5, what="an order once the clock is right")
        assert asyncio.get_running_loop().time() - fixed < 5.0
    finally:
        await engine.shutdown(cancel_orders=True)
        await asyncio.wait_for(task, 5)
