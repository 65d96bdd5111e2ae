"""Replay of a recorded file end to end vs a plain ``csv`` parse of the same file, in one run.

    python bench/replay_vs_parse.py [--file PATH.csv.gz] [--quick]

* baseline: ``gzip.open`` + ``csv.reader``, the 6 kline columns (ts_ms, open, high, low,
  close, volume) converted to float into 6 lists -- the least any Python tool must do to read
  the file;
* product path: what ``rebalancer replay --market FILE`` does: ``load_market`` (columnar parse,
  kline -> 4 trades) + ``run_replay`` (Rebalancer + execution + risk + paper exchange + grid),
  with examples/paper-realistic.yaml in auto mode.

Default file: the 8-month Binance USD-M 1-minute klines (352,800 bars -> 1,411,200 trade
events). ``--quick`` uses the Bybit linear month (44,820 bars). The file is read once before
timing so both sides start with a warm page cache; the parse is timed twice, the faster kept.
Target: replay / parse <= 3.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import BENCH_CONFIG, BIG_KLINES, MONTH_KLINES, add_common_args, check, emit, load_app_config, result, rnd  # noqa: E402

TARGET_RATIO = 3.0


def plain_parse(path: Path) -> int:
    ts, o, h, lo, c, v = [], [], [], [], [], []
    with gzip.open(path, "rt", newline="") as f:
        rows = csv.reader(f)
        next(rows)
        for r in rows:
            ts.append(float(r[0]))
            o.append(float(r[1]))
            h.append(float(r[2]))
            lo.append(float(r[3]))
            c.append(float(r[4]))
            v.append(float(r[5]))
    return len(ts)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(p)
    p.add_argument("--file", default=None, help="a 1-minute kline .csv(.gz) (default: the 8-month Binance file)")
    p.add_argument("--config", default=None, help="config file (default: examples/paper-realistic.yaml)")
    args = p.parse_args(argv)
    path = Path(args.file) if args.file else (MONTH_KLINES if args.quick else BIG_KLINES)

    from core.replay import run_replay
    from core.venues.market import load_market

    cfg = load_app_config(args.config)
    path.read_bytes()  # warm the page cache for both sides

    parse_times = []
    rows = 0
    for _ in range(2):
        t0 = time.perf_counter()
        rows = plain_parse(path)
        parse_times.append(time.perf_counter() - t0)
    parse_s = min(parse_times)

    t0, c0 = time.perf_counter(), time.process_time()
    market = load_market(path)
    load_s = time.perf_counter() - t0
    rep = run_replay(cfg, market, mode="auto", timer=time.perf_counter).report
    total_s = time.perf_counter() - t0
    total_cpu = time.process_time() - c0
    replay_s = total_s - load_s

    ratio = total_s / parse_s
    figures = {
        "file": path.name,
        "rows": rows,
        "events_in": rep["events_in"],
        "events_processed": rep["events_processed"],
        "plain_parse_s": rnd(parse_s, 3),
        "plain_parse_runs_s": [rnd(t, 3) for t in parse_times],
        "plain_parse_rows_per_s": round(rows / parse_s),
        "load_market_s": rnd(load_s, 3),
        "run_replay_s": rnd(replay_s, 3),
        "replay_total_s": rnd(total_s, 3),
        "replay_total_cpu_s": rnd(total_cpu, 3),
        "replay_events_per_s": round(rep["events_in"] / replay_s) if replay_s > 0 else None,
        "ratio_total_vs_parse": rnd(ratio, 2),
        "ratio_load_vs_parse": rnd(load_s / parse_s, 2),
        "ratio_replay_only_vs_parse": rnd(replay_s / parse_s, 2),
        "orders": rep["orders"],
        "fills": rep["fills"],
        "grid_fills": rep["grid_fills"],
    }
    res = result("replay_vs_parse", params={"file": str(path), "config": args.config or BENCH_CONFIG, "mode": "auto"},
                 figures=figures,
                 checks=[check("replay end to end / plain csv parse", rnd(ratio, 2), "<=", TARGET_RATIO, "x")])
    emit(res, args.json_out)
    return res


if __name__ == "__main__":
    main()
