"""``symbols:``: one config per symbol from one file, each validated as a one-symbol file is,
and every problem named by its place in the file (issue 18)."""

from __future__ import annotations

import pytest
import yaml

from core.config import ConfigError, config_from_dict, effective_config_dict, load_config
from tests.builders import REPO_ROOT

EXAMPLE = REPO_ROOT / "examples" / "three-symbols.yaml"


def several(**top) -> dict:
    return {"venue": "paper", "rebalancer": {"policy": "anchor", "thresholds": {"soft": 0.006, "hard": 0.02}},
            "paper": {"grid": {"span_pct": 0.3, "levels": 60, "qty_per_level": 0.005}}, **top}


def test_each_entry_overrides_the_shared_blocks_key_by_key():
    cfg = config_from_dict(several(symbols=["BTCUSDT", {"symbol": "ethusdt", "rebalancer": {"thresholds": {"soft": 0.01}}}]))
    btc, eth = cfg.per_symbol()
    assert (btc.symbol, eth.symbol) == ("BTCUSDT", "ETHUSDT")
    assert eth.rebalancer.settings.thresholds.soft == 0.01
    assert eth.rebalancer.settings.thresholds.hard == 0.02  # the shared value: only soft was overridden
    assert btc.rebalancer.settings.thresholds.soft == 0.006
    assert cfg.symbol == "BTCUSDT" and cfg.symbol_configs == (btc, eth)


def test_a_one_symbol_config_is_one_symbol_exactly_as_before():
    cfg = config_from_dict({"symbol": "BTCUSDT"})
    assert cfg.per_symbol() == (cfg,) and cfg.symbol_configs == ()


def test_shared_paper_base_amounts_keep_their_usdt_value_at_each_symbols_start_price():
    cfg = config_from_dict(several(symbols=["BTCUSDT", "ETHUSDT", {"symbol": "SOLUSDT", "paper": {"start_price": 200}},
                                            {"symbol": "XRPUSDT", "paper": {"grid": {"qty_per_level": 50}}}]))
    btc, eth, sol, xrp = cfg.per_symbol()
    assert btc.paper == cfg.paper  # BTC at the reference price: the block as written
    assert (eth.paper.start_price, eth.paper.base_balance, eth.paper.futures_size, eth.paper.grid.qty_per_level) \
        == (3000.0, 10.0, -10.0, 0.1)
    assert (sol.paper.start_price, sol.paper.base_balance, sol.paper.grid.qty_per_level) == (200.0, 150.0, 1.5)
    assert xrp.paper.grid.qty_per_level == 50  # an entry's own value is taken as written
    assert [c.paper.seed for c in (btc, eth, sol, xrp)] == [7, 8, 9, 10]  # each its own path


@pytest.mark.parametrize("symbols, key, words", [
    (["BTCUSDT", "BTCUSDT"], "symbols[1].symbol", "already symbols[0]"),
    ([], "symbols", "expected a list"),
    ("BTCUSDT", "symbols", "expected a list"),
    ([{"symbol": "ETHUSDT", "rebalancer": {"thresholds": {"soft": -1}}}], "symbols[0].rebalancer.thresholds.soft",
     "expected a number >"),
    (["BTCUSDT", {"symbol": "ETHUSDT", "rebalancr": {}}], "symbols[1].rebalancr", "did you mean 'rebalancer'"),
    ([{"symbol": "ETHUSDT", "mode": "auto"}], "symbols[0].mode", "shared by every symbol"),
    ([{"rebalancer": {}}], "symbols[0].symbol", "missing"),
    ([{"symbol": "ETH-USDT"}], "symbols[0].symbol", "expected a spot symbol"),
    ([42], "symbols[0]", "expected a symbol"),
])
def test_a_mistake_names_its_place_in_the_file(symbols, key, words):
    with pytest.raises(ConfigError) as e:
        config_from_dict(several(symbols=symbols), file="three.yaml")
    assert e.value.key == key and words in str(e.value) and str(e.value).startswith("three.yaml: ")


def test_a_shared_mistake_says_which_symbol_it_broke():
    data = several(symbols=["BTCUSDT", "ETHUSDT"])
    data["rebalancer"]["thresholds"]["hard"] = "big"
    with pytest.raises(ConfigError, match=r"rebalancer.thresholds.hard: expected a number.*for BTCUSDT, symbols\[0\]"):
        config_from_dict(data)


def test_symbol_with_symbols_is_refused():
    with pytest.raises(ConfigError, match="either 'symbol:'.*or 'symbols:'") as e:
        config_from_dict(several(symbol="BTCUSDT", symbols=["ETHUSDT"]))
    assert e.value.key == "symbol"


@pytest.mark.parametrize("paper, key", [({"market": "x.csv"}, "paper.market"), ({"state_file": "p.json"}, "paper.state_file"),
                                        ({"grid": {"lower": 1, "upper": 2}}, "paper.grid.lower"),
                                        ({"futures_entry": 60000}, "paper.futures_entry")])
def test_one_symbols_prices_and_files_are_refused_in_the_shared_paper_block(paper, key):
    with pytest.raises(ConfigError, match="symbols\\[i\\]") as e:
        config_from_dict(several(symbols=["BTCUSDT", "ETHUSDT"], paper=paper))
    assert e.value.key == key


