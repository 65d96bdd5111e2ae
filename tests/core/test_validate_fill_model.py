"""``scripts/validate_fill_model.py``: the same maker-first orders against trades + BBO (the tick
model) and against the 1-minute bars built from the same trades (the bar model). On the small
excerpts in tests/fixtures always; on the whole recorded files when ../shared/data is present,
checking what docs/fill-model.md says of them."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location("validate_fill_model", ROOT / "scripts" / "validate_fill_model.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


vfm = _script()


def test_minute_bars_are_the_trades_ohlcv_as_four_prints(excerpt) -> None:
    from core.venues.market import load_market

    trades = load_market(excerpt("binance_spot_BTCUSDT_trades_2024-08-08T235415Z_30s.csv.gz")).trades
    bars = vfm.minute_bars(trades)
    assert bars.points_per_bar == 4 and len(bars) == 4  # the 30 s fall in one minute
    px = list(trades.price)
    assert bars.price[0] == px[0] and bars.price[3] == px[-1]
    assert sorted(bars.price[1:3]) == [min(px), max(px)]
    assert sum(bars.qty) == pytest.approx(sum(trades.qty))


@pytest.mark.parametrize("trades, bbo, tick", [
    ("binance_spot_BTCUSDT_trades_2024-08-08T235415Z_30s.csv.gz",
     "binance_spot_BTCUSDT_bbo_2024-08-08T235415Z_30s.csv.gz", "0.01"),
    ("binance_usdm_BTCUSDT_trades_2024-08-08T235416Z_15s.csv.gz",
     "binance_usdm_BTCUSDT_bbo_2024-08-08T235416Z_15s.csv.gz", "0.1"),
])
def test_comparison_on_the_excerpts(excerpt, trades, bbo, tick) -> None:
    r = vfm.compare(excerpt(trades), excerpt(bbo), tick=tick, every_s=1.0, wait_s=5.0)
    tick_run, bars, old = r["tick"], r["bars"], r["bars_optimistic"]
    assert tick_run.orders == bars.orders == old.orders > 0
    for s in r.values():
        assert 0.0 <= s.fill_rate <= 1.0
        assert s.notional == pytest.approx(s.ordered * (s.notional / s.ordered))  # every order completed
        assert 9.0 < s.cost_bps < 15.0  # the 10 bps fee, give or take the spread and the drift
    assert tick_run.maker_qty > 0  # the queue model does fill maker orders on trades data
    # the honest bar rules never fill more, or cheaper, than the old ones on the same bars
    assert bars.fill_rate <= old.fill_rate and bars.cost_bps >= old.cost_bps
    v = vfm.verdict(tick_run, bars)
    assert set(v) >= {"fill_rate_dev", "cost_dev", "fill_not_higher", "cost_not_lower", "within"}
    assert "| maker wait |" in vfm.table([("x", 5.0, 0.0, r)])


@pytest.mark.parametrize("name", list(vfm.SETS))
@pytest.mark.parametrize("wait_s, offset_bps", [(30.0, 0.0), (60.0, 1.0), (120.0, 0.0)])
def test_bar_model_against_tick_model_on_the_recorded_files(shared_data, name, wait_s, offset_bps) -> None:
    """What docs/fill-model.md reports: from a bar's print spacing (20 s) up, the bar model's fill
    rate and cost are within 20 % of the tick model's, and its cost is never lower."""
    trades, bbo, tick = vfm.SETS[name]
    r = vfm.compare(shared_data(trades), shared_data(bbo), tick=tick, wait_s=wait_s, offset_bps=offset_bps)
    v = vfm.verdict(r["tick"], r["bars"])
    assert v["within"], v
    assert v["cost_not_lower"], v
    assert v["fill_rate_dev"] <= 0.03, v  # at most 3 % over (spot, 60 s: +1 %; see the doc)
