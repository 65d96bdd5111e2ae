"""Public market state driven by the test: top of book, trades, candles, linear ticker.

Only one price level per side exists (the test sets it with ``set_book``); that is enough
for maker/taker decisions and keeps every fill predictable. Every mutator returns the
public frames it caused so the hub can push them to subscribers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from .events import PublicPush
from .instruments import SYMBOL
from .numbers import ZERO, dec, fmt

MINUTE_MS = 60_000
KLINE_INTERVALS_MIN = {"1": 1, "3": 3, "5": 5, "15": 15, "30": 30, "60": 60, "120": 120,
                       "240": 240, "360": 360, "720": 720, "D": 1440}
ORDERBOOK_DEPTHS = ("1", "50", "200", "1000")


@dataclass
class Level:
    price: Decimal
    qty: Decimal


@dataclass
class Book:
    """Top of book for one category; ``u``/``seq`` grow on every change like Bybit's."""

    bid: Level | None = None
    ask: Level | None = None
    u: int = 0
    seq: int = 0
    ts: int = 0
    symbol: str = SYMBOL

    def data(self) -> dict:
        return {
            "s": self.symbol,
            "b": [[fmt(self.bid.price), fmt(self.bid.qty)]] if self.bid else [],
            "a": [[fmt(self.ask.price), fmt(self.ask.qty)]] if self.ask else [],
            "u": self.u,
            "seq": self.seq,
        }


@dataclass
class Candle:
    start: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal = ZERO
    turnover: Decimal = ZERO
    confirmed: bool = False

    def ws_item(self, interval_min: int, ts: int) -> dict:
        return {
            "start": self.start,
            "end": self.start + interval_min * MINUTE_MS - 1,
            "interval": str(interval_min),
            "open": fmt(self.open),
            "close": fmt(self.close),
            "high": fmt(self.high),
            "low": fmt(self.low),
            "volume": fmt(self.volume),
            "turnover": fmt(self.turnover),
            "confirm": self.confirmed,
            "timestamp": ts,
        }

    def rest_row(self) -> list[str]:
        return [str(self.start), fmt(self.open), fmt(self.high), fmt(self.low), fmt(self.close),
                fmt(self.volume), fmt(self.turnover)]


@dataclass
class Stats24h:
    """Running session statistics standing in for Bybit's 24 h figures."""

    prev: Decimal | None = None
    high: Decimal | None = None
    low: Decimal | None = None
    volume: Decimal = ZERO
    turnover: Decimal = ZERO

    def add(self, price: Decimal, qty: Decimal) -> None:
        if self.prev is None:
            self.prev = price
        self.high = price if self.high is None else max(self.high, price)
        self.low = price if self.low is None else min(self.low, price)
        self.volume += qty
        self.turnover += qty * price


@dataclass
class LinearTicker:
    mark_price: Decimal = Decimal("50000")
    index_price: Decimal = Decimal("50000")
    funding_rate: Decimal = Decimal("0.0001")
    next_funding_time: int = 0
    open_interest: Decimal = Decimal("50000")


