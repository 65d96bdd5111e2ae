"""The headless CLI: ``decide`` (what-if) for every policy and ``check-config`` with secrets."""

from __future__ import annotations

import json

import pytest

from core.config import load_config
from core.whatif import what_if
from tui.cli import main

from tests.builders import BASE_CONFIG, SIMPLE_BLOCK, TEST_KEY as KEY, TEST_SECRET as SECRET, apply_overrides
from tests.builders import forget_test_keys


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):
    """Run ``main(argv)`` from an empty tmp dir; returns (exit code, stdout, stderr)."""
    monkeypatch.chdir(tmp_path)
    forget_test_keys(monkeypatch)

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def anchor_file(write_config):
    return str(write_config(BASE_CONFIG, name="anchor.yaml"))


@pytest.fixture
def simple_file(write_config):
    data = {k: v for k, v in BASE_CONFIG.items() if k != "rebalancer"}
    return str(write_config({**data, "rebalancer": SIMPLE_BLOCK}, name="simple.yaml"))


# ---------------------------------------------------------------- decide: anchor


def test_decide_anchor_text(cli, anchor_file):
    # spot 0.55 + futures −0.5 = gap 0.05 ≥ hard 0.012 -> sell the full 0.05; no fills: take now
    code, out, err = cli("decide", "--config", anchor_file, "--spot-base", "0.55", "--futures-base", "-0.5",
                         "--price", "60000")
    assert code == 0 and err == ""
    assert "policy: anchor (set in the file)" in out
    assert "FULL  SELL 0.05000000 base" in out
    assert "take now" in out
    assert "≥ hard 0.012000" in out  # the reason line


def test_decide_anchor_json_hand_checked(cli, anchor_file):
    code, out, _ = cli("decide", "--config", anchor_file, "--spot-base", "0.508", "--futures-base", "-0.5",
                       "--price", "60150", "--ema-fast", "60120", "--ema-slow", "60000", "--buy-vwap", "60000",
                       "--json")
    assert code == 0
    d = json.loads(out)
    # gap = 0.508 − 0.5 = 0.008 (long drift -> SELL)
    # trend: spread (60120/60000 − 1)·100 = 0.2 % ≥ 0.1 -> signal clamp(2) = 1 -> ema_bias +1
    # anchor: (60150/60000 − 1)·1e4 = 25 bps in favour -> −25/50 = −0.5
    # combined 0.6·1 + 0.4·(−0.5) = 0.4 -> scale 1 + 0.5·0.4 = 1.2
    # effective soft 0.004·1.2 = 0.0048, hard 0.012·1.2 = 0.0144 -> soft path, partial 0.5·0.008
    # gate: SELL needs 60150 ≥ 60000·1.0005 = 60030 -> passes
    assert d["action"] == "partial" and d["side"] == "Sell"
    assert d["qty_base"] == pytest.approx(0.004)
    assert d["gap_base"] == pytest.approx(0.008)
    assert d["effective_soft"] == pytest.approx(0.0048)
    assert d["effective_hard"] == pytest.approx(0.0144)
    assert d["bias"]["combined"] == pytest.approx(0.4)
    assert d["gate"]["passed"] is True and d["gate"]["limit_price"] == pytest.approx(60030.0)
    assert "soft" in d["reason"] and "sell" in d["reason"]


def test_decide_policy_override(cli, anchor_file):
    code, out, _ = cli("decide", "--config", anchor_file, "--spot-base", "0.45", "--futures-base", "-0.5",
                       "--price", "60000", "--policy", "baseline", "--json")
    d = json.loads(out)
    # baseline (defaults: min trade 0.0005): gap −0.05 -> buy all 0.05 at market
    assert code == 0 and d["policy"] == "baseline"
    assert d["action"] == "full" and d["side"] == "Buy" and d["qty_base"] == pytest.approx(0.05)
    assert d["take_now"] is True


