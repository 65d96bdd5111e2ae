"""Fixtures for the Bybit adapter tests: the loopback fake and adapters pointed at it.

Everything talks to ``FakeBybit`` on 127.0.0.1 through the real pybit client (real HTTP,
real WebSocket frames, signatures checked). Watchdog and ping settings are shortened so
fault tests finish in well under a second each; nothing sleeps for a fixed time: tests
await events or conditions with timeouts.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest

from tests.fakes.bybit import DEFAULT_KEY, DEFAULT_SECRET
from tests.fakes.conftest_plugin import bybit_fake  # noqa: F401  (re-exported fixture)

FAST = dict(watchdog_interval_s=0.05, rebuild_after_s=0.4, min_backoff_s=0.1, max_backoff_s=1.0, retry_backoff_s=0.02,
            subscribe_timeout_s=5.0, http_timeout_s=3.0)

# the private stall watch reads wallet + position while the private stream is quiet: kept out of
# tests that count requests (test_bybit_stall.py sets its own timings)
QUIET = dict(private_stall_s=120.0)


class Sink:
    """The venue's event sink for tests: records events and the thread that delivered each,
    and lets a test await an event (event-driven, never a sleep loop)."""

    def __init__(self) -> None:
        self.events: list[object] = []
        self.threads: set[int] = set()
        self._changed = asyncio.Event()

    def __call__(self, event: object) -> None:
        self.events.append(event)
        self.threads.add(threading.get_ident())
        self._changed.set()

    def mark(self) -> int:
        return len(self.events)

    def of(self, kind: type, start: int = 0) -> list:
        return [e for e in self.events[start:] if isinstance(e, kind)]

    async def wait_for(self, predicate: Callable[[object], bool], *, start: int = 0, timeout: float = 5.0) -> object:
        async def _wait() -> object:
            pos = start
            while True:
                for i in range(pos, len(self.events)):
                    if predicate(self.events[i]):
                        return self.events[i]
                pos = len(self.events)
                self._changed.clear()
                await self._changed.wait()

        try:
            return await asyncio.wait_for(_wait(), timeout)
        except TimeoutError:
            tail = [type(e).__name__ for e in self.events[start:]][-30:]
            raise AssertionError(f"no matching event within {timeout}s; got {tail}") from None


async def until(predicate: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    """Await a condition that is not an event (fake state, adapter counters): polls cheaply."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


@pytest.fixture
def sink() -> Sink:
    return Sink()


@pytest.fixture
def new_sink() -> Callable[[], Sink]:
    return Sink


@pytest.fixture(name="until")
def until_fixture():
    """``await until(predicate, timeout, what)``."""
    return until


@pytest.fixture
async def make_venue(bybit_fake):  # noqa: F811
    """``await make_venue(**kw)`` -> an unstarted BybitVenue on the fake; all stopped at teardown."""
    from core.venues.bybit import BybitVenue
    from tests.builders import bybit_venue

    made: list[BybitVenue] = []

    def make(**kw) -> BybitVenue:
        args = dict(symbol="BTCUSDT", venue="testnet", api_key=DEFAULT_KEY, api_secret=DEFAULT_SECRET,
                    rest_url=bybit_fake.rest_url, ws_public_url=bybit_fake.ws_base_url,
                    ws_private_url=bybit_fake.ws_base_url, **FAST, **QUIET)
        args.update(kw)
        v = bybit_venue(**args)
        made.append(v)
        return v

    yield make
    for v in made:
        await v.stop()


@pytest.fixture
def fake_session_config(bybit_fake, make_config):  # noqa: F811
    """``fake_session_config(mode)`` -> a testnet session's config pointed at the fake, with its keys."""

    def make(mode: str):
        return make_config(venue="testnet", mode=mode,
                           api__rest_url=bybit_fake.rest_url, api__ws_public_url=bybit_fake.ws_base_url,
                           api__ws_private_url=bybit_fake.ws_base_url,
                           _env={"BYBIT_API_KEY_Tst": DEFAULT_KEY, "BYBIT_API_SECRET_Tst": DEFAULT_SECRET},
                           _need_secrets=True)
    return make


@pytest.fixture
async def venue(make_venue, sink):
    """A started trading venue on the fake, its events in ``sink``."""
    v = make_venue()
    await v.start(sink)
    return v
