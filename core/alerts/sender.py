"""Alerts sent off the trading path: one worker thread per service, through Apprise.

``submit`` only puts the alert on each service's bounded queue (no I/O, no lock held while
sending), so a dead, slow or hanging service never delays a decision, an order or the UI.
Each worker sends with a timeout, retries with backoff, keeps to a rate limit per service,
and counts what it had to drop (queue full, rate limit, retries exhausted): the Feed pane
shows that count. A halt, a kill, a feed down or a streak of rejections is never dropped for
the rate limit or a full queue: a flood of proposals makes room for it.

Why Apprise: one URL per service (Telegram, Discord, Slack, ntfy, e-mail, a JSON webhook...)
behind one call, maintained by others -- a notifier per service written here would be a
second product.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from core.alerts.rules import Alert

log = logging.getLogger("rebalancer.alerts")
QUEUE_SIZE = 100
# never dropped for the rate limit or a full queue (a flood of proposals makes room for them)
CRITICAL = frozenset({"halt", "kill", "feed_down", "order_rejected_streak"})
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def resolve(url: str, env: dict[str, str]) -> tuple[str, tuple[str, ...]]:
    """``${NAME}`` in ``url`` -> its value from ``env``; returns the URL and the secrets used.
    A missing name raises KeyError (the config loader turns it into an error naming the key)."""
    used: list[str] = []

    def sub(m: re.Match) -> str:
        value = env[m.group(1)]
        used.append(value)
        return value
    return _PLACEHOLDER.sub(sub, url), tuple(used)


def with_timeouts(url: str, timeout_s: float) -> str:
    """Apprise's connect / read timeouts (``cto`` / ``rto``) unless the URL sets them."""
    if "cto=" in url or "rto=" in url:
        return url
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}cto={timeout_s:g}&rto={timeout_s:g}"


@dataclass
class ServiceStats:
    sent: int = 0
    failed: int = 0
    dropped: int = 0


class Service:
    """One URL: its queue, its worker, its rate limit."""

    def __init__(self, label: str, url: str, *, notify: Callable[[str, str, str], bool], retries: int,
                 per_minute: int, backoff_s: float, clock: Callable[[], float], sleep: Callable[[float], None]) -> None:
        self.label = label
        self.url = url
        self.notify = notify
        self.retries = retries
        self.per_minute = per_minute
        self.backoff_s = backoff_s
        self.clock = clock
        self.sleep = sleep
        self.stats = ServiceStats()
        self._pending: deque[Alert | None] = deque()
        self._ready = threading.Condition()
        self._sent_at: deque[float] = deque()
        self.idle = threading.Event()
        self.idle.set()
        self.thread = threading.Thread(target=self._run, name=f"alerts-{label}", daemon=True)
        self.thread.start()

    def put(self, alert: Alert | None) -> None:
        """Queue it (never waits). Full: a critical alert pushes out the oldest ordinary one;
        an ordinary one is dropped and counted."""
        with self._ready:
            if alert is not None and len(self._pending) >= QUEUE_SIZE:
                ordinary = next((a for a in self._pending if a is not None and a.event not in CRITICAL), None)
                if alert.event not in CRITICAL or ordinary is None:
                    self.stats.dropped += 1
                    return
                self._pending.remove(ordinary)
                self.stats.dropped += 1
            self.idle.clear()
            self._pending.append(alert)
            self._ready.notify()

    @property
    def backlog(self) -> int:
        return len(self._pending)

    def _allowed(self) -> bool:
        now = self.clock()
        while self._sent_at and now - self._sent_at[0] >= 60.0:
            self._sent_at.popleft()
        return len(self._sent_at) < self.per_minute

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._pending:
                    self._ready.wait()
                alert = self._pending.popleft()
            if alert is None:
                return
            try:
                self._deliver(alert)
            finally:
                with self._ready:
                    if not self._pending:
                        self.idle.set()

    def _deliver(self, alert: Alert) -> None:
        if alert.event not in CRITICAL and not self._allowed():
            self.stats.dropped += 1
            log.warning("alert %s to %s dropped: more than %d a minute", alert.event, self.label, self.per_minute)
            return
        for attempt in range(self.retries + 1):
            ok = False
            try:
                ok = self.notify(self.url, alert.title, message(alert))
            except Exception as e:  # noqa: BLE001 - a service's failure is counted, never raised
                log.warning("alert %s to %s failed: %s", alert.event, self.label, e)
            if ok:
                self.stats.sent += 1
                self._sent_at.append(self.clock())
                return
            self.stats.failed += 1
            if attempt < self.retries:
                self.sleep(self.backoff_s * (2 ** attempt))
        self.stats.dropped += 1
        log.warning("alert %s to %s dropped after %d attempts", alert.event, self.label, self.retries + 1)

    def stop(self) -> None:
        self.put(None)


def message(alert: Alert) -> str:
    """The body a service gets: the sentence, then the fields as ``key=value`` on one line (a
    machine behind a webhook reads them; a person can skip them)."""
    fields = "; ".join(f"{k}={v}" for k, v in alert.fields.items() if v is not None)
    return f"{alert.body}\n\n{fields}" if fields else alert.body


def apprise_notify(url: str, title: str, body: str) -> bool:
    """One message to one Apprise URL; True when the service took it."""
    import apprise

    a = apprise.Apprise()
    if not a.add(url):
        return False
    return bool(a.notify(title=title, body=body))


class AlertSender:
    """Every alert to every service, each on its own worker (``submit`` never blocks).

    One per account: with several symbols every symbol's alerts share it (``hold``), so each
    service's rate limit is the account's, as the receiving chat sees it. Its builder holds it
    once; each holder's ``close`` lets go, and the last one stops the workers."""

    def __init__(self, urls: list[tuple[str, str]], *, timeout_s: float = 5.0, retries: int = 2,
                 per_minute: int = 20, backoff_s: float = 1.0, notify: Callable[[str, str, str], bool] = apprise_notify,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        self.services = [Service(label, with_timeouts(url, timeout_s), notify=notify, retries=retries,
                                 per_minute=per_minute, backoff_s=backoff_s, clock=clock, sleep=sleep)
                         for label, url in urls]
        self.holders = 1

    def hold(self) -> "AlertSender":
        """One more user of this sender (it stops only when every holder has closed it)."""
        self.holders += 1
        return self

    def submit(self, alert: Alert) -> None:
        for s in self.services:
            s.put(alert)

    @property
    def dropped(self) -> int:
        return sum(s.stats.dropped for s in self.services)

    def wait_idle(self, timeout: float) -> bool:
        """For tests and a clean exit: True once every queue is drained."""
        deadline = time.monotonic() + timeout
        return all(s.idle.wait(max(0.0, deadline - time.monotonic())) for s in self.services)

    def close(self) -> None:
        self.holders -= 1
        if self.holders > 0:
            return  # another symbol still sends through it
        for s in self.services:
            s.stop()


__all__ = ["AlertSender", "Service", "apprise_notify", "message", "resolve", "with_timeouts"]
