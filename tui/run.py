"""Build the engine the command line asked for and run it: in the cockpit, or headless.

This is the imperative shell: it reads the wall clock, opens files, picks the venue, and wires
journal, rebalancer and venue together. Trading logic stays in ``core``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path

from core.config import AppConfig, ConfigError, attach_secrets, load_config
from core.engine import Engine, build_rebalancer
from core.journal import Journal, default_data_dir, default_journal_path
from core.model import BTCUSDT_SPOT
from core.rebalancer import Rebalancer
from core.trend import CandleBuilder

EXIT_CONFIG = 2
WARMUP_MS = 3_600_000  # one hour of synthetic history: enough for EMA(21) on 1m candles and the slope

log = logging.getLogger("rebalancer")


def setup_logging(cfg: AppConfig, data_dir: Path) -> Path:
    """Log to a file, never over the screen."""
    path = Path(cfg.ui.log_file) if cfg.ui.log_file else data_dir / "logs" / "rebalancer.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return path


def resolve_config(args: argparse.Namespace) -> AppConfig:
    path = args.config or "config.yaml"
    if args.config is None and not Path(path).exists():
        # no config at all: the built-in paper defaults, so a newcomer sees it work at once
        from core.config import config_from_dict

        cfg = config_from_dict({"symbol": args.symbol or "BTCUSDT"}, file="<built-in defaults>")
    else:
        cfg = load_config(path, need_secrets=False)
    changes = {}
    if getattr(args, "symbol", None):
        changes["symbol"] = args.symbol.upper()
    if getattr(args, "venue", None):
        changes["venue"] = args.venue
    if getattr(args, "mode", None):
        changes["mode"] = args.mode
    if getattr(args, "policy", None):
        changes["rebalancer"] = cfg.rebalancer.with_policy(args.policy)
    cfg = replace(cfg, **changes)
    if cfg.symbol != "BTCUSDT" and cfg.venue == "paper":
        raise ConfigError(cfg.path, "symbol", f"the paper venue simulates BTCUSDT only (got {cfg.symbol})")
    if cfg.venue == "mainnet" and not getattr(args, "i_understand_mainnet", False):
        raise ConfigError(cfg.path, "venue",
                          "mainnet trades real money: run again with --i-understand-mainnet to confirm")
    if cfg.venue != "paper":
        cfg = attach_secrets(cfg, env_dir=Path(cfg.path).resolve().parent if cfg.path.endswith((".yaml", ".yml")) else None)
    return cfg


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def build_paper_engine(cfg: AppConfig, *, journal: Journal | None, start_ms: int | None = None,
                       speed: float | None = None) -> Engine:
    from core.replay import build_paper
    from core.venues.market import SyntheticMarket, load_market
    from core.venues.paper import PaperVenue

    p = cfg.paper
    start_ms = _now_ms() if start_ms is None else start_ms
    reb = make_rebalancer(cfg, journal=journal, venue_name="paper")
    if p.market == "synthetic":
        sm = SyntheticMarket(seed=p.seed, start_ms=start_ms - WARMUP_MS, start_price=p.start_price)
        events = sm.events()
        builder = CandleBuilder(reb.trend.timeframe_ms)
        candles = []
        first = None
        for ev in events:
            if ev.ts_ms >= start_ms:
                first = ev
                break
            if hasattr(ev, "price"):
                closed = builder.on_trade(ev.ts_ms, ev.price)
                if closed:
                    candles.extend(closed)

        def source():
            if first is not None:
                yield first
            yield from events

        market = source()
        first_price = getattr(first, "price", None) or getattr(first, "bid", p.start_price)
        first_ts = first.ts_ms if first is not None else start_ms
    else:
        data = load_market(p.market if isinstance(p.market, list) else [p.market])
        market = data.iter_events()
        candles = []
        first_price = data.trades.price[0]
        first_ts = data.trades.ts_ms[0]
    exchange, _grid = build_paper(cfg, first_price, first_ts)
    state_path = p.state_file
    if state_path and Path(state_path).exists():
        import json

        from core.model import BTCUSDT_LINEAR
        from core.venues.grid import GridBot

        saved = json.loads(Path(state_path).read_text(encoding="utf-8"))
        grid = GridBot.from_state(saved["grid"], BTCUSDT_LINEAR) if saved.get("grid") else None
        exchange = type(exchange).from_state(saved, grid=grid)
        reb._log("info", f"paper account restored from {state_path}" + (" with its grid" if grid else ""))
    exchange.id_prefix = reb.session_tag
    venue = PaperVenue(exchange=exchange, market=market, speed=p.speed if speed is None else speed,
                       state_path=state_path, candles=candles)
    clock = _ExchangeClock(exchange, first_ts)
    return Engine(reb, venue, clock=clock, journal=journal, on_start_open_orders=cfg.api.on_start_open_orders)


class _ExchangeClock:
    """Paper time is the simulated market's time (it may run faster than the wall)."""

    def __init__(self, exchange, start_ms: int) -> None:
        self.exchange = exchange
        self.start_ms = start_ms

    def now_ms(self) -> int:
        return int(self.exchange.now_ms) or self.start_ms