def test_an_unbundled_symbol_with_its_rules_needs_its_paper_start_price():
    entry = {"symbol": "PEPEUSDT", "instrument": {"tick_size": 0.0001, "qty_step": 1, "min_qty": 1}}
    with pytest.raises(ConfigError) as e:
        config_from_dict(several(symbols=["BTCUSDT", entry]))
    assert e.value.key == "symbols[1].paper.start_price"
    cfg = config_from_dict(several(symbols=["BTCUSDT", {**entry, "paper": {"start_price": 1.5}}]))
    assert cfg.per_symbol()[1].instrument.qty_step == 1 and cfg.per_symbol()[0].instrument is None


def test_only_picks_one_entry_and_names_the_choices():
    cfg = config_from_dict(several(symbols=["BTCUSDT", "ETHUSDT"]))
    assert cfg.only("ETHUSDT") is cfg.per_symbol()[1]
    with pytest.raises(ConfigError, match="SOLUSDT is not one of this file's symbols \\(BTCUSDT, ETHUSDT\\)"):
        cfg.only("SOLUSDT")


def test_check_config_prints_what_each_symbol_changes(tmp_path):
    cfg = load_config(EXAMPLE, need_secrets=False)
    eff = effective_config_dict(cfg)
    assert eff["symbol"] == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    assert eff["symbols"]["BTCUSDT"] == {}
    assert eff["symbols"]["ETHUSDT"]["rebalancer.execution.max_trade_base"] == 10
    assert eff["symbols"]["SOLUSDT"]["paper.grid.qty_per_level"] == 2.0
    assert eff["symbols"]["SOLUSDT"]["paper.seed"] == 9 and eff["symbols"]["SOLUSDT"]["paper.driver_seed"] == 7
    assert "rebalancer.thresholds.hard" not in eff["symbols"]["SOLUSDT"]  # quote units: one band for every symbol
    yaml.safe_dump(eff)  # printable as it is


def test_the_example_runs_three_symbols_on_paper():
    cfg = load_config(EXAMPLE, need_secrets=False)
    assert [c.symbol for c in cfg.per_symbol()] == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    assert all(c.venue == "paper" for c in cfg.per_symbol())


def test_a_start_and_check_config_refuse_a_symbol_paper_has_no_rules_for(tmp_path):
    from core.preflight import preflight

    cfg = config_from_dict(several(symbols=["BTCUSDT", "ETHUSDC"]), file="three.yaml")
    with pytest.raises(ConfigError, match="no trading rules for ETHUSDC.*did you mean ETHUSDT") as e:
        preflight(cfg, tmp_path)
    assert e.value.key == "symbols[1].symbol"
    preflight(config_from_dict(several(symbols=["BTCUSDT", "ETHUSDT", "SOLUSDT"])), tmp_path)  # bundled: fine


def test_check_config_exits_2_naming_the_entry(tmp_path, capsys):
    from tui.cli import main

    path = tmp_path / "three.yaml"
    path.write_text(yaml.safe_dump(several(symbols=["BTCUSDT", {"symbol": "SOLUSDT", "rebalancer": {"thresholds": {"hard": 0}}}])))
    assert main(["check-config", "--config", str(path)]) == 2
    assert "symbols[1].rebalancer.thresholds.hard: expected a number > 0" in capsys.readouterr().err


def test_one_symbols_rules_are_refused_as_shared():
    rules = {"tick_size": 0.01, "qty_step": 0.01, "min_qty": 0.01}
    with pytest.raises(ConfigError, match="symbols\\[i\\].instrument") as e:
        config_from_dict(several(symbols=["BTCUSDT", "ETHUSDT"], instrument=rules))
    assert e.value.key == "instrument"


def test_a_grid_under_the_perpetuals_minimum_is_refused_before_the_start(tmp_path):
    from core.preflight import preflight

    btc_sized = config_from_dict({"symbol": "BTCUSDT", "paper": {"grid": {"qty_per_level": 0.005}}}).only("SOLUSDT")
    with pytest.raises(ConfigError, match="at least 0.1 SOL a level") as e:  # --symbol SOLUSDT on a BTC file
        preflight(btc_sized, tmp_path)
    assert e.value.key == "paper.grid.qty_per_level"
    entry = {"symbol": "SOLUSDT", "paper": {"grid": {"qty_per_level": 0.05}}}
    with pytest.raises(ConfigError) as e:
        preflight(config_from_dict(several(symbols=["BTCUSDT", entry])), tmp_path)
    assert e.value.key == "symbols[1].paper.grid.qty_per_level"


def test_check_config_shows_each_symbols_thresholds_in_its_own_coin(capsys):
    """One pair of quote thresholds, three symbols: check-config says what it is in each coin at
    each symbol's own price, so the trader sees the band a shared number makes everywhere."""
    import json

    from tui.cli import main

    assert main(["check-config", "--config", str(EXAMPLE)]) == 0
    text = capsys.readouterr().out
    assert "# ETHUSDT thresholds (anchor, configured in quote) at 3,000 USDT" in text
    assert "soft: 2.4 SOL = 360.00 USDT" in text and "hard: 0.4 ETH = 1,200.00 USDT" in text
    assert main(["check-config", "--config", str(EXAMPLE), "--json"]) == 0
    every = json.loads(capsys.readouterr().out)["thresholds_in_every_unit"]
    assert every["SOLUSDT"]["soft"]["base"] == pytest.approx(2.4) and every["BTCUSDT"]["hard"]["quote"] == 1200
    assert main(["check-config", "--config", str(EXAMPLE), "--price", "100"]) == 2
    assert "--symbol" in capsys.readouterr().err
