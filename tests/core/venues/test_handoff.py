"""core.handoff.LoopHandoff: venue threads -> the event loop, conflated, one pending callback.

And the Bybit streams' use of it: the top of book and the ticker are conflated, trades and
private events are not, link changes keep their place.
"""

from __future__ import annotations

import asyncio
import threading
import time
from types import SimpleNamespace

import pytest

from core.events import OrderUpdate
from core.handoff import MARKET_DATA_MIN_INTERVAL_S, LoopHandoff
from core.model import Quote, Trade
from core.venues.bybit_streams import BybitStreams, ChannelSpec


class CountingLoop:
    """Wraps the running loop: counts the callbacks handed over with call_soon_threadsafe and
    how many of them are pending (scheduled, not yet run) at any moment."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.scheduled = 0
        self.pending = 0
        self.max_pending = 0
        self._lock = threading.Lock()

    def call_soon_threadsafe(self, fn, *args):
        with self._lock:
            self.scheduled += 1
            self.pending += 1
            self.max_pending = max(self.max_pending, self.pending)

        def run():
            with self._lock:
                self.pending -= 1
            fn(*args)

        return self.loop.call_soon_threadsafe(run)

    in_cooldown_look = False  # True while a call_later callback (the cool-down look) runs

    def call_later(self, delay, fn, *args):
        def run():
            self.in_cooldown_look = True
            try:
                fn(*args)
            finally:
                self.in_cooldown_look = False

        return self.loop.call_later(delay, run)


async def _until(cond, seconds: float = 5.0) -> None:
    end = time.monotonic() + seconds
    while not cond():
        if time.monotonic() > end:
            raise AssertionError("timed out")
        await asyncio.sleep(0.001)


async def _settle(h: LoopHandoff) -> None:
    await _until(lambda: not h.pending)


# ---------------------------------------------------------------------------- unit


async def test_the_last_value_always_wins_and_older_ones_are_conflated():
    got: list[list] = []
    h = LoopHandoff(asyncio.get_running_loop(), got.append)
    for i in range(1, 101):  # all put before the loop runs the callback
        h.put_latest("book", i)
    await _settle(h)
    assert got == [[100]]
    assert (h.received, h.conflated, h.delivered) == (100, 99, 1)


async def test_at_most_one_callback_is_pending_and_none_is_lost_at_the_end():
    loop = CountingLoop(asyncio.get_running_loop())
    seen: list = []
    h = LoopHandoff(loop, lambda batch: seen.extend(batch))  # type: ignore[arg-type]
    n_threads, n_each = 4, 5_000

    def produce(k: int) -> None:
        for i in range(n_each):
            h.put_latest(k, (k, i))
            if i % 500 == 0:
                time.sleep(0)  # let the loop drain now and then

    threads = [threading.Thread(target=produce, args=(k,)) for k in range(n_threads)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        await asyncio.sleep(0.0005)
    await _settle(h)
    assert loop.max_pending == 1  # one call_soon_threadsafe outstanding at a time, at most
    assert 1 <= loop.scheduled < n_threads * n_each  # far fewer wake-ups than messages
    # nothing lost: every stream's last value was delivered, and every value is accounted for
    last = {}
    for k, i in seen:
        assert i >= last.get(k, -1)  # per stream, never older than what came before
        last[k] = i
    assert last == {k: n_each - 1 for k in range(n_threads)}
    assert h.delivered + h.conflated == h.received == n_threads * n_each


async def test_fifo_items_are_never_dropped_and_keep_their_order():
    got: list = []
    h = LoopHandoff(asyncio.get_running_loop(), got.extend)
    h.put_latest("book", "q1")
    h.put("t1")
    h.put_latest("book", "q2")  # not conflated with q1: a trade came in between
    h.put_latest("book", "q3")  # conflated with q2
    h.put("t2")
    h.put("t3")
    await _settle(h)
    assert got == ["q1", "t1", "q3", "t2", "t3"]
    assert h.conflated == 1


async def test_calls_keep_their_place_among_the_data():
    events: list = []
    h = LoopHandoff(asyncio.get_running_loop(), lambda batch: events.append(("data", list(batch))))
    h.put_latest("book", 1)
    h.call(events.append, ("call", "link down"))
    h.put_latest("book", 2)  # not merged into the value before the call
    h.put_latest("book", 3)
    await _settle(h)
    assert events == [("data", [1]), ("call", "link down"), ("data", [3])]


async def test_a_failing_deliver_does_not_lose_what_follows():
    got: list = []

    def deliver(batch):
        if batch == ["boom"]:
            raise RuntimeError("sink failed")
        got.extend(batch)

    h = LoopHandoff(asyncio.get_running_loop(), deliver)
    h.put("boom")
    h.call(lambda: None)
    h.put("after")
    await _settle(h)
    assert got == ["after"]


async def test_min_interval_bounds_wakeups_but_not_the_first_value_or_urgent_items():
    loop = CountingLoop(asyncio.get_running_loop())
    got: list = []
    t_got: list[float] = []

    via_cooldown: list[bool] = []

    def deliver(batch):
        got.extend(batch)
        t_got.append(time.monotonic())
        via_cooldown.append(loop.in_cooldown_look)

    h = LoopHandoff(loop, deliver, min_interval_s=0.05)  # type: ignore[arg-type]
    h.put_latest("book", 0)
    await _until(lambda: got == [0])
    assert via_cooldown == [False]  # the first value after a quiet spell goes at once, not after a cool-down
    # a busy feed for ~0.3 s from a thread: the loop is woken by the cool-down timer, not per value
    stop = threading.Event()

    def produce():
        i = 1
        while not stop.is_set():
            h.put_latest("book", i)
            i += 1
            time.sleep(0.0005)
        h.put_latest("book", -1)  # the final value

    th = threading.Thread(target=produce)
    n0 = len(t_got)
    t_feed = time.monotonic()
    th.start()
    await asyncio.sleep(0.3)
    stop.set()
    th.join()
    await _until(lambda: got and got[-1] == -1)  # the last value arrives
    t_feed = time.monotonic() - t_feed
    assert loop.scheduled <= 3  # ~no thread wake-ups while cooling down (the values wait for the look)
    feed_deliveries = t_got[n0:]
    gaps = [b - a for a, b in zip(feed_deliveries, feed_deliveries[1:])]
    assert len(feed_deliveries) <= t_feed / 0.05 + 2 and min(gaps) >= 0.045
    assert h.conflated > 10 * len(feed_deliveries)
    # an urgent FIFO item does not wait for the cool-down
    h.put_latest("book", "y")  # a delivery (re)starts a cool-down ...
    await _until(lambda: got[-1] == "y" and h._cooling)  # ... running now; no await until the puts below
    h.put_latest("book", "x")
    h.put("order")
    await _until(lambda: "order" in got)
    assert got[-2:] == ["x", "order"] and via_cooldown[-1] is False  # it did not wait for the look
    await _until(lambda: not h.pending, 1.0)


async def test_close_drops_what_is_waiting_and_ignores_the_rest():
    got: list = []
    h = LoopHandoff(asyncio.get_running_loop(), got.extend)
    h.put("a")
    h.close()
    h.put("b")
    h.put_latest("k", "c")
    await asyncio.sleep(0.01)
    assert got == []


def test_a_closed_loop_is_not_an_error():
    loop = asyncio.new_event_loop()
    loop.close()
    h = LoopHandoff(loop, lambda batch: None)
    h.put("x")  # call_soon_threadsafe raises RuntimeError: swallowed, the hand-off closes
    assert h.closed


# ---------------------------------------------------------------------------- the Bybit streams


def _streams(loop, delivered: list, links: list) -> BybitStreams:
    specs = [ChannelSpec("spot", "spot", True, False, None, 2), ChannelSpec("private", "private", True, False, None, 4)]
    s = BybitStreams(loop=loop, specs=specs, symbol="BTCUSDT", client_prefix="rb", api_key="k", api_secret="s",
                     on_events=lambda evs: delivered.append(evs), on_link=lambda *a: links.append(a),
                     on_problem=lambda text: links.append(("problem", text)), market_data_interval_s=0.0)
    return s


def _book(bid: str, ts: int) -> dict:
    return {"topic": "orderbook.1.BTCUSDT", "type": "snapshot", "ts": ts,
            "data": {"s": "BTCUSDT", "b": [[bid, "1"]], "a": [["60001.0", "2"]]}}


def _trade(price: str, ts: int) -> dict:
    return {"topic": "publicTrade.BTCUSDT", "type": "snapshot", "ts": ts,
            "data": [{"T": ts, "s": "BTCUSDT", "S": "Buy", "v": "0.01", "p": price}]}


async def test_bybit_quotes_are_conflated_trades_are_not_and_order_is_kept():
    delivered: list = []
    links: list = []
    s = _streams(asyncio.get_running_loop(), delivered, links)
    ws = SimpleNamespace(name="spot", token=s.links["spot"].token, local={})

    def socket_thread():  # pybit's thread: everything arrives before the loop runs
        s.ws_data(ws, _book("59990.0", 1))
        s.ws_data(ws, _book("59991.0", 2))
        s.ws_data(ws, _trade("60000.5", 3))
        s.ws_data(ws, _book("59992.0", 4))
        s.ws_data(ws, _book("59993.0", 5))
        s.ws_data(ws, _trade("60000.6", 6))
        s.ws_data(ws, _trade("60000.7", 7))
        s.ws_data(ws, _book("59994.0", 8))

    th = threading.Thread(target=socket_thread)
    th.start()
    th.join()
    await _settle(s.handoff)
    events = [e for batch in delivered for e in batch]
    kinds = [(type(e).__name__, e.ts_ms) for e in events]
    assert kinds == [("Quote", 2), ("Trade", 3), ("Quote", 5), ("Trade", 6), ("Trade", 7), ("Quote", 8)]
    assert events[-1].bid == 59994.0  # the newest book is always delivered
    assert len(delivered) == 1  # one loop callback for the whole burst
    assert all(isinstance(e, (Quote, Trade)) for e in events)


async def test_bybit_private_events_and_link_changes_keep_their_place():
    delivered: list = []
    links: list = []
    order: list = []
    s = _streams(asyncio.get_running_loop(), delivered, links)
    s.on_events = lambda evs: order.extend(("event", type(e).__name__) for e in evs)
    s.on_problem = lambda text: order.append(("problem", text))
    ws = SimpleNamespace(name="spot", token=s.links["spot"].token, local={})
    pws = SimpleNamespace(name="private", token=s.links["private"].token, local={})
    item = {"category": "spot", "symbol": "BTCUSDT", "orderLinkId": "rb-1", "orderId": "1", "side": "Buy",
            "orderType": "Limit", "price": "60000", "qty": "0.01", "cumExecQty": "0", "orderStatus": "New",
            "timeInForce": "GTC", "createdTime": "1", "updatedTime": "2"}
    s.ws_data(ws, _book("59990.0", 1))
    s.ws_data(pws, {"topic": "order", "creationTime": 3, "data": [item]})
    s.ws_refused(ws, "subscribe", {"ret_msg": "nope"})
    s.ws_data(ws, _book("59991.0", 4))
    await _settle(s.handoff)
    assert order == [("event", "Quote"), ("event", OrderUpdate.__name__),
                     ("problem", "spot stream: subscribe refused by Bybit: nope"), ("event", "Quote")]


def test_the_bench_feed_uses_the_product_setting():
    import importlib.util
    from pathlib import Path

    host = Path(__file__).resolve().parents[3] / "bench" / "_cockpit_host.py"
    text = host.read_text(encoding="utf-8")
    assert "LoopHandoff(" in text and "MARKET_DATA_MIN_INTERVAL_S" in text and "put_latest(" in text
    assert importlib.util.find_spec("core.handoff") is not None
    assert MARKET_DATA_MIN_INTERVAL_S > 0
    assert BybitStreams.__init__.__kwdefaults__["market_data_interval_s"] == MARKET_DATA_MIN_INTERVAL_S


@pytest.mark.parametrize("interval", [0.0, MARKET_DATA_MIN_INTERVAL_S])
async def test_a_burst_from_two_threads_delivers_every_trade_and_the_last_quote(interval):
    delivered: list = []
    h = LoopHandoff(asyncio.get_running_loop(), delivered.extend, min_interval_s=interval)

    def thread(k: int) -> None:
        for i in range(2_000):
            h.put_latest(("book", k), ("q", k, i))
            if i % 10 == 0:
                h.put(("t", k, i), urgent=False)

    threads = [threading.Thread(target=thread, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        await asyncio.sleep(0.001)
    await _until(lambda: not h._items and not h._soon and not h._cooling)  # all delivered, gone idle
    trades = [x for x in delivered if x[0] == "t"]
    assert sorted(trades) == [("t", k, i) for k in range(2) for i in range(0, 2_000, 10)]
    for k in range(2):
        assert [x for x in delivered if x[:2] == ("q", k)][-1] == ("q", k, 1_999)
