"""Rest or take (``core.execution_choice``, ``execution.style``): hand-computed estimates, the
choice flipping with fees and volatility, a resting order switched to taker when the estimate
flips, ``taker`` never resting and ``maker_first`` as before."""

from __future__ import annotations

import math
import statistics

import pytest

from core.execution_choice import ADVERSE_K, RestingRecord, estimate, fill_rate, growth_ratio, volatility_bps
from core.model import Candle, Mode, Side, TimeInForce
from tests.core.helpers_engine import T0, Harness, rcfg

S = 1_000
MIN = 60_000
BID, ASK = 59_999.0, 60_001.0  # mid 60,000: half spread 1/60,000 = 0.1667 bps
HALF = 1.0 / 60_000 * 1e4
BASE_TIER = (0.001, 0.001)
DISCOUNT = (0.0002, 0.00055)


def test_take_is_the_taker_fee_the_half_spread_and_the_slippage():
    e = estimate(maker_fee=0.001, taker_fee=0.001, bid=BID, ask=ASK, wait_s=30, sigma_bps=1.0, slippage_bps=0.5)
    assert e.take_bps == pytest.approx(10.0 + HALF + 0.5)
    assert e.half_spread_bps == pytest.approx(HALF)


def test_rest_weighs_a_maker_fill_and_its_adverse_selection_by_the_chance_it_fills():
    # rest = p x (maker fee + adverse selection) + (1 - p) x take: what fills pays the maker fee
    # and the markout; what does not is taken at the end of the wait, after the drift the filled
    # part's markout implies (a fair market: the half spread a fill earns comes back in the move)
    # sigma 1 bps/sqrt(s) over 30 s: the prior adverse selection sqrt(30) x sqrt(2/pi) = 4.370 bps
    e = estimate(maker_fee=0.001, taker_fee=0.001, bid=BID, ask=ASK, wait_s=30, sigma_bps=1.0)
    assert e.drift_bps == pytest.approx(math.sqrt(30) * math.sqrt(2 / math.pi))
    assert e.drift_bps == pytest.approx(4.370, abs=1e-3)
    assert e.fill_rate == 0.5  # no resting outcomes yet: an even chance
    # 0.5 x (10 + 4.370) + 0.5 x 10.167 = 7.185 + 5.083 = 12.268
    assert e.rest_bps == pytest.approx(12.268, abs=1e-3)
    assert e.choice == "take"  # equal fees: resting risks 4.4 bps of markout to earn nothing


def test_the_fill_rate_scales_the_saving_not_the_sign():
    # discount, sigma 0.2: adverse 0.2 x 5.477 x 0.798 = 0.874; take 5.5 + 0.167 = 5.667
    sure = estimate(maker_fee=0.0002, taker_fee=0.00055, bid=BID, ask=ASK, wait_s=30, sigma_bps=0.2, fill_rate=0.8)
    # 0.8 x (2 + 0.874) + 0.2 x 5.667 = 2.299 + 1.133 = 3.433 (a saving of 0.8 x 2.793 = 2.234)
    assert sure.rest_bps == pytest.approx(3.433, abs=1e-3) and sure.choice == "rest"
    unlikely = estimate(maker_fee=0.0002, taker_fee=0.00055, bid=BID, ask=ASK, wait_s=30, sigma_bps=0.2,
                        fill_rate=0.1)
    assert unlikely.rest_bps == pytest.approx(0.1 * 2.874 + 0.9 * 5.667, abs=1e-3) and unlikely.choice == "rest"
    never = estimate(maker_fee=0.0002, taker_fee=0.00055, bid=BID, ask=ASK, wait_s=30, sigma_bps=0.2, fill_rate=0.0)
    assert never.rest_bps == pytest.approx(never.take_bps) and never.choice == "take"  # a tie takes


def test_the_fill_rate_is_our_resting_record_by_the_rule_of_succession():
    assert fill_rate([]) == 0.5
    assert fill_rate([1.0, 1.0, 0.0, 0.5]) == pytest.approx(3.5 / 6)  # (2.5 + 1) / (4 + 2)
    assert fill_rate([0.0] * 48) == pytest.approx(1 / 50)


