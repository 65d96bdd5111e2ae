"""The honest fill model (issue 17), rule by rule, on the paper exchange that paper and replay share:
bars fill only when traded through by a tick, with a share of the print's volume; on trades data
the queue ahead at our price trades first; takers without BBO pay the half-spread; a cancel in
flight does not stop a fill. Then the settings (config, state file, replay picking the bar rules)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.config import ConfigError
from core.events import AmendOrder, CancelOrder, FillEvent, PlaceOrder, VenueProblem
from core.model import Fill, OrderRequest, OrderStatus, Side, TimeInForce
from core.replay import run_replay
from core.venues.market import load_market
from core.venues.paper_exchange import OPTIMISTIC, FillModel, PaperExchange

D = Decimal
BUY, SELL = Side.BUY, Side.SELL
PO, IOC = TimeInForce.POST_ONLY, TimeInForce.IOC
BARS = FillModel(bars=True, bar_volume_share=0.1, bar_through_bps=0.0)  # the one-tick rule alone
TICKS = FillModel()


def make(model: FillModel = TICKS, **kw) -> PaperExchange:
    return PaperExchange(balances={"USDT": D(1_000_000), "BTC": D(10)}, fill_model=model, **kw)


def place(ex: PaperExchange, cid: str, side: Side, qty: str, price: str, tif: TimeInForce = PO,
          ts: int | None = None) -> tuple:
    return ex.submit(PlaceOrder(OrderRequest(cid, "BTCUSDT", side, D(qty), D(price), tif)), ts)


def fills(events) -> list[Fill]:
    return [e.fill for e in events if isinstance(e, FillEvent)]


def qtys(events) -> list[Decimal]:
    return [f.qty for f in fills(events)]


# ---------------------------------------------------------------------- bars


def test_bars_a_print_at_our_price_does_not_fill_a_resting_order() -> None:
    ex = make(BARS)
    ex.on_trade(1000, 60000.50, 2.0, True)
    place(ex, "b", BUY, "0.01", "60000.00", ts=1000)
    place(ex, "s", SELL, "0.01", "60001.00", ts=1000)
    assert ex.on_trade(20_000, 60000.00, 5.0, False) == ()  # the bar's low touched the buy
    assert ex.on_trade(40_000, 60001.00, 5.0, True) == ()  # its high touched the sell
    assert ex.order("b").filled_qty == 0 and ex.order("s").filled_qty == 0


def test_bars_trade_through_by_a_tick_fills_a_share_of_the_volume() -> None:
    ex = make(BARS)
    ex.on_trade(1000, 60000.50, 2.0, True)
    place(ex, "b", BUY, "0.5", "60000.00", ts=1000)
    ev = ex.on_trade(20_000, 59999.99, 2.0, False)  # one tick through: 10 % of the print's 2 BTC
    assert qtys(ev) == [D("0.2")] and all(f.is_maker and f.price == D("60000.00") for f in fills(ev))
    assert ex.order("b").status is OrderStatus.PARTIALLY_FILLED
    assert qtys(ex.on_trade(40_000, 59990.0, 2.0, False)) == [D("0.2")]
    assert qtys(ex.on_trade(59_999, 59995.0, 2.0, True)) == [D("0.1")]  # whoever hit: it went through
    assert ex.order("b").status is OrderStatus.FILLED


def test_bars_sell_side_mirrors() -> None:
    ex = make(BARS)
    ex.on_trade(1000, 60000.0, 2.0, True)
    place(ex, "s", SELL, "1", "60001.00", ts=1000)
    assert ex.on_trade(20_000, 60001.00, 8.0, True) == ()
    assert qtys(ex.on_trade(40_000, 60001.01, 8.0, True)) == [D("0.8")]


def test_bars_print_must_also_pass_the_margin() -> None:
    """By default a bar print must go 1 bp past our price (6.00 at 60,000) as well as a tick."""
    ex = make(FillModel(bars=True))
    ex.on_trade(1000, 60000.50, 2.0, True)
    place(ex, "b", BUY, "0.1", "60000.00", ts=1000)
    place(ex, "s", SELL, "0.1", "60010.00", ts=1000)
    assert ex.on_trade(20_000, 59994.01, 9.0, False) == ()
    assert qtys(ex.on_trade(40_000, 59994.00, 9.0, False)) == [D("0.1")]
    assert ex.on_trade(50_000, 60015.99, 9.0, True) == ()  # 60,010 + 6.001
    assert qtys(ex.on_trade(59_999, 60016.01, 9.0, True)) == [D("0.1")]


def test_optimistic_model_fills_the_whole_print_on_bars() -> None:
    """The old model, kept for comparison: the through print's whole size."""
    ex = make(FillModel(kind="optimistic", bars=True))
    ex.on_trade(1000, 60000.50, 2.0, True)
    place(ex, "b", BUY, "0.5", "60000.00", ts=1000)
    assert qtys(ex.on_trade(20_000, 59999.99, 2.0, False)) == [D("0.5")]


