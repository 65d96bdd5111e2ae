"""CSV text -> columns: a bulk pass for clean files, a careful row-by-row pass for the rest.

The bulk pass (``parse_fast``) gives up at the first thing that looks off; the careful pass
(``parse_careful``) then accepts the good rows and reports each bad one with its reason.
"""

from __future__ import annotations

import csv
import gzip
import math
import zlib
from array import array
from collections.abc import Iterator
from itertools import islice
from operator import eq, gt, le

from core.venues.market.data import MAX_BAD_SAMPLES, BadRow, MarketDataError
from core.venues.market.schemas import (
    EXPECT, MAX_PRICE, MAX_QTY, MAX_TS_MS, MIN_PRICE, MIN_TS_MS, PRICE, QTY, SIDE, TS, TS_S, Schema, header_names,
)
from core.venues.market.tapes import is_sorted

_SIDE_CODE = {
    "buy": 1, "Buy": 1, "BUY": 1, "b": 1, "B": 1,
    "sell": 0, "Sell": 0, "SELL": 0, "s": 0, "S": 0,
}
# the bulk parser marks row ends with a space, so a side in the last column carries one
_FAST_SIDE_CODE = {**_SIDE_CODE, **{k + " ": v for k, v in _SIDE_CODE.items()}}


def read_text(path: str) -> str:
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


class BadRowReport:
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


def _new_columns(schema: Schema) -> list:
    cols: list = []
    for _, kind in schema.used:
        if kind in (TS, TS_S):
            cols.append(array("q"))
        elif kind == SIDE:
            cols.append(bytearray())
        else:
            cols.append(array("d"))
    return cols


def parse_fast(text: str, body_start: int, schema: Schema, ncols: int) -> list | None:
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
                if kind == TS:
                    out.extend(map(int, col))
                elif kind == TS_S:
                    out.extend(map(round, map(ms, map(float, col))))
                elif kind == SIDE:
                    out.extend(map(side_code, col))
                else:
                    out.extend(map(float, col))
    except (ValueError, KeyError, OverflowError):
        return None
    for (_, kind), col in zip(used, cols):
        if not col:
            continue
        if kind in (TS, TS_S):
            if min(col) < MIN_TS_MS or max(col) > MAX_TS_MS:
                return None
            continue
        if kind not in (PRICE, QTY):
            continue
        if not math.isfinite(sum(col)):  # catches NaN, and overflow to inf ('1e999') too
            return None
        if (min(col) < MIN_PRICE or max(col) > MAX_PRICE) if kind == PRICE else (min(col) < 0.0 or max(col) > MAX_QTY):
            return None
    if schema.bar is not None and not _bars_in_order(*(cols[i] for i in schema.bar)):
        return None
    ts = cols[0]
    if schema.may_be_descending and len(ts) > 1 and ts[0] > ts[-1]:
        for c in cols:
            c.reverse()
    if not is_sorted(ts):
        return None
    if schema.kind in BAR_KINDS and any(map(eq, ts, islice(ts, 1, None))):
        return None  # a minute twice: the careful parse names the rows
    if schema.crossed_check and any(map(gt, cols[1], cols[3])):
        return None
    return cols


BAR_KINDS = frozenset({"klines", "quote_bars"})  # one row a minute: a second row for a minute is a bad row


