"""One sweep end to end: load once, plan the points, skip those already done, run the rest
(each row appended as it finishes), then summarise all rows with the frontier and the lazy bound."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from core.config.load import load_config
from core.config.yaml_reader import read_yaml
from core.sweep.frontier import AXES, frontiers
from core.replay.grid_path import record_grid
from core.sweep.lazy import GapPath, bands_for, lazy_curve, lazy_hedge, unhedged_path
from core.sweep.results import ResultsLog
from core.sweep.runner import SweepContext, run_points
from core.sweep.spec import Point, SweepSpecError, digest, expand_grid, make_points, parse_params, sample_random
from core.venues.market import MarketData


@dataclass
class SweepPlan:
    ctx: SweepContext
    points: list[Point]
    param_keys: list[str]
    path: GapPath  # the unhedged gap path (for the lazy bound)
    market_files: list[str]

    @property
    def today(self) -> Point:
        return self.points[0]


def _market_key(files: Sequence[str]) -> list:
    out = []
    for f in files:
        try:
            size = os.path.getsize(f)
        except OSError:
            size = None
        out.append([Path(f).name, size])
    return out


def plan_sweep(config_path: str, market: MarketData, market_files: Sequence[str], param_specs: Sequence[str], *,
               random_n: int | None = None, seed: int = 0, band: float | None = None, policy: str | None = None,
               timer: Callable[[], float] | None = None, cpu_timer: Callable[[], float] | None = None) -> SweepPlan:
    """Check everything before anything runs: the config, each spec, each point as a config."""
    cfg = load_config(config_path, need_secrets=False)  # the same checks as replay (ConfigError)
    base = read_yaml(Path(config_path).read_text(encoding="utf-8"))
    params = parse_params(list(param_specs))
    overrides: list[dict] = []
    if random_n is not None:  # not "if random_n": --random 0 was taken as no --random at all
        if not params:
            raise SweepSpecError("--random needs at least one --param to draw")
        overrides = sample_random(params, random_n, seed)
    elif params:
        overrides = expand_grid(params)
    path = unhedged_path(cfg, market, policy=policy)
    if band is None:
        band = path.default_band
    if not (0.0 < band < float("inf")):
        raise SweepSpecError(f"the common band must be a positive number of base units, got {band}")
    run_key = {"base": digest(base), "market": _market_key(market_files), "band": band, "policy": policy}
    points = make_points(base, str(config_path), overrides, run_key)
    # the grid's fills, recorded once for every point (a point whose grid differs runs it live)
    ctx = SweepContext(market=market, base=base, config_file=str(config_path), band=band, policy=policy, timer=timer,
                       cpu_timer=cpu_timer, grid_path=record_grid(cfg, market))
    return SweepPlan(ctx, points, [p.key for p in params], path, [str(f) for f in market_files])


def run_sweep(plan: SweepPlan, log: ResultsLog, *, jobs: int = 2, scheduler: str | None = None,
              on_row: Callable[[dict, int, int], None] | None = None) -> tuple[int, int]:
    """Run the points not yet in ``log``; each row is appended the moment it arrives.
    Returns (already done, run now). ``on_row(row, done, total)`` follows progress."""
    done_ids = log.done_ids()
    todo = [p for p in plan.points if p.id not in done_ids]
    skipped = len(plan.points) - len(todo)
    count = skipped

    def take(row: dict) -> None:
        nonlocal count
        log.append(row)
        count += 1
        if on_row is not None:
            on_row(row, count, len(plan.points))

    with log:
        run_points(plan.ctx, todo, take, jobs=jobs, scheduler=scheduler)
    return skipped, len(todo)


def summarise(plan: SweepPlan, log: ResultsLog, *, lazy_points: int = 40) -> dict:
    """This plan's rows (in plan order), the frontier on each pair of axes, the lazy bound, the
    unhedged point and today's config: what the table, the chart and the page are drawn from."""
    by_id = {r["id"]: r for r in log.read()}
    rows = [by_id[p.id] for p in plan.points if p.id in by_id]
    fronts = frontiers(rows)
    band = plan.ctx.band
    gaps = [r["mean_abs_gap_base"] for r in rows if r.get("mean_abs_gap_base")]
    lazy = lazy_curve(plan.path, bands_for(gaps, band, lazy_points), band)
    unhedged = lazy_hedge(plan.path, float("inf"), band)
    return {
        "config": plan.ctx.config_file,
        "market": plan.market_files,
        "policy": plan.ctx.policy,
        "band_base": band,
        "param_keys": plan.param_keys,
        "points": len(plan.points),
        "done": len(rows),
        "today_id": plan.today.id,
        "taker_fee_rate": plan.path.taker_fee_rate,
        "rows": rows,
        "frontier": {name: [rows[i]["id"] for i in idx] for name, idx in fronts.items()},
        "axes": {name: list(keys) for name, keys in AXES.items()},
        "lazy": [asdict(p) for p in lazy],
        "unhedged": {"mean_abs_gap_base": unhedged.mean_abs_gap_base,
                     "pct_time_over_band": unhedged.pct_time_over_band},
    }


__all__ = ["SweepPlan", "plan_sweep", "run_sweep", "summarise"]
