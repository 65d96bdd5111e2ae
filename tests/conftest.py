"""Shared fixtures: paths, a config factory (dict -> AppConfig through the real validator),
policy/view builders and a config-file writer.

The factories are session-scoped on purpose: they are stateless, and hypothesis refuses
function-scoped fixtures inside ``@given`` tests.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from core.config import AppConfig, config_from_dict
from core.trend import TrendView

REPO_ROOT = Path(__file__).resolve().parents[1]

DELETE = object()
"""Pass as an override value to remove a key from the base config."""

# Every number the hand-computed tests rely on is spelled out here, so no test depends on a
# dataclass default that somebody may retune later.
ANCHOR_BLOCK: dict[str, Any] = {
    "policy": "anchor",
    "desired_net_delta_base": 0.0,
    "thresholds": {"soft": 0.004, "hard": 0.012, "units": "base"},
    "partial_rebalance_ratio": 0.5,
    "bias": {
        "mode": "ema",
        "strength": 0.5,
        "w_ema": 0.6,
        "w_anchor": 0.4,
        "manual_override": 0.0,
        "min_scale": 0.25,
        "max_scale": 2.0,
    },
    "ema": {"fast": 9, "slow": 21, "timeframe": "1m", "slope_lookback_s": 300, "trend_threshold_pct": 0.1},
    "anchor": {
        "window_s": 600,
        "edge_bps_soft": 5,
        "edge_bps_hard": 0,
        "max_wait_s_on_soft": 120,
        "degrade_edge_with_time": True,
        "full_bias_edge_bps": 50,
    },
    "execution": {
        "maker_first": True,
        "hard_maker_wait_s": 5,
        "soft_taker_after_wait": True,
        "min_trade_base": 0.0001,
        "max_trade_base": 0.5,
    },
    "risk": {"cooldown_s": 10, "hard_cooldown_s": 2, "hysteresis_pct": 0.2, "hysteresis_window_s": 300},
}

# Seed 001's block, verbatim values.
SIMPLE_BLOCK: dict[str, Any] = {
    "target_delta_usdt": 0,
    "rebalance_threshold_usdt": 100,
    "use_trend": True,
    "ema_fast_period": 9,
    "ema_slow_period": 21,
    "trend_threshold_pct": 0.1,
    "trend_multiplier": 1.5,
    "use_limit_orders": True,
    "max_wait_seconds": 30,
    "cooldown_seconds": 10,
}

BASELINE_BLOCK: dict[str, Any] = {
    "policy": "baseline",
    "desired_net_delta_base": 0.0,
    "check_interval_s": 60,
    "min_trade_base": 0.0005,
}

BASE_CONFIG: dict[str, Any] = {
    "symbol": "BTCUSDT",
    "venue": "paper",
    "mode": "semi",
    "api": {"account_name": "Tst"},
    "rebalancer": ANCHOR_BLOCK,
}


def apply_overrides(data: dict, overrides: dict[str, Any]) -> dict:
    """Deep-copy ``data`` and set each ``a__b__c=value`` override at ``data[a][b][c]``
    (``DELETE`` removes the key)."""
    out = copy.deepcopy(data)
    for dotted, value in overrides.items():
        parts = dotted.split("__")
        node = out
        for p in parts[:-1]:
            if not isinstance(node.get(p), dict):
                node[p] = {}
            node = node[p]
        if value is DELETE:
            node.pop(parts[-1], None)
        else:
            node[parts[-1]] = copy.deepcopy(value)
    return out


def build_config(*, _base: dict | None = None, _env: dict | None = None, _need_secrets: bool | None = None,
                 **overrides: Any) -> AppConfig:
    data = apply_overrides(BASE_CONFIG if _base is None else _base, overrides)
    return config_from_dict(data, file="<test>", env=_env, need_secrets=_need_secrets)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_data_dir(repo_root: Path) -> Path:
    return repo_root.parent / "shared" / "data"


@pytest.fixture(scope="session")
def make_config() -> Callable[..., AppConfig]:
    """``make_config(rebalancer__thresholds__soft=0.01)`` -> a validated AppConfig built from
    the explicit anchor base config. ``rebalancer=simple_block`` swaps the whole block."""
    return build_config


@pytest.fixture
def anchor_block() -> dict:
    return copy.deepcopy(ANCHOR_BLOCK)


@pytest.fixture
def simple_block() -> dict:
    return copy.deepcopy(SIMPLE_BLOCK)


@pytest.fixture
def baseline_block() -> dict:
    return copy.deepcopy(BASELINE_BLOCK)


@pytest.fixture(scope="session")
def make_policy_for():
    """``make_policy_for("simple", cooldown_seconds=0)`` -> the policy object, built through
    the real config validation. Overrides apply inside the rebalancer block."""
    from core.policy import make_policy

    blocks = {"anchor": ANCHOR_BLOCK, "simple": SIMPLE_BLOCK, "baseline": BASELINE_BLOCK}

    def make(name: str = "anchor", **overrides: Any):
        block = apply_overrides(blocks[name], overrides)
        cfg = build_config(rebalancer=block)
        assert cfg.policy == name
        return make_policy(cfg.rebalancer)

    return make


def make_trend(signal: float = 0.0, state: str = "flat", ready: bool = True) -> TrendView:
    return TrendView(ready=ready, ema_fast=100.0, ema_slow=100.0, spread_pct=0.0, slope_pct=0.0,
                     state=state, signal=signal)


@pytest.fixture(scope="session")
def trend_view():
    """``trend_view(signal, state, ready)`` -> a TrendView with just what policies read."""
    return make_trend


@pytest.fixture(scope="session")
def policy_view():
    """``policy_view(spot_base=..., futures_base=..., price=..., ...)`` with sane defaults."""
    from core.policy import PolicyView

    def make(spot_base: float = 0.5, futures_base: float = -0.5, price: float = 60_000.0, ts_ms: int = 1_000_000,
             trend: TrendView | None = None, buy_vwap: float | None = None, sell_vwap: float | None = None):
        return PolicyView(ts_ms=ts_ms, price=price, spot_base=spot_base, futures_base=futures_base,
                          trend=trend if trend is not None else make_trend(), buy_vwap=buy_vwap, sell_vwap=sell_vwap)

    return make


@pytest.fixture
def write_config(tmp_path: Path):
    """``write_config(dict_or_text, name="config.yaml")`` -> the path of a file in tmp_path."""

    def write(content: dict | list | str | bytes, name: str = "config.yaml") -> Path:
        p = tmp_path / name
        if isinstance(content, bytes):
            p.write_bytes(content)
        elif isinstance(content, str):
            p.write_text(content, encoding="utf-8")
        else:
            p.write_text(yaml.safe_dump(content, sort_keys=False), encoding="utf-8")
        return p

    return write
