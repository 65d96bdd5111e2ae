"""Issue 17's replay speed-ups against the plain path: each one on and off must leave the very
same replay.

* ``core.replay.early_out``: the bulk step's cheap refusal (``ENABLED`` on / off);
* ``core.replay.grid_path``: the grid replayed from a recording (``grid_path=`` given / not),
  and a sweep that records it against one that does not (``ENABLED`` on / off).

Compared with ``test_replay_bulk``'s ``replay`` (every exchange fill, every record, the report,
the exchange's state, trend, anchors, statistics, the kill switch's equity), on the repository's
excerpts always and on every recorded data set when ``../shared/data`` is there, with
``examples/replay.yaml`` (the busy grid these speed-ups are for) and the demo config; ``-m slow``
adds the other policies and the 8-month file.
Each test also checks that its speed-up really ran (refusals counted, batches replayed), so a
switch that silently did nothing cannot pass.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from unittest import mock

import pytest

import core.replay.early_out as early_out
import core.replay.grid_path as grid_path_mod
from core.config import load_config
from core.replay import WALL_FIELDS, run_replay
from core.replay.grid_path import GridPathMismatch, ReplayedGrid, record_grid, replayed_grid
from core.venues.market import load_market
from tests.core.test_replay_bulk import first_difference, replay

EXCERPTS = {
    "bybit-month-day": ("bybit_linear_BTCUSDT_1m_2025-01-20.csv.gz",),
    "bybit-spot-6h+quotes": ("bybit_spot_BTCUSDT_1m_2022-12-13_0000-0600.csv.gz",
                             "bybit_spot_BTCUSDT_1m_quotes_2022-12-13_0000-0600.csv.gz"),
    "binance-usdm-ticks+bbo": ("binance_usdm_BTCUSDT_trades_2024-08-08T235416Z_15s.csv.gz",
                               "binance_usdm_BTCUSDT_bbo_2024-08-08T235416Z_15s.csv.gz"),
}
RECORDED = {  # every file of ../shared/data once (quotes with their trades); the 8-month file under -m slow
    "bybit-spot-day+quotes": ("bybit_spot_BTCUSDT_1m_2022-12-13.csv.gz",
                              "bybit_spot_BTCUSDT_1m_quotes_2022-12-13_0000-1200.csv.gz"),
    "bybit-linear-12h+quotes": ("bybit_linear_BTCUSDT_1m_2022-12-13_0000-1200.csv.gz",
                                "bybit_linear_BTCUSDT_1m_quotes_2022-12-13_0000-1200.csv.gz"),
    "bybit-linear-month": ("bybit_linear_BTCUSDT_1m_2024-12-31T21Z_2025-01-31.csv.gz",),
    "binance-spot-ticks+bbo": ("binance_spot_BTCUSDT_trades_2024-08-08T235415Z_235959Z.csv.gz",
                               "binance_spot_BTCUSDT_bbo_2024-08-08T235415Z_235959Z.csv.gz"),
    "binance-usdm-ticks+bbo": ("binance_usdm_BTCUSDT_trades_2024-08-08T235416Z_235959Z.csv.gz",
                               "binance_usdm_BTCUSDT_bbo_2024-08-08T235416Z_235959Z.csv.gz"),
}
EIGHT_MONTHS = ("binance_usdm_BTCUSDT_1m_2022-05-01_2022-12-31.csv.gz",)
CONFIGS = ("examples/replay.yaml", "config.yaml")


def assert_same(plain, fast) -> None:
    for name in plain.parts:
        assert plain.parts[name] == fast.parts[name], f"{name}: {first_difference(plain.parts[name], fast.parts[name])}"
    assert plain.equity == fast.equity


def early_out_on_and_off(cfg, market, policy: str = "anchor") -> int:
    """Replays with the refusal off and on; returns how many calls it refused."""
    refused = 0
    cannot_take = early_out.cannot_take

    def counting(*args):
        nonlocal refused
        out = cannot_take(*args)
        refused += out
        return out

    with mock.patch.object(early_out, "ENABLED", False):
        plain = replay(cfg, market, policy, bulk=True)
    with mock.patch.object(early_out, "cannot_take", counting):
        fast = replay(cfg, market, policy, bulk=True)
    assert_same(plain, fast)
    assert plain.events == fast.events  # nothing refused that the bulk path would have taken
    return refused


def grid_path_on_and_off(cfg, market, policy: str = "anchor") -> int:
    """Replays with the live grid and with its recording; returns the batches replayed."""
    path = record_grid(cfg, market)
    plain = replay(cfg, market, policy, bulk=True)
    taken = []
    on_price = ReplayedGrid.on_price

    def counting(self, ts_ms, price):
        out = on_price(self, ts_ms, price)
        if out:
            taken.append(len(out))
        return out

    real = run_replay

    def with_path(*args, **kw):
        kw.setdefault("grid_path", path)
        return real(*args, **kw)

    with mock.patch.object(ReplayedGrid, "on_price", counting), \
            mock.patch.object(sys.modules[replay.__module__], "run_replay", with_path):
        fast = replay(cfg, market, policy, bulk=True)
    assert_same(plain, fast)
    assert path is None or len(taken) == len(path.batches)
    return len(taken)


def _market(paths):
    return load_market([str(p) for p in paths])


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("name", sorted(EXCERPTS))
def test_early_out_changes_nothing_on_the_excerpts(repo_root, excerpt, name, config):
    cfg = load_config(str(repo_root / config), need_secrets=False)
    market = _market([excerpt(f) for f in EXCERPTS[name]])
    refused = early_out_on_and_off(cfg, market)
    if name == "bybit-month-day":
        assert refused > 100  # it ran (trades + quotes tapes take the other bulk step)


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("name", sorted(EXCERPTS))
def test_replayed_grid_changes_nothing_on_the_excerpts(repo_root, excerpt, name, config):
    cfg = load_config(str(repo_root / config), need_secrets=False)
    market = _market([excerpt(f) for f in EXCERPTS[name]])
    batches = grid_path_on_and_off(cfg, market)
    if name == "bybit-month-day":
        assert batches > 100


@pytest.mark.parametrize("policy", ("anchor", pytest.param("simple", marks=pytest.mark.slow),
                                    pytest.param("baseline", marks=pytest.mark.slow)))
@pytest.mark.parametrize("name", sorted(RECORDED))
def test_both_change_nothing_on_every_recorded_file(repo_root, shared_data, name, policy):
    cfg = load_config(str(repo_root / "examples/replay.yaml"), need_secrets=False)
    market = _market([shared_data(f) for f in RECORDED[name]])
    early_out_on_and_off(cfg, market, policy)
    grid_path_on_and_off(cfg, market, policy)


@pytest.mark.slow
@pytest.mark.parametrize("config", CONFIGS)
def test_both_change_nothing_on_the_8_month_file(repo_root, shared_data, config):
    cfg = load_config(str(repo_root / config), need_secrets=False)
    market = _market([shared_data(f) for f in EIGHT_MONTHS])
    assert early_out_on_and_off(cfg, market) > 1000
    assert grid_path_on_and_off(cfg, market) > 1000


def test_a_recording_is_used_only_for_its_own_tape_and_grid(repo_root, excerpt):
    cfg = load_config(str(repo_root / "examples/replay.yaml"), need_secrets=False)
    market = _market([excerpt(EXCERPTS["bybit-month-day"][0])])
    path = record_grid(cfg, market)
    assert path is not None and len(path.batches) > 100
    assert isinstance(replayed_grid(path, cfg, market), ReplayedGrid)
    other_tape = _market([excerpt(EXCERPTS["bybit-month-day"][0])])  # equal rows, another object
    assert replayed_grid(path, cfg, other_tape) is None
    wider = replace(cfg, paper=replace(cfg.paper, grid=replace(cfg.paper.grid, levels=cfg.paper.grid.levels + 1)))
    assert replayed_grid(path, wider, market) is None
    # a replay given another config's recording runs its own grid, and gets its own answer
    def report(**kw):
        return {k: v for k, v in run_replay(wider, market, **kw).report.items() if k not in WALL_FIELDS}
    assert report(grid_path=path) == report()
    with mock.patch.object(grid_path_mod, "ENABLED", False):
        assert record_grid(cfg, market) is None


def test_a_print_the_recording_did_not_fill_on_is_refused(repo_root, excerpt):
    cfg = load_config(str(repo_root / "examples/replay.yaml"), need_secrets=False)
    market = _market([excerpt(EXCERPTS["bybit-month-day"][0])])
    grid = ReplayedGrid(record_grid(cfg, market))
    first = grid._batches[0]
    with pytest.raises(GridPathMismatch):
        grid.on_price(first.ts_ms + 1, first.price)  # the right price at the wrong time
    assert grid.on_price(first.ts_ms, first.price) == first.fills


def test_a_sweep_with_the_recording_gives_the_rows_of_one_without(repo_root, excerpt, tmp_path):
    from core.sweep import plan_sweep, run_sweep
    from core.sweep.results import ResultsLog

    f = str(excerpt(EXCERPTS["bybit-month-day"][0]))
    market = load_market(f)
    specs = ["rebalancer.thresholds.soft=0.003,0.006", "rebalancer.partial_rebalance_ratio=0.5,1.0"]
    rows = {}
    for on in (True, False):
        with mock.patch.object(grid_path_mod, "ENABLED", on):
            plan = plan_sweep(str(repo_root / "examples/replay.yaml"), market, [f], specs)
        assert (plan.ctx.grid_path is not None) is on
        log = ResultsLog(tmp_path / f"rows-{on}.jsonl")
        run_sweep(plan, log, jobs=1)
        rows[on] = {r["id"]: {k: v for k, v in r.items() if k not in ("wall_s", "cpu_s")} for r in log.read()}
    assert len(rows[True]) == 4  # today's config is one of the grid's points
    assert rows[True] == rows[False]
