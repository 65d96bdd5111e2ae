"""The checks a start runs before it opens anything — and ``check-config`` runs the very same.

Why one function: ``check-config`` used to say OK to configs whose start then crashed or hung
(a missing market file, a corrupt state file, ``journal.dir`` pointing at a file, a log path
that is a directory, a mainnet host behind a testnet label). Everything a session will open,
create or connect to is checked here, with one ``ConfigError`` naming the key and the fix.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from core.alerts.setup import alert_urls
from core.config import AppConfig, ConfigError
from core.instruments import UnknownSymbol, for_config
from core.session import check_mainnet, mainnet_endpoints
from core.venues.paper_setup import load_paper_market


def preflight(cfg: AppConfig, data_dir: Path, *, mainnet_confirmed: bool | None = None) -> list[str]:
    """Raise ``ConfigError`` on the first thing that would stop a start; return notes worth
    saying (``check-config`` prints them). ``mainnet_confirmed=None``: only note whether the
    flag will be needed (``check-config``); a bool: refuse without it (a start)."""
    notes = []
    if cfg.venue == "paper":
        for i, one in enumerate(cfg.per_symbol()):
            where = f"symbols[{i}]." if cfg.symbol_configs else ""
            try:
                _spot, linear = for_config(one)  # the symbol's trading rules: bundled, or the config's instrument:
            except UnknownSymbol as e:
                raise ConfigError(cfg.path, f"{where}symbol", str(e)) from None
            grid = one.paper.grid
            if grid is not None and linear.round_qty(grid.qty_per_level) < linear.min_qty:
                raise ConfigError(cfg.path, f"{where}paper.grid.qty_per_level",
                                  f"expected at least {linear.min_qty} {linear.base} a level (the {one.symbol} "
                                  f"perpetual's minimum, on its step {linear.qty_step})", grid.qty_per_level)
            _check_market_files(one)
            if one.paper.state_file:
                _check_state_file(one)
    urls = alert_urls(cfg)  # a wrong alert URL stops the start (exit 2), naming its key
    if urls:
        notes.append(f"alerts: {', '.join(u[0] for u in urls)} ({', '.join(cfg.alerts.events)})")
    reached = mainnet_endpoints(cfg)
    if mainnet_confirmed is None:
        if reached:
            notes.append(f"MAINNET: orders reach {', '.join(reached)}; starting needs --i-understand-mainnet")
    else:
        check_mainnet(cfg, mainnet_confirmed)
    if cfg.journal.enabled:
        jdir = Path(cfg.journal.dir) if cfg.journal.dir else data_dir / "journals"
        _check_writable_dir(cfg, "journal.dir", jdir)
    log_file = Path(cfg.ui.log_file) if cfg.ui.log_file else data_dir / "logs" / "rebalancer.log"
    if log_file.is_dir():
        raise ConfigError(cfg.path, "ui.log_file", f"{log_file} is a directory: expected a file path")
    _check_writable_dir(cfg, "ui.log_file", log_file.parent)
    return notes


def _check_market_files(cfg: AppConfig) -> None:
    market = cfg.paper.market
    if market == "synthetic":
        return
    for i, name in enumerate(market if isinstance(market, list) else [market]):
        key = "paper.market" if isinstance(market, str) else f"paper.market[{i}]"
        p = Path(name)
        if not p.exists():
            raise ConfigError(cfg.path, key, f"{name}: no such file: expected a CSV(.gz) of recorded market data")
        if not p.is_file():
            raise ConfigError(cfg.path, key, f"{name}: not a file: expected a CSV(.gz) of recorded market data")
    load_paper_market(cfg)  # whole, as the start will: rows out of order late in the file, a truncated gzip


def _check_state_file(cfg: AppConfig) -> None:
    p = Path(cfg.paper.state_file)
    if not p.exists():
        _check_writable_dir(cfg, "paper.state_file", p.parent)
        return
    if not p.is_file():
        raise ConfigError(cfg.path, "paper.state_file", f"{p} is not a file: expected the paper account's state (JSON)")
    try:
        state = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise ConfigError(cfg.path, "paper.state_file", f"{p} cannot be read as the paper account's state "
                                                        f"({type(e).__name__}): move it aside to start afresh") from None
    if not isinstance(state, dict) or "balances" not in state:
        raise ConfigError(cfg.path, "paper.state_file", f"{p} is not a paper account's state (no balances): "
                                                        "move it aside to start afresh")


def _check_writable_dir(cfg: AppConfig, key: str, d: Path) -> None:
    """``d`` is a directory we can write in, or can be created (its nearest existing parent is)."""
    probe = d
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise ConfigError(cfg.path, key, f"{probe} is a file, not a directory: expected a folder to write in")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ConfigError(cfg.path, key, f"{probe} is not writable: expected a folder this user can write in")
