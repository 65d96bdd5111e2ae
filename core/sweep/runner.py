"""Run a sweep's points: inline, on a local process pool (the default), or on a Dask cluster.

Data loaded once. The market is loaded in the parent before the pool starts; the workers are
*forked* and inherit it copy-on-write. Its columns are ``array`` buffers that nothing writes and
reference counting never touches (only their few object headers are), so the pages stay shared:
each worker adds its own engine state, not another copy of the data (``bench/sweep.py``
measures the workers' private memory). No pickling of the tape per task either: a task is a
point (a few overrides).

Past one machine: with a scheduler address the same ``run_point`` runs on a Dask distributed
cluster. Dask rather than Ray: it is pure Python (two small wheels, no daemon of its own), its
``Client.submit`` / ``as_completed`` / ``scatter`` is exactly the shape of a sweep (independent
tasks, one large read-only input broadcast once), and a ``LocalCluster`` starts in seconds for
a test. Ray brings a large native wheel with its own object store and raylet / GCS processes --
weight this tool does not need. The market is scattered to every
worker once (``broadcast=True``); workers need this package installed, like the client.

Results come back to the caller one by one (``on_row``) as each config finishes, in whatever
order they finish; the caller appends them to the results file (a single writer).
"""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.errors import RebalancerError
from core.replay import run_replay
from core.replay.grid_path import GridPath
from core.sweep.results import METRICS
from core.sweep.spec import Point, point_config
from core.venues.market import MarketData


class SweepRunError(RebalancerError):
    """The sweep cannot run where it was asked to (a missing extra, an unreachable scheduler)."""


@dataclass(frozen=True)
class SweepContext:
    """What every point shares: the market, the base config (raw), the common band, the policy."""

    market: MarketData
    base: dict
    config_file: str
    band: float
    policy: str | None = None
    timer: Callable[[], float] | None = None  # wall time per config (the caller's clock)
    cpu_timer: Callable[[], float] | None = None  # and CPU time (the caller's process clock)
    grid_path: GridPath | None = None  # the grid's fills over this market, recorded once (core.replay.grid_path)


def run_point(ctx: SweepContext, point: Point) -> dict:
    """One replay of one point: its id, overrides and the replay JSON's cost / tracking figures."""
    cfg = point_config(ctx.base, point.params, ctx.config_file)
    timer, cpu = ctx.timer, ctx.cpu_timer
    t0 = timer() if timer else 0.0
    c0 = cpu() if cpu else 0.0
    rep = run_replay(cfg, ctx.market, policy=ctx.policy, band=ctx.band, unhedged=False, grid_path=ctx.grid_path).report
    row = {"id": point.id, "label": point.label, "params": point.params, **{k: rep.get(k) for k in METRICS},
           "pnl_total_quote": rep["pnl_quote"]["total"], "events_processed": rep["events_processed"]}
    row["wall_s"] = round(timer() - t0, 3) if timer else None
    row["cpu_s"] = round(cpu() - c0, 3) if cpu else None
    return row


# ------------------------------------------------------------------ local pool

_CTX: SweepContext | None = None  # set in the parent just before the pool forks; workers inherit it


def _pool_worker_init() -> None:
    """A worker leaves Ctrl-C to the parent (which stops the pool) and dies quietly when the pool
    is stopped: the handlers it inherited are the parent's, with the parent's messages."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, signal.SIG_DFL)


def _pool_task(point: Point) -> dict:
    assert _CTX is not None, "the pool was started without a sweep context"
    return run_point(_CTX, point)


def run_local(ctx: SweepContext, points: Sequence[Point], jobs: int, on_row: Callable[[dict], None]) -> None:
    """``jobs`` forked workers sharing ``ctx`` (copy-on-write); ``jobs == 1`` runs inline."""
    global _CTX
    if jobs <= 1 or len(points) <= 1:
        for p in points:
            on_row(run_point(ctx, p))
        return
    try:
        mp = multiprocessing.get_context("fork")
    except ValueError:  # pragma: no cover - a platform without fork
        raise SweepRunError("the local pool needs fork() (Linux, macOS); use --jobs 1 or --scheduler") from None
    _CTX = ctx
    try:
        with mp.Pool(processes=min(jobs, len(points)), initializer=_pool_worker_init) as pool:
            for row in pool.imap_unordered(_pool_task, points, chunksize=1):
                on_row(row)
    finally:
        _CTX = None


# ------------------------------------------------------------------ Dask distributed

MISSING_EXTRA = ("--scheduler needs Dask distributed, an optional extra: "
                 "pip install 'spot-rebalancer[distributed]'")


def run_dask(ctx: SweepContext, points: Sequence[Point], address: str, on_row: Callable[[dict], None], *,
             connect_timeout_s: float = 10.0) -> None:
    """Each point as one task on the Dask cluster at ``address`` (``tcp://host:port``), the
    context scattered to every worker once."""
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise SweepRunError(MISSING_EXTRA) from None
    try:
        client = Client(address, timeout=connect_timeout_s, set_as_default=False)
    except OSError as e:
        raise SweepRunError(f"cannot reach the Dask scheduler at {address}: {e}") from None
    try:
        shared = client.scatter(ctx, broadcast=True, hash=False)
        futures = [client.submit(run_point, shared, p, key=f"sweep-{p.id}", pure=False) for p in points]
        for fut in as_completed(futures, loop=client.loop):
            on_row(fut.result())
    finally:
        client.close()


def run_points(ctx: SweepContext, points: Sequence[Point], on_row: Callable[[dict], None], *, jobs: int = 2,
               scheduler: str | None = None) -> None:
    if not points:
        return
    if scheduler:
        run_dask(ctx, points, scheduler, on_row)
    else:
        run_local(ctx, points, jobs, on_row)
