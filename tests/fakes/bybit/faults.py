"""Queued REST faults: per-path, consumed one request at a time, thread-safe.

A test arms a fault from its own thread; the server's loop thread takes it when the next
matching request arrives. Paths are exact (``/v5/order/create``) or ``"*"`` for any path.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RestError:
    """Answer HTTP 200 with this retCode instead of executing the request."""

    ret_code: int
    ret_msg: str
    headers: dict = field(default_factory=dict, hash=False)
    reset_after_ms: int | None = None  # 10006: X-Bapi-Limit-Reset-Timestamp = now + this


@dataclass(frozen=True)
class HttpStatus:
    """Answer with a non-200 status and a non-JSON body (a gateway error)."""

    status: int
    body: bytes = b""


@dataclass(frozen=True)
class LoseReply:
    """Execute the request, then drop the TCP connection instead of answering."""


Fault = RestError | HttpStatus | LoseReply

DEFAULT_MESSAGES = {
    10002: "invalid request, please check your server timestamp or recv_window param",
    10006: "Too many visits. Exceeded the API Rate Limit.",
    10016: "Server Error.",
    10001: "params error",
    10003: "API key is invalid.",
    10004: "error sign!",
    10005: "Permission denied, please check your API key permissions.",
}


class FaultPlan:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._before: dict[str, deque[Fault]] = {}
        self._after: dict[str, deque[Fault]] = {}

    def add(self, path: str, fault: Fault, times: int = 1) -> None:
        """Queue ``fault`` for the next ``times`` requests on ``path``."""
        target = self._after if isinstance(fault, LoseReply) else self._before
        with self._lock:
            target.setdefault(path, deque()).extend([fault] * times)

    def take_before(self, path: str) -> Fault | None:
        """A fault that replaces execution (error envelope or HTTP status)."""
        return self._take(self._before, path)

    def take_after(self, path: str) -> Fault | None:
        """A fault applied after execution (lost reply)."""
        return self._take(self._after, path)

    def _take(self, table: dict[str, deque[Fault]], path: str) -> Fault | None:
        with self._lock:
            for key in (path, "*"):
                queue = table.get(key)
                if queue:
                    return queue.popleft()
            return None

    def clear(self) -> None:
        with self._lock:
            self._before.clear()
            self._after.clear()

    def pending(self) -> int:
        with self._lock:
            return sum(len(q) for q in self._before.values()) + sum(len(q) for q in self._after.values())
