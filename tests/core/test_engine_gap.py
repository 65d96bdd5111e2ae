"""The loop is never blocked (issue 13, item 11): a 10-day gap in recorded data at
``paper.speed: 0`` held the event loop while the paper venue delivered the gap's 3.5 million
timer ticks in one go, so ``k`` showed HALTED 30 s late and SIGTERM took 25-58 s. The venue now
crosses a gap in bounded steps, handing the loop back between them.

A monitor task measures how long the loop is kept from it (its longest wait between two turns,
in CPU time of the loop's thread: on a loaded machine the OS can deschedule the whole process for
a quarter second, which holds nothing) while the engine crosses the gap; a kill and a stop are
then issued mid-gap and timed.
"""

from __future__ import annotations

import asyncio
import time

from core.model import Side, TradingState
from tests.core.helpers_engine import T0
from tests.core.test_engine import BID, ASK, Quote, Rig, Trade, until

DAY_MS = 86_400_000


def gapped_market() -> list:
    """A quote and a trade each second for 5 s, 10 days of nothing, then 5 s more."""
    out = []
    for start in (T0, T0 + 10 * DAY_MS):
        for i in range(5):
            ts = start + i * 1_000
            out += [Quote(ts, BID, 1.0, ASK, 1.0), Trade(ts, 60_000.00, 0.001, Side.BUY)]
    return out


async def test_a_ten_day_gap_at_full_speed_never_holds_the_loop_and_kill_and_stop_act_at_once():
    rig = Rig(spot="0.5", events=gapped_market(), tick_ms=250)  # the engine ticks every 250 ms of market time
    longest = 0.0
    watching = True

    async def monitor():
        nonlocal longest
        while watching:
            t = time.thread_time()  # the loop's own work between two turns, not the OS's scheduling
            await asyncio.sleep(0)
            longest = max(longest, time.thread_time() - t)

    watch = asyncio.create_task(monitor())
    await rig.start()
    await until(lambda: rig.reb.now_ms > T0 + 3_600_000, timeout=30)  # an hour into the gap
    assert rig.reb.now_ms < T0 + 10 * DAY_MS, "the gap was crossed in one go"
    t0 = time.perf_counter()
    rig.engine.kill()
    assert rig.engine.latest().trading_state is TradingState.HALTED
    await asyncio.wait_for(rig.engine.shutdown(cancel_orders=True, reason="SIGTERM received"), 1.0)
    await asyncio.wait_for(rig.task, 1.0)
    assert time.perf_counter() - t0 < 1.0
    watching = False
    await watch
    assert longest < 0.25, f"the loop was held for {longest:.3f} s"
    assert rig.reb.now_ms < T0 + 10 * DAY_MS  # stopped mid-gap
