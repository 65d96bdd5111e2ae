"""Core event throughput: a multi-million-event stream, pre-loaded in memory, through the full
Rebalancer + execution + risk + paper matching (``core.replay.run_replay``).

    python bench/core_throughput.py [--events 3000000] [--source synthetic,tiled] [--quick] [--profile]

Two streams (both built before the clock starts):

* ``synthetic``: ``SyntheticMarket(seed=7, trades_per_s=20).tape(...)`` -- trades + quotes,
  GARCH volatility and regimes, sized to ``--events``;
* ``tiled``: the real Binance USD-M trades + BBO recording (87,401 events, 5.7 minutes) repeated
  end to end (each copy shifted in time, prices shifted to continue where the last copy ended).

Reported per stream: input events/s (``events_in / wall``), processed events/s
(``report["events_processed"]`` -- every event the rebalancer handled, including the paper
exchange's order/fill/balance events and timer ticks -- over wall), and the same-run floor: a
trivial Python loop over the same arrays (same merge order, same per-event column reads, no
calls), with ``core / floor`` as a slowdown ratio. Each is also given per CPU second
(``time.process_time``), which moves much less than wall time on a shared machine.
Target: >= 1,000,000 events/s (wall). ``--profile`` adds the top functions (cProfile) of a
300k-event run of each stream.
"""

from __future__ import annotations

import argparse
import sys
import time
from array import array
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    BENCH_CONFIG, USDM_BBO, USDM_TRADES, add_common_args, check, emit, load_app_config, profile_top, result, rnd,
)

TARGET_EVENTS_PER_S = 1_000_000
START_MS = 1_700_000_000_000


# ---------------------------------------------------------------------------- streams


def synthetic_stream(n_events: int, *, seed: int = 7, trades_per_s: float = 20.0):
    """A synthetic market of about ``n_events`` events (estimated from a 10-minute probe)."""
    from core.venues.market import SyntheticMarket

    sm = SyntheticMarket(seed=seed, start_ms=START_MS, start_price=60_000.0, trades_per_s=trades_per_s)
    probe_ms = 600_000
    probe = len(sm.tape(probe_ms))
    duration = int(probe_ms * n_events / max(1, probe) * 1.02)
    return sm.tape(max(duration, 60_000))


