"""Bybit adapter start-up: rules, fees, account reads, clock check, keys, endpoints, engine assembly."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from core.events import ConnectionChanged, FillEvent, PositionUpdate, VenueProblem
from core.model import Leg, OrderRequest, Quote, Side, TimeInForce
from core.venues.base import AuthError, TradingDisabled
from core.venues.bybit import BybitVenue, channel_specs
from tests.builders import bybit_venue, session_engine
from tests.fakes.bybit import DEFAULT_KEY, DEFAULT_SECRET, READONLY_KEY, READONLY_SECRET

D = Decimal
MIN = 60_000


def req(cid: str, side: Side = Side.BUY, qty: str = "0.01", price: str = "49000.00",
        tif: TimeInForce = TimeInForce.POST_ONLY) -> OrderRequest:
    return OrderRequest(client_id=cid, symbol="BTCUSDT", side=side, qty=D(qty), price=D(price), tif=tif)


async def test_startup_reads_rules_fees_account(bybit_fake, venue, sink):
    inst = await venue.instrument()
    assert (inst.symbol, inst.base, inst.quote, inst.leg) == ("BTCUSDT", "BTC", "USDT", Leg.SPOT)
    assert (inst.tick_size, inst.qty_step, inst.min_qty, inst.min_notional) == (D("0.01"), D("0.000001"),
                                                                                D("0.000048"), D("5"))
    assert inst.max_qty == D("83")  # maxLimitOrderQty
    lin = venue.linear_instrument
    assert lin is not None and lin.leg is Leg.LINEAR
    assert (lin.tick_size, lin.qty_step, lin.min_qty, lin.min_notional) == (D("0.10"), D("0.001"), D("0.001"), D("5"))
    assert (venue.maker_fee_rate, venue.taker_fee_rate) == (D("0.001"), D("0.001"))
    assert venue.can_trade and not venue.read_only
    assert isinstance(venue.rate_budget_left(), int) and venue.rate_budget_left() > 10
    assert any(isinstance(e, ConnectionChanged) and e.connected for e in sink.events)

    bals = {b.coin: b for b in await venue.balances()}
    assert (bals["BTC"].free, bals["BTC"].locked) == (D("0.1"), 0)
    assert (bals["USDT"].free, bals["USDT"].locked) == (D("10000"), 0)

    assert (await venue.position()).size == 0
    bybit_fake.set_position("-0.25", entry_price="50100", mark_price="50010", liq_price="71000", leverage="2")
    pos = await venue.position()
    assert pos.size == D("-0.25")  # Sell side -> negative
    assert (pos.entry_price, pos.mark_price, pos.liq_price, pos.leverage) == (D("50100"), D("50010"), D("71000"),
                                                                              D("2"))
    assert pos.unrealised_pnl == (D("50010") - D("50100")) * D("-0.25")
    bybit_fake.set_position("0.5", entry_price="50000")
    assert (await venue.position()).size == D("0.5")


async def test_candles_closed_only_oldest_first(bybit_fake, venue):
    now = bybit_fake.now_ms()
    this_minute = now - now % MIN
    rows = [(this_minute - k * MIN, 100 + k, 110 + k, 90 + k, 105 + k, 1) for k in range(1, 6)]
    bybit_fake.add_candles(rows)
    bybit_fake.trade("50001", "0.1", "Buy")  # opens the current minute's candle
    candles = await venue.candles(MIN, 3)
    assert [c.start_ms for c in candles] == [this_minute - 3 * MIN, this_minute - 2 * MIN, this_minute - MIN]
    assert candles[-1].close == 106.0 and candles[-1].interval_ms == MIN
    assert all(c.start_ms + MIN <= bybit_fake.now_ms() for c in candles)  # the open one is left out
    assert len(await venue.candles(MIN, 100)) == 5
    assert await venue.candles(5 * MIN, 10)  # aggregated by the venue
    with pytest.raises(Exception, match="kline"):
        await venue.candles(15_000, 10)  # Bybit has no 15 s candles


async def test_clock_skew_refuses_to_trade(bybit_fake, make_venue, sink):
    bybit_fake.clock_skew_ms = 10_000  # recv_window 5000: limit is 2500
    v = make_venue()
    await v.start(sink)
    assert v.can_trade is False
    assert abs(v.clock_offset_ms - 10_000) < 500
    err = next(e for e in sink.events if isinstance(e, VenueProblem))
    assert "clock off by" in err.message and "ms" in err.message
    v.can_trade = True  # the engine switching to auto does not override the clock refusal
    assert v.can_trade is False
    with pytest.raises(TradingDisabled, match="clock off by"):
        await v.place_order(req("rbskew1"))
    assert bybit_fake.order_request_count() == 0
    # watching still works: signed reads (the offset corrects the signature time) and streams
    assert {b.coin for b in await v.balances()} >= {"BTC", "USDT"}
    mark = sink.mark()
    bybit_fake.set_book("50100.00", "1", "50100.10", "1")
    await sink.wait_for(lambda e: isinstance(e, Quote) and e.bid == 50100.0, start=mark)


async def test_small_skew_is_corrected_and_trading_allowed(bybit_fake, make_venue, sink):
    bybit_fake.clock_skew_ms = -2_000  # server behind: an uncorrected timestamp would be "in the future"
    v = make_venue()
    await v.start(sink)
    assert v.can_trade
    order = await v.place_order(req("rbskew2"))
    assert order.order_id and bybit_fake.ledger.order(order_link_id="rbskew2") is not None


async def test_bad_secret_is_an_auth_error_without_the_secret(bybit_fake, make_venue, sink):
    secret = "a-very-wrong-secret-0123"
    v = make_venue(api_secret=secret)
    with pytest.raises(AuthError) as info:
        await v.start(sink)
    text = str(info.value)
    assert info.value.code == 10004 and "secret" in text.lower()
    assert secret not in text and DEFAULT_KEY not in text
    fatal = [e for e in sink.events if isinstance(e, VenueProblem) and e.fatal]
    assert fatal and secret not in fatal[0].message and DEFAULT_KEY not in fatal[0].message
    assert secret not in repr(v)


async def test_unknown_key_is_an_auth_error(bybit_fake, make_venue, sink):
    v = make_venue(api_key="nobody-key", api_secret="nobody-secret")
    with pytest.raises(AuthError, match="10003") as info:
        await v.start(sink)
    assert "nobody" not in str(info.value)


async def test_read_only_key_watches_but_never_trades(bybit_fake, make_venue, sink):
    v = make_venue(api_key=READONLY_KEY, api_secret=READONLY_SECRET)
    await v.start(sink)
    # watching works: balances, streams (public and private)
    assert {b.coin for b in await v.balances()} >= {"BTC", "USDT"}
    mark = sink.mark()
    bybit_fake.set_book("50200.00", "1", "50200.10", "1")
    await sink.wait_for(lambda e: isinstance(e, Quote) and e.bid == 50200.0, start=mark)
    bybit_fake.set_position("-0.1", entry_price="50000")
    await sink.wait_for(lambda e: isinstance(e, PositionUpdate) and e.position.size == D("-0.1"), start=mark)
    # the fake has no API-key info endpoint: the first order call finds out (10005)
    with pytest.raises(TradingDisabled, match="no trade permission"):
        await v.place_order(req("rbro1"))
    assert v.read_only and v.can_trade is False
    assert any(isinstance(e, VenueProblem) and "read-only" in e.message for e in sink.events)
    calls = bybit_fake.order_request_count()
    assert calls == 1
    for call in (lambda: v.place_order(req("rbro2")), lambda: v.cancel_order("rbro1"),
                 lambda: v.amend_order("rbro1", D("49001")), v.cancel_all_ours):
        with pytest.raises(TradingDisabled):
            await call()
    assert bybit_fake.order_request_count() == calls  # nothing more reached the venue
    assert bybit_fake.ledger.orders == []


def test_endpoints_per_venue():
    def endpoint(venue: str, **kw) -> str:
        return bybit_venue(symbol="BTCUSDT", venue=venue, api_key="k", api_secret="s", **kw).rest.http.endpoint

    assert endpoint("mainnet") == "https://api.bybit.com"
    assert endpoint("testnet") == "https://api-testnet.bybit.com"
    assert endpoint("demo") == "https://api-demo.bybit.com"
    assert endpoint("mainnet", domain="bytick") == "https://api.bytick.com"
    assert endpoint("mainnet", tld="nl") == "https://api.bybit.nl"
    assert endpoint("testnet", rest_url="http://127.0.0.1:9000/") == "http://127.0.0.1:9000"
    assert endpoint("testnet", rest_url="http://127.0.0.1:9000/v5/market/time") == "http://127.0.0.1:9000"
    with pytest.raises(ValueError):
        bybit_venue(symbol="BTCUSDT", venue="paper", api_key="k", api_secret="s")

    def flags(venue: str) -> dict:
        return {s.name: (s.testnet, s.demo, s.base_url) for s in channel_specs(venue, True, None, None)}

    assert flags("mainnet") == {"spot": (False, False, None), "linear": (False, False, None),
                                "private": (False, False, None)}
    assert flags("testnet") == {"spot": (True, False, None), "linear": (True, False, None),
                                "private": (True, False, None)}
    # demo: public data from mainnet, private stream from stream-demo
    assert flags("demo") == {"spot": (False, False, None), "linear": (False, False, None),
                             "private": (False, True, None)}
    specs = channel_specs("testnet", False, "ws://127.0.0.1:1", "ws://127.0.0.1:2")
    assert [(s.name, s.base_url) for s in specs] == [("spot", "ws://127.0.0.1:1"), ("private", "ws://127.0.0.1:2")]


async def test_recovery_backfills_what_filled_while_down_once(bybit_fake, make_venue, sink, new_sink):
    """The Bybit venue under ``core.recovery``: the fill the journal lacks is fed through the
    rebalancer and journaled by its recorder; a second restart finds nothing to add."""
    from core.journal import Journal
    from core.journal.recorder import JournalRecorder
    from core.model import BTCUSDT_SPOT, Mode
    from core.rebalancer import Rebalancer
    from core.recovery import recover
    from tests.core.helpers_engine import rcfg

    first = make_venue()
    await first.start(sink)
    bybit_fake.set_book("50000.00", "5", "50000.10", "5")
    for cid in ("rbj1", "rbj2"):
        await first.place_order(req(cid, price="50001.00", tif=TimeInForce.IOC))
    fills = await first.fills_since(0)
    assert [f.client_id for f in fills] == ["rbj1", "rbj2"]
    await first.stop()

    journal = Journal()
    journal.record_fill(fills[0])  # the program saw only the first fill before it stopped
    for restart in (1, 2):
        venue = make_venue()
        streamed = new_sink()
        await venue.start(streamed)
        assert streamed.of(FillEvent) == []  # the venue back-fills nothing by itself
        reb = Rebalancer(rcfg(), BTCUSDT_SPOT, mode=Mode.WATCH, recorder=JournalRecorder(journal))
        fed: list[object] = []

        def feed(ev, reb=reb, fed=fed):
            fed.append(ev)
            reb.on_event(ev)

        got = await recover(reb, venue, journal, feed, now_ms=bybit_fake.now_ms)
        await venue.stop()
        missed = [ev.fill.exec_id for ev in fed if isinstance(ev, FillEvent)]
        if restart == 1:
            assert missed == list(got.backfilled) == [fills[1].exec_id]
            assert reb.stats.fills == 1
        else:
            assert missed == [] and got.backfilled == () and reb.stats.fills == 0
        assert [f.exec_id for f in journal.fills()] == [f.exec_id for f in fills]
    assert [r["what"] for r in journal.reconciles()] == ["backfill_fills"]


async def test_a_bybit_session_runs_against_the_fake(bybit_fake, fake_session_config, monkeypatch):
    cfg = fake_session_config("watch")
    engine = session_engine(cfg, watchdog_interval_s=0.05)
    venue = engine.venue
    assert isinstance(venue, BybitVenue) and venue.name == "testnet" and venue.can_trade is False  # watch
    assert DEFAULT_SECRET not in repr(venue)
    task = asyncio.create_task(engine.run())
    try:
        await asyncio.wait_for(engine.started.wait(), 10)
        reb = engine.reb
        assert reb.instrument.tick_size == D("0.01") and reb.instrument.min_qty == D("0.000048")
        assert reb.maker_fee_rate == 0.001
        assert reb.book.balances_ok and reb.connected
        assert reb.book.spot_total == pytest.approx(0.1)
        with pytest.raises(TradingDisabled):
            await venue.place_order(req("rbwatch1"))
        assert bybit_fake.order_request_count() == 0
    finally:
        await engine.shutdown(cancel_orders=True)
        await asyncio.wait_for(task, 5)


async def test_the_account_s_fee_rates_are_read_at_start_and_applied(bybit_fake, fake_session_config):
    """A VIP-like account (0.02 % / 0.055 %): the venue reads the rates from /v5/account/fee-rate
    through the real pybit client, the rebalancer and the cockpit get them, and the fake's
    fills are charged at them."""
    bybit_fake.set_fee_rates("0.0002", "0.00055")
    cfg = fake_session_config("watch")
    engine = session_engine(cfg, watchdog_interval_s=0.05)
    task = asyncio.create_task(engine.run())
    try:
        await asyncio.wait_for(engine.started.wait(), 10)
        assert bybit_fake.request_count("/v5/account/fee-rate") >= 1
        reb = engine.reb
        assert (reb.maker_fee_rate, reb.taker_fee_rate) == (0.0002, 0.00055)
        snap = reb.snapshot()
        assert (snap.maker_fee_rate, snap.taker_fee_rate) == (0.0002, 0.00055)
        assert any("fees maker 0.0002 taker 0.00055" in line.text for line in reb.log)
    finally:
        await engine.shutdown(cancel_orders=True)
        await asyncio.wait_for(task, 10)


async def test_the_fake_charges_the_rates_it_serves(bybit_fake, venue):
    bybit_fake.set_fee_rates("0.0002", "0.00055")
    bybit_fake.set_book("50000.00", "5", "50000.10", "5")
    await venue.place_order(req("rbfee1", side=Side.SELL, price="49990.00", tif=TimeInForce.IOC))
    [fill] = await venue.fills_since(0)
    assert not fill.is_maker and fill.fee_coin == "USDT"
    assert fill.fee == D("0.01") * D("50000.00") * D("0.00055")


async def test_rules_are_cached_with_the_time_read_and_read_again_once_stale(bybit_fake, make_venue, sink):
    """Instrument rules are cached with the time Bybit gave them; once six hours old the next
    ``instrument()`` reads them again and hands them to ``on_rules`` (a long session sees a tick
    or step change); the journal line says which rules and when."""
    from core.session import rules_line
    from core.venues.bybit_reads import RULES_MAX_AGE_MS

    told = []
    venue = make_venue()
    venue.on_rules = told.append  # what a session gives it: core.session._rules_to
    await venue.start(sink)

    def reads() -> int:
        return sum(1 for r in bybit_fake.requests if r.path == "/v5/market/instruments-info")

    assert told == [venue] and abs(venue.rules_read_ms - bybit_fake.now_ms()) < 60_000
    first, n = venue.rules_read_ms, reads()
    await venue.instrument()  # fresh: the cache answers
    assert (reads(), len(told)) == (n, 1)
    venue.rules_read_ms = first - RULES_MAX_AGE_MS  # six hours on
    inst = await venue.instrument()
    assert reads() > n and len(told) == 2 and venue.rules_read_ms >= first
    # and the watchdog does it by itself: no caller needed in a long session
    venue.rules_read_ms = venue.rules_read_ms - RULES_MAX_AGE_MS
    n = reads()
    end = asyncio.get_running_loop().time() + 10
    while len(told) < 3 and asyncio.get_running_loop().time() < end:
        await asyncio.sleep(0.02)
    assert len(told) == 3 and reads() > n
    line = rules_line(venue)
    assert line.startswith("BTCUSDT rules from Bybit testnet at 20") and f"tick {inst.tick_size}" in line
    assert "qty step 0.000001" in line and "fees maker 0.1 % / taker 0.1 %" in line
