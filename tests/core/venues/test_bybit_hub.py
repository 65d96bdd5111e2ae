"""Several symbols on one Bybit account (issue 18): one hub, shared sockets, a fair shared budget.

Against the loopback fake trading BTCUSDT, ETHUSDT and SOLUSDT on one account, through the
real pybit client. Nothing sleeps for a fixed time: tests await events or poll with deadlines.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from urllib.parse import parse_qs

import pytest

from contract import CONTRACT_CHECKS
from core.config import ApiSecrets, ConfigError
from core.events import BalanceUpdate, ConnectionChanged, FillEvent, OrderUpdate, Reconciled, VenueProblem
from core.model import OrderRequest, OrderStatus, Quote, Side, TimeInForce, Trade, TradingState
from core.session import Environment, build_bybit_sessions
from core.venues.bybit_hub import BybitHub, HubVenue
from core.venues.bybit_settings import BybitSettings
from tests.fakes.bybit import DEFAULT_KEY, DEFAULT_SECRET, FakeBybit, loopback_http
from tests.fakes.webhook import Webhook

from tests.core.venues.conftest import FAST, QUIET, Sink, until
from tests.core.venues.test_contract_bybit import BybitHarness

D = Decimal
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
BALANCES = {"USDT": "10000", "BTC": "0.1", "ETH": "2", "SOL": "50"}
# a resting PostOnly buy well under each fake book (BTC 50000, ETH 3000, SOL 150), above the minimum notional
RESTING = {"BTCUSDT": ("0.001", "40000.00"), "ETHUSDT": ("0.01", "2000.00"), "SOLUSDT": ("0.1", "100.00")}


@pytest.fixture
def fake3():
    with FakeBybit(symbols=SYMBOLS, balances=BALANCES) as fake:
        yield fake


@pytest.fixture
async def make_hub(fake3):
    """``make_hub(**settings)`` -> an unstarted hub of the three symbols on the fake; every
    venue stopped at teardown."""
    hubs: list[BybitHub] = []

    def make(symbols=SYMBOLS, **kw) -> BybitHub:
        changes = {**FAST, **QUIET, **kw}
        settings = [BybitSettings(symbol=s, venue="testnet", rest_url=fake3.rest_url, ws_public_url=fake3.ws_base_url,
                                  ws_private_url=fake3.ws_base_url, **changes) for s in symbols]
        hub = BybitHub(settings, secrets=ApiSecrets(DEFAULT_KEY, DEFAULT_SECRET))
        hubs.append(hub)
        return hub

    yield make
    for hub in hubs:
        for s in hub.symbols:
            await hub.venue(s).stop()


async def started(hub: BybitHub) -> dict[str, tuple[HubVenue, Sink]]:
    out = {}
    for s in hub.symbols:
        sink = Sink()
        await hub.venue(s).start(sink)
        out[s] = (hub.venue(s), sink)
    return out


def req(symbol: str, cid: str) -> OrderRequest:
    qty, price = RESTING[symbol]
    return OrderRequest(client_id=cid, symbol=symbol, side=Side.BUY, qty=D(qty), price=D(price),
                        tif=TimeInForce.POST_ONLY)


def creates(fake) -> list[str]:
    """The symbol of each /v5/order/create the fake received, in arrival order."""
    return [json.loads(r.body)["symbol"] for r in fake.requests if r.path == "/v5/order/create"]


# ---------------------------------------------------------------------- shared sockets


def test_a_hub_is_one_account_on_one_venue():
    def settings(**kw) -> BybitSettings:
        return BybitSettings(**{"symbol": "BTCUSDT", "venue": "testnet", **kw})

    with pytest.raises(ValueError, match="each symbol once"):
        BybitHub([settings(), settings()])
    with pytest.raises(ValueError, match="venue differs"):
        BybitHub([settings(), settings(symbol="ETHUSDT", venue="demo")])
    with pytest.raises(ValueError, match="client_prefix differs"):
        BybitHub([settings(), settings(symbol="ETHUSDT", client_prefix="zz")])
    hub = BybitHub([settings(), settings(symbol="ethusdt")])
    assert hub.symbols == ("BTCUSDT", "ETHUSDT") and hub.venue("ethusdt").symbol == "ETHUSDT"
    with pytest.raises(KeyError, match="not on this hub"):
        hub.venue("SOLUSDT")


async def test_one_socket_per_category_carries_every_symbol_and_events_are_routed(fake3, make_hub):
    hub = make_hub()
    v = await started(hub)
    assert (fake3.ws_connections("spot"), fake3.ws_connections("linear"), fake3.ws_connections("private")) == (1, 1, 1)
    for s in SYMBOLS:
        assert fake3.subscribers(f"orderbook.1.{s}", "spot") == 1
        assert fake3.subscribers(f"publicTrade.{s}", "spot") == 1
        assert fake3.subscribers(f"tickers.{s}", "linear") == 1
    assert fake3.subscribers("order", "private") == 1 and fake3.subscribers("wallet", "private") == 1
    assert fake3.request_count("/v5/market/time") == 1  # one clock check for the account

    # each symbol its own rules and fee rates
    rules = {s: await v[s][0].instrument() for s in SYMBOLS}
    assert (rules["ETHUSDT"].base, rules["ETHUSDT"].qty_step, rules["ETHUSDT"].min_qty) == ("ETH", D("0.00001"),
                                                                                           D("0.00062"))
    assert (rules["SOLUSDT"].base, rules["SOLUSDT"].qty_step) == ("SOL", D("0.001"))
    assert rules["BTCUSDT"].qty_step == D("0.000001")
    assert all(v[s][0].maker_fee_rate == D("0.001") for s in SYMBOLS)

    # market data: only its symbol's
    btc_sink, eth_sink, sol_sink = (v[s][1] for s in SYMBOLS)
    marks = {s: v[s][1].mark() for s in SYMBOLS}
    await asyncio.to_thread(fake3.set_book, "2999.00", "3", "2999.50", "3", symbol="ETHUSDT")
    await eth_sink.wait_for(lambda e: isinstance(e, Quote) and e.bid == 2999.0, start=marks["ETHUSDT"])
    await asyncio.to_thread(fake3.trade, "150.02", "1", "Buy", symbol="SOLUSDT")
    await sol_sink.wait_for(lambda e: isinstance(e, Trade) and e.price == 150.02, start=marks["SOLUSDT"])
    assert all(q.bid > 10_000 for q in btc_sink.of(Quote))  # BTCUSDT's sink saw only BTCUSDT quotes
    assert all(q.bid < 1000 for q in sol_sink.of(Quote)) and all(q.bid > 1000 for q in eth_sink.of(Quote))
    assert not btc_sink.of(Trade, marks["BTCUSDT"]) and not eth_sink.of(Trade, marks["ETHUSDT"])

    # private: orders go to their symbol, the wallet is narrowed to the symbol's two coins
    marks = {s: v[s][1].mark() for s in SYMBOLS}
    await v["ETHUSDT"][0].place_order(req("ETHUSDT", "rbeth1"))
    await asyncio.to_thread(fake3.partial_fill, "rbeth1", "0.004")
    await eth_sink.wait_for(lambda e: isinstance(e, FillEvent), start=marks["ETHUSDT"])
    await eth_sink.wait_for(lambda e: isinstance(e, BalanceUpdate), start=marks["ETHUSDT"])
    await btc_sink.wait_for(lambda e: isinstance(e, BalanceUpdate), start=marks["BTCUSDT"])
    assert [e.order.status for e in eth_sink.of(OrderUpdate, marks["ETHUSDT"])] == [OrderStatus.PARTIALLY_FILLED]
    assert [e.fill.client_id for e in eth_sink.of(FillEvent, marks["ETHUSDT"])] == ["rbeth1"]
    for sink, s in ((btc_sink, "BTCUSDT"), (sol_sink, "SOLUSDT")):
        assert not sink.of(OrderUpdate, marks[s]) and not sink.of(FillEvent, marks[s])
    assert {b.coin for e in eth_sink.of(BalanceUpdate, marks["ETHUSDT"]) for b in e.balances} <= {"ETH", "USDT"}
    assert {b.coin for e in btc_sink.of(BalanceUpdate, marks["BTCUSDT"]) for b in e.balances} <= {"BTC", "USDT"}
    assert [o.client_id for o in await v["ETHUSDT"][0].open_orders()] == ["rbeth1"]
    assert await v["BTCUSDT"][0].open_orders() == ()


async def test_a_bad_host_clock_keeps_every_symbol_from_trading_and_each_is_told_once(fake3, make_hub):
    fake3.clock_skew_ms = 10_000  # recv_window 5000: the limit is 2500
    hub = make_hub()
    v = await started(hub)
    for s in SYMBOLS:
        venue, sink = v[s]
        venue.can_trade = True
        assert venue.can_trade is False and abs(venue.clock_offset_ms - 10_000) < 500
        told = [e for e in sink.of(VenueProblem) if "clock off by" in e.message]
        assert len(told) == 1, (s, told)


async def test_start_and_stop_are_counted_on_the_hub(fake3, make_hub):
    hub = make_hub()
    v = await started(hub)
    await v["ETHUSDT"][0].stop()
    await v["BTCUSDT"][0].stop()
    assert hub.streams is not None and fake3.ws_connections("spot") == 1  # SOLUSDT still uses them
    mark = v["SOLUSDT"][1].mark()
    await asyncio.to_thread(fake3.set_book, "149.00", "3", "149.50", "3", symbol="SOLUSDT")
    await v["SOLUSDT"][1].wait_for(lambda e: isinstance(e, Quote) and e.bid == 149.0, start=mark)
    await v["SOLUSDT"][0].stop()
    assert hub.streams is None
    await until(lambda: fake3.ws_connections("spot") + fake3.ws_connections("private") == 0, what="sockets closed")
    await v["ETHUSDT"][0].start(Sink())  # a later start opens them again
    assert hub.opens == 2 and fake3.ws_connections("spot") == 1


async def test_a_reconnect_of_the_shared_sockets_resubscribes_every_topic(fake3, make_hub):
    hub = make_hub()
    v = await started(hub)
    marks = {s: v[s][1].mark() for s in SYMBOLS}
    assert fake3.drop_connections(channels=["spot", "linear", "private"]) == 3
    for s in SYMBOLS:  # each venue hears the loss, then the return and its own reconcile
        sink = v[s][1]
        await sink.wait_for(lambda e: isinstance(e, ConnectionChanged) and not e.connected, start=marks[s])
        await sink.wait_for(lambda e: isinstance(e, Reconciled), start=marks[s])
        await sink.wait_for(lambda e: isinstance(e, ConnectionChanged) and e.connected, start=marks[s])
    for s in SYMBOLS:
        assert fake3.subscribe_count(f"orderbook.1.{s}", "spot") == 2 and fake3.subscribers(f"orderbook.1.{s}") == 1
        assert fake3.subscribe_count(f"publicTrade.{s}", "spot") == 2
        assert fake3.subscribe_count(f"tickers.{s}", "linear") == 2
    assert (fake3.ws_connections("spot"), fake3.ws_connections("private")) == (1, 1)
    mark = v["SOLUSDT"][1].mark()
    await asyncio.to_thread(fake3.set_book, "151.00", "3", "151.50", "3", symbol="SOLUSDT")
    await v["SOLUSDT"][1].wait_for(lambda e: isinstance(e, Quote) and e.bid == 151.0, start=mark)


# ---------------------------------------------------------------------- the shared budget


async def test_a_flood_on_one_symbol_does_not_delay_another_beyond_its_turn(fake3, make_hub):
    """One account, a slow create budget (limit 2 a second): 8 BTCUSDT creates at once, then
    one ETHUSDT create. ETHUSDT's request reaches Bybit with the next free slot (at most one
    more BTCUSDT create before it: a slot may free while it queues), not after the whole flood
    (first-come-first-served: 9th). The slow budget keeps the check exact on a loaded machine."""
    hub = make_hub(rate_limits={"create": 2})
    v = await started(hub)
    btc, eth = v["BTCUSDT"][0], v["ETHUSDT"][0]
    flood = [asyncio.create_task(btc.place_order(req("BTCUSDT", f"rbflood{i}"))) for i in range(8)]
    try:
        await until(lambda: hub.fair.waiting("BTCUSDT") >= 5, what="the flood waiting for the budget")
        btc_before = hub.fair.granted[("create", "BTCUSDT")]
        await eth.place_order(req("ETHUSDT", "rbfair1"))
        order = creates(fake3)
        assert order.index("ETHUSDT") <= btc_before + 1 < 8, order
        assert len(fake3.ledgers["ETHUSDT"].open_orders) == 1
    finally:
        for t in flood:  # the rest of the flood gives its turns away
            t.cancel()
        await asyncio.gather(*flood, return_exceptions=True)
    assert 1 <= creates(fake3).count("BTCUSDT") < 8
    assert btc.rest.budget is eth.rest.budget is hub.rest.budget  # one account, one budget


# ---------------------------------------------------------------------- three engines, one halted


def _configs(fake, make_config, mode: str = "semi"):
    common = dict(venue="testnet", mode=mode, api__rest_url=fake.rest_url, api__ws_public_url=fake.ws_base_url,
                  api__ws_private_url=fake.ws_base_url,
                  _env={"BYBIT_API_KEY_Tst": DEFAULT_KEY, "BYBIT_API_SECRET_Tst": DEFAULT_SECRET},
                  _need_secrets=True)
    return [make_config(symbol=s, **common) for s in SYMBOLS]


async def test_three_engines_over_one_hub_one_killed_while_the_others_trade(fake3, make_config):
    sessions = build_bybit_sessions(_configs(fake3, make_config),
                                    Environment(venue_changes={**FAST, **QUIET}))
    engines = {s.config.symbol: s.engine for s in sessions}
    venues = {s.config.symbol: s.venue for s in sessions}
    assert len({id(v.hub) for v in venues.values()}) == 1
    tasks = [asyncio.create_task(e.run()) for e in engines.values()]
    stopped: set[str] = set()
    try:
        await asyncio.wait_for(asyncio.gather(*(e.started.wait() for e in engines.values())), 15)
        assert (fake3.ws_connections("spot"), fake3.ws_connections("private")) == (1, 1)
        for s, e in engines.items():  # each rebalancer has its own symbol's rules and book
            assert e.reb.instrument.symbol == s and e.reb.book.balances_ok
        assert engines["ETHUSDT"].reb.instrument.qty_step == D("0.00001")

        ours = {}
        for s, venue in venues.items():
            ours[s] = f"{venue.client_prefix}x{s[:3].lower()}1"
            await venue.place_order(req(s, ours[s]))
        grid = loopback_http(fake3, DEFAULT_KEY, DEFAULT_SECRET, retry_codes={-1})
        await asyncio.to_thread(grid.place_order, category="spot", symbol="ETHUSDT", side="Buy", orderType="Limit",
                                qty="0.01", price="2100.00", orderLinkId="grid-eth-1")
        await asyncio.to_thread(grid.place_order, category="spot", symbol="BTCUSDT", side="Buy", orderType="Limit",
                                qty="0.001", price="41000.00", orderLinkId="grid-btc-1")

        engines["ETHUSDT"].kill()

        def status(symbol: str, cid: str) -> str:
            return fake3.ledgers[symbol].order(order_link_id=cid).status

        await until(lambda: status("ETHUSDT", ours["ETHUSDT"]) == "Cancelled", what="ETHUSDT's order cancelled")
        assert engines["ETHUSDT"].trading_state is TradingState.HALTED
        assert status("ETHUSDT", "grid-eth-1") == "New"  # not ours: left alone
        assert status("BTCUSDT", ours["BTCUSDT"]) == "New" and status("SOLUSDT", ours["SOLUSDT"]) == "New"
        assert status("BTCUSDT", "grid-btc-1") == "New"
        for s in ("BTCUSDT", "SOLUSDT"):
            assert engines[s].trading_state is not TradingState.HALTED

        # the others keep trading: market data and fills still reach them over the shared sockets
        await asyncio.to_thread(fake3.set_book, "2999.00", "3", "2999.50", "3", symbol="ETHUSDT")
        await asyncio.to_thread(fake3.set_book, "49000.00", "1", "49000.10", "1", symbol="BTCUSDT")
        await until(lambda: engines["BTCUSDT"].reb.bid == 49000.0, what="BTCUSDT's engine sees its quote")
        fills = engines["SOLUSDT"].reb.stats.fills
        await asyncio.to_thread(fake3.trade, "99.00", "1", "Sell", symbol="SOLUSDT")  # through SOLUSDT's order
        await until(lambda: engines["SOLUSDT"].reb.stats.fills > fills, what="SOLUSDT's engine books its fill")
        assert status("SOLUSDT", ours["SOLUSDT"]) == "Filled"
        n = await venues["BTCUSDT"].place_order(req("BTCUSDT", f"{venues['BTCUSDT'].client_prefix}x2"))
        assert n.status is OrderStatus.NEW

        # and the halted symbol stopping leaves the shared connections to the others
        stopped.add("ETHUSDT")
        await engines["ETHUSDT"].shutdown(cancel_orders=True)
        assert fake3.ws_connections("spot", live=False) == 1 and fake3.ws_connections("spot") == 1
        await asyncio.to_thread(fake3.set_book, "48000.00", "1", "48000.10", "1", symbol="BTCUSDT")
        await until(lambda: engines["BTCUSDT"].reb.bid == 48000.0, what="BTCUSDT still fed")
    finally:
        for s, e in engines.items():
            if s not in stopped:
                await e.shutdown(cancel_orders=True)
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 10)
    # the last symbol to stop closed the shared sockets
    await until(lambda: fake3.ws_connections("spot") + fake3.ws_connections("private") == 0, what="sockets closed")


def test_build_bybit_sessions_checks_like_a_single_session(fake3, make_config):
    cfgs = _configs(fake3, make_config)
    with pytest.raises(ConfigError, match="listed twice"):
        build_bybit_sessions([cfgs[0], cfgs[0]], Environment())
    no_keys = make_config(symbol="ETHUSDT", venue="testnet", _env={}, _need_secrets=False)
    with pytest.raises(ConfigError, match="needs API keys"):
        build_bybit_sessions([cfgs[0], no_keys], Environment())
    main = [make_config(symbol=s, venue="mainnet", _env={"BYBIT_API_KEY_Tst": DEFAULT_KEY,
                                                         "BYBIT_API_SECRET_Tst": DEFAULT_SECRET}, _need_secrets=True)
            for s in SYMBOLS[:2]]
    with pytest.raises(ConfigError, match="MAINNET"):
        build_bybit_sessions(main, Environment())
    sessions = build_bybit_sessions(main, Environment(mainnet_confirmed=True))
    assert [s.rebalancer.venue_name for s in sessions] == ["mainnet", "mainnet"]
    assert sessions[0].venue.hub is sessions[1].venue.hub


async def test_a_symbols_config_on_testnet_runs_a_portfolio_over_one_hub(fake3):
    """``symbols:`` on a Bybit venue: ``build_portfolio`` builds every symbol over one hub, the
    cockpit's host runs them together, and a kill of one symbol leaves the others trading."""
    import copy

    from core.config import config_from_dict
    from core.portfolio import build_portfolio
    from tests.builders import BASE_CONFIG

    data = copy.deepcopy(BASE_CONFIG)
    data.pop("symbol")
    hook = Webhook()
    data.update(symbols=list(SYMBOLS), venue="testnet", mode="semi", alerts={"urls": [hook.url]})
    data["api"] = {**data.get("api", {}), "account_name": "Tst", "rest_url": fake3.rest_url,
                   "ws_public_url": fake3.ws_base_url, "ws_private_url": fake3.ws_base_url}
    cfg = config_from_dict(data, file="<test>", env={"BYBIT_API_KEY_Tst": DEFAULT_KEY,
                                                     "BYBIT_API_SECRET_Tst": DEFAULT_SECRET}, need_secrets=True)
    pf = build_portfolio(cfg, Environment(venue_changes={**FAST, **QUIET}))
    venues = [pf.sessions[s].venue for s in SYMBOLS]
    assert len({id(v.hub) for v in venues}) == 1
    sender = pf.engines[0].alerts.sender  # the account's one alert sender: one rate limit for all
    assert all(e.alerts.sender is sender for e in pf.engines)
    task = asyncio.create_task(pf.run())
    try:
        await asyncio.wait_for(asyncio.gather(*(e.started.wait() for e in pf.engines)), 15)
        assert (fake3.ws_connections("spot"), fake3.ws_connections("private")) == (1, 1)
        out = pf.kill_symbol("ETHUSDT")
        assert "ETHUSDT" in out.text
        assert pf.engine("ETHUSDT").trading_state is TradingState.HALTED
        assert all(pf.engine(s).trading_state is not TradingState.HALTED for s in ("BTCUSDT", "SOLUSDT"))
        await asyncio.to_thread(fake3.set_book, "49000.00", "1", "49000.10", "1", symbol="BTCUSDT")
        await until(lambda: pf.engine("BTCUSDT").reb.bid == 49000.0, what="BTCUSDT still fed after ETH's kill")
        rows = {r.symbol: r for r in pf.latest().overview}
        assert list(rows) == list(SYMBOLS) and rows["ETHUSDT"].trading_state is TradingState.HALTED
    finally:
        await pf.shutdown(cancel_orders=True)
        await asyncio.wait_for(task, 15)
        hook.close()
    for service in sender.services:  # the last symbol's shutdown stopped it
        await asyncio.to_thread(service.thread.join, 5.0)
        assert not service.thread.is_alive()


