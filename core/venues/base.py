"""The one interface the engine talks to, whatever the venue.

A venue streams events into a *sink* (a plain callable, always invoked on the engine's event
loop thread) and accepts commands through async methods. Adapters over blocking clients
(pybit) run their calls off the loop; the paper venue answers at once.

Order safety lives here, not in the UI: a venue built with ``can_trade=False`` (watch mode,
read-only keys) refuses every order call with ``TradingDisabled`` before anything is sent.

Venue errors, and who raises them (each carries the venue's ``code`` when it has one, see
``core/venues/bybit_codes.py``, and ``retryable``):

    VenueError            any venue call that failed (Bybit: a stream not subscribed in time,
    │                     an unknown symbol, a cancel-all that left orders, an HTTP refusal)
    ├── OrderRejected     the venue said no to this order (paper and Bybit place/amend/cancel)
    ├── OrderStateUnknown a place-order whose reply was lost (Bybit: query by client id first)
    ├── TradingDisabled   order calls refused before sending (``ensure_can_trade``: watch mode;
    │                     Bybit: read-only key, host clock too far off)
    ├── AuthError         bad key, bad signature, missing permission (Bybit REST; never retried)
    ├── ApiError          Bybit answered with another business retCode   } core/venues/
    └── TransportError    no usable reply: a write may or may not have run } bybit_rest.py

A problem reported *asynchronously* (a stream, a late reject) is not raised: the venue emits
a ``core.events.VenueProblem`` event instead.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Protocol, runtime_checkable

from core.errors import RebalancerError
from core.model import Balance, Candle, Fill, Instrument, Order, OrderRequest, Position

EventSink = Callable[[object], None]


class VenueError(RebalancerError):
    """A venue refused or failed a call. ``code`` is the venue's error code when it has one."""

    def __init__(self, message: str, *, code: int | None = None, retryable: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.retryable = retryable


class OrderRejected(VenueError):
    """The venue said no to this order (too small, insufficient balance, bad price...)."""


class OrderStateUnknown(VenueError):
    """A place-order whose reply was lost: query by client id before doing anything else."""


class TradingDisabled(VenueError):
    """Order calls are refused: watch mode, read-only key, or halted."""


class AuthError(VenueError):
    """Bad key, bad signature or missing permission: a configuration problem, never retried."""


@runtime_checkable
class Venue(Protocol):
    name: str
    """``paper``, ``testnet``, ``demo`` or ``mainnet``."""

    can_trade: bool
    """False for watch sessions: every order method raises ``TradingDisabled``."""

    async def start(self, sink: EventSink) -> None:
        """Connect and begin streaming events into ``sink`` (called on the loop thread)."""

    async def stop(self) -> None: ...

    async def instrument(self) -> Instrument: ...

    async def balances(self) -> tuple[Balance, ...]: ...

    async def position(self) -> Position: ...

    async def open_orders(self) -> tuple[Order, ...]:
        """Our open spot orders only (recognised by the client-id prefix)."""

    async def order_by_client_id(self, client_id: str) -> Order | None: ...

    async def fills_since(self, ts_ms: int) -> tuple[Fill, ...]:
        """Our spot executions at or after ``ts_ms`` (for backfill after a gap)."""

    async def candles(self, interval_ms: int, limit: int) -> tuple[Candle, ...]:
        """Recent closed spot candles, oldest first (EMA warm-up)."""

    async def place_order(self, request: OrderRequest) -> Order: ...

    async def cancel_order(self, client_id: str) -> None: ...

    async def amend_order(self, client_id: str, price: Decimal, qty: Decimal | None = None) -> None: ...

    async def cancel_all_ours(self) -> int: ...


def ensure_can_trade(venue: Venue) -> None:
    if not venue.can_trade:
        raise TradingDisabled(f"{venue.name}: order calls are disabled (watch mode or read-only key)")
