"""Config loading: both policy shapes, the seed block verbatim, venue resolution, secrets."""

from __future__ import annotations

import re

import pytest

from core.config import (
    ApiSecrets,
    ConfigError,
    config_from_dict,
    effective_config_dict,
    load_config,
    mask,
    parse_timeframe_ms,
)

from tests.builders import DELETE

SECRET = "S3cr3tS3cr3tS3cr3tS3cr3tS3cr3tZZ"  # 32 chars
KEY = "KeyKeyKeyKeyKeyKeyKeyKeyKeyKeyQQ"  # 32 chars
ENV = {"BYBIT_API_KEY_Tst": KEY, "BYBIT_API_SECRET_Tst": SECRET}


# ---------------------------------------------------------------- shipped files


def test_repo_config_yaml_loads(repo_root):
    cfg = load_config(repo_root / "config.yaml", env={}, need_secrets=False)
    assert cfg.symbol == "BTCUSDT"
    assert cfg.policy == "anchor"
    t = cfg.rebalancer.settings.thresholds
    assert t.soft < t.hard


def test_example_simple_yaml_infers_simple(repo_root):
    cfg = load_config(repo_root / "examples" / "simple.yaml", env={}, need_secrets=False)
    assert cfg.policy == "simple"
    assert "inferred" in cfg.policy_note
    s = cfg.rebalancer.settings
    assert (s.rebalance_threshold_usdt, s.trend_multiplier, s.ema_fast_period, s.ema_slow_period) == (100, 1.5, 9, 21)
    # the seed's execution keys land on the shared settings
    assert cfg.rebalancer.execution.maker_first is True
    assert cfg.rebalancer.execution.max_chase_s == 30
    assert cfg.rebalancer.risk.cooldown_s == 10


def test_example_baseline_yaml(repo_root):
    cfg = load_config(repo_root / "examples" / "baseline.yaml", env={}, need_secrets=False)
    assert cfg.policy == "baseline"
    assert cfg.rebalancer.settings.check_interval_s == 60
    assert cfg.rebalancer.settings.min_trade_base == 0.0005


def seed_001_block(repo_root) -> str:
    text = (repo_root.parent / "shared" / "seeds" / "001_cbe9bdb6693e5bdd.txt").read_text(encoding="utf-8")
    m = re.search(r"```yaml\n(rebalancer:.*?)```", text, re.S)
    assert m, "seed 001 has a yaml block"
    return m.group(1)


def test_seed_001_block_verbatim_infers_simple(repo_root, write_config):
    seed = repo_root.parent / "shared" / "seeds" / "001_cbe9bdb6693e5bdd.txt"
    if not seed.exists():
        pytest.skip("seed text not present")
    path = write_config("symbol: BTCUSDT\n" + seed_001_block(repo_root))
    cfg = load_config(path, env={}, need_secrets=False)
    assert cfg.policy == "simple"
    assert cfg.policy_note.startswith("policy: simple (inferred")
    s = cfg.rebalancer.settings
    assert s.target_delta_usdt == 0 and s.rebalance_threshold_usdt == 100
    assert s.use_trend is True and s.trend_threshold_pct == 0.1
    assert s.max_wait_seconds == 30 and s.cooldown_seconds == 10
    assert cfg.venue == "paper" and cfg.mode == "semi"  # defaults


# ---------------------------------------------------------------- shapes


def test_explicit_policy_note(make_config):
    assert make_config().policy_note == "policy: anchor (set in the file)"


def test_anchor_inferred_by_default(make_config):
    cfg = make_config(rebalancer={"risk": {"cooldown_s": 3}})
    assert cfg.policy == "anchor"
    assert "inferred" in cfg.policy_note and "default" in cfg.policy_note


def test_anchor_inferred_from_its_keys(make_config, anchor_block):
    del anchor_block["policy"]
    cfg = make_config(rebalancer=anchor_block)
    assert cfg.policy == "anchor"
    assert "inferred" in cfg.policy_note and "anchor, bias, ema" in cfg.policy_note


def test_simple_keys_map_onto_execution_and_risk(make_config, simple_block):
    block = {**simple_block, "use_limit_orders": False, "max_wait_seconds": 45, "cooldown_seconds": 7}
    cfg = make_config(rebalancer=block)
    assert cfg.rebalancer.execution.maker_first is False
    assert cfg.rebalancer.execution.max_chase_s == 45
    assert cfg.rebalancer.risk.cooldown_s == 7


def test_explicit_shared_blocks_win_over_simple_keys(make_config, simple_block):
    block = {**simple_block, "use_limit_orders": False, "cooldown_seconds": 7,
             "execution": {"maker_first": True, "max_chase_s": 12}, "risk": {"cooldown_s": 3}}
    cfg = make_config(rebalancer=block)
    assert cfg.rebalancer.execution.maker_first is True
    assert cfg.rebalancer.execution.max_chase_s == 12
    assert cfg.rebalancer.risk.cooldown_s == 3


