"""EMA trend from candle closes: fast/slow EMAs, slope, trend state and a signal in [-1, +1].

Candles are aggregated from trades at the configured timeframe; the EMAs move only when a
candle closes (a forming candle would make the trend flicker tick by tick). The per-trade work
is a comparison and a min/max, so it stays O(1) on the hot path.
"""

from __future__ import annotations

from collections import deque

from core.model import Candle
from core.values import value_type

MAX_FILLED_GAP_CANDLES = 1_000
"""A quiet market still closes candles (carrying the last close); a longer gap than this many
candles (a feed outage) is not back-filled candle by candle."""


def clamp(x: float, lo: float = -1.0, hi: float = 1.0) -> float:
    return lo if x < lo else hi if x > hi else x


@value_type
class TrendView:
    ready: bool
    ema_fast: float | None
    ema_slow: float | None
    spread_pct: float
    slope_pct: float
    state: str  # "up" | "down" | "flat"
    signal: float  # [-1, +1]


FLAT = TrendView(False, None, None, 0.0, 0.0, "flat", 0.0)


class CandleBuilder:
    """Builds fixed-length candles from trades; returns closed candles as they complete."""

    __slots__ = ("interval_ms", "start", "end", "open", "high", "low", "close", "volume", "empty")

    def __init__(self, interval_ms: int) -> None:
        self.interval_ms = int(interval_ms)
        self.start = -1
        self.end = -1  # start + interval: callers may test ``ts < end`` without a call
        self.empty = True

    def on_trade(self, ts_ms: int, price: float, qty: float = 0.0) -> list[Candle] | None:
        """Add a trade; returns the candles this trade closed (None when none closed)."""
        if self.start >= 0 and ts_ms < self.start + self.interval_ms:
            if self.empty:  # first trade of a candle opened by the clock: it sets the open
                self.open = self.high = self.low = self.close = price
                self.volume = qty
                self.empty = False
                return None
            if price > self.high:
                self.high = price
            elif price < self.low:
                self.low = price
            self.close = price
            self.volume += qty
            return None
        closed = self.roll(ts_ms)
        self.start = ts_ms - ts_ms % self.interval_ms
        self.end = self.start + self.interval_ms
        self.open = self.high = self.low = self.close = price
        self.volume = qty
        self.empty = False
        return closed

    def absorb(self, low: float, high: float, close: float, qtys) -> None:
        """A run of trades inside the forming (not empty) candle, its lowest and highest price,
        last price and sizes, at once: what ``on_trade`` one by one leaves (the volume summed
        left to right from the running total, as one by one)."""
        if high > self.high:
            self.high = high
        if low < self.low:
            self.low = low
        self.close = close
        self.volume = sum(qtys, self.volume)

    def set_forming(self, end: int, open_: float, high: float, low: float, close: float, volume: float) -> None:
        """The forming candle as a bulk step left it: ending at ``end``, opened by a trade."""
        self.start = end - self.interval_ms
        self.end = end
        self.open, self.high, self.low, self.close, self.volume = open_, high, low, close, volume
        self.empty = False

    def roll(self, now_ms: int) -> list[Candle] | None:
        """Close the forming candle (and empty candles after it) once ``now_ms`` passed them."""
        if self.start < 0 or now_ms < self.start + self.interval_ms:
            return None
        iv = self.interval_ms
        out = [Candle(self.start, iv, self.open, self.high, self.low, self.close, self.volume)]
        nxt = self.start + iv
        last = self.close
        n_empty = min((now_ms - nxt) // iv, MAX_FILLED_GAP_CANDLES)
        for i in range(n_empty):
            out.append(Candle(nxt + i * iv, iv, last, last, last, last, 0.0))
        # the next candle starts empty at the current bucket, carrying the last close
        self.start = now_ms - now_ms % iv
        self.end = self.start + iv
        self.open = self.high = self.low = self.close = last
        self.volume = 0.0
        self.empty = True
        return out


class TrendTracker:
    """Fast and slow EMA on candle closes, slope of the fast EMA over a lookback, and the
    trend signal the policies read."""

    def __init__(self, fast: int, slow: int, timeframe_ms: int, slope_lookback_s: float,
                 threshold_pct: float, history: int = 240) -> None:
        if fast <= 0 or slow <= 0 or fast >= slow:
            raise ValueError("EMA periods must be positive with fast < slow")
        self.fast, self.slow = fast, slow
        self.alpha_fast = 2.0 / (fast + 1)
        self.alpha_slow = 2.0 / (slow + 1)
        self.timeframe_ms = int(timeframe_ms)
        self.slope_lookback_ms = int(slope_lookback_s * 1000)
        self.threshold_pct = threshold_pct
        self.builder = CandleBuilder(timeframe_ms)
        self.ema_fast: float | None = None
        self.ema_slow: float | None = None
        self.candles_seen = 0
        keep = max(2, self.slope_lookback_ms // self.timeframe_ms + 2)
        self._fast_hist: deque[tuple[int, float]] = deque(maxlen=keep)
        # bounded chart history for the cockpit: (candle end, close, fast, slow)
        self.chart: deque[tuple[int, float, float, float]] = deque(maxlen=history)
        self._view: TrendView | None = FLAT
        self._view_end = 0
        self.version = 0  # bumps on every EMA update: cheap change detection for callers

    # -- input

    def on_trade(self, ts_ms: int, price: float, qty: float = 0.0) -> bool:
        """Add a trade; True when it closed a candle (the EMAs moved)."""
        b = self.builder
        end = b.end
        if end <= ts_ms < end + b.interval_ms and not b.empty:
            # the common close: this trade opens the very next candle (no gap to fill)
            self.close_value(end, b.close)
            b.start = end
            b.end = end + b.interval_ms
            b.open = b.high = b.low = b.close = price
            b.volume = qty
            return True
        closed = b.on_trade(ts_ms, price, qty)
        if closed is None:
            return False
        for c in closed:
            self._on_close(c)
        return True

    def on_time(self, now_ms: int) -> bool:
        closed = self.builder.roll(now_ms)
        if closed is None:
            return False
        for c in closed:
            self._on_close(c)
        return True

    def warm_up(self, candles: list[Candle] | tuple[Candle, ...]) -> None:
        """Seed the EMAs from closed historical candles (oldest first)."""
        for c in candles:
            self._on_close(c)

    def _on_close(self, c: Candle) -> None:
        self.close_value(c.start_ms + c.interval_ms, c.close)

    def close_value(self, end: int, px: float) -> None:
        """A candle ending at ``end`` closed at ``px``: move the EMAs (the view is computed
        when someone reads it)."""
        if self.ema_fast is None:
            self.ema_fast = self.ema_slow = px
        else:
            self.ema_fast += self.alpha_fast * (px - self.ema_fast)
            self.ema_slow += self.alpha_slow * (px - self.ema_slow)
        self.candles_seen += 1
        self._fast_hist.append((end, self.ema_fast))
        self.chart.append((end, px, self.ema_fast, self.ema_slow))
        self._view = None
        self._view_end = end
        self.version += 1

    def close_many(self, first_end: int, closes) -> None:
        """Consecutive candles ending at ``first_end``, ``first_end + timeframe``, ... closed
        at ``closes``: the same EMAs, history and chart as ``close_value`` one by one (the
        same float operations in the same order), with only the kept tails materialised."""
        n = len(closes)
        if n == 0:
            return
        iv = self.timeframe_ms
        af, aslow = self.alpha_fast, self.alpha_slow
        fast, slow = self.ema_fast, self.ema_slow
        keep = max(self.chart.maxlen or n, self._fast_hist.maxlen or n)
        tail_from = n - keep if n > keep else 0
        k = 0
        if fast is None:
            fast = slow = closes[0]
            k = 1
        while k < tail_from:
            px = closes[k]
            fast += af * (px - fast)
            slow += aslow * (px - slow)
            k += 1
        chart = self.chart
        hist = self._fast_hist
        if tail_from == 0 and k == 1:  # the very first close seeded the EMAs
            hist.append((first_end, fast))
            chart.append((first_end, closes[0], fast, slow))
        while k < n:
            px = closes[k]
            fast += af * (px - fast)
            slow += aslow * (px - slow)
            end = first_end + k * iv
            hist.append((end, fast))
            chart.append((end, px, fast, slow))
            k += 1
        self.ema_fast, self.ema_slow = fast, slow
        self.candles_seen += n
        self._view = None
        self._view_end = first_end + (n - 1) * iv
        self.version += n

    # -- output

    @property
    def ready(self) -> bool:
        return self.candles_seen >= self.slow

    def view(self) -> TrendView:
        v = self._view
        if v is None:
            v = self._view = self._compute(self._view_end)
        return v

    def _compute(self, now_ms: int) -> TrendView:
        fast, slow = self.ema_fast, self.ema_slow
        assert fast is not None and slow is not None
        spread_pct = (fast / slow - 1.0) * 100.0 if slow else 0.0
        slope_pct = 0.0
        target = now_ms - self.slope_lookback_ms
        past = None
        for ts, v in self._fast_hist:  # bounded: lookback / timeframe + 2 items
            if ts <= target:
                past = v
            else:
                break
        if past is None and self._fast_hist:
            past = self._fast_hist[0][1]
        if past:
            slope_pct = (fast / past - 1.0) * 100.0
        ready = self.ready
        thr = self.threshold_pct
        if not ready:
            return TrendView(False, fast, slow, spread_pct, slope_pct, "flat", 0.0)
        state = "up" if spread_pct >= thr else "down" if spread_pct <= -thr else "flat"
        signal = trend_signal(spread_pct, slope_pct, thr)
        return TrendView(True, fast, slow, spread_pct, slope_pct, state, signal)


def trend_signal(spread_pct: float, slope_pct: float, threshold_pct: float) -> float:
    """Half the EMA spread, half the fast-EMA slope, each measured in thresholds and clamped:
    +1 is a clear uptrend that is still rising, -1 the mirror, 0 no trend."""
    s = clamp(spread_pct / threshold_pct)
    k = clamp(slope_pct / threshold_pct)
    return clamp(0.5 * s + 0.5 * k)


def trend_from_emas(ema_fast: float, ema_slow: float, threshold_pct: float, slope_pct: float | None = None) -> TrendView:
    """A trend view from given EMA values (the what-if CLI). Without a slope, the spread alone
    sets the signal."""
    spread_pct = (ema_fast / ema_slow - 1.0) * 100.0
    state = "up" if spread_pct >= threshold_pct else "down" if spread_pct <= -threshold_pct else "flat"
    if slope_pct is None:
        signal = clamp(spread_pct / threshold_pct)
        slope_pct = 0.0
    else:
        signal = trend_signal(spread_pct, slope_pct, threshold_pct)
    return TrendView(True, ema_fast, ema_slow, spread_pct, slope_pct, state, signal)
