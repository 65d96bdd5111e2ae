"""FairShare: several symbols share one account's order budget in turn (virtual time, no sockets)."""

from __future__ import annotations

import asyncio

from core.venues.bybit_fair import FairShare
from core.venues.bybit_rate import RateBudget


class VirtualTime:
    """A clock the budget reads and a sleep that advances it (and yields to the loop)."""

    def __init__(self) -> None:
        self.t = 1000.0

    def now(self) -> float:
        return self.t

    async def sleep(self, d: float) -> None:
        self.t += d
        await asyncio.sleep(0)


def fair(per_second: int = 10) -> tuple[FairShare, VirtualTime]:
    vt = VirtualTime()
    budget = RateBudget({"create": per_second}, margin=1.0, now=vt.now, sleep=vt.sleep)
    return FairShare(budget), vt


async def _admit(share: FairShare, lane: str, log: list[str]) -> None:
    await share.acquire("create", lane)
    log.append(lane)


async def test_a_flooding_symbol_cannot_starve_another():
    """40 BTCUSDT creates are queued, then one ETHUSDT create: it goes out with the very next
    free slot (BTCUSDT's turn first at most), not behind the flood (first-come-first-served
    would put it 41st, about 3 s later at 10 a second)."""
    share, _vt = fair(10)
    log: list[str] = []
    btc = [asyncio.create_task(_admit(share, "BTCUSDT", log)) for _ in range(40)]
    await asyncio.sleep(0)  # every BTCUSDT request has asked (10 went straight through)
    assert log.count("BTCUSDT") == 10 and share.waiting("BTCUSDT") == 30
    await asyncio.create_task(_admit(share, "ETHUSDT", log))
    assert log.index("ETHUSDT") <= 11  # at most one more BTCUSDT slot before it
    await asyncio.gather(*btc)
    assert log.count("BTCUSDT") == 40
    assert share.granted[("create", "ETHUSDT")] == 1 and share.granted[("create", "BTCUSDT")] == 40


async def test_busy_lanes_alternate_and_each_lane_is_fifo():
    share, _vt = fair(2)
    log: list[str] = []
    tasks = []
    for i in range(6):
        for lane in ("A", "B", "C"):
            if lane == "A" or i < 2:  # A floods (6), B and C ask twice each
                tasks.append(asyncio.create_task(_admit(share, f"{lane}", log)))
    order: list[tuple[str, int]] = []
    seen: dict[str, int] = {}
    await asyncio.gather(*tasks)
    for lane in log:
        seen[lane] = seen.get(lane, 0) + 1
        order.append((lane, seen[lane]))
    # the first two go straight through (room), then one each in turn while all three wait
    assert log[:2] == ["A", "B"]
    rest = log[2:]
    assert rest[:4] == ["C", "A", "B", "C"]
    assert rest[4:] == ["A"] * 4  # only A is left: it gets every slot
    assert len(log) == 10


async def test_a_cancelled_waiter_gives_its_turn_away():
    share, _vt = fair(1)
    log: list[str] = []
    first = asyncio.create_task(_admit(share, "A", log))
    await first  # takes the only slot of this second
    gone = asyncio.create_task(_admit(share, "A", log))
    kept = asyncio.create_task(_admit(share, "B", log))
    await asyncio.sleep(0)
    gone.cancel()
    await kept
    assert log == ["A", "B"] and gone.cancelled()
    assert share.granted[("create", "A")] == 1


async def test_uncontended_requests_do_not_queue():
    share, vt = fair(10)
    for _ in range(5):
        await share.acquire("create", "BTCUSDT")
        await share.acquire(None, "BTCUSDT")  # public data: the per-IP window only
    assert vt.t == 1000.0 and not share._pumps and share.waiting() == 0


async def test_close_releases_every_waiter():
    share, _vt = fair(1)
    await share.acquire("create", "A")
    waiter = asyncio.create_task(share.acquire("create", "B"))
    await asyncio.sleep(0)
    share.close()
    try:
        await waiter
    except asyncio.CancelledError:
        pass
    assert waiter.cancelled() or waiter.done()
