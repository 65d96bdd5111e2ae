"""Trades and quotes as parallel columns (``TradeTape`` / ``QuoteTape``) and their replay order.

Why columnar: a replay of eight months of one-minute bars is ~1.4 M trade events, and the
engine must chew through them at >= 1 M events/s. Building one ``Trade`` object per row while
loading would cost more than the whole replay, so the loaders fill ``array`` columns in bulk;
the fast replay loop reads them directly and code that prefers objects iterates them.
"""

from __future__ import annotations

import sys
from array import array
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from itertools import islice
from operator import le

from core.model import Quote, Side, Trade

SIDE_OF = (Side.SELL, Side.BUY)  # taker side code -> Side (1 = buy, 0 = sell)


class TradeTape:
    """Trades as parallel columns: ``ts_ms`` (q), ``price`` (d), ``qty`` (d), ``side`` (1 buy, 0 sell).

    The columns are public on purpose: the replay loop indexes them directly instead of
    creating a ``Trade`` per event.
    """

    __slots__ = ("ts_ms", "price", "qty", "side", "points_per_bar", "from_bars")

    def __init__(
        self,
        ts_ms: array | None = None,
        price: array | None = None,
        qty: array | None = None,
        side: bytearray | None = None,
    ) -> None:
        # set when the tape is bars expanded to this many prints each (klines: 4); a hint the
        # replay verifies from the columns before it uses it
        self.points_per_bar: int | None = None
        # every print stands for part of a 1-minute bar (klines): the fill model's bar rules.
        # Unlike the hint above, windows and merges of such tapes keep it
        self.from_bars = False
        self.ts_ms = ts_ms if ts_ms is not None else array("q")
        self.price = price if price is not None else array("d")
        self.qty = qty if qty is not None else array("d")
        self.side = side if side is not None else bytearray()
        n = len(self.ts_ms)
        if not (len(self.price) == len(self.qty) == len(self.side) == n):
            raise ValueError("TradeTape columns must have the same length")

    def __len__(self) -> int:
        return len(self.ts_ms)

    def __getitem__(self, i: int) -> Trade:
        return Trade(self.ts_ms[i], self.price[i], self.qty[i], SIDE_OF[self.side[i]])

    def __iter__(self) -> Iterator[Trade]:
        return map(Trade, self.ts_ms, self.price, self.qty, map(SIDE_OF.__getitem__, self.side))

    def __repr__(self) -> str:
        return f"TradeTape({len(self)} trades, {self.start_ms}..{self.end_ms})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TradeTape):
            return NotImplemented
        return (
            self.ts_ms == other.ts_ms and self.price == other.price
            and self.qty == other.qty and self.side == other.side
        )

    __hash__ = None  # type: ignore[assignment]  # mutable container

    @property
    def start_ms(self) -> int | None:
        return self.ts_ms[0] if self.ts_ms else None

    @property
    def end_ms(self) -> int | None:
        return self.ts_ms[-1] if self.ts_ms else None

    def append(self, ts_ms: int, price: float, qty: float, side: int) -> None:
        self.ts_ms.append(ts_ms)
        self.price.append(price)
        self.qty.append(qty)
        self.side.append(side)

    def window(self, start_ms: int | None = None, end_ms: int | None = None) -> "TradeTape":
        """Trades with ``start_ms <= ts < end_ms`` (a copy; bisect, so cheap)."""
        i, j = _bounds(self.ts_ms, start_ms, end_ms)
        out = TradeTape(self.ts_ms[i:j], self.price[i:j], self.qty[i:j], self.side[i:j])
        out.from_bars = self.from_bars
        return out

    def _take(self, order: Sequence[int]) -> "TradeTape":
        return TradeTape(
            array("q", map(self.ts_ms.__getitem__, order)),
            array("d", map(self.price.__getitem__, order)),
            array("d", map(self.qty.__getitem__, order)),
            bytearray(map(self.side.__getitem__, order)),
        )

    @classmethod
    def concat(cls, tapes: Sequence["TradeTape"]) -> "TradeTape":
        """Merge tapes by timestamp; stable, so at equal ts earlier tapes come first."""
        if not tapes:
            return cls()
        if len(tapes) == 1:
            return tapes[0]
        out = cls()
        for t in tapes:
            out.ts_ms.extend(t.ts_ms)
            out.price.extend(t.price)
            out.qty.extend(t.qty)
            out.side.extend(t.side)
        if not is_sorted(out.ts_ms):
            out = out._take(sorted(range(len(out)), key=out.ts_ms.__getitem__))
        out.from_bars = all(t.from_bars for t in tapes)
        return out