def parse_careful(
    text: str, body_start: int, schema: Schema, ncols: int, header: str, report: BadRowReport
) -> list:
    """Row-by-row parse that accepts the good rows and reports each bad one with its reason."""
    cols = _new_columns(schema)
    appends = [c.append for c in cols]
    names = header_names(header)
    body = text[body_start:].split("\n")
    while body and body[-1] == "":
        body.pop()
    numbered = list(enumerate(body, start=2))  # line 1 is the header
    if schema.may_be_descending and _looks_descending(body, schema):
        numbered.reverse()
    used = schema.used
    one_per_ts = schema.kind in BAR_KINDS
    last_ts: int | None = None
    backwards: list[int] = []
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
                report.bad(line_no, line, category, where, EXPECT[kind], repr(raw))
                ok = False
                break
            values.append(v)
        if not ok:
            continue
        ts = values[0]
        if last_ts is not None and ts < last_ts:
            backwards.append(line_no)
            report.bad(line_no, line, "timestamp going backwards", f"column {used[0][0] + 1} ({names[used[0][0]]})",
                       f"a timestamp >= {last_ts} (the last accepted row's)", str(ts))
            continue
        if ts == last_ts and one_per_ts:
            report.bad(line_no, line, "duplicate bar", f"column {used[0][0] + 1} ({names[used[0][0]]})",
                       f"one bar a minute: the minute {ts} is already in the file", str(ts))
            continue
        if schema.crossed_check and values[1] > values[3]:
            report.bad(line_no, line, "crossed quote", None, "bid <= ask",
                       f"bid {values[1]!r} > ask {values[3]!r}")
            continue
        if schema.bar is not None:
            o, h, lo, c = (values[i] for i in schema.bar)
            if not (lo <= o <= h and lo <= c <= h):
                report.bad(line_no, line, "bar out of order", None, "low <= open, close <= high",
                           f"open {o!r} high {h!r} low {lo!r} close {c!r}")
                continue
        last_ts = ts
        for app, v in zip(appends, values):
            app(v)
    if len(backwards) > max(1, len(cols[0]) // 100):
        raise MarketDataError(f"{report.file}: not in time order: {len(backwards)} rows go back in time (first at "
                              f"line {backwards[0]}); sort the file by its timestamp column")
    return cols


def check_time_unit(text: str, body_start: int, schema: Schema, file: str) -> None:
    """Refuse a file whose timestamps are in another unit than its schema says (seconds or
    microseconds in a ``ts_ms`` column, milliseconds in a seconds column): read as they are,
    40 minutes of data would become 2.4 s, or a year of it four centuries."""
    idx, kind = schema.used[0]
    seen = []
    for line in text[body_start:body_start + 20_000].split("\n")[:50]:
        parts = line.split(",")
        try:
            seen.append(float(parts[idx]))
        except (IndexError, ValueError):
            continue
    if not seen:
        return
    raw = sorted(seen)[len(seen) // 2]
    declared = "seconds" if kind == TS_S else "milliseconds"
    units = {"seconds": 1e3, "milliseconds": 1.0, "microseconds": 1e-3, "nanoseconds": 1e-6}
    if MIN_TS_MS <= raw * units[declared] <= MAX_TS_MS:
        return
    for unit, ms_each in units.items():
        if MIN_TS_MS <= raw * ms_each <= MAX_TS_MS:
            raise MarketDataError(f"{file}: timestamps look like {unit} (e.g. {raw:.0f}), but this layout's "
                                  f"are in {declared}: convert the column to {declared}")


def _bars_in_order(o, h, lo, c) -> bool:
    return (all(map(le, lo, o)) and all(map(le, o, h)) and all(map(le, lo, c)) and all(map(le, c, h)))


def _looks_descending(body: list[str], schema: Schema) -> bool:
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
    if kind == SIDE:
        code = _SIDE_CODE.get(s, _SIDE_CODE.get(s.lower()))
        return (code, None) if code is not None else (None, "unknown side")
    if kind == TS:
        if "_" in s:
            return None, "non-numeric"
        try:
            t = int(s)
        except ValueError:
            return None, "non-numeric"
        return (t, None) if MIN_TS_MS <= t <= MAX_TS_MS else (None, "timestamp out of range")
    try:
        if "_" in s:
            raise ValueError(s)
        x = float(s)
    except ValueError:
        return None, "non-numeric"
    if not math.isfinite(x):
        return None, "non-numeric"
    if kind == TS_S:
        t = round(x * 1000.0)
        return (t, None) if MIN_TS_MS <= t <= MAX_TS_MS else (None, "timestamp out of range")
    if kind == PRICE:
        if x <= 0.0:
            return None, "non-positive price"
        if not MIN_PRICE <= x <= MAX_PRICE:
            return None, "price out of range"
    if kind == QTY:
        if x < 0.0:
            return None, "negative qty"
        if x > MAX_QTY:
            return None, "qty out of range"
    return x, None
