"""Replay of recorded files end to end vs a plain ``csv`` parse of the same files, in one run.

    python bench/replay_vs_parse.py [--quick] [--config examples/replay.yaml] [--repeat 3]
    python bench/replay_vs_parse.py --file PATH.csv.gz [--file QUOTES.csv.gz]   # one set only

Every data set of ``../shared/data`` (each file once: a quote or BBO file goes with the trades
or klines it belongs to, since quotes alone cannot be replayed), with ``examples/replay.yaml``
(issue 17: its wide, busy grid fills ~27 k times over the 8-month file):

* baseline: ``gzip.open`` + ``csv.reader``, the columns the product reads converted to float
  (klines: ts, open, high, low, close, volume; trades: ts, price, qty and the side; BBO and
  quote bars: ts, bid, bid size, ask, ask size) into one list each -- the least any Python tool
  must do to read the files;
* product path: what ``rebalancer replay --market FILE...`` does: ``load_market`` (columnar
  parse, kline -> 4 trades) + ``run_replay`` (Rebalancer + execution + risk + paper exchange +
  grid) in auto mode.

Timing on a shared machine: the two sides run back to back, alternating, ``--repeat`` times
(more for the small files, so each side is timed over at least ~0.3 s), and the fastest run of
each side is kept, so a ratio compares the two at the same moment's machine speed. CPU-time
ratios (``time.process_time``) are printed next to the wall ones and are the checks: they move
much less when other processes share the cores. ``--quick`` leaves out the 8-month file. Target (issue 17, item 6):
replay / parse <= 2 on every set.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import BIG_KLINES, DATA_DIR, REPO, add_common_args, check, emit, load_app_config, result, rnd  # noqa: E402

TARGET_RATIO = 2.0
REPLAY_CONFIG = "examples/replay.yaml"
MIN_TIMED_S = 0.3  # a small set is repeated until each side has run at least this long in total

# every file of the data folder once; quotes / BBO replay with the trades or klines they belong to
SETS = {
    "bybit-spot-day+quotes": ("bybit_spot_BTCUSDT_1m_2022-12-13.csv.gz",
                              "bybit_spot_BTCUSDT_1m_quotes_2022-12-13_0000-1200.csv.gz"),
    "bybit-linear-12h+quotes": ("bybit_linear_BTCUSDT_1m_2022-12-13_0000-1200.csv.gz",
                                "bybit_linear_BTCUSDT_1m_quotes_2022-12-13_0000-1200.csv.gz"),
    "bybit-linear-month": ("bybit_linear_BTCUSDT_1m_2024-12-31T21Z_2025-01-31.csv.gz",),
    "binance-usdm-8-months": (BIG_KLINES.name,),
    "binance-spot-ticks+bbo": ("binance_spot_BTCUSDT_trades_2024-08-08T235415Z_235959Z.csv.gz",
                               "binance_spot_BTCUSDT_bbo_2024-08-08T235415Z_235959Z.csv.gz"),
    "binance-usdm-ticks+bbo": ("binance_usdm_BTCUSDT_trades_2024-08-08T235416Z_235959Z.csv.gz",
                               "binance_usdm_BTCUSDT_bbo_2024-08-08T235416Z_235959Z.csv.gz"),
}


# -- the baseline: the used columns to float, one list each, per layout (unrolled, as fast as
#    plain Python reads them)

def _klines(rows) -> int:
    ts, o, h, lo, c, v = [], [], [], [], [], []
    for r in rows:
        ts.append(float(r[0]))
        o.append(float(r[1]))
        h.append(float(r[2]))
        lo.append(float(r[3]))
        c.append(float(r[4]))
        v.append(float(r[5]))
    return len(ts)


def _trades(rows) -> int:
    ts, p, q, s = [], [], [], []
    for r in rows:
        ts.append(float(r[0]))
        p.append(float(r[1]))
        q.append(float(r[2]))
        s.append(r[3] == "buy")
    return len(ts)


def _quotes(rows, b: int, bq: int, a: int, aq: int) -> int:
    ts, bid, bid_q, ask, ask_q = [], [], [], [], []
    for r in rows:
        ts.append(float(r[0]))
        bid.append(float(r[b]))
        bid_q.append(float(r[bq]))
        ask.append(float(r[a]))
        ask_q.append(float(r[aq]))
    return len(ts)


def plain_parse(path: Path) -> int:
    """Rows read from one file: its header picks the layout."""
    with gzip.open(path, "rt", newline="") as f:
        rows = csv.reader(f)
        header = next(rows)
        if header[:2] == ["ts_ms", "price"]:
            return _trades(rows)
        if header[:2] == ["ts_ms", "recv_ts_ms"]:
            return _quotes(rows, 2, 3, 4, 5)
        if header[:2] == ["ts_ms", "bid_open"]:
            return _quotes(rows, 4, 5, 9, 10)
        return _klines(rows)


def data_sets(p: argparse.ArgumentParser, files: list[str] | None, quick: bool) -> dict[str, list[Path]]:
    """``--file`` as one set, or every data set (``--quick``: without the 8-month file); a
    missing recorded file is the parser's error."""
    if files:
        return {"+".join(Path(f).name for f in files): [Path(f) for f in files]}
    sets = {name: [DATA_DIR / f for f in fs] for name, fs in SETS.items() if not (quick and BIG_KLINES.name in fs)}
    missing = [str(f) for fs in sets.values() for f in fs if not f.exists()]
    if missing:
        p.error(f"recorded data not found: {', '.join(missing)} (set REBALANCER_SHARED_DATA)")
    return sets