@dataclass
class Market:
    """Books, last prices, candles and the linear ticker; ``clock`` gives server ms."""

    clock: Callable[[], int]
    symbol: str = SYMBOL
    books: dict[str, Book] = field(default_factory=lambda: {"spot": Book(), "linear": Book()})
    last: dict[str, Decimal | None] = field(default_factory=lambda: {"spot": None, "linear": None})
    stats: dict[str, Stats24h] = field(default_factory=lambda: {"spot": Stats24h(), "linear": Stats24h()})
    candles: dict[str, dict[int, Candle]] = field(default_factory=lambda: {"spot": {}, "linear": {}})
    linear: LinearTicker = field(default_factory=LinearTicker)
    _trade_id: int = 1_000_000
    _cs: int = 0

    def __post_init__(self) -> None:
        for book in self.books.values():
            book.symbol = self.symbol

    # ---- book -------------------------------------------------------------------------

    def set_book(self, category: str, bid, bid_qty, ask, ask_qty) -> list[PublicPush]:
        """Replace the top of book; ``None`` (or qty 0) empties a side."""
        book = self.books[category]
        book.bid = _level(bid, bid_qty)
        book.ask = _level(ask, ask_qty)
        if book.bid and book.ask and book.bid.price >= book.ask.price:
            raise ValueError(f"crossed book: bid {book.bid.price} >= ask {book.ask.price}")
        return self._book_changed(category)

    def consume(self, category: str, side: str, qty: Decimal) -> list[PublicPush]:
        """Remove ``qty`` from the ask (side "Buy" = a buyer took it) or the bid."""
        book = self.books[category]
        attr = "ask" if side == "Buy" else "bid"
        level: Level | None = getattr(book, attr)
        if level is None:
            return []
        level.qty -= qty
        if level.qty <= 0:
            setattr(book, attr, None)
        return self._book_changed(category)

    def _book_changed(self, category: str) -> list[PublicPush]:
        book = self.books[category]
        book.u += 1
        book.seq += 1
        book.ts = self.clock()
        pushes = [self.orderbook_frame(category, depth) for depth in ORDERBOOK_DEPTHS]
        if category == "linear":
            pushes.append(self._linear_delta(self._linear_book_fields()))
        return pushes

    def orderbook_frame(self, category: str, depth: str = "1") -> PublicPush:
        book = self.books[category]
        topic = f"orderbook.{depth}.{self.symbol}"
        msg = {"topic": topic, "type": "snapshot", "ts": book.ts or self.clock(),
               "data": book.data(), "cts": book.ts or self.clock()}
        return PublicPush(category, topic, msg)

    # ---- trades and candles -----------------------------------------------------------

    def record_trade(self, category: str, price: Decimal, qty: Decimal, taker_side: str,
                     ts: int | None = None) -> list[PublicPush]:
        """Print a public trade: publicTrade, kline.1 (closing the previous minute), tickers."""
        ts = self.clock() if ts is None else ts
        self._trade_id += 1
        self.last[category] = price
        self.stats[category].add(price, qty)
        item = {"T": ts, "s": self.symbol, "S": taker_side, "v": fmt(qty), "p": fmt(price),
                "i": str(self._trade_id), "BT": False, "RPI": False, "seq": self._trade_id}
        if category == "linear":
            item["L"] = "PlusTick" if taker_side == "Buy" else "MinusTick"
        topic = f"publicTrade.{self.symbol}"
        pushes = [PublicPush(category, topic, {"topic": topic, "type": "snapshot", "ts": ts, "data": [item]})]
        pushes += self._update_candle(category, price, qty, ts)
        if category == "spot":
            pushes.append(self.spot_ticker_frame())
        else:
            pushes.append(self._linear_delta({"lastPrice": fmt(price)}))
        return pushes

    def _update_candle(self, category: str, price: Decimal, qty: Decimal, ts: int) -> list[PublicPush]:
        start = ts - ts % MINUTE_MS
        store = self.candles[category]
        pushes: list[PublicPush] = []
        for older in sorted(s for s, c in store.items() if s < start and not c.confirmed):
            store[older].confirmed = True
            pushes.append(self._kline_frame(category, store[older], ts))
        candle = store.get(start)
        if candle is None:
            candle = store[start] = Candle(start, price, price, price, price)
        candle.high = max(candle.high, price)
        candle.low = min(candle.low, price)
        candle.close = price
        candle.volume += qty
        candle.turnover += qty * price
        pushes.append(self._kline_frame(category, candle, ts))
        return pushes

    def close_candle(self, category: str = "spot") -> list[PublicPush]:
        """Confirm every open candle now (Bybit's ``confirm: true`` closing update)."""
        ts = self.clock()
        pushes = []
        for start in sorted(self.candles[category]):
            candle = self.candles[category][start]
            if not candle.confirmed:
                candle.confirmed = True
                pushes.append(self._kline_frame(category, candle, ts))
        return pushes

    def add_candles(self, category: str, rows) -> None:
        """Seed closed 1-minute candles: rows of (start_ms, open, high, low, close, volume)."""
        for row in rows:
            start, o, h, lo, c, v = row
            start = int(start) - int(start) % MINUTE_MS
            volume = dec(v)
            self.candles[category][start] = Candle(start, dec(o), dec(h), dec(lo), dec(c), volume,
                                                   volume * dec(c), confirmed=True)

    def _kline_frame(self, category: str, candle: Candle, ts: int) -> PublicPush:
        topic = f"kline.1.{self.symbol}"
        return PublicPush(category, topic, {"topic": topic, "type": "snapshot", "ts": ts,
                                            "data": [candle.ws_item(1, ts)]})

    def kline_rows(self, category: str, interval: str, start: int | None, end: int | None,
                   limit: int) -> list[list[str]]:
        """REST kline rows, newest first, aggregated from 1-minute candles."""
        minutes = KLINE_INTERVALS_MIN[interval]
        span = minutes * MINUTE_MS
        buckets: dict[int, Candle] = {}
        for s in sorted(self.candles[category]):
            c = self.candles[category][s]
            b = s - s % span
            agg = buckets.get(b)
            if agg is None:
                buckets[b] = Candle(b, c.open, c.high, c.low, c.close, c.volume, c.turnover)
            else:
                agg.high, agg.low, agg.close = max(agg.high, c.high), min(agg.low, c.low), c.close
                agg.volume += c.volume
                agg.turnover += c.turnover
        rows = [c for b, c in buckets.items()
                if (start is None or b >= start) and (end is None or b <= end)]
        rows.sort(key=lambda c: c.start, reverse=True)
        return [c.rest_row() for c in rows[:limit]]

    # ---- tickers ----------------------------------------------------------------------

    def spot_ticker_frame(self) -> PublicPush:
        ts = self.clock()
        topic = f"tickers.{self.symbol}"
        data = {k: v for k, v in self.ticker_item("spot").items()
                if k not in ("bid1Price", "bid1Size", "ask1Price", "ask1Size")}
        return PublicPush("spot", topic, {"topic": topic, "ts": ts, "type": "snapshot",
                                          "cs": self._next_cs(), "data": data})

    def linear_ticker_snapshot(self) -> PublicPush:
        topic = f"tickers.{self.symbol}"
        return PublicPush("linear", topic, {"topic": topic, "type": "snapshot", "cs": self._next_cs(),
                                            "ts": self.clock(), "data": self.ticker_item("linear")})

    def set_linear(self, *, mark_price=None, index_price=None, funding_rate=None,
                   next_funding_time=None) -> list[PublicPush]:
        """Change linear ticker fields and emit a delta holding only those fields."""
        changed: dict[str, str] = {}
        if mark_price is not None:
            self.linear.mark_price = dec(mark_price)
            changed["markPrice"] = fmt(self.linear.mark_price)
        if index_price is not None:
            self.linear.index_price = dec(index_price)
            changed["indexPrice"] = fmt(self.linear.index_price)
        if funding_rate is not None:
            self.linear.funding_rate = dec(funding_rate)
            changed["fundingRate"] = fmt(self.linear.funding_rate)
        if next_funding_time is not None:
            self.linear.next_funding_time = int(next_funding_time)
            changed["nextFundingTime"] = str(self.linear.next_funding_time)
        return [self._linear_delta(changed)] if changed else []

    def _linear_delta(self, fields: dict[str, str]) -> PublicPush:
        topic = f"tickers.{self.symbol}"
        return PublicPush("linear", topic, {"topic": topic, "type": "delta", "cs": self._next_cs(),
                                            "ts": self.clock(), "data": {"symbol": self.symbol, **fields}})

    def _linear_book_fields(self) -> dict[str, str]:
        item = self.ticker_item("linear")
        return {k: item[k] for k in ("bid1Price", "bid1Size", "ask1Price", "ask1Size")}

    def _next_cs(self) -> int:
        self._cs += 1
        return self._cs

    def next_funding_time(self) -> int:
        if self.linear.next_funding_time:
            return self.linear.next_funding_time
        eight_h = 8 * 3600 * 1000
        now = self.clock()
        return now - now % eight_h + eight_h

    def ticker_item(self, category: str) -> dict:
        """REST ``/v5/market/tickers`` list item (also the base of the WS ticker frames)."""
        book, st = self.books[category], self.stats[category]
        last = self.last[category]
        if last is None:
            last = self._mid(category)
        prev = st.prev if st.prev is not None else last
        pcnt = ((last - prev) / prev).quantize(Decimal("0.0001")) if prev else ZERO
        item = {
            "symbol": self.symbol,
            "bid1Price": fmt(book.bid.price) if book.bid else "",
            "bid1Size": fmt(book.bid.qty) if book.bid else "",
            "ask1Price": fmt(book.ask.price) if book.ask else "",
            "ask1Size": fmt(book.ask.qty) if book.ask else "",
            "lastPrice": fmt(last),
            "prevPrice24h": fmt(prev),
            "price24hPcnt": fmt(pcnt),
            "highPrice24h": fmt(st.high if st.high is not None else last),
            "lowPrice24h": fmt(st.low if st.low is not None else last),
            "turnover24h": fmt(st.turnover),
            "volume24h": fmt(st.volume),
        }
        if category == "spot":
            item["usdIndexPrice"] = fmt(last)
        else:
            lin = self.linear
            item.update({
                "tickDirection": "ZeroPlusTick",
                "indexPrice": fmt(lin.index_price),
                "markPrice": fmt(lin.mark_price),
                "prevPrice1h": fmt(prev),
                "openInterest": fmt(lin.open_interest),
                "openInterestValue": fmt(lin.open_interest * lin.mark_price),
                "fundingRate": fmt(lin.funding_rate),
                "nextFundingTime": str(self.next_funding_time()),
                "fundingIntervalHour": "8",
                "fundingCap": "0.005",
                "predictedDeliveryPrice": "",
                "basisRate": "",
                "deliveryFeeRate": "",
                "deliveryTime": "0",
                "basis": "",
            })
        return item

    def _mid(self, category: str) -> Decimal:
        book = self.books[category]
        if book.bid and book.ask:
            return (book.bid.price + book.ask.price) / 2
        if book.bid or book.ask:
            return (book.bid or book.ask).price
        return self.linear.mark_price

    def reference_price(self, category: str = "spot") -> Decimal:
        """Price used for USD valuations: last trade, else mid, else mark."""
        last = self.last[category]
        return last if last is not None else self._mid(category)

    def initial_frames(self, channel: str, topic: str) -> list[PublicPush]:
        """Frames Bybit sends right after a subscribe ack (book snapshot, ticker snapshot)."""
        parts = topic.split(".")
        if parts[0] == "orderbook":
            return [self.orderbook_frame(channel, parts[1])]
        if parts[0] == "tickers":
            return [self.spot_ticker_frame() if channel == "spot" else self.linear_ticker_snapshot()]
        return []


def _level(price, qty) -> Level | None:
    if price is None or qty is None:
        return None
    q = dec(qty)
    return Level(dec(price), q) if q > 0 else None
