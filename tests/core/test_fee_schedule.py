"""Fees as they are (issue 17): ``paper.fees`` (a named tier or explicit rates, Bybit's spot base
tier by default), the paper exchange charging them, and every cost figure using the rates
actually applied (replay JSON, the paper session's rebalancer, the cockpit's snapshot)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from core.config import ConfigError
from core.events import PlaceOrder
from core.model import BTCUSDT_SPOT, OrderRequest, Side, TimeInForce
from core.replay import build_paper, run_replay
from core.venues.market import load_market
from tests.conftest import build_config
from tests.core.helpers_engine import replay_config_dict
from tests.builders import session_engine

D = Decimal
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
BARS = FIXTURES / "bybit_spot_BTCUSDT_1m_2022-12-13_0000-0600.csv.gz"


def fees_config(fees: dict | None):
    return build_config(**({"paper__fees": fees} if fees is not None else {}))


@pytest.mark.parametrize(("fees", "rates"), [
    (None, (0.001, 0.001)),  # Bybit's spot base tier
    ({}, (0.001, 0.001)),
    ({"tier": "base"}, (0.001, 0.001)),
    ({"tier": "perp-base"}, (0.0002, 0.00055)),
    ({"maker": 0.0002, "taker": 0.00055}, (0.0002, 0.00055)),
    ({"maker": 0, "taker": 0.0003}, (0.0, 0.0003)),
])
def test_paper_fees_a_tier_or_explicit_rates(fees, rates):
    assert fees_config(fees).paper.fees.rates == rates


@pytest.mark.parametrize(("fees", "key", "words"), [
    ({"tier": "vip9"}, "paper.fees.tier", "expected one of 'base', 'perp-base'"),
    ({"tier": "bse"}, "paper.fees.tier", "did you mean 'base'?"),
    ({"maker": 0.0002}, "paper.fees.taker", "missing: explicit fees need both maker and taker"),
    ({"taker": 0.0002}, "paper.fees.maker", "missing"),
    ({"tier": "base", "taker": 0.0002}, "paper.fees.tier", "either a tier or maker and taker rates, not both"),
    ({"maker": -0.0001, "taker": 0.001}, "paper.fees.maker", "a number >= 0"),
    ({"maker": 0.0002, "taker": 0.1}, "paper.fees.taker", "<= 0.01"),
    ({"maker": "0.02%", "taker": 0.001}, "paper.fees.maker", "expected a number"),
    ({"makr": 0.0002}, "paper.fees.makr", "did you mean 'maker'?"),
    ("base", "paper.fees", "expected a mapping"),
])
def test_paper_fees_mistakes_name_the_key(fees, key, words):
    with pytest.raises(ConfigError) as e:
        fees_config(fees)
    assert e.value.key == key
    assert words in str(e.value)


def test_execution_style_defaults_to_auto_and_is_checked():
    assert build_config().rebalancer.execution.style == "maker_first"  # the tests' base config pins it
    from core.config import ExecutionConfig
    assert ExecutionConfig().style == "auto"
    with pytest.raises(ConfigError) as e:
        build_config(rebalancer__execution__style="maker-first")
    assert e.value.key == "rebalancer.execution.style" and "did you mean 'maker_first'?" in str(e.value)


def _fill(ex, tif: TimeInForce, side: Side, price: str):
    ex.on_quote(1_000, 59_999.0, 5.0, 60_001.0, 5.0)
    req = OrderRequest(client_id=f"c-{tif.value}-{side.value}", symbol="BTCUSDT", side=side, qty=D("0.01"),
                       price=D(price), tif=tif)
    ex.submit(PlaceOrder(req), 1_000)
    return ex


def test_paper_fills_are_charged_at_the_configured_tier():
    cfg = fees_config({"tier": "perp-base"})
    ex, _grid = build_paper(cfg, 60_000.0, 1_000)
    assert (ex.fees.spot_maker, ex.fees.spot_taker) == (D("0.0002"), D("0.00055"))
    # a taker sell pays in quote: 0.01 x 59,999 x 0.055 %
    _fill(ex, TimeInForce.IOC, Side.SELL, "59990")
    taker = ex.fills()[-1]
    assert not taker.is_maker and taker.fee_coin == "USDT"
    assert taker.fee == D("0.01") * D("59999") * D("0.00055")
    # a maker buy resting at 59,999 and traded through pays in base: 0.01 x 0.02 %
    _fill(ex, TimeInForce.POST_ONLY, Side.BUY, "59999")
    ex.on_trade(2_000, 59_998.0, 1.0, False)
    maker = ex.fills()[-1]
    assert maker.is_maker and maker.fee_coin == "BTC" and maker.fee == D("0.01") * D("0.0002")


def test_the_default_paper_exchange_charges_bybit_s_spot_base_tier():
    ex, _grid = build_paper(fees_config(None), 60_000.0, 1_000)
    assert (ex.fees.spot_maker, ex.fees.spot_taker) == (D("0.001"), D("0.001"))
    assert (ex.fees.linear_maker, ex.fees.linear_taker) == (D("0.0002"), D("0.00055"))  # the grid's, unchanged


@pytest.mark.parametrize(("fees", "maker", "taker"), [({"tier": "perp-base"}, 0.0002, 0.00055), (None, 0.001, 0.001)])
def test_replay_reports_and_costs_the_rates_it_charged(fees, maker, taker):
    data = replay_config_dict()
    if fees is not None:
        data["paper"]["fees"] = fees
    from core.config import config_from_dict
    cfg = config_from_dict(data, file="<test>")
    res = run_replay(cfg, load_market([str(BARS)]))
    r = res.report
    assert (r["instrument"]["maker_fee_rate"], r["instrument"]["taker_fee_rate"]) == (maker, taker)
    assert r["fills"] > 0
    fills = [f for f in res.exchange.fills() if f.symbol == "BTCUSDT" and f.source != "grid"]
    for f in fills:  # every spot fill was charged at the applied rate, in its fee coin
        rate = D(str(maker if f.is_maker else taker))
        assert f.fee == (f.qty * rate if f.fee_coin == "BTC" else f.qty * f.price * rate)
    assert min(maker, taker) * 1e4 - 1e-6 <= r["cost_fee_bps"] <= max(maker, taker) * 1e4 + 1e-6


def test_the_paper_session_hands_its_rates_to_the_rebalancer_and_the_cockpit(tmp_path):
    cfg = build_config(paper__fees={"maker": 0.0002, "taker": 0.00055}, paper__speed=0)
    engine = session_engine(cfg)
    reb = engine.reb
    assert (reb.maker_fee_rate, reb.taker_fee_rate) == (0.0002, 0.00055)
    snap = reb.snapshot()
    assert (snap.maker_fee_rate, snap.taker_fee_rate) == (0.0002, 0.00055)
    ex = engine.venue.exchange
    assert (ex.fees.spot_maker, ex.fees.spot_taker) == (D("0.0002"), D("0.00055"))