def make_rebalancer(cfg: AppConfig, *, journal: Journal | None, venue_name: str) -> Rebalancer:
    return build_rebalancer(cfg, journal=journal, venue_name=venue_name, instrument=BTCUSDT_SPOT)


def open_journal(cfg: AppConfig, data_dir: Path) -> Journal | None:
    if not cfg.journal.enabled:
        return None
    jdir = Path(cfg.journal.dir) if cfg.journal.dir else data_dir / "journals"
    jdir.mkdir(parents=True, exist_ok=True)
    path = default_journal_path(jdir, cfg.api.account_name, cfg.venue, cfg.symbol)
    return Journal(path)


def build_engine(cfg: AppConfig, data_dir: Path) -> Engine:
    journal = open_journal(cfg, data_dir)
    if cfg.venue == "paper":
        return build_paper_engine(cfg, journal=journal)
    try:
        from core.venues.bybit import build_bybit_engine
    except ImportError as e:
        raise ConfigError(cfg.path, "venue", f"the Bybit venue is not available in this build ({e})") from None
    return build_bybit_engine(cfg, journal=journal)


def run_cockpit(args: argparse.Namespace) -> int:
    try:
        cfg = resolve_config(args)
    except ConfigError as e:
        print(f"config error: {e}", file=sys.stderr)
        return EXIT_CONFIG
    data_dir = default_data_dir()
    log_path = setup_logging(cfg, data_dir)
    for w in cfg.warnings:
        print(f"warning: {w}", file=sys.stderr)
        log.warning(w)
    engine = build_engine(cfg, data_dir)
    if getattr(args, "headless", False):
        return run_headless(engine, log_path)
    from tui.app import CockpitApp

    app = CockpitApp(engine, log_path=log_path)
    app.run()
    if not app.shutdown_done:
        # the UI ended without an orderly shutdown (crash, lost terminal): stop the engine,
        # flush the journal, and leave orders as they are (the next start reconciles them)
        try:
            asyncio.run(engine.shutdown(cancel_orders=False))
        except Exception as e:  # noqa: BLE001
            log.warning("shutdown after the UI ended failed: %s", e)
    return app.return_code or 0


def run_headless(engine: Engine, log_path: Path) -> int:
    """The engine without a UI (a detached daemon): stops on SIGINT/SIGTERM, cancelling our orders."""
    print(f"running headless; log: {log_path}; stop with Ctrl-C or SIGTERM", file=sys.stderr)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        task = asyncio.create_task(engine.run())
        await stop.wait()
        await engine.shutdown(cancel_orders=True)
        await task

    asyncio.run(main())
    return 0
