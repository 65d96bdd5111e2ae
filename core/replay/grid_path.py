"""The simulated grid's path over one tape, recorded once and replayed by every config of a sweep.

Why: the grid bot's fills depend on the market and the grid config only. The rebalancer trades
spot; the grid sits on the linear leg and sees nothing but prices, so no order of ours can move
it. A sweep replays the same tape with the same grid a hundred times; each replay used to run
``GridBot.on_price`` / ``_cross`` / ``_fill`` (Decimal position arithmetic and a ``Fill`` per
level crossed) on every print the exchange could not prove quiet. ``record_grid`` runs the
grid once over every print, exactly as ``build_paper`` starts it, and keeps each batch of fills
with the band the grid is in after it; ``ReplayedGrid`` hands those batches back, in order,
from a cursor: the same ``Fill`` objects, the same quiet band, the same end state for the report.

Why it is exact: the grid's state moves only when a print reaches one of its orders, and it
sees the prints in tape order whatever the rebalancer does. The paper exchange skips
``on_price`` only for prints ``quiet_between`` calls quiet (and the bulk path only inside
``quiet_band``), which fill nothing, so the prints that fill are the very prints the recording
met, in the same order. Each is checked against the recording (time and price); a mismatch is
a tape that is not the recorded one and raises ``GridPathMismatch`` instead of trading on a
wrong path. ``plan_sweep`` records in the parent before the pool forks: the workers share it
copy-on-write, as they share the market.

Measured (Bybit linear month, ``examples/replay.yaml``): recording 0.12 s of CPU once; each
replay 2.40 -> 2.32 s (-3 %), same process, alternating; with the other two speed-ups and the
sweep: ``docs/performance.md`` ("Replay speed under work").

Exit path: ``ENABLED = False`` makes ``plan_sweep`` record nothing, and ``run_replay`` without
``grid_path`` (every replay but a sweep's) runs the live ``GridBot`` as before.
``tests/core/test_replay_speedups.py`` checks that both give the same replay on every data file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from core.config import AppConfig
from core.errors import RebalancerError
from core.instruments import for_config
from core.model import Fill
from core.venues.grid import GridBot
from core.venues.market import MarketData
from core.venues.paper_setup import build_grid

ENABLED = True

_NO_FILLS: tuple[Fill, ...] = ()
_INF = float("inf")


class GridPathMismatch(RebalancerError, RuntimeError):
    """A replayed grid met a print its recording did not fill on: not the recorded tape."""


@dataclass(frozen=True)
class GridBatch:
    """The fills of one print, and the grid after them (its band and its books)."""

    ts_ms: int
    price: float
    fills: tuple[Fill, ...]
    buy_px: float
    sell_px: float
    position: Decimal
    entry: Decimal
    realised: Decimal
    fees: Decimal


@dataclass(frozen=True)
class GridPath:
    """The grid's batches over one tape, and what they were recorded for."""

    market: MarketData = field(compare=False, repr=False)  # the tape recorded: another one does not use it
    grid_key: tuple  # the grid config, the linear instrument, the first print
    start_buy_px: float
    start_sell_px: float
    start_books: tuple[Decimal, Decimal, Decimal, Decimal]  # position, entry, realised, fees after start
    batches: tuple[GridBatch, ...]
    final: GridBot  # the grid after the whole tape (levels, instrument, last price)


def _grid_key(cfg: AppConfig, market: MarketData) -> tuple | None:
    g = cfg.paper.grid
    trades = market.trades
    if g is None or len(trades) == 0:
        return None
    _spot, linear = for_config(cfg)
    return (g, linear, trades.ts_ms[0], trades.price[0])


def _books(grid: GridBot) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    return grid.position, grid.entry_price, grid.realised_pnl, grid.fees