# ---------------------------------------------------------------------- queue, on trades data


def test_queue_ahead_trades_before_our_order_fills() -> None:
    ex = make()
    ex.on_quote(1000, 60000.00, 1.0, 60000.01, 2.0)
    place(ex, "b", BUY, "0.3", "60000.00", ts=1000)  # joins 1 BTC at the bid
    assert ex.on_trade(1100, 60000.00, 0.6, False) == ()  # sellers hit the bid: 0.4 left ahead
    assert ex.on_trade(1150, 60000.00, 5.0, True) == ()  # a buyer at our price is not our queue
    ev = ex.on_trade(1200, 60000.00, 0.5, False)  # 0.4 ahead, then 0.1 to us
    assert qtys(ev) == [D("0.1")] and fills(ev)[0].is_maker
    assert qtys(ex.on_trade(1300, 60000.00, 1.0, False)) == [D("0.2")]  # front of the queue now
    assert ex.order("b").status is OrderStatus.FILLED


def test_improving_the_touch_has_nobody_ahead_and_deeper_waits_behind_the_touch_size() -> None:
    ex = make()
    ex.on_quote(1000, 60000.00, 1.0, 60001.00, 2.0)
    place(ex, "in", SELL, "0.1", "60000.50", ts=1000)  # inside the spread
    place(ex, "deep", SELL, "0.1", "60002.00", ts=1000)  # behind the ask: assume the ask's 2 BTC
    assert qtys(ex.on_trade(1100, 60000.50, 0.1, True)) == [D("0.1")]
    assert ex.on_trade(1200, 60002.00, 1.5, True) == ()
    assert qtys(ex.on_trade(1300, 60002.00, 1.0, True)) == [D("0.1")]


def test_trade_through_clears_the_queue() -> None:
    ex = make()
    ex.on_quote(1000, 60000.00, 50.0, 60000.01, 2.0)
    place(ex, "b", BUY, "0.3", "60000.00", ts=1000)
    assert qtys(ex.on_trade(1100, 59999.99, 0.1, False)) == [D("0.1")]  # the level is gone
    assert qtys(ex.on_trade(1200, 60000.00, 0.1, False)) == [D("0.1")]  # we are first at it now


def test_without_bbo_the_queue_is_unknown_so_only_trade_through_fills() -> None:
    ex = make()
    ex.on_trade(1000, 60000.50, 1.0, True)
    place(ex, "b", BUY, "0.1", "60000.00", ts=1000)
    assert ex.on_trade(1100, 60000.00, 9.0, False) == ()
    assert qtys(ex.on_trade(1200, 59999.99, 9.0, False)) == [D("0.1")]


def test_amending_the_price_goes_to_the_back_of_the_new_level() -> None:
    ex = make()
    ex.on_quote(1000, 60000.00, 0.0, 60001.00, 1.0)
    place(ex, "b", BUY, "0.1", "60000.00", ts=1000)  # nobody shown at the bid: first in line
    ex.on_quote(1050, 60000.50, 3.0, 60001.00, 1.0)
    ex.submit(AmendOrder("b", D("60000.50")), 1060)  # joins the 3 BTC at the new bid
    assert ex.on_trade(1100, 60000.50, 2.0, False) == ()
    assert qtys(ex.on_trade(1200, 60000.50, 2.0, False)) == [D("0.1")]


# ---------------------------------------------------------------------- spread


