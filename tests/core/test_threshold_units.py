"""Portable thresholds (issue 18, item 2): the anchor policy's soft / hard in ``quote`` (USDT of
gap notional) and ``pct_of_equity``, turned into base at each decision's price and equity; hold
bands that stay exact when the threshold in base moves with price; ``check-config`` showing
every unit; config errors naming the key.
"""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.config import (
    AnchorConfig, AnchorPolicyConfig, BiasConfig, ConfigError, ExecutionConfig, RiskConfig, ThresholdsConfig,
)
from core.model import Action
from core.policy import AnchorPolicy, PolicyMemory, PolicyView
from core.replay import run_replay
from core.trend import FLAT, TrendView
from core.venues.market import load_market
from tests.builders import examples
from tests.core.helpers_engine import replay_config_dict
from tests.core.test_replay_bulk import compare, synthetic_hour
from tui.cli import main

BTC_6H = "bybit_spot_BTCUSDT_1m_2022-12-13_0000-0600.csv.gz"


def anchor(units: str, soft: float, hard: float, **bias) -> AnchorPolicy:
    cfg = AnchorPolicyConfig(thresholds=ThresholdsConfig(soft=soft, hard=hard, units=units),
                             bias=BiasConfig(**bias) if bias else BiasConfig(mode="off"))
    return AnchorPolicy(cfg, ExecutionConfig(min_trade_base=1e-6), RiskConfig(hysteresis_pct=0.0))


def view(price: float, gap: float, equity: float | None = None) -> PolicyView:
    return PolicyView(ts_ms=1_000, price=price, spot_base=1.0 + gap, futures_base=-1.0, equity=equity)


# ------------------------------------------------------------------------------- conversion


def test_quote_thresholds_are_usdt_of_gap_notional_at_the_decision_s_price():
    p = anchor("quote", 100.0, 300.0)
    assert p.base_thresholds(1.0, 2_000.0) == pytest.approx((0.05, 0.15))
    assert p.base_thresholds(1.0, 50_000.0) == pytest.approx((0.002, 0.006))
    # the same 0.01-coin gap: 150 USDT of a 15,000 coin is past soft, 20 USDT of a 2,000 coin is not
    assert p.decide(view(15_000.0, 0.01), PolicyMemory())[0].action is Action.PARTIAL
    held, _ = p.decide(view(2_000.0, 0.01), PolicyMemory())
    assert held.action is Action.HOLD and held.base_soft == pytest.approx(0.05)


def test_pct_of_equity_thresholds_are_a_share_of_equity_at_the_decision_s_price():
    p = anchor("pct_of_equity", 0.5, 2.0)
    assert p.base_thresholds(1.0, 40_000.0, 80_000.0) == pytest.approx((0.01, 0.04))  # 400 / 1,600 USDT
    assert p.decide(view(40_000.0, 0.012, equity=80_000.0), PolicyMemory())[0].action is Action.PARTIAL
    assert p.decide(view(40_000.0, 0.012, equity=200_000.0), PolicyMemory())[0].action is Action.HOLD
    # no equity known yet: nothing is past a threshold, the policy holds
    unknown, _ = p.decide(view(40_000.0, 0.5), PolicyMemory())
    assert unknown.action is Action.HOLD and unknown.base_soft == math.inf


def test_the_rebalancer_hands_the_policy_the_account_s_equity(make_config):
    from tests.core.helpers_engine import Harness

    cfg = make_config(rebalancer__thresholds={"soft": 0.5, "hard": 2.0, "units": "pct_of_equity"})
    h = Harness(cfg.rebalancer, spot="0.52", usdt="50000", futures="-0.5", price="60000")
    h.trade(1_700_000_000_000, 60_000.0)
    d = h.reb.decide_now()
    equity = h.reb.book.equity_quote(60_000.0)
    assert equity == pytest.approx(0.52 * 60_000 + 50_000, rel=1e-3)
    assert d.base_soft == pytest.approx(0.005 * equity / 60_000)
    assert h.reb.holds.under_floor(0.001, 60_000.0) and not h.reb.holds.under_floor(0.01, 60_000.0)


# ------------------------------------------------------------------------------- hold bands


