"""Memory over a simulated 24 h at full speed: RSS growth after warm-up must stay <= 10 MB.

    python bench/memory_24h.py [--hours 24] [--warmup-hours 2] [--rate 10] [--quick] [--trace]

A synthetic market (``SyntheticMarket(seed=7, trades_per_s=10)``: about 2.3 M trades + quotes a
day, a busy BTCUSDT spot day) is streamed -- generated lazily, never held in memory -- through
the real Rebalancer + execution + risk + paper exchange + simulated grid, synchronously and
as fast as the CPU allows, exactly like ``core/replay/run.py`` (exchange events first, then the
rebalancer's commands back to the exchange until quiet; a timer tick every simulated second).
The cockpit's snapshot (``Rebalancer.snapshot()``) is also built every ``--snapshot-every-ms``
of simulated time, as the live engine does for the UI.

Every simulated ``--sample-minutes`` (default 60) the process RSS is read from
``/proc/self/statm`` (after ``gc.collect()``). Reported: RSS at the end of warm-up, at the end,
the growth between them, the growth per simulated hour over the second half, and the largest
containers held by the rebalancer and the exchange (a generic walk: anything with ``len()``).
If the growth misses the target (or with ``--trace``) a second run traces ``--trace-hours`` after
the warm-up with ``tracemalloc`` (it slows the run several times over) and reports the top
allocation sites by growth.
Target: growth <= 10 MB.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import BENCH_CONFIG, add_common_args, check, emit, load_app_config, result, rnd, rss_bytes  # noqa: E402

TARGET_GROWTH_MB = 10.0
START_MS = 1_700_000_000_000
HOUR_MS = 3_600_000
TICK_MS = 1_000
MB = 1024 * 1024


def _attrs(obj) -> dict:
    out = {}
    for cls in type(obj).__mro__:
        for name in getattr(cls, "__slots__", ()):
            if hasattr(obj, name):
                out[name] = getattr(obj, name)
    out.update(getattr(obj, "__dict__", {}))
    return out


def containers(obj, prefix: str, depth: int = 2, seen: set | None = None) -> list[tuple[str, int]]:
    """(path, len) of every sized attribute of ``obj`` and of its plain-object attributes."""
    seen = seen if seen is not None else set()
    if id(obj) in seen or depth < 0:
        return []
    seen.add(id(obj))
    rows = []
    for name, v in _attrs(obj).items():
        path = f"{prefix}.{name}"
        if isinstance(v, (list, dict, set, tuple, bytearray, bytes, str)) or type(v).__name__ in ("deque", "array"):
            try:
                rows.append((path, len(v)))
            except TypeError:
                pass
        elif hasattr(v, "__dict__") or hasattr(type(v), "__slots__"):
            if type(v).__module__.startswith("core"):
                rows.extend(containers(v, path, depth - 1, seen))
    return rows


def simulate(hours: float, warmup_h: float, rate: float, sample_min: float, snapshot_ms: int, seed: int,
             trace: bool = False) -> dict:
    from core.events import BalanceUpdate, ConnectionChanged, PositionUpdate
    from core.model import BTCUSDT_SPOT, Mode, Side, Trade
    from core.rebalancer import Rebalancer
    from core.venues.paper_setup import build_paper
    from core.venues.market import SyntheticMarket

    cfg = load_app_config()
    sm = SyntheticMarket(seed=seed, start_ms=START_MS, start_price=60_000.0, trades_per_s=rate)
    end_ms = START_MS + int(hours * HOUR_MS)
    events = sm.events(end_ms)
    first = next(events)
    first_px = first.price if type(first) is Trade else first.bid
    ex, _grid = build_paper(cfg, first_px, first.ts_ms)
    reb = Rebalancer(cfg.rebalancer, BTCUSDT_SPOT, symbol=cfg.symbol, venue_name="replay", mode=Mode.AUTO,
                     maker_fee_rate=float(ex.fees.spot_maker), taker_fee_rate=float(ex.fees.spot_taker))
    reb.lazy_holds = True
    on_event, submit = reb.on_event, ex.submit

    def pump(evs, ts: int) -> None:
        pending = list(evs)
        i = 0
        while i < len(pending):
            cmds = on_event(pending[i])
            i += 1
            for c in cmds:
                pending.extend(submit(c, ts))

    ts0 = first.ts_ms
    pump((BalanceUpdate(ts0, ex.balances()), PositionUpdate(ts0, ex.position()), ConnectionChanged(ts0, True, "bench")), ts0)

    sample_ms = int(sample_min * 60_000)
    warm_ms = START_MS + int(warmup_h * HOUR_MS)
    next_sample = START_MS + sample_ms
    next_tick = ts0
    next_snap = ts0
    samples: list[dict] = []
    n = 0
    tm_start = None
    t_wall = time.perf_counter()
    gc.collect()
    samples.append({"hour": 0.0, "rss_mb": rss_bytes() / MB, "events": 0, "wall_s": 0.0})

    def sample(at_ms: int) -> None:
        gc.collect()
        samples.append({"hour": round((at_ms - START_MS) / HOUR_MS, 3), "rss_mb": rss_bytes() / MB, "events": n,
                        "wall_s": round(time.perf_counter() - t_wall, 2)})

    BUY = Side.BUY
    for ev in itertools.chain((first,), events):
        n += 1
        ts = ev.ts_ms
        while ts >= next_sample:
            sample(next_sample)
            if trace and tm_start is None and next_sample >= warm_ms:
                import tracemalloc

                tracemalloc.start(1)
                tm_start = tracemalloc.take_snapshot()
            next_sample += sample_ms
        if type(ev) is Trade:
            is_buy = ev.taker_side is BUY
            evs = ex.on_trade(ts, ev.price, ev.qty, is_buy)
            if evs:
                pump(evs, ts)
            cmds = reb.on_trade(ts, ev.price, ev.qty, is_buy)
        else:
            evs = ex.on_quote(ts, ev.bid, ev.bid_qty, ev.ask, ev.ask_qty)
            if evs:
                pump(evs, ts)
            cmds = reb.on_quote(ts, ev.bid, ev.ask)
        if cmds:
            for c in cmds:
                pump(submit(c, ts), ts)
        if ts >= next_tick:
            next_tick = ts + TICK_MS
            cmds = reb.on_tick(ts)
            if cmds:
                for c in cmds:
                    pump(submit(c, ts), ts)
        if snapshot_ms and ts >= next_snap:
            next_snap = ts + snapshot_ms
            reb.snapshot()
    sample(end_ms)
    wall = time.perf_counter() - t_wall

    top_growth = None
    if trace and tm_start is not None:
        import tracemalloc

        end_snap = tracemalloc.take_snapshot()
        tracemalloc.stop()
        stats = end_snap.compare_to(tm_start, "lineno")
        top_growth = [{"where": str(s.traceback[0]), "size_diff_kb": round(s.size_diff / 1024, 1),
                       "count_diff": s.count_diff} for s in stats[:15]]

    big = containers(reb, "rebalancer") + containers(ex, "exchange")
    big.sort(key=lambda r: r[1], reverse=True)
    return {"samples": samples, "events": n, "wall_s": wall, "containers": big[:15], "top_growth": top_growth,
            "stats": {"orders": reb.stats.orders, "fills": reb.stats.fills, "grid_fills": reb.stats.grid_fills}}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(p)
    p.add_argument("--hours", type=float, default=None, help="simulated hours (default 24; quick 3)")
    p.add_argument("--warmup-hours", type=float, default=None, help="warm-up before the baseline (default 2; quick 1)")
    p.add_argument("--sample-minutes", type=float, default=None, help="RSS sample period, simulated (default 60; quick 30)")
    p.add_argument("--rate", type=float, default=10.0, help="synthetic trades per second (quotes come on top)")
    p.add_argument("--snapshot-every-ms", type=int, default=1000, help="cockpit snapshot period, simulated ms (0: none)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--trace", action="store_true", help="always do the tracemalloc run")
    p.add_argument("--trace-hours", type=float, default=2.0, help="simulated hours traced after the warm-up (default 2)")
    args = p.parse_args(argv)
    hours = args.hours or (3.0 if args.quick else 24.0)
    warm = args.warmup_hours if args.warmup_hours is not None else (1.0 if args.quick else 2.0)
    smin = args.sample_minutes or (30.0 if args.quick else 60.0)

    run = simulate(hours, warm, args.rate, smin, args.snapshot_every_ms, args.seed)
    samples = run["samples"]
    warm_sample = min((s for s in samples if s["hour"] >= warm), key=lambda s: s["hour"], default=samples[-1])
    last = samples[-1]
    growth = last["rss_mb"] - warm_sample["rss_mb"]
    half = [s for s in samples if s["hour"] >= hours / 2]
    slope = None
    if len(half) >= 2 and half[-1]["hour"] > half[0]["hour"]:
        slope = (half[-1]["rss_mb"] - half[0]["rss_mb"]) / (half[-1]["hour"] - half[0]["hour"])
    figures = {
        "simulated_hours": hours,
        "events": run["events"],
        "wall_s": rnd(run["wall_s"], 2),
        "events_per_s": round(run["events"] / run["wall_s"]) if run["wall_s"] else None,
        "rss_start_mb": rnd(samples[0]["rss_mb"], 2),
        "rss_after_warmup_mb": rnd(warm_sample["rss_mb"], 2),
        "warmup_hour": warm_sample["hour"],
        "rss_end_mb": rnd(last["rss_mb"], 2),
        "growth_after_warmup_mb": rnd(growth, 2),
        "growth_per_hour_second_half_mb": rnd(slope, 3),
        "samples": [{**s, "rss_mb": rnd(s["rss_mb"], 2)} for s in samples],
        "largest_containers": [{"path": k, "len": v} for k, v in run["containers"]],
        **run["stats"],
    }
    if growth > TARGET_GROWTH_MB or args.trace:
        # tracemalloc slows the run many times over: trace a shorter window after the warm-up
        t_hours = min(hours, warm + args.trace_hours)
        traced = simulate(t_hours, warm, args.rate, smin, args.snapshot_every_ms, args.seed, trace=True)
        figures["tracemalloc_window_hours"] = [warm, t_hours]
        figures["tracemalloc_top_growth"] = traced["top_growth"]
    res = result("memory_24h", params={"hours": hours, "warmup_hours": warm, "rate_trades_per_s": args.rate,
                                       "sample_minutes": smin, "snapshot_every_ms": args.snapshot_every_ms,
                                       "seed": args.seed, "config": BENCH_CONFIG, "mode": "auto"},
                 figures=figures,
                 checks=[check("RSS growth after warm-up", rnd(growth, 2), "<=", TARGET_GROWTH_MB, "MB")])
    emit(res, args.json_out)
    return res


if __name__ == "__main__":
    main()
