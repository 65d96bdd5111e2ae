"""The venue contract (tests/core/venues/contract.py) run against the Bybit adapter + the loopback fake."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from contract import CONTRACT_CHECKS, TOUCH_SIZE, EventLog
from core.model import Quote, Side, Trade

D = Decimal


class BybitHarness:
    symbol = "BTCUSDT"
    base = "BTC"
    quote = "USDT"
    client_prefix = "rb"
    spot_maker_fee = D("0.001")  # the fake's FEE_RATES (Bybit's non-VIP spot rates)
    spot_taker_fee = D("0.001")

    def __init__(self, fake, make_venue) -> None:
        self.fake = fake
        self.make_venue = make_venue
        self.initial_balances = {"BTC": D("0.1"), "USDT": D("10000")}  # FakeBybit's defaults
        self.log = EventLog()
        self.venue = None

    async def open(self, *, can_trade: bool = True):
        self.venue = self.make_venue(can_trade=can_trade, client_prefix=self.client_prefix)
        await self.venue.start(self.log)
        return self.venue

    async def set_touch(self, bid: Decimal, ask: Decimal, *, size: Decimal = TOUCH_SIZE) -> None:
        start = self.log.mark()
        await asyncio.to_thread(self.fake.set_book, str(bid), str(size), str(ask), str(size))
        await self.log.wait_for(lambda e: isinstance(e, Quote) and e.bid == float(bid) and e.ask == float(ask),
                                start=start)

    async def trade(self, price: Decimal, qty: Decimal, taker_side: Side) -> None:
        start = self.log.mark()
        await asyncio.to_thread(self.fake.trade, str(price), str(qty), taker_side.value)
        await self.log.wait_for(lambda e: isinstance(e, Trade) and e.price == float(price) and e.qty == float(qty),
                                start=start)

    def order_calls(self) -> int:
        return self.fake.order_request_count()

    async def close(self) -> None:
        if self.venue is not None:
            await self.venue.stop()


@pytest.fixture
async def harness(bybit_fake, make_venue):
    h = BybitHarness(bybit_fake, make_venue)
    yield h
    await h.close()


@pytest.mark.parametrize("check", CONTRACT_CHECKS, ids=lambda c: c.__name__.removeprefix("check_"))
async def test_bybit_venue_contract(harness: BybitHarness, check) -> None:
    await check(harness)