class QuoteTape:
    """Best bid/offer updates as parallel columns (``ts_ms``, ``bid``, ``bid_qty``, ``ask``, ``ask_qty``)."""

    __slots__ = ("ts_ms", "bid", "bid_qty", "ask", "ask_qty")

    def __init__(
        self,
        ts_ms: array | None = None,
        bid: array | None = None,
        bid_qty: array | None = None,
        ask: array | None = None,
        ask_qty: array | None = None,
    ) -> None:
        self.ts_ms = ts_ms if ts_ms is not None else array("q")
        self.bid = bid if bid is not None else array("d")
        self.bid_qty = bid_qty if bid_qty is not None else array("d")
        self.ask = ask if ask is not None else array("d")
        self.ask_qty = ask_qty if ask_qty is not None else array("d")
        n = len(self.ts_ms)
        if not (len(self.bid) == len(self.bid_qty) == len(self.ask) == len(self.ask_qty) == n):
            raise ValueError("QuoteTape columns must have the same length")

    def __len__(self) -> int:
        return len(self.ts_ms)

    def __getitem__(self, i: int) -> Quote:
        return Quote(self.ts_ms[i], self.bid[i], self.bid_qty[i], self.ask[i], self.ask_qty[i])

    def __iter__(self) -> Iterator[Quote]:
        return map(Quote, self.ts_ms, self.bid, self.bid_qty, self.ask, self.ask_qty)

    def __repr__(self) -> str:
        return f"QuoteTape({len(self)} quotes, {self.start_ms}..{self.end_ms})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, QuoteTape):
            return NotImplemented
        return (
            self.ts_ms == other.ts_ms and self.bid == other.bid and self.bid_qty == other.bid_qty
            and self.ask == other.ask and self.ask_qty == other.ask_qty
        )

    __hash__ = None  # type: ignore[assignment]

    @property
    def start_ms(self) -> int | None:
        return self.ts_ms[0] if self.ts_ms else None

    @property
    def end_ms(self) -> int | None:
        return self.ts_ms[-1] if self.ts_ms else None

    def append(self, ts_ms: int, bid: float, bid_qty: float, ask: float, ask_qty: float) -> None:
        self.ts_ms.append(ts_ms)
        self.bid.append(bid)
        self.bid_qty.append(bid_qty)
        self.ask.append(ask)
        self.ask_qty.append(ask_qty)

    def window(self, start_ms: int | None = None, end_ms: int | None = None) -> "QuoteTape":
        i, j = _bounds(self.ts_ms, start_ms, end_ms)
        return QuoteTape(
            self.ts_ms[i:j], self.bid[i:j], self.bid_qty[i:j], self.ask[i:j], self.ask_qty[i:j]
        )

    def _take(self, order: Sequence[int]) -> "QuoteTape":
        return QuoteTape(*(array(col.typecode, map(col.__getitem__, order)) for col in (
            self.ts_ms, self.bid, self.bid_qty, self.ask, self.ask_qty)))

    @classmethod
    def concat(cls, tapes: Sequence["QuoteTape"]) -> "QuoteTape":
        if not tapes:
            return cls()
        if len(tapes) == 1:
            return tapes[0]
        out = cls()
        for t in tapes:
            out.ts_ms.extend(t.ts_ms)
            out.bid.extend(t.bid)
            out.bid_qty.extend(t.bid_qty)
            out.ask.extend(t.ask)
            out.ask_qty.extend(t.ask_qty)
        if is_sorted(out.ts_ms):
            return out
        return out._take(sorted(range(len(out)), key=out.ts_ms.__getitem__))


def _bounds(ts: array, start_ms: int | None, end_ms: int | None) -> tuple[int, int]:
    i = 0 if start_ms is None else bisect_left(ts, start_ms)
    j = len(ts) if end_ms is None else bisect_left(ts, end_ms)
    return i, max(i, j)


def is_sorted(ts: array) -> bool:
    """Whether an int64 column never decreases.

    Done as one big-integer subtraction of the column from itself shifted by one element: for
    values in [0, 2**62), if every step is >= 0 no borrow crosses an element, and a negative
    step always leaves the top bit of its element set. So: sorted iff no element's top byte
    of the difference is >= 0x80. Range and answer are read from the top bytes alone.
    """
    n = len(ts)
    if n < 2:
        return True
    raw = ts.tobytes()
    top_of = (lambda b: b[7::8]) if sys.byteorder == "little" else (lambda b: b[0::8])
    if n < 4096 or max(top_of(raw)) >= 0x40:
        return all(map(le, ts, islice(ts, 1, None)))
    order = sys.byteorder
    diff = int.from_bytes(raw[8:], order) - int.from_bytes(raw[:-8], order)
    if diff < 0:
        return False
    return max(top_of(diff.to_bytes(len(raw) - 8, order))) < 0x80


def merge_order(trade_ts: array, quote_ts: array | None) -> bytes:
    """Replay order of two sorted timestamp columns: one byte per event, 1 = next trade, 0 = next quote.

    At equal timestamps quotes come first (the book is updated before a trade prints at it).
    Built with one C-level sort of ``2*ts + kind`` keys: timsort merges the two sorted runs
    in linear time, so this stays cheap for millions of events.
    """
    if not quote_ts:
        return b"\x01" * len(trade_ts)
    if not trade_ts:
        return b"\x00" * len(quote_ts)
    keys = array("q", map((2).__mul__, quote_ts))
    keys.extend(map((1).__add__, map((2).__mul__, trade_ts)))
    return bytes(map((1).__and__, sorted(keys)))


def iter_events(trades: TradeTape, quotes: QuoteTape | None = None) -> Iterator[Trade | Quote]:
    """Model objects in replay order (quotes before trades at equal ts)."""
    if not quotes:
        yield from trades
        return
    t_next = iter(trades).__next__
    q_next = iter(quotes).__next__
    for kind in merge_order(trades.ts_ms, quotes.ts_ms):
        yield t_next() if kind else q_next()
