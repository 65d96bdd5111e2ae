"""The ``Policy`` protocol: what the rebalancer asks of a policy, each answering from its own
config block, so that no code outside ``core/policy.py`` branches on a policy's class or reads
a policy's settings."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from core.config import (
    AnchorConfig, AnchorPolicyConfig, BaselinePolicyConfig, BiasConfig, EmaConfig, ExecutionConfig,
    RebalancerConfig, RiskConfig, SimplePolicyConfig, ThresholdsConfig,
)
from core.policy import PolicyMemory, TrendSettings, make_policy
from core.model import Action, Side

ANCHOR = AnchorPolicyConfig(desired_net_delta_base=0.1, thresholds=ThresholdsConfig(soft=0.004, hard=0.012),
                            bias=BiasConfig(min_scale=0.5),
                            ema=EmaConfig(fast=5, slow=13, timeframe="5m", slope_lookback_s=120.0,
                                          trend_threshold_pct=0.2),
                            anchor=AnchorConfig(window_s=900.0))
SIMPLE = SimplePolicyConfig(target_delta_usdt=600.0, rebalance_threshold_usdt=300.0, ema_fast_period=7,
                            ema_slow_period=25, ema_timeframe="15s", trend_threshold_pct=0.05)
BASELINE = BaselinePolicyConfig(desired_net_delta_base=-0.2, min_trade_base=0.003)


def policy(name: str, **anchor_changes):
    anchor = AnchorPolicyConfig(**{**ANCHOR.__dict__, **anchor_changes}) if anchor_changes else ANCHOR
    blocks = {"anchor": anchor, "simple": SIMPLE, "baseline": BASELINE}
    cfg = RebalancerConfig(settings=blocks.pop(name), other_policies=tuple(blocks.values()),
                           execution=ExecutionConfig(min_trade_base=0.0001), risk=RiskConfig())
    return make_policy(cfg)


def test_each_policy_reads_its_own_trend_settings():
    assert policy("anchor").trend_settings == TrendSettings(5, 13, 300_000, 120.0, 0.2)
    # the simple block has no slope lookback of its own: make_policy hands it the anchor settings'
    assert policy("simple").trend_settings == TrendSettings(7, 25, 15_000, 120.0, 0.05)
    assert policy("baseline").trend_settings == TrendSettings(5, 13, 300_000, 120.0, 0.2)


def test_the_fills_window_is_handed_to_every_policy():
    assert {policy(n).fills_window_s for n in ("anchor", "simple", "baseline")} == {900.0}


@pytest.mark.parametrize("name, price, target", [
    ("anchor", 60_000.0, 0.1), ("anchor", None, 0.1),
    ("simple", 60_000.0, 0.01), ("simple", 30_000.0, 0.02), ("simple", None, 0.0),
    ("baseline", 60_000.0, -0.2),
])
def test_target_base(name, price, target):
    p = policy(name)
    assert p.target_base(price) == pytest.approx(target)
    assert p.fixed_target == (None if name == "simple" else target)


def test_the_smallest_gap_each_policy_could_act_on():
    a = policy("anchor")
    assert a.fixed_min_gap == pytest.approx(0.004 * 0.5)  # soft at the smallest bias scale
    assert a.min_actionable_gap(0.5, 60_000.0) == pytest.approx(0.002)
    pct = policy("anchor", thresholds=ThresholdsConfig(soft=1.0, hard=3.0, units="pct_of_spot_notional"))
    assert pct.fixed_min_gap is None  # moves with the spot wallet
    assert pct.min_actionable_gap(0.5, 60_000.0) == pytest.approx(0.005 * 0.5)
    assert pct.min_actionable_gap(2.0, 60_000.0) == pytest.approx(0.02 * 0.5)
    s = policy("simple")
    assert s.fixed_min_gap is None
    assert s.min_actionable_gap(0.5, 60_000.0) == pytest.approx(300.0 / 60_000.0)
    assert s.min_actionable_gap(0.5, None) == 0.0
    b = policy("baseline")
    assert b.fixed_min_gap == b.min_actionable_gap(0.5, 60_000.0) == 0.003


def test_the_default_common_band_is_each_policy_s_hard_threshold_in_base():
    assert policy("anchor").band_base(50_000.0, 1.0) == 0.012
    pct = policy("anchor", thresholds=ThresholdsConfig(units="pct_of_spot_notional", soft=1.0, hard=2.0))
    assert pct.band_base(50_000.0, 1.5) == pytest.approx(0.03)  # 2 % of 1.5 BTC
    simple = policy("simple")
    assert simple.band_base(50_000.0, 1.0) == pytest.approx(simple.cfg.rebalance_threshold_usdt / 50_000.0)
    assert policy("baseline").band_base(50_000.0, 1.0) == 0.003


def test_a_sure_hold_ends_the_anchor_gate_wait_only():
    waiting = PolicyMemory(gate_wait_since_ms=5, gate_wait_side=Side.SELL, last_check_ms=7)
    assert policy("anchor").after_sure_hold(waiting) == PolicyMemory(last_check_ms=7)
    for name in ("simple", "baseline"):
        assert policy(name).after_sure_hold(waiting) is waiting


def test_execution_paths():
    a = policy("anchor")
    full, partial = SimpleNamespace(action=Action.FULL), SimpleNamespace(action=Action.PARTIAL)  # what it reads
    assert (a.execution_path(full), a.execution_path(partial)) == ("hard", "soft")
    assert policy("simple").execution_path(full) == "simple"
    assert policy("baseline").execution_path(full) == "baseline"


# ------------------------------------------------------------------------------- nobody else looks inside

POLICY_CLASSES = re.compile(r"\b(AnchorPolicy|SimplePolicy|BaselinePolicy)\b")
POLICY_BLOCKS = re.compile(r"\.(anchor|simple|baseline)\.")


def outside_policy(repo_root: Path) -> list[Path]:
    files = sorted((repo_root / "core").rglob("*.py")) + sorted((repo_root / "tui").rglob("*.py"))
    return [f for f in files if f.relative_to(repo_root).as_posix() not in ("core/policy.py", "core/config.py")]


def test_no_code_outside_policy_py_names_a_policy_class_or_reads_a_policy_block(repo_root):
    found = []
    for f in outside_policy(repo_root):
        for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
            if POLICY_CLASSES.search(line) or POLICY_BLOCKS.search(line):
                found.append(f"{f.relative_to(repo_root)}:{n}: {line.strip()}")
    assert found == []


def test_the_check_above_can_fail(tmp_path):
    (tmp_path / "core").mkdir()
    (tmp_path / "tui").mkdir()
    (tmp_path / "core" / "x.py").write_text("if isinstance(p, BaselinePolicy):\n    t = cfg.anchor.ema.fast\n")
    hits = [line for f in outside_policy(tmp_path) for line in f.read_text().splitlines()
            if POLICY_CLASSES.search(line) or POLICY_BLOCKS.search(line)]
    assert len(hits) == 2
