"""What loading (or generating) a market gives: the tapes, and an account of the input.

Bad input is never dropped silently: every rejected row is counted and the first few are kept
as ``BadRow`` samples; in strict mode the first one raises a ``MarketDataError`` that names the
file, the line, the column and what was expected.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from core.errors import RebalancerError
from core.model import Quote, Trade
from core.values import value_type
from core.venues.market.tapes import QuoteTape, TradeTape, iter_events, merge_order

MAX_BAD_SAMPLES = 20
"""How many rejected rows are kept verbatim (all of them are counted)."""


class MarketDataError(RebalancerError, ValueError):
    """A market data file cannot be used (unknown header, unreadable, or a bad row in strict mode)."""


@value_type
class BadRow:
    """One rejected input row: where it is, why, and its text (for the report)."""

    file: str
    line_no: int
    reason: str
    text: str



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
