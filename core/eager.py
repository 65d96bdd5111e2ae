"""Start a coroutine at once, in the caller's stack, and let the event loop run the rest.

An order decided by an event should reach the venue call in the same callback, not one event
loop iteration later (that hop was a fifth of the live event → order latency on a quiet
loop). Python 3.12 has this built in (``Task(..., eager_start=True)``); on 3.11 the first
step is run here and whatever is left after the first suspension continues as an ordinary
task, resuming the same coroutine object — the protocol ``Task`` itself uses.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from typing import Any

__all__ = ["start_eagerly"]


def start_eagerly(coro: Coroutine[Any, Any, Any], *, name: str | None = None) -> asyncio.Task | None:
    """Run ``coro`` now until it first waits; return the task that finishes it, or None when
    it finished without waiting (its exception, if any, is raised here). Call it from code
    running on the event loop."""
    loop = asyncio.get_running_loop()
    if sys.version_info >= (3, 12):  # pragma: no cover - the interpreter this runs on is 3.11
        task = asyncio.Task(coro, loop=loop, name=name, eager_start=True)  # type: ignore[call-arg]
        if task.done():
            task.result()
            return None
        return task
    try:
        waiting_on = coro.send(None)
    except StopIteration:
        return None
    return loop.create_task(_rest_of(coro, waiting_on), name=name)


async def _rest_of(coro: Coroutine[Any, Any, Any], waiting_on: Any) -> Any:
    return await _Resume(coro, waiting_on)


class _Resume:
    """Awaiting this hands the future ``coro`` is suspended on to the running task, and
    resumes ``coro`` with whatever the task sends or throws back (cancellation included)."""

    __slots__ = ("coro", "waiting_on")

    def __init__(self, coro: Coroutine[Any, Any, Any], waiting_on: Any) -> None:
        self.coro, self.waiting_on = coro, waiting_on

    def __await__(self):
        coro, waiting_on = self.coro, self.waiting_on
        while True:
            try:
                sent = yield waiting_on
            except BaseException as exc:  # noqa: BLE001 - passed on to the coroutine, as Task does
                try:
                    waiting_on = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    waiting_on = coro.send(sent)
                except StopIteration as stop:
                    return stop.value
