"""Load recorded market files (any schema in ``SCHEMAS``) into one ``MarketData``."""

from __future__ import annotations

import os
from array import array
from collections.abc import Iterable
from os import PathLike, fspath
from pathlib import Path

from core.figures import iso_utc
from core.venues.market.bars import expand_klines
from core.venues.market.data import MAX_BAD_SAMPLES, BadRow, MarketData, MarketDataError, SourceInfo
from core.venues.market.parse import BadRowReport, check_time_unit, parse_careful, parse_fast, read_text
from core.venues.market.schemas import SCHEMAS, Schema, detect_schema, header_names
from core.venues.market.tapes import QuoteTape, TradeTape

QUOTE_BAR_OFFSET_MS = 59_999
"""A quote bar becomes one quote at the bar's last millisecond (with the bar's close prices),
the same instant as the kline close trade; at equal timestamps quotes replay first."""


def _build(schema: Schema, cols: list) -> tuple[TradeTape | None, QuoteTape | None]:
    if schema.kind == "trades":
        return TradeTape(cols[0], cols[1], cols[2], cols[3]), None
    if schema.kind == "klines":
        return expand_klines(*cols), None
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
    text = read_text(file)
    nl = text.find("\n")
    header = text if nl < 0 else text[:nl]
    if not header.strip():
        raise MarketDataError(f"{file}: empty file or missing header (saw {header!r})")
    schema = detect_schema(header, file)
    ncols = len(header_names(header))
    body_start = len(text) if nl < 0 else nl + 1
    check_time_unit(text, body_start, schema, file)
    cols = parse_fast(text, body_start, schema, ncols)
    report = BadRowReport(file, strict)
    if cols is None:
        cols = parse_careful(text, body_start, schema, ncols, header, report)
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
    paths = list(paths)
    _refuse_a_file_twice(paths)
    parts = [load_file(p, strict=strict) for p in paths]
    if not parts:
        raise MarketDataError("load_market: no input files given")
    trades = TradeTape.concat([p.trades for p in parts if len(p.trades)])
    quote_parts = [p.quotes for p in parts if p.quotes is not None]
    quotes = QuoteTape.concat(quote_parts) if quote_parts else None
    if quotes is not None and len(quotes) and len(trades) and (quotes.ts_ms[-1] < trades.ts_ms[0]
                                                                  or quotes.ts_ms[0] > trades.ts_ms[-1]):
        raise MarketDataError(f"{', '.join(map(fspath, paths))}: the quotes ({_span(quotes.ts_ms)}) and the trades "
                              f"({_span(trades.ts_ms)}) cover different periods: give the quotes of the trades' period")
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


SHARED_DATA_ENV = "REBALANCER_SHARED_DATA"
"""Environment variable that points at the recorded files when they are not in ``../shared/data``."""


def default_data_dir() -> Path:
    """Where the recorded files live: ``$REBALANCER_SHARED_DATA`` when set, else ``../shared/data``
    next to the repository. It may not exist (a fresh clone has no recorded data)."""
    override = os.environ.get(SHARED_DATA_ENV)
    if override:
        return Path(override).expanduser()
    return Path(__file__).resolve().parents[4] / "shared" / "data"


def _refuse_a_file_twice(paths: list) -> None:
    """The same file twice would replay every event twice (twice the grid's fills)."""
    seen: dict[str, str] = {}
    for p in paths:
        try:
            key = os.path.realpath(fspath(p))
        except (TypeError, ValueError):
            continue
        if key in seen:
            same = "given twice" if seen[key] == fspath(p) else f"the same file as {seen[key]}"
            raise MarketDataError(f"{fspath(p)}: {same}: give each file once (twice, every event would be replayed twice)")
        seen[key] = fspath(p)


def _span(ts: array) -> str:
    return f"{iso_utc(ts[0])} .. {iso_utc(ts[-1])}"


def no_trades_reason(market: MarketData) -> str:
    """"no trades to replay", and why, file by file: "no trades" alone did not say which
    input was empty or held quotes only."""
    quote_schemas = {s.name for s in SCHEMAS if s.kind in ("quotes", "quote_bars")}
    why = []
    for src in market.sources:
        if src.schema in quote_schemas and src.rows:
            why.append(f"{src.path} holds quotes only ({src.schema}): give a trades or klines file too")
        elif not src.rows:
            why.append(f"{src.path} has no data rows" if not src.bad_rows else
                       f"{src.path} has no good rows ({src.bad_rows} bad)")
    return "no trades to replay" + (": " + "; ".join(why) if why else "")