def measure(paths: list[Path], cfg, repeat: int) -> dict:
    """Parse and replay of one set, back to back, alternating; the fastest of each side."""
    from core.replay import run_replay
    from core.venues.market import load_market

    for p in paths:
        p.read_bytes()  # warm the page cache for both sides
    parse_w, parse_c, load_w, replay_w, total_w, total_c = [], [], [], [], [], []
    rows = 0
    rep: dict = {}
    runs = 0
    while runs < repeat or (sum(total_w) < MIN_TIMED_S and runs < 50):
        runs += 1
        t0, c0 = time.perf_counter(), time.process_time()
        rows = sum(plain_parse(p) for p in paths)
        parse_w.append(time.perf_counter() - t0)
        parse_c.append(time.process_time() - c0)
        t0, c0 = time.perf_counter(), time.process_time()
        market = load_market([str(p) for p in paths])
        t1 = time.perf_counter()
        rep = run_replay(cfg, market, mode="auto").report
        t2 = time.perf_counter()
        load_w.append(t1 - t0)
        replay_w.append(t2 - t1)
        total_w.append(t2 - t0)
        total_c.append(time.process_time() - c0)
    parse_s, parse_cpu, total_s, total_cpu = min(parse_w), min(parse_c), min(total_w), min(total_c)
    return {
        "files": [p.name for p in paths],
        "rows": rows,
        "runs": runs,
        "events_in": rep["events_in"],
        "events_processed": rep["events_processed"],
        "orders": rep["orders"],
        "fills": rep["fills"],
        "grid_fills": rep["grid_fills"],
        "plain_parse_s": rnd(parse_s, 4),
        "load_market_s": rnd(min(load_w), 4),
        "run_replay_s": rnd(min(replay_w), 4),
        "replay_total_s": rnd(total_s, 4),
        "ratio_total_vs_parse": rnd(total_s / parse_s, 2),
        "plain_parse_cpu_s": rnd(parse_cpu, 4),
        "replay_total_cpu_s": rnd(total_cpu, 4),
        "ratio_cpu": rnd(total_cpu / parse_cpu, 2) if parse_cpu > 0 else None,
    }


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(p)
    p.add_argument("--file", action="append", default=None,
                   help="measure only this set (repeat --file for trades + quotes); default: every set")
    p.add_argument("--config", default=REPLAY_CONFIG, help=f"config file (default: {REPLAY_CONFIG})")
    p.add_argument("--repeat", type=int, default=None, help="timed runs per side (default 3; quick 1)")
    p.add_argument("--plain", action="store_true",
                   help="turn issue 17's replay speed-ups off (core.replay.early_out, "
                        "core.venues.paper_exchange.grid_ledger): the figures before them, on today's machine")
    args = p.parse_args(argv)
    if args.plain:
        import core.replay.early_out
        import core.venues.paper_exchange.grid_ledger
        core.replay.early_out.ENABLED = core.venues.paper_exchange.grid_ledger.ENABLED = False
    repeat = args.repeat or (1 if args.quick else 3)
    sets = data_sets(p, args.file, args.quick)
    cfg_path = args.config if Path(args.config).is_absolute() else str(REPO / args.config)
    cfg = load_app_config(cfg_path)
    per_set = {}
    for name, paths in sets.items():
        f = per_set[name] = measure(paths, cfg, repeat)
        print(f"{name:26s} parse {f['plain_parse_s']:8.4f} s  replay {f['replay_total_s']:8.4f} s  "
              f"ratio {f['ratio_total_vs_parse']:5.2f}x  (cpu {f['ratio_cpu']}x, {f['runs']} runs, "
              f"grid fills {f['grid_fills']}, fills {f['fills']})", file=sys.stderr, flush=True)
    worst = max(per_set, key=lambda n: per_set[n]["ratio_total_vs_parse"])
    figures = {"sets": per_set, "worst_set": worst, **{k: per_set[worst][k] for k in (
        "plain_parse_s", "replay_total_s", "ratio_total_vs_parse", "events_processed")}}
    # the CPU ratio is the check: on the shared 2-core machine a process gets anything from a
    # tenth of a core to a whole one, and the wall ratio of a set that parses in milliseconds
    # moves with it (both are printed and kept)
    checks = [check(f"{name}: replay end to end / plain csv parse (CPU)", f["ratio_cpu"], "<=", TARGET_RATIO, "x")
              for name, f in per_set.items()]
    res = result("replay_vs_parse", params={"sets": {n: [p.name for p in ps] for n, ps in sets.items()},
                                            "config": args.config, "mode": "auto", "repeat": repeat,
                                            "speedups": not args.plain},
                 figures=figures, checks=checks,
                 notes="per set: parse and replay back to back in the same run, the fastest of each side")
    emit(res, args.json_out)
    return res


if __name__ == "__main__":
    main()
