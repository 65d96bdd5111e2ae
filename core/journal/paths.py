"""Where journals live: one file per account, venue and symbol under the data directory."""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
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


_PLAIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_.]*[A-Za-z0-9])?$")


def account_part(account: str) -> str:
    """The account's part of a journal's file name: distinct for distinct names, always safe.

    A plain name (``Wood``, ``main_2``; ASCII, at most 40 characters) is used as it is, so existing journals keep their names.
    Any other name — ``_Tst_``, ``Счёт``, ``[/]``, ``../x``, empty — becomes a readable ASCII
    slug plus ``~`` and 8 hex digits of the SHA-256 of the exact name: ``Tst`` and ``_Tst_`` no
    longer share a file (and a HALT), and no name can escape the data directory."""
    name = str(account)
    if len(name) <= 40 and _PLAIN.match(name):
        return name
    slug = _UNSAFE.sub("_", unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()).strip("._")
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{slug[:40] or 'account'}~{digest}"


def default_journal_path(data_dir: str | Path, account: str, venue: str, symbol: str) -> Path:
    """``{data_dir}/{account}-{venue}-{symbol}.sqlite``: one record per account/venue/symbol."""
    name = "-".join((account_part(account), _safe_part("venue", venue), _safe_part("symbol", symbol)))
    return Path(data_dir) / f"{name}.sqlite"
