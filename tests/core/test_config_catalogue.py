"""A catalogue of broken configs, each loaded from a file through the real CLI
(``rebalancer check-config --config PATH``): exit code 2, nothing on stdout, and one stderr
line naming the file, the key path and what was expected."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import pytest

from tui.cli import main

from tests.builders import BASE_CONFIG, DELETE, SIMPLE_BLOCK, apply_overrides


def cfg(**overrides: Any) -> dict:
    """The valid anchor base config with ``a__b=value`` overrides."""
    return apply_overrides(BASE_CONFIG, overrides)


def simple(**overrides: Any) -> dict:
    """The valid seed-001 (simple) config with overrides inside its rebalancer block."""
    return apply_overrides({**BASE_CONFIG, "rebalancer": SIMPLE_BLOCK},
                           {f"rebalancer__{k}": v for k, v in overrides.items()})


@dataclass(frozen=True)
class Case:
    id: str
    content: Any  # dict/list -> YAML dump; str/bytes -> written as is; MISSING_FILE; DIRECTORY
    key: str | None  # the key path expected in the message (None: whole-file problems)
    words: tuple[str, ...]
    marks: tuple = field(default=())


MISSING_FILE = "<<missing>>"
DIRECTORY = "<<directory>>"

CASES = [
    # --- typos, with did-you-mean
    Case("typo-top-level", apply_overrides(cfg(symbol=DELETE), {"symbl": "BTCUSDT"}), "symbl",
         ("unknown top-level key", "did you mean 'symbol'")),
    Case("typo-top-level-rebalancer", {"symbol": "BTCUSDT", "rebalancr": {}}, "rebalancr",
         ("unknown top-level key", "did you mean 'rebalancer'")),
    Case("typo-thresholds-sofft", cfg(rebalancer__thresholds__sofft=0.004), "rebalancer.thresholds.sofft",
         ("unknown key", "did you mean 'soft'")),
    Case("typo-bias-strenght", cfg(rebalancer__bias__strenght=0.5), "rebalancer.bias.strenght",
         ("unknown key", "did you mean 'strength'")),
    Case("typo-anchor-block-key", cfg(rebalancer__partial_rebalance_ration=0.5),
         "rebalancer.partial_rebalance_ration", ("unknown key", "did you mean 'partial_rebalance_ratio'")),
    Case("typo-simple-key", simple(cooldown_second=10), "rebalancer.cooldown_second",
         ("unknown key for the simple policy", "did you mean 'cooldown_seconds'")),
    Case("typo-risk-key", cfg(rebalancer__risk__cooldwn_s=10), "rebalancer.risk.cooldwn_s",
         ("unknown key", "did you mean 'cooldown_s'")),
    Case("typo-mode-value", cfg(mode="atuo"), "mode", ("expected one of", "did you mean 'auto'")),
    Case("typo-units-value", cfg(rebalancer__thresholds__units="bse"), "rebalancer.thresholds.units",
         ("expected one of", "did you mean 'base'")),
    # --- wrong types
    Case("string-for-number", cfg(rebalancer__thresholds__soft="small"), "rebalancer.thresholds.soft",
         ("expected a number", "got str 'small'")),
    Case("list-for-mapping", cfg(rebalancer__bias=[0.5, 0.6]), "rebalancer.bias",
         ("expected a mapping",)),
    Case("list-for-api-mapping", cfg(api=["Wood"]), "api", ("expected a mapping",)),
    Case("bool-for-number", cfg(rebalancer__bias__strength=True), "rebalancer.bias.strength",
         ("expected a number", "got bool True")),
    Case("float-for-whole-number", cfg(rebalancer__ema__fast=9.5), "rebalancer.ema.fast",
         ("expected a whole number",)),
    Case("string-for-bool", cfg(api__testnet="yes"), "api.testnet", ("expected true or false",)),
    Case("simple-string-for-bool", simple(use_trend="sometimes"), "rebalancer.use_trend",
         ("expected true or false",)),
    Case("rebalancer-is-text", cfg(rebalancer="anchor"), "rebalancer", ("expected a mapping",)),
    # --- out of range
    Case("strength-1.5", cfg(rebalancer__bias__strength=1.5), "rebalancer.bias.strength",
         ("expected a number <= 1", "got float 1.5")),
    Case("ratio-0", cfg(rebalancer__partial_rebalance_ratio=0), "rebalancer.partial_rebalance_ratio",
         ("expected a number > 0",)),
    Case("ratio-1.2", cfg(rebalancer__partial_rebalance_ratio=1.2), "rebalancer.partial_rebalance_ratio",
         ("expected a number <= 1",)),
    Case("negative-w-ema", cfg(rebalancer__bias__w_ema=-0.1), "rebalancer.bias.w_ema", ("expected a number >= 0",)),
    Case("negative-w-anchor", cfg(rebalancer__bias__w_anchor=-0.4), "rebalancer.bias.w_anchor",
         ("expected a number >= 0",)),
    Case("zero-weights", cfg(rebalancer__bias__w_ema=0, rebalancer__bias__w_anchor=0), "rebalancer.bias.w_ema",
         ("w_ema + w_anchor > 0",)),
    Case("manual-override-2", cfg(rebalancer__bias__manual_override=2), "rebalancer.bias.manual_override",
         ("expected a number <= 1", "got int 2")),
    Case("min-scale-0", cfg(rebalancer__bias__min_scale=0), "rebalancer.bias.min_scale",
         ("expected a number > 0",)),
    Case("max-scale-0.5", cfg(rebalancer__bias__max_scale=0.5), "rebalancer.bias.max_scale",
         ("expected a number >= 1",)),
    Case("negative-ema-period", cfg(rebalancer__ema__fast=-9), "rebalancer.ema.fast", ("expected a number >= 1",)),
    Case("simple-negative-period", simple(ema_slow_period=-21), "rebalancer.ema_slow_period",
         ("expected a number >= 1",)),
    Case("negative-cooldown", cfg(rebalancer__risk__cooldown_s=-1), "rebalancer.risk.cooldown_s",
         ("expected a number >= 0",)),
    Case("simple-negative-cooldown", simple(cooldown_seconds=-5), "rebalancer.cooldown_seconds",
         ("expected a number >= 0",)),
    Case("simple-multiplier-below-1", simple(trend_multiplier=0.5), "rebalancer.trend_multiplier",
         ("expected a number >= 1",)),
    Case("simple-threshold-0", simple(rebalance_threshold_usdt=0), "rebalancer.rebalance_threshold_usdt",
         ("expected a number > 0",)),
    Case("typo-ui-theme", cfg(ui={"theme": "catpuccin-latte"}), "ui.theme",
         ("expected one of", "'textual-dark'", "did you mean 'catppuccin-latte'")),
    Case("refresh-hz-100", cfg(ui={"refresh_hz": 100}), "ui.refresh_hz", ("expected a number <= 10",)),
    Case("proposal-ttl-0", cfg(rebalancer__proposal_ttl_s=0), "rebalancer.proposal_ttl_s", ("expected a number > 0",)),
    Case("proposals-size-tolerance-2", cfg(rebalancer__proposals__size_tolerance=2),
         "rebalancer.proposals.size_tolerance", ("expected a number <= 1 and >= 0",)),
    Case("proposals-negative-price-tolerance", cfg(rebalancer__proposals__price_tolerance_bps=-1),
         "rebalancer.proposals.price_tolerance_bps", ("expected a number >= 0",)),
    Case("proposals-typo", cfg(rebalancer__proposals__size_tolerence=0.2), "rebalancer.proposals.size_tolerence",
         ("did you mean 'size_tolerance'",)),
    Case("proposals-not-a-mapping", cfg(rebalancer__proposals=5), "rebalancer.proposals", ("expected",)),
    Case("min-trade-above-max", cfg(rebalancer__execution__min_trade_base=1.0, rebalancer__execution__max_trade_base=0.5),
         "rebalancer.execution.min_trade_base", ("min_trade_base <= max_trade_base",)),
    # --- cross-field rules
    Case("soft-above-hard", cfg(rebalancer__thresholds__soft=0.02), "rebalancer.thresholds.soft",
         ("expected soft < hard",)),
    Case("soft-equals-hard", cfg(rebalancer__thresholds__soft=0.012), "rebalancer.thresholds.soft",
         ("expected soft < hard",)),
    Case("anchor-fast-ge-slow", cfg(rebalancer__ema__fast=21), "rebalancer.ema.fast", ("expected fast < slow",)),
    Case("simple-fast-ge-slow", simple(ema_fast_period=30), "rebalancer.ema_fast_period",
         ("expected ema_fast_period < ema_slow_period",)),
    Case("grid-lower-ge-upper", cfg(paper={"grid": {"lower": 61000, "upper": 59000}}), "paper.grid.lower",
         ("expected lower < upper",)),
    Case("grid-lower-only", cfg(paper={"grid": {"lower": 59000}}), "paper.grid.lower",
         ("both lower and upper",)),
    Case("testnet-true-venue-mainnet", cfg(venue="mainnet", api__testnet=True), "venue",
         ("contradicts api.testnet",)),
    # --- required, unknown names
    Case("missing-symbol", cfg(symbol=DELETE), "symbol", ("missing", "symbol: BTCUSDT")),
    Case("symbol-not-usdt", cfg(symbol="BTCEUR"), "symbol", ("quoted in USDT or USDC",)),
    Case("unknown-policy", cfg(rebalancer__policy="fancy"), "rebalancer.policy",
         ("expected one of 'anchor', 'simple', 'baseline'", "got str 'fancy'")),
    Case("unknown-venue", cfg(venue="testnt"), "venue", ("expected one of", "did you mean 'testnet'")),
    Case("mixed-policy-shapes", apply_overrides(cfg(rebalancer__policy=DELETE), {"rebalancer__target_delta_usdt": 0}),
         "rebalancer", ("mixed", "target_delta_usdt", "(simple)", "(anchor)", "set 'policy:'")),
    Case("mixed-simple-and-baseline-shapes",
         {"symbol": "BTCUSDT", "rebalancer": {"use_trend": True, "check_interval_s": 5}},
         "rebalancer", ("mixed", "use_trend", "(simple)", "check_interval_s", "(baseline)")),
    Case("mixed-anchor-and-baseline-shapes",
         {"symbol": "BTCUSDT", "rebalancer": {"thresholds": {"soft": 0.004, "hard": 0.012}, "check_interval_s": 5}},
         "rebalancer", ("mixed", "thresholds", "(anchor)", "check_interval_s", "(baseline)")),
    Case("anchor-key-under-simple", simple(policy="simple", thresholds={"soft": 1, "hard": 2}),
         "rebalancer.thresholds", ("belongs to the anchor policy", "policy is 'simple'")),
    Case("baseline-key-under-anchor", cfg(rebalancer__check_interval_s=60), "rebalancer.check_interval_s",
         ("belongs to the baseline policy", "policy is 'anchor'")),
    Case("testnet-without-keys", cfg(venue="testnet"), "api.account_name",
         ("needs API keys", "BYBIT_API_KEY_Tst", "BYBIT_API_SECRET_Tst")),
    # --- the file itself
    Case("missing-file", MISSING_FILE, None, ("file not found",)),
    Case("directory", DIRECTORY, None, ("is a directory",)),
    Case("invalid-yaml-indent", "symbol: BTCUSDT\nvenue: paper\nmode: semi\n  bad: indent\n", None,
         ("invalid YAML at line 4", "mapping values are not allowed")),
    Case("invalid-yaml-tab", "symbol: BTCUSDT\n\tvenue: paper\n", None, ("invalid YAML at line 2",)),
    Case("invalid-yaml-unclosed-quote", 'symbol: BTCUSDT\nvenue: "paper\n', None, ("invalid YAML at line 3",)),
    Case("empty-file", "", None, ("is empty",)),
    Case("comments-only", "# nothing here\n\n", None, ("is empty",)),
    Case("not-utf8", b"symbol: BTCUSDT\nvenue: \xff\xfe\n", None, ("not UTF-8",)),
    Case("top-level-list", ["symbol", "BTCUSDT"], None, ("expected a mapping at the top level",)),
    Case("top-level-scalar", "just some text\n", None, ("expected a mapping at the top level",)),
    # --- timeframes
    Case("bad-timeframe", cfg(rebalancer__ema__timeframe="1x"), "rebalancer.ema.timeframe",
         ("expected a timeframe such as 15s, 1m",)),
    Case("zero-timeframe", cfg(rebalancer__ema__timeframe="0m"), "rebalancer.ema.timeframe",
         ("expected a timeframe from 1s to 1d",)),
    Case("simple-bad-timeframe", simple(ema_timeframe="fast"), "rebalancer.ema_timeframe",
         ("expected a timeframe",)),
    Case("infinite-timeframe", cfg(rebalancer__ema__timeframe="1e999m"), "rebalancer.ema.timeframe",
         ("expected a timeframe such as",)),  # regression: used to crash (OverflowError)
    Case("inf-timeframe-unit", cfg(rebalancer__ema__timeframe="infm"), "rebalancer.ema.timeframe",
         ("expected a timeframe such as",)),
    # --- NaN / inf (YAML .nan / .inf)
    Case("nan-soft", "symbol: BTCUSDT\nrebalancer:\n  thresholds: {soft: .nan, hard: 0.012}\n",
         "rebalancer.thresholds.soft", ("expected a finite number",)),
    Case("inf-strength", "symbol: BTCUSDT\nrebalancer:\n  bias: {strength: .inf}\n",
         "rebalancer.bias.strength", ("expected a finite number",)),
    Case("minus-inf-cap", "symbol: BTCUSDT\nrebalancer:\n  risk: {max_notional_per_trade: -.inf}\n",
         "rebalancer.risk.max_notional_per_trade", ("expected a finite number",)),
    Case("nan-simple-threshold", "symbol: BTCUSDT\nrebalancer:\n  rebalance_threshold_usdt: .NaN\n",
         "rebalancer.rebalance_threshold_usdt", ("expected a finite number",)),
    Case("nan-period", "symbol: BTCUSDT\nrebalancer:\n  ema: {fast: .nan}\n", "rebalancer.ema.fast",
         ("expected a whole number",)),
    # --- YAML traps (issue 14): refused with one bounded line, never a crash or a silent choice
    Case("duplicate-key", "symbol: BTCUSDT\nmode: watch\nvenue: paper\nmode: auto\n", None,
         ("duplicate key 'mode'", "lines 2 and 4")),
    Case("duplicate-nested-key", "symbol: BTCUSDT\nrebalancer:\n  thresholds: {soft: 0.001, soft: 0.002}\n", None,
         ("duplicate key 'soft'",)),
    Case("alias-bomb", "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
         "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nsymbol: *e\n", None,
         ("too large",)),
    Case("deep-brackets", "symbol: " + "[" * 5000 + "]" * 5000 + "\n", None, ("nested deeper than",)),
    Case("400-digit-number", f"symbol: BTCUSDT\nrebalancer:\n  thresholds: {{soft: {'9' * 400}}}\n", None,
         ("digits: too long",)),
    Case("over-1-MB", "symbol: BTCUSDT\n" + "# padding\n" * 110_000, None, ("a config file is a few KB",)),
    Case("huge-value-in-message", cfg(mode="x" * 500_000), "mode", ("expected one of",)),
    # --- numbers far outside any sane range (each used to crash or hang the start)
    Case("window-1e306", cfg(rebalancer__anchor__window_s=1e306), "rebalancer.anchor.window_s", ("<= 604800",)),
    Case("lookback-1e306", cfg(rebalancer__ema__slope_lookback_s=1e306), "rebalancer.ema.slope_lookback_s",
         ("<= 86400",)),
    Case("grid-levels-1e9", cfg(paper__grid__levels=10 ** 9), "paper.grid.levels", ("<= 1000",)),
    Case("max-chase-1e306", cfg(rebalancer__execution__max_chase_s=1e306), "rebalancer.execution.max_chase_s",
         ("<= 3600",)),
    Case("stale-after-1e306", cfg(rebalancer__risk__stale_after_s=1e306), "rebalancer.risk.stale_after_s",
         ("<= 3600",)),
    Case("start-price-1e-300", cfg(paper__start_price=1e-300), "paper.start_price", (">= 1e-06",)),
    Case("target-1e300", cfg(rebalancer__desired_net_delta_base=1e300), "rebalancer.desired_net_delta_base",
         ("<= 1000000",)),
    Case("billion-day-candles", cfg(rebalancer__ema__timeframe="1000000000d"), "rebalancer.ema.timeframe",
         ("from 1s to 1d",)),
    Case("bias-weight-1e308", cfg(rebalancer__bias__w_ema=1e308), "rebalancer.bias.w_ema", ("<= 10",)),
]


@pytest.fixture
def isolated_env(tmp_path, monkeypatch):
    """No .env in reach and no account variables: the CLI sees only what the case wrote."""
    monkeypatch.chdir(tmp_path)
    for name in ("BYBIT_API_KEY_Tst", "BYBIT_API_SECRET_Tst"):
        monkeypatch.delenv(name, raising=False)


def _materialise(case: Case, tmp_path, write_config) -> str:
    if case.content == MISSING_FILE:
        return str(tmp_path / "nowhere" / "config.yaml")
    if case.content == DIRECTORY:
        d = tmp_path / "config.d"
        d.mkdir()
        return str(d)
    return str(write_config(case.content, name="broken.yaml"))


def test_catalogue_is_big_enough():
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=c.marks) for c in CASES])
def test_broken_config_exits_2_with_a_clear_line(case, tmp_path, write_config, isolated_env, capsys):
    path = _materialise(case, tmp_path, write_config)
    code = main(["check-config", "--config", path])
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert out == ""
    line = err.strip()
    assert "\n" not in line, "one line"
    assert len(line) <= 600 + len(path), "a line a person can read"
    assert line.startswith("config error: ")
    assert path in line
    if case.key is not None:
        assert f"{path}: {case.key}:" in line
    for w in case.words:
        assert w in line, f"{w!r} not in {line!r}"


@pytest.mark.parametrize("content", [
    pytest.param(cfg(), id="anchor"),
    pytest.param(simple(), id="simple"),
    pytest.param({"symbol": "BTCUSDT", "rebalancer": {"policy": "baseline", "check_interval_s": 30}}, id="baseline"),
])
def test_valid_configs_exit_0(content, write_config, isolated_env, capsys):
    """The catalogue's base configs are themselves valid: each broken case differs by one thing."""
    path = write_config(content, name="ok.yaml")
    assert main(["check-config", "--config", str(path)]) == 0
    out, err = capsys.readouterr()
    assert f"# {path}: OK" in out and err == ""
