"""Start-up honesty (issue 13, item 7): a venue that cannot be reached at start is said at once
and tried again with backoff; a stop during the retries ends the engine cleanly.

Found by running the program headless against an unreachable venue: the engine task died, the
process stayed up without a word for 30 s and printed a ``TransportError`` traceback on SIGTERM.
The venue here is a ``PaperVenue`` whose ``start`` fails like a transport error (retryable) a
given number of times; the engine's backoff is shortened so nothing waits long.
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

import pytest

from core.engine import Engine
from core.journal import Journal
from core.journal.recorder import JournalRecorder
from core.model import BTCUSDT_SPOT, Mode
from core.rebalancer import Rebalancer
from core.venues.base import AuthError, VenueError
from core.venues.paper import PaperVenue
from core.venues.paper_exchange import PaperExchange
from tests.core.helpers_engine import T0, SpyRecorder, initial_position_fill, rcfg
from tests.core.test_engine import until

D = Decimal
TIMEOUT = 5.0


class UnreachableAtFirst(PaperVenue):
    """``start`` fails ``failures`` times (None: always) as an unreachable host does."""

    def __init__(self, failures: int | None, error: Exception | None = None, **kw) -> None:
        super().__init__(**kw)
        self.failures = failures
        self.error = error or VenueError("server time: no usable reply from Bybit (ConnectionError)", retryable=True)
        self.starts = 0

    async def start(self, sink) -> None:
        self.starts += 1
        if self.failures is None or self.starts <= self.failures:
            raise self.error
        await super().start(sink)


def make(venue: PaperVenue, journal: Journal | None = None) -> Engine:
    venue.exchange.apply_grid_fill(initial_position_fill(T0, D("-0.5"), D("60000")))
    recorder = JournalRecorder(journal) if journal is not None else SpyRecorder()
    reb = Rebalancer(rcfg(), BTCUSDT_SPOT, mode=Mode.AUTO, recorder=recorder)
    return Engine(reb, venue, tick_s=3600, journal=journal, start_retry_s=0.01, start_retry_max_s=0.04)


def exchange() -> PaperExchange:
    return PaperExchange(balances={"BTC": D("0.5"), "USDT": D("50000")})


async def test_a_venue_unreachable_at_start_is_said_each_time_and_retried_until_it_answers(caplog):
    caplog.set_level(logging.ERROR, logger="rebalancer.engine")
    venue = UnreachableAtFirst(3, exchange=exchange(), market=None)
    engine = make(venue)
    alarms: list[str] = []
    engine.on_alarm = alarms.append
    task = asyncio.create_task(engine.run())
    await asyncio.wait_for(engine.started.wait(), TIMEOUT)
    assert venue.starts == 4 and engine.start_attempts == 4
    said = [line.text for line in engine.reb.log if line.level == "error" and "cannot start" in line.text]
    assert len(said) == 3 and "no usable reply" in said[0] and "trying again in 0.01 s" in said[0]
    assert "trying again in 0.04 s" in said[2]  # doubling, capped
    assert len([r for r in caplog.records if "cannot start" in r.getMessage()]) == 3
    assert len([a for a in alarms if "cannot start" in a]) == 3 and "started at attempt 4" in alarms[-1]
    assert engine.reb.connected and engine.reb.book.balances_ok
    await engine.shutdown(cancel_orders=True)
    await asyncio.wait_for(task, TIMEOUT)


async def test_a_stop_while_the_venue_is_still_unreachable_ends_cleanly_with_a_stop_row(tmp_path):
    journal = Journal(tmp_path / "journal.sqlite")
    venue = UnreachableAtFirst(None, exchange=exchange(), market=None)
    engine = make(venue, journal)
    task = asyncio.create_task(engine.run())
    await until(lambda: venue.starts >= 3)
    await asyncio.wait_for(engine.shutdown(cancel_orders=True, reason="SIGTERM received"), 1.0)
    await asyncio.wait_for(task, 1.0)  # ended, and without an exception
    assert task.exception() is None and not engine.started.is_set()
    j = Journal(tmp_path / "journal.sqlite", create=False)
    try:
        assert j.last_state("session")[:2] == ("stopped", "SIGTERM received, orders NOT cancelled (the venue was "
                                                          "never reached)")
    finally:
        j.close()


async def test_a_start_failure_no_retry_can_mend_is_raised_at_once():
    venue = UnreachableAtFirst(None, error=AuthError("Bybit rejected the API key (10003)"), exchange=exchange(),
                               market=None)
    engine = make(venue)
    with pytest.raises(AuthError):
        await asyncio.wait_for(engine.run(), TIMEOUT)
    assert venue.starts == 1