# ---------------------------------------------------------------- decide: simple


@pytest.mark.parametrize(
    "spot, fast, action, side, qty, threshold",
    [
        # seed 001 scenario 1: $500 long in an uptrend (101 vs 100: +1 %) -> threshold 150 -> sell all
        (0.01, "101", "full", "Sell", 0.01, 150.0),
        # scenario 2: downtrend (99 vs 100) -> threshold 100 -> sell
        (0.01, "99", "full", "Sell", 0.01, 100.0),
        # divergence 120 (0.0024 × 50000) in an uptrend -> 120 < 150 -> hold
        (0.0024, "101", "hold", "Sell", 0.0, 150.0),
        (0.0024, "99", "full", "Sell", 0.0024, 100.0),
    ],
)
def test_decide_simple_json(cli, simple_file, spot, fast, action, side, qty, threshold):
    code, out, _ = cli("decide", "--config", simple_file, "--spot-base", str(spot), "--futures-base", "0",
                       "--price", "50000", "--ema-fast", fast, "--ema-slow", "100", "--json")
    assert code == 0
    d = json.loads(out)
    assert d["policy"] == "simple" and d["unit"] == "usdt"
    assert d["action"] == action and d["side"] == side
    assert d["qty_base"] == pytest.approx(qty)
    assert d["gap_base"] == pytest.approx(spot)
    assert d["gap"] == pytest.approx(spot * 50_000)
    assert d["effective_soft"] == pytest.approx(threshold) and d["effective_hard"] == pytest.approx(threshold)
    assert str(int(threshold)) in d["reason"]


def test_decide_simple_text(cli, simple_file):
    code, out, _ = cli("decide", "--config", simple_file, "--spot-base", "0.01", "--futures-base", "0",
                       "--price", "50000", "--ema-fast", "101", "--ema-slow", "100")
    assert code == 0
    assert "policy: simple (inferred" in out
    assert "FULL  SELL 0.01000000 base" in out
    assert "divergence +500.00 USDT beyond ±150.00" in out


# ---------------------------------------------------------------- decide: errors


@pytest.mark.parametrize("flag", ["--ema-fast", "--ema-slow"])
def test_decide_needs_both_emas(cli, anchor_file, flag):
    code, out, err = cli("decide", "--config", anchor_file, "--spot-base", "0.55", "--futures-base", "-0.5",
                         "--price", "60000", flag, "60000")
    assert code == 2 and out == ""
    assert "--ema-fast" in err and "--ema-slow" in err and "both" in err


def test_decide_rejects_zero_price(cli, anchor_file):
    code, _, err = cli("decide", "--config", anchor_file, "--spot-base", "0.55", "--futures-base", "-0.5",
                       "--price", "0")
    assert code == 2 and "--price must be > 0" in err


SNAPSHOT = ("--spot-base", "0.55", "--futures-base", "-0.5", "--price", "60000")


@pytest.mark.parametrize("flag, value, expected", [
    # NaN and infinity: each would still decide (--buy-vwap nan made thresholds nan: HOLD, not FULL SELL 0.05)
    ("--price", "nan", "finite"), ("--price", "inf", "finite"), ("--spot-base", "nan", "finite"),
    ("--futures-base", "-inf", "finite"), ("--ema-fast", "nan", "finite"), ("--slope-pct", "nan", "finite"),
    ("--buy-vwap", "nan", "finite"), ("--sell-vwap", "inf", "finite"), ("--equity", "inf", "finite"),
    # values no account or market has
    ("--spot-base", "-5", "≥ 0"), ("--buy-vwap", "-1", "> 0"), ("--sell-vwap", "0", "> 0"),
    ("--price", "0", "> 0"), ("--ema-fast", "-1", "> 0"),
])
def test_decide_refuses_a_bad_number_naming_its_option(cli, anchor_file, flag, value, expected):
    given = dict(zip(SNAPSHOT[::2], SNAPSHOT[1::2]))
    given[flag] = value
    if flag in ("--ema-fast", "--slope-pct"):
        given.setdefault("--ema-slow", "60000")
        given.setdefault("--ema-fast", "60000")
    argv = [f"{k}={v}" for k, v in given.items()]  # '=': argparse reads "-inf" as a value, not an option
    code, out, err = cli("decide", "--config", anchor_file, *argv, "--json")
    assert (code, out) == (2, "")
    assert f"{flag} must be" in err and expected in err and value in err


