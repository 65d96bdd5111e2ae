"""The venue contract (tests/core/venues/contract.py) run against the paper venue."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.model import Quote, Side, Trade
from core.venues.paper import PaperVenue
from core.venues.paper_exchange import FeeSchedule, PaperExchange

from contract import CONTRACT_CHECKS, TOUCH_SIZE, EventLog

D = Decimal


class CountingExchange(PaperExchange):
    """A paper exchange that counts the commands reaching it (for the watch-mode check)."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.submits = 0

    def submit(self, command, ts_ms=None):
        self.submits += 1
        return super().submit(command, ts_ms)


class PaperHarness:
    symbol = "BTCUSDT"
    base = "BTC"
    quote = "USDT"
    client_prefix = "rb-"
    spot_maker_fee = FeeSchedule().spot_maker
    spot_taker_fee = FeeSchedule().spot_taker

    def __init__(self) -> None:
        self.initial_balances = {"BTC": D("1"), "USDT": D("100000")}
        self.log = EventLog()
        self.exchange: CountingExchange | None = None
        self.venue: PaperVenue | None = None
        self._ts = 1_700_000_000_000

    async def open(self, *, can_trade: bool = True) -> PaperVenue:
        self.exchange = CountingExchange(balances=dict(self.initial_balances))
        self.venue = PaperVenue(self.exchange, can_trade=can_trade)  # no market source: fed by hand
        await self.venue.start(self.log)
        return self.venue

    def _next_ts(self) -> int:
        self._ts += 1000
        return self._ts

    async def set_touch(self, bid: Decimal, ask: Decimal, *, size: Decimal = TOUCH_SIZE) -> None:
        assert self.venue is not None
        self.venue.feed(Quote(self._next_ts(), float(bid), float(size), float(ask), float(size)))

    async def trade(self, price: Decimal, qty: Decimal, taker_side: Side) -> None:
        assert self.venue is not None
        self.venue.feed(Trade(self._next_ts(), float(price), float(qty), taker_side))

    def order_calls(self) -> int:
        return self.exchange.submits if self.exchange is not None else 0

    async def close(self) -> None:
        if self.venue is not None:
            await self.venue.stop()


@pytest.fixture
async def harness():
    h = PaperHarness()
    yield h
    await h.close()


@pytest.mark.parametrize("check", CONTRACT_CHECKS, ids=lambda c: c.__name__.removeprefix("check_"))
async def test_paper_venue_contract(harness: PaperHarness, check) -> None:
    await check(harness)