# ---------------------------------------------------------------------- the venue contract, on a hub


class HubHarness(BybitHarness):
    """The venue contract's BTCUSDT venue, taken from a hub that also runs ETHUSDT and SOLUSDT;
    everything else as the one-symbol adapter's harness."""

    def __init__(self, fake, make_hub) -> None:
        super().__init__(fake, make_venue=None)
        self.make_hub = make_hub

    async def open(self, *, can_trade: bool = True):
        hub = self.make_hub(can_trade=can_trade, client_prefix=self.client_prefix)
        for s in ("ETHUSDT", "SOLUSDT"):
            await hub.venue(s).start(Sink())
        self.venue = hub.venue(self.symbol)
        await self.venue.start(self.log)
        return self.venue

    async def close(self) -> None:
        pass  # make_hub stops every venue


@pytest.mark.parametrize("check", CONTRACT_CHECKS, ids=lambda c: c.__name__.removeprefix("check_"))
async def test_a_hub_venue_keeps_the_venue_contract(fake3, make_hub, check) -> None:
    await check(HubHarness(fake3, make_hub))


async def test_every_symbols_fee_rates_come_from_one_call(fake3, make_hub):
    """One fee-rate request per hub start, not one per symbol (5 a second: 10 symbols waited
    about 2 s); each venue holds the account's rates as the fake set them."""
    await asyncio.to_thread(fake3.set_fee_rates, "0.0002", "0.00055")
    hub = make_hub()
    v = await started(hub)
    assert fake3.request_count("/v5/account/fee-rate") == 1
    assert {s: (venue.maker_fee_rate, venue.taker_fee_rate) for s, (venue, _) in v.items()} == {
        s: (D("0.0002"), D("0.00055")) for s in SYMBOLS}


async def test_a_symbol_left_out_of_the_shared_fee_answer_reads_its_own(fake3, make_hub, monkeypatch):
    hub = make_hub()
    real = hub.rest.call

    async def call(method, **kw):
        result = await real(method, **kw)
        if method == "get_fee_rates" and not kw.get("symbol"):
            result = {**result, "list": [i for i in result["list"] if i["symbol"] != "SOLUSDT"]}
        return result

    monkeypatch.setattr(hub.rest, "call", call)
    v = await started(hub)
    asked = [parse_qs(r.query).get("symbol") for r in fake3.requests if r.path == "/v5/account/fee-rate"]
    assert asked == [None, ["SOLUSDT"]]  # every symbol at once, then SOLUSDT alone
    assert v["SOLUSDT"][0].taker_fee_rate == v["BTCUSDT"][0].taker_fee_rate
