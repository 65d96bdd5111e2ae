#!/usr/bin/env python3
"""Soak: the sync Rebalancer + PaperExchange + GridBot over a long SyntheticMarket, at full speed,
with faults injected and the invariants checked continuously.

    python scripts/soak.py --hours 24 --seed 7 --faults            # JSON summary on stdout
    python scripts/soak.py --hours 2 --seed 3 --faults --json out.json --progress

Everything is simulated time (the market's timestamps): a day takes minutes of CPU, and the
same seed gives the same run. The harness is ``tests/reliability/helpers.Sim`` (the replay's
pump plus fault injection and independent invariant checks); see its docstring for the list.

Faults (``--faults``; rates per simulated hour, scaled by ``--fault-rate``):
disconnect windows of 5-90 s (70 % lossy: pushes dropped, reconciled on reconnect), stale-data
windows of 15-60 s (market data withheld from the engine while the exchange keeps trading),
venue rejections of the next order (as an error or as a Rejected update), duplicate fill and
order-update pushes, kills re-armed after 30-600 s, pauses resumed after 10-120 s, mode flips
(AUTO / SEMI with a trader approving or skipping proposals / WATCH), forced rebalances and
cancels of the working order.

Checks: every order as it leaves the engine (mode, trading state, connection, data age,
direction of the gap, per-order cap) and, every ``--check-every-s`` of simulated time, one
live order at most, hour/day notional caps, wrong-direction counter, recorder fills == exchange
fills, engine net delta == exchange net delta.

Memory: peak RSS (``ru_maxrss``), RSS after the warm-up (the first simulated hour, or 10 % of
a shorter run) and at the end, RSS every simulated hour; ``--tracemalloc`` adds the Python
heap (slower). Exit code 0 when no invariant was violated, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from core.model import Mode, Side, Trade, TradingState  # noqa: E402
from core.venues.market import SyntheticMarket  # noqa: E402
from tests.core.helpers_engine import T0  # noqa: E402
from tests.reliability.helpers import CAP_SLACK, ORDER_CAP_AT, Sim, market_grid, sim_config  # noqa: E402

HOUR_MS = 3_600_000
SOAK_RISK = {
    "risk__max_notional_per_trade": 3_000,
    "risk__max_notional_per_hour": 20_000,
    "risk__max_notional_per_day": 300_000,
    "risk__max_orders_per_minute": 30,
    "risk__stale_after_s": 10,
    "risk__max_drawdown_pct": 10,
}
# faults per simulated hour (before --fault-rate)
RATES = {
    "disconnect": 2.0, "stale": 2.0, "reject": 6.0, "dup_fill": 12.0, "dup_order": 12.0, "kill": 0.5,
    "pause": 0.5, "force": 0.3, "cancel": 0.3,
}


def rss_bytes() -> int:
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # not Linux: fall back to the peak
        return peak_rss_bytes()


def peak_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def mb(n: int) -> float:
    return round(n / 1_048_576, 1)


class Faults:
    """Decides, once per simulated second, which fault starts or ends (seeded, deterministic)."""

    def __init__(self, sim: Sim, rng: random.Random, rate: float) -> None:
        self.sim = sim
        self.rng = rng
        self.p = {k: v * rate / 3600.0 for k, v in RATES.items()}
        self.reconnect_at: int | None = None
        self.fresh_at: int | None = None
        self.rearm_at: int | None = None
        self.resume_at: int | None = None
        self.mode_until = T0 + self._minutes(5, 40)

    def _minutes(self, lo: float, hi: float) -> int:
        return int(self.rng.uniform(lo, hi) * 60_000)

    def _seconds(self, lo: float, hi: float) -> int:
        return int(self.rng.uniform(lo, hi) * 1_000)

    def step(self, t: int) -> None:
        sim, r, p = self.sim, self.rng.random, self.p
        # windows that end
        if self.reconnect_at is not None and t >= self.reconnect_at:
            self.reconnect_at = None
            sim.connect(t)
        if self.fresh_at is not None and t >= self.fresh_at:
            self.fresh_at = None
            sim.withhold(False)
        if self.rearm_at is not None and t >= self.rearm_at:
            self.rearm_at = None
            sim.rearm()
        if self.resume_at is not None and t >= self.resume_at:
            self.resume_at = None
            if sim.reb.risk.state is TradingState.PAUSED:
                sim.toggle_pause()
        if t >= self.mode_until:
            self.mode_until = t + self._minutes(5, 40)
            sim.set_mode(self.rng.choices([Mode.AUTO, Mode.SEMI, Mode.WATCH], [0.6, 0.3, 0.1])[0])
        # faults that start
        if self.reconnect_at is None and sim.connected and r() < p["disconnect"]:
            sim.disconnect(lossy=r() < 0.7)
            self.reconnect_at = t + self._seconds(5, 90)
        if self.fresh_at is None and r() < p["stale"]:
            sim.withhold(True)
            self.fresh_at = t + self._seconds(15, 60)
        if r() < p["reject"]:
            sim.inject_rejection(as_update=r() < 0.5)
        if r() < p["dup_fill"]:
            sim.duplicate_fill(self.rng)
        if r() < p["dup_order"]:
            sim.duplicate_order_update(self.rng)
        if self.rearm_at is None and r() < p["kill"]:
            sim.kill()
            self.rearm_at = t + self._seconds(30, 600)
        if self.resume_at is None and sim.reb.risk.state is TradingState.ACTIVE and r() < p["pause"]:
            sim.toggle_pause()
            self.resume_at = t + self._seconds(10, 120)
        if r() < p["force"]:
            sim.force()
        if r() < p["cancel"]:
            sim.cancel_pending()
        # the trader in SEMI: approves most proposals within ~15 s, skips a few
        if sim.mode is Mode.SEMI and sim.reb.proposal is not None:
            if r() < 1 / 15:
                sim.approve()
            elif r() < 1 / 120:
                sim.skip()


def run_soak(hours: float, seed: int, *, faults: bool = True, fault_rate: float = 1.0, check_every_s: float = 1.0,
             warmup_hours: float | None = None, trace: bool = False, progress=None) -> dict:
    """Run the soak and return its summary (see the module docstring)."""
    if trace:
        import tracemalloc

        tracemalloc.start()
    wall0 = time.perf_counter()
    end = T0 + int(hours * HOUR_MS)
    warm_end = T0 + int((warmup_hours if warmup_hours is not None else min(1.0, hours * 0.1)) * HOUR_MS)
    rng = random.Random(seed * 7_919 + 1)
    market = SyntheticMarket(seed=seed, start_ms=T0, start_price=60_000.0)
    sim = Sim(sim_config(**SOAK_RISK), mode=Mode.AUTO, spot="0.5", futures="-0.5", ts=T0,
              grid=market_grid(60_000.0, span_pct=4.0, levels=321, qty="0.002"), cap_slack=CAP_SLACK,
              order_cap_at=ORDER_CAP_AT)
    plan = Faults(sim, rng, fault_rate) if faults else None
    check_ms = max(1, int(check_every_s * 1000))
    next_second = T0 + 1_000
    next_check = T0 + check_ms
    next_hour = T0 + HOUR_MS
    rss_warm = None
    traced_warm = None
    rss_by_hour: list[float] = []
    n_market = 0
    for ev in market.events(until_ms=end):
        ts = ev.ts_ms
        while next_second <= ts:
            sim.tick(next_second)
            if plan is not None:
                plan.step(next_second)
            if next_second >= next_check:
                sim.check_state()
                next_check = next_second + check_ms
            if rss_warm is None and next_second >= warm_end:
                rss_warm = rss_bytes()
                if trace:
                    traced_warm = tracemalloc.get_traced_memory()[0]
            if next_second >= next_hour:
                rss_by_hour.append(mb(rss_bytes()))
                next_hour += HOUR_MS
                if progress is not None:
                    progress(f"hour {len(rss_by_hour)}: {n_market} market events, {sim.counts['places']} orders, "
                             f"{len(sim.ex.fills(0))} fills, {sim.n_violations} violations, "
                             f"rss {rss_by_hour[-1]} MB, {time.perf_counter() - wall0:.1f}s")
            next_second += 1_000
        n_market += 1
        if type(ev) is Trade:
            sim.trade(ts, ev.price, ev.qty, ev.taker_side is Side.BUY)
        else:
            sim.quote(ts, ev.bid, ev.ask, ev.bid_qty, ev.ask_qty)
    if len(rss_by_hour) < int(hours):
        rss_by_hour.append(mb(rss_bytes()))
    # settle: reconnect, fresh data, the last checks
    sim.withhold(False)
    sim.connect()
    sim.tick(sim.now + 2_000)
    sim.check_state()
    wall = time.perf_counter() - wall0
    rss_end = rss_bytes()
    if rss_warm is None:
        rss_warm = rss_end
    reb = sim.reb
    out = {
        "hours": hours,
        "seed": seed,
        "faults": faults,
        "fault_rate": fault_rate if faults else 0.0,
        "market_events": n_market,
        "engine_events": reb.stats.events,
        "orders": sim.counts["places"],
        "fills": len(sim.ex.fills(0)),
        "rebalances": reb.stats.rebalances,
        "grid_fills": reb.stats.grid_fills,
        "volume_quote": round(reb.stats.volume_quote, 2),
        "invariant_checks": sim.counts["checks"],
        "invariant_violations": sim.n_violations,
        "violation_samples": sim.violations[:20],
        "faults_injected": {k: sim.counts[k] for k in ("disconnects", "stale_windows", "rejections_injected",
                                                       "dup_fills", "dup_orders", "kills", "rearms", "pauses",
                                                       "mode_flips", "approves", "skips", "forces")},
        "bad_messages": reb.bad_messages,
        "final": {"gap_base": round(reb.gap_base(), 8), "mode": reb.mode.value,
                  "trading_state": reb.risk.state.value, "price": reb.price},
        "peak_rss_mb": max(mb(peak_rss_bytes()), mb(rss_end), *rss_by_hour),
        "rss_after_warmup_mb": mb(rss_warm),
        "rss_end_mb": mb(rss_end),
        "rss_growth_after_warmup_mb": mb(rss_end - rss_warm),
        "rss_by_hour_mb": rss_by_hour,
        "wall_s": round(wall, 2),
        "market_events_per_s": round(n_market / wall, 1) if wall > 0 else None,
        "sim_hours_per_wall_minute": round(hours / wall * 60, 2) if wall > 0 else None,
    }
    if trace:
        cur, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out["tracemalloc"] = {"after_warmup_mb": mb(traced_warm or 0), "end_mb": mb(cur), "peak_mb": mb(peak),
                              "growth_after_warmup_mb": mb(cur - (traced_warm or 0))}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=24.0, help="simulated hours (default 24)")
    ap.add_argument("--seed", type=int, default=7, help="market and fault seed")
    ap.add_argument("--faults", action="store_true", help="inject faults (see the module docstring)")
    ap.add_argument("--fault-rate", type=float, default=1.0, help="multiply every fault rate by this")
    ap.add_argument("--check-every-s", type=float, default=1.0, help="state checks every N simulated seconds")
    ap.add_argument("--warmup-hours", type=float, default=None, help="RSS baseline after this (default 1 h or 10%%)")
    ap.add_argument("--tracemalloc", action="store_true", help="also measure the Python heap (slower)")
    ap.add_argument("--json", metavar="OUT", default="-", help="write the JSON summary here ('-': stdout)")
    ap.add_argument("--progress", action="store_true", help="a line on stderr every simulated hour")
    args = ap.parse_args(argv)
    progress = (lambda s: print(s, file=sys.stderr, flush=True)) if args.progress else None
    result = run_soak(args.hours, args.seed, faults=args.faults, fault_rate=args.fault_rate,
                      check_every_s=args.check_every_s, warmup_hours=args.warmup_hours, trace=args.tracemalloc,
                      progress=progress)
    text = json.dumps(result, indent=2)
    if args.json == "-":
        print(text)
    else:
        Path(args.json).write_text(text + "\n", encoding="utf-8")
        print(f"soak: {result['invariant_violations']} violations, {result['orders']} orders, {result['fills']} fills, "
              f"peak rss {result['peak_rss_mb']} MB, {result['wall_s']} s; summary in {args.json}", file=sys.stderr)
    return 0 if result["invariant_violations"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
