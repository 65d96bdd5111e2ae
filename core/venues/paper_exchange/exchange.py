"""``PaperExchange``: the simulated exchange, its state, and the market-data hot path.

The market-data path is O(1) and allocation-free while nothing fills: each trade/quote is
compared with the best resting buy/sell price (kept as floats) and a shared empty tuple is
returned. Only a possible fill, a due delayed command or an attached grid takes the slow path
(``Matching``). The other parts of the class live next door: ``CommandDesk`` (commands),
``Ledger`` (balances, position), ``Persistence`` (save/restore).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from decimal import Decimal
from typing import Protocol

from core.model import BTCUSDT_LINEAR, BTCUSDT_SPOT, Fill, Instrument, PerpTicker, Quote, Side, Trade
from core.venues.paper_exchange.commands import CommandDesk
from core.venues.paper_exchange.fill_model import FillModel
from core.venues.paper_exchange.ledger import FeeSchedule, Ledger
from core.venues.paper_exchange.matching import Matching
from core.venues.paper_exchange.orders import EMPTY, INF, LEAST_PRICE, MOST_PRICE, NINF, ZERO, BookOrder, dec
from core.venues.paper_exchange.state import Persistence


def _quiet_test(grid) -> Callable[[float], bool] | None:
    """The grid's cheap 'would this print fill nothing?' test, or one that always says no."""
    if grid is None:
        return None
    test = getattr(grid, "quiet_between", None)
    return test if test is not None else (lambda price: False)


class GridLike(Protocol):
    """Anything that turns a price into futures-leg fills (the simulated grid bot)."""

    def on_price(self, ts_ms: int, price: float) -> tuple[Fill, ...]: ...