def test_equal_fees_rest_only_when_the_adverse_selection_is_under_the_half_spread():
    # one tick of BTC's spread (0.0008 bps): sigma 0.05 gives 0.218 bps of adverse selection
    e = estimate(maker_fee=0.001, taker_fee=0.001, bid=60_000.00, ask=60_000.01, wait_s=30, sigma_bps=0.05)
    assert e.drift_bps == pytest.approx(0.05 * math.sqrt(30) * ADVERSE_K)
    assert e.rest_bps == pytest.approx(0.5 * (10.0 + e.drift_bps) + 0.5 * e.take_bps)
    assert e.choice == "take"
    # a 2-dollar spread (half 0.167 bps) against 0.087 bps (sigma 0.02): resting pays
    wide = estimate(maker_fee=0.001, taker_fee=0.001, bid=BID, ask=ASK, wait_s=30, sigma_bps=0.02)
    assert wide.rest_bps == pytest.approx(0.5 * 10.0874 + 0.5 * 10.1667, abs=1e-3)
    assert wide.choice == "rest"


def test_a_maker_discount_rests_when_calm_and_takes_when_the_market_moves():
    calm = estimate(maker_fee=0.0002, taker_fee=0.00055, bid=BID, ask=ASK, wait_s=30, sigma_bps=0.2)
    # take 5.5 + 0.167 = 5.667; rest 0.5 x (2 + 0.874) + 0.5 x 5.667 = 4.270
    assert calm.take_bps == pytest.approx(5.667, abs=1e-3)
    assert calm.rest_bps == pytest.approx(4.270, abs=1e-3)
    assert calm.choice == "rest"
    busy = estimate(maker_fee=0.0002, taker_fee=0.00055, bid=BID, ask=ASK, wait_s=30, sigma_bps=1.0)
    assert busy.rest_bps == pytest.approx(0.5 * 6.370 + 0.5 * 5.667, abs=1e-3)  # 2 + 4.370 > 5.667
    assert busy.choice == "take"


def test_our_maker_markouts_replace_the_volatility_prior_when_worse():
    e = estimate(maker_fee=0.0002, taker_fee=0.00055, bid=BID, ask=ASK, wait_s=30, sigma_bps=0.2, markout_bps=6.0)
    assert e.drift_bps == 6.0 and e.choice == "take"
    # a few lucky markouts do not make resting look cheaper than the market's own movement says
    mild = estimate(maker_fee=0.0002, taker_fee=0.00055, bid=BID, ask=ASK, wait_s=30, sigma_bps=0.2, markout_bps=0.1)
    assert mild.drift_bps == pytest.approx(0.2 * math.sqrt(30) * ADVERSE_K)


def test_measured_taker_slippage_is_part_of_taking():
    e = estimate(maker_fee=0.0002, taker_fee=0.00055, bid=60_000.0, ask=60_000.0, wait_s=30, sigma_bps=0.2,
                 markout_bps=3.8, slippage_bps=0.5)
    # take 5.5 + 0 + 0.5 = 6.0 against 2 + 3.8 = 5.8 per fill: resting saves 0.5 x 0.2
    assert e.take_bps == pytest.approx(6.0) and e.rest_bps == pytest.approx(5.9) and e.rests
    assert not estimate(maker_fee=0.0002, taker_fee=0.00055, bid=60_000.0, ask=60_000.0, wait_s=30, sigma_bps=0.2,
                        markout_bps=3.8).rests  # without it: 5.5 < 5.8


def test_a_growing_gap_adds_its_share_of_the_drift():
    e = estimate(maker_fee=0.0002, taker_fee=0.00055, bid=BID, ask=ASK, wait_s=30, sigma_bps=0.2, growth_ratio=0.5)
    assert e.growth_bps == pytest.approx(0.5 * 0.2 * math.sqrt(30) * ADVERSE_K)
    full = estimate(maker_fee=0.0002, taker_fee=0.00055, bid=BID, ask=ASK, wait_s=30, sigma_bps=0.2, growth_ratio=7)
    assert full.growth_bps == pytest.approx(full.drift_bps)  # at most all of the trade


