"""Live path latency: market event handed to the engine -> order call issued.

    python bench/live_latency.py [--orders 300] [--rate 50] [--max-seconds 240] [--journal both] [--quick]
                                 [--symbols 10 --symbols-rate 5000]

An ``Engine`` (the live shell: event FIFO, one command at a time) hosts the real ``Rebalancer`` on a
``PaperVenue`` in real-time mode (speed 1: the venue sleeps until each synthetic event is due).
The config makes decisions frequent: AUTO mode, tiny thresholds (soft 0.0005 / hard 0.0015 BTC),
no cooldown / hysteresis / bias, and a dense simulated grid (100 levels over +-0.3 %, 0.002 BTC
each) on a fast synthetic market (``--rate`` trades/s, 150 % annual vol), so most grid fills
trigger a rebalance.

The figure is ``engine.decision_latencies``: from the arrival of the event that caused the
commands (``Engine._accept``) to the moment the engine issues the venue's
``place_order`` call. p50 / p99 / max in ms over every order placed. Target: p99 <= 1 ms.
``in_rebalancer_*`` splits it: the time spent inside ``Rebalancer.on_event`` for the events
that produced an order (the rest is the FIFO and starting the command: since the engine starts
it in the same callback, there is no event loop iteration in between).

``--symbols N`` (default 10) adds a run of N symbols in one process and one event loop, an
engine each on its own paper market (the USDT sizes of the BTC config carried to each symbol's
price), the markets together ``--symbols-rate`` messages a second: the worst symbol's p99 is
checked against the same 1 ms (issue 18).

It runs twice by default: without a journal (the path itself) and with the on-disk SQLite
journal a session writes by default (``with_journal``: the engine writes the rows an event
causes just after the order call it causes, and commits them, without fsync, before it takes
the loop back).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import add_common_args, check, config_from, emit, percentile, result, rnd  # noqa: E402

TARGET_P99_MS = 1.0

LIVE_CONFIG = {
    "symbol": "BTCUSDT",
    "venue": "paper",
    "mode": "auto",
    "api": {"account_name": "bench"},
    "rebalancer": {
        "policy": "anchor",
        "desired_net_delta_base": 0.0,
        "thresholds": {"soft": 0.0005, "hard": 0.0015, "units": "base"},
        "partial_rebalance_ratio": 0.5,
        "bias": {"mode": "off", "strength": 0.0},
        "ema": {"fast": 9, "slow": 21, "timeframe": "1m", "slope_lookback_s": 300, "trend_threshold_pct": 0.1},
        "anchor": {"window_s": 600, "edge_bps_soft": 0, "edge_bps_hard": 0, "max_wait_s_on_soft": 5,
                   "degrade_edge_with_time": True},
        "execution": {"style": "maker_first", "maker_first": True, "chase_ticks": 1, "chase_interval_s": 0.5,
                      "max_chase_s": 3,
                      "hard_maker_wait_s": 1, "soft_taker_after_wait": True, "slippage_cap_bps": 10,
                      "min_trade_base": 0.0001, "max_trade_base": 0.5},
        "risk": {"cooldown_s": 0, "hard_cooldown_s": 0, "hysteresis_pct": 0, "hysteresis_window_s": 0,
                 "max_notional_per_trade": 1e7, "max_notional_per_hour": 1e9, "max_notional_per_day": 1e10,
                 "max_orders_per_minute": 100000, "stale_after_s": 30, "max_drawdown_pct": 90},
    },
    "paper": {"base_balance": 5.0, "quote_balance": 500000, "futures_size": -5.0, "latency_ms": 0,
              "synthetic_spread_ticks": 1,
              "grid": {"span_pct": 0.3, "levels": 100, "qty_per_level": 0.002, "mode": "neutral"}},
    "journal": {"enabled": False},
}


class _ExchangeClock:
    def __init__(self, exchange, start_ms: int) -> None:
        self.exchange, self.start_ms = exchange, start_ms

    def now_ms(self) -> int:
        return int(self.exchange.now_ms) or self.start_ms


def hanging_receiver():
    """A loopback HTTP endpoint that never answers (a dead alert service); returns (url, stop)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    release = threading.Event()

    class Hang(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            release.wait(600)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hang)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop():
        release.set()
        server.shutdown()
    return f"json://127.0.0.1:{server.server_address[1]}/hook", stop


