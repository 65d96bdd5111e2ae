"""The least a replay of one data set can cost, whatever engine runs the product's rules.

    python bench/replay_floor.py [--quick] [--file PATH.csv.gz ...]

Why it exists: issue 17 item 6 asks for a replay within 2x a plain float parse of the file. A
replay that keeps the product's semantics (the same ``Rebalancer`` live, on paper and in
replay: every order decided, every grid fill booked and its gap tested) must at least

* read the file: the plain parse itself (``replay_vs_parse.plain_parse``; ``load_market``
  does more, this counts only the parse);
* set up and report: a replay of the set's first minute (config, paper exchange, grid,
  rebalancer, report);
* decide each order it sends: ``orders`` x the warm p50 of the one ``on_event`` that returns an
  order (``bench/decision_path.py``'s trial, without placing, filling or booking the order);
* book each grid fill: ``grid fills`` x the p50 of one ``PositionUpdate`` on a rebalancer inside
  its hold band (booking only: the gap test it sets off is not counted).

``floor = parse + set-up + orders x decision + grid fills x booking`` is therefore a lower
bound: every term leaves work out. Where ``floor / parse`` is over 2, item 6 cannot be met on
that set by making the engine faster, only by replaying something other than what runs live.
The orders and grid fills are the set's own with ``examples/replay.yaml`` (one replay each).
"""

from __future__ import annotations

import argparse
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, add_common_args, check, config_from, emit, load_app_config, result, rnd  # noqa: E402

TARGET_RATIO = 2.0
PER_CALL_TRIALS = 4_000


def booking_p50_s(trials: int) -> float:
    """One grid fill's position update, booked by a rebalancer whose gap stays inside soft."""
    from core.events import PositionUpdate
    from core.model import Position

    import decision_path
    from live_latency import LIVE_CONFIG

    reb = decision_path._ready_rebalancer(config_from(LIVE_CONFIG))
    ts = decision_path.T0 + 2_000
    sizes = (Decimal("-4.9999"), Decimal("-4.9998"))  # gap 0.0001 / 0.0002 BTC: under soft
    px = Decimal("60000")
    times = []
    for i in range(trials):
        ts += 10
        ev = PositionUpdate(ts, Position("BTCUSDT", sizes[i & 1], px, px))
        t0 = time.perf_counter()
        reb.on_event(ev)
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


def decision_p50_s(trials: int) -> float:
    import decision_path
    from live_latency import LIVE_CONFIG

    return decision_path.series(config_from(LIVE_CONFIG), trials, 0.0)["p50_ms"] / 1e3


def setup_s(cfg, paths: list[Path], repeat: int = 20) -> float:
    """A replay of the set's first minute: config, exchange, grid, rebalancer and report."""
    from core.replay import run_replay
    from core.venues.market import load_market

    market = load_market([str(p) for p in paths])
    first = market.window(market.start_ms, market.start_ms + 60_000)
    best = float("inf")
    for _ in range(repeat):
        c0 = time.process_time()
        run_replay(cfg, first, mode="auto")
        best = min(best, time.process_time() - c0)
    return best


def floor_of(paths: list[Path], cfg, decision_s: float, booking_s: float, repeat: int) -> dict:
    from core.replay import run_replay
    from core.venues.market import load_market
    from replay_vs_parse import plain_parse

    parse = float("inf")
    for _ in range(repeat):
        c0 = time.process_time()
        plain_parse_rows = sum(plain_parse(p) for p in paths)
        parse = min(parse, time.process_time() - c0)
    rep = run_replay(cfg, load_market([str(p) for p in paths]), mode="auto").report
    orders, grid_fills = rep["orders"], rep["grid_fills"]
    setup = setup_s(cfg, paths)
    floor = parse + setup + orders * decision_s + grid_fills * booking_s
    return {"files": [p.name for p in paths], "rows": plain_parse_rows, "orders": orders, "grid_fills": grid_fills,
            "parse_cpu_s": rnd(parse, 4), "setup_cpu_s": rnd(setup, 4),
            "orders_cpu_s": rnd(orders * decision_s, 4), "grid_fills_cpu_s": rnd(grid_fills * booking_s, 4),
            "floor_cpu_s": rnd(floor, 4), "floor_over_parse": rnd(floor / parse, 2)}


def main(argv: list[str] | None = None) -> dict:
    from replay_vs_parse import REPLAY_CONFIG, data_sets

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(p)
    p.add_argument("--file", action="append", help="one set of files instead of every data set (repeatable)")
    p.add_argument("--config", default=REPLAY_CONFIG, help=f"replay config (default {REPLAY_CONFIG})")
    args = p.parse_args(argv)
    trials = 400 if args.quick else PER_CALL_TRIALS
    sets = data_sets(p, args.file, args.quick)
    cfg_path = args.config if Path(args.config).is_absolute() else str(REPO / args.config)
    cfg = load_app_config(cfg_path)
    decision_s, booking_s = decision_p50_s(trials), booking_p50_s(trials)
    per_set = {}
    for name, paths in sets.items():
        f = per_set[name] = floor_of(paths, cfg, decision_s, booking_s, 1 if args.quick else 3)
        print(f"{name:26s} parse {f['parse_cpu_s']:7.4f} s  floor {f['floor_cpu_s']:7.4f} s = "
              f"{f['floor_over_parse']:5.2f}x  (set-up {f['setup_cpu_s']}, {f['orders']} orders "
              f"{f['orders_cpu_s']}, {f['grid_fills']} grid fills {f['grid_fills_cpu_s']})", file=sys.stderr, flush=True)
    figures = {"decision_p50_us": rnd(decision_s * 1e6, 2), "booking_p50_us": rnd(booking_s * 1e6, 2), "sets": per_set}
    # a check that passes where the target is reachable in principle (the floor under 2x)
    checks = [check(f"{name}: floor / plain parse (CPU; over 2 = item 6 out of reach)", f["floor_over_parse"], "<=",
                    TARGET_RATIO, "x") for name, f in per_set.items()]
    res = result("replay_floor", params={"config": args.config, "trials": trials, "sets": list(per_set)},
                 figures=figures, checks=checks,
                 notes="floor = parse + set-up + orders x decision p50 + grid fills x booking p50: a lower bound")
    emit(res, args.json_out)
    return res


if __name__ == "__main__":
    main()
