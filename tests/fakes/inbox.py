"""A thread-safe collector for callback messages, with a condition-based wait.

pybit runs WebSocket callbacks on its own threads; a test passes ``inbox.put`` as the
callback and then waits for what it expects without sleeping blindly.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import Any


class Inbox:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._items: list[Any] = []

    def put(self, item: Any) -> None:
        """Callback entry point. Deep-copies: pybit hands out its live orderbook/ticker state."""
        with self._cond:
            self._items.append(copy.deepcopy(item))
            self._cond.notify_all()

    @property
    def items(self) -> list[Any]:
        with self._cond:
            return list(self._items)

    def wait_for(self, predicate: Callable[[Any], bool], timeout: float = 2.0) -> Any:
        """Return the first item matching ``predicate`` (already received or arriving in time).

        Raises ``TimeoutError`` listing what did arrive, so a failing test says why.
        """
        def first() -> tuple[Any] | None:  # a 1-tuple, so a falsy item still counts as found
            return next(((i,) for i in self._items if predicate(i)), None)

        with self._cond:
            found = self._cond.wait_for(first, timeout)
            if found is None:
                raise TimeoutError(f"no matching message in {timeout}s; got {self._items!r:.2000}")
            return found[0]

    def wait_count(self, predicate: Callable[[Any], bool], count: int, timeout: float = 2.0) -> list[Any]:
        """Wait until ``count`` items match; return them in arrival order."""
        with self._cond:
            ok = self._cond.wait_for(lambda: len([i for i in self._items if predicate(i)]) >= count, timeout)
            matching = [i for i in self._items if predicate(i)]
            if not ok:
                raise TimeoutError(f"{len(matching)}/{count} matching messages in {timeout}s; "
                                   f"got {self._items!r:.2000}")
            return matching

    def clear(self) -> None:
        with self._cond:
            self._items.clear()