def test_a_tie_takes():
    e = estimate(maker_fee=0.001, taker_fee=0.001, bid=60_000.0, ask=60_000.0, wait_s=30, sigma_bps=0.0)
    assert e.take_bps == e.rest_bps == pytest.approx(10.0) and e.choice == "take"


def test_volatility_is_an_ewma_of_candle_returns_per_root_second():
    closes = [100.0, 100.1, 99.95, 100.2, 100.0, 100.3, 100.25, 100.1]
    rets = [b / a - 1 for a, b in zip(closes, closes[1:])]
    var = sum(r * r for r in rets) / len(rets)  # started from the window's plain variance ...
    for r in rets:
        var = 0.94 * var + 0.06 * r * r  # ... then the latest returns weigh most
    assert volatility_bps(closes, MIN) == pytest.approx(math.sqrt(var) * 1e4 / math.sqrt(60))
    assert volatility_bps(closes[:5], MIN) is None  # too few candles: the prior
    assert volatility_bps([100.0] * 10, MIN) == 0.0


def test_a_jump_in_the_forming_candle_shows_at_once():
    calm = [60_000.0 * (1 + (0.5e-4 if k % 2 else 0.0)) for k in range(31)]
    quiet = volatility_bps(calm, MIN, last=calm[-1])
    jumped = volatility_bps(calm, MIN, last=calm[-1] * 1.007)  # +70 bps since the last close
    assert quiet == pytest.approx(0.5 / math.sqrt(60), rel=0.05)
    assert jumped > 8 * quiet
    # enough to stop resting on the hard path even with a maker discount
    e = estimate(maker_fee=0.0002, taker_fee=0.00055, bid=BID, ask=ASK, wait_s=5, sigma_bps=jumped)
    assert e.choice == "take"
    assert estimate(maker_fee=0.0002, taker_fee=0.00055, bid=BID, ask=ASK, wait_s=5, sigma_bps=quiet).choice == "rest"


def test_gap_growth_is_the_other_fills_rate_over_the_wait_as_a_share_of_the_trade():
    # 0.006 base in 300 s toward the gap; over 30 s that is 0.0006 of a 0.003 trade: 0.2
    assert growth_ratio(0.006, 300, 30, 0.003) == pytest.approx(0.2)
    assert growth_ratio(-0.006, 300, 30, 0.003) == 0.0  # flow that closes the gap
    assert growth_ratio(1.0, 300, 30, 0.003) == 1.0


# ---------------------------------------------------------------- the desk and the execution


def calm_candles(n: int = 40, bps: float = 1.0) -> list[Candle]:
    """Closed 1-minute candles whose closes alternate by ``bps``: volatility ~bps/sqrt(60) per root s."""
    out = []
    for k in range(n):
        px = 60_000.0 * (1 + (bps / 1e4 if k % 2 else 0.0))
        out.append(Candle(T0 - (n - k) * MIN, MIN, px, px, px, px))
    return out


def harness(style: str, fees: tuple[float, float], *, candles=None) -> Harness:
    from decimal import Decimal
    from core.venues.paper_exchange import FeeSchedule

    h = Harness(rcfg(execution__style=style), mode=Mode.AUTO)
    h.reb.set_rules(h.reb.instrument, *fees)
    h.ex.fees = FeeSchedule(spot_maker=Decimal(str(fees[0])), spot_taker=Decimal(str(fees[1])))
    if candles is not None:
        h.reb.warm_up(candles)
    return h


def soft_gap(h: Harness) -> None:
    """A grid fill pushes net delta to +0.006 (past soft 0.004, under hard 0.012): a partial
    sell that the policy wants maker first."""
    h.grid_fill(T0 + S, Side.BUY, "0.006", "60000")
    h.market(T0 + 2 * S, BID, ASK)


def test_auto_at_the_base_tier_takes_at_once():
    h = harness("auto", BASE_TIER, candles=calm_candles())
    soft_gap(h)
    assert [p.tif for p in h.places] == [TimeInForce.IOC]
    assert h.reb.decision.maker_first  # the policy wanted maker first; the estimate chose to take
    fills = h.ex.fills()
    assert fills and not fills[-1].is_maker


