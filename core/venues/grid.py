"""A simulated futures grid bot: the thing that makes net delta drift on paper and in replay.

It behaves like Bybit's futures grid: limit orders on evenly spaced levels between ``lower``
and ``upper``; buys below the price, sells above. When the market trades at or through a
resting order's level the order fills at its level price, and the opposite order goes one
level away (a buy filled at L[i] becomes a sell at L[i+1]; a sell at L[i] a buy at L[i-1]).

With that rule the book is always "buys on every level below one empty level, sells on every
level above it", so the whole order state is the index of the empty level. ``on_price`` is
called for every trade of a replay, so the common case (nothing fills) is two float compares
against the nearest buy and sell and the return of a shared empty tuple.

Modes (what ``start`` does; the order layout is the same for all three):
- ``neutral``: no position at start; a sell above opens a short, a buy below a long.
- ``long``: starts holding a long equal to the sells above the price (bought at start).
- ``short``: starts holding a short equal to the buys below the price (sold at start).
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from core.model import BTCUSDT_LINEAR, Fill, Instrument, Leg, Side

__all__ = ["GridBot", "GRID_MODES"]

GRID_MODES = ("neutral", "long", "short")
_NO_FILLS: tuple[Fill, ...] = ()
_INF = float("inf")
_ZERO = Decimal(0)


def _dec(x: Decimal | str | int | float) -> Decimal:
    return x if isinstance(x, Decimal) else Decimal(str(x))


class GridBot:
    """Grid of limit orders on the linear leg; produces ``Fill``s with ``source="grid"``.

    Position accounting is average-cost: adding to a position moves the average entry,
    reducing it realises ``(price - entry) x closed`` (sign-aware), crossing through zero opens
    the rest at the fill price. Realised P&L is gross; fees are tracked apart (USDT).
    """

    __slots__ = (
        "instrument", "lower", "upper", "levels", "qty_per_level", "mode", "maker_fee_rate",
        "taker_fee_rate", "prefix", "_prices", "_pricef", "_gap", "_buy_px", "_sell_px",
        "_position", "_entry", "_realised", "_fees", "_fill_count", "_seq", "_started",
        "_last_price", "_last_ts", "_volume",
    )

    def __init__(
        self,
        lower: Decimal | str | float,
        upper: Decimal | str | float,
        levels: int,
        qty_per_level: Decimal | str | float,
        mode: str = "neutral",
        instrument: Instrument = BTCUSDT_LINEAR,
        maker_fee_rate: Decimal | str | float = Decimal("0.0002"),
        *,
        taker_fee_rate: Decimal | str | float = Decimal("0.00055"),
        prefix: str = "grid",
    ) -> None:
        if mode not in GRID_MODES:
            raise ValueError(f"grid mode must be one of {GRID_MODES}, not {mode!r}")
        levels = int(levels)
        if levels < 2:
            raise ValueError("a grid needs at least 2 levels")
        lo, hi = _dec(lower), _dec(upper)
        if not (Decimal(0) < lo < hi):
            raise ValueError(f"need 0 < lower < upper, got lower={lo} upper={hi}")
        tick = instrument.tick_size
        step = (hi - lo) / (levels - 1)
        prices = tuple(
            (lo + step * i).quantize(tick, rounding=ROUND_HALF_EVEN) for i in range(levels)
        )
        if any(b <= a for a, b in zip(prices, prices[1:])):
            raise ValueError(
                f"{levels} levels between {lo} and {hi} are closer than the tick {tick}"
            )
        qty = instrument.round_qty(_dec(qty_per_level))
        if qty < instrument.min_qty:
            raise ValueError(f"paper.grid.qty_per_level {qty_per_level} is below the min qty {instrument.min_qty} "
                             f"of the {instrument.symbol} perpetual (after rounding to its step {instrument.qty_step})")
        self.instrument = instrument
        self.lower = prices[0]
        self.upper = prices[-1]
        self.levels = levels
        self.qty_per_level = qty
        self.mode = mode
        self.maker_fee_rate = _dec(maker_fee_rate)
        self.taker_fee_rate = _dec(taker_fee_rate)
        self.prefix = prefix
        self._prices = prices
        self._pricef = tuple(float(p) for p in prices)
        self._gap = -1                # index of the one level without an order; -1 = not running
        self._buy_px = -_INF          # nearest resting buy (float) or -inf
        self._sell_px = _INF          # nearest resting sell (float) or +inf
        self._position = _ZERO
        self._entry = _ZERO
        self._realised = _ZERO
        self._fees = _ZERO
        self._volume = _ZERO
        self._fill_count = 0
        self._seq = 0
        self._started = False
        self._last_price: float | None = None
        self._last_ts = 0

    # ------------------------------------------------------------------ queries

    @property
    def prices(self) -> tuple[Decimal, ...]:
        """The grid levels, low to high, on the instrument's tick."""
        return self._prices

    @property
    def position(self) -> Decimal:
        """Signed size in base: long +, short -."""
        return self._position

    @property
    def entry_price(self) -> Decimal:
        return self._entry

    @property
    def realised_pnl(self) -> Decimal:
        return self._realised

    @property
    def fees(self) -> Decimal:
        return self._fees

    @property
    def fill_count(self) -> int:
        return self._fill_count

    @property
    def running(self) -> bool:
        return self._gap >= 0

    def unrealised_pnl(self, price: float | Decimal | None = None) -> Decimal:
        """Mark-to-market of the open position at ``price`` (default: the last price seen)."""
        p = price if price is not None else self._last_price
        if p is None or self._position == 0:
            return _ZERO
        return (_dec(p) - self._entry) * self._position

    def resting_orders(self) -> tuple[tuple[Side, Decimal], ...]:
        """The grid's open orders as (side, price), low to high."""
        if self._gap < 0:
            return ()
        g = self._gap
        return tuple(
            (Side.BUY if i < g else Side.SELL, p) for i, p in enumerate(self._prices) if i != g
        )

    def to_dict(self) -> dict:
        """Summary for the cockpit and reports (exact numbers as strings)."""
        orders = self.resting_orders()
        return {
            "mode": self.mode,
            "symbol": self.instrument.symbol,
            "lower": str(self.lower),
            "upper": str(self.upper),
            "levels": self.levels,
            "qty_per_level": str(self.qty_per_level),
            "running": self.running,
            "position": str(self._position),
            "entry_price": str(self._entry),
            "realised_pnl": str(self._realised),
            "fees": str(self._fees),
            "net_realised": str(self._realised - self._fees),
            "unrealised_pnl": str(self.unrealised_pnl()),
            "volume_base": str(self._volume),
            "fills": self._fill_count,
            "open_buys": sum(1 for s, _ in orders if s is Side.BUY),
            "open_sells": sum(1 for s, _ in orders if s is Side.SELL),
            "next_buy": None if self._buy_px == -_INF else str(self._prices[self._gap - 1]),
            "next_sell": None if self._sell_px == _INF else str(self._prices[self._gap + 1]),
            "last_price": self._last_price,
            "last_ts": self._last_ts,
        }

    # ------------------------------------------------------------------ actions

    def start(self, price: float | Decimal, ts_ms: int) -> tuple[Fill, ...]:
        """Place the grid around ``price``; returns the initial position fill (long/short modes).

        The level nearest the price stays empty (ties go to the level above), so every grid
        interval holds exactly one order, as on Bybit.
        """
        if self._started:
            raise RuntimeError("grid already started")
        pf = float(price)
        self._started = True
        self._last_price = pf
        self._last_ts = ts_ms
        best = min(range(self.levels), key=lambda i: (abs(self._pricef[i] - pf), -i))
        self._set_gap(best)
        if self.mode == "neutral":
            return _NO_FILLS
        if self.mode == "long":
            count = self.levels - 1 - best          # sells above the price
            side = Side.BUY
        else:
            count = best                            # buys below the price
            side = Side.SELL
        if count == 0:
            return _NO_FILLS
        px = _dec(price).quantize(self.instrument.tick_size, rounding=ROUND_HALF_EVEN)
        fill = self._fill(side, px, self.qty_per_level * count, ts_ms, maker=False, order_id=f"{self.prefix}-init")
        return (fill,)

    def stop(self) -> None:
        """Cancel the grid's orders (the position stays, as when a bot is stopped without closing)."""
        self._gap = -1
        self._buy_px = -_INF
        self._sell_px = _INF

    def quiet_between(self, price: float) -> bool:
        """True when a print at ``price`` fills nothing (the exchange's fast path asks this)."""
        return self._buy_px < price < self._sell_px

    def quiet_band(self) -> tuple[float, float]:
        """Prints strictly inside this band fill nothing (the replay's bulk path asks this)."""
        return self._buy_px, self._sell_px

    def on_price(self, ts_ms: int, price: float) -> tuple[Fill, ...]:
        """Fill every resting order the market traded at or through, in price order."""
        if self._buy_px < price < self._sell_px:
            return _NO_FILLS
        return self._cross(ts_ms, price)

    def _cross(self, ts_ms: int, price: float) -> tuple[Fill, ...]:
        self._last_price = price
        self._last_ts = ts_ms
        fills: list[Fill] = []
        qty = self.qty_per_level
        # a buy at L[g-1] fills: the gap moves down one level and a sell appears at L[g]
        while price <= self._buy_px:
            i = self._gap - 1
            fills.append(self._fill(Side.BUY, self._prices[i], qty, ts_ms, maker=True, order_id=f"{self.prefix}-L{i}"))
            self._set_gap(i)
        while price >= self._sell_px:
            i = self._gap + 1
            fills.append(self._fill(Side.SELL, self._prices[i], qty, ts_ms, maker=True, order_id=f"{self.prefix}-L{i}"))
            self._set_gap(i)
        return tuple(fills) if fills else _NO_FILLS

    def _set_gap(self, g: int) -> None:
        self._gap = g
        self._buy_px = self._pricef[g - 1] if g > 0 else -_INF
        self._sell_px = self._pricef[g + 1] if g + 1 < self.levels else _INF

    def _fill(self, side: Side, price: Decimal, qty: Decimal, ts_ms: int, *, maker: bool, order_id: str) -> Fill:
        self._seq += 1
        rate = self.maker_fee_rate if maker else self.taker_fee_rate
        fee = qty * price * rate
        self._apply(side, price, qty)
        self._fees += fee
        self._volume += qty
        self._fill_count += 1
        return Fill(
            ts_ms=ts_ms,
            exec_id=f"{self.prefix}-{self._seq}",
            symbol=self.instrument.symbol,
            side=side,
            price=price,
            qty=qty,
            fee=fee,
            fee_coin=self.instrument.quote,
            is_maker=maker,
            leg=Leg.LINEAR,
            order_id=order_id,
            source="grid",
        )

    def _apply(self, side: Side, price: Decimal, qty: Decimal) -> None:
        """Average-cost position update (exact Decimal arithmetic)."""
        signed = qty if side is Side.BUY else -qty
        pos = self._position
        if pos == 0 or (pos > 0) == (signed > 0):
            new = pos + signed
            self._entry = (self._entry * abs(pos) + price * qty) / abs(new)
            self._position = new
            return
        closed = min(qty, abs(pos))
        direction = 1 if pos > 0 else -1
        self._realised += (price - self._entry) * closed * direction
        new = pos + signed
        if new == 0:
            self._entry = _ZERO
        elif (new > 0) != (pos > 0):
            self._entry = price              # flipped: the remainder opened at this price
        self._position = new

    # ------------------------------------------------------------------ persistence

    def to_state(self) -> dict:
        """Everything needed to resume, as a JSON-friendly dict (exact numbers as strings)."""
        return {
            "version": 1,
            "symbol": self.instrument.symbol,
            "lower": str(self.lower),
            "upper": str(self.upper),
            "levels": self.levels,
            "qty_per_level": str(self.qty_per_level),
            "mode": self.mode,
            "maker_fee_rate": str(self.maker_fee_rate),
            "taker_fee_rate": str(self.taker_fee_rate),
            "prefix": self.prefix,
            "started": self._started,
            "gap": self._gap,
            "position": str(self._position),
            "entry_price": str(self._entry),
            "realised_pnl": str(self._realised),
            "fees": str(self._fees),
            "volume_base": str(self._volume),
            "fill_count": self._fill_count,
            "seq": self._seq,
            "last_price": self._last_price,
            "last_ts": self._last_ts,
        }

    @classmethod
    def from_state(cls, state: dict, instrument: Instrument = BTCUSDT_LINEAR) -> "GridBot":
        """Rebuild a bot saved with ``to_state`` (same instrument), ready to continue."""
        if state.get("version") != 1:
            raise ValueError(f"unknown grid state version {state.get('version')!r}")
        if state["symbol"] != instrument.symbol:
            raise ValueError(f"grid state is for {state['symbol']}, not {instrument.symbol}")
        bot = cls(
            state["lower"], state["upper"], state["levels"], state["qty_per_level"], state["mode"],
            instrument, state["maker_fee_rate"], taker_fee_rate=state["taker_fee_rate"],
            prefix=state.get("prefix", "grid"),
        )
        bot._started = bool(state["started"])
        gap = int(state["gap"])
        if gap >= bot.levels:
            raise ValueError(f"grid state gap {gap} outside {bot.levels} levels")
        if gap >= 0:
            bot._set_gap(gap)
        bot._position = Decimal(state["position"])
        bot._entry = Decimal(state["entry_price"])
        bot._realised = Decimal(state["realised_pnl"])
        bot._fees = Decimal(state["fees"])
        bot._volume = Decimal(state.get("volume_base", "0"))
        bot._fill_count = int(state["fill_count"])
        bot._seq = int(state["seq"])
        bot._last_price = state["last_price"]
        bot._last_ts = int(state["last_ts"])
        return bot
