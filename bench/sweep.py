"""``rebalancer sweep`` end to end: N configs over one recorded file on a local process pool.

    python bench/sweep.py [--file PATH.csv.gz] [--configs 100] [--jobs 2] [--quick]

The grid is the anchor policy's main knobs around today's config (examples/replay.yaml):
soft 0.003..0.008 (5) x hard 0.012..0.025 (4) x partial_rebalance_ratio 0.3..1.0 (5) = 100
points, today's among them; ``--configs N`` keeps the first N (today first). Timed apart:
loading the file once, planning (every point checked as a config + the unhedged grid path for
the lazy bound), the pool run, and the summary (frontier + lazy curve) with the chart and the
page. Per config: wall and CPU seconds. Memory: the parent's RSS after loading, and each
worker's *private* memory (``/proc/<pid>/smaps_rollup``) against the market's size -- a worker
that had copied the tape would hold it privately; forked copy-on-write it does not.

Default file: the 8-month Binance USD-M 1-minute klines (1.4 M trade events); ``--quick`` uses
the Bybit linear month and 12 configs. Target (issue 17): 100 configs on the 8-month file in
<= 120 s on 2 cores.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import BIG_KLINES, MONTH_KLINES, REPO, add_common_args, check, emit, result, rnd, rss_bytes  # noqa: E402

TARGET_S = 120.0
GRID = ["rebalancer.thresholds.soft=0.003,0.004,0.005,0.006,0.008",
        "rebalancer.thresholds.hard=0.012,0.016,0.02,0.025",
        "rebalancer.partial_rebalance_ratio=0.3,0.4,0.5,0.75,1.0"]


def private_mb(pid: int) -> dict | None:
    """Rss, Pss and private (clean + dirty) MB of a process from smaps_rollup."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return None
    kb = {}
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 2 and parts[1].isdigit():
            kb[parts[0].rstrip(":")] = int(parts[1])
    return {"rss_mb": kb.get("Rss", 0) / 1024, "pss_mb": kb.get("Pss", 0) / 1024,
            "private_mb": (kb.get("Private_Clean", 0) + kb.get("Private_Dirty", 0)) / 1024}


def market_buffers(market) -> list[tuple[int, int]]:
    """(address, bytes) of each column of the market: the pages a forked worker shares."""
    t = market.trades
    cols = [t.ts_ms, t.price, t.qty]
    if market.quotes is not None:
        q = market.quotes
        cols += [q.ts_ms, q.bid, q.bid_qty, q.ask, q.ask_qty]
    return [(c.buffer_info()[0], c.buffer_info()[1] * c.itemsize) for c in cols]


def market_sharing_mb(pid: int, buffers: list[tuple[int, int]]) -> dict | None:
    """The market's pages in process ``pid`` (the same addresses as in the parent: it was
    forked), from ``/proc/<pid>/pagemap``: MB still shared with another process (the parent) and
    MB exclusively its own (copied on write, or never shared)."""
    page = os.sysconf("SC_PAGE_SIZE")
    shared = own = 0
    try:
        with open(f"/proc/{pid}/pagemap", "rb") as f:
            for addr, n in buffers:
                first, last = addr // page, (addr + n - 1) // page
                f.seek(first * 8)
                for (e,) in struct.iter_unpack("<Q", f.read((last - first + 1) * 8)):
                    if e >> 63 & 1:  # present
                        if e >> 56 & 1:  # exclusively mapped
                            own += 1
                        else:
                            shared += 1
    except OSError:
        return None
    return {"market_shared_mb": shared * page / 2**20, "market_private_mb": own * page / 2**20}


