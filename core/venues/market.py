"""Market data sources: recorded CSV files and a seeded synthetic market, as columnar tapes.

Why columnar: a replay of eight months of one-minute bars is ~1.4 M trade events, and the
engine must chew through them at >= 1 M events/s. Building one ``Trade`` object per row while
loading would cost more than the whole replay, so files are parsed column-wise in bulk into
parallel ``array`` columns (``TradeTape``/``QuoteTape``). Code that prefers objects iterates
``MarketData.iter_events()``; the fast replay loop reads the arrays directly.

Bad input is never dropped silently: every rejected row is counted and the first few are kept
as ``BadRow`` samples; ``strict=True`` turns the first one into a ``MarketDataError`` that
names the file, the line, the column and what was expected.

Nothing here reads the wall clock or sleeps: real-time pacing is the paper venue's job.
"""

from __future__ import annotations

import csv
import gzip
import math
import random
import re
import sys
import zlib
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import compress, islice
from operator import gt, le, sub
from os import PathLike, fspath
from pathlib import Path

from core.errors import RebalancerError
from core.model import Quote, Side, Trade
from core.values import value_type

__all__ = [
    "BadRow",
    "MarketData",
    "MarketDataError",
    "QuoteTape",
    "SCHEMAS",
    "SourceInfo",
    "SyntheticMarket",
    "TradeTape",
    "default_data_dir",
    "detect_schema",
    "iter_events",
    "load_file",
    "load_market",
    "merge_order",
]

MAX_BAD_SAMPLES = 20
"""How many rejected rows are kept verbatim (all of them are counted)."""

KLINE_OFFSETS_MS = (0, 20_000, 40_000, 59_999)
"""Where the 4 intrabar trades of a 1-minute bar are placed: open, first extreme, second, close."""

QUOTE_BAR_OFFSET_MS = 59_999
"""A quote bar becomes one quote at the bar's last millisecond (with the bar's close prices),
the same instant as the kline close trade; at equal timestamps quotes replay first."""

_SIDE_OF = (Side.SELL, Side.BUY)  # taker side code -> Side (1 = buy, 0 = sell)
_SIDE_CODE = {
    "buy": 1, "Buy": 1, "BUY": 1, "b": 1, "B": 1,
    "sell": 0, "Sell": 0, "SELL": 0, "s": 0, "S": 0,
}
# the bulk parser marks row ends with a space, so a side in the last column carries one
_FAST_SIDE_CODE = {**_SIDE_CODE, **{k + " ": v for k, v in _SIDE_CODE.items()}}


class MarketDataError(RebalancerError, ValueError):
    """A market data file cannot be used (unknown header, unreadable, or a bad row in strict mode)."""


@value_type
class BadRow:
    """One rejected input row: where it is, why, and its text (for the report)."""

    file: str
    line_no: int
    reason: str
    text: str


# ---------------------------------------------------------------------------------- tapes


class TradeTape:
    """Trades as parallel columns: ``ts_ms`` (q), ``price`` (d), ``qty`` (d), ``side`` (1 buy, 0 sell).

    The columns are public on purpose: the replay loop indexes them directly instead of
    creating a ``Trade`` per event.
    """

    __slots__ = ("ts_ms", "price", "qty", "side", "points_per_bar")

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
        return Trade(self.ts_ms[i], self.price[i], self.qty[i], _SIDE_OF[self.side[i]])

    def __iter__(self) -> Iterator[Trade]:
        return map(Trade, self.ts_ms, self.price, self.qty, map(_SIDE_OF.__getitem__, self.side))

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
        return TradeTape(self.ts_ms[i:j], self.price[i:j], self.qty[i:j], self.side[i:j])

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
        if _is_sorted(out.ts_ms):
            return out
        return out._take(sorted(range(len(out)), key=out.ts_ms.__getitem__))


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
        if _is_sorted(out.ts_ms):
            return out
        return out._take(sorted(range(len(out)), key=out.ts_ms.__getitem__))


def _bounds(ts: array, start_ms: int | None, end_ms: int | None) -> tuple[int, int]:
    i = 0 if start_ms is None else bisect_left(ts, start_ms)
    j = len(ts) if end_ms is None else bisect_left(ts, end_ms)
    return i, max(i, j)


def _is_sorted(ts: array) -> bool:
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


@value_type
class SourceInfo:
    """What one input contributed: its schema, good rows, events produced and rows rejected."""

    path: str
    schema: str
    rows: int
    events: int
    bad_rows: int