class PaperExchange(Matching, CommandDesk, Ledger, Persistence):
    """The simulated exchange. Feed it market data, submit commands, read the events back.

    Every mutating method returns the events it caused, in order: ``OrderUpdate`` (final
    state of each order touched), ``FillEvent`` per fill, one ``BalanceUpdate`` if balances
    changed, ``PositionUpdate`` if the linear position changed. A command refused up front
    returns a single ``core.events.VenueProblem`` carrying Bybit's code (nothing is created).
    """

    __slots__ = (
        "spot", "linear", "fees", "latency_ms", "synthetic_spread_ticks", "settle_linear_in_quote",
        "history_limit", "_grid", "_grid_quiet", "_grid_band", "_bal", "_orders", "_pending", "_buys", "_sells",
        "_best_buy",
        "_best_sell", "_fill_model", "_buy_gate", "_sell_gate", "_half_tick", "_fills",
        "_pos_size", "_pos_entry", "_realised", "_linear_fees", "_mark",
        "_ts", "_last", "_has_bbo", "_bid", "_bid_qty", "_ask", "_ask_qty", "_quote_ts", "_trade_ts", "_queue",
        "_due_ms",
        "_order_seq", "_exec_seq", "_seq", "id_prefix",
    )

    def __init__(
        self,
        *,
        spot: Instrument = BTCUSDT_SPOT,
        linear: Instrument = BTCUSDT_LINEAR,
        balances: dict[str, Decimal | str | int] | None = None,
        fees: FeeSchedule = FeeSchedule(),
        latency_ms: int = 0,
        synthetic_spread_ticks: int = 1,
        grid: GridLike | None = None,
        settle_linear_in_quote: bool = True,
        history_limit: int = 10_000,
        fill_model: FillModel = FillModel(),
    ) -> None:
        if latency_ms < 0 or synthetic_spread_ticks < 0:
            raise ValueError("latency_ms and synthetic_spread_ticks must be >= 0")
        self.spot = spot
        self.linear = linear
        self.fees = fees
        self.latency_ms = int(latency_ms)
        self.synthetic_spread_ticks = int(synthetic_spread_ticks)
        self.settle_linear_in_quote = settle_linear_in_quote
        self.history_limit = int(history_limit)
        self._grid = grid
        self._grid_quiet = _quiet_test(grid)
        self._grid_band = getattr(grid, "quiet_band", None)  # looked up once: the bulk path asks per run
        start = {spot.quote: Decimal(10_000), spot.base: ZERO} if balances is None else balances
        self._bal: dict[str, list[Decimal]] = {}
        for coin in (spot.base, spot.quote):
            self._bal[coin] = [ZERO, ZERO]
        for coin, amount in start.items():
            self._bal[coin] = [dec(amount), ZERO]
        self._orders: dict[str, BookOrder] = {}
        self._pending: dict[str, BookOrder] = {}  # placements accepted but not yet in effect (latency)
        self._buys: list[BookOrder] = []  # resting, best first
        self._sells: list[BookOrder] = []
        self._best_buy = NINF
        self._best_sell = INF
        self._buy_gate = LEAST_PRICE  # prints below it may fill a resting buy (Matching._rebuild_book)
        self._sell_gate = MOST_PRICE
        self._half_tick = float(spot.tick_size) / 2
        self._fill_model = fill_model
        self._fills: list[Fill] = []
        self._pos_size = ZERO
        self._pos_entry = ZERO
        self._realised = ZERO
        self._linear_fees = ZERO
        self._mark: float | None = None
        self._ts = 0
        self._last: float | None = None
        self._has_bbo = False
        self._bid = 0.0
        self._bid_qty = 0.0
        self._ask = 0.0
        self._ask_qty = 0.0
        self._quote_ts = 0  # when the last quote and the last print came (a quote the prints
        self._trade_ts = 0  # have left, long after it, is stale: Matching._quoted)
        self._queue: deque[tuple[int, object, int, str]] = deque()
        self._due_ms: float = INF
        self._order_seq = 0
        self._exec_seq = 0
        self._seq = 0
        self.id_prefix = ""  # a live session sets a tag here, so ids never repeat across restarts

    # ------------------------------------------------------------------ market data (hot path)

    def on_trade(self, ts_ms: int, price: float, qty: float, taker_side_is_buy: bool) -> tuple:
        """A public trade. O(1) and allocation-free unless it can fill us.

        ``taker_side_is_buy``: the honest model lets a print *at* our price use up the queue
        ahead of us only when its aggressor hit our side; a print through our price means the
        book moved through it, whoever hit.
        """
        g = self._grid_quiet
        # written so that a NaN print takes the slow path, which ignores it
        if (not self._buy_gate <= price <= self._sell_gate or ts_ms >= self._due_ms
                or (g is not None and not g(price))):
            return self._trade_slow(ts_ms, price, qty, taker_side_is_buy)
        self._ts = self._trade_ts = ts_ms
        self._last = price
        return EMPTY

    def on_quote(self, ts_ms: int, bid: float, bid_qty: float, ask: float, ask_qty: float) -> tuple:
        """Best bid/offer. O(1) unless the book crosses one of our resting orders."""
        # written so that a NaN, infinite or non-positive quote takes the slow path, which ignores it
        if not (0.0 < bid <= self._best_sell and 0.0 < ask < INF and ask >= self._best_buy) or ts_ms >= self._due_ms:
            return self._quote_slow(ts_ms, bid, bid_qty, ask, ask_qty)
        self._ts = self._quote_ts = ts_ms
        self._bid = bid
        self._bid_qty = bid_qty
        self._ask = ask
        self._ask_qty = ask_qty
        self._has_bbo = True
        return EMPTY

    # -- replay's bulk path: stretches of market data that provably change nothing but the tape

    def quiet_band(self) -> tuple[float, float, float]:
        """``(lo, hi, until_ms)``: trades strictly inside ``(lo, hi)`` before ``until_ms`` take the
        fast path of ``on_trade`` (they fill neither us nor the grid)."""
        lo, hi = self._buy_gate, self._sell_gate
        if self._grid is not None:
            band = self._grid_band
            if band is None:
                return INF, NINF, self._due_ms  # a grid that cannot say: never quiet
            glo, ghi = band()
            if glo > lo:
                lo = glo
            if ghi < hi:
                hi = ghi
        return lo, hi, self._due_ms

    def quiet_quote_band(self) -> tuple[float, float]:
        """Quotes take the fast path of ``on_quote`` while ask ≥ the first value and bid ≤ the
        second (they cross none of our resting orders)."""
        return self._best_buy, self._best_sell

    def absorb_quiet(self, ts_ms: int, last_price: float | None, quote: tuple | None) -> None:
        """What a stretch of fast-path trades (``last_price``: the last one) and quotes
        (``quote``: the last ``(bid, bid_qty, ask, ask_qty, ts_ms)``) leaves behind, in one step."""
        if ts_ms > self._ts:
            self._ts = ts_ms
        if last_price is not None:
            # the run's last print came at ts_ms unless its last quote did (then only "not after
            # the quote" matters, which this keeps)
            self._last = last_price
            self._trade_ts = ts_ms
        if quote is not None:
            self._bid, self._bid_qty, self._ask, self._ask_qty, self._quote_ts = quote
            self._has_bbo = True

    def on_ticker(self, ts_ms: int, mark_price: float) -> tuple:
        """Futures mark price: values the position (no event: the position did not change)."""
        out: list = []
        if ts_ms >= self._due_ms:
            self._process_due(ts_ms, out)
        self._ts = ts_ms
        self._mark = mark_price
        return tuple(out) if out else EMPTY

    def on_event(self, event: object) -> tuple:
        """Convenience dispatch for ``Trade``/``Quote``/``PerpTicker``; anything else is ignored."""
        t = type(event)
        if t is Trade:
            return self.on_trade(event.ts_ms, event.price, event.qty, event.taker_side is Side.BUY)
        if t is Quote:
            return self.on_quote(event.ts_ms, event.bid, event.bid_qty, event.ask, event.ask_qty)
        if t is PerpTicker:
            return self.on_ticker(event.ts_ms, event.mark_price)
        return EMPTY

    def advance_to(self, ts_ms: int) -> tuple:
        """Let time pass without market data (a timer tick): applies delayed commands now due."""
        out: list = []
        if ts_ms >= self._due_ms:
            self._process_due(ts_ms, out)
        if ts_ms > self._ts:
            self._ts = ts_ms
        return tuple(out) if out else EMPTY

    # ------------------------------------------------------------------ queries

    @property
    def now_ms(self) -> int:
        """Market time: the timestamp of the last event processed."""
        return self._ts

    @property
    def last_price(self) -> float | None:
        return self._last

    @property
    def fill_model(self) -> FillModel:
        return self._fill_model

    @fill_model.setter
    def fill_model(self, model: FillModel) -> None:
        self._fill_model = model
        self._rebuild_book()  # the gates the hot path compares with depend on it

    @property
    def grid(self) -> GridLike | None:
        return self._grid

    @grid.setter
    def grid(self, grid: GridLike | None) -> None:
        self._grid = grid
        self._grid_quiet = _quiet_test(grid)
        self._grid_band = getattr(grid, "quiet_band", None)
