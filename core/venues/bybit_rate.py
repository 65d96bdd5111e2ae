"""Bybit request budget: stay inside the published limits by waiting, never by being refused.

Bybit counts its limits over *rolling* windows (per UID and endpoint: 1 s; per IP: 600
requests in 5 s). A classic token bucket lets ``capacity + rate x window`` through in one
window, so it either exceeds a rolling limit or has to be configured at half speed. This
budget keeps, per endpoint class, the send times of the last ``limit`` requests (a sliding
window log: at most ``limit`` requests in any ``window``) and makes a caller wait until
the oldest one leaves the window. Defaults are 90 % of the published non-VIP numbers
(reference section 4.2) to leave room for clock jitter between us and the server.

The server's own view is honoured too: when a reply says ``X-Bapi-Limit-Status: 0`` the
class is blocked until ``X-Bapi-Limit-Reset-Timestamp`` (never for a negative or absurdly
long time).

Everything here runs on the event-loop thread (``acquire`` is awaited before the blocking
call is handed to a worker thread), so no lock is needed.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping

PUBLIC = "public"  # the blocking key of the requests with no class (market data)

# pybit method -> endpoint class. Classes not listed (public market data) only use the
# per-IP budget.
ENDPOINT_CLASS: dict[str, str] = {
    "place_order": "create",
    "amend_order": "amend",
    "cancel_order": "cancel",
    "get_open_orders": "realtime",
    "get_order_history": "history",
    "get_executions": "executions",
    "get_wallet_balance": "wallet",
    "get_positions": "position",
    "get_fee_rates": "fee",
    "get_api_key_information": "key",
}

# Published per-second UID limits for spot (non-VIP UTA), reference 4.2.
PUBLISHED_PER_SECOND: dict[str, int] = {
    "create": 20, "cancel": 20, "amend": 10, "realtime": 50, "history": 50, "executions": 50,
    "wallet": 50, "position": 50, "fee": 5, "key": 10,
}
PUBLISHED_IP_LIMIT = (600, 5.0)  # requests, seconds
DEFAULT_MARGIN = 0.9
MAX_SERVER_BLOCK_S = 2.0


class SlidingWindow:
    """At most ``limit`` events in any ``window_s``; ``delay`` says how long to wait for a slot."""

    __slots__ = ("limit", "window_s", "_hits")

    def __init__(self, limit: int, window_s: float) -> None:
        if limit < 1 or window_s <= 0:
            raise ValueError(f"bad window {limit}/{window_s}s")
        self.limit = int(limit)
        self.window_s = float(window_s)
        self._hits: deque[float] = deque()

    def _trim(self, now: float) -> None:
        hits, edge = self._hits, now - self.window_s
        while hits and hits[0] <= edge:
            hits.popleft()

    def left(self, now: float) -> int:
        self._trim(now)
        return self.limit - len(self._hits)

    def delay(self, now: float) -> float:
        self._trim(now)
        if len(self._hits) < self.limit:
            return 0.0
        # strictly positive while full (float rounding can make the difference 0.0)
        return max(self._hits[0] + self.window_s - now, 1e-6)

    def take(self, now: float) -> None:
        self._hits.append(now)


class RateBudget:
    """Per-endpoint-class sliding windows plus the per-IP window; ``acquire`` waits for room."""

    def __init__(self, per_second: Mapping[str, int] | None = None, *, ip_limit: tuple[int, float] | None = None,
                 margin: float = DEFAULT_MARGIN, now: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
        limits = dict(PUBLISHED_PER_SECOND)
        if per_second:
            limits.update(per_second)
        self._now = now
        self._sleep = sleep
        self.classes = {name: SlidingWindow(max(1, int(n * margin)), 1.0) for name, n in limits.items()}
        ip_n, ip_s = ip_limit or PUBLISHED_IP_LIMIT
        self.ip = SlidingWindow(max(1, int(ip_n * margin)), ip_s)
        self._blocked_until: dict[str, float] = {}  # class (PUBLIC for market data) -> monotonic end
        self._server_left: dict[str, tuple[int, float]] = {}  # class -> (remaining, monotonic when seen)
        self.waited_s = 0.0  # total time spent waiting for the budget (diagnostics)

    def now(self) -> float:
        """The budget's clock (monotonic seconds; a test's own clock when given one)."""
        return self._now()

    def _windows(self, cls: str | None) -> list[SlidingWindow]:
        w = self.classes.get(cls) if cls else None
        return [self.ip, w] if w is not None else [self.ip]

    def delay(self, cls: str | None) -> float:
        now = self._now()
        d = max(w.delay(now) for w in self._windows(cls))
        d = max(d, self._blocked_until.get(cls or PUBLIC, 0.0) - now)
        return max(0.0, d)

    async def acquire(self, cls: str | None) -> None:
        """Wait until one more request of class ``cls`` fits, then count it."""
        while True:
            d = self.delay(cls)
            if d <= 0:
                self.take(cls)
                return
            self.waited_s += d
            await self._sleep(d)

    def take(self, cls: str | None) -> None:
        """Count one request of class ``cls`` now (the caller has checked ``delay``)."""
        now = self._now()
        for w in self._windows(cls):
            w.take(now)

    def observe(self, cls: str | None, headers: Mapping[str, str] | None, server_now_ms: int) -> None:
        """Read ``X-Bapi-Limit-Status`` / ``-Reset-Timestamp`` from a reply (any case)."""
        if cls is None or not headers:
            return
        try:
            status = headers.get("X-Bapi-Limit-Status")
            if status is None or status == "":
                return
            left = int(status)
        except (TypeError, ValueError):
            return
        now = self._now()
        self._server_left[cls] = (left, now)
        if left <= 0:
            self.block_until_reset(cls, headers, server_now_ms)

    def block_until_reset(self, cls: str | None, headers: Mapping[str, str] | None, server_now_ms: int,
                          *, default_s: float = 1.0) -> float:
        """Block ``cls`` until the server's reset time; returns the wait (0.05 s .. 2 s).

        A reset timestamp in the past (pybit would call ``time.sleep`` with a negative
        number and raise ``ValueError``) or a missing/garbled header gives a short wait.
        """
        wait = default_s
        raw = headers.get("X-Bapi-Limit-Reset-Timestamp") if headers else None
        if raw:
            try:
                wait = (int(raw) - server_now_ms) / 1000.0
            except (TypeError, ValueError):
                wait = default_s
        wait = min(MAX_SERVER_BLOCK_S, max(0.05, wait))
        key = cls or PUBLIC  # a 10006 on market data blocks market data: its retry waits too
        self._blocked_until[key] = max(self._blocked_until.get(key, 0.0), self._now() + wait)
        return wait

    def left(self, cls: str = "create") -> int:
        """Requests of class ``cls`` that may go out right now (local windows and the server's word)."""
        now = self._now()
        n = min(w.left(now) for w in self._windows(cls))
        seen = self._server_left.get(cls)
        if seen is not None and now - seen[1] < 1.0:
            n = min(n, seen[0])
        if self._blocked_until.get(cls or PUBLIC, 0.0) > now:
            n = 0
        return max(0, n)


__all__ = ["ENDPOINT_CLASS", "PUBLISHED_PER_SECOND", "RateBudget", "SlidingWindow"]
