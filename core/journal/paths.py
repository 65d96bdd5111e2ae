"""Where journals live: one file per account, venue and symbol under the data directory."""

from __future__ import annotations

import os
import re
from pathlib import Path

DATA_DIR_ENV = "REBALANCER_DATA_DIR"
MEMORY = ":memory:"  # a throw-away journal for replays and tests

_UNSAFE = re.compile(r"[^A-Za-z0-9_.]+")


def default_data_dir() -> Path:
    """Where journals live: ``$REBALANCER_DATA_DIR`` or ``~/.local/share/spot-rebalancer``."""
    env = os.environ.get(DATA_DIR_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    return Path.home() / ".local" / "share" / "spot-rebalancer"


def _safe_part(label: str, value: str) -> str:
    # Names come from config; never let one escape the data dir or collide on a separator.
    cleaned = _UNSAFE.sub("_", str(value).strip()).strip("._")
    if not cleaned:
        raise ValueError(f"journal {label} is empty or unusable: {value!r}")
    return cleaned


def default_journal_path(data_dir: str | Path, account: str, venue: str, symbol: str) -> Path:
    """``{data_dir}/{account}-{venue}-{symbol}.sqlite``: one record per account/venue/symbol."""
    name = "-".join(
        (_safe_part("account", account), _safe_part("venue", venue), _safe_part("symbol", symbol))
    )
    return Path(data_dir) / f"{name}.sqlite"