def test_takers_without_bbo_pay_the_half_spread() -> None:
    ex = make(FillModel(half_spread_bps=0.5))
    ex.on_trade(1000, 60000.00, 1.0, True)
    assert ex.touch() == (D("59997.00"), D("60003.00"))  # 0.5 bps of 60,000 = 3.00
    assert [f.price for f in fills(place(ex, "tb", BUY, "0.01", "60100.00", IOC, ts=1000))] == [D("60003.00")]
    assert [f.price for f in fills(place(ex, "ts", SELL, "0.01", "59900.00", IOC, ts=1000))] == [D("59997.00")]
    # post-only quotes judge crossing against the same touch
    assert place(ex, "p", BUY, "0.01", "60003.00", ts=1000)[0].order.status is OrderStatus.REJECTED
    assert place(ex, "q", BUY, "0.01", "60002.99", ts=1000)[0].order.status is OrderStatus.NEW


def test_half_spread_is_at_least_a_tick_and_bbo_wins_when_present() -> None:
    ex = make(FillModel(half_spread_bps=0.0))
    ex.on_trade(1000, 60000.00, 1.0, True)
    assert ex.touch() == (D("59999.99"), D("60000.01"))
    ex.on_quote(1100, 59990.00, 1.0, 59990.50, 1.0)
    assert ex.touch() == (D("59990.00"), D("59990.50"))


def test_a_quote_the_market_has_left_is_no_longer_the_touch() -> None:
    """Quote bars covering half a day: after the last one the price rose 2.5 %; a taker buy must
    not be filled at the last quoted ask (the old rules did: 17,452 with the market at 17,890)."""
    ex = make()
    ex.on_quote(1000, 17452.61, 1.0, 17452.62, 1.0)
    ex.on_trade(1100, 17452.62, 0.1, True)
    assert ex.touch() == (D("17452.61"), D("17452.62"))  # the print is inside it: still the touch
    ex.on_trade(9_000_000, 17890.80, 0.1, True)  # hours later, no quote since
    assert ex.touch() == (D("17889.90"), D("17891.70"))  # last ± 0.5 bps
    assert [f.price for f in fills(place(ex, "t", BUY, "0.01", "17900.00", IOC))] == [D("17891.70")]
    old = make(OPTIMISTIC)
    old.on_quote(1000, 17452.61, 1.0, 17452.62, 1.0)
    old.on_trade(9_000_000, 17890.80, 0.1, True)
    assert old.touch() == (D("17452.61"), D("17452.62"))


# ---------------------------------------------------------------------- latency


def test_latency_on_cancel_a_fill_can_still_arrive() -> None:
    ex = make(latency_ms=100)
    ex.on_quote(900, 60000.00, 1.0, 60000.01, 1.0)
    place(ex, "b", BUY, "0.1", "59999.00", ts=1000)
    ex.advance_to(1100)  # live
    assert ex.submit(CancelOrder("b"), 1200) == ()  # sent; takes effect at 1300
    ev = ex.on_trade(1250, 59998.00, 1.0, False)  # the market gets there first
    assert qtys(ev) == [D("0.1")]
    late = ex.advance_to(1300)
    assert [type(e) for e in late] == [VenueProblem]  # the cancel finds nothing to cancel
    assert ex.order("b").status is OrderStatus.FILLED


def test_latency_on_place_and_amend() -> None:
    ex = make(latency_ms=100)
    ex.on_quote(900, 60000.00, 1.0, 60000.01, 1.0)
    place(ex, "b", BUY, "0.1", "59999.00", ts=1000)
    assert ex.on_trade(1050, 59990.00, 1.0, False) == ()  # not live yet: no fill
    ex.advance_to(1100)
    ex.submit(AmendOrder("b", D("59980.00")), 1200)
    assert qtys(ex.on_trade(1250, 59990.00, 1.0, False)) == [D("0.1")]  # the old price still rests


# ---------------------------------------------------------------------- settings


def test_fill_model_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="honest, optimistic"):
        FillModel(kind="pessimistic")
    with pytest.raises(ValueError, match="bar_volume_share"):
        FillModel(bar_volume_share=0.0)
    with pytest.raises(ValueError, match="half_spread_bps"):
        FillModel(half_spread_bps=-1)
    with pytest.raises(ValueError, match="bar_through_bps"):
        FillModel(bar_through_bps=-0.5)