def test_auto_with_a_maker_discount_rests_when_calm():
    h = harness("auto", DISCOUNT, candles=calm_candles(bps=1.0))
    soft_gap(h)
    assert [p.tif for p in h.places] == [TimeInForce.POST_ONLY]
    est = h.reb.exec.estimate
    assert est is not None and est.choice == "rest" and est.rest_bps < est.take_bps
    snap = h.reb.snapshot()
    assert snap.decision_cost == est


def test_auto_with_a_maker_discount_takes_when_the_market_moves():
    h = harness("auto", DISCOUNT, candles=calm_candles(bps=30.0))  # ~3.9 bps/sqrt(s)
    soft_gap(h)
    assert [p.tif for p in h.places] == [TimeInForce.IOC]


def test_a_resting_order_is_switched_to_taker_when_the_estimate_flips():
    h = harness("auto", DISCOUNT, candles=calm_candles(bps=1.0))
    soft_gap(h)
    assert [p.tif for p in h.places] == [TimeInForce.POST_ONLY]
    # our maker fills so far ran 8 bps against us 60 s later: resting no longer pays
    m = h.reb.costs.markouts
    for _ in range(5):
        m.measure(-1, 60_000.0, 0.01, 60_048.0)  # sold at 60,000, the mid went to 60,048: 8 bps
    h.quote(T0 + 2 * S + 500, BID, ASK)  # under a second since the last choice: nothing yet
    assert len(h.places) == 1
    h.tick(T0 + 3 * S)
    assert len(h.cancels) == 1 and [p.tif for p in h.places] == [TimeInForce.POST_ONLY, TimeInForce.IOC]
    # rest 0.5 x (2 + 8) + 0.5 x 5.667 = 7.833, and the gap's growth (the grid fill) ~0.07
    assert any("estimate flipped: take 5.7 bps vs rest 7.9 bps → take" in ln.text for ln in h.reb.log)
    assert h.ex.fills()[-1].is_maker is False


def test_taker_style_never_rests():
    h = harness("taker", DISCOUNT, candles=calm_candles(bps=1.0))
    soft_gap(h)
    assert [p.tif for p in h.places] == [TimeInForce.IOC]
    assert h.reb.exec is None and h.reb.snapshot().decision_cost is None


def test_maker_first_style_rests_as_before_whatever_the_fees():
    h = harness("maker_first", BASE_TIER, candles=calm_candles(bps=30.0))
    soft_gap(h)
    assert [p.tif for p in h.places] == [TimeInForce.POST_ONLY]
    assert h.reb.exec.estimate is None and h.reb.exec.rechoose is None
    for k in range(3, 10):
        h.tick(T0 + k * S)
    assert [p.tif for p in h.places] == [TimeInForce.POST_ONLY]  # no re-choosing: rests until the wait is over


def test_the_proposal_fee_follows_the_choice():
    h = harness("auto", DISCOUNT, candles=calm_candles(bps=30.0))
    h.reb.set_mode(Mode.SEMI)
    soft_gap(h)
    p = h.reb.proposal
    assert p is not None
    assert p.expected_fee_quote == pytest.approx(float(p.qty) * p.decision.price * 0.00055)  # it will take


def test_other_fills_growing_the_gap_make_resting_dearer():
    h = harness("auto", DISCOUNT, candles=calm_candles(bps=1.0))
    h.market(T0 + S, BID, ASK)
    assert h.reb.desk.estimate(30, 0.003).growth_bps == 0.0  # nothing moved the gap yet
    for k in range(3):  # the grid bought 0.0015 BTC a minute: the long gap grows
        h.grid_fill(T0 + (k + 2) * MIN, Side.BUY, "0.0005", "60000")
    grown = h.reb.desk.estimate(30, 0.003)
    # 0.0015 BTC over the 300 s window, 30 s of waiting on a 0.003 trade: a share of 0.05
    assert grown.growth_bps == pytest.approx(0.05 * grown.drift_bps)
    h.grid_fill(T0 + 5 * MIN, Side.SELL, "0.0015", "60000")  # flow that closed it again
    assert h.reb.desk.estimate(30, 0.003).growth_bps == 0.0
    # the window forgets: 300 s after the last fill nothing is left of the flow
    h.grid_fill(T0 + 6 * MIN, Side.BUY, "0.0005", "60000")
    h.tick(T0 + 12 * MIN)
    assert h.reb.desk.estimate(30, 0.003).growth_bps == 0.0 and not h.reb.desk.others_flow


