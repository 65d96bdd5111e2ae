"""The decision path alone: one trade that makes the Rebalancer trade, warm vs after an idle gap.

    python bench/decision_path.py [--trials 2000] [--idle-ms 20] [--quick]

A diagnostic for ``live_latency``: its check is the code's own share of that 1 ms target. Each trial builds a fresh
``Rebalancer`` with live_latency's config, brings it to a gap past the hard threshold (a grid
fill's position update), then times the one ``on_event(Trade)`` that returns the order. Two
series in the same run:

* ``warm``: trials back to back;
* ``after_idle``: the process sleeps ``--idle-ms`` before each timed call, as the live loop
  does between market events.

The ratio ``after_idle / warm`` shows how much of the live figure is the code and how much is
waking up cold (caches, the VM's vCPU) after the loop slept.
"""

from __future__ import annotations

import argparse
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import add_common_args, check, config_from, emit, result, rnd  # noqa: E402
from live_latency import LIVE_CONFIG  # noqa: E402

T0 = 1_700_000_000_000
TARGET_MS = 1.0  # live_latency's p99 target; this is the part of it the decision code itself takes


def _ready_rebalancer(cfg):
    """A fresh Rebalancer, connected, with a gap just past hard (0.002 > 0.0015 BTC)."""
    from core.events import BalanceUpdate, ConnectionChanged, PositionUpdate, Quote, Trade
    from core.model import BTCUSDT_SPOT, Balance, Mode, Position, Side
    from core.rebalancer import Rebalancer

    d = Decimal
    reb = Rebalancer(cfg.rebalancer, BTCUSDT_SPOT, mode=Mode.AUTO, client_prefix="rb")
    reb.on_event(ConnectionChanged(T0, True, "bench"))
    reb.on_event(BalanceUpdate(T0, (Balance("BTC", d("5.0"), d(0)), Balance("USDT", d("500000"), d(0)))))
    reb.on_event(PositionUpdate(T0, Position("BTCUSDT", d("-5"), d("60000"), d("60000"))))
    reb.on_event(Quote(T0, 59_999.9, 1.0, 60_000.1, 1.0))
    reb.on_event(Trade(T0, 60_000.0, 0.01, Side.BUY))
    reb.on_tick(T0 + 1_000)
    reb.on_event(PositionUpdate(T0 + 1_200, Position("BTCUSDT", d("-4.998"), d("60000"), d("60000"))))
    return reb


def series(cfg, trials: int, idle_s: float) -> dict:
    from core.events import PlaceOrder, Trade
    from core.model import Side

    times = []
    for _ in range(trials):
        reb = _ready_rebalancer(cfg)
        ev = Trade(T0 + 1_500, 60_000.5, 0.01, Side.BUY)
        if idle_s:
            time.sleep(idle_s)  # the live loop's quiet time between events (a benchmark, not a test)
        t0 = time.perf_counter()
        out = reb.on_event(ev)
        dt = time.perf_counter() - t0
        if not any(type(c) is PlaceOrder for c in out):
            raise SystemExit("the trial did not produce an order: the setup no longer matches the config")
        times.append(dt * 1e3)
    times.sort()
    n = len(times)
    return {"trials": n, "p50_ms": rnd(times[n // 2], 4), "p90_ms": rnd(times[int(n * 0.9)], 4),
            "p99_ms": rnd(times[min(n - 1, int(n * 0.99))], 4), "max_ms": rnd(times[-1], 4)}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(p)
    p.add_argument("--trials", type=int, default=None, help="timed calls per series (default 2000; quick 200)")
    p.add_argument("--idle-ms", type=float, default=20.0, help="sleep before each after-idle call (default 20)")
    args = p.parse_args(argv)
    trials = args.trials or (200 if args.quick else 2_000)
    cfg = config_from(LIVE_CONFIG)
    warm = series(cfg, trials, 0.0)
    idle = series(cfg, max(1, trials // 4), args.idle_ms / 1000.0)
    figures = {"warm": warm, "after_idle": idle,
               "p50_after_idle_over_warm": rnd(idle["p50_ms"] / warm["p50_ms"], 2) if warm["p50_ms"] else None}
    checks = [check("decision path, warm, p99 (the code's own share of the live target)", warm["p99_ms"], "<=",
                    TARGET_MS, "ms")]
    res = result("decision_path", params={"trials": trials, "idle_ms": args.idle_ms}, figures=figures,
                 checks=checks)
    emit(res, args.json_out)
    return res


if __name__ == "__main__":
    main()
