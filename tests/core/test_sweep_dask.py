"""The sweep on a Dask distributed cluster (``--scheduler``): a real ``LocalCluster`` with worker
processes on this machine, reached over TCP like a remote one; the rows equal the local pool's."""

from __future__ import annotations

import time

import pytest

from core.sweep import plan_sweep, run_sweep
from core.sweep.results import ResultsLog
from core.venues.market import load_market
from tests.builders import FIXTURES_DIR, REPO_ROOT

distributed = pytest.importorskip("distributed", reason="the 'distributed' extra is not installed")

EXCERPT = str(FIXTURES_DIR / "binance_usdm_BTCUSDT_1m_2022-05-01_0000-0600.csv.gz")
CONFIG = str(REPO_ROOT / "examples" / "replay.yaml")


def _strip(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in ("wall_s", "cpu_s")}


def test_sweep_on_a_dask_cluster_gives_the_local_rows_and_resumes(tmp_path):
    plan = plan_sweep(CONFIG, load_market(EXCERPT), [EXCERPT],
                      ["rebalancer.thresholds.soft=0.004,0.008", "rebalancer.partial_rebalance_ratio=0.5,1.0"],
                      timer=time.perf_counter)
    local = ResultsLog(tmp_path / "local.jsonl")
    run_sweep(plan, local, jobs=1)
    remote = ResultsLog(tmp_path / "dask.jsonl")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  protocol="tcp", host="127.0.0.1") as cluster:
        addr = cluster.scheduler_address
        assert addr.startswith("tcp://127.0.0.1:")
        # a partial file: the first row is done, only the rest go to the cluster
        remote.path.write_text(local.path.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
        got: list[str] = []
        skipped, ran = run_sweep(plan, remote, scheduler=addr, on_row=lambda r, n, t: got.append(r["id"]))
    assert (skipped, ran) == (1, len(plan.points) - 1) and len(got) == ran
    key = lambda r: r["id"]  # noqa: E731
    assert sorted(map(_strip, remote.read()), key=key) == sorted(map(_strip, local.read()), key=key)


def test_an_unreachable_scheduler_is_a_clear_error(tmp_path):
    from core.sweep import SweepRunError
    from core.sweep.runner import run_dask

    plan = plan_sweep(CONFIG, load_market(EXCERPT), [EXCERPT], [])
    with pytest.raises(SweepRunError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        run_dask(plan.ctx, plan.points, "tcp://127.0.0.1:9", lambda r: None, connect_timeout_s=1.0)
