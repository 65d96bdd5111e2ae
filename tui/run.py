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
from core.journal import JournalError, default_data_dir
from core.portfolio import Portfolio, build_portfolio
from core.preflight import preflight
from core.session import Environment, build_session, check_mainnet
from core.single_instance import AlreadyRunning
from tui import logfile

EXIT_CONFIG = 2

log = logging.getLogger("rebalancer")


def setup_logging(cfg: AppConfig, data_dir: Path, *, headless: bool = False, fmt: str = "text") -> Path:
    """Log to a file, never over the screen; headless, to stdout as well (the same lines).
    Secrets (the environment's and the config's keys) are masked in every line."""
    path = Path(cfg.ui.log_file) if cfg.ui.log_file else data_dir / "logs" / "rebalancer.log"
    keys = (cfg.secrets.key, cfg.secrets.secret) if cfg.secrets is not None else ()
    return logfile.setup(path, fmt=fmt, stdout=sys.stdout if headless else None,
                         secrets=logfile.secret_values(extra=(*keys, *alert_secrets(cfg))))


def alert_secrets(cfg: AppConfig) -> tuple[str, ...]:
    """The values ``${NAME}`` brings into the alert URLs: masked in the log like the API keys."""
    if not cfg.alerts.urls:
        return ()
    from core.alerts.setup import alert_urls

    try:
        return tuple(s for _shown, _url, secrets in alert_urls(cfg) for s in secrets)
    except ConfigError:
        return ()  # the preflight has refused the start already


def resolve_config(args: argparse.Namespace) -> AppConfig:
    path = args.config or "config.yaml"
    if args.config is None and not Path(path).exists():
        # no config at all: the built-in paper defaults, so a newcomer sees it work at once
        from core.config import config_from_dict

        cfg = config_from_dict({"symbol": args.symbol or "BTCUSDT"}, file="<built-in defaults>")
    else:
        cfg = load_config(path, need_secrets=False)
    if getattr(args, "symbol", None):  # one symbol: of a symbols: file, its entry alone
        cfg = cfg.only(args.symbol.upper())
    changes = {}
    if getattr(args, "venue", None):
        changes["venue"] = args.venue
    if getattr(args, "mode", None):
        changes["mode"] = args.mode
    cfg = _each(cfg, lambda c: replace(c, **changes,
                                       **({"rebalancer": c.rebalancer.with_policy(args.policy)}
                                          if getattr(args, "policy", None) else {})))
    check_mainnet(cfg, getattr(args, "i_understand_mainnet", False))
    if cfg.venue != "paper":
        env_dir = Path(cfg.path).resolve().parent if cfg.path.endswith((".yaml", ".yml")) else None
        cfg = _each(cfg, lambda c: attach_secrets(c, env_dir=env_dir))
    return cfg


def _each(cfg: AppConfig, change) -> AppConfig:
    """``change`` applied to the config and to each of its ``symbols:`` entries."""
    return replace(change(cfg), symbol_configs=tuple(change(c) for c in cfg.symbol_configs))


def build_engine(cfg: AppConfig, data_dir: Path, *, mainnet_confirmed: bool = False) -> Engine | Portfolio:
    """The session ``cfg`` describes (``core.session`` wires it), on the wall clock, holding the
    single-instance lock for this account, venue and symbol until the process ends; every
    record it journals is also a line in the log. With ``symbols:``, one session per symbol in
    a ``Portfolio`` (``core.portfolio``), each line naming its symbol."""
    env = Environment(data_dir=data_dir, mainnet_confirmed=mainnet_confirmed, single_instance=True,
                      record_tap=logfile.record_tap())
    if cfg.symbol_configs:
        return build_portfolio(cfg, env)
    return build_session(cfg, env).engine


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
    log_path = setup_logging(cfg, data_dir, headless=getattr(args, "headless", False),
                             fmt=getattr(args, "log_format", None) or "text")
    for w in cfg.warnings:
        print(f"warning: {w}", file=sys.stderr)
        log.warning(w)
    try:
        engine = build_engine(cfg, data_dir, mainnet_confirmed=getattr(args, "i_understand_mainnet", False))
    except AlreadyRunning as e:
        print(f"error: {e}", file=sys.stderr)
        log.error("%s", e)
        return EXIT_CONFIG
    except JournalError as e:
        print(f"journal error: {e}: move the file aside (or restore a backup) and start again", file=sys.stderr)
        log.error("journal error: %s", e)
        return EXIT_CONFIG
    if getattr(args, "headless", False):
        return run_headless(engine, log_path)
    from tui.app import HANGUP_TIMEOUT_S, CockpitApp

    app = CockpitApp(engine, log_path=log_path, warnings=cfg.warnings, theme_name=cfg.ui.theme,
                     data_dir=data_dir)
    app.run()
    if not app.shutdown_done:
        # the UI ended without an orderly shutdown: a crash (recorded as one, with its class; the
        # traceback goes to the log) or a lost terminal. Our orders are handled as a quit would
        # by default: cancelled.
        exc = getattr(app, "_exception", None)
        if exc is not None:
            log.error("the cockpit crashed", exc_info=(type(exc), exc, exc.__traceback__))
        reason = f"crash: {type(exc).__name__}: {exc}" if exc is not None else "the cockpit ended without a quit"
        try:
            asyncio.run(asyncio.wait_for(engine.shutdown(cancel_orders=True, reason=reason, crashed=exc is not None),
                                         HANGUP_TIMEOUT_S))
        except Exception as e:  # noqa: BLE001
            log.warning("shutdown after the UI ended failed: %s", e)
        return app.return_code or (1 if exc is not None else 0)
    return app.return_code or 0


def run_headless(engine: Engine | Portfolio, log_path: Path) -> int:
    """The engine without a UI (a detached daemon): stops on SIGINT, SIGTERM and SIGHUP,
    cancelling our orders; an engine that dies is stopped and recorded as a crash (exit 1)."""
    print(f"running headless; log: {log_path}; stop with Ctrl-C, SIGTERM or SIGHUP", file=sys.stderr)
    engine.on_alarm = lambda text: print(f"ALERT: {text}", file=sys.stderr, flush=True)

    async def main() -> int:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        why: list[str] = []
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(sig, lambda s=sig: (why.append(s.name), stop.set()))
        task = asyncio.create_task(engine.run())
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        exc = task.exception() if task.done() and not task.cancelled() else None
        if exc is not None:
            log.error("the engine crashed", exc_info=(type(exc), exc, exc.__traceback__))
            print(f"error: the engine stopped: {type(exc).__name__}: {exc} (details in {log_path})", file=sys.stderr)
            await engine.shutdown(cancel_orders=True, reason=f"crash: {type(exc).__name__}: {exc}", crashed=True)
            return 1
        stopper.cancel()
        await engine.shutdown(cancel_orders=True, reason=f"{why[0] if why else 'stop'} received")
        await task
        return 0

    return asyncio.run(main())
