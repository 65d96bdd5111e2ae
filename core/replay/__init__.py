"""Headless replay: the real Rebalancer + execution + risk + paper exchange + simulated grid,
driven at full speed over recorded (or synthetic) market data, then a report.

Everything is synchronous and deterministic: time is the data's timestamps, so the same input
gives the same report (apart from the wall-time fields, which the caller measures with a
timer it passes in).

- ``paper``: the paper account a replay trades on, as the config's ``paper:`` block says;
- ``run``: the event loop (``run_replay``);
- ``fastpath``: the bulk path, runs of market data that provably change nothing but the tape,
  taken at once (proven equal to the one-by-one loop by ``tests/core/test_replay_bulk.py``);
- ``report``: the report.
"""

from core.venues.paper_setup import build_grid, build_paper
from core.replay.report import WALL_FIELDS, build_report, format_report
from core.replay.run import ReplayResult, run_replay

__all__ = ["WALL_FIELDS", "ReplayResult", "build_grid", "build_paper", "build_report", "format_report",
           "run_replay"]