def test_an_approved_proposal_executes_the_way_it_showed_then_re_decides():
    h = harness("auto", DISCOUNT, candles=calm_candles(bps=1.0))
    h.reb.set_mode(Mode.SEMI)
    soft_gap(h)
    p = h.reb.proposal
    assert p is not None and p.cost is not None and p.cost.choice == "rest"
    assert p.expected_fee_quote == pytest.approx(float(p.qty) * p.decision.price * 0.0002)
    assert h.reb.snapshot().proposal.cost == p.cost  # the card shows the estimate it was drafted with
    m = h.reb.costs.markouts
    for _ in range(5):  # a fresh estimate would now take ...
        m.measure(-1, 60_000.0, 0.01, 60_048.0)
    assert not h.reb.desk.estimate(30, float(p.qty)).rests
    h.do(h.reb.approve())
    assert [r.tif for r in h.places] == [TimeInForce.POST_ONLY]  # ... but the approval rests, as shown
    assert h.reb.exec.estimate == p.cost
    h.tick(h.reb.now_ms + S)  # and re-decides a second later
    assert [r.tif for r in h.places] == [TimeInForce.POST_ONLY, TimeInForce.IOC]


def test_a_resting_order_s_outcome_is_our_fill_rate():
    h = harness("auto", DISCOUNT, candles=calm_candles(bps=1.0))
    soft_gap(h)
    assert h.reb.exec.estimate.fill_rate == 0.5 and not h.reb.desk.resting.shares()
    m = h.reb.costs.markouts
    for _ in range(5):
        m.measure(-1, 60_000.0, 0.01, 60_048.0)
    h.tick(T0 + 3 * S)  # flips to taker: the resting order filled nothing
    assert h.reb.exec is None and h.reb.desk.resting.shares() == [0.0]
    assert h.reb.desk.estimate(30, 0.003).fill_rate == pytest.approx(1 / 3)  # (0 + 1) / (1 + 2)
    # what it cost all-in: sold 0.003 at the bid 59,999 against the 60,000 mid, fee 0.055 %
    _, estimated, share, cost, notional = h.reb.desk.resting.entries[0]
    assert share == 0.0 and estimated < 5.667  # it rested on an estimate under taking
    assert notional == pytest.approx(0.003 * 60_000)
    assert cost * 1e4 / notional == pytest.approx(5.5 * 59_999 / 60_000 + HALF)  # 5.667 bps


def test_the_resting_record_corrects_the_estimate_by_its_measured_error():
    rec = RestingRecord()
    for k, paid_bps in enumerate([6.0, 6.0, 6.0, 6.0]):
        rec.rested(f"r{k}", 4.0)  # each rested on an estimate of 4 bps ...
        rec.on_fill(f"r{k}", paid_bps * 10_000 / 1e4, 10_000.0)  # ... and paid 6 on 10,000 of notional
        rec.finished(f"r{k}", 0.0)
    assert rec.bias_bps() is None  # four: too few
    rec.rested("r4", 4.0)
    rec.on_fill("r4", 11.0 * 30_000 / 1e4, 30_000.0)  # 11 bps on 30,000
    assert rec.bias_bps() is None  # still working: not counted yet
    rec.finished("r4", 1.0)
    # notional-weighted: (4 x 2 x 10,000 + 7 x 30,000) / 70,000 = 290,000 / 70,000 = 4.143 bps
    assert rec.bias_bps() == pytest.approx(290_000 / 70_000)
    rec.rested("r5", 4.0)
    rec.finished("r5", 0.0)  # the gap closed by itself: nothing traded, a share of 0, no cost
    assert rec.bias_bps() == pytest.approx(290_000 / 70_000)
    assert rec.fill_rate() == pytest.approx((1.0 + 1) / (6 + 2))
    calm = estimate(maker_fee=0.0002, taker_fee=0.00055, bid=BID, ask=ASK, wait_s=30, sigma_bps=0.2,
                    rest_bias_bps=rec.bias_bps())
    assert calm.rest_bps == pytest.approx(4.270 + 4.143, abs=1e-3) and calm.choice == "take"