def market_mb(market) -> float:
    t = market.trades
    n = sum(col.buffer_info()[1] * col.itemsize for col in (t.ts_ms, t.price, t.qty)) + len(t.side)
    if market.quotes is not None:
        q = market.quotes
        n += sum(col.buffer_info()[1] * col.itemsize for col in (q.ts_ms, q.bid, q.bid_qty, q.ask, q.ask_qty))
    return n / 2**20


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(p)
    p.add_argument("--file", default=None, help="a recorded .csv(.gz) (default: the 8-month Binance file)")
    p.add_argument("--configs", type=int, default=None, help="how many grid points to run (default 100; quick 12)")
    p.add_argument("--jobs", type=int, default=2, help="local worker processes (default 2)")
    p.add_argument("--config", default=str(REPO / "examples" / "replay.yaml"))
    p.add_argument("--plain", action="store_true",
                   help="turn issue 17's replay speed-ups off (core.replay.early_out, core.replay.grid_path, "
                        "core.venues.paper_exchange.grid_ledger): the figures before them, on today's machine")
    args = p.parse_args(argv)
    if args.plain:
        import core.replay.early_out
        import core.replay.grid_path
        import core.venues.paper_exchange.grid_ledger
        for mod in (core.replay.early_out, core.replay.grid_path, core.venues.paper_exchange.grid_ledger):
            mod.ENABLED = False
    path = Path(args.file) if args.file else (MONTH_KLINES if args.quick else BIG_KLINES)
    n = args.configs or (12 if args.quick else 100)

    from core.sweep import plan_sweep, run_sweep, summarise
    from core.sweep.results import ResultsLog, write_table
    from core.venues.market import load_market
    from tui.sweep_chart import render_frontier
    from tui.sweep_html import write_html

    load1 = os.getloadavg()[0]
    t_all = time.perf_counter()
    t0 = time.perf_counter()
    market = load_market(path)
    load_s = time.perf_counter() - t0
    parent_rss = rss_bytes() / 2**20
    t0 = time.perf_counter()
    plan = plan_sweep(args.config, market, [str(path)], GRID, timer=time.perf_counter, cpu_timer=time.process_time)
    plan.points[:] = plan.points[:n]
    plan_s = time.perf_counter() - t0

    walls, cpus, workers = [], [], {}
    buffers = market_buffers(market)

    def on_row(row, _done, _total):
        walls.append(row["wall_s"])
        cpus.append(row["cpu_s"])
        for child in multiprocessing.active_children():
            m = private_mb(child.pid)
            if m and (child.pid not in workers or m["private_mb"] > workers[child.pid]["private_mb"]):
                workers[child.pid] = {**m, **(market_sharing_mb(child.pid, buffers) or {})}

    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        log = ResultsLog(Path(tmp) / "results.jsonl")
        t0 = time.perf_counter()
        run_sweep(plan, log, jobs=args.jobs, on_row=on_row)
        run_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        summary = summarise(plan, log)
        write_table(Path(tmp) / "results.csv", summary["rows"], plan.param_keys)
        render_frontier(summary, 80)
        write_html(Path(tmp) / "frontier.html", summary, "", "bench")
        summary_s = time.perf_counter() - t0
    total_s = time.perf_counter() - t_all
    cpu_sum = sum(cpus)
    worker_private = max((w["private_mb"] for w in workers.values()), default=None)
    figures = {
        "file": path.name,
        "events_in": len(market),
        "configs": len(plan.points),
        "jobs": args.jobs,
        "cores": os.cpu_count(),
        "loadavg_1m_at_start": rnd(load1, 2),
        "load_market_s": rnd(load_s, 2),
        "plan_s": rnd(plan_s, 2),
        "run_s": rnd(run_s, 2),
        "summary_chart_html_s": rnd(summary_s, 2),
        "total_s": rnd(total_s, 2),
        "config_wall_s": {"mean": rnd(statistics.mean(walls), 3), "min": rnd(min(walls), 3), "max": rnd(max(walls), 3)},
        "config_cpu_s": {"mean": rnd(statistics.mean(cpus), 3), "min": rnd(min(cpus), 3), "max": rnd(max(cpus), 3),
                         "sum": rnd(cpu_sum, 1)},
        "cpu_bound_run_s": rnd(cpu_sum / args.jobs, 1),  # the run's floor on this many cores
        "pool_efficiency": rnd(cpu_sum / (run_s * args.jobs), 3) if run_s else None,
        "market_in_memory_mb": rnd(market_mb(market), 1),
        "parent_rss_after_load_mb": rnd(parent_rss, 1),
        "worker_memory_mb": {pid: {k: rnd(v, 1) for k, v in m.items()} for pid, m in workers.items()},
        "worker_private_mb_max": rnd(worker_private, 1),
        # the market's own pages in the workers: shared with the parent (copy-on-write, never copied)
        "worker_market_private_mb_max": rnd(max((w.get("market_private_mb", 0.0) for w in workers.values()),
                                                default=None), 1),
        "frontier_points": len(summary["frontier"]["usdt_vs_mean_gap"]),
        "grid_path_recorded": plan.ctx.grid_path is not None,
    }
    checks = [check(f"{len(plan.points)} configs end to end", rnd(total_s, 1), "<=",
                    TARGET_S if len(plan.points) >= 100 else TARGET_S * len(plan.points) / 100, "s")]
    res = result("sweep", params={"file": str(path), "config": args.config, "configs": len(plan.points),
                                  "jobs": args.jobs, "grid": GRID, "speedups": not args.plain}, figures=figures, checks=checks,
                 notes="target scales with the number of configs when fewer than 100 run")
    emit(res, args.json_out)
    return res


if __name__ == "__main__":
    main()
