"""Value types shared by the engine, the venues and the cockpit.

Conventions (see DESIGN.md):
- timestamps are integer milliseconds (``ts_ms``);
- market data (trades, quotes, candles) carries floats: it is analytics input, hot, and never
  sent back to a venue;
- anything that is or describes an order or a fill carries exact ``Decimal`` values, because
  those numbers go to the venue or the journal;
- the futures position is signed: long ``+size``, short ``-size``.
"""

from __future__ import annotations

from dataclasses import field
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal
from enum import Enum

from core.values import value_type


class Side(str, Enum):
    BUY = "Buy"
    SELL = "Sell"

    @property
    def sign(self) -> int:
        """+1 for a buy (adds base), -1 for a sell."""
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> "Side":
        return Side.SELL if self is Side.BUY else Side.BUY

    @classmethod
    def parse(cls, text: str) -> "Side":
        t = str(text).strip().lower()
        if t in ("buy", "b", "bid"):
            return cls.BUY
        if t in ("sell", "s", "ask"):
            return cls.SELL
        raise ValueError(f"not a side: {text!r} (expected buy or sell)")


class Action(str, Enum):
    HOLD = "hold"
    PARTIAL = "partial"
    FULL = "full"


class Mode(str, Enum):
    """What happens to a decision: executed, proposed for approval, or only shown."""

    AUTO = "auto"
    SEMI = "semi"
    WATCH = "watch"


class TradingState(str, Enum):
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"
    HALTED = "HALTED"


class TimeInForce(str, Enum):
    POST_ONLY = "PostOnly"
    IOC = "IOC"
    GTC = "GTC"


class OrderStatus(str, Enum):
    NEW = "New"
    PARTIALLY_FILLED = "PartiallyFilled"
    FILLED = "Filled"
    CANCELLED = "Cancelled"
    REJECTED = "Rejected"

    @property
    def is_open(self) -> bool:
        return self in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)


class Leg(str, Enum):
    SPOT = "spot"
    LINEAR = "linear"


def _dec(x: Decimal | str | int | float) -> Decimal:
    return x if isinstance(x, Decimal) else Decimal(str(x))


def _is_power_of_ten(step: Decimal) -> bool:
    """True for a bare power of ten written without trailing zeros (1, 0.01, 1E-6): rounding
    onto that grid is then one ``quantize`` (the grid is the exponent); other steps (0.5,
    0.0025, 0.0100) divide, round and multiply back."""
    t = _dec(step).as_tuple()
    return t.sign == 0 and t.digits == (1,)


# Quote coins a symbol may end in, longest first (BTCFDUSD is BTC/FDUSD, not BTCFD/USD).
QUOTES = ("FDUSD", "USDT", "USDC", "BUSD", "USDE", "USD", "DAI", "EUR", "BTC", "ETH")


def split_symbol(symbol: str, *, unknown_quote: str = "") -> tuple[str, str]:
    """BTCUSDT -> (BTC, USDT), case-insensitive; a symbol with no known quote coin gives
    (symbol, ``unknown_quote``). The one splitter (``core.instruments`` hands it out): the
    cockpit's labels, the report's fee conversion and Bybit's balance coins all use it."""
    s = symbol.upper()
    for q in QUOTES:
        if s.endswith(q) and len(s) > len(q):
            return s[: -len(q)], q
    return s, unknown_quote