def tiled_stream(n_events: int, trades_path: Path = USDM_TRADES, bbo_path: Path = USDM_BBO):
    """The real trades + BBO recording repeated until ``n_events`` (time and price continued)."""
    from core.venues.market import MarketData, QuoteTape, TradeTape, load_market

    base = load_market([trades_path, bbo_path])
    tr, qt = base.trades, base.quotes
    assert qt is not None
    per = len(base)
    copies = max(1, -(-n_events // per))
    span = max(tr.ts_ms[-1], qt.ts_ms[-1]) - min(tr.ts_ms[0], qt.ts_ms[0]) + 1
    step_px = round(tr.price[-1] - tr.price[0], 2)  # the next copy starts where this one ended
    trades, quotes = TradeTape(), QuoteTape()
    for k in range(copies):
        dt, dp = k * span, round(k * step_px, 2)
        trades.ts_ms.extend(array("q", [t + dt for t in tr.ts_ms]))
        trades.price.extend(array("d", [round(p + dp, 2) for p in tr.price]))
        trades.qty.extend(tr.qty)
        trades.side.extend(tr.side)
        quotes.ts_ms.extend(array("q", [t + dt for t in qt.ts_ms]))
        quotes.bid.extend(array("d", [round(p + dp, 2) for p in qt.bid]))
        quotes.bid_qty.extend(qt.bid_qty)
        quotes.ask.extend(array("d", [round(p + dp, 2) for p in qt.ask]))
        quotes.ask_qty.extend(qt.ask_qty)
    return MarketData(trades=trades, quotes=quotes)


def build_stream(kind: str, n_events: int):
    if kind == "synthetic":
        return synthetic_stream(n_events)
    if kind == "tiled":
        return tiled_stream(n_events)
    raise SystemExit(f"unknown source {kind!r} (synthetic | tiled)")


# ---------------------------------------------------------------------------- the floor


def trivial_loop(market) -> float:
    """run_replay's loop skeleton with every call removed: Python's floor for this stream."""
    trades, quotes = market.trades, market.quotes
    ts_arr, px_arr, qty_arr, side_arr = trades.ts_ms, trades.price, trades.qty, trades.side
    order = market.merge_order() if quotes is not None and len(quotes) else None
    acc = 0.0
    next_tick = ts_arr[0]
    qi = ti = 0
    n = len(trades) + (len(quotes) if quotes is not None else 0)
    for k in range(n):
        if order is not None and not order[k]:
            ts = quotes.ts_ms[qi]
            bid, bq, ask, aq = quotes.bid[qi], quotes.bid_qty[qi], quotes.ask[qi], quotes.ask_qty[qi]
            qi += 1
            acc += bid + ask + bq + aq
        else:
            ts = ts_arr[ti]
            price = px_arr[ti]
            is_buy = side_arr[ti] == 1
            acc += price + qty_arr[ti] + is_buy
            ti += 1
        if ts >= next_tick:
            next_tick = ts + 1000
    return acc


# ---------------------------------------------------------------------------- run


def measure(kind: str, n_events: int, cfg) -> dict:
    from core.replay import run_replay

    t0 = time.perf_counter()
    market = build_stream(kind, n_events)
    build_s = time.perf_counter() - t0
    n_in = len(market)

    t0, c0 = time.perf_counter(), time.process_time()
    trivial_loop(market)
    floor_s, floor_cpu = time.perf_counter() - t0, time.process_time() - c0

    t0, c0 = time.perf_counter(), time.process_time()
    rep = run_replay(cfg, market, mode="auto", timer=time.perf_counter).report
    core_s, core_cpu = time.perf_counter() - t0, time.process_time() - c0

    processed = rep["events_processed"]
    return {
        "source": kind,
        "events_in": n_in,
        "events_processed": processed,
        "build_s": rnd(build_s, 2),
        "wall_s": rnd(core_s, 3),
        "events_in_per_s": round(n_in / core_s),
        "events_processed_per_s": round(processed / core_s),
        "cpu_s": rnd(core_cpu, 3),
        "events_in_per_cpu_s": round(n_in / core_cpu),
        "floor_wall_s": rnd(floor_s, 3),
        "floor_cpu_s": rnd(floor_cpu, 3),
        "floor_events_per_s": round(n_in / floor_s),
        "slowdown_vs_floor": rnd(core_s / floor_s, 1),
        "slowdown_vs_floor_cpu": rnd(core_cpu / floor_cpu, 1),
        "orders": rep["orders"],
        "fills": rep["fills"],
        "grid_fills": rep["grid_fills"],
        "decisions": rep["decisions"],
    }


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(p)
    p.add_argument("--events", type=int, default=None, help="input events per stream (default 3,000,000; quick 200,000)")
    p.add_argument("--source", default="synthetic,tiled", help="comma list: synthetic, tiled")
    p.add_argument("--config", default=None, help="config file (default: examples/paper-realistic.yaml)")
    p.add_argument("--profile", action="store_true", help="also cProfile a 300k-event run of each source")
    args = p.parse_args(argv)
    n = args.events or (200_000 if args.quick else 3_000_000)
    cfg = load_app_config(args.config)
    runs = [measure(kind.strip(), n, cfg) for kind in args.source.split(",") if kind.strip()]
    profiles = {}
    if args.profile:
        from core.replay import run_replay

        for kind in args.source.split(","):
            m = build_stream(kind.strip(), min(n, 300_000))
            profiles[kind.strip()] = profile_top(lambda m=m: run_replay(cfg, m, mode="auto"), limit=20)
    figures = {r["source"]: r for r in runs}
    checks = [check(f"core events/s, input ({r['source']})", r["events_in_per_s"], ">=", TARGET_EVENTS_PER_S, "ev/s")
              for r in runs]
    checks += [check(f"core events/s, processed ({r['source']})", r["events_processed_per_s"], ">=",
                     TARGET_EVENTS_PER_S, "ev/s") for r in runs]
    res = result("core_throughput", params={"events": n, "sources": [r["source"] for r in runs],
                                            "config": args.config or BENCH_CONFIG, "mode": "auto"},
                 figures=figures, checks=checks, extra={"profile": profiles} if profiles else None)
    emit(res, args.json_out)
    return res


if __name__ == "__main__":
    main()
