"""What the fake saw: request counts per path, WebSocket activity, and a condition to wait on.

Tests must never sleep-poll. Every observation bumps a ``threading.Condition`` so
``wait_until(predicate, timeout)`` wakes exactly when something changed.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

ORDER_PATHS = ("/v5/order/create", "/v5/order/amend", "/v5/order/cancel", "/v5/order/cancel-all")
WS_TRADE_PREFIX = "/v5/trade:"  # WS order ops are recorded as "/v5/trade:order.create" etc.


@dataclass(frozen=True)
class SeenRequest:
    method: str
    path: str
    query: str
    body: bytes
    api_key: str


class Observer:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._paths: Counter[str] = Counter()
        self._requests: list[SeenRequest] = []
        self._ws_opened: Counter[str] = Counter()
        self._ws_live: Counter[str] = Counter()
        self._subscribed: Counter[str] = Counter()  # cumulative acks per "channel:topic"
        self._live_topics: Counter[str] = Counter()  # live subscriptions per "channel:topic"
        self._ws_received: list[tuple[str, dict]] = []
        self._auths: Counter[str] = Counter()
        self._generation = 0

    # ---- recorders (server side) ------------------------------------------------------

    def request(self, seen: SeenRequest) -> None:
        with self._cond:
            self._paths[seen.path] += 1
            self._requests.append(seen)
            self._bump()

    def ws_opened(self, channel: str) -> None:
        with self._cond:
            self._ws_opened[channel] += 1
            self._ws_live[channel] += 1
            self._bump()

    def ws_closed(self, channel: str, topics: set[str]) -> None:
        with self._cond:
            self._ws_live[channel] -= 1
            for topic in topics:
                self._live_topics[f"{channel}:{topic}"] -= 1
            self._bump()

    def ws_message(self, channel: str, message: dict) -> None:
        with self._cond:
            self._ws_received.append((channel, message))
            self._bump()

    def ws_auth(self, channel: str) -> None:
        with self._cond:
            self._auths[channel] += 1
            self._bump()

    def subscribed(self, channel: str, topic: str) -> None:
        with self._cond:
            self._subscribed[f"{channel}:{topic}"] += 1
            self._live_topics[f"{channel}:{topic}"] += 1
            self._bump()

    def unsubscribed(self, channel: str, topic: str) -> None:
        with self._cond:
            self._live_topics[f"{channel}:{topic}"] -= 1
            self._bump()

    # ---- queries (test side) ----------------------------------------------------------

    def request_count(self, path: str | None = None) -> int:
        with self._cond:
            return sum(self._paths.values()) if path is None else self._paths[path]

    def order_request_count(self) -> int:
        with self._cond:
            return sum(n for p, n in self._paths.items()
                       if p in ORDER_PATHS or p.startswith(WS_TRADE_PREFIX))

    @property
    def requests(self) -> list[SeenRequest]:
        with self._cond:
            return list(self._requests)

    def ws_connections(self, channel: str, live: bool = True) -> int:
        with self._cond:
            return (self._ws_live if live else self._ws_opened)[channel]

    def subscribe_count(self, topic: str, channel: str | None = None) -> int:
        """How many subscribe acks for ``topic`` were sent (cumulative, across reconnects)."""
        with self._cond:
            return sum(n for k, n in self._subscribed.items() if _match(k, topic, channel))

    def subscribers(self, topic: str, channel: str | None = None) -> int:
        """How many live connections are subscribed to ``topic`` right now."""
        with self._cond:
            return sum(n for k, n in self._live_topics.items() if _match(k, topic, channel))

    def auth_count(self, channel: str = "private") -> int:
        with self._cond:
            return self._auths[channel]

    def ws_received(self, channel: str | None = None) -> list[dict]:
        """Client->server frames (parsed), in arrival order."""
        with self._cond:
            return [m for c, m in self._ws_received if channel is None or c == channel]

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 2.0) -> bool:
        """Block until ``predicate()`` is true, re-checking on every observation; False on timeout.

        The predicate runs without the observer's lock held, so it may read the ledger or
        call the query methods above.
        """
        deadline = time.monotonic() + timeout
        while True:
            with self._cond:
                generation = self._generation
            if predicate():
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with self._cond:
                if self._generation == generation:
                    # Capped so state the observer is not told about is still re-checked.
                    self._cond.wait(min(remaining, 0.05))

    def notify(self) -> None:
        """Wake waiters after a state change the observer does not record itself."""
        with self._cond:
            self._bump()

    def _bump(self) -> None:
        self._generation += 1
        self._cond.notify_all()


def _match(key: str, topic: str, channel: str | None) -> bool:
    ch, _, t = key.partition(":")
    return t == topic and (channel is None or ch == channel)