def record_grid(cfg: AppConfig, market: MarketData) -> GridPath | None:
    """The grid of ``cfg.paper`` over every print of ``market`` (None: no grid, or turned off)."""
    key = _grid_key(cfg, market)
    if key is None or not ENABLED:
        return None
    grid_cfg, linear, first_ts, first_px = key
    grid = build_grid(grid_cfg, first_px, linear)
    grid.start(first_px, first_ts)
    start_buy, start_sell = grid.quiet_band()
    start_books = _books(grid)
    batches: list[GridBatch] = []
    on_price = grid.on_price
    trades = market.trades
    for ts, px in zip(trades.ts_ms, trades.price):
        fills = on_price(ts, px)
        if fills:
            buy, sell = grid.quiet_band()
            batches.append(GridBatch(ts, px, fills, buy, sell, *_books(grid)))
    return GridPath(market, key, start_buy, start_sell, start_books, tuple(batches), grid)


def replayed_grid(path: GridPath | None, cfg: AppConfig, market: MarketData) -> "ReplayedGrid | None":
    """A grid replaying ``path`` for this config and tape, or None when the path was recorded
    for something else (then the replay runs the live grid)."""
    if path is None or path.market is not market or path.grid_key != _grid_key(cfg, market):
        return None
    return ReplayedGrid(path)


class ReplayedGrid:
    """``GridBot``'s replay interface over a recorded path: ``on_price``, ``quiet_between``,
    ``quiet_band`` and the books the report reads (``realised_pnl``, ``fees``,
    ``unrealised_pnl``), exact at every point of the tape."""

    __slots__ = ("_path", "_batches", "_k", "_n", "_buy_px", "_sell_px", "_books", "_final", "_last_price")

    def __init__(self, path: GridPath) -> None:
        self._path = path
        self._batches = path.batches
        self._k = 0
        self._n = len(path.batches)
        self._buy_px, self._sell_px = path.start_buy_px, path.start_sell_px
        self._books = path.start_books
        self._final = path.final
        self._last_price: float | None = path.grid_key[3]

    def quiet_between(self, price: float) -> bool:
        return self._buy_px < price < self._sell_px

    def quiet_band(self) -> tuple[float, float]:
        return self._buy_px, self._sell_px

    def on_price(self, ts_ms: int, price: float) -> tuple[Fill, ...]:
        if self._buy_px < price < self._sell_px:
            return _NO_FILLS
        k = self._k
        if k >= self._n:
            raise GridPathMismatch(f"print {price} at {ts_ms} reaches the grid after its recorded path ended")
        b = self._batches[k]
        if b.ts_ms != ts_ms or b.price != price:
            raise GridPathMismatch(f"print {price} at {ts_ms} reaches the grid; the recording filled at "
                                   f"{b.price} at {b.ts_ms}")
        self._k = k + 1
        self._buy_px, self._sell_px = b.buy_px, b.sell_px
        self._books = (b.position, b.entry, b.realised, b.fees)
        self._last_price = price
        return b.fills

    def live(self) -> GridBot:
        """A ``GridBot`` in the state this one is in now (the recording's prints fed again up to
        the cursor): for everything else a grid is asked (``to_state``, ``to_dict`` ...)."""
        if self._k == self._n:
            return self._final
        grid_cfg, linear, first_ts, first_px = self._path.grid_key
        grid = build_grid(grid_cfg, first_px, linear)
        grid.start(first_px, first_ts)
        for b in self._batches[:self._k]:
            grid.on_price(b.ts_ms, b.price)
        return grid

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.live(), name)

    # -- what the report reads (GridBot's names)

    @property
    def position(self) -> Decimal:
        return self._books[0]

    @property
    def entry_price(self) -> Decimal:
        return self._books[1]

    @property
    def realised_pnl(self) -> Decimal:
        return self._books[2]

    @property
    def fees(self) -> Decimal:
        return self._books[3]

    def unrealised_pnl(self, price: float | Decimal | None = None) -> Decimal:
        """As ``GridBot.unrealised_pnl``: the open position marked at ``price`` (default: the last
        print that filled the grid)."""
        p = price if price is not None else self._last_price
        position, entry = self._books[0], self._books[1]
        if p is None or position == 0:
            return Decimal(0)
        return ((p if isinstance(p, Decimal) else Decimal(str(p))) - entry) * position