def test_the_record_keeps_only_the_recent_rests():
    rec = RestingRecord(n=3)
    for k in range(5):
        rec.rested(f"r{k}", 1.0)
        rec.finished(f"r{k}", 1.0 if k < 2 else 0.0)
    assert rec.shares() == [0.0, 0.0, 0.0] and set(rec._by) == {"r2", "r3", "r4"}
    rec.on_fill("r0", 1.0, 1.0)  # a late fill of a forgotten rest changes nothing
    assert all(e[4] == 0.0 for e in rec.entries)


def test_auto_rests_where_it_placed_and_does_not_chase():
    h = harness("auto", DISCOUNT, candles=calm_candles(bps=1.0))
    soft_gap(h)
    sell = h.places[0]
    assert sell.tif is TimeInForce.POST_ONLY and float(sell.price) == ASK
    for k in range(3, 9):  # the market falls away from our sell, 10 ticks a second
        h.market(T0 + k * S, BID - k * 0.1, ASK - k * 0.1)
    assert len(h.places) == 1 and not h.cancels  # maker_first would have chased it down
    assert h.reb.exec is not None and h.reb.exec.chase_count == 0


def test_auto_takes_a_gap_past_hard_at_once():
    h = harness("auto", DISCOUNT, candles=calm_candles(bps=1.0))
    h.grid_fill(T0 + S, Side.BUY, "0.02", "60100")  # net +0.02: past hard 0.012
    h.market(T0 + 2 * S, BID, ASK)
    d = h.reb.decision
    assert d is not None and h.reb.policy.execution_path(d) == "hard"
    assert d.maker_first and not d.take_now  # under the buy VWAP: the policy would rest 5 s first
    assert [p.tif for p in h.places] == [TimeInForce.IOC]
    assert h.reb.snapshot().decision_cost is None


def test_our_taker_fills_measure_the_slippage_beyond_the_touch():
    h = harness("auto", BASE_TIER, candles=calm_candles())
    soft_gap(h)  # takes at once: an IOC sell priced from the bid, filled at it
    assert [p.tif for p in h.places] == [TimeInForce.IOC]
    total, notional, count = h.reb.desk.taker_slip
    assert count >= 1 and total == pytest.approx(0.0) and notional == pytest.approx(0.003 * BID)
    assert h.reb.desk.estimate(30, 0.003).take_bps == pytest.approx(10.0 + HALF)
    h.reb.desk.taker_slip = [0.5 * 3000.0, 3000.0, 5]  # five fills 0.5 bps past the touch
    assert h.reb.desk.estimate(30, 0.003).take_bps == pytest.approx(10.0 + HALF + 0.5)


def test_a_resting_order_that_fills_counts_as_filled_whenever_its_fill_arrives():
    h = harness("auto", DISCOUNT, candles=calm_candles(bps=1.0))
    soft_gap(h)
    assert [p.tif for p in h.places] == [TimeInForce.POST_ONLY]
    h.trade(T0 + 3 * S, 60_002.0, qty=0.01, buy=True)  # a buyer trades through our sell at 60,001
    assert h.reb.exec is None and h.ex.fills()[-1].is_maker
    assert h.reb.desk.resting.shares() == [1.0]  # from the order's own filled size, not the fill's timing
    _, _, _, cost, notional = h.reb.desk.resting.entries[0]
    assert cost * 1e4 / notional == pytest.approx(2.0 * 60_001 / 60_000 - HALF)  # maker fee, the half spread earned