def test_config_picks_the_fill_model_honest_by_default(make_config) -> None:
    assert make_config().paper.fill_model == "honest"
    cfg = make_config(paper__fill_model="optimistic", paper__half_spread_bps=1.5, paper__bar_volume_share=0.25)
    assert (cfg.paper.fill_model, cfg.paper.half_spread_bps, cfg.paper.bar_volume_share) == ("optimistic", 1.5, 0.25)


@pytest.mark.parametrize("key, value, says", [
    ("paper__fill_model", "pessimistic", "paper.fill_model"),
    ("paper__half_spread_bps", -1, "paper.half_spread_bps"),
    ("paper__bar_volume_share", 0, "paper.bar_volume_share"),
    ("paper__bar_volume_share", 1.5, "paper.bar_volume_share"),
    ("paper__bar_through_bps", -1, "paper.bar_through_bps"),
])
def test_config_errors_name_the_key(make_config, key, value, says) -> None:
    with pytest.raises(ConfigError) as ei:
        make_config(**{key: value})
    assert says in str(ei.value)


def test_saved_state_keeps_the_queue_and_the_config_decides_the_model() -> None:
    ex = make()
    ex.on_quote(1000, 60000.00, 1.0, 60000.01, 2.0)
    place(ex, "b", BUY, "0.3", "60000.00", ts=1000)
    ex.on_trade(1100, 60000.00, 0.6, False)
    state = ex.to_state()
    back = PaperExchange.from_state(state)
    assert back.fill_model == TICKS
    assert qtys(back.on_trade(1200, 60000.00, 0.5, False)) == [D("0.1")]  # 0.4 was still ahead
    assert PaperExchange.from_state(state, fill_model=OPTIMISTIC).fill_model == OPTIMISTIC
    old = dict(state)
    del old["fill_model"]  # a file saved before the fill model existed: the default
    assert PaperExchange.from_state(old).fill_model == TICKS


def test_replay_uses_the_bar_rules_on_klines_only(make_config, excerpt) -> None:
    cfg = make_config()
    bars = load_market(excerpt("bybit_spot_BTCUSDT_1m_2022-12-13_0000-0600.csv.gz"))
    ticks = load_market([excerpt("binance_spot_BTCUSDT_trades_2024-08-08T235415Z_30s.csv.gz"),
                         excerpt("binance_spot_BTCUSDT_bbo_2024-08-08T235415Z_30s.csv.gz")])
    assert run_replay(cfg, bars).exchange.fill_model == FillModel(bars=True)
    # a window cut mid-bar is still bars (the replay's bulk hint, points_per_bar, is not kept)
    cut = bars.window(start_ms=bars.trades.ts_ms[5], end_ms=bars.trades.ts_ms[-3])
    assert cut.trades.points_per_bar is None and cut.trades.from_bars
    assert run_replay(cfg, cut).exchange.fill_model == FillModel(bars=True)
    assert run_replay(cfg, ticks).exchange.fill_model == FillModel()
    old = make_config(paper__fill_model="optimistic")
    assert run_replay(old, bars).exchange.fill_model == FillModel(kind="optimistic", bars=True)


def test_after_the_quotes_end_engine_and_exchange_trade_at_the_market(make_config, excerpt) -> None:
    """Quote bars for the first half of the 6 h only (as the recorded Bybit spot day has them):
    afterwards no fill may sit at the last quote while the market trades elsewhere."""
    from bisect import bisect_right

    from core.venues.market import MarketData

    full = load_market([excerpt("bybit_spot_BTCUSDT_1m_2022-12-13_0000-0600.csv.gz"),
                        excerpt("bybit_spot_BTCUSDT_1m_quotes_2022-12-13_0000-0600.csv.gz")])
    half = full.trades.ts_ms[0] + 3 * 3_600_000
    market = MarketData(full.trades, full.quotes.window(end_ms=half))
    res = run_replay(make_config(), market)
    late = [f for f in res.exchange.fills() if f.ts_ms > half + 60_000]
    assert late, "the run trades after the quotes end"
    ts, px = full.trades.ts_ms, full.trades.price
    for f in late:
        last = px[bisect_right(ts, f.ts_ms) - 1]
        assert abs(float(f.price) / last - 1) < 15e-4, (f, last)  # within the 10 bps cap and a tick
