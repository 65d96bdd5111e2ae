"""Shared fixtures: paths, recorded market data (skipped when absent) and its excerpts, a config
factory (dict -> AppConfig through the real validator), policy/view builders and a config-file
writer; the Hypothesis profiles. The builders live in ``tests/builders.py``.

Recorded data: ``shared_data_dir`` / ``shared_data(name)`` give ``../shared/data`` (or
``$REBALANCER_SHARED_DATA``) and skip the test, with the reason, when it is not there: a fresh
clone has none. ``excerpt(name)`` gives one of the small real excerpts in ``tests/fixtures/``,
which are always there (``scripts/cut_test_excerpts.py`` cut them).

Hypothesis: the ``quick`` profile is the default; ``HYPOTHESIS_PROFILE=thorough`` runs ten times
the examples (explicit per-test counts scale too: they are written ``examples(n)``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import pytest
import yaml
from hypothesis import settings

from core.config import AppConfig
from core.venues.market import SHARED_DATA_ENV, default_data_dir
from tests.builders import *  # noqa: F401,F403 - re-exported for fixtures below
from tests.builders import (ANCHOR_BLOCK, BASELINE_BLOCK, BASE_CONFIG, FIXTURES_DIR, QUICK_EXAMPLES,
                            REPO_ROOT, SIMPLE_BLOCK, THOROUGH_FACTOR, apply_overrides, build_config,
                            make_trend)

settings.register_profile("quick", max_examples=QUICK_EXAMPLES, deadline=None, print_blob=True)
settings.register_profile("thorough", max_examples=QUICK_EXAMPLES * THOROUGH_FACTOR, deadline=None,
                          print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "quick"))


# -n auto: two workers per core. A cockpit test spends about half its time waiting on timers and
# pauses (measured: 2 workers on 2 cores kept them 72 % busy, 225 s; 4 workers, 193 s). Set
# PYTEST_XDIST_AUTO_NUM_WORKERS to choose another count.
@pytest.hookimpl(tryfirst=True, optionalhook=True)  # optional: `-p no:xdist` runs without xdist
def pytest_xdist_auto_num_workers(config) -> int | None:
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None  # xdist's own reading of it
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return min(2 * cores, cores + 4)


# The longest tests start first, so that no worker is left with one of them at the end.
LONG_FIRST = ("tests/tui/test_cockpit_key_storm.py", "tests/bench/test_bench_smoke.py",
              "tests/tui/test_e2e_symbols.py", "tests/tui/test_cockpit_themes.py",
              "tests/reliability/test_crash_restart_bybit.py", "tests/reliability/test_stops.py")


def pytest_collection_modifyitems(config, items) -> None:
    rank = {path: i for i, path in enumerate(LONG_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(LONG_FIRST)))  # stable


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """The recorded market data; skips the test when the folder is missing or holds no file."""
    path = default_data_dir()
    if not any(path.glob("*.csv.gz")):
        pytest.skip(f"recorded market data not found at {path} (a fresh clone has none; "
                    f"set {SHARED_DATA_ENV} to its folder to run this test)")
    return path


@pytest.fixture(scope="session")
def shared_data(shared_data_dir: Path) -> Callable[[str], Path]:
    """``shared_data("bybit_spot_BTCUSDT_1m_2022-12-13.csv.gz")`` -> its path, or skip the test."""

    def get(name: str) -> Path:
        path = shared_data_dir / name
        if not path.is_file():
            pytest.skip(f"recorded data file not present: {path}")
        return path

    return get


@pytest.fixture(scope="session")
def excerpt() -> Callable[[str], Path]:
    """``excerpt("bybit_spot_BTCUSDT_1m_2022-12-13_0000-0600.csv.gz")`` -> its path in tests/fixtures."""

    def get(name: str) -> Path:
        path = FIXTURES_DIR / name
        assert path.is_file(), f"{path} is part of the repository (scripts/cut_test_excerpts.py writes it)"
        return path

    return get


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
