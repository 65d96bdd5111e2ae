"""The CSV layouts we read, each recognised by its header, and what each column must hold."""

from __future__ import annotations

from core.values import value_type
from core.venues.market.data import MarketDataError

# column kinds: what a value must be to be accepted
TS = "ts"          # integer epoch milliseconds
TS_S = "ts_s"      # epoch seconds, maybe fractional (Bybit dumps) -> nearest ms
PRICE = "price"    # finite number > 0
QTY = "qty"        # finite number >= 0
SIDE = "side"      # buy / sell

# plausible ranges: anything outside is a broken number, not market data
MIN_TS_MS = 1_230_768_000_000  # 2009-01-01
MAX_TS_MS = 4_102_444_800_000  # 2100-01-01
MIN_PRICE = 1e-8
MAX_PRICE = 1e9
MAX_QTY = 1e9

EXPECT = {
    TS: "integer epoch milliseconds (2009 .. 2100)",
    TS_S: "epoch seconds (a number, 2009 .. 2100)",
    PRICE: f"a number from {MIN_PRICE:g} to {MAX_PRICE:g}",
    QTY: f"a number from 0 to {MAX_QTY:g}",
    SIDE: "buy or sell",
}


@value_type
class Schema:
    name: str
    kind: str                                # "trades" | "klines" | "quotes" | "quote_bars"
    columns: tuple[str, ...]                 # expected header (prefix when extra_ok)
    used: tuple[tuple[int, str], ...]        # (column index, kind) in output order
    extra_ok: bool = False                   # extra trailing columns allowed (and ignored)
    optional_last: bool = False              # the last expected column may be absent
    may_be_descending: bool = False          # published newest-first: reversed before checks
    crossed_check: bool = False              # bid > ask is a bad row
    text_columns: bool = False               # holds words beyond buy/sell (symbol, tick direction)
    bar: tuple[int, int, int, int] | None = None  # output positions of open, high, low, close


SCHEMAS: tuple[Schema, ...] = (
    Schema("trades", "trades", ("ts_ms", "price", "qty", "side", "trade_id"),
            ((0, TS), (1, PRICE), (2, QTY), (3, SIDE)), optional_last=True),
    Schema("klines_1m", "klines", ("ts_ms", "open", "high", "low", "close", "volume"),
            ((0, TS), (1, PRICE), (2, PRICE), (3, PRICE), (4, PRICE), (5, QTY)),
            extra_ok=True, bar=(1, 2, 3, 4)),
    Schema("bbo", "quotes", ("ts_ms", "recv_ts_ms", "bid", "bid_qty", "ask", "ask_qty", "update_id"),
            ((0, TS), (2, PRICE), (3, QTY), (4, PRICE), (5, QTY)), crossed_check=True),
    Schema("quote_bars_1m", "quote_bars",
            ("ts_ms", "bid_open", "bid_high", "bid_low", "bid_close", "last_bid_size",
             "ask_open", "ask_high", "ask_low", "ask_close", "last_ask_size"),
            ((0, TS), (4, PRICE), (5, QTY), (9, PRICE), (10, QTY)), crossed_check=True),
    # Bybit derivatives daily dump (public.bybit.com/trading), as published; newer files add RPI.
    Schema("bybit_dump", "trades",
            ("timestamp", "symbol", "side", "size", "price", "tickdirection", "trdmatchid",
             "grossvalue", "homenotional", "foreignnotional"),
            ((0, TS_S), (4, PRICE), (3, QTY), (2, SIDE)), extra_ok=True, may_be_descending=True,
            text_columns=True),
    # Bybit spot dump (public.bybit.com/spot): id,timestamp(ms),price,volume,side[,rpi].
    Schema("bybit_spot_dump", "trades", ("id", "timestamp", "price", "volume", "side"),
            ((1, TS), (2, PRICE), (3, QTY), (4, SIDE)), extra_ok=True, may_be_descending=True),
)


def header_names(header: str) -> list[str]:
    return [c.strip().strip('"').lower() for c in header.split(",")]


def detect_schema(header: str, file: str = "<input>") -> Schema:
    """The schema whose columns the header names; one clear error when none matches."""
    names = header_names(header)
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
