"""Market data sources: recorded CSV files and a seeded synthetic market, as columnar tapes.

One idea per module:

    tapes.py      TradeTape / QuoteTape: parallel ``array`` columns, and their replay order
    data.py       MarketData (tapes + what each input contributed), BadRow, MarketDataError
    schemas.py    the CSV layouts we read, recognised by their header
    parse.py      text -> columns: a bulk pass for clean files, a careful one that reports bad rows
    bars.py       one-minute klines -> a 4-trade intrabar path per bar (tick-rule sides)
    load.py       ``load_file`` / ``load_market``, and where the recorded files live
    synthetic.py  SyntheticMarket: seeded GARCH/regime market for running with no files

Import from here (``from core.venues.market import load_market``); the modules are the layout,
not the interface. Nothing here reads the wall clock or sleeps: real-time pacing is the paper
venue's job.
"""

from __future__ import annotations

from core.venues.market.bars import KLINE_OFFSETS_MS, tick_rule_sides
from core.venues.market.data import MAX_BAD_SAMPLES, BadRow, MarketData, MarketDataError, SourceInfo
from core.venues.market.load import (QUOTE_BAR_OFFSET_MS, SHARED_DATA_ENV, default_data_dir, load_file, load_market,
                                     no_trades_reason)
from core.venues.market.schemas import SCHEMAS, detect_schema
from core.venues.market.synthetic import SyntheticMarket
from core.venues.market.tapes import QuoteTape, TradeTape, iter_events, merge_order

__all__ = [
    "BadRow",
    "KLINE_OFFSETS_MS",
    "MAX_BAD_SAMPLES",
    "MarketData",
    "MarketDataError",
    "QUOTE_BAR_OFFSET_MS",
    "QuoteTape",
    "SCHEMAS",
    "SHARED_DATA_ENV",
    "SourceInfo",
    "SyntheticMarket",
    "TradeTape",
    "default_data_dir",
    "detect_schema",
    "iter_events",
    "load_file",
    "load_market",
    "merge_order",
    "no_trades_reason",
    "tick_rule_sides",
]
