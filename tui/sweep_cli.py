"""``rebalancer sweep``: its arguments and what it prints and writes.

    rebalancer sweep --config examples/replay.yaml --market FILE \\
        --param rebalancer.thresholds.soft=0.004,0.006,0.008 --param rebalancer.partial_rebalance_ratio=0.5,1

Writes into ``--out`` (default ``sweep-results/``): ``results.jsonl`` (one line per config, as
it finishes: a re-run with the same arguments skips those), ``results.csv`` (the table),
``frontier.json`` (the summary the charts are drawn from) and ``frontier.html`` (one offline
page); draws the frontier on stdout; the progress bar goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

EXIT_USAGE = 2
RESULT_FILES = ("results.jsonl", "results.csv", "frontier.json", "frontier.html")  # what --out receives


def add_sweep_parser(sub) -> None:
    s = sub.add_parser("sweep", help="replay many policy settings over recorded data; draw the cost/tracking frontier",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("--config", default=None, help="the base config (default: ./config.yaml); its values are 'today'")
    s.add_argument("--market", action="append", required=True, help="CSV(.gz) file; repeat to merge files (as replay)")
    s.add_argument("--param", action="append", default=[], metavar="KEY=VALUES",
                   help="a config key and its values: KEY=v1,v2,... (grid) or KEY=lo..hi (with --random); repeat")
    s.add_argument("--random", type=int, metavar="N", help="draw N random points instead of the full grid")
    s.add_argument("--seed", type=int, default=0, help="the random draw's seed (default 0; same seed, same points)")
    s.add_argument("--band", type=float, metavar="BASE",
                   help="the common band (base units) tracking is measured against; default: today's hard threshold")
    s.add_argument("--policy", choices=("anchor", "simple", "baseline"), help="override the config's policy")
    s.add_argument("--jobs", type=int, default=None,
                   help="local worker processes (default: the CPU count); ignored with --scheduler")
    s.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="run on this Dask distributed cluster (needs the 'distributed' extra)")
    s.add_argument("--out", default="sweep-results", help="folder for the results (default: sweep-results)")
    s.add_argument("--no-chart", dest="chart", action="store_false", help="do not draw the frontier on stdout")


def cmd_sweep(args: argparse.Namespace) -> int:
    from core.config import ConfigError
    from core.sweep import SweepRunError, SweepSpecError, plan_sweep, run_sweep, summarise
    from core.sweep.results import ResultsLog, write_table
    from core.venues.market import MarketDataError, load_market
    from tui.output_paths import OutputPathError, check_out_folder
    from tui.progress import Progress

    config = args.config or "config.yaml"
    if args.band is not None and not (0.0 < args.band < float("inf")):
        print(f"error: --band must be a positive number of base units (e.g. 0.02), got {args.band}", file=sys.stderr)
        return EXIT_USAGE
    jobs = args.jobs if args.jobs is not None else (os.cpu_count() or 1)
    if jobs < 1:
        print(f"error: --jobs must be at least 1, got {jobs}", file=sys.stderr)
        return EXIT_USAGE
    if args.scheduler and not args.scheduler.startswith(("tcp://", "tls://", "ucx://", "inproc://")):
        print(f"error: --scheduler expects an address such as tcp://10.0.0.5:8786, got {args.scheduler!r}",
              file=sys.stderr)
        return EXIT_USAGE
    inputs = [("the config (--config)", config), *(("a market data file (--market)", m) for m in args.market)]
    try:  # before any work: a refusal costs nothing
        check_out_folder("--out", args.out, RESULT_FILES, inputs)
    except OutputPathError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    try:
        market = load_market(args.market)
    except (MarketDataError, OSError) as e:
        print(f"market data error: {e}", file=sys.stderr)
        return EXIT_USAGE
    try:
        plan = plan_sweep(config, market, args.market, args.param, random_n=args.random, seed=args.seed,
                          band=args.band, policy=args.policy, timer=time.perf_counter, cpu_timer=time.process_time)
    except ConfigError:
        raise  # main() prints it with exit code 2
    except (SweepSpecError, ValueError) as e:  # a bad spec; a market with nothing to replay
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    out = Path(args.out)
    log = ResultsLog(out / "results.jsonl")
    done = log.done_ids()
    already = sum(p.id in done for p in plan.points)
    where = f"Dask cluster {args.scheduler}" if args.scheduler else f"{jobs} local process{'es' if jobs > 1 else ''}"
    print(f"sweep: {len(plan.points)} configs, {already} already done; band {plan.ctx.band:g}; {where}",
          file=sys.stderr)
    progress = Progress(len(plan.points), already=already)
    try:
        run_sweep(plan, log, jobs=jobs, scheduler=args.scheduler, on_row=lambda _r, n, _t: progress.update(n))
    except SweepRunError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        in_file = log.done_ids()  # the file's truth, not the last progress callback's
        kept = sum(p.id in in_file for p in plan.points)
        print(f"\ninterrupted: {kept} of {len(plan.points)} configs are in {log.path}; the same command "
              f"resumes", file=sys.stderr)
        return 130
    summary = summarise(plan, log)
    on_front = set(summary["frontier"]["usdt_vs_mean_gap"])
    write_table(out / "results.csv", summary["rows"], plan.param_keys,
                {"on_frontier": on_front, "today": {summary["today_id"]}})
    (out / "frontier.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    from tui.sweep_chart import frontier_table, render_frontier
    from tui.sweep_html import write_html

    text = "\n".join([
        "rebalancer sweep " + " ".join(sys.argv[2:] if sys.argv[1:2] == ["sweep"] else []),
        f"config {config}; market {', '.join(args.market)}; common band {plan.ctx.band:g} (base)",
        f"lazy-hedge bound: trades only when |gap| > a band, back to its edge, at the taker fee "
        f"({summary['taker_fee_rate'] * 1e4:g} bps); its line spans bands from narrow to wide",
        "",
        "frontier (cost USDT vs mean |gap|; T = today's config):",
        *frontier_table(summary, width=120, limit=50),
    ])
    page = write_html(out / "frontier.html", summary, text, f"Sweep frontier: {Path(config).name}")
    if args.chart:
        import shutil

        from rich.console import Console

        width = min(shutil.get_terminal_size((80, 24)).columns, 120)
        Console(width=width, highlight=False).print(render_frontier(summary, width), end="")
    print(f"results in {out}/: results.csv (the table), results.jsonl (a line per config), "
          f"{page.name} (opens offline)")
    return 0