# several symbols in one process (issue 18): a start price per symbol; the thresholds and the grid's
# level are the BTC config's in USDT, carried to each symbol at its price
START_PRICES = {"BTCUSDT": 60_000.0, "ETHUSDT": 3_000.0, "SOLUSDT": 150.0, "XRPUSDT": 0.6, "DOGEUSDT": 0.15,
                "BNBUSDT": 600.0, "ADAUSDT": 0.45, "LTCUSDT": 80.0, "LINKUSDT": 15.0, "AVAXUSDT": 30.0}
AVAX_RULES = {"tick_size": 0.01, "qty_step": 0.01, "min_qty": 0.01, "min_notional": 5, "perp_qty_step": 0.1}


def symbol_config(symbol: str) -> dict:
    """``LIVE_CONFIG`` carried to ``symbol``: the same USDT sizes at its start price (AVAXUSDT, not
    bundled, comes with its rules under ``instrument:``)."""
    import copy

    from core.instruments import for_config

    k = START_PRICES["BTCUSDT"] / START_PRICES[symbol]
    data = copy.deepcopy(LIVE_CONFIG)
    data["symbol"] = symbol
    r = data["rebalancer"]
    r["thresholds"] = {**r["thresholds"], "soft": 0.0005 * k, "hard": 0.0015 * k}
    r["execution"] = {**r["execution"], "min_trade_base": 0.0001 * k, "max_trade_base": 0.5 * k}
    pp = data["paper"]
    pp.update(base_balance=5.0 * k, futures_size=-5.0 * k)
    data["instrument"] = AVAX_RULES if symbol == "AVAXUSDT" else None
    cfg = config_from({k_: v for k_, v in data.items() if v is not None})
    _spot, linear = for_config(cfg)
    # levels at least two perp ticks apart; fewer levels carry the same grid notional
    span = START_PRICES[symbol] * pp["grid"]["span_pct"] / 100 * 2
    levels = max(4, min(100, int(span / float(linear.tick_size) / 2)))
    pp["grid"] = {**pp["grid"], "levels": levels, "qty_per_level": 0.002 * k * 100 / levels}
    if data["instrument"] is None:
        del data["instrument"]
    return data