@st.composite
def quote_states(draw):
    soft = draw(st.floats(5.0, 2_000.0))
    bias = dict(mode=draw(st.sampled_from(["ema", "manual", "off"])), strength=draw(st.floats(0.0, 1.0)),
                w_ema=draw(st.floats(0.0, 1.0)), w_anchor=draw(st.sampled_from([0.0, 0.4, 1.0])),
                manual_override=draw(st.floats(-1.0, 1.0)), min_scale=draw(st.floats(0.1, 1.0)),
                max_scale=draw(st.floats(1.0, 3.0)))
    cfg = AnchorPolicyConfig(thresholds=ThresholdsConfig(soft=soft, hard=soft * 3, units="quote"),
                             bias=BiasConfig(**bias), anchor=AnchorConfig(full_bias_edge_bps=draw(st.floats(1.0, 200.0))))
    policy = AnchorPolicy(cfg, ExecutionConfig(min_trade_base=draw(st.sampled_from([1e-6, 1e-4]))), RiskConfig())
    price = draw(st.floats(0.5, 100_000.0))
    gap = soft / price * draw(st.floats(-1.5, 1.5))
    vwap = st.one_of(st.none(), st.floats(-0.01, 0.01).map(lambda x: price * (1.0 + x)))
    trend = TrendView(True, None, None, 0.0, 0.0, "flat", draw(st.floats(-1.0, 1.0)))
    return policy, dict(ts_ms=10_000, price=price, spot_base=1.0 + gap, futures_base=-1.0, trend=trend,
                        buy_vwap=draw(vwap), sell_vwap=draw(vwap), memory=PolicyMemory())


@settings(max_examples=examples(200), deadline=None, database=None)
@given(case=quote_states(), where=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=5))
def test_in_quote_units_every_price_inside_the_hold_band_is_a_hold(case, where):
    """The soft threshold in base falls as price rises: a band drawn with today's would let a
    rising price pass it unseen. Every price in the band (its edges too) must be a HOLD."""
    policy, s = case
    band = policy.hold_band(**s)
    assert policy.robust_hold_band(s["ts_ms"], s["spot_base"], s["futures_base"], s["buy_vwap"], s["sell_vwap"],
                                   s["memory"]) is None
    if band is None:
        return
    assert band.lo < s["price"] < band.hi
    inside = [math.nextafter(band.lo, math.inf), math.nextafter(band.hi, -math.inf)]
    inside += [band.lo + u * (band.hi - band.lo) for u in where]
    for p in inside:
        if not band.lo < p < band.hi:
            continue
        v = PolicyView(ts_ms=s["ts_ms"], price=p, spot_base=s["spot_base"], futures_base=s["futures_base"],
                       trend=s["trend"], buy_vwap=s["buy_vwap"], sell_vwap=s["sell_vwap"])
        assert policy.decide(v, s["memory"])[0].action is Action.HOLD, (p, band)


def test_pct_of_equity_draws_no_hold_band():
    p = anchor("pct_of_equity", 0.5, 2.0)
    assert p.hold_band(0, 60_000.0, 1.0, -1.0, FLAT, None, None, PolicyMemory()) is None
    assert p.robust_hold_band(0, 1.0, -1.0, None, None, PolicyMemory()) is None


@pytest.mark.parametrize("units,soft,hard", [("quote", 150.0, 500.0), ("pct_of_equity", 0.2, 0.6)])
def test_bulk_replay_equals_one_by_one_with_thresholds_that_move_with_price(units, soft, hard, make_config):
    cfg = make_config(rebalancer__thresholds={"soft": soft, "hard": hard, "units": units},
                      paper__grid={"span_pct": 0.5, "levels": 60, "qty_per_level": 0.002, "mode": "neutral"})
    ref, _ = compare(cfg, synthetic_hour(), "anchor")
    assert ref.report["fills"] > 0


# ------------------------------------------------------------------------------- across symbols


def eth_tape(excerpt, tmp_path: Path, factor: float = 20.0) -> Path:
    """The BTC excerpt as a coin 1/20th the price: the same path, volume × 20."""
    rows = gzip.open(excerpt(BTC_6H), "rt", encoding="utf-8").read().splitlines()
    out = [rows[0]]
    for r in rows[1:]:
        ts, *px, vol = r.split(",")
        out.append(",".join([ts, *(repr(round(float(x) / factor, 4)) for x in px), repr(float(vol) * factor)]))
    path = tmp_path / "eth.csv"
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


def replay(symbol: str, scale: float, thresholds: dict, market: Path) -> dict:
    from core.config import load_config  # noqa: PLC0415
    import yaml

    data = replay_config_dict(rebalancer__thresholds=thresholds, paper__base_balance=0.5 * scale,
                              paper__futures_size=-0.5 * scale, paper__grid__qty_per_level=0.002 * scale,
                              rebalancer__execution__max_trade_base=scale)
    data["symbol"] = symbol
    path = market.parent / f"{symbol}-{thresholds['units']}.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return run_replay(load_config(path, need_secrets=False), load_market([str(market)]), unhedged=False).report