@dataclass(slots=True)
class MarketData:
    """A loaded (or generated) market: trades, optional quotes, and the bad-row report."""

    trades: TradeTape = field(default_factory=TradeTape)
    quotes: QuoteTape | None = None
    bad_rows: int = 0
    bad_samples: tuple[BadRow, ...] = ()
    sources: tuple[SourceInfo, ...] = ()

    def __len__(self) -> int:
        return len(self.trades) + (len(self.quotes) if self.quotes is not None else 0)

    @property
    def start_ms(self) -> int | None:
        firsts = [t for t in (self.trades.start_ms, self.quotes.start_ms if self.quotes else None)
                  if t is not None]
        return min(firsts) if firsts else None

    @property
    def end_ms(self) -> int | None:
        lasts = [t for t in (self.trades.end_ms, self.quotes.end_ms if self.quotes else None)
                 if t is not None]
        return max(lasts) if lasts else None

    def iter_events(self) -> Iterator[Trade | Quote]:
        """Every event as a model object, in replay order (quotes first at equal ts)."""
        return iter_events(self.trades, self.quotes)

    def merge_order(self) -> bytes:
        """Replay order for the fast loop: byte ``k`` is 1 if event ``k`` is the next trade, 0 if a quote."""
        return merge_order(self.trades.ts_ms, self.quotes.ts_ms if self.quotes else None)

    def window(self, start_ms: int | None = None, end_ms: int | None = None) -> "MarketData":
        """The events with ``start_ms <= ts < end_ms`` (the bad-row report is kept as is)."""
        return MarketData(
            self.trades.window(start_ms, end_ms),
            self.quotes.window(start_ms, end_ms) if self.quotes is not None else None,
            self.bad_rows, self.bad_samples, self.sources,
        )

    def summary(self) -> dict:
        return {
            "trades": len(self.trades),
            "quotes": len(self.quotes) if self.quotes is not None else 0,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "bad_rows": self.bad_rows,
            "sources": [
                {"path": s.path, "schema": s.schema, "rows": s.rows, "events": s.events,
                 "bad_rows": s.bad_rows}
                for s in self.sources
            ],
        }


# ---------------------------------------------------------------------------------- schemas

# column kinds: what a value must be to be accepted
_TS = "ts"          # integer epoch milliseconds
_TS_S = "ts_s"      # epoch seconds, maybe fractional (Bybit dumps) -> nearest ms
_PRICE = "price"    # finite number > 0
_QTY = "qty"        # finite number >= 0
_SIDE = "side"      # buy / sell

_EXPECT = {
    _TS: "integer epoch milliseconds",
    _TS_S: "epoch seconds (a number)",
    _PRICE: "a number > 0",
    _QTY: "a number >= 0",
    _SIDE: "buy or sell",
}


@value_type
class _Schema:
    name: str
    kind: str                                # "trades" | "klines" | "quotes" | "quote_bars"
    columns: tuple[str, ...]                 # expected header (prefix when extra_ok)
    used: tuple[tuple[int, str], ...]        # (column index, kind) in output order
    extra_ok: bool = False                   # extra trailing columns allowed (and ignored)
    optional_last: bool = False              # the last expected column may be absent
    may_be_descending: bool = False          # published newest-first: reversed before checks
    crossed_check: bool = False              # bid > ask is a bad row
    text_columns: bool = False               # holds words beyond buy/sell (symbol, tick direction)


SCHEMAS: tuple[_Schema, ...] = (
    _Schema("trades", "trades", ("ts_ms", "price", "qty", "side", "trade_id"),
            ((0, _TS), (1, _PRICE), (2, _QTY), (3, _SIDE)), optional_last=True),
    _Schema("klines_1m", "klines", ("ts_ms", "open", "high", "low", "close", "volume"),
            ((0, _TS), (1, _PRICE), (2, _PRICE), (3, _PRICE), (4, _PRICE), (5, _QTY)),
            extra_ok=True),
    _Schema("bbo", "quotes", ("ts_ms", "recv_ts_ms", "bid", "bid_qty", "ask", "ask_qty", "update_id"),
            ((0, _TS), (2, _PRICE), (3, _QTY), (4, _PRICE), (5, _QTY)), crossed_check=True),
    _Schema("quote_bars_1m", "quote_bars",
            ("ts_ms", "bid_open", "bid_high", "bid_low", "bid_close", "last_bid_size",
             "ask_open", "ask_high", "ask_low", "ask_close", "last_ask_size"),
            ((0, _TS), (4, _PRICE), (5, _QTY), (9, _PRICE), (10, _QTY)), crossed_check=True),
    # Bybit derivatives daily dump (public.bybit.com/trading), as published; newer files add RPI.
    _Schema("bybit_dump", "trades",
            ("timestamp", "symbol", "side", "size", "price", "tickdirection", "trdmatchid",
             "grossvalue", "homenotional", "foreignnotional"),
            ((0, _TS_S), (4, _PRICE), (3, _QTY), (2, _SIDE)), extra_ok=True, may_be_descending=True,
            text_columns=True),
    # Bybit spot dump (public.bybit.com/spot): id,timestamp(ms),price,volume,side[,rpi].
    _Schema("bybit_spot_dump", "trades", ("id", "timestamp", "price", "volume", "side"),
            ((1, _TS), (2, _PRICE), (3, _QTY), (4, _SIDE)), extra_ok=True, may_be_descending=True),
)