def test_decide_with_a_broken_config(cli, write_config):
    path = str(write_config(apply_overrides(BASE_CONFIG, {"rebalancer__bias__strength": 1.5}), name="bad.yaml"))
    code, out, err = cli("decide", "--config", path, "--spot-base", "0.55", "--futures-base", "-0.5",
                         "--price", "60000")
    assert code == 2 and out == ""
    assert path in err and "rebalancer.bias.strength" in err


def test_what_if_reserve_is_removed(write_config):
    # reserve 0.1: spot in the hedge = 0.65 − 0.1 = 0.55 -> gap 0.05
    path = write_config(apply_overrides(BASE_CONFIG, {"rebalancer__spot_reserve_base": 0.1}), name="r.yaml")
    d = what_if(load_config(path, need_secrets=False), spot_base=0.65, futures_base=-0.5, price=60_000.0)
    assert d.gap_base == pytest.approx(0.05) and d.qty_base == pytest.approx(0.05)


# ---------------------------------------------------------------- check-config and secrets


@pytest.fixture
def testnet_file(write_config):
    return str(write_config(apply_overrides(BASE_CONFIG, {"venue": "testnet"}), name="testnet.yaml"))


@pytest.mark.parametrize("as_json", [False, True])
def test_check_config_masks_secrets(cli, testnet_file, monkeypatch, as_json):
    monkeypatch.setenv("BYBIT_API_KEY_Tst", KEY)
    monkeypatch.setenv("BYBIT_API_SECRET_Tst", SECRET)
    code, out, err = cli("check-config", "--config", testnet_file, *(["--json"] if as_json else []))
    assert code == 0
    assert SECRET not in out + err
    assert KEY not in out + err
    assert "Ke***QQ" in out  # the key, masked to 2 + 2 characters
    if as_json:
        eff = json.loads(out)
        assert eff["venue"] == "testnet"
        assert eff["secrets"] == {"BYBIT_API_KEY_Tst": "Ke***QQ", "BYBIT_API_SECRET_Tst": "***"}
    else:
        assert "OK" in out and "venue: testnet" in out


def test_check_config_secrets_from_world_readable_env_file(cli, testnet_file, tmp_path):
    env = tmp_path / ".env"
    env.write_text(f"BYBIT_API_KEY_Tst={KEY}\nBYBIT_API_SECRET_Tst={SECRET}\n")
    env.chmod(0o644)
    code, out, err = cli("check-config", "--config", testnet_file)
    assert code == 0
    assert SECRET not in out + err and KEY not in out + err
    assert "readable by other users" in err and "chmod 600" in err  # on stderr, as the README says


def test_check_config_without_keys_names_both(cli, testnet_file):
    code, out, err = cli("check-config", "--config", testnet_file)
    assert code == 2 and out == ""
    assert "BYBIT_API_KEY_Tst" in err and "BYBIT_API_SECRET_Tst" in err


def test_decide_json_prints_numbers_without_binary_noise(cli, anchor_file):
    """0.5083 - 0.5 is 0.008299999999999974 in binary floats; a person reads 0.0083."""
    rc, out, _ = cli("decide", "--config", str(anchor_file), "--spot-base", "0.5083", "--futures-base", "-0.5",
                     "--price", "60000", "--json")
    assert rc == 0
    d = json.loads(out)
    assert d["gap_base"] == 0.0083 and "99999" not in out and "ts_ms" not in d
