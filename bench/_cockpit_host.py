"""A fake engine host for the cockpit benchmarks: a market feed at a fixed message rate, no trading logic.

It implements ``core.state.EngineHost`` / ``EngineControl`` the way the live engine does where
it matters for the UI's cost:

* a producer thread (standing in for pybit's WebSocket threads) hands every message to the
  event loop through ``core.handoff.LoopHandoff.put_latest`` -- the same hand-off, with the
  same settings, that ``core/venues/bybit_streams.py`` uses for the top of book and the
  ticker: the newest value per stream waits under a lock and at most one
  ``call_soon_threadsafe`` is pending at a time (``--per-message``: the old path, one
  ``call_soon_threadsafe`` per message, for comparison);
* on the loop, a delivered value only updates the latest values (O(1));
* ``latest()`` rebuilds the ``CockpitState`` snapshot at most ``snapshot_hz`` times a second
  (like ``Engine.latest``), from a realistic base snapshot (a real ``Rebalancer`` after a short
  replay) with the fed values, a gap history sampled once a second and the feed counters.

``symbols`` > 1 (issue 18): the messages are spread over that many symbols (one stream each,
round robin, the same total rate); the snapshot is the first symbol's with every symbol's
``SymbolRow`` on the overview, as ``core.portfolio`` publishes it.

The host also runs a small loop-lag probe (an ``asyncio.sleep`` timer measuring how late it
wakes up) and writes its figures to a JSON stats file when the feed ends.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from collections import deque
from dataclasses import replace
from pathlib import Path

from core.handoff import MARKET_DATA_MIN_INTERVAL_S, LoopHandoff
from core.model import Mode
from core.state import CockpitState, FeedHealth, SymbolRow

from _common import SMALL_KLINES, cpu_ticks, load_app_config, percentile

LAG_PROBE_S = 0.02
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT", "ADAUSDT", "LINKUSDT", "AVAXUSDT", "DOTUSDT",
           "LTCUSDT")


def base_state() -> CockpitState:
    """A real snapshot: the Rebalancer after a replay of one recorded day (orders, fills, log, decision)."""
    from core.replay import run_replay
    from core.venues.market import load_market

    cfg = load_app_config()
    res = run_replay(cfg, load_market(SMALL_KLINES), mode="auto")
    snap = res.rebalancer.snapshot()
    return replace(snap, venue="paper", connected=True, mode=Mode.AUTO)


def message(seq: int, rng: random.Random, px: float) -> tuple:
    """One feed message: (seq, price, bid, ask, net_base, gap_base). Net is unique per seq (6 dp)."""
    net = 0.010001 + ((seq * 7919) % 99_991) * 1e-6  # > 0, never the base snapshot's value
    return seq, px, round(px - 0.05, 2), round(px + 0.05, 2), round(net, 6), round(net, 6)


class _Control:
    """Every control call is accepted and ignored (this host does not trade)."""

    def approve(self, proposal_id=None) -> None: ...
    def skip(self, proposal_id=None) -> None: ...
    def preview_force(self): return None
    def force(self) -> None: ...
    def toggle_pause(self) -> None: ...
    def set_mode(self, mode) -> None: ...
    def kill(self) -> None: ...
    def rearm(self) -> None: ...
    def cancel_pending(self) -> None: ...


class FeedHost:
    def __init__(self, *, rate: float, seconds: float, warmup_s: float, settle_s: float, stats_path: str | Path,
                 snapshot_hz: float = 10.0, seed: int = 7, base: CockpitState | None = None,
                 per_message: bool = False, symbols: int = 1) -> None:
        self.control = _Control()
        self.symbols = tuple(SYMBOLS[i] if i < len(SYMBOLS) else f"S{i}USDT" for i in range(max(1, symbols)))
        self._others: dict[int, tuple] = {}  # symbol index (> 0) -> its latest message
        self.rate = rate
        self.seconds = seconds
        self.warmup_s = warmup_s
        self.settle_s = settle_s
        self.stats_path = Path(stats_path)
        self.snapshot_every = 1.0 / snapshot_hz
        self.seed = seed
        self.per_message = per_message
        self.handoff: LoopHandoff | None = None
        self._given_base = base
        self.app = None  # set by the child script (to read renders / ui_errors)
        self._base = CockpitState(venue="paper", mode=Mode.AUTO, connected=True)
        self._snap: CockpitState | None = None
        self._snap_at = 0.0
        self._cur: tuple | None = None
        self._received = 0
        self._gap_hist: deque[float] = deque(maxlen=120)
        self._next_hist = 0.0
        self._stop = asyncio.Event()
        self._lags: list[float] = []
        self._probing = False
        self.snapshots = 0

    # ------------------------------------------------------------------ EngineHost
    def latest(self) -> CockpitState:
        now = time.perf_counter()
        if self._snap is None or now - self._snap_at >= self.snapshot_every:
            self._snap = self._build(now)
            self._snap_at = now
        return self._snap

    def _build(self, now: float) -> CockpitState:
        self.snapshots += 1
        b = self._base
        ts = time.time_ns() // 1_000_000
        cur = self._cur
        if cur is None:
            return replace(b, ts_ms=ts)
        seq, px, bid, ask, net, gap = cur
        if now >= self._next_hist:
            self._gap_hist.append(gap)
            self._next_hist = now + 1.0
        feed = replace(b.feed, data_age_ms=0, events_total=seq) if b.feed else FeedHealth(events_total=seq)
        snap = replace(b, ts_ms=ts, price=px, bid=bid, ask=ask, net_base=net, net_quote=net * px, gap_base=gap,
                       gap_in_unit=gap, target_base=0.0, gap_history=tuple(self._gap_hist), feed=feed)
        if len(self.symbols) == 1:
            return snap
        rows = [SymbolRow.of(snap, selected=True)]
        for i, sym in enumerate(self.symbols[1:], start=1):
            m = self._others.get(i)
            rows.append(SymbolRow(symbol=sym, base_coin=sym.removesuffix("USDT"), price=m[1] / (i + 1) if m else None,
                                  net_base=m[4] if m else 0.0, gap_base=m[5] if m else 0.0,
                                  effective_soft=b.effective_soft, effective_hard=b.effective_hard,
                                  trading_state=b.trading_state, mode=b.mode))
        return replace(snap, overview=tuple(rows))

    def on_message(self, msg: tuple) -> None:
        """Loop side, ``--per-message`` (the old path): keep the latest values, count the message."""
        self._cur = msg
        self._received += 1

    def on_messages(self, msgs: list) -> None:
        """Loop side: what the hand-off delivers (the newest value per stream, in order)."""
        if len(self.symbols) == 1:
            self._cur = msgs[-1]
        else:  # (symbol index, message)
            for i, m in msgs:
                if i == 0:
                    self._cur = m
                else:
                    self._others[i] = m
        self._received += len(msgs)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        probe = asyncio.create_task(self._probe())
        try:
            self._base = self._given_base or await asyncio.to_thread(base_state)
            self._snap = None
            rest = self.warmup_s
            await asyncio.sleep(max(0.0, rest))
            done = asyncio.Event()
            out: dict = {}
            # the product's hand-off (core/venues/bybit_streams.py), same settings
            self.handoff = LoopHandoff(loop, self.on_messages, min_interval_s=MARKET_DATA_MIN_INTERVAL_S,
                                       name="bench-feed")
            t = threading.Thread(target=self._produce, args=(loop, done, out), name="bench-feed", daemon=True)
            self._probing = True
            renders0 = getattr(self.app, "renders", 0)
            ticks0 = cpu_ticks()
            c0 = time.process_time()
            t_start = time.monotonic()
            t.start()
            await done.wait()
            t_end = time.monotonic()
            ticks1 = cpu_ticks()
            c1 = time.process_time()
            self._probing = False
            await asyncio.sleep(self.settle_s)  # let the UI poll and paint the final state
            out["renders"] = getattr(self.app, "renders", 0) - renders0
            self._write_stats(t_start, t_end, ticks1 - ticks0, c1 - c0, out)
            await self._stop.wait()
        finally:
            probe.cancel()

    async def shutdown(self, cancel_orders: bool, reason: str = "clean quit", *, crashed: bool = False) -> None:
        self._stop.set()

    def on_engine_error(self, message: str) -> None:
        self._base = replace(self._base, mode=Mode.WATCH, engine_error=message)
        self._snap = None

    # ------------------------------------------------------------------ feed thread
    def _produce(self, loop: asyncio.AbstractEventLoop, done: asyncio.Event, out: dict) -> None:
        out["native_id"] = threading.get_native_id()
        rng = random.Random(self.seed)
        post = loop.call_soon_threadsafe
        on_message = self.on_message
        rate, seconds = self.rate, self.seconds
        t0 = time.monotonic()
        sent = 0
        px = 60_000.0
        total = max(1, int(rate * seconds))
        last = None
        per_message = self.per_message
        put_latest = self.handoff.put_latest
        n = len(self.symbols)
        streams = [f"ticker-{s}" for s in self.symbols]
        while sent < total:
            due = min(total, int((time.monotonic() - t0) * rate) + 1)
            while sent < due:
                sent += 1
                px = round(px + rng.choice((-0.1, 0.0, 0.0, 0.1)), 2)
                if n > 1:  # round robin over the symbols; the last of the first symbol is the one shown
                    i = sent % n
                    msg = message(sent, rng, px)
                    put_latest(streams[i], (i, msg))
                    if i == 0:
                        last = msg
                    continue
                last = message(sent, rng, px)
                if per_message:
                    post(on_message, last)
                else:
                    put_latest("ticker", last)
            # sleep to the next message due (at least 1 ms: bursts of rate/1000 messages)
            nxt = t0 + sent / rate
            time.sleep(max(0.001, nxt - time.monotonic()))
        out["sent"] = sent
        out["last"] = last
        out["thread_cpu_s"] = time.thread_time()
        out["elapsed_s"] = time.monotonic() - t0
        if per_message:
            post(done.set)
        else:
            self.handoff.call(done.set)  # after the last value (the hand-off keeps the order)

    # ------------------------------------------------------------------ loop lag probe
    async def _probe(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            t = loop.time()
            await asyncio.sleep(LAG_PROBE_S)
            if self._probing:
                self._lags.append(max(0.0, loop.time() - t - LAG_PROBE_S) * 1000.0)

    def _write_stats(self, t_start: float, t_end: float, ticks: int, cpu_s: float, out: dict) -> None:
        import os

        wall = t_end - t_start
        tick = os.sysconf("SC_CLK_TCK")
        lags = self._lags
        last = out.get("last")
        stats = {
            "t_feed_start": t_start,
            "t_feed_end": t_end,
            "feed_wall_s": wall,
            "sent": out.get("sent"),
            "received": self._received,
            "conflated": self.handoff.conflated if self.handoff and not self.per_message else 0,
            # call_soon_threadsafe calls from the producer, and loop callbacks that delivered data
            "thread_wakeups": self.handoff.wakeups if self.handoff and not self.per_message else out.get("sent"),
            "deliveries": self.handoff.drains if self.handoff and not self.per_message else out.get("sent"),
            "rate_achieved": (out.get("sent") or 0) / wall if wall else None,
            "producer_cpu_s": out.get("thread_cpu_s"),
            "process_cpu_s_proc": ticks / tick,
            "process_cpu_s": cpu_s,
            "cpu_pct": 100.0 * (ticks / tick) / wall if wall else None,
            "cpu_pct_excl_producer": 100.0 * ((ticks / tick) - (out.get("thread_cpu_s") or 0.0)) / wall if wall else None,
            "lag_samples": len(lags),
            "lag_p50_ms": percentile(lags, 0.5),
            "lag_p99_ms": percentile(lags, 0.99),
            "lag_max_ms": max(lags) if lags else None,
            "final": {"seq": last[0], "price": last[1], "net_base": last[4], "gap_base": last[5]} if last else None,
            "renders_in_feed": out.get("renders"),
            "renders_total": getattr(self.app, "renders", None),
            "ui_errors": getattr(self.app, "ui_errors", None),
            "snapshots": self.snapshots,
            "done": True,
        }
        tmp = self.stats_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(stats), encoding="utf-8")
        tmp.replace(self.stats_path)