def test_an_ethusdt_replay_with_quote_thresholds_holds_btcusdt_s_notional_band(excerpt, tmp_path):
    """One config in USDT, two coins: the ETH account (20 × the coins at 1/20th the price) holds
    the same notional band as the BTC one; in base units it held a band 20 × narrower in USDT."""
    btc_file, eth_file = excerpt(BTC_6H), eth_tape(excerpt, tmp_path)
    quote = {"soft": 70.0, "hard": 210.0, "units": "quote"}
    btc, eth = replay("BTCUSDT", 1, quote, btc_file), replay("ETHUSDT", 20, quote, eth_file)
    assert eth["symbol"] == "ETHUSDT"
    assert eth["band_base"] == pytest.approx(20 * btc["band_base"], rel=1e-6)  # the same USDT at the first price
    assert eth["mean_abs_gap_base"] == pytest.approx(20 * btc["mean_abs_gap_base"], rel=0.05)
    assert eth["pct_time_over_band"] == pytest.approx(btc["pct_time_over_band"], abs=0.5)
    assert eth["rebalances"] == pytest.approx(btc["rebalances"], rel=0.1)
    assert eth["rebalance_volume_quote"] == pytest.approx(btc["rebalance_volume_quote"], rel=0.1)
    # the old way: BTC's base thresholds carried to ETH trade ~10 × as often
    base = replay("ETHUSDT", 20, {"soft": 0.004, "hard": 0.012, "units": "base"}, eth_file)
    assert base["rebalances"] > 5 * eth["rebalances"]


# ------------------------------------------------------------------------------- config and check-config


@pytest.mark.parametrize("thresholds,key,words", [
    ({"soft": 1, "hard": 2, "units": "usd"}, "rebalancer.thresholds.units", "quote"),
    ({"soft": 2e4, "hard": 3e4, "units": "base"}, "rebalancer.thresholds.soft", "'base'"),
    ({"soft": 50, "hard": 150, "units": "pct_of_equity"}, "rebalancer.thresholds.hard", "<= 100"),
    ({"soft": 500, "hard": 100, "units": "quote"}, "rebalancer.thresholds.soft", "soft < hard"),
])
def test_a_threshold_mistake_names_its_key(thresholds, key, words, make_config):
    with pytest.raises(ConfigError) as e:
        make_config(rebalancer__thresholds=thresholds)
    assert e.value.key == key and words in str(e.value)


def test_quote_thresholds_past_ten_thousand_are_fine(make_config):
    cfg = make_config(rebalancer__thresholds={"soft": 20_000, "hard": 60_000, "units": "quote"})
    assert cfg.rebalancer.settings.thresholds.hard == 60_000


def test_check_config_prints_the_thresholds_in_every_unit_at_the_data_s_first_price(write_config, excerpt, capsys):
    data = replay_config_dict(rebalancer__thresholds={"soft": 100.0, "hard": 400.0, "units": "quote"},
                              paper__market=str(excerpt(BTC_6H)))
    rc = main(["check-config", "--config", str(write_config(data))])
    out = capsys.readouterr().out
    assert rc == 0
    line = next(ln for ln in out.splitlines() if ln.startswith("# thresholds"))
    assert "configured in quote" in line and "17,208.86" in line and "first price in" in line
    equity = 0.5 * 17_208.86 + 50_000
    soft = next(ln for ln in out.splitlines() if ln.startswith("#   soft:"))
    assert f"{100 / 17_208.86:.8g} BTC" in soft and "100.00 USDT" in soft
    assert f"{100 / 17_208.86 / 0.5 * 100:.4g} % of spot notional" in soft
    assert f"{100 / equity * 100:.4g} % of equity" in soft


def test_check_config_json_and_a_live_venue_say_which_price_they_used(write_config, capsys, monkeypatch):
    data = replay_config_dict(rebalancer__thresholds={"soft": 0.5, "hard": 1.5, "units": "pct_of_equity"})
    data["venue"] = "testnet"
    monkeypatch.setenv("BYBIT_API_KEY_Tst", "k")
    monkeypatch.setenv("BYBIT_API_SECRET_Tst", "s")
    rc = main(["check-config", "--config", str(write_config(data)), "--json", "--price", "2500"])
    t = json.loads(capsys.readouterr().out)["thresholds_in_every_unit"]
    assert rc == 0 and t["price"] == 2500 and t["price_from"] == "--price" and t["equity_quote"] is None
    assert t["soft"]["pct_of_equity"] is None and t["soft"]["base"] is None  # no equity: not knowable
    rc = main(["check-config", "--config", str(write_config(data)), "--equity", "10000"])
    out = capsys.readouterr().out
    assert rc == 0 and "paper.start_price standing in: testnet reads the price at start" in out
    assert "soft: 0.00083333333 BTC = 50.00 USDT" in out and "0.5 % of equity" in out


def test_decide_with_thresholds_in_pct_of_equity_needs_the_equity(write_config, capsys):
    data = replay_config_dict(rebalancer__thresholds={"soft": 0.5, "hard": 2.0, "units": "pct_of_equity"})
    config = str(write_config(data))
    args = ["decide", "--config", config, "--spot-base", "0.52", "--futures-base", "-0.5", "--price", "40000"]
    assert main(args) == 2
    assert "--equity" in capsys.readouterr().err
    assert main([*args, "--equity", "80000", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["base_soft"] == pytest.approx(0.01) and d["action"] == "partial"  # 400 USDT at 40,000: 0.01 base
