"""Shared fixtures: paths, a config factory (dict -> AppConfig through the real validator),
policy/view builders and a config-file writer. The builders live in ``tests/builders.py``."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest
import yaml

from core.config import AppConfig
from tests.builders import *  # noqa: F401,F403 - re-exported for fixtures below
from tests.builders import (ANCHOR_BLOCK, BASELINE_BLOCK, BASE_CONFIG, REPO_ROOT, SIMPLE_BLOCK, apply_overrides,
                            build_config, make_trend)

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
