"""A progress bar with ETA on stderr, for long headless commands (``sweep``).

On a terminal it redraws one line in place; piped to a file it writes a plain line at every
10 % (and at the end), so a log stays readable. The ETA is the mean wall time per item
finished in *this* run times the items left (items skipped as already done do not count).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO


def fmt_duration(s: float) -> str:
    s = max(0, int(round(s)))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


class Progress:
    def __init__(self, total: int, *, already: int = 0, label: str = "sweep", stream: TextIO | None = None,
                 clock: Callable[[], float] = time.monotonic, width: int = 24, tty: bool | None = None) -> None:
        self.total = total
        self.already = already
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.clock = clock
        self.width = width
        self.tty = self.stream.isatty() if tty is None else tty
        self.t0 = clock()
        self.done = already
        self._last_decile = -1

    def line(self) -> str:
        frac = self.done / self.total if self.total else 1.0
        filled = int(frac * self.width)
        bar = "█" * filled + "░" * (self.width - filled)
        elapsed = self.clock() - self.t0
        ran = self.done - self.already
        left = self.total - self.done
        eta = fmt_duration(elapsed / ran * left) if ran and left else ("0:00" if not left else "?")
        return (f"{self.label} {self.done}/{self.total} [{bar}] {frac:4.0%}  elapsed {fmt_duration(elapsed)}"
                f"  ETA {eta}")

    def update(self, done: int) -> None:
        self.done = done
        if self.tty:
            self.stream.write("\r" + self.line())
            if done >= self.total:
                self.stream.write("\n")
        else:
            decile = int(10 * done / self.total) if self.total else 10
            if decile != self._last_decile or done >= self.total:
                self._last_decile = decile
                self.stream.write(self.line() + "\n")
        self.stream.flush()