def test_values_reach_the_dataclasses(make_config):
    cfg = make_config(rebalancer__thresholds__soft=0.002, rebalancer__bias__mode="manual",
                      rebalancer__bias__manual_override=-0.5, rebalancer__ema__timeframe="5m")
    a = cfg.rebalancer.settings
    assert a.thresholds.soft == 0.002 and a.bias.mode == "manual" and a.bias.manual_override == -0.5
    assert a.ema.timeframe == "5m"


def test_symbol_is_uppercased(make_config):
    assert make_config(symbol="btcusdt").symbol == "BTCUSDT"


def test_whole_float_accepted_for_int(make_config):
    assert make_config(rebalancer__ema__fast=9.0).rebalancer.settings.ema.fast == 9


# ---------------------------------------------------------------- venue and secrets


@pytest.mark.parametrize("testnet, venue", [(True, "testnet"), (False, "mainnet")])
def test_api_testnet_switch_picks_the_venue(make_config, testnet, venue):
    cfg = make_config(venue=DELETE, api__testnet=testnet, _env=ENV)
    assert cfg.venue == venue
    assert cfg.secrets is not None and cfg.secrets.key == KEY and cfg.secrets.secret == SECRET


def test_no_venue_no_switch_is_paper(make_config):
    cfg = make_config(venue=DELETE)
    assert cfg.venue == "paper" and cfg.secrets is None


def test_secrets_from_env_dict(make_config):
    cfg = make_config(venue="testnet", _env=ENV)
    assert cfg.secrets.key == KEY and cfg.secrets.secret == SECRET


def test_missing_secrets_name_both_variables(make_config):
    with pytest.raises(ConfigError) as ei:
        make_config(venue="testnet", _env={})
    msg = str(ei.value)
    assert "BYBIT_API_KEY_Tst" in msg and "BYBIT_API_SECRET_Tst" in msg
    assert ei.value.key == "api.account_name"
    assert "testnet" in msg


def test_missing_secret_only_names_the_secret(make_config):
    with pytest.raises(ConfigError) as ei:
        make_config(venue="testnet", _env={"BYBIT_API_KEY_Tst": KEY, "BYBIT_API_SECRET_Tst": "   "})
    msg = str(ei.value)
    assert "BYBIT_API_SECRET_Tst" in msg and "BYBIT_API_KEY_Tst" not in msg


def test_paper_needs_no_secrets(make_config):
    assert make_config(_env={}).secrets is None


def test_secrets_never_in_repr():
    s = ApiSecrets(key=KEY, secret=SECRET)
    for text in (repr(s), str(s), f"{s}", f"{s!r}"):
        assert SECRET not in text
        assert KEY not in text
    assert "***" in repr(s)


def test_secrets_not_in_appconfig_repr_or_effective_dict(make_config):
    cfg = make_config(venue="testnet", _env=ENV)
    assert SECRET not in repr(cfg) and KEY not in repr(cfg)
    eff = effective_config_dict(cfg)
    flat = repr(eff)
    assert SECRET not in flat and KEY not in flat
    # key shown as first 2 and last 2 characters; the secret fully hidden
    assert eff["secrets"] == {"BYBIT_API_KEY_Tst": "Ke***QQ", "BYBIT_API_SECRET_Tst": "***"}


@pytest.mark.parametrize("text, out", [(None, "<unset>"), ("", "<unset>"), ("short", "***"),
                                       ("abcdefghij", "ab***ij")])
def test_mask(text, out):
    assert mask(text) == out


# ---------------------------------------------------------------- timeframes


@pytest.mark.parametrize(
    "text, ms",
    [("15s", 15_000), ("1m", 60_000), ("5m", 300_000), ("1h", 3_600_000), ("1d", 86_400_000),
     ("5", 300_000), ("1.5m", 90_000), (" 1M ", 60_000)],
)
def test_parse_timeframe(text, ms):
    assert parse_timeframe_ms(text) == ms


@pytest.mark.parametrize("text", ["", "m", "1x", "fast", "0m", "-1m", "nanm", "infm", "1e999h"])
def test_parse_timeframe_rejects(text):
    with pytest.raises(ConfigError, match="timeframe"):
        parse_timeframe_ms(text, "f.yaml", "rebalancer.ema.timeframe")


# ---------------------------------------------------------------- config_from_dict directly


def test_config_error_fields(make_config):
    with pytest.raises(ConfigError) as ei:
        make_config(rebalancer__bias__strength=1.5)
    e = ei.value
    assert e.file == "<test>" and e.key == "rebalancer.bias.strength" and e.got == 1.5
    assert str(e) == "<test>: rebalancer.bias.strength: expected a number <= 1 and >= 0 (got float 1.5)"


def test_none_and_scalar_top_level():
    with pytest.raises(ConfigError, match="is empty"):
        config_from_dict(None)
    with pytest.raises(ConfigError, match="mapping at the top level"):
        config_from_dict("symbol")


def test_bare_yaml_off_is_the_off_bias_mode(tmp_path):
    # YAML 1.1 reads `mode: off` as false; the config must still mean the "off" bias mode
    from core.config import load_config

    p = tmp_path / "c.yaml"
    p.write_text("symbol: BTCUSDT\nrebalancer:\n  policy: anchor\n  bias:\n    mode: off\n")
    assert load_config(p).rebalancer.settings.bias.mode == "off"
