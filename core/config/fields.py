"""The vocabulary of the config schema: the one error type, and field declarations with checks.

Every problem becomes one ``ConfigError`` naming the file, the key path and what was expected,
so a trader can fix a typo without reading code. The CLI turns it into exit code 2.
"""

from __future__ import annotations

import os
import re
from dataclasses import MISSING, field
from typing import Any

from core.errors import RebalancerError


class ConfigError(RebalancerError):
    """A configuration problem, worded for the person editing the file."""

    def __init__(self, file: str | os.PathLike | None, key: str, expected: str, got: Any = MISSING):
        self.file = str(file) if file is not None else "<config>"
        self.key = key
        self.expected = expected
        self.got = got
        where = f"{self.file}: {_clip(key, 120)}" if key else self.file
        got_txt = "" if got is MISSING else f" (got {_show(got)})"
        super().__init__(_clip(f"{where}: {expected}{got_txt}", MAX_MESSAGE))


MAX_MESSAGE = 500  # one line a person can read, whatever the file held


def _clip(text: str, limit: int) -> str:
    text = re.sub(r"[\r\n\t\v\f]+", " ", str(text))  # one line
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _show(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    return f"{type(value).__name__} {_clip(repr(value), 80)}"


def in_range(lo: float | None = None, hi: float | None = None, *, lo_open=False, hi_open=False):
    """A field check: value within [lo, hi] (or open at either end). ``check.span`` says the
    range in words (``check-config --explain`` prints it)."""

    def check(v: float) -> str | None:
        if lo is not None and (v <= lo if lo_open else v < lo):
            return f"a number {'>' if lo_open else '>='} {lo}" + (f" and {'<' if hi_open else '<='} {hi}" if hi is not None else "")
        if hi is not None and (v >= hi if hi_open else v > hi):
            return f"a number {'<' if hi_open else '<='} {hi}" + (f" and {'>' if lo_open else '>='} {lo}" if lo is not None else "")
        return None

    low = "" if lo is None else f"{_num(lo)} {'<' if lo_open else '≤'} "
    high = "" if hi is None else f" {'<' if hi_open else '≤'} {_num(hi)}"
    check.span = f"{low}x{high}" if (low or high) else "any"
    return check


def _num(v: float) -> str:
    return f"{v:g}" if abs(v) < 1e6 or v != int(v) else f"{v:.0e}".replace("+0", "").replace("+", "")


POSITIVE = in_range(0, lo_open=True)
NON_NEGATIVE = in_range(0)
UNIT = in_range(0, 1)


def setting(default: Any = MISSING, check=None, doc: str = "", factory=None):
    """A config field: its default, an optional range check and a one-line doc."""
    meta = {"check": check, "doc": doc}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)
