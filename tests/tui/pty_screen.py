"""The real program in a pseudo-terminal, read into a pyte screen (the end-to-end tests)."""

from __future__ import annotations

import time

import pexpect
import pyte


class Terminal:
    def __init__(self, child, cols: int, rows: int) -> None:
        self.child = child
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.Stream(self.screen)

    def text(self) -> str:
        return "\n".join(self.screen.display)

    def pump(self) -> None:
        try:
            self.stream.feed(self.child.read_nonblocking(65536, timeout=0.1))
        except pexpect.TIMEOUT:
            pass

    def wait_for(self, predicate, seconds: float = 30.0) -> bool:
        """Read the program's output until the screen satisfies ``predicate`` (or time runs out)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.pump()
            if predicate(self.text()):
                return True
        return False