def _header_names(header: str) -> list[str]:
    return [c.strip().strip('"').lower() for c in header.split(",")]


def detect_schema(header: str, file: str = "<input>") -> _Schema:
    """The schema whose columns the header names; one clear error when none matches."""
    names = _header_names(header)
    for s in SCHEMAS:
        n = len(s.columns)
        if names == list(s.columns):
            return s
        if s.optional_last and names == list(s.columns[:-1]):
            return s
        if s.extra_ok and len(names) > n and names[:n] == list(s.columns):
            return s
    known = "; ".join(
        ",".join(s.columns) + ("[,...]" if s.extra_ok else "") for s in SCHEMAS
    )
    raise MarketDataError(
        f"{file}: unknown CSV header {header.strip()!r}; expected one of: {known}"
    )


# ---------------------------------------------------------------------------------- loading


def _read_text(path: str) -> str:
    """The file's text; gzip is recognised by its magic bytes, whatever the extension."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise MarketDataError(f"{path}: cannot read: {e}") from e
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as e:
            raise MarketDataError(f"{path}: corrupt gzip data: {e}") from e
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("utf-8", errors="replace")  # the damaged rows become bad rows
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


class _Report:
    """Collects rejected rows (count + first samples), or raises at once in strict mode."""

    __slots__ = ("file", "strict", "count", "samples")

    def __init__(self, file: str, strict: bool) -> None:
        self.file = file
        self.strict = strict
        self.count = 0
        self.samples: list[BadRow] = []

    def bad(self, line_no: int, text: str, category: str, where: str | None, expected: str, got: str) -> None:
        at = f", {where}" if where else ""
        if self.strict:
            raise MarketDataError(
                f"{self.file}, line {line_no}{at}: expected {expected}, got {got} ({category})"
            )
        self.count += 1
        if len(self.samples) < MAX_BAD_SAMPLES:
            detail = f"{where}: " if where else ""
            self.samples.append(
                BadRow(self.file, line_no, f"{category}: {detail}expected {expected}, got {got}", text)
            )


_CHUNK_CHARS = 1 << 18
# quoting, digit separators (float() would accept "1_000") and spaces (used as row-end marks)
_FAST_FORBIDDEN = ('"', "_", " ")
# float() also accepts nan/inf/infinity. Files whose only words are buy/sell cannot hold an n
# or an i, so one memchr per chunk rules those out instead of a pass over every column.
_NON_FINITE_LETTERS = ("n", "N", "i", "I")


def _chunks(text: str, start: int) -> Iterator[str]:
    n = len(text)
    pos = start
    while pos < n:
        end = text.find("\n", pos + _CHUNK_CHARS)
        if end < 0:
            end = n
        yield text[pos:end]
        pos = end + 1


def _new_columns(schema: _Schema) -> list:
    cols: list = []
    for _, kind in schema.used:
        if kind in (_TS, _TS_S):
            cols.append(array("q"))
        elif kind == _SIDE:
            cols.append(bytearray())
        else:
            cols.append(array("d"))
    return cols


def _parse_fast(text: str, body_start: int, schema: _Schema, ncols: int) -> list | None:
    """Bulk column parse; None as soon as anything looks off (the careful path then decides).

    Every step is a C-level pass over a chunk (replace, split, slice, map, min), never a
    Python-level loop per row: that is what keeps loading within a small multiple of a plain
    csv.reader pass over the same file.
    """
    cols = _new_columns(schema)
    used = schema.used
    ms = (1000.0).__mul__
    side_code = _FAST_SIDE_CODE.__getitem__
    forbidden = _FAST_FORBIDDEN if schema.text_columns else _FAST_FORBIDDEN + _NON_FINITE_LETTERS
    try:
        for chunk in _chunks(text, body_start):
            if chunk.endswith("\n"):
                chunk = chunk.rstrip("\n")
            if not chunk:
                continue
            for bad in forbidden:
                if bad in chunk:
                    return None
            # Mark each row end with a space (int() and float() ignore it) and split once:
            # the row is aligned iff all the row-end marks sit in the last-column slots.
            nlines = chunk.count("\n") + 1
            flat = chunk.replace("\n", " ,").split(",")
            if len(flat) != nlines * ncols:
                return None
            if nlines > 1 and "".join(flat[ncols - 1::ncols]).count(" ") != nlines - 1:
                return None
            for (idx, kind), out in zip(used, cols):
                col = flat[idx::ncols]
                if kind == _TS:
                    out.extend(map(int, col))
                elif kind == _TS_S:
                    out.extend(map(round, map(ms, map(float, col))))
                elif kind == _SIDE:
                    out.extend(map(side_code, col))
                else:
                    out.extend(map(float, col))
    except (ValueError, KeyError, OverflowError):
        return None
    for (_, kind), col in zip(used, cols):
        if kind not in (_PRICE, _QTY) or not col:
            continue
        if not math.isfinite(sum(col)):  # catches NaN, and overflow to inf ('1e999') too
            return None
        if (min(col) <= 0.0) if kind == _PRICE else (min(col) < 0.0):
            return None
    ts = cols[0]
    if schema.may_be_descending and len(ts) > 1 and ts[0] > ts[-1]:
        for c in cols:
            c.reverse()
    if not _is_sorted(ts):
        return None
    if schema.crossed_check and any(map(gt, cols[1], cols[3])):
        return None
    return cols


def _parse_careful(
    text: str, body_start: int, schema: _Schema, ncols: int, header: str, report: _Report
) -> list:
    """Row-by-row parse that accepts the good rows and reports each bad one with its reason."""
    cols = _new_columns(schema)
    appends = [c.append for c in cols]
    names = _header_names(header)
    body = text[body_start:].split("\n")
    while body and body[-1] == "":
        body.pop()
    numbered = list(enumerate(body, start=2))  # line 1 is the header
    if schema.may_be_descending and _looks_descending(body, schema):
        numbered.reverse()
    used = schema.used
    last_ts: int | None = None
    for line_no, line in numbered:
        if not line:
            fields = []
        elif '"' in line:
            fields = next(csv.reader([line]))
        else:
            fields = line.split(",")
        if len(fields) != ncols:
            report.bad(line_no, line, "wrong column count", None,
                       f"{ncols} columns ({header.strip()})", f"{len(fields)}")
            continue
        values: list = []
        ok = True
        for idx, kind in used:
            raw = fields[idx]
            where = f"column {idx + 1} ({names[idx]})"
            v, category = _convert(raw, kind)
            if category is not None:
                report.bad(line_no, line, category, where, _EXPECT[kind], repr(raw))
                ok = False
                break
            values.append(v)
        if not ok:
            continue
        ts = values[0]
        if last_ts is not None and ts < last_ts:
            report.bad(line_no, line, "timestamp going backwards", f"column {used[0][0] + 1} ({names[used[0][0]]})",
                       f"a timestamp >= {last_ts} (the last accepted row's)", str(ts))
            continue
        if schema.crossed_check and values[1] > values[3]:
            report.bad(line_no, line, "crossed quote", None, "bid <= ask",
                       f"bid {values[1]!r} > ask {values[3]!r}")
            continue
        last_ts = ts
        for app, v in zip(appends, values):
            app(v)
    return cols


def _looks_descending(body: list[str], schema: _Schema) -> bool:
    """Whether a dump lists newest first (decided from its first and last readable rows)."""
    idx, kind = schema.used[0]

    def ts_of(line: str) -> int | None:
        parts = line.split(",")
        if len(parts) <= idx:
            return None
        v, cat = _convert(parts[idx], kind)
        return v if cat is None else None

    first = next((t for t in map(ts_of, body) if t is not None), None)
    last = next((t for t in map(ts_of, reversed(body)) if t is not None), None)
    return first is not None and last is not None and first > last


def _convert(raw: str, kind: str) -> tuple[object, str | None]:
    """(value, None) or (None, bad-row category)."""
    s = raw.strip()
    if kind == _SIDE:
        code = _SIDE_CODE.get(s, _SIDE_CODE.get(s.lower()))
        return (code, None) if code is not None else (None, "unknown side")
    if kind == _TS:
        if "_" in s:
            return None, "non-numeric"
        try:
            return int(s), None
        except ValueError:
            return None, "non-numeric"
    try:
        if "_" in s:
            raise ValueError(s)
        x = float(s)
    except ValueError:
        return None, "non-numeric"
    if not math.isfinite(x):
        return None, "non-numeric"
    if kind == _TS_S:
        return round(x * 1000.0), None
    if kind == _PRICE and x <= 0.0:
        return None, "non-positive price"
    if kind == _QTY and x < 0.0:
        return None, "negative qty"
    return x, None


# ---------------------------------------------------------------------------------- builders

_NOT_TIE = re.compile(rb"[\x00\x01]")


# top byte of a float64 price difference -> 0 down, 1 up, 2 unchanged. For any non-zero
# difference of two prices the biased exponent is far above 16, so its top 7 bits are not all
# zero: top byte 0x00 or 0x80 means exactly +0.0 or -0.0, i.e. an unchanged price.
_DIFF_TOP_TO_CODE = bytes(2 if b & 0x7F == 0 else (0 if b & 0x80 else 1) for b in range(256))


def tick_rule_sides(price: array) -> bytearray:
    """Taker side of each point from the move into it: up = buy (1), down = sell (0).

    An unchanged price keeps the previous side (the tick rule's zero-tick case); the very first
    point is a buy. Vectorised: one C-level ``map`` of differences, the sign and zero read from
    their top bytes, and ties filled by bytes passes; no Python-level loop per point.
    """
    n = len(price)
    if n == 0:
        return bytearray()
    diff = array("d", map(sub, islice(price, 1, None), price)).tobytes()
    top = diff[7::8] if sys.byteorder == "little" else diff[0::8]
    code = b"\x01" + top.translate(_DIFF_TOP_TO_CODE)
    # Most runs of ties are one long: each C-level replace pass fills one tie per run; the
    # rare long runs left (flat maintenance bars) are filled one run at a time.
    for _ in range(3):
        if b"\x02" not in code:
            return bytearray(code)
        code = code.replace(b"\x00\x02", b"\x00\x00").replace(b"\x01\x02", b"\x01\x01")
    out = bytearray(code)
    i = out.find(2)
    while i >= 0:
        m = _NOT_TIE.search(out, i)
        j = m.start() if m else len(out)
        out[i:j] = out[i - 1:i] * (j - i)
        i = out.find(2, j)
    return out


def _spread_with_offsets(ts: array, offsets: tuple[int, ...]) -> array:
    """``[t + offsets[0], t + offsets[1], ... for t in ts]`` for a sorted int64 column, in bulk.

    The repeated column's bytes are read as one big integer and the repeated offsets added to
    it: while no element leaves [0, 2**63) no carry crosses into the next element, so this is
    the element-wise sum, done by C big-integer arithmetic (about 10x faster than a ``map``).
    """
    k = len(offsets)
    n = len(ts)
    out = array("q", [0]) * (k * n)
    for j in range(k):
        out[j::k] = ts
    if not n:
        return out
    if ts[0] < 0 or ts[-1] + max(offsets) >= 1 << 62 or min(offsets) < 0:
        return array("q", map(int.__add__, out, offsets * n))
    order = sys.byteorder
    total = int.from_bytes(out.tobytes(), order) + int.from_bytes(array("q", offsets).tobytes() * n, order)
    result = array("q")
    result.frombytes(total.to_bytes(8 * k * n, order))
    return result


def _expand_klines(ts: array, o: array, h: array, lo: array, c: array, v: array) -> TradeTape:
    """Each 1-minute bar becomes 4 trades: open, then the likely first extreme, the other, close.

    A bar that closes at or above its open most likely went down first (open, low, high, close);
    otherwise up first (open, high, low, close). Times are bar start + 0, 20, 40, 59.999 s;
    each trade carries a quarter of the bar's volume (zero-volume bars keep a zero-qty path:
    they are exchange maintenance, and the price path still exists).
    """
    n = len(ts)
    m = 4 * n
    t4 = _spread_with_offsets(ts, KLINE_OFFSETS_MS)
    # pick (low, high) for up bars and (high, low) for down bars with one C-level compress
    up = bytes(map(le, o, c))  # close >= open
    pairs = array("d", [0.0]) * (2 * n)
    pairs[0::2] = lo
    pairs[1::2] = h
    pick_first = bytearray(2 * n)
    pick_first[0::2] = up
    pick_first[1::2] = up.translate(_FLIP)
    pick_second = pick_first.translate(_FLIP)
    p4 = array("d", [0.0]) * m
    p4[0::4] = o
    p4[1::4] = array("d", compress(pairs, pick_first))
    p4[2::4] = array("d", compress(pairs, pick_second))
    p4[3::4] = c
    q = array("d", map((0.25).__mul__, v))
    q4 = array("d", [0.0]) * m
    for k in range(4):
        q4[k::4] = q
    tape = TradeTape(t4, p4, q4, tick_rule_sides(p4))
    tape.points_per_bar = 4
    return tape


_FLIP = bytes([1, 0]) + bytes(254)  # translate table: 0 <-> 1


def _build(schema: _Schema, cols: list) -> tuple[TradeTape | None, QuoteTape | None]:
    if schema.kind == "trades":
        return TradeTape(cols[0], cols[1], cols[2], cols[3]), None
    if schema.kind == "klines":
        return _expand_klines(*cols), None
    if schema.kind == "quote_bars":
        cols[0] = array("q", map(QUOTE_BAR_OFFSET_MS.__add__, cols[0]))
    return None, QuoteTape(*cols)


def load_file(path: str | PathLike, strict: bool = False) -> MarketData:
    """Load one CSV (plain or gzip, by magic bytes) of any schema in ``SCHEMAS``.

    The header picks the schema: trades (``ts_ms,price,qty,side[,trade_id]``), 1-minute klines
    (expanded to a 4-trade intrabar path), BBO updates, Lean 1-minute quote bars (one quote
    at each bar's last ms), Bybit public trade dumps (seconds -> ms, Buy/Sell). Bad rows are
    counted and sampled, or with ``strict=True`` the first one raises ``MarketDataError``.
    """
    file = fspath(path)
    text = _read_text(file)
    nl = text.find("\n")
    header = text if nl < 0 else text[:nl]
    if not header.strip():
        raise MarketDataError(f"{file}: empty file or missing header (saw {header!r})")
    schema = detect_schema(header, file)
    ncols = len(_header_names(header))
    body_start = len(text) if nl < 0 else nl + 1
    cols = _parse_fast(text, body_start, schema, ncols)
    report = _Report(file, strict)
    if cols is None:
        cols = _parse_careful(text, body_start, schema, ncols, header, report)
    rows = len(cols[0])
    trades, quotes = _build(schema, cols)
    events = len(trades) if trades is not None else len(quotes)  # type: ignore[arg-type]
    return MarketData(
        trades=trades if trades is not None else TradeTape(),
        quotes=quotes,
        bad_rows=report.count,
        bad_samples=tuple(report.samples),
        sources=(SourceInfo(file, schema.name, rows, events, report.count),),
    )


def load_market(paths: str | PathLike | Iterable[str | PathLike], strict: bool = False) -> MarketData:
    """Load several files (e.g. trades + BBO, or consecutive days) merged by timestamp.

    Trades of all files form one tape, quotes another; each is merged stably (at equal ts the
    earlier file first). The replay order between the two is ``merge_order``.
    """
    if isinstance(paths, (str, PathLike)):
        paths = [paths]
    parts = [load_file(p, strict=strict) for p in paths]
    if not parts:
        raise MarketDataError("load_market: no input files given")
    trades = TradeTape.concat([p.trades for p in parts if len(p.trades)])
    quote_parts = [p.quotes for p in parts if p.quotes is not None]
    quotes = QuoteTape.concat(quote_parts) if quote_parts else None
    samples: list[BadRow] = []
    for p in parts:
        samples.extend(p.bad_samples)
    return MarketData(
        trades=trades,
        quotes=quotes,
        bad_rows=sum(p.bad_rows for p in parts),
        bad_samples=tuple(samples[:MAX_BAD_SAMPLES]),
        sources=tuple(s for p in parts for s in p.sources),
    )


# ---------------------------------------------------------------------------------- synthetic

# (name, weight, volatility multiplier, drift in log-price per hour)
_REGIMES: tuple[tuple[str, float, float, float], ...] = (
    ("calm", 0.25, 0.45, 0.0),
    ("normal", 0.30, 1.0, 0.0),
    ("active", 0.18, 1.8, 0.0),
    ("trend_up", 0.11, 1.15, +0.004),
    ("trend_down", 0.11, 1.35, -0.005),
    ("storm", 0.05, 3.2, 0.0),
)
_SECONDS_PER_YEAR = 365.25 * 86400.0


class SyntheticMarket:
    """A seeded, deterministic spot market for running the cockpit with no data files.

    Not a plain random walk: log returns have GARCH(1,1) variance (updated every
    ``garch_step_s`` of simulated time from the realised return, per-second units), and the
    level it reverts to switches between regimes (calm, normal, active,
    trending, storm) lasting ``regime_mean_s`` on average. Events arrive at exponential
    intervals, faster when the market is volatile. Every event moves the fair price and the
    quote (1-3 tick spread on the 0.01 tick, wider when volatile); most also print a trade at
    the touch on the taker's side, whose side leans with the move. Shocks are a scale mixture
    of normals (fat tails); trade and book sizes are Pareto (heavy-tailed).

    ``events()`` and ``tape()`` both replay the same stream from ``start_ms`` with a fresh
    ``random.Random(seed)``, so they agree and can be called any number of times.
    """

    def __init__(
        self,
        seed: int,
        start_ms: int,
        start_price: float = 60000.0,
        *,
        trades_per_s: float = 3.0,
        annual_vol: float = 0.4,
        tick: float = 0.01,
        qty_step: float = 0.000001,
        min_trade_qty: float = 0.0005,
        max_trade_qty: float = 20.0,
        quote_only_prob: float = 0.35,
        regime_mean_s: float = 7200.0,
        garch_step_s: float = 10.0,
        garch_alpha: float = 0.04,
        garch_beta: float = 0.955,
        jump_prob: float = 0.08,
        jump_scale: float = 3.3,
    ) -> None:
        if start_price <= 0 or tick <= 0 or trades_per_s <= 0 or annual_vol <= 0:
            raise ValueError("start_price, tick, trades_per_s and annual_vol must be > 0")
        if not (0 <= quote_only_prob < 1):
            raise ValueError("quote_only_prob must be in [0, 1)")
        if not (0 <= garch_alpha and 0 <= garch_beta and garch_alpha + garch_beta < 1):
            raise ValueError("GARCH needs alpha, beta >= 0 and alpha + beta < 1")
        if not (0 <= jump_prob < 1) or jump_scale < 1:
            raise ValueError("need 0 <= jump_prob < 1 and jump_scale >= 1")
        self.seed = seed
        self.start_ms = int(start_ms)
        self.start_price = float(start_price)
        self.trades_per_s = float(trades_per_s)
        self.annual_vol = float(annual_vol)
        self.tick = float(tick)
        self.qty_step = float(qty_step)
        self.min_trade_qty = float(min_trade_qty)
        self.max_trade_qty = float(max_trade_qty)
        self.quote_only_prob = float(quote_only_prob)
        self.regime_mean_s = float(regime_mean_s)
        self.garch_step_s = float(garch_step_s)
        self.garch_alpha = float(garch_alpha)
        self.garch_beta = float(garch_beta)
        self.jump_prob = float(jump_prob)
        self.jump_scale = float(jump_scale)

    def __repr__(self) -> str:
        return f"SyntheticMarket(seed={self.seed!r}, start_ms={self.start_ms}, start_price={self.start_price})"

    def _raw(self, until_ms: int | None) -> Iterator[tuple]:
        """The stream as tuples: (0, ts, bid, bid_qty, ask, ask_qty) or (1, ts, price, qty, side).

        Everything is local variables in one loop: a simulated day must take seconds.
        """
        rng = random.Random(self.seed)
        rand = rng.random
        gauss = rng.gauss
        log, exp, sqrt, floor, tanh = math.log, math.exp, math.sqrt, math.floor, math.tanh

        # prices and sizes are made as integer steps / steps-per-unit: the division yields the
        # double nearest the decimal (what round() would give), at a fraction of its cost
        px_scale = self._steps_per_unit(self.tick, "tick")
        q_scale = self._steps_per_unit(self.qty_step, "qty_step")
        # heavy-tailed shocks as a scale mixture of normals (cheap, unlike a Student-t draw):
        # with probability jump_prob the shock is jump_scale times wider; unit variance overall
        p_jump = self.jump_prob
        norm = 1.0 / sqrt((1.0 - p_jump) + p_jump * self.jump_scale ** 2)
        calm_sd, jump_sd = norm, norm * self.jump_scale
        v_base = self.annual_vol ** 2 / _SECONDS_PER_YEAR   # per-second variance
        a, b = self.garch_alpha, self.garch_beta
        step_s = self.garch_step_s
        q_only = self.quote_only_prob
        base_rate = self.trades_per_s / (1.0 - q_only)      # steps per second at normal vol
        tq_min = self.min_trade_qty * q_scale                # trade size in qty steps
        tq_max = self.max_trade_qty * q_scale
        bq_min = 0.02 * q_scale                              # touch size in qty steps
        bq_max = 50.0 * q_scale
        inv_a_trade = -1.0 / 1.4                             # Pareto tail index of trade sizes
        inv_a_book = -1.0 / 1.2
        weights = [r[1] for r in _REGIMES]
        mean_regime = self.regime_mean_s
        start_ms = self.start_ms
        limit = until_ms

        def pick_regime(now: float) -> tuple[float, float, float]:
            _, _, mult, drift_h = rng.choices(_REGIMES, weights)[0]
            length = max(600.0, -log(1.0 - rand()) * mean_regime)
            return mult * mult * v_base, drift_h / 3600.0, now + length

        t = 0.0
        log_ret = 0.0                      # log(fair / start_price)
        v_reg, mu, regime_end = pick_regime(0.0)
        h = v_reg
        acc_r = 0.0
        acc_t = 0.0
        last_bid = last_ask = -1.0
        last_ts = start_ms - 1
        p0 = self.start_price
        while True:
            ratio = h / v_base
            boost = sqrt(ratio)            # busier when volatile, within [0.4, 4] x
            rate = base_rate * (4.0 if boost > 4.0 else (0.4 if boost < 0.4 else boost))
            dt = -log(1.0 - rand()) / rate
            t += dt
            ts = start_ms + int(t * 1000.0)
            if ts <= last_ts:
                ts = last_ts + 1           # one step per ms: its quote and trade share a unique ts
            if limit is not None and ts >= limit:
                return
            last_ts = ts
            if t >= regime_end:
                v_reg, mu, regime_end = pick_regime(t)
            z = gauss(0.0, jump_sd if rand() < p_jump else calm_sd)
            r = mu * dt + sqrt(h * dt) * z
            log_ret += r
            acc_r += r
            acc_t += dt
            if acc_t >= step_s:
                # GARCH(1,1) in per-second units, reverting to the regime's variance
                h = (1.0 - a - b) * v_reg + a * (acc_r * acc_r / acc_t) + b * h
                if h > 60.0 * v_reg:
                    h = 60.0 * v_reg
                acc_r = 0.0
                acc_t = 0.0
            u = rand()
            spread = 1 if u * boost < 0.62 else (2 if u < 0.9 else 3)
            bid_t = floor(p0 * exp(log_ret) * px_scale - spread * 0.5)
            bid = bid_t / px_scale
            ask = (bid_t + spread) / px_scale
            if bid != last_bid or ask != last_ask or rand() < 0.5:
                # a touch price moved, or (half the time) only the sizes at the touch changed
                last_bid = bid
                last_ask = ask
                bq = bq_min * (1.0 - rand()) ** inv_a_book
                aq = bq_min * (1.0 - rand()) ** inv_a_book
                yield (0, ts, bid, int(bq if bq < bq_max else bq_max) / q_scale,
                       ask, int(aq if aq < bq_max else bq_max) / q_scale)
            if rand() < q_only:
                continue
            tq = tq_min * (1.0 - rand()) ** inv_a_trade
            qty = int(tq if tq < tq_max else tq_max) / q_scale
            # the taker leans with the move: up-moves are mostly buyers lifting the ask
            if rand() < 0.5 + 0.4 * tanh(z):
                yield (1, ts, ask, qty, 1)
            else:
                yield (1, ts, bid, qty, 0)

    @staticmethod
    def _steps_per_unit(step: float, name: str) -> int:
        n = round(1.0 / step)
        if n < 1 or abs(n * step - 1.0) > 1e-9:
            raise ValueError(f"{name} {step} must divide 1 (like 0.01 or 0.000001)")
        return n

    def events(self, until_ms: int | None = None) -> Iterator[Trade | Quote]:
        """Trades and quotes with ``ts < until_ms`` (unbounded when None), lazily, in order."""
        for ev in self._raw(until_ms):
            if ev[0]:
                yield Trade(ev[1], ev[2], ev[3], _SIDE_OF[ev[4]])
            else:
                yield Quote(ev[1], ev[2], ev[3], ev[4], ev[5])

    def tape(self, duration_ms: int) -> MarketData:
        """The first ``duration_ms`` of the stream as columnar tapes (same events as ``events()``)."""
        trades = TradeTape()
        quotes = QuoteTape()
        t_ts, t_p, t_q, t_s = trades.ts_ms.append, trades.price.append, trades.qty.append, trades.side.append
        q_ts, q_b, q_bq, q_a, q_aq = (quotes.ts_ms.append, quotes.bid.append, quotes.bid_qty.append,
                                      quotes.ask.append, quotes.ask_qty.append)
        for ev in self._raw(self.start_ms + int(duration_ms)):
            if ev[0]:
                t_ts(ev[1])
                t_p(ev[2])
                t_q(ev[3])
                t_s(ev[4])
            else:
                q_ts(ev[1])
                q_b(ev[2])
                q_bq(ev[3])
                q_a(ev[4])
                q_aq(ev[5])
        name = f"synthetic:seed={self.seed}"
        return MarketData(
            trades=trades,
            quotes=quotes,
            sources=(SourceInfo(name, "synthetic", len(trades) + len(quotes), len(trades) + len(quotes), 0),),
        )


def default_data_dir() -> Path:
    """``../shared/data`` next to the repository (where the recorded files live)."""
    return Path(__file__).resolve().parents[3] / "shared" / "data"
