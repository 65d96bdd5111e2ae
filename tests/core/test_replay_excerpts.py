"""Replay and the journal on real data in every clone: the ``rebalancer replay`` CLI over the
recorded excerpts in tests/fixtures (cut from ../shared/data; tests/fixtures/README.md).

The full files are replayed by tests/core/test_replay.py when ../shared/data is present; these
run always, through the CLI only (config file in, JSON report and journal file out), so they
hold whatever the replay's insides become.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from core.journal import Journal
from tests.core.helpers_engine import replay_config_dict
from tui.cli import main

# name -> (excerpt files, events in, config overrides). The tick excerpts are seconds long: a
# fine grid (0.02 % span) makes the delta drift within them.
FINE_GRID = {"paper__grid__span_pct": 0.02, "paper__grid__levels": 40, "paper__grid__qty_per_level": 0.01}
SETS = {
    "bybit_spot_6h": (["bybit_spot_BTCUSDT_1m_2022-12-13_0000-0600.csv.gz"], 360 * 4, {}),
    "bybit_spot_6h_quote_bars": (["bybit_spot_BTCUSDT_1m_2022-12-13_0000-0600.csv.gz",
                                  "bybit_spot_BTCUSDT_1m_quotes_2022-12-13_0000-0600.csv.gz"], 360 * 4 + 360, {}),
    "bybit_linear_6h_quote_bars": (["bybit_linear_BTCUSDT_1m_2022-12-13_0000-0600.csv.gz",
                                    "bybit_linear_BTCUSDT_1m_quotes_2022-12-13_0000-0600.csv.gz"], 360 * 4 + 211, {}),
    "bybit_linear_day": (["bybit_linear_BTCUSDT_1m_2025-01-20.csv.gz"], 1440 * 4, {}),
    "binance_usdm_klines_6h": (["binance_usdm_BTCUSDT_1m_2022-05-01_0000-0600.csv.gz"], 360 * 4, {}),
    "binance_spot_ticks_30s": (["binance_spot_BTCUSDT_trades_2024-08-08T235415Z_30s.csv.gz",
                                "binance_spot_BTCUSDT_bbo_2024-08-08T235415Z_30s.csv.gz"], 546 + 2395, FINE_GRID),
    "binance_usdm_ticks_15s": (["binance_usdm_BTCUSDT_trades_2024-08-08T235416Z_15s.csv.gz",
                                "binance_usdm_BTCUSDT_bbo_2024-08-08T235416Z_15s.csv.gz"], 540 + 2942, FINE_GRID),
}
WALL = {"wall_s", "events_per_s"}


@pytest.fixture
def replay(write_config, excerpt, capsys, tmp_path):
    """``replay(set_name, journal=None, *extra)`` -> (exit code, report dict)."""

    def run(name: str, journal: Path | None = None, *extra: str) -> tuple[int, dict]:
        files, _, overrides = SETS[name]
        config = write_config(replay_config_dict(**overrides), name=f"{name}.yaml")
        out = tmp_path / f"report-{len(list(tmp_path.glob('report-*.json')))}.json"
        args = ["replay", "--config", str(config), "--json", str(out), *extra]
        for f in files:
            args += ["--market", str(excerpt(f))]
        if journal is not None:
            args += ["--journal", str(journal)]
        rc = main(args)
        capsys.readouterr()
        return rc, json.loads(out.read_text(encoding="utf-8"))

    return run


@pytest.mark.parametrize("name", list(SETS))
def test_every_excerpt_replays_and_rebalances_the_right_way(name, replay):
    rc, r = replay(name)
    assert rc == 0
    assert r["events_in"] == SETS[name][1] and r["bad_rows"] == 0
    assert r["grid_fills"] > 0, "the grid must move the delta for the run to test anything"
    assert r["orders"] > 0 and r["fills"] > 0 and r["orders"] >= r["rebalances"]
    assert r["wrong_direction_orders"] == 0
    assert r["fills"] == r["maker_fills"] + r["taker_fills"]
    p = r["pnl_quote"]
    assert p["grid"] + p["hedge"] + p["fees"] == pytest.approx(p["total"], abs=2e-3)
    assert p["fees"] == pytest.approx(-r["fees_quote"], abs=1e-4)


def test_tick_excerpts_exercise_maker_and_taker_fills(replay):
    _, spot = replay("binance_spot_ticks_30s")
    _, usdm = replay("binance_usdm_ticks_15s")
    assert min(spot["maker_fills"], usdm["maker_fills"]) > 0
    assert max(spot["taker_fills"], usdm["taker_fills"]) > 0


def test_watch_mode_sends_no_order(replay):
    rc, r = replay("bybit_spot_6h", None, "--mode", "watch")
    assert rc == 0 and r["mode"] == "watch"
    assert (r["orders"], r["fills"], r["rebalance_volume_base"]) == (0, 0, 0.0)
    assert r["grid_fills"] > 0  # the market and the grid still ran
    assert r["max_abs_gap_base"] > 0.012  # nobody hedged the drift past the hard threshold


@pytest.mark.parametrize("policy", ["anchor", "simple", "baseline"])
def test_every_policy_replays_an_excerpt(policy, replay):
    rc, r = replay("bybit_linear_6h_quote_bars", None, "--policy", policy)
    assert rc == 0 and r["policy"] == policy
    assert r["wrong_direction_orders"] == 0 and r["orders"] > 0 and r["fills"] > 0


def test_replay_is_deterministic(replay):
    first, second = replay("bybit_spot_6h_quote_bars")[1], replay("bybit_spot_6h_quote_bars")[1]
    assert {k: v for k, v in first.items() if k not in WALL} == {k: v for k, v in second.items() if k not in WALL}


def journal_fills(path: Path) -> list:
    j = Journal(path, create=False)
    try:
        return j.fills()
    finally:
        j.close()


def test_the_journal_holds_every_fill_once_and_the_same_each_run(replay, tmp_path):
    rc, r = replay("bybit_spot_6h_quote_bars", tmp_path / "a.sqlite")
    assert rc == 0
    fills = journal_fills(tmp_path / "a.sqlite")
    assert Counter(f.source for f in fills) == {"rebalancer": r["fills"], "grid": r["grid_fills"]}
    assert len({f.exec_id for f in fills}) == len(fills)
    # ours are in the journal as the exchange made them: maker/taker split as reported
    ours = [f for f in fills if f.source == "rebalancer"]
    assert sum(f.is_maker for f in ours) == r["maker_fills"]
    assert float(sum(f.qty for f in ours)) == pytest.approx(r["rebalance_volume_base"], abs=1e-8)
    # a second run writes the same fills, field for field
    replay("bybit_spot_6h_quote_bars", tmp_path / "b.sqlite")
    assert journal_fills(tmp_path / "b.sqlite") == fills


# the keys the replay JSON and ``report --json`` share, with the same definitions
SHARED = ("fills", "maker_fills", "taker_fills", "orders", "rebalances", "rebalance_volume_quote", "fees_quote",
          "cost_bps", "cost_fee_bps", "cost_spread_bps", "cost_drift_bps", "maker_markout_60s_bps", "markouts",
          "band_base", "mean_abs_gap_base", "max_abs_gap_base", "pct_time_over_band")


def _hand_cost_from_rows(path: Path) -> tuple[float, float]:
    """Cost and maker markout in bps straight from the journal's rows, with plain SQL: each of
    our fills against the arrival row of the rebalance its client id names."""
    import sqlite3

    con = sqlite3.connect(path)
    arrivals = {r[0]: (r[1], r[2], r[3]) for r in con.execute("SELECT rebalance, mid, bid, ask FROM arrivals")}
    after = dict(con.execute("SELECT exec_id, mid_after FROM markouts"))
    cost = notional = adverse = made = 0.0
    for exec_id, cid, side, price, qty, fee, coin, maker in con.execute(
            "SELECT exec_id, client_id, side, price, qty, fee, fee_coin, is_maker FROM fills"
            " WHERE source = 'rebalancer'"):
        sign = 1 if side == "Buy" else -1
        price, qty, fee = float(price), float(qty), float(fee)
        mid, _bid, _ask = arrivals[cid.rsplit("-", 1)[0]]
        cost += (fee if coin == "USDT" else fee * price) + sign * (price - mid) * qty
        notional += qty * mid
        if maker and exec_id in after:
            adverse += sign * (price - after[exec_id]) * qty
            made += price * qty
    con.close()
    return cost / notional * 1e4, (adverse / made * 1e4 if made else None)


@pytest.mark.parametrize("name", ["binance_spot_ticks_30s", "bybit_spot_6h_quote_bars"])
def test_replay_json_report_json_and_the_rows_agree(name, replay, tmp_path, capsys):
    """Issue 15: one cost definition. The same run's replay JSON, ``report --json`` on its
    journal and a recomputation from the journal's rows give the same cost (to 0.1 bps) and
    the same tracking."""
    path = tmp_path / "run.sqlite"
    rc, r = replay(name, path)
    assert rc == 0 and r["fills"] > 0
    assert main(["report", "--journal", str(path), "--json"]) == 0
    j = json.loads(capsys.readouterr().out)
    for k in SHARED:
        a, b = r[k], j[k]
        if isinstance(a, float) or isinstance(b, float):
            # the replay JSON rounds base amounts to 8 decimals: half a unit of that is within
            tol = 0.1 if k.endswith("_bps") else (0.01 if k.startswith("pct_") else max(abs(a) * 1e-6, 1e-8))
            assert b == pytest.approx(a, abs=tol), k
        else:
            assert a == b, k
    assert j["unreferenced_fills"] == 0
    cost, markout = _hand_cost_from_rows(path)
    assert cost == pytest.approx(r["cost_bps"], abs=0.1)
    if markout is not None:
        assert markout == pytest.approx(r["maker_markout_60s_bps"], abs=0.1)


def test_an_ethusdt_replay_uses_ethusdt_s_rules_and_says_so(write_config, excerpt, tmp_path, capsys):
    config = write_config(replay_config_dict(paper__grid__qty_per_level=0.01), name="eth.yaml")
    out = tmp_path / "eth.json"
    rc = main(["replay", "--config", str(config), "--symbol", "ETHUSDT", "--json", str(out), "--market",
               str(excerpt("bybit_spot_BTCUSDT_1m_2022-12-13_0000-0600.csv.gz"))])
    capsys.readouterr()
    r = json.loads(out.read_text(encoding="utf-8"))
    assert rc == 0 and r["symbol"] == "ETHUSDT"
    assert (r["instrument"]["tick_size"], r["instrument"]["qty_step"]) == ("0.01", "0.00001")


def test_a_grid_too_fine_for_the_symbol_s_perpetual_says_which_key(write_config, excerpt, capsys):
    config = write_config(replay_config_dict(), name="eth-fine.yaml")  # 0.002 per level: under ETH's 0.01 step
    rc = main(["replay", "--config", str(config), "--symbol", "ETHUSDT", "--market",
               str(excerpt("bybit_spot_BTCUSDT_1m_2022-12-13_0000-0600.csv.gz"))])
    err = capsys.readouterr().err
    assert rc == 2 and "paper.grid.qty_per_level" in err and "ETHUSDT" in err


def test_a_symbol_with_no_rules_is_refused_with_a_did_you_mean(replay, capsys, write_config, excerpt):
    config = write_config(replay_config_dict(), name="eth.yaml")
    rc = main(["replay", "--config", str(config), "--symbol", "ETHUSTD", "--market",
               str(excerpt("bybit_spot_BTCUSDT_1m_2022-12-13_0000-0600.csv.gz"))])
    err = capsys.readouterr().err
    assert rc == 2 and "ETHUSTD" in err and "did you mean ETHUSDT" in err


def test_a_symbol_the_table_lacks_replays_with_the_config_s_rules(write_config, excerpt, tmp_path, capsys):
    data = replay_config_dict()
    data["symbol"] = "PEPEUSDT"
    data["instrument"] = {"tick_size": 0.001, "qty_step": 0.0001, "min_qty": 0.0001, "min_notional": 5}
    config = write_config(data, name="pepe.yaml")
    out = tmp_path / "pepe.json"
    rc = main(["replay", "--config", str(config), "--json", str(out), "--market",
               str(excerpt("bybit_spot_BTCUSDT_1m_2022-12-13_0000-0600.csv.gz"))])
    capsys.readouterr()
    r = json.loads(out.read_text(encoding="utf-8"))
    assert rc == 0 and r["symbol"] == "PEPEUSDT"
    assert (r["instrument"]["tick_size"], r["instrument"]["qty_step"]) == ("0.001", "0.0001")
