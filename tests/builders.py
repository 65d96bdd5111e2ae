"""Config and trend builders shared by tests (import: ``from tests.builders import ...``).

Kept out of ``conftest.py`` so that test modules import them by a unique module name.
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
FIXTURES_DIR = REPO_ROOT / "tests" / "fixtures"
"""Small excerpts of the recorded market data (real rows), present in every clone."""

QUICK_EXAMPLES = 100
"""Hypothesis examples per test in the default (``quick``) profile."""
THOROUGH_FACTOR = 10
"""``HYPOTHESIS_PROFILE=thorough`` runs this many times the examples."""


def examples(n: int) -> int:
    """A test's own Hypothesis example count ``n`` (as run by default), scaled by the active
    profile: a profile alone cannot change a count a test sets explicitly."""
    from hypothesis import settings

    return max(1, n * settings.default.max_examples // QUICK_EXAMPLES)


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
        "style": "maker_first",  # the state machine these tests pin; auto has tests of its own
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


def make_trend(signal: float = 0.0, state: str = "flat", ready: bool = True) -> TrendView:
    return TrendView(ready=ready, ema_fast=100.0, ema_slow=100.0, spread_pct=0.0, slope_pct=0.0,
                     state=state, signal=signal)




def bybit_venue(*, api_key: str | None = None, api_secret: str | None = None, **settings):
    """A ``BybitVenue`` from its settings' field names (``symbol``, ``venue``, ``rest_url``,
    timings ...) and a key pair, as a session builds it."""
    from core.config import ApiSecrets
    from core.venues.bybit import BybitVenue
    from core.venues.bybit_settings import BybitSettings

    secrets = ApiSecrets(api_key, api_secret) if api_key is not None else None
    return BybitVenue(BybitSettings(**settings), secrets=secrets)


def session_engine(cfg, *, journal=None, paper_speed: float | None = None, **venue_changes):
    """The engine ``core.session.build_session`` wires for ``cfg`` (no journal unless given)."""
    from core.session import Environment, build_session

    env = Environment(journal=journal, paper_speed=paper_speed, venue_changes=venue_changes)
    return build_session(cfg, env).engine


# ---------------------------------------------------------------- API keys in tests
TEST_KEY = "KeyKeyKeyKeyKeyKeyKeyKeyKeyKeyQQ"  # 32 chars, account "Tst"
TEST_SECRET = "S3cr3tS3cr3tS3cr3tS3cr3tS3cr3tZZ"  # 32 chars
TEST_KEY_NAMES = ("BYBIT_API_KEY_Tst", "BYBIT_API_SECRET_Tst")


def forget_test_keys(monkeypatch) -> None:
    """No ``Tst`` keys in the environment, and any a ``.env`` sets during the test undone."""
    for name in TEST_KEY_NAMES:
        monkeypatch.setenv(name, "placeholder")  # recorded as absent: undone even if .env sets it
        monkeypatch.delenv(name)