def build_engine(rate: float, seed: int, speed: float, journal_path: Path | None = None, alert_url: str | None = None,
                 symbol: str = "BTCUSDT"):
    from core.engine import Engine
    from core.journal import Journal
    from core.journal.recorder import JournalRecorder
    from core.model import Mode
    from core.rebalancer import Rebalancer
    from core.venues.paper_setup import build_paper
    from core.venues.market import SyntheticMarket
    from core.venues.paper import PaperVenue

    from core.instruments import for_config

    cfg = config_from(LIVE_CONFIG if symbol == "BTCUSDT" else symbol_config(symbol))
    spot, _linear = for_config(cfg)
    start_ms = time.time_ns() // 1_000_000
    k = START_PRICES["BTCUSDT"] / START_PRICES[symbol]  # the same sizes in USDT at every symbol's price
    sm = SyntheticMarket(seed=seed, start_ms=start_ms, start_price=START_PRICES[symbol], trades_per_s=rate,
                         annual_vol=1.5, tick=float(spot.tick_size), qty_step=float(spot.qty_step),
                         min_trade_qty=max(float(spot.qty_step), 0.0005 * k), max_trade_qty=20.0 * k)
    events = sm.events()
    first = next(events)
    first_px = getattr(first, "price", None) or first.bid  # type: ignore[attr-defined]

    market_messages = [0]  # how many market messages the venue has taken from the market so far

    def source():
        market_messages[0] += 1
        yield first
        for ev in events:
            market_messages[0] += 1
            yield ev

    # With a journal: the on-disk SQLite file the product writes (WAL, synchronous=NORMAL),
    # recording every decision, order and fill as a session does.
    journal = Journal(journal_path) if journal_path is not None else None
    recorder = JournalRecorder(journal) if journal is not None else None
    alerts = None
    if alert_url is not None:  # every fill an alert, to a service that never answers
        from dataclasses import replace

        from core.alerts.rules import EVENTS
        from core.alerts.setup import Alerts
        from core.alerts.sender import AlertSender
        from core.record_lines import tee

        acfg = replace(cfg, alerts=replace(cfg.alerts, urls=[alert_url], events=list(EVENTS), per_minute=600))
        alerts = Alerts(acfg, AlertSender([("hang", alert_url)], timeout_s=60, retries=0, per_minute=600),
                        wall_ms=lambda: time.time_ns() // 1_000_000)
        recorder = tee(recorder, alerts.tap)
    reb = Rebalancer(cfg.rebalancer, spot, symbol=cfg.symbol, venue_name="paper", mode=Mode.AUTO,
                     client_prefix="rb", recorder=recorder)
    exchange, _grid = build_paper(cfg, first_px, first.ts_ms)
    venue = PaperVenue(exchange=exchange, market=source(), speed=speed)
    engine = Engine(reb, venue, clock=_ExchangeClock(exchange, first.ts_ms), journal=journal)
    engine.bench_market_messages = market_messages
    if alerts is not None:
        engine.attach_alerts(alerts)
    return engine


async def run(orders: int, rate: float, max_seconds: float, seed: int, speed: float,
              journal_path: Path | None = None, alert_url: str | None = None) -> dict:
    from core.events import PlaceOrder

    engine = build_engine(rate, seed, speed, journal_path, alert_url)
    # split the latency: time inside Rebalancer.on_event for the events that produced an order
    reb = engine.reb
    inner = reb.on_event
    decide_ms: list[float] = []
    perf = time.perf_counter

    def timed_on_event(ev):
        t = perf()
        cmds = inner(ev)
        if cmds and any(type(c) is PlaceOrder for c in cmds):
            decide_ms.append((perf() - t) * 1000.0)
        return cmds

    reb.on_event = timed_on_event  # instance attribute: Engine._accept looks it up per event
    t0 = time.perf_counter()
    c0 = time.process_time()
    task = asyncio.create_task(engine.run())
    deadline = t0 + max_seconds
    while engine.order_calls < orders and time.perf_counter() < deadline and not task.done():
        await asyncio.sleep(0.05)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    await engine.shutdown(cancel_orders=True)
    await asyncio.wait_for(task, 10)
    lat_ms = [x * 1000.0 for x in engine.decision_latencies]
    st = engine.reb.stats
    journal_rows = None
    if journal_path is not None:  # what the session left on disk (shutdown closed the journal)
        import sqlite3

        with sqlite3.connect(journal_path) as db:
            journal_rows = {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                            for t in ("decisions", "order_events", "fills")}
    return {
        "journal": journal_path is not None,
        "orders_measured": len(lat_ms),
        "p50_ms": rnd(percentile(lat_ms, 0.50), 4),
        "p90_ms": rnd(percentile(lat_ms, 0.90), 4),
        "p99_ms": rnd(percentile(lat_ms, 0.99), 4),
        "max_ms": rnd(max(lat_ms), 4) if lat_ms else None,
        "mean_ms": rnd(sum(lat_ms) / len(lat_ms), 4) if lat_ms else None,
        "in_rebalancer_p50_ms": rnd(percentile(decide_ms, 0.50), 4),
        "in_rebalancer_p99_ms": rnd(percentile(decide_ms, 0.99), 4),
        "in_rebalancer_max_ms": rnd(max(decide_ms), 4) if decide_ms else None,
        "wall_s": rnd(wall, 2),
        "cpu_pct_of_core": rnd(100.0 * cpu / wall, 1) if wall else None,
        "events_processed": st.events,
        "events_per_s": round(st.events / wall) if wall else None,
        "fills": st.fills,
        "grid_fills": st.grid_fills,
        "rebalances": st.rebalances,
        "order_rtt_p50_ms": rnd(engine.rtt_p50_ms, 4),
        "order_rtt_p99_ms": rnd(engine.rtt_p99_ms, 4),
        "journal_rows": journal_rows,
        "alerts_queued_or_dropped": (engine.alerts.sender.services[0].backlog + engine.alerts.dropped)
        if engine.alerts is not None else None,
    }


async def run_symbols(n: int, total_rate: float, seconds: float, seed: int) -> dict:
    """``n`` symbols in one process and one event loop, one engine each (as ``core.portfolio``
    runs them), their markets together ``total_rate`` messages a second: event -> order call
    p99 per symbol, and the process's CPU."""
    symbols = list(START_PRICES)[:n]
    # SyntheticMarket: about 2.4 messages per trade asked for at normal volatility (quotes alone,
    # and faster when volatile): measured 5,000 +- 15 % in all at this rate
    engines = [build_engine(total_rate / n * 0.42, seed + i, 1.0, symbol=s) for i, s in enumerate(symbols)]
    t0, c0 = time.perf_counter(), time.process_time()
    tasks = [asyncio.create_task(e.run()) for e in engines]
    while time.perf_counter() < t0 + seconds and not any(t.done() for t in tasks):
        await asyncio.sleep(0.1)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    for e in engines:
        await e.shutdown(cancel_orders=True)
    await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 20)
    per = {}
    for s, e in zip(symbols, engines):
        lat = [x * 1000.0 for x in e.decision_latencies]
        per[s] = {"orders": len(lat), "p50_ms": rnd(percentile(lat, 0.5), 4), "p99_ms": rnd(percentile(lat, 0.99), 4),
                  "max_ms": rnd(max(lat), 4) if lat else None, "market_messages": e.bench_market_messages[0],
                  "events": e.reb.stats.events}
    messages = sum(v["market_messages"] for v in per.values())
    p99s = [v["p99_ms"] for v in per.values() if v["p99_ms"] is not None]
    return {"symbols": n, "seconds": rnd(wall, 1), "messages_per_s": round(messages / wall) if wall else None,
            "events_per_s": round(sum(v["events"] for v in per.values()) / wall) if wall else None,
            "cpu_pct_of_core": rnd(100.0 * cpu / wall, 1) if wall else None,
            "worst_symbol_p99_ms": max(p99s) if p99s else None,
            "orders": sum(v["orders"] for v in per.values()), "per_symbol": per}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(p)
    p.add_argument("--orders", type=int, default=None, help="stop after this many order calls (default 300; quick 20)")
    p.add_argument("--rate", type=float, default=50.0, help="synthetic trades per second (quotes come on top)")
    p.add_argument("--max-seconds", type=float, default=None, help="stop after this long anyway (default 240; quick 20)")
    p.add_argument("--speed", type=float, default=1.0, help="market speed (1 = real time, the target's mode)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--journal", choices=("off", "on", "both"), default="both",
                   help="without the SQLite journal (the path itself), with it (as a session runs: "
                        "journal.enabled is the default), or both one after the other (default)")
    p.add_argument("--alerts", choices=("off", "hang"), default="hang",
                   help="also run with every fill alerted to a service that never answers (default) or not")
    p.add_argument("--symbols", type=int, default=10,
                   help="also run this many symbols in one process (0: skip; at most 10)")
    p.add_argument("--symbols-rate", type=float, default=5000.0, help="their market messages per second, in all")
    p.add_argument("--symbols-seconds", type=float, default=None, help="how long (default 60; quick 10)")
    args = p.parse_args(argv)
    orders = args.orders or (20 if args.quick else 300)
    max_s = args.max_seconds or (20.0 if args.quick else 240.0)
    checks = []
    fig: dict = {}
    if args.journal in ("off", "both"):
        fig = asyncio.run(run(orders, args.rate, max_s, args.seed, args.speed))
        checks.append(check("event -> order call p99", fig["p99_ms"], "<=", TARGET_P99_MS, "ms"))
    if args.journal in ("on", "both"):
        with tempfile.TemporaryDirectory(prefix="bench-journal-") as tmp:
            on = asyncio.run(run(orders, args.rate, max_s, args.seed, args.speed, Path(tmp) / "journal.sqlite"))
        checks.append(check("event -> order call p99, journal on", on["p99_ms"], "<=", TARGET_P99_MS, "ms"))
        if fig:
            fig["with_journal"] = on
        else:
            fig = on
    if args.alerts == "hang":
        url, stop = hanging_receiver()
        try:
            hang = asyncio.run(run(orders, args.rate, max_s, args.seed, args.speed, alert_url=url))
        finally:
            stop()
        checks.append(check("event -> order call p99, alert service hanging", hang["p99_ms"], "<=", TARGET_P99_MS,
                            "ms"))
        fig["alerts_hanging"] = hang
    if args.symbols:
        many = asyncio.run(run_symbols(min(10, args.symbols), args.symbols_rate,
                                       args.symbols_seconds or (10.0 if args.quick else 60.0), args.seed))
        checks.append(check(f"event -> order call p99, worst of {many['symbols']} symbols at "
                            f"{many['messages_per_s']:,} msgs/s", many["worst_symbol_p99_ms"], "<=", TARGET_P99_MS, "ms"))
        fig["symbols"] = many
    res = result("live_latency", params={"orders": orders, "rate_trades_per_s": args.rate, "speed": args.speed,
                                         "max_seconds": max_s, "seed": args.seed, "journal": args.journal,
                                         "alerts": args.alerts},
                 figures=fig, checks=checks)
    emit(res, args.json_out)
    return res


if __name__ == "__main__":
    main()
