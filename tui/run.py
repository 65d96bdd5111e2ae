"""Build the engine the command line asked for and run it: in the cockpit, or headless.

This is the imperative shell: it reads the command line, sets up logging, and hands the
config and the environment (data dir, wall clock) to ``core.session``, which wires journal,
rebalancer, venue and engine. Trading logic stays in ``core``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from dataclasses import replace
from pathlib import Path

from core.config import AppConfig, ConfigError, attach_secrets, load_config
from core.engine import Engine
from core.journal import default_data_dir
from core.preflight import preflight
from core.session import Environment, build_session, check_mainnet

EXIT_CONFIG = 2

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
    check_mainnet(cfg, getattr(args, "i_understand_mainnet", False))
    if cfg.venue != "paper":
        cfg = attach_secrets(cfg, env_dir=Path(cfg.path).resolve().parent if cfg.path.endswith((".yaml", ".yml")) else None)
    return cfg


def build_engine(cfg: AppConfig, data_dir: Path, *, mainnet_confirmed: bool = False) -> Engine:
    """The session ``cfg`` describes (``core.session`` wires it), on the wall clock."""
    return build_session(cfg, Environment(data_dir=data_dir, mainnet_confirmed=mainnet_confirmed)).engine


def run_cockpit(args: argparse.Namespace) -> int:
    try:
        cfg = resolve_config(args)
    except ConfigError as e:
        print(f"config error: {e}", file=sys.stderr)
        return EXIT_CONFIG
    data_dir = default_data_dir()
    try:
        preflight(cfg, data_dir, mainnet_confirmed=getattr(args, "i_understand_mainnet", False))
    except ConfigError as e:
        print(f"config error: {e}", file=sys.stderr)
        return EXIT_CONFIG
    log_path = setup_logging(cfg, data_dir)
    for w in cfg.warnings:
        print(f"warning: {w}", file=sys.stderr)
        log.warning(w)
    engine = build_engine(cfg, data_dir, mainnet_confirmed=getattr(args, "i_understand_mainnet", False))
    if getattr(args, "headless", False):
        return run_headless(engine, log_path)
    from tui.app import CockpitApp

    app = CockpitApp(engine, log_path=log_path, warnings=cfg.warnings)
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