@value_type
class Instrument:
    """Trading rules of one symbol on one leg; every order is rounded with these."""

    symbol: str
    base: str
    quote: str
    tick_size: Decimal
    qty_step: Decimal
    min_qty: Decimal
    min_notional: Decimal
    max_qty: Decimal = Decimal("1e9")
    leg: Leg = Leg.SPOT
    # derived once: is each step a bare power of ten (rounding is then one quantize)
    _tick_is_pow10: bool = field(default=False, init=False, repr=False, compare=False)
    _qty_is_pow10: bool = field(default=False, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_tick_is_pow10", _is_power_of_ten(self.tick_size))
        object.__setattr__(self, "_qty_is_pow10", _is_power_of_ten(self.qty_step))

    def round_price(self, price: float | Decimal, side: Side, *, passive: bool = True) -> Decimal:
        """Round to the tick grid.

        ``passive=True`` rounds away from the touch (a buy down, a sell up): right for maker
        quotes and for limit caps that must never exceed the slippage bound.
        """
        p = _dec(price)
        tick = self.tick_size
        rounding = ROUND_FLOOR if (side is Side.BUY) == passive else ROUND_CEILING
        if self._tick_is_pow10:
            return p.quantize(tick, rounding)
        steps = (p / tick).to_integral_value(rounding=rounding)
        return (steps * tick).quantize(tick)

    def round_qty(self, qty: float | Decimal) -> Decimal:
        """Round a size toward zero onto the qty step (never buy or sell more than asked)."""
        q = _dec(qty)
        step = self.qty_step
        if self._qty_is_pow10:
            return q.quantize(step, ROUND_DOWN)
        steps = (q / step).to_integral_value(rounding=ROUND_DOWN)
        return (steps * step).quantize(step)

    def order_problem(self, qty: Decimal, price: Decimal) -> str | None:
        """Why an order of this size/price may not be sent, or None when it may."""
        if qty <= 0:
            return "size rounds to zero"
        if qty < self.min_qty:
            return f"size {qty} below min qty {self.min_qty}"
        if qty > self.max_qty:
            return f"size {qty} above max qty {self.max_qty}"
        if qty * price < self.min_notional:
            return f"value {qty * price:.4f} below min order value {self.min_notional}"
        return None


BTCUSDT_SPOT = Instrument(
    symbol="BTCUSDT",
    base="BTC",
    quote="USDT",
    tick_size=Decimal("0.01"),
    qty_step=Decimal("0.000001"),
    min_qty=Decimal("0.000048"),
    min_notional=Decimal("5"),
    max_qty=Decimal("71.73956243"),
)
BTCUSDT_LINEAR = Instrument(
    symbol="BTCUSDT",
    base="BTC",
    quote="USDT",
    tick_size=Decimal("0.1"),
    qty_step=Decimal("0.001"),
    min_qty=Decimal("0.001"),
    min_notional=Decimal("5"),
    max_qty=Decimal("1190"),
    leg=Leg.LINEAR,
)


# ---------------------------------------------------------------- market data (floats, hot path)


@value_type
class Trade:
    """A public trade on the spot market. ``taker_side`` is the aggressor."""

    ts_ms: int
    price: float
    qty: float
    taker_side: Side


STALE_QUOTE_MS = 5_000
"""A quote this old that the last print has left is no longer the touch: the quotes ended (quote
bars covering half a day) while trades go on. Engine and paper exchange use the same rule."""


def quote_left_behind(quote_ms: int, trade_ms: int, bid: float, ask: float, last: float, slack: float = 0.0) -> bool:
    """The last print came over ``STALE_QUOTE_MS`` after the last quote and is outside it (by ``slack``)."""
    return trade_ms - quote_ms > STALE_QUOTE_MS and not bid - slack <= last <= ask + slack


@value_type
class Quote:
    """Best bid and offer of the spot market."""

    ts_ms: int
    bid: float
    bid_qty: float
    ask: float
    ask_qty: float

    @property
    def mid(self) -> float:
        return (self.bid + self.ask) * 0.5


@value_type
class Candle:
    start_ms: int
    interval_ms: int
    open: float
    high: float
    low: float
    close: float
    volume: float = 0.0

    @property
    def end_ms(self) -> int:
        return self.start_ms + self.interval_ms


@value_type
class PerpTicker:
    """Futures-leg market state: mark price and funding."""

    ts_ms: int
    mark_price: float
    funding_rate: float = 0.0
    next_funding_ms: int = 0


# ---------------------------------------------------------------- account state (exact)


@value_type
class Balance:
    coin: str
    free: Decimal
    locked: Decimal = Decimal(0)

    @property
    def total(self) -> Decimal:
        return self.free + self.locked


@value_type
class Position:
    """Linear futures position; ``size`` is signed (long +, short -)."""

    symbol: str
    size: Decimal
    entry_price: Decimal = Decimal(0)
    mark_price: Decimal = Decimal(0)
    unrealised_pnl: Decimal = Decimal(0)
    liq_price: Decimal | None = None
    leverage: Decimal = Decimal(1)

    @property
    def side(self) -> Side | None:
        if self.size > 0:
            return Side.BUY
        if self.size < 0:
            return Side.SELL
        return None


@value_type
class OrderRequest:
    """A spot limit order as it is sent: exact, rounded, and with a stable client id."""

    client_id: str
    symbol: str
    side: Side
    qty: Decimal
    price: Decimal
    tif: TimeInForce
    leg: Leg = Leg.SPOT
    reason: str = ""


@value_type
class Order:
    """The venue's view of one of our orders at one moment."""

    client_id: str
    order_id: str
    symbol: str
    side: Side
    qty: Decimal
    price: Decimal
    tif: TimeInForce
    status: OrderStatus
    filled_qty: Decimal = Decimal(0)
    avg_fill_price: Decimal = Decimal(0)
    created_ms: int = 0
    updated_ms: int = 0
    reject_reason: str = ""
    leg: Leg = Leg.SPOT

    @property
    def remaining(self) -> Decimal:
        return self.qty - self.filled_qty


@value_type
class Fill:
    """One execution. ``source`` says whose: our rebalancer, the grid bot, or someone else."""

    ts_ms: int
    exec_id: str
    symbol: str
    side: Side
    price: Decimal
    qty: Decimal
    fee: Decimal
    fee_coin: str
    is_maker: bool
    leg: Leg = Leg.SPOT
    client_id: str = ""
    order_id: str = ""
    source: str = "rebalancer"

    @property
    def notional(self) -> Decimal:
        return self.price * self.qty

    @property
    def base_delta(self) -> Decimal:
        """Change in base holdings: a spot buy whose fee is paid in base adds qty - fee."""
        gross = self.qty if self.side is Side.BUY else -self.qty
        if self.leg is Leg.SPOT and self.fee_coin and self.fee_coin not in ("USDT", "USDC") \
                and self.symbol.startswith(self.fee_coin):
            gross -= self.fee  # paid in the base coin (a fee in a third coin, e.g. MNT, is not)
        return gross


# ---------------------------------------------------------------- decisions and their reasons


@value_type
class BiasParts:
    """How the anchor policy scaled its thresholds, part by part."""

    trend_signal: float = 0.0
    ema_bias: float = 0.0
    anchor_bias: float = 0.0
    combined: float = 0.0
    scale: float = 1.0


@value_type
class GateResult:
    """The anchor gate on the side we need: pass/fail, the price it demands, and the wait."""

    applies: bool = False
    passed: bool = True
    reference_vwap: float | None = None
    required_edge_bps: float = 0.0
    actual_edge_bps: float | None = None
    limit_price: float | None = None
    waited_s: float = 0.0
    max_wait_s: float = 0.0
    reason: str = "no gate"


@value_type
class Decision:
    """What a policy wants now, with every number that led there.

    ``gap`` and the thresholds are in ``unit`` (``base`` for the anchor and baseline
    policies, ``usdt`` for the simple one); ``gap_base`` and ``qty_base`` are always base.
    ``qty_base`` is the unrounded wanted size (execution rounds it to the qty step).
    """

    ts_ms: int
    policy: str
    action: Action
    side: Side | None
    qty_base: float
    gap_base: float
    net_base: float
    target_base: float
    price: float
    unit: str = "base"
    gap: float = 0.0
    base_soft: float = 0.0
    base_hard: float = 0.0
    effective_soft: float = 0.0
    effective_hard: float = 0.0
    bias: BiasParts = field(default_factory=BiasParts)
    gate: GateResult = field(default_factory=GateResult)
    trend_state: str = "flat"
    maker_first: bool = True
    taker_allowed: bool = False
    take_now: bool = False
    reason: str = ""

    @property
    def trades(self) -> bool:
        return self.action is not Action.HOLD and self.side is not None and self.qty_base > 0

    def to_dict(self) -> dict:
        return {
            "ts_ms": self.ts_ms,
            "policy": self.policy,
            "action": self.action.value,
            "side": self.side.value if self.side else None,
            "qty_base": self.qty_base,
            "gap_base": self.gap_base,
            "net_base": self.net_base,
            "target_base": self.target_base,
            "price": self.price,
            "unit": self.unit,
            "gap": self.gap,
            "base_soft": self.base_soft,
            "base_hard": self.base_hard,
            "effective_soft": self.effective_soft,
            "effective_hard": self.effective_hard,
            "bias": {
                "trend_signal": self.bias.trend_signal,
                "ema": self.bias.ema_bias,
                "anchor": self.bias.anchor_bias,
                "combined": self.bias.combined,
                "scale": self.bias.scale,
            },
            "gate": {
                "applies": self.gate.applies,
                "passed": self.gate.passed,
                "reference_vwap": self.gate.reference_vwap,
                "required_edge_bps": self.gate.required_edge_bps,
                "actual_edge_bps": self.gate.actual_edge_bps,
                "limit_price": self.gate.limit_price,
                "waited_s": self.gate.waited_s,
                "max_wait_s": self.gate.max_wait_s,
                "reason": self.gate.reason,
            },
            "trend_state": self.trend_state,
            "maker_first": self.maker_first,
            "taker_allowed": self.taker_allowed,
            "take_now": self.take_now,
            "reason": self.reason,
        }
